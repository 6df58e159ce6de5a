/*
 * filter.c - `filter EXPRESSION` keeps the records for which the expression
 * is true.
 *
 * It does not move records: it narrows the selection vector of the batch it
 * was handed and passes the same batch on.  A batch left with no live row is
 * not passed on; the filter pulls the next one instead.  The expression is
 * compiled once in create() and bound to each new schema (a no-op while the
 * schema stays the same).  A record whose evaluation fails (a strict cast,
 * arithmetic on text that is not a number...) goes to the run's bad-record
 * policy.
 */
#include <stdlib.h>
#include <string.h>

#include "expr/expr.h"
#include "sluice/run.h"

#define FILTER_MAX_SHARED 8

typedef struct filter_state {
    sl_expr *prog;
    sl_arena scratch; /* strings made while evaluating one row */
    /* What the batch form read from the fields, left on the batch passed
       on (sl_batch.parsed) so that a map after it need not parse the same
       text again.  Only on a batch that has none, and taken off before the
       next pull: the batch belongs to the stage before. */
    const sl_value **pcols; /* stride pointers: the columns read, else NULL */
    sl_value *pstore;       /* FILTER_MAX_SHARED columns of prows rows */
    uint32_t pcols_cap, prows;
    sl_batch *shared;       /* the batch that carries pcols, or NULL */
} filter_state;

/* Room to leave what is read on b; false when there is none (it is only a
   saving).  b->parsed is set only when every row has been evaluated: the
   filter's own chunks after the first must not read a half-filled one. */
static bool share_begin(filter_state *s, sl_batch *b)
{
    if (b->parsed || b->nrows == 0) return false;
    if (s->pcols_cap < b->stride) {
        free(s->pcols);
        s->pcols = malloc(b->stride * sizeof *s->pcols);
        s->pcols_cap = s->pcols ? b->stride : 0;
        if (!s->pcols) return false;
    }
    if (s->prows < b->nrows) {
        free(s->pstore);
        s->pstore = malloc((size_t)FILTER_MAX_SHARED * b->nrows * sizeof *s->pstore);
        s->prows = s->pstore ? b->nrows : 0;
        if (!s->pstore) return false;
    }
    memset(s->pcols, 0, b->stride * sizeof *s->pcols);
    return true;
}

/* What was read for the rows rows[0..n) of b. */
static void share_rows(filter_state *s, sl_batch *b, const uint32_t *rows, uint32_t n)
{
    uint32_t cols[FILTER_MAX_SHARED];
    const sl_value *vals[FILTER_MAX_SHARED];
    uint32_t nf = sl_expr_rows_fields(s->prog, cols, vals, FILTER_MAX_SHARED);
    for (uint32_t k = 0; k < nf; k++) {
        uint32_t pc = sl_batch_phys(b, cols[k]);
        sl_value *col = s->pstore + (size_t)k * s->prows;
        s->pcols[pc] = col;
        for (uint32_t i = 0; i < n; i++) col[rows[i]] = vals[k][i];
    }
}

/* Where the argument starts inside the stage's whole text, so carets point
   into what the user wrote ("filter x > 1"). */
static size_t arg_start(const sl_stage *st, const char *args, const char **text)
{
    *text = args;
    if (!st->text) return 0;
    size_t tl = strlen(st->text), al = strlen(args);
    if (tl < al || strcmp(st->text + tl - al, args) != 0) return 0;
    *text = st->text;
    return tl - al;
}

static size_t scratch_cap(const sl_stage *st)
{
    uint64_t cap = st->run ? st->run->opt.max_record_bytes * 4 : 0;
    if (cap < (64u << 20)) cap = 64u << 20;
    return (size_t)cap;
}

static int filter_create(sl_stage *st, const char *args, sl_error *err)
{
    filter_state *s = calloc(1, sizeof *s);
    if (!s) return sl_fail(err, SL_E_NOMEM, "filter", "out of memory");
    st->state = s;
    sl_arena_init(&s->scratch, 16 * 1024, scratch_cap(st));
    if (!args) args = "";
    const char *text;
    size_t start = arg_start(st, args, &text);
    s->prog = sl_expr_compile_at(text, start, "filter", err);
    if (!s->prog) return err->code ? err->code : SL_E_USAGE;
    sl_etype t = sl_expr_type(s->prog);
    if (t != SL_T_BOOL && t != SL_T_ANY && t != SL_T_NULL) {
        sl_fail(err, SL_E_USAGE, "filter", "a filter needs a condition that is true or false, but this expression gives %s",
                sl_etype_name(t));
        size_t p = start;
        while (text[p] == ' ' || text[p] == '\t' || text[p] == '\n' || text[p] == '\r') p++;
        sl_expr_caret(err, text, strlen(text), p);
        return SL_E_USAGE;
    }
    return SL_OK;
}

static int filter_open(sl_stage *st)
{
    (void)st;
    return SL_OK;
}

/* One row through the interpreter: kept (sel[(*k)++] = row), dropped, or
   a bad record for the run's policy.  Negative when the run must stop. */
static int eval_alone(filter_state *s, sl_run *run, sl_batch *b, uint32_t row, uint32_t *sel, uint32_t *k)
{
    bool keep = false;
    if (s->scratch.first) sl_arena_reset(&s->scratch);
    int rc = sl_expr_eval_bool(s->prog, b, row, &s->scratch, &keep);
    if (rc == SL_OK) {
        if (keep) sel[(*k)++] = row;
        return SL_OK;
    }
    if (rc == SL_E_DATA) {
        rc = sl_run_bad_record(run, b, row, "filter", "%s", sl_expr_errmsg(s->prog));
        return rc < 0 ? rc : SL_OK;
    }
    sl_fail(&run->err, rc, "filter", "%s", sl_expr_errmsg(s->prog));
    if (b->info) sl_error_at(&run->err, NULL, b->info[row].line, 0, b->info[row].record);
    return rc;
}

static int filter_next(sl_stage *st, sl_batch **out)
{
    filter_state *s = st->state;
    sl_run *run = st->run;
    if (s->shared) { /* off the batch before its owner refills it */
        if (s->shared->parsed == (const struct sl_value *const *)s->pcols) s->shared->parsed = NULL;
        s->shared = NULL;
    }
    for (;;) {
        sl_batch *b;
        int rc = sl_stage_next(st->input, &b);
        if (rc != SL_BATCH) return rc;
        if ((rc = sl_expr_bind(s->prog, b->schema, UINT32_MAX, b->schema->open ? SL_EXPR_BIND_OPEN : 0, &run->err)))
            return rc;
        if (sl_batch_ensure_sel(b) < 0) return sl_fail(&run->err, SL_E_NOMEM, "filter", "out of memory");
        uint32_t *sel = b->sel, n = b->nsel, k = 0; /* sel[i..] is read before it is overwritten: k <= i */
        bool batch = sl_expr_batchable(s->prog);
        bool share = batch && share_begin(s, b);
        for (uint32_t i = 0; i < n;) {
            if (!batch) {
                if ((rc = eval_alone(s, run, b, sel[i++], sel, &k)) < 0) return rc;
                continue;
            }
            uint32_t m = n - i < SL_EXPR_BATCH ? n - i : SL_EXPR_BATCH;
            const sl_value *vals = sl_expr_eval_rows(s->prog, b, sel + i, m, &s->scratch);
            if (share) share_rows(s, b, sel + i, m);
            if (!sl_expr_rows_alone(s->prog)) { /* every row has its value: keep the true ones */
                for (uint32_t j = 0; j < m; j++) {
                    uint32_t row = sel[i + j];
                    sel[k] = row;
                    k += (uint32_t)(vals[j].type == SL_V_BOOL && vals[j].u.b);
                }
                i += m;
                continue;
            }
            for (uint32_t j = 0; j < m; j++, i++) {
                uint32_t row = sel[i];
                if (vals[j].type != SL_V_ROW) {
                    if (vals[j].type == SL_V_BOOL && vals[j].u.b) sel[k++] = row;
                } else if ((rc = eval_alone(s, run, b, row, sel, &k)) < 0) {
                    return rc;
                }
            }
        }
        b->nsel = k;
        if (k > 0 && share) {
            b->parsed = (const struct sl_value *const *)s->pcols;
            s->shared = b;
        }
        if (k > 0) {
            *out = b;
            return SL_BATCH;
        }
    }
}

static void filter_close(sl_stage *st)
{
    filter_state *s = st->state;
    if (!s) return;
    sl_expr_free(s->prog);
    sl_arena_fini(&s->scratch);
    free(s->pcols);
    free(s->pstore);
    free(s);
    st->state = NULL;
}

const sl_stage_type sl_filter_stage_type = {
    .name = "filter",
    .usage = "filter EXPRESSION",
    .summary = "keep the records for which EXPRESSION is true",
    .help = "Keeps a record only when EXPRESSION is true; false and null drop it.\n"
            "Fields are named bare (price, user.id) or in backquotes (`unit price`).\n"
            "Comparisons with an empty (null) field are false; test with x == null.\n"
            "\n"
            "  filter celsius >= -40 and celsius <= 85\n"
            "  filter status == \"approved\" and amount > 100\n"
            "  filter lower(path) =~ \"^/api/\" or is_null(referrer)\n"
            "\n"
            "The language (operators, functions, null and number rules) is in\n"
            "docs/expressions.md; `sluice help functions` lists the functions.\n",
    .create = filter_create,
    .open = filter_open,
    .next = filter_next,
    .close = filter_close,
    .schema = sl_stage_schema_input,
};
