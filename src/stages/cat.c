/* cat.c - `cat` passes every record through unchanged. */
#include "sluice/run.h"

static int cat_create(sl_stage *st, const char *args, sl_error *err)
{
    if (args && *args)
        return sl_fail(err, SL_E_USAGE, "cat", "cat takes no arguments (got '%s')", args);
    (void)st;
    return SL_OK;
}

static int cat_open(sl_stage *st)
{
    (void)st;
    return SL_OK;
}

static int cat_next(sl_stage *st, sl_batch **out) { return sl_stage_next(st->input, out); }

static void cat_close(sl_stage *st) { (void)st; }

const sl_stage_type sl_cat_stage_type = {
    .name = "cat",
    .usage = "cat",
    .summary = "pass every record through (format conversion)",
    .help = "Passes every record through unchanged: `sluice cat in.ndjson -o out.csv`\n"
            "converts formats.\n",
    .create = cat_create,
    .open = cat_open,
    .next = cat_next,
    .close = cat_close,
    .schema = sl_stage_schema_input,
};
