/*
 * wbuf.h - the formatting buffer every writer appends to.
 *
 * Bytes accumulate in buf and go to the sink when more than SL_WBUF_FLUSH are
 * waiting.  wbuf_reserve() guarantees room for n more bytes (flushing first,
 * growing for a record larger than the buffer).
 */
#ifndef SLUICE_WBUF_H
#define SLUICE_WBUF_H

#include <stdlib.h>
#include <string.h>

#include "formats/format.h"
#include "io/sink.h"

typedef struct wbuf {
    char *buf;
    size_t len, cap;
} wbuf;

static inline int wbuf_init(wbuf *w)
{
    w->cap = 2 * SL_WBUF_FLUSH;
    w->len = 0;
    w->buf = malloc(w->cap);
    return w->buf ? SL_OK : SL_E_NOMEM;
}

static inline void wbuf_fini(wbuf *w)
{
    free(w->buf);
    w->buf = NULL;
}

static inline int wbuf_flush(wbuf *w, sl_writer *wr)
{
    if (w->len == 0)
        return SL_OK;
    int rc = sl_sink_write(wr->sink, w->buf, w->len, &wr->run->err);
    w->len = 0;
    return rc;
}

/* Room for n more bytes: returns a pointer to write at, or NULL.  Never
   flushes, so a record being formatted can still be taken back; writers call
   wbuf_maybe_flush() between records. */
static inline char *wbuf_reserve(wbuf *w, sl_writer *wr, size_t n)
{
    if (w->len + n <= w->cap)
        return w->buf + w->len;
    size_t ncap = w->cap * 2;
    while (ncap < w->len + n)
        ncap *= 2;
    char *nb = realloc(w->buf, ncap);
    if (!nb) {
        sl_fail(&wr->run->err, SL_E_NOMEM, wr->type->name, "out of memory formatting a record of %zu bytes", w->len + n);
        return NULL;
    }
    w->buf = nb;
    w->cap = ncap;
    return w->buf + w->len;
}

static inline int wbuf_put(wbuf *w, sl_writer *wr, const void *p, size_t n)
{
    char *d = wbuf_reserve(w, wr, n);
    if (!d)
        return wr->run->err.code ? wr->run->err.code : SL_E_OUTPUT;
    memcpy(d, p, n);
    w->len += n;
    return SL_OK;
}

/* Between records: hand the buffer to the sink when it is full enough. */
static inline int wbuf_maybe_flush(wbuf *w, sl_writer *wr)
{
    return w->len >= SL_WBUF_FLUSH ? wbuf_flush(w, wr) : SL_OK;
}

#endif
