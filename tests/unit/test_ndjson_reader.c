/* test_ndjson_reader.c - the ndjson reader stage on small inputs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <zlib.h>

#include "formats/format.h"
#include "sluice/run.h"

/* ------------------------------------------------------------------------ */
/* helpers */

#define MAX_INPUTS 4

typedef struct harness {
    sl_run run;
    sl_input inputs[MAX_INPUTS];
    char paths[MAX_INPUTS][64];
    sl_stage st;
    char *out;    /* rendering of every row, see render() */
    size_t out_len, out_cap;
    uint64_t rows, batches;
    int rc;       /* last status of next() */
} harness;

static void h_init(harness *h)
{
    memset(h, 0, sizeof *h);
    sl_options_defaults(&h->run.opt);
    h->run.opt.on_error = SL_ONERR_SKIP;
    h->run.opt.max_errors = UINT64_MAX;
    h->run.opt.max_errors_frac = -1;
    h->run.inputs = h->inputs;
}

/* Write content to a new temporary input file. */
static void h_input(harness *h, const char *content, size_t len)
{
    size_t i = h->run.ninputs++;
    assert_true(i < MAX_INPUTS);
    snprintf(h->paths[i], sizeof h->paths[i], "/tmp/sl_ndjson_test_XXXXXX");
    int fd = mkstemp(h->paths[i]);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, len), (ssize_t)len);
    close(fd);
    h->inputs[i].name = h->paths[i];
}

static void h_input_s(harness *h, const char *content) { h_input(h, content, strlen(content)); }

static void out_put(harness *h, const char *s, size_t n)
{
    if (h->out_len + n + 1 > h->out_cap) {
        h->out_cap = (h->out_len + n + 1) * 2;
        h->out = realloc(h->out, h->out_cap);
        assert_non_null(h->out);
    }
    memcpy(h->out + h->out_len, s, n);
    h->out_len += n;
    h->out[h->out_len] = 0;
}

static void out_fmt(harness *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_fmt(harness *h, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    out_put(h, buf, (size_t)n);
}

/* One line per row: "L<line> k=v k=v", a schema line whenever the schema
   changes.  Values: S"text" string, N123 number, Btrue, null, -(absent),
   J{...} nested. */
static void render(harness *h, const sl_batch *b, uint64_t *last_schema)
{
    if (b->schema->id != *last_schema) {
        *last_schema = b->schema->id;
        out_put(h, "schema", 6);
        for (uint32_t c = 0; c < b->schema->ncols; c++)
            out_fmt(h, " %s", b->schema->names[c]);
        out_put(h, "\n", 1);
    }
    for (uint32_t i = 0; i < sl_batch_live(b); i++) {
        uint32_t row = sl_batch_row(b, i);
        out_fmt(h, "L%llu", (unsigned long long)b->info[row].line);
        for (uint32_t c = 0; c < b->schema->ncols; c++) {
            const sl_cell *cell = sl_batch_cell(b, row, c);
            out_fmt(h, " %s=", b->schema->names[c]);
            switch (cell->kind) {
            case SL_NULL: out_put(h, "null", 4); break;
            case SL_ABSENT: out_put(h, "-", 1); break;
            case SL_STRING: out_put(h, "S\"", 2); out_put(h, cell->p, cell->len); out_put(h, "\"", 1); break;
            case SL_NUMBER: out_put(h, "N", 1); out_put(h, cell->p, cell->len); break;
            case SL_BOOL: out_put(h, "B", 1); out_put(h, cell->p, cell->len); break;
            case SL_JSON: out_put(h, "J", 1); out_put(h, cell->p, cell->len); break;
            default: out_fmt(h, "?%d", cell->kind); break;
            }
        }
        out_put(h, "\n", 1);
    }
}

/* Run the reader to its end (or its first error).  Returns the final status. */
static int h_run(harness *h)
{
    h->st.type = &sl_ndjson_reader_type;
    h->st.run = &h->run;
    int rc = sl_ndjson_reader_type.create(&h->st, "", &h->run.err);
    assert_int_equal(rc, SL_OK);
    rc = sl_ndjson_reader_type.open(&h->st);
    uint64_t last_schema = 0;
    while (rc >= 0) {
        sl_batch *b = NULL;
        rc = sl_ndjson_reader_type.next(&h->st, &b);
        if (rc != SL_BATCH)
            break;
        assert_non_null(b);
        assert_true(b->nrows > 0); /* never an empty batch */
        h->batches++;
        h->rows += b->nrows;
        render(h, b, &last_schema);
    }
    sl_ndjson_reader_type.close(&h->st);
    h->rc = rc;
    return rc;
}

static void h_fini(harness *h)
{
    for (size_t i = 0; i < h->run.ninputs; i++)
        unlink(h->paths[i]);
    free(h->out);
}

static void expect_out(harness *h, const char *want)
{
    if (!h->out || strcmp(h->out, want) != 0) {
        fprintf(stderr, "--- expected\n%s--- got\n%s---\n", want, h->out ? h->out : "(nothing)\n");
        fail();
    }
}

/* ------------------------------------------------------------------------ */
/* tests */

static void test_values(void **state)
{
    (void)state;
    harness h;
    h_init(&h);
    h_input_s(&h, "{\"s\":\"plain\",\"e\":\"a\\\"b\\\\c\\n\\u00e9\\ud83d\\ude00\",\"n\":1.50,\"big\":123456789012345678901234567890,"
                  "\"t\":true,\"f\":false,\"z\":null,\"o\":{ \"x\" : [1, 2, \"a b\"] },\"a\":[],\"u\":\"\xc3\xa9\"}\n");
    assert_int_equal(h_run(&h), SL_DONE);
    expect_out(&h, "schema s e n big t f z o a u\n"
                   "L1 s=S\"plain\" e=S\"a\"b\\c\n\xc3\xa9\xf0\x9f\x98\x80\" n=N1.50 big=N123456789012345678901234567890 "
                   "t=Btrue f=Bfalse z=null o=J{\"x\":[1,2,\"a b\"]} a=J[] u=S\"\xc3\xa9\"\n");
    assert_int_equal(h.inputs[0].records, 1);
    h_fini(&h);
}

static void test_schema_union_and_absent(void **state)
{
    (void)state;
    harness h;
    h_init(&h);
    h_input_s(&h, "{\"a\":1,\"b\":2}\n"
                  "{\"a\":3}\n"
                  "{\"b\":4,\"c\":5}\n"
                  "{\"a\":6}\n"
                  "{}\n"
                  "{\"d\":7,\"a\":8}\n");
    assert_int_equal(h_run(&h), SL_DONE);
    expect_out(&h, "schema a b\n"
                   "L1 a=N1 b=N2\n"
                   "L2 a=N3 b=-\n"
                   "schema a b c\n"
                   "L3 a=- b=N4 c=N5\n"
                   "L4 a=N6 b=- c=-\n"
                   "L5 a=- b=- c=-\n"
                   "schema a b c d\n"
                   "L6 a=N8 b=- c=- d=N7\n");
    assert_int_equal(h.batches, 3);
    h_fini(&h);
}

static void test_key_order_changes(void **state)
{
    (void)state;
    harness h;
    h_init(&h);
    h_input_s(&h, "{\"a\":1,\"b\":2,\"c\":3}\n"
                  "{\"c\":4,\"a\":5,\"b\":6}\n"
                  "{\"b\":7,\"c\":8}\n"
                  "{\"c\":9,\"b\":10,\"a\":11}\n");
    assert_int_equal(h_run(&h), SL_DONE);
    expect_out(&h, "schema a b c\n"
                   "L1 a=N1 b=N2 c=N3\n"
                   "L2 a=N5 b=N6 c=N4\n"
                   "L3 a=- b=N7 c=N8\n"
                   "L4 a=N11 b=N10 c=N9\n");
    assert_int_equal(h.batches, 1);
    h_fini(&h);
}

static void test_max_fields_start_over(void **state)
{
    (void)state;
    harness h;
    h_init(&h);
    h.run.opt.max_fields = 3;
    h_input_s(&h, "{\"a\":1,\"b\":2}\n"
                  "{\"c\":3}\n"          /* union a b c: fits */
                  "{\"d\":4,\"e\":5}\n"  /* union would be 5: own keys */
                  "{\"a\":1,\"b\":2,\"c\":3,\"d\":4}\n"); /* 4 keys: bad */
    assert_int_equal(h_run(&h), SL_DONE);
    expect_out(&h, "schema a b\n"
                   "L1 a=N1 b=N2\n"
                   "schema a b c\n"
                   "L2 a=- b=- c=N3\n"
                   "schema d e\n"
                   "L3 d=N4 e=N5\n");
    assert_int_equal(h.run.bad_records, 1);
    h_fini(&h);
}

static void test_lines_blank_crlf_bom_last(void **state)
{
    (void)state;
    harness h;
    h_init(&h);
    h_input_s(&h, "\xEF\xBB\xBF{\"a\":1}\r\n"
                  "\r\n"
                  "   \t \n"
                  "\n"
                  "{\"a\":\"x\\r\"}\r\n"
                  "{\"a\":3}");  /* no final newline */
    assert_int_equal(h_run(&h), SL_DONE);
    expect_out(&h, "schema a\n"
                   "L1 a=N1\n"
                   "L5 a=S\"x\r\"\n"
                   "L6 a=N3\n");
    assert_int_equal(h.inputs[0].records, 3);
    assert_int_equal(h.run.bad_records, 0);
    h_fini(&h);
}

static void test_empty_and_blank_inputs(void **state)
{
    (void)state;
    harness h;
    h_init(&h);
    h_input_s(&h, "");
    h_input_s(&h, "\n\n  \n");
    h_input_s(&h, "\xEF\xBB\xBF");
    assert_int_equal(h_run(&h), SL_DONE);
    assert_int_equal(h.rows, 0);
    assert_int_equal(h.batches, 0);
    h_fini(&h);
}

/* Bad lines are skipped (policy skip) and counted. */
static void test_bad_records_skipped(void **state)
{
    (void)state;
    harness h;
    h_init(&h);
    h_input_s(&h, "{\"a\":1}\n"
                  "[1,2]\n"
                  "{\"a\":1,}\n"
                  "{\"a\":1,\"a\":2}\n"
                  "\"str\"\n"
                  "{\"a\":\"\xff\"}\n"
                  "{\"a\":2}\n"
                  "{\"b\":1,\"b\":2}\n"
                  "{\"a\":3} {\"a\":4}\n"
                  "{\"a\":4}\n");
    assert_int_equal(h_run(&h), SL_DONE);
    expect_out(&h, "schema a\n"
                   "L1 a=N1\n"
                   "L7 a=N2\n"
                   "L10 a=N4\n");
    assert_int_equal(h.run.bad_records, 7);
    assert_int_equal(h.inputs[0].records, 10);
    h_fini(&h);
}

/* With the stop policy, the first bad line is the error, with its position. */
static void expect_stop(const char *content, uint64_t line, uint64_t record, const char *msg_part)
{
    harness h;
    h_init(&h);
    h.run.opt.on_error = SL_ONERR_STOP;
    h_input_s(&h, content);
    int rc = h_run(&h);
    if (rc != SL_E_DATA || h.run.err.line != line || h.run.err.record != record ||
        !strstr(h.run.err.msg, msg_part)) {
        fprintf(stderr, "rc %d line %llu record %llu msg \"%s\"; expected line %llu record %llu \"%s\"\n", rc,
                (unsigned long long)h.run.err.line, (unsigned long long)h.run.err.record, h.run.err.msg,
                (unsigned long long)line, (unsigned long long)record, msg_part);
        fail();
    }
    assert_string_equal(h.run.err.stage, "ndjson");
    assert_string_equal(h.run.err.input, h.paths[0]);
    h_fini(&h);
}

static void test_bad_record_positions(void **state)
{
    (void)state;
    expect_stop("{\"a\":1}\n\n{\"a\":1,}\n", 3, 2, "invalid JSON at column 8: unexpected '}'");
    expect_stop("{\"a\":1}\n{\"a\":2}\n\n\n[1]\n", 5, 3, "expected a JSON object at column 1, found an array");
    expect_stop("{\"a\":1, \"b\":2, \"a\":3}\n", 1, 1, "duplicate key \"a\" at column 16");
    expect_stop("{\"a\":1}\n{\"b\":1, \"c\":2, \"b\":3}\n", 2, 2, "duplicate key \"b\" at column 16");
    expect_stop("{\"a\":1}\n{\"a\":\"\\ud800x\"}\n", 2, 2, "lone surrogate");
    expect_stop("{\"a\":01}\n", 1, 1, "invalid JSON at column 6: invalid number");
    expect_stop("{\"a\":1}x\n", 1, 1, "invalid JSON at column 8: unexpected 'x' after the object");
    expect_stop("{\"a\":\"b\n", 1, 1, "unterminated string");
    expect_stop("\xEF\xBB\xBF{\"a\":1}\r\n{\"a\":tru}\r\n", 2, 2, "invalid literal");
}

static void test_several_inputs(void **state)
{
    (void)state;
    harness h;
    h_init(&h);
    h_input_s(&h, "{\"a\":1}\n{\"a\":2}"); /* no final newline: lines never join */
    h_input_s(&h, "\xEF\xBB\xBF{\"a\":3}\n\n{\"a\":4}\n");
    h_input_s(&h, "{\"a\":5}\n");
    assert_int_equal(h_run(&h), SL_DONE);
    expect_out(&h, "schema a\n"
                   "L1 a=N1\n"
                   "L2 a=N2\n"
                   "L1 a=N3\n"
                   "L3 a=N4\n"
                   "L1 a=N5\n");
    assert_int_equal(h.inputs[0].records, 2);
    assert_int_equal(h.inputs[1].records, 2);
    assert_int_equal(h.inputs[2].records, 1);
    assert_int_equal(h.inputs[1].bytes, 3 + 8 + 1 + 8);
    h_fini(&h);
}

static void test_bad_line_in_second_input(void **state)
{
    (void)state;
    harness h;
    h_init(&h);
    h.run.opt.on_error = SL_ONERR_STOP;
    h_input_s(&h, "{\"a\":1}\n{\"a\":2}\n");
    h_input_s(&h, "{\"a\":3}\n{\"a\":\n");
    assert_int_equal(h_run(&h), SL_E_DATA);
    assert_string_equal(h.run.err.input, h.paths[1]);
    assert_int_equal(h.run.err.line, 2);
    h_fini(&h);
}

/* A line of `len` bytes: {"k":"xxx..."} */
static char *long_line(size_t len)
{
    char *s = malloc(len + 2);
    memcpy(s, "{\"k\":\"", 6);
    memset(s + 6, 'x', len - 8);
    memcpy(s + len - 2, "\"}\n", 4);
    return s;
}

static void check_line_limit(uint64_t limit, int crlf)
{
    for (int over = 0; over <= 1; over++) {
        size_t len = (size_t)limit + (size_t)over;
        char *line = long_line(len);
        size_t total = len + 1;
        if (crlf) {
            line = realloc(line, len + 3);
            memcpy(line + len, "\r\n", 3);
            total = len + 2;
        }
        harness h;
        h_init(&h);
        h.run.opt.max_record_bytes = limit;
        h_input_s(&h, "{\"k\":\"first\"}\n");
        h_input(&h, line, total);
        int rc = h_run(&h);
        if (!over) {
            assert_int_equal(rc, SL_DONE);
            assert_int_equal(h.rows, 2);
        } else {
            assert_int_equal(rc, SL_E_DATA);
            assert_non_null(strstr(h.run.err.msg, "line longer than"));
            assert_int_equal(h.run.err.line, 1);
            assert_string_equal(h.run.err.input, h.paths[1]);
            assert_int_equal(h.rows, 1);
        }
        free(line);
        h_fini(&h);
    }
}

static void test_line_limit(void **state)
{
    (void)state;
    check_line_limit(100, 0);
    check_line_limit(100, 1);
    /* past the initial 1 MiB buffer: it grows up to the limit */
    check_line_limit(3u << 20, 0);
    check_line_limit((1u << 20) - 1, 1);
}

static void test_depth_limit(void **state)
{
    (void)state;
    harness h;
    h_init(&h);
    h.run.opt.max_depth = 4;
    h_input_s(&h, "{\"a\":{\"b\":[{}]}}\n"          /* depth 4: fine */
                  "{\"a\":{\"b\":[{\"c\":[]}]}}\n"  /* depth 5: bad */
                  "{\"a\":[[[1]]]}\n");             /* depth 4 */
    assert_int_equal(h_run(&h), SL_DONE);
    expect_out(&h, "schema a\n"
                   "L1 a=J{\"b\":[{}]}\n"
                   "L3 a=J[[[1]]]\n");
    assert_int_equal(h.run.bad_records, 1);
    h_fini(&h);

    h_init(&h);
    h.run.opt.max_depth = 4;
    h.run.opt.on_error = SL_ONERR_STOP;
    h_input_s(&h, "{\"a\":{\"b\":[{\"c\":[]}]}}\n");
    assert_int_equal(h_run(&h), SL_E_DATA);
    assert_non_null(strstr(h.run.err.msg, "nesting deeper than 4 levels"));
    h_fini(&h);
}

/* Many records across buffer refills and small batches. */
static void test_many_records(void **state)
{
    (void)state;
    const int n = 60000;
    size_t cap = (size_t)n * 64, len = 0;
    char *data = malloc(cap);
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(data + len, cap - len, "{\"i\":%d,\"s\":\"v\\t%d\",\"pad\":\"%0*d\"}\n", i, i, i % 17, 0);
    {
        harness h;
        h_init(&h);
        h.run.opt.batch_rows = 7;
        h_input(&h, data, len);
        assert_int_equal(h_run(&h), SL_DONE);
        assert_int_equal(h.rows, (uint64_t)n);
        /* spot-check the rendering: record i is on line i+1 */
        char want[128];
        snprintf(want, sizeof want, "L50001 i=N50000 s=S\"v\t50000\" pad=S\"%0*d\"\n", 50000 % 17, 0);
        assert_non_null(strstr(h.out, want));
        assert_int_equal(h.inputs[0].records, (uint64_t)n);
        assert_int_equal(h.inputs[0].bytes, len);
        h_fini(&h);
    }
    free(data);
}

static void test_gzip_input(void **state)
{
    (void)state;
    harness h;
    h_init(&h);
    snprintf(h.paths[0], sizeof h.paths[0], "/tmp/sl_ndjson_gz_XXXXXX");
    int fd = mkstemp(h.paths[0]);
    assert_true(fd >= 0);
    gzFile gz = gzdopen(fd, "wb");
    gzputs(gz, "{\"a\":\"gz\"}\n{\"a\":2}\n");
    gzclose(gz);
    h.inputs[0].name = h.paths[0];
    h.run.ninputs = 1;
    assert_int_equal(h_run(&h), SL_DONE);
    expect_out(&h, "schema a\nL1 a=S\"gz\"\nL2 a=N2\n");
    h_fini(&h);
}

static void test_jansson_parser(void **state)
{
    (void)state;
    harness h;
    h_init(&h);
    h.run.opt.json_parser = SL_JSONP_JANSSON;
    h_input_s(&h, "{\"s\":\"a\\u00e9\",\"i\":-12,\"r\":1.50,\"t\":true,\"z\":null,\"o\":{ \"x\" : [1, 2.5] }}\n"
                  "{\"s\":\"b\",\"i\":1,\"i\":2}\n"
                  "{\"i\":99999999999999999999}\n"  /* jansson: too big integer */
                  "{\"s\":\"c\"}\n");
    assert_int_equal(h_run(&h), SL_DONE);
    expect_out(&h, "schema s i r t z o\n"
                   "L1 s=S\"a\xc3\xa9\" i=N-12 r=N1.5 t=Btrue z=null o=J{\"x\":[1,2.5]}\n"
                   "L4 s=S\"c\" i=- r=- t=- z=- o=-\n");
    assert_int_equal(h.run.bad_records, 2);
    h_fini(&h);
}

static void test_create_rejects_args(void **state)
{
    (void)state;
    sl_error err;
    sl_error_clear(&err);
    sl_stage st;
    memset(&st, 0, sizeof st);
    assert_int_equal(sl_ndjson_reader_type.create(&st, "x", &err), SL_E_USAGE);
    assert_null(st.state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_schema_union_and_absent),
        cmocka_unit_test(test_key_order_changes),
        cmocka_unit_test(test_max_fields_start_over),
        cmocka_unit_test(test_lines_blank_crlf_bom_last),
        cmocka_unit_test(test_empty_and_blank_inputs),
        cmocka_unit_test(test_bad_records_skipped),
        cmocka_unit_test(test_bad_record_positions),
        cmocka_unit_test(test_several_inputs),
        cmocka_unit_test(test_bad_line_in_second_input),
        cmocka_unit_test(test_line_limit),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_many_records),
        cmocka_unit_test(test_gzip_input),
        cmocka_unit_test(test_jansson_parser),
        cmocka_unit_test(test_create_rejects_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
