/*
 * agg.c - aggregate functions: the `NAME = AGG(EXPR)` parser, per-group
 * states, batch updates, results.  See agg.h for the model and
 * docs/aggregates.md for the rules users rely on.
 */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "formats/bytebuf.h"
#include "formats/json_out.h"
#include "pipeline/pipeline.h"
#include "sluice/run.h"
#include "stages/agg.h"

/* ------------------------------------------------------------------------ */
/* the function table */

typedef struct agg_func {
    const char *name;
    sl_agg_op op;
    int min_args, max_args;
    const char *sig;
} agg_func;

static const agg_func funcs[] = {
    {"count", SL_AGG_COUNT, 0, 1, "count() or count(x)"},
    {"sum", SL_AGG_SUM, 1, 1, "sum(x)"},
    {"mean", SL_AGG_MEAN, 1, 1, "mean(x)"},
    {"avg", SL_AGG_MEAN, 1, 1, "avg(x)"},
    {"min", SL_AGG_MIN, 1, 1, "min(x)"},
    {"max", SL_AGG_MAX, 1, 1, "max(x)"},
    {"first", SL_AGG_FIRST, 1, 1, "first(x)"},
    {"last", SL_AGG_LAST, 1, 1, "last(x)"},
    {"count_distinct", SL_AGG_COUNT_DISTINCT, 1, 1, "count_distinct(x)"},
    {"var", SL_AGG_VAR, 1, 1, "var(x)"},
    {"var_samp", SL_AGG_VAR, 1, 1, "var_samp(x)"},
    {"var_pop", SL_AGG_VAR_POP, 1, 1, "var_pop(x)"},
    {"stddev", SL_AGG_STDDEV, 1, 1, "stddev(x)"},
    {"stddev_samp", SL_AGG_STDDEV, 1, 1, "stddev_samp(x)"},
    {"stddev_pop", SL_AGG_STDDEV_POP, 1, 1, "stddev_pop(x)"},
    {"median", SL_AGG_MEDIAN, 1, 1, "median(x)"},
    {"percentile", SL_AGG_PERCENTILE, 2, 2, "percentile(x, p) with 0 <= p <= 1"},
    {NULL, 0, 0, 0, NULL},
};

static sl_agg_mode mode_of(sl_agg_op op)
{
    switch (op) {
    case SL_AGG_COUNT_ALL:
    case SL_AGG_COUNT: return SL_AGG_READ_NULL;
    case SL_AGG_MIN:
    case SL_AGG_MAX:
    case SL_AGG_FIRST:
    case SL_AGG_LAST:
    case SL_AGG_COUNT_DISTINCT: return SL_AGG_READ_VALUE;
    default: return SL_AGG_READ_NUM;
    }
}

/* ------------------------------------------------------------------------ */
/* parsing */

static int is_name_start(unsigned char c) { return isalpha(c) || c == '_' || c >= 0x80; }
static int is_name_char(unsigned char c) { return isalnum(c) || c == '_' || c == '.' || c >= 0x80; }

static int fail_at(sl_error *err, const char *stage, const char *text, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int fail_at(sl_error *err, const char *stage, const char *text, size_t pos, const char *fmt, ...)
{
    if (err->code != SL_OK)
        return err->code;
    va_list ap;
    va_start(ap, fmt);
    sl_vfail(err, SL_E_USAGE, stage, fmt, ap);
    va_end(ap);
    sl_expr_caret(err, text, strlen(text), pos);
    return SL_E_USAGE;
}

static size_t skip_ws(const char *t, size_t p)
{
    while (t[p] && isspace((unsigned char)t[p]))
        p++;
    return p;
}

/* A name at t[*pp]: bare, or in backquotes or double quotes (a doubled
   quote inside is one).  Returns a malloc'd copy, or NULL (*pp unchanged). */
static char *scan_name(const char *t, size_t *pp, uint32_t *len)
{
    size_t p = *pp;
    if (t[p] == '`' || t[p] == '"') {
        char q = t[p++];
        size_t cap = strlen(t + p) + 1, n = 0;
        char *out = malloc(cap);
        if (!out)
            return NULL;
        for (;;) {
            if (!t[p]) {
                free(out);
                return NULL;
            }
            if (t[p] == q) {
                if (t[p + 1] != q)
                    break;
                p++;
            }
            out[n++] = t[p++];
        }
        out[n] = 0;
        *pp = p + 1;
        *len = (uint32_t)n;
        return out;
    }
    if (!is_name_start((unsigned char)t[p]))
        return NULL;
    size_t s = p;
    while (is_name_char((unsigned char)t[p]))
        p++;
    *pp = p;
    *len = (uint32_t)(p - s);
    return strndup(t + s, p - s);
}

/* The arguments after the '(' at t[open]: up to 2 ranges split at top-level
   commas, ending at the matching ')'.  Strings ("..." with escapes, r"..."
   without) and `names` are skipped whole.  Returns the number of
   arguments (0 for "()"), or -1 (unclosed; *bad = where), -2 (too many). */
#define MAX_ARGS 2
static int scan_args(const char *t, size_t open, size_t *as, size_t *ae, size_t *close, size_t *bad)
{
    size_t p = open + 1;
    int depth = 0, n = 0;
    size_t start = p;
    for (;;) {
        char c = t[p];
        if (!c) {
            *bad = open;
            return -1;
        }
        if (c == '"') {
            int raw = p > 0 && t[p - 1] == 'r' && (p < 2 || !is_name_char((unsigned char)t[p - 2]));
            size_t q = p;
            p++;
            while (t[p] && t[p] != '"') {
                if (t[p] == '\\' && !raw && t[p + 1])
                    p++;
                p++;
            }
            if (!t[p]) {
                *bad = q;
                return -1;
            }
            p++;
            continue;
        }
        if (c == '`') {
            size_t q = p;
            p++;
            for (;;) {
                if (!t[p]) {
                    *bad = q;
                    return -1;
                }
                if (t[p] == '`') {
                    if (t[p + 1] != '`')
                        break;
                    p++;
                }
                p++;
            }
            p++;
            continue;
        }
        if (c == '(' || c == '[' || c == '{') {
            depth++;
        } else if ((c == ')' || c == ']' || c == '}') && depth > 0) {
            depth--;
        } else if (c == ')' || (c == ',' && depth == 0)) {
            size_t s = skip_ws(t, start), e = p;
            while (e > s && isspace((unsigned char)t[e - 1]))
                e--;
            if (c == ')' && n == 0 && s == e) {
                *close = p;
                return 0; /* f() */
            }
            if (n == MAX_ARGS) {
                *bad = start;
                return -2;
            }
            as[n] = s;
            ae[n] = e;
            n++;
            if (c == ')') {
                *close = p;
                return n;
            }
            start = p + 1;
        }
        p++;
    }
}

/* The argument text t[s..e) when it is a bare field name (or one in
   backquotes): a copy of the name, else NULL. */
static char *bare_field(const char *t, size_t s, size_t e, uint32_t *len)
{
    static const char *const keywords[] = {"and", "or", "not", "true", "false", "null", NULL};
    size_t p = s;
    if (t[p] == '`') {
        char *name = scan_name(t, &p, len);
        if (name && p == e)
            return name;
        free(name);
        return NULL;
    }
    if (!is_name_start((unsigned char)t[p]))
        return NULL;
    while (p < e && is_name_char((unsigned char)t[p]))
        p++;
    if (p != e)
        return NULL;
    for (int i = 0; keywords[i]; i++)
        if (strlen(keywords[i]) == e - s && memcmp(keywords[i], t + s, e - s) == 0)
            return NULL;
    *len = (uint32_t)(e - s);
    return strndup(t + s, e - s);
}

void sl_agg_recaret(sl_error *err, const char *text, size_t cut, size_t arg_start)
{
    if (err->col == 0)
        return;
    size_t len = strlen(text);
    if (cut > len)
        cut = len;
    size_t L = arg_start;
    while (L > 0 && text[L - 1] != '\n')
        L--;
    size_t pos = arg_start;
    for (;;) {
        size_t p = L;
        uint64_t c = 1;
        while (c < err->col && p < cut && text[p] != '\n') {
            p++;
            while (p < cut && ((unsigned char)text[p] & 0xC0) == 0x80)
                p++;
            c++;
        }
        pos = p;
        if (p >= arg_start && c == err->col)
            break;
        /* the next line of the argument, if any */
        size_t q = L;
        while (q < cut && text[q] != '\n')
            q++;
        if (q >= cut)
            break;
        L = q + 1;
    }
    err->col = 0;
    err->detail[0] = 0;
    sl_expr_caret(err, text, len, pos);
}

/* Compile text[s..e) as an expression, reporting errors against the whole
   text. */
static sl_expr *compile_range(const char *text, size_t s, size_t e, const char *stage, sl_error *err)
{
    char *cut = strndup(text, e);
    if (!cut) {
        sl_fail(err, SL_E_NOMEM, stage, "out of memory");
        return NULL;
    }
    sl_expr *p = sl_expr_compile_at(cut, s, stage, err);
    free(cut);
    if (!p)
        sl_agg_recaret(err, text, e, s);
    return p;
}

static const agg_func *find_func(const char *name, size_t len)
{
    for (int i = 0; funcs[i].name; i++)
        if (strlen(funcs[i].name) == len && memcmp(funcs[i].name, name, len) == 0)
            return &funcs[i];
    return NULL;
}

static int unknown_func(const char *text, size_t pos, const char *name, const char *stage, sl_error *err)
{
    const char *best = NULL;
    int bd = 3;
    for (int i = 0; funcs[i].name; i++) {
        int d = sl_edit_distance(name, funcs[i].name);
        if (d < bd) {
            bd = d;
            best = funcs[i].name;
        }
    }
    char list[512];
    size_t o = 0;
    list[0] = 0;
    for (int i = 0; funcs[i].name; i++)
        o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", i ? ", " : "", funcs[i].name);
    if (best)
        return fail_at(err, stage, text, pos, "unknown aggregate '%s' (did you mean '%s'?)", name, best);
    return fail_at(err, stage, text, pos, "unknown aggregate '%s' (expected one of: %s)", name, list);
}

void sl_agg_free(sl_agg *a, uint32_t n)
{
    if (!a)
        return;
    for (uint32_t i = 0; i < n; i++) {
        free(a[i].name);
        free(a[i].func);
        free(a[i].arg_text);
        free(a[i].field);
        sl_expr_free(a[i].arg);
    }
    free(a);
}

int sl_agg_parse(const char *text, size_t start, const char *stage, sl_agg **out, uint32_t *nout, sl_error *err)
{
    sl_agg *a = NULL;
    uint32_t n = 0, cap = 0;
    size_t p = skip_ws(text, start);
    int rc = SL_OK;
    *out = NULL;
    *nout = 0;
    while (text[p]) {
        if (n == cap) {
            cap = cap ? cap * 2 : 4;
            sl_agg *na = realloc(a, cap * sizeof *na);
            if (!na) {
                rc = sl_fail(err, SL_E_NOMEM, stage, "out of memory");
                break;
            }
            a = na;
        }
        sl_agg *g = &a[n];
        memset(g, 0, sizeof *g);
        n++;
        /* NAME */
        size_t name_pos = p;
        g->name = scan_name(text, &p, &g->name_len);
        if (!g->name) {
            rc = fail_at(err, stage, text, name_pos, "expected the name of an output field, as in NAME = AGGREGATE(EXPRESSION)");
            break;
        }
        p = skip_ws(text, p);
        if (text[p] != '=' || text[p + 1] == '=') {
            rc = fail_at(err, stage, text, p, "expected '=' after '%s', as in NAME = AGGREGATE(EXPRESSION)", g->name);
            break;
        }
        p = skip_ws(text, p + 1);
        /* AGGREGATE */
        size_t fpos = p;
        uint32_t flen = 0;
        if (!is_name_start((unsigned char)text[p])) {
            rc = fail_at(err, stage, text, p, "expected an aggregate such as sum(x) or count() after '%s ='", g->name);
            break;
        }
        while (is_name_char((unsigned char)text[p]))
            p++, flen++;
        g->func = strndup(text + fpos, flen);
        if (!g->func) {
            rc = sl_fail(err, SL_E_NOMEM, stage, "out of memory");
            break;
        }
        const agg_func *f = find_func(text + fpos, flen);
        if (!f) {
            rc = unknown_func(text, fpos, g->func, stage, err);
            break;
        }
        size_t open = skip_ws(text, p);
        if (text[open] != '(') {
            rc = fail_at(err, stage, text, open, "expected '(' after the aggregate %s: %s", f->name, f->sig);
            break;
        }
        size_t as[MAX_ARGS], ae[MAX_ARGS], close = 0, bad = 0;
        int nargs = scan_args(text, open, as, ae, &close, &bad);
        if (nargs == -1) {
            rc = fail_at(err, stage, text, bad, text[bad] == '(' ? "'(' is never closed (expected ')')"
                                                               : "unterminated quote (expected its closing quote)");
            break;
        }
        /* count(*) is count() */
        if (f->op == SL_AGG_COUNT && nargs == 1 && ae[0] - as[0] == 1 && text[as[0]] == '*')
            nargs = 0;
        if (nargs == -2 || nargs < f->min_args || nargs > f->max_args) {
            rc = fail_at(err, stage, text, fpos, "%s takes %s%d argument%s, got %s (%s)", f->name,
                         f->min_args == f->max_args ? "" : f->min_args == 0 ? "0 or " : "",
                         f->max_args, f->max_args == 1 ? "" : "s", nargs == -2 ? "more" : nargs == 0 ? "none" : nargs == 1 ? "1" : "2",
                         f->sig);
            break;
        }
        g->op = f->op;
        if (f->op == SL_AGG_COUNT && nargs == 0)
            g->op = SL_AGG_COUNT_ALL;
        g->mode = mode_of(g->op);
        g->input = UINT32_MAX;
        if (nargs > 0) {
            g->arg_pos = as[0];
            g->arg_end = ae[0];
            g->arg_text = strndup(text + as[0], ae[0] - as[0]);
            if (!g->arg_text) {
                rc = sl_fail(err, SL_E_NOMEM, stage, "out of memory");
                break;
            }
            g->arg = compile_range(text, as[0], ae[0], stage, err);
            if (!g->arg) {
                rc = err->code ? err->code : SL_E_USAGE;
                break;
            }
            g->field = bare_field(text, as[0], ae[0], &g->field_len);
        }
        if (g->op == SL_AGG_PERCENTILE) {
            int64_t iv;
            double dv;
            int k = sl_num_parse(text + as[1], ae[1] - as[1], &iv, &dv);
            if (k == SL_V_INT)
                dv = (double)iv;
            if ((k != SL_V_INT && k != SL_V_DOUBLE) || !(dv >= 0 && dv <= 1)) {
                rc = fail_at(err, stage, text, as[1],
                             "the fraction of percentile must be a number from 0 to 1 (0.9 for the 90th percentile)");
                break;
            }
            g->p = dv;
        } else if (g->op == SL_AGG_MEDIAN) {
            g->p = 0.5;
        }
        p = skip_ws(text, close + 1);
        if (text[p] == ',') {
            p = skip_ws(text, p + 1);
            if (!text[p]) {
                rc = fail_at(err, stage, text, p, "expected NAME = AGGREGATE(EXPRESSION) after ','");
                break;
            }
        } else if (text[p]) {
            rc = fail_at(err, stage, text, p, "unexpected '%c' after %s(...) (expected ',' and the next NAME = AGGREGATE(EXPRESSION))",
                         text[p], g->func);
            break;
        }
    }
    if (rc < 0) {
        sl_agg_free(a, n);
        return rc;
    }
    /* aggregates with the same argument read the same way share one input */
    uint32_t ninputs = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (!a[i].arg)
            continue;
        for (uint32_t j = 0; j < i && a[i].input == UINT32_MAX; j++)
            if (a[j].arg && a[j].mode == a[i].mode && strcmp(a[j].arg_text, a[i].arg_text) == 0)
                a[i].input = a[j].input;
        if (a[i].input == UINT32_MAX)
            a[i].input = ninputs++;
    }
    *out = a;
    *nout = n;
    return SL_OK;
}

/* ------------------------------------------------------------------------ */
/* states */

/*
 * Sums are exact, so that a sum does not depend on the order its values
 * came in: a sharded run (--partial, then sluice merge) adds the same
 * values in another order and must give the same bytes.  Integers add into
 * a 128-bit integer (exact for any 2^64 values of int64).  Doubles add into
 * Shewchuk's non-overlapping partials (as Python's math.fsum), whose sum
 * is the exact sum of every double added; the result is that sum rounded
 * once, correctly.  Partials never overlap, so there are at most about 40
 * of them whatever the input (the exponent range over 53 bits); three live
 * inside the state, more in the sl_agg_mem arena.
 */
#define XS_INL 3
#define XS_MAX 64         /* more than the partials can ever be */
#define XS_NONFINITE UINT32_MAX
/* The fast exact form: while every double added is a whole multiple of
   2^-XS_FRAC under 2^53 (prices, amounts, readings...) and the total stays
   in range, the sum is one 128-bit integer count of 2^-XS_FRAC in u.in:
   an integer add per value, and as exact and order-free as the partials it
   turns into when a value does not fit. */
#define XS_FIXED (UINT32_MAX - 1)
#define XS_FRAC 60

typedef struct sl_xsum {
    union {
        double in[XS_INL];
        double *ext;
    } u;
    uint32_t n;       /* partials, or XS_NONFINITE: an infinity or NaN came
                         (or the sum overflowed): the result is null */
    uint32_t cap;     /* 0: the partials are u.in; else the room of u.ext */
} sl_xsum;

typedef struct st_sum {
    uint64_t ilo;     /* the integers' exact sum, two's complement 128-bit */
    int64_t ihi;
    uint64_t n;       /* values added; SUM_DBL set once a double came */
    sl_xsum x;        /* the doubles' exact sum */
} st_sum;
#define SUM_DBL (1ull << 63)

/* Variance from exact sums of x and of x*x (each square split into two
   doubles by fma, so that it too is exact): n S2 - S1^2 is then formed
   exactly and rounded once.  Order-free like the sums; squares overflow
   past |x| ~ 1e154 (the result is then null). */
typedef struct st_var {
    uint64_t n;
    sl_xsum s1, s2;
} st_var;

typedef struct st_val {
    union {
        int64_t i;
        double d;
    } n;
    char *p;          /* bytes as read (in the sl_agg_mem arena), or NULL */
    uint32_t len, cap;
    uint8_t t;        /* SL_AIN_*; NULL = none yet */
    uint8_t kind;
    uint8_t pad[2];
    uint32_t pos_in;  /* where the kept value was read (sl_agg_pos), which */
    uint64_t pos_off; /* orders ties and first/last when merging */
} st_val;

typedef struct vchunk {
    struct vchunk *next;
    uint32_t cap, n;
    double v[];
} vchunk;

typedef struct st_list {
    vchunk *head;
    uint64_t n;
} st_list;

static uint32_t state_size(sl_agg_op op)
{
    switch (op) {
    case SL_AGG_COUNT_ALL:
    case SL_AGG_COUNT:
    case SL_AGG_COUNT_DISTINCT: return 8;
    case SL_AGG_SUM:
    case SL_AGG_MEAN: return sizeof(st_sum);
    case SL_AGG_MIN:
    case SL_AGG_MAX:
    case SL_AGG_FIRST:
    case SL_AGG_LAST: return sizeof(st_val);
    case SL_AGG_MEDIAN:
    case SL_AGG_PERCENTILE: return sizeof(st_list);
    default: return sizeof(st_var);
    }
}

uint32_t sl_agg_layout(sl_agg *a, uint32_t n, uint32_t base)
{
    uint32_t off = (base + 7) & ~7u;
    for (uint32_t i = 0; i < n; i++) {
        a[i].off = off;
        a[i].size = state_size(a[i].op);
        off += a[i].size;
    }
    return off;
}

void sl_agg_init_states(const sl_agg *a, uint32_t n, uint8_t *rec)
{
    /* every state starts as zero bytes: count 0, no value, empty list */
    for (uint32_t i = 0; i < n; i++)
        memset(rec + a[i].off, 0, a[i].size);
}

/* ------------------------------------------------------------------------ */
/* reading one value */

static void in_of_text(const char *p, uint32_t len, uint8_t kind, int try_num, sl_agg_mode mode, sl_agg_in *in)
{
    in->s = p;
    in->len = len;
    in->kind = kind;
    if (try_num) {
        int k = sl_num_parse(p, len, &in->n.i, &in->n.d);
        if (k == SL_V_INT) {
            in->t = SL_AIN_INT;
            return;
        }
        if (k == SL_V_DOUBLE) {
            in->t = SL_AIN_DBL;
            return;
        }
    }
    in->t = mode == SL_AGG_READ_NUM ? SL_AIN_BAD : SL_AIN_TEXT;
}

void sl_agg_in_of_cell(const sl_cell *c, sl_agg_mode mode, sl_agg_in *in)
{
    if (c->len == 0 || c->kind == SL_NULL || c->kind == SL_ABSENT) {
        in->t = SL_AIN_NULL;
        return;
    }
    if (mode == SL_AGG_READ_NULL) {
        in->t = SL_AIN_TEXT;
        return;
    }
    int num = c->kind == SL_TEXT || c->kind == SL_NUMBER || (c->kind == SL_STRING && mode == SL_AGG_READ_NUM);
    in_of_text(c->p, c->len, c->kind, num, mode, in);
}

void sl_agg_in_of_batch(const sl_batch *b, uint32_t row, uint32_t col, sl_agg_mode mode, sl_agg_in *in)
{
    uint32_t pc = sl_batch_phys(b, col);
    const sl_cell *c = &b->cells[(size_t)row * b->stride + pc];
    double d;
    if (mode != SL_AGG_READ_NULL && c->len && c->kind == SL_NUMBER && sl_batch_dnum(b, row, pc, &d)) {
        /* a number computed upstream: what parsing its text would give */
        in->s = c->p;
        in->len = c->len;
        in->kind = c->kind;
        in->t = sl_num_reread(d, &in->n.i, &in->n.d) == SL_V_INT ? SL_AIN_INT : SL_AIN_DBL;
        return;
    }
    sl_agg_in_of_cell(c, mode, in);
}

void sl_agg_in_of_value(const sl_value *v, sl_agg_mode mode, sl_agg_in *in)
{
    switch (v->type) {
    case SL_V_INT:
        in->t = SL_AIN_INT;
        in->n.i = v->u.i;
        in->s = NULL;
        in->len = 0;
        in->kind = SL_NUMBER;
        return;
    case SL_V_DOUBLE:
        in->t = SL_AIN_DBL;
        in->n.d = v->u.d;
        in->s = NULL;
        in->len = 0;
        in->kind = SL_NUMBER;
        return;
    case SL_V_BOOL:
        in->s = v->u.b ? "true" : "false";
        in->len = v->u.b ? 4 : 5;
        in->kind = SL_BOOL;
        in->t = mode == SL_AGG_READ_NUM ? SL_AIN_BAD : SL_AIN_TEXT;
        return;
    case SL_V_TEXT:
    case SL_V_STRING:
        if (v->len == 0) {
            in->t = SL_AIN_NULL;
            return;
        }
        if (mode == SL_AGG_READ_NULL) {
            in->t = SL_AIN_TEXT;
            return;
        }
        in_of_text(v->u.s, v->len, v->kind ? v->kind : SL_STRING,
                   v->type == SL_V_TEXT || mode == SL_AGG_READ_NUM, mode, in);
        return;
    default:
        in->t = SL_AIN_NULL;
        return;
    }
}

/* ------------------------------------------------------------------------ */
/* memory: the arena, the distinct sets */

struct sl_agg_dset {
    void **slots;         /* entries, NULL = empty */
    uint64_t mask, n;
    uint64_t charged;
    /* --partial: the entries of each group, built once before writing */
    uint32_t *first;      /* per group: its first entry, UINT32_MAX = none */
    uint32_t *next;       /* per entry: the next of its group */
    void **ents;          /* entries by number */
    uint64_t idx_charged;
};

typedef struct dentry {
    uint64_t hash;
    uint32_t grp;     /* group number */
    uint32_t len;     /* bytes; the top bit set for a number */
    uint8_t bytes[];
} dentry;

int sl_agg_mem_init(sl_agg_mem *m, struct sl_run *run, uint32_t naggs)
{
    memset(m, 0, sizeof *m);
    m->run = run;
    sl_budget_arena_init(&m->arena, run, 64 * 1024);
    m->dsets = calloc(naggs ? naggs : 1, sizeof *m->dsets);
    m->ndsets = naggs;
    return m->dsets ? SL_OK : SL_E_NOMEM;
}

void sl_agg_mem_fini(sl_agg_mem *m)
{
    if (m->dsets) {
        for (uint32_t i = 0; i < m->ndsets; i++) {
            free(m->dsets[i].slots);
            free(m->dsets[i].first);
            free(m->dsets[i].next);
            free(m->dsets[i].ents);
            if (m->dsets[i].idx_charged && m->run)
                sl_run_mem_give(m->run, m->dsets[i].idx_charged);
            if (m->dsets[i].charged && m->run)
                sl_run_mem_give(m->run, m->dsets[i].charged);
        }
        free(m->dsets);
    }
    free(m->tmp);
    if (m->tmp_charged && m->run)
        sl_run_mem_give(m->run, m->tmp_charged);
    if (m->run)
        sl_budget_arena_fini(&m->arena);
    memset(m, 0, sizeof *m);
}

uint64_t sl_agg_mem_bytes(const sl_agg_mem *m)
{
    uint64_t n = m->arena.charged + m->tmp_charged;
    for (uint32_t i = 0; i < m->ndsets; i++)
        n += m->dsets[i].charged;
    return n;
}

static inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

static int dset_grow(sl_agg_mem *m, sl_agg_dset *d)
{
    uint64_t nslots = d->slots ? (d->mask + 1) * 2 : 1024;
    uint64_t bytes = nslots * sizeof(void *);
    if (sl_run_mem_take(m->run, bytes) < 0)
        return SL_E_NOMEM;
    void **ns = calloc(nslots, sizeof *ns);
    if (!ns) {
        sl_run_mem_give(m->run, bytes);
        return SL_E_NOMEM;
    }
    uint64_t mask = nslots - 1;
    if (d->slots) {
        for (uint64_t i = 0; i <= d->mask; i++) {
            dentry *e = d->slots[i];
            if (!e)
                continue;
            uint64_t h = e->hash & mask;
            while (ns[h])
                h = (h + 1) & mask;
            ns[h] = e;
        }
        free(d->slots);
        sl_run_mem_give(m->run, d->charged);
    }
    d->slots = ns;
    d->mask = mask;
    d->charged = bytes;
    return SL_OK;
}

/* Add (grp, value) to the set; *added tells whether it was new. */
static int dset_add(sl_agg_mem *m, sl_agg_dset *d, uint32_t grp, const sl_agg_in *in, int *added)
{
    uint8_t buf[9];
    const uint8_t *key;
    uint32_t len;
    if (in->t == SL_AIN_TEXT) {
        key = (const uint8_t *)in->s;
        len = in->len;
    } else {
        /* numbers by value: 1, 1.0 and 1e0 are one value */
        double dv = in->n.d;
        int64_t iv = in->n.i;
        int as_int = in->t == SL_AIN_INT;
        if (!as_int && dv >= -9223372036854775808.0 && dv < 9223372036854775808.0 && dv == floor(dv)) {
            iv = (int64_t)dv;
            as_int = 1;
        }
        buf[0] = as_int ? 1 : 2;
        if (as_int)
            memcpy(buf + 1, &iv, 8);
        else
            memcpy(buf + 1, &dv, 8);
        key = buf;
        len = 9;
    }
    /* texts and numbers never collide: a number's key is 9 bytes starting
       with 1 or 2 and flagged by the top bit of len */
    uint32_t klen = in->t == SL_AIN_TEXT ? len : (len | 0x80000000u);
    uint64_t h = sl_hash_bytes(key, len) ^ mix64(((uint64_t)grp << 32) ^ klen);
    if (!d->slots || (d->n + 1) * 2 > d->mask + 1) {
        int rc = dset_grow(m, d);
        if (rc < 0)
            return rc;
    }
    uint64_t i = h & d->mask;
    for (;;) {
        dentry *e = d->slots[i];
        if (!e)
            break;
        if (e->hash == h && e->grp == grp && e->len == klen && memcmp(e->bytes, key, len) == 0) {
            *added = 0;
            return SL_OK;
        }
        i = (i + 1) & d->mask;
    }
    dentry *e = sl_budget_arena_alloc(&m->arena, sizeof *e + len);
    if (!e)
        return SL_E_NOMEM;
    e->hash = h;
    e->grp = grp;
    e->len = klen;
    memcpy(e->bytes, key, len);
    d->slots[i] = e;
    d->n++;
    *added = 1;
    return SL_OK;
}

/* ------------------------------------------------------------------------ */
/* exact sums */

static inline double *xs_parts(sl_xsum *x) { return x->cap ? x->u.ext : x->u.in; }
static inline const double *xs_cparts(const sl_xsum *x) { return x->cap ? x->u.ext : x->u.in; }

/* Add y to the partials p[0..*n) (room for XS_MAX): Shewchuk's grow step.
   Returns 0, or -1 when the sum is no longer finite. */
static int xs_grow_arr(double *p, uint32_t *n, double x)
{
    uint32_t i = 0;
    for (uint32_t j = 0; j < *n; j++) {
        double y = p[j];
        if (fabs(x) < fabs(y)) {
            double t = x;
            x = y;
            y = t;
        }
        double hi = x + y;
        double lo = y - (hi - x);
        if (lo != 0.0)
            p[i++] = lo;
        x = hi;
    }
    if (!isfinite(x))
        return -1;
    p[i++] = x;
    *n = i;
    return 0;
}

/* The partials rounded once to the nearest double (ties to even), as
   Python's math.fsum does. */
static double xs_round(const double *p, uint32_t n)
{
    if (n == 0)
        return 0.0;
    double hi = p[--n], lo = 0;
    while (n > 0) {
        double x = hi, y = p[--n];
        hi = x + y;
        double yr = hi - x;
        lo = y - yr;
        if (lo != 0.0)
            break;
    }
    if (n > 0 && ((lo < 0 && p[n - 1] < 0) || (lo > 0 && p[n - 1] > 0))) {
        double y = lo * 2, x = hi + y, yr = x - hi;
        if (y == yr)
            hi = x;
    }
    return hi;
}

/* Add v 2^sc (v a 128-bit integer) to the partials p: three pieces of at
   most 43 bits, each exact as a double while v 2^sc stays far from the
   subnormals (sc >= -XS_FRAC). */
static int xs_add_i128_at(double *p, uint32_t *n, __int128 v, int sc)
{
    int64_t c = (int64_t)(v & (((__int128)1 << 43) - 1));
    __int128 v1 = v >> 43;
    int64_t b = (int64_t)(v1 & (((__int128)1 << 43) - 1));
    int64_t a = (int64_t)(v1 >> 43);
    if (xs_grow_arr(p, n, ldexp((double)a, 86 + sc)) < 0 || xs_grow_arr(p, n, ldexp((double)b, 43 + sc)) < 0 ||
        xs_grow_arr(p, n, ldexp((double)c, sc)) < 0)
        return -1;
    return 0;
}

/* x as a whole number of 2^-XS_FRAC under 2^113 in size: 1 and *v, else 0. */
static inline int xs_fixed_of(double x, __int128 *v)
{
    uint64_t b;
    memcpy(&b, &x, sizeof b);
    int be = (int)((b >> 52) & 0x7ff);
    uint64_t m = b & ((1ull << 52) - 1);
    if (be == 0) {
        if (m) return 0; /* subnormal */
        *v = 0;
        return 1;
    }
    if (be == 0x7ff) return 0;
    m |= 1ull << 52;
    int sh = be - 1075 + XS_FRAC; /* x = m 2^(sh - XS_FRAC) */
    if (sh < 0) {
        if (sh < -52 || (m & ((1ull << -sh) - 1))) return 0;
        m >>= -sh;
        sh = 0;
    }
    if (sh > XS_FRAC) return 0; /* |x| >= 2^53 */
    __int128 r = (__int128)m << sh;
    *v = (b >> 63) ? -r : r;
    return 1;
}

static inline __int128 xs_fixed_get(const sl_xsum *s)
{
    __int128 v;
    memcpy(&v, s->u.in, sizeof v);
    return v;
}

/* The partials of a sum (the fixed form turned into partials in tmp, room
   XS_MAX); *n their count.  Not for XS_NONFINITE. */
static const double *xs_partials(const sl_xsum *s, double *tmp, uint32_t *n)
{
    if (s->n != XS_FIXED) {
        *n = s->n;
        return xs_cparts(s);
    }
    *n = 0;
    xs_add_i128_at(tmp, n, xs_fixed_get(s), -XS_FRAC);
    return tmp;
}

/* Add x to a state's sum: to the fixed form while it fits, else to the
   partials, moving them to the arena when they outgrow the room they have. */
static int xs_add(sl_agg_mem *m, sl_xsum *s, double x)
{
    if (s->n == XS_NONFINITE)
        return SL_OK;
    if (!isfinite(x)) {
        s->n = XS_NONFINITE;
        return SL_OK;
    }
    if (s->n == 0 || s->n == XS_FIXED) {
        __int128 v, r;
        if (xs_fixed_of(x, &v) && !__builtin_add_overflow(s->n == XS_FIXED ? xs_fixed_get(s) : 0, v, &r)) {
            memcpy(s->u.in, &r, sizeof r);
            s->n = XS_FIXED;
            return SL_OK;
        }
        if (s->n == XS_FIXED) { /* x does not fit: on in partials (3 at most) */
            double p[XS_MAX];
            uint32_t n;
            const double *q = xs_partials(s, p, &n);
            memcpy(s->u.in, q, n * sizeof(double));
            s->n = n;
        }
    }
    uint32_t room = s->cap ? s->cap : XS_INL;
    if (s->n == room) {
        /* the step below may need one more; grow first (rarely: money
           sums keep 2 or 3 partials) */
        uint32_t cap = room * 2 > XS_MAX ? XS_MAX : room * 2;
        double *np = sl_budget_arena_alloc(&m->arena, cap * sizeof(double));
        if (!np)
            return SL_E_NOMEM;
        memcpy(np, xs_parts(s), s->n * sizeof(double));
        s->u.ext = np;
        s->cap = cap;
    }
    if (xs_grow_arr(xs_parts(s), &s->n, x) < 0)
        s->n = XS_NONFINITE;
    return SL_OK;
}

/* Add the exact value of a 128-bit integer to the partials p. */
static int xs_add_i128(double *p, uint32_t *n, __int128 v) { return xs_add_i128_at(p, n, v, 0); }

static inline __int128 sum_int(const st_sum *s)
{
    return (__int128)(((unsigned __int128)(uint64_t)s->ihi << 64) | s->ilo);
}

static inline void sum_int_set(st_sum *s, __int128 v)
{
    s->ilo = (uint64_t)v;
    s->ihi = (int64_t)(uint64_t)((unsigned __int128)v >> 64);
}

/* The exact sum of a state (integers and doubles), rounded once.  *ok = 0
   when it is not finite. */
static double sum_value(const st_sum *s, int *ok)
{
    *ok = 1;
    if (s->x.n == XS_NONFINITE) {
        *ok = 0;
        return 0;
    }
    double p[XS_MAX], tmp[XS_MAX];
    uint32_t n;
    const double *q = xs_partials(&s->x, tmp, &n);
    memcpy(p, q, n * sizeof(double));
    if (xs_add_i128(p, &n, sum_int(s)) < 0) {
        *ok = 0;
        return 0;
    }
    return xs_round(p, n);
}

/* Exact n * S2 - S1 * S1 rounded once (the numerator of the variance). */
static int var_numerator(const st_var *v, double *out)
{
    if (v->s1.n == XS_NONFINITE || v->s2.n == XS_NONFINITE)
        return -1;
    double p[XS_MAX], ta[XS_MAX], tb[XS_MAX];
    uint32_t n = 0, na, nb;
    const double *a = xs_partials(&v->s1, ta, &na), *b = xs_partials(&v->s2, tb, &nb);
    double dn = (double)v->n;
    for (uint32_t i = 0; i < nb; i++) {
        double hi = b[i] * dn, lo = fma(b[i], dn, -hi);
        if (xs_grow_arr(p, &n, hi) < 0 || xs_grow_arr(p, &n, lo) < 0)
            return -1;
    }
    for (uint32_t i = 0; i < na; i++)
        for (uint32_t j = 0; j < na; j++) {
            double hi = a[i] * a[j], lo = fma(a[i], a[j], -hi);
            if (xs_grow_arr(p, &n, -hi) < 0 || xs_grow_arr(p, &n, -lo) < 0)
                return -1;
        }
    *out = xs_round(p, n);
    return isfinite(*out) ? 0 : -1;
}

/* ------------------------------------------------------------------------ */
/* updating */

static inline double in_num(const sl_agg_in *in) { return in->t == SL_AIN_INT ? (double)in->n.i : in->n.d; }

/* <0, 0, >0 as the int i orders before, with, after the double d (exact). */
static int cmp_int_dbl(int64_t i, double d)
{
    if (d >= 9223372036854775808.0)
        return -1;
    if (d < -9223372036854775808.0)
        return 1;
    int64_t t = (int64_t)d; /* toward zero, exact in range */
    if (i != t)
        return i < t ? -1 : 1;
    double frac = d - (double)t;
    return frac > 0 ? -1 : frac < 0 ? 1 : 0;
}

/* The order of min and max: numbers by value, then texts byte-wise.
   Returns -1, 0 or 1. */
static int cmp_in_val(const sl_agg_in *a, const st_val *b)
{
    int an = a->t != SL_AIN_TEXT, bn = b->t != SL_AIN_TEXT;
    if (an != bn)
        return an ? -1 : 1;
    if (!an) {
        uint32_t n = a->len < b->len ? a->len : b->len;
        int c = memcmp(a->s, b->p, n);
        if (c)
            return c < 0 ? -1 : 1;
        return a->len < b->len ? -1 : a->len > b->len;
    }
    if (a->t == SL_AIN_INT && b->t == SL_AIN_INT)
        return a->n.i < b->n.i ? -1 : a->n.i > b->n.i;
    if (a->t == SL_AIN_DBL && b->t == SL_AIN_DBL)
        return a->n.d < b->n.d ? -1 : a->n.d > b->n.d;
    if (a->t == SL_AIN_INT)
        return cmp_int_dbl(a->n.i, b->n.d);
    return -cmp_int_dbl(b->n.i, a->n.d);
}

static int val_set(sl_agg_mem *m, st_val *v, const sl_agg_in *in)
{
    v->t = in->t;
    v->kind = in->kind;
    v->n.i = in->n.i; /* the union's bits, whichever member */
    if (!in->s) {
        v->len = 0;
        return SL_OK;
    }
    if (in->len > v->cap) {
        /* the old room stays in the arena: growth is geometric, so at most
           as much again as the longest value is wasted */
        uint64_t cap = (uint64_t)v->cap * 2;
        if (cap < in->len)
            cap = in->len;
        if (cap < 16)
            cap = 16;
        char *p = sl_budget_arena_alloc(&m->arena, cap);
        if (!p)
            return SL_E_NOMEM;
        v->p = p;
        v->cap = (uint32_t)cap;
    }
    memcpy(v->p, in->s, in->len);
    v->len = in->len;
    return SL_OK;
}

static int list_add(sl_agg_mem *m, st_list *l, double x)
{
    vchunk *c = l->head;
    if (!c || c->n == c->cap) {
        uint32_t cap = c ? c->cap * 2 : 4;
        if (cap > 4096)
            cap = 4096;
        vchunk *nc = sl_budget_arena_alloc(&m->arena, sizeof *nc + (size_t)cap * sizeof(double));
        if (!nc)
            return SL_E_NOMEM;
        nc->next = c;
        nc->cap = cap;
        nc->n = 0;
        l->head = c = nc;
    }
    c->v[c->n++] = x;
    l->n++;
    return SL_OK;
}

static inline void val_pos(st_val *v, const sl_agg_pos *pos)
{
    v->pos_in = pos ? pos->input : 0;
    v->pos_off = pos ? pos->off : 0;
}

int sl_agg_update(const sl_agg *a, uint32_t ai, sl_agg_mem *m, uint8_t *const *recs, const uint32_t *gids,
                  const sl_agg_in *in, const sl_agg_pos *pos, uint32_t n)
{
    const sl_agg *g = &a[ai];
    uint32_t off = g->off;
    int rc;
    switch (g->op) {
    case SL_AGG_COUNT_ALL:
        for (uint32_t i = 0; i < n; i++)
            if (recs[i])
                (*(uint64_t *)(recs[i] + off))++;
        return SL_OK;
    case SL_AGG_COUNT:
        for (uint32_t i = 0; i < n; i++)
            if (recs[i] && in[i].t != SL_AIN_NULL)
                (*(uint64_t *)(recs[i] + off))++;
        return SL_OK;
    case SL_AGG_SUM:
    case SL_AGG_MEAN:
        for (uint32_t i = 0; i < n; i++) {
            if (!recs[i] || in[i].t == SL_AIN_NULL)
                continue;
            st_sum *s = (st_sum *)(recs[i] + off);
            if (in[i].t == SL_AIN_DBL) {
                if ((rc = xs_add(m, &s->x, in[i].n.d)) < 0)
                    return rc;
                s->n |= SUM_DBL;
            } else {
                unsigned __int128 lo = (unsigned __int128)s->ilo + (uint64_t)in[i].n.i;
                s->ilo = (uint64_t)lo;
                s->ihi += (int64_t)(lo >> 64) + (in[i].n.i < 0 ? -1 : 0);
            }
            s->n++;
        }
        return SL_OK;
    case SL_AGG_VAR:
    case SL_AGG_STDDEV:
    case SL_AGG_VAR_POP:
    case SL_AGG_STDDEV_POP:
        for (uint32_t i = 0; i < n; i++) {
            if (!recs[i] || in[i].t == SL_AIN_NULL)
                continue;
            st_var *v = (st_var *)(recs[i] + off);
            double x = in_num(&in[i]);
            double sq = x * x, sqlo = fma(x, x, -sq);
            v->n++;
            if (in[i].t == SL_AIN_INT && (in[i].n.i > (1ll << 53) || in[i].n.i < -(1ll << 53))) {
                /* an integer that is not exact as a double: its two parts */
                double hi = (double)(in[i].n.i & ~((1ll << 32) - 1)), lo = (double)(in[i].n.i & ((1ll << 32) - 1));
                if ((rc = xs_add(m, &v->s1, hi)) < 0 || (rc = xs_add(m, &v->s1, lo)) < 0)
                    return rc;
                /* (hi + lo)^2 = hi^2 + 2 hi lo + lo^2, each product split */
                double t[3][2] = {{hi * hi, fma(hi, hi, -(hi * hi))}, {2 * hi * lo, fma(2 * hi, lo, -(2 * hi * lo))},
                                  {lo * lo, fma(lo, lo, -(lo * lo))}};
                for (int k = 0; k < 3; k++)
                    if ((rc = xs_add(m, &v->s2, t[k][0])) < 0 || (rc = xs_add(m, &v->s2, t[k][1])) < 0)
                        return rc;
                continue;
            }
            if ((rc = xs_add(m, &v->s1, x)) < 0 || (rc = xs_add(m, &v->s2, sq)) < 0 || (rc = xs_add(m, &v->s2, sqlo)) < 0)
                return rc;
        }
        return SL_OK;
    case SL_AGG_MIN:
    case SL_AGG_MAX: {
        int want = g->op == SL_AGG_MIN ? -1 : 1;
        for (uint32_t i = 0; i < n; i++) {
            if (!recs[i] || in[i].t == SL_AIN_NULL)
                continue;
            st_val *v = (st_val *)(recs[i] + off);
            int c = v->t == SL_AIN_NULL ? want : cmp_in_val(&in[i], v);
            if (c == want) {
                if ((rc = val_set(m, v, &in[i])) < 0)
                    return rc;
                val_pos(v, pos ? &pos[i] : NULL);
            }
        }
        return SL_OK;
    }
    case SL_AGG_FIRST:
    case SL_AGG_LAST:
        for (uint32_t i = 0; i < n; i++) {
            if (!recs[i] || in[i].t == SL_AIN_NULL)
                continue;
            st_val *v = (st_val *)(recs[i] + off);
            if (g->op == SL_AGG_LAST || v->t == SL_AIN_NULL) {
                if ((rc = val_set(m, v, &in[i])) < 0)
                    return rc;
                val_pos(v, pos ? &pos[i] : NULL);
            }
        }
        return SL_OK;
    case SL_AGG_COUNT_DISTINCT:
        for (uint32_t i = 0; i < n; i++) {
            if (!recs[i] || in[i].t == SL_AIN_NULL)
                continue;
            int added = 0;
            if ((rc = dset_add(m, &m->dsets[ai], gids[i], &in[i], &added)) < 0)
                return rc;
            *(uint64_t *)(recs[i] + off) += (uint64_t)added;
        }
        return SL_OK;
    case SL_AGG_MEDIAN:
    case SL_AGG_PERCENTILE:
        for (uint32_t i = 0; i < n; i++) {
            if (!recs[i] || in[i].t == SL_AIN_NULL)
                continue;
            if ((rc = list_add(m, (st_list *)(recs[i] + off), in_num(&in[i]))) < 0)
                return rc;
        }
        return SL_OK;
    }
    return SL_E_INTERNAL;
}

/* ------------------------------------------------------------------------ */
/* results */

double sl_agg_quantile(const double *v, size_t n, double q)
{
    double h = (double)(n - 1) * q;
    size_t lo = (size_t)floor(h);
    if (lo >= n - 1)
        return v[n - 1];
    double frac = h - (double)lo;
    return v[lo] + frac * (v[lo + 1] - v[lo]);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    if (x == y) /* -0 before 0, so that the order never depends on the input's */
        return signbit(y) - signbit(x) ? (signbit(x) ? -1 : 1) : 0;
    return x < y ? -1 : 1;
}

static int put_int(sl_arena *a, int64_t v, sl_cell *c)
{
    char *p = sl_arena_alloc(a, 24);
    if (!p)
        return SL_E_NOMEM;
    c->p = p;
    c->len = (uint32_t)sl_num_format_int(v, p);
    c->kind = SL_NUMBER;
    return SL_OK;
}

static int put_dbl(sl_arena *a, double v, sl_cell *c)
{
    if (!isfinite(v)) {
        *c = (sl_cell){NULL, 0, SL_NULL, {0}};
        return SL_OK;
    }
    char *p = sl_arena_alloc(a, 40);
    if (!p)
        return SL_E_NOMEM;
    c->p = p;
    c->len = (uint32_t)sl_num_format_double(v, p);
    c->kind = SL_NUMBER;
    return SL_OK;
}

int sl_agg_result(const sl_agg *a, uint32_t ai, sl_agg_mem *m, const uint8_t *rec, sl_arena *out, sl_cell *cell)
{
    const sl_agg *g = &a[ai];
    const uint8_t *st = rec + g->off;
    static const sl_cell null_cell = {NULL, 0, SL_NULL, {0}};
    switch (g->op) {
    case SL_AGG_COUNT_ALL:
    case SL_AGG_COUNT:
    case SL_AGG_COUNT_DISTINCT:
        return put_int(out, (int64_t) * (const uint64_t *)st, cell);
    case SL_AGG_SUM:
    case SL_AGG_MEAN: {
        const st_sum *s = (const st_sum *)st;
        uint64_t cnt = s->n & ~SUM_DBL;
        if (cnt == 0)
            break;
        __int128 iv = sum_int(s);
        double total;
        int ok = 1;
        if (!(s->n & SUM_DBL)) {
            if (g->op == SL_AGG_SUM && iv >= INT64_MIN && iv <= INT64_MAX)
                return put_int(out, (int64_t)iv, cell);
            total = (double)iv; /* rounded once, to nearest */
        } else {
            total = sum_value(s, &ok);
        }
        if (!ok)
            break;
        return put_dbl(out, g->op == SL_AGG_SUM ? total : total / (double)cnt, cell);
    }
    case SL_AGG_VAR:
    case SL_AGG_STDDEV:
    case SL_AGG_VAR_POP:
    case SL_AGG_STDDEV_POP: {
        const st_var *v = (const st_var *)st;
        int pop = g->op == SL_AGG_VAR_POP || g->op == SL_AGG_STDDEV_POP;
        if (v->n < (pop ? 1u : 2u))
            break;
        double num;
        if (var_numerator(v, &num) < 0)
            break;
        double dn = (double)v->n;
        double var = num / (pop ? dn * dn : dn * (dn - 1));
        if (var < 0)
            var = 0;
        if (g->op == SL_AGG_STDDEV || g->op == SL_AGG_STDDEV_POP)
            var = sqrt(var);
        return put_dbl(out, var, cell);
    }
    case SL_AGG_MIN:
    case SL_AGG_MAX:
    case SL_AGG_FIRST:
    case SL_AGG_LAST: {
        const st_val *v = (const st_val *)st;
        if (v->t == SL_AIN_NULL)
            break;
        if (v->len) {
            cell->p = v->p;
            cell->len = v->len;
            cell->kind = v->kind;
            return SL_OK;
        }
        if (v->t == SL_AIN_INT)
            return put_int(out, v->n.i, cell);
        return put_dbl(out, v->n.d, cell);
    }
    case SL_AGG_MEDIAN:
    case SL_AGG_PERCENTILE: {
        const st_list *l = (const st_list *)st;
        if (l->n == 0)
            break;
        if (l->n > m->tmp_cap) {
            size_t cap = m->tmp_cap ? m->tmp_cap : 1024;
            while (cap < l->n)
                cap *= 2;
            uint64_t more = (cap - m->tmp_cap) * sizeof(double);
            if (sl_run_mem_take(m->run, more) < 0)
                return SL_E_NOMEM;
            double *nt = realloc(m->tmp, cap * sizeof(double));
            if (!nt) {
                sl_run_mem_give(m->run, more);
                return SL_E_NOMEM;
            }
            m->tmp = nt;
            m->tmp_cap = cap;
            m->tmp_charged += more;
        }
        size_t k = 0;
        for (const vchunk *c = l->head; c; c = c->next) {
            memcpy(m->tmp + k, c->v, c->n * sizeof(double));
            k += c->n;
        }
        qsort(m->tmp, k, sizeof(double), cmp_double);
        return put_dbl(out, sl_agg_quantile(m->tmp, k, g->p), cell);
    }
    }
    *cell = null_cell;
    return SL_OK;
}

/* ------------------------------------------------------------------------ */
/* partial states: --partial writes them, sluice merge folds them together
   (docs/sharding.md describes the format) */

static void j_raw(bytebuf *b, const char *s) { bb_put(b, s, strlen(s)); }

static void j_fmt(bytebuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void j_fmt(bytebuf *b, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    bb_put(b, tmp, (size_t)n);
}

/* A double that reads back as the same double (17 significant digits; an
   integral value of 1e17 or more gets an exponent, so that a JSON reader
   never sees an integer too big for int64). */
static void j_dbl(bytebuf *b, double d) { j_fmt(b, "%.17g", d); }

void sl_agg_json_bytes(bytebuf *b, const char *p, size_t n)
{
    if (sl_utf8_valid_prefix(p, n) == n) {
        uint8_t *d = bb_reserve(b, 6 * n + 2);
        if (!d)
            return;
        long k = sl_json_escape((char *)d, p, n, NULL);
        b->len += (size_t)k;
        return;
    }
    /* bytes that are not UTF-8 cannot be a JSON string: hex */
    static const char hex[] = "0123456789abcdef";
    j_raw(b, "{\"hex\":\"");
    for (size_t i = 0; i < n; i++) {
        bb_byte(b, (uint8_t)hex[(unsigned char)p[i] >> 4]);
        bb_byte(b, (uint8_t)hex[(unsigned char)p[i] & 15]);
    }
    j_raw(b, "\"}");
}

int sl_agg_json_get_bytes(const json_t *j, sl_arena *a, const char **p, size_t *n)
{
    if (json_is_string(j)) {
        *p = json_string_value(j);
        *n = json_string_length(j);
        return 0;
    }
    const json_t *h = json_is_object(j) ? json_object_get(j, "hex") : NULL;
    const char *t = json_is_string(h) ? json_string_value(h) : NULL;
    size_t len = t ? json_string_length(h) : 1;
    if (!t || len % 2)
        return -1;
    char *d = sl_arena_alloc(a, len / 2 + 1);
    if (!d)
        return -1;
    for (size_t i = 0; i < len; i += 2) {
        int v = 0;
        for (int k = 0; k < 2; k++) {
            char c = t[i + (size_t)k];
            int x = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
            if (x < 0)
                return -1;
            v = v * 16 + x;
        }
        d[i / 2] = (char)v;
    }
    *p = d;
    *n = len / 2;
    return 0;
}

static void j_xsum(bytebuf *b, const sl_xsum *x)
{
    if (x->n == XS_NONFINITE) {
        j_raw(b, "\"nonfinite\"");
        return;
    }
    double tmp[XS_MAX];
    uint32_t n;
    const double *p = xs_partials(x, tmp, &n);
    bb_byte(b, '[');
    for (uint32_t i = 0; i < n; i++) {
        if (i)
            bb_byte(b, ',');
        j_dbl(b, p[i]);
    }
    bb_byte(b, ']');
}

static void j_i128(bytebuf *b, __int128 v)
{
    char tmp[48];
    int k = 47;
    tmp[k] = 0;
    unsigned __int128 u = v < 0 ? -(unsigned __int128)v : (unsigned __int128)v;
    do {
        tmp[--k] = (char)('0' + (int)(u % 10));
        u /= 10;
    } while (u);
    if (v < 0)
        tmp[--k] = '-';
    bb_byte(b, '"');
    j_raw(b, tmp + k);
    bb_byte(b, '"');
}

/* count_distinct: link each group's entries (once, before the first
   group is written). */
static int dset_index(sl_agg_mem *m, sl_agg_dset *d, uint64_t ngroups)
{
    uint64_t bytes = ngroups * 4 + d->n * (4 + sizeof(void *));
    if (sl_run_mem_take(m->run, bytes) < 0)
        return SL_E_NOMEM;
    d->idx_charged = bytes;
    d->first = malloc((ngroups ? ngroups : 1) * 4);
    d->next = malloc((d->n ? d->n : 1) * 4);
    d->ents = malloc((d->n ? d->n : 1) * sizeof(void *));
    if (!d->first || !d->next || !d->ents)
        return SL_E_NOMEM;
    memset(d->first, 0xff, ngroups * 4);
    uint32_t k = 0;
    for (uint64_t i = 0; d->slots && i <= d->mask; i++) {
        dentry *e = d->slots[i];
        if (!e)
            continue;
        d->ents[k] = e;
        d->next[k] = d->first[e->grp];
        d->first[e->grp] = k;
        k++;
    }
    return SL_OK;
}

int sl_agg_state_json(const sl_agg *a, uint32_t ai, sl_agg_mem *m, const uint8_t *rec, uint32_t gid, uint64_t ngroups,
                      bytebuf *b)
{
    const sl_agg *g = &a[ai];
    const uint8_t *st = rec + g->off;
    switch (g->op) {
    case SL_AGG_COUNT_ALL:
    case SL_AGG_COUNT:
        j_fmt(b, "%llu", (unsigned long long)*(const uint64_t *)st);
        return SL_OK;
    case SL_AGG_COUNT_DISTINCT: {
        sl_agg_dset *d = &m->dsets[ai];
        if (!d->first) {
            int rc = dset_index(m, d, ngroups);
            if (rc < 0)
                return rc;
        }
        bb_byte(b, '[');
        int any = 0;
        for (uint32_t k = d->first[gid]; k != UINT32_MAX; k = d->next[k]) {
            const dentry *e = d->ents[k];
            if (any++)
                bb_byte(b, ',');
            if (!(e->len & 0x80000000u)) {
                sl_agg_json_bytes(b, (const char *)e->bytes, e->len);
            } else if (e->bytes[0] == 1) {
                int64_t iv;
                memcpy(&iv, e->bytes + 1, 8);
                j_fmt(b, "%lld", (long long)iv);
            } else {
                double dv;
                memcpy(&dv, e->bytes + 1, 8);
                j_dbl(b, dv);
            }
        }
        bb_byte(b, ']');
        return SL_OK;
    }
    case SL_AGG_SUM:
    case SL_AGG_MEAN: {
        const st_sum *s = (const st_sum *)st;
        j_fmt(b, "[%llu,", (unsigned long long)(s->n & ~SUM_DBL));
        j_i128(b, sum_int(s));
        bb_byte(b, ',');
        if (s->n & SUM_DBL)
            j_xsum(b, &s->x);
        else
            j_raw(b, "null");
        bb_byte(b, ']');
        return SL_OK;
    }
    case SL_AGG_VAR:
    case SL_AGG_STDDEV:
    case SL_AGG_VAR_POP:
    case SL_AGG_STDDEV_POP: {
        const st_var *v = (const st_var *)st;
        j_fmt(b, "[%llu,", (unsigned long long)v->n);
        j_xsum(b, &v->s1);
        bb_byte(b, ',');
        j_xsum(b, &v->s2);
        bb_byte(b, ']');
        return SL_OK;
    }
    case SL_AGG_MIN:
    case SL_AGG_MAX:
    case SL_AGG_FIRST:
    case SL_AGG_LAST: {
        const st_val *v = (const st_val *)st;
        if (v->t == SL_AIN_NULL) {
            j_raw(b, "null");
            return SL_OK;
        }
        j_fmt(b, "[\"%c\",%u,", v->t == SL_AIN_INT ? 'i' : v->t == SL_AIN_DBL ? 'd' : 's', (unsigned)v->kind);
        if (v->len || v->t == SL_AIN_TEXT)
            sl_agg_json_bytes(b, v->p, v->len);
        else if (v->t == SL_AIN_INT)
            j_fmt(b, "%lld", (long long)v->n.i);
        else
            j_dbl(b, v->n.d);
        j_fmt(b, ",%u,%llu]", v->pos_in, (unsigned long long)v->pos_off);
        return SL_OK;
    }
    case SL_AGG_MEDIAN:
    case SL_AGG_PERCENTILE: {
        const st_list *l = (const st_list *)st;
        bb_byte(b, '[');
        int any = 0;
        for (const vchunk *c = l->head; c; c = c->next)
            for (uint32_t i = 0; i < c->n; i++) {
                if (any++)
                    bb_byte(b, ',');
                j_dbl(b, c->v[i]);
            }
        bb_byte(b, ']');
        return SL_OK;
    }
    }
    return SL_E_INTERNAL;
}

static int bad_state(char *why, size_t cap, const sl_agg *g, const char *what)
{
    snprintf(why, cap, "the state of %s = %s(...) is not valid: %s", g->name, g->func, what);
    return SL_E_DATA;
}

static int merge_xsum(sl_agg_mem *m, sl_xsum *x, const json_t *j)
{
    if (json_is_string(j) && strcmp(json_string_value(j), "nonfinite") == 0) {
        x->n = XS_NONFINITE;
        return SL_OK;
    }
    if (!json_is_array(j))
        return SL_E_DATA;
    for (size_t i = 0; i < json_array_size(j); i++) {
        const json_t *e = json_array_get(j, i);
        if (!json_is_number(e))
            return SL_E_DATA;
        int rc = xs_add(m, x, json_number_value(e));
        if (rc < 0)
            return rc;
    }
    return SL_OK;
}

static int parse_i128(const char *t, __int128 *out)
{
    int neg = *t == '-';
    t += neg;
    if (!*t)
        return -1;
    unsigned __int128 v = 0;
    for (; *t; t++) {
        if (*t < '0' || *t > '9' || v > ((unsigned __int128)1 << 126) / 5)
            return -1;
        v = v * 10 + (unsigned)(*t - '0');
    }
    if (v > ((unsigned __int128)1 << 127) - (neg ? 0 : 1))
        return -1;
    *out = neg ? (__int128)(0 - v) : (__int128)v;
    return 0;
}

/* A value of a partial (count_distinct's set, or the value of min, max,
   first, last) as a row's argument. */
static int in_of_json(const json_t *j, char t, uint8_t kind, sl_arena *scratch, sl_agg_in *in)
{
    memset(in, 0, sizeof *in);
    in->kind = kind;
    if (json_is_integer(j)) {
        in->t = SL_AIN_INT;
        in->n.i = (int64_t)json_integer_value(j);
        return 0;
    }
    if (json_is_real(j)) {
        in->t = SL_AIN_DBL;
        in->n.d = json_real_value(j);
        return 0;
    }
    const char *p;
    size_t n;
    if (sl_agg_json_get_bytes(j, scratch, &p, &n) < 0 || n > UINT32_MAX)
        return -1;
    in->s = p;
    in->len = (uint32_t)n;
    if (t == 's' || t == 0) {
        in->t = SL_AIN_TEXT;
        return 0;
    }
    int k = sl_num_parse(p, n, &in->n.i, &in->n.d);
    if ((t == 'i' && k != SL_V_INT) || (t == 'd' && k != SL_V_DOUBLE))
        return -1;
    in->t = t == 'i' ? SL_AIN_INT : SL_AIN_DBL;
    return 0;
}

int sl_agg_state_merge(const sl_agg *a, uint32_t ai, sl_agg_mem *m, uint8_t *rec, uint32_t gid, const json_t *j,
                       sl_arena *scratch, char *why, size_t cap)
{
    const sl_agg *g = &a[ai];
    uint8_t *st = rec + g->off;
    int rc;
    switch (g->op) {
    case SL_AGG_COUNT_ALL:
    case SL_AGG_COUNT:
        if (!json_is_integer(j) || json_integer_value(j) < 0)
            return bad_state(why, cap, g, "expected a count");
        *(uint64_t *)st += (uint64_t)json_integer_value(j);
        return SL_OK;
    case SL_AGG_COUNT_DISTINCT:
        if (!json_is_array(j))
            return bad_state(why, cap, g, "expected the array of distinct values");
        for (size_t i = 0; i < json_array_size(j); i++) {
            sl_agg_in in;
            if (in_of_json(json_array_get(j, i), 0, SL_STRING, scratch, &in) < 0)
                return bad_state(why, cap, g, "expected numbers and strings");
            int added = 0;
            if ((rc = dset_add(m, &m->dsets[ai], gid, &in, &added)) < 0)
                return rc;
            *(uint64_t *)st += (uint64_t)added;
        }
        return SL_OK;
    case SL_AGG_SUM:
    case SL_AGG_MEAN: {
        st_sum *s = (st_sum *)st;
        __int128 iv;
        const json_t *n = json_array_get(j, 0), *i = json_array_get(j, 1), *d = json_array_get(j, 2);
        if (json_array_size(j) != 3 || !json_is_integer(n) || json_integer_value(n) < 0 || !json_is_string(i) ||
            parse_i128(json_string_value(i), &iv) < 0)
            return bad_state(why, cap, g, "expected [count, \"integer sum\", partials or null]");
        sum_int_set(s, sum_int(s) + iv);
        s->n += (uint64_t)json_integer_value(n);
        if (!json_is_null(d)) {
            if ((rc = merge_xsum(m, &s->x, d)) < 0)
                return rc == SL_E_DATA ? bad_state(why, cap, g, "expected an array of partial sums") : rc;
            s->n |= SUM_DBL;
        }
        return SL_OK;
    }
    case SL_AGG_VAR:
    case SL_AGG_STDDEV:
    case SL_AGG_VAR_POP:
    case SL_AGG_STDDEV_POP: {
        st_var *v = (st_var *)st;
        const json_t *n = json_array_get(j, 0);
        if (json_array_size(j) != 3 || !json_is_integer(n) || json_integer_value(n) < 0)
            return bad_state(why, cap, g, "expected [count, sum partials, sum of squares partials]");
        v->n += (uint64_t)json_integer_value(n);
        if ((rc = merge_xsum(m, &v->s1, json_array_get(j, 1))) < 0 || (rc = merge_xsum(m, &v->s2, json_array_get(j, 2))) < 0)
            return rc == SL_E_DATA ? bad_state(why, cap, g, "expected arrays of partial sums") : rc;
        return SL_OK;
    }
    case SL_AGG_MIN:
    case SL_AGG_MAX:
    case SL_AGG_FIRST:
    case SL_AGG_LAST: {
        if (json_is_null(j))
            return SL_OK;
        const json_t *t = json_array_get(j, 0), *k = json_array_get(j, 1), *pi = json_array_get(j, 3),
                     *po = json_array_get(j, 4);
        const char *ts = json_string_value(t);
        sl_agg_in in;
        if (json_array_size(j) != 5 || !ts || strlen(ts) != 1 || !strchr("ids", ts[0]) || !json_is_integer(k) ||
            json_integer_value(k) < SL_TEXT || json_integer_value(k) > SL_JSON || !json_is_integer(pi) ||
            json_integer_value(pi) < 0 || json_integer_value(pi) > UINT32_MAX || !json_is_integer(po) ||
            json_integer_value(po) < 0 || in_of_json(json_array_get(j, 2), ts[0], (uint8_t)json_integer_value(k), scratch, &in) < 0)
            return bad_state(why, cap, g, "expected [type, kind, value, input, offset]");
        sl_agg_pos pos = {(uint64_t)json_integer_value(po), (uint32_t)json_integer_value(pi), 0};
        st_val *v = (st_val *)st;
        int take;
        if (v->t == SL_AIN_NULL) {
            take = 1;
        } else {
            int before = sl_agg_pos_cmp(pos.input, pos.off, v->pos_in, v->pos_off) < 0;
            if (g->op == SL_AGG_FIRST) {
                take = before;
            } else if (g->op == SL_AGG_LAST) {
                take = !before;
            } else {
                int c = cmp_in_val(&in, v), want = g->op == SL_AGG_MIN ? -1 : 1;
                take = c == want || (c == 0 && before);
            }
        }
        if (take) {
            if ((rc = val_set(m, v, &in)) < 0)
                return rc;
            val_pos(v, &pos);
        }
        return SL_OK;
    }
    case SL_AGG_MEDIAN:
    case SL_AGG_PERCENTILE:
        if (!json_is_array(j))
            return bad_state(why, cap, g, "expected the array of values");
        for (size_t i = 0; i < json_array_size(j); i++) {
            const json_t *e = json_array_get(j, i);
            if (!json_is_number(e))
                return bad_state(why, cap, g, "expected numbers");
            if ((rc = list_add(m, (st_list *)st, json_number_value(e))) < 0)
                return rc;
        }
        return SL_OK;
    }
    return SL_E_INTERNAL;
}
