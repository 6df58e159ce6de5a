/*
 * num.c - numbers to and from text, fast for the common shapes.
 *
 * Parsing: plain integers of up to 18 digits and decimals with up to 15
 * significant digits and a small exponent are converted exactly with one
 * IEEE multiplication or division by an exact power of ten (Clinger's fast
 * path: both operands are exact, so the one rounding is the correct one).
 * Decimals of 16 to 19 digits (what formatting writes for doubles such as
 * 0.1 + 0.2) with up to 20 fraction digits get a one-division estimate that
 * is then checked, and corrected by an ulp if needed, against the exact
 * value with 128-bit integers.  Everything else goes through strtod, which
 * glibc rounds correctly.
 *
 * Formatting: the text is the first of %.15g, %.16g, %.17g that reads back
 * as d (so 14.0 is "14", 0.1 + 0.2 is "0.30000000000000004").  In the range
 * printf writes without an exponent (1e-4 <= |d| < 1e15) it is computed
 * without printf: the correctly rounded 15-, 16- and 17-digit decimals of d
 * are computed exactly with 128-bit integers (one multiplication by a power
 * of ten each) and the first that reads back is written, trailing zeros
 * removed.  Other magnitudes use snprintf.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr/expr_int.h"

static const double pow10_exact[23] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static const uint64_t p10u[20] = {1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull, 10000000ull,
                                  100000000ull, 1000000000ull, 10000000000ull, 100000000000ull,
                                  1000000000000ull, 10000000000000ull, 100000000000000ull,
                                  1000000000000000ull, 10000000000000000ull, 100000000000000000ull,
                                  1000000000000000000ull, 10000000000000000000ull};

typedef unsigned __int128 u128;

/* 10^k exactly, k <= 38 */
static inline u128 p10w(int k)
{
    return k < 20 ? (u128)p10u[k] : (u128)p10u[19] * p10u[k - 19];
}

static inline int bitlen64(uint64_t x) { return x ? 64 - __builtin_clzll(x) : 0; }

/* m / 10^j correctly rounded (1 <= m < 2^64, 1 <= j <= 20), or false when the
   check would not fit in 128 bits.  The estimate (double)m / 10^j is off by
   at most about one ulp; it is moved to the neighbour while the exact value
   lies beyond the midpoint on that side (a tie keeps the even mantissa).
   With d = M 2^-s, the midpoints are (2M +- 1) 2^-(s+1) (below a power of
   two, (4M - 1) 2^-(s+2)), compared with m / 10^j by cross-multiplying:
   m 2^(s+2) and (4M + 2) 10^j are both below 2^(bitlen(m) + s + 2) <= 2^127. */
static bool exact_div(uint64_t m, int j, double *out)
{
    double d = (double)m / pow10_exact[j];
    u128 pk = p10w(j);
    for (int tries = 0; tries < 4; tries++) {
        uint64_t bits;
        memcpy(&bits, &d, sizeof bits);
        int ef = (int)(bits >> 52);
        if (ef == 0) return false; /* subnormal: not reached for m >= 1, j <= 20 */
        uint64_t M = (bits & ((1ull << 52) - 1)) | (1ull << 52);
        int s = 1075 - ef;
        if (s < 0 || bitlen64(m) + s + 2 > 127) return false;
        u128 x2 = (u128)m << (s + 1); /* m / 10^j vs midpoints, both times 2^(s+1) 10^j */
        u128 hi = (u128)(2 * M + 1) * pk;
        if (x2 > hi || (x2 == hi && (M & 1))) {
            bits++;
            memcpy(&d, &bits, sizeof d);
            if (x2 == hi) break; /* the tie went to the even neighbour */
            continue;
        }
        if (M == (1ull << 52) && ef > 1) {
            u128 x4 = x2 << 1, lo = (u128)(4 * M - 1) * pk;
            if (x4 < lo || (x4 == lo && (M & 1))) {
                bits--;
                memcpy(&d, &bits, sizeof d);
                if (x4 == lo) break;
                continue;
            }
        } else {
            u128 lo = (u128)(2 * M - 1) * pk;
            if (x2 < lo || (x2 == lo && (M & 1))) {
                bits--;
                memcpy(&d, &bits, sizeof d);
                if (x2 == lo) break;
                continue;
            }
        }
        *out = d;
        return true;
    }
    return false;
}

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
    double v;
    if (!lost && e10 < 0 && e10 >= -20 && exact_div(m, (int)-e10, &v)) {
        *dout = neg ? -v : v;
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
        double v;
        if (p == e && nint + nfrac <= 19 && nfrac - 1 < 20 && m && exact_div(m, (int)nfrac, &v)) {
            *dout = neg ? -v : v; /* 16..19 digits, 1..20 of them decimals */
            return SL_V_DOUBLE;
        }
    }
    return parse_general(s, n, iout, dout);
}

static const char digits2[201] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                                 "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                                 "8081828384858687888990919293949596979899";

/* The decimal digits of u, written to end backwards; returns where they start. */
static inline char *put_digits_rev(char *end, uint64_t u)
{
    while (u >= 100) {
        unsigned r = (unsigned)(u % 100);
        u /= 100;
        end -= 2;
        memcpy(end, digits2 + 2 * r, 2);
    }
    if (u >= 10) {
        end -= 2;
        memcpy(end, digits2 + 2 * u, 2);
    } else {
        *--end = (char)('0' + u);
    }
    return end;
}

size_t sl_num_format_int(int64_t i, char *buf)
{
    char tmp[24];
    uint64_t u = i < 0 ? 0 - (uint64_t)i : (uint64_t)i;
    char *p = put_digits_rev(tmp + sizeof tmp, u);
    size_t nd = (size_t)(tmp + sizeof tmp - p), k = 0;
    if (i < 0) buf[k++] = '-';
    memcpy(buf + k, p, nd);
    return k + nd;
}

/* Write u with k decimals (k may exceed its digits: leading zeros); u has no
   trailing zero when k > 0.  Composed in a local buffer with fixed-size
   moves (inlined), then one copy out: the variable-length copies and fills
   of a direct layout cost more than the digits themselves. */
static size_t put_fixed(char *buf, bool neg, uint64_t u, int k)
{
    char t[64];
    memset(t, '0', sizeof t);               /* leading zeros of 0.000ddd */
    char *end = t + 32;
    char *p = put_digits_rev(end, u);
    size_t nd = (size_t)(end - p);
    if ((size_t)k >= nd) {
        nd = (size_t)k + 1;                 /* "0" then k digits */
        p = end - nd;
    }
    size_t ni = nd - (size_t)k;             /* integer digits */
    char o[64];
    size_t n = 0;
    o[0] = '-';
    n = neg ? 1 : 0;
    memcpy(o + n, p, 24);                   /* all digits (at most 21) */
    if (k > 0) {
        memcpy(o + n + ni + 1, p + ni, 24); /* the fraction, one place on */
        o[n + ni] = '.';
        n += nd + 1;
    } else {
        n += nd;
    }
    memcpy(buf, o, n);
    return n;
}

/* The correctly rounded (ties to even, as printf) decimal of a = mant 2^-s
   with k decimals, m = round(a 10^k); returns whether m 10^-k reads back as
   a.  In 128-bit integers: mant 10^k needs at most 53 + 67 bits, m 2^s at
   most 57 + 66.  Reads back iff |m 2^s - mant 10^k| is under half the gap to
   the neighbour on its side (the gap below 2^52 2^-s is half as wide); a
   tie rounds to the even mantissa. */
static inline bool exact_digits(uint64_t mant, int s, int k, uint64_t *mout)
{
    u128 pk = p10w(k);
    u128 num = (u128)mant * pk;
    u128 q = num >> s, rem = num & (((u128)1 << s) - 1), half = (u128)1 << (s - 1);
    if (rem > half || (rem == half && (q & 1))) q++;
    *mout = (uint64_t)q;
    u128 lhs = q << s;
    bool below = lhs < num;
    u128 diff = below ? num - lhs : lhs - num;
    u128 scaled = diff * ((below && mant == (1ull << 52)) ? 4 : 2);
    return scaled < pk || (scaled == pk && !(mant & 1));
}

/* 10^x for x in -4..15 as doubles; the ones below 1 are above the real
   powers, so a >= p10d[x] exactly when a >= 10^x */
static const double p10d[20] = {1e-4, 1e-3, 1e-2, 1e-1, 1e0, 1e1, 1e2, 1e3, 1e4, 1e5,
                                1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};

size_t sl_num_format_double(double d, char *buf)
{
    if (d == 0) { /* also -0.0: written as 0 */
        buf[0] = '0';
        return 1;
    }
    double a = fabs(d);
    if (a >= 1e-4 && a < 1e15) {
        uint64_t bits;
        memcpy(&bits, &a, sizeof bits);
        uint64_t mant = (bits & ((1ull << 52) - 1)) | (1ull << 52);
        int s = 1075 - (int)((bits >> 52) & 0x7ff); /* 3..66 */
        int bexp = 52 - s;                          /* a in [2^bexp, 2^(bexp+1)) */
        int X = (bexp * 1233) >> 12;                /* floor(log10 a), or one low */
        if (a >= p10d[X + 5]) X++;
        /* %.15g, %.16g, %.17g: P significant digits are k = P - 1 - X decimals
           (k in 0..20); the 17-digit one always reads back */
        uint64_t m;
        int k = 14 - X;
        if (!exact_digits(mant, s, k, &m) && !exact_digits(mant, s, ++k, &m)) exact_digits(mant, s, ++k, &m);
        /* strip trailing zeros of the fraction (at most 16) */
        if (k >= 8 && m % 100000000 == 0) {
            m /= 100000000;
            k -= 8;
        }
        if (k >= 8 && m % 100000000 == 0) {
            m /= 100000000;
            k -= 8;
        }
        if (k >= 4 && m % 10000 == 0) {
            m /= 10000;
            k -= 4;
        }
        if (k >= 2 && m % 100 == 0) {
            m /= 100;
            k -= 2;
        }
        if (k >= 1 && m % 10 == 0) {
            m /= 10;
            k -= 1;
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
