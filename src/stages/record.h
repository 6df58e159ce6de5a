/*
 * record.h - owned copies of records, for the stages that keep records past
 * their batch (sort, top, uniq, join): a compact byte encoding, a table of
 * the schemas those records use, a hash, and the budget's size in words.
 *
 * The encoding of one record is the same in memory and in sort's run files,
 * so spilling is a plain write and merging a plain read:
 *
 *   varint  body     number of bytes after this varint
 *   varint  schema   index into the stage's sl_schema_table
 *   varint  input    sl_rowinfo.input   (which input the record came from)
 *   varint  line     sl_rowinfo.line    (so that errors after a sort still
 *   varint  record   sl_rowinfo.record   name the record's position)
 *   varint  offset   sl_rowinfo.offset
 *   varint  ncells
 *   ncells x varint  (len << 3) | kind  (kind: sl_kind, < 8)
 *   the cells' bytes, back to back, in column order
 *
 * A varint is LEB128: 7 bits per byte, least significant first, the high
 * bit set on every byte but the last.  A CSV record of 9 short fields costs
 * about 15 bytes over its text.  The raw text of the record (rowinfo.raw,
 * used by reject files) is not kept: a record that went through sort, top
 * or join is rejected downstream without its raw bytes.
 *
 * Ownership: encoded records live in memory of the stage that made them;
 * cells decoded from a record point into it and are valid as long as it is.
 */
#ifndef SLUICE_RECORD_H
#define SLUICE_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/batch.h"

/* The largest encoded header before the cells: 7 varints of at most 10. */
#define SL_RECORD_HDR_MAX 70

/* Copy the logical cells of physical row `row` of b (following the column
   map) into cells[0..schema ncols). */
void sl_record_gather(const sl_batch *b, uint32_t row, sl_cell *cells);

/* Bytes sl_record_encode() will write for these cells. */
size_t sl_record_size(uint32_t schema, const sl_rowinfo *info, const sl_cell *cells, uint32_t ncells);

/* Encode into dst (at least sl_record_size() bytes); returns the bytes
   written.  Repoints cells[i].p at the copy of their bytes inside dst, so
   the caller can go on using `cells` as a view of the copy. */
size_t sl_record_encode(uint8_t *dst, uint32_t schema, const sl_rowinfo *info, sl_cell *cells, uint32_t ncells);

/* Total length (the body varint included) of the record that starts at p,
   given `avail` bytes: >0, 0 when more bytes are needed to tell, or -1
   when the bytes are not a record. */
int64_t sl_record_total(const uint8_t *p, size_t avail);

/* A decoded record: the header, and cells pointing into the encoding. */
typedef struct sl_record_view {
    uint32_t schema;
    uint32_t ncells;
    sl_rowinfo info;  /* raw = NULL, len = 0 */
} sl_record_view;

/* Decode the complete record at p[0..total) (total from sl_record_total).
   Cells go to cells[0..ncells), which must have room for max_cells; when
   the record has more, *v is filled and -2 returned so that the caller can
   grow the array and call again.  Returns 0, or -1 for corrupt bytes. */
int sl_record_decode(const uint8_t *p, size_t total, sl_record_view *v, sl_cell *cells, uint32_t max_cells);

/* ---- the schemas of kept records ---- */

/* Schemas with the same names (and the same open flag) share one index,
   so a reader that makes a new schema object per input costs one entry. */
typedef struct sl_schema_table {
    sl_schema **s;      /* one reference each */
    uint32_t n, cap;
    uint64_t last_id;   /* schema id looked up last, and its index */
    uint32_t last_idx;
    uint32_t *slots;    /* hash of names -> index + 1, 0 = empty */
    uint32_t nslots;
} sl_schema_table;

/* Index of s (added when new).  Returns SL_OK or SL_E_NOMEM; *added tells
   whether it is new (the caller then extends its per-schema data). */
int sl_schema_table_add(sl_schema_table *t, sl_schema *s, uint32_t *idx, int *added);
void sl_schema_table_fini(sl_schema_table *t);

/* ---- memory charged to the run's budget ---- */

struct sl_run;
typedef struct sl_budget_chunk sl_budget_chunk;

/* A bump allocator whose every chunk is taken from the run's memory budget
   (sl_run_mem_take) before it is malloc'd, and given back when freed.
   Chunks are kept across sl_budget_arena_reset(). */
typedef struct sl_budget_arena {
    sl_budget_chunk *first, *cur;
    size_t chunk_size;
    uint64_t charged;     /* bytes taken from the budget for the chunks */
    struct sl_run *run;
    int oom;              /* the last NULL came from malloc, not the budget */
} sl_budget_arena;

void sl_budget_arena_init(sl_budget_arena *a, struct sl_run *run, size_t chunk_size);
/* n bytes aligned to 8, or NULL: over the budget (oom == 0) or out of
   memory (oom == 1).  Records no error: the caller knows what to say. */
void *sl_budget_arena_alloc(sl_budget_arena *a, size_t n);
/* Forget every allocation, keep (and keep charging) the chunks. */
void sl_budget_arena_reset(sl_budget_arena *a);
/* Free the chunks and give their bytes back. */
void sl_budget_arena_fini(sl_budget_arena *a);

/* ---- small helpers ---- */

/* 64-bit hash of p[0..n) (not cryptographic; seeded per process would be
   nicer against hostile keys, but a fixed seed keeps runs reproducible). */
uint64_t sl_hash_bytes(const void *p, size_t n);

/* "256M", "1.5G", "512K" or "1000 bytes": a memory size as the user would
   write it on the command line.  Returns buf. */
const char *sl_size_text(uint64_t bytes, char buf[32]);

static inline size_t sl_varint_put(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

static inline size_t sl_varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* Read a varint from p[0..end); returns the bytes used, 0 when incomplete
   or longer than 10 bytes. */
static inline size_t sl_varint_get(const uint8_t *p, const uint8_t *end, uint64_t *v)
{
    uint64_t x = 0;
    for (size_t i = 0; i < 10 && p + i < end; i++) {
        x |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) {
            *v = x;
            return i + 1;
        }
    }
    return 0;
}

#endif
