/*
 * top.c - `top N by KEYS`: the first N records in the order `sort KEYS`
 * would give, in memory for N records whatever the input's size.
 *
 * A max-heap holds the N best records seen so far, the worst at its root;
 * order is (keys, arrival number), so among equal keys the earlier record
 * wins and the output keeps ties in input order, exactly as a stable sort
 * followed by `head N`.  A new record is compared with the root from the
 * batch's own cells (numbers parsed once, nothing copied); only a record
 * that gets in is copied (record.h encoding) into the slot it takes, whose
 * buffer is reused and grown when needed.  Every slot byte is charged to
 * the run's memory budget.  At the end of the input the heap is sorted in
 * place (heapsort) and written out in batches.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/run.h"
#include "stages/record.h"
#include "stages/sortkey.h"

#define STAGE "top"

typedef struct slot {
    uint8_t *buf;   /* keys, then the encoded record */
    size_t cap;
    uint64_t seq;   /* arrival number */
} slot;

typedef struct top_state {
    uint64_t limit;
    sl_sortspec spec;
    uint32_t nkeys;
    size_t keybytes;
    sl_schema_table schemas;
    int32_t *cols;          /* nkeys per schema index */
    slot *slots;            /* heap, worst at [0] */
    uint32_t n, cap;
    uint64_t seq;
    uint64_t held;
    sl_cell *scratch;
    uint32_t scratch_cap;
    sl_sortkey *keys;       /* keys of the record being considered */
    int done_input;
    uint32_t pos;
    sl_batch out;
    int out_init;
} top_state;

static inline const sl_sortkey *slot_keys(const slot *s) { return (const sl_sortkey *)s->buf; }

/* a after b in the output */
static inline int worse(const top_state *t, const slot *a, const slot *b)
{
    int c = sl_sortkey_cmp(slot_keys(a), slot_keys(b), t->spec.desc, t->nkeys);
    return c > 0 || (c == 0 && a->seq > b->seq);
}

static void sift_down(top_state *t, uint32_t i, uint32_t n)
{
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && worse(t, &t->slots[l], &t->slots[m]))
            m = l;
        if (r < n && worse(t, &t->slots[r], &t->slots[m]))
            m = r;
        if (m == i)
            return;
        slot x = t->slots[i];
        t->slots[i] = t->slots[m];
        t->slots[m] = x;
        i = m;
    }
}

static void sift_up(top_state *t, uint32_t i)
{
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (!worse(t, &t->slots[i], &t->slots[p]))
            return;
        slot x = t->slots[i];
        t->slots[i] = t->slots[p];
        t->slots[p] = x;
        i = p;
    }
}

static int fail_budget(sl_stage *st, top_state *t, uint64_t need)
{
    char lim[32];
    return sl_fail(&st->run->err, SL_E_NOMEM, STAGE, "keeping %llu records needs more than --memory-limit %s (%llu records "
                   "kept, %llu more bytes wanted); raise --memory-limit or ask for fewer records",
                   (unsigned long long)t->limit, sl_size_text(st->run->opt.memory_limit, lim), (unsigned long long)t->n,
                   (unsigned long long)need);
}

/* Copy physical row `row` of b into slot d. */
static int slot_fill(sl_stage *st, top_state *t, slot *d, const sl_batch *b, uint32_t row, uint32_t sidx)
{
    static const sl_rowinfo none;
    const sl_rowinfo *info = b->info ? &b->info[row] : &none;
    uint32_t nc = b->schema->ncols;
    sl_record_gather(b, row, t->scratch);
    size_t need = t->keybytes + sl_record_size(sidx, info, t->scratch, nc);
    if (need > d->cap) {
        size_t ncap = need + need / 4;
        if (sl_run_mem_take(st->run, ncap - d->cap) < 0)
            return fail_budget(st, t, ncap - d->cap);
        uint8_t *nb = realloc(d->buf, ncap);
        if (!nb) {
            sl_run_mem_give(st->run, ncap - d->cap);
            return sl_fail(&st->run->err, SL_E_NOMEM, STAGE, "out of memory");
        }
        t->held += ncap - d->cap;
        d->buf = nb;
        d->cap = ncap;
    }
    sl_record_encode(d->buf + t->keybytes, sidx, info, t->scratch, nc);
    sl_sortkeys_of_cells(t->scratch, t->cols + (size_t)sidx * t->nkeys, t->nkeys, (sl_sortkey *)d->buf);
    d->seq = t->seq;
    return SL_OK;
}

static int bind_schema(sl_stage *st, top_state *t, sl_schema *schema, uint32_t *idx)
{
    int added;
    if (sl_schema_table_add(&t->schemas, schema, idx, &added) < 0)
        return sl_fail(&st->run->err, SL_E_NOMEM, STAGE, "out of memory");
    if (!added)
        return SL_OK;
    int32_t *nc = realloc(t->cols, (size_t)t->schemas.n * t->nkeys * sizeof *nc);
    if (!nc)
        return sl_fail(&st->run->err, SL_E_NOMEM, STAGE, "out of memory");
    t->cols = nc;
    if (schema->ncols > t->scratch_cap) {
        sl_cell *ns = realloc(t->scratch, schema->ncols * sizeof *ns);
        if (!ns)
            return sl_fail(&st->run->err, SL_E_NOMEM, STAGE, "out of memory");
        t->scratch = ns;
        t->scratch_cap = schema->ncols;
    }
    return sl_sortspec_bind(&t->spec, schema, t->cols + (size_t)*idx * t->nkeys, STAGE, &st->run->err);
}

static int consider(sl_stage *st, top_state *t, const sl_batch *b, uint32_t row, uint32_t sidx)
{
    t->seq++;
    if (t->n < t->limit) {
        if (t->n == t->cap) {
            uint64_t ncap = t->cap ? (uint64_t)t->cap * 2 : 64;
            if (ncap > t->limit)
                ncap = t->limit;
            uint64_t bytes = (ncap - t->cap) * sizeof(slot);
            if (sl_run_mem_take(st->run, bytes) < 0)
                return fail_budget(st, t, bytes);
            t->held += bytes;
            slot *ns = realloc(t->slots, ncap * sizeof *ns);
            if (!ns)
                return sl_fail(&st->run->err, SL_E_NOMEM, STAGE, "out of memory");
            memset(ns + t->cap, 0, (ncap - t->cap) * sizeof *ns);
            t->slots = ns;
            t->cap = (uint32_t)ncap;
        }
        int rc = slot_fill(st, t, &t->slots[t->n], b, row, sidx);
        if (rc < 0)
            return rc;
        sift_up(t, t->n++);
        return SL_OK;
    }
    /* full: the newcomer gets in only with keys strictly before the worst
       (with equal keys the earlier record stays) */
    sl_sortkeys_of_row(b, row, t->cols + (size_t)sidx * t->nkeys, t->nkeys, t->keys);
    if (sl_sortkey_cmp(t->keys, slot_keys(&t->slots[0]), t->spec.desc, t->nkeys) >= 0)
        return SL_OK;
    int rc = slot_fill(st, t, &t->slots[0], b, row, sidx);
    if (rc < 0)
        return rc;
    sift_down(t, 0, t->n);
    return SL_OK;
}

static int top_next(sl_stage *st, sl_batch **out)
{
    top_state *t = st->state;
    if (t->limit == 0)
        return SL_DONE;
    while (!t->done_input) {
        sl_batch *b;
        int rc = sl_stage_next(st->input, &b);
        if (rc < 0)
            return rc;
        if (rc == SL_DONE) {
            /* heapsort: the worst goes to the end, so the array ends up in
               output order */
            for (uint32_t end = t->n; end > 1; end--) {
                slot x = t->slots[0];
                t->slots[0] = t->slots[end - 1];
                t->slots[end - 1] = x;
                sift_down(t, 0, end - 1);
            }
            t->done_input = 1;
            break;
        }
        uint32_t sidx;
        if ((rc = bind_schema(st, t, b->schema, &sidx)) < 0)
            return rc;
        uint32_t live = sl_batch_live(b);
        for (uint32_t i = 0; i < live; i++)
            if ((rc = consider(st, t, b, sl_batch_row(b, i), sidx)) < 0)
                return rc;
    }
    if (t->pos >= t->n)
        return SL_DONE;
    sl_batch *b = &t->out;
    uint32_t cur = UINT32_MAX;
    while (t->pos < t->n) {
        const uint8_t *rec = t->slots[t->pos].buf + t->keybytes;
        size_t len = (size_t)sl_record_total(rec, 10);
        sl_record_view v;
        /* decode into a scratch row first: the schema decides the batch */
        uint32_t sidx;
        {
            uint64_t body, x = 0;
            size_t k = sl_varint_get(rec, rec + 10, &body);
            sl_varint_get(rec + k, rec + k + 10, &x);
            sidx = (uint32_t)x;
        }
        if (cur == UINT32_MAX) {
            sl_schema *sc = t->schemas.s[sidx];
            if (sl_batch_reset(b, sc, sc->ncols) < 0)
                return sl_fail(&st->run->err, SL_E_NOMEM, STAGE, "out of memory");
            cur = sidx;
        } else if (sidx != cur || b->nrows == b->cap_rows) {
            break;
        }
        if (sl_record_decode(rec, len, &v, b->cells + (size_t)b->nrows * b->stride, b->stride) < 0)
            return sl_fail(&st->run->err, SL_E_INTERNAL, STAGE, "a kept record is corrupt");
        b->info[b->nrows++] = v.info;
        t->pos++;
    }
    *out = b;
    return SL_BATCH;
}

static int top_create(sl_stage *st, const char *args, sl_error *err)
{
    top_state *t = calloc(1, sizeof *t);
    if (!t)
        return sl_fail(err, SL_E_NOMEM, STAGE, "out of memory");
    st->state = t;
    const char *p = args ? args : "";
    while (isspace((unsigned char)*p))
        p++;
    if (!isdigit((unsigned char)*p))
        return sl_fail(err, SL_E_USAGE, STAGE, "expected a number of records and keys: %s", st->type->usage);
    errno = 0;
    char *end;
    unsigned long long n = strtoull(p, &end, 10);
    if (errno || n > UINT32_MAX || (*end && !isspace((unsigned char)*end)))
        return sl_fail(err, SL_E_USAGE, STAGE, "expected a number of records (at most %u), not '%.*s'", UINT32_MAX,
                       (int)strcspn(p, " \t\n"), p);
    t->limit = n;
    p = end;
    while (isspace((unsigned char)*p))
        p++;
    if (strncmp(p, "by", 2) == 0 && (isspace((unsigned char)p[2]) || !p[2]))
        p += 2;
    int rc = sl_sortspec_parse(&t->spec, p, STAGE, err);
    if (rc < 0)
        return rc;
    t->nkeys = t->spec.n;
    t->keybytes = t->nkeys * sizeof(sl_sortkey);
    t->keys = calloc(t->nkeys, sizeof *t->keys);
    if (!t->keys)
        return sl_fail(err, SL_E_NOMEM, STAGE, "out of memory");
    return SL_OK;
}

static int top_open(sl_stage *st)
{
    top_state *t = st->state;
    if (sl_batch_init(&t->out, st->run->opt.batch_rows, 16, 0) < 0)
        return sl_fail(&st->run->err, SL_E_NOMEM, STAGE, "out of memory");
    t->out_init = 1;
    return SL_OK;
}

static void top_close(sl_stage *st)
{
    top_state *t = st->state;
    if (!t)
        return;
    for (uint32_t i = 0; i < t->cap; i++)
        free(t->slots[i].buf);
    free(t->slots);
    if (t->held)
        sl_run_mem_give(st->run, t->held);
    if (t->out_init)
        sl_batch_fini(&t->out);
    sl_schema_table_fini(&t->schemas);
    sl_sortspec_free(&t->spec);
    free(t->cols);
    free(t->scratch);
    free(t->keys);
    free(t);
    st->state = NULL;
}

const sl_stage_type sl_top_stage_type = {
    .name = "top",
    .usage = "top N by KEY[,KEY...]",
    .summary = "the first N records in key order, in memory for N records",
    .help = "The same records as `sort KEYS | head N`, without sorting the input: a\n"
            "heap keeps the N best records seen so far.  Keys and the order of values\n"
            "are those of sort (-name for descending; numbers, then text, then nulls).\n"
            "Records with equal keys keep their input order, so of several records\n"
            "tied at the cut the earliest ones are kept.  The N records count against\n"
            "--memory-limit.\n",
    .create = top_create,
    .open = top_open,
    .next = top_next,
    .close = top_close,
    .schema = sl_stage_schema_input,
};
