/*
 * stage.h - the pull-iterator contract every stage follows.
 *
 * A stage is an instance (sl_stage) of a const type (sl_stage_type).  The
 * chain is built from the pipeline text: the reader is the first stage, each
 * later stage pulls from st->input.  The writer drives the chain by calling
 * sl_stage_next() on the last stage.
 *
 *   create(st, args, err)  parse the stage's argument text; no I/O.
 *   open(st)               acquire resources; called once, upstream first.
 *   next(st, &batch)       SL_BATCH with a non-empty batch, SL_DONE at end,
 *                          or a negative SL_E_* after sl_fail(&st->run->err).
 *                          The batch stays valid until the next call.
 *   close(st)              release everything; called once, even after an
 *                          error, even if open() was never called.
 *
 * Stages never print and never exit.  A stage that wants no more input (head)
 * simply stops calling its input's next().
 */
#ifndef SLUICE_STAGE_H
#define SLUICE_STAGE_H

#include <stdint.h>

#include "sluice/batch.h"
#include "sluice/error.h"

typedef struct sl_run sl_run;
typedef struct sl_stage sl_stage;

typedef struct sl_stage_type {
    const char *name;    /* as written in the pipeline text */
    const char *usage;   /* "select FIELD[,FIELD...]" */
    const char *summary; /* one line for --help */
    const char *help;    /* paragraphs for `sluice help STAGE` */
    int (*create)(sl_stage *st, const char *args, sl_error *err);
    int (*open)(sl_stage *st);
    int (*next)(sl_stage *st, sl_batch **out);
    void (*close)(sl_stage *st);
    /* schema(st, &s): the schema of the records the stage would pass on,
       asked when the run ends before any record reached the writer (a filter
       that kept none, a CSV input with only its header), so that a format
       with a header still writes it.  Sets *s (borrowed; NULL when not known)
       and returns SL_OK, or a negative code after sl_fail (a field the
       schema lacks).  NULL method: not known. */
    int (*schema)(sl_stage *st, sl_schema **out);
    /* the stage writes the records out itself and passes none on (write):
       as the last stage, the run then opens no output of its own */
    int own_output;
} sl_stage_type;

typedef struct sl_stage_stats {
    uint64_t batches_in, rows_in, batches_out, rows_out;
    uint64_t ns;  /* wall time spent inside next(), including upstream */
} sl_stage_stats;

struct sl_stage {
    const sl_stage_type *type;
    sl_stage *input;  /* upstream stage, NULL for the reader */
    sl_run *run;      /* the run: options, error, inputs */
    void *state;      /* owned by the stage type */
    int index;        /* position in the chain, 0 = reader */
    const char *text; /* the stage's text in the pipeline (for messages) */
    sl_stage_stats stats;
    int opened;
};

/* Pull the next batch from st, keeping statistics. */
int sl_stage_next(sl_stage *st, sl_batch **out);

/* The schema st would pass on (see sl_stage_type.schema); *out NULL when
   not known.  sl_stage_schema_input is the schema method of a stage that
   passes records on with the schema it was given (filter, head, sort...). */
int sl_stage_schema(sl_stage *st, sl_schema **out);
int sl_stage_schema_input(sl_stage *st, sl_schema **out);

/* The registry: every stage type, NULL-terminated. */
extern const sl_stage_type *const sl_stage_types[];
const sl_stage_type *sl_stage_type_find(const char *name, size_t len);

#endif
