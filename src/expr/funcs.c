/*
 * funcs.c - the function library and its table (sl_expr_funcs).
 *
 * A function may write `out` only after it has read its arguments: out is
 * the slot of the first argument.
 *
 * Every function gets its arguments already evaluated (except if, coalesce,
 * is_null and now, which the compiler turns into jumps or constants) and
 * writes one value.  Unless a function says otherwise, a null argument
 * gives null.  Strings it makes go to the eval arena; strings it only cuts
 * (trim, substr, split_part, regex_extract) point into their argument.
 * Lengths and positions count characters (UTF-8 code points; a byte that
 * is not valid UTF-8 counts as one character); lower/upper change ASCII
 * letters only.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "expr/expr_int.h"

#define FN(name) static int fn_##name(sl_expr_rt *rt, sl_value *a, uint32_t n, sl_value *out)
#define UNUSED_N (void)n

static bool any_null(const sl_value *a, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (a[i].type == SL_V_NULL) return true;
    return false;
}

#define NULL_IN_NULL_OUT                       \
    do {                                       \
        if (any_null(a, n)) {                  \
            out->type = SL_V_NULL;             \
            return SL_OK;                      \
        }                                      \
    } while (0)

#define TEXT(i, s, l)                                  \
    const char *s;                                     \
    uint32_t l;                                        \
    do {                                               \
        int rc_ = val_text(rt, &a[i], &s, &l);         \
        if (rc_) return rc_;                           \
    } while (0)

static void set_bool(sl_value *out, bool b)
{
    out->type = SL_V_BOOL;
    out->u.b = b;
}

static void set_int(sl_value *out, int64_t i)
{
    out->type = SL_V_INT;
    out->u.i = i;
}

/* result points into argument i: keep its kind only if it is the whole */
static void set_slice(sl_value *out, const sl_value *arg, const char *s, uint32_t len)
{
    val_set_string(out, s, len, arg->scratch);
}

/* integer argument (truncated toward zero) */
static int int_arg(sl_expr_rt *rt, const sl_value *v, int64_t *out, const char *what)
{
    sl_value x;
    int rc = val_need_num(rt, v, &x, what);
    if (rc) return rc;
    if (x.type == SL_V_INT) {
        *out = x.u.i;
        return SL_OK;
    }
    if (x.u.d >= 9.2e18 || x.u.d <= -9.2e18) *out = x.u.d > 0 ? INT64_MAX / 2 : INT64_MIN / 2;
    else *out = (int64_t)x.u.d;
    return SL_OK;
}

/* double in range of int64 -> int, else stays double */
static void set_integral(sl_value *out, double d)
{
    if (d >= -9223372036854775808.0 && d < 9223372036854775808.0) set_int(out, (int64_t)d);
    else val_set_double(out, d);
}

/* ---- UTF-8 ---- */

static uint32_t u8_count(const char *s, uint32_t n)
{
    uint32_t c = 0;
    for (uint32_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) c++;
    return c;
}

/* byte offset of character k (k <= count) */
static uint32_t u8_offset(const char *s, uint32_t n, uint64_t k)
{
    uint32_t i = 0;
    while (i < n && k > 0) {
        i++;
        while (i < n && ((unsigned char)s[i] & 0xC0) == 0x80) i++;
        k--;
    }
    return i;
}

/* ---- strings ---- */

static int change_case(sl_expr_rt *rt, sl_value *a, sl_value *out, bool up)
{
    TEXT(0, s, l);
    uint32_t i = 0;
    for (; i < l; i++) {
        unsigned char c = (unsigned char)s[i];
        if (up ? (c >= 'a' && c <= 'z') : (c >= 'A' && c <= 'Z')) break;
    }
    if (i == l) { /* nothing to change */
        set_slice(out, &a[0], s, l);
        return SL_OK;
    }
    char *o = rt_alloc(rt, l);
    if (!o) return rt_nomem(rt);
    memcpy(o, s, i);
    for (; i < l; i++) {
        unsigned char c = (unsigned char)s[i];
        if (up && c >= 'a' && c <= 'z') c = (unsigned char)(c - 32);
        else if (!up && c >= 'A' && c <= 'Z') c = (unsigned char)(c + 32);
        o[i] = (char)c;
    }
    val_set_string(out, o, l, true);
    return SL_OK;
}

FN(lower) { NULL_IN_NULL_OUT; return change_case(rt, a, out, false); }
FN(upper) { NULL_IN_NULL_OUT; return change_case(rt, a, out, true); }

static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

static int do_trim(sl_expr_rt *rt, sl_value *a, sl_value *out, bool left, bool right)
{
    TEXT(0, s, l);
    uint32_t b = 0, e = l;
    if (left) while (b < e && is_ws(s[b])) b++;
    if (right) while (e > b && is_ws(s[e - 1])) e--;
    set_slice(out, &a[0], s + b, e - b);
    return SL_OK;
}

FN(trim) { NULL_IN_NULL_OUT; return do_trim(rt, a, out, true, true); }
FN(ltrim) { NULL_IN_NULL_OUT; return do_trim(rt, a, out, true, false); }
FN(rtrim) { NULL_IN_NULL_OUT; return do_trim(rt, a, out, false, true); }

FN(length)
{
    NULL_IN_NULL_OUT;
    TEXT(0, s, l);
    set_int(out, u8_count(s, l));
    return SL_OK;
}

FN(substr)
{
    NULL_IN_NULL_OUT;
    TEXT(0, s, l);
    int64_t start, len = INT64_MAX;
    int rc;
    if ((rc = int_arg(rt, &a[1], &start, "substr"))) return rc;
    if (n > 2 && (rc = int_arg(rt, &a[2], &len, "substr"))) return rc;
    uint32_t count = u8_count(s, l);
    if (start < 0) start += count;
    if (start < 0) start = 0;
    if (len < 0) len = 0;
    if ((uint64_t)start >= count || len == 0) {
        set_slice(out, &a[0], s, 0);
        return SL_OK;
    }
    uint32_t b = u8_offset(s, l, (uint64_t)start);
    uint32_t e = b + u8_offset(s + b, l - b, (uint64_t)len);
    set_slice(out, &a[0], s + b, e - b);
    return SL_OK;
}

FN(replace)
{
    NULL_IN_NULL_OUT;
    TEXT(0, s, l);
    TEXT(1, f, fl);
    TEXT(2, t, tl);
    if (fl == 0 || fl > l) {
        set_slice(out, &a[0], s, l);
        return SL_OK;
    }
    uint64_t count = 0;
    for (const char *p = s, *e = s + l; (p = memmem(p, (size_t)(e - p), f, fl)); p += fl) count++;
    if (count == 0) {
        set_slice(out, &a[0], s, l);
        return SL_OK;
    }
    uint64_t total = l + count * tl - count * fl;
    if (total > UINT32_MAX) return rt_error(rt, "replace: result longer than 4 GiB");
    char *o = rt_alloc(rt, total);
    if (!o) return rt_nomem(rt);
    char *w = o;
    const char *p = s, *e = s + l, *m;
    while ((m = memmem(p, (size_t)(e - p), f, fl))) {
        memcpy(w, p, (size_t)(m - p));
        w += m - p;
        memcpy(w, t, tl);
        w += tl;
        p = m + fl;
    }
    memcpy(w, p, (size_t)(e - p));
    val_set_string(out, o, (uint32_t)total, true);
    return SL_OK;
}

FN(contains)
{
    NULL_IN_NULL_OUT;
    UNUSED_N;
    TEXT(0, s, l);
    TEXT(1, f, fl);
    set_bool(out, fl == 0 || (fl <= l && memmem(s, l, f, fl) != NULL));
    return SL_OK;
}

FN(starts_with)
{
    NULL_IN_NULL_OUT;
    TEXT(0, s, l);
    TEXT(1, f, fl);
    set_bool(out, fl <= l && memcmp(s, f, fl) == 0);
    return SL_OK;
}

FN(ends_with)
{
    NULL_IN_NULL_OUT;
    TEXT(0, s, l);
    TEXT(1, f, fl);
    set_bool(out, fl <= l && memcmp(s + l - fl, f, fl) == 0);
    return SL_OK;
}

FN(split_part)
{
    NULL_IN_NULL_OUT;
    TEXT(0, s, l);
    TEXT(1, sep, sl);
    int64_t k;
    int rc = int_arg(rt, &a[2], &k, "split_part");
    if (rc) return rc;
    if (k == 0) return rt_error(rt, "split_part: part number 0 (expected 1 for the first part, -1 for the last)");
    if (sl == 0) {
        if (k == 1 || k == -1) set_slice(out, &a[0], s, l);
        else out->type = SL_V_NULL;
        return SL_OK;
    }
    /* count parts */
    uint64_t parts = 1;
    for (const char *p = s, *e = s + l; (p = memmem(p, (size_t)(e - p), sep, sl)); p += sl) parts++;
    if (k < 0) k += (int64_t)parts + 1;
    if (k < 1 || (uint64_t)k > parts) {
        out->type = SL_V_NULL;
        return SL_OK;
    }
    const char *p = s, *e = s + l;
    for (int64_t i = 1; i < k; i++) p = (const char *)memmem(p, (size_t)(e - p), sep, sl) + sl;
    const char *m = memmem(p, (size_t)(e - p), sep, sl);
    if (!m) m = e;
    set_slice(out, &a[0], p, (uint32_t)(m - p));
    return SL_OK;
}

FN(concat)
{
    uint64_t total = 0;
    const char *ss[64];
    uint32_t ls[64];
    for (uint32_t i = 0; i < n; i++) {
        if (a[i].type == SL_V_NULL) {
            ls[i] = 0;
            continue;
        }
        int rc = val_text(rt, &a[i], &ss[i], &ls[i]);
        if (rc) return rc;
        total += ls[i];
    }
    if (total > UINT32_MAX) return rt_error(rt, "concat: result longer than 4 GiB");
    char *o = rt_alloc(rt, total);
    if (!o) return rt_nomem(rt);
    size_t w = 0;
    for (uint32_t i = 0; i < n; i++)
        if (ls[i]) {
            memcpy(o + w, ss[i], ls[i]);
            w += ls[i];
        }
    val_set_string(out, o, (uint32_t)total, true);
    return SL_OK;
}

/* ---- regexes ---- */

static int get_re(sl_expr_rt *rt, sl_value *pat, regex_t **re)
{
    return rx_site_get(rt, rt->site, pat, re);
}

FN(regex_replace)
{
    NULL_IN_NULL_OUT;
    UNUSED_N;
    TEXT(0, s, l);
    TEXT(2, r, rl);
    regex_t *re;
    int rc = get_re(rt, &a[1], &re);
    if (rc) return rc;
    regmatch_t m[10];
    size_t nm = re->re_nsub + 1 < 10 ? re->re_nsub + 1 : 10;
    size_t cap = (size_t)l + rl + 16, w = 0;
    char *o = rt_alloc(rt, cap);
    if (!o) return rt_nomem(rt);
    uint32_t pos = 0;
    bool changed = false;
    for (;;) {
        if (pos > l || !rx_exec_at(re, s, l, pos, nm, m)) break;
        changed = true;
        uint32_t ms = (uint32_t)m[0].rm_so, me = (uint32_t)m[0].rm_eo;
        /* size of this piece: text before the match + expanded replacement */
        size_t need = (ms - pos);
        for (uint32_t i = 0; i < rl; i++) {
            if (r[i] == '\\' && i + 1 < rl && r[i + 1] >= '0' && r[i + 1] <= '9') {
                size_t g = (size_t)(r[i + 1] - '0');
                if (g < nm && m[g].rm_so >= 0) need += (size_t)(m[g].rm_eo - m[g].rm_so);
                i++;
            } else {
                need++;
            }
        }
        need += (me == ms && me < l) ? 1 : 0;
        if (w + need + (l - me) > cap) {
            size_t nc = (w + need + (l - me)) * 2;
            if (nc > UINT32_MAX) return rt_error(rt, "regex_replace: result longer than 4 GiB");
            char *no = rt_alloc(rt, nc);
            if (!no) return rt_nomem(rt);
            memcpy(no, o, w);
            o = no;
            cap = nc;
        }
        memcpy(o + w, s + pos, ms - pos);
        w += ms - pos;
        for (uint32_t i = 0; i < rl; i++) {
            if (r[i] == '\\' && i + 1 < rl && r[i + 1] >= '0' && r[i + 1] <= '9') {
                size_t g = (size_t)(r[i + 1] - '0');
                if (g < nm && m[g].rm_so >= 0) {
                    memcpy(o + w, s + m[g].rm_so, (size_t)(m[g].rm_eo - m[g].rm_so));
                    w += (size_t)(m[g].rm_eo - m[g].rm_so);
                }
                i++;
            } else if (r[i] == '\\' && i + 1 < rl && r[i + 1] == '\\') {
                o[w++] = '\\';
                i++;
            } else {
                o[w++] = r[i];
            }
        }
        if (me == ms) { /* empty match: keep one character and move on */
            if (me >= l) {
                pos = l + 1;
                break;
            }
            o[w++] = s[me];
            pos = me + 1;
        } else {
            pos = me;
        }
    }
    if (!changed) {
        set_slice(out, &a[0], s, l);
        return SL_OK;
    }
    if (pos < l) {
        memcpy(o + w, s + pos, l - pos);
        w += l - pos;
    }
    val_set_string(out, o, (uint32_t)w, true);
    return SL_OK;
}

FN(regex_extract)
{
    NULL_IN_NULL_OUT;
    TEXT(0, s, l);
    int64_t g = 0;
    int rc;
    if (n > 2 && (rc = int_arg(rt, &a[2], &g, "regex_extract"))) return rc;
    regex_t *re;
    if ((rc = get_re(rt, &a[1], &re))) return rc;
    if (g < 0 || (size_t)g > re->re_nsub)
        return rt_error(rt, "regex_extract: group %lld but the pattern has %zu group%s (expected 0 to %zu)",
                        (long long)g, re->re_nsub, re->re_nsub == 1 ? "" : "s", re->re_nsub);
    regmatch_t m[10];
    if (g > 9) return rt_error(rt, "regex_extract: group %lld (at most 9 groups are supported)", (long long)g);
    if (!rx_exec(re, s, l, (size_t)g + 1, m) || m[g].rm_so < 0) {
        out->type = SL_V_NULL;
        return SL_OK;
    }
    set_slice(out, &a[0], s + m[g].rm_so, (uint32_t)(m[g].rm_eo - m[g].rm_so));
    return SL_OK;
}

/* ---- casts ---- */

/* int from any value: 1 ok, 0 cannot */
static int to_int64(const sl_value *v, int64_t *out)
{
    sl_value x;
    if (v->type == SL_V_BOOL) {
        *out = v->u.b;
        return 1;
    }
    if (val_num(v, &x) == SL_V_NULL) return 0;
    if (x.type == SL_V_INT) {
        *out = x.u.i;
        return 1;
    }
    double t = trunc(x.u.d);
    if (t >= -9223372036854775808.0 && t < 9223372036854775808.0) {
        *out = (int64_t)t;
        return 1;
    }
    return 0;
}

FN(int)
{
    UNUSED_N;
    (void)rt;
    int64_t i;
    if (a[0].type != SL_V_NULL && to_int64(&a[0], &i)) set_int(out, i);
    else out->type = SL_V_NULL;
    return SL_OK;
}

FN(float)
{
    UNUSED_N;
    (void)rt;
    sl_value x;
    if (a[0].type == SL_V_BOOL) val_set_double(out, a[0].u.b);
    else if (val_num(&a[0], &x) == SL_V_NULL) out->type = SL_V_NULL;
    else val_set_double(out, x.type == SL_V_INT ? (double)x.u.i : x.u.d);
    return SL_OK;
}

FN(string)
{
    NULL_IN_NULL_OUT;
    TEXT(0, s, l);
    val_set_string(out, s, l, a[0].scratch || a[0].type == SL_V_INT || a[0].type == SL_V_DOUBLE);
    return SL_OK;
}

static bool word_is(const char *s, uint32_t l, const char *w)
{
    size_t n = strlen(w);
    if (l != n) return false;
    for (size_t i = 0; i < n; i++)
        if (tolower((unsigned char)s[i]) != w[i]) return false;
    return true;
}

FN(bool)
{
    UNUSED_N;
    (void)rt;
    const sl_value *v = &a[0];
    switch (v->type) {
    case SL_V_BOOL: *out = *v; return SL_OK;
    case SL_V_INT: set_bool(out, v->u.i != 0); return SL_OK;
    case SL_V_DOUBLE: set_bool(out, v->u.d != 0); return SL_OK;
    case SL_V_TEXT:
    case SL_V_STRING: {
        static const char *const yes[] = {"true", "t", "yes", "y", "1", "on"};
        static const char *const no[] = {"false", "f", "no", "n", "0", "off"};
        for (size_t i = 0; i < 6; i++) {
            if (word_is(v->u.s, v->len, yes[i])) { set_bool(out, true); return SL_OK; }
            if (word_is(v->u.s, v->len, no[i])) { set_bool(out, false); return SL_OK; }
        }
        sl_value x;
        if (val_num(v, &x) != SL_V_NULL) {
            set_bool(out, x.type == SL_V_INT ? x.u.i != 0 : x.u.d != 0);
            return SL_OK;
        }
        out->type = SL_V_NULL;
        return SL_OK;
    }
    default: out->type = SL_V_NULL; return SL_OK;
    }
}

FN(to_int)
{
    NULL_IN_NULL_OUT;
    sl_value x;
    int64_t i;
    if (a[0].type != SL_V_BOOL && val_num(&a[0], &x) != SL_V_NULL &&
        (x.type == SL_V_INT || (x.u.d == trunc(x.u.d) && to_int64(&x, &i)))) {
        set_int(out, x.type == SL_V_INT ? x.u.i : (int64_t)x.u.d);
        return SL_OK;
    }
    char d[64];
    return rt_error(rt, "to_int: cannot convert %s to an integer (expected an integer such as 42)",
                    val_describe(&a[0], d, sizeof d));
}

FN(to_float)
{
    NULL_IN_NULL_OUT;
    sl_value x;
    if (a[0].type != SL_V_BOOL && val_num(&a[0], &x) != SL_V_NULL) {
        val_set_double(out, x.type == SL_V_INT ? (double)x.u.i : x.u.d);
        return SL_OK;
    }
    char d[64];
    return rt_error(rt, "to_float: cannot convert %s to a number (expected a number such as 2.5)",
                    val_describe(&a[0], d, sizeof d));
}

/* ---- math ---- */

FN(abs)
{
    NULL_IN_NULL_OUT;
    sl_value x;
    int rc = val_need_num(rt, &a[0], &x, "abs");
    if (rc) return rc;
    if (x.type == SL_V_INT) {
        if (x.u.i == INT64_MIN) val_set_double(out, 9223372036854775808.0);
        else set_int(out, x.u.i < 0 ? -x.u.i : x.u.i);
    } else {
        val_set_double(out, fabs(x.u.d));
    }
    return SL_OK;
}

static const double p10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                               1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* x rounded to `digits` decimals, half away from zero, judged on the exact
   binary value of x: y = x*10^d is computed with its exact error (fma), so
   a product that lands on .5 only by rounding is not taken for a tie.  The
   final n / 10^d is one correctly rounded division: the nearest double to
   the decimal result. */
static double round_digits(double x, int digits)
{
    if (digits > 22) return x;
    double p = p10[digits];
    double y = x * p;
    if (!isfinite(y) || fabs(y) >= 4503599627370496.0) return x; /* no fraction left at this scale */
    double fl = (double)(int64_t)y; /* floor, without a libm call: |y| < 2^52 */
    if (fl > y) fl -= 1;
    double frac = y - fl; /* exact */
    double nr;
    if (frac > 0.5) {
        nr = fl + 1;
    } else if (frac < 0.5) {
        nr = fl;
    } else {
        double err = fma(x, p, -y);
        nr = err > 0 ? fl + 1 : err < 0 ? fl : (y > 0 ? fl + 1 : fl);
    }
    return nr / p;
}

FN(round)
{
    NULL_IN_NULL_OUT;
    sl_value x;
    int64_t digits = 0;
    int rc = val_need_num(rt, &a[0], &x, "round");
    if (rc) return rc;
    if (n > 1 && (rc = int_arg(rt, &a[1], &digits, "round"))) return rc;
    if (x.type == SL_V_INT) {
        if (digits >= 0) {
            set_int(out, x.u.i);
            return SL_OK;
        }
        if (digits < -18) {
            set_int(out, 0);
            return SL_OK;
        }
        int64_t p = 1;
        for (int64_t i = 0; i < -digits; i++) p *= 10;
        int64_t q = x.u.i / p, r = x.u.i % p;
        if (r < 0 ? -r >= p - (-r) : r >= p - r) q += x.u.i < 0 ? -1 : 1;
        int64_t res;
        if (__builtin_mul_overflow(q, p, &res)) val_set_double(out, (double)q * (double)p);
        else set_int(out, res);
        return SL_OK;
    }
    double d = x.u.d;
    if (digits > 0) {
        val_set_double(out, round_digits(d, (int)(digits > 30 ? 30 : digits)));
    } else if (digits == 0) {
        set_integral(out, round(d));
    } else {
        int k = (int)(digits < -22 ? 22 : -digits);
        set_integral(out, round(d / p10[k]) * p10[k]);
    }
    return SL_OK;
}

static int floor_ceil(sl_expr_rt *rt, sl_value *a, sl_value *out, bool up)
{
    sl_value x;
    int rc = val_need_num(rt, &a[0], &x, up ? "ceil" : "floor");
    if (rc) return rc;
    if (x.type == SL_V_INT) set_int(out, x.u.i);
    else set_integral(out, up ? ceil(x.u.d) : floor(x.u.d));
    return SL_OK;
}

FN(floor) { NULL_IN_NULL_OUT; return floor_ceil(rt, a, out, false); }
FN(ceil) { NULL_IN_NULL_OUT; return floor_ceil(rt, a, out, true); }

static int min_max(sl_expr_rt *rt, sl_value *a, uint32_t n, sl_value *out, bool max)
{
    int best = -1;
    for (uint32_t i = 0; i < n; i++) {
        if (a[i].type == SL_V_NULL) continue;
        if (best < 0) {
            best = (int)i;
            continue;
        }
        int c;
        val_cmp(rt, &a[i], &a[best], &c);
        if (max ? c > 0 : c < 0) best = (int)i;
    }
    if (best < 0) out->type = SL_V_NULL;
    else *out = a[best];
    return SL_OK;
}

FN(min) { return min_max(rt, a, n, out, false); }
FN(max) { return min_max(rt, a, n, out, true); }

FN(pow)
{
    NULL_IN_NULL_OUT;
    sl_value x, y;
    int rc;
    if ((rc = val_need_num(rt, &a[0], &x, "pow")) || (rc = val_need_num(rt, &a[1], &y, "pow"))) return rc;
    if (x.type == SL_V_INT && y.type == SL_V_INT && y.u.i >= 0) {
        int64_t base = x.u.i, e = y.u.i, r = 1;
        bool ovf = false;
        while (e > 0 && !ovf) {
            if (e & 1) ovf |= __builtin_mul_overflow(r, base, &r);
            e >>= 1;
            if (e) ovf |= __builtin_mul_overflow(base, base, &base);
        }
        if (!ovf) {
            set_int(out, r);
            return SL_OK;
        }
    }
    double p = x.type == SL_V_INT ? (double)x.u.i : x.u.d;
    double q = y.type == SL_V_INT ? (double)y.u.i : y.u.d;
    val_set_double(out, pow(p, q));
    return SL_OK;
}

FN(sqrt)
{
    NULL_IN_NULL_OUT;
    sl_value x;
    int rc = val_need_num(rt, &a[0], &x, "sqrt");
    if (rc) return rc;
    double d = x.type == SL_V_INT ? (double)x.u.i : x.u.d;
    if (d < 0) out->type = SL_V_NULL;
    else val_set_double(out, sqrt(d));
    return SL_OK;
}

FN(is_number)
{
    UNUSED_N;
    (void)rt;
    sl_value x;
    set_bool(out, val_num(&a[0], &x) != SL_V_NULL);
    return SL_OK;
}

/* ---- time ---- */

static bool cstr(sl_expr_rt *rt, const sl_value *v, char *buf, size_t cap)
{
    const char *s;
    uint32_t l;
    if (val_text(rt, v, &s, &l) || l >= cap || memchr(s, 0, l)) return false;
    memcpy(buf, s, l);
    buf[l] = 0;
    return true;
}

FN(strptime)
{
    NULL_IN_NULL_OUT;
    char text[256], fmt[256];
    if (!cstr(rt, &a[0], text, sizeof text) || !cstr(rt, &a[1], fmt, sizeof fmt)) {
        out->type = SL_V_NULL;
        return SL_OK;
    }
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_mday = 1;
    tm.tm_year = 70;
    const char *end = strptime(text, fmt, &tm);
    if (!end || *end) {
        out->type = SL_V_NULL;
        return SL_OK;
    }
    long off = tm.tm_gmtoff;
    tm.tm_isdst = 0;
    time_t t = timegm(&tm);
    set_int(out, (int64_t)t - off);
    return SL_OK;
}

FN(strftime)
{
    NULL_IN_NULL_OUT;
    sl_value x;
    int rc = val_need_num(rt, &a[0], &x, "strftime");
    if (rc) return rc;
    char fmt[256];
    if (!cstr(rt, &a[1], fmt, sizeof fmt)) return rt_error(rt, "strftime: format longer than 255 bytes");
    double secs = x.type == SL_V_INT ? (double)x.u.i : floor(x.u.d);
    if (secs < -62135596800.0 || secs > 253402300799.0) { /* years 1..9999 */
        out->type = SL_V_NULL;
        return SL_OK;
    }
    time_t t = (time_t)secs;
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        out->type = SL_V_NULL;
        return SL_OK;
    }
    char *o = rt_alloc(rt, 256);
    if (!o) return rt_nomem(rt);
    size_t len = strftime(o, 256, fmt, &tm);
    if (len == 0 && fmt[0]) {
        out->type = SL_V_NULL;
        return SL_OK;
    }
    val_set_string(out, o, (uint32_t)len, true);
    return SL_OK;
}

/* ---- hashes ---- */

FN(hash)
{
    NULL_IN_NULL_OUT;
    TEXT(0, s, l);
    set_int(out, (int64_t)sl_hash64(s, l, 0));
    return SL_OK;
}

static int hex_out(sl_expr_rt *rt, const uint8_t *d, size_t n, sl_value *out)
{
    static const char hx[] = "0123456789abcdef";
    char *o = rt_alloc(rt, n * 2);
    if (!o) return rt_nomem(rt);
    for (size_t i = 0; i < n; i++) {
        o[2 * i] = hx[d[i] >> 4];
        o[2 * i + 1] = hx[d[i] & 15];
    }
    val_set_string(out, o, (uint32_t)(n * 2), true);
    return SL_OK;
}

FN(md5)
{
    NULL_IN_NULL_OUT;
    TEXT(0, s, l);
    uint8_t d[16];
    sl_md5(s, l, d);
    return hex_out(rt, d, 16, out);
}

FN(sha256)
{
    NULL_IN_NULL_OUT;
    TEXT(0, s, l);
    uint8_t d[32];
    sl_sha256(s, l, d);
    return hex_out(rt, d, 32, out);
}

/* ---- the table (ordered by name) ---- */

#define F(nm, sig, sum, mn, mx, at, rt_, f) {nm, sig, sum, mn, mx, at, rt_, f}

const sl_expr_func sl_expr_funcs[] = {
    F("abs", "abs(x) -> number", "absolute value", 1, 1, "n", 'n', fn_abs),
    F("bool", "bool(x) -> bool", "true/false from true, yes, 1, on... (any case) or a number; null when it is neither", 1, 1, "a", 'b', fn_bool),
    F("ceil", "ceil(x) -> number", "smallest integer >= x", 1, 1, "n", 'n', fn_ceil),
    F("coalesce", "coalesce(x, y, ...) -> any", "first argument that is not null (later ones are not evaluated)", 1, -1, "a", 'a', NULL),
    F("concat", "concat(x, y, ...) -> string", "join the texts of the arguments, skipping nulls", 1, -1, "s", 's', fn_concat),
    F("contains", "contains(s, part) -> bool", "whether part occurs in s", 2, 2, "s", 'b', fn_contains),
    F("ends_with", "ends_with(s, suffix) -> bool", "whether s ends with suffix", 2, 2, "s", 'b', fn_ends_with),
    F("float", "float(x) -> double", "x as a floating-point number; null when it is not a number", 1, 1, "a", 'd', fn_float),
    F("floor", "floor(x) -> number", "largest integer <= x", 1, 1, "n", 'n', fn_floor),
    F("hash", "hash(x) -> int", "fast 64-bit non-cryptographic hash of the text of x (stable across runs and machines)", 1, 1, "s", 'i', fn_hash),
    F("if", "if(cond, then, else) -> any", "then when cond is true, else otherwise (only one branch is evaluated)", 3, 3, "baa", 'a', NULL),
    F("int", "int(x) -> int", "x as an integer (truncated toward zero); null when it is not a number", 1, 1, "a", 'i', fn_int),
    F("is_null", "is_null(x) -> bool", "whether x is null (an empty or missing field)", 1, 1, "a", 'b', NULL),
    F("is_number", "is_number(x) -> bool", "whether x is a number or text that reads as one", 1, 1, "a", 'b', fn_is_number),
    F("length", "length(s) -> int", "number of characters (UTF-8 code points)", 1, 1, "s", 'i', fn_length),
    F("lower", "lower(s) -> string", "ASCII letters to lower case", 1, 1, "s", 's', fn_lower),
    F("ltrim", "ltrim(s) -> string", "remove leading white space", 1, 1, "s", 's', fn_ltrim),
    F("max", "max(x, y, ...) -> any", "largest argument, ignoring nulls", 1, -1, "a", 'a', fn_max),
    F("md5", "md5(x) -> string", "MD5 digest of the text of x, 32 hex digits", 1, 1, "s", 's', fn_md5),
    F("min", "min(x, y, ...) -> any", "smallest argument, ignoring nulls", 1, -1, "a", 'a', fn_min),
    F("now", "now() -> int", "seconds since 1970-01-01 UTC when the run started (the same for every record)", 0, 0, "", 'i', NULL),
    F("pow", "pow(x, y) -> number", "x to the power y (an integer when both are and it fits)", 2, 2, "n", 'n', fn_pow),
    F("regex_extract", "regex_extract(s, re, group = 0) -> string", "text of the first match of re (or of its group); null when none", 2, 3, "ssn", 's', fn_regex_extract),
    F("regex_replace", "regex_replace(s, re, repl) -> string", "replace every match of re by repl (\\1..\\9 insert groups, \\0 the match)", 3, 3, "s", 's', fn_regex_replace),
    F("replace", "replace(s, from, to) -> string", "replace every occurrence of from by to (no patterns)", 3, 3, "s", 's', fn_replace),
    F("round", "round(x, digits = 0) -> number", "x rounded to digits decimals, halves away from zero", 1, 2, "n", 'n', fn_round),
    F("rtrim", "rtrim(s) -> string", "remove trailing white space", 1, 1, "s", 's', fn_rtrim),
    F("sha256", "sha256(x) -> string", "SHA-256 digest of the text of x, 64 hex digits", 1, 1, "s", 's', fn_sha256),
    F("split_part", "split_part(s, sep, n) -> string", "n-th part of s split at sep (1 = first, -1 = last); null when there is none", 3, 3, "ssn", 's', fn_split_part),
    F("sqrt", "sqrt(x) -> double", "square root; null for negative x", 1, 1, "n", 'd', fn_sqrt),
    F("starts_with", "starts_with(s, prefix) -> bool", "whether s starts with prefix", 2, 2, "s", 'b', fn_starts_with),
    F("strftime", "strftime(t, fmt) -> string", "format epoch seconds t in UTC with strftime(3) directives", 2, 2, "ns", 's', fn_strftime),
    F("string", "string(x) -> string", "the text of x (numbers in their shortest form)", 1, 1, "a", 's', fn_string),
    F("strptime", "strptime(s, fmt) -> int", "parse s with strptime(3) directives as UTC (%z offsets apply) to epoch seconds; null when it does not match", 2, 2, "s", 'i', fn_strptime),
    F("substr", "substr(s, start, len) -> string", "len characters from position start (0 = first; negative counts from the end; len may be left out)", 2, 3, "snn", 's', fn_substr),
    F("to_float", "to_float(x) -> double", "x as a number; a record error when it is not one", 1, 1, "a", 'd', fn_to_float),
    F("to_int", "to_int(x) -> int", "x as an integer; a record error when it is not a whole number", 1, 1, "a", 'i', fn_to_int),
    F("trim", "trim(s) -> string", "remove leading and trailing white space", 1, 1, "s", 's', fn_trim),
    F("upper", "upper(s) -> string", "ASCII letters to upper case", 1, 1, "s", 's', fn_upper),
    {NULL, NULL, NULL, 0, 0, NULL, 0, NULL},
};
