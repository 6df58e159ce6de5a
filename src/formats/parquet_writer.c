/*
 * parquet_writer.c - records as one Parquet file: a flat schema of nullable
 * columns, written from the Parquet format specification (parquet.thrift,
 * Encodings.md) with the Thrift compact protocol of thrift_compact.c.
 *
 * File layout:
 *
 *   "PAR1"  row group 1: column chunk 1, column chunk 2, ...   row group 2 ...
 *           FileMetaData (Thrift)  its length (4 bytes LE)  "PAR1"
 *
 *   column chunk := [dictionary page] data page+
 *   page         := PageHeader (Thrift) + the page body, compressed alone
 *                   (zstd by default, gzip, or none)
 *   data page v1 := definition levels (4-byte length + RLE hybrid, width 1)
 *                   values: PLAIN, or RLE_DICTIONARY (1 byte bit width + RLE
 *                   hybrid indices into the dictionary page, which is PLAIN)
 *
 * Columns come from the first batch's fields (plus --schema columns the
 * records lack, when the input's records may have varying keys); later
 * batches are matched by field name, a missing field is null.  Types come
 * from --schema or are inferred from every value of the first row group (see
 * parquet_types.h): until the first row group is full its undecided columns
 * keep the values' text; then each gets the narrowest type all its values
 * fit, and the text is converted.  By construction nothing in the first row
 * group can misfit.  Later values are converted as they arrive (the batch is
 * still there to report a bad record with its position): a number or boolean
 * in a string column is written as its text, anything else that does not
 * fit its column goes to the run's bad-record policy with the value, field
 * and type in the message.  A bad record is taken back from every column
 * (all or nothing).
 *
 * Memory: the row group being built is held column by column, typed (8 bytes
 * per int64/double/timestamp/date/boolean value, text plus a 4-byte offset per
 * string, 1 byte of definition level per row and column), and drawn from the
 * run's memory budget in steps of 1 MiB.  When those bytes reach
 * --row-group-size (default 128M, at most half of --memory-limit, at most 2G)
 * the row group is encoded and written, column after column, straight into
 * the sink, and its buffers are reused for the next.  Encoding needs only a
 * page buffer, a compression buffer and the dictionary (at most 1 MiB): the
 * dictionary indices overwrite the values they replace in place.
 *
 * Dictionary: a column chunk (of any type but boolean) is dictionary-encoded
 * when its distinct values fit a dictionary of at most 1 MiB (PLAIN bytes)
 * and number at most half of its values; else it falls back to PLAIN, whole
 * (the chunk is in memory, so the choice is made knowing all of it: indices
 * of mostly distinct values - ids, times - compress worse than the
 * values themselves).  Each row group starts a new dictionary.
 *
 * Statistics per column chunk: null_count, and min_value / max_value (signed
 * for numbers and times, false < true, unsigned byte-wise for strings; no
 * NaN; a zero minimum is written -0.0 and a zero maximum +0.0; strings longer
 * than 4096 bytes give no min/max), with TYPE_ORDER column orders so readers
 * can trust them, and nan_count for doubles.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "formats/bytebuf.h"
#include "formats/format.h"
#include "formats/json_out.h"
#include "formats/parquet_rle.h"
#include "formats/parquet_types.h"
#include "formats/thrift_compact.h"
#include "io/sink.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the Parquet writer copies values as they are in memory: it needs a little-endian machine"
#endif

#define STAGE "parquet"

/* parquet.thrift enums */
enum { PT_BOOLEAN = 0, PT_INT32 = 1, PT_INT64 = 2, PT_DOUBLE = 5, PT_BYTE_ARRAY = 6 };
enum { ENC_PLAIN = 0, ENC_RLE = 3, ENC_RLE_DICTIONARY = 8 };
enum { CODEC_UNCOMPRESSED = 0, CODEC_GZIP = 2, CODEC_ZSTD = 6 };
enum { PAGE_DATA = 0, PAGE_DICTIONARY = 2 };
enum { CT_UTF8 = 0, CT_DATE = 6, CT_TIMESTAMP_MICROS = 10 };
enum { REP_OPTIONAL = 1 };

#define PAGE_BITS (8ull << 20)       /* a data page holds about 1 MiB of values */
#define PAGE_ROWS (1u << 20)         /* and at most this many rows */
#define DICT_BYTES (1u << 20)        /* bound of a dictionary (PLAIN bytes) */
#define MEM_STEP (1ull << 20)        /* the budget is drawn in these steps */
#define STAT_MAX 4096                /* longest string min/max written */
#define DEFAULT_ROW_GROUP (128ull << 20)
#define MAX_ROW_GROUP (2ull << 30)   /* string offsets are 32 bits */

typedef struct pq_col {
    char *name;
    uint32_t name_len;
    pq_type type;       /* PQ_NONE: inferring, the values are kept as text */
    bool declared;      /* type from --schema: lenient conversion */
    unsigned fits;      /* inferring: PQ_FIT_* every value so far fits */
    bool seen;          /* inferring: a non-null value was seen */
    unsigned fits0;     /* fits and seen before the current row (to take */
    bool seen0;         /* a bad record back) */
    /* the row group being built */
    uint8_t *def;       /* per row: 1 = a value, 0 = null */
    uint32_t nvals;     /* values (non-null rows) */
    uint8_t *fx;        /* fixed types: 8 bytes per value */
    size_t fx_cap;
    char *sb;           /* strings (and text while inferring) */
    size_t sb_len, sb_cap;
    uint32_t *so;       /* value i is sb[so[i] .. so[i+1]) */
    size_t so_cap;
} pq_col;

/* The dictionary of the column chunk being encoded. */
typedef struct pq_dict {
    uint32_t *slot;     /* open addressing: entry + 1, 0 = empty */
    uint32_t mask;      /* slots - 1 */
    uint32_t n;         /* entries */
    uint32_t *ehash;    /* per entry: hash */
    uint32_t *eoff;     /* per entry: strings: offset of its length in plain */
    uint64_t *eval;     /* per entry: fixed types: the value */
    uint32_t ecap;
    bytebuf plain;      /* the dictionary page body */
} pq_dict;

/* What a column chunk's metadata needs. */
typedef struct pq_chunk {
    uint64_t unc, comp;            /* sizes with page headers */
    int64_t dict_off, data_off;    /* -1 = none */
    uint32_t pages_dict, pages_plain;
    int64_t nulls, nans;
    bool has_minmax;
    uint8_t min[8], max[8];        /* fixed types, PLAIN */
    const char *smin, *smax;       /* strings (valid while encoding) */
    uint32_t smin_len, smax_len;
} pq_chunk;

typedef struct pq_writer {
    pq_col *cols;
    uint32_t ncols;
    bool have_cols;     /* columns fixed (first batch, or finish) */
    bool types_known;   /* every column has its type */
    bool started;       /* magic written */
    pq_spec spec;
    int codec, level;
    uint64_t rg_limit;
    /* batch schema -> columns */
    uint64_t map_id;
    int32_t *src;       /* per column: batch logical column or -1 */
    uint32_t *extra;    /* batch columns that are not columns */
    uint32_t nextra, extra_cap;
    /* the row group being built */
    uint32_t rows, rows_cap;
    uint64_t used;      /* bytes buffered */
    uint64_t taken;     /* bytes drawn from the memory budget */
    /* the file */
    uint64_t pos;       /* bytes written */
    uint64_t total_rows;
    tc_writer rgs;      /* RowGroup structs written so far */
    uint32_t nrg;
    /* encoding */
    bytebuf page, comp;
    tc_writer hdr;
    pq_dict dict;
    ZSTD_CCtx *zc;
    z_stream z;
    bool z_ready;
} pq_writer;

static int nomem(sl_writer *w) { return sl_fail(&w->run->err, SL_E_NOMEM, STAGE, "out of memory"); }

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 64;
    while (n < need)
        n = n < (1u << 20) ? n * 2 : n + n / 2;
    void *np = realloc(*p, n * elem);
    if (!np)
        return -1;
    *p = np;
    *cap = n;
    return 0;
}

/* ---- output ---- */

static int out_write(sl_writer *w, const void *p, size_t n)
{
    pq_writer *pw = w->state;
    int rc = sl_sink_write(w->sink, p, n, &w->run->err);
    if (rc < 0)
        return rc;
    pw->pos += n;
    return SL_OK;
}

static int start_file(sl_writer *w)
{
    pq_writer *pw = w->state;
    if (pw->started)
        return SL_OK;
    pw->started = true;
    return out_write(w, "PAR1", 4);
}

/* Compress body[0..len) and write it with its page header. */
static int write_page(sl_writer *w, int type, const uint8_t *body, size_t len, uint32_t nvalues, int encoding,
                      pq_chunk *ck)
{
    pq_writer *pw = w->state;
    const uint8_t *data = body;
    size_t dlen = len;
    if (len > INT32_MAX)
        return sl_fail(&w->run->err, SL_E_DATA, STAGE, "a Parquet page would hold %zu bytes, over the 2 GiB a page can "
                       "have (a value is too large)", len);
    if (pw->codec == CODEC_ZSTD) {
        size_t bound = ZSTD_compressBound(len);
        bb_clear(&pw->comp);
        if (!bb_reserve(&pw->comp, bound))
            return nomem(w);
        size_t r = ZSTD_compressCCtx(pw->zc, pw->comp.p, bound, body, len, pw->level);
        if (ZSTD_isError(r))
            return sl_fail(&w->run->err, ZSTD_getErrorCode(r) == ZSTD_error_memory_allocation ? SL_E_NOMEM : SL_E_INTERNAL,
                           STAGE, "zstd: %s", ZSTD_getErrorName(r));
        data = pw->comp.p;
        dlen = r;
    } else if (pw->codec == CODEC_GZIP) {
        size_t bound = deflateBound(&pw->z, (uLong)len) + 64;
        bb_clear(&pw->comp);
        if (!bb_reserve(&pw->comp, bound))
            return nomem(w);
        deflateReset(&pw->z);
        pw->z.next_in = (Bytef *)body;
        pw->z.avail_in = (uInt)len;
        pw->z.next_out = pw->comp.p;
        pw->z.avail_out = (uInt)bound;
        if (deflate(&pw->z, Z_FINISH) != Z_STREAM_END)
            return sl_fail(&w->run->err, SL_E_INTERNAL, STAGE, "gzip: deflate did not finish a page");
        data = pw->comp.p;
        dlen = bound - pw->z.avail_out;
    }
    tc_writer *h = &pw->hdr;
    tc_reset(h);
    tc_field_i32(h, 1, type);
    tc_field_i32(h, 2, (int32_t)len);
    tc_field_i32(h, 3, (int32_t)dlen);
    if (type == PAGE_DATA) {
        tc_field_struct(h, 5);
        tc_field_i32(h, 1, (int32_t)nvalues);
        tc_field_i32(h, 2, encoding);
        tc_field_i32(h, 3, ENC_RLE);
        tc_field_i32(h, 4, ENC_RLE);
        tc_struct_end(h);
    } else {
        tc_field_struct(h, 7);
        tc_field_i32(h, 1, (int32_t)nvalues);
        tc_field_i32(h, 2, ENC_PLAIN);
        tc_struct_end(h);
    }
    tc_struct_end(h);
    if (!tc_ok(h))
        return nomem(w);
    if (type == PAGE_DATA && ck->data_off < 0)
        ck->data_off = (int64_t)pw->pos;
    if (type == PAGE_DICTIONARY)
        ck->dict_off = (int64_t)pw->pos;
    int rc;
    if ((rc = out_write(w, h->out.p, h->out.len)) < 0 || (rc = out_write(w, data, dlen)) < 0)
        return rc;
    ck->unc += h->out.len + len;
    ck->comp += h->out.len + dlen;
    return SL_OK;
}

/* ---- statistics ---- */

static inline uint64_t load8(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* min/max/nans of fixed values [0, n) (before the dictionary overwrites
   them) */
static void stats_fixed(const pq_col *col, pq_chunk *ck)
{
    uint32_t n = col->nvals;
    if (n == 0)
        return;
    if (col->type == PQ_DOUBLE) {
        double mn = INFINITY, mx = -INFINITY;
        int64_t nans = 0;
        bool any = false;
        for (uint32_t i = 0; i < n; i++) {
            double d;
            memcpy(&d, col->fx + 8 * (size_t)i, 8);
            if (isnan(d)) {
                nans++;
                continue;
            }
            any = true;
            if (d < mn)
                mn = d;
            if (d > mx)
                mx = d;
        }
        ck->nans = nans;
        if (!any)
            return;
        if (mn == 0)
            mn = -0.0;
        if (mx == 0)
            mx = 0.0;
        memcpy(ck->min, &mn, 8);
        memcpy(ck->max, &mx, 8);
        ck->has_minmax = true;
        return;
    }
    int64_t mn = INT64_MAX, mx = INT64_MIN;
    for (uint32_t i = 0; i < n; i++) {
        int64_t v = (int64_t)load8(col->fx + 8 * (size_t)i);
        if (v < mn)
            mn = v;
        if (v > mx)
            mx = v;
    }
    if (col->type == PQ_BOOLEAN) {
        ck->min[0] = (uint8_t)(mn != 0);
        ck->max[0] = (uint8_t)(mx != 0);
    } else if (col->type == PQ_DATE) {
        int32_t a = (int32_t)mn, b = (int32_t)mx;
        memcpy(ck->min, &a, 4);
        memcpy(ck->max, &b, 4);
    } else {
        memcpy(ck->min, &mn, 8);
        memcpy(ck->max, &mx, 8);
    }
    ck->has_minmax = true;
}

static inline int bytes_cmp(const char *a, uint32_t al, const char *b, uint32_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c ? c : (al > bl) - (al < bl);
}

static inline void stats_string(pq_chunk *ck, const char *p, uint32_t n)
{
    if (!ck->has_minmax) {
        ck->smin = ck->smax = p;
        ck->smin_len = ck->smax_len = n;
        ck->has_minmax = true;
        return;
    }
    if (bytes_cmp(p, n, ck->smin, ck->smin_len) < 0) {
        ck->smin = p;
        ck->smin_len = n;
    } else if (bytes_cmp(p, n, ck->smax, ck->smax_len) > 0) {
        ck->smax = p;
        ck->smax_len = n;
    }
}

/* ---- dictionary ---- */

static inline uint32_t hash_u64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return (uint32_t)x;
}

static inline uint32_t hash_bytes(const char *p, size_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (uint64_t)n;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 31;
        p += 8;
        n -= 8;
    }
    if (n) {
        uint64_t w = 0;
        memcpy(&w, p, n);
        h = (h ^ w) * 0x94d049bb133111ebull;
        h ^= h >> 29;
    }
    return hash_u64(h);
}

static int dict_reset(pq_dict *d)
{
    bb_clear(&d->plain);
    d->n = 0;
    if (!d->slot) {
        d->slot = calloc(1024, sizeof *d->slot);
        if (!d->slot)
            return -1;
        d->mask = 1023;
    } else {
        memset(d->slot, 0, ((size_t)d->mask + 1) * sizeof *d->slot);
    }
    return 0;
}

static int dict_grow(pq_dict *d)
{
    if (d->n + 1 > d->ecap) {
        uint32_t nc = d->ecap ? d->ecap * 2 : 1024;
        uint32_t *h = realloc(d->ehash, nc * sizeof *h);
        if (h)
            d->ehash = h;
        uint32_t *o = realloc(d->eoff, nc * sizeof *o);
        if (o)
            d->eoff = o;
        uint64_t *v = realloc(d->eval, nc * sizeof *v);
        if (v)
            d->eval = v;
        if (!h || !o || !v)
            return -1;
        d->ecap = nc;
    }
    if ((d->n + 1) * 2 > d->mask + 1) {
        uint32_t nslots = (d->mask + 1) * 2;
        uint32_t *s = calloc(nslots, sizeof *s);
        if (!s)
            return -1;
        for (uint32_t e = 0; e < d->n; e++) {
            uint32_t k = d->ehash[e] & (nslots - 1);
            while (s[k])
                k = (k + 1) & (nslots - 1);
            s[k] = e + 1;
        }
        free(d->slot);
        d->slot = s;
        d->mask = nslots - 1;
    }
    return 0;
}

/* Dictionary-encode the values of col from the first on, while the
   dictionary stays within DICT_BYTES and holds at most half as many entries
   as there are values (beyond that it saves little, and indices of mostly
   distinct values compress worse than the values): the index of value i
   replaces it in place (fixed types: 4 bytes at fx + 4i; strings: so[i]).
   Returns how many values were encoded (all of them, or where it stopped),
   or -1 on out of memory.  Strings feed the chunk's min/max with each new
   entry. */
static int64_t dict_build(pq_writer *pw, pq_col *col, pq_chunk *ck)
{
    pq_dict *d = &pw->dict;
    if (dict_reset(d) < 0)
        return -1;
    uint32_t n = col->nvals, max_entries = n / 2;
    if (col->type == PQ_STRING) {
        for (uint32_t i = 0; i < n; i++) {
            uint32_t a = col->so[i], len = col->so[i + 1] - a;
            const char *p = col->sb + a;
            uint32_t h = hash_bytes(p, len), k = h & d->mask, e;
            bool found = false;
            while ((e = d->slot[k]) != 0) {
                e--;
                if (d->ehash[e] == h) {
                    uint32_t el;
                    memcpy(&el, d->plain.p + d->eoff[e], 4);
                    if (el == len && memcmp(d->plain.p + d->eoff[e] + 4, p, len) == 0) {
                        found = true;
                        break;
                    }
                }
                k = (k + 1) & d->mask;
            }
            if (!found) {
                if (d->n >= max_entries || d->plain.len + 4 + len > DICT_BYTES)
                    return i;
                uint32_t before = d->mask;
                if (dict_grow(d) < 0)
                    return -1;
                if (d->mask != before) {
                    k = h & d->mask;
                    while (d->slot[k])
                        k = (k + 1) & d->mask;
                }
                e = d->n++;
                d->ehash[e] = h;
                d->eoff[e] = (uint32_t)d->plain.len;
                d->slot[k] = e + 1;
                bb_u32le(&d->plain, len);
                bb_put(&d->plain, p, len);
                if (!bb_ok(&d->plain))
                    return -1;
                stats_string(ck, p, len);
            }
            col->so[i] = e;
        }
        return n;
    }
    int width = col->type == PQ_DATE ? 4 : 8;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t x = load8(col->fx + 8 * (size_t)i);
        uint32_t h = hash_u64(x), k = h & d->mask, e;
        bool found = false;
        while ((e = d->slot[k]) != 0) {
            e--;
            if (d->eval[e] == x) {
                found = true;
                break;
            }
            k = (k + 1) & d->mask;
        }
        if (!found) {
            if (d->n >= max_entries || d->plain.len + (size_t)width > DICT_BYTES)
                return i;
            uint32_t before = d->mask;
            if (dict_grow(d) < 0)
                return -1;
            if (d->mask != before) {
                k = h & d->mask;
                while (d->slot[k])
                    k = (k + 1) & d->mask;
            }
            e = d->n++;
            d->ehash[e] = h;
            d->eval[e] = x;
            d->slot[k] = e + 1;
            if (width == 4)
                bb_u32le(&d->plain, (uint32_t)x);
            else
                bb_u64le(&d->plain, x);
            if (!bb_ok(&d->plain))
                return -1;
        }
        uint32_t idx = e;
        memcpy(col->fx + 4 * (size_t)i, &idx, 4);
    }
    return n;
}

/* Put back the values of [0, fb) that dict_build() replaced by indices:
   fixed types backwards (value i, 8 bytes at 8i, only overwrites indices of
   values after i, already put back), strings forwards (the text never
   moved: the offsets follow from the entries' lengths). */
static void dict_undo(pq_writer *pw, pq_col *col, uint32_t fb)
{
    pq_dict *d = &pw->dict;
    if (col->type == PQ_STRING) {
        uint32_t off = 0;
        for (uint32_t i = 0; i < fb; i++) {
            uint32_t e = col->so[i], len;
            memcpy(&len, d->plain.p + d->eoff[e], 4);
            col->so[i] = off;
            off += len;
        }
        return;
    }
    for (uint32_t i = fb; i-- > 0;) {
        uint32_t e;
        memcpy(&e, col->fx + 4 * (size_t)i, 4);
        memcpy(col->fx + 8 * (size_t)i, &d->eval[e], 8);
    }
}

/* ---- column chunks ---- */

/* One data page: rows [r0, r1), values [v0, v1), dictionary indices or
   PLAIN values. */
static int data_page(sl_writer *w, pq_col *col, uint32_t r0, uint32_t r1, uint32_t v0, uint32_t v1, int bw,
                     pq_chunk *ck)
{
    pq_writer *pw = w->state;
    bytebuf *pg = &pw->page;
    bb_clear(pg);
    /* definition levels, with their 4-byte length */
    bb_u32le(pg, 0);
    size_t start = pg->len;
    uint32_t nr = r1 - r0;
    const uint8_t *def = col->def + r0;
    if (nr && !memchr(def, 0, nr)) {
        bb_varint(pg, (uint64_t)nr << 1);
        bb_byte(pg, 1);
    } else if (nr && v0 == v1) {
        bb_varint(pg, (uint64_t)nr << 1);
        bb_byte(pg, 0);
    } else {
        pq_rle_encode_u8(pg, def, nr, 1);
    }
    if (pg->p) {
        uint32_t dl = (uint32_t)(pg->len - start);
        memcpy(pg->p + start - 4, &dl, 4);
    }
    uint32_t nv = v1 - v0;
    if (nv == 0) {
        /* only nulls */
    } else if (bw) {
        bb_byte(pg, (uint8_t)bw);
        const uint32_t *ix = col->type == PQ_STRING ? col->so : (const uint32_t *)(const void *)col->fx;
        pq_rle_encode_u32(pg, ix + v0, nv, bw);
    } else {
        switch (col->type) {
        case PQ_INT64:
        case PQ_TIMESTAMP:
        case PQ_DOUBLE:
            bb_put(pg, col->fx + 8 * (size_t)v0, 8 * (size_t)nv);
            break;
        case PQ_DATE:
            for (uint32_t i = v0; i < v1; i++)
                bb_u32le(pg, (uint32_t)load8(col->fx + 8 * (size_t)i));
            break;
        case PQ_BOOLEAN: {
            uint8_t *d = bb_reserve(pg, (nv + 7) / 8);
            if (!d)
                break;
            memset(d, 0, (nv + 7) / 8);
            for (uint32_t i = 0; i < nv; i++)
                if (col->fx[8 * (size_t)(v0 + i)])
                    d[i / 8] |= (uint8_t)(1u << (i % 8));
            pg->len += (nv + 7) / 8;
            break;
        }
        default: {
            size_t bytes = (size_t)col->so[v1] - col->so[v0];
            uint8_t *d = bb_reserve(pg, 4 * (size_t)nv + bytes);
            if (!d)
                break;
            for (uint32_t i = v0; i < v1; i++) {
                uint32_t len = col->so[i + 1] - col->so[i];
                memcpy(d, &len, 4);
                memcpy(d + 4, col->sb + col->so[i], len);
                d += 4 + len;
            }
            pg->len += 4 * (size_t)nv + bytes;
            break;
        }
        }
    }
    if (!bb_ok(pg))
        return nomem(w);
    if (bw)
        ck->pages_dict++;
    else
        ck->pages_plain++;
    return write_page(w, PAGE_DATA, pg->p, pg->len, nr, bw ? ENC_RLE_DICTIONARY : ENC_PLAIN, ck);
}

static int physical_type(pq_type t)
{
    switch (t) {
    case PQ_BOOLEAN: return PT_BOOLEAN;
    case PQ_INT64:
    case PQ_TIMESTAMP: return PT_INT64;
    case PQ_DOUBLE: return PT_DOUBLE;
    case PQ_DATE: return PT_INT32;
    default: return PT_BYTE_ARRAY;
    }
}

static void chunk_meta(pq_writer *pw, const pq_col *col, const pq_chunk *ck)
{
    tc_writer *m = &pw->rgs;
    tc_struct_begin(m); /* ColumnChunk */
    tc_field_i64(m, 2, 0);
    tc_field_struct(m, 3); /* ColumnMetaData */
    tc_field_i32(m, 1, physical_type(col->type));
    int enc[3], ne = 0;
    enc[ne++] = ENC_RLE; /* definition levels */
    if (ck->dict_off >= 0 || ck->pages_plain)
        enc[ne++] = ENC_PLAIN;
    if (ck->pages_dict)
        enc[ne++] = ENC_RLE_DICTIONARY;
    tc_field_list(m, 2, TC_I32, (uint32_t)ne);
    for (int i = 0; i < ne; i++)
        tc_elem_i32(m, enc[i]);
    tc_field_list(m, 3, TC_BINARY, 1);
    tc_elem_binary(m, col->name, col->name_len);
    tc_field_i32(m, 4, pw->codec);
    tc_field_i64(m, 5, pw->rows);
    tc_field_i64(m, 6, (int64_t)ck->unc);
    tc_field_i64(m, 7, (int64_t)ck->comp);
    tc_field_i64(m, 9, ck->data_off);
    if (ck->dict_off >= 0)
        tc_field_i64(m, 11, ck->dict_off);
    tc_field_struct(m, 12); /* Statistics */
    tc_field_i64(m, 3, ck->nulls);
    if (ck->has_minmax) {
        if (col->type == PQ_STRING) {
            if (ck->smax_len <= STAT_MAX && ck->smin_len <= STAT_MAX) {
                tc_field_binary(m, 5, ck->smax, ck->smax_len);
                tc_field_binary(m, 6, ck->smin, ck->smin_len);
            }
        } else {
            size_t n = col->type == PQ_BOOLEAN ? 1 : col->type == PQ_DATE ? 4 : 8;
            tc_field_binary(m, 5, ck->max, n);
            tc_field_binary(m, 6, ck->min, n);
        }
    }
    if (col->type == PQ_DOUBLE)
        tc_field_i64(m, 9, ck->nans);
    tc_struct_end(m);
    uint32_t nes = (ck->dict_off >= 0) + (ck->pages_dict > 0) + (ck->pages_plain > 0);
    tc_field_list(m, 13, TC_STRUCT, nes); /* PageEncodingStats */
    if (ck->dict_off >= 0) {
        tc_struct_begin(m);
        tc_field_i32(m, 1, PAGE_DICTIONARY);
        tc_field_i32(m, 2, ENC_PLAIN);
        tc_field_i32(m, 3, 1);
        tc_struct_end(m);
    }
    if (ck->pages_dict) {
        tc_struct_begin(m);
        tc_field_i32(m, 1, PAGE_DATA);
        tc_field_i32(m, 2, ENC_RLE_DICTIONARY);
        tc_field_i32(m, 3, (int32_t)ck->pages_dict);
        tc_struct_end(m);
    }
    if (ck->pages_plain) {
        tc_struct_begin(m);
        tc_field_i32(m, 1, PAGE_DATA);
        tc_field_i32(m, 2, ENC_PLAIN);
        tc_field_i32(m, 3, (int32_t)ck->pages_plain);
        tc_struct_end(m);
    }
    tc_struct_end(m); /* ColumnMetaData */
    tc_struct_end(m); /* ColumnChunk */
}

/* Encode and write the chunk of column col of the row group; add its sizes
   to *unc and *comp. */
static int write_chunk(sl_writer *w, pq_col *col, uint64_t *unc, uint64_t *comp)
{
    pq_writer *pw = w->state;
    pq_chunk ck;
    memset(&ck, 0, sizeof ck);
    ck.dict_off = ck.data_off = -1;
    ck.nulls = (int64_t)pw->rows - col->nvals;
    uint32_t nv = col->nvals;
    if (col->type != PQ_STRING)
        stats_fixed(col, &ck);
    int64_t fb = 0;
    if (col->type != PQ_BOOLEAN && nv > 0) {
        fb = dict_build(pw, col, &ck);
        if (fb < 0)
            return nomem(w);
        if (fb < (int64_t)nv) {
            /* too many distinct values: the whole chunk is PLAIN */
            if (col->type == PQ_STRING)
                ck.has_minmax = false; /* recomputed below over every value */
            dict_undo(pw, col, (uint32_t)fb);
            fb = 0;
        }
    }
    if (col->type == PQ_STRING)
        for (uint32_t i = (uint32_t)fb; i < nv; i++)
            stats_string(&ck, col->sb + col->so[i], col->so[i + 1] - col->so[i]);
    int rc, bw = 0;
    if (fb > 0) {
        bw = pq_bit_width(pw->dict.n - 1);
        if (bw == 0)
            bw = 1;
        if ((rc = write_page(w, PAGE_DICTIONARY, pw->dict.plain.p, pw->dict.plain.len, pw->dict.n, ENC_PLAIN, &ck)) < 0)
            return rc;
    }
    /* data pages: about PAGE_BITS of values each; a page is all dictionary
       indices or all PLAIN (today a chunk is one or the other) */
    uint32_t rows = pw->rows, r = 0, v = 0;
    uint64_t fixed_bits = col->type == PQ_BOOLEAN ? 1 : col->type == PQ_DATE ? 32 : 64;
    do {
        bool indexed = v < (uint32_t)fb;
        uint32_t vend = indexed ? (uint32_t)fb : nv;
        uint32_t r0 = r, v0 = v;
        uint64_t bits = 0;
        while (r < rows && r - r0 < PAGE_ROWS) {
            if (col->def[r]) {
                if (v == vend)
                    break;
                uint64_t cost = indexed ? (uint64_t)bw
                              : col->type == PQ_STRING ? 32 + 8 * (uint64_t)(col->so[v + 1] - col->so[v])
                              : fixed_bits;
                if (v > v0 && bits + cost > PAGE_BITS)
                    break;
                bits += cost;
                v++;
            }
            r++;
        }
        if ((rc = data_page(w, col, r0, r, v0, v, indexed ? bw : 0, &ck)) < 0)
            return rc;
    } while (r < rows);
    chunk_meta(pw, col, &ck);
    *unc += ck.unc;
    *comp += ck.comp;
    return SL_OK;
}

/* ---- the first row group: deciding the types ---- */

static int convert_column(sl_writer *w, pq_col *col, pq_type t)
{
    uint8_t *fx = NULL;
    size_t cap = 0;
    if (grow((void **)&fx, &cap, 8 * (size_t)(col->nvals ? col->nvals : 1), 1) < 0)
        return nomem(w);
    for (uint32_t i = 0; i < col->nvals; i++) {
        const char *p = col->sb + col->so[i];
        size_t n = col->so[i + 1] - col->so[i];
        uint64_t x = 0;
        int ok;
        switch (t) {
        case PQ_INT64: {
            int64_t v;
            ok = pq_parse_int64(p, n, false, &v);
            x = (uint64_t)v;
            break;
        }
        case PQ_DOUBLE: {
            double d;
            ok = pq_parse_double(p, n, false, &d);
            memcpy(&x, &d, 8);
            break;
        }
        case PQ_BOOLEAN: {
            bool b;
            ok = pq_parse_bool(p, n, false, &b);
            x = b;
            break;
        }
        case PQ_TIMESTAMP: {
            int64_t v;
            ok = pq_parse_timestamp(p, n, &v);
            x = (uint64_t)v;
            break;
        }
        default: {
            int32_t d;
            ok = pq_parse_date(p, n, &d);
            x = (uint64_t)(int64_t)d;
            break;
        }
        }
        if (ok < 0) {
            free(fx);
            return sl_fail(&w->run->err, SL_E_INTERNAL, STAGE, "value '%.*s' of field '%s' was inferred to be a %s but "
                           "does not convert", (int)(n > 60 ? 60 : n), p, col->name, pq_type_name(t));
        }
        memcpy(fx + 8 * (size_t)i, &x, 8);
    }
    free(col->fx);
    col->fx = fx;
    col->fx_cap = cap;
    free(col->sb);
    free(col->so);
    col->sb = NULL;
    col->so = NULL;
    col->sb_len = col->sb_cap = col->so_cap = 0;
    col->type = t;
    return SL_OK;
}

static int decide_types(sl_writer *w)
{
    pq_writer *pw = w->state;
    for (uint32_t c = 0; c < pw->ncols; c++) {
        pq_col *col = &pw->cols[c];
        if (col->type != PQ_NONE)
            continue;
        pq_type t = pq_infer(col->fits, col->seen);
        if (t == PQ_STRING) {
            col->type = PQ_STRING;
            continue;
        }
        int rc = convert_column(w, col, t);
        if (rc < 0)
            return rc;
    }
    pw->types_known = true;
    return SL_OK;
}

/* Write the row group built so far and empty the buffers (keeping them). */
static int flush_row_group(sl_writer *w)
{
    pq_writer *pw = w->state;
    if (pw->rows == 0)
        return SL_OK;
    int rc;
    if ((rc = start_file(w)) < 0)
        return rc;
    if (!pw->types_known && (rc = decide_types(w)) < 0)
        return rc;
    uint64_t first = pw->pos, unc = 0, comp = 0;
    tc_struct_begin(&pw->rgs); /* RowGroup */
    tc_field_list(&pw->rgs, 1, TC_STRUCT, pw->ncols);
    for (uint32_t c = 0; c < pw->ncols; c++)
        if ((rc = write_chunk(w, &pw->cols[c], &unc, &comp)) < 0)
            return rc;
    tc_field_i64(&pw->rgs, 2, (int64_t)unc);
    tc_field_i64(&pw->rgs, 3, pw->rows);
    tc_field_i64(&pw->rgs, 5, (int64_t)first);
    tc_field_i64(&pw->rgs, 6, (int64_t)comp);
    if (pw->nrg <= INT16_MAX)
        tc_field_i16(&pw->rgs, 7, (int16_t)pw->nrg);
    tc_struct_end(&pw->rgs);
    if (!tc_ok(&pw->rgs))
        return nomem(w);
    pw->nrg++;
    pw->total_rows += pw->rows;
    for (uint32_t c = 0; c < pw->ncols; c++) {
        pw->cols[c].nvals = 0;
        pw->cols[c].sb_len = 0;
    }
    pw->rows = 0;
    pw->used = 0; /* the buffers stay, and so does the budget they hold */
    return SL_OK;
}

/* ---- columns and batches ---- */

static int add_column(sl_writer *w, const char *name, size_t len)
{
    pq_writer *pw = w->state;
    if (!pq_utf8_valid(name, len)) {
        char shown[200];
        size_t o = 0;
        for (size_t i = 0; i < len && o + 5 < sizeof shown; i++) {
            unsigned char ch = (unsigned char)name[i];
            if (ch < 0x20 || ch >= 0x7f)
                o += (size_t)snprintf(shown + o, sizeof shown - o, "\\x%02x", ch);
            else
                shown[o++] = (char)ch;
        }
        shown[o] = 0;
        return sl_fail(&w->run->err, SL_E_DATA, STAGE, "field name '%s' is not valid UTF-8; Parquet column names must be "
                       "UTF-8 (rename it)", shown);
    }
    pq_col *nc = realloc(pw->cols, (pw->ncols + 1) * sizeof *nc);
    if (!nc)
        return nomem(w);
    pw->cols = nc;
    pq_col *col = &pw->cols[pw->ncols];
    memset(col, 0, sizeof *col);
    col->name = strndup(name, len);
    if (!col->name)
        return nomem(w);
    col->name_len = (uint32_t)len;
    pw->ncols++;
    int k = pq_spec_find(&pw->spec, name, len);
    if (k >= 0) {
        col->type = pw->spec.cols[k].type;
        col->declared = true;
    } else {
        col->fits = PQ_FIT_ALL;
    }
    return SL_OK;
}

/* The columns: those of the first batch's schema s (NULL: none arrived), then
   the --schema columns it lacks. */
static int setup_columns(sl_writer *w, const sl_schema *s)
{
    pq_writer *pw = w->state;
    int rc;
    for (uint32_t i = 0; s && i < s->ncols; i++)
        if ((rc = add_column(w, s->names[i], s->name_len[i])) < 0)
            return rc;
    for (uint32_t k = 0; k < pw->spec.n; k++) {
        const pq_spec_col *sc = &pw->spec.cols[k];
        if (s && sl_schema_find(s, sc->name, sc->name_len) >= 0)
            continue;
        if (s && !s->open) {
            char names[512];
            size_t n = 0;
            names[0] = 0;
            for (uint32_t i = 0; i < s->ncols && n < sizeof names - 8; i++)
                n += (size_t)snprintf(names + n, sizeof names - n, "%s%s", i ? ", " : "", s->names[i]);
            return sl_fail(&w->run->err, SL_E_USAGE, STAGE, "--schema names column '%s', which the records do not have "
                           "(their fields: %s)", sc->name, names);
        }
        if ((rc = add_column(w, sc->name, sc->name_len)) < 0)
            return rc;
    }
    pw->have_cols = true;
    pw->types_known = true;
    for (uint32_t c = 0; c < pw->ncols; c++)
        if (pw->cols[c].type == PQ_NONE)
            pw->types_known = false;
    return SL_OK;
}

static int build_map(sl_writer *w, const sl_schema *s)
{
    pq_writer *pw = w->state;
    free(pw->src);
    pw->src = malloc((pw->ncols ? pw->ncols : 1) * sizeof *pw->src);
    if (pw->extra_cap < s->ncols) {
        free(pw->extra);
        pw->extra = malloc(s->ncols * sizeof *pw->extra);
        pw->extra_cap = pw->extra ? s->ncols : 0;
    }
    if (!pw->src || (s->ncols && !pw->extra))
        return nomem(w);
    for (uint32_t c = 0; c < pw->ncols; c++)
        pw->src[c] = sl_schema_find(s, pw->cols[c].name, pw->cols[c].name_len);
    pw->nextra = 0;
    for (uint32_t j = 0; j < s->ncols; j++) {
        bool known = false;
        for (uint32_t c = 0; c < pw->ncols && !known; c++)
            known = pw->src[c] == (int32_t)j;
        if (!known)
            pw->extra[pw->nextra++] = j;
    }
    pw->map_id = s->id;
    return SL_OK;
}

static int ensure_rows(sl_writer *w)
{
    pq_writer *pw = w->state;
    if (pw->rows < pw->rows_cap)
        return SL_OK;
    size_t ncap = pw->rows_cap ? (size_t)pw->rows_cap * 2 : 1024;
    if (ncap > UINT32_MAX)
        ncap = UINT32_MAX;
    for (uint32_t c = 0; c < pw->ncols; c++) {
        uint8_t *d = realloc(pw->cols[c].def, ncap);
        if (!d)
            return nomem(w);
        pw->cols[c].def = d;
    }
    pw->rows_cap = (uint32_t)ncap;
    return SL_OK;
}

enum { PUT_OK = 0, PUT_MISFIT = 1, PUT_UTF8 = 2, PUT_NOMEM = 3 };

static int put_text(pq_col *col, const char *p, uint32_t n, uint64_t *bytes)
{
    if (grow((void **)&col->so, &col->so_cap, (size_t)col->nvals + 2, sizeof *col->so) < 0 ||
        grow((void **)&col->sb, &col->sb_cap, col->sb_len + n, 1) < 0)
        return PUT_NOMEM;
    if (col->nvals == 0)
        col->so[0] = 0;
    if (n)
        memcpy(col->sb + col->sb_len, p, n);
    col->sb_len += n;
    col->so[col->nvals + 1] = (uint32_t)col->sb_len;
    *bytes += 4 + (uint64_t)n;
    return PUT_OK;
}

static inline int put_fixed(pq_col *col, uint64_t x, uint64_t *bytes)
{
    if (grow((void **)&col->fx, &col->fx_cap, ((size_t)col->nvals + 1) * 8, 1) < 0)
        return PUT_NOMEM;
    memcpy(col->fx + 8 * (size_t)col->nvals, &x, 8);
    *bytes += 8;
    return PUT_OK;
}

/* Add cell (NULL = the field is missing) to col at the current row. */
static int put_cell(pq_writer *pw, pq_col *col, const sl_cell *cell, uint64_t *bytes)
{
    uint32_t row = pw->rows;
    if (!cell || cell->kind == SL_NULL || cell->kind == SL_ABSENT) {
        col->def[row] = 0;
        return PUT_OK;
    }
    const char *p = cell->p ? cell->p : "";
    uint32_t n = cell->len;
    int kind = cell->kind, rc;
    bool text = kind == SL_TEXT || (col->declared && kind == SL_STRING);
    switch (col->type) {
    case PQ_NONE:
    case PQ_STRING:
        if ((kind == SL_TEXT || kind == SL_STRING || kind == SL_JSON) && !pq_utf8_valid(p, n))
            return PUT_UTF8;
        if (col->type == PQ_NONE) {
            col->fits0 = col->fits;
            col->seen0 = col->seen;
            if (col->fits)
                col->fits &= pq_fits(cell, col->fits);
            col->seen = true;
        }
        rc = put_text(col, p, n, bytes);
        break;
    case PQ_INT64: {
        int64_t v;
        if (!(text || kind == SL_NUMBER) || pq_parse_int64(p, n, col->declared, &v) < 0)
            return PUT_MISFIT;
        rc = put_fixed(col, (uint64_t)v, bytes);
        break;
    }
    case PQ_DOUBLE: {
        double d;
        if (!(text || kind == SL_NUMBER) || pq_parse_double(p, n, col->declared, &d) < 0)
            return PUT_MISFIT;
        uint64_t x;
        memcpy(&x, &d, 8);
        rc = put_fixed(col, x, bytes);
        break;
    }
    case PQ_BOOLEAN: {
        bool b;
        if (!(text || kind == SL_BOOL) || pq_parse_bool(p, n, col->declared || kind == SL_BOOL, &b) < 0)
            return PUT_MISFIT;
        rc = put_fixed(col, b, bytes);
        break;
    }
    case PQ_TIMESTAMP: {
        int64_t t;
        if (!(kind == SL_TEXT || kind == SL_STRING) || pq_parse_timestamp(p, n, &t) < 0)
            return PUT_MISFIT;
        rc = put_fixed(col, (uint64_t)t, bytes);
        break;
    }
    default: {
        int32_t d;
        if (!(kind == SL_TEXT || kind == SL_STRING) || pq_parse_date(p, n, &d) < 0)
            return PUT_MISFIT;
        rc = put_fixed(col, (uint64_t)(int64_t)d, bytes);
        break;
    }
    }
    if (rc != PUT_OK)
        return rc;
    col->def[row] = 1;
    col->nvals++;
    return PUT_OK;
}

/* Take back what put_cell() added to col at the current row. */
static void unput_cell(pq_writer *pw, pq_col *col)
{
    if (!col->def[pw->rows])
        return;
    col->nvals--;
    if (col->type == PQ_NONE || col->type == PQ_STRING)
        col->sb_len = col->so[col->nvals];
    if (col->type == PQ_NONE) {
        col->fits = col->fits0;
        col->seen = col->seen0;
    }
}

/* value text for messages: at most 40 bytes, cut on a character boundary */
static void show_value(char *out, size_t cap, const char *p, size_t n)
{
    if (!pq_utf8_valid(p, n)) {
        snprintf(out, cap, "(%zu bytes, not UTF-8)", n);
        return;
    }
    size_t k = n > 40 ? 40 : n;
    while (k < n && k > 0 && ((unsigned char)p[k] & 0xC0) == 0x80)
        k--;
    size_t o = 0;
    for (size_t i = 0; i < k && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c < 0x20 || c == 0x7f)
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
        else
            out[o++] = (char)c;
    }
    if (k < n && o + 4 < cap) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = 0;
}

static const char *type_hint(pq_type t)
{
    switch (t) {
    case PQ_INT64: return "an integer from -9223372036854775808 to 9223372036854775807";
    case PQ_DOUBLE: return "a number";
    case PQ_BOOLEAN: return "true or false";
    case PQ_TIMESTAMP: return "an ISO 8601 time like 2024-01-31T12:00:00.5Z, to the microsecond";
    case PQ_DATE: return "a date like 2024-01-31";
    default: return "text";
    }
}

static int report_misfit(sl_writer *w, const sl_batch *b, uint32_t r, const pq_col *col, const sl_cell *cell, int why)
{
    char v[200];
    if (why == PUT_UTF8) {
        size_t ok = sl_utf8_valid_prefix(cell->p, cell->len);
        return sl_run_bad_record(w->run, b, r, STAGE, "value of field '%s' is not valid UTF-8 (byte %zu); Parquet "
                                 "strings must be UTF-8", col->name, ok + 1);
    }
    show_value(v, sizeof v, cell->p ? cell->p : "", cell->len);
    const char *what = cell->kind == SL_JSON ? "JSON value" : cell->kind == SL_BOOL ? "boolean" : "value";
    return sl_run_bad_record(w->run, b, r, STAGE, "%s '%s' of field '%s' does not fit the Parquet column's type %s "
                             "(expected %s; the type was %s)", what, v, col->name, pq_type_name(col->type),
                             type_hint(col->type),
                             col->declared ? "declared with --schema" : "inferred from the first row group; "
                             "declare it with --schema");
}

/* Draw the budget for the bytes buffered; tell whether the row group must be
   written now. */
static int account(sl_writer *w, bool *full)
{
    pq_writer *pw = w->state;
    *full = pw->used >= pw->rg_limit;
    if (pw->used > pw->taken) {
        uint64_t want = pw->used - pw->taken;
        if (want < MEM_STEP)
            want = MEM_STEP;
        if (sl_run_mem_take(w->run, want) == SL_OK) {
            pw->taken += want;
        } else if (pw->rows <= 1) {
            return sl_fail(&w->run->err, SL_E_NOMEM, STAGE, "the Parquet writer cannot hold one record within "
                           "--memory-limit (%llu bytes buffered; other stages hold %llu); raise --memory-limit",
                           (unsigned long long)pw->used,
                           (unsigned long long)(w->run->mem_used > pw->taken ? w->run->mem_used - pw->taken : 0));
        } else {
            *full = true; /* a smaller row group, within the budget */
        }
    }
    return SL_OK;
}

static int parquet_writer_write(sl_writer *w, const sl_batch *b)
{
    pq_writer *pw = w->state;
    int rc;
    if (!pw->have_cols) {
        if ((rc = setup_columns(w, b->schema)) < 0)
            return rc;
        if (pw->ncols == 0)
            return sl_fail(&w->run->err, SL_E_DATA, STAGE, "records without fields cannot be written as Parquet");
    }
    if (pw->map_id != b->schema->id && (rc = build_map(w, b->schema)) < 0)
        return rc;
    uint32_t live = sl_batch_live(b);
    for (uint32_t i = 0; i < live; i++) {
        uint32_t r = sl_batch_row(b, i);
        const sl_cell *row = b->cells + (size_t)r * b->stride;
        for (uint32_t k = 0; k < pw->nextra; k++) {
            const sl_cell *c = &row[sl_batch_phys(b, pw->extra[k])];
            if (c->kind != SL_ABSENT && c->kind != SL_NULL) {
                rc = sl_run_bad_record(w->run, b, r, STAGE, "record has field '%s' that the Parquet schema lacks (its "
                                       "columns are the fields of the first records and of --schema); declare it "
                                       "with --schema, or select the fields", b->schema->names[pw->extra[k]]);
                if (rc < 0)
                    return rc;
                goto next_row;
            }
        }
        if ((rc = ensure_rows(w)) < 0)
            return rc;
        uint64_t bytes = pw->ncols;
        for (uint32_t c = 0; c < pw->ncols; c++) {
            pq_col *col = &pw->cols[c];
            int32_t s = pw->src[c];
            const sl_cell *cell = s < 0 ? NULL : &row[sl_batch_phys(b, (uint32_t)s)];
            int why = put_cell(pw, col, cell, &bytes);
            if (why == PUT_OK)
                continue;
            while (c-- > 0)
                unput_cell(pw, &pw->cols[c]);
            if (why == PUT_NOMEM)
                return nomem(w);
            if ((rc = report_misfit(w, b, r, col, cell, why)) < 0)
                return rc;
            goto next_row;
        }
        pw->rows++;
        pw->used += bytes;
        w->records++;
        bool full;
        if ((rc = account(w, &full)) < 0)
            return rc;
        if ((full || pw->rows == UINT32_MAX) && (rc = flush_row_group(w)) < 0)
            return rc;
    next_row:;
    }
    return SL_OK;
}

/* ---- the footer ---- */

static void schema_element(tc_writer *m, const pq_col *col)
{
    tc_struct_begin(m);
    tc_field_i32(m, 1, physical_type(col->type));
    tc_field_i32(m, 3, REP_OPTIONAL);
    tc_field_binary(m, 4, col->name, col->name_len);
    switch (col->type) {
    case PQ_STRING:
        tc_field_i32(m, 6, CT_UTF8);
        tc_field_struct(m, 10); /* LogicalType */
        tc_field_struct(m, 1);  /* STRING */
        tc_struct_end(m);
        tc_struct_end(m);
        break;
    case PQ_TIMESTAMP:
        tc_field_i32(m, 6, CT_TIMESTAMP_MICROS);
        tc_field_struct(m, 10);
        tc_field_struct(m, 8);  /* TIMESTAMP */
        tc_field_bool(m, 1, true); /* isAdjustedToUTC */
        tc_field_struct(m, 2);  /* unit */
        tc_field_struct(m, 2);  /* MICROS */
        tc_struct_end(m);
        tc_struct_end(m);
        tc_struct_end(m);
        tc_struct_end(m);
        break;
    case PQ_DATE:
        tc_field_i32(m, 6, CT_DATE);
        tc_field_struct(m, 10);
        tc_field_struct(m, 6);  /* DATE */
        tc_struct_end(m);
        tc_struct_end(m);
        break;
    default:
        break;
    }
    tc_struct_end(m);
}

static int parquet_writer_finish(sl_writer *w)
{
    pq_writer *pw = w->state;
    int rc;
    if (!pw->have_cols && (rc = setup_columns(w, NULL)) < 0)
        return rc;
    if ((rc = flush_row_group(w)) < 0 || (rc = start_file(w)) < 0)
        return rc;
    /* no value ever arrived: an undecided column is a string */
    for (uint32_t c = 0; c < pw->ncols; c++)
        if (pw->cols[c].type == PQ_NONE)
            pw->cols[c].type = PQ_STRING;
    tc_writer fm;
    memset(&fm, 0, sizeof fm);
    tc_field_i32(&fm, 1, 1); /* version */
    tc_field_list(&fm, 2, TC_STRUCT, pw->ncols + 1);
    tc_struct_begin(&fm); /* the root */
    tc_field_string(&fm, 4, "schema");
    tc_field_i32(&fm, 5, (int32_t)pw->ncols);
    tc_struct_end(&fm);
    for (uint32_t c = 0; c < pw->ncols; c++)
        schema_element(&fm, &pw->cols[c]);
    tc_field_i64(&fm, 3, (int64_t)pw->total_rows);
    tc_field_list(&fm, 4, TC_STRUCT, pw->nrg);
    bb_put(&fm.out, pw->rgs.out.p, pw->rgs.out.len);
    tc_field_string(&fm, 6, "sluice version " SLUICE_VERSION);
    tc_field_list(&fm, 7, TC_STRUCT, pw->ncols); /* ColumnOrder: TYPE_ORDER */
    for (uint32_t c = 0; c < pw->ncols; c++) {
        tc_struct_begin(&fm);
        tc_field_struct(&fm, 1);
        tc_struct_end(&fm);
        tc_struct_end(&fm);
    }
    tc_struct_end(&fm);
    if (!tc_ok(&fm) || fm.out.len > UINT32_MAX) {
        tc_free(&fm);
        return nomem(w);
    }
    uint8_t tail[8];
    uint32_t len = (uint32_t)fm.out.len;
    memcpy(tail, &len, 4);
    memcpy(tail + 4, "PAR1", 4);
    rc = out_write(w, fm.out.p, fm.out.len);
    tc_free(&fm);
    if (rc < 0)
        return rc;
    return out_write(w, tail, 8);
}

static void parquet_writer_destroy(sl_writer *w)
{
    pq_writer *pw = w->state;
    if (!pw)
        return;
    for (uint32_t c = 0; c < pw->ncols; c++) {
        pq_col *col = &pw->cols[c];
        free(col->name);
        free(col->def);
        free(col->fx);
        free(col->sb);
        free(col->so);
    }
    free(pw->cols);
    free(pw->src);
    free(pw->extra);
    pq_spec_free(&pw->spec);
    tc_free(&pw->rgs);
    tc_free(&pw->hdr);
    bb_free(&pw->page);
    bb_free(&pw->comp);
    free(pw->dict.slot);
    free(pw->dict.ehash);
    free(pw->dict.eoff);
    free(pw->dict.eval);
    bb_free(&pw->dict.plain);
    ZSTD_freeCCtx(pw->zc);
    if (pw->z_ready)
        deflateEnd(&pw->z);
    if (pw->taken)
        sl_run_mem_give(w->run, pw->taken);
    free(pw);
    w->state = NULL;
}

static int parquet_writer_create(sl_writer *w)
{
    const sl_options *o = &w->run->opt;
    pq_writer *pw = calloc(1, sizeof *pw);
    if (!pw)
        return nomem(w);
    w->state = pw;
    pw->map_id = UINT64_MAX;
    char msg[512];
    if (o->parquet_schema && pq_spec_parse(o->parquet_schema, &pw->spec, msg, sizeof msg) < 0)
        return sl_fail(&w->run->err, SL_E_USAGE, "options", "--schema: %s", msg);
    const char *c = o->parquet_compression ? o->parquet_compression : "zstd";
    if (strcmp(c, "zstd") == 0) {
        pw->codec = CODEC_ZSTD;
        pw->level = o->level >= 0 ? o->level : 3;
        if (pw->level > 22)
            return sl_fail(&w->run->err, SL_E_USAGE, "options", "zstd level %d is out of range (expected 1..22)",
                           pw->level);
        if (!(pw->zc = ZSTD_createCCtx()))
            return nomem(w);
    } else if (strcmp(c, "gzip") == 0) {
        pw->codec = CODEC_GZIP;
        pw->level = o->level >= 0 ? o->level : 6;
        if (pw->level > 9)
            return sl_fail(&w->run->err, SL_E_USAGE, "options", "gzip level %d is out of range (expected 1..9)",
                           pw->level);
        if (deflateInit2(&pw->z, pw->level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
            return nomem(w);
        pw->z_ready = true;
    } else if (strcmp(c, "none") == 0) {
        pw->codec = CODEC_UNCOMPRESSED;
    } else {
        return sl_fail(&w->run->err, SL_E_USAGE, "options", "unknown --parquet-compression '%s' (expected zstd, gzip or "
                       "none)", c);
    }
    pw->rg_limit = o->row_group_size ? o->row_group_size : DEFAULT_ROW_GROUP;
    if (pw->rg_limit > o->memory_limit / 2)
        pw->rg_limit = o->memory_limit / 2;
    if (pw->rg_limit > MAX_ROW_GROUP)
        pw->rg_limit = MAX_ROW_GROUP;
    if (pw->rg_limit == 0)
        pw->rg_limit = 1;
    return SL_OK;
}

const sl_writer_type sl_parquet_writer_type = {
    .name = "parquet",
    .create = parquet_writer_create,
    .write = parquet_writer_write,
    .finish = parquet_writer_finish,
    .flush = NULL,
    .destroy = parquet_writer_destroy,
    .self_compressing = true,
};
