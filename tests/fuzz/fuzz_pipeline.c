/*
 * fuzz_pipeline.c - pipeline text and stage arguments on hostile text.
 *
 * The input (up to its first NUL byte) is used twice:
 *
 *   1. as pipeline text: sl_pipeline_parse(), then create() and close() of
 *      every stage it names, with its arguments, as the run builds them;
 *   2. as the argument text of every stage type in the registry, in turn
 *      (create() then close()).
 *
 * Properties: parse and create return SL_OK or a negative code with the
 * error recorded (a message, the code matching); parsed stages are
 * well formed (known names, positions from 1); close() after a failed
 * create() frees everything (the leak checker sees it); no stage does I/O
 * or keeps memory in create() that close() does not free.
 */
#include "fuzz_util.h"
#include "pipeline/pipeline.h"

static void create_close(const sl_stage_type *t, const char *args, const char *text, sl_run *run)
{
    sl_stage st;
    memset(&st, 0, sizeof st);
    st.type = t;
    st.run = run;
    st.index = 1;
    st.text = text;
    sl_error_clear(&run->err);
    int rc = t->create(&st, args, &run->err);
    FZ_CHECK(rc <= 0, "%s create returns %d", t->name, rc);
    if (rc < 0)
        FZ_CHECK(run->err.code == rc && run->err.msg[0], "%s create fails with %d but records %d '%s'", t->name, rc,
                 run->err.code, run->err.msg);
    else
        FZ_CHECK(run->err.code == SL_OK, "%s create succeeds but records an error: %s", t->name, run->err.msg);
    if (t->close)
        t->close(&st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 8192)
        return 0;
    char *text = malloc(size + 1);
    if (!text)
        abort();
    memcpy(text, data, size);
    text[size] = 0;

    sl_run run;
    memset(&run, 0, sizeof run);
    sl_options_defaults(&run.opt);
    run.opt.temp_dir = "/nonexistent-sluice-fuzz"; /* nothing may be written by create() */

    /* 1. as a pipeline */
    sl_pipeline_text pt;
    memset(&pt, 0, sizeof pt);
    sl_error_clear(&run.err);
    int rc = sl_pipeline_parse(text, &pt, &run.err);
    FZ_CHECK(rc == SL_OK || (rc < 0 && run.err.code == rc && run.err.msg[0]), "parse returns %d, records %d '%s'", rc,
             run.err.code, run.err.msg);
    if (rc == SL_OK) {
        for (size_t i = 0; i < pt.n; i++) {
            const sl_stage_text *s = &pt.stages[i];
            FZ_CHECK(s->name && s->args && s->text && s->line >= 1 && s->col >= 1, "stage %zu malformed", i);
            const sl_stage_type *t = sl_stage_type_find(s->name, strlen(s->name));
            FZ_CHECK(t != NULL, "parse accepted an unknown stage '%s'", s->name);
            create_close(t, s->args, s->text, &run);
        }
    }
    sl_pipeline_text_free(&pt);

    /* 2. as the arguments of every stage type */
    for (int i = 0; sl_stage_types[i]; i++)
        create_close(sl_stage_types[i], text, NULL, &run);

    free(text);
    return 0;
}
