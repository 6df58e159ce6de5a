/*
 * batch.h - schemas, cells and record batches: the data every stage passes.
 *
 * Ownership, once for the whole engine:
 *
 *   A batch belongs to the stage that produced it and stays valid only until
 *   that stage's next call to next().  Cells point into memory the producer
 *   owns (its read buffer or its batch arena); a stage that keeps data longer
 *   copies it into memory of its own.
 *
 *   A schema is reference counted: a batch holds one reference; a stage that
 *   keeps a schema across batches takes its own with sl_schema_ref().
 *   Schemas are immutable once built.  Compare schemas by id, not by pointer.
 *
 * Layout: cells are stored row-major, `stride` cells per physical row.  The
 * logical column c of the schema is the physical cell colmap[c] (or c when
 * colmap is NULL), which lets select/drop/rename pass a batch on without
 * copying any cell.  Live rows are sel[0..nsel) when sel is set, else
 * 0..nrows.  A filter shrinks the selection; it never moves cells.
 */
#ifndef SLUICE_BATCH_H
#define SLUICE_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/arena.h"

struct sl_value; /* src/expr/expr.h */

/* What a cell's bytes mean. */
typedef enum sl_kind {
    SL_NULL = 0, /* empty CSV field, JSON null; bytes unused */
    SL_ABSENT,   /* key missing from this NDJSON record; reads as null,
                    omitted from NDJSON output, empty in CSV */
    SL_TEXT,     /* untyped text (CSV, TSV, lines): may read as a number;
                    NDJSON output infers number/bool/object from it */
    SL_STRING,   /* a string, never inferred (JSON string, expression) */
    SL_NUMBER,   /* text of a valid JSON number, written verbatim */
    SL_BOOL,     /* "true" or "false" */
    SL_JSON      /* compact JSON text of an object or array */
} sl_kind;

typedef struct sl_cell {
    const char *p; /* not NUL-terminated; may be NULL when len == 0 */
    uint32_t len;
    uint8_t kind;  /* sl_kind */
    uint8_t pad[3];
} sl_cell;

typedef struct sl_schema {
    uint64_t id;        /* unique for the process lifetime */
    uint32_t refs;
    uint32_t ncols;
    bool open;          /* records may carry keys beyond these (NDJSON): a
                           name not in the schema reads as absent, it is not
                           an error */
    char **names;       /* NUL-terminated, owned */
    uint32_t *name_len;
} sl_schema;

/* New schema with refcount 1, names copied; NULL on out of memory. */
sl_schema *sl_schema_new(uint32_t ncols, const char *const *names, const uint32_t *lens);
sl_schema *sl_schema_ref(sl_schema *s);
void sl_schema_unref(sl_schema *s);
/* Index of name, or -1. */
int sl_schema_find(const sl_schema *s, const char *name, size_t len);
/* Same names in the same order. */
bool sl_schema_same_names(const sl_schema *a, const sl_schema *b);

/* Where a record came from, for error messages and reject files. */
typedef struct sl_rowinfo {
    uint64_t line;     /* 1-based line where the record starts */
    uint64_t offset;   /* byte offset of the record in the (decompressed) input */
    uint64_t record;   /* 1-based data record number within the input */
    uint32_t input;    /* index into the run's input list */
    uint32_t len;      /* raw length in bytes (for reject files), 0 = unknown */
    const char *raw;   /* raw bytes of the record (valid with the batch), or NULL */
} sl_rowinfo;

typedef struct sl_batch {
    sl_schema *schema;  /* one reference held */
    uint32_t nrows;     /* physical rows filled */
    uint32_t cap_rows;  /* physical rows allocated */
    uint32_t stride;    /* cells per physical row */
    uint32_t cap_cells; /* cells allocated */
    const uint32_t *colmap; /* logical -> physical column, or NULL */
    sl_cell *cells;
    uint32_t *sel;      /* live rows when has_sel */
    uint32_t nsel;
    bool has_sel;
    sl_rowinfo *info;   /* per physical row, or NULL */
    sl_arena arena;     /* values made for this batch */
    /* Numbers the producer computed, beside their text (map): when dnum and
       dnum[c] are set for physical column c, dnum[c][row] is the double whose
       shortest text is the cell's (so reading it equals parsing the text;
       see sl_batch_num), or NaN when the row's cell is not such a number.
       Reset with the batch; a view shares it. */
    const double *const *dnum;
    /* Fields an expression stage already read as numbers (filter): when
       parsed and parsed[c] are set for physical column c, parsed[c][row] is
       what the batch form of an expression (src/expr/vec.c) reads from that
       cell - null, an int, a double, or "not a number" - for the live rows.
       Set by the stage that passes the batch on and taken off by it before
       it pulls again; reset with the batch; a view shares it. */
    const struct sl_value *const *parsed;
    /* private to the owner */
    uint32_t sel_cap;
    uint32_t rows_cfg;  /* configured row capacity (size of info) */
} sl_batch;

/* Allocate a batch able to hold cap_rows rows of up to stride cells. */
int sl_batch_init(sl_batch *b, uint32_t cap_rows, uint32_t stride, size_t arena_limit);
void sl_batch_fini(sl_batch *b);
/* Empty the batch for refilling with a schema of `stride` cells per row:
   resets the arena and the selection, keeps the allocations.  Grows the cell
   array when stride grows (keeping cap_rows * stride <= max_cells by lowering
   cap_rows).  Takes a reference to schema (may be NULL for later). */
int sl_batch_reset(sl_batch *b, sl_schema *schema, uint32_t stride);
/* The same without resetting the arena (values already made for the rows
   about to be added stay valid). */
int sl_batch_reshape(sl_batch *b, sl_schema *schema, uint32_t stride);
void sl_batch_set_schema(sl_batch *b, sl_schema *schema);
/* Make view show the rows of in (same cells, info, column map) while keeping
   view's own selection buffer, so that a stage downstream may narrow the
   selection of the view (sl_batch_ensure_sel) without touching in.  The
   schema pointer is copied without a reference: set view->schema after.
   Returns SL_OK or SL_E_NOMEM. */
int sl_batch_view(sl_batch *view, const sl_batch *in);
/* Free what a view owns (its selection buffer). */
void sl_batch_view_fini(sl_batch *view);
/* Ensure a selection vector exists (identity if there was none). */
int sl_batch_ensure_sel(sl_batch *b);

static inline uint32_t sl_batch_live(const sl_batch *b) { return b->has_sel ? b->nsel : b->nrows; }
static inline uint32_t sl_batch_row(const sl_batch *b, uint32_t i) { return b->has_sel ? b->sel[i] : i; }
static inline uint32_t sl_batch_phys(const sl_batch *b, uint32_t col) { return b->colmap ? b->colmap[col] : col; }
static inline sl_cell *sl_batch_cell(const sl_batch *b, uint32_t row, uint32_t col) {
    return &b->cells[(size_t)row * b->stride + sl_batch_phys(b, col)];
}

/* The number a producer left beside physical cell (row, pcol): 1 and *d
   when there is one, else 0 (parse the text). */
static inline int sl_batch_dnum(const sl_batch *b, uint32_t row, uint32_t pcol, double *d) {
    if (!b->dnum || !b->dnum[pcol]) return 0;
    double x = b->dnum[pcol][row];
    if (x != x) return 0;
    *d = x;
    return 1;
}

#define SL_BATCH_MAX_CELLS (1u << 18) /* 262144 cells = 4 MiB per batch */

#endif
