/*
 * agg.h - the aggregate functions of `group`: parsing `NAME = AGG(EXPR)`
 * lists, the per-group states, updating them a batch at a time, and
 * writing their results.  docs/aggregates.md is the user's side of this.
 *
 * A group is one record of bytes that group.c owns (its "group record");
 * every aggregate keeps a fixed-size state at its own offset inside it
 * (sl_agg.off, sl_agg.size).  What does not fit in a fixed size lives in an
 * sl_agg_mem whose every byte is charged to the run's memory budget:
 *
 *   - the bytes of the values min, max, first and last keep (a value is
 *     copied only when it replaces the kept one, into room that is reused
 *     while the new value fits, so memory follows the longest value of each
 *     group, not the number of records);
 *   - the values median and percentile keep (chunks of doubles per group);
 *   - one hash set per count_distinct of (group, value) pairs.
 *
 * Values.  One row's argument is first turned into an sl_agg_in (a number,
 * a text or null) by sl_agg_in_of_cell() or sl_agg_in_of_value(), following
 * the language's rules: an empty cell is null; CSV text and JSON numbers are
 * numbers when their whole text is one; JSON strings are text (but the
 * numeric aggregates read a string whose text is a number as that number,
 * as arithmetic does).  A numeric aggregate (sum, mean, var, stddev, median,
 * percentile) given a text that is not a number makes that row a bad record;
 * group applies the run's --on-error policy to it before any state changes.
 *
 * Ownership: an sl_agg list owns its names and compiled programs.  States
 * point into the sl_agg_mem; sl_agg_mem_fini() frees everything and gives
 * the bytes back to the budget.
 */
#ifndef SLUICE_AGG_H
#define SLUICE_AGG_H

#include <stddef.h>
#include <stdint.h>

#include "expr/expr.h"
#include "sluice/batch.h"
#include "sluice/error.h"
#include "stages/record.h"

struct sl_run;

typedef enum sl_agg_op {
    SL_AGG_COUNT_ALL = 0, /* count() */
    SL_AGG_COUNT,         /* count(x): values that are not null */
    SL_AGG_SUM,
    SL_AGG_MEAN,
    SL_AGG_MIN,
    SL_AGG_MAX,
    SL_AGG_FIRST,
    SL_AGG_LAST,
    SL_AGG_COUNT_DISTINCT,
    SL_AGG_VAR,           /* sample variance (n - 1) */
    SL_AGG_STDDEV,
    SL_AGG_VAR_POP,       /* population variance (n) */
    SL_AGG_STDDEV_POP,
    SL_AGG_MEDIAN,
    SL_AGG_PERCENTILE
} sl_agg_op;

/* How a row's argument is read (see the file comment). */
typedef enum sl_agg_mode {
    SL_AGG_READ_NULL = 0, /* only whether it is null (count(x)) */
    SL_AGG_READ_VALUE,    /* a number or a text, kept as read */
    SL_AGG_READ_NUM       /* a number; a string that reads as one is one */
} sl_agg_mode;

typedef struct sl_agg {
    sl_agg_op op;
    char *name;           /* output field name, NUL-terminated, owned */
    uint32_t name_len;
    char *func;           /* the aggregate's name as written ("avg") */
    sl_expr *arg;         /* owned; NULL for count() */
    char *arg_text;       /* the argument as written (trimmed), owned */
    size_t arg_pos;       /* byte offset of the argument in the stage text */
    size_t arg_end;       /* and of the end of the argument */
    char *field;          /* the argument when it is a bare field name, else NULL */
    uint32_t field_len;
    double p;             /* percentile: the fraction, 0..1 */
    sl_agg_mode mode;
    uint32_t input;       /* index of its input slot (aggregates with the same
                             argument and mode share one evaluation) */
    uint32_t off, size;   /* its state inside a group record */
} sl_agg;

/* Parse "name = agg(expr), ..." from byte `start` of text (the stage's whole
   text, so that carets point into what the user wrote) to its end.  An
   empty list is allowed (*n = 0).  Compiles every argument with
   sl_expr_compile_at().  Errors are usage errors with a caret. */
int sl_agg_parse(const char *text, size_t start, const char *stage, sl_agg **out, uint32_t *n, sl_error *err);
void sl_agg_free(sl_agg *a, uint32_t n);

/* Lay out the states: sets off/size of each aggregate from `base` on and
   returns the end offset (a multiple of 8). */
uint32_t sl_agg_layout(sl_agg *a, uint32_t n, uint32_t base);

/* Move the error caret (err->col, err->detail) that a compile or bind of a
   program made from text[0..cut) computed, onto the same place in the
   whole text: the programs are compiled from a copy cut after their
   argument, and the user should see the whole stage. */
void sl_agg_recaret(sl_error *err, const char *text, size_t cut, size_t arg_start);

/* ---- one row's argument ---- */

enum { SL_AIN_NULL = 0, SL_AIN_INT, SL_AIN_DBL, SL_AIN_TEXT, SL_AIN_BAD };

typedef struct sl_agg_in {
    union {
        int64_t i;
        double d;
    } n;
    const char *s;    /* the bytes of a text, or of a number as read (NULL
                         for a computed number) */
    uint32_t len;
    uint8_t t;        /* SL_AIN_* (BAD: a numeric aggregate's text that is
                         not a number) */
    uint8_t kind;     /* sl_kind of the cell it came from (how first, last,
                         min and max write it) */
    uint8_t pad[2];
} sl_agg_in;

void sl_agg_in_of_cell(const sl_cell *c, sl_agg_mode mode, sl_agg_in *in);
/* The same for logical column col of a row of b, using the number a stage
   upstream computed for the cell (sl_batch_dnum) instead of its text. */
void sl_agg_in_of_batch(const sl_batch *b, uint32_t row, uint32_t col, sl_agg_mode mode, sl_agg_in *in);
void sl_agg_in_of_value(const sl_value *v, sl_agg_mode mode, sl_agg_in *in);

/* ---- memory outside the fixed-size states ---- */

typedef struct sl_agg_dset sl_agg_dset;

typedef struct sl_agg_mem {
    struct sl_run *run;
    sl_budget_arena arena;    /* value bytes, median chunks, distinct entries */
    sl_agg_dset *dsets;       /* one per aggregate (used by count_distinct) */
    uint32_t ndsets;
    double *tmp;              /* median/percentile: one group's values */
    size_t tmp_cap;
    uint64_t tmp_charged;
} sl_agg_mem;

int sl_agg_mem_init(sl_agg_mem *m, struct sl_run *run, uint32_t naggs);
void sl_agg_mem_fini(sl_agg_mem *m);
/* Bytes the memory holds (for messages). */
uint64_t sl_agg_mem_bytes(const sl_agg_mem *m);

/* ---- updating and finishing ---- */

/* Set the state of every aggregate in a new group record. */
void sl_agg_init_states(const sl_agg *a, uint32_t n, uint8_t *rec);

/* Where a value was read, in the order of the whole input of a sharded
   run: the input's position on the command line, then the byte offset in
   it.  min, max, first and last keep the position of their value, so that
   merging partial states picks the value a single run would have kept. */
typedef struct sl_agg_pos {
    uint64_t off;
    uint32_t input;
    uint32_t pad;
} sl_agg_pos;

static inline int sl_agg_pos_cmp(uint32_t ai, uint64_t ao, uint32_t bi, uint64_t bo)
{
    if (ai != bi)
        return ai < bi ? -1 : 1;
    return (ao > bo) - (ao < bo);
}

/* Update aggregate `ai` of the groups recs[0..n) (numbered gids[0..n),
   which count_distinct uses to tell the groups apart: records may move
   between batches) with in[0..n) (ignored by count()); pos[0..n) (or
   NULL: not kept) says where each row was read.  A NULL rec skips the
   row.  Returns SL_OK, or SL_E_NOMEM when the budget is spent (nothing
   recorded in err). */
int sl_agg_update(const sl_agg *a, uint32_t ai, sl_agg_mem *m, uint8_t *const *recs, const uint32_t *gids,
                  const sl_agg_in *in, const sl_agg_pos *pos, uint32_t n);

/* The result of aggregate `ai` for one group as a cell: numbers are
   formatted into `out` (integers as digits, doubles in their shortest
   round-trip form), kept values point into the state's memory.  Returns
   SL_OK, SL_E_NOMEM (the arena's cap, or the budget for the median's
   scratch array). */
int sl_agg_result(const sl_agg *a, uint32_t ai, sl_agg_mem *m, const uint8_t *rec, sl_arena *out, sl_cell *cell);

/* ---- partial states (--partial and sluice merge, docs/sharding.md) ---- */

struct bytebuf;
struct json_t;

/* Append aggregate ai's state of group number gid (of ngroups) as JSON to
   b (a full buffer sets its oom flag).  Returns SL_OK or SL_E_NOMEM. */
int sl_agg_state_json(const sl_agg *a, uint32_t ai, sl_agg_mem *m, const uint8_t *rec, uint32_t gid, uint64_t ngroups,
                      struct bytebuf *b);
/* Fold a state read from a partial file into the state of group gid in
   rec, so that the result is what one run over both inputs would hold.
   Bytes of values are decoded into scratch.  Returns SL_OK, SL_E_NOMEM, or
   SL_E_DATA with the reason in why. */
int sl_agg_state_merge(const sl_agg *a, uint32_t ai, sl_agg_mem *m, uint8_t *rec, uint32_t gid, const struct json_t *j,
                       sl_arena *scratch, char *why, size_t cap);
/* Bytes as a JSON string, or {"hex":"..."} when they are not UTF-8; and
   back (the bytes of a string point into j, of hex into a). */
void sl_agg_json_bytes(struct bytebuf *b, const char *p, size_t n);
int sl_agg_json_get_bytes(const struct json_t *j, sl_arena *a, const char **p, size_t *n);

/* ---- the numeric kernels (exposed for the unit tests) ---- */

/* Neumaier's compensated sum: add x to (*s, *c).  The sum is *s + *c. */
static inline void sl_agg_neumaier(double *s, double *c, double x)
{
    double t = *s + x;
    if ((*s >= 0 ? *s : -*s) >= (x >= 0 ? x : -x))
        *c += (*s - t) + x;
    else
        *c += (x - t) + *s;
    *s = t;
}

/* The q-quantile (0 <= q <= 1) of the sorted v[0..n), n > 0, interpolated
   linearly between the two closest ranks as DuckDB's quantile_cont does:
   h = (n - 1) q, lo = floor(h), result v[lo] + (h - lo) (v[lo+1] - v[lo]). */
double sl_agg_quantile(const double *v, size_t n, double q);

#endif
