/*
 * parquet_rle.h - Parquet's RLE / bit-packing hybrid encoding (Encodings.md,
 * "RLE = 3"), used for definition levels and dictionary indices, and the
 * LSB-first bit packing it shares with PLAIN booleans.
 *
 *   hybrid  := run*
 *   run     := varint(count << 1) value      an RLE run: `count` copies of
 *                                            value, in ceil(width / 8) bytes
 *                                            little-endian
 *            | varint(groups << 1 | 1) bits  a bit-packed run of 8 * groups
 *                                            values, `width` bytes per group
 *
 * Bit packing fills each byte from its least significant bit: the values
 * 0..7 at width 3 are the bytes 0x88 0xC6 0xFA.  Only the last bit-packed run
 * may hold fewer than 8 * groups real values; it is padded with zeros (the
 * reader knows how many values there are).  The 4-byte length prefix that v1
 * data pages put before definition levels is the caller's business.
 */
#ifndef SLUICE_PARQUET_RLE_H
#define SLUICE_PARQUET_RLE_H

#include <stddef.h>
#include <stdint.h>

#include "formats/bytebuf.h"

/* Bits needed to write every value 0..max (0 for max 0). */
int pq_bit_width(uint32_t max);

/* Pack the 8 values v[0..8) at width bw (1..32) into dst[0..bw). */
void pq_bitpack8(uint8_t *dst, const uint32_t *v, int bw);

/* Append the hybrid encoding of v[0..n) at width bw (1..32) to out.  Runs of
   8 or more equal values become RLE runs, the rest bit-packed runs. */
void pq_rle_encode_u32(bytebuf *out, const uint32_t *v, size_t n, int bw);
void pq_rle_encode_u8(bytebuf *out, const uint8_t *v, size_t n, int bw);

/* PLAIN booleans: one bit per value (v[i] != 0), LSB first, the last byte
   padded with zeros. */
void pq_plain_bools(bytebuf *out, const uint8_t *v, size_t n);

#endif
