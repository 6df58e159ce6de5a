/*
 * source.h - bytes from a file or stdin, transparently decompressed.
 *
 * Compression is detected from the first bytes, never from the name: gzip
 * (1f 8b, any number of concatenated members) through zlib, zstd (28 b5 2f fd,
 * any number of frames, skippable frames too) through libzstd, else plain.
 * A truncated or corrupt stream is an SL_E_DATA error naming the input.
 */
#ifndef SLUICE_SOURCE_H
#define SLUICE_SOURCE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sluice/error.h"
#include "sluice/run.h"

typedef enum { SL_COMP_NONE = 0, SL_COMP_GZIP, SL_COMP_ZSTD } sl_comp;

typedef struct sl_source sl_source;

/* Open name ("-" = stdin).  On failure returns NULL after sl_fail(err,
   SL_E_INPUT, ...) naming the file and the reason. */
sl_source *sl_source_open(const char *name, sl_error *err);
/* Open one of the run's inputs: the whole of it, or, when in->ranged (a
   shard of a plain file, planned by io/shard.c), bytes [0, head_len) then
   [start, end), so that the reader sees the header line and the shard's
   lines as one short file. */
sl_source *sl_source_open_input(const sl_input *in, sl_error *err);
/* Read up to cap decompressed bytes into buf.  Returns bytes read (>0), 0 at
   the clean end of the input, or a negative SL_E_* after sl_fail(). */
ssize_t sl_source_read(sl_source *s, char *buf, size_t cap, sl_error *err);
void sl_source_close(sl_source *s);

sl_comp sl_source_compression(const sl_source *s);
uint64_t sl_source_bytes_raw(const sl_source *s);  /* bytes read from the fd */
uint64_t sl_source_bytes(const sl_source *s);      /* bytes handed out */
int64_t sl_source_size(const sl_source *s);        /* file size or -1 */
const char *sl_source_name(const sl_source *s);    /* display name */
/* True when the fd is a pipe, socket or terminal (latency matters). */
int sl_source_is_stream(const sl_source *s);

#endif
