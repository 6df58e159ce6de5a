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

typedef struct filter_state {
    sl_expr *prog;
    sl_arena scratch; /* strings made while evaluating one row */
} filter_state;

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

static int filter_next(sl_stage *st, sl_batch **out)
{
    filter_state *s = st->state;
    sl_run *run = st->run;
    for (;;) {
        sl_batch *b;
        int rc = sl_stage_next(st->input, &b);
        if (rc != SL_BATCH) return rc;
        if ((rc = sl_expr_bind(s->prog, b->schema, UINT32_MAX, b->schema->open ? SL_EXPR_BIND_OPEN : 0, &run->err)))
            return rc;
        if (sl_batch_ensure_sel(b) < 0) return sl_fail(&run->err, SL_E_NOMEM, "filter", "out of memory");
        uint32_t *sel = b->sel, n = b->nsel, k = 0;
        const sl_value *vals = NULL; /* batch values of sel[vbase..vbase+SL_EXPR_BATCH) */
        uint32_t vbase = 0;
        bool batch = sl_expr_batchable(s->prog);
        for (uint32_t i = 0; i < n; i++) {
            uint32_t row = sel[i];
            bool keep = false;
            if (batch) {
                /* sel[i..] is read before any of it is overwritten: k <= i */
                if (i % SL_EXPR_BATCH == 0) {
                    vbase = i;
                    vals = sl_expr_eval_rows(s->prog, b, sel + i, n - i < SL_EXPR_BATCH ? n - i : SL_EXPR_BATCH,
                                             &s->scratch);
                }
                const sl_value *v = &vals[i - vbase];
                if (v->type != SL_V_ROW) {
                    if (v->type == SL_V_BOOL && v->u.b) sel[k++] = row;
                    continue;
                }
            }
            if (s->scratch.first) sl_arena_reset(&s->scratch);
            rc = sl_expr_eval_bool(s->prog, b, row, &s->scratch, &keep);
            if (rc == SL_OK) {
                if (keep) sel[k++] = row;
            } else if (rc == SL_E_DATA) {
                rc = sl_run_bad_record(run, b, row, "filter", "%s", sl_expr_errmsg(s->prog));
                if (rc < 0) return rc;
            } else {
                sl_fail(&run->err, rc, "filter", "%s", sl_expr_errmsg(s->prog));
                if (b->info) sl_error_at(&run->err, NULL, b->info[row].line, 0, b->info[row].record);
                return rc;
            }
        }
        b->nsel = k;
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
