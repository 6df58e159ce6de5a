/*
 * sortkey.h - sort keys: the key list of sort and top, and how values order.
 *
 * A key list is `KEY[, KEY...]` where KEY is a field name, `-name` for
 * descending, `+name` (or just name) for ascending; names with other
 * characters than letters, digits, _ and . go in backquotes or double
 * quotes (-`unit price`), outside which the sign stays.
 *
 * The order of values, for each key:
 *
 *   1. numbers, by value: a cell of kind number, or of kind text whose
 *      whole text parses as a number (sl_num_parse: 12, -3.5, 1e3; not
 *      " 12", not "0x10", not "inf").  1, 1.0 and 1e0 are equal.
 *   2. text, byte-wise (memcmp, then the shorter first): text that is not a
 *      number, JSON strings (never numbers, even "12": the language keeps
 *      strings apart), booleans and nested JSON by their text.
 *   3. null and absent values, last.
 *
 * A descending key (-name) reverses the order inside classes 1 and 2 but
 * not the order of the classes: numbers still come before text, and nulls
 * are last in both directions, so that the records that lack a value never
 * push the ones that have one away from the top.  Records with equal keys
 * keep their input order (both sort and top are stable).
 */
#ifndef SLUICE_SORTKEY_H
#define SLUICE_SORTKEY_H

#include <stdint.h>

#include "sluice/batch.h"
#include "sluice/error.h"

typedef struct sl_sortspec {
    char **names;     /* owned, NUL-terminated */
    uint32_t *lens;
    uint8_t *desc;    /* 1 = descending */
    uint32_t n;
} sl_sortspec;

/* Parse a key list; an empty list or a bad name is a usage error naming
   the stage.  *used (optional) gets the number of bytes of text consumed,
   which is all of it. */
int sl_sortspec_parse(sl_sortspec *k, const char *text, const char *stage, sl_error *err);
void sl_sortspec_free(sl_sortspec *k);

/* Column of each key in schema s, into cols[0..n): -1 when an open schema
   lacks it (the value is then absent); a closed schema that lacks a key is
   a usage error naming the fields there are. */
int sl_sortspec_bind(const sl_sortspec *k, const sl_schema *s, int32_t *cols, const char *stage, sl_error *err);

enum { SL_SK_INT = 0, SL_SK_DOUBLE, SL_SK_TEXT, SL_SK_NULL };

/* A key value ready for comparison: parsed once per record, compared many
   times.  TEXT points at the cell's bytes (it lives as long as they do) and
   keeps its first 16 bytes as two big-endian integers, so that text of up
   to 16 bytes compares without reading the bytes themselves (which, in a
   sort, are far away in memory). */
typedef struct sl_sortkey {
    union {
        int64_t i;
        double d;
        const char *p;
    } u;
    uint64_t prefix;  /* TEXT: bytes 0..7, big-endian, zero-padded */
    uint64_t prefix2; /* TEXT: bytes 8..15, the same */
    uint32_t len;
    uint8_t cls;      /* SL_SK_* */
    uint8_t pad[3];
} sl_sortkey;

void sl_sortkey_of_cell(const sl_cell *c, sl_sortkey *k);

/* Fill keys[0..n) from the logical cells of a record and the key columns. */
static inline void sl_sortkeys_of_cells(const sl_cell *cells, const int32_t *cols, uint32_t n, sl_sortkey *keys)
{
    static const sl_cell absent = {NULL, 0, SL_ABSENT, {0}};
    for (uint32_t i = 0; i < n; i++)
        sl_sortkey_of_cell(cols[i] < 0 ? &absent : &cells[cols[i]], &keys[i]);
}

/* The same for physical row `row` of a batch (through its column map). */
void sl_sortkeys_of_row(const sl_batch *b, uint32_t row, const int32_t *cols, uint32_t n, sl_sortkey *keys);

static inline int sl_sortkey_rank(uint8_t cls) { return cls <= SL_SK_DOUBLE ? 0 : cls == SL_SK_TEXT ? 1 : 2; }

static inline int sl_sortkey_num_cmp(const sl_sortkey *a, const sl_sortkey *b)
{
    if (a->cls == SL_SK_INT && b->cls == SL_SK_INT)
        return (a->u.i > b->u.i) - (a->u.i < b->u.i);
    if (a->cls == SL_SK_DOUBLE && b->cls == SL_SK_DOUBLE)
        return (a->u.d > b->u.d) - (a->u.d < b->u.d);
    /* an integer against a double: long double holds every int64 exactly */
    long double x = a->cls == SL_SK_INT ? (long double)a->u.i : (long double)a->u.d;
    long double y = b->cls == SL_SK_INT ? (long double)b->u.i : (long double)b->u.d;
    return (x > y) - (x < y);
}

static inline int sl_sortkey_text_cmp(const sl_sortkey *a, const sl_sortkey *b)
{
    if (a->prefix != b->prefix)
        return a->prefix < b->prefix ? -1 : 1;
    if (a->prefix2 != b->prefix2)
        return a->prefix2 < b->prefix2 ? -1 : 1;
    uint32_t m = a->len < b->len ? a->len : b->len;
    for (uint32_t i = 16; i < m; i++) {
        unsigned char x = (unsigned char)a->u.p[i], y = (unsigned char)b->u.p[i];
        if (x != y)
            return x < y ? -1 : 1;
    }
    return (a->len > b->len) - (a->len < b->len);
}

/* <0, 0, >0 as a orders before, with, after b under the keys' directions.
   The class order (numbers, text, null) does not turn with a direction. */
static inline __attribute__((always_inline)) int sl_sortkey_cmp(const sl_sortkey *a, const sl_sortkey *b, const uint8_t *desc, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        int ra = sl_sortkey_rank(a[i].cls), rb = sl_sortkey_rank(b[i].cls);
        if (ra != rb)
            return ra < rb ? -1 : 1;
        int c = ra == 0 ? sl_sortkey_num_cmp(&a[i], &b[i]) : ra == 1 ? sl_sortkey_text_cmp(&a[i], &b[i]) : 0;
        if (c)
            return desc[i] ? -c : c;
    }
    return 0;
}

#endif
