/* test_json_diff.c - the hand JSON parser against jansson, line by line.
 *
 * For every line of a hand-written corpus of edge cases, of generated lines
 * and of seeded pseudo-random mutations of valid lines, three parsers run:
 *
 *   fast     sl_json_scan_object()          (the hand parser)
 *   jansson  json_loadb(JSON_REJECT_DUPLICATES), the oracle
 *   adapter  sl_json_scan_object_jansson()  (the reader's jansson mode)
 *
 * They must agree on accept/reject (a line is accepted when it is one JSON
 * object), and on accepted lines on the keys (order and bytes), string values
 * (bytes), numbers (as values: jansson's integer against strtoll of the fast
 * parser's text, jansson's real against strtod), booleans, nulls and nested
 * values (json_equal after loading the fast parser's compact text, which must
 * hold no whitespace outside strings).
 *
 * Two disagreements are allowed, each checked narrowly and counted apart:
 *   - integers beyond int64 and reals beyond the double range are valid JSON
 *     that the fast parser keeps and jansson rejects ("too big integer",
 *     "real number overflow");
 *   - a jansson 2.14 bug: one NUL byte right after a number or literal
 *     ({"a":1<NUL>}) is silently dropped (its lookahead unget of a 0 byte
 *     looks like an empty buffer).  NUL is not JSON; the fast parser rejects
 *     it.  The exclusion requires the fast parser's error to be at that NUL,
 *     after a token, and the line without it to load as an equal value.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "formats/json_scan.h"

#define DEPTH 2048 /* jansson's own limit; deep corpus lines stay clear of it */

typedef struct line {
    const char *s;
    size_t n;
} line;

#define L(s) {s, sizeof(s) - 1}

/* ------------------------------------------------------------------------ */
/* the hand-written corpus */

static const line corpus[] = {
    /* shapes */
    L("{}"), L("{ }"), L(" {} "), L("\t{\t}\t"), L("{\"\":\"\"}"), L("{\"\":1,\" \":2}"),
    L("{\"a\":1}"), L("{ \"a\" : 1 , \"b\" : 2 }"), L("{\t\"a\"\t:\t1\t}"), L("{\r\"a\":1\r}\r"),
    L("{\"a\":\"b\"}"), L("  {  \"a\"  :  [  1  ,  {  \"b\"  :  null  }  ]  }  "),
    L("{\"a\":1,\"b\":\"x\",\"c\":true,\"d\":false,\"e\":null,\"f\":[],\"g\":{}}"),
    /* escapes */
    L("{\"a\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"}"), L("{\"a\":\"\\u0041\\u00e9\\u4e2d\\ud83d\\ude00\"}"),
    L("{\"a\":\"\\uD83D\\uDE00\"}"), L("{\"a\":\"\\u00E9x\\u00e9\"}"), L("{\"a\\nb\":1}"),
    L("{\"\\u0061\":1}"), L("{\"a\":\"\\u0001\"}"), L("{\"a\":\"\\u001f\\u007f\\u0080\"}"),
    L("{\"a\":\"\\uffff\\ufffe\"}"), L("{\"a\":\"\\udbff\\udfff\"}"), L("{\"a\":\"\\ud800\\udc00\"}"),
    L("{\"a\":\"x\\\\\"}"), L("{\"a\":\"\\\\u0041\"}"), L("{\"a\":\"\\/\\/\"}"),
    L("{\"a\":[\"\\\" ]\", \"x y\", \"\\u00e9 \\n\"]}"), L("{\"a\":{\"k\\u00e9y\" : \"v a l\"}}"),
    L("{\"key with spaces\":\"value with \\\"quotes\\\"\"}"),
    /* every UTF-8 length, raw, and the edges of each */
    L("{\"a\":\"\x7f\"}"), L("{\"a\":\"\xc2\x80\"}"), L("{\"a\":\"\xc3\xa9\"}"), L("{\"a\":\"\xdf\xbf\"}"),
    L("{\"a\":\"\xe0\xa0\x80\"}"), L("{\"a\":\"\xe4\xb8\xad\"}"), L("{\"a\":\"\xed\x9f\xbf\"}"),
    L("{\"a\":\"\xee\x80\x80\"}"), L("{\"a\":\"\xef\xbf\xbf\"}"), L("{\"a\":\"\xf0\x90\x80\x80\"}"),
    L("{\"a\":\"\xf0\x9f\x98\x80\"}"), L("{\"a\":\"\xf4\x8f\xbf\xbf\"}"), L("{\"\xc3\xa9\":\"\xe4\xb8\xad\"}"),
    L("{\"a\":[\"\xf0\x9f\x98\x80\", {\"\xe4\xb8\xad\":\"\xc3\xa9\"}]}"),
    L("{\"a\":\"0123456789abcdef\xc3\xa9" "0123456789abcdef\"}"),
    /* invalid UTF-8 */
    L("{\"a\":\"\x80\"}"), L("{\"a\":\"\xbf\"}"), L("{\"a\":\"\xc0\x80\"}"), L("{\"a\":\"\xc1\xbf\"}"),
    L("{\"a\":\"\xe0\x80\x80\"}"), L("{\"a\":\"\xe0\x9f\xbf\"}"), L("{\"a\":\"\xed\xa0\x80\"}"),
    L("{\"a\":\"\xed\xbf\xbf\"}"), L("{\"a\":\"\xf0\x80\x80\x80\"}"), L("{\"a\":\"\xf0\x8f\xbf\xbf\"}"),
    L("{\"a\":\"\xf4\x90\x80\x80\"}"), L("{\"a\":\"\xf5\x80\x80\x80\"}"), L("{\"a\":\"\xf8\x88\x80\x80\x80\"}"),
    L("{\"a\":\"\xfe\"}"), L("{\"a\":\"\xff\"}"), L("{\"a\":\"\xc3\"}"), L("{\"a\":\"\xe4\xb8\"}"),
    L("{\"a\":\"\xf0\x9f\x98\"}"), L("{\"a\":\"\xc3\x28\"}"), L("{\"a\":\"\xe2\x28\xa1\"}"),
    L("{\"a\":\"\xc3"), L("{\"a\":\"\xf0\x9f"), L("{\"\xff\":1}"), L("{\"a\":[\"\xc0\xaf\"]}"),
    L("{\"a\":1}\xc3\xa9"), L("{\"a\":\xc3\xa9}"), L("{\"a\":\"0123456789abcdef\xed\xa0\x80" "0123456789abcdef\"}"),
    /* surrogate escapes */
    L("{\"a\":\"\\ud800\"}"), L("{\"a\":\"\\udbff\"}"), L("{\"a\":\"\\udc00\"}"), L("{\"a\":\"\\udfff\"}"),
    L("{\"a\":\"\\ud800\\u0041\"}"), L("{\"a\":\"\\ud800\\ud800\"}"), L("{\"a\":\"\\ud800x\"}"),
    L("{\"a\":\"\\ud800\\\"}"), L("{\"a\":\"\\udc00\\ud800\"}"), L("{\"a\":\"\\ud800\\n\"}"),
    L("{\"\\ud800\":1}"), L("{\"a\":[\"\\udfff\"]}"), L("{\"a\":\"\\ud83d\\ude0\"}"),
    /* \u0000 */
    L("{\"a\":\"\\u0000\"}"), L("{\"\\u0000\":1}"), L("{\"a\":{\"\\u0000\":1}}"), L("{\"a\":[\"x\\u0000\"]}"),
    /* other bad escapes and strings */
    L("{\"a\":\"\\a\"}"), L("{\"a\":\"\\x41\"}"), L("{\"a\":\"\\U0041\"}"), L("{\"a\":\"\\u12\"}"),
    L("{\"a\":\"\\u12G4\"}"), L("{\"a\":\"\\u\"}"), L("{\"a\":\"\\'\"}"), L("{\"a\":\"\\0\"}"),
    L("{\"a\":\"\\"), L("{\"a\":\"abc"), L("{\"a\":\"\\\"}"), L("{\"a\":\"x\" \"y\"}"), L("{\"a\":'b'}"),
    L("{'a':1}"), L("{a:1}"), L("{\"a\":\"\t\"}"), L("{\"a\":\"\n\"}"), L("{\"a\":\"\x7f\x01\"}"),
    L("{\"a\":\"\x00\"}"), L("{\"a\x1f\":1}"), L("{\"a\":[\"\x1b[0m\"]}"),
    /* numbers */
    L("{\"a\":0}"), L("{\"a\":-0}"), L("{\"a\":1}"), L("{\"a\":-1}"), L("{\"a\":10}"), L("{\"a\":1.5}"),
    L("{\"a\":-1.5}"), L("{\"a\":0.0}"), L("{\"a\":-0.0}"), L("{\"a\":1e5}"), L("{\"a\":1E5}"),
    L("{\"a\":1e+5}"), L("{\"a\":1e-5}"), L("{\"a\":1.5e10}"), L("{\"a\":-0.0e-0}"), L("{\"a\":0e0}"),
    L("{\"a\":0E-0}"), L("{\"a\":1.50}"), L("{\"a\":123456789012345678}"), L("{\"a\":9223372036854775807}"),
    L("{\"a\":-9223372036854775808}"), L("{\"a\":1.7976931348623157e308}"), L("{\"a\":5e-324}"),
    L("{\"a\":2.2250738585072014e-308}"), L("{\"a\":1e-400}"), L("{\"a\":0.1}"),
    L("{\"a\":100000000000000000000.0}"), L("{\"a\":1.23456789012345678901234567890}"),
    L("{\"a\":-0.000001}"), L("{\"a\":[0,-0,1e1,1.0e-1,-1E+1]}"), L("{\"a\":12,\"b\":-3.25e-2}"),
    /* numbers beyond jansson's range: valid JSON, excluded from the comparison */
    L("{\"a\":9223372036854775808}"), L("{\"a\":-9223372036854775809}"), L("{\"a\":1e400}"),
    L("{\"a\":-1e400}"), L("{\"a\":123456789012345678901234567890}"), L("{\"a\":[1e999]}"),
    /* bad numbers */
    L("{\"a\":01}"), L("{\"a\":-01}"), L("{\"a\":00}"), L("{\"a\":+1}"), L("{\"a\":.5}"), L("{\"a\":1.}"),
    L("{\"a\":1.e5}"), L("{\"a\":-}"), L("{\"a\":-a}"), L("{\"a\":1e}"), L("{\"a\":1e+}"), L("{\"a\":1E-}"),
    L("{\"a\":0x10}"), L("{\"a\":1_000}"), L("{\"a\":NaN}"), L("{\"a\":Infinity}"), L("{\"a\":-Infinity}"),
    L("{\"a\":nan}"), L("{\"a\":1.5.5}"), L("{\"a\":1e5e5}"), L("{\"a\":--1}"), L("{\"a\":- 1}"),
    L("{\"a\":1 2}"), L("{\"a\":[01]}"), L("{\"a\":[1.]}"), L("{\"a\":-}"), L("{\"a\":0.}"), L("{\"a\":1e1.5}"),
    /* literals */
    L("{\"a\":true,\"b\":false,\"c\":null}"), L("{\"a\":[true,false,null]}"), L("{\"a\":tru}"),
    L("{\"a\":True}"), L("{\"a\":nul}"), L("{\"a\":NULL}"), L("{\"a\":falsey}"), L("{\"a\":truex}"),
    L("{\"a\":nulll}"), L("{\"a\":t}"), L("{\"a\":[truefalse]}"), L("{\"a\":undefined}"),
    /* nesting */
    L("{\"a\":{}}"), L("{\"a\":[]}"), L("{\"a\":[1,\"b\",null,true,false,{\"c\":[{}]}]}"),
    L("{\"a\":{\"b\":{\"c\":{\"d\":1}}}}"), L("{\"a\": [ 1 , 2 ] }"), L("{\"a\":[ ]}"), L("{\"a\":{ }}"),
    L("{\"a\":[[[[[]]]]]}"), L("{\"a\":[{\"x\":1},{\"x\":2}]}"), L("{\"a\":{\"x\":1},\"b\":{\"x\":1}}"),
    L("{\"a\":{\"k\":{\"x\":1},\"x\":2}}"), L("{\"a\":[\n1]}"),
    /* structure errors */
    L(""), L("  "), L("{"), L("}"), L("{\"a\""), L("{\"a\":"), L("{\"a\":1"), L("{\"a\":1,"), L("{\"a\" 1}"),
    L("{\"a\":1 \"b\":2}"), L("{\"a\":1,}"), L("{,\"a\":1}"), L("{\"a\":[1,]}"), L("{\"a\":[,1]}"),
    L("{\"a\":[1 2]}"), L("{\"a\":[1,,2]}"), L("{\"a\":{\"b\"}}"), L("{\"a\":{\"b\":}}"), L("{\"a\":{,}}"),
    L("{\"a\":]}"), L("{\"a\":[}"), L("{\"a\":[1}"), L("{\"a\":{]}"), L("{\"a\":1}}"), L("{\"a\":1}]"),
    L("{\"a\":1}{}"), L("{\"a\":1} x"), L("{\"a\":1}\x00"), L("{\"a\":{\"b\":1}"), L("{\"a\":[[1]]]}"),
    L("{\"a\":1 /* c */}"), L("{\"a\":1}//"), L("{\"a\"::1}"), L("{\"a\":1,,\"b\":2}"), L("{1:2}"),
    L("{\"a\":[1}]"), L("{\"a\":{\"b\":1]}"), L("{null:1}"),
    /* not objects */
    L("[]"), L("[1]"), L("\"a\""), L("1"), L("true"), L("null"), L(" [ {} ] "),
    L("\xEF\xBB\xBF{\"a\":1}"),
    /* whitespace JSON does not have */
    L("{\x0b\"a\":1}"), L("{\x0c\"a\":1}"), L("{\xa0\"a\":1}"), L("{\xc2\xa0\"a\":1}"), L("\x00{}"),
    L("{\"a\":1\x00}"), L("{\"a\":true\x00}"), L("{\"a\":[1.5\x00]}"),
    /* duplicate keys at every level, through escapes, in small and large objects */
    L("{\"a\":1,\"a\":1}"), L("{\"a\":1,\"b\":2,\"a\":3}"), L("{\"a\":{\"x\":1,\"x\":2}}"),
    L("{\"\\u0061\":1,\"a\":2}"), L("{\"a\":[{\"x\":1,\"y\":{\"z\":1,\"z\":2}}]}"), L("{\"\":1,\"\":2}"),
    L("{\"a\\n\":1,\"a\\u000a\":2}"), L("{\"\xc3\xa9\":1,\"\\u00e9\":2}"), L("{\"a\":1,\"A\":2}"),
    L("{\"k01\":1,\"k02\":1,\"k03\":1,\"k04\":1,\"k05\":1,\"k06\":1,\"k07\":1,\"k08\":1,\"k09\":1,\"k10\":1,"
      "\"k11\":1,\"k12\":1,\"k13\":1,\"k14\":1,\"k15\":1,\"k16\":1,\"k17\":1,\"k18\":1,\"k19\":1,\"k20\":1}"),
    L("{\"k01\":1,\"k02\":1,\"k03\":1,\"k04\":1,\"k05\":1,\"k06\":1,\"k07\":1,\"k08\":1,\"k09\":1,\"k10\":1,"
      "\"k11\":1,\"k12\":1,\"k13\":1,\"k14\":1,\"k15\":1,\"k16\":1,\"k17\":1,\"k18\":1,\"k19\":1,\"k03\":1}"),
    L("{\"k01\":1,\"k02\":1,\"k03\":1,\"k04\":1,\"k05\":1,\"k06\":1,\"k07\":1,\"k08\":1,\"k09\":1,\"k10\":1,"
      "\"k11\":1,\"k12\":1,\"k13\":1,\"k14\":1,\"k15\":1,\"k16\":1,\"k17\":1,\"k18\":1,\"k19\":1,\"k\\u0031\\u0038\":1}"),
    L("{\"o\":{\"k01\":1,\"k02\":1,\"k03\":1,\"k04\":1,\"k05\":1,\"k06\":1,\"k07\":1,\"k08\":1,\"k09\":1,\"k10\":1,"
      "\"k11\":1,\"k12\":1,\"k13\":1,\"k14\":1,\"k15\":1,\"k16\":1,\"k17\":1,\"k18\":1,\"k19\":1,\"k20\":1}}"),
    L("{\"o\":{\"k01\":1,\"k02\":1,\"k03\":1,\"k04\":1,\"k05\":1,\"k06\":1,\"k07\":1,\"k08\":1,\"k09\":1,\"k10\":1,"
      "\"k11\":1,\"k12\":1,\"k13\":1,\"k14\":1,\"k15\":1,\"k16\":1,\"k17\":1,\"k18\":1,\"k19\":1,\"k20\":1,"
      "\"k21\":{\"k01\":1},\"k01\":2}}"),
    L("{\"o\":[{\"k01\":1,\"k02\":1,\"k03\":1,\"k04\":1,\"k05\":1,\"k06\":1,\"k07\":1,\"k08\":1,\"k09\":1,\"k10\":1,"
      "\"k11\":1,\"k12\":1,\"k13\":1,\"k14\":1,\"k15\":1,\"k16\":1,\"k17\":1},{\"k01\":1,\"k02\":1,\"k03\":1,"
      "\"k04\":1,\"k05\":1,\"k06\":1,\"k07\":1,\"k08\":1,\"k09\":1,\"k10\":1,\"k11\":1,\"k12\":1,\"k13\":1,"
      "\"k14\":1,\"k15\":1,\"k16\":1,\"k17\":1}]}"),
};

/* ------------------------------------------------------------------------ */
/* comparison */

typedef struct stats {
    unsigned lines, accepted, rejected, excluded, jansson_nul, failures;
} stats;

static sl_json_scan js_fast, js_jan;
static sl_arena arena_fast, arena_jan;

static void show(const char *s, size_t n)
{
    fputc('\'', stderr);
    for (size_t i = 0; i < n && i < 300; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '\\')
            fputc(c, stderr);
        else
            fprintf(stderr, "\\x%02x", c);
    }
    fprintf(stderr, n > 300 ? "'...\n" : "'\n");
}

static int mismatch(stats *st, const char *s, size_t n, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int mismatch(stats *st, const char *s, size_t n, const char *fmt, ...)
{
    va_list ap;
    st->failures++;
    if (st->failures > 20)
        return 0;
    fprintf(stderr, "MISMATCH: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n  line: ");
    show(s, n);
    return 0;
}

/* No whitespace outside strings. */
static int is_compact(const char *s, size_t n)
{
    int in = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in = 0;
        } else if (c == '"') {
            in = 1;
        } else if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            return 0;
        }
    }
    return 1;
}

/* Does cell c (from the fast parser) hold the value v (from jansson)? */
static int cell_is(const sl_cell *c, json_t *v, char *why, size_t cap)
{
    char text[512];
    size_t tn = c->len < sizeof text - 1 ? c->len : sizeof text - 1;
    if (c->p)
        memcpy(text, c->p, tn);
    text[tn] = 0;
    switch (json_typeof(v)) {
    case JSON_STRING:
        if (c->kind != SL_STRING || c->len != json_string_length(v) || memcmp(c->p, json_string_value(v), c->len)) {
            snprintf(why, cap, "string differs (kind %d, %u bytes vs %zu)", c->kind, c->len, json_string_length(v));
            return 0;
        }
        return 1;
    case JSON_INTEGER: {
        if (c->kind != SL_NUMBER) {
            snprintf(why, cap, "integer: kind %d", c->kind);
            return 0;
        }
        char *end;
        errno = 0;
        long long x = strtoll(text, &end, 10);
        if (errno || *end || x != json_integer_value(v)) {
            snprintf(why, cap, "integer %.200s vs %" JSON_INTEGER_FORMAT, text, json_integer_value(v));
            return 0;
        }
        return 1;
    }
    case JSON_REAL: {
        if (c->kind != SL_NUMBER) {
            snprintf(why, cap, "real: kind %d", c->kind);
            return 0;
        }
        char *end;
        double x = strtod(text, &end);
        double y = json_real_value(v);
        if (*end || x != y || signbit(x) != signbit(y)) {
            snprintf(why, cap, "real %.200s (%.17g) vs %.17g", text, x, y);
            return 0;
        }
        return 1;
    }
    case JSON_TRUE:
    case JSON_FALSE: {
        const char *w = json_is_true(v) ? "true" : "false";
        if (c->kind != SL_BOOL || c->len != strlen(w) || memcmp(c->p, w, c->len)) {
            snprintf(why, cap, "boolean differs (kind %d)", c->kind);
            return 0;
        }
        return 1;
    }
    case JSON_NULL:
        if (c->kind != SL_NULL) {
            snprintf(why, cap, "null: kind %d", c->kind);
            return 0;
        }
        return 1;
    case JSON_OBJECT:
    case JSON_ARRAY: {
        if (c->kind != SL_JSON) {
            snprintf(why, cap, "nested: kind %d", c->kind);
            return 0;
        }
        if (!is_compact(c->p, c->len)) {
            snprintf(why, cap, "nested text not compact: %.200s", text);
            return 0;
        }
        json_error_t e;
        json_t *w = json_loadb(c->p, c->len, JSON_REJECT_DUPLICATES, &e);
        int same = w && json_equal(w, v);
        if (!same)
            snprintf(why, cap, "nested %.200s differs%s%.100s", text, w ? "" : ": ", w ? "" : e.text);
        json_decref(w);
        return same;
    }
    }
    snprintf(why, cap, "unknown type");
    return 0;
}

/* Do two cells (fast and adapter) hold the same value? */
static int cells_agree(const sl_cell *a, const sl_cell *b)
{
    if (a->kind != b->kind)
        return 0;
    switch (a->kind) {
    case SL_NULL:
        return 1;
    case SL_NUMBER: {
        char x[512], y[512];
        if (a->len >= sizeof x || b->len >= sizeof y)
            return 0;
        memcpy(x, a->p, a->len);
        x[a->len] = 0;
        memcpy(y, b->p, b->len);
        y[b->len] = 0;
        return strtod(x, NULL) == strtod(y, NULL);
    }
    case SL_JSON: {
        json_t *x = json_loadb(a->p, a->len, 0, NULL), *y = json_loadb(b->p, b->len, 0, NULL);
        int same = x && y && json_equal(x, y);
        json_decref(x);
        json_decref(y);
        return same;
    }
    default:
        return a->len == b->len && (a->len == 0 || memcmp(a->p, b->p, a->len) == 0);
    }
}

/* Did jansson accept s only by dropping the NUL byte the fast parser
   stopped at (right after a number or a literal)? */
static int jansson_nul_bug(const char *s, size_t n, json_t *root)
{
    uint32_t col = js_fast.err_col;
    if (js_fast.err != SL_JSON_ESYNTAX || col < 2 || col > n || s[col - 1] != 0 ||
        !isalnum((unsigned char)s[col - 2]))
        return 0;
    char *t = malloc(n);
    memcpy(t, s, col - 1);
    memcpy(t + col - 1, s + col, n - col);
    json_t *w = json_loadb(t, n - 1, JSON_REJECT_DUPLICATES, NULL);
    int same = w && json_equal(w, root);
    json_decref(w);
    free(t);
    return same;
}

static void compare_line(stats *st, const char *s, size_t n)
{
    st->lines++;
    sl_arena_reset(&arena_fast);
    sl_arena_reset(&arena_jan);
    int rf = sl_json_scan_object(&js_fast, s, n, &arena_fast);
    int ra = sl_json_scan_object_jansson(&js_jan, s, n, &arena_jan);
    json_error_t je;
    json_t *root = json_loadb(s, n, JSON_REJECT_DUPLICATES, &je);
    int fast_ok = rf == SL_OK, jan_ok = root && json_is_object(root), ad_ok = ra == SL_OK;

    if (fast_ok && !root && json_error_code(&je) == json_error_numeric_overflow) {
        st->excluded++; /* the documented difference */
        if (ad_ok)
            mismatch(st, s, n, "adapter accepted a number jansson rejects");
        goto out;
    }
    if (!fast_ok && jan_ok && jansson_nul_bug(s, n, root)) {
        st->jansson_nul++; /* the documented jansson bug */
        goto out;
    }
    if (rf == SL_E_NOMEM || ra == SL_E_NOMEM) {
        mismatch(st, s, n, "out of memory");
        goto out;
    }
    if (fast_ok != jan_ok) {
        mismatch(st, s, n, "fast %s (%s), jansson %s (%s)", fast_ok ? "accepts" : "rejects", js_fast.msg,
                 jan_ok ? "accepts" : "rejects", root ? "not an object" : je.text);
        goto out;
    }
    if (ad_ok != jan_ok) {
        mismatch(st, s, n, "adapter %s (%s), jansson %s", ad_ok ? "accepts" : "rejects", js_jan.msg,
                 jan_ok ? "accepts" : "rejects");
        goto out;
    }
    if (!fast_ok) {
        st->rejected++;
        if (!js_fast.msg[0] || js_fast.err == SL_JSON_OK)
            mismatch(st, s, n, "rejected without a message");
        goto out;
    }
    st->accepted++;
    if (js_fast.nfields != json_object_size(root) || js_jan.nfields != js_fast.nfields) {
        mismatch(st, s, n, "%u fields, jansson %zu, adapter %u", js_fast.nfields, json_object_size(root),
                 js_jan.nfields);
        goto out;
    }
    uint32_t i = 0;
    for (void *it = json_object_iter(root); it; it = json_object_iter_next(root, it), i++) {
        const sl_json_field *f = &js_fast.fields[i], *g = &js_jan.fields[i];
        const char *k = json_object_iter_key(it);
        size_t kn = json_object_iter_key_len(it);
        if (f->key_len != kn || memcmp(f->key, k, kn) != 0) {
            mismatch(st, s, n, "key %u differs", i);
            break;
        }
        if (g->key_len != kn || memcmp(g->key, k, kn) != 0) {
            mismatch(st, s, n, "adapter key %u differs", i);
            break;
        }
        char why[600];
        if (!cell_is(&f->val, json_object_iter_value(it), why, sizeof why)) {
            mismatch(st, s, n, "value of key %u: %s", i, why);
            break;
        }
        if (!cells_agree(&f->val, &g->val)) {
            mismatch(st, s, n, "adapter value of key %u differs: %.*s vs %.*s", i, (int)f->val.len,
                     f->val.p ? f->val.p : "", (int)g->val.len, g->val.p ? g->val.p : "");
            break;
        }
    }
out:
    json_decref(root);
}

/* ------------------------------------------------------------------------ */
/* generated lines */

static uint64_t rng_state;
static uint32_t rnd(void)
{
    /* xorshift64*: deterministic across platforms */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 2685821657736338717ull) >> 32);
}
static uint32_t below(uint32_t n) { return rnd() % n; }

typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf;

static void put(sbuf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
}
static void puts_(sbuf *b, const char *s) { put(b, s, strlen(s)); }

static void gen_ws(sbuf *b)
{
    static const char *const ws[] = {" ", "\t", "  ", "\r", " \t "};
    if (below(6) == 0)
        puts_(b, ws[below(5)]);
}

static void gen_string(sbuf *b, int key)
{
    static const char *const pieces[] = {
        "a", "b", "key", "x y", "\\n", "\\\"", "\\\\", "\\/", "\\t", "\\u0041", "\\u00e9", "\\u4e2d",
        "\\ud83d\\ude00", "\\uDBFF\\uDFFF", "\xc3\xa9", "\xe4\xb8\xad", "\xf0\x9f\x98\x80", "\x7f", "0123456789",
        "\\u001f", "\\b\\f\\r", "long text that goes on for more than sixteen bytes",
    };
    puts_(b, "\"");
    int np = key ? (int)below(2) + 1 : (int)below(4);
    for (int i = 0; i < np; i++)
        puts_(b, pieces[below(key ? 4 : sizeof pieces / sizeof *pieces)]);
    puts_(b, "\"");
}

static void gen_number(sbuf *b)
{
    char t[64];
    size_t n = 0;
    if (below(3) == 0)
        t[n++] = '-';
    if (below(4) == 0) {
        t[n++] = '0';
    } else {
        int digits = below(8) == 0 ? 15 + (int)below(8) : 1 + (int)below(6); /* sometimes past int64 */
        t[n++] = (char)('1' + below(9));
        for (int i = 1; i < digits; i++)
            t[n++] = (char)('0' + below(10));
    }
    if (below(3) == 0) {
        t[n++] = '.';
        int digits = 1 + (int)below(18);
        for (int i = 0; i < digits; i++)
            t[n++] = (char)('0' + below(10));
    }
    if (below(4) == 0) {
        t[n++] = below(2) ? 'e' : 'E';
        if (below(2))
            t[n++] = below(2) ? '+' : '-';
        int digits = 1 + (int)below(3);
        for (int i = 0; i < digits; i++)
            t[n++] = (char)('0' + below(10));
    }
    put(b, t, n);
}

static void gen_value(sbuf *b, int depth)
{
    switch (below(depth > 3 ? 6 : 8)) {
    case 0: case 1: gen_string(b, 0); break;
    case 2: case 3: gen_number(b); break;
    case 4: puts_(b, below(2) ? "true" : "false"); break;
    case 5: puts_(b, "null"); break;
    case 6: { /* array */
        int n = (int)below(4);
        puts_(b, "[");
        gen_ws(b);
        for (int i = 0; i < n; i++) {
            if (i) {
                puts_(b, ",");
                gen_ws(b);
            }
            gen_value(b, depth + 1);
            gen_ws(b);
        }
        puts_(b, "]");
        break;
    }
    default: { /* object */
        int n = (int)below(4);
        puts_(b, "{");
        gen_ws(b);
        for (int i = 0; i < n; i++) {
            if (i) {
                puts_(b, ",");
                gen_ws(b);
            }
            gen_string(b, 1);
            gen_ws(b);
            puts_(b, ":");
            gen_ws(b);
            gen_value(b, depth + 1);
            gen_ws(b);
        }
        puts_(b, "}");
        break;
    }
    }
}

static void gen_object(sbuf *b)
{
    b->n = 0;
    int n = below(10) == 0 ? 18 + (int)below(6) : (int)below(8);
    gen_ws(b);
    puts_(b, "{");
    for (int i = 0; i < n; i++) {
        if (i)
            puts_(b, ",");
        gen_ws(b);
        gen_string(b, 1);
        gen_ws(b);
        puts_(b, ":");
        gen_ws(b);
        gen_value(b, 1);
        gen_ws(b);
    }
    puts_(b, "}");
    gen_ws(b);
}

/* One random edit of b. */
static void mutate(sbuf *b)
{
    static const char interesting[] = "{}[]\":,\\ 0123456789eE.+-tfnu\x00\x1f\x7f\x80\xbf\xc0\xc3\xe0\xed\xf0\xf4\xf5\xff";
    char c = below(4) ? interesting[below(sizeof interesting - 1)] : (char)below(256);
    size_t at = b->n ? below((uint32_t)b->n) : 0;
    switch (below(7)) {
    case 0: /* delete a byte */
        if (b->n) {
            memmove(b->p + at, b->p + at + 1, b->n - at - 1);
            b->n--;
        }
        break;
    case 1: /* insert a byte */
        put(b, "", 1);
        memmove(b->p + at + 1, b->p + at, b->n - 1 - at);
        b->p[at] = c;
        break;
    case 2: /* replace a byte */
        if (b->n)
            b->p[at] = c;
        break;
    case 3: /* truncate */
        b->n = at;
        break;
    case 4: { /* copy a piece elsewhere */
        if (!b->n)
            break;
        size_t len = 1 + below(8);
        if (at + len > b->n)
            len = b->n - at;
        char tmp[8];
        memcpy(tmp, b->p + at, len);
        size_t to = below((uint32_t)b->n + 1);
        put(b, tmp, len);
        memmove(b->p + to + len, b->p + to, b->n - len - to);
        memcpy(b->p + to, tmp, len);
        break;
    }
    case 5: { /* swap two bytes */
        if (!b->n)
            break;
        size_t other = below((uint32_t)b->n);
        char t = b->p[at];
        b->p[at] = b->p[other];
        b->p[other] = t;
        break;
    }
    default: /* flip a bit */
        if (b->n)
            b->p[at] ^= (char)(1u << below(8));
        break;
    }
}

/* ------------------------------------------------------------------------ */
/* tests */

static int setup(void **state)
{
    (void)state;
    assert_int_equal(sl_json_scan_init(&js_fast, DEPTH, 0, 0), SL_OK);
    assert_int_equal(sl_json_scan_init(&js_jan, DEPTH, 0, 0), SL_OK);
    sl_arena_init(&arena_fast, 0, 0);
    sl_arena_init(&arena_jan, 0, 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sl_json_scan_fini(&js_fast);
    sl_json_scan_fini(&js_jan);
    sl_arena_fini(&arena_fast);
    sl_arena_fini(&arena_jan);
    return 0;
}

static void report(const char *what, const stats *st)
{
    print_message("%s: %u lines, %u accepted, %u rejected, excluded: %u numbers beyond jansson, %u jansson NUL bug; "
                  "%u mismatches\n",
                  what, st->lines, st->accepted, st->rejected, st->excluded, st->jansson_nul, st->failures);
}

static void test_corpus(void **state)
{
    (void)state;
    stats st = {0};
    size_t n = sizeof corpus / sizeof *corpus;
    assert_true(n >= 150);
    for (size_t i = 0; i < n; i++)
        compare_line(&st, corpus[i].s, corpus[i].n);
    report("corpus", &st);
    assert_int_equal(st.failures, 0);
    assert_true(st.accepted >= 60);
    assert_true(st.rejected >= 100);
    assert_true(st.excluded >= 6);
    assert_int_equal(st.jansson_nul, 3);
}

/* Every byte as a raw string byte, as whitespace, and as a value start. */
static void test_every_byte(void **state)
{
    (void)state;
    stats st = {0};
    for (int c = 0; c < 256; c++) {
        char s[32];
        int n = snprintf(s, sizeof s, "{\"a\":\"x%cy\"}", c == 0 ? '#' : c);
        if (c == 0)
            s[7] = 0;
        compare_line(&st, s, (size_t)n);
        n = snprintf(s, sizeof s, "{%c\"a\":1}", c == 0 ? '#' : c);
        if (c == 0)
            s[1] = 0;
        compare_line(&st, s, (size_t)n);
        n = snprintf(s, sizeof s, "{\"a\":%c}", c == 0 ? '#' : c);
        if (c == 0)
            s[5] = 0;
        compare_line(&st, s, (size_t)n);
        n = snprintf(s, sizeof s, "{\"a\":\"\\%c\"}", c == 0 ? '#' : c);
        if (c == 0)
            s[7] = 0;
        compare_line(&st, s, (size_t)n);
    }
    /* every 2-byte lead with every continuation-ish second byte */
    for (int a = 0xc0; a < 0x100; a++)
        for (int b = 0x00; b < 0x100; b += 0x11) {
            char s[32];
            int n = snprintf(s, sizeof s, "{\"a\":\"%c%c%c%c\"}", a, b ? b : 1, 0x80, 0x80);
            compare_line(&st, s, (size_t)n);
        }
    report("every byte", &st);
    assert_int_equal(st.failures, 0);
}

static void nest(sbuf *b, int depth, const char *open, const char *inner, const char *close)
{
    b->n = 0;
    puts_(b, "{\"a\":");
    for (int i = 0; i < depth; i++)
        puts_(b, open);
    puts_(b, inner);
    for (int i = 0; i < depth; i++)
        puts_(b, close);
    puts_(b, "}");
}

static void test_deep_nesting(void **state)
{
    (void)state;
    stats st = {0};
    sbuf b = {0};
    int depths[] = {1, 2, 10, 100, 1000, 2000, 3000, 10000};
    for (size_t i = 0; i < sizeof depths / sizeof *depths; i++) {
        nest(&b, depths[i], "[", "", "]");
        compare_line(&st, b.p, b.n);
        nest(&b, depths[i], "[", "1", "]");
        compare_line(&st, b.p, b.n);
        nest(&b, depths[i], "{\"k\":", "{}", "}");
        compare_line(&st, b.p, b.n);
        nest(&b, depths[i], "[ ", "\"s p\"", " ]");
        compare_line(&st, b.p, b.n);
        nest(&b, depths[i], "[", "", ""); /* unclosed */
        compare_line(&st, b.p, b.n);
    }
    free(b.p);
    report("deep nesting", &st);
    assert_int_equal(st.failures, 0);
    assert_true(st.accepted >= 15);
}

static void test_generated(void **state)
{
    (void)state;
    stats st = {0};
    sbuf b = {0};
    rng_state = 0x5eed5eed12345678ull;
    for (int i = 0; i < 4000; i++) {
        gen_object(&b);
        compare_line(&st, b.p, b.n);
    }
    free(b.p);
    report("generated", &st);
    assert_int_equal(st.failures, 0);
    assert_true(st.accepted >= 2000);
}

static void test_mutations(void **state)
{
    (void)state;
    stats st = {0};
    sbuf b = {0};
    rng_state = 0x0123456789abcdefull;
    /* seeds: the valid corpus lines and generated lines */
    size_t nseeds = 0;
    static line seeds[sizeof corpus / sizeof *corpus];
    for (size_t i = 0; i < sizeof corpus / sizeof *corpus; i++) {
        sl_arena_reset(&arena_fast);
        if (sl_json_scan_object(&js_fast, corpus[i].s, corpus[i].n, &arena_fast) == SL_OK)
            seeds[nseeds++] = corpus[i];
    }
    assert_true(nseeds >= 60);
    sbuf gen = {0};
    for (int i = 0; i < 6000; i++) {
        b.n = 0;
        if (i % 2) {
            const line *s = &seeds[below((uint32_t)nseeds)];
            put(&b, s->s, s->n);
        } else {
            gen_object(&gen);
            put(&b, gen.p, gen.n);
        }
        int edits = 1 + (below(3) == 0) + (below(6) == 0);
        for (int e = 0; e < edits; e++)
            mutate(&b);
        compare_line(&st, b.p, b.n);
    }
    free(b.p);
    free(gen.p);
    report("mutations", &st);
    assert_int_equal(st.failures, 0);
    assert_true(st.accepted >= 300);
    assert_true(st.rejected >= 3000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corpus),
        cmocka_unit_test(test_every_byte),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_generated),
        cmocka_unit_test(test_mutations),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
