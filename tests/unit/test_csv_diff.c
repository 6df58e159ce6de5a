/*
 * test_csv_diff.c - the hand CSV scanner yields exactly what libcsv yields.
 *
 * Every case is read twice, once per parser, over several read-buffer sizes
 * (so records straddle refills) and dialects; the dumps (records, NULL vs
 * empty string, field names) must be identical, and where one parser fails
 * the other must fail too, at the same line.
 * Cases: hand-written edge cases plus seeded random byte strings over an
 * alphabet rich in delimiters, quotes and line breaks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "testutil.h"

static const char *const edge_cases[] = {
    "",
    "a",
    "a\n",
    "a,b\n1,2\n",
    "a,b\n1,2",
    "a,b\r\n1,2\r\n",
    "a,b\r1,2\r",
    "a,b\n\n\n1,2\n\n",
    "a,b\r\n\r\n1,2\r\n",
    "a,b\n,\n",
    "a,b\n\"\",\"\"\n",
    "a,b\n\"\",\n",
    "a,b\n1,\n",
    "a,b\n1,",
    "a,b\n\"x,y\",\"say \"\"hi\"\"\"\n",
    "a,b\n\"multi\nline\",2\n",
    "a,b\n\"multi\r\nline\",2\r\n",
    "a,b\n\"cr\ronly\",2\n",
    " a , b \n 1 , 2 \n",
    "\xef\xbb\xbf\x61,b\n1,2\n", /* a BOM, then "a,b" */
    "a,b\n1,\"unterminated\n",
    "a,b\n1,x\"y\n",
    "a,b\n1,\"x\"y\n",
    "a,b\n1,\"x\" \n",
    "a,b\n1, \"x\"\n",
    "a,b\n1,2,3\n",
    "a,b\n1\n",
    "a,b,c\n1,2\n",
    "a,a\n1,2\n",
    "a\n\n",
    "a\n\"\"\n",
    "a,b\n1,\"\"\"\"\n",
    "a,b\n1,\"\"\"\"\"\"\n",
    "a,b\n\"\"\"\",2\n",
    "a,b\n1,\"a\"\"\"\n",
    "x\n\"ends at eof\"",
    "x\n\"ends at eof with quote\"\"\"",
    "a,b\nn\0ul,2\n",
    "h\n\xc3\xa9t\xc3\xa9\n",
    "a;b\n1;2\n",
    "a\tb\n1\t2\n",
    "\r\n\r\na,b\n1,2\n",
    "a,b\n1,2\r",
    "a,b\n1,2\r\n\r",
};

static uint32_t lim_fields;     /* when set: --max-fields */
static uint64_t lim_field_bytes; /* when set: --max-field-bytes */

static void assert_same(const char *data, size_t len, char delim, char quote, int no_header, uint32_t rdbuf)
{
    sl_options o;
    sl_options_defaults(&o);
    if (lim_fields)
        o.max_fields = lim_fields;
    if (lim_field_bytes)
        o.max_field_bytes = lim_field_bytes;
    o.delim = delim;
    o.quote = quote;
    o.no_header = no_header;
    o.read_buffer = rdbuf;
    int rc_fast, rc_lib;
    sl_error ef, el;
    o.csv_parser = SL_CSVP_FAST;
    char *fast = tu_read_all(&sl_csv_reader_type, data, len, &o, &rc_fast, &ef);
    o.csv_parser = SL_CSVP_LIBCSV;
    char *lib = tu_read_all(&sl_csv_reader_type, data, len, &o, &rc_lib, &el);
    /* on an error the run fails and publishes nothing, so only the error
       (its line) is compared, not how many records came out before it */
    int same = (rc_fast < 0) == (rc_lib < 0) && (rc_fast < 0 ? ef.line == el.line : strcmp(fast, lib) == 0);
    if (!same) {
        fprintf(stderr, "MISMATCH on %zu bytes (delim %d quote %d no_header %d buffer %u):\n", len, delim, quote,
                no_header, rdbuf);
        for (size_t i = 0; i < len; i++)
            fprintf(stderr, (data[i] >= 32 && data[i] < 127) ? "%c" : "\\x%02x", (unsigned char)data[i]);
        fprintf(stderr, "\n-- fast (rc %d, line %llu: %s):\n%s-- libcsv (rc %d, line %llu: %s):\n%s", rc_fast,
                (unsigned long long)ef.line, ef.msg, fast, rc_lib, (unsigned long long)el.line, el.msg, lib);
        fail();
    }
    free(fast);
    free(lib);
}

static void test_edge_cases(void **state)
{
    (void)state;
    static const uint32_t bufs[] = {0, 4, 5, 7, 16, 64};
    for (size_t i = 0; i < sizeof edge_cases / sizeof edge_cases[0]; i++) {
        size_t len = strlen(edge_cases[i]);
        if (i == 37) /* the case with a NUL byte */
            len = 12;
        for (size_t k = 0; k < sizeof bufs / sizeof bufs[0]; k++) {
            assert_same(edge_cases[i], len, 0, 0, 0, bufs[k]);
            assert_same(edge_cases[i], len, 0, 0, 1, bufs[k]);
            assert_same(edge_cases[i], len, ';', '\'', 0, bufs[k]);
            assert_same(edge_cases[i], len, '\t', 0, 0, bufs[k]);
        }
    }
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}

static void test_random(void **state)
{
    (void)state;
    static const char alphabet[] = {'a', 'b', ',', ',', '"', '"', '\n', '\n', '\r', ' ', ';', '\t', '\'', 'x', (char)0xc3,
                                    (char)0xa9, '1', '\0'};
    char buf[96];
    for (int iter = 0; iter < 6000; iter++) {
        size_t len = rnd() % sizeof buf;
        for (size_t i = 0; i < len; i++)
            buf[i] = alphabet[rnd() % sizeof alphabet];
        uint32_t rdbuf = (iter % 3 == 0) ? 0 : 4 + rnd() % 24;
        assert_same(buf, len, 0, 0, iter & 1, rdbuf);
        if (iter % 4 == 0)
            assert_same(buf, len, ';', '\'', 0, rdbuf);
    }
}

/* Quoted-field-heavy random CSV that is valid, so long runs of records are
   compared and not just the first error. */
static void test_random_valid(void **state)
{
    (void)state;
    size_t cap = 1 << 16;
    char *buf = malloc(cap);
    for (int iter = 0; iter < 300; iter++) {
        size_t n = 0;
        int ncols = 1 + (int)(rnd() % 5);
        int nrows = (int)(rnd() % 40);
        for (int r = 0; r <= nrows; r++) {
            for (int c = 0; c < ncols; c++) {
                if (c)
                    buf[n++] = ',';
                int kind = (int)(rnd() % 4);
                int flen = (int)(rnd() % 8);
                if (kind == 0) {
                    for (int k = 0; k < flen; k++)
                        buf[n++] = "ab 1.\t"[rnd() % 6];
                } else {
                    buf[n++] = '"';
                    for (int k = 0; k < flen; k++) {
                        char ch = "a,\n\r\" x"[rnd() % 7];
                        buf[n++] = ch;
                        if (ch == '"')
                            buf[n++] = '"';
                    }
                    buf[n++] = '"';
                }
            }
            const char *eol = (rnd() % 3 == 0) ? "\r\n" : "\n";
            if (r < nrows || rnd() % 2) {
                memcpy(buf + n, eol, strlen(eol));
                n += strlen(eol);
            }
        }
        assert_same(buf, n, 0, 0, 0, (iter % 2) ? 0 : 8 + rnd() % 32);
    }
    free(buf);
}

/* Mostly plain records (the reader's SSE path for whole unquoted records):
   1 to 14 fields of 0 to 20 bytes, so records cross the 16-byte steps in
   every way, LF or CRLF, with now and then a lone CR, a quote in the middle
   of a field, a quoted field, a blank line or a missing last line break,
   and tight field limits, over several buffer sizes and dialects. */
static void test_random_plain(void **state)
{
    (void)state;
    size_t cap = 1 << 16;
    char *buf = malloc(cap);
    for (int iter = 0; iter < 1500; iter++) {
        size_t n = 0;
        char delim = iter % 5 == 3 ? ';' : iter % 5 == 4 ? '\t' : ',';
        int ncols = 1 + (int)(rnd() % 14);
        int nrows = 1 + (int)(rnd() % 60);
        for (int r = 0; r <= nrows && n < cap - 512; r++) {
            int cols = (rnd() % 8 == 0) ? 1 + (int)(rnd() % 14) : ncols; /* now and then a ragged record */
            for (int c = 0; c < cols; c++) {
                if (c)
                    buf[n++] = delim;
                int flen = (int)(rnd() % 21);
                int odd = (int)(rnd() % 200);
                if (odd == 0) { /* a quoted field */
                    buf[n++] = '"';
                    buf[n++] = 'q';
                    buf[n++] = '"';
                    continue;
                }
                for (int k = 0; k < flen; k++)
                    buf[n++] = "ab1.-: Z9"[rnd() % 9];
                if (odd == 1)
                    buf[n++] = '"'; /* a quote inside an unquoted field: an error */
                else if (odd == 2)
                    buf[n++] = '\r'; /* a CR alone: ends the record */
            }
            const char *eol = (rnd() % 4 == 0) ? "\r\n" : (rnd() % 50 == 0) ? "\n\n" : "\n";
            if (r < nrows || rnd() % 2) {
                memcpy(buf + n, eol, strlen(eol));
                n += strlen(eol);
            }
        }
        uint32_t rdbuf = (iter % 3 == 0) ? 0 : (iter % 3 == 1) ? 16 + rnd() % 80 : 256 + rnd() % 1024;
        lim_fields = iter % 7 == 0 ? 8 + rnd() % 6 : 0;
        lim_field_bytes = iter % 11 == 0 ? 15 + rnd() % 6 : 0;
        assert_same(buf, n, delim == ',' ? 0 : delim, 0, iter & 1, rdbuf);
    }
    lim_fields = 0;
    lim_field_bytes = 0;
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_edge_cases),
        cmocka_unit_test(test_random),
        cmocka_unit_test(test_random_valid),
        cmocka_unit_test(test_random_plain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
