/*
 * map.c - `map a = EXPR, b = EXPR` computes fields.
 *
 * Assignments run left to right and each sees the ones before it; assigning
 * a field the input has replaces it in place, a new name is appended.  The
 * output schema (input names + new names) is built once per input schema.
 *
 * Map owns its output batch: for each live input row it copies the input's
 * cells (pointers only: the input batch stays valid while ours is in use,
 * since we pull again only on our own next call), then evaluates the
 * assignments against the output row and writes each value as a cell whose
 * text lives in the output batch's arena.  Row info is copied, so errors
 * downstream keep their positions.  When the output holds fewer rows than
 * the input (a wider schema lowers the row capacity), one input batch is
 * handed on in several parts.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "expr/expr.h"
#include "sluice/run.h"
#include "stages/hints.h"

typedef struct map_state {
    sl_expr_assign *as;
    size_t n;
    uint32_t *target;     /* per assignment: output column */
    uint32_t *nvis;       /* per assignment: columns it may read */
    uint64_t in_id;       /* input schema the plan is for */
    bool planned;
    sl_schema *schema;    /* output schema (one reference) */
    uint32_t nin, nout;
    sl_batch out;
    bool out_init;
    sl_batch *in;         /* input batch being mapped */
    uint32_t pos;         /* next live index of in */
    sl_arena scratch;     /* strings made while evaluating one row */
    char *num, *num_end;  /* room in out's arena where computed numbers are
                             written back to back (reset with the batch) */
    /* doubles computed for the target columns, beside their text (out.dnum):
       dcol[c] for each target column c, NULL for the others */
    uint32_t *targets;    /* the distinct target columns */
    uint32_t ntargets;
    double **dcol;        /* nout pointers */
    double *dstore;       /* ntargets * dstore_rows */
    uint32_t dstore_rows;
    bool batch;           /* every assignment has a batch form (map_rows_batch) */
    uint8_t *on_input;    /* per assignment: reads only input columns that no
                             assignment before it sets, so it may be evaluated
                             on the input batch (what a filter before it read
                             is there, sl_batch.parsed) */
    uint32_t *srcrow;     /* per output row: its input row (dstore_rows) */
    uint8_t *redo;        /* per output row: evaluate alone */
    uint32_t *kept;       /* output rows not dropped */
    uint32_t rowbuf[SL_EXPR_BATCH];
    uint8_t *textless;    /* per assignment: the next stage reads it only as
                             a number, so a double gets no text (hints.h) */
} map_state;

#define MAP_NUM_MAX 32    /* sl_num_format_double/int write at most this */
#define MAP_NUM_BLOCK 8192

/* A computed value as a cell of the output batch.  Numbers are formatted
   straight into a block of the batch arena, each taking only its length;
   everything else goes through sl_value_to_cell. */
static int put_value(map_state *s, sl_batch *out, const sl_value *v, sl_cell *c)
{
    if (v->type != SL_V_DOUBLE && v->type != SL_V_INT)
        return sl_value_to_cell(v, &out->arena, c);
    if (!s->num || (size_t)(s->num_end - s->num) < MAP_NUM_MAX) {
        s->num = sl_arena_alloc(&out->arena, MAP_NUM_BLOCK);
        if (!s->num) {
            s->num_end = NULL;
            return SL_E_NOMEM;
        }
        s->num_end = s->num + MAP_NUM_BLOCK;
    }
    char *p = s->num;
    size_t n = v->type == SL_V_DOUBLE ? sl_num_format_double(v->u.d, p) : sl_num_format_int(v->u.i, p);
    s->num = p + n;
    *c = (sl_cell){p, (uint32_t)n, SL_NUMBER, {0}};
    return SL_OK;
}

static size_t arena_cap(const sl_stage *st)
{
    uint64_t cap = st->run ? st->run->opt.max_record_bytes * 4 : 0;
    if (cap < (64u << 20)) cap = 64u << 20;
    return (size_t)cap;
}

static int map_create(sl_stage *st, const char *args, sl_error *err)
{
    map_state *s = calloc(1, sizeof *s);
    if (!s) return sl_fail(err, SL_E_NOMEM, "map", "out of memory");
    st->state = s;
    sl_arena_init(&s->scratch, 16 * 1024, arena_cap(st));
    if (!args) args = "";
    const char *text = args;
    size_t start = 0;
    if (st->text) {
        size_t tl = strlen(st->text), al = strlen(args);
        if (tl >= al && strcmp(st->text + tl - al, args) == 0) {
            text = st->text;
            start = tl - al;
        }
    }
    int rc = sl_expr_compile_assignments(text, start, "map", &s->as, &s->n, err);
    if (rc) return rc;
    s->target = calloc(s->n, sizeof *s->target);
    s->nvis = calloc(s->n, sizeof *s->nvis);
    if (!s->target || !s->nvis) return sl_fail(err, SL_E_NOMEM, "map", "out of memory");
    s->batch = s->n > 0;
    for (size_t i = 0; i < s->n; i++)
        if (!sl_expr_batchable(s->as[i].prog)) s->batch = false;
    return SL_OK;
}

static int map_open(sl_stage *st)
{
    map_state *s = st->state;
    uint32_t rows = st->run && st->run->opt.batch_rows ? st->run->opt.batch_rows : 1024;
    if (sl_batch_init(&s->out, rows, 1, arena_cap(st)) < 0) {
        s->out_init = true;
        return sl_fail(&st->run->err, SL_E_NOMEM, "map", "out of memory");
    }
    s->out_init = true;
    return SL_OK;
}

/* Output schema and assignment targets for a new input schema. */
static int plan(sl_stage *st, map_state *s, const sl_schema *in)
{
    sl_error *err = &st->run->err;
    uint32_t max = in->ncols + (uint32_t)s->n;
    const char **names = malloc((max ? max : 1) * sizeof *names);
    uint32_t *lens = malloc((max ? max : 1) * sizeof *lens);
    if (!names || !lens) {
        free(names);
        free(lens);
        return sl_fail(err, SL_E_NOMEM, "map", "out of memory");
    }
    uint32_t k = 0;
    for (uint32_t c = 0; c < in->ncols; c++) {
        names[k] = in->names[c];
        lens[k++] = in->name_len[c];
    }
    for (size_t i = 0; i < s->n; i++) {
        const sl_expr_assign *a = &s->as[i];
        s->nvis[i] = k;
        uint32_t c = 0;
        while (c < k && !(lens[c] == a->name_len && memcmp(names[c], a->name, a->name_len) == 0)) c++;
        if (c == k) {
            names[k] = a->name;
            lens[k++] = a->name_len;
        }
        s->target[i] = c;
    }
    sl_schema *out = sl_schema_new(k, names, lens);
    free(names);
    free(lens);
    if (!out) return sl_fail(err, SL_E_NOMEM, "map", "out of memory");
    out->open = in->open;
    if (s->schema) sl_schema_unref(s->schema);
    s->schema = out;
    s->nin = in->ncols;
    s->nout = k;
    s->in_id = in->id;
    s->planned = true;
    free(s->targets);
    free(s->dcol);
    s->targets = malloc((s->n ? s->n : 1) * sizeof *s->targets);
    s->dcol = calloc(k ? k : 1, sizeof *s->dcol);
    if (!s->targets || !s->dcol) return sl_fail(err, SL_E_NOMEM, "map", "out of memory");
    s->ntargets = 0;
    for (size_t i = 0; i < s->n; i++) {
        uint32_t t = 0;
        while (t < s->ntargets && s->targets[t] != s->target[i]) t++;
        if (t == s->ntargets) s->targets[s->ntargets++] = s->target[i];
    }
    s->dstore_rows = 0; /* placed again with the next batch */
    unsigned flags = in->open ? SL_EXPR_BIND_OPEN : 0;
    for (size_t i = 0; i < s->n; i++) {
        int rc = sl_expr_bind(s->as[i].prog, out, s->nvis[i], flags, err);
        if (rc) return rc;
    }
    free(s->on_input);
    s->on_input = calloc(s->n ? s->n : 1, 1);
    if (!s->on_input) return sl_fail(err, SL_E_NOMEM, "map", "out of memory");
    for (size_t i = 0; i < s->n; i++) {
        bool ok = true;
        const sl_expr *prog = s->as[i].prog;
        for (uint32_t f = 0; ok && f < sl_expr_nfields(prog); f++) {
            uint32_t col = sl_expr_field_col(prog, f);
            if (col == UINT32_MAX) continue; /* not in the schema: null on either batch */
            if (col >= s->nin) ok = false;
            for (size_t j = 0; ok && j < i; j++)
                if (s->target[j] == col) ok = false;
        }
        s->on_input[i] = ok;
    }
    return SL_OK;
}

/* Output row k: the cells of input row `row`; with `init`, the new columns
   null and no computed number yet (without: every assignment sets its
   column of this row next, or the row is laid out again, and no assignment
   reads a new column before the one that sets it). */
static inline __attribute__((always_inline)) void copy_row(map_state *s, const sl_batch *in, uint32_t row, sl_batch *out,
                                                           uint32_t k, bool init)
{
    sl_cell *dst = &out->cells[(size_t)k * out->stride];
    const sl_cell *src = &in->cells[(size_t)row * in->stride];
    if (in->colmap) {
        for (uint32_t c = 0; c < s->nin; c++) dst[c] = src[in->colmap[c]];
    } else {
        for (uint32_t c = 0; c < s->nin; c++) dst[c] = src[c];
    }
    if (in->info) out->info[k] = in->info[row];
    else memset(&out->info[k], 0, sizeof out->info[k]);
    if (!init) {
        /* an input column set by an assignment may be read (as a number)
           by one before it: no number of its own yet */
        for (uint32_t t = 0; t < s->ntargets; t++)
            if (s->targets[t] < s->nin) s->dcol[s->targets[t]][k] = NAN;
        return;
    }
    if (s->nout == s->nin + 1) /* one new column, the usual case: no memset call */
        dst[s->nin] = (sl_cell){NULL, 0, SL_NULL, {0}};
    else
        for (uint32_t c = s->nin; c < s->nout; c++) dst[c] = (sl_cell){NULL, 0, SL_NULL, {0}};
    for (uint32_t t = 0; t < s->ntargets; t++) s->dcol[s->targets[t]][k] = NAN;
}

static int nomem_at(sl_stage *st, const sl_batch *out, uint32_t k)
{
    sl_run *run = st->run;
    sl_fail(&run->err, SL_E_NOMEM, "map", "computed values of one batch are over the memory cap of %zu bytes (records too large?)",
            arena_cap(st));
    if (out->info) sl_error_at(&run->err, NULL, out->info[k].line, 0, out->info[k].record);
    return SL_E_NOMEM;
}

/* Assignment i's value v as output row k's cell, and its double beside it. */
static inline int store(sl_stage *st, map_state *s, sl_batch *out, uint32_t k, size_t i, const sl_value *v)
{
    sl_cell *dst = &out->cells[(size_t)k * out->stride + s->target[i]];
    if (s->textless && s->textless[i] && v->type == SL_V_DOUBLE)
        *dst = (sl_cell){"#", 1, SL_NUMBER, {0}}; /* read through dcol only */
    else if (put_value(s, out, v, dst) != SL_OK)
        return nomem_at(st, out, k);
    s->dcol[s->target[i]][k] = v->type == SL_V_DOUBLE ? v->u.d : NAN;
    return SL_OK;
}

/* Every assignment for output row k, one at a time, left to right.  A
   record that fails goes to the bad-record policy: *dropped. */
static int eval_row(sl_stage *st, map_state *s, sl_batch *out, uint32_t k, bool *dropped)
{
    sl_run *run = st->run;
    *dropped = false;
    if (s->scratch.first) sl_arena_reset(&s->scratch);
    for (size_t i = 0; i < s->n; i++) {
        sl_expr *prog = s->as[i].prog;
        const sl_value *v;
        int rc = sl_expr_eval_ref(prog, out, k, &s->scratch, &v);
        if (rc == SL_E_DATA) {
            rc = sl_run_bad_record(run, out, k, "map", "setting %s: %s", s->as[i].name, sl_expr_errmsg(prog));
            if (rc < 0) return rc;
            *dropped = true;
            return SL_OK;
        }
        if (rc != SL_OK) return nomem_at(st, out, k);
        if ((rc = store(st, s, out, k, i, v)) < 0) return rc;
    }
    return SL_OK;
}

/* When every assignment has a batch form: the rows are laid out first, then
   each assignment is evaluated for all of them (sl_expr_eval_rows), left to
   right.  A row that the batch form leaves to the interpreter (SL_V_ROW) is
   laid out again from its input and evaluated alone afterwards, in row
   order, so that errors come in the order of the records; a record dropped
   by the bad-record policy leaves the selection. */
static int map_rows_batch(sl_stage *st, map_state *s, const sl_batch *in, sl_batch *out)
{
    uint32_t live = sl_batch_live(in), k = 0;
    while (s->pos < live && k < out->cap_rows) {
        uint32_t row = sl_batch_row(in, s->pos++);
        s->srcrow[k] = row;
        copy_row(s, in, row, out, k, false);
        k++;
    }
    out->nrows = k;
    memset(s->redo, 0, k);
    bool any_redo = false;
    for (size_t i = 0; i < s->n; i++) {
        for (uint32_t c = 0; c < k; c += SL_EXPR_BATCH) {
            uint32_t m = k - c < SL_EXPR_BATCH ? k - c : SL_EXPR_BATCH;
            const sl_value *vals;
            if (s->on_input[i]) { /* the same cells, on the batch that has them first */
                vals = sl_expr_eval_rows(s->as[i].prog, in, s->srcrow + c, m, &s->scratch);
            } else {
                for (uint32_t j = 0; j < m; j++) s->rowbuf[j] = c + j;
                vals = sl_expr_eval_rows(s->as[i].prog, out, s->rowbuf, m, &s->scratch);
            }
            for (uint32_t j = 0; j < m; j++) {
                if (vals[j].type == SL_V_ROW) { /* null until it is laid out again */
                    s->redo[c + j] = 1;
                    any_redo = true;
                    out->cells[(size_t)(c + j) * out->stride + s->target[i]] = (sl_cell){NULL, 0, SL_NULL, {0}};
                    s->dcol[s->target[i]][c + j] = NAN;
                    continue;
                }
                int rc = store(st, s, out, c + j, i, &vals[j]);
                if (rc < 0) return rc;
            }
        }
    }
    if (!any_redo) return SL_OK;
    uint32_t kept = 0;
    for (uint32_t r = 0; r < k; r++) {
        if (!s->redo[r]) {
            s->kept[kept++] = r;
            continue;
        }
        copy_row(s, in, s->srcrow[r], out, r, true);
        bool dropped = false;
        int rc = eval_row(st, s, out, r, &dropped);
        if (rc < 0) return rc;
        if (!dropped) s->kept[kept++] = r;
    }
    if (kept < k) {
        if (sl_batch_ensure_sel(out) < 0) return sl_fail(&st->run->err, SL_E_NOMEM, "map", "out of memory");
        memcpy(out->sel, s->kept, kept * sizeof *out->sel);
        out->nsel = kept;
    }
    return SL_OK;
}

static int map_next(sl_stage *st, sl_batch **outp)
{
    map_state *s = st->state;
    sl_run *run = st->run;
    int rc;
    for (;;) {
        if (!s->in || s->pos >= sl_batch_live(s->in)) {
            s->in = NULL;
            sl_batch *in;
            rc = sl_stage_next(st->input, &in);
            if (rc != SL_BATCH) return rc;
            s->in = in;
            s->pos = 0;
            if ((!s->planned || in->schema->id != s->in_id) && (rc = plan(st, s, in->schema))) return rc;
        }
        sl_batch *in = s->in, *out = &s->out;
        if ((rc = sl_batch_reset(out, s->schema, s->nout ? s->nout : 1)) < 0)
            return sl_fail(&run->err, SL_E_NOMEM, "map", "out of memory");
        s->num = s->num_end = NULL; /* the arena was reset */
        if (s->ntargets && s->dstore_rows != out->cap_rows) {
            uint32_t cap = out->cap_rows;
            free(s->dstore);
            free(s->srcrow);
            free(s->redo);
            free(s->kept);
            s->dstore = malloc((size_t)s->ntargets * cap * sizeof *s->dstore);
            s->srcrow = malloc((size_t)cap * sizeof *s->srcrow);
            s->kept = malloc((size_t)cap * sizeof *s->kept);
            s->redo = malloc(cap);
            s->dstore_rows = 0;
            if (!s->dstore || !s->srcrow || !s->kept || !s->redo)
                return sl_fail(&run->err, SL_E_NOMEM, "map", "out of memory");
            s->dstore_rows = cap;
            for (uint32_t t = 0; t < s->ntargets; t++) s->dcol[s->targets[t]] = s->dstore + (size_t)t * out->cap_rows;
        }
        out->dnum = s->ntargets ? (const double *const *)s->dcol : NULL;
        if (s->batch) {
            if ((rc = map_rows_batch(st, s, in, out)) < 0) return rc;
        } else {
            uint32_t live = sl_batch_live(in), k = 0;
            while (s->pos < live && k < out->cap_rows) {
                uint32_t row = sl_batch_row(in, s->pos++);
                copy_row(s, in, row, out, k, true);
                out->nrows = k + 1;
                bool dropped = false;
                if ((rc = eval_row(st, s, out, k, &dropped)) < 0) return rc;
                if (!dropped) k++;
            }
            out->nrows = k;
        }
        if (sl_batch_live(out) > 0) {
            *outp = out;
            return SL_BATCH;
        }
    }
}

static int map_schema(sl_stage *st, sl_schema **out)
{
    map_state *s = st->state;
    sl_schema *in;
    int rc = sl_stage_schema(st->input, &in);
    *out = NULL;
    if (rc < 0 || !in) return rc;
    if ((!s->planned || in->id != s->in_id) && (rc = plan(st, s, in))) return rc;
    *out = s->schema;
    return SL_OK;
}

void sl_map_hint_group(sl_stage *m, const sl_stage *g)
{
    map_state *s = m->state;
    if (!s || !s->n || !m->text) return;
    uint8_t *tl = calloc(s->n, 1);
    if (!tl) return; /* a hint only: without it, every value gets its text */
    size_t tlen = strlen(m->text);
    for (size_t i = 0; i < s->n; i++) {
        const sl_expr_assign *a = &s->as[i];
        /* named once in the map's whole text: no later assignment reads it */
        const char *hit = memmem(m->text, tlen, a->name, a->name_len);
        int once = hit && !memmem(hit + 1, tlen - (size_t)(hit + 1 - m->text), a->name, a->name_len);
        tl[i] = (uint8_t)(once && sl_group_reads_number_only(g, a->name, a->name_len));
    }
    free(s->textless);
    s->textless = tl;
}

static void map_close(sl_stage *st)
{
    map_state *s = st->state;
    if (!s) return;
    sl_expr_assign_free(s->as, s->n);
    free(s->target);
    free(s->nvis);
    free(s->targets);
    free(s->textless);
    free(s->dcol);
    free(s->dstore);
    free(s->srcrow);
    free(s->redo);
    free(s->kept);
    free(s->on_input);
    if (s->out_init) sl_batch_fini(&s->out);
    if (s->schema) sl_schema_unref(s->schema);
    sl_arena_fini(&s->scratch);
    free(s);
    st->state = NULL;
}

const sl_stage_type sl_map_stage_type = {
    .name = "map",
    .usage = "map NAME=EXPR[,NAME=EXPR...]",
    .summary = "compute fields from expressions",
    .help = "Sets each NAME to the value of its EXPRESSION, left to right: a later\n"
            "assignment sees the earlier ones.  An existing field is replaced where it\n"
            "is; a new one is added at the end.  Numbers are written in their shortest\n"
            "form (14, 86.18), text as strings, null as an empty field.\n"
            "\n"
            "  map f = round(celsius * 9 / 5 + 32, 2)\n"
            "  map total = price * quantity, total = round(total * 1.2, 2)\n"
            "  map name = coalesce(name, \"Unknown\"), `full name` = first || \" \" || last\n"
            "\n"
            "The language is in docs/expressions.md; `sluice help functions` lists\n"
            "the functions.\n",
    .create = map_create,
    .open = map_open,
    .next = map_next,
    .close = map_close,
    .schema = map_schema,
};
