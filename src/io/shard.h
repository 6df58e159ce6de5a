/*
 * shard.h - which part of the inputs one process of a sharded run reads
 * (--shard I/N).  docs/sharding.md is the user's side of these rules.
 *
 *   Several inputs: whole files.  The files are ordered by size, largest
 *   first (ties by name, then by position on the command line), and each in
 *   turn goes to the shard with the fewest bytes so far (ties: the lowest
 *   shard number).  Every process computes the same plan from the same list,
 *   so the shards together read each file once.
 *
 *   One plain regular file: the byte range [S*I/N, S*(I+1)/N) of its S
 *   bytes, moved to line boundaries.  A record belongs to the shard whose
 *   range holds its first byte: the shard starts at the first line that
 *   begins at or after its start and reads through the line that holds its
 *   last byte.  A CSV or TSV header (the first line) is read by every shard.
 *
 *   One compressed file, or one that is not a regular file: it cannot be
 *   split by bytes; shard 0 reads it whole and the others read nothing.
 */
#ifndef SLUICE_SHARD_H
#define SLUICE_SHARD_H

#include <stddef.h>

#include "sluice/run.h"

/* Replace run->inputs by this shard's share (run->opt.shard_index of
   shard_count; nothing happens when shard_count is 0, apart from setting
   every input's order).  `header`: the format has a header line to give to
   every byte range.  A remark for the user (the compressed case) goes to
   note.  Returns SL_OK or a negative code after sl_fail(). */
int sl_shard_plan(sl_run *run, int header, char *note, size_t note_cap);

/* The first line start at or after pos in the file fd of `size` bytes: 0
   for pos 0, else one past the first '\n' at or after pos - 1, or size. */
int sl_shard_line_start(int fd, uint64_t size, uint64_t pos, uint64_t *out);

#endif
