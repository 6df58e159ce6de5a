/*
 * fuzz_util.h - helpers shared by the fuzz targets (header-only, static
 * inline so that a target may use any subset).
 *
 * Inputs reach the engine as files, the way the real binary sees them:
 * fz_file() puts the fuzzer's bytes into one memfd per process and returns a
 * path (/proc/self/fd/N) that sl_source_open() opens afresh, at offset 0,
 * without touching the disk.
 *
 * fz_read_all() runs one reader stage over a path and returns a canonical
 * dump of every record (the format of tests/unit/testutil.h: an "H" line
 * with the names whenever the schema changes, then one line per record with
 * each field as KIND LEN ':' BYTES ';').  It also checks the stage contract
 * on the way: SL_BATCH always carries a live row, every cell is readable
 * (the dump copies its bytes, so ASan checks them), kinds are valid.
 *
 * FZ_CHECK() aborts with a message: that is how a target reports a property
 * violation to libFuzzer (and how the replay program fails its test).
 */
#ifndef SLUICE_FUZZ_UTIL_H
#define SLUICE_FUZZ_UTIL_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "formats/format.h"
#include "sluice/run.h"

#define FZ_CHECK(cond, ...)                                                                                            \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            fprintf(stderr, "FUZZ PROPERTY FAILED at %s:%d: %s\n  ", __FILE__, __LINE__, #cond);                       \
            fprintf(stderr, __VA_ARGS__);                                                                              \
            fputc('\n', stderr);                                                                                       \
            abort();                                                                                                   \
        }                                                                                                              \
    } while (0)

typedef struct fz_buf {
    char *p;
    size_t len, cap;
} fz_buf;

static inline void fz_put(fz_buf *b, const void *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *np = realloc(b->p, cap);
        if (!np)
            abort();
        b->p = np;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = 0;
}

static inline void fz_putf(fz_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void fz_putf(fz_buf *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    fz_put(b, tmp, n < 0 ? 0 : (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* The bytes as a file: one memfd per slot (0..3) per process, rewritten on
   every call.  The path stays the same, so error messages compare equal. */
static inline const char *fz_file(int slot, const void *data, size_t len)
{
    static int fds[4] = {-1, -1, -1, -1};
    static char paths[4][64];
    if (fds[slot] < 0) {
        fds[slot] = memfd_create("sluice-fuzz", 0);
        if (fds[slot] < 0)
            abort();
        snprintf(paths[slot], sizeof paths[slot], "/proc/self/fd/%d", fds[slot]);
    }
    if (ftruncate(fds[slot], 0) < 0)
        abort();
    size_t off = 0;
    while (off < len) {
        ssize_t w = pwrite(fds[slot], (const char *)data + off, len - off, (off_t)off);
        if (w <= 0)
            abort();
        off += (size_t)w;
    }
    return paths[slot];
}

/* Dump every record of `path` read by reader type rt.  *rc gets SL_DONE (0)
   when all was read, else the error code; *err a copy of the error. */
static inline char *fz_read_all(const sl_stage_type *rt, const char *path, const sl_options *o, int *rc, sl_error *err)
{
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
    fz_buf out = {0};
    fz_put(&out, "", 0);
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
        FZ_CHECK(sl_batch_live(b) > 0, "SL_BATCH with an empty batch");
        FZ_CHECK(b->schema != NULL, "batch without a schema");
        if (b->schema->id != last_schema) {
            fz_put(&out, "H", 1);
            for (uint32_t c = 0; c < b->schema->ncols; c++) {
                fz_put(&out, " ", 1);
                fz_put(&out, b->schema->names[c], b->schema->name_len[c]);
            }
            fz_put(&out, "\n", 1);
            last_schema = b->schema->id;
        }
        for (uint32_t i = 0; i < sl_batch_live(b); i++) {
            uint32_t row = sl_batch_row(b, i);
            FZ_CHECK(row < b->nrows, "selected row %u of %u", row, b->nrows);
            for (uint32_t c = 0; c < b->schema->ncols; c++) {
                const sl_cell *cell = sl_batch_cell(b, row, c);
                FZ_CHECK(cell->kind <= SL_JSON, "cell kind %d", cell->kind);
                FZ_CHECK(cell->len == 0 || cell->p != NULL, "cell of %u bytes without bytes", cell->len);
                fz_putf(&out, "%d%u:", cell->kind, cell->len);
                if (cell->len)
                    fz_put(&out, cell->p, cell->len);
                fz_put(&out, ";", 1);
            }
            fz_put(&out, "\n", 1);
        }
    }
    FZ_CHECK(r <= 0, "reader returned %d", r);
    FZ_CHECK(r == SL_OK || run.err.code == r, "status %d but the recorded error is %d (%s)", r, run.err.code,
             run.err.msg);
    if (rt->close)
        rt->close(&st);
    *rc = r;
    if (err)
        *err = run.err;
    return out.p;
}

/* Run a whole pipeline over `path` with standard output redirected into a
   memfd, and return what was written (NUL-terminated, *outlen bytes).  The
   run's status goes to *rc, its error to *err. */
static inline char *fz_run_capture(const sl_options *o, const char *path, int *rc, sl_error *err, size_t *outlen)
{
    static int cap_fd = -1;
    if (cap_fd < 0) {
        cap_fd = memfd_create("sluice-fuzz-out", 0);
        if (cap_fd < 0)
            abort();
    }
    if (ftruncate(cap_fd, 0) < 0 || lseek(cap_fd, 0, SEEK_SET) < 0)
        abort();
    fflush(stdout);
    int saved = dup(1);
    if (saved < 0 || dup2(cap_fd, 1) < 0)
        abort();
    sl_run run;
    const char *inputs[1] = {path};
    *rc = sl_run_execute(&run, o, inputs, 1);
    if (err)
        *err = run.err;
    sl_run_fini(&run);
    if (dup2(saved, 1) < 0)
        abort();
    close(saved);
    off_t n = lseek(cap_fd, 0, SEEK_END);
    if (n < 0)
        abort();
    char *buf = malloc((size_t)n + 1);
    if (!buf)
        abort();
    size_t got = 0;
    while (got < (size_t)n) {
        ssize_t r = pread(cap_fd, buf + got, (size_t)n - got, (off_t)got);
        if (r <= 0)
            abort();
        got += (size_t)r;
    }
    buf[n] = 0;
    *outlen = (size_t)n;
    return buf;
}

/* A printable rendering of bytes for messages (one of four static buffers,
   so that a message may show a few). */
static inline const char *fz_show(const void *p, size_t n)
{
    static char bufs[4][1200];
    static int next;
    char *s = bufs[next++ & 3];
    size_t k = 0;
    const unsigned char *b = p;
    for (size_t i = 0; i < n && k + 8 < sizeof bufs[0]; i++) {
        if (b[i] >= 0x20 && b[i] < 0x7f && b[i] != '\\')
            s[k++] = (char)b[i];
        else
            k += (size_t)snprintf(s + k, sizeof bufs[0] - k, "\\x%02x", b[i]);
    }
    s[k] = 0;
    return s;
}

#endif
