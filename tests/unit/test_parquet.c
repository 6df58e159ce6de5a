/* test_parquet.c - the pieces of Parquet output against hand-computed bytes:
   the Thrift compact protocol writer, the RLE / bit-packing hybrid encoder,
   value conversions and --schema; and the frame of a whole file. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "formats/parquet_rle.h"
#include "formats/parquet_types.h"
#include "formats/thrift_compact.h"
#include "sluice/run.h"

#define BYTES(...) ((const uint8_t[]){__VA_ARGS__}), sizeof((const uint8_t[]){__VA_ARGS__})

static void expect_bytes(const bytebuf *b, const uint8_t *want, size_t n)
{
    assert_true(bb_ok(b));
    if (b->len != n || memcmp(b->p, want, n) != 0) {
        fprintf(stderr, "got %zu bytes:", b->len);
        for (size_t i = 0; i < b->len; i++)
            fprintf(stderr, " %02x", b->p[i]);
        fprintf(stderr, "\nwant %zu bytes:", n);
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, " %02x", want[i]);
        fprintf(stderr, "\n");
        fail();
    }
}

/* ---- Thrift compact protocol ---- */

static void test_varint(void **state)
{
    (void)state;
    bytebuf b = {0};
    bb_varint(&b, 0);
    bb_varint(&b, 1);
    bb_varint(&b, 127);
    bb_varint(&b, 128);
    bb_varint(&b, 300);
    expect_bytes(&b, BYTES(0x00, 0x01, 0x7f, 0x80, 0x01, 0xac, 0x02));
    bb_clear(&b);
    bb_varint(&b, UINT64_MAX);
    expect_bytes(&b, BYTES(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01));
    bb_free(&b);
}

static void test_zigzag(void **state)
{
    (void)state;
    assert_int_equal(tc_zigzag(0), 0);
    assert_int_equal(tc_zigzag(-1), 1);
    assert_int_equal(tc_zigzag(1), 2);
    assert_int_equal(tc_zigzag(-2), 3);
    assert_int_equal(tc_zigzag(2147483647), 4294967294u);
    assert_int_equal(tc_zigzag(-2147483647 - 1), 4294967295u);
    assert_true(tc_zigzag(INT64_MAX) == UINT64_MAX - 1);
    assert_true(tc_zigzag(INT64_MIN) == UINT64_MAX);
}

static void test_fields_and_deltas(void **state)
{
    (void)state;
    tc_writer w = {0};
    tc_field_i32(&w, 1, 5);          /* delta 1, type 5: 0x15, zigzag 10 */
    tc_field_i64(&w, 3, -1);         /* delta 2, type 6: 0x26, zigzag 1 */
    tc_field_binary(&w, 20, "ab", 2); /* delta 17: long form 0x08, id zigzag 40 */
    tc_field_bool(&w, 21, true);     /* delta 1, true: 0x11 */
    tc_field_bool(&w, 22, false);    /* delta 1, false: 0x12 */
    tc_struct_end(&w);
    expect_bytes(&w.out, BYTES(0x15, 0x0a, 0x26, 0x01, 0x08, 0x28, 0x02, 'a', 'b', 0x11, 0x12, 0x00));
    /* a field id below the previous one: long form */
    tc_reset(&w);
    tc_field_i32(&w, 5, 0);
    tc_field_i32(&w, 2, 0);
    tc_field_i16(&w, 3, -3);
    tc_field_i8(&w, 4, -1);
    expect_bytes(&w.out, BYTES(0x55, 0x00, 0x05, 0x04, 0x00, 0x14, 0x05, 0x13, 0xff));
    tc_free(&w);
}

static void test_nested_structs(void **state)
{
    (void)state;
    tc_writer w = {0};
    tc_field_struct(&w, 2);  /* 0x2c */
    tc_field_i32(&w, 1, 7);  /* ids start again at 0 inside: 0x15 0x0e */
    tc_field_struct(&w, 2);  /* delta 1 from field 1: 0x1c */
    tc_struct_end(&w);       /* empty struct: 0x00 */
    tc_struct_end(&w);       /* 0x00 */
    tc_field_i32(&w, 3, 1);  /* back outside, delta from 2: 0x15 0x02 */
    tc_struct_end(&w);
    expect_bytes(&w.out, BYTES(0x2c, 0x15, 0x0e, 0x1c, 0x00, 0x00, 0x15, 0x02, 0x00));
    assert_true(tc_ok(&w));
    tc_free(&w);
}

static void test_lists(void **state)
{
    (void)state;
    tc_writer w = {0};
    tc_field_list(&w, 1, TC_I32, 3); /* 0x19, (3 << 4) | 5 */
    tc_elem_i32(&w, 1);
    tc_elem_i32(&w, 2);
    tc_elem_i32(&w, 3);
    tc_field_list(&w, 2, TC_BINARY, 1); /* 0x19, 0x18 */
    tc_elem_binary(&w, "x", 1);
    tc_field_list(&w, 3, TC_STRUCT, 2); /* 0x19, 0x2c */
    for (int i = 0; i < 2; i++) {
        tc_struct_begin(&w);
        tc_field_i32(&w, 1, 1);
        tc_struct_end(&w);
    }
    tc_struct_end(&w);
    expect_bytes(&w.out, BYTES(0x19, 0x35, 0x02, 0x04, 0x06, 0x19, 0x18, 0x01, 'x', 0x19, 0x2c, 0x15, 0x02, 0x00, 0x15,
                               0x02, 0x00, 0x00));
    /* 15 elements or more: 0xF0 | type, then the size as a varint */
    tc_reset(&w);
    tc_field_list(&w, 1, TC_I32, 15);
    expect_bytes(&w.out, BYTES(0x19, 0xf5, 0x0f));
    tc_reset(&w);
    tc_field_list(&w, 1, TC_STRUCT, 200);
    expect_bytes(&w.out, BYTES(0x19, 0xfc, 0xc8, 0x01));
    tc_free(&w);
}

static void test_depth_limit(void **state)
{
    (void)state;
    tc_writer w = {0};
    for (int i = 0; i < TC_MAX_DEPTH + 2; i++)
        tc_field_struct(&w, 1);
    assert_false(tc_ok(&w));
    tc_free(&w);
}

/* ---- RLE / bit-packing hybrid ---- */

static void test_bit_width(void **state)
{
    (void)state;
    assert_int_equal(pq_bit_width(0), 0);
    assert_int_equal(pq_bit_width(1), 1);
    assert_int_equal(pq_bit_width(2), 2);
    assert_int_equal(pq_bit_width(3), 2);
    assert_int_equal(pq_bit_width(4), 3);
    assert_int_equal(pq_bit_width(255), 8);
    assert_int_equal(pq_bit_width(256), 9);
    assert_int_equal(pq_bit_width(UINT32_MAX), 32);
}

static void test_bitpack(void **state)
{
    (void)state;
    /* the example of Encodings.md: 0..7 at width 3 */
    uint32_t v[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    uint8_t d[32];
    pq_bitpack8(d, v, 3);
    assert_memory_equal(d, ((uint8_t[]){0x88, 0xc6, 0xfa}), 3);
    uint32_t ones[8] = {1, 0, 1, 1, 0, 0, 0, 1};
    pq_bitpack8(d, ones, 1);
    assert_int_equal(d[0], 0x8d);
    uint32_t big[8] = {0xffffffffu, 0, 0, 0, 0, 0, 0, 0x80000001u};
    pq_bitpack8(d, big, 32);
    assert_memory_equal(d, ((uint8_t[]){0xff, 0xff, 0xff, 0xff}), 4);
    assert_memory_equal(d + 28, ((uint8_t[]){0x01, 0x00, 0x00, 0x80}), 4);
}

static void test_rle_runs(void **state)
{
    (void)state;
    bytebuf b = {0};
    uint8_t all1[20];
    memset(all1, 1, sizeof all1);
    pq_rle_encode_u8(&b, all1, 20, 1); /* RLE: varint(20 << 1), value 1 */
    expect_bytes(&b, BYTES(0x28, 0x01));

    bb_clear(&b);
    uint32_t seq[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    pq_rle_encode_u32(&b, seq, 8, 3); /* one bit-packed group: (1 << 1) | 1 */
    expect_bytes(&b, BYTES(0x03, 0x88, 0xc6, 0xfa));

    bb_clear(&b);
    uint32_t three[3] = {0, 1, 2};
    pq_rle_encode_u32(&b, three, 3, 2); /* the last group padded with zeros */
    expect_bytes(&b, BYTES(0x03, 0x24, 0x00));

    bb_clear(&b);
    uint32_t mixed[13] = {5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 1, 2, 3};
    pq_rle_encode_u32(&b, mixed, 13, 3); /* RLE 10 x 5, then 1 2 3 packed */
    expect_bytes(&b, BYTES(0x14, 0x05, 0x03, 0xd1, 0x00, 0x00));

    bb_clear(&b);
    uint32_t shortrun[15] = {1, 2, 3, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7};
    pq_rle_encode_u32(&b, shortrun, 15, 3); /* 12 sevens: too few left after padding: all packed */
    expect_bytes(&b, BYTES(0x05, 0xd1, 0xfe, 0xff, 0xff, 0xff, 0x1f));

    bb_clear(&b);
    uint32_t longrun[23] = {1, 2, 3};
    for (int i = 3; i < 23; i++)
        longrun[i] = 7;
    pq_rle_encode_u32(&b, longrun, 23, 3); /* 1 2 3 and five 7s packed, then RLE 15 x 7 */
    expect_bytes(&b, BYTES(0x03, 0xd1, 0xfe, 0xff, 0x1e, 0x07));

    bb_clear(&b);
    uint32_t wide[8] = {300, 300, 300, 300, 300, 300, 300, 300};
    pq_rle_encode_u32(&b, wide, 8, 9); /* the value in 2 bytes */
    expect_bytes(&b, BYTES(0x10, 0x2c, 0x01));

    bb_clear(&b);
    uint32_t full[8] = {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu,
                        0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu};
    pq_rle_encode_u32(&b, full, 8, 32);
    expect_bytes(&b, BYTES(0x10, 0xff, 0xff, 0xff, 0xff));

    bb_clear(&b);
    uint8_t defs[11] = {1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    pq_rle_encode_u8(&b, defs, 11, 1); /* 2 groups: 0b11111101, 0b00000111 */
    expect_bytes(&b, BYTES(0x05, 0xfd, 0x07));
    bb_free(&b);
}

/* Decode the hybrid (as a reader would) to check long random-ish inputs. */
static size_t rle_decode(const uint8_t *p, size_t n, int bw, uint32_t *out, size_t want)
{
    size_t i = 0, k = 0;
    while (i < n && k < want) {
        uint64_t h = 0;
        int sh = 0;
        while (p[i] & 0x80) {
            h |= (uint64_t)(p[i++] & 0x7f) << sh;
            sh += 7;
        }
        h |= (uint64_t)p[i++] << sh;
        if (h & 1) {
            size_t groups = h >> 1, bits = 0;
            for (size_t g = 0; g < groups * 8; g++) {
                uint64_t v = 0;
                for (int b = 0; b < bw; b++, bits++)
                    v |= (uint64_t)((p[i + bits / 8] >> (bits % 8)) & 1) << b;
                if (k < want)
                    out[k++] = (uint32_t)v;
            }
            i += groups * (size_t)bw;
        } else {
            uint32_t v = 0;
            for (int b = 0; b < (bw + 7) / 8; b++)
                v |= (uint32_t)p[i++] << (8 * b);
            for (size_t r = 0; r < (h >> 1) && k < want; r++)
                out[k++] = v;
        }
    }
    return k;
}

static void test_rle_decodes_back(void **state)
{
    (void)state;
    enum { N = 5000 };
    static uint32_t v[N], back[N];
    uint32_t x = 12345;
    for (int bw = 1; bw <= 20; bw += 3) {
        for (int i = 0; i < N; i++) {
            x = x * 1103515245u + 12345u;
            /* runs of random length, some long */
            v[i] = (i > 0 && (x >> 16) % 4 != 0) ? v[i - 1] : (x >> 8) & ((1u << bw) - 1);
        }
        bytebuf b = {0};
        pq_rle_encode_u32(&b, v, N, bw);
        assert_true(bb_ok(&b));
        assert_int_equal(rle_decode(b.p, b.len, bw, back, N), N);
        assert_memory_equal(v, back, sizeof v);
        bb_free(&b);
    }
}

static void test_plain_bools(void **state)
{
    (void)state;
    bytebuf b = {0};
    uint8_t v[9] = {1, 0, 1, 1, 0, 0, 0, 0, 1};
    pq_plain_bools(&b, v, 9);
    expect_bytes(&b, BYTES(0x0d, 0x01));
    bb_free(&b);
}

/* ---- values ---- */

static void test_int64(void **state)
{
    (void)state;
    int64_t v;
    assert_int_equal(pq_parse_int64("0", 1, false, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(pq_parse_int64("-0", 2, false, &v), 0);
    assert_int_equal(pq_parse_int64("-9223372036854775808", 20, false, &v), 0);
    assert_true(v == INT64_MIN);
    assert_int_equal(pq_parse_int64("9223372036854775807", 19, false, &v), 0);
    assert_true(v == INT64_MAX);
    assert_int_equal(pq_parse_int64("9223372036854775808", 19, false, &v), -1);
    assert_int_equal(pq_parse_int64("99999999999999999999", 20, false, &v), -1);
    assert_int_equal(pq_parse_int64("007", 3, false, &v), -1);
    assert_int_equal(pq_parse_int64("+1", 2, false, &v), -1);
    assert_int_equal(pq_parse_int64("1.0", 3, false, &v), -1);
    assert_int_equal(pq_parse_int64("", 0, false, &v), -1);
    assert_int_equal(pq_parse_int64("-", 1, false, &v), -1);
    assert_int_equal(pq_parse_int64("007", 3, true, &v), 0);
    assert_int_equal(v, 7);
    assert_int_equal(pq_parse_int64("+12", 3, true, &v), 0);
    assert_int_equal(v, 12);
}

static void test_double(void **state)
{
    (void)state;
    double d;
    assert_int_equal(pq_parse_double("1.5", 3, false, &d), 0);
    assert_true(d == 1.5);
    assert_int_equal(pq_parse_double("990.72", 6, false, &d), 0);
    assert_true(d == 990.72);
    assert_int_equal(pq_parse_double("-0.0", 4, false, &d), 0);
    assert_true(d == 0 && signbit(d));
    assert_int_equal(pq_parse_double("1e-7", 4, false, &d), 0);
    assert_true(d == 1e-7);
    assert_int_equal(pq_parse_double("0.1234567890123456789", 21, false, &d), 0); /* slow path */
    assert_true(d == 0.1234567890123456789);
    assert_int_equal(pq_parse_double("1e400", 5, false, &d), -1);
    assert_int_equal(pq_parse_double("9007199254740992", 16, false, &d), 0);
    assert_int_equal(pq_parse_double("9007199254740993", 16, false, &d), -1); /* would not read back */
    assert_int_equal(pq_parse_double("1.", 2, false, &d), -1);
    assert_int_equal(pq_parse_double(".5", 2, false, &d), -1);
    assert_int_equal(pq_parse_double("+1", 2, false, &d), -1);
    assert_int_equal(pq_parse_double("inf", 3, false, &d), -1);
    assert_int_equal(pq_parse_double("+1.50", 5, true, &d), 0);
    assert_true(d == 1.5);
    assert_int_equal(pq_parse_double("inf", 3, true, &d), 0);
    assert_true(isinf(d));
    assert_int_equal(pq_parse_double("NaN", 3, true, &d), 0);
    assert_true(isnan(d));
    assert_int_equal(pq_parse_double("0x10", 4, true, &d), -1);
    assert_int_equal(pq_parse_double("1e999", 5, true, &d), -1);   /* not silently infinity */
    assert_int_equal(pq_parse_double("1e-999", 6, true, &d), -1);  /* nor 0 */
    assert_int_equal(pq_parse_double("1e-999", 6, false, &d), -1);
    assert_int_equal(pq_parse_double("-Infinity", 9, true, &d), 0);
    assert_true(isinf(d) && d < 0);
    assert_int_equal(pq_parse_double(" 1", 2, true, &d), -1);
    assert_int_equal(pq_parse_double("1 ", 2, true, &d), -1);
}

static void test_bool(void **state)
{
    (void)state;
    bool b;
    assert_int_equal(pq_parse_bool("true", 4, false, &b), 0);
    assert_true(b);
    assert_int_equal(pq_parse_bool("false", 5, false, &b), 0);
    assert_false(b);
    assert_int_equal(pq_parse_bool("TRUE", 4, false, &b), -1);
    assert_int_equal(pq_parse_bool("1", 1, false, &b), -1);
    assert_int_equal(pq_parse_bool("TRUE", 4, true, &b), 0);
    assert_int_equal(pq_parse_bool("0", 1, true, &b), 0);
    assert_false(b);
}

static int64_t ts(const char *s)
{
    int64_t v;
    return pq_parse_timestamp(s, strlen(s), &v) == 0 ? v : INT64_MIN;
}

static void test_timestamp(void **state)
{
    (void)state;
    assert_true(ts("1970-01-01T00:00:00Z") == 0);
    assert_true(ts("2024-01-01T00:00:00Z") == 1704067200000000);
    assert_true(ts("2024-01-01T05:30:00+05:30") == 1704067200000000);
    assert_true(ts("2024-01-01T05:30:00+0530") == 1704067200000000);
    assert_true(ts("2024-01-01T05:00:00+05") == 1704067200000000);
    assert_true(ts("2023-12-31T16:00:00.5-08:00") == 1704067200500000);
    assert_true(ts("2024-01-01 00:00:00") == 1704067200000000); /* no offset: UTC */
    assert_true(ts("2024-01-01T00:00") == 1704067200000000);
    assert_true(ts("2024-01-01") == 1704067200000000);
    assert_true(ts("1969-12-31T23:59:59.999999Z") == -1);
    assert_true(ts("2024-01-01T00:00:00.123456789Z") == INT64_MIN); /* nanoseconds */
    assert_true(ts("2024-01-01T00:00:00.123456000Z") == 1704067200123456);
    assert_true(ts("0001-01-01T00:00:00Z") == -62135596800000000);
    assert_true(ts("2024-02-30T00:00:00Z") == INT64_MIN);
    assert_true(ts("2024-01-01T24:00:00Z") == INT64_MIN);
    assert_true(ts("2024-01-01T00:60:00Z") == INT64_MIN);
    assert_true(ts("2024-01-01T00:00:60Z") == INT64_MIN);
    assert_true(ts("2024-01-01T00:00:00+5") == INT64_MIN);
    assert_true(ts("2024-01-01T00:00:00.Z") == INT64_MIN);
    assert_true(ts("2024-01-01T00:00:00ZZ") == INT64_MIN);
    assert_true(ts("2024-1-01") == INT64_MIN);
    assert_true(ts("0000-01-01") == INT64_MIN);
}

static void test_date(void **state)
{
    (void)state;
    int32_t d;
    assert_int_equal(pq_parse_date("1970-01-01", 10, &d), 0);
    assert_int_equal(d, 0);
    assert_int_equal(pq_parse_date("2000-03-01", 10, &d), 0);
    assert_int_equal(d, 11017);
    assert_int_equal(pq_parse_date("0001-01-01", 10, &d), 0);
    assert_int_equal(d, -719162);
    assert_int_equal(pq_parse_date("2000-02-29", 10, &d), 0);
    assert_int_equal(pq_parse_date("1900-02-29", 10, &d), -1);
    assert_int_equal(pq_parse_date("2024-13-01", 10, &d), -1);
    assert_int_equal(pq_parse_date("2024-01-01T00:00:00Z", 20, &d), -1);
}

static unsigned fits(int kind, const char *s) { return pq_fits(&(sl_cell){s, (uint32_t)strlen(s), (uint8_t)kind, {0}}, PQ_FIT_ALL); }

static void test_inference(void **state)
{
    (void)state;
    assert_int_equal(fits(SL_TEXT, "12"), PQ_FIT_INT64 | PQ_FIT_DOUBLE);
    assert_int_equal(fits(SL_TEXT, "1.5"), PQ_FIT_DOUBLE);
    assert_int_equal(fits(SL_TEXT, "007"), 0);
    assert_int_equal(fits(SL_TEXT, "123456789012345678901234567890"), 0);
    assert_int_equal(fits(SL_TEXT, "true"), PQ_FIT_BOOLEAN);
    assert_int_equal(fits(SL_TEXT, "True"), 0);
    assert_int_equal(fits(SL_TEXT, "2024-01-01"), PQ_FIT_DATE | PQ_FIT_TIMESTAMP);
    assert_int_equal(fits(SL_TEXT, "2024-01-01T10:00:00Z"), PQ_FIT_TIMESTAMP);
    assert_int_equal(fits(SL_TEXT, ""), 0);
    assert_int_equal(fits(SL_NUMBER, "12"), PQ_FIT_INT64 | PQ_FIT_DOUBLE);
    assert_int_equal(fits(SL_NUMBER, "1e3"), PQ_FIT_DOUBLE);
    assert_int_equal(fits(SL_STRING, "12"), 0); /* a JSON string is not a number */
    assert_int_equal(fits(SL_STRING, "true"), 0);
    assert_int_equal(fits(SL_STRING, "2024-01-01T10:00:00Z"), PQ_FIT_TIMESTAMP);
    assert_int_equal(fits(SL_BOOL, "false"), PQ_FIT_BOOLEAN);
    assert_int_equal(fits(SL_JSON, "[1]"), 0);
    assert_int_equal(pq_infer(PQ_FIT_INT64 | PQ_FIT_DOUBLE, true), PQ_INT64);
    assert_int_equal(pq_infer(PQ_FIT_DOUBLE, true), PQ_DOUBLE);
    assert_int_equal(pq_infer(PQ_FIT_DATE | PQ_FIT_TIMESTAMP, true), PQ_DATE);
    assert_int_equal(pq_infer(PQ_FIT_TIMESTAMP, true), PQ_TIMESTAMP);
    assert_int_equal(pq_infer(PQ_FIT_BOOLEAN, true), PQ_BOOLEAN);
    assert_int_equal(pq_infer(0, true), PQ_STRING);
    assert_int_equal(pq_infer(PQ_FIT_ALL, false), PQ_STRING); /* only nulls */
}

static void test_utf8(void **state)
{
    (void)state;
    assert_true(pq_utf8_valid("plain ascii text, long enough", 29));
    assert_true(pq_utf8_valid("h\xc3\xa9llo", 6));
    assert_false(pq_utf8_valid("abcdefgh\xff", 9));
    assert_false(pq_utf8_valid("\xc3", 1));
}

static void test_schema_spec(void **state)
{
    (void)state;
    pq_spec s = {0};
    char msg[256];
    assert_int_equal(pq_spec_parse(" id:int64, price : double,`unit price`:float64,ts:TIMESTAMP , ok:bool", &s, msg,
                                   sizeof msg), 0);
    assert_int_equal(s.n, 5);
    assert_string_equal(s.cols[2].name, "unit price");
    assert_int_equal(s.cols[2].type, PQ_DOUBLE);
    assert_int_equal(s.cols[3].type, PQ_TIMESTAMP);
    assert_int_equal(s.cols[4].type, PQ_BOOLEAN);
    assert_int_equal(pq_spec_find(&s, "price", 5), 1);
    assert_int_equal(pq_spec_find(&s, "nope", 4), -1);
    pq_spec_free(&s);
    assert_int_equal(pq_spec_parse("id", NULL, msg, sizeof msg), -1);
    assert_string_equal(msg, "expected ':' and a type after the column name at character 3 of 'id'");
    assert_int_equal(pq_spec_parse("id:int65", NULL, msg, sizeof msg), -1);
    assert_string_equal(msg, "unknown type 'int65' for column 'id' (expected boolean, int64, double, string, timestamp or "
                             "date)");
    assert_int_equal(pq_spec_parse("a:int, a:string", NULL, msg, sizeof msg), -1);
    assert_string_equal(msg, "column 'a' is named twice");
    assert_int_equal(pq_spec_parse("`a:int", NULL, msg, sizeof msg), -1);
    assert_int_equal(pq_spec_parse("a:int b:int", NULL, msg, sizeof msg), -1);
    assert_int_equal(pq_spec_parse("", NULL, msg, sizeof msg), -1);
    assert_int_equal(pq_spec_parse("a:int,", NULL, msg, sizeof msg), -1);
}

/* ---- a whole file: magic, footer length ---- */

static void test_file_frame(void **state)
{
    (void)state;
    char in[] = "/tmp/sl_pq_test_XXXXXX.csv", out[64];
    int fd = mkstemps(in, 4);
    assert_true(fd >= 0);
    const char *csv = "a,b\n1,x\n2,\n3,z\n";
    assert_int_equal(write(fd, csv, strlen(csv)), (ssize_t)strlen(csv));
    close(fd);
    snprintf(out, sizeof out, "%.*s.parquet", (int)strlen(in) - 4, in);
    sl_options o;
    sl_options_defaults(&o);
    o.pipeline = "cat";
    o.output = out;
    sl_run run;
    const char *inputs[] = {in};
    assert_int_equal(sl_run_execute(&run, &o, inputs, 1), SL_OK);
    assert_int_equal(run.records_out, 3);
    sl_run_fini(&run);
    FILE *f = fopen(out, "rb");
    assert_non_null(f);
    uint8_t buf[4096];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    assert_true(n > 12);
    assert_memory_equal(buf, "PAR1", 4);
    assert_memory_equal(buf + n - 4, "PAR1", 4);
    uint32_t flen;
    memcpy(&flen, buf + n - 8, 4);
    assert_true(flen > 0 && flen < n - 12);
    /* the footer starts with FileMetaData.version = 1 (i32, field 1) and the
       schema list: root + 2 columns */
    const uint8_t *fm = buf + n - 8 - flen;
    assert_int_equal(fm[0], 0x15);
    assert_int_equal(fm[1], 0x02);
    assert_int_equal(fm[2], 0x19);
    assert_int_equal(fm[3], 0x3c);
    unlink(in);
    unlink(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_varint),        cmocka_unit_test(test_zigzag),
        cmocka_unit_test(test_fields_and_deltas), cmocka_unit_test(test_nested_structs),
        cmocka_unit_test(test_lists),         cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_bit_width),     cmocka_unit_test(test_bitpack),
        cmocka_unit_test(test_rle_runs),      cmocka_unit_test(test_rle_decodes_back),
        cmocka_unit_test(test_plain_bools),   cmocka_unit_test(test_int64),
        cmocka_unit_test(test_double),        cmocka_unit_test(test_bool),
        cmocka_unit_test(test_timestamp),     cmocka_unit_test(test_date),
        cmocka_unit_test(test_inference),     cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_schema_spec),   cmocka_unit_test(test_file_frame),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
