/* parquet_rle.c - RLE / bit-packing hybrid encoder (see parquet_rle.h). */
#include "formats/parquet_rle.h"

/* A run of equal values shorter than this is cheaper bit-packed. */
#define RLE_MIN_RUN 8

int pq_bit_width(uint32_t max)
{
    int w = 0;
    while (max) {
        w++;
        max >>= 1;
    }
    return w;
}

void pq_bitpack8(uint8_t *dst, const uint32_t *v, int bw)
{
    uint64_t mask = bw >= 32 ? 0xFFFFFFFFu : ((1u << bw) - 1);
    uint64_t acc = 0;
    int bits = 0;
    size_t k = 0;
    for (int i = 0; i < 8; i++) {
        acc |= ((uint64_t)v[i] & mask) << bits;
        bits += bw;
        while (bits >= 8) {
            dst[k++] = (uint8_t)acc;
            acc >>= 8;
            bits -= 8;
        }
    }
    /* 8 values of bw bits are exactly bw bytes: nothing is left over */
}

static void emit_rle(bytebuf *out, uint32_t value, size_t count, int bw)
{
    bb_varint(out, (uint64_t)count << 1);
    for (int k = 0; k < (bw + 7) / 8; k++)
        bb_byte(out, (uint8_t)(value >> (8 * k)));
}

/* Bit-packed run of count values (a multiple of 8 except at the very end,
   where the last group is padded with zeros). */
#define DEFINE_EMIT_PACKED(NAME, T)                                            \
    static void NAME(bytebuf *out, const T *v, size_t count, int bw)           \
    {                                                                          \
        size_t groups = (count + 7) / 8;                                       \
        bb_varint(out, ((uint64_t)groups << 1) | 1);                           \
        uint8_t *d = bb_reserve(out, groups * (size_t)bw);                     \
        if (!d)                                                                \
            return;                                                            \
        uint32_t tmp[8];                                                       \
        for (size_t g = 0; g < groups; g++) {                                  \
            size_t base = g * 8;                                               \
            for (size_t i = 0; i < 8; i++)                                     \
                tmp[i] = base + i < count ? (uint32_t)v[base + i] : 0;         \
            pq_bitpack8(d + g * (size_t)bw, tmp, bw);                          \
        }                                                                      \
        out->len += groups * (size_t)bw;                                       \
    }

/* Scan for runs: a run of RLE_MIN_RUN or more equal values becomes an RLE
   run; the values between runs are bit-packed.  A bit-packed run in the
   middle must hold a multiple of 8 values, so it borrows the first values of
   the following run to fill its last group (when the run stays long enough
   to be worth it; else the run is bit-packed too). */
#define DEFINE_RLE_ENCODE(NAME, T, PACKED)                                     \
    void NAME(bytebuf *out, const T *v, size_t n, int bw)                      \
    {                                                                          \
        size_t i = 0, lit = 0;                                                 \
        while (i < n) {                                                        \
            T x = v[i];                                                        \
            size_t j = i + 1;                                                  \
            while (j < n && v[j] == x)                                         \
                j++;                                                           \
            size_t r = j - i;                                                  \
            if (r < RLE_MIN_RUN) {                                             \
                i = j;                                                         \
                continue;                                                      \
            }                                                                  \
            size_t pending = i - lit;                                          \
            if (pending) {                                                     \
                size_t pad = (8 - pending % 8) % 8;                            \
                if (r - pad < RLE_MIN_RUN) {                                   \
                    i = j;                                                     \
                    continue;                                                  \
                }                                                              \
                PACKED(out, v + lit, pending + pad, bw);                       \
                i += pad;                                                      \
                r -= pad;                                                      \
            }                                                                  \
            emit_rle(out, (uint32_t)x, r, bw);                                 \
            i = j;                                                             \
            lit = i;                                                           \
        }                                                                      \
        if (lit < n)                                                           \
            PACKED(out, v + lit, n - lit, bw);                                 \
    }

DEFINE_EMIT_PACKED(emit_packed_u32, uint32_t)
DEFINE_EMIT_PACKED(emit_packed_u8, uint8_t)
DEFINE_RLE_ENCODE(pq_rle_encode_u32, uint32_t, emit_packed_u32)
DEFINE_RLE_ENCODE(pq_rle_encode_u8, uint8_t, emit_packed_u8)

void pq_plain_bools(bytebuf *out, const uint8_t *v, size_t n)
{
    uint8_t *d = bb_reserve(out, (n + 7) / 8);
    if (!d)
        return;
    for (size_t i = 0; i < n; i += 8) {
        uint8_t byte = 0;
        for (size_t k = 0; k < 8 && i + k < n; k++)
            if (v[i + k])
                byte |= (uint8_t)(1u << k);
        d[i / 8] = byte;
    }
    out->len += (n + 7) / 8;
}
