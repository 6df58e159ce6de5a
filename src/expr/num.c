/*
 * num.c - numbers to and from text, fast for the common shapes.
 *
 * Parsing: plain integers of up to 18 digits and decimals with up to 15
 * significant digits and a small exponent are converted exactly with one
 * IEEE multiplication or division by an exact power of ten (Clinger's fast
 * path: both operands are exact, so the one rounding is the correct one).
 * Everything else goes through strtod, which glibc rounds correctly.
 *
 * Formatting: a double d that equals m / 10^k for an integer m < 2^53 with
 * at most 15 significant digits is written in fixed notation by integer
 * arithmetic (the division check is exact, so the text reads back as d);
 * the rest is the first of %.15g, %.16g, %.17g that reads back as d.
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

int sl_num_parse(const char *s, size_t n, int64_t *iout, double *dout)
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
            double m = nearbyint(y);
            if (m / pow10_exact[k] == a) {
                uint64_t u = (uint64_t)m;
                char digits[24];
                size_t nd = 0;
                do {
                    digits[nd++] = (char)('0' + u % 10);
                    u /= 10;
                } while (u);
                while (nd <= (size_t)k) digits[nd++] = '0'; /* leading zeros */
                size_t o = 0;
                if (d < 0) buf[o++] = '-';
                for (size_t j = nd; j > 0; j--) {
                    if (j == (size_t)k && k > 0) buf[o++] = '.';
                    buf[o++] = digits[j - 1];
                }
                return o;
            }
        }
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
