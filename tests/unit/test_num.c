/*
 * test_num.c - numbers to and from text (src/expr/num.c) against the C
 * library: sl_num_parse must give strtod's correctly rounded double, and
 * sl_num_format_double the first of %.15g, %.16g, %.17g that reads back
 * (checked against printf, and against the previous implementation over
 * millions of doubles).
 */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "expr/expr.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next_u64(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* The loops below are scaled down where the code runs several times slower:
   unoptimised builds and AddressSanitizer (the CI runs the unit tests in a
   sanitizer build too). */
#if defined(__SANITIZE_ADDRESS__) || !defined(__OPTIMIZE__)
#define SLOW_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SLOW_BUILD 1
#endif
#endif
#ifndef SLOW_BUILD
#define SLOW_BUILD 0
#endif
#define SCALED(n) (SLOW_BUILD ? (n) / 5 : (n))

/* what printf gives: the first of %.15g, %.16g, %.17g that reads back */
static void reference(double d, char *g, size_t cap)
{
    if (d == 0) {
        snprintf(g, cap, "0");
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(g, cap, "%.*g", prec, d);
        if (strtod(g, NULL) == d) return;
    }
}

/*
 * A differential oracle: sl_num_format_double as it was before it computed
 * the shortest decimal directly (the 15-, 16- and 17-digit decimals tried in
 * turn with 128-bit integers, the first that reads back written; snprintf
 * outside 1e-4 <= |d| < 1e15).  Slow but simple, and proven against printf
 * by the tests below; the current function must write the same bytes.  The
 * rule it follows (first of 15, 16, 17 digits) and the shortest decimal
 * differ only where the 16-digit decimal nearest d does not read back but
 * the next one does, which needs the narrower gap below a power of two;
 * among the powers of two that happens only outside the fixed range (2^-24,
 * 2^-44, 2^89, ...), where both use printf, so the outputs are identical.
 */
static const uint64_t ref_p10u[20] = {1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull, 10000000ull,
                                      100000000ull, 1000000000ull, 10000000000ull, 100000000000ull,
                                      1000000000000ull, 10000000000000ull, 100000000000000ull,
                                      1000000000000000ull, 10000000000000000ull, 100000000000000000ull,
                                      1000000000000000000ull, 10000000000000000000ull};

typedef unsigned __int128 ref_u128;

/* 10^k exactly, k <= 38 */
static inline ref_u128 ref_p10w(int k)
{
    return k < 20 ? (ref_u128)ref_p10u[k] : (ref_u128)ref_p10u[19] * ref_p10u[k - 19];
}

static const char ref_digits2[201] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                                     "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                                     "8081828384858687888990919293949596979899";

/* The decimal digits of u, written to end backwards; returns where they start. */
static inline char *ref_put_digits_rev(char *end, uint64_t u)
{
    while (u >= 100) {
        unsigned r = (unsigned)(u % 100);
        u /= 100;
        end -= 2;
        memcpy(end, ref_digits2 + 2 * r, 2);
    }
    if (u >= 10) {
        end -= 2;
        memcpy(end, ref_digits2 + 2 * u, 2);
    } else {
        *--end = (char)('0' + u);
    }
    return end;
}

/* Write u with k decimals (k may exceed its digits: leading zeros); u has no
   trailing zero when k > 0.  Composed in a local buffer with fixed-size
   moves (inlined), then one copy out: the variable-length copies and fills
   of a direct layout cost more than the digits themselves. */
static size_t ref_put_fixed(char *buf, bool neg, uint64_t u, int k)
{
    char t[64];
    memset(t, '0', sizeof t);               /* leading zeros of 0.000ddd */
    char *end = t + 32;
    char *p = ref_put_digits_rev(end, u);
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
static inline bool ref_exact_digits(uint64_t mant, int s, int k, uint64_t *mout)
{
    ref_u128 pk = ref_p10w(k);
    ref_u128 num = (ref_u128)mant * pk;
    ref_u128 q = num >> s, rem = num & (((ref_u128)1 << s) - 1), half = (ref_u128)1 << (s - 1);
    if (rem > half || (rem == half && (q & 1))) q++;
    *mout = (uint64_t)q;
    ref_u128 lhs = q << s;
    bool below = lhs < num;
    ref_u128 diff = below ? num - lhs : lhs - num;
    ref_u128 scaled = diff * ((below && mant == (1ull << 52)) ? 4 : 2);
    return scaled < pk || (scaled == pk && !(mant & 1));
}

/* 10^x for x in -4..15 as doubles; the ones below 1 are above the real
   powers, so a >= ref_p10d[x] exactly when a >= 10^x */
static const double ref_p10d[20] = {1e-4, 1e-3, 1e-2, 1e-1, 1e0, 1e1, 1e2, 1e3, 1e4, 1e5,
                                    1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};

static size_t ref_format_double(double d, char *buf)
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
        if (a >= ref_p10d[X + 5]) X++;
        /* %.15g, %.16g, %.17g: P significant digits are k = P - 1 - X decimals
           (k in 0..20); the 17-digit one always reads back */
        uint64_t m;
        int k = 14 - X;
        if (!ref_exact_digits(mant, s, k, &m) && !ref_exact_digits(mant, s, ++k, &m)) ref_exact_digits(mant, s, ++k, &m);
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
        return ref_put_fixed(buf, d < 0, m, k);
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

/* sl_num_format_double(d) is what the previous implementation wrote, and it
   reads back as d, through strtod and sl_num_parse */
static void check_format_ref(double d)
{
    char buf[48], want[48];
    size_t n = sl_num_format_double(d, buf);
    if (n > 32) fail_msg("%a printed in %zu bytes", d, n);
    buf[n] = 0;
    size_t m = ref_format_double(d, want);
    want[m] = 0;
    if (strcmp(buf, want) != 0) fail_msg("%a (%.17g) printed as '%s', previously '%s'", d, d, buf, want);
    double back = strtod(buf, NULL);
    if (back != d) fail_msg("%a (%.17g) printed as '%s' reads back as %a", d, d, buf, back);
    int64_t iv;
    double dv;
    int t = sl_num_parse(buf, n, &iv, &dv);
    if (t == SL_V_INT) dv = (double)iv;
    if (t == SL_V_NULL || (dv != d && !(d == 0 && dv == 0)))
        fail_msg("%.17g printed as '%s' parses back as %.17g", d, buf, dv);
}

/* the same, and the oracle itself against printf */
static void check_format(double d)
{
    char g[48], want[48];
    reference(d, g, sizeof g);
    size_t m = ref_format_double(d, want);
    want[m] = 0;
    if (strcmp(want, g) != 0) fail_msg("%a: the reference writes '%s', printf gives '%s'", d, want, g);
    check_format_ref(d);
}

static void check_format_both(double d)
{
    check_format_ref(d);
    check_format_ref(-d);
}

static double from_bits(uint64_t b)
{
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

/* differential test: millions of doubles against the previous implementation */
static void test_format_differential(void **state)
{
    (void)state;
    /* random bit patterns, any finite double (most take the printf path) */
    for (int i = 0; i < SCALED(300000); i++) {
        double d = from_bits(next_u64());
        if (isfinite(d)) check_format_ref(d);
    }
    /* random bit patterns with an exponent in or next to the fixed range
       (2^-16 .. 2^51): random mantissas, including all-zero and all-one
       ones, every binade equally */
    for (int i = 0; i < SCALED(3200000); i++) {
        uint64_t r = next_u64();
        uint64_t frac = r >> 12;
        if ((r & 0xff) == 0) frac = 0;
        else if ((r & 0xff) == 1) frac = (1ull << 52) - 1;
        else if ((r & 0xff) == 2) frac &= ~0xffull; /* short binary fractions */
        uint64_t bexp = 1023 - 16 + next_u64() % 68;
        double d = from_bits(bexp << 52 | frac);
        check_format_ref((r & 0x100) ? -d : d);
    }
    /* random decimals of 1 to 17 significant digits, exponents across the
       whole range (half of them) or around the fixed range, and their
       neighbours */
    char t[64];
    for (int i = 0; i < SCALED(400000); i++) {
        uint64_t r = next_u64();
        int nd = (int)(r % 17) + 1;
        uint64_t m = next_u64() % 100000000000000000ull, p = 1;
        for (int j = 0; j < nd; j++) p *= 10;
        m %= p;
        int e = (r & 0x100) ? (int)((r >> 9) % 650) - 340 : (int)((r >> 9) % 26) - 22;
        snprintf(t, sizeof t, "%llue%d", (unsigned long long)m, e);
        double d = strtod(t, NULL);
        if (!isfinite(d)) continue;
        check_format_both(d);
        check_format_ref(nextafter(d, 0));
        check_format_ref(nextafter(d, INFINITY));
    }
    /* W1's arithmetic on one-decimal readings, and other short-decimal maths */
    for (int c = -10000; c <= 10000; c++) {
        check_format_ref(c / 10.0 * 9 / 5 + 32);
        check_format_ref((c / 10.0 - 32) * 5 / 9);
        check_format_ref(c / 100.0 * 1.1);
        check_format_ref(c / 10.0 / 3);
    }
    /* every power of two and of ten, and neighbours */
    for (int e = -1074; e <= 1023; e++) {
        double d = ldexp(1.0, e), lo = d, hi = d;
        for (int i = 0; i < 3; i++) {
            check_format_both(lo);
            check_format_both(hi);
            lo = nextafter(lo, 0);
            hi = nextafter(hi, INFINITY);
        }
    }
    for (int x = -323; x <= 308; x++) {
        snprintf(t, sizeof t, "1e%d", x);
        double d = strtod(t, NULL), lo = d, hi = d;
        for (int i = 0; i < 3; i++) {
            check_format_both(lo);
            check_format_both(hi);
            lo = nextafter(lo, 0);
            hi = nextafter(hi, INFINITY);
        }
    }
    /* the ends of the fixed range */
    static const double ends[] = {1e-4, 1e15};
    for (size_t k = 0; k < 2; k++) {
        double lo = ends[k], hi = ends[k];
        for (int i = 0; i < 2000; i++) {
            check_format_both(lo);
            check_format_both(hi);
            lo = nextafter(lo, 0);
            hi = nextafter(hi, INFINITY);
        }
    }
    /* subnormals and the extremes */
    for (int i = 0; i < SCALED(20000); i++) check_format_both(from_bits(next_u64() >> (12 + next_u64() % 52)));
    for (uint64_t b = 1; b < 64; b++) check_format_both(from_bits(b));
    static const double ext[] = {DBL_MAX, DBL_MIN, DBL_TRUE_MIN, DBL_EPSILON, 0.0, -0.0};
    for (size_t k = 0; k < sizeof ext / sizeof ext[0]; k++) {
        double lo = ext[k], hi = ext[k];
        for (int i = 0; i < 10; i++) {
            check_format_both(lo);
            check_format_both(hi);
            lo = nextafter(lo, 0);
            if (hi < DBL_MAX) hi = nextafter(hi, INFINITY);
        }
    }
}

static void test_format_fixed_range(void **state)
{
    (void)state;
    /* every binade of the fixed range, random mantissas */
    for (int e = -16; e <= 51; e++)
        for (int i = 0; i < 4000; i++) {
            double d = ldexp((double)((next_u64() >> 11) | (1ull << 52)), e - 52);
            check_format(d);
            check_format(-d);
        }
    /* powers of two (the narrower gap below) and their neighbours */
    for (int e = -20; e <= 55; e++) {
        double d = ldexp(1.0, e);
        check_format(d);
        check_format(nextafter(d, 0));
        check_format(nextafter(d, INFINITY));
    }
    /* around powers of ten, where the digit count changes */
    for (int x = -6; x <= 17; x++) {
        double d = pow(10, x);
        double lo = d, hi = d;
        for (int i = 0; i < 50; i++) {
            check_format(lo);
            check_format(hi);
            lo = nextafter(lo, 0);
            hi = nextafter(hi, INFINITY);
        }
    }
}

static void test_format_decimals(void **state)
{
    (void)state;
    /* short decimals and arithmetic on them, as map computes them */
    for (int i = 0; i < 300000; i++) {
        uint64_t r = next_u64();
        int k = (int)(r % 8);
        int64_t m = (int64_t)((r >> 8) % 100000000) - 50000000;
        double d = (double)m / pow(10, k);
        check_format(d);
        check_format(d * 9 / 5 + 32);
        check_format(d * 1.2);
        check_format(d / 3);
    }
    for (int c = -400; c <= 850; c++) check_format(c / 10.0 * 9 / 5 + 32);
    /* short decimals (0 to 4 decimals) and their neighbours, across the
       magnitudes where the 0..3-decimal fast path runs and just outside */
    for (int i = 0; i < 400000; i++) {
        int dec = (int)(next_u64() % 5);
        int64_t m = (int64_t)(next_u64() >> (11 + next_u64() % 50));
        double d = (double)m / (double)(dec == 0 ? 1 : dec == 1 ? 10 : dec == 2 ? 100 : dec == 3 ? 1000 : 10000);
        if (i & 1) d = -d;
        check_format(d);
        check_format(nextafter(d, INFINITY));
        check_format(nextafter(d, -INFINITY));
    }
    for (int e = -9; e <= 50; e++) { /* powers of two: the narrower gap below */
        check_format(ldexp(1.0, e));
        check_format(nextafter(ldexp(1.0, e), 0));
        check_format(ldexp(1.0, e) * 1.5);
    }
    static const struct { double d; const char *s; } cases[] = {
        {0.0001, "0.0001"}, {0.00012345678901234567, "0.00012345678901234567"}, {999999999999999.875, "999999999999999.9"},
        {9.999999999999998, "9.999999999999998"}, {0.30000000000000004, "0.30000000000000004"}, {102.02, "102.02"},
        {1e14, "100000000000000"}, {123456789012345.6, "123456789012345.6"}, {0.1 + 0.2, "0.30000000000000004"},
        {-46.4, "-46.4"}, {5e-324, "4.94065645841247e-324"}, {1e15, "1e+15"}, {0.00009999999999999999, "9.999999999999999e-05"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[48];
        size_t n = sl_num_format_double(cases[i].d, buf);
        buf[n] = 0;
        if (strcmp(buf, cases[i].s) != 0) fail_msg("%.17g: '%s', expected '%s'", cases[i].d, buf, cases[i].s);
        check_format(cases[i].d);
    }
}

static void test_format_int(void **state)
{
    (void)state;
    char buf[32], want[32];
    static const int64_t cases[] = {0, 1, -1, 9, 10, 99, 100, -100, 12345, INT64_MAX, INT64_MIN, 1000000000000000000};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = sl_num_format_int(cases[i], buf);
        buf[n] = 0;
        snprintf(want, sizeof want, "%lld", (long long)cases[i]);
        assert_string_equal(buf, want);
    }
    for (int i = 0; i < 100000; i++) {
        int64_t v = (int64_t)next_u64() >> (next_u64() % 64);
        size_t n = sl_num_format_int(v, buf);
        buf[n] = 0;
        snprintf(want, sizeof want, "%lld", (long long)v);
        assert_string_equal(buf, want);
    }
}

static void check_parse(const char *s)
{
    int64_t iv;
    double dv;
    int t = sl_num_parse(s, strlen(s), &iv, &dv);
    char *end;
    double want = strtod(s, &end);
    if (t == SL_V_NULL) {
        if (*end == 0 && isfinite(want)) fail_msg("'%s' is not a number, strtod reads %.17g", s, want);
        return;
    }
    if (t == SL_V_INT) dv = (double)iv;
    if (memcmp(&dv, &want, sizeof dv) != 0 && !(t == SL_V_INT && dv == want))
        fail_msg("'%s': %a (%.17g), strtod %a (%.17g)", s, dv, dv, want, want);
}

static void test_parse_random(void **state)
{
    (void)state;
    char buf[80];
    for (int i = 0; i < 600000; i++) {
        uint64_t r = next_u64();
        int digits = (int)(r % 20) + 1; /* 1..20 */
        char ds[24];
        for (int k = 0; k < digits; k++) ds[k] = (char)('0' + next_u64() % 10);
        if (digits > 1 && ds[0] == '0' && (r & 0x100)) ds[0] = '1';
        ds[digits] = 0;
        int point = (int)((r >> 8) % (unsigned)(digits + 2)) - 1; /* -1: none */
        size_t o = 0;
        if (r & 0x10000) buf[o++] = '-';
        if (point < 0 || point >= digits) {
            memcpy(buf + o, ds, (size_t)digits);
            o += (size_t)digits;
            if (point >= digits) buf[o++] = '.', buf[o++] = '0';
        } else {
            if (point == 0) buf[o++] = '0';
            memcpy(buf + o, ds, (size_t)point);
            o += (size_t)point;
            buf[o++] = '.';
            memcpy(buf + o, ds + point, (size_t)(digits - point));
            o += (size_t)(digits - point);
        }
        if ((r >> 20) % 3 == 0) o += (size_t)snprintf(buf + o, sizeof buf - o, "e%d", (int)((r >> 24) % 80) - 40);
        buf[o] = 0;
        check_parse(buf);
    }
}

static void test_parse_exact_cases(void **state)
{
    (void)state;
    char buf[64];
    /* what formatting writes reads back exactly */
    for (int i = 0; i < 300000; i++) {
        double d = ldexp((double)((next_u64() >> 11) | (1ull << 52)), (int)(next_u64() % 70) - 66);
        if (i & 1) d = (double)((int64_t)(next_u64() >> 40) - (1ll << 23)) / 100.0 * 1.2;
        size_t n = sl_num_format_double(d, buf);
        buf[n] = 0;
        check_parse(buf);
        snprintf(buf, sizeof buf, "%.17g", d);
        check_parse(buf);
        snprintf(buf, sizeof buf, "%.16g", d);
        check_parse(buf);
        snprintf(buf, sizeof buf, "%.19g", d);
        check_parse(buf);
    }
    /* halfway cases: ties go to the even mantissa */
    for (int e = 0; e < 11; e++) {
        for (int i = 0; i < 2000; i++) {
            uint64_t M = (next_u64() >> 11) | (1ull << 52);
            if (i == 0) M = 1ull << 52;
            if (i == 1) M = (1ull << 53) - 1;
            /* the midpoint above M 2^e is (2M + 1) 2^(e-1): an integer for e >= 1 */
            unsigned __int128 mid = ((unsigned __int128)(2 * M + 1) << e) >> 1;
            if (e == 0) { /* (2M+1)/2 = M.5 */
                snprintf(buf, sizeof buf, "%llu.5", (unsigned long long)M);
            } else {
                if (mid >> 64) continue;
                snprintf(buf, sizeof buf, "%llu.0", (unsigned long long)mid);
            }
            check_parse(buf);
            /* just above and below the tie */
            size_t n = strlen(buf);
            buf[n] = '1';
            buf[n + 1] = 0;
            check_parse(buf);
        }
    }
    static const char *cases[] = {
        "9007199254740993.0", "9007199254740995.0", "9007199254740993.00000000001", "0.30000000000000004",
        "0.1000000000000000055511151231257827", "2621.9519999999998", "123456789012345678.9", "1234567890123456789",
        "0.00000000000000000001234567890123456789", "1.7976931348623157e308", "4.9406564584124654e-324",
        "2.2250738585072011e-308", "2.2250738585072014e-308", "-0.0000000000000000", "00000000000000000012.5",
        "1.00000000000000011102230246251565404236316680908203125", "1.0000000000000001110223024625156540",
        "0.99999999999999994448884876874217297882", "7.0e-10", "72057594037927945.0",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_parse(cases[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_fixed_range), cmocka_unit_test(test_format_decimals),
        cmocka_unit_test(test_format_differential),
        cmocka_unit_test(test_format_int),         cmocka_unit_test(test_parse_random),
        cmocka_unit_test(test_parse_exact_cases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
