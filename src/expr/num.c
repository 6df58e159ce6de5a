/*
 * num.c - numbers to and from text, fast for the common shapes.
 *
 * Parsing: plain integers of up to 18 digits and decimals with up to 15
 * significant digits and a small exponent are converted exactly with one
 * IEEE multiplication or division by an exact power of ten (Clinger's fast
 * path: both operands are exact, so the one rounding is the correct one).
 * Everything else goes through strtod, which glibc rounds correctly.
 *
 * Formatting: the text is the first of %.15g, %.16g, %.17g that reads back
 * as d (so 14.0 is "14", 0.1 + 0.2 is "0.30000000000000004").  In the range
 * printf writes without an exponent (1e-4 <= |d| < 1e15) it is computed
 * without printf: a d that equals m / 10^k for an integer m with at most 15
 * digits is found by trying k = 0, 1, ... (the division check is exact, so
 * the text reads back as d); otherwise the 16- and 17-digit decimals are
 * computed exactly with 128-bit integers.  Other magnitudes use snprintf.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr/expr_int.h"

static const double pow10_exact[23] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static int parse_slow(const char *s, size_t n, double *d)
{
    char buf[512];
    if (n >= sizeof buf) return SL_V_NULL;
    memcpy(buf, s, n);
    buf[n] = 0;
    char *end;
    double v = strtod(buf, &end);
    if (end != buf + n || !isfinite(v)) return SL_V_NULL;
    *d = v;
    return SL_V_DOUBLE;
}

/* the general parser: any length, exponents, rounding through strtod */
static int parse_general(const char *s, size_t n, int64_t *iout, double *dout)
{
    const char *p = s, *e = s + n;
    bool neg = false;
    if (p < e && (*p == '-' || *p == '+')) neg = (*p++ == '-');
    uint64_t m = 0;
    int digits = 0;      /* significant digits accumulated into m */
    int dropped = 0;     /* integer digits not accumulated (too many) */
    int fracdigits = 0;  /* fraction digits accumulated into m */
    bool any = false, frac = false, exp = false, lost = false;
    const char *q = p;
    while (q < e && (unsigned)(*q - '0') < 10) {
        unsigned dg = (unsigned)(*q - '0');
        if (digits < 19) {
            m = m * 10 + dg;
            if (m) digits++;
        } else {
            dropped++;
            lost = true;
        }
        q++;
        any = true;
    }
    if (q < e && *q == '.') {
        frac = true;
        q++;
        while (q < e && (unsigned)(*q - '0') < 10) {
            unsigned dg = (unsigned)(*q - '0');
            if (digits < 19) {
                m = m * 10 + dg;
                if (m) digits++;
                fracdigits++;
            } else if (dg) {
                lost = true;
            }
            q++;
            any = true;
        }
    }
    if (!any) return SL_V_NULL;
    long ex = 0;
    if (q < e && (*q == 'e' || *q == 'E')) {
        exp = true;
        q++;
        bool eneg = false;
        if (q < e && (*q == '-' || *q == '+')) eneg = (*q++ == '-');
        if (q >= e || (unsigned)(*q - '0') >= 10) return SL_V_NULL;
        while (q < e && (unsigned)(*q - '0') < 10) {
            if (ex < 100000) ex = ex * 10 + (*q - '0');
            q++;
        }
        if (eneg) ex = -ex;
    }
    if (q != e) return SL_V_NULL;

    if (!frac && !exp) {
        if (!lost && digits <= 18) {
            *iout = neg ? -(int64_t)m : (int64_t)m;
            return SL_V_INT;
        }
        if (!lost) { /* 19 digits: may still fit */
            if (!neg && m <= (uint64_t)INT64_MAX) {
                *iout = (int64_t)m;
                return SL_V_INT;
            }
            if (neg && m <= (uint64_t)INT64_MAX + 1) {
                *iout = (int64_t)(0 - m);
                return SL_V_INT;
            }
        }
        return parse_slow(s, n, dout);
    }
    /* decimal: value = m * 10^(ex - fracdigits + dropped) */
    long e10 = ex - fracdigits + dropped;
    if (!lost && digits <= 15 && e10 >= -22 && e10 <= 22) {
        double v = (double)m;
        if (e10 < 0) v /= pow10_exact[-e10];
        else v *= pow10_exact[e10];
        if (!isfinite(v)) return SL_V_NULL;
        *dout = neg ? -v : v;
        return SL_V_DOUBLE;
    }
    if (m == 0 && !lost) {
        *dout = neg ? -0.0 : 0.0;
        return SL_V_DOUBLE;
    }
    return parse_slow(s, n, dout);
}

int sl_num_parse(const char *s, size_t n, int64_t *iout, double *dout)
{
    /* fast path: [-+]digits and [-+]digits.digits with at most 15 digits in
       all (18 for integers); m may wrap on long inputs, which then take the
       general path anyway */
    const unsigned char *p = (const unsigned char *)s, *e = p + n;
    if (p == e) return SL_V_NULL;
    bool neg = *p == '-';
    if (neg || *p == '+') p++;
    const unsigned char *ds = p;
    uint64_t m = 0;
    while (p < e && (unsigned)(*p - '0') < 10) m = m * 10 + (unsigned)(*p++ - '0');
    size_t nint = (size_t)(p - ds);
    if (p == e) {
        if (nint - 1 < 18) { /* 1..18 digits */
            *iout = neg ? -(int64_t)m : (int64_t)m;
            return SL_V_INT;
        }
    } else if (*p == '.') {
        const unsigned char *fs = ++p;
        while (p < e && (unsigned)(*p - '0') < 10) m = m * 10 + (unsigned)(*p++ - '0');
        size_t nfrac = (size_t)(p - fs);
        if (p == e && nint + nfrac - 1 < 15) { /* 1..15 digits */
            double v = (double)m / pow10_exact[nfrac];
            *dout = neg ? -v : v;
            return SL_V_DOUBLE;
        }
    }
    return parse_general(s, n, iout, dout);
}

size_t sl_num_format_int(int64_t i, char *buf)
{
    char tmp[24];
    size_t n = 0;
    uint64_t u = i < 0 ? 0 - (uint64_t)i : (uint64_t)i;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    size_t k = 0;
    if (i < 0) buf[k++] = '-';
    while (n) buf[k++] = tmp[--n];
    return k;
}

/* Write u with k decimals (k may exceed its digits: leading zeros). */
static size_t put_fixed(char *buf, bool neg, uint64_t u, int k)
{
    char digits[24];
    size_t nd = 0;
    do {
        digits[nd++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    while (nd <= (size_t)k) digits[nd++] = '0'; /* leading zeros */
    size_t o = 0;
    if (neg) buf[o++] = '-';
    for (size_t j = nd; j > 0; j--) {
        if (j == (size_t)k && k > 0) buf[o++] = '.';
        buf[o++] = digits[j - 1];
    }
    return o;
}

typedef unsigned __int128 u128;

/* The correctly rounded P-digit decimal of a = mant * 2^-s (a in [1e-4,
   1e15)), as m * 10^-k with 10^(P-1) <= m < 10^P; returns whether it reads
   back as a.  Exact 128-bit integer arithmetic: mant * 10^k needs at most
   53 + 70 bits, m * 2^s at most 57 + 66. */
static bool exact_digits(uint64_t mant, int s, int P, uint64_t *mout, int *kout)
{
    static const uint64_t p10u[20] = {1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull, 10000000ull,
                                      100000000ull, 1000000000ull, 10000000000ull, 100000000000ull,
                                      1000000000000ull, 10000000000000ull, 100000000000000ull,
                                      1000000000000000ull, 10000000000000000ull, 100000000000000000ull,
                                      1000000000000000000ull, 10000000000000000000ull};
    int bexp = 52 - s; /* a in [2^bexp, 2^(bexp+1)) */
    int X = (bexp * 1233) >> 12; /* floor(log10 2^bexp), maybe one low */
    int k = P - 1 - X;
    uint64_t m = 0;
    u128 pk = 0;
    for (int tries = 0; tries < 4; tries++) {
        pk = 1;
        for (int i = 0; i < k; i++) pk *= 10;
        u128 num = (u128)mant * pk;
        u128 q = num >> s, rem = num & (((u128)1 << s) - 1), half = (u128)1 << (s - 1);
        if (rem > half || (rem == half && (q & 1))) q++;
        if (q >= p10u[P]) { k--; continue; }
        if (q < p10u[P - 1]) { k++; continue; }
        m = (uint64_t)q;
        break;
    }
    *mout = m;
    *kout = k;
    /* reads back iff |m 2^s - mant 10^k| is under half the gap to the
       neighbour on its side (the gap below 2^52 * 2^-s is half as wide);
       a tie rounds to the even mantissa */
    u128 lhs = (u128)m << s, rhs = (u128)mant * pk;
    bool below = lhs < rhs;
    u128 diff = below ? rhs - lhs : lhs - rhs;
    u128 scaled = diff * ((below && mant == (1ull << 52)) ? 4 : 2);
    return scaled < pk || (scaled == pk && !(mant & 1));
}

size_t sl_num_format_double(double d, char *buf)
{
    if (d == 0) { /* also -0.0: written as 0 */
        buf[0] = '0';
        return 1;
    }
    double a = fabs(d);
    if (a >= 1e-4 && a < 1e15) {
        /* smallest k with d == m / 10^k, m integral with <= 15 digits */
        for (int k = 0; k <= 19; k++) {
            double y = a * pow10_exact[k];
            if (y >= 1e15) break;
            double m = (double)(uint64_t)(y + 0.5); /* any near integer will do: checked below */
            if (m / pow10_exact[k] == a) return put_fixed(buf, d < 0, (uint64_t)m, k);
        }
        /* 16 or 17 digits, exactly as %.16g / %.17g would print them */
        uint64_t bits;
        memcpy(&bits, &a, sizeof bits);
        uint64_t mant = (bits & ((1ull << 52) - 1)) | (1ull << 52);
        int s = 1075 - (int)((bits >> 52) & 0x7ff);
        uint64_t m;
        int k;
        if (!exact_digits(mant, s, 16, &m, &k)) exact_digits(mant, s, 17, &m, &k);
        while (k > 0 && m % 10 == 0) {
            m /= 10;
            k--;
        }
        return put_fixed(buf, d < 0, m, k);
    }
    char tmp[40];
    for (int prec = 15; prec <= 17; prec++) {
        int len = snprintf(tmp, sizeof tmp, "%.*g", prec, d);
        if (prec == 17 || strtod(tmp, NULL) == d) {
            memcpy(buf, tmp, (size_t)len);
            return (size_t)len;
        }
    }
    return 0; /* not reached */
}
