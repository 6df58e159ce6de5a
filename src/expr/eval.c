/*
 * eval.c - the bytecode interpreter and the value rules of the language.
 *
 * One call evaluates one row: a switch loop over the program's instructions
 * with the value stack inside the program.  Cells are read straight from the
 * batch (no copy); numbers in text cells are parsed only when an operator
 * needs a number.  Nothing here calls malloc: computed strings go to the
 * arena the caller passes.
 *
 * The rules (docs/expressions.md says the same for users):
 *   - empty, null and absent cells are null;
 *   - text from CSV or a JSON number is a number when its text is one;
 *   - arithmetic on null is null; division by zero is null; int64 overflow
 *     in + - * (and unary -) gives a double; non-finite results are null;
 *   - a comparison with a null operand is false (x == null is a null test);
 *     two values that are or read as numbers compare as numbers (except
 *     two strings, which stay text), two booleans as booleans, anything
 *     else byte-wise as text.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr/expr_int.h"

/* ---- values ---- */

void val_set_double(sl_value *out, double d)
{
    if (isfinite(d)) {
        out->type = SL_V_DOUBLE;
        out->u.d = d;
    } else {
        out->type = SL_V_NULL;
    }
}

void val_set_string(sl_value *out, const char *s, uint32_t len, bool scratch)
{
    out->type = SL_V_STRING;
    out->kind = SL_STRING;
    out->scratch = scratch;
    out->len = len;
    out->u.s = s;
}

static inline __attribute__((always_inline)) void load_cell(const sl_cell *c, sl_value *v)
{
    v->scratch = 0;
    if (c->len == 0 || c->kind == SL_NULL || c->kind == SL_ABSENT) {
        v->type = SL_V_NULL;
        v->kind = 0;
        v->len = 0;
        v->u.i = 0;
        return;
    }
    switch (c->kind) {
    case SL_BOOL:
        v->type = SL_V_BOOL;
        v->kind = SL_BOOL;
        v->len = c->len;
        v->u.i = 0;
        v->u.b = c->p[0] == 't';
        return;
    case SL_TEXT:
    case SL_NUMBER:
        v->type = SL_V_TEXT;
        break;
    default:
        v->type = SL_V_STRING;
        break;
    }
    v->kind = c->kind;
    v->len = c->len;
    v->u.s = c->p;
}

/* Copy a value field by field: a whole-struct copy right after the fields
   were stored one by one stalls on store forwarding. */
static inline void val_cp(sl_value *d, const sl_value *s)
{
    d->type = s->type;
    d->kind = s->kind;
    d->scratch = s->scratch;
    d->len = s->len;
    if (s->type == SL_V_BOOL) d->u.b = s->u.b;
    else d->u.i = s->u.i;
}

int val_num(const sl_value *v, sl_value *out)
{
    switch (v->type) {
    case SL_V_INT:
    case SL_V_DOUBLE:
        out->type = v->type;
        out->u.i = v->u.i; /* field by field: see val_cp */
        return out->type;
    case SL_V_TEXT:
    case SL_V_STRING: {
        int k = sl_num_parse(v->u.s, v->len, &out->u.i, &out->u.d);
        out->type = (uint8_t)k;
        return k;
    }
    default:
        out->type = SL_V_NULL;
        return SL_V_NULL;
    }
}


const char *val_describe(const sl_value *v, char *buf, size_t cap)
{
    switch (v->type) {
    case SL_V_NULL: snprintf(buf, cap, "null"); break;
    case SL_V_BOOL: snprintf(buf, cap, "%s", v->u.b ? "true" : "false"); break;
    case SL_V_INT: snprintf(buf, cap, "%lld", (long long)v->u.i); break;
    case SL_V_DOUBLE: {
        char t[40];
        size_t n = sl_num_format_double(v->u.d, t);
        snprintf(buf, cap, "%.*s", (int)n, t);
        break;
    }
    default: {
        int n = (int)(v->len > 40 ? 40 : v->len);
        snprintf(buf, cap, "\"%.*s%s\"", n, v->u.s, v->len > 40 ? "..." : "");
        break;
    }
    }
    return buf;
}

int rt_error(sl_expr_rt *rt, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rt->prog->errmsg, sizeof rt->prog->errmsg, fmt, ap);
    va_end(ap);
    return SL_E_DATA;
}

int rt_nomem(sl_expr_rt *rt)
{
    snprintf(rt->prog->errmsg, sizeof rt->prog->errmsg,
             "expression values of one batch are over the memory cap");
    return SL_E_NOMEM;
}

void *rt_alloc(sl_expr_rt *rt, size_t n) { return sl_arena_alloc(rt->arena, n ? n : 1); }

int val_need_num(sl_expr_rt *rt, const sl_value *v, sl_value *out, const char *what)
{
    if (val_num(v, out) != SL_V_NULL) return SL_OK;
    char d[64];
    return rt_error(rt, "%s: %s is not a number (expected a number)", what, val_describe(v, d, sizeof d));
}

/* text form into a caller buffer of >= 40 bytes (no arena) */
static inline void text_of(const sl_value *v, char *buf, const char **s, uint32_t *len)
{
    switch (v->type) {
    case SL_V_BOOL:
        *s = v->u.b ? "true" : "false";
        *len = v->u.b ? 4 : 5;
        return;
    case SL_V_INT:
        *s = buf;
        *len = (uint32_t)sl_num_format_int(v->u.i, buf);
        return;
    case SL_V_DOUBLE:
        *s = buf;
        *len = (uint32_t)sl_num_format_double(v->u.d, buf);
        return;
    case SL_V_NULL:
        *s = "";
        *len = 0;
        return;
    default:
        *s = v->u.s;
        *len = v->len;
        return;
    }
}

int val_text(sl_expr_rt *rt, const sl_value *v, const char **s, uint32_t *len)
{
    if (v->type == SL_V_INT || v->type == SL_V_DOUBLE) {
        char *buf = rt_alloc(rt, 40);
        if (!buf) return rt_nomem(rt);
        text_of(v, buf, s, len);
        return SL_OK;
    }
    text_of(v, NULL, s, len);
    return SL_OK;
}

static inline int cmp_bytes(const char *a, uint32_t an, const char *b, uint32_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    if (c) return c < 0 ? -1 : 1;
    return an < bn ? -1 : an > bn;
}

static inline int cmp_int_double(int64_t i, double d)
{
    if (d >= 9223372036854775808.0) return -1;
    if (d < -9223372036854775808.0) return 1;
    int64_t t = (int64_t)d; /* truncates toward zero, exact here */
    if (i < t) return -1;
    if (i > t) return 1;
    double frac = d - (double)t;
    return frac > 0 ? -1 : frac < 0 ? 1 : 0;
}

static inline int numcmp(const sl_value *x, const sl_value *y)
{
    if (x->type == SL_V_INT) {
        if (y->type == SL_V_INT) return x->u.i < y->u.i ? -1 : x->u.i > y->u.i;
        return cmp_int_double(x->u.i, y->u.d);
    }
    if (y->type == SL_V_INT) return -cmp_int_double(y->u.i, x->u.d);
    return x->u.d < y->u.d ? -1 : x->u.d > y->u.d;
}

int val_cmp(sl_expr_rt *rt, const sl_value *a, const sl_value *b, int *res)
{
    (void)rt;
    sl_value x, y;
    /* numbers when both are or read as one; two strings stay text */
    if (!(a->type == SL_V_STRING && b->type == SL_V_STRING) && val_num(a, &x) != SL_V_NULL &&
        val_num(b, &y) != SL_V_NULL) {
        *res = numcmp(&x, &y);
        return SL_OK;
    }
    if (a->type == SL_V_BOOL && b->type == SL_V_BOOL) {
        *res = (int)a->u.b - (int)b->u.b;
        return SL_OK;
    }
    char ba[40], bb[40];
    const char *sa, *sb;
    uint32_t la, lb;
    text_of(a, ba, &sa, &la);
    text_of(b, bb, &sb, &lb);
    *res = cmp_bytes(sa, la, sb, lb);
    return SL_OK;
}

static inline bool cmp_true(int op, int c)
{
    switch (op) {
    case B_EQ: return c == 0;
    case B_NE: return c != 0;
    case B_LT: return c < 0;
    case B_LE: return c <= 0;
    case B_GT: return c > 0;
    default: return c >= 0;
    }
}

static const char *const op_text[] = {
    [B_ADD] = "+", [B_SUB] = "-", [B_MUL] = "*", [B_DIV] = "/", [B_IDIV] = "//", [B_MOD] = "%",
};

/* out may be a: the operands are read before it is written */
static int arith(sl_expr_rt *rt, int op, const sl_value *a, const sl_value *b, sl_value *out)
{
    sl_value x, y;
    char what[8];
    if (val_num(a, &x) == SL_V_NULL || val_num(b, &y) == SL_V_NULL) {
        snprintf(what, sizeof what, "'%s'", op_text[op]);
        const sl_value *bad = x.type == SL_V_NULL ? a : b;
        sl_value dummy;
        return val_need_num(rt, bad, &dummy, what);
    }
    out->scratch = 0;
    if (x.type == SL_V_INT && y.type == SL_V_INT) {
        int64_t i = x.u.i, j = y.u.i, r;
        switch (op) {
        case B_ADD:
            if (__builtin_add_overflow(i, j, &r)) { val_set_double(out, (double)i + (double)j); return SL_OK; }
            break;
        case B_SUB:
            if (__builtin_sub_overflow(i, j, &r)) { val_set_double(out, (double)i - (double)j); return SL_OK; }
            break;
        case B_MUL:
            if (__builtin_mul_overflow(i, j, &r)) { val_set_double(out, (double)i * (double)j); return SL_OK; }
            break;
        case B_DIV:
            if (j == 0) { out->type = SL_V_NULL; return SL_OK; }
            val_set_double(out, (double)i / (double)j);
            return SL_OK;
        case B_IDIV:
            if (j == 0) { out->type = SL_V_NULL; return SL_OK; }
            if (i == INT64_MIN && j == -1) { val_set_double(out, 9223372036854775808.0); return SL_OK; }
            r = i / j;
            if ((i % j != 0) && ((i < 0) != (j < 0))) r--;
            break;
        default: /* B_MOD */
            if (j == 0) { out->type = SL_V_NULL; return SL_OK; }
            if (j == -1) { r = 0; break; }
            r = i % j;
            if (r != 0 && ((r < 0) != (j < 0))) r += j;
            break;
        }
        out->type = SL_V_INT;
        out->u.i = r;
        return SL_OK;
    }
    double p = x.type == SL_V_INT ? (double)x.u.i : x.u.d;
    double q = y.type == SL_V_INT ? (double)y.u.i : y.u.d;
    double r;
    switch (op) {
    case B_ADD: r = p + q; break;
    case B_SUB: r = p - q; break;
    case B_MUL: r = p * q; break;
    case B_DIV:
        if (q == 0) { out->type = SL_V_NULL; return SL_OK; }
        r = p / q;
        break;
    case B_IDIV:
        if (q == 0) { out->type = SL_V_NULL; return SL_OK; }
        r = floor(p / q);
        break;
    default:
        if (q == 0) { out->type = SL_V_NULL; return SL_OK; }
        r = fmod(p, q);
        if (r != 0 && ((r < 0) != (q < 0))) r += q;
        break;
    }
    val_set_double(out, r);
    return SL_OK;
}

/* out may be a */
static int concat2(sl_expr_rt *rt, const sl_value *a, const sl_value *b, sl_value *out)
{
    const char *sa, *sb;
    uint32_t la, lb;
    char ba[40], bb[40];
    text_of(a, ba, &sa, &la);
    text_of(b, bb, &sb, &lb);
    if ((uint64_t)la + lb > UINT32_MAX) return rt_error(rt, "'||': result longer than 4 GiB");
    char *o = rt_alloc(rt, (size_t)la + lb);
    if (!o) return rt_nomem(rt);
    memcpy(o, sa, la);
    memcpy(o + la, sb, lb);
    val_set_string(out, o, la + lb, true);
    return SL_OK;
}

/* Unary minus in place (OP_NEG); shared with the batch evaluator. */
static inline __attribute__((always_inline)) int negate(sl_expr_rt *rt, sl_value *v)
{
    if (v->type == SL_V_NULL) return SL_OK;
    sl_value x;
    int rc;
    if ((rc = val_need_num(rt, v, &x, "'-'"))) return rc;
    if (x.type == SL_V_INT) {
        if (x.u.i == INT64_MIN) val_set_double(v, 9223372036854775808.0);
        else { v->type = SL_V_INT; v->u.i = -x.u.i; }
    } else {
        val_set_double(v, -x.u.d);
    }
    v->scratch = 0;
    return SL_OK;
}

/* a <op> c into a (OP_BIN; not B_MATCH/B_NMATCH); shared with the batch
   evaluator, so that both give the same value for the same operands. */
static inline __attribute__((always_inline)) int binop(sl_expr_rt *rt, int op, sl_value *a, const sl_value *c)
{
    if (a->type == SL_V_NULL || c->type == SL_V_NULL) {
        if (op >= B_EQ) {
            a->type = SL_V_BOOL;
            a->u.b = false;
        } else {
            a->type = SL_V_NULL;
        }
        return SL_OK;
    }
    if (op >= B_EQ) {
        int cmp;
        val_cmp(rt, a, c, &cmp);
        a->type = SL_V_BOOL;
        a->u.b = cmp_true(op, cmp);
        return SL_OK;
    }
    if (op == B_CONCAT) return concat2(rt, a, c, a);
    if (op <= B_DIV && (a->type == SL_V_INT || a->type == SL_V_DOUBLE) && (c->type == SL_V_INT || c->type == SL_V_DOUBLE) &&
        (op == B_DIV || a->type == SL_V_DOUBLE || c->type == SL_V_DOUBLE)) {
        /* the common double case inline; int with int goes to arith for overflow */
        double x = a->type == SL_V_INT ? (double)a->u.i : a->u.d;
        double y = c->type == SL_V_INT ? (double)c->u.i : c->u.d, r;
        switch (op) {
        case B_ADD: r = x + y; break;
        case B_SUB: r = x - y; break;
        case B_MUL: r = x * y; break;
        default:
            if (y == 0) {
                a->type = SL_V_NULL;
                return SL_OK;
            }
            r = x / y;
            break;
        }
        val_set_double(a, r);
        return SL_OK;
    }
    return arith(rt, op, a, c, a);
}

int expr_negate(sl_expr_rt *rt, sl_value *v) { return negate(rt, v); }
int expr_binop(sl_expr_rt *rt, int op, sl_value *a, const sl_value *c) { return binop(rt, op, a, c); }

/* conditions: null is false, text "true"/"false" count */
static inline int truth(sl_expr_rt *rt, const sl_value *v, bool *out, const char *what)
{
    switch (v->type) {
    case SL_V_BOOL: *out = v->u.b; return SL_OK;
    case SL_V_NULL: *out = false; return SL_OK;
    case SL_V_TEXT:
    case SL_V_STRING:
        if (v->len == 4 && memcmp(v->u.s, "true", 4) == 0) { *out = true; return SL_OK; }
        if (v->len == 5 && memcmp(v->u.s, "false", 5) == 0) { *out = false; return SL_OK; }
        break;
    default:
        break;
    }
    char d[64];
    return rt_error(rt, "%s: %s is not a boolean (expected true or false)", what, val_describe(v, d, sizeof d));
}

/* ---- regexes ---- */

/* glibc's regcomp() copies the tree of a repeated part once per repetition
   it may need, repeats of repeats multiply ((a{1,100}){1,100}, or x+++++
   which doubles per '+'), a long run of optional copies costs its square
   (a{1,10000}: 800 MB), and loops nested in loops cost far more than their
   number (((((a*)+)+)+)+... ten deep takes seconds): a 40-byte pattern can
   take gigabytes and minutes.  Patterns may come from the data, so measure
   them first: the parts of the pattern, each multiplied by the repetitions
   around it (at most RX_MAX_COPIES), no repetition count over
   RX_MAX_REPEAT, and repetitions nested at most RX_MAX_NEST deep.  Returns
   0 when the pattern is within all three. */
#define RX_MAX_COPIES 3000u
#define RX_MAX_REPEAT 1000u
#define RX_MAX_NEST 5
static int rx_too_big(const char *p, size_t n)
{
    enum { MAXD = 64 };
    /* per open group: its size so far, its last part's size, the deepest
       repetition nesting in it, and that of its last part */
    uint64_t sum[MAXD + 1], last[MAXD + 1];
    int nest[MAXD + 1], lnest[MAXD + 1];
    int d = 0;
    sum[0] = last[0] = 0;
    nest[0] = lnest[0] = 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        uint64_t mult = 0; /* a quantifier's factor, 0 = not one */
        if (c == '\\') {
            i++;
            sum[d] += last[d] = 1;
            lnest[d] = 0;
        } else if (c == '[') { /* a bracket expression is one part */
            size_t j = i + 1;
            if (j < n && p[j] == '^')
                j++;
            if (j < n && p[j] == ']')
                j++;
            while (j < n && p[j] != ']') {
                if (p[j] == '[' && j + 1 < n && (p[j + 1] == ':' || p[j + 1] == '.' || p[j + 1] == '=')) {
                    char t = p[j + 1];
                    j += 2;
                    while (j + 1 < n && !(p[j] == t && p[j + 1] == ']'))
                        j++;
                    j++;
                }
                j++;
            }
            i = j;
            sum[d] += last[d] = 1;
            lnest[d] = 0;
        } else if (c == '(') {
            if (d == MAXD)
                return 1;
            d++;
            sum[d] = last[d] = 0;
            nest[d] = lnest[d] = 0;
        } else if (c == ')' && d > 0) {
            uint64_t g = sum[d] + 1;
            int gn = nest[d];
            d--;
            sum[d] += last[d] = g;
            lnest[d] = gn;
        } else if (c == '*' || c == '+' || c == '?') {
            mult = 2;
        } else if (c == '{') {
            uint64_t a = 0, b = 0;
            size_t j = i + 1;
            while (j < n && p[j] >= '0' && p[j] <= '9' && a < 100000)
                a = a * 10 + (uint64_t)(p[j++] - '0');
            b = a + 1; /* {m} and {m,} */
            if (j < n && p[j] == ',') {
                j++;
                if (j < n && p[j] >= '0' && p[j] <= '9') {
                    b = 0;
                    while (j < n && p[j] >= '0' && p[j] <= '9' && b < 100000)
                        b = b * 10 + (uint64_t)(p[j++] - '0');
                    if (b > RX_MAX_REPEAT)
                        return 1;
                }
            }
            if (a > RX_MAX_REPEAT)
                return 1;
            mult = (a > b ? a : b) + 1;
            while (j < n && p[j] != '}')
                j++;
            i = j;
        } else {
            sum[d] += last[d] = 1;
            lnest[d] = 0;
        }
        if (mult) { /* the last part, repeated */
            sum[d] += last[d] * (mult - 1);
            last[d] *= mult;
            if (++lnest[d] > RX_MAX_NEST || sum[d] > RX_MAX_COPIES)
                return 1;
        }
        if (lnest[d] > nest[d])
            nest[d] = lnest[d];
    }
    while (d > 0) {
        uint64_t g = sum[d] + 1;
        d--;
        sum[d] += g;
    }
    return sum[0] > RX_MAX_COPIES;
}

int rx_compile(regex_t *re, const char *pat, size_t len, char *msg, size_t cap)
{
    char buf[1024];
    char *p = buf;
    if (len >= sizeof buf) {
        snprintf(msg, cap, "pattern longer than %zu bytes", sizeof buf - 1);
        return -1;
    }
    if (memchr(pat, 0, len)) {
        snprintf(msg, cap, "pattern contains a NUL byte");
        return -1;
    }
    if (rx_too_big(pat, len)) {
        snprintf(msg, cap, "pattern repeats too much for the regex engine (expected repetition counts up to %u, "
                 "repetitions nested at most %d deep, and at most %u parts once expanded, as (a{1,100}){1,100} "
                 "would be)", RX_MAX_REPEAT, RX_MAX_NEST, RX_MAX_COPIES);
        return -1;
    }
    memcpy(p, pat, len);
    p[len] = 0;
    int rc = regcomp(re, p, REG_EXTENDED);
    if (rc != 0) {
        regerror(rc, re, msg, cap);
        return -1;
    }
    return 0;
}

#if defined(__SANITIZE_ADDRESS__)
#define RX_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RX_ASAN 1
#endif
#endif

int rx_exec(const regex_t *re, const char *s, size_t n, size_t nmatch, regmatch_t *m)
{
    return rx_exec_at(re, s, n, 0, nmatch, m);
}

int rx_exec_at(const regex_t *re, const char *s, size_t n, size_t from, size_t nmatch, regmatch_t *m)
{
    regmatch_t one[1];
    if (nmatch == 0) {
        m = one;
        nmatch = 1;
    }
    m[0].rm_so = (regoff_t)from;
    m[0].rm_eo = (regoff_t)n;
#ifdef RX_ASAN
    /* glibc honours REG_STARTEND, but ASan's interceptor of regexec() runs
       strlen() on the subject first and reads past a cell that is not
       NUL-terminated (a false alarm, or a read off the end of an arena
       chunk): in sanitizer builds only, hand it a terminated copy */
    static char *copy;
    static size_t copy_cap;
    if (n + 1 > copy_cap) {
        char *c = realloc(copy, n + 1);
        if (!c)
            return 0;
        copy = c;
        copy_cap = n + 1;
    }
    if (n)
        memcpy(copy, s, n);
    copy[n] = 0;
    s = copy;
#endif
    return regexec(re, s ? s : "", nmatch, m, REG_STARTEND | (from > 0 ? REG_NOTBOL : 0)) == 0;
}

int rx_site_get(sl_expr_rt *rt, rx_site *site, const sl_value *pat, regex_t **re)
{
    if (site->literal) {
        *re = &site->re;
        return SL_OK;
    }
    char buf[40];
    const char *s;
    uint32_t len;
    text_of(pat, buf, &s, &len);
    if (site->have && site->pat_len == len && memcmp(site->pat, s, len) == 0) {
        *re = &site->re;
        return SL_OK;
    }
    /* a new pattern at run time: compile it and remember it (one entry) */
    if (site->have) {
        regfree(&site->re);
        site->have = false;
    }
    char msg[200];
    if (rx_compile(&site->re, s, len, msg, sizeof msg) != 0) {
        char d[64];
        return rt_error(rt, "bad regular expression %s: %s (POSIX extended syntax expected)",
                        val_describe(pat, d, sizeof d), msg);
    }
    site->have = true;
    free(site->pat);
    site->pat = malloc(len + 1);
    if (!site->pat) {
        regfree(&site->re);
        site->have = false;
        return rt_nomem(rt);
    }
    memcpy(site->pat, s, len);
    site->pat_len = len;
    *re = &site->re;
    return SL_OK;
}

/* ---- the interpreter ---- */

static inline void field_value(const sl_batch *b, uint32_t row, uint32_t col, sl_value *v)
{
    if (col == UINT32_MAX) {
        v->type = SL_V_NULL;
        return;
    }
    load_cell(sl_batch_cell(b, row, col), v);
}

/* A field as a number when its cell reads as one (text, JSON number or
   string), else as it is.  Parsed at most once per evaluation. */
static inline __attribute__((always_inline)) void field_num(sl_expr *p, const sl_batch *b, uint32_t row, uint32_t col, uint32_t ref, sl_value *v)
{
    if (col == UINT32_MAX) {
        *v = (sl_value){.type = SL_V_NULL};
        return;
    }
    struct numcache *nc = &p->ncache[ref];
    if (nc->stamp == p->stamp) {
        val_cp(v, &nc->v);
        return;
    }
    uint32_t pc = sl_batch_phys(b, col);
    const sl_cell *c = &b->cells[(size_t)row * b->stride + pc];
    load_cell(c, v);
    if (v->type == SL_V_TEXT || v->type == SL_V_STRING) {
        int64_t i;
        double d;
        /* a number computed upstream (map) reads as its text would */
        int k = sl_batch_dnum(b, row, pc, &d) ? sl_num_reread(d, &i, &d) : sl_num_parse(c->p, c->len, &i, &d);
        if (k == SL_V_INT) {
            v->type = SL_V_INT;
            v->u.i = i;
        } else if (k == SL_V_DOUBLE) {
            v->type = SL_V_DOUBLE;
            v->u.d = d;
        }
    }
    nc->stamp = p->stamp;
    val_cp(&nc->v, v);
}

/* Run the program; *res points at the result on the program's stack. */
static int run(sl_expr *p, const sl_batch *b, uint32_t row, sl_arena *arena, const sl_value **res)
{
    p->stamp++;
    sl_expr_rt rt = {.prog = p, .arena = arena};
    sl_value *st = p->stack;
    uint32_t sp = 0;
    const ins *code = p->code;
    const ins *ip = code;
    int rc;
    for (;;) {
        switch ((op_code)ip->op) {
        case OP_RET:
            *res = &st[sp - 1];
            return SL_OK;
        case OP_CONST:
            st[sp++] = p->consts[ip->a];
            break;
        case OP_FIELD:
            field_value(b, row, ip->a, &st[sp++]);
            break;
        case OP_FIELDNUM:
            field_num(p, b, row, ip->a, ip->b, &st[sp++]);
            break;
        case OP_CMPFC: {
            sl_value x;
            field_num(p, b, row, ip->a, ip->b, &x);
            bool res = false;
            if (x.type == SL_V_INT || x.type == SL_V_DOUBLE) {
                res = cmp_true(ip->sub, numcmp(&x, &p->consts[ip->c]));
            } else if (x.type != SL_V_NULL) {
                const char *t;
                uint32_t tl;
                text_of(&x, NULL, &t, &tl);
                res = cmp_true(ip->sub, cmp_bytes(t, tl, p->ctext[ip->c], p->ctext_len[ip->c]));
            }
            sl_value *r = &st[sp++];
            r->type = SL_V_BOOL;
            r->u.b = res;
            break;
        }
        case OP_CMPFS: {
            bool res = false;
            if (ip->a != UINT32_MAX) {
                const sl_cell *c = sl_batch_cell(b, row, ip->a);
                if (c->len != 0 && c->kind != SL_NULL && c->kind != SL_ABSENT) {
                    const sl_value *cn = &p->cnum[ip->c];
                    int cmp;
                    sl_value x;
                    /* numbers only when the constant reads as one and the
                       field is not a string too */
                    if (cn->type != SL_V_NULL && c->kind != SL_STRING && c->kind != SL_JSON && c->kind != SL_BOOL &&
                        (field_num(p, b, row, ip->a, ip->b, &x), x.type == SL_V_INT || x.type == SL_V_DOUBLE))
                        cmp = numcmp(&x, cn);
                    else
                        cmp = cmp_bytes(c->p, c->len, p->ctext[ip->c], p->ctext_len[ip->c]);
                    res = cmp_true(ip->sub, cmp);
                }
            }
            sl_value *r = &st[sp++];
            r->type = SL_V_BOOL;
            r->u.b = res;
            break;
        }
        case OP_NEG:
            if ((rc = negate(&rt, &st[sp - 1]))) return rc;
            break;
        case OP_BIN:
            sp--;
            if ((rc = binop(&rt, ip->sub, &st[sp - 1], &st[sp]))) return rc;
            break;
        case OP_MATCH:
        case OP_MATCHDYN: {
            regex_t *re;
            sl_value *s;
            if (ip->op == OP_MATCHDYN) {
                sl_value *pat = &st[--sp];
                s = &st[sp - 1];
                if (pat->type == SL_V_NULL || s->type == SL_V_NULL) {
                    s->type = SL_V_BOOL;
                    s->u.b = false;
                    break;
                }
                if ((rc = rx_site_get(&rt, &p->sites[ip->a], pat, &re))) return rc;
            } else {
                s = &st[sp - 1];
                re = &p->sites[ip->a].re;
                if (s->type == SL_V_NULL) {
                    s->type = SL_V_BOOL;
                    s->u.b = false;
                    break;
                }
            }
            char buf[40];
            const char *t;
            uint32_t tl;
            text_of(s, buf, &t, &tl);
            const rx_site *site = &p->sites[ip->a];
            bool m;
            if (ip->op == OP_MATCH && site->plain) {
                size_t pl = site->plain_len;
                if (site->plain_bol && site->plain_eol) m = tl == pl && memcmp(t, site->plain_text, pl) == 0;
                else if (site->plain_bol) m = tl >= pl && memcmp(t, site->plain_text, pl) == 0;
                else if (site->plain_eol) m = tl >= pl && memcmp(t + tl - pl, site->plain_text, pl) == 0;
                else m = pl == 0 || memmem(t, tl, site->plain_text, pl) != NULL;
            } else {
                m = rx_exec(re, t, tl, 0, NULL);
            }
            s->type = SL_V_BOOL;
            s->u.b = ip->sub ? !m : m;
            break;
        }
        case OP_NOT: {
            sl_value *v = &st[sp - 1];
            bool t = false;
            if ((rc = truth(&rt, v, &t, "not"))) return rc;
            v->type = SL_V_BOOL;
            v->u.b = !t;
            break;
        }
        case OP_TOBOOL: {
            sl_value *v = &st[sp - 1];
            bool t = false;
            if ((rc = truth(&rt, v, &t, "and/or"))) return rc;
            v->type = SL_V_BOOL;
            v->u.b = t;
            break;
        }
        case OP_JF:
        case OP_JT: {
            sl_value *v = &st[sp - 1];
            bool t = false;
            if ((rc = truth(&rt, v, &t, ip->op == OP_JF ? "and" : "or"))) return rc;
            if (t == (ip->op == OP_JT)) {
                v->type = SL_V_BOOL;
                v->u.b = t;
                ip = code + ip->a;
                continue;
            }
            sp--;
            break;
        }
        case OP_JFPOP: {
            bool t = false;
            if ((rc = truth(&rt, &st[--sp], &t, "if"))) return rc;
            if (!t) {
                ip = code + ip->a;
                continue;
            }
            break;
        }
        case OP_JNN:
            if (st[sp - 1].type != SL_V_NULL) {
                ip = code + ip->a;
                continue;
            }
            sp--;
            break;
        case OP_JMP:
            ip = code + ip->a;
            continue;
        case OP_ISNULL: {
            sl_value *v = &st[sp - 1];
            bool isnull = v->type == SL_V_NULL;
            v->type = SL_V_BOOL;
            v->u.b = ip->sub ? !isnull : isnull;
            break;
        }
        case OP_CALL: {
            /* the result replaces the first argument (functions read their
               arguments before they write it) */
            uint32_t n = ip->n;
            rt.func = &sl_expr_funcs[ip->a];
            rt.site = ip->b == UINT32_MAX ? NULL : &p->sites[ip->b];
            sl_value *args = &st[sp - n];
            if ((rc = rt.func->fn(&rt, args, n, args))) return rc;
            sp = sp - n + 1;
            break;
        }
        default:
            __builtin_unreachable(); /* the compiler emits only the codes above */
        }
        ip++;
    }
}

int sl_expr_eval(sl_expr *p, const sl_batch *b, uint32_t row, sl_arena *arena, sl_value *out)
{
    const sl_value *v;
    int rc = run(p, b, row, arena, &v);
    if (rc == SL_OK) val_cp(out, v);
    return rc;
}

int sl_expr_eval_ref(sl_expr *p, const sl_batch *b, uint32_t row, sl_arena *arena, const sl_value **out)
{
    return run(p, b, row, arena, out);
}

int sl_expr_eval_bool(sl_expr *p, const sl_batch *b, uint32_t row, sl_arena *arena, bool *out)
{
    const sl_value *v;
    int rc = run(p, b, row, arena, &v);
    if (rc) return rc;
    if (v->type == SL_V_BOOL) {
        *out = v->u.b;
        return SL_OK;
    }
    sl_expr_rt rt = {.prog = p, .arena = arena};
    return truth(&rt, v, out, "condition");
}

const char *sl_expr_errmsg(const sl_expr *p) { return p->errmsg; }

int sl_value_to_cell(const sl_value *v, sl_arena *a, sl_cell *c)
{
    memset(c, 0, sizeof *c);
    switch (v->type) {
    case SL_V_NULL:
        c->kind = SL_NULL;
        return SL_OK;
    case SL_V_BOOL:
        c->kind = SL_BOOL;
        c->p = v->u.b ? "true" : "false";
        c->len = v->u.b ? 4 : 5;
        return SL_OK;
    case SL_V_INT:
    case SL_V_DOUBLE: {
        char *buf = sl_arena_alloc(a, 40);
        if (!buf) return SL_E_NOMEM;
        c->kind = SL_NUMBER;
        c->p = buf;
        c->len = (uint32_t)(v->type == SL_V_INT ? sl_num_format_int(v->u.i, buf) : sl_num_format_double(v->u.d, buf));
        return SL_OK;
    }
    default:
        c->kind = v->kind ? v->kind : SL_STRING;
        c->len = v->len;
        c->p = v->u.s;
        if (v->scratch && v->len) {
            char *buf = sl_arena_alloc(a, v->len);
            if (!buf) return SL_E_NOMEM;
            memcpy(buf, v->u.s, v->len);
            c->p = buf;
        }
        return SL_OK;
    }
}
