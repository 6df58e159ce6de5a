/*
 * hints.h - what a stage learns about the stage after it once the chain is
 * built (run.c calls these between create and open).
 *
 * map followed by group: a field map computes that group reads only as a
 * number (sum, mean, var, stddev, median, percentile or count of a bare
 * field; never a key, never inside an expression) needs no text at all:
 * group takes the double map leaves beside it (sl_batch_dnum), so map skips
 * formatting it.
 */
#ifndef SLUICE_HINTS_H
#define SLUICE_HINTS_H

#include <stddef.h>

#include "sluice/stage.h"

extern const sl_stage_type sl_map_stage_type;
extern const sl_stage_type sl_group_stage_type;

/* Whether group stage g reads field `name` only as a number (or not at all). */
int sl_group_reads_number_only(const sl_stage *g, const char *name, size_t len);
/* Let map stage m skip the text of the doubles it computes for the fields
   that the next stage, group stage g, reads only as numbers. */
void sl_map_hint_group(sl_stage *m, const sl_stage *g);

#endif
