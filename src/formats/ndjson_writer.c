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
        if (len < 0)
            return sl_fail(&w->run->err, SL_E_DATA, "ndjson",
                           "field name '%s' is not valid UTF-8 (byte %zu); JSON output needs UTF-8", s->names[i], bad + 1);
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
    json_error_t je;
    json_t *v = json_loadb(p, n, 0, &je);
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

/* Returns SL_OK, a negative error, or 1 when the value is bad (invalid
   UTF-8 at *bad). */
static int put_value(ndjson_writer *nw, sl_writer *w, const sl_cell *c, size_t *bad)
{
    switch (c->kind) {
    case SL_NULL:
        return wbuf_put(&nw->out, w, "null", 4);
    case SL_NUMBER:
    case SL_BOOL:
    case SL_JSON:
        return wbuf_put(&nw->out, w, c->p, c->len);
    case SL_TEXT:
        if (!nw->no_infer && c->len > 0) {
            unsigned char f = (unsigned char)c->p[0];
            if ((f == '-' || (f >= '0' && f <= '9')) && sl_json_is_number(c->p, c->len))
                return wbuf_put(&nw->out, w, c->p, c->len);
            if (c->len == 4 && memcmp(c->p, "true", 4) == 0)
                return wbuf_put(&nw->out, w, "true", 4);
            if (c->len == 5 && memcmp(c->p, "false", 5) == 0)
                return wbuf_put(&nw->out, w, "false", 5);
            if (f == '{' || f == '[') {
                int ok, rc = put_json_text(nw, w, c->p, c->len, &ok);
                if (rc < 0 || ok)
                    return rc;
            }
        }
        /* a string */
        /* fall through */
    case SL_STRING:
    default: {
        char *d = wbuf_reserve(&nw->out, w, 6 * (size_t)c->len + 2);
        if (!d)
            return w->run->err.code;
        long n = sl_json_escape(d, c->p, c->len, bad);
        if (n < 0)
            return 1;
        nw->out.len += (size_t)n;
        return SL_OK;
    }
    }
}

static int ndjson_writer_write(sl_writer *w, const sl_batch *b)
{
    ndjson_writer *nw = w->state;
    int rc;
    if (nw->keys_id != b->schema->id && (rc = build_keys(nw, w, b->schema)) < 0)
        return rc;
    uint32_t ncols = b->schema->ncols;
    uint32_t live = sl_batch_live(b);
    for (uint32_t i = 0; i < live; i++) {
        uint32_t r = sl_batch_row(b, i);
        size_t start = nw->out.len;
        const sl_cell *row = b->cells + (size_t)r * b->stride;
        if ((rc = wbuf_put(&nw->out, w, "{", 1)) < 0)
            return rc;
        int first = 1;
        for (uint32_t c = 0; c < ncols; c++) {
            const sl_cell *cell = &row[sl_batch_phys(b, c)];
            if (cell->kind == SL_ABSENT)
                continue;
            char *d = wbuf_reserve(&nw->out, w, nw->key_len[c] + 1);
            if (!d)
                return w->run->err.code;
            if (!first)
                *d++ = ',', nw->out.len++;
            memcpy(d, nw->keys[c], nw->key_len[c]);
            nw->out.len += nw->key_len[c];
            first = 0;
            size_t bad = 0;
            rc = put_value(nw, w, cell, &bad);
            if (rc < 0)
                return rc;
            if (rc == 1) {
                nw->out.len = start; /* take the partial line back */
                rc = sl_run_bad_record(w->run, b, r, "ndjson",
                                       "field '%s' is not valid UTF-8 (byte %zu of the value); JSON output needs UTF-8",
                                       b->schema->names[c], bad + 1);
                if (rc < 0)
                    return rc;
                goto next_row;
            }
        }
        if ((rc = wbuf_put(&nw->out, w, "}\n", 2)) < 0)
            return rc;
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
