/*
 * lines_writer.c - plain text: each record's values joined by a tab, one
 * record per line, nothing quoted or escaped (NULL and absent are empty).
 */
#include <stdlib.h>

#include "formats/format.h"
#include "formats/wbuf.h"

static int lines_writer_write(sl_writer *w, const sl_batch *b)
{
    wbuf *out = w->state;
    uint32_t live = sl_batch_live(b), ncols = b->schema->ncols;
    int rc;
    for (uint32_t i = 0; i < live; i++) {
        uint32_t r = sl_batch_row(b, i);
        for (uint32_t c = 0; c < ncols; c++) {
            const sl_cell *cell = sl_batch_cell(b, r, c);
            if (c && (rc = wbuf_put(out, w, "\t", 1)) < 0)
                return rc;
            if (cell->kind != SL_NULL && cell->kind != SL_ABSENT && (rc = wbuf_put(out, w, cell->p, cell->len)) < 0)
                return rc;
        }
        if ((rc = wbuf_put(out, w, "\n", 1)) < 0 || (rc = wbuf_maybe_flush(out, w)) < 0)
            return rc;
    }
    w->records += live;
    return SL_OK;
}

static int lines_writer_finish(sl_writer *w) { return wbuf_flush(w->state, w); }

static void lines_writer_destroy(sl_writer *w)
{
    if (w->state)
        wbuf_fini(w->state);
    free(w->state);
    w->state = NULL;
}

static int lines_writer_create(sl_writer *w)
{
    wbuf *out = calloc(1, sizeof *out);
    if (!out || wbuf_init(out) < 0) {
        free(out);
        return sl_fail(&w->run->err, SL_E_NOMEM, "lines", "out of memory");
    }
    w->state = out;
    return SL_OK;
}

const sl_writer_type sl_lines_writer_type = {
    .name = "lines",
    .create = lines_writer_create,
    .write = lines_writer_write,
    .finish = lines_writer_finish,
    .flush = lines_writer_finish,
    .destroy = lines_writer_destroy,
};
