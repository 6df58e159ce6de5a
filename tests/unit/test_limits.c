/*
 * test_limits.c - every limit fed by the input, one step under and one step
 * over.
 *
 *   --max-field-bytes   CSV/TSV fields (quoted or not, both parsers), lines
 *                       of `lines` input, NDJSON values
 *   --max-record-bytes  CSV records (without the line break), NDJSON lines
 *   --max-fields        CSV records, NDJSON objects
 *   --max-depth         NDJSON nesting
 *
 * Under the limit the record is read whole; over it the read fails with
 * SL_E_DATA (exit 65) at the position of what went over: the start of the
 * field (the opening quote of a quoted field), the start of the record, the
 * first field too many.  CSV is read by both parsers and with several read
 * buffers (records straddling refills), which must all say the same.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "testutil.h"

static const uint32_t bufs[] = {0, 4, 7, 13, 64};

/* A string of n copies of c (static, reused). */
static const char *rep(char c, size_t n)
{
    static char s[4][4096];
    static int k;
    char *p = s[k++ & 3];
    assert_true(n < sizeof s[0]);
    memset(p, c, n);
    p[n] = 0;
    return p;
}

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
    static char s[4][16384];
    static int k;
    char *p = s[k++ & 3];
    va_list ap;
    va_start(ap, f);
    vsnprintf(p, sizeof s[0], f, ap);
    va_end(ap);
    return p;
}

/* Read data with rt and o: must succeed with `records` data records. */
static void ok_with(const sl_stage_type *rt, const char *data, const sl_options *o, unsigned records)
{
    int rc;
    sl_error e;
    char *dump = tu_read_all(rt, data, strlen(data), o, &rc, &e);
    unsigned got = 0; /* a record's dump ends with ";\n" (no test data holds it) */
    for (const char *p = dump; (p = strstr(p, ";\n")); p += 2)
        got++;
    if (rc != SL_OK || got != records) {
        print_error("expected %u records, got rc %d (%s) and:\n%s\nfor: %.200s\n", records, rc, e.msg, dump, data);
        free(dump);
        fail();
    }
    free(dump);
}

/* Must fail with SL_E_DATA at (line, col) (col 0 = not checked) with a
   message containing `what`. */
static void fails_with(const sl_stage_type *rt, const char *data, const sl_options *o, uint64_t line, uint64_t col,
                       const char *what)
{
    int rc;
    sl_error e;
    char *dump = tu_read_all(rt, data, strlen(data), o, &rc, &e);
    free(dump);
    if (rc != SL_E_DATA || e.code != SL_E_DATA || e.line != line || (col && e.col != col) || !strstr(e.msg, what) ||
        sl_exit_code(&e) != SL_EXIT_DATA) {
        print_error("expected a data error at %llu:%llu containing '%s', got rc %d at %llu:%llu: %s\nfor: %.200s\n",
                    (unsigned long long)line, (unsigned long long)col, what, rc, (unsigned long long)e.line,
                    (unsigned long long)e.col, e.msg, data);
        fail();
    }
}

/* The same through both CSV parsers and every read buffer. */
static void csv_ok(const char *data, sl_options *o, unsigned records)
{
    for (int p = 0; p < 2; p++)
        for (size_t b = 0; b < sizeof bufs / sizeof *bufs; b++) {
            o->csv_parser = p ? SL_CSVP_LIBCSV : SL_CSVP_FAST;
            o->read_buffer = bufs[b];
            ok_with(&sl_csv_reader_type, data, o, records);
        }
}

static void csv_fails(const char *data, sl_options *o, uint64_t line, uint64_t col, const char *what)
{
    for (int p = 0; p < 2; p++)
        for (size_t b = 0; b < sizeof bufs / sizeof *bufs; b++) {
            o->csv_parser = p ? SL_CSVP_LIBCSV : SL_CSVP_FAST;
            o->read_buffer = bufs[b];
            fails_with(&sl_csv_reader_type, data, o, line, col, what);
        }
}

static void test_csv_field_bytes(void **state)
{
    (void)state;
    sl_options o;
    sl_options_defaults(&o);
    o.max_field_bytes = 10;
    const char *ten = rep('x', 10), *eleven = rep('y', 11);
    /* unquoted, in the middle, last on the line, at the end of the input */
    csv_ok(fmt("a,b\n%s,1\n", ten), &o, 1);
    csv_ok(fmt("a,b\n1,%s\n", ten), &o, 1);
    csv_ok(fmt("a,b\n1,%s", ten), &o, 1);
    csv_fails(fmt("a,b\n%s,1\n", eleven), &o, 2, 1, "field longer than 10 bytes (limit --max-field-bytes)");
    csv_fails(fmt("a,b\n1,%s\n", eleven), &o, 2, 3, "field longer than 10 bytes");
    csv_fails(fmt("a,b\n1,%s", eleven), &o, 2, 3, "field longer than 10 bytes");
    csv_fails(fmt("a,b\r\n1,2\r\n3,%s\r\n", eleven), &o, 3, 3, "field longer than 10 bytes");
    /* the header is held to it too */
    csv_fails(fmt("%s,b\n1,2\n", eleven), &o, 1, 1, "field longer than 10 bytes");
    /* quoted: the value counts (a doubled quote is one byte of it) */
    csv_ok(fmt("a,b\n\"%s\",1\n", ten), &o, 1);
    csv_ok(fmt("a,b\n1,\"%s\"", ten), &o, 1);
    csv_ok("a,b\n1,\"x\"\"y\"\"z,\nwvu\"\n", &o, 1);
    csv_fails(fmt("a,b\n\"%s\",1\n", eleven), &o, 2, 1,
              "quoted field opened at line 2, column 1 is longer than 10 bytes (limit --max-field-bytes");
    csv_fails(fmt("a,b\n1,\"%s\"", eleven), &o, 2, 3, "quoted field opened at line 2, column 3 is longer");
    csv_fails("a,b\n1,\"x\"\"y\"\"z,\nwvut\"\n", &o, 2, 3, "quoted field opened at line 2, column 3 is longer");
    /* unterminated and long: where it opened, not where the input ended */
    csv_fails(fmt("a,b\n1,2\n3,\"%s\n%s\n", ten, ten), &o, 3, 3, "quoted field opened at line 3, column 3 is longer");
    /* unterminated but short: the usual message, with the same position */
    csv_fails("a,b\n1,2\n3,\"ab\ncd\n", &o, 5, 1, "unterminated quoted field (opened at line 3, column 3");
}

static void test_csv_record_bytes(void **state)
{
    (void)state;
    sl_options o;
    sl_options_defaults(&o);
    o.max_record_bytes = 12; /* the record without its line break */
    /* 12 bytes: "1234,678,abc" with LF, CRLF, CR, or at the end */
    csv_ok("a,b,c\n1234,678,abc\n", &o, 1);
    csv_ok("a,b,c\r\n1234,678,abc\r\n", &o, 1);
    csv_ok("a,b,c\r1234,678,abc\r", &o, 1);
    csv_ok("a,b,c\n1234,678,abc", &o, 1);
    csv_ok("a,b,c\n\"2\",\"4\",\"\nc\"\n", &o, 1);
    csv_fails("a,b,c\n1234,678,abcd\n", &o, 2, 1, "record longer than 12 bytes (limit --max-record-bytes)");
    csv_fails("a,b,c\r\n1,2,3\r\n1234,678,abcd\r\n", &o, 3, 1, "record longer than 12 bytes");
    csv_fails("a,b,c\n1234,678,abcd", &o, 2, 1, "record longer than 12 bytes");
    csv_fails("a,b,c\n\"23\",\"4\",\"a\nc\"\n", &o, 2, 1, "record longer than 12 bytes");
    csv_fails("aaaa,bbbb,cccc\n1,2,3\n", &o, 1, 1, "record longer than 12 bytes");
}

static void test_csv_max_fields(void **state)
{
    (void)state;
    sl_options o;
    sl_options_defaults(&o);
    o.max_fields = 3;
    csv_ok("a,b,c\n1,2,3\n", &o, 1);
    csv_ok("a,b,c\n,,\n", &o, 1);
    csv_ok("a,b,c\n\"1\",\"2\",\"3\"", &o, 1);
    /* the fourth field is the problem: its start is the position */
    csv_fails("a,b,c\n1,2,3,4\n", &o, 2, 7, "more than 3 fields in a record (limit --max-fields)");
    csv_fails("a,b,c\n1,2,3,\"4\"\n", &o, 2, 7, "more than 3 fields");
    csv_fails("a,b,c,d\n1,2,3,4\n", &o, 1, 7, "more than 3 fields");
    csv_fails("a,b,c\r\n1,2,3\r\n,,,\r\n", &o, 3, 4, "more than 3 fields");
    /* the empty field after a final delimiter counts too */
    csv_fails("a,b,c\n1,2,3,", &o, 2, 7, "more than 3 fields");
    o.max_fields = 1;
    csv_ok("a\n1\n\"2\"\n", &o, 2);
    csv_fails("a\n1,\n", &o, 2, 3, "more than 1 fields");
}

/* One field the size of the limit is fine with every buffer even when it is
   larger than the buffer; a long unclosed quote fails quickly. */
static void test_csv_big_field(void **state)
{
    (void)state;
    sl_options o;
    sl_options_defaults(&o);
    o.max_field_bytes = 3000;
    char *big = malloc(4000);
    memset(big, 'q', 3000);
    big[3000] = 0;
    csv_ok(fmt("h\n\"%s\"\n", big), &o, 1);
    csv_ok(fmt("h\n%s\n", big), &o, 1);
    big[3000] = 'q';
    big[3001] = 0;
    csv_fails(fmt("h\n\"%s\"\n", big), &o, 2, 1, "quoted field opened at line 2, column 1 is longer than 3000 bytes");
    csv_fails(fmt("h\n%s\n", big), &o, 2, 1, "field longer than 3000 bytes");
    free(big);
}

static void test_lines_line_bytes(void **state)
{
    (void)state;
    sl_options o;
    sl_options_defaults(&o);
    o.max_field_bytes = 10;
    const char *ten = rep('x', 10), *eleven = rep('y', 11);
    ok_with(&sl_lines_reader_type, fmt("a\n%s\nb\n", ten), &o, 3);
    ok_with(&sl_lines_reader_type, fmt("a\r\n%s\r\n", ten), &o, 2); /* the CR is not part of the line */
    ok_with(&sl_lines_reader_type, fmt("%s", ten), &o, 1);
    fails_with(&sl_lines_reader_type, fmt("a\n%s\nb\n", eleven), &o, 2, 0, "line longer than 10 bytes (limit --max-field-bytes)");
    fails_with(&sl_lines_reader_type, fmt("a\nb\n%s", eleven), &o, 3, 0, "line longer than 10 bytes");
}

static void nd_ok(const char *data, sl_options *o, unsigned records)
{
    for (int p = 0; p < 2; p++) {
        o->json_parser = p ? SL_JSONP_JANSSON : SL_JSONP_FAST;
        ok_with(&sl_ndjson_reader_type, data, o, records);
    }
}

static void nd_fails(const char *data, sl_options *o, uint64_t line, const char *what)
{
    for (int p = 0; p < 2; p++) {
        o->json_parser = p ? SL_JSONP_JANSSON : SL_JSONP_FAST;
        fails_with(&sl_ndjson_reader_type, data, o, line, 0, what);
    }
}

static void test_ndjson_limits(void **state)
{
    (void)state;
    sl_options o;
    sl_options_defaults(&o);
    /* the line, without CR LF: {"a":"xxxxxxxxxx"} is 18 bytes */
    o.max_record_bytes = 18;
    nd_ok(fmt("{\"a\":\"%s\"}\n", rep('x', 10)), &o, 1);
    nd_ok(fmt("{\"a\":\"%s\"}\r\n{\"a\":1}", rep('x', 10)), &o, 2);
    nd_fails(fmt("{\"a\":1}\n{\"a\":\"%s\"}\n", rep('x', 11)), &o, 2, "line longer than 18 bytes (limit --max-record-bytes)");
    sl_options_defaults(&o);
    o.max_field_bytes = 10;
    nd_ok(fmt("{\"a\":\"%s\",\"b\":[1,2,3,4]}\n", rep('x', 10)), &o, 1);
    nd_fails(fmt("{\"a\":\"%s\"}\n", rep('x', 11)), &o, 1, "value of 'a' is longer than 10 bytes (limit --max-field-bytes)");
    nd_fails("{\"a\":1}\n{\"a\":[1,2,3,4,5,6]}\n", &o, 2, "value of 'a' is longer than 10 bytes");
    sl_options_defaults(&o);
    o.max_fields = 3;
    nd_ok("{\"a\":1,\"b\":2,\"c\":{\"x\":1,\"y\":2,\"z\":3,\"w\":4}}\n", &o, 1);
    nd_fails("{\"a\":1}\n{\"a\":1,\"b\":2,\"c\":3,\"d\":4}\n", &o, 2, "");
    sl_options_defaults(&o);
    o.max_depth = 3; /* the top-level object is depth 1 */
    nd_ok("{\"a\":[{\"b\":1}]}\n", &o, 1);
    nd_fails("{\"a\":[{\"b\":[1]}]}\n", &o, 1, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_field_bytes),  cmocka_unit_test(test_csv_record_bytes),
        cmocka_unit_test(test_csv_max_fields),   cmocka_unit_test(test_csv_big_field),
        cmocka_unit_test(test_lines_line_bytes), cmocka_unit_test(test_ndjson_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
