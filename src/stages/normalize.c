/*
 * normalize.c - `normalize FIELD [--zscore]` subtracts the mean of FIELD
 * from it (or, with --zscore, also divides by its sample standard
 * deviation), which takes two passes over the records.
 *
 * Pass 1 reads every record, adds FIELD's value to the statistics (a
 * Neumaier-compensated sum for the mean, Welford's recurrence for the
 * variance) and keeps the record in a spool, in the encoding of
 * stages/record.h.  Pass 2 reads the spool back and writes the records
 * with FIELD replaced.
 *
 * The spool is memory charged to the run's budget (--memory-limit) while
 * the budget lasts; past it, the records go to a temporary file in
 * sl_run_temp_dir() (--temp-dir, $TMPDIR, /tmp), created with mkstemp(),
 * registered with sl_cleanup_add() and unlinked at once, so that no file
 * is left behind however the run ends.  The input is never read twice,
 * even when it is a file: the stages before normalize (filters, maps, the
 * bad-record policy and its reject file) would otherwise run twice, and
 * standard input cannot be read twice at all.
 *
 * Values: an empty (null) FIELD stays null and does not count; a number
 * (CSV text, JSON number, or a JSON string that reads as a number) is
 * replaced by a double in its shortest form; any other text is a bad record
 * (--on-error).  With fewer than two values, or a standard deviation of 0,
 * --zscore gives null.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/cleanup.h"
#include "sluice/run.h"
#include "stages/agg.h"
#include "stages/args.h"
#include "stages/record.h"

#define STAGE "normalize"
#define SPOOL_MIN (64u << 10)
#define FILE_BUF (1u << 20)

typedef struct spool {
    uint8_t *buf;       /* memory records, or the file's write/read buffer */
    size_t len, cap;
    size_t pos;         /* reading: next record at buf[pos] */
    uint64_t charged;   /* budget taken for buf */
    int fd;             /* spill file, -1 while in memory */
    int eof;            /* reading the file: nothing more to read */
    uint64_t file_bytes;
} spool;

typedef struct normalize_state {
    char *field;
    uint32_t field_len;
    int zscore;
    /* statistics */
    uint64_t n;
    double sum, comp;   /* Neumaier */
    double wmean, m2;   /* Welford */
    double mean, sd;    /* results, pass 2 */
    int sd_ok;
    /* schemas of the spooled records, and FIELD's column in each */
    sl_schema_table schemas;
    int32_t *cols;
    uint32_t ncols_cap;
    uint64_t in_id;
    int32_t in_col;
    uint32_t in_idx;
    int bound;
    sl_cell *cells;     /* one record's cells */
    uint32_t cells_cap;
    spool sp;
    /* output */
    sl_batch out;
    int out_init;
    int phase;          /* 0 reading, 1 writing, 2 done */
} normalize_state;

static int normalize_create(sl_stage *st, const char *args, sl_error *err)
{
    normalize_state *s = calloc(1, sizeof *s);
    if (!s)
        return sl_fail(err, SL_E_NOMEM, STAGE, "out of memory");
    st->state = s;
    s->sp.fd = -1;
    const char *p = args ? args : "";
    while (*p) {
        while (isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        if (p[0] == '-' && p[1] == '-') {
            const char *e = p;
            while (*e && !isspace((unsigned char)*e))
                e++;
            if ((size_t)(e - p) == 8 && memcmp(p, "--zscore", 8) == 0)
                s->zscore = 1;
            else
                return sl_fail(err, SL_E_USAGE, STAGE, "unknown option '%.*s' (expected --zscore)", (int)(e - p), p);
            p = e;
            continue;
        }
        if (s->field)
            return sl_fail(err, SL_E_USAGE, STAGE, "expected one field: %s", "normalize FIELD [--zscore]");
        sl_namelist one;
        const char *e = p;
        if (*e == '`' || *e == '"') {
            char q = *e++;
            while (*e && !(*e == q && e[1] != q))
                e += *e == q ? 2 : 1;
            if (*e)
                e++;
        } else {
            while (*e && !isspace((unsigned char)*e))
                e++;
        }
        char *tok = strndup(p, (size_t)(e - p));
        if (!tok)
            return sl_fail(err, SL_E_NOMEM, STAGE, "out of memory");
        int rc = sl_namelist_parse(&one, tok, 0, STAGE, err);
        free(tok);
        if (rc < 0)
            return rc;
        if (one.n != 1) {
            sl_namelist_free(&one);
            return sl_fail(err, SL_E_USAGE, STAGE, "expected one field: %s", "normalize FIELD [--zscore]");
        }
        s->field = one.names[0];
        s->field_len = one.lens[0];
        one.names[0] = NULL;
        sl_namelist_free(&one);
        p = e;
    }
    if (!s->field)
        return sl_fail(err, SL_E_USAGE, STAGE, "expected the field to normalize: %s", "normalize FIELD [--zscore]");
    return SL_OK;
}

static int normalize_open(sl_stage *st)
{
    normalize_state *s = st->state;
    uint32_t rows = st->run->opt.batch_rows ? st->run->opt.batch_rows : 1024;
    if (sl_batch_init(&s->out, rows, 1, 0) < 0) {
        s->out_init = 1;
        return sl_fail(&st->run->err, SL_E_NOMEM, STAGE, "out of memory");
    }
    s->out_init = 1;
    return SL_OK;
}

/* ------------------------------------------------------------------------ */
/* the spool */

static int spill_fail(sl_stage *st, const char *what)
{
    return sl_fail(&st->run->err, SL_E_OUTPUT, STAGE, "%s the spill file in %s: %s (--temp-dir chooses another directory)",
                   what, sl_run_temp_dir(st->run), strerror(errno));
}

static int write_all(sl_stage *st, int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return spill_fail(st, "cannot write");
        }
        p += w;
        n -= (size_t)w;
    }
    return SL_OK;
}

/* Resize the buffer to cap bytes, charging (or giving back) the difference;
   `must` takes the memory even past the budget (a single record larger
   than what is left) and fails only when malloc does. */
static int spool_resize(sl_stage *st, spool *sp, size_t cap, int must)
{
    sl_run *run = st->run;
    if (cap > sp->charged) {
        if (sl_run_mem_take(run, cap - sp->charged) < 0) {
            if (!must)
                return SL_E_NOMEM;
            char lim[32];
            return sl_fail(&run->err, SL_E_NOMEM, STAGE, "a record of %zu bytes does not fit in --memory-limit %s", cap,
                           sl_size_text(run->opt.memory_limit, lim));
        }
    }
    uint8_t *nb = realloc(sp->buf, cap);
    if (!nb) {
        if (cap > sp->charged)
            sl_run_mem_give(run, cap - sp->charged);
        return sl_fail(&run->err, SL_E_NOMEM, STAGE, "out of memory");
    }
    if (cap < sp->charged)
        sl_run_mem_give(run, sp->charged - cap);
    sp->buf = nb;
    sp->cap = cap;
    sp->charged = cap;
    return SL_OK;
}

static int spool_to_file(sl_stage *st, spool *sp)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/sluice-normalize-XXXXXX", sl_run_temp_dir(st->run));
    int fd = mkostemp(path, O_CLOEXEC);
    if (fd < 0)
        return spill_fail(st, "cannot create");
    /* registered while it has a name; unlinked at once: the descriptor keeps
       it readable and nothing is left behind however the process ends */
    sl_cleanup_add(path);
    unlink(path);
    sl_cleanup_remove(path);
    sp->fd = fd;
    int rc = write_all(st, fd, sp->buf, sp->len);
    if (rc < 0)
        return rc;
    sp->file_bytes += sp->len;
    sp->len = 0;
    if (sp->cap > FILE_BUF)
        return spool_resize(st, sp, FILE_BUF, 1);
    return SL_OK;
}

/* Room for n more bytes at sp->buf + sp->len. */
static uint8_t *spool_room(sl_stage *st, spool *sp, size_t n, int *rc)
{
    *rc = SL_OK;
    if (sp->len + n <= sp->cap)
        return sp->buf + sp->len;
    if (sp->fd < 0) {
        size_t cap = sp->cap ? sp->cap : SPOOL_MIN;
        while (cap < sp->len + n)
            cap *= 2;
        if (spool_resize(st, sp, cap, 0) == SL_OK)
            return sp->buf + sp->len;
        if ((*rc = spool_to_file(st, sp)) < 0)
            return NULL;
    } else if (sp->len) {
        if ((*rc = write_all(st, sp->fd, sp->buf, sp->len)) < 0)
            return NULL;
        sp->file_bytes += sp->len;
        sp->len = 0;
    }
    if (n > sp->cap && (*rc = spool_resize(st, sp, n, 1)) < 0)
        return NULL;
    return sp->buf;
}

/* Switch from writing to reading. */
static int spool_rewind(sl_stage *st, spool *sp)
{
    sp->pos = 0;
    if (sp->fd < 0)
        return SL_OK;
    int rc = write_all(st, sp->fd, sp->buf, sp->len);
    if (rc < 0)
        return rc;
    sp->file_bytes += sp->len;
    sp->len = 0;
    if (lseek(sp->fd, 0, SEEK_SET) < 0)
        return spill_fail(st, "cannot rewind");
    return SL_OK;
}

/* Reading the file: keep buf[pos..len), read more after it.  Returns 1 if
   bytes came, 0 at the end, or negative. */
static int spool_refill(sl_stage *st, spool *sp, size_t need)
{
    if (sp->fd < 0 || sp->eof)
        return 0;
    if (sp->pos > 0) {
        memmove(sp->buf, sp->buf + sp->pos, sp->len - sp->pos);
        sp->len -= sp->pos;
        sp->pos = 0;
    }
    if (need > sp->cap) {
        int rc = spool_resize(st, sp, need, 1);
        if (rc < 0)
            return rc;
    }
    for (;;) {
        ssize_t r = read(sp->fd, sp->buf + sp->len, sp->cap - sp->len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return spill_fail(st, "cannot read");
        if (r == 0) {
            sp->eof = 1;
            return 0;
        }
        sp->len += (size_t)r;
        return 1;
    }
}

static void spool_fini(sl_stage *st, spool *sp)
{
    if (sp->fd >= 0)
        close(sp->fd);
    sp->fd = -1;
    free(sp->buf);
    sp->buf = NULL;
    if (sp->charged && st->run)
        sl_run_mem_give(st->run, sp->charged);
    sp->charged = sp->cap = sp->len = 0;
}

/* ------------------------------------------------------------------------ */
/* pass 1 */

static int grow_cells(sl_stage *st, normalize_state *s, uint32_t n)
{
    if (n <= s->cells_cap)
        return SL_OK;
    sl_cell *c = realloc(s->cells, (size_t)n * sizeof *c);
    if (!c)
        return sl_fail(&st->run->err, SL_E_NOMEM, STAGE, "out of memory");
    s->cells = c;
    s->cells_cap = n;
    return SL_OK;
}

static int bind(sl_stage *st, normalize_state *s, sl_schema *in)
{
    int added = 0;
    uint32_t idx;
    if (sl_schema_table_add(&s->schemas, in, &idx, &added) < 0)
        return sl_fail(&st->run->err, SL_E_NOMEM, STAGE, "out of memory");
    int col = sl_schema_find(in, s->field, s->field_len);
    if (col < 0 && !in->open)
        return sl_fail_no_field(&st->run->err, STAGE, s->field, in);
    if (idx >= s->ncols_cap) {
        uint32_t cap = s->ncols_cap ? s->ncols_cap * 2 : 8;
        while (cap <= idx)
            cap *= 2;
        int32_t *nc = realloc(s->cols, cap * sizeof *nc);
        if (!nc)
            return sl_fail(&st->run->err, SL_E_NOMEM, STAGE, "out of memory");
        s->cols = nc;
        s->ncols_cap = cap;
    }
    s->cols[idx] = col;
    s->in_id = in->id;
    s->in_col = col;
    s->in_idx = idx;
    s->bound = 1;
    return grow_cells(st, s, in->ncols);
}

static int take(sl_stage *st, normalize_state *s, sl_batch *b)
{
    int rc;
    if ((!s->bound || b->schema->id != s->in_id) && (rc = bind(st, s, b->schema)) < 0)
        return rc;
    uint32_t live = sl_batch_live(b), ncols = b->schema->ncols;
    for (uint32_t i = 0; i < live; i++) {
        uint32_t row = sl_batch_row(b, i);
        if (s->in_col >= 0) {
            sl_agg_in v;
            sl_agg_in_of_batch(b, row, (uint32_t)s->in_col, SL_AGG_READ_NUM, &v);
            if (v.t == SL_AIN_BAD) {
                int n = v.len > 40 ? 40 : (int)v.len;
                if ((rc = sl_run_bad_record(st->run, b, row, STAGE, "%s: \"%.*s%s\" is not a number (expected a number, or "
                                            "an empty value, which stays empty)", s->field, n, v.s, v.len > 40 ? "..." : "")) < 0)
                    return rc;
                continue;
            }
            if (v.t != SL_AIN_NULL) {
                double x = v.t == SL_AIN_INT ? (double)v.n.i : v.n.d;
                s->n++;
                sl_agg_neumaier(&s->sum, &s->comp, x);
                double d = x - s->wmean;
                s->wmean += d / (double)s->n;
                s->m2 += d * (x - s->wmean);
            }
        }
        sl_record_gather(b, row, s->cells);
        sl_rowinfo info = b->info ? b->info[row] : (sl_rowinfo){0};
        size_t need = sl_record_size(s->in_idx, &info, s->cells, ncols);
        uint8_t *dst = spool_room(st, &s->sp, need, &rc);
        if (!dst)
            return rc;
        s->sp.len += sl_record_encode(dst, s->in_idx, &info, s->cells, ncols);
    }
    return SL_OK;
}

/* ------------------------------------------------------------------------ */
/* pass 2 */

static int corrupt(sl_stage *st)
{
    return sl_fail(&st->run->err, SL_E_INTERNAL, STAGE, "the spooled records are corrupt");
}

static int emit(sl_stage *st, normalize_state *s, sl_batch **outp)
{
    spool *sp = &s->sp;
    sl_batch *out = &s->out;
    int have_schema = 0;
    uint32_t cur = 0;
    int rc;
    out->nrows = 0;
    for (;;) {
        int64_t total = sl_record_total(sp->buf + sp->pos, sp->len - sp->pos);
        if (total < 0)
            return corrupt(st);
        if (total == 0 || (uint64_t)total > sp->len - sp->pos) {
            if (sp->fd < 0 || sp->eof) {
                if (sp->pos < sp->len)
                    return corrupt(st);
                break;
            }
            if (out->nrows)
                break; /* hand out what points into the buffer first */
            if ((rc = spool_refill(st, sp, total > 0 ? (size_t)total : 0)) < 0)
                return rc;
            continue;
        }
        sl_record_view v;
        const uint8_t *rec = sp->buf + sp->pos;
        int d = sl_record_decode(rec, (size_t)total, &v, s->cells, s->cells_cap);
        if (d == -2) {
            if ((rc = grow_cells(st, s, v.ncells)) < 0)
                return rc;
            d = sl_record_decode(rec, (size_t)total, &v, s->cells, s->cells_cap);
        }
        if (d < 0 || v.schema >= s->schemas.n)
            return corrupt(st);
        if (!have_schema) {
            sl_schema *sch = s->schemas.s[v.schema];
            if (sl_batch_reset(out, sch, sch->ncols ? sch->ncols : 1) < 0)
                return sl_fail(&st->run->err, SL_E_NOMEM, STAGE, "out of memory");
            cur = v.schema;
            have_schema = 1;
        } else if (v.schema != cur || out->nrows == out->cap_rows) {
            break;
        }
        sp->pos += (size_t)total;
        uint32_t k = out->nrows++;
        sl_cell *dst = &out->cells[(size_t)k * out->stride];
        memcpy(dst, s->cells, (size_t)v.ncells * sizeof *dst);
        out->info[k] = v.info;
        int32_t col = s->cols[cur];
        if (col >= 0 && (uint32_t)col < v.ncells) {
            sl_agg_in x;
            sl_agg_in_of_cell(&dst[col], SL_AGG_READ_NUM, &x);
            if (x.t == SL_AIN_INT || x.t == SL_AIN_DBL) {
                double y = (x.t == SL_AIN_INT ? (double)x.n.i : x.n.d) - s->mean;
                if (s->zscore)
                    y = s->sd_ok ? y / s->sd : NAN;
                if (!isfinite(y)) {
                    dst[col] = (sl_cell){NULL, 0, SL_NULL, {0}};
                } else {
                    char *buf = sl_arena_alloc(&out->arena, 40);
                    if (!buf)
                        return sl_fail(&st->run->err, SL_E_NOMEM, STAGE, "out of memory");
                    dst[col] = (sl_cell){buf, (uint32_t)sl_num_format_double(y, buf), SL_NUMBER, {0}};
                }
            }
        }
    }
    if (out->nrows == 0)
        return SL_DONE;
    *outp = out;
    return SL_BATCH;
}

static int normalize_next(sl_stage *st, sl_batch **outp)
{
    normalize_state *s = st->state;
    int rc;
    if (s->phase == 0) {
        for (;;) {
            sl_batch *b;
            rc = sl_stage_next(st->input, &b);
            if (rc < 0)
                return rc;
            if (rc == SL_DONE)
                break;
            if ((rc = take(st, s, b)) < 0)
                return rc;
        }
        if (s->n > 0)
            s->mean = (s->sum + s->comp) / (double)s->n;
        if (s->n > 1) {
            s->sd = sqrt(s->m2 / (double)(s->n - 1));
            s->sd_ok = s->sd > 0 && isfinite(s->sd);
        }
        if ((rc = spool_rewind(st, &s->sp)) < 0)
            return rc;
        s->phase = 1;
    }
    if (s->phase == 1) {
        rc = emit(st, s, outp);
        if (rc != SL_DONE)
            return rc;
        s->phase = 2;
        spool_fini(st, &s->sp);
    }
    return SL_DONE;
}

static void normalize_close(sl_stage *st)
{
    normalize_state *s = st->state;
    if (!s)
        return;
    spool_fini(st, &s->sp);
    sl_schema_table_fini(&s->schemas);
    free(s->cols);
    free(s->cells);
    free(s->field);
    if (s->out_init)
        sl_batch_fini(&s->out);
    free(s);
    st->state = NULL;
}

const sl_stage_type sl_normalize_stage_type = {
    .name = "normalize",
    .usage = "normalize FIELD [--zscore]",
    .summary = "subtract the mean of FIELD (or z-score it): two passes",
    .help = "Replaces FIELD by its value minus the mean of FIELD over all records;\n"
            "with --zscore, also divided by the sample standard deviation (n - 1).\n"
            "Empty values stay empty and do not count; text that is not a number is a\n"
            "bad record.  The records are held until the mean is known: in memory\n"
            "under --memory-limit, then in a temporary file in --temp-dir that is\n"
            "removed however the run ends.\n"
            "\n"
            "  normalize temperature\n"
            "  normalize latency --zscore\n",
    .create = normalize_create,
    .open = normalize_open,
    .next = normalize_next,
    .close = normalize_close,
    .schema = sl_stage_schema_input,
};
