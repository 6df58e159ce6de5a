/*
 * select.c - `select FIELDS` keeps and reorders fields; `drop FIELDS` removes
 * them.  Both pass the input's cells on untouched: the output batch is a view
 * of the input with another schema and column map (zero copy).  A field the
 * input lacks is an error for CSV-like input; for NDJSON (open schemas, keys
 * may appear later) select yields it as absent and drop ignores it.
 */
#include <stdlib.h>
#include <string.h>

#include "sluice/run.h"
#include "stages/args.h"

typedef struct select_state {
    int drop;
    sl_namelist names;
    uint64_t in_id;       /* input schema the plan is for */
    sl_schema *out;       /* output schema */
    int32_t *idx;         /* output col -> input logical col, -1 = absent */
    uint32_t nidx;
    int need_copy;        /* some column is absent: materialise */
    uint32_t *colmap;     /* per batch: output col -> physical */
    sl_batch view;        /* shallow view of the input batch */
    sl_batch copy;        /* own batch when some column is absent */
    int copy_init;
} select_state;

static int select_create_common(sl_stage *st, const char *args, sl_error *err, int drop)
{
    select_state *s = calloc(1, sizeof *s);
    if (!s)
        return sl_fail(err, SL_E_NOMEM, st->type->name, "out of memory");
    st->state = s;
    s->drop = drop;
    int rc = sl_namelist_parse(&s->names, args ? args : "", 0, st->type->name, err);
    if (rc < 0)
        return rc;
    if (s->names.n == 0)
        return sl_fail(err, SL_E_USAGE, st->type->name, "expected a list of fields: %s", st->type->usage);
    for (uint32_t i = 0; i < s->names.n; i++)
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(s->names.names[i], s->names.names[j]) == 0)
                return sl_fail(err, SL_E_USAGE, st->type->name, "field '%s' is listed twice", s->names.names[i]);
    return SL_OK;
}

static int select_create(sl_stage *st, const char *args, sl_error *err) { return select_create_common(st, args, err, 0); }
static int drop_create(sl_stage *st, const char *args, sl_error *err) { return select_create_common(st, args, err, 1); }

static int plan(sl_stage *st, select_state *s, const sl_schema *in)
{
    sl_error *err = &st->run->err;
    uint32_t n = s->drop ? in->ncols : s->names.n;
    free(s->idx);
    free(s->colmap);
    s->idx = malloc((n ? n : 1) * sizeof *s->idx);
    s->colmap = malloc((n ? n : 1) * sizeof *s->colmap);
    const char **names = malloc((n ? n : 1) * sizeof *names);
    if (!s->idx || !s->colmap || !names) {
        free(names);
        return sl_fail(err, SL_E_NOMEM, st->type->name, "out of memory");
    }
    uint32_t k = 0;
    s->need_copy = 0;
    if (s->drop) {
        for (uint32_t i = 0; i < s->names.n; i++)
            if (!in->open && sl_schema_find(in, s->names.names[i], s->names.lens[i]) < 0) {
                free(names);
                return sl_fail_no_field(err, "drop", s->names.names[i], in);
            }
        for (uint32_t c = 0; c < in->ncols; c++) {
            int dropped = 0;
            for (uint32_t i = 0; i < s->names.n && !dropped; i++)
                dropped = s->names.lens[i] == in->name_len[c] && memcmp(s->names.names[i], in->names[c], in->name_len[c]) == 0;
            if (!dropped) {
                s->idx[k] = (int32_t)c;
                names[k++] = in->names[c];
            }
        }
    } else {
        for (uint32_t i = 0; i < s->names.n; i++) {
            int c = sl_schema_find(in, s->names.names[i], s->names.lens[i]);
            if (c < 0 && !in->open) {
                free(names);
                return sl_fail_no_field(err, "select", s->names.names[i], in);
            }
            if (c < 0)
                s->need_copy = 1;
            s->idx[k] = c;
            names[k++] = s->names.names[i];
        }
    }
    if (s->out)
        sl_schema_unref(s->out);
    s->out = sl_schema_new(k, names, NULL);
    free(names);
    if (!s->out)
        return sl_fail(err, SL_E_NOMEM, st->type->name, "out of memory");
    s->out->open = in->open;
    s->nidx = k;
    s->in_id = in->id;
    if (s->need_copy && !s->copy_init) {
        if (sl_batch_init(&s->copy, st->run->opt.batch_rows, k ? k : 1, 0) < 0)
            return sl_fail(err, SL_E_NOMEM, st->type->name, "out of memory");
        s->copy_init = 1;
    }
    return SL_OK;
}

static int select_next(sl_stage *st, sl_batch **out)
{
    select_state *s = st->state;
    sl_batch *in;
    int rc = sl_stage_next(st->input, &in);
    if (rc != SL_BATCH)
        return rc;
    if (in->schema->id != s->in_id && (rc = plan(st, s, in->schema)) < 0)
        return rc;
    if (!s->need_copy) {
        /* a view: same cells, rows, selection and info; our schema and map.
           The view holds no schema reference of its own (s->out has it). */
        for (uint32_t c = 0; c < s->nidx; c++)
            s->colmap[c] = sl_batch_phys(in, (uint32_t)s->idx[c]);
        sl_batch *v = &s->view;
        if (sl_batch_view(v, in) < 0)
            return sl_fail(&st->run->err, SL_E_NOMEM, st->type->name, "out of memory");
        v->schema = s->out;
        v->colmap = s->colmap;
        *out = v;
        return SL_BATCH;
    }
    /* copy: output has its own cells, absent where the input lacks a key */
    sl_batch *b = &s->copy;
    if ((rc = sl_batch_reset(b, s->out, s->nidx ? s->nidx : 1)) < 0)
        return sl_fail(&st->run->err, rc, st->type->name, "out of memory");
    uint32_t live = sl_batch_live(in);
    for (uint32_t i = 0; i < live; i++) {
        uint32_t r = sl_batch_row(in, i);
        sl_cell *dst = &b->cells[(size_t)b->nrows * b->stride];
        for (uint32_t c = 0; c < s->nidx; c++)
            dst[c] = s->idx[c] < 0 ? (sl_cell){NULL, 0, SL_ABSENT, {0}} : *sl_batch_cell(in, r, (uint32_t)s->idx[c]);
        b->info[b->nrows++] = in->info[r];
        if (b->nrows == b->cap_rows && i + 1 < live)
            return sl_fail(&st->run->err, SL_E_INTERNAL, st->type->name, "batch overflow");
    }
    *out = b;
    return SL_BATCH;
}

static int select_schema(sl_stage *st, sl_schema **out)
{
    select_state *s = st->state;
    sl_schema *in;
    int rc = sl_stage_schema(st->input, &in);
    *out = NULL;
    if (rc < 0 || !in)
        return rc;
    if (in->id != s->in_id && (rc = plan(st, s, in)) < 0)
        return rc;
    *out = s->out;
    return SL_OK;
}

static int select_open(sl_stage *st)
{
    (void)st;
    return SL_OK;
}

static void select_close(sl_stage *st)
{
    select_state *s = st->state;
    if (!s)
        return;
    if (s->copy_init)
        sl_batch_fini(&s->copy);
    sl_batch_view_fini(&s->view);
    if (s->out)
        sl_schema_unref(s->out);
    sl_namelist_free(&s->names);
    free(s->idx);
    free(s->colmap);
    free(s);
    st->state = NULL;
}

const sl_stage_type sl_select_stage_type = {
    .name = "select",
    .usage = "select FIELD[,FIELD...]",
    .summary = "keep only these fields, in this order",
    .help = "Keeps the named fields in the order given; every other field is removed.\n"
            "Names with other characters than letters, digits and _ . are written in\n"
            "backquotes: select id, `unit price`.  A field the input lacks is an error\n"
            "(for NDJSON input, whose keys may vary, it is absent instead).\n"
            "The cells are not copied: select costs almost nothing.\n",
    .create = select_create,
    .open = select_open,
    .next = select_next,
    .close = select_close,
    .schema = select_schema,
};

const sl_stage_type sl_drop_stage_type = {
    .name = "drop",
    .usage = "drop FIELD[,FIELD...]",
    .summary = "remove these fields",
    .help = "Removes the named fields and keeps the others in their order.  Dropping\n"
            "a field the input lacks is an error (ignored for NDJSON input).\n",
    .create = drop_create,
    .open = select_open,
    .next = select_next,
    .close = select_close,
    .schema = select_schema,
};
