/*
 * lines_reader.c - plain text: every line is a record with one field, `line`.
 *
 * Lines end at LF; a CR before it is dropped; the last line may lack its LF.
 * Empty lines are records too (an empty string).  Zero copy: cells point into
 * the read buffer, and a batch ends before the buffer is refilled.
 */
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "formats/format.h"
#include "io/source.h"

typedef struct lines_reader {
    sl_run *run;
    size_t in_idx;
    sl_source *src;
    int eof;
    char *buf;
    size_t cap, len, pos;
    uint64_t line, offset;
    sl_schema *schema;
    sl_batch batch;
} lines_reader;

static int lines_create(sl_stage *st, const char *args, sl_error *err)
{
    if (args && *args)
        return sl_fail(err, SL_E_USAGE, "lines", "the lines reader takes no arguments");
    lines_reader *r = calloc(1, sizeof *r);
    if (!r)
        return sl_fail(err, SL_E_NOMEM, "lines", "out of memory");
    r->run = st->run;
    st->state = r;
    return SL_OK;
}

static int lines_open(sl_stage *st)
{
    lines_reader *r = st->state;
    const char *name = "line";
    r->schema = sl_schema_new(1, &name, NULL);
    r->cap = 1u << 20;
    r->buf = malloc(r->cap);
    if (!r->schema || !r->buf || sl_batch_init(&r->batch, st->run->opt.batch_rows, 1, 0) < 0)
        return sl_fail(&st->run->err, SL_E_NOMEM, "lines", "out of memory");
    return SL_OK;
}

static void close_src(lines_reader *r)
{
    if (!r->src)
        return;
    sl_input *in = &r->run->inputs[r->in_idx];
    in->bytes_raw = sl_source_bytes_raw(r->src);
    in->bytes = sl_source_bytes(r->src);
    in->size = sl_source_size(r->src);
    sl_source_close(r->src);
    r->src = NULL;
}

static int lines_next(sl_stage *st, sl_batch **out)
{
    lines_reader *r = st->state;
    sl_batch *b = &r->batch;
    sl_batch_reset(b, r->schema, 1);
    /* once half the buffer is read, and only when what is left is short
       (the rest of a record or a few): moving a long tail costs a copy of
       the input; the buffer is read to its end first, and when it runs out
       mid-batch the batch is handed on and the short tail moved here */
    if (r->pos > 0 && r->pos >= r->cap / 2 && r->len - r->pos <= r->cap / 16) {
        memmove(r->buf, r->buf + r->pos, r->len - r->pos);
        r->len -= r->pos;
        r->pos = 0;
    }
    for (;;) {
        if (!r->src) {
            if (r->in_idx >= r->run->ninputs)
                return b->nrows ? (*out = b, SL_BATCH) : SL_DONE;
            r->src = sl_source_open_input(&r->run->inputs[r->in_idx], &r->run->err);
            if (!r->src)
                return r->run->err.code;
            r->eof = 0;
            r->line = 1;
            r->offset = 0;
            r->len = r->pos = 0;
        }
        char *nl = r->pos < r->len ? memchr(r->buf + r->pos, '\n', r->len - r->pos) : NULL;
        if (nl || (r->eof && r->pos < r->len)) {
            size_t end = nl ? (size_t)(nl - r->buf) : r->len;
            size_t n = end - r->pos;
            if (n > 0 && r->buf[r->pos + n - 1] == '\r')
                n--;
            if (n > r->run->opt.max_field_bytes) {
                sl_fail(&r->run->err, SL_E_DATA, "lines", "line longer than %llu bytes (limit --max-field-bytes)",
                        (unsigned long long)r->run->opt.max_field_bytes);
                sl_error_at(&r->run->err, r->run->inputs[r->in_idx].name, r->line, 0, r->line);
                return SL_E_DATA;
            }
            uint32_t row = b->nrows++;
            b->cells[row] = (sl_cell){r->buf + r->pos, (uint32_t)n, SL_TEXT, {0}};
            b->info[row] = (sl_rowinfo){r->line, r->offset, r->line, (uint32_t)r->in_idx, (uint32_t)n, r->buf + r->pos};
            r->run->inputs[r->in_idx].records++;
            size_t adv = (nl ? end + 1 : end) - r->pos;
            r->pos += adv;
            r->offset += adv;
            r->line++;
            if (b->nrows == b->cap_rows)
                return *out = b, SL_BATCH;
            continue;
        }
        if (r->eof) {
            close_src(r);
            r->in_idx++;
            if (b->nrows)
                return *out = b, SL_BATCH;
            continue;
        }
        /* need more bytes */
        if (r->len == r->cap) {
            if (b->nrows)
                return *out = b, SL_BATCH;
            if (r->pos > 0) {
                memmove(r->buf, r->buf + r->pos, r->len - r->pos);
                r->len -= r->pos;
                r->pos = 0;
            } else {
                if (r->cap > r->run->opt.max_field_bytes) {
                    sl_fail(&r->run->err, SL_E_DATA, "lines", "line longer than %llu bytes (limit --max-field-bytes)",
                            (unsigned long long)r->run->opt.max_field_bytes);
                    sl_error_at(&r->run->err, r->run->inputs[r->in_idx].name, r->line, 0, r->line);
                    return SL_E_DATA;
                }
                char *nb = realloc(r->buf, r->cap * 2);
                if (!nb)
                    return sl_fail(&r->run->err, SL_E_NOMEM, "lines", "out of memory");
                r->buf = nb;
                r->cap *= 2;
            }
        }
        if (b->nrows && sl_source_is_stream(r->src)) {
            struct pollfd pf = {.fd = 0, .events = POLLIN};
            if (strcmp(r->run->inputs[r->in_idx].name, "-") == 0 && poll(&pf, 1, 0) <= 0)
                return *out = b, SL_BATCH;
        }
        ssize_t n = sl_source_read(r->src, r->buf + r->len, r->cap - r->len, &r->run->err);
        if (n < 0) {
            sl_error_at(&r->run->err, r->run->inputs[r->in_idx].name, 0, 0, 0);
            return (int)n;
        }
        if (n == 0)
            r->eof = 1;
        r->len += (size_t)n;
        r->run->inputs[r->in_idx].bytes_raw = sl_source_bytes_raw(r->src);
    }
}

static void lines_close(sl_stage *st)
{
    lines_reader *r = st->state;
    if (!r)
        return;
    close_src(r);
    if (r->schema)
        sl_schema_unref(r->schema);
    sl_batch_fini(&r->batch);
    free(r->buf);
    free(r);
    st->state = NULL;
}

const sl_stage_type sl_lines_reader_type = {
    .name = "lines",
    .usage = "(reader)",
    .summary = "plain text, one record per line (field `line`)",
    .create = lines_create,
    .open = lines_open,
    .next = lines_next,
    .close = lines_close,
};
