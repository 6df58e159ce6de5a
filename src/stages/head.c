/*
 * head.c - `head N` passes the first N records and then stops pulling: the
 * stages before it (and the reader) are never asked for more, so
 * `head 10` on an endless stream returns at once.
 */
#include <stdlib.h>

#include "sluice/run.h"
#include "stages/args.h"

typedef struct head_state {
    uint64_t limit, seen;
} head_state;

static int head_create(sl_stage *st, const char *args, sl_error *err)
{
    head_state *s = calloc(1, sizeof *s);
    if (!s)
        return sl_fail(err, SL_E_NOMEM, "head", "out of memory");
    st->state = s;
    if (!args || !*args) {
        s->limit = 10;
        return SL_OK;
    }
    if (sl_parse_count(args, &s->limit) < 0)
        return sl_fail(err, SL_E_USAGE, "head", "expected a number of records, not '%s'", args);
    return SL_OK;
}

static int head_next(sl_stage *st, sl_batch **out)
{
    head_state *s = st->state;
    if (s->seen >= s->limit)
        return SL_DONE;
    sl_batch *b;
    int rc = sl_stage_next(st->input, &b);
    if (rc != SL_BATCH)
        return rc;
    uint32_t live = sl_batch_live(b);
    if (s->seen + live > s->limit) {
        uint32_t keep = (uint32_t)(s->limit - s->seen);
        /* narrowing the selection of the batch we were handed is allowed
           (filters do it too); its owner resets it on its next fill */
        if (sl_batch_ensure_sel(b) < 0)
            return sl_fail(&st->run->err, SL_E_NOMEM, "head", "out of memory");
        b->nsel = keep;
        live = keep;
    }
    s->seen += live;
    *out = b;
    return SL_BATCH;
}

static int head_open(sl_stage *st)
{
    (void)st;
    return SL_OK;
}

static void head_close(sl_stage *st)
{
    free(st->state);
    st->state = NULL;
}

const sl_stage_type sl_head_stage_type = {
    .name = "head",
    .usage = "head [N]",
    .summary = "the first N records (default 10), then stop reading",
    .help = "Passes the first N records and ends the run's reading: nothing after them\n"
            "is read, so head returns at once even on an endless stream.\n",
    .create = head_create,
    .open = head_open,
    .next = head_next,
    .close = head_close,
    .schema = sl_stage_schema_input,
};
