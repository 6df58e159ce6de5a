/*
 * batch.c - `batch N [--bytes SIZE] [--every DURATION]` regroups records
 * into batches of exactly N (the last may be smaller), for writers that
 * work a batch at a time: `write` puts each batch in its own file or pipes
 * it to its own command, and the run's writer flushes the output at the end
 * of each batch.
 *
 * A batch ends after N records; with --bytes, also before the record that
 * would take it past SIZE bytes (the sum of the records' field bytes, plus
 * one per field: about their CSV size; a record larger than SIZE alone is
 * a batch of one); with --every, also when DURATION has passed since its
 * first record arrived, so that a slow input still hands out what it has.
 * When standard input is a pipe or a terminal, batch waits for it with
 * poll() until the deadline; other inputs are checked whenever records
 * arrive.  The end of the input ends the last batch.
 *
 * The records of a batch are copied into batches this stage owns (one
 * sl_batch cannot hold more than --batch-rows records, or fewer for wide
 * records, so a batch of N may be several sl_batches), charged to the run's
 * memory budget, and handed on together once the batch is complete: the
 * last sl_batch of each is marked by incrementing run->batch_ends just
 * before it is returned.  Because stages that filter or split batches
 * would move that mark, batch must be the last stage, or be followed only
 * by write.
 */
#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "sluice/run.h"
#include "stages/args.h"
#include "stages/record.h"

#define STAGE "batch"

typedef struct batch_state {
    uint64_t n;          /* records per batch, 0 = no count limit */
    uint64_t bytes;      /* --bytes, 0 = none */
    uint64_t every_ns;   /* --every, 0 = none */
    int poll_stdin;      /* stdin is one of the inputs and can block */
    /* the batch being filled: pool[0..used) */
    sl_batch *pool;
    uint64_t *acct;      /* per pool batch: budget taken for it */
    uint32_t npool, used;
    uint64_t charged;    /* budget taken for the whole pool */
    uint64_t count, size;/* records and bytes in the batch */
    uint64_t deadline;   /* monotonic ns when the batch must end */
    /* the input batch being copied */
    sl_batch *in;
    uint32_t pos;
    int in_done;
    int in_full;         /* it filled its batch: more may be buffered */
    /* handing out */
    uint32_t out_next;   /* next pool index to return, when emitting */
    int emitting;
} batch_state;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}


static int batch_create(sl_stage *st, const char *args, sl_error *err)
{
    batch_state *s = calloc(1, sizeof *s);
    if (!s)
        return sl_fail(err, SL_E_NOMEM, STAGE, "out of memory");
    st->state = s;
    const char *p = args ? args : "";
    int have_n = 0;
    while (*p) {
        while (isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        const char *e = p;
        while (*e && !isspace((unsigned char)*e) && *e != '=')
            e++;
        size_t len = (size_t)(e - p);
        if (len > 2 && p[0] == '-' && p[1] == '-') {
            int is_bytes = len == 7 && memcmp(p, "--bytes", 7) == 0;
            int is_every = len == 7 && memcmp(p, "--every", 7) == 0;
            if (!is_bytes && !is_every)
                return sl_fail(err, SL_E_USAGE, STAGE, "unknown option '%.*s' (expected --bytes SIZE or --every DURATION)",
                               (int)len, p);
            const char *v = e;
            if (*v == '=')
                v++;
            while (isspace((unsigned char)*v))
                v++;
            const char *ve = v;
            while (*ve && !isspace((unsigned char)*ve))
                ve++;
            if (ve == v)
                return sl_fail(err, SL_E_USAGE, STAGE, "%.*s needs a value (%s)", (int)len, p,
                               is_bytes ? "a size such as 4M" : "a duration such as 2s or 500ms");
            char val[64];
            snprintf(val, sizeof val, "%.*s", (int)(ve - v) < 63 ? (int)(ve - v) : 63, v);
            if (is_bytes) {
                if (sl_parse_size(val, &s->bytes) < 0 || s->bytes == 0)
                    return sl_fail(err, SL_E_USAGE, STAGE, "--bytes expects a size such as 64K or 4M, not '%s'", val);
            } else if (sl_parse_duration(v, (size_t)(ve - v), &s->every_ns) < 0) {
                return sl_fail(err, SL_E_USAGE, STAGE,
                               "--every expects a duration of at least 1ms such as 2s, 500ms or 1m, not '%s'", val);
            }
            p = ve;
            continue;
        }
        if (have_n)
            return sl_fail(err, SL_E_USAGE, STAGE, "unexpected '%.*s' (batch N [--bytes SIZE] [--every DURATION])", (int)len, p);
        char num[32];
        snprintf(num, sizeof num, "%.*s", (int)len < 31 ? (int)len : 31, p);
        if (sl_parse_count(num, &s->n) < 0 || s->n == 0 || s->n > UINT32_MAX)
            return sl_fail(err, SL_E_USAGE, STAGE, "expected a number of records per batch (1 or more), not '%s'", num);
        have_n = 1;
        p = e;
    }
    if (!have_n && !s->bytes)
        return sl_fail(err, SL_E_USAGE, STAGE, "expected a number of records per batch, or --bytes SIZE: %s",
                       "batch N [--bytes SIZE] [--every DURATION]");
    return SL_OK;
}

static int batch_open(sl_stage *st)
{
    batch_state *s = st->state;
    sl_run *run = st->run;
    /* what follows must not filter or split batches: the mark of a batch's
       end would move */
    for (int i = st->index + 1; i < run->nstages; i++) {
        const sl_stage *t = run->stages[i];
        if (strcmp(t->type->name, "write") != 0 || i != st->index + 1 || i != run->nstages - 1)
            return sl_fail(&run->err, SL_E_USAGE, STAGE, "batch must be the last stage, or be followed only by write "
                           "(put '%s' before batch)", t->type->name);
    }
    struct stat sb;
    for (size_t i = 0; i < run->ninputs; i++)
        if (strcmp(run->inputs[i].name, "-") == 0 && fstat(0, &sb) == 0 && !S_ISREG(sb.st_mode))
            s->poll_stdin = 1;
    return SL_OK;
}

/* The pool batch to append to for schema sch (a new one when the schema
   changes or the current one is full). */
static sl_batch *target(sl_stage *st, batch_state *s, sl_schema *sch)
{
    if (s->used) {
        sl_batch *b = &s->pool[s->used - 1];
        if (b->schema->id == sch->id && b->nrows < b->cap_rows)
            return b;
    }
    if (s->used == s->npool) {
        uint32_t cap = s->npool ? s->npool * 2 : 4;
        sl_batch *np = realloc(s->pool, cap * sizeof *np);
        if (!np)
            return NULL;
        s->pool = np;
        uint64_t *na = realloc(s->acct, cap * sizeof *na);
        if (!na)
            return NULL;
        s->acct = na;
        for (uint32_t i = s->npool; i < cap; i++) {
            uint32_t rows = st->run->opt.batch_rows ? st->run->opt.batch_rows : 1024;
            s->acct[i] = 0;
            if (sl_batch_init(&s->pool[i], rows, 1, 0) < 0) {
                s->npool = i + 1; /* fini what was made */
                return NULL;
            }
            s->npool = i + 1;
        }
    }
    sl_batch *b = &s->pool[s->used++];
    if (sl_batch_reset(b, sch, sch->ncols ? sch->ncols : 1) < 0)
        return NULL;
    return b;
}

/* Budget for what pool batch i holds now (its cells, row infos and arena
   only grow: they are kept for the next batch). */
static int charge(sl_stage *st, batch_state *s, uint32_t i)
{
    const sl_batch *b = &s->pool[i];
    uint64_t held = b->arena.reserved + (uint64_t)b->cap_cells * sizeof(sl_cell) + (uint64_t)b->rows_cfg * sizeof(sl_rowinfo);
    if (held <= s->acct[i])
        return SL_OK;
    if (sl_run_mem_take(st->run, held - s->acct[i]) < 0) {
        char lim[32];
        return sl_fail(&st->run->err, SL_E_NOMEM, STAGE, "a batch of %llu records does not fit in --memory-limit %s (ask "
                       "for smaller batches, or raise --memory-limit)", (unsigned long long)s->count + 1,
                       sl_size_text(st->run->opt.memory_limit, lim));
    }
    s->charged += held - s->acct[i];
    s->acct[i] = held;
    return SL_OK;
}

/* Copy live row i of s->in into the pool. */
static int copy_row(sl_stage *st, batch_state *s, uint32_t row)
{
    sl_batch *in = s->in;
    uint32_t nc = in->schema->ncols;
    sl_batch *b = target(st, s, in->schema);
    if (!b)
        return sl_fail(&st->run->err, SL_E_NOMEM, STAGE, "out of memory");
    sl_cell *dst = &b->cells[(size_t)b->nrows * b->stride];
    sl_record_gather(in, row, dst);
    for (uint32_t c = 0; c < nc; c++) {
        if (dst[c].len) {
            char *p = sl_arena_alloc(&b->arena, dst[c].len);
            if (!p)
                return sl_fail(&st->run->err, SL_E_NOMEM, STAGE, "out of memory");
            memcpy(p, dst[c].p, dst[c].len);
            dst[c].p = p;
        }
    }
    sl_rowinfo info = in->info ? in->info[row] : (sl_rowinfo){0};
    info.raw = NULL; /* the raw text lives in the reader's buffer */
    info.len = 0;
    b->info[b->nrows++] = info;
    return charge(st, s, (uint32_t)(b - s->pool));
}

static uint64_t row_bytes(const sl_batch *in, uint32_t row)
{
    uint64_t n = 0;
    for (uint32_t c = 0; c < in->schema->ncols; c++)
        n += sl_batch_cell(in, row, c)->len + 1;
    return n;
}

/* Wait for stdin until the deadline: 1 = input is ready, 0 = timed out. */
static int wait_input(batch_state *s)
{
    for (;;) {
        uint64_t now = now_ns();
        if (now >= s->deadline)
            return 0;
        int ms = (int)((s->deadline - now + 999999) / 1000000);
        struct pollfd pf = {.fd = 0, .events = POLLIN};
        int r = poll(&pf, 1, ms);
        if (r > 0)
            return 1;
        if (r < 0 && errno != EINTR)
            return 1; /* let the reader meet the error */
    }
}

/* Fill the pool until the batch is complete.  Returns SL_BATCH when there
   is a batch to hand out, SL_DONE when the input ended with nothing held,
   or an error. */
static int fill(sl_stage *st, batch_state *s)
{
    for (;;) {
        if (!s->in || s->pos >= sl_batch_live(s->in)) {
            if (s->in_done)
                return s->count ? SL_BATCH : SL_DONE;
            /* a full batch from upstream means the reader may hold more
               records already: ask at once; else wait for stdin only until
               the deadline */
            if (s->count && s->every_ns && s->poll_stdin && !s->in_full && !wait_input(s))
                return SL_BATCH; /* slow input: hand out what we have */
            s->in = NULL;
            sl_batch *in;
            int rc = sl_stage_next(st->input, &in);
            if (rc < 0)
                return rc;
            if (rc == SL_DONE) {
                s->in_done = 1;
                continue;
            }
            s->in = in;
            s->pos = 0;
            s->in_full = in->nrows >= in->cap_rows;
            if (s->count && s->every_ns && now_ns() >= s->deadline)
                return SL_BATCH; /* the new records start the next batch */
        }
        sl_batch *in = s->in;
        uint32_t live = sl_batch_live(in);
        while (s->pos < live) {
            uint32_t row = sl_batch_row(in, s->pos);
            uint64_t rb = s->bytes ? row_bytes(in, row) : 0;
            if (s->bytes && s->count && s->size + rb > s->bytes)
                return SL_BATCH;
            if (s->count == 0 && s->every_ns)
                s->deadline = now_ns() + s->every_ns;
            int rc = copy_row(st, s, row);
            if (rc < 0)
                return rc;
            s->pos++;
            s->count++;
            s->size += rb;
            if ((s->n && s->count == s->n) || (s->bytes && s->size >= s->bytes))
                return SL_BATCH;
        }
    }
}

static int batch_next(sl_stage *st, sl_batch **out)
{
    batch_state *s = st->state;
    if (!s->emitting) {
        s->used = 0;
        s->count = 0;
        s->size = 0;
        int rc = fill(st, s);
        if (rc != SL_BATCH)
            return rc;
        s->emitting = 1;
        s->out_next = 0;
    }
    /* hand out the pool; skip sl_batches left empty */
    while (s->out_next < s->used && s->pool[s->out_next].nrows == 0)
        s->out_next++;
    uint32_t last = s->used;
    while (last > 0 && s->pool[last - 1].nrows == 0)
        last--;
    sl_batch *b = &s->pool[s->out_next++];
    if (s->out_next >= last) {
        s->emitting = 0;
        st->run->batch_ends++;
    }
    *out = b;
    return SL_BATCH;
}

static void batch_close(sl_stage *st)
{
    batch_state *s = st->state;
    if (!s)
        return;
    for (uint32_t i = 0; i < s->npool; i++)
        sl_batch_fini(&s->pool[i]);
    free(s->pool);
    free(s->acct);
    if (s->charged && st->run)
        sl_run_mem_give(st->run, s->charged);
    free(s);
    st->state = NULL;
}

const sl_stage_type sl_batch_stage_type = {
    .name = "batch",
    .usage = "batch N [OPTIONS]",
    .summary = "batches of N records (--bytes SIZE, --every DURATION) for write",
    .help = "batch N [--bytes SIZE] [--every DURATION]\n"
            "\n"
            "Hands records on in batches of exactly N (the last may be smaller); with\n"
            "--bytes SIZE a batch also ends before it would pass SIZE bytes, and with\n"
            "--every DURATION (2s, 500ms, 1m) when that long has passed since its first\n"
            "record, so a slow input still delivers.  The output is flushed at the end\n"
            "of every batch; `write` puts each batch in its own file or command.\n"
            "batch must be the last stage, or be followed only by write.\n"
            "\n"
            "  batch 1000 | write --exec 'psql -c \"\\copy t from stdin csv header\"'\n"
            "  batch 100000 | write 'parts/events-{batch}.ndjson.zst'\n"
            "  batch 500 --every 2s\n",
    .create = batch_create,
    .open = batch_open,
    .next = batch_next,
    .close = batch_close,
    .schema = sl_stage_schema_input,
};
