/*
 * fuzz_expr.c - the expression language on hostile text and hostile data.
 *
 * Byte 0 holds flags: bit 0 = compile as map assignments
 * (sl_expr_compile_assignments) instead of one expression, bit 1 = bind
 * with SL_EXPR_BIND_OPEN, bit 2 = bind only the first two columns.  Then the
 * expression text up to the first NUL byte, then up to 12 cell values
 * separated by NUL bytes for a batch of 3 rows x 4 columns (a, b, price,
 * `x y`); the first byte of each value picks its kind (text, string, null,
 * absent, or typed: number / bool / JSON when the text is valid as one, else
 * text), as the readers would make them.
 *
 * Properties: compile either succeeds or fails with SL_E_USAGE and a
 * message; bind succeeds or fails with SL_E_USAGE; eval, eval_ref and
 * eval_bool return SL_OK, SL_E_DATA (with a message) or SL_E_NOMEM (the
 * arena cap), and values are well formed (valid type, finite doubles,
 * readable string bytes) and convert to cells; the batch form (vec.c), when
 * the expression has one, gives the same value as eval for every row it
 * does not leave to the interpreter.
 */
#include <jansson.h>
#include <math.h>

#include "expr/expr.h"
#include "formats/json_out.h"
#include "fuzz_util.h"

#define NROWS 3
#define NCOLS 4

static volatile uint64_t sink_hash; /* keeps the byte reads below alive */

static void check_value(const sl_value *v, const char *text)
{
    FZ_CHECK(v->type <= SL_V_TEXT, "value type %d for %s", v->type, text);
    if (v->type == SL_V_DOUBLE)
        FZ_CHECK(isfinite(v->u.d), "non-finite double from %s", text);
    if (v->type == SL_V_STRING || v->type == SL_V_TEXT) {
        FZ_CHECK(v->len == 0 || v->u.s != NULL, "string of %u bytes without bytes from %s", v->len, text);
        uint64_t h = 0;
        for (uint32_t i = 0; i < v->len; i++)
            h = h * 31 + (unsigned char)v->u.s[i];
        sink_hash += h;
    }
    if (v->type == SL_V_BOOL)
        sink_hash += v->u.b;
}

static void check_cell(const sl_cell *c, const char *text)
{
    FZ_CHECK(c->kind <= SL_JSON, "cell kind %d from %s", c->kind, text);
    FZ_CHECK(c->len == 0 || c->p != NULL, "cell without bytes from %s", text);
    if (c->kind == SL_NUMBER)
        FZ_CHECK(sl_json_is_number(c->p, c->len), "number cell '%s' is not a JSON number (from %s)",
                 fz_show(c->p, c->len), text);
    if (c->kind == SL_BOOL)
        FZ_CHECK((c->len == 4 && !memcmp(c->p, "true", 4)) || (c->len == 5 && !memcmp(c->p, "false", 5)),
                 "bool cell '%s'", fz_show(c->p, c->len));
}

static void run_prog(sl_expr *p, const sl_batch *b, sl_arena *arena, unsigned flags, uint32_t nvis, const char *text)
{
    sl_error err;
    sl_error_clear(&err);
    int rc = sl_expr_bind(p, b->schema, nvis, flags, &err);
    FZ_CHECK(rc == SL_OK || (rc == SL_E_USAGE && err.code == SL_E_USAGE && err.msg[0]),
             "bind returns %d (%s) for %s", rc, err.msg, text);
    if (rc != SL_OK)
        return;
    /* binding twice is a no-op */
    FZ_CHECK(sl_expr_bind(p, b->schema, nvis, flags, &err) == SL_OK, "second bind fails for %s", text);
    for (uint32_t row = 0; row < b->nrows; row++) {
        sl_arena_reset(arena);
        sl_value v;
        rc = sl_expr_eval(p, b, row, arena, &v);
        FZ_CHECK(rc == SL_OK || rc == SL_E_DATA || rc == SL_E_NOMEM, "eval returns %d for %s", rc, text);
        if (rc == SL_OK) {
            check_value(&v, text);
            sl_cell c;
            int cr = sl_value_to_cell(&v, arena, &c);
            FZ_CHECK(cr == SL_OK || cr == SL_E_NOMEM, "value_to_cell returns %d", cr);
            if (cr == SL_OK)
                check_cell(&c, text);
        } else {
            const char *m = sl_expr_errmsg(p);
            FZ_CHECK(m && m[0], "eval fails (%d) without a message for %s", rc, text);
        }
        const sl_value *ref;
        int rc2 = sl_expr_eval_ref(p, b, row, arena, &ref);
        FZ_CHECK(rc2 == SL_OK || rc2 == SL_E_DATA || rc2 == SL_E_NOMEM, "eval_ref returns %d", rc2);
        if (rc2 == SL_OK)
            check_value(ref, text);
        bool yes;
        int rc3 = sl_expr_eval_bool(p, b, row, arena, &yes);
        FZ_CHECK(rc3 == SL_OK || rc3 == SL_E_DATA || rc3 == SL_E_NOMEM, "eval_bool returns %d", rc3);
    }
    /* the batch form, where there is one, gives what one row at a time
       gives for every row it does not leave alone */
    if (sl_expr_batchable(p) && b->nrows) {
        uint32_t rows[NROWS];
        for (uint32_t i = 0; i < b->nrows; i++)
            rows[i] = b->nrows - 1 - i; /* out of order */
        sl_value got[NROWS];
        const sl_value *vals = sl_expr_eval_rows(p, b, rows, b->nrows, arena);
        memcpy(got, vals, b->nrows * sizeof *got);
        for (uint32_t i = 0; i < b->nrows; i++) {
            if (got[i].type == SL_V_ROW)
                continue;
            sl_value want;
            sl_arena_reset(arena);
            rc = sl_expr_eval(p, b, rows[i], arena, &want);
            FZ_CHECK(rc == SL_OK, "batch form gives a value where the row gives %d for %s", rc, text);
            FZ_CHECK(got[i].type == want.type, "batch form type %d, row type %d for %s", got[i].type, want.type, text);
            if (want.type == SL_V_INT)
                FZ_CHECK(got[i].u.i == want.u.i, "batch form int differs for %s", text);
            else if (want.type == SL_V_DOUBLE)
                FZ_CHECK(memcmp(&got[i].u.d, &want.u.d, sizeof want.u.d) == 0, "batch form double differs for %s", text);
            else if (want.type == SL_V_BOOL)
                FZ_CHECK(got[i].u.b == want.u.b, "batch form bool differs for %s", text);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4096)
        return 0;
    uint8_t flags = data[0];
    const char *rest = (const char *)data + 1;
    size_t rlen = size - 1;
    const char *nul = memchr(rest, 0, rlen);
    size_t tlen = nul ? (size_t)(nul - rest) : rlen;
    char *text = malloc(tlen + 1);
    if (!text)
        abort();
    memcpy(text, rest, tlen);
    text[tlen] = 0;

    /* the batch */
    static const char *const names[NCOLS] = {"a", "b", "price", "x y"};
    sl_schema *schema = sl_schema_new(NCOLS, names, NULL);
    sl_batch b;
    if (!schema || sl_batch_init(&b, NROWS, NCOLS, 0) != SL_OK || sl_batch_reset(&b, schema, NCOLS) != SL_OK)
        abort();
    sl_schema_unref(schema); /* the batch holds its own reference */
    /* the values, copied with a NUL after the last one: glibc's regexec()
       honours REG_STARTEND, but ASan's interceptor of it runs strlen() on the
       subject, and cells in the readers' buffers always have bytes after
       them; an exactly sized fuzzer buffer would be a false alarm */
    size_t vlen = nul ? (size_t)(rest + rlen - (nul + 1)) : 0;
    char *values = malloc(vlen + 1);
    if (!values)
        abort();
    if (vlen)
        memcpy(values, nul + 1, vlen);
    values[vlen] = 0;
    const char *vp = values;
    const char *end = values + vlen;
    for (uint32_t i = 0; i < NROWS * NCOLS; i++) {
        sl_cell *c = &b.cells[i];
        *c = (sl_cell){NULL, 0, SL_NULL, {0}};
        if (vp >= end)
            continue;
        const char *ve = memchr(vp, 0, (size_t)(end - vp));
        if (!ve)
            ve = end;
        uint8_t sel = (uint8_t)vp[0];
        const char *s = vp + 1;
        size_t n = ve > vp ? (size_t)(ve - s) : 0;
        vp = ve + 1;
        switch (sel & 7) {
        case 0: case 1: *c = (sl_cell){s, (uint32_t)n, SL_TEXT, {0}}; break;
        case 2: *c = (sl_cell){s, (uint32_t)n, SL_STRING, {0}}; break;
        case 3: break; /* null */
        case 4: c->kind = SL_ABSENT; break;
        default:
            if (n && sl_json_is_number(s, n))
                *c = (sl_cell){s, (uint32_t)n, SL_NUMBER, {0}};
            else if ((n == 4 && !memcmp(s, "true", 4)) || (n == 5 && !memcmp(s, "false", 5)))
                *c = (sl_cell){s, (uint32_t)n, SL_BOOL, {0}};
            else {
                json_t *j = n ? json_loadb(s, n, 0, NULL) : NULL;
                *c = (sl_cell){s, (uint32_t)n, j ? SL_JSON : SL_TEXT, {0}};
                json_decref(j);
            }
        }
        if (c->len == 0 && c->kind != SL_TEXT && c->kind != SL_STRING)
            c->p = NULL;
    }
    b.nrows = NROWS;
    for (uint32_t r = 0; r < NROWS; r++)
        b.info[r] = (sl_rowinfo){.line = r + 2, .record = r + 1};

    sl_arena arena;
    sl_arena_init(&arena, 4096, 1u << 20);
    unsigned bflags = (flags & 2) ? SL_EXPR_BIND_OPEN : 0;
    uint32_t nvis = (flags & 4) ? 2 : UINT32_MAX;
    sl_error err;
    sl_error_clear(&err);
    if (flags & 1) {
        sl_expr_assign *as = NULL;
        size_t n = 0;
        int rc = sl_expr_compile_assignments(text, 0, "map", &as, &n, &err);
        FZ_CHECK(rc == SL_OK || (rc == SL_E_USAGE && err.code == SL_E_USAGE && err.msg[0]),
                 "compile_assignments returns %d (%s) for %s", rc, err.msg, fz_show(text, tlen));
        if (rc == SL_OK) {
            for (size_t i = 0; i < n; i++) {
                FZ_CHECK(as[i].name && as[i].prog, "assignment %zu incomplete", i);
                run_prog(as[i].prog, &b, &arena, bflags, nvis, fz_show(text, tlen));
            }
            sl_expr_assign_free(as, n);
        }
    } else {
        sl_expr *p = sl_expr_compile(text, "filter", &err);
        FZ_CHECK(p || (err.code == SL_E_USAGE && err.msg[0]), "compile fails with code %d (%s) for %s", err.code,
                 err.msg, fz_show(text, tlen));
        if (p) {
            FZ_CHECK(sl_expr_type(p) <= SL_T_STR, "static type %d", sl_expr_type(p));
            run_prog(p, &b, &arena, bflags, nvis, fz_show(text, tlen));
            sl_expr_free(p);
        }
    }
    sl_arena_fini(&arena);
    sl_batch_fini(&b);
    free(values);
    free(text);
    return 0;
}
