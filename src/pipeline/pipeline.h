/*
 * pipeline.h - pipeline text to stage list.
 *
 * Stages are separated by `|` (a doubled `||` is the concatenation operator
 * and stays inside its stage) and, in text spanning several lines, by a line
 * break when the next line starts with a stage name.  `#` starts a comment
 * outside quotes.  Each stage is `NAME ARGS`; the argument text goes to the
 * stage type's create().
 */
#ifndef SLUICE_PIPELINE_H
#define SLUICE_PIPELINE_H

#include <stddef.h>

#include "sluice/error.h"

typedef struct sl_stage_text {
    char *name;   /* stage name */
    char *args;   /* argument text, trimmed */
    char *text;   /* the whole stage text, trimmed */
    size_t col;   /* 1-based column of the stage in its line */
    size_t line;  /* 1-based line of the stage in the pipeline text */
} sl_stage_text;

typedef struct sl_pipeline_text {
    sl_stage_text *stages;
    size_t n;
} sl_pipeline_text;

/* Split text into stages.  Unknown stage names are usage errors with a
   suggestion. */
int sl_pipeline_parse(const char *text, sl_pipeline_text *out, sl_error *err);
void sl_pipeline_text_free(sl_pipeline_text *p);

/* Levenshtein distance, for "did you mean" (capped at 100). */
int sl_edit_distance(const char *a, const char *b);

#endif
