/*
 * sorted_merge.c - the reader of `sluice merge --sorted KEYS`: every input
 * is sorted by KEYS (as `sort KEYS` orders them); one reader per input, and
 * a heap of the inputs' current records, give one sorted stream in constant
 * memory (one batch per input).  Records with equal keys come in the order
 * of the inputs on the command line, so merging the sorted shards of a file
 * (in shard order) gives what one stable `sort` of the whole file gives.
 *
 * Cells are not copied: a batch handed on points into the batches of the
 * inputs' readers.  So a batch ends as soon as one input's batch is used up;
 * that reader is asked for its next batch only on the following call, when
 * the batch handed on is no longer in use.
 */
#include <stdlib.h>
#include <string.h>

#include "formats/format.h"
#include "stages/record.h"
#include "stages/sortkey.h"

#define STAGE "merge"

typedef struct cursor {
    sl_run sub;          /* the reader's view of the run: one input */
    sl_stage st;         /* the reader */
    int created;
    sl_batch *b;         /* current batch, NULL when done */
    uint32_t i;          /* next live row of b */
    int refill;          /* b is used up: read the next batch first */
    uint64_t schema_id;  /* schema cols were bound for */
    int32_t *cols;
    sl_sortkey *keys;    /* of row i */
    /* the keys of the last record of its previous batch, their text copied
       (that batch's memory is the reader's again): the first record of the
       next batch must not order before it */
    sl_sortkey *last;
    char *lastbuf;
    size_t lastcap;
    int haslast;
} cursor;

typedef struct smerge {
    sl_run *run;
    sl_sortspec spec;
    cursor *c;
    uint32_t n;
    uint32_t *heap;      /* cursor numbers, smallest record on top */
    uint32_t nheap;
    sl_batch out;
    int out_init;
    sl_cell *tmp;
    uint32_t tmp_cap;
    int started;
} smerge;

static int sm_create(sl_stage *st, const char *args, sl_error *err)
{
    (void)args;
    smerge *m = calloc(1, sizeof *m);
    if (!m)
        return sl_fail(err, SL_E_NOMEM, STAGE, "out of memory");
    st->state = m;
    m->run = st->run;
    return sl_sortspec_parse(&m->spec, st->run->opt.merge_sorted, "merge --sorted", err);
}

/* Copy an input reader's error into the run (the first error wins). */
static int sub_fail(smerge *m, cursor *c, int rc)
{
    if (m->run->err.code == SL_OK)
        m->run->err = c->sub.err;
    if (m->run->err.code == SL_OK)
        sl_fail(&m->run->err, rc, STAGE, "reading %s failed", c->sub.inputs[0].name);
    return m->run->err.code;
}

static int sm_open(sl_stage *st)
{
    smerge *m = st->state;
    sl_run *run = st->run;
    m->n = (uint32_t)run->ninputs;
    m->c = calloc(m->n ? m->n : 1, sizeof *m->c);
    m->heap = calloc(m->n ? m->n : 1, sizeof *m->heap);
    if (!m->c || !m->heap)
        return sl_fail(&run->err, SL_E_NOMEM, STAGE, "out of memory");
    for (uint32_t i = 0; i < m->n; i++) {
        cursor *c = &m->c[i];
        c->sub.opt = run->opt;
        c->sub.inputs = &run->inputs[i];
        c->sub.ninputs = 1;
        c->sub.priv = run->priv; /* the reject file is the run's */
        c->sub.reader = run->reader;
        c->st.type = run->reader;
        c->st.run = &c->sub;
        c->st.text = run->reader->name;
        c->cols = calloc(m->spec.n, sizeof *c->cols);
        c->keys = calloc(m->spec.n, sizeof *c->keys);
        c->last = calloc(m->spec.n, sizeof *c->last);
        if (!c->cols || !c->keys || !c->last)
            return sl_fail(&run->err, SL_E_NOMEM, STAGE, "out of memory");
        c->created = 1;
        int rc = run->reader->create(&c->st, "", &c->sub.err);
        if (rc == SL_OK)
            rc = run->reader->open(&c->st);
        c->st.opened = 1;
        if (rc < 0)
            return sub_fail(m, c, rc);
        c->refill = 1;
    }
    return SL_OK;
}

/* The keys of cursor c's current row (binding its schema when new). */
static int cur_keys(smerge *m, cursor *c)
{
    if (c->b->schema->id != c->schema_id) {
        sl_error e;
        sl_error_clear(&e);
        if (sl_sortspec_bind(&m->spec, c->b->schema, c->cols, "merge --sorted", &e) < 0) {
            if (m->run->err.code == SL_OK)
                m->run->err = e;
            sl_error_at(&m->run->err, c->sub.inputs[0].name, 0, 0, 0);
            return m->run->err.code;
        }
        c->schema_id = c->b->schema->id;
    }
    sl_sortkeys_of_row(c->b, sl_batch_row(c->b, c->i), c->cols, m->spec.n, c->keys);
    return SL_OK;
}

static int less(const smerge *m, uint32_t a, uint32_t b)
{
    int r = sl_sortkey_cmp(m->c[a].keys, m->c[b].keys, m->spec.desc, m->spec.n);
    return r < 0 || (r == 0 && a < b);
}

static void heap_up(smerge *m, uint32_t i)
{
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (!less(m, m->heap[i], m->heap[p]))
            break;
        uint32_t t = m->heap[i];
        m->heap[i] = m->heap[p];
        m->heap[p] = t;
        i = p;
    }
}

static void heap_down(smerge *m, uint32_t i)
{
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, s = i;
        if (l < m->nheap && less(m, m->heap[l], m->heap[s]))
            s = l;
        if (r < m->nheap && less(m, m->heap[r], m->heap[s]))
            s = r;
        if (s == i)
            return;
        uint32_t t = m->heap[i];
        m->heap[i] = m->heap[s];
        m->heap[s] = t;
        i = s;
    }
}

/* Fail: the record at row i of c's batch orders before the one above it. */
static int not_sorted(smerge *m, cursor *c)
{
    const sl_rowinfo *in = c->b->info ? &c->b->info[sl_batch_row(c->b, c->i)] : NULL;
    sl_fail(&m->run->err, SL_E_DATA, STAGE, "the input is not sorted by %s: this record orders before the one above it "
            "(sort each input with the same keys first)", m->run->opt.merge_sorted);
    sl_error_at(&m->run->err, c->sub.inputs[0].name, in ? in->line : 0, 0, in ? in->record : 0);
    return SL_E_DATA;
}

/* Keep the current keys of c as its last ones, with their text. */
static int keep_last(smerge *m, cursor *c)
{
    size_t need = 0;
    for (uint32_t k = 0; k < m->spec.n; k++)
        if (c->keys[k].cls == SL_SK_TEXT)
            need += c->keys[k].len;
    if (need > c->lastcap) {
        char *nb = realloc(c->lastbuf, need);
        if (!nb)
            return sl_fail(&m->run->err, SL_E_NOMEM, STAGE, "out of memory");
        c->lastbuf = nb;
        c->lastcap = need;
    }
    size_t o = 0;
    for (uint32_t k = 0; k < m->spec.n; k++) {
        c->last[k] = c->keys[k];
        if (c->keys[k].cls == SL_SK_TEXT && c->keys[k].len) {
            memcpy(c->lastbuf + o, c->keys[k].u.p, c->keys[k].len);
            c->last[k].u.p = c->lastbuf + o;
            o += c->keys[k].len;
        }
    }
    c->haslast = 1;
    return SL_OK;
}

/* Read cursor c's next batch and put it in the heap (unless it is done). */
static int refill(smerge *m, uint32_t ci)
{
    cursor *c = &m->c[ci];
    c->refill = 0;
    sl_batch *b;
    int rc = sl_stage_next(&c->st, &b);
    if (rc < 0)
        return sub_fail(m, c, rc);
    if (rc == SL_DONE) {
        c->b = NULL;
        m->run->bad_records += c->sub.bad_records;
        c->sub.bad_records = 0;
        return SL_OK;
    }
    c->b = b;
    c->i = 0;
    if ((rc = cur_keys(m, c)) < 0)
        return rc;
    if (c->haslast && sl_sortkey_cmp(c->keys, c->last, m->spec.desc, m->spec.n) < 0)
        return not_sorted(m, c);
    m->heap[m->nheap++] = ci;
    heap_up(m, m->nheap - 1);
    return SL_OK;
}

static int sm_next(sl_stage *st, sl_batch **outp)
{
    smerge *m = st->state;
    sl_run *run = st->run;
    int rc;
    for (uint32_t i = 0; i < m->n; i++)
        if (m->c[i].refill && (rc = refill(m, i)) < 0)
            return rc;
    if (m->nheap == 0)
        return SL_DONE;
    if (!m->out_init) {
        if (sl_batch_init(&m->out, run->opt.batch_rows ? run->opt.batch_rows : 1024, 8, 0) < 0)
            return sl_fail(&run->err, SL_E_NOMEM, STAGE, "out of memory");
        m->out_init = 1;
    }
    sl_batch *out = &m->out;
    const sl_schema *schema = m->c[m->heap[0]].b->schema;
    if (sl_batch_reset(out, (sl_schema *)schema, schema->ncols ? schema->ncols : 1) < 0)
        return sl_fail(&run->err, SL_E_NOMEM, STAGE, "out of memory");
    while (m->nheap > 0 && out->nrows < out->cap_rows) {
        uint32_t ci = m->heap[0];
        cursor *c = &m->c[ci];
        if (c->b->schema != schema && !sl_schema_same_names(c->b->schema, schema))
            break; /* a new set of fields starts a new batch */
        uint32_t row = sl_batch_row(c->b, c->i);
        sl_record_gather(c->b, row, &out->cells[(size_t)out->nrows * out->stride]);
        sl_rowinfo info = c->b->info ? c->b->info[row] : (sl_rowinfo){0};
        info.input = ci;
        out->info[out->nrows++] = info;
        if (++c->i < sl_batch_live(c->b)) {
            sl_sortkey prev[16];
            uint32_t np = m->spec.n < 16 ? m->spec.n : 16;
            memcpy(prev, c->keys, np * sizeof *prev);
            if ((rc = cur_keys(m, c)) < 0)
                return rc;
            if (sl_sortkey_cmp(c->keys, prev, m->spec.desc, np) < 0 && np == m->spec.n)
                return not_sorted(m, c);
            heap_down(m, 0);
        } else {
            if ((rc = keep_last(m, c)) < 0)
                return rc;
            /* used up: its reader may reuse the batch's memory only after
               the batch handed on is done with */
            c->refill = 1;
            m->heap[0] = m->heap[--m->nheap];
            if (m->nheap)
                heap_down(m, 0);
            break;
        }
    }
    *outp = out;
    return SL_BATCH;
}

static void sm_close(sl_stage *st)
{
    smerge *m = st->state;
    if (!m)
        return;
    for (uint32_t i = 0; m->c && i < m->n; i++) {
        cursor *c = &m->c[i];
        if (c->created && c->st.type->close)
            c->st.type->close(&c->st);
        free(c->cols);
        free(c->keys);
        free(c->last);
        free(c->lastbuf);
    }
    free(m->c);
    free(m->heap);
    if (m->out_init)
        sl_batch_fini(&m->out);
    sl_sortspec_free(&m->spec);
    free(m);
    st->state = NULL;
}

const sl_stage_type sl_sorted_merge_type = {
    .name = "merge",
    .usage = "sluice merge --sorted KEYS FILE...",
    .summary = "merge files sorted by KEYS into one sorted stream",
    .create = sm_create,
    .open = sm_open,
    .next = sm_next,
    .close = sm_close,
};
