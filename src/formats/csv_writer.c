/*
 * csv_writer.c - records as CSV or TSV.
 *
 * A field is quoted only when it must be (it holds the delimiter, the quote
 * character, CR or LF) and then libcsv's csv_write2() writes it.  NULL and
 * absent values are empty; an empty string is written as "" so that reading
 * the file back keeps NULL and "" apart.
 *
 * One header per file: records of a later schema are written under the first
 * header by name (a field the schema lacks is empty).  A record that carries
 * a field the header lacks cannot be written without losing it, so it is an
 * error, unless --header-change block asks for a new header block.
 */
#include <csv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/format.h"
#include "formats/wbuf.h"

typedef struct csv_writer {
    wbuf out;
    unsigned char delim, quote;
    unsigned char needq[256];
    uint64_t pat[4];         /* the bytes of needq, each broadcast to 8 bytes */
    uint64_t below;          /* (1 + the largest byte of needq) broadcast, when
                                that is at most 128; else 0 */
    sl_schema *header;       /* columns of the header written */
    uint64_t cached_id;      /* schema id the maps below are for */
    const uint32_t *cached_colmap;
    int32_t *src;            /* per header column: batch logical col or -1 */
    int32_t *phys;           /* the same as a physical column of the batch
                                being written (set per batch) */
    uint32_t nsrc_cap;
    uint32_t *extra;         /* batch logical cols not in the header */
    uint32_t nextra, extra_cap;
} csv_writer;

static int put_field(csv_writer *cw, sl_writer *w, const sl_cell *c)
{
    if (c->kind == SL_NULL || c->kind == SL_ABSENT)
        return SL_OK;
    size_t n = c->len;
    const unsigned char *p = (const unsigned char *)c->p;
    if (n == 0) { /* the empty string, apart from null: two quote characters */
        char qq[2] = {(char)cw->quote, (char)cw->quote};
        return wbuf_put(&cw->out, w, qq, 2);
    }
    size_t i = 0;
    while (i < n && !cw->needq[p[i]])
        i++;
    if (i == n)
        return wbuf_put(&cw->out, w, p, n);
    char *d = wbuf_reserve(&cw->out, w, 2 * n + 2);
    if (!d)
        return w->run->err.code;
    cw->out.len += csv_write2(d, 2 * n + 2, p, n, cw->quote);
    return SL_OK;
}

/* SWAR: a byte of x equal to one of the four bytes that force quoting
   (broadcast in cw->pat).  Exact: nonzero iff such a byte exists. */
#define SWAR_ONES 0x0101010101010101ull
#define SWAR_HIGH 0x8080808080808080ull
static inline uint64_t swar_special(const uint64_t pat[4], uint64_t x)
{
    uint64_t a = x ^ pat[0], b = x ^ pat[1], c = x ^ pat[2], d = x ^ pat[3];
    return (((a - SWAR_ONES) & ~a) | ((b - SWAR_ONES) & ~b) | ((c - SWAR_ONES) & ~c) | ((d - SWAR_ONES) & ~d)) &
           SWAR_HIGH;
}

static inline uint64_t load64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint32_t load32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* Whether x may hold a byte that forces quoting.  The bytes that do (the
   delimiter, the quote, CR, LF) are all below cw->below for the usual
   dialects (',' and '"' are 0x2c and 0x22), and one test finds whether any
   byte of x is below a bound (exact for bounds up to 128; bytes from 0x80 up
   never count): three operations instead of sixteen.  Digits, letters, '.',
   '-', ':' and UTF-8 are all above it, so most fields pass on that alone;
   the rest get the exact test. */
static inline __attribute__((always_inline)) uint64_t swar_maybe(const csv_writer *cw, uint64_t x, bool pre)
{
    if (!pre)
        return swar_special(cw->pat, x);
    return (x - cw->below) & ~x & SWAR_HIGH;
}

/* Copy the n > 0 bytes of p to d (which has room for n) while checking them
   for bytes that need quoting: 8 at a time, the last 8 overlapping, so no
   byte outside p[0..n) is read.  Returns whether one was found (then d holds
   garbage and the caller quotes). */
static inline __attribute__((always_inline)) bool copy_check(const csv_writer *cw, char *d, const unsigned char *p, size_t n,
                                                             bool pre)
{
    if (n >= 8) {
        uint64_t any = 0;
        size_t i = 0;
        for (; i + 8 < n; i += 8) {
            uint64_t x = load64(p + i);
            any |= swar_maybe(cw, x, pre);
            memcpy(d + i, &x, 8);
        }
        uint64_t x = load64(p + n - 8);
        any |= swar_maybe(cw, x, pre);
        memcpy(d + n - 8, &x, 8);
        if (!any)
            return false;
        /* a byte below the bound: the exact test */
        uint64_t hit = swar_special(cw->pat, load64(p + n - 8));
        for (i = 0; i + 8 < n; i += 8)
            hit |= swar_special(cw->pat, load64(p + i));
        return hit != 0;
    }
    if (n >= 4) {
        uint32_t x = load32(p), y = load32(p + n - 4);
        uint64_t v = (uint64_t)x | (uint64_t)y << 32;
        memcpy(d, &x, 4);
        memcpy(d + n - 4, &y, 4);
        return swar_maybe(cw, v, pre) != 0 && swar_special(cw->pat, v) != 0;
    }
    /* 1..3 bytes: first, middle and last cover them all */
    unsigned char a = p[0], b = p[n >> 1], c = p[n - 1];
    d[0] = (char)a;
    d[n >> 1] = (char)b;
    d[n - 1] = (char)c;
    return (cw->needq[a] | cw->needq[b] | cw->needq[c]) != 0;
}

/* One record: fields and the newline, straight into the buffer.  Room is
   checked per field for its worst case (quoted: 2n + 2) plus a delimiter
   and the newline, so the buffer grows at most once for a huge field. */
static inline __attribute__((always_inline)) int write_row_with(csv_writer *cw, sl_writer *w, const sl_cell *row,
                                                                uint32_t ncols, bool pre)
{
    wbuf *out = &cw->out;
    char *o = out->buf + out->len, *lim = out->buf + out->cap;
    for (uint32_t c = 0; c < ncols; c++) {
        int32_t pc = cw->phys[c];
        const sl_cell *cell = pc < 0 ? NULL : &row[pc];
        size_t n = cell ? cell->len : 0;
        if ((size_t)(lim - o) < 2 * n + 4) {
            out->len = (size_t)(o - out->buf);
            if (!wbuf_reserve(out, w, 2 * n + 4))
                return w->run->err.code;
            o = out->buf + out->len;
            lim = out->buf + out->cap;
        }
        if (c)
            *o++ = (char)cw->delim;
        if (!cell || cell->kind == SL_NULL || cell->kind == SL_ABSENT)
            continue;
        const unsigned char *p = (const unsigned char *)cell->p;
        if (n == 0) { /* the empty string, apart from null: two quote characters */
            o[0] = o[1] = (char)cw->quote;
            o += 2;
            continue;
        }
        if (copy_check(cw, o, p, n, pre)) {
            size_t i = 0;
            while (i < n && !cw->needq[p[i]])
                i++;
            if (i == n) {
                memcpy(o, p, n);
                o += n;
            } else {
                o += csv_write2(o, 2 * n + 2, p, n, cw->quote);
            }
            continue;
        }
        o += n;
    }
    if (o == lim) { /* no fields at all */
        out->len = (size_t)(o - out->buf);
        if (!wbuf_reserve(out, w, 1))
            return w->run->err.code;
        o = out->buf + out->len;
    }
    *o++ = '\n';
    out->len = (size_t)(o - out->buf);
    return SL_OK;
}

/* The quick test first when the dialect allows it (decided once per row
   here, so that the loops above carry no test for it). */
static int write_row(csv_writer *cw, sl_writer *w, const sl_cell *row, uint32_t ncols)
{
    return cw->below ? write_row_with(cw, w, row, ncols, true) : write_row_with(cw, w, row, ncols, false);
}

static int write_header(csv_writer *cw, sl_writer *w, sl_schema *s)
{
    for (uint32_t i = 0; i < s->ncols; i++) {
        if (i && wbuf_put(&cw->out, w, &cw->delim, 1) < 0)
            return w->run->err.code;
        sl_cell c = {s->names[i], s->name_len[i], SL_TEXT, {0}};
        if (i == 0 && c.len >= 3 && memcmp(c.p, "\xef\xbb\xbf", 3) == 0) {
            /* a name starting with a UTF-8 BOM, first in the file, would be
               read back as a BOM and lose it: quote it */
            char *d = wbuf_reserve(&cw->out, w, 2 * (size_t)c.len + 2);
            if (!d)
                return w->run->err.code;
            cw->out.len += csv_write2(d, 2 * (size_t)c.len + 2, c.p, c.len, cw->quote);
            continue;
        }
        if (put_field(cw, w, &c) < 0)
            return w->run->err.code;
    }
    return wbuf_put(&cw->out, w, "\n", 1);
}

static int build_maps(csv_writer *cw, sl_writer *w, const sl_batch *b)
{
    sl_schema *s = b->schema;
    if (cw->nsrc_cap < cw->header->ncols) {
        free(cw->src);
        free(cw->phys);
        cw->src = malloc(cw->header->ncols * sizeof *cw->src);
        cw->phys = malloc(cw->header->ncols * sizeof *cw->phys);
        cw->nsrc_cap = cw->header->ncols;
    }
    if (cw->extra_cap < s->ncols) {
        free(cw->extra);
        cw->extra = malloc(s->ncols * sizeof *cw->extra);
        cw->extra_cap = s->ncols;
    }
    if (!cw->src || !cw->phys || !cw->extra)
        return sl_fail(&w->run->err, SL_E_NOMEM, w->type->name, "out of memory");
    int same = sl_schema_same_names(cw->header, s);
    for (uint32_t i = 0; i < cw->header->ncols; i++)
        cw->src[i] = same ? (int32_t)i : sl_schema_find(s, cw->header->names[i], cw->header->name_len[i]);
    cw->nextra = 0;
    if (!same)
        for (uint32_t j = 0; j < s->ncols; j++)
            if (sl_schema_find(cw->header, s->names[j], s->name_len[j]) < 0)
                cw->extra[cw->nextra++] = j;
    cw->cached_id = s->id;
    return SL_OK;
}

static int csv_writer_write(sl_writer *w, const sl_batch *b)
{
    csv_writer *cw = w->state;
    int rc;
    if (!cw->header) {
        cw->header = sl_schema_ref(b->schema);
        if ((rc = write_header(cw, w, cw->header)) < 0)
            return rc;
        cw->cached_id = 0;
    }
    if (cw->cached_id != b->schema->id && (rc = build_maps(cw, w, b)) < 0)
        return rc;
    if (cw->nextra && w->run->opt.header_change == SL_HDRCHG_BLOCK) {
        /* a new header block for the new schema */
        sl_schema_unref(cw->header);
        cw->header = sl_schema_ref(b->schema);
        if ((rc = wbuf_put(&cw->out, w, "\n", 1)) < 0 || (rc = write_header(cw, w, cw->header)) < 0)
            return rc;
        if ((rc = build_maps(cw, w, b)) < 0)
            return rc;
    }
    uint32_t ncols = cw->header->ncols;
    uint32_t live = sl_batch_live(b);
    for (uint32_t c = 0; c < ncols; c++) /* this batch's physical columns */
        cw->phys[c] = cw->src[c] < 0 ? -1 : (int32_t)sl_batch_phys(b, (uint32_t)cw->src[c]);
    for (uint32_t i = 0; i < live; i++) {
        uint32_t r = sl_batch_row(b, i);
        for (uint32_t k = 0; k < cw->nextra; k++) {
            const sl_cell *c = sl_batch_cell(b, r, cw->extra[k]);
            if (c->kind != SL_ABSENT) {
                const sl_rowinfo *in = &b->info[r];
                const sl_schema *s = b->schema;
                sl_fail(&w->run->err, SL_E_DATA, w->type->name,
                        "record has field '%s' that the CSV header lacks (header: %u fields from the first record); "
                        "CSV has one header: select the fields, or use --header-change block",
                        s->names[cw->extra[k]], cw->header->ncols);
                if (in->input < w->run->ninputs)
                    sl_error_at(&w->run->err, w->run->inputs[in->input].name, in->line, 0, in->record);
                return SL_E_DATA;
            }
        }
        const sl_cell *row = b->cells + (size_t)r * b->stride;
        if ((rc = write_row(cw, w, row, ncols)) < 0 || (rc = wbuf_maybe_flush(&cw->out, w)) < 0)
            return rc;
    }
    w->records += live;
    return SL_OK;
}

static int csv_writer_finish(sl_writer *w)
{
    csv_writer *cw = w->state;
    return wbuf_flush(&cw->out, w);
}

static void csv_writer_destroy(sl_writer *w)
{
    csv_writer *cw = w->state;
    if (!cw)
        return;
    wbuf_fini(&cw->out);
    if (cw->header)
        sl_schema_unref(cw->header);
    free(cw->src);
    free(cw->phys);
    free(cw->extra);
    free(cw);
    w->state = NULL;
}

static int create_common(sl_writer *w, char def_delim)
{
    csv_writer *cw = calloc(1, sizeof *cw);
    if (!cw || wbuf_init(&cw->out) < 0) {
        free(cw);
        return sl_fail(&w->run->err, SL_E_NOMEM, w->type->name, "out of memory");
    }
    w->state = cw;
    const sl_options *o = &w->run->opt;
    cw->delim = (unsigned char)(o->out_delim ? o->out_delim : def_delim);
    cw->quote = (unsigned char)(o->quote ? o->quote : '"');
    cw->needq[cw->delim] = 1;
    cw->needq[cw->quote] = 1;
    cw->needq['\r'] = 1;
    cw->needq['\n'] = 1;
    const unsigned char special[4] = {cw->delim, cw->quote, '\r', '\n'};
    unsigned top = 0;
    for (int i = 0; i < 4; i++) {
        cw->pat[i] = special[i] * SWAR_ONES;
        if (special[i] > top)
            top = special[i];
    }
    cw->below = top + 1 <= 128 ? (top + 1) * SWAR_ONES : 0;
    return SL_OK;
}

static int csv_writer_create(sl_writer *w) { return create_common(w, ','); }
static int tsv_writer_create(sl_writer *w) { return create_common(w, '\t'); }

const sl_writer_type sl_csv_writer_type = {
    .name = "csv",
    .create = csv_writer_create,
    .write = csv_writer_write,
    .finish = csv_writer_finish,
    .flush = csv_writer_finish,
    .destroy = csv_writer_destroy,
    .header_without_records = true,
};

const sl_writer_type sl_tsv_writer_type = {
    .name = "tsv",
    .create = tsv_writer_create,
    .write = csv_writer_write,
    .finish = csv_writer_finish,
    .flush = csv_writer_finish,
    .destroy = csv_writer_destroy,
    .header_without_records = true,
};
