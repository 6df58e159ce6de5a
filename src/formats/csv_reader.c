/*
 * csv_reader.c - CSV and TSV records, through libcsv or a hand scanner.
 *
 * libcsv is the parser of record: `--csv-parser libcsv` runs every byte
 * through csv_parse() (strict mode, nothing trimmed, empty unquoted field =
 * NULL).  It parses about 340 MB/s here and copies every field, which made it
 * the bottleneck of every CSV pipeline we profiled, so the default is a hand
 * scanner written for exactly the same dialect; tests/unit/test_csv_diff.c
 * proves on edge cases and random bytes that both yield the same records,
 * the same NULLs and the same errors.
 *
 * Dialect (both parsers): fields separated by `delim`, quoted with `quote`
 * ("" inside quotes is one quote), records end at LF, CRLF or a lone CR,
 * blank lines are skipped, spaces are data, a UTF-8 BOM at the start of an
 * input is skipped, the last record may lack its newline.  Strict: a quote
 * inside an unquoted field, text after a closing quote and an unclosed quote
 * at the end of the input are errors with their position.
 *
 * Zero copy (hand scanner): cells point into the read buffer; a batch ends
 * before the buffer is refilled, and the partial record at the end of the
 * buffer is moved to the front at the next call.  Only fields with doubled
 * quotes are unescaped, into the batch arena.
 */
#include <csv.h>
#include <errno.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/format.h"
#include "io/source.h"

#define BUF_INIT (1u << 20)

enum { CL_DATA = 0, CL_DELIM, CL_QUOTE, CL_CR, CL_LF };

/* what went wrong in a libcsv callback (the first thing only) */
enum { LP_OK = 0, LP_BAD_FIELDS, LP_BAD_FIELD_LONG, LP_BAD_RECORD_LONG, LP_BAD_NOMEM };

typedef struct csv_reader {
    const char *fmt;        /* "csv" or "tsv", for messages */
    unsigned char delim, quote;
    int header;             /* first record is a header */
    unsigned char cls[256];
#ifdef __SSE2__
    __m128i v_delim, v_quote, v_lf, v_cr; /* the four bytes that end a field */
#endif
    sl_run *run;
    /* current input */
    size_t in_idx;          /* index of the input being read */
    sl_source *src;
    int src_eof;
    int need_header;        /* the header of this input is not read yet */
    int at_start;           /* BOM not checked yet */
    uint64_t line;          /* line number of buf[pos] */
    uint64_t offset;        /* input offset of buf[pos] */
    uint64_t record;        /* data records of this input so far */
    char *buf;
    size_t cap, len, pos;
    /* records */
    sl_schema *schema;
    sl_batch batch;
    sl_cell *fields;        /* scratch for one record */
    uint32_t max_fields;
    uint32_t nfields;
    int done;
    /* libcsv path */
    int use_libcsv;
    struct csv_parser lp;
    int lp_init;
    uint64_t lp_rec_line, lp_rec_offset; /* start of the record being parsed */
    int lp_in_record;
    int lp_have_record;     /* a record ended in the last segment */
    sl_arena *lp_arena;
    int lp_cr_pending;
    int lp_bad;              /* LP_BAD_*: the record fails */
    uint64_t lp_bad_seen;    /* lp_fields_seen of the bad field */
    size_t lp_rec_bytes;     /* bytes of the fields of the record so far */
    uint64_t lp_fields_seen; /* fields delivered by libcsv, ever */
    uint64_t lp_line_start;  /* input offset where the current line starts */
    uint64_t lp_f_line, lp_f_col; /* start of a field that spans segments */
    int lp_f_quoted;
    /* scan_plain's luck: records in a row it gave up on, and how many to
       leave to scan_record alone after a run of those (a file whose every
       record has a quoted field would otherwise be scanned twice) */
    uint32_t plain_misses, plain_skip;
    /* hand scanner: how far the scan of a quoted field that did not end in
       the buffer got, so that the next scan of the same record resumes
       there instead of rescanning it (a long quoted field arriving through
       a pipe in small reads would otherwise cost quadratic time) */
    int qr_valid;
    size_t qr_in;            /* input index and offset of the record */
    uint64_t qr_offset;
    size_t qr_open, qr_scan; /* opening quote, resume point (from pos) */
    uint64_t qr_nl;          /* line breaks in the field before qr_scan */
    size_t qr_pairs;         /* doubled quotes in the field before qr_scan */
} csv_reader;

static const char *input_name(csv_reader *r)
{
    return r->src ? sl_source_name(r->src) : r->run->inputs[r->in_idx].name;
}

/* line and column (1-based, in bytes) of buffer position at, counting from
   buffer position from (r->pos) whose line is from_line.  Columns count from
   the start of the line, kept as an input offset: the hand scanner has the
   record's first line in the buffer (scan back for it); libcsv is fed
   buffer after buffer, so its reader keeps the offset, lp_line_start. */
static void locate(csv_reader *r, size_t from, uint64_t from_line, size_t at, uint64_t *line, uint64_t *col)
{
    uint64_t l = from_line;
    uint64_t ls; /* input offset of the line start; buf[x] is at offset r->offset + x - r->pos */
    if (r->use_libcsv) {
        ls = r->lp_line_start;
    } else {
        size_t b = from;
        while (b > 0 && r->buf[b - 1] != '\n' && r->buf[b - 1] != '\r')
            b--;
        ls = r->offset + b - r->pos;
    }
    for (size_t i = from; i < at && i < r->len; i++) {
        if (r->buf[i] == '\n' || (r->buf[i] == '\r' && (i + 1 >= r->len || r->buf[i + 1] != '\n'))) {
            l++;
            ls = r->offset + i + 1 - r->pos;
        }
    }
    *line = l;
    *col = r->offset + at - r->pos - ls + 1;
}

static int data_error(csv_reader *r, size_t at_pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int data_error(csv_reader *r, size_t at_pos, const char *fmt, ...)
{
    sl_error *e = &r->run->err;
    va_list ap;
    va_start(ap, fmt);
    sl_vfail(e, SL_E_DATA, r->fmt, fmt, ap);
    va_end(ap);
    uint64_t line, col;
    locate(r, r->pos, r->line, at_pos, &line, &col);
    sl_error_at(e, input_name(r), line, col, r->need_header ? 0 : r->record + 1);
    return SL_E_DATA;
}

/* The record starting at line `line` (column 1) passes --max-record-bytes:
   both parsers report it there. */
static int record_too_long(csv_reader *r, uint64_t line)
{
    sl_fail(&r->run->err, SL_E_DATA, r->fmt, "record longer than %llu bytes (limit --max-record-bytes)",
            (unsigned long long)r->run->opt.max_record_bytes);
    sl_error_at(&r->run->err, input_name(r), line, 1, r->need_header ? 0 : r->record + 1);
    return SL_E_DATA;
}

/* A quoted field opened at (line, col) passes --max-field-bytes, closed or
   not: the message says where it opened, since a missing closing quote is
   the usual cause. */
static int quoted_too_long(csv_reader *r, uint64_t line, uint64_t col)
{
    sl_fail(&r->run->err, SL_E_DATA, r->fmt,
            "quoted field opened at line %llu, column %llu is longer than %llu bytes (limit --max-field-bytes; "
            "is a closing %c missing?)", (unsigned long long)line, (unsigned long long)col,
            (unsigned long long)r->run->opt.max_field_bytes, r->quote);
    sl_error_at(&r->run->err, input_name(r), line, col, r->need_header ? 0 : r->record + 1);
    return SL_E_DATA;
}

static void describe_char(int c, char *out, size_t n)
{
    if (c >= 0x20 && c < 0x7f)
        snprintf(out, n, "'%c'", c);
    else
        snprintf(out, n, "byte 0x%02x", c & 0xff);
}

/* ---- the hand scanner ---- */

enum { SCAN_RECORD = 1, SCAN_MORE = 0 };

/* Scan one record at r->buf[r->pos..r->len).  On SCAN_RECORD the fields are
   in r->fields[0..nfields), *end is the position after the record and its
   terminator, *rec_len the record's length without its terminator, *lines
   the line breaks inside and ending the record.  Blank lines before the
   record are skipped by the caller. */
static int scan_record(csv_reader *r, sl_arena *arena, size_t *end, size_t *rec_len, uint64_t *lines)
{
    const unsigned char *b = (const unsigned char *)r->buf;
    const unsigned char *cls = r->cls;
    size_t p = r->pos, n = r->len;
    uint32_t nf = 0;
    uint64_t nl = 0;
    int eof = r->src_eof;
    uint64_t maxf = r->run->opt.max_field_bytes;
    for (;;) {
        if (nf >= r->max_fields)
            return data_error(r, p, "more than %u fields in a record (limit --max-fields)", r->max_fields);
        sl_cell *f = &r->fields[nf];
        if (p < n && b[p] == r->quote) {
            size_t open = p;
            size_t q = ++p;
            size_t pairs = 0; /* doubled quotes: the value is that much shorter than its text */
            uint64_t nl0 = nl;
            if (r->qr_valid && r->qr_in == r->in_idx && r->qr_offset == r->offset && r->qr_open == open - r->pos) {
                p = r->pos + r->qr_scan; /* resume where the last scan stopped */
                nl += r->qr_nl;
                pairs = r->qr_pairs;
            }
            for (;;) {
                const unsigned char *hit = memchr(b + p, r->quote, n - p);
                /* count line breaks inside the quoted text */
                size_t stop = hit ? (size_t)(hit - b) : n;
                for (const unsigned char *c = memchr(b + p, '\n', stop - p); c; c = memchr(c + 1, '\n', stop - (size_t)(c + 1 - b)))
                    nl++;
                for (const unsigned char *c = memchr(b + p, '\r', stop - p); c; c = memchr(c + 1, '\r', stop - (size_t)(c + 1 - b)))
                    if ((size_t)(c + 1 - b) < n && c[1] != '\n')
                        nl++;
                if (!hit) {
                    uint64_t ol, oc;
                    if (n - q - pairs > maxf) { /* too long already, whether it ever closes or not */
                        locate(r, r->pos, r->line, open, &ol, &oc);
                        return quoted_too_long(r, ol, oc);
                    }
                    if (!eof) {
                        /* resume before a CR at the end: its LF may follow */
                        size_t resume = (n > p && b[n - 1] == '\r') ? n - 1 : n;
                        r->qr_valid = 1;
                        r->qr_in = r->in_idx;
                        r->qr_offset = r->offset;
                        r->qr_open = open - r->pos;
                        r->qr_scan = resume - r->pos;
                        r->qr_nl = nl - nl0;
                        r->qr_pairs = pairs;
                        return SCAN_MORE;
                    }
                    locate(r, r->pos, r->line, open, &ol, &oc);
                    return data_error(r, n, "unterminated quoted field (opened at line %llu, column %llu; expected a closing %c)",
                                      (unsigned long long)ol, (unsigned long long)oc, r->quote);
                }
                p = stop + 1;
                if (p >= n && !eof) { /* is it a doubled quote? resume at this quote */
                    if (stop - q - pairs > maxf) { /* too long already, as above */
                        uint64_t ol, oc;
                        locate(r, r->pos, r->line, open, &ol, &oc);
                        return quoted_too_long(r, ol, oc);
                    }
                    r->qr_valid = 1;
                    r->qr_in = r->in_idx;
                    r->qr_offset = r->offset;
                    r->qr_open = open - r->pos;
                    r->qr_scan = stop - r->pos;
                    r->qr_nl = nl - nl0;
                    r->qr_pairs = pairs;
                    return SCAN_MORE;
                }
                if (p < n && b[p] == r->quote) {
                    pairs++;
                    p++;
                    continue;
                }
                break;
            }
            size_t flen = p - 1 - q;
            if (flen - pairs > maxf) {
                uint64_t ol, oc;
                locate(r, r->pos, r->line, open, &ol, &oc);
                return quoted_too_long(r, ol, oc);
            }
            if (pairs) {
                char *d = sl_arena_alloc(arena, flen ? flen : 1);
                if (!d)
                    return sl_fail(&r->run->err, SL_E_NOMEM, r->fmt, "out of memory");
                size_t k = 0;
                for (size_t i = q; i < p - 1; i++) {
                    d[k++] = (char)b[i];
                    if (b[i] == r->quote)
                        i++;
                }
                f->p = d;
                f->len = (uint32_t)k;
            } else {
                f->p = (const char *)b + q;
                f->len = (uint32_t)flen;
            }
            f->kind = SL_TEXT;
            nf++;
            if (p >= n) { /* eof right after the closing quote */
                *end = *rec_len = p;
                break;
            }
            int c = cls[b[p]];
            if (c == CL_DELIM) {
                p++;
                if (p >= n && eof) { /* trailing delimiter at eof: one more empty field */
                    if (nf >= r->max_fields)
                        return data_error(r, p, "more than %u fields in a record (limit --max-fields)", r->max_fields);
                    r->fields[nf++] = (sl_cell){NULL, 0, SL_NULL, {0}};
                    *end = *rec_len = p;
                    break;
                }
                continue;
            }
            if (c == CL_LF || c == CL_CR) {
                *rec_len = p;
                if (c == CL_CR) {
                    if (p + 1 >= n && !eof)
                        return SCAN_MORE;
                    p += (p + 1 < n && b[p + 1] == '\n') ? 2 : 1;
                } else {
                    p++;
                }
                nl++;
                *end = p;
                break;
            }
            char what[16];
            describe_char(b[p], what, sizeof what);
            return data_error(r, p, "unexpected %s after a closing quote (expected the delimiter or the end of the line)", what);
        }
        /* unquoted field: 16 bytes at a time while they last */
        size_t s = p;
#ifdef __SSE2__
        while (p + 16 <= n) {
            __m128i v = _mm_loadu_si128((const __m128i *)(b + p));
            __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, r->v_delim), _mm_cmpeq_epi8(v, r->v_quote)),
                                     _mm_or_si128(_mm_cmpeq_epi8(v, r->v_lf), _mm_cmpeq_epi8(v, r->v_cr)));
            unsigned mask = (unsigned)_mm_movemask_epi8(m);
            if (mask) {
                p += (size_t)__builtin_ctz(mask);
                goto field_end;
            }
            p += 16;
        }
#endif
        while (p < n && cls[b[p]] == CL_DATA)
            p++;
#ifdef __SSE2__
    field_end:
#endif
        if (p - s > maxf) /* too long already, wherever it ends */
            return data_error(r, s, "field longer than %llu bytes (limit --max-field-bytes)", (unsigned long long)maxf);
        if (p >= n && !eof)
            return SCAN_MORE;
        if (p < n && cls[b[p]] == CL_QUOTE)
            return data_error(r, p, "quote character inside an unquoted field (expected the whole field quoted, with %c%c for a quote)",
                              r->quote, r->quote);
        f->p = (const char *)b + s;
        f->len = (uint32_t)(p - s);
        f->kind = p > s ? SL_TEXT : SL_NULL;
        nf++;
        if (p >= n) {
            *end = *rec_len = p;
            break;
        }
        int c = cls[b[p]];
        if (c == CL_DELIM) {
            p++;
            if (p >= n && eof) {
                if (nf >= r->max_fields)
                    return data_error(r, p, "more than %u fields in a record (limit --max-fields)", r->max_fields);
                r->fields[nf++] = (sl_cell){NULL, 0, SL_NULL, {0}};
                *end = *rec_len = p;
                break;
            }
            continue;
        }
        *rec_len = p;
        if (c == CL_CR) {
            if (p + 1 >= n && !eof)
                return SCAN_MORE;
            p += (p + 1 < n && b[p + 1] == '\n') ? 2 : 1;
        } else {
            p++;
        }
        nl++;
        *end = p;
        break;
    }
    r->nfields = nf;
    *lines = nl;
    *rec_len -= r->pos;
    return SCAN_RECORD;
}

/* The common record, faster: unquoted fields ending in LF or CRLF, all in
   the buffer.  Sixteen bytes are classified at a time and every delimiter
   in them ends a field, instead of one scan per field with its checks.  A
   quote character or a lone CR anywhere in the record, a record that goes
   past the buffer, too many fields or too long a field: 0, and nothing
   done, so that scan_record reads the record (and reports what is wrong)
   as it always did.  The fields it gives are those scan_record gives. */
static int scan_plain(csv_reader *r, size_t *end, size_t *rec_len, uint64_t *lines)
{
#ifdef __SSE2__
    const unsigned char *b = (const unsigned char *)r->buf;
    size_t p = r->pos, n = r->len, s = p;
    uint32_t nf = 0, maxn = r->max_fields;
    uint64_t maxf = r->run->opt.max_field_bytes;
    sl_cell *fields = r->fields;
    while (p + 16 <= n) {
        __m128i v = _mm_loadu_si128((const __m128i *)(b + p));
        unsigned md = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, r->v_delim));
        unsigned ms = (unsigned)_mm_movemask_epi8(
            _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, r->v_lf), _mm_cmpeq_epi8(v, r->v_quote)), _mm_cmpeq_epi8(v, r->v_cr)));
        /* fields ended by the delimiters before the first other special byte */
        unsigned stop = ms ? (unsigned)__builtin_ctz(ms) : 16;
        unsigned mdl = stop < 16 ? md & ((1u << stop) - 1) : md;
        while (mdl) {
            size_t at = p + (unsigned)__builtin_ctz(mdl);
            if (nf >= maxn || at - s > maxf)
                return 0;
            fields[nf++] = (sl_cell){(const char *)b + s, (uint32_t)(at - s), at > s ? SL_TEXT : SL_NULL, {0}};
            s = at + 1;
            mdl &= mdl - 1;
        }
        if (stop < 16) {
            size_t at = p + stop, after;
            if (b[at] == '\n')
                after = at + 1;
            else if (b[at] == '\r' && at + 1 < n && b[at + 1] == '\n')
                after = at + 2;
            else
                return 0; /* a quote, or a CR alone or at the end of the buffer */
            if (nf >= maxn || at - s > maxf)
                return 0;
            fields[nf++] = (sl_cell){(const char *)b + s, (uint32_t)(at - s), at > s ? SL_TEXT : SL_NULL, {0}};
            r->nfields = nf;
            *rec_len = at - r->pos;
            *end = after;
            *lines = 1;
            return SCAN_RECORD;
        }
        p += 16;
    }
#else
    (void)r;
    (void)end;
    (void)rec_len;
    (void)lines;
#endif
    return 0;
}

/* ---- libcsv ---- */

/* libcsv grows its field buffer without bound on an unclosed quote; this
   hook refuses past the field limit (libcsv offers no context pointer, and a
   run has one CSV parser at a time, so a file-level cap is enough). */
static size_t lp_cap = SIZE_MAX;

static void *lp_realloc(void *p, size_t n)
{
    if (n > lp_cap)
        return NULL;
    return realloc(p, n);
}

/* libcsv's parser states (libcsv.c): csv.h exposes pstate, not the names */
enum { LP_ROW_NOT_BEGUN = 0, LP_FIELD_NOT_BEGUN, LP_FIELD_BEGUN, LP_FIELD_MIGHT_HAVE_ENDED };

/* libcsv reports no positions, so where a field started is found, when it is
   needed, by replaying the bytes libcsv consumed, s[0..used) of a segment
   (at most one line break, at its end), with a small state machine started
   from the state libcsv was in before the segment.  It is needed in two
   cases, both rare: a segment ends inside a field (a quoted field spans
   lines, or the read buffer cut the segment), and then the start of that
   field is kept in lp_f_*; or the k-th field (1-based) that ended in the
   segment is bad (too long, one too many), and then its start is wanted
   for the message.  Returns 1 when that k-th field started in this segment
   (its start is then in *line, *col, *quoted), else 0 (it started earlier,
   at lp_f_*). */
static int lp_replay(csv_reader *r, const char *s, size_t used, int pstate0, int quoted0, uint64_t k, uint64_t *line,
                     uint64_t *col, int *quoted)
{
    enum { ROW_START, FIELD_START, IN_PLAIN, IN_QUOTES, AFTER_QUOTE } st = ROW_START;
    if (pstate0 == LP_FIELD_NOT_BEGUN)
        st = FIELD_START;
    else if (pstate0 == LP_FIELD_BEGUN)
        st = quoted0 ? IN_QUOTES : IN_PLAIN;
    else if (pstate0 == LP_FIELD_MIGHT_HAVE_ENDED)
        st = AFTER_QUOTE;
    int here = 0;           /* the current field started in this segment */
    uint64_t fl = 0, fc = 0;
    int fq = 0;
    uint64_t ended = 0;
    for (size_t i = 0; i < used; i++) {
        unsigned char c = (unsigned char)s[i];
        int brk = c == '\n' || c == '\r', end = 0;
        if (st == ROW_START || st == FIELD_START) {
            if (brk && st == ROW_START)
                continue;
            here = 1;
            fl = r->line;
            fc = r->offset + i - r->lp_line_start + 1;
            fq = c == r->quote;
            if (c == r->delim || brk) {
                end = 1; /* an empty field */
                st = brk ? ROW_START : FIELD_START;
            } else {
                st = fq ? IN_QUOTES : IN_PLAIN;
            }
        } else if (st == IN_PLAIN) {
            if (c == r->delim || brk) {
                end = 1;
                st = brk ? ROW_START : FIELD_START;
            }
        } else if (st == IN_QUOTES) {
            if (c == r->quote)
                st = AFTER_QUOTE;
        } else { /* AFTER_QUOTE */
            if (c == r->quote) {
                st = IN_QUOTES;
            } else {
                end = 1;
                st = brk ? ROW_START : FIELD_START;
            }
        }
        if (end && k && ++ended == k)
            break;
    }
    if (!k && here && (st == IN_PLAIN || st == IN_QUOTES || st == AFTER_QUOTE)) {
        r->lp_f_line = fl; /* a field goes on past this segment */
        r->lp_f_col = fc;
        r->lp_f_quoted = fq;
    }
    if (here) {
        *line = fl;
        *col = fc;
        *quoted = fq;
    }
    return here;
}

static int lp_space(unsigned char c)
{
    (void)c;
    return 0; /* RFC 4180: spaces are data; libcsv trims them by default */
}

static void lp_field(void *data, size_t len, void *ctx)
{
    csv_reader *r = ctx;
    r->lp_fields_seen++;
    if (r->lp_bad)
        return; /* the record fails: keep nothing more of it */
    if (r->nfields >= r->max_fields) {
        r->lp_bad = LP_BAD_FIELDS;
        r->lp_bad_seen = r->lp_fields_seen;
        return;
    }
    sl_cell *f = &r->fields[r->nfields++];
    r->lp_rec_bytes += len;
    if (len > r->run->opt.max_field_bytes) {
        r->lp_bad = LP_BAD_FIELD_LONG;
        r->lp_bad_seen = r->lp_fields_seen;
        return;
    }
    if (r->lp_rec_bytes > r->run->opt.max_record_bytes) {
        r->lp_bad = LP_BAD_RECORD_LONG; /* its fields alone are too long already */
        return;
    }
    if (!data) { /* CSV_EMPTY_IS_NULL: unquoted empty field */
        *f = (sl_cell){NULL, 0, SL_NULL, {0}};
        return;
    }
    char *d = sl_arena_alloc(r->lp_arena, len ? len : 1);
    if (!d) {
        r->lp_bad = LP_BAD_NOMEM;
        *f = (sl_cell){NULL, 0, SL_NULL, {0}};
        return;
    }
    memcpy(d, data, len);
    *f = (sl_cell){d, (uint32_t)len, SL_TEXT, {0}};
}

static void lp_row(int c, void *ctx)
{
    (void)c;
    csv_reader *r = ctx;
    r->lp_have_record = 1;
}

/* ---- records into the batch ---- */

static uint32_t name_hash(const char *k, uint32_t n)
{
    uint32_t h = 2166136261u;
    for (uint32_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)k[i]) * 16777619u;
    return h;
}

static int make_header(csv_reader *r, uint64_t line)
{
    uint32_t n = r->nfields;
    const char **names = malloc((n ? n : 1) * sizeof *names);
    uint32_t *lens = malloc((n ? n : 1) * sizeof *lens);
    char(*gen)[16] = NULL;
    /* duplicate names are found with a hash set of column + 1 (a header of
       --max-fields columns must not cost its square) */
    uint32_t nslots = 16;
    while (nslots < 2 * (uint64_t)n)
        nslots *= 2;
    uint32_t *slots = r->header ? calloc(nslots, sizeof *slots) : NULL;
    if (!names || !lens || (r->header && !slots))
        goto oom;
    if (!r->header) {
        gen = malloc((n ? n : 1) * sizeof *gen);
        if (!gen)
            goto oom;
    }
    for (uint32_t i = 0; i < n; i++) {
        if (gen) {
            snprintf(gen[i], sizeof gen[i], "c%u", i + 1);
            names[i] = gen[i];
            lens[i] = (uint32_t)strlen(gen[i]);
        } else {
            names[i] = r->fields[i].p ? r->fields[i].p : "";
            lens[i] = r->fields[i].len;
            uint32_t k = name_hash(names[i], lens[i]) & (nslots - 1);
            for (; slots[k]; k = (k + 1) & (nslots - 1)) {
                uint32_t j = slots[k] - 1;
                if (lens[j] == lens[i] && memcmp(names[j], names[i], lens[i]) == 0) {
                    sl_fail(&r->run->err, SL_E_DATA, r->fmt,
                            "duplicate field name '%.*s' in the header (columns %u and %u; expected unique names)",
                            (int)lens[i], r->fields[i].p, j + 1, i + 1);
                    free(names);
                    free(lens);
                    free(slots);
                    sl_error_at(&r->run->err, input_name(r), line, 0, 0);
                    return SL_E_DATA;
                }
            }
            slots[k] = i + 1;
        }
    }
    sl_schema *s = sl_schema_new(n, names, lens);
    free(names);
    free(lens);
    free(gen);
    free(slots);
    if (!s)
        return sl_fail(&r->run->err, SL_E_NOMEM, r->fmt, "out of memory");
    if (r->schema && sl_schema_same_names(r->schema, s)) {
        sl_schema_unref(s); /* same header again: same stream */
    } else {
        if (r->schema)
            sl_schema_unref(r->schema);
        r->schema = s;
    }
    return SL_OK;
oom:
    free(names);
    free(lens);
    free(gen);
    free(slots);
    return sl_fail(&r->run->err, SL_E_NOMEM, r->fmt, "out of memory");
}

/* A record is in r->fields: make it the header, or append it to the batch.
   Returns SL_OK, or negative. */
static inline __attribute__((always_inline)) int take_record(csv_reader *r, uint64_t line, uint64_t offset, const char *raw,
                                                            size_t rawlen)
{
    if (r->need_header) {
        r->need_header = 0;
        int rc = make_header(r, line);
        if (rc < 0 || r->header)
            return rc;
        /* no header: this first record is data too */
    }
    sl_batch *b = &r->batch;
    if (!b->schema || b->schema->id != r->schema->id) {
        /* the caller returns a non-empty batch before a schema change */
        if (b->nrows)
            return sl_fail(&r->run->err, SL_E_INTERNAL, r->fmt, "schema change inside a batch");
        int rc = sl_batch_reshape(b, r->schema, r->schema->ncols);
        if (rc < 0)
            return sl_fail(&r->run->err, rc, r->fmt, "out of memory");
    }
    uint32_t row = b->nrows;
    r->record++;
    r->run->inputs[r->in_idx].records++;
    sl_rowinfo *in = &b->info[row];
    in->line = line;
    in->offset = offset;
    in->record = r->record;
    in->input = (uint32_t)r->in_idx;
    in->len = rawlen > UINT32_MAX ? UINT32_MAX : (uint32_t)rawlen;
    in->raw = raw;
    if (r->run->inputs[r->in_idx].ranged) {
        /* a byte range starts at a line start, which is a record start
           only when no record spans lines: the shard that reads such a
           record fails, so that a misaligned neighbour never passes for a
           good run (docs/sharding.md) */
        for (uint32_t f = 0; f < r->nfields; f++)
            if (r->fields[f].len && (memchr(r->fields[f].p, '\n', r->fields[f].len) || memchr(r->fields[f].p, '\r', r->fields[f].len))) {
                sl_fail(&r->run->err, SL_E_DATA, r->fmt, "field %u holds a line break: a byte-range shard (--shard with one "
                        "input) needs records on one line each (split the input into several files, or run without --shard)",
                        f + 1);
                sl_error_at(&r->run->err, r->run->inputs[r->in_idx].name, line, 0, r->record);
                return SL_E_DATA;
            }
    }
    if (r->nfields != r->schema->ncols) {
        /* a lone empty field is what an empty line inside a one-column file
           looks like; it was skipped as blank before getting here */
        int rc = sl_run_bad_record(r->run, b, row, r->fmt, "expected %u fields (as in the header), found %u",
                                   r->schema->ncols, r->nfields);
        return rc < 0 ? rc : SL_OK;
    }
    sl_cell *dst = &b->cells[(size_t)row * b->stride];
    if (r->nfields <= 8) /* a short record: no call */
        for (uint32_t f = 0; f < r->nfields; f++)
            dst[f] = r->fields[f];
    else
        memcpy(dst, r->fields, r->nfields * sizeof(sl_cell));
    b->nrows++;
    return SL_OK;
}

/* ---- input switching and buffer management ---- */

static int open_input(csv_reader *r)
{
    r->src = sl_source_open_input(&r->run->inputs[r->in_idx], &r->run->err);
    if (!r->src)
        return r->run->err.code;
    r->src_eof = 0;
    r->need_header = 1;
    r->at_start = 1;
    r->line = 1;
    r->offset = 0;
    r->record = 0;
    r->pos = r->len = 0;
    if (r->use_libcsv) {
        if (r->lp_init)
            csv_free(&r->lp);
        if (csv_init(&r->lp, CSV_STRICT | CSV_STRICT_FINI | CSV_EMPTY_IS_NULL) != 0)
            return sl_fail(&r->run->err, SL_E_NOMEM, r->fmt, "out of memory");
        r->lp_init = 1;
        csv_set_delim(&r->lp, r->delim);
        csv_set_quote(&r->lp, r->quote);
        csv_set_space_func(&r->lp, lp_space);
        /* libcsv grows its buffer before it looks at each byte, and keeps
           a closing quote in it until it knows it is not a doubled one:
           two bytes over the limit let a field of exactly the limit end,
           and stop a longer one a byte or two after it passes the limit */
        lp_cap = (size_t)r->run->opt.max_field_bytes + 2;
        csv_set_realloc_func(&r->lp, lp_realloc);
        /* libcsv grows its field buffer by blk_size bytes at a time (128 by
           default): a 16 MiB field would take 131072 reallocs, each a copy
           with some allocators (quadratic) */
        csv_set_blk_size(&r->lp, 64 * 1024);
        r->lp_in_record = 0;
        r->lp_line_start = 0;
        r->lp_rec_bytes = 0;
        r->lp_bad = LP_OK;
    }
    return SL_OK;
}

static void close_input(csv_reader *r)
{
    if (r->src) {
        sl_input *in = &r->run->inputs[r->in_idx];
        in->bytes_raw = sl_source_bytes_raw(r->src);
        in->bytes = sl_source_bytes(r->src);
        in->size = sl_source_size(r->src);
        sl_source_close(r->src);
        r->src = NULL;
    }
}

/* Is more input ready without blocking? (for streaming latency) */
static int input_ready(csv_reader *r)
{
    if (!sl_source_is_stream(r->src))
        return 1;
    struct pollfd pf = {.fd = 0, .events = POLLIN};
    if (strcmp(r->run->inputs[r->in_idx].name, "-") != 0)
        return 1; /* named FIFO: just read */
    return poll(&pf, 1, 0) > 0;
}

/* Read more bytes after r->len, growing the buffer when it is full and no
   row of the current batch points into it.  Returns 1 if bytes arrived or
   eof was reached, 0 if the batch must be returned first, or negative. */
static int fill(csv_reader *r)
{
    sl_batch *b = &r->batch;
    if (r->len == r->cap) {
        if (b->nrows)
            return 0;
        if (r->pos > 0) {
            memmove(r->buf, r->buf + r->pos, r->len - r->pos);
            r->len -= r->pos;
            r->offset += 0; /* offset tracks buf[pos]; unchanged by the move */
            r->pos = 0;
        }
        if (r->len == r->cap) {
            /* room for the longest record and its CR LF: a full buffer
               holding one unfinished record means it is too long */
            uint64_t lim = r->run->opt.max_record_bytes + 2;
            if (r->cap >= lim)
                return record_too_long(r, r->line);
            size_t ncap = r->cap * 2;
            if (ncap > lim)
                ncap = (size_t)lim;
            char *nb = realloc(r->buf, ncap);
            if (!nb)
                return sl_fail(&r->run->err, SL_E_NOMEM, r->fmt, "out of memory growing the read buffer to %zu bytes", ncap);
            r->buf = nb;
            r->cap = ncap;
        }
    }
    if (b->nrows && !input_ready(r))
        return 0;
    ssize_t n = sl_source_read(r->src, r->buf + r->len, r->cap - r->len, &r->run->err);
    if (n < 0) {
        sl_error_at(&r->run->err, input_name(r), 0, 0, 0);
        return (int)n;
    }
    if (n == 0)
        r->src_eof = 1;
    r->len += (size_t)n;
    r->run->inputs[r->in_idx].bytes_raw = sl_source_bytes_raw(r->src);
    if (r->at_start && (r->len >= 3 || r->src_eof)) {
        r->at_start = 0;
        if (r->len - r->pos >= 3 && memcmp(r->buf + r->pos, "\xef\xbb\xbf", 3) == 0) {
            /* drop it from the buffer, so that columns never count it */
            memmove(r->buf + r->pos, r->buf + r->pos + 3, r->len - r->pos - 3);
            r->len -= 3;
            r->offset += 3;
            r->lp_line_start = r->offset;
        }
    }
    return 1;
}

/* Start of next(): move the unparsed tail to the front of the buffer once
   half of the buffer has been parsed (moving it at every batch would copy
   most of the buffer for each batch's few kilobytes); fill() also moves it
   when the buffer is full. */
static void compact(csv_reader *r)
{
    /* once half the buffer is read, and only when what is left is short
       (the rest of a record or a few): moving a long tail costs a copy of
       the input; the buffer is read to its end first, and when it runs out
       mid-batch the batch is handed on and the short tail moved here */
    if (r->pos > 0 && r->pos >= r->cap / 2 && r->len - r->pos <= r->cap / 16) {
        memmove(r->buf, r->buf + r->pos, r->len - r->pos);
        r->len -= r->pos;
        r->pos = 0;
    }
}

static int next_fast(csv_reader *r)
{
    sl_batch *b = &r->batch;
    for (;;) {
        /* skip blank lines */
        while (r->pos < r->len) {
            char c = r->buf[r->pos];
            if (c == '\n') {
                r->line++;
            } else if (c == '\r') {
                if (r->pos + 1 >= r->len && !r->src_eof)
                    break; /* CR at the end: need the next byte */
                if (r->pos + 1 >= r->len || r->buf[r->pos + 1] != '\n')
                    r->line++;
            } else {
                break;
            }
            r->pos++;
            r->offset++;
        }
        if (r->at_start || (r->pos >= r->len && !r->src_eof) ||
            (r->pos + 1 >= r->len && !r->src_eof && r->pos < r->len && r->buf[r->pos] == '\r')) {
            int rc = fill(r);
            if (rc <= 0)
                return rc < 0 ? rc : SL_BATCH; /* 0: hand out the batch first */
            continue;
        }
        if (r->pos >= r->len)
            return SL_DONE; /* end of this input */
        size_t end = 0, rec_len = 0;
        uint64_t lines = 0;
        r->nfields = 0;
        int rc = 0;
        if (r->plain_skip)
            r->plain_skip--;
        else if ((rc = scan_plain(r, &end, &rec_len, &lines)) != 0)
            r->plain_misses = 0;
        else if (++r->plain_misses == 8) { /* quoted records, it seems: rest a while */
            r->plain_misses = 0;
            r->plain_skip = 1024;
        }
        if (rc == 0) {
            r->nfields = 0;
            rc = scan_record(r, &b->arena, &end, &rec_len, &lines);
        }
        if (rc < 0)
            return rc;
        if (rc == SCAN_MORE) {
            rc = fill(r);
            if (rc <= 0)
                return rc < 0 ? rc : SL_BATCH; /* 0: hand out the batch first */
            continue;
        }
        if (rec_len > r->run->opt.max_record_bytes)
            return record_too_long(r, r->line);
        int hdr = r->need_header;
        rc = take_record(r, r->line, r->offset, r->buf + r->pos, end - r->pos);
        if (rc < 0)
            return rc;
        r->line += lines;
        r->offset += end - r->pos;
        r->pos = end;
        if (hdr && b->nrows && b->schema && b->schema->id != r->schema->id)
            return SL_BATCH;
        if (b->nrows == b->cap_rows)
            return SL_BATCH;
    }
}

static int lp_error(csv_reader *r, size_t at)
{
    /* classify like the hand scanner so both parsers say the same thing */
    unsigned char c = (unsigned char)r->buf[at];
    if (c == r->quote)
        return data_error(r, at, "quote character inside an unquoted field (expected the whole field quoted, with %c%c for a quote)",
                          r->quote, r->quote);
    char what[16];
    describe_char(c, what, sizeof what);
    return data_error(r, at, "unexpected %s after a closing quote (expected the delimiter or the end of the line)", what);
}

/* Field number k of the record is one too many, or field (line, col) is too
   long. */
static int lp_fail_field(csv_reader *r, int bad, uint64_t line, uint64_t col, int quoted)
{
    if (bad == LP_BAD_FIELD_LONG && quoted)
        return quoted_too_long(r, line, col);
    if (bad == LP_BAD_FIELD_LONG)
        sl_fail(&r->run->err, SL_E_DATA, r->fmt, "field longer than %llu bytes (limit --max-field-bytes)",
                (unsigned long long)r->run->opt.max_field_bytes);
    else
        sl_fail(&r->run->err, SL_E_DATA, r->fmt, "more than %u fields in a record (limit --max-fields)", r->max_fields);
    sl_error_at(&r->run->err, input_name(r), line, col, r->need_header ? 0 : r->record + 1);
    return SL_E_DATA;
}

static int lp_mid_field(int pstate) { return pstate == LP_FIELD_BEGUN || pstate == LP_FIELD_MIGHT_HAVE_ENDED; }

/* After csv_parse() consumed s[0..used) of a segment, starting in state
   (pstate0, quoted0) with seen0 fields delivered before it, or after
   csv_fini() (s = NULL): the errors libcsv or the callbacks met, reported
   where the hand scanner reports them; else SL_OK. */
static int lp_check(csv_reader *r, const char *s, size_t used, int pstate0, int quoted0, uint64_t seen0)
{
    if (r->lp_bad == LP_BAD_NOMEM)
        return sl_fail(&r->run->err, SL_E_NOMEM, r->fmt, "out of memory");
    if (r->lp_bad == LP_BAD_RECORD_LONG)
        return record_too_long(r, r->lp_rec_line);
    if (r->lp_bad == LP_BAD_FIELDS || r->lp_bad == LP_BAD_FIELD_LONG) {
        uint64_t line = r->lp_f_line, col = r->lp_f_col;
        int quoted = r->lp_f_quoted;
        if (s) {
            lp_replay(r, s, used, pstate0, quoted0, r->lp_bad_seen - seen0, &line, &col, &quoted);
        } else if (!lp_mid_field(pstate0)) { /* the empty field after a delimiter at the end */
            return r->lp_bad == LP_BAD_FIELDS ? data_error(r, r->len, "more than %u fields in a record (limit --max-fields)",
                                                           r->max_fields)
                                              : SL_E_INTERNAL;
        }
        return lp_fail_field(r, r->lp_bad, line, col, quoted);
    }
    int e = csv_error(&r->lp);
    /* libcsv halves its request down to one byte before it gives up: a
       buffer at the cap means the cap refused, not the allocator */
    if ((e == CSV_ENOMEM && r->lp.entry_size >= lp_cap) || e == CSV_ETOOBIG) /* the field in progress, lp_f_* */
        return lp_fail_field(r, LP_BAD_FIELD_LONG, r->lp_f_line, r->lp_f_col, r->lp_f_quoted);
    if (e == CSV_ENOMEM)
        return sl_fail(&r->run->err, SL_E_NOMEM, r->fmt, "out of memory (libcsv's field buffer)");
    return SL_OK;
}

/* A record ended; `len` is its length without the line break. */
static int lp_take(csv_reader *r, uint64_t len)
{
    r->lp_have_record = 0;
    r->lp_in_record = 0;
    int rc = len > r->run->opt.max_record_bytes ? record_too_long(r, r->lp_rec_line)
                                                : take_record(r, r->lp_rec_line, r->lp_rec_offset, NULL, r->lp_rec_bytes);
    r->nfields = 0;
    r->lp_rec_bytes = 0;
    return rc;
}

static int next_libcsv(csv_reader *r)
{
    sl_batch *b = &r->batch;
    r->lp_arena = &b->arena;
    for (;;) {
        if (r->at_start || r->pos >= r->len) {
            if (r->src_eof) {
                /* end of input: let libcsv finish the last record */
                if (r->lp_cr_pending) {
                    r->lp_cr_pending = 0;
                    r->line++;
                }
                r->lp_have_record = 0;
                int pstate0 = r->lp.pstate, quoted0 = r->lp.quoted;
                if (csv_fini(&r->lp, lp_field, lp_row, r) != 0) {
                    if (r->lp.entry_pos > r->run->opt.max_field_bytes) /* as the hand scanner says */
                        return quoted_too_long(r, r->lp_f_line, r->lp_f_col);
                    return data_error(r, r->len, "unterminated quoted field (opened at line %llu, column %llu; expected a "
                                      "closing %c)", (unsigned long long)r->lp_f_line, (unsigned long long)r->lp_f_col,
                                      r->quote);
                }
                int rc = lp_check(r, NULL, 0, pstate0, quoted0, 0);
                if (rc < 0)
                    return rc;
                if (r->lp_have_record && (rc = lp_take(r, r->offset - r->lp_rec_offset)) < 0)
                    return rc;
                return SL_DONE;
            }
            compact(r);
            int rc = fill(r);
            if (rc <= 0)
                return rc < 0 ? rc : SL_BATCH; /* 0: hand out the batch first */
            continue;
        }
        /* feed one segment: up to and including the next CR or LF, so that
           at most one record ends per call and line numbers are known */
        const char *s = r->buf + r->pos;
        size_t avail = r->len - r->pos, seg = avail;
        if (r->lp_cr_pending) {
            r->lp_cr_pending = 0;
            if (s[0] != '\n') {
                r->line++;
                r->lp_line_start = r->offset;
            }
        }
        for (size_t i = 0; i < avail; i++)
            if (s[i] == '\n' || s[i] == '\r') {
                seg = i + 1;
                break;
            }
        if (!r->lp_in_record) {
            /* the record starts at the first byte that is not a line break */
            size_t k = 0;
            while (k < seg && (s[k] == '\n' || s[k] == '\r'))
                k++;
            if (k < seg) {
                r->lp_in_record = 1;
                r->lp_rec_line = r->line;
                r->lp_rec_offset = r->offset + k;
            }
        }
        r->lp_have_record = 0;
        int pstate0 = r->lp.pstate, quoted0 = r->lp.quoted;
        uint64_t seen0 = r->lp_fields_seen;
        size_t used = csv_parse(&r->lp, s, seg, lp_field, lp_row, r);
        if (lp_mid_field(r->lp.pstate) && (!lp_mid_field(pstate0) || r->lp_fields_seen != seen0)) {
            uint64_t l, c; /* a field that goes on began here: note where */
            int q;
            lp_replay(r, s, used, pstate0, quoted0, 0, &l, &c, &q);
        }
        int rc = lp_check(r, s, used, pstate0, quoted0, seen0);
        if (rc < 0)
            return rc;
        if (used < seg || csv_error(&r->lp) != CSV_SUCCESS)
            return lp_error(r, r->pos + used);
        /* line accounting for the segment: LF, or CR not followed by LF */
        char last = s[seg - 1];
        if (last == '\n') {
            r->line++;
            r->lp_line_start = r->offset + seg;
        } else if (last == '\r') {
            if (r->pos + seg < r->len) {
                if (r->buf[r->pos + seg] != '\n') {
                    r->line++;
                    r->lp_line_start = r->offset + seg;
                }
            } else if (r->src_eof) {
                r->line++;
            } else {
                r->lp_cr_pending = 1; /* decided by the next byte */
            }
        }
        r->pos += seg;
        r->offset += seg;
        if (r->lp_have_record) {
            int hdr = r->need_header;
            /* the record ended at the line break that ends the segment */
            if ((rc = lp_take(r, r->offset - 1 - r->lp_rec_offset)) < 0)
                return rc;
            if (hdr && b->nrows && b->schema && b->schema->id != r->schema->id)
                return SL_BATCH;
            if (b->nrows == b->cap_rows)
                return SL_BATCH;
        }
    }
}

static int csv_reader_next(sl_stage *st, sl_batch **out)
{
    csv_reader *r = st->state;
    sl_batch *b = &r->batch;
    if (r->done)
        return SL_DONE;
    b->nrows = 0;
    b->has_sel = false;
    b->nsel = 0;
    sl_arena_reset(&b->arena);
    if (!r->use_libcsv)
        compact(r);
    for (;;) {
        if (!r->src) {
            if (r->in_idx >= r->run->ninputs) {
                r->done = 1;
                return SL_DONE;
            }
            int rc = open_input(r);
            if (rc < 0)
                return rc;
        }
        int rc = r->use_libcsv ? next_libcsv(r) : next_fast(r);
        if (rc < 0) {
            return rc;
        }
        if (rc == SL_DONE) {
            close_input(r);
            r->in_idx++;
            if (b->nrows) {
                *out = b;
                return SL_BATCH;
            }
            continue;
        }
        if (b->nrows) {
            *out = b;
            return SL_BATCH;
        }
    }
}

static int csv_reader_create_common(sl_stage *st, const char *args, sl_error *err, const char *fmt, char def_delim)
{
    if (args && *args)
        return sl_fail(err, SL_E_USAGE, fmt, "the %s reader takes no arguments", fmt);
    csv_reader *r = calloc(1, sizeof *r);
    if (!r)
        return sl_fail(err, SL_E_NOMEM, fmt, "out of memory");
    st->state = r;
    const sl_options *o = &st->run->opt;
    r->fmt = fmt;
    r->run = st->run;
    r->delim = (unsigned char)(o->delim ? o->delim : def_delim);
    r->quote = (unsigned char)(o->quote ? o->quote : '"');
    r->header = !o->no_header;
    r->use_libcsv = o->csv_parser == SL_CSVP_LIBCSV;
    if (r->delim == r->quote || r->delim == '\n' || r->delim == '\r' || r->quote == '\n' || r->quote == '\r')
        return sl_fail(err, SL_E_USAGE, fmt, "the delimiter and the quote character must differ and must not be line breaks");
    r->cls[r->delim] = CL_DELIM;
    r->cls[r->quote] = CL_QUOTE;
    r->cls['\r'] = CL_CR;
    r->cls['\n'] = CL_LF;
#ifdef __SSE2__
    r->v_delim = _mm_set1_epi8((char)r->delim);
    r->v_quote = _mm_set1_epi8((char)r->quote);
    r->v_lf = _mm_set1_epi8('\n');
    r->v_cr = _mm_set1_epi8('\r');
#endif
    r->max_fields = o->max_fields ? o->max_fields : 1;
    return SL_OK;
}

static int csv_reader_create(sl_stage *st, const char *args, sl_error *err)
{
    return csv_reader_create_common(st, args, err, "csv", ',');
}

static int tsv_reader_create(sl_stage *st, const char *args, sl_error *err)
{
    return csv_reader_create_common(st, args, err, "tsv", '\t');
}

static int csv_reader_open(sl_stage *st)
{
    csv_reader *r = st->state;
    const sl_options *o = &st->run->opt;
    r->fields = malloc((size_t)r->max_fields * sizeof *r->fields);
    r->cap = o->read_buffer ? o->read_buffer : BUF_INIT;
    if (r->cap > o->max_record_bytes + 2)
        r->cap = (size_t)o->max_record_bytes + 2;
    if (r->cap < 4)
        r->cap = 4;
    r->buf = malloc(r->cap);
    if (!r->fields || !r->buf || sl_batch_init(&r->batch, o->batch_rows, 16, 0) < 0)
        return sl_fail(&st->run->err, SL_E_NOMEM, r->fmt, "out of memory");
    return SL_OK;
}

/* The header's fields, also when no record followed it. */
static int csv_reader_schema(sl_stage *st, sl_schema **out)
{
    csv_reader *r = st->state;
    *out = r ? r->schema : NULL;
    return SL_OK;
}

static void csv_reader_close(sl_stage *st)
{
    csv_reader *r = st->state;
    if (!r)
        return;
    close_input(r);
    if (r->lp_init)
        csv_free(&r->lp);
    if (r->schema)
        sl_schema_unref(r->schema);
    sl_batch_fini(&r->batch);
    free(r->fields);
    free(r->buf);
    free(r);
    st->state = NULL;
}

const sl_stage_type sl_csv_reader_type = {
    .name = "csv",
    .usage = "(reader)",
    .summary = "CSV records (RFC 4180)",
    .create = csv_reader_create,
    .open = csv_reader_open,
    .next = csv_reader_next,
    .close = csv_reader_close,
    .schema = csv_reader_schema,
};

const sl_stage_type sl_tsv_reader_type = {
    .name = "tsv",
    .usage = "(reader)",
    .summary = "TSV records (CSV with a tab delimiter)",
    .create = tsv_reader_create,
    .open = csv_reader_open,
    .next = csv_reader_next,
    .close = csv_reader_close,
    .schema = csv_reader_schema,
};
