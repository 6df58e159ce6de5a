/*
 * ndjson_writer.c - one JSON object per line.
 *
 * Values by kind: NUMBER, BOOL and JSON verbatim; STRING escaped; NULL as
 * null; ABSENT omitted.  Untyped TEXT (CSV, TSV, lines) is inferred unless
 * --no-infer: the text of a valid JSON number is written verbatim (so 1.50
 * stays 1.50 and 30 digits keep every digit; 0870 and +1 are strings), true
 * and false become booleans, text that is a JSON object or array is written
 * as that value (compacted), everything else is a string.  Together with the
 * CSV writer writing nested values as their JSON text, NDJSON -> CSV -> NDJSON
 * keeps nested values.  Text that is not valid UTF-8 is a bad record (JSON
 * output must be UTF-8).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/format.h"
#include "formats/json_out.h"
#include "formats/wbuf.h"

typedef struct ndjson_writer {
    wbuf out;
    uint64_t keys_id;    /* schema the keys below are for */
    char **keys;         /* "\"name\":" per column, escaped */
    uint32_t *key_len;
    uint32_t nkeys;
    int no_infer;
} ndjson_writer;

static void free_keys(ndjson_writer *nw)
{
    for (uint32_t i = 0; i < nw->nkeys; i++)
        free(nw->keys[i]);
    free(nw->keys);
    free(nw->key_len);
    nw->keys = NULL;
    nw->key_len = NULL;
    nw->nkeys = 0;
}

static int build_keys(ndjson_writer *nw, sl_writer *w, const sl_schema *s)
{
    free_keys(nw);
    nw->keys = calloc(s->ncols ? s->ncols : 1, sizeof *nw->keys);
    nw->key_len = calloc(s->ncols ? s->ncols : 1, sizeof *nw->key_len);
    if (!nw->keys || !nw->key_len)
        return sl_fail(&w->run->err, SL_E_NOMEM, "ndjson", "out of memory");
    nw->nkeys = s->ncols;
    for (uint32_t i = 0; i < s->ncols; i++) {
        size_t n = s->name_len[i];
        char *k = malloc(6 * n + 4);
        if (!k)
            return sl_fail(&w->run->err, SL_E_NOMEM, "ndjson", "out of memory");
        size_t bad = 0;
        long len = sl_json_escape(k, s->names[i], n, &bad);
        if (len < 0) {
            free(k);
            /* show the valid part only: the raw bytes would garble the message */
            return sl_fail(&w->run->err, SL_E_DATA, "ndjson",
                           "field name %u ('%.*s...') is not valid UTF-8 (byte %zu is 0x%02x); JSON output needs UTF-8",
                           i + 1, (int)bad, s->names[i], bad + 1, (unsigned char)s->names[i][bad]);
        }
        k[len++] = ':';
        nw->keys[i] = k;
        nw->key_len[i] = (uint32_t)len;
    }
    nw->keys_id = s->id;
    return SL_OK;
}

/* text that jansson accepts as an object or array, written compact */
static int put_json_text(ndjson_writer *nw, sl_writer *w, const char *p, size_t n, int *ok)
{
    *ok = 0;
    /* only what sluice reads back as the same value: no duplicate keys
       (its readers refuse them), no NUL (jansson drops one after a number) */
    if (memchr(p, 0, n))
        return SL_OK;
    json_error_t je;
    json_t *v = json_loadb(p, n, JSON_REJECT_DUPLICATES, &je);
    if (!v)
        return SL_OK;
    json_decref(v);
    /* valid JSON: drop whitespace outside strings so the line stays one line */
    char *d = wbuf_reserve(&nw->out, w, n);
    if (!d)
        return w->run->err.code;
    size_t k = 0;
    int in_str = 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (in_str) {
            d[k++] = c;
            if (c == '\\' && i + 1 < n)
                d[k++] = p[++i];
            else if (c == '"')
                in_str = 0;
        } else if (c == '"') {
            in_str = 1;
            d[k++] = c;
        } else if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
            d[k++] = c;
        }
    }
    nw->out.len += k;
    *ok = 1;
    return SL_OK;
}

/* the scalar kinds that are copied verbatim, or a TEXT that reads as a JSON
   number: both need no escaping */
static inline int text_is_number(const sl_cell *c)
{
    unsigned char f = (unsigned char)c->p[0];
    return (f == '-' || (f >= '0' && f <= '9')) && sl_json_is_number(c->p, c->len);
}

static int ndjson_writer_write(sl_writer *w, const sl_batch *b)
{
    ndjson_writer *nw = w->state;
    int rc;
    if (nw->keys_id != b->schema->id && (rc = build_keys(nw, w, b->schema)) < 0) {
        /* a field name comes from the header of the input of these rows */
        const sl_rowinfo *in = b->info && sl_batch_live(b) ? &b->info[sl_batch_row(b, 0)] : NULL;
        if (rc == SL_E_DATA && in && in->input < w->run->ninputs) {
            const char *name = w->run->inputs[in->input].name;
            sl_error_at(&w->run->err, strcmp(name, "-") == 0 ? "(stdin)" : name, 0, 0, 0);
        }
        return rc;
    }
    uint32_t ncols = b->schema->ncols;
    uint32_t live = sl_batch_live(b);
    for (uint32_t i = 0; i < live; i++) {
        uint32_t r = sl_batch_row(b, i);
        size_t start = nw->out.len;
        const sl_cell *row = b->cells + (size_t)r * b->stride;
        /* one reservation for the whole record: the worst case of every
           value escaped, so the loop below writes without checks */
        size_t need = 4;
        for (uint32_t c = 0; c < ncols; c++)
            need += nw->key_len[c] + 6 * (size_t)row[sl_batch_phys(b, c)].len + 8;
        char *d = wbuf_reserve(&nw->out, w, need);
        if (!d)
            return w->run->err.code;
        char *o = d;
        *o++ = '{';
        int first = 1;
        for (uint32_t c = 0; c < ncols; c++) {
            const sl_cell *cell = &row[sl_batch_phys(b, c)];
            if (cell->kind == SL_ABSENT)
                continue;
            if (!first)
                *o++ = ',';
            first = 0;
            memcpy(o, nw->keys[c], nw->key_len[c]);
            o += nw->key_len[c];
            switch (cell->kind) {
            case SL_NULL:
                memcpy(o, "null", 4);
                o += 4;
                continue;
            case SL_NUMBER:
            case SL_BOOL:
            case SL_JSON:
                memcpy(o, cell->p, cell->len);
                o += cell->len;
                continue;
            case SL_TEXT:
                if (nw->no_infer || cell->len == 0)
                    break;
                if (text_is_number(cell) || (cell->len == 4 && memcmp(cell->p, "true", 4) == 0) ||
                    (cell->len == 5 && memcmp(cell->p, "false", 5) == 0)) {
                    memcpy(o, cell->p, cell->len);
                    o += cell->len;
                    continue;
                }
                if (cell->p[0] == '{' || cell->p[0] == '[') {
                    /* rare: hand over to the buffer-managing path */
                    nw->out.len = (size_t)(o - nw->out.buf);
                    int ok;
                    if ((rc = put_json_text(nw, w, cell->p, cell->len, &ok)) < 0)
                        return rc;
                    if (ok) {
                        /* the buffer may have moved: reserve the rest again */
                        if (!wbuf_reserve(&nw->out, w, need))
                            return w->run->err.code;
                        o = nw->out.buf + nw->out.len;
                        continue;
                    }
                }
                break;
            default:
                break;
            }
            size_t bad = 0;
            long n = sl_json_escape(o, cell->p, cell->len, &bad);
            if (n < 0) {
                nw->out.len = start; /* take the partial line back */
                rc = sl_run_bad_record(w->run, b, r, "ndjson",
                                       "field '%s' is not valid UTF-8 (byte %zu of the value); JSON output needs UTF-8",
                                       b->schema->names[c], bad + 1);
                if (rc < 0)
                    return rc;
                goto next_row;
            }
            o += n;
        }
        *o++ = '}';
        *o++ = '\n';
        nw->out.len = (size_t)(o - nw->out.buf);
        w->records++;
    next_row:
        if ((rc = wbuf_maybe_flush(&nw->out, w)) < 0)
            return rc;
    }
    return SL_OK;
}

static int ndjson_writer_finish(sl_writer *w)
{
    ndjson_writer *nw = w->state;
    return wbuf_flush(&nw->out, w);
}

static void ndjson_writer_destroy(sl_writer *w)
{
    ndjson_writer *nw = w->state;
    if (!nw)
        return;
    free_keys(nw);
    wbuf_fini(&nw->out);
    free(nw);
    w->state = NULL;
}

static int ndjson_writer_create(sl_writer *w)
{
    ndjson_writer *nw = calloc(1, sizeof *nw);
    if (!nw || wbuf_init(&nw->out) < 0) {
        free(nw);
        return sl_fail(&w->run->err, SL_E_NOMEM, "ndjson", "out of memory");
    }
    nw->no_infer = w->run->opt.no_infer;
    w->state = nw;
    return SL_OK;
}

const sl_writer_type sl_ndjson_writer_type = {
    .name = "ndjson",
    .create = ndjson_writer_create,
    .write = ndjson_writer_write,
    .finish = ndjson_writer_finish,
    .flush = ndjson_writer_finish,
    .destroy = ndjson_writer_destroy,
};
