/*
 * sink.h - bytes to stdout or a file, compressed by name or option, published
 * atomically.
 *
 * A regular-file destination (existing or not) is written to a temporary file
 * in the same directory (created exclusively, mode from the umask), fsynced
 * and renamed over the name by sl_sink_commit().  Anything else (stdout, a
 * FIFO, /dev/null, a terminal) is written directly.  sl_sink_abort() removes
 * the temporary file and leaves an existing file of that name untouched.
 * Every write error names the path.
 */
#ifndef SLUICE_SINK_H
#define SLUICE_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "io/source.h"
#include "sluice/error.h"

typedef struct sl_sink sl_sink;

/* path NULL or "-" = stdout.  comp/level: compression (level < 0 = default). */
sl_sink *sl_sink_open(const char *path, sl_comp comp, int level, sl_error *err);
/* Write to an open descriptor (the pipe to a command), directly; the sink
   owns fd from now on, even when it fails (NULL).  name is for messages. */
sl_sink *sl_sink_open_fd(int fd, const char *name, sl_comp comp, int level, sl_error *err);
int sl_sink_write(sl_sink *s, const void *buf, size_t len, sl_error *err);
/* Push everything written so far to the fd (ends a compressed block). */
int sl_sink_flush(sl_sink *s, sl_error *err);
/* Finish the stream, fsync, rename into place.  Frees nothing. */
int sl_sink_commit(sl_sink *s, sl_error *err);
/* Discard: remove the temporary file.  Safe after commit (no-op). */
void sl_sink_abort(sl_sink *s);
void sl_sink_close(sl_sink *s);
uint64_t sl_sink_bytes(const sl_sink *s);      /* bytes accepted (uncompressed) */
uint64_t sl_sink_bytes_out(const sl_sink *s);  /* bytes written to the fd */
const char *sl_sink_name(const sl_sink *s);
/* Compression implied by a file name (.gz, .zst), else SL_COMP_NONE. */
sl_comp sl_comp_for_path(const char *path);

#endif
