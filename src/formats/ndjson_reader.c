/* ndjson_reader.c - the "ndjson" reader stage: one JSON object per line.
 *
 * The inputs are read one after the other, as one stream, into one buffer
 * (1 MiB, grown up to the record limit for a long line).  Each line is
 * scanned by json_scan (the hand parser, or jansson with --json-parser) into
 * cells that point into the buffer wherever the value's text can be used as
 * it is; only decoded strings and compacted nested values go to the batch
 * arena.  So a batch must be handed out before the buffer is refilled: when
 * the buffer holds no complete line, a non-empty batch is returned first and
 * the partial line is moved to the front on the next call.  (That also
 * gives low latency on a slow pipe: records go out as soon as a read returns
 * them.)
 *
 * Schemas: a record's keys in text order.  The batch keeps its schema; a
 * record with a subset of its keys (in any order) joins it, missing keys
 * becoming SL_ABSENT cells.  A record with a key the schema lacks ends the
 * batch and stays unread; the next batch's schema is the union (old keys,
 * then the new ones in first-seen order), or the record's own keys when the
 * union would pass max_fields.  Rescanning that one record is cheaper than
 * keeping two batches alive.
 *
 * Positions: lines count from 1 per input (blank lines included), byte
 * offsets are of the decompressed input, records count the non-blank lines.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/format.h"
#include "formats/json_scan.h"
#include "io/source.h"
#include "sluice/run.h"

#define STAGE "ndjson"
#define BUF_INITIAL (1u << 20)
#define DEFAULT_BATCH_ROWS 1024
#define DEFAULT_MAX_RECORD (64ull << 20)
/* cells hold 32-bit lengths */
#define MAX_RECORD_CAP ((uint64_t)UINT32_MAX - 16)

typedef struct nd_reader {
    sl_run *run;
    int use_jansson;
    uint64_t max_line;  /* bytes of a line without its terminator */
    uint32_t max_fields;

    /* the current input */
    size_t in;          /* index into run->inputs */
    sl_source *src;
    int eof;            /* src has no more bytes */
    uint64_t line_no;   /* lines consumed in this input */
    uint64_t rec_no;    /* records (non-blank lines) consumed in this input */
    uint64_t base;      /* input offset of buf[0] */

    /* the read buffer: unconsumed bytes are buf[pos..len) */
    char *buf;
    size_t cap, cap_max, pos, len;

    /* the batch handed out */
    sl_batch b;
    int b_ready;
    sl_schema *cur;     /* schema being filled (one reference) */
    sl_schema *next;    /* schema chosen for the next batch (one reference) */
    uint32_t *slots;    /* open addressing over cur's names: column + 1 */
    uint32_t nslots;    /* power of two */
    uint32_t *stamp;    /* per column of cur: gen of the record that set it */
    uint32_t gen;
    const char **un_names; /* scratch for building a union schema */
    uint32_t *un_lens;
    uint32_t un_cap;

    sl_json_scan js;
    int js_ready;
    int done;
} nd_reader;

/* ------------------------------------------------------------------------ */
/* schema lookup */

static inline uint32_t name_hash(const char *k, uint32_t n)
{
    uint32_t h = 2166136261u;
    for (uint32_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)k[i]) * 16777619u;
    return h;
}

/* Make s the current schema (taking over the caller's reference). */
static int set_schema(nd_reader *r, sl_schema *s)
{
    if (r->cur)
        sl_schema_unref(r->cur);
    r->cur = s;
    uint32_t want = 16;
    while (want < 2 * s->ncols)
        want *= 2;
    if (want > r->nslots) {
        uint32_t *sl = realloc(r->slots, want * sizeof *sl);
        if (!sl)
            return SL_E_NOMEM;
        r->slots = sl;
    }
    uint32_t *st = realloc(r->stamp, (s->ncols ? s->ncols : 1) * sizeof *st);
    if (!st)
        return SL_E_NOMEM;
    r->stamp = st;
    memset(st, 0, (s->ncols ? s->ncols : 1) * sizeof *st);
    r->gen = 0;
    r->nslots = want;
    memset(r->slots, 0, want * sizeof *r->slots);
    for (uint32_t c = 0; c < s->ncols; c++) {
        uint32_t j = name_hash(s->names[c], s->name_len[c]) & (want - 1);
        while (r->slots[j])
            j = (j + 1) & (want - 1);
        r->slots[j] = c + 1;
    }
    return SL_OK;
}

static int find_col(const nd_reader *r, const char *k, uint32_t n)
{
    const sl_schema *s = r->cur;
    uint32_t mask = r->nslots - 1;
    for (uint32_t j = name_hash(k, n) & mask; r->slots[j]; j = (j + 1) & mask) {
        uint32_t c = r->slots[j] - 1;
        if (s->name_len[c] == n && memcmp(s->names[c], k, n) == 0)
            return (int)c;
    }
    return -1;
}

enum { PLACED, NEW_KEYS, BAD };

/* Put the scanned record's values into row `row` of the batch, by name. */
static int place(nd_reader *r, uint32_t row)
{
    const sl_json_field *f = r->js.fields;
    uint32_t k = r->js.nfields;
    if (!r->cur)
        return sl_json_scan_find_dup(&r->js) >= 0 ? BAD : NEW_KEYS;
    const sl_schema *s = r->cur;
    uint32_t ncols = s->ncols;
    sl_cell *cells = &r->b.cells[(size_t)row * r->b.stride];

    /* the common case: the same keys in the same order (distinct, since the
       schema's names are) */
    if (k == ncols) {
        uint32_t i = 0;
        for (; i < k; i++) {
            if (f[i].key_len != s->name_len[i] || memcmp(f[i].key, s->names[i], f[i].key_len) != 0)
                break;
            cells[i] = f[i].val;
        }
        if (i == k)
            return PLACED;
    }

    for (uint32_t c = 0; c < ncols; c++)
        cells[c] = (sl_cell){.kind = SL_ABSENT};
    if (++r->gen == 0) {
        memset(r->stamp, 0, ncols * sizeof *r->stamp);
        r->gen = 1;
    }
    uint32_t guess = 0, nnew = 0;
    for (uint32_t i = 0; i < k; i++) {
        int c;
        if (guess < ncols && f[i].key_len == s->name_len[guess] &&
            memcmp(f[i].key, s->names[guess], f[i].key_len) == 0)
            c = (int)guess;
        else
            c = find_col(r, f[i].key, f[i].key_len);
        if (c < 0) {
            nnew++;
            continue;
        }
        if (r->stamp[c] == r->gen) {
            sl_json_scan_find_dup(&r->js); /* for the message */
            return BAD;
        }
        r->stamp[c] = r->gen;
        cells[c] = f[i].val;
        guess = (uint32_t)c + 1;
    }
    if (!nnew)
        return PLACED;
    /* keys the schema lacks: they may repeat among themselves */
    return sl_json_scan_find_dup(&r->js) >= 0 ? BAD : NEW_KEYS;
}

/* The schema for a record with keys the current one lacks: the union, or the
   record's own keys when the union would be too wide.  NULL = no memory. */
static sl_schema *union_schema(nd_reader *r)
{
    const sl_json_field *f = r->js.fields;
    uint32_t k = r->js.nfields, n = 0;
    uint32_t old = r->cur ? r->cur->ncols : 0;
    uint64_t want = (uint64_t)old + k;
    if (want > r->un_cap) {
        const char **nn = realloc(r->un_names, want * sizeof *nn);
        if (nn)
            r->un_names = nn;
        uint32_t *nl = realloc(r->un_lens, want * sizeof *nl);
        if (nl)
            r->un_lens = nl;
        if (!nn || !nl)
            return NULL;
        r->un_cap = (uint32_t)want;
    }
    for (uint32_t c = 0; c < old; c++) {
        r->un_names[n] = r->cur->names[c];
        r->un_lens[n++] = r->cur->name_len[c];
    }
    for (uint32_t i = 0; i < k; i++) {
        if (old && find_col(r, f[i].key, f[i].key_len) >= 0)
            continue;
        r->un_names[n] = f[i].key;
        r->un_lens[n++] = f[i].key_len;
    }
    if (n > r->max_fields) { /* start over from this record's keys */
        n = 0;
        for (uint32_t i = 0; i < k; i++) {
            r->un_names[n] = f[i].key;
            r->un_lens[n++] = f[i].key_len;
        }
    }
    sl_schema *s = sl_schema_new(n, r->un_names, r->un_lens);
    if (s)
        s->open = true; /* later records may bring keys these lack */
    return s;
}

/* ------------------------------------------------------------------------ */
/* input */

static void note_bytes(nd_reader *r)
{
    sl_input *in = &r->run->inputs[r->in];
    in->bytes = sl_source_bytes(r->src);
    in->bytes_raw = sl_source_bytes_raw(r->src);
}

static int open_input(nd_reader *r)
{
    sl_input *in = &r->run->inputs[r->in];
    r->src = sl_source_open_input(in, &r->run->err);
    if (!r->src)
        return r->run->err.code ? r->run->err.code : SL_E_INPUT;
    in->size = sl_source_size(r->src);
    r->eof = 0;
    r->line_no = r->rec_no = r->base = 0;
    r->pos = r->len = 0;
    return SL_OK;
}

/* Move to the next input; 1 when there is none. */
static int next_input(nd_reader *r)
{
    if (r->src) {
        note_bytes(r);
        sl_source_close(r->src);
        r->src = NULL;
    }
    if (++r->in >= r->run->ninputs)
        return 1;
    return open_input(r);
}

static const char *input_name(const nd_reader *r)
{
    return r->src ? sl_source_name(r->src) : r->run->inputs[r->in].name;
}

static int too_long(nd_reader *r)
{
    sl_fail(&r->run->err, SL_E_DATA, STAGE, "line longer than %llu bytes (limit --max-record-bytes)",
            (unsigned long long)r->max_line);
    sl_error_at(&r->run->err, input_name(r), r->line_no + 1, 0, r->rec_no + 1);
    return SL_E_DATA;
}

/* Keep the unconsumed bytes, make room, read more. */
static int refill(nd_reader *r)
{
    if (r->pos > 0) {
        memmove(r->buf, r->buf + r->pos, r->len - r->pos);
        r->base += r->pos;
        r->len -= r->pos;
        r->pos = 0;
    }
    if (r->len == r->cap) {
        size_t cap = r->cap * 2 < r->cap_max ? r->cap * 2 : r->cap_max;
        if (cap <= r->cap)
            return too_long(r);
        char *b = realloc(r->buf, cap);
        if (!b)
            return sl_fail(&r->run->err, SL_E_NOMEM, STAGE, "out of memory for a %zu-byte line buffer", cap);
        r->buf = b;
        r->cap = cap;
    }
    /* a file is read until the buffer is full; a pipe gives what it has, so
       that records go on as soon as they arrive */
    int stream = sl_source_is_stream(r->src);
    do {
        ssize_t n = sl_source_read(r->src, r->buf + r->len, r->cap - r->len, &r->run->err);
        if (n < 0) {
            sl_error_at(&r->run->err, input_name(r), r->line_no + 1, 0, 0);
            return (int)n;
        }
        if (n == 0)
            r->eof = 1;
        r->len += (size_t)n;
    } while (!stream && !r->eof && r->len < r->cap);
    note_bytes(r);
    return SL_OK;
}

/* ------------------------------------------------------------------------ */
/* the stage */

static int nd_create(sl_stage *st, const char *args, sl_error *err)
{
    if (args) {
        const char *a = args;
        while (*a == ' ' || *a == '\t')
            a++;
        if (*a)
            return sl_fail(err, SL_E_USAGE, STAGE, "ndjson takes no arguments (got \"%s\")", args);
    }
    nd_reader *r = calloc(1, sizeof *r);
    if (!r)
        return sl_fail(err, SL_E_NOMEM, STAGE, "out of memory");
    st->state = r;
    return SL_OK;
}

static int nd_open(sl_stage *st)
{
    nd_reader *r = st->state;
    sl_run *run = st->run;
    const sl_options *o = &run->opt;
    r->run = run;
    r->use_jansson = o->json_parser == SL_JSONP_JANSSON;
    r->max_line = o->max_record_bytes ? o->max_record_bytes : DEFAULT_MAX_RECORD;
    if (r->max_line > MAX_RECORD_CAP)
        r->max_line = MAX_RECORD_CAP;
    r->max_fields = o->max_fields ? o->max_fields : UINT32_MAX;
    r->cap_max = r->max_line + 2 > BUF_INITIAL ? (size_t)r->max_line + 2 : BUF_INITIAL;
    r->cap = BUF_INITIAL;
    r->buf = malloc(r->cap);
    if (!r->buf)
        return sl_fail(&run->err, SL_E_NOMEM, STAGE, "out of memory");
    uint32_t rows = o->batch_rows ? o->batch_rows : DEFAULT_BATCH_ROWS;
    /* a batch's arena holds values from one buffer's worth of lines; a
       decoded value never outgrows its text by more than its 8-byte alignment */
    if (sl_batch_init(&r->b, rows, 8, 2 * r->cap_max + (1u << 20)) < 0)
        return sl_fail(&run->err, SL_E_NOMEM, STAGE, "out of memory");
    r->b_ready = 1;
    if (sl_json_scan_init(&r->js, o->max_depth, r->max_fields, SL_JSON_CALLER_CHECKS_TOP_DUPS) < 0)
        return sl_fail(&run->err, SL_E_NOMEM, STAGE, "out of memory");
    r->js_ready = 1;
    if (run->ninputs == 0) {
        r->done = 1;
        return SL_OK;
    }
    r->in = 0;
    return open_input(r);
}

static inline int is_blank(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
            return 0;
    return 1;
}

static int nd_next(sl_stage *st, sl_batch **out)
{
    nd_reader *r = st->state;
    sl_batch *b = &r->b;
    int rc;
    if (r->done)
        return SL_DONE;
    if (r->next) {
        if ((rc = set_schema(r, r->next)) < 0) {
            r->next = NULL;
            return sl_fail(&r->run->err, SL_E_NOMEM, STAGE, "out of memory");
        }
        r->next = NULL;
    }
    if ((rc = sl_batch_reset(b, r->cur, r->cur ? r->cur->ncols : 1)) < 0)
        return sl_fail(&r->run->err, rc, STAGE, "out of memory for a batch");
    *out = b;

    for (;;) {
        if (b->nrows >= b->cap_rows)
            return SL_BATCH;

        /* the next complete line */
        char *ls = r->buf + r->pos;
        size_t avail = r->len - r->pos;
        char *nl = memchr(ls, '\n', avail);
        size_t raw, used;
        if (nl) {
            raw = (size_t)(nl - ls);
            used = raw + 1;
        } else if (!r->eof) {
            if (avail >= r->max_line + 2)
                return too_long(r);
            if (b->nrows > 0)
                return SL_BATCH; /* its cells point into the buffer */
            if ((rc = refill(r)) < 0)
                return rc;
            continue;
        } else if (avail == 0) {
            rc = next_input(r);
            if (rc < 0)
                return rc;
            if (rc == 1) {
                r->done = 1;
                return b->nrows > 0 ? SL_BATCH : SL_DONE;
            }
            continue;
        } else {
            raw = used = avail; /* the last line has no newline */
        }
        size_t n = raw;
        if (n && ls[n - 1] == '\r')
            n--;
        if (n > r->max_line)
            return too_long(r);
        const char *text = ls;
        if (r->line_no == 0 && n >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
            text += 3;
            n -= 3;
        }
        if ((n == 0 || *text != '{') && is_blank(text, n)) {
            r->line_no++;
            r->pos += used;
            continue;
        }

        uint32_t row = b->nrows;
    scan:
        rc = r->use_jansson ? sl_json_scan_object_jansson(&r->js, text, n, &b->arena)
                            : sl_json_scan_object(&r->js, text, n, &b->arena);
        if (rc == SL_E_NOMEM) {
            if (b->nrows > 0)
                return SL_BATCH; /* try again in an empty arena */
            sl_fail(&r->run->err, SL_E_NOMEM, STAGE, "out of memory for the values of a record");
            sl_error_at(&r->run->err, input_name(r), r->line_no + 1, 0, r->rec_no + 1);
            return SL_E_NOMEM;
        }
        if (rc == SL_OK) {
            /* --max-field-bytes holds for NDJSON values too (the line is
               bounded by --max-record-bytes) */
            uint64_t maxf = r->run->opt.max_field_bytes ? r->run->opt.max_field_bytes : UINT64_MAX;
            for (uint32_t i = 0; i < r->js.nfields; i++) {
                const sl_json_field *f = &r->js.fields[i];
                if (f->val.len > maxf) {
                    snprintf(r->js.msg, sizeof r->js.msg,
                             "value of '%.*s' is longer than %llu bytes (limit --max-field-bytes)",
                             f->key_len > 64 ? 64 : (int)f->key_len, f->key, (unsigned long long)maxf);
                    rc = SL_E_DATA;
                    break;
                }
            }
        }
        int placed = rc == SL_OK ? place(r, row) : BAD;
        if (placed == NEW_KEYS) {
            sl_schema *ns = union_schema(r);
            if (!ns)
                return sl_fail(&r->run->err, SL_E_NOMEM, STAGE, "out of memory");
            if (b->nrows > 0) {
                r->next = ns; /* this line opens the next batch */
                return SL_BATCH;
            }
            /* nothing to hand out yet: switch now; the reset empties the
               arena, so scan the line again */
            if ((rc = set_schema(r, ns)) < 0)
                return sl_fail(&r->run->err, SL_E_NOMEM, STAGE, "out of memory");
            if ((rc = sl_batch_reset(b, r->cur, r->cur->ncols)) < 0)
                return sl_fail(&r->run->err, rc, STAGE, "out of memory for a batch");
            goto scan;
        }

        /* the line is consumed, good or bad */
        sl_rowinfo *info = &b->info[row];
        info->line = ++r->line_no;
        info->offset = r->base + r->pos;
        info->record = ++r->rec_no;
        info->input = (uint32_t)r->in;
        info->len = raw > UINT32_MAX ? 0 : (uint32_t)raw;
        info->raw = info->len ? ls : NULL; /* in the buffer: valid with the batch */
        r->pos += used;
        r->run->inputs[r->in].records++;
        if (placed == BAD) {
            if ((rc = sl_run_bad_record(r->run, b, row, STAGE, "%s", r->js.msg)) < 0)
                return rc;
            continue;
        }
        b->nrows++;
    }
}

static void nd_close(sl_stage *st)
{
    nd_reader *r = st->state;
    if (!r)
        return;
    if (r->src)
        sl_source_close(r->src);
    if (r->b_ready)
        sl_batch_fini(&r->b);
    if (r->js_ready)
        sl_json_scan_fini(&r->js);
    if (r->cur)
        sl_schema_unref(r->cur);
    if (r->next)
        sl_schema_unref(r->next);
    free(r->slots);
    free(r->stamp);
    free(r->un_names);
    free(r->un_lens);
    free(r->buf);
    free(r);
    st->state = NULL;
}

const sl_stage_type sl_ndjson_reader_type = {
    .name = "ndjson",
    .usage = "ndjson",
    .summary = "read newline-delimited JSON objects",
    .help = "Reads one JSON object per line (NDJSON, JSON Lines) from the inputs, one after the\n"
            "other.  Blank lines are skipped, a UTF-8 byte order mark and CRLF line ends are\n"
            "accepted.  A record's keys make its schema: records with fewer keys get absent\n"
            "values, a record with new keys starts a new batch whose schema adds them.\n"
            "Strings, numbers (kept as written), booleans and null become values; nested\n"
            "objects and arrays are kept as compact JSON text.  A line that is not one valid\n"
            "JSON object (strict RFC 8259: valid UTF-8, no duplicate keys, nesting up to\n"
            "--max-depth) is a bad record, handled by --on-error.\n",
    .create = nd_create,
    .open = nd_open,
    .next = nd_next,
    .close = nd_close,
};
