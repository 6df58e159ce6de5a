/*
 * sort.c - `sort KEYS`: a stable external merge sort under the run's memory
 * budget (--memory-limit, shared with every other stage that holds records).
 *
 * Reading.  Each record is copied, in the encoding of stages/record.h, into
 * chunks this stage owns; its entry, in an array, holds its parsed sort
 * keys (sortkey.h: a number is parsed once per record, not once per
 * comparison; text keeps an 8-byte prefix) and the record's address.
 * Every byte of the chunks and of the entry arrays is charged to the budget
 * before it is allocated.  When the budget is spent, the entries are sorted
 * (a stable bottom-up merge sort that moves the entries themselves, so that
 * comparisons read memory in sequence instead of chasing pointers) and the
 * records written in order to a run file; the chunks are then reused.
 *
 * Run files.  Each run file is the records' encoding back to back, exactly
 * as in memory (record.h: varint length, schema index, input/line/record/
 * offset, then (len << 3 | kind) per cell and the cells' bytes), without the
 * keys, which are parsed again when the file is read.  A run file is created
 * with mkstemp() in sl_run_temp_dir() (--temp-dir, $TMPDIR, /tmp), named
 * sluice-sort-XXXXXX, registered with sl_cleanup_add() and unlinked at once
 * (with SIGINT, SIGTERM and SIGHUP blocked for those few instructions): the
 * open descriptor keeps it readable, and no file is left behind however the
 * process ends (a signal, a crash, the OOM killer, SIGKILL).  The space
 * comes back when the run is merged and its descriptor closed, or at close.
 *
 * Merging.  Runs are merged k ways with a binary heap of cursors, each
 * cursor reading its file through a buffer charged to the budget (the
 * chunks are freed first; the last merge, which runs while the stages
 * after the sort do, takes at most half of what is free, 4 KiB to 1 MiB
 * per cursor).  Ties between cursors go to the older run, and
 * inside a run the order is the input order, so the sort is stable.  The
 * fan-in k is what the budget allows at 32 KiB per cursor (at most 128).
 * Run files are kept in levels: when the newest k runs share a level they
 * are merged at once into one run of the next level, so the number of open
 * files stays small and each record is rewritten about log_k(runs) times.
 * The last merge feeds the output batches directly.
 *
 * Limits.  A record whose copy does not fit in the budget even with the
 * buffer empty is an error that says so, with the record's position.  A
 * full disk is an output error naming the spill directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/cleanup.h"
#include "sluice/run.h"
#include "stages/record.h"
#include "stages/sortkey.h"

#define STAGE "sort"
#define CHUNK_MIN (64u << 10)
#define CHUNK_MAX (1u << 20)
#define WBUF_MIN (16u << 10)
#define WBUF_MAX (256u << 10)
#define RBUF_MIN (4u << 10)
#define RBUF_GOOD (32u << 10)
#define RBUF_MAX (1u << 20)
#define FANIN_MAX 128

typedef struct spill_run {
    int fd;
    uint64_t bytes;
    uint32_t level;
} spill_run;

typedef struct cursor {
    spill_run run;
    uint32_t age;         /* position among the runs being merged: older first */
    uint64_t off;         /* file offset of buf[len] */
    uint8_t *buf;
    size_t cap, pos, len; /* unread bytes are buf[pos..len) */
    int eof;
    size_t rec_len;       /* the current record is buf[pos..pos+rec_len) */
    sl_record_view view;
    sl_cell *cells;
    uint32_t cells_cap;
    sl_sortkey *keys;
} cursor;

typedef struct merger {
    cursor *c;
    uint32_t n;
    uint32_t *heap;       /* indexes into c; heap[0] is the smallest */
    uint32_t nheap;
} merger;

enum { PH_INPUT = 0, PH_MEMORY, PH_MERGE, PH_DONE };

typedef struct sort_state {
    sl_sortspec spec;
    uint32_t nkeys;
    size_t keybytes;       /* nkeys * sizeof(sl_sortkey) */
    size_t esz;            /* an entry: the keys, then the record's address */
    sl_schema_table schemas;
    int32_t *cols;         /* nkeys per schema index */
    uint32_t cols_n;
    uint64_t held;         /* bytes this stage holds from the budget */
    /* the buffer */
    sl_budget_arena recs;  /* the records, keys first */
    uint8_t *ent, *aux;    /* n entries of esz bytes, and room to sort them */
    uint8_t *tmp;          /* one entry */
    size_t n, cap;
    sl_cell *scratch;
    uint32_t scratch_cap;
    /* run files */
    uint8_t *wbuf;
    size_t wlen, wcap;
    spill_run *runs;
    uint32_t nruns, runs_cap;
    uint64_t spilled;      /* bytes written to run files, for messages */
    /* output */
    int phase;
    size_t pos;
    merger m;
    sl_batch out;
    int out_init;
} sort_state;

/* ---- the budget ---- */

static int take(sl_stage *st, sort_state *s, uint64_t n)
{
    if (sl_run_mem_take(st->run, n) < 0)
        return SL_E_NOMEM;
    s->held += n;
    return SL_OK;
}

static void give(sl_stage *st, sort_state *s, uint64_t n)
{
    sl_run_mem_give(st->run, n);
    s->held -= n;
}

static uint64_t budget_free(const sl_run *run)
{
    return run->opt.memory_limit > run->mem_used ? run->opt.memory_limit - run->mem_used : 0;
}

static int fail_budget(sl_stage *st, const char *what, uint64_t need)
{
    char lim[32], fr[32];
    return sl_fail(&st->run->err, SL_E_NOMEM, STAGE, "%s needs %llu bytes, more than --memory-limit %s leaves free (%s); "
                   "raise --memory-limit", what, (unsigned long long)need, sl_size_text(st->run->opt.memory_limit, lim),
                   sl_size_text(budget_free(st->run), fr));
}

/* ---- the in-memory buffer ---- */

/* Room for one more entry: SL_OK, SL_E_NOMEM (budget), or an error. */
static int ent_reserve(sl_stage *st, sort_state *s)
{
    if (s->n < s->cap)
        return SL_OK;
    size_t ncap = s->cap + (s->cap / 2 > 1024 ? s->cap / 2 : 1024);
    uint64_t bytes = (uint64_t)(ncap - s->cap) * 2 * s->esz;
    if (take(st, s, bytes) < 0)
        return SL_E_NOMEM;
    uint8_t *e = realloc(s->ent, ncap * s->esz);
    if (e)
        s->ent = e;
    uint8_t *a = realloc(s->aux, ncap * s->esz);
    if (a)
        s->aux = a;
    if (!e || !a) {
        give(st, s, bytes);
        return sl_fail(&st->run->err, SL_E_NOMEM, STAGE, "out of memory");
    }
    s->cap = ncap;
    return SL_OK;
}

static void ent_free(sl_stage *st, sort_state *s)
{
    free(s->ent);
    free(s->aux);
    s->ent = s->aux = NULL;
    give(st, s, (uint64_t)s->cap * 2 * s->esz);
    s->cap = s->n = 0;
}

/* Length of a kept record (its first varint ends within 10 bytes, and the
   read stops there). */
static inline size_t rec_len(const uint8_t *rec) { return (size_t)sl_record_total(rec, 10); }

/* Its schema index: the varint after the length. */
static inline uint32_t rec_schema(const uint8_t *rec)
{
    uint64_t body, sidx = 0;
    size_t k = sl_varint_get(rec, rec + 10, &body);
    sl_varint_get(rec + k, rec + k + 10, &sidx);
    return (uint32_t)sidx;
}

/* The record of an entry. */
static inline const uint8_t *ent_rec(const sort_state *s, const uint8_t *e)
{
    const uint8_t *p;
    memcpy(&p, e + s->keybytes, sizeof p);
    return p;
}

static inline __attribute__((always_inline)) int ent_cmp(const sort_state *s, const uint8_t *a, const uint8_t *b)
{
    return sl_sortkey_cmp((const sl_sortkey *)a, (const sl_sortkey *)b, s->spec.desc, s->nkeys);
}

/* Copy one entry: a few words (esz is a multiple of 8), inline. */
static inline void ent_copy(uint8_t *d, const uint8_t *src, size_t e)
{
    for (size_t i = 0; i < e; i += 8) {
        uint64_t w;
        memcpy(&w, src + i, 8);
        memcpy(d + i, &w, 8);
    }
}

/* Stable sort of the n entries: insertion sort of runs of 16, then
   bottom-up merges between ent and aux.  The keys are inside the entries,
   so every pass reads and writes memory in sequence; only text keys longer
   than 8 bytes that tie on their prefix look at the record. */
static void ent_sort(sort_state *s)
{
    const size_t n = s->n, e = s->esz;
    uint8_t *a = s->ent, *b = s->aux, *x = s->tmp;
    const size_t RUN = 16;
    for (size_t lo = 0; lo < n; lo += RUN) {
        size_t hi = lo + RUN < n ? lo + RUN : n;
        for (size_t i = lo + 1; i < hi; i++) {
            if (ent_cmp(s, a + (i - 1) * e, a + i * e) <= 0)
                continue;
            ent_copy(x, a + i * e, e);
            size_t j = i;
            while (j > lo && ent_cmp(s, a + (j - 1) * e, x) > 0) {
                ent_copy(a + j * e, a + (j - 1) * e, e);
                j--;
            }
            ent_copy(a + j * e, x, e);
        }
    }
    for (size_t w = RUN; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            if (mid == hi || ent_cmp(s, a + (mid - 1) * e, a + mid * e) <= 0) {
                memcpy(b + lo * e, a + lo * e, (hi - lo) * e); /* already in order */
                continue;
            }
            const uint8_t *i = a + lo * e, *iend = a + mid * e, *j = iend, *jend = a + hi * e;
            uint8_t *k = b + lo * e;
            while (i < iend && j < jend) {
                if (ent_cmp(s, j, i) < 0) {
                    ent_copy(k, j, e);
                    j += e;
                } else {
                    ent_copy(k, i, e);
                    i += e;
                }
                k += e;
            }
            memcpy(k, i, (size_t)(iend - i));
            k += iend - i;
            memcpy(k, j, (size_t)(jend - j));
        }
        uint8_t *t = a;
        a = b;
        b = t;
    }
    if (a != s->ent)
        memcpy(s->ent, a, n * e);
}

/* ---- run files ---- */

static int write_all(sl_stage *st, sort_state *s, int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            int e = k < 0 ? errno : ENOSPC;
            return sl_fail(&st->run->err, SL_E_OUTPUT, STAGE, "writing a spill file in %s: %s (%llu bytes spilled so far; "
                           "--temp-dir chooses another directory)", sl_run_temp_dir(st->run), strerror(e),
                           (unsigned long long)s->spilled);
        }
        p += k;
        n -= (size_t)k;
        s->spilled += (uint64_t)k;
    }
    return SL_OK;
}

static int wbuf_flush(sl_stage *st, sort_state *s, int fd)
{
    int rc = write_all(st, s, fd, s->wbuf, s->wlen);
    s->wlen = 0;
    return rc;
}

static int wbuf_put(sl_stage *st, sort_state *s, int fd, const uint8_t *p, size_t n)
{
    if (s->wlen + n > s->wcap) {
        int rc = wbuf_flush(st, s, fd);
        if (rc < 0)
            return rc;
        if (n >= s->wcap)
            return write_all(st, s, fd, p, n);
    }
    memcpy(s->wbuf + s->wlen, p, n);
    s->wlen += n;
    return SL_OK;
}

/* A new, already unlinked, run file. */
static int run_create(sl_stage *st, int *fd)
{
    const char *dir = sl_run_temp_dir(st->run);
    char path[4096];
    int k = snprintf(path, sizeof path, "%s/sluice-sort-XXXXXX", dir);
    if (k < 0 || (size_t)k >= sizeof path)
        return sl_fail(&st->run->err, SL_E_OUTPUT, STAGE, "the spill directory name is too long: %s", dir);
    /* The signals that end the run (main.c's handler) wait while the file
       has a name: a SIGTERM that lands between the creation and the unlink
       (a process is often descheduled right at the end of open()) would
       otherwise leave the file behind. */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGHUP);
    sigprocmask(SIG_BLOCK, &block, &old);
    *fd = mkstemp(path);
    int e = errno;
    if (*fd >= 0) {
        /* registered too, for whatever else may end the process here */
        int reg = sl_cleanup_add(path) == 0;
        unlink(path);
        if (reg)
            sl_cleanup_remove(path);
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (*fd < 0)
        return sl_fail(&st->run->err, SL_E_OUTPUT, STAGE, "cannot create a spill file in %s: %s (--temp-dir or TMPDIR "
                       "chooses the directory)", dir, strerror(e));
    return SL_OK;
}

static int runs_push(sl_stage *st, sort_state *s, spill_run r)
{
    if (s->nruns == s->runs_cap) {
        uint32_t cap = s->runs_cap ? s->runs_cap * 2 : 16;
        spill_run *nr = realloc(s->runs, cap * sizeof *nr);
        if (!nr) {
            close(r.fd);
            return sl_fail(&st->run->err, SL_E_NOMEM, STAGE, "out of memory");
        }
        s->runs = nr;
        s->runs_cap = cap;
    }
    s->runs[s->nruns++] = r;
    return SL_OK;
}

/* ---- merging ---- */

static int cursor_read(sl_stage *st, cursor *c)
{
    for (;;) {
        ssize_t k = pread(c->run.fd, c->buf + c->len, c->cap - c->len, (off_t)c->off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return sl_fail(&st->run->err, SL_E_INPUT, STAGE, "reading a spill file in %s: %s", sl_run_temp_dir(st->run),
                           strerror(errno));
        if (k == 0)
            c->eof = 1;
        c->off += (uint64_t)k;
        c->len += (size_t)k;
        return SL_OK;
    }
}

/* A spill file that does not read back as it was written: a bug, a failing
   disk, or something else writing to the temporary directory.  Says where. */
static int fail_corrupt(sl_stage *st, const cursor *c, const char *what)
{
    return sl_fail(&st->run->err, SL_E_INTERNAL, STAGE, "a spill file in %s is corrupt: %s at byte %llu of a run of "
                   "%llu bytes", sl_run_temp_dir(st->run), what, (unsigned long long)(c->off - c->len + c->pos),
                   (unsigned long long)c->run.bytes);
}

/* Make the next record of c current: 1, 0 at its end, or an error. */
static int cursor_next(sl_stage *st, sort_state *s, cursor *c)
{
    c->pos += c->rec_len;
    c->rec_len = 0;
    for (;;) {
        int64_t t = sl_record_total(c->buf + c->pos, c->len - c->pos);
        if (t < 0)
            return fail_corrupt(st, c, "bad record length");
        if (t > 0 && (uint64_t)t <= c->len - c->pos) {
            const uint8_t *rec = c->buf + c->pos;
            int rc;
            while ((rc = sl_record_decode(rec, (size_t)t, &c->view, c->cells, c->cells_cap)) == -2) {
                uint32_t ncap = c->view.ncells;
                sl_cell *nc = realloc(c->cells, (ncap ? ncap : 1) * sizeof *nc);
                if (!nc)
                    return sl_fail(&st->run->err, SL_E_NOMEM, STAGE, "out of memory");
                c->cells = nc;
                c->cells_cap = ncap;
            }
            if (rc < 0 || c->view.schema >= s->schemas.n || c->view.ncells != s->schemas.s[c->view.schema]->ncols)
                return fail_corrupt(st, c, "bad record");
            sl_sortkeys_of_cells(c->cells, s->cols + (size_t)c->view.schema * s->nkeys, s->nkeys, c->keys);
            c->rec_len = (size_t)t;
            return 1;
        }
        if (c->eof) {
            if (c->len > c->pos)
                return fail_corrupt(st, c, "it ends inside a record");
            /* a run cut short at a record boundary reads as fewer records:
               only its length tells */
            if (c->off != c->run.bytes)
                return fail_corrupt(st, c, c->off < c->run.bytes ? "it ends early" : "it is longer than was written");
            return 0;
        }
        if (c->pos) {
            memmove(c->buf, c->buf + c->pos, c->len - c->pos);
            c->len -= c->pos;
            c->pos = 0;
        }
        if (t > 0 && (uint64_t)t > c->cap) {
            /* a record longer than the buffer: grow the buffer to hold it */
            size_t ncap = (size_t)t;
            if (take(st, s, ncap - c->cap) < 0)
                return fail_budget(st, "merging a record of a spill file", (uint64_t)t);
            uint8_t *nb = realloc(c->buf, ncap);
            if (!nb) {
                give(st, s, ncap - c->cap);
                return sl_fail(&st->run->err, SL_E_NOMEM, STAGE, "out of memory");
            }
            c->buf = nb;
            c->cap = ncap;
        }
        int rc = cursor_read(st, c);
        if (rc < 0)
            return rc;
    }
}

static inline int cur_less(const sort_state *s, const cursor *a, const cursor *b)
{
    int c = sl_sortkey_cmp(a->keys, b->keys, s->spec.desc, s->nkeys);
    return c < 0 || (c == 0 && a->age < b->age);
}

static void heap_down(sort_state *s, merger *m, uint32_t i)
{
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, best = i;
        if (l < m->nheap && cur_less(s, &m->c[m->heap[l]], &m->c[m->heap[best]]))
            best = l;
        if (r < m->nheap && cur_less(s, &m->c[m->heap[r]], &m->c[m->heap[best]]))
            best = r;
        if (best == i)
            return;
        uint32_t t = m->heap[i];
        m->heap[i] = m->heap[best];
        m->heap[best] = t;
        i = best;
    }
}

static void cursor_close(sl_stage *st, sort_state *s, cursor *c)
{
    if (c->run.fd >= 0)
        close(c->run.fd);
    c->run.fd = -1;
    if (c->buf) {
        free(c->buf);
        give(st, s, c->cap);
    }
    c->buf = NULL;
    c->cap = 0;
    free(c->cells);
    free(c->keys);
    c->cells = NULL;
    c->keys = NULL;
}

static void merger_free(sl_stage *st, sort_state *s, merger *m)
{
    for (uint32_t i = 0; i < m->n; i++)
        cursor_close(st, s, &m->c[i]);
    free(m->c);
    free(m->heap);
    memset(m, 0, sizeof *m);
}

/* Cursors over runs[from..from+k), which this takes over (their entries in
   s->runs are removed by the caller).  The read buffers share 1/share of
   the free budget: the last merge leaves half of it to the stages after
   the sort, which run while it does. */
static int merger_open(sl_stage *st, sort_state *s, merger *m, uint32_t from, uint32_t k, uint32_t share)
{
    memset(m, 0, sizeof *m);
    m->c = calloc(k, sizeof *m->c);
    m->heap = calloc(k, sizeof *m->heap);
    if (!m->c || !m->heap)
        return sl_fail(&st->run->err, SL_E_NOMEM, STAGE, "out of memory");
    uint64_t per = budget_free(st->run) / share / k;
    if (per > RBUF_MAX)
        per = RBUF_MAX;
    if (per < RBUF_MIN)
        per = RBUF_MIN;
    per &= ~(uint64_t)7;
    for (uint32_t i = 0; i < k; i++) {
        cursor *c = &m->c[i];
        c->run = s->runs[from + i];
        s->runs[from + i].fd = -1;
        c->age = i;
        m->n++;
        if (take(st, s, per) < 0) {
            char lim[32];
            return sl_fail(&st->run->err, SL_E_NOMEM, STAGE, "--memory-limit %s leaves too little memory to merge %u spill "
                           "files (%llu bytes each); raise --memory-limit", sl_size_text(st->run->opt.memory_limit, lim),
                           k, (unsigned long long)per);
        }
        c->buf = malloc(per);
        c->keys = calloc(s->nkeys, sizeof *c->keys);
        if (!c->buf || !c->keys) {
            free(c->buf);
            c->buf = NULL;
            give(st, s, per);
            return sl_fail(&st->run->err, SL_E_NOMEM, STAGE, "out of memory");
        }
        c->cap = (size_t)per;
    }
    for (uint32_t i = 0; i < k; i++) {
        int rc = cursor_next(st, s, &m->c[i]);
        if (rc < 0)
            return rc;
        if (rc == 1)
            m->heap[m->nheap++] = i;
        else
            cursor_close(st, s, &m->c[i]);
    }
    for (uint32_t i = m->nheap / 2; i-- > 0;)
        heap_down(s, m, i);
    return SL_OK;
}

/* Advance the smallest cursor (the one whose record was used). */
static int merger_advance(sl_stage *st, sort_state *s, merger *m)
{
    cursor *c = &m->c[m->heap[0]];
    int rc = cursor_next(st, s, c);
    if (rc < 0)
        return rc;
    if (rc == 0) {
        cursor_close(st, s, c);
        m->heap[0] = m->heap[--m->nheap];
    }
    if (m->nheap)
        heap_down(s, m, 0);
    return SL_OK;
}

/* How many runs one merge may take now, with the chunks given back. */
static uint32_t fanin(const sl_stage *st, const sort_state *s)
{
    uint64_t avail = budget_free(st->run) + s->recs.charged;
    uint64_t k = avail / RBUF_GOOD;
    if (k > FANIN_MAX)
        k = FANIN_MAX;
    return k < 2 ? 2 : (uint32_t)k;
}

/* Merge runs[from..from+k) into one run file in their place. */
static int merge_runs(sl_stage *st, sort_state *s, uint32_t from, uint32_t k)
{
    merger m;
    spill_run out = {-1, 0, s->runs[from + k - 1].level + 1};
    int rc = run_create(st, &out.fd);
    if (rc == SL_OK)
        rc = merger_open(st, s, &m, from, k, 1);
    else
        memset(&m, 0, sizeof m);
    uint64_t before = s->spilled;
    while (rc == SL_OK && m.nheap) {
        cursor *c = &m.c[m.heap[0]];
        rc = wbuf_put(st, s, out.fd, c->buf + c->pos, c->rec_len);
        if (rc == SL_OK)
            rc = merger_advance(st, s, &m);
    }
    if (rc == SL_OK)
        rc = wbuf_flush(st, s, out.fd);
    merger_free(st, s, &m);
    if (rc < 0) {
        if (out.fd >= 0)
            close(out.fd);
        return rc;
    }
    out.bytes = s->spilled - before;
    s->runs[from] = out;
    memmove(s->runs + from + 1, s->runs + from + k, (s->nruns - from - k) * sizeof *s->runs);
    s->nruns -= k - 1;
    return SL_OK;
}

/* Sort the buffer and write it as a new run; merge the newest runs when k
   of them share a level. */
static int spill(sl_stage *st, sort_state *s)
{
    ent_sort(s);
    spill_run r = {-1, 0, 0};
    int rc = run_create(st, &r.fd);
    if (rc < 0)
        return rc;
    uint64_t before = s->spilled;
    for (size_t i = 0; i < s->n && rc == SL_OK; i++) {
        const uint8_t *rec = ent_rec(s, s->ent + i * s->esz);
        rc = wbuf_put(st, s, r.fd, rec, rec_len(rec));
    }
    if (rc == SL_OK)
        rc = wbuf_flush(st, s, r.fd);
    if (rc < 0) {
        close(r.fd);
        return rc;
    }
    r.bytes = s->spilled - before;
    if ((rc = runs_push(st, s, r)) < 0)
        return rc;
    s->n = 0;
    sl_budget_arena_reset(&s->recs);
    for (;;) {
        uint32_t k = fanin(st, s);
        if (s->nruns < k)
            return SL_OK;
        uint32_t lvl = s->runs[s->nruns - 1].level, same = 0;
        while (same < s->nruns && s->runs[s->nruns - 1 - same].level == lvl)
            same++;
        if (same < k)
            return SL_OK;
        sl_budget_arena_fini(&s->recs); /* the merge buffers need the budget */
        if ((rc = merge_runs(st, s, s->nruns - k, k)) < 0)
            return rc;
    }
}

/* ---- reading the input ---- */

static int bind_schema(sl_stage *st, sort_state *s, sl_schema *schema, uint32_t *idx)
{
    int added;
    if (sl_schema_table_add(&s->schemas, schema, idx, &added) < 0)
        return sl_fail(&st->run->err, SL_E_NOMEM, STAGE, "out of memory");
    if (!added)
        return SL_OK;
    int32_t *nc = realloc(s->cols, (size_t)s->schemas.n * (s->nkeys ? s->nkeys : 1) * sizeof *nc);
    if (!nc)
        return sl_fail(&st->run->err, SL_E_NOMEM, STAGE, "out of memory");
    s->cols = nc;
    if (schema->ncols > s->scratch_cap) {
        sl_cell *ns = realloc(s->scratch, schema->ncols * sizeof *ns);
        if (!ns)
            return sl_fail(&st->run->err, SL_E_NOMEM, STAGE, "out of memory");
        s->scratch = ns;
        s->scratch_cap = schema->ncols;
    }
    return sl_sortspec_bind(&s->spec, schema, s->cols + (size_t)*idx * s->nkeys, STAGE, &st->run->err);
}

static int add_record(sl_stage *st, sort_state *s, const sl_batch *b, uint32_t row, uint32_t sidx)
{
    static const sl_rowinfo none;
    uint32_t nc = b->schema->ncols;
    const sl_rowinfo *info = b->info ? &b->info[row] : &none;
    sl_record_gather(b, row, s->scratch);
    size_t rsz = sl_record_size(sidx, info, s->scratch, nc);
    size_t need = rsz;
    uint8_t *dst = NULL;
    for (;;) {
        int rc = ent_reserve(st, s);
        if (rc == SL_OK && (dst = sl_budget_arena_alloc(&s->recs, need)) != NULL)
            break;
        if (rc == SL_OK) {
            if (s->recs.oom)
                return sl_fail(&st->run->err, SL_E_NOMEM, STAGE, "out of memory");
            rc = SL_E_NOMEM; /* the budget is spent */
        }
        if (rc != SL_E_NOMEM || st->run->err.code != SL_OK)
            return rc; /* a real error, recorded */
        if (s->n == 0) {
            char lim[32], fr[32];
            sl_fail(&st->run->err, SL_E_NOMEM, STAGE, "a record of %zu bytes does not fit in --memory-limit %s (%s of it "
                    "is free); raise --memory-limit", need,
                    sl_size_text(st->run->opt.memory_limit, lim), sl_size_text(budget_free(st->run) + s->recs.charged, fr));
            if (b->info && info->input < st->run->ninputs)
                sl_error_at(&st->run->err, st->run->inputs[info->input].name, info->line, 0, info->record);
            return SL_E_NOMEM;
        }
        if ((rc = spill(st, s)) < 0)
            return rc;
    }
    sl_record_encode(dst, sidx, info, s->scratch, nc);
    uint8_t *e = s->ent + s->n++ * s->esz;
    sl_sortkeys_of_cells(s->scratch, s->cols + (size_t)sidx * s->nkeys, s->nkeys, (sl_sortkey *)e);
    memcpy(e + s->keybytes, &dst, sizeof dst);
    return SL_OK;
}

/* End of input: set up the output, from memory or from the runs. */
static int finish_input(sl_stage *st, sort_state *s)
{
    int rc;
    if (s->nruns == 0) {
        ent_sort(s);
        s->phase = PH_MEMORY;
        s->pos = 0;
        return SL_OK;
    }
    if (s->n && (rc = spill(st, s)) < 0)
        return rc;
    sl_budget_arena_fini(&s->recs);
    ent_free(st, s);
    while (s->nruns > fanin(st, s)) {
        uint32_t k = fanin(st, s);
        uint32_t g = s->nruns - k + 1 < k ? s->nruns - k + 1 : k;
        if ((rc = merge_runs(st, s, s->nruns - g, g)) < 0)
            return rc;
    }
    free(s->wbuf);
    s->wbuf = NULL;
    give(st, s, s->wcap);
    s->wcap = 0;
    uint32_t k = s->nruns;
    if ((rc = merger_open(st, s, &s->m, 0, k, 2)) < 0)
        return rc;
    s->nruns = 0;
    s->phase = PH_MERGE;
    return SL_OK;
}

/* ---- output ---- */

static int out_start(sl_stage *st, sort_state *s, uint32_t sidx)
{
    sl_schema *sc = s->schemas.s[sidx];
    if (sl_batch_reset(&s->out, sc, sc->ncols) < 0)
        return sl_fail(&st->run->err, SL_E_NOMEM, STAGE, "out of memory");
    return SL_OK;
}

static int out_memory(sl_stage *st, sort_state *s, sl_batch **out)
{
    sl_batch *b = &s->out;
    uint32_t cur = UINT32_MAX;
    while (s->pos < s->n) {
        const uint8_t *rec = ent_rec(s, s->ent + s->pos * s->esz);
        size_t t = rec_len(rec);
        sl_record_view v;
        uint32_t sidx = rec_schema(rec);
        if (cur == UINT32_MAX) {
            int rc = out_start(st, s, sidx);
            if (rc < 0)
                return rc;
            cur = sidx;
        } else if (sidx != cur || b->nrows == b->cap_rows) {
            break;
        }
        if (sl_record_decode(rec, t, &v, b->cells + (size_t)b->nrows * b->stride, b->stride) < 0)
            return sl_fail(&st->run->err, SL_E_INTERNAL, STAGE, "a kept record is corrupt");
        b->info[b->nrows++] = v.info;
        s->pos++;
    }
    if (cur == UINT32_MAX) {
        s->phase = PH_DONE;
        return SL_DONE;
    }
    *out = b;
    return SL_BATCH;
}

static int out_merge(sl_stage *st, sort_state *s, sl_batch **out)
{
    sl_batch *b = &s->out;
    merger *m = &s->m;
    uint32_t cur = UINT32_MAX;
    while (m->nheap) {
        cursor *c = &m->c[m->heap[0]];
        if (cur == UINT32_MAX) {
            int rc = out_start(st, s, c->view.schema);
            if (rc < 0)
                return rc;
            cur = c->view.schema;
        } else if (c->view.schema != cur || b->nrows == b->cap_rows) {
            break;
        }
        /* the cells' bytes are the tail of the record: copy them in one go
           into the batch arena, the cursor's buffer moves on */
        size_t nbytes = 0;
        for (uint32_t i = 0; i < c->view.ncells; i++)
            nbytes += c->cells[i].len;
        const uint8_t *tail = c->buf + c->pos + c->rec_len - nbytes;
        char *dst = NULL;
        if (nbytes && !(dst = sl_arena_alloc(&b->arena, nbytes)))
            return sl_fail(&st->run->err, SL_E_NOMEM, STAGE, "out of memory");
        if (nbytes)
            memcpy(dst, tail, nbytes);
        sl_cell *row = b->cells + (size_t)b->nrows * b->stride;
        for (uint32_t i = 0; i < c->view.ncells; i++) {
            row[i] = c->cells[i];
            if (row[i].len)
                row[i].p = dst + ((const uint8_t *)c->cells[i].p - tail);
        }
        b->info[b->nrows++] = c->view.info;
        int rc = merger_advance(st, s, m);
        if (rc < 0)
            return rc;
    }
    if (cur == UINT32_MAX) {
        merger_free(st, s, m);
        s->phase = PH_DONE;
        return SL_DONE;
    }
    *out = b;
    return SL_BATCH;
}

static int sort_next(sl_stage *st, sl_batch **out)
{
    sort_state *s = st->state;
    while (s->phase == PH_INPUT) {
        sl_batch *b;
        int rc = sl_stage_next(st->input, &b);
        if (rc < 0)
            return rc;
        if (rc == SL_DONE) {
            if ((rc = finish_input(st, s)) < 0)
                return rc;
            break;
        }
        uint32_t sidx;
        if ((rc = bind_schema(st, s, b->schema, &sidx)) < 0)
            return rc;
        uint32_t live = sl_batch_live(b);
        for (uint32_t i = 0; i < live; i++)
            if ((rc = add_record(st, s, b, sl_batch_row(b, i), sidx)) < 0)
                return rc;
    }
    switch (s->phase) {
    case PH_MEMORY: return out_memory(st, s, out);
    case PH_MERGE: return out_merge(st, s, out);
    default: return SL_DONE;
    }
}

/* ---- lifecycle ---- */

static int sort_create(sl_stage *st, const char *args, sl_error *err)
{
    sort_state *s = calloc(1, sizeof *s);
    if (!s)
        return sl_fail(err, SL_E_NOMEM, STAGE, "out of memory");
    st->state = s;
    int rc = sl_sortspec_parse(&s->spec, args, STAGE, err);
    if (rc < 0)
        return rc;
    s->nkeys = s->spec.n;
    s->keybytes = s->nkeys * sizeof(sl_sortkey);
    s->esz = s->keybytes + sizeof(uint8_t *);
    s->tmp = malloc(s->esz);
    if (!s->tmp)
        return sl_fail(err, SL_E_NOMEM, STAGE, "out of memory");
    return SL_OK;
}

static int sort_open(sl_stage *st)
{
    sort_state *s = st->state;
    uint64_t limit = st->run->opt.memory_limit;
    size_t chunk = limit / 64;
    if (chunk < CHUNK_MIN)
        chunk = CHUNK_MIN;
    if (chunk > CHUNK_MAX)
        chunk = CHUNK_MAX;
    sl_budget_arena_init(&s->recs, st->run, chunk);
    size_t wcap = limit / 16;
    if (wcap < WBUF_MIN)
        wcap = WBUF_MIN;
    if (wcap > WBUF_MAX)
        wcap = WBUF_MAX;
    if (take(st, s, wcap) < 0)
        return fail_budget(st, "the spill buffer", wcap);
    s->wcap = wcap;
    s->wbuf = malloc(wcap);
    if (!s->wbuf || sl_batch_init(&s->out, st->run->opt.batch_rows, 16, 0) < 0)
        return sl_fail(&st->run->err, SL_E_NOMEM, STAGE, "out of memory");
    s->out_init = 1;
    return SL_OK;
}

static void sort_close(sl_stage *st)
{
    sort_state *s = st->state;
    if (!s)
        return;
    merger_free(st, s, &s->m);
    for (uint32_t i = 0; i < s->nruns; i++)
        if (s->runs[i].fd >= 0)
            close(s->runs[i].fd);
    free(s->runs);
    sl_budget_arena_fini(&s->recs);
    ent_free(st, s);
    free(s->wbuf);
    if (s->held)
        sl_run_mem_give(st->run, s->held);
    if (s->out_init)
        sl_batch_fini(&s->out);
    sl_schema_table_fini(&s->schemas);
    sl_sortspec_free(&s->spec);
    free(s->cols);
    free(s->scratch);
    free(s->tmp);
    free(s);
    st->state = NULL;
}

const sl_stage_type sl_sort_stage_type = {
    .name = "sort",
    .usage = "sort KEY[,KEY...]",
    .summary = "order records by keys (-key descending), spilling to disk",
    .help = "Orders all records by the keys, the first key first; -name sorts that key\n"
            "descending.  The sort is stable: records with equal keys keep their input\n"
            "order.  Values order as: numbers (text that reads as a number) by value,\n"
            "then text byte by byte, then null and absent values.  A descending key\n"
            "reverses numbers and text among themselves, but numbers stay before text\n"
            "and nulls stay last in both directions.  JSON strings are text even when\n"
            "they hold digits.\n"
            "Sort holds records within --memory-limit (shared with the other stages\n"
            "that hold records); past it, sorted runs go to temporary files in\n"
            "--temp-dir (else $TMPDIR, else /tmp) and are merged at the end.  The\n"
            "files are unlinked as soon as they are created, so none is ever left\n"
            "behind; they need about 1.2 times the disk of the input (CSV;\n"
            "records are stored with their lengths and positions).\n",
    .create = sort_create,
    .open = sort_open,
    .next = sort_next,
    .close = sort_close,
    .schema = sl_stage_schema_input,
};
