/*
 * bytebuf.h - a growable byte buffer for binary encoders (Thrift, Parquet
 * pages), header-only.
 *
 * Appends never fail on the spot: when memory runs out the buffer sets its
 * sticky `oom` flag and drops the bytes, so an encoder writes a whole
 * structure and checks once, at the end, with bb_ok().  The buffer owns p;
 * bb_free() releases it, bb_clear() keeps it for reuse.
 */
#ifndef SLUICE_BYTEBUF_H
#define SLUICE_BYTEBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct bytebuf {
    uint8_t *p;
    size_t len, cap;
    bool oom;
} bytebuf;

static inline void bb_free(bytebuf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
    b->oom = false;
}

static inline void bb_clear(bytebuf *b)
{
    b->len = 0;
    b->oom = false;
}

static inline bool bb_ok(const bytebuf *b) { return !b->oom; }

/* Room for n more bytes: a pointer to write at (then add to len), or NULL
   with oom set. */
static inline uint8_t *bb_reserve(bytebuf *b, size_t n)
{
    if (b->oom)
        return NULL;
    if (b->len + n > b->cap) {
        size_t ncap = b->cap ? b->cap : 256;
        while (ncap < b->len + n)
            ncap *= 2;
        uint8_t *np = realloc(b->p, ncap);
        if (!np) {
            b->oom = true;
            return NULL;
        }
        b->p = np;
        b->cap = ncap;
    }
    return b->p + b->len;
}

static inline void bb_put(bytebuf *b, const void *p, size_t n)
{
    uint8_t *d = bb_reserve(b, n);
    if (d && n) {
        memcpy(d, p, n);
        b->len += n;
    }
}

static inline void bb_byte(bytebuf *b, uint8_t v)
{
    uint8_t *d = bb_reserve(b, 1);
    if (d) {
        *d = v;
        b->len++;
    }
}

static inline void bb_u32le(bytebuf *b, uint32_t v)
{
    uint8_t *d = bb_reserve(b, 4);
    if (d) {
        d[0] = (uint8_t)v;
        d[1] = (uint8_t)(v >> 8);
        d[2] = (uint8_t)(v >> 16);
        d[3] = (uint8_t)(v >> 24);
        b->len += 4;
    }
}

static inline void bb_u64le(bytebuf *b, uint64_t v)
{
    uint8_t *d = bb_reserve(b, 8);
    if (d) {
        for (int i = 0; i < 8; i++)
            d[i] = (uint8_t)(v >> (8 * i));
        b->len += 8;
    }
}

/* Unsigned LEB128 (the varint of Thrift's compact protocol and of Parquet's
   RLE run headers). */
static inline void bb_varint(bytebuf *b, uint64_t v)
{
    uint8_t *d = bb_reserve(b, 10);
    if (!d)
        return;
    size_t n = 0;
    while (v >= 0x80) {
        d[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    d[n++] = (uint8_t)v;
    b->len += n;
}

#endif
