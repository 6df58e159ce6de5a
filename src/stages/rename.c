/*
 * rename.c - `rename OLD:NEW,...` renames fields in place (zero copy: the
 * output is a view of the input batch with another schema).
 */
#include <stdlib.h>
#include <string.h>

#include "sluice/run.h"
#include "stages/args.h"

typedef struct rename_state {
    sl_namelist pairs;
    uint64_t in_id;
    sl_schema *out;
    sl_batch view;
} rename_state;

static int rename_create(sl_stage *st, const char *args, sl_error *err)
{
    rename_state *s = calloc(1, sizeof *s);
    if (!s)
        return sl_fail(err, SL_E_NOMEM, "rename", "out of memory");
    st->state = s;
    int rc = sl_namelist_parse(&s->pairs, args ? args : "", 1, "rename", err);
    if (rc < 0)
        return rc;
    if (s->pairs.n == 0)
        return sl_fail(err, SL_E_USAGE, "rename", "expected OLD:NEW[,OLD:NEW...]");
    return SL_OK;
}

static int plan(sl_stage *st, rename_state *s, const sl_schema *in)
{
    sl_error *err = &st->run->err;
    const char **names = malloc((in->ncols ? in->ncols : 1) * sizeof *names);
    uint32_t *lens = malloc((in->ncols ? in->ncols : 1) * sizeof *lens);
    if (!names || !lens) {
        free(names);
        free(lens);
        return sl_fail(err, SL_E_NOMEM, "rename", "out of memory");
    }
    for (uint32_t c = 0; c < in->ncols; c++) {
        names[c] = in->names[c];
        lens[c] = in->name_len[c];
    }
    int rc = SL_OK;
    for (uint32_t i = 0; i < s->pairs.n && rc == SL_OK; i++) {
        int c = sl_schema_find(in, s->pairs.names[i], s->pairs.lens[i]);
        if (c < 0) {
            if (!in->open)
                rc = sl_fail_no_field(err, "rename", s->pairs.names[i], in);
            continue;
        }
        names[c] = s->pairs.alias[i];
        lens[c] = s->pairs.alias_lens[i];
    }
    for (uint32_t a = 0; a < in->ncols && rc == SL_OK; a++)
        for (uint32_t b = 0; b < a; b++)
            if (lens[a] == lens[b] && memcmp(names[a], names[b], lens[a]) == 0) {
                rc = sl_fail(err, SL_E_USAGE, "rename", "renaming gives two fields named '%.*s' (expected unique names)",
                             (int)lens[a], names[a]);
                break;
            }
    if (rc == SL_OK) {
        if (s->out)
            sl_schema_unref(s->out);
        s->out = sl_schema_new(in->ncols, names, lens);
        if (!s->out)
            rc = sl_fail(err, SL_E_NOMEM, "rename", "out of memory");
        else
            s->out->open = in->open;
        s->in_id = in->id;
    }
    free(names);
    free(lens);
    return rc;
}

static int rename_next(sl_stage *st, sl_batch **out)
{
    rename_state *s = st->state;
    sl_batch *in;
    int rc = sl_stage_next(st->input, &in);
    if (rc != SL_BATCH)
        return rc;
    if (in->schema->id != s->in_id && (rc = plan(st, s, in->schema)) < 0)
        return rc;
    if (sl_batch_view(&s->view, in) < 0)
        return sl_fail(&st->run->err, SL_E_NOMEM, "rename", "out of memory");
    s->view.schema = s->out;
    *out = &s->view;
    return SL_BATCH;
}

static int rename_schema(sl_stage *st, sl_schema **out)
{
    rename_state *s = st->state;
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

static int rename_open(sl_stage *st)
{
    (void)st;
    return SL_OK;
}

static void rename_close(sl_stage *st)
{
    rename_state *s = st->state;
    if (!s)
        return;
    if (s->out)
        sl_schema_unref(s->out);
    sl_namelist_free(&s->pairs);
    sl_batch_view_fini(&s->view);
    free(s);
    st->state = NULL;
}

const sl_stage_type sl_rename_stage_type = {
    .name = "rename",
    .usage = "rename OLD:NEW[,OLD:NEW...]",
    .summary = "rename fields, keeping their place",
    .help = "Renames fields in place.  Renaming a field the input lacks is an error\n"
            "(ignored for NDJSON input); a rename that would give two fields the same\n"
            "name is an error.\n",
    .create = rename_create,
    .open = rename_open,
    .next = rename_next,
    .close = rename_close,
    .schema = rename_schema,
};
