/*
 * testutil.h - helpers shared by the unit tests (header-only, static).
 *
 * tu_read_all() runs one reader stage over bytes written to a temporary file
 * and returns a canonical dump of every record: one line per record, each
 * field as KIND LEN ':' BYTES ';', and an "H " line with the field names
 * whenever the schema changes.  Comparing dumps compares records exactly.
 */
#ifndef SLUICE_TESTUTIL_H
#define SLUICE_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "formats/format.h"
#include "sluice/run.h"

typedef struct tu_buf {
    char *p;
    size_t len, cap;
} tu_buf;

static inline void tu_put(tu_buf *b, const void *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = 0;
}

static inline void tu_putf(tu_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void tu_putf(tu_buf *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    tu_put(b, tmp, (size_t)n);
}

static inline char *tu_write_temp(const void *data, size_t len, const char *suffix)
{
    char *path = malloc(256);
    snprintf(path, 256, "/tmp/sluice-test-XXXXXX%s", suffix);
    int fd = mkstemps(path, (int)strlen(suffix));
    if (fd < 0)
        abort();
    if (len && write(fd, data, len) != (ssize_t)len)
        abort();
    close(fd);
    return path;
}

/* Dump every record of `data` read by reader type rt.  *rc gets the final
   status (SL_DONE = 0 when all was read, else the error code); err (if not
   NULL) a copy of the error. */
static inline char *tu_read_all(const sl_stage_type *rt, const void *data, size_t len, const sl_options *o, int *rc,
                         sl_error *err)
{
    char *path = tu_write_temp(data, len, ".in");
    sl_run run;
    memset(&run, 0, sizeof run);
    run.opt = *o;
    sl_input in = {.name = path, .size = -1};
    run.inputs = &in;
    run.ninputs = 1;
    sl_stage st;
    memset(&st, 0, sizeof st);
    st.type = rt;
    st.run = &run;
    tu_buf out = {0};
    tu_put(&out, "", 0);
    int r = rt->create(&st, "", &run.err);
    if (r == SL_OK)
        r = rt->open(&st);
    uint64_t last_schema = 0;
    while (r == SL_OK) {
        sl_batch *b;
        r = sl_stage_next(&st, &b);
        if (r != SL_BATCH)
            break;
        r = SL_OK;
        if (b->schema->id != last_schema) {
            /* schemas with the same names dump the same way */
            tu_put(&out, "H", 1);
            for (uint32_t c = 0; c < b->schema->ncols; c++)
                tu_putf(&out, " %s", b->schema->names[c]);
            tu_put(&out, "\n", 1);
            last_schema = b->schema->id;
        }
        for (uint32_t i = 0; i < sl_batch_live(b); i++) {
            uint32_t row = sl_batch_row(b, i);
            for (uint32_t c = 0; c < b->schema->ncols; c++) {
                const sl_cell *cell = sl_batch_cell(b, row, c);
                tu_putf(&out, "%d%u:", cell->kind, cell->len);
                if (cell->len)
                    tu_put(&out, cell->p, cell->len);
                tu_put(&out, ";", 1);
            }
            tu_put(&out, "\n", 1);
        }
    }
    if (rt->close)
        rt->close(&st);
    *rc = r;
    if (err)
        *err = run.err;
    unlink(path);
    free(path);
    return out.p;
}

#endif
