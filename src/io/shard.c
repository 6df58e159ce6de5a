/* shard.c - the share of the inputs of one shard (see shard.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/shard.h"
#include "io/source.h"

int sl_shard_line_start(int fd, uint64_t size, uint64_t pos, uint64_t *out)
{
    if (pos == 0 || pos >= size) {
        *out = pos == 0 ? 0 : size;
        return SL_OK;
    }
    char buf[64 * 1024];
    uint64_t at = pos - 1;
    while (at < size) {
        ssize_t n;
        do
            n = pread(fd, buf, sizeof buf, (off_t)at);
        while (n < 0 && errno == EINTR);
        if (n < 0)
            return SL_E_INPUT;
        if (n == 0)
            break;
        const char *nl = memchr(buf, '\n', (size_t)n);
        if (nl) {
            *out = at + (uint64_t)(nl - buf) + 1;
            return SL_OK;
        }
        at += (uint64_t)n;
    }
    *out = size;
    return SL_OK;
}

typedef struct file_ent {
    const sl_input *in;
    uint32_t idx;
} file_ent;

static int by_size_desc(const void *a, const void *b)
{
    const file_ent *x = a, *y = b;
    int64_t sx = x->in->size > 0 ? x->in->size : 0, sy = y->in->size > 0 ? y->in->size : 0;
    if (sx != sy)
        return sx > sy ? -1 : 1;
    int c = strcmp(x->in->name, y->in->name);
    if (c)
        return c;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Several files: keep the ones the greedy plan gives to this shard, in
   their command-line order. */
static int plan_files(sl_run *run)
{
    uint32_t n = (uint32_t)run->ninputs, count = run->opt.shard_count, me = run->opt.shard_index;
    file_ent *f = malloc(n * sizeof *f);
    uint64_t *load = calloc(count, sizeof *load);
    uint8_t *mine = calloc(n, 1);
    if (!f || !load || !mine) {
        free(f);
        free(load);
        free(mine);
        return sl_fail(&run->err, SL_E_NOMEM, "shard", "out of memory");
    }
    for (uint32_t i = 0; i < n; i++)
        f[i] = (file_ent){&run->inputs[i], i};
    qsort(f, n, sizeof *f, by_size_desc);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t best = 0;
        for (uint32_t k = 1; k < count; k++)
            if (load[k] < load[best])
                best = k;
        load[best] += f[i].in->size > 0 ? (uint64_t)f[i].in->size : 0;
        /* an empty file still counts, so that N empty files spread out */
        load[best] += 1;
        if (best == me)
            mine[f[i].idx] = 1;
    }
    size_t k = 0;
    for (uint32_t i = 0; i < n; i++)
        if (mine[i])
            run->inputs[k++] = run->inputs[i];
    run->ninputs = k;
    free(f);
    free(load);
    free(mine);
    return SL_OK;
}

/* One file: a line-aligned byte range, or all or nothing when it cannot
   be split. */
static int plan_range(sl_run *run, int header, char *note, size_t note_cap)
{
    sl_input *in = &run->inputs[0];
    uint32_t count = run->opt.shard_count, me = run->opt.shard_index;
    sl_error *err = &run->err;
    sl_source *src = sl_source_open(in->name, err);
    if (!src)
        return err->code;
    int whole = sl_source_compression(src) != SL_COMP_NONE || sl_source_is_stream(src) || sl_source_size(src) < 0;
    sl_comp comp = sl_source_compression(src);
    sl_source_close(src);
    if (whole) {
        snprintf(note, note_cap, "sluice: note: %s %s cannot be split into byte ranges: shard 0 reads it whole, the other "
                 "shards read nothing (give several files to spread the work)", in->name,
                 comp != SL_COMP_NONE ? (comp == SL_COMP_GZIP ? "is gzip-compressed and" : "is zstd-compressed and")
                                      : "is not a regular file and");
        if (me != 0)
            run->ninputs = 0;
        return SL_OK;
    }
    int fd = open(in->name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        sl_fail(err, SL_E_INPUT, "input", "cannot open: %s", strerror(errno));
        sl_error_at(err, in->name, 0, 0, 0);
        return SL_E_INPUT;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return sl_fail(err, SL_E_INPUT, "input", "cannot stat %s: %s", in->name, strerror(errno));
    }
    uint64_t size = (uint64_t)st.st_size;
    uint64_t a = (uint64_t)((unsigned __int128)size * me / count);
    uint64_t b = (uint64_t)((unsigned __int128)size * (me + 1) / count);
    uint64_t p0, p1, h = 0;
    int rc = sl_shard_line_start(fd, size, a, &p0);
    if (rc == SL_OK)
        rc = sl_shard_line_start(fd, size, b, &p1);
    if (rc == SL_OK && header && p0 > 0)
        rc = sl_shard_line_start(fd, size, 1, &h);
    int e = errno;
    close(fd);
    if (rc < 0) {
        sl_fail(err, SL_E_INPUT, "input", "read failed: %s", strerror(e));
        sl_error_at(err, in->name, 0, 0, 0);
        return SL_E_INPUT;
    }
    in->ranged = true;
    in->head_len = h;
    in->start = p0;
    in->end = p1 > p0 ? p1 : p0;
    return SL_OK;
}

int sl_shard_plan(sl_run *run, int header, char *note, size_t note_cap)
{
    note[0] = 0;
    for (size_t i = 0; i < run->ninputs; i++)
        run->inputs[i].order = (uint32_t)i;
    if (run->opt.shard_count == 0)
        return SL_OK;
    if (run->opt.shard_index >= run->opt.shard_count)
        return sl_fail(&run->err, SL_E_USAGE, "options", "--shard %u/%u: the shard number must be from 0 to %u",
                       run->opt.shard_index, run->opt.shard_count, run->opt.shard_count - 1);
    for (size_t i = 0; i < run->ninputs; i++)
        if (strcmp(run->inputs[i].name, "-") == 0)
            return sl_fail(&run->err, SL_E_USAGE, "options", "--shard needs input files: standard input cannot be "
                           "shared between processes");
    if (run->opt.shard_count == 1)
        return SL_OK; /* one shard reads everything, as a run without --shard */
    if (run->ninputs == 1)
        return plan_range(run, header, note, note_cap);
    return plan_files(run);
}
