/*
 * fuzz_ndjson.c - the NDJSON reader and the hand JSON parser on hostile bytes.
 *
 * The input is NDJSON text.  Properties, each an abort when broken:
 *
 *   1. Every line (without its CR) is judged the same by the hand parser
 *      (sl_json_scan_object), by jansson (json_loadb with
 *      JSON_REJECT_DUPLICATES, the oracle) and by the reader's jansson mode
 *      (sl_json_scan_object_jansson), with the field-by-field comparison of
 *      tests/unit/test_json_diff.c and its two documented exclusions
 *      (numbers beyond jansson's range; jansson dropping a NUL right after a
 *      number or literal).
 *   2. The reader stage reads the whole input (bad lines skipped) with both
 *      parsers without breaking the stage contract.
 *   3. The whole run NDJSON -> NDJSON writes only valid JSON object lines,
 *      and reading that output back gives the records read the first time.
 */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>

#include "formats/json_scan.h"
#include "fuzz_util.h"

#define DEPTH 2048 /* jansson's own limit, as in test_json_diff.c */

static sl_json_scan js_fast, js_jan;
static sl_arena arena_fast, arena_jan;

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

/* Does cell c (hand parser) hold the value v (jansson)? */
static int cell_is(const sl_cell *c, json_t *v, char *why, size_t cap)
{
    char text[512];
    size_t tn = c->len < sizeof text - 1 ? c->len : sizeof text - 1;
    if (c->p)
        memcpy(text, c->p, tn);
    text[tn] = 0;
    switch (json_typeof(v)) {
    case JSON_STRING:
        if (c->kind != SL_STRING || c->len != json_string_length(v) ||
            (c->len && memcmp(c->p, json_string_value(v), c->len))) {
            snprintf(why, cap, "string differs (kind %d, %u bytes vs %zu)", c->kind, c->len, json_string_length(v));
            return 0;
        }
        return 1;
    case JSON_INTEGER: {
        char *end;
        errno = 0;
        long long x = strtoll(text, &end, 10);
        if (c->kind != SL_NUMBER || errno || *end || x != json_integer_value(v)) {
            snprintf(why, cap, "integer %.200s (kind %d) vs %" JSON_INTEGER_FORMAT, text, c->kind,
                     json_integer_value(v));
            return 0;
        }
        return 1;
    }
    case JSON_REAL: {
        char *end;
        double x = strtod(text, &end);
        double y = json_real_value(v);
        if (c->kind != SL_NUMBER || *end || x != y || signbit(x) != signbit(y)) {
            snprintf(why, cap, "real %.200s (kind %d) vs %.17g", text, c->kind, y);
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
        if (c->kind != SL_JSON || !is_compact(c->p, c->len)) {
            snprintf(why, cap, "nested (kind %d) not compact JSON: %.200s", c->kind, text);
            return 0;
        }
        json_error_t e;
        json_t *w = json_loadb(c->p, c->len, JSON_REJECT_DUPLICATES, &e);
        int same = w && json_equal(w, v);
        if (!same)
            snprintf(why, cap, "nested %.200s differs", text);
        json_decref(w);
        return same;
    }
    }
    snprintf(why, cap, "unknown type");
    return 0;
}

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

/* jansson 2.14 drops one NUL right after a number or literal; the hand
   parser rejects it there (test_json_diff.c documents the exclusion). */
static int jansson_nul_bug(const char *s, size_t n, json_t *root)
{
    uint32_t col = js_fast.err_col;
    if (js_fast.err != SL_JSON_ESYNTAX || col < 2 || col > n || s[col - 1] != 0 || !isalnum((unsigned char)s[col - 2]))
        return 0;
    char *t = malloc(n);
    if (!t)
        abort();
    memcpy(t, s, col - 1);
    memcpy(t + col - 1, s + col, n - col);
    json_t *w = json_loadb(t, n - 1, JSON_REJECT_DUPLICATES, NULL);
    int same = w && json_equal(w, root);
    json_decref(w);
    free(t);
    return same;
}

static void compare_line(const char *s, size_t n)
{
    sl_arena_reset(&arena_fast);
    sl_arena_reset(&arena_jan);
    int rf = sl_json_scan_object(&js_fast, s, n, &arena_fast);
    int ra = sl_json_scan_object_jansson(&js_jan, s, n, &arena_jan);
    json_error_t je;
    json_t *root = json_loadb(s, n, JSON_REJECT_DUPLICATES, &je);
    int fast_ok = rf == SL_OK, jan_ok = root && json_is_object(root), ad_ok = ra == SL_OK;

    FZ_CHECK(rf != SL_E_NOMEM && ra != SL_E_NOMEM, "out of memory on %s", fz_show(s, n));
    if (fast_ok && !root && json_error_code(&je) == json_error_numeric_overflow) {
        FZ_CHECK(!ad_ok, "adapter accepts a number jansson rejects: %s", fz_show(s, n));
        goto out;
    }
    if (!fast_ok && jan_ok && jansson_nul_bug(s, n, root)) {
        FZ_CHECK(!ad_ok, "the reader's jansson mode accepts a NUL jansson drops: %s", fz_show(s, n));
        goto out;
    }
    FZ_CHECK(fast_ok == jan_ok, "fast %s (%s), jansson %s (%s): %s", fast_ok ? "accepts" : "rejects", js_fast.msg,
             jan_ok ? "accepts" : "rejects", root ? "not an object" : je.text, fz_show(s, n));
    FZ_CHECK(ad_ok == jan_ok, "adapter %s (%s), jansson %s: %s", ad_ok ? "accepts" : "rejects", js_jan.msg,
             jan_ok ? "accepts" : "rejects", fz_show(s, n));
    if (!fast_ok) {
        FZ_CHECK(js_fast.msg[0] && js_fast.err != SL_JSON_OK, "rejected without a message: %s", fz_show(s, n));
        goto out;
    }
    FZ_CHECK(js_fast.nfields == json_object_size(root) && js_jan.nfields == js_fast.nfields,
             "%u fields, jansson %zu, adapter %u: %s", js_fast.nfields, json_object_size(root), js_jan.nfields,
             fz_show(s, n));
    uint32_t i = 0;
    for (void *it = json_object_iter(root); it; it = json_object_iter_next(root, it), i++) {
        const sl_json_field *f = &js_fast.fields[i], *g = &js_jan.fields[i];
        const char *k = json_object_iter_key(it);
        size_t kn = json_object_iter_key_len(it);
        FZ_CHECK(f->key_len == kn && memcmp(f->key, k, kn) == 0, "key %u differs: %s", i, fz_show(s, n));
        FZ_CHECK(g->key_len == kn && memcmp(g->key, k, kn) == 0, "adapter key %u differs: %s", i, fz_show(s, n));
        char why[600];
        FZ_CHECK(cell_is(&f->val, json_object_iter_value(it), why, sizeof why), "value of key %u: %s: %s", i, why,
                 fz_show(s, n));
        FZ_CHECK(cells_agree(&f->val, &g->val), "adapter value of key %u differs: %s", i, fz_show(s, n));
    }
out:
    json_decref(root);
}

static void check_ndjson_output(const char *out, size_t n)
{
    FZ_CHECK(n == 0 || out[n - 1] == '\n', "NDJSON output ends inside a line");
    size_t pos = 0;
    while (pos < n) {
        const char *nl = memchr(out + pos, '\n', n - pos);
        size_t len = (size_t)(nl - (out + pos));
        sl_arena_reset(&arena_fast);
        int rc = sl_json_scan_object(&js_fast, out + pos, len, &arena_fast);
        FZ_CHECK(rc == SL_OK, "NDJSON output line is not a valid JSON object (%s): %s", js_fast.msg,
                 fz_show(out + pos, len));
        pos += len + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        if (sl_json_scan_init(&js_fast, DEPTH, 0, 0) != SL_OK || sl_json_scan_init(&js_jan, DEPTH, 0, 0) != SL_OK)
            abort();
        sl_arena_init(&arena_fast, 0, 0);
        sl_arena_init(&arena_jan, 0, 0);
        ready = 1;
    }
    /* 1. line by line, three parsers */
    const char *s = (const char *)data;
    size_t pos = 0;
    while (pos < size) {
        const char *nl = memchr(s + pos, '\n', size - pos);
        size_t len = nl ? (size_t)(nl - (s + pos)) : size - pos;
        size_t n = len;
        if (n && s[pos + n - 1] == '\r')
            n--;
        compare_line(s + pos, n);
        pos += len + 1;
    }

    /* 2. the reader, both parsers, bad lines skipped */
    const char *path = fz_file(0, data, size);
    sl_options o;
    sl_options_defaults(&o);
    o.on_error = SL_ONERR_SKIP;
    if (size && (data[0] & 7) == 7) {
        o.max_depth = 1 + data[size - 1] % 4;
        o.max_fields = 1 + data[size - 1] % 7;
        o.batch_rows = 1 + data[size - 1] % 3;
    }
    int rc;
    sl_error e;
    char *first = fz_read_all(&sl_ndjson_reader_type, path, &o, &rc, &e);
    FZ_CHECK(rc == SL_OK, "the reader fails with bad lines skipped: %s", e.msg);
    o.json_parser = SL_JSONP_JANSSON;
    int rc_j;
    char *jan = fz_read_all(&sl_ndjson_reader_type, path, &o, &rc_j, &e);
    FZ_CHECK(rc_j == SL_OK, "the jansson reader fails with bad lines skipped: %s", e.msg);
    free(jan);
    o.json_parser = SL_JSONP_FAST;

    /* 3. NDJSON -> NDJSON: valid lines that read back as the same records */
    o.from = "ndjson";
    o.to = "ndjson";
    o.pipeline = "cat";
    size_t n;
    char *out = fz_run_capture(&o, path, &rc, &e, &n);
    FZ_CHECK(rc == SL_OK, "NDJSON -> NDJSON fails with bad lines skipped: %s", e.msg);
    check_ndjson_output(out, n);
    const char *p2 = fz_file(1, out, n);
    int rc2;
    char *again = fz_read_all(&sl_ndjson_reader_type, p2, &o, &rc2, &e);
    FZ_CHECK(rc2 == SL_OK && strcmp(again, first) == 0,
             "NDJSON written by sluice reads back differently (rc %d: %s)\n--- first:\n%s--- read back:\n%s\ninput: %s", rc2,
             e.msg, first, again, fz_show(data, size));
    free(again);
    free(out);
    free(first);
    return 0;
}
