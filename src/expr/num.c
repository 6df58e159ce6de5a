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
 * without printf, as the shortest decimal that reads back as d, and of that
 * length the one nearest d (ties to even, as printf rounds).  That is the
 * same text: a decimal of 15 digits or fewer that reads back is the only
 * one of its length that does, so it is what %.15g rounds to; two of 16
 * digits can, and the nearer is %.16g's.  The two rules would differ only
 * where the 16-digit decimal nearest d is outside the narrower gap below a
 * power of two while the next one is inside, which happens for no power of
 * two in this range (it does for some outside it, e.g. 2^-24, 2^89).
 *
 * Integral values are written as integers.  Otherwise, with d = mant 2^-s,
 * V = |d| 10^k (k chosen so V has 17 digits before the point) is computed
 * exactly as mant 5^k 2^-(s-k): one 64 x 64-bit multiplication, split into
 * integer and fraction.  So are the ends of the interval of reals that read
 * back as d, V plus and minus half the gaps to the neighbours (the lower gap
 * half as wide when mant is 2^52; in this range an end is never a whole
 * number of units of V, so whether it reads back as d does not matter).  The
 * interval is under 23 units of V wide, so it holds at most one multiple of
 * 100 -- if there is one, it is the shortest decimal (any shorter is one
 * too) -- else the nearer of the multiples of 10 around V that lies in it
 * (16 digits), else V rounded (17 digits, always in it).  Its 17 digits are
 * made at once (SSE2, or 64-bit SWAR without it), trailing zeros found from
 * them, and laid out with fixed-size moves.  This is the idea of Ryu and
 * Schubfach (shortest in the rounding interval) cut down to the range where
 * exact 128-bit arithmetic needs no tables; hand-written, as there is no C
 * library for it in Debian (libdragonbox and libdouble-conversion are C++).
 * Other magnitudes use snprintf.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr/expr_int.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

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
    int k = sl_num_parse_common(s, n, iout, dout); /* the common shapes (expr.h) */
    if (k >= 0) return k;
    if (n == 0) return SL_V_NULL;
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

/* The 16 decimal digits of a8 10^8 + b8 (a8, b8 < 10^8) as ASCII at p;
   returns how many there are up to the last nonzero one (0 if none). */
#ifdef __SSE2__
/* Both halves at once: each split into 4 + 4 digits in 64-bit lanes
   (x 0xd1b71759 >> 45 is x / 10^4 for x < 10^8), then each 4-digit group
   4v, copied to four 16-bit lanes, multiplied high by constants that give
   v / 1000, v / 100, v / 10, v in the lanes; less ten times the lane
   before, those are the digits (the SSE2 method of integer printers). */
static inline int digits16(char *p, uint32_t a8, uint32_t b8)
{
    __m128i v = _mm_set_epi64x(b8, a8);
    __m128i hi4 = _mm_srli_epi64(_mm_mul_epu32(v, _mm_set1_epi32((int)0xd1b71759)), 45);
    __m128i lo4 = _mm_sub_epi32(v, _mm_mul_epu32(hi4, _mm_set1_epi32(10000)));
    __m128i t = _mm_slli_epi64(_mm_or_si128(hi4, _mm_slli_epi64(lo4, 32)), 2);
    __m128i w0 = _mm_shuffle_epi32(_mm_unpacklo_epi16(t, t), _MM_SHUFFLE(2, 2, 0, 0));
    __m128i w1 = _mm_shuffle_epi32(_mm_unpackhi_epi16(t, t), _MM_SHUFFLE(2, 2, 0, 0));
    const __m128i div = _mm_setr_epi16(8389, 5243, 13108, (short)0x8000, 8389, 5243, 13108, (short)0x8000);
    const __m128i mul = _mm_setr_epi16(1 << 7, 1 << 11, 1 << 13, (short)0x8000, 1 << 7, 1 << 11, 1 << 13, (short)0x8000);
    /* ten in the lanes that matter: the top lane of each 4 is shifted out
       (and one multiply instruction beats the shifts and adds the compiler
       makes of a multiplication by 10 everywhere) */
    const __m128i ten = _mm_setr_epi16(10, 10, 10, 1, 10, 10, 10, 1);
    __m128i q0 = _mm_mulhi_epu16(_mm_mulhi_epu16(w0, div), mul);
    __m128i q1 = _mm_mulhi_epu16(_mm_mulhi_epu16(w1, div), mul);
    __m128i d0 = _mm_sub_epi16(q0, _mm_slli_epi64(_mm_mullo_epi16(q0, ten), 16));
    __m128i d1 = _mm_sub_epi16(q1, _mm_slli_epi64(_mm_mullo_epi16(q1, ten), 16));
    __m128i d = _mm_packus_epi16(d0, d1);
    _mm_storeu_si128((__m128i *)p, _mm_add_epi8(d, _mm_set1_epi8('0')));
    unsigned nz = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(d, _mm_setzero_si128())) ^ 0xffffu;
    return 31 - __builtin_clz((nz << 1) | 1);
}
#else
/* The 8 digits of x < 10^8 as byte values 0..9, the first in the lowest
   byte: split into 4 + 4 digits in 32-bit lanes, each into 2 + 2 in 16-bit
   lanes, each into 1 + 1 in bytes, by multiplying by reciprocals
   (v 10486 >> 20 is v / 100 for v < 10^4, w 103 >> 10 is w / 10 for
   w < 100; no lane's product reaches the next lane's bits). */
static inline uint64_t digits8(uint32_t x)
{
    uint64_t y = (x / 10000) | ((uint64_t)(x % 10000) << 32);
    uint64_t q = ((y * 10486) >> 20) & 0x0000007f0000007full;
    uint64_t z = q | ((y - 100 * q) << 16);
    uint64_t t = ((z * 103) >> 10) & 0x000f000f000f000full;
    return t | ((z - 10 * t) << 8);
}

static inline void store8(char *p, uint64_t w) /* w's bytes, lowest first */
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    memcpy(p, &w, 8);
}

static inline int digits16(char *p, uint32_t a8, uint32_t b8)
{
    uint64_t wa = digits8(a8), wb = digits8(b8);
    store8(p, wa + 0x3030303030303030ull);
    store8(p + 8, wb + 0x3030303030303030ull);
    return wb ? 16 - (__builtin_clzll(wb) >> 3) : wa ? 8 - (__builtin_clzll(wa) >> 3) : 0;
}
#endif

/* Copy 2 <= n <= 32 bytes with two fixed-size, possibly overlapping moves. */
static inline void copy_short(char *dst, const char *src, size_t n)
{
    if (n <= 8) {
        if (n >= 4) {
            memcpy(dst, src, 4);
            memcpy(dst + n - 4, src + n - 4, 4);
        } else {
            memcpy(dst, src, 2);
            memcpy(dst + n - 2, src + n - 2, 2);
        }
    } else if (n >= 16) {
        memcpy(dst, src, 16);
        memcpy(dst + n - 16, src + n - 16, 16);
    } else {
        memcpy(dst, src, 8);
        memcpy(dst + n - 8, src + n - 8, 8);
    }
}

/* Write c 10^(X-16) without an exponent, trailing zeros of the fraction
   removed, for 10^16 <= c < 10^17, -4 <= X <= 14, and a value that is not
   an integer (so there is a fraction).  Laid out in a local buffer with
   fixed-size moves, then copied out: "0." and -X - 1 zeros before the 17
   digits when X < 0; else the digits with the fraction moved one place on
   for the point. */
static size_t put_fixed17(char *buf, bool neg, uint64_t c, int X)
{
    uint64_t hi9 = c / 100000000;
    uint32_t lo8 = (uint32_t)(c - hi9 * 100000000);
    uint32_t top = (uint32_t)hi9 / 100000000, mid8 = (uint32_t)hi9 - top * 100000000;
    char o[64];
    size_t sg = neg, p = sg + (X < 0 ? (size_t)(1 - X) : 0); /* the first digit */
    o[0] = '-';
    memcpy(o + sg, "0.000000", 8);
    o[p] = (char)('0' + top);
    size_t n = p + 1 + (size_t)digits16(o + p + 1, mid8, lo8); /* to the last nonzero digit */
    if (X >= 0) { /* X + 1 integer digits, the point, the rest (the bytes
                     moved past the digits are never copied out) */
        char f[16];
        memcpy(f, o + p + (size_t)X + 1, 16);
        o[p + (size_t)X + 1] = '.';
        memcpy(o + p + (size_t)X + 2, f, 16);
        n++;
    }
    copy_short(buf, o, n);
    return n;
}

/* 5^k, k <= 20 (5^20 < 2^47) */
static const uint64_t p5u[21] = {1ull, 5ull, 25ull, 125ull, 625ull, 3125ull, 15625ull, 78125ull, 390625ull,
                                 1953125ull, 9765625ull, 48828125ull, 244140625ull, 1220703125ull,
                                 6103515625ull, 30517578125ull, 152587890625ull, 762939453125ull,
                                 3814697265625ull, 19073486328125ull, 95367431640625ull};

/* 10^x for x in -4..15 as doubles; the ones below 1 are above the real
   powers, so a >= p10d[x] exactly when a >= 10^x */
static const double p10d[20] = {1e-4, 1e-3, 1e-2, 1e-1, 1e0, 1e1, 1e2, 1e3, 1e4, 1e5,
                                1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};

/* The shortest decimal in [lo, hi] and, of that length, the one nearest
   V = vi + vf 2^-sh (a tie: the even one); 10^16 <= V < 10^17 and
   hi - lo <= V 2^-52 < 23.  So at most one multiple of 100 lies in
   [lo, hi]: if there is one, it is the shortest (any shorter one is a
   multiple of 100 too).  Else a multiple of 10 (16 digits): of the two
   around V the nearer that is in; else V rounded to an integer (17 digits,
   always in: the narrowest half-gap, V 2^-54, exceeds 1/2).  The result is
   in [10^16, 10^17): below 10^16 only if lo is, and then 10^16 is the
   multiple of 100 in [lo, hi]. */
static inline uint64_t pick_digits(uint64_t vi, uint64_t vf, int sh, uint64_t lo, uint64_t hi)
{
    uint64_t c = hi - hi % 100;
    if (c >= lo) return c;
    uint64_t r = vi % 10, c0 = vi - r;
    bool in0 = c0 >= lo, in1 = c0 + 10 <= hi;
    if (in0 | in1) {
        /* V - c0 = r + vf 2^-sh against 5 */
        bool above = r > 5 || (r == 5 && (vf || ((c0 / 10) & 1)));
        return c0 + (in1 && (!in0 || above) ? 10 : 0);
    }
    uint64_t half = 1ull << (sh - 1);
    return vi + (vf > half || (vf == half && (vi & 1)));
}

/* Zero and the magnitudes written with an exponent (or too large for the
   fixed layout): printf, first of %.15g, %.16g, %.17g that reads back. */
static __attribute__((noinline)) size_t format_double_printf(double d, char *buf)
{
    if (d == 0) { /* also -0.0: written as 0 */
        buf[0] = '0';
        return 1;
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

size_t sl_num_format_double(double d, char *buf)
{
    double a = fabs(d);
    if (a >= 1e-4 && a < 1e15) {
        int64_t iv = (int64_t)d;
        if ((double)iv == d) return sl_num_format_int(iv, buf); /* integral: no point */
        uint64_t bits;
        memcpy(&bits, &a, sizeof bits);
        uint64_t mant = (bits & ((1ull << 52) - 1)) | (1ull << 52);
        int s = 1075 - (int)(bits >> 52);    /* a = mant 2^-s, s in 3..66 */
        int bexp = 52 - s;                   /* a in [2^bexp, 2^(bexp+1)) */
        int X = (bexp * 1233) >> 12;         /* floor(log10 2^bexp) here */
        if (a >= p10d[X + 5]) X++;           /* floor(log10 a) */
        /* V = a 10^k has 17 digits before the point: k = 16 - X in 2..20.
           V = mant 10^k 2^-s = mant 5^k 2^-sh with sh = s - k in 1..46
           (a < 2^(bexp+1) bounds X, so sh = 36 - bexp + X >= 1 over
           bexp <= 49, and sh <= 36 + 14 - 4).  mant 5^k < 2^100. */
        int k = 16 - X, sh = s - k;
        u128 N = (u128)mant * p5u[k];
        uint64_t nlo = (uint64_t)N, nhi = (uint64_t)(N >> 64);
        uint64_t vi = (nlo >> sh) | (nhi << (64 - sh));   /* floor(V) < 10^17 */
        uint64_t vf = nlo & ((1ull << sh) - 1);            /* V - vi, times 2^sh */
        /* The doubles around a are a +- 2^-s (below a power of two, the
           one below is a - 2^-(s+1)); reading rounds to a everything
           strictly within half of those gaps, and the ends too when mant is
           even.  In units of 2^-(sh+2) of V: V's fraction f = 4 vf < 2^48,
           half-gaps g = 2 5^k and 5^k < 2^48.  [lo, hi]: the integers
           between the ends.  An end is 5^k (2 mant +- 1) 2^-(sh+1) or
           5^k (4 mant - 1) 2^-(sh+2), an odd number over a power of two,
           never an integer: whether it reads back as a does not matter. */
        int n = sh + 2;
        uint64_t f = vf << 2, g = 2 * p5u[k];
        uint64_t hi = vi + ((f + g) >> n);
        int64_t dn = (int64_t)f - (int64_t)(mant == (1ull << 52) ? g / 2 : g); /* > -2^48 */
        /* ceil(dn 2^-n): >> of a negative int64_t shifts in sign bits with
           the compilers we build with, so it rounds down */
        uint64_t lo = vi - (uint64_t)((-dn) >> n);
        uint64_t c = pick_digits(vi, vf, sh, lo, hi);
        return put_fixed17(buf, d < 0, c, X);
    }
    return format_double_printf(d, buf);
}

int sl_num_reread_wide(double d, int64_t *i, double *dout)
{
    char buf[40];
    size_t n = sl_num_format_double(d, buf);
    int k = sl_num_parse(buf, n, i, dout);
    if (k == SL_V_NULL) { /* not reached: the text is a number */
        *dout = d;
        return SL_V_DOUBLE;
    }
    return k;
}
