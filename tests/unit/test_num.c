/*
 * test_num.c - numbers to and from text (src/expr/num.c) against the C
 * library: sl_num_parse must give strtod's correctly rounded double, and
 * sl_num_format_double the first of %.15g, %.16g, %.17g that reads back.
 */
#include <math.h>
#include <setjmp.h>
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

static void check_format(double d)
{
    char buf[48], g[48];
    size_t n = sl_num_format_double(d, buf);
    assert_true(n < 40);
    buf[n] = 0;
    reference(d, g, sizeof g);
    if (strcmp(buf, g) != 0) fail_msg("%a (%.17g) printed as '%s', printf gives '%s'", d, d, buf, g);
    /* and it parses back to the same double */
    int64_t iv;
    double dv;
    int t = sl_num_parse(buf, n, &iv, &dv);
    if (t == SL_V_INT) dv = (double)iv;
    if (t == SL_V_NULL || (dv != d && !(d == 0 && dv == 0)))
        fail_msg("%.17g printed as '%s' parses back as %.17g", d, buf, dv);
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
        cmocka_unit_test(test_format_int),         cmocka_unit_test(test_parse_random),
        cmocka_unit_test(test_parse_exact_cases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
