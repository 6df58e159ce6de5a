/*
 * group.c - `group KEYS: NAME = AGG(EXPR), ...` aggregates records by key
 * (hash aggregation); `group: ...` without keys makes one record of the
 * whole input.
 *
 * Reading.  For each input batch, in three passes over its live rows:
 *
 *   1. the arguments: each distinct argument is evaluated for every row
 *      (a bare field name is read straight from its cell, anything else
 *      through its compiled program) and turned into a number or a text
 *      (agg.h).  A row whose argument fails, or is a text where a number is
 *      needed, is a bad record: it goes to the run's --on-error policy and
 *      takes no part in any group.
 *   2. the groups: each row's key values are encoded into bytes (per key:
 *      0 for null, else the cell's kind, varint length and bytes), hashed,
 *      and looked up in an open-addressing table (linear probing, at most
 *      half full).  The hashes of the whole batch are computed first and
 *      their slots prefetched, and the records of the rows a little ahead
 *      are prefetched during the probes, so that the probes of a table
 *      larger than the cache overlap their memory latency.  A key seen for
 *      the first time gets a new group record.
 *   3. the states: each aggregate updates its state in the rows' groups,
 *      one tight loop per aggregate.
 *
 * Every byte of the records, of the table, of long keys and of the values
 * some aggregates keep is charged to the run's memory budget
 * (--memory-limit) before it is allocated; when the budget is spent the run
 * fails with a message that says how many groups there were and what to
 * raise.  (Spilling partial aggregates to disk is not done.)
 *
 * Output.  When the input ends, one record per group in the order the keys
 * were first seen (the records are numbered in that order): the keys, then
 * the aggregates.  The memory is given back as soon as the last record has
 * been handed on.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "formats/bytebuf.h"
#include "sluice/run.h"
#include "stages/agg.h"
#include "stages/args.h"
#include "stages/hints.h"
#include "stages/record.h"

#define STAGE "group"
#define AHEAD 8 /* rows between fetching a record and probing it */

/*
 * A group record has a fixed size (s->rsize, a multiple of 16):
 *
 *   the aggregates' states | key area (at least 8 bytes)
 *
 * The key area holds the key's length in its first byte and the encoded key
 * after it when it fits; a longer key is 0xFF there and the u32 offset of
 * [u32 length | bytes] in s->lkeys at bytes 4..7.  A single key is encoded
 * as its kind and bytes (0 alone for null), several keys as kind, varint
 * length and bytes each, so that the common key (one short field) is
 * compared in place: W2's records (sum, user_id) are 32 bytes.
 *
 * The records are one array, numbered in the order they were made, grown by
 * mremap (no copy) and, like the table, mapped with huge pages where the
 * kernel allows (MADV_HUGEPAGE): with half a million groups, 4 KiB pages
 * cost a TLB miss on almost every probe.  A slot of the table is (top 32
 * bits of the hash) << 32 | (number + 1), 0 when empty, so that a probe
 * dereferences a record only when its hash tag matches.
 */
#define LONG_KEY 0xFFu

typedef struct group_state {
    /* what was asked */
    sl_namelist keys;
    size_t *key_pos;        /* byte offset of each key in the stage text */
    sl_agg *aggs;
    uint32_t naggs;
    uint32_t ninputs;       /* distinct arguments */
    uint32_t *input_agg;    /* per input: the first aggregate reading it */
    char **labels;          /* per aggregate: "total = sum(adjusted)" */
    /* bound to the input schema */
    uint64_t in_id;
    int bound;
    int32_t *keycol;        /* per key: logical column, -1 = absent */
    int32_t *fieldcol;      /* per input: column of a bare field, -1 = absent,
                               -2 = evaluate the program */
    /* the groups */
    uint32_t rsize;         /* bytes of a group record */
    uint32_t key_off;       /* offset of the key area in a record */
    uint32_t inl;           /* bytes of the key area */
    uint8_t *base;          /* the records (mmap), base[n * rsize] */
    uint64_t rcap;          /* records base has room for */
    uint64_t rbytes;        /* bytes mapped (and charged) */
    uint64_t ngroups;
    uint64_t *slots;        /* tag << 32 | (record number + 1), 0 = empty */
    uint64_t mask;
    uint64_t slots_charged; /* bytes mapped for the slots (and charged) */
    uint8_t *lkeys;         /* keys longer than the key area */
    uint64_t lkeys_len, lkeys_cap;
    sl_agg_mem mem;
    int mem_init;
    /* per batch */
    uint32_t cap;
    uint64_t *hash;
    uint32_t *gid;          /* per row: group number */
    uint8_t **recs;         /* per row: its group record, NULL = dropped */
    uint32_t *koff, *klen;
    uint8_t *drop;
    uint8_t *kbuf;
    size_t kbuf_cap;
    sl_agg_in *ins;         /* ninputs x cap */
    sl_arena scratch;       /* strings computed by the arguments */
    /* output */
    sl_schema *out_schema;
    sl_batch out;
    int out_init;
    uint64_t emitted;
    int phase;              /* 0 reading, 1 emitting, 2 done */
    /* --partial: the states are written instead of the results; each
       record starts with the position of its group's first row (u64
       offset, u32 input, u32 1 once set) */
    int partial;
    char *aggs_text;        /* the aggregate list as written */
    sl_agg_pos *pos;        /* per batch row */
    sl_schema *head_schema, *part_schema;
    int head_done;
    bytebuf jb;
} group_state;
#define POS_BYTES 16

/* ------------------------------------------------------------------------ */
/* the argument text */

static size_t arg_start(const sl_stage *st, const char *args, const char **text)
{
    *text = args;
    if (!st->text)
        return 0;
    size_t tl = strlen(st->text), al = strlen(args);
    if (tl < al || strcmp(st->text + tl - al, args) != 0)
        return 0;
    *text = st->text;
    return tl - al;
}

/* The ':' that ends the keys: the first outside quotes, or 0 if none. */
static size_t find_colon(const char *t, size_t p)
{
    for (; t[p]; p++) {
        if (t[p] == '`' || t[p] == '"') {
            char q = t[p++];
            while (t[p] && !(t[p] == q && t[p + 1] != q)) {
                if (t[p] == q)
                    p++;
                p++;
            }
            if (!t[p])
                return 0;
        } else if (t[p] == ':') {
            return p;
        }
    }
    return 0;
}

/* Start of each name of the key list t[s..e), scanned as sl_namelist_parse
   scans it. */
static void key_positions(const char *t, size_t s, size_t e, size_t *pos, uint32_t n)
{
    size_t p = s;
    for (uint32_t k = 0; k < n; k++) {
        while (p < e && (isspace((unsigned char)t[p]) || t[p] == ','))
            p++;
        pos[k] = p;
        if (p < e && (t[p] == '`' || t[p] == '"')) {
            char q = t[p++];
            while (p < e && !(t[p] == q && t[p + 1] != q)) {
                if (t[p] == q)
                    p++;
                p++;
            }
            p++;
        } else {
            while (p < e && t[p] != ',' && !isspace((unsigned char)t[p]))
                p++;
        }
    }
}

static int group_create(sl_stage *st, const char *args, sl_error *err)
{
    group_state *s = calloc(1, sizeof *s);
    if (!s)
        return sl_fail(err, SL_E_NOMEM, STAGE, "out of memory");
    st->state = s;
    sl_arena_init(&s->scratch, 16 * 1024, 64u << 20);
    if (!args)
        args = "";
    const char *text;
    size_t start = arg_start(st, args, &text);
    size_t colon = find_colon(text, start);
    if (!colon) {
        size_t p = start;
        while (text[p] && text[p] != '=')
            p++;
        if (!text[start])
            return sl_fail(err, SL_E_USAGE, STAGE, "expected KEYS: NAME = AGGREGATE(EXPRESSION), ... as in "
                           "group user_id: total = sum(price), n = count()");
        sl_fail(err, SL_E_USAGE, STAGE, "expected ':' after the keys, as in group user_id: total = sum(price)%s",
                text[p] ? " (a group without keys is written group: NAME = ...)" : "");
        sl_expr_caret(err, text, strlen(text), text[p] ? start : strlen(text));
        return SL_E_USAGE;
    }
    /* the keys */
    char *ktext = strndup(text + start, colon - start);
    if (!ktext)
        return sl_fail(err, SL_E_NOMEM, STAGE, "out of memory");
    int rc = sl_namelist_parse(&s->keys, ktext, 0, STAGE, err);
    free(ktext);
    if (rc < 0)
        return rc;
    s->key_pos = calloc(s->keys.n ? s->keys.n : 1, sizeof *s->key_pos);
    if (!s->key_pos)
        return sl_fail(err, SL_E_NOMEM, STAGE, "out of memory");
    key_positions(text, start, colon, s->key_pos, s->keys.n);
    for (uint32_t i = 0; i < s->keys.n; i++)
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(s->keys.names[i], s->keys.names[j]) == 0) {
                sl_fail(err, SL_E_USAGE, STAGE, "key '%s' is listed twice", s->keys.names[i]);
                sl_expr_caret(err, text, strlen(text), s->key_pos[i]);
                return SL_E_USAGE;
            }
    /* the aggregates */
    if ((rc = sl_agg_parse(text, colon + 1, STAGE, &s->aggs, &s->naggs, err)) < 0)
        return rc;
    {
        size_t a0 = colon + 1, a1 = strlen(text);
        while (a0 < a1 && isspace((unsigned char)text[a0]))
            a0++;
        while (a1 > a0 && isspace((unsigned char)text[a1 - 1]))
            a1--;
        if (!(s->aggs_text = strndup(text + a0, a1 - a0)))
            return sl_fail(err, SL_E_NOMEM, STAGE, "out of memory");
    }
    if (s->keys.n == 0 && s->naggs == 0)
        return sl_fail(err, SL_E_USAGE, STAGE, "nothing to compute: give keys, aggregates or both, as in "
                       "group user_id: total = sum(price)");
    /* output names are unique */
    for (uint32_t i = 0; i < s->naggs; i++) {
        for (uint32_t k = 0; k < s->keys.n; k++)
            if (strcmp(s->aggs[i].name, s->keys.names[k]) == 0)
                return sl_fail(err, SL_E_USAGE, STAGE, "'%s' is both a key and the name of an aggregate (expected "
                               "another name for the aggregate)", s->aggs[i].name);
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(s->aggs[i].name, s->aggs[j].name) == 0)
                return sl_fail(err, SL_E_USAGE, STAGE, "'%s' is set twice (expected one name per aggregate)", s->aggs[i].name);
    }
    for (uint32_t i = 0; i < s->naggs; i++)
        if (s->aggs[i].arg && s->aggs[i].input + 1 > s->ninputs)
            s->ninputs = s->aggs[i].input + 1;
    s->input_agg = calloc(s->ninputs ? s->ninputs : 1, sizeof *s->input_agg);
    s->fieldcol = calloc(s->ninputs ? s->ninputs : 1, sizeof *s->fieldcol);
    s->keycol = calloc(s->keys.n ? s->keys.n : 1, sizeof *s->keycol);
    s->labels = calloc(s->naggs ? s->naggs : 1, sizeof *s->labels);
    if (!s->input_agg || !s->fieldcol || !s->keycol || !s->labels)
        return sl_fail(err, SL_E_NOMEM, STAGE, "out of memory");
    for (uint32_t i = s->naggs; i-- > 0;)
        if (s->aggs[i].arg)
            s->input_agg[s->aggs[i].input] = i;
    for (uint32_t i = 0; i < s->naggs; i++) {
        const sl_agg *g = &s->aggs[i];
        size_t n = strlen(g->name) + strlen(g->func) + (g->arg_text ? strlen(g->arg_text) : 0) + 8;
        if (!(s->labels[i] = malloc(n)))
            return sl_fail(err, SL_E_NOMEM, STAGE, "out of memory");
        snprintf(s->labels[i], n, "%s = %s(%s)", g->name, g->func, g->arg_text ? g->arg_text : "");
    }
    /* the output schema: keys, then aggregates */
    uint32_t nout = s->keys.n + s->naggs;
    const char **names = malloc((nout ? nout : 1) * sizeof *names);
    uint32_t *lens = malloc((nout ? nout : 1) * sizeof *lens);
    if (!names || !lens) {
        free(names);
        free(lens);
        return sl_fail(err, SL_E_NOMEM, STAGE, "out of memory");
    }
    for (uint32_t k = 0; k < s->keys.n; k++) {
        names[k] = s->keys.names[k];
        lens[k] = s->keys.lens[k];
    }
    for (uint32_t i = 0; i < s->naggs; i++) {
        names[s->keys.n + i] = s->aggs[i].name;
        lens[s->keys.n + i] = s->aggs[i].name_len;
    }
    s->out_schema = sl_schema_new(nout, names, lens);
    free(names);
    free(lens);
    if (!s->out_schema)
        return sl_fail(err, SL_E_NOMEM, STAGE, "out of memory");
    return SL_OK;
}

/* ------------------------------------------------------------------------ */
/* memory */

static int fail_memory(sl_stage *st, group_state *s, const sl_batch *b, uint32_t row)
{
    sl_run *run = st->run;
    char lim[32], held[32];
    int keeps = 0;
    for (uint32_t i = 0; i < s->naggs; i++)
        keeps |= s->aggs[i].op == SL_AGG_MEDIAN || s->aggs[i].op == SL_AGG_PERCENTILE ||
                 s->aggs[i].op == SL_AGG_COUNT_DISTINCT;
    sl_fail(&run->err, SL_E_NOMEM, STAGE,
            "the groups do not fit in --memory-limit %s (%llu group%s so far, %s in use); raise --memory-limit%s",
            sl_size_text(run->opt.memory_limit, lim), (unsigned long long)s->ngroups, s->ngroups == 1 ? "" : "s",
            sl_size_text(run->mem_used, held),
            keeps ? " (median, percentile and count_distinct keep every value of each group)" : "");
    if (b && b->info) {
        const sl_rowinfo *in = &b->info[row];
        const char *name = in->input < run->ninputs ? run->inputs[in->input].name : NULL;
        if (name && strcmp(name, "-") == 0)
            name = "(stdin)";
        sl_error_at(&run->err, name, in->line, 0, in->record);
    }
    return SL_E_NOMEM;
}

static inline uint8_t *rec_at(const group_state *s, uint64_t n)
{
    return s->base + n * s->rsize;
}

static inline uint32_t rec_klen(const group_state *s, const uint8_t *r)
{
    const uint8_t *a = r + s->key_off;
    if (a[0] != LONG_KEY)
        return a[0];
    uint32_t off, len;
    memcpy(&off, a + 4, 4);
    memcpy(&len, s->lkeys + off, 4);
    return len;
}

static inline const uint8_t *rec_key(const group_state *s, const uint8_t *r)
{
    const uint8_t *a = r + s->key_off;
    if (a[0] != LONG_KEY)
        return a + 1;
    uint32_t off;
    memcpy(&off, a + 4, 4);
    return s->lkeys + off + 4;
}

/* Anonymous zeroed memory, huge pages advised; MAP_FAILED on failure. */
static void *map_big(uint64_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
#ifdef MADV_HUGEPAGE
    if (p != MAP_FAILED && bytes >= (2u << 20))
        madvise(p, bytes, MADV_HUGEPAGE);
#endif
    return p;
}

static uint64_t page_round(uint64_t n) { return (n + 4095) & ~(uint64_t)4095; }

/* Room for record number s->ngroups: the array doubles (or, near the
   memory limit, grows by what is left), charged before it is mapped. */
static int rec_reserve(sl_stage *st, group_state *s)
{
    if (s->ngroups < s->rcap)
        return SL_OK;
    uint64_t want = s->rcap ? s->rcap * 2 : 1024;
    uint64_t bytes = page_round(want * s->rsize);
    if (sl_run_mem_take(st->run, bytes - s->rbytes) < 0) {
        uint64_t lim = st->run->opt.memory_limit, used = st->run->mem_used;
        uint64_t left = lim > used ? (lim - used) & ~(uint64_t)4095 : 0;
        bytes = s->rbytes + left;
        if (bytes / s->rsize <= s->ngroups || sl_run_mem_take(st->run, bytes - s->rbytes) < 0)
            return SL_E_NOMEM;
    }
    void *p;
    if (!s->base) {
        p = map_big(bytes);
    } else {
        p = mremap(s->base, s->rbytes, bytes, MREMAP_MAYMOVE);
#ifdef MADV_HUGEPAGE
        if (p != MAP_FAILED && bytes >= (2u << 20))
            madvise(p, bytes, MADV_HUGEPAGE);
#endif
    }
    if (p == MAP_FAILED) {
        sl_run_mem_give(st->run, bytes - s->rbytes);
        return SL_E_NOMEM;
    }
    s->base = p;
    s->rbytes = bytes;
    s->rcap = bytes / s->rsize;
    return SL_OK;
}

static void release_groups(sl_stage *st, group_state *s)
{
    if (s->base)
        munmap(s->base, s->rbytes);
    s->base = NULL;
    s->rcap = 0;
    if (s->slots)
        munmap(s->slots, s->slots_charged);
    s->slots = NULL;
    if (st->run)
        sl_run_mem_give(st->run, s->rbytes + s->slots_charged);
    s->rbytes = s->slots_charged = 0;
    free(s->lkeys);
    s->lkeys = NULL;
    if (st->run)
        sl_run_mem_give(st->run, s->lkeys_cap);
    s->lkeys_len = s->lkeys_cap = 0;
    if (s->mem_init)
        sl_agg_mem_fini(&s->mem);
    s->mem_init = 0;
}

/* ------------------------------------------------------------------------ */
/* keys */

static inline uint64_t key_hash(const uint8_t *p, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ull * (n + 1);
    while (n > 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 31;
        p += 8;
        n -= 8;
    }
    uint64_t w;
    if (n == 8) {
        memcpy(&w, p, 8);
    } else if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, p, 4);
        memcpy(&b, p + n - 4, 4);
        w = (uint64_t)a << 32 | b;
    } else if (n) {
        w = (uint64_t)p[0] | (uint64_t)p[n / 2] << 8 | (uint64_t)p[n - 1] << 16;
    } else {
        w = 0;
    }
    h = (h ^ w) * 0x94d049bb133111ebull;
    h ^= h >> 32;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 29;
    return h;
}

/* a == b for n bytes, without a call for the short keys of most data */
static inline int key_eq(const uint8_t *a, const uint8_t *b, size_t n)
{
    if (n >= 8) {
        if (n > 16)
            return memcmp(a, b, n) == 0;
        uint64_t x1, y1, x2, y2;
        memcpy(&x1, a, 8);
        memcpy(&y1, b, 8);
        memcpy(&x2, a + n - 8, 8);
        memcpy(&y2, b + n - 8, 8);
        return x1 == y1 && x2 == y2;
    }
    if (n >= 4) {
        uint32_t x1, y1, x2, y2;
        memcpy(&x1, a, 4);
        memcpy(&y1, b, 4);
        memcpy(&x2, a + n - 4, 4);
        memcpy(&y2, b + n - 4, 4);
        return x1 == y1 && x2 == y2;
    }
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return 0;
    return 1;
}

/* memcpy for the short values of most keys, without a call */
static inline void copy_small(uint8_t *d, const char *s, size_t n)
{
    if (n >= 8 && n <= 16) {
        uint64_t x, y;
        memcpy(&x, s, 8);
        memcpy(&y, s + n - 8, 8);
        memcpy(d, &x, 8);
        memcpy(d + n - 8, &y, 8);
    } else if (n >= 4 && n < 8) {
        uint32_t x, y;
        memcpy(&x, s, 4);
        memcpy(&y, s + n - 4, 4);
        memcpy(d, &x, 4);
        memcpy(d + n - 4, &y, 4);
    } else if (n < 4) {
        for (size_t i = 0; i < n; i++)
            d[i] = (uint8_t)s[i];
    } else {
        memcpy(d, s, n);
    }
}

static const sl_cell absent_cell = {NULL, 0, SL_ABSENT, {0}};

static inline const sl_cell *key_cell(const group_state *s, const sl_batch *b, uint32_t row, uint32_t k)
{
    return s->keycol[k] < 0 ? &absent_cell : sl_batch_cell(b, row, (uint32_t)s->keycol[k]);
}

static int table_resize(sl_stage *st, group_state *s, uint64_t nslots)
{
    uint64_t bytes = page_round(nslots * sizeof(uint64_t));
    if (sl_run_mem_take(st->run, bytes) < 0)
        return SL_E_NOMEM;
    uint64_t *ns = map_big(bytes);
    if (ns == MAP_FAILED) {
        sl_run_mem_give(st->run, bytes);
        return SL_E_NOMEM;
    }
    uint64_t mask = nslots - 1;
    for (uint64_t n = 0; n < s->ngroups; n++) {
        const uint8_t *r = rec_at(s, n);
        uint64_t h = key_hash(rec_key(s, r), rec_klen(s, r));
        uint64_t i = h & mask;
        while (ns[i])
            i = (i + 1) & mask;
        ns[i] = (h >> 32 << 32) | (n + 1);
    }
    if (s->slots)
        munmap(s->slots, s->slots_charged);
    sl_run_mem_give(st->run, s->slots_charged);
    s->slots = ns;
    s->mask = mask;
    s->slots_charged = bytes;
    return SL_OK;
}

/* A copy of a key too long for the key area, in s->lkeys; its offset. */
static int long_key(sl_stage *st, group_state *s, const uint8_t *key, uint32_t klen, uint32_t *off)
{
    uint64_t need = s->lkeys_len + 4 + klen;
    if (need > UINT32_MAX)
        return SL_E_NOMEM;
    if (need > s->lkeys_cap) {
        uint64_t cap = s->lkeys_cap ? s->lkeys_cap * 2 : 64 * 1024;
        while (cap < need)
            cap *= 2;
        if (sl_run_mem_take(st->run, cap - s->lkeys_cap) < 0)
            return SL_E_NOMEM;
        uint8_t *nk = realloc(s->lkeys, cap);
        if (!nk) {
            sl_run_mem_give(st->run, cap - s->lkeys_cap);
            return SL_E_NOMEM;
        }
        s->lkeys = nk;
        s->lkeys_cap = cap;
    }
    *off = (uint32_t)s->lkeys_len;
    memcpy(s->lkeys + s->lkeys_len, &klen, 4);
    memcpy(s->lkeys + s->lkeys_len + 4, key, klen);
    s->lkeys_len = need;
    return SL_OK;
}

/* A new group for the encoded key[0..klen): SL_OK, or SL_E_NOMEM (the
   budget is spent).  It may move the records. */
static int group_new(sl_stage *st, group_state *s, const uint8_t *key, uint32_t klen)
{
    if (rec_reserve(st, s) < 0)
        return SL_E_NOMEM;
    uint8_t *r = rec_at(s, s->ngroups);
    sl_agg_init_states(s->aggs, s->naggs, r);
    uint8_t *a = r + s->key_off;
    if (klen < s->inl) {
        a[0] = (uint8_t)klen;
        if (klen)
            memcpy(a + 1, key, klen);
    } else {
        uint32_t off;
        if (long_key(st, s, key, klen, &off) < 0)
            return SL_E_NOMEM;
        a[0] = LONG_KEY;
        memcpy(a + 4, &off, 4);
    }
    s->ngroups++;
    return SL_OK;
}

/* ------------------------------------------------------------------------ */
/* reading */

static int group_open(sl_stage *st)
{
    group_state *s = st->state;
    if (sl_agg_mem_init(&s->mem, st->run, s->naggs) < 0)
        return sl_fail(&st->run->err, SL_E_NOMEM, STAGE, "out of memory");
    s->mem_init = 1;
    /* the record: the states, then a key area of at least 8 bytes, the
       whole a multiple of 16 (a record never straddles two cache lines
       when it is 16, 32 or 64 bytes) */
    s->partial = st->run->opt.partial && st->index == st->run->nstages - 1;
    if (s->partial) {
        static const char *const hn[] = {"sluice_partial", "keys", "aggs", "shard"};
        static const uint32_t hl[] = {14, 4, 4, 5};
        static const char *const pn[] = {"pos", "k", "a"};
        static const uint32_t pl[] = {3, 1, 1};
        s->head_schema = sl_schema_new(4, hn, hl);
        s->part_schema = sl_schema_new(3, pn, pl);
        if (!s->head_schema || !s->part_schema)
            return sl_fail(&st->run->err, SL_E_NOMEM, STAGE, "out of memory");
    }
    uint32_t states_end = sl_agg_layout(s->aggs, s->naggs, s->partial ? POS_BYTES : 0);
    s->key_off = states_end;
    s->rsize = (states_end + 8 + 15) & ~15u;
    s->inl = s->rsize - s->key_off;
    if (s->keys.n == 0) {
        /* one group, even for an empty input */
        if (group_new(st, s, NULL, 0) < 0)
            return fail_memory(st, s, NULL, 0);
    } else if (table_resize(st, s, 1024) < 0) {
        return fail_memory(st, s, NULL, 0);
    }
    return SL_OK;
}

static int bind(sl_stage *st, group_state *s, const sl_schema *in)
{
    sl_error *err = &st->run->err;
    const char *text = st->text ? st->text : "";
    for (uint32_t k = 0; k < s->keys.n; k++) {
        s->keycol[k] = sl_schema_find(in, s->keys.names[k], s->keys.lens[k]);
        if (s->keycol[k] < 0 && !in->open) {
            sl_fail_no_field(err, STAGE, s->keys.names[k], in);
            sl_expr_caret(err, text, strlen(text), s->key_pos[k]);
            return SL_E_USAGE;
        }
    }
    unsigned flags = in->open ? SL_EXPR_BIND_OPEN : 0;
    for (uint32_t i = 0; i < s->naggs; i++) {
        sl_agg *g = &s->aggs[i];
        if (!g->arg)
            continue;
        int rc = sl_expr_bind(g->arg, in, UINT32_MAX, flags, err);
        if (rc < 0) {
            sl_agg_recaret(err, text, g->arg_end, g->arg_pos);
            return rc;
        }
    }
    for (uint32_t u = 0; u < s->ninputs; u++) {
        const sl_agg *g = &s->aggs[s->input_agg[u]];
        s->fieldcol[u] = g->field ? sl_schema_find(in, g->field, g->field_len) : -2;
    }
    s->in_id = in->id;
    s->bound = 1;
    return SL_OK;
}

static int grow_batch_arrays(sl_stage *st, group_state *s, uint32_t n)
{
    if (n <= s->cap)
        return SL_OK;
    uint32_t cap = s->cap ? s->cap : 1024;
    while (cap < n)
        cap *= 2;
    free(s->hash);
    free(s->gid);
    free(s->recs);
    free(s->koff);
    free(s->klen);
    free(s->drop);
    free(s->ins);
    free(s->pos);
    s->pos = malloc(cap * sizeof *s->pos);
    s->hash = malloc(cap * sizeof *s->hash);
    s->gid = malloc(cap * sizeof *s->gid);
    s->recs = malloc(cap * sizeof *s->recs);
    s->koff = malloc(cap * sizeof *s->koff);
    s->klen = malloc(cap * sizeof *s->klen);
    s->drop = malloc(cap);
    s->ins = malloc((size_t)(s->ninputs ? s->ninputs : 1) * cap * sizeof *s->ins);
    s->cap = cap;
    if (!s->hash || !s->gid || !s->recs || !s->koff || !s->klen || !s->drop || !s->ins || !s->pos) {
        s->cap = 0;
        return sl_fail(&st->run->err, SL_E_NOMEM, STAGE, "out of memory");
    }
    return SL_OK;
}

/* Pass 1: the arguments of every row. */
static int eval_inputs(sl_stage *st, group_state *s, const sl_batch *b, uint32_t live)
{
    sl_run *run = st->run;
    for (uint32_t u = 0; u < s->ninputs; u++) {
        uint32_t ai = s->input_agg[u];
        const sl_agg *g = &s->aggs[ai];
        sl_agg_in *in = s->ins + (size_t)u * s->cap;
        int32_t col = s->fieldcol[u];
        for (uint32_t i = 0; i < live; i++) {
            if (s->drop[i])
                continue;
            uint32_t row = sl_batch_row(b, i);
            if (col >= 0) {
                sl_agg_in_of_batch(b, row, (uint32_t)col, g->mode, &in[i]);
            } else if (col == -1) {
                in[i].t = SL_AIN_NULL;
            } else {
                sl_value v;
                int rc = sl_expr_eval(g->arg, b, row, &s->scratch, &v);
                if (rc == SL_E_DATA) {
                    if ((rc = sl_run_bad_record(run, b, row, STAGE, "%s: %s", s->labels[ai], sl_expr_errmsg(g->arg))) < 0)
                        return rc;
                    s->drop[i] = 1;
                    continue;
                }
                if (rc < 0) {
                    sl_fail(&run->err, rc, STAGE, "%s: %s", s->labels[ai], sl_expr_errmsg(g->arg));
                    if (b->info)
                        sl_error_at(&run->err, NULL, b->info[row].line, 0, b->info[row].record);
                    return rc;
                }
                sl_agg_in_of_value(&v, g->mode, &in[i]);
            }
            if (in[i].t == SL_AIN_BAD) {
                int n = in[i].len > 40 ? 40 : (int)in[i].len;
                int rc = sl_run_bad_record(run, b, row, STAGE, "%s: \"%.*s%s\" is not a number (expected a number, or an "
                                           "empty value, which is skipped)", s->labels[ai], n, in[i].s, in[i].len > 40 ? "..." : "");
                if (rc < 0)
                    return rc;
                s->drop[i] = 1;
            }
        }
    }
    return SL_OK;
}

/* Encode the key of every row into s->kbuf and hash it. */
static int encode_keys(sl_stage *st, group_state *s, const sl_batch *b, uint32_t live)
{
    uint32_t nk = s->keys.n;
    size_t kn = 0;
    for (uint32_t i = 0; i < live; i++) {
        if (s->drop[i]) {
            s->hash[i] = 0; /* fetched ahead all the same */
            continue;
        }
        uint32_t row = sl_batch_row(b, i);
        size_t need = 0;
        for (uint32_t k = 0; k < nk; k++)
            need += key_cell(s, b, row, k)->len + 12;
        if (kn + need > s->kbuf_cap) {
            size_t cap = s->kbuf_cap ? s->kbuf_cap * 2 : 64 * 1024;
            while (cap < kn + need)
                cap *= 2;
            uint8_t *nb = realloc(s->kbuf, cap);
            if (!nb)
                return sl_fail(&st->run->err, SL_E_NOMEM, STAGE, "out of memory");
            s->kbuf = nb;
            s->kbuf_cap = cap;
        }
        size_t o = kn;
        uint8_t *kb = s->kbuf;
        for (uint32_t k = 0; k < nk; k++) {
            const sl_cell *c = key_cell(s, b, row, k);
            if (c->len == 0 || c->kind == SL_NULL || c->kind == SL_ABSENT) {
                kb[kn++] = 0; /* null, absent and empty are one value */
            } else {
                kb[kn++] = c->kind;
                if (nk > 1)
                    kn += sl_varint_put(kb + kn, c->len);
                copy_small(kb + kn, c->p, c->len);
                kn += c->len;
            }
        }
        s->koff[i] = (uint32_t)o;
        s->klen[i] = (uint32_t)(kn - o);
        s->hash[i] = key_hash(kb + o, kn - o);
    }
    return SL_OK;
}

/* Pass 2: the group of every row (s->gid, then s->recs). */
static int find_groups(sl_stage *st, group_state *s, const sl_batch *b, uint32_t live)
{
    if (s->keys.n == 0) {
        for (uint32_t i = 0; i < live; i++) {
            s->gid[i] = 0;
            s->recs[i] = s->drop[i] ? NULL : s->base;
        }
        return SL_OK;
    }
    int rc = encode_keys(st, s, b, live);
    if (rc < 0)
        return rc;
    uint32_t inl = s->inl, key_off = s->key_off;
    /* a software pipeline: the slot of row i + 2D and the record of row
       i + D are fetched while row i is probed, so that about 2D cache misses
       are in flight at any time (a burst of a whole batch of prefetches
       overflows the miss buffers and most of them are lost) */
    for (uint32_t i = 0; i < live && i < 2 * AHEAD; i++)
        __builtin_prefetch(&s->slots[s->hash[i] & s->mask]);
    for (uint32_t i = 0; i < live; i++) {
        if (i + 2 * AHEAD < live)
            __builtin_prefetch(&s->slots[s->hash[i + 2 * AHEAD] & s->mask]);
        if (i + AHEAD < live) {
            uint64_t ha = s->hash[i + AHEAD], sv = s->slots[ha & s->mask];
            if (sv && (uint32_t)(sv >> 32) == (uint32_t)(ha >> 32))
                __builtin_prefetch(rec_at(s, (sv & 0xffffffffu) - 1) + key_off);
        }
        if (s->drop[i])
            continue;
        uint64_t h = s->hash[i];
        uint32_t tag = (uint32_t)(h >> 32);
        const uint8_t *key = s->kbuf + s->koff[i];
        uint32_t klen = s->klen[i];
        uint64_t j = h & s->mask;
        uint64_t found = 0;
        for (;;) {
            uint64_t sv = s->slots[j];
            if (!sv)
                break;
            if ((uint32_t)(sv >> 32) == tag) {
                const uint8_t *a = rec_at(s, (sv & 0xffffffffu) - 1) + key_off;
                int same = klen < inl ? a[0] == klen && key_eq(a + 1, key, klen)
                                      : a[0] == LONG_KEY && rec_klen(s, a - key_off) == klen &&
                                            memcmp(rec_key(s, a - key_off), key, klen) == 0;
                if (same) {
                    found = sv & 0xffffffffu;
                    break;
                }
            }
            j = (j + 1) & s->mask;
        }
        if (!found) {
            if (s->ngroups >= UINT32_MAX - 1)
                return sl_fail(&st->run->err, SL_E_NOMEM, STAGE, "more than %u groups", UINT32_MAX - 2);
            if (group_new(st, s, key, klen) < 0)
                return fail_memory(st, s, b, sl_batch_row(b, i));
            found = s->ngroups;
            s->slots[j] = ((uint64_t)tag << 32) | found;
            /* at most half full; near the memory limit, up to 80% full
               rather than failing while the budget still holds records */
            if (s->ngroups * 2 > s->mask + 1 && table_resize(st, s, (s->mask + 1) * 2) < 0 &&
                s->ngroups * 5 > (s->mask + 1) * 4)
                return fail_memory(st, s, b, sl_batch_row(b, i));
        }
        s->gid[i] = (uint32_t)(found - 1);
    }
    /* the records do not move again during this batch */
    for (uint32_t i = 0; i < live; i++)
        s->recs[i] = s->drop[i] ? NULL : rec_at(s, s->gid[i]);
    return SL_OK;
}

/* --partial: where each row was read, in the order of the whole input
   (the input's place on the command line, the byte offset in the file),
   and the first position of each new group. */
static int note_positions(sl_stage *st, group_state *s, const sl_batch *b, uint32_t live)
{
    sl_run *run = st->run;
    if (!b->info)
        return sl_fail(&run->err, SL_E_USAGE, STAGE, "--partial needs the records' positions, which the stages before "
                       "group did not keep");
    for (uint32_t i = 0; i < live; i++) {
        const sl_rowinfo *in = &b->info[sl_batch_row(b, i)];
        const sl_input *x = in->input < run->ninputs ? &run->inputs[in->input] : NULL;
        s->pos[i].input = x ? x->order : 0;
        s->pos[i].off = in->offset + (x && x->ranged ? x->start - x->head_len : 0);
        s->pos[i].pad = 0;
        uint8_t *r = s->recs[i];
        if (r && !r[12]) {
            memcpy(r, &s->pos[i].off, 8);
            memcpy(r + 8, &s->pos[i].input, 4);
            r[12] = 1;
        }
    }
    return SL_OK;
}

static int consume(sl_stage *st, group_state *s, const sl_batch *b)
{
    int rc;
    if ((!s->bound || b->schema->id != s->in_id) && (rc = bind(st, s, b->schema)) < 0)
        return rc;
    uint32_t live = sl_batch_live(b);
    if ((rc = grow_batch_arrays(st, s, live)) < 0)
        return rc;
    if (s->scratch.first)
        sl_arena_reset(&s->scratch);
    memset(s->drop, 0, live);
    if ((rc = eval_inputs(st, s, b, live)) < 0)
        return rc;
    if ((rc = find_groups(st, s, b, live)) < 0)
        return rc;
    if (s->partial && (rc = note_positions(st, s, b, live)) < 0)
        return rc;
    for (uint32_t a = 0; a < s->naggs; a++) {
        const sl_agg_in *in = s->aggs[a].arg ? s->ins + (size_t)s->aggs[a].input * s->cap : NULL;
        if (sl_agg_update(s->aggs, a, &s->mem, s->recs, s->gid, in, s->partial ? s->pos : NULL, live) < 0)
            return fail_memory(st, s, b, sl_batch_row(b, live - 1));
    }
    return SL_OK;
}

/* ------------------------------------------------------------------------ */
/* output */

/* Copy the JSON text in s->jb into a cell of out. */
static int jb_cell(group_state *s, sl_batch *out, sl_cell *c)
{
    if (!bb_ok(&s->jb))
        return SL_E_NOMEM;
    char *p = sl_arena_alloc(&out->arena, s->jb.len ? s->jb.len : 1);
    if (!p)
        return SL_E_NOMEM;
    memcpy(p, s->jb.p, s->jb.len);
    *c = (sl_cell){p, (uint32_t)s->jb.len, SL_JSON, {0}};
    bb_clear(&s->jb);
    return SL_OK;
}

/* --partial: the first line names the format, its version and the group
   it holds; then one line per group: where it was first seen, its keys
   and the aggregates' states (docs/sharding.md). */
static int emit_partial(sl_stage *st, group_state *s, sl_batch **outp)
{
    sl_run *run = st->run;
    sl_batch *out = &s->out;
    uint32_t nk = s->keys.n;
    if (!s->head_done) {
        s->head_done = 1;
        if (sl_batch_reset(out, s->head_schema, 4) < 0)
            return sl_fail(&run->err, SL_E_NOMEM, STAGE, "out of memory");
        sl_cell *c = out->cells;
        c[0] = (sl_cell){"1", 1, SL_NUMBER, {0}};
        bb_byte(&s->jb, '[');
        for (uint32_t k = 0; k < nk; k++) {
            if (k)
                bb_byte(&s->jb, ',');
            sl_agg_json_bytes(&s->jb, s->keys.names[k], s->keys.lens[k]);
        }
        bb_byte(&s->jb, ']');
        if (jb_cell(s, out, &c[1]) < 0)
            return sl_fail(&run->err, SL_E_NOMEM, STAGE, "out of memory");
        c[2] = (sl_cell){s->aggs_text, (uint32_t)strlen(s->aggs_text), SL_STRING, {0}};
        char sh[32];
        int n = snprintf(sh, sizeof sh, "%u/%u", run->opt.shard_count ? run->opt.shard_index : 0,
                         run->opt.shard_count ? run->opt.shard_count : 1);
        char *p = sl_arena_alloc(&out->arena, (size_t)n);
        if (!p)
            return sl_fail(&run->err, SL_E_NOMEM, STAGE, "out of memory");
        memcpy(p, sh, (size_t)n);
        c[3] = (sl_cell){p, (uint32_t)n, SL_STRING, {0}};
        memset(&out->info[0], 0, sizeof out->info[0]);
        out->nrows = 1;
        *outp = out;
        return SL_BATCH;
    }
    if (sl_batch_reset(out, s->part_schema, 3) < 0)
        return sl_fail(&run->err, SL_E_NOMEM, STAGE, "out of memory");
    uint32_t k = 0;
    while (s->emitted < s->ngroups && k < out->cap_rows) {
        uint32_t gid = (uint32_t)s->emitted;
        const uint8_t *r = rec_at(s, s->emitted++);
        sl_cell *dst = &out->cells[(size_t)k * out->stride];
        int rc = SL_OK;
        if (r[12]) {
            uint64_t off;
            uint32_t in;
            memcpy(&off, r, 8);
            memcpy(&in, r + 8, 4);
            char tmp[48];
            int n = snprintf(tmp, sizeof tmp, "[%u,%llu]", in, (unsigned long long)off);
            bb_put(&s->jb, tmp, (size_t)n);
        } else {
            bb_put(&s->jb, "null", 4); /* the group of no keys over no records */
        }
        if (jb_cell(s, out, &dst[0]) < 0)
            return sl_fail(&run->err, SL_E_NOMEM, STAGE, "out of memory");
        uint32_t klen = rec_klen(s, r);
        const uint8_t *p = rec_key(s, r), *end = p + klen;
        bb_byte(&s->jb, '[');
        for (uint32_t j = 0; j < nk; j++) {
            if (j)
                bb_byte(&s->jb, ',');
            uint8_t kind = *p++;
            if (kind == 0) {
                bb_put(&s->jb, "null", 4);
                continue;
            }
            uint64_t len = klen - 1;
            if (nk > 1)
                p += sl_varint_get(p, end, &len);
            char tmp[16];
            int n = snprintf(tmp, sizeof tmp, "[%u,", kind);
            bb_put(&s->jb, tmp, (size_t)n);
            sl_agg_json_bytes(&s->jb, (const char *)p, len);
            bb_byte(&s->jb, ']');
            p += len;
        }
        bb_byte(&s->jb, ']');
        if (jb_cell(s, out, &dst[1]) < 0)
            return sl_fail(&run->err, SL_E_NOMEM, STAGE, "out of memory");
        bb_byte(&s->jb, '[');
        for (uint32_t a = 0; a < s->naggs && rc == SL_OK; a++) {
            if (a)
                bb_byte(&s->jb, ',');
            rc = sl_agg_state_json(s->aggs, a, &s->mem, r, gid, s->ngroups, &s->jb);
        }
        bb_byte(&s->jb, ']');
        if (rc < 0 || jb_cell(s, out, &dst[2]) < 0)
            return fail_memory(st, s, NULL, 0);
        memset(&out->info[k], 0, sizeof out->info[k]);
        k++;
    }
    out->nrows = k;
    if (k == 0)
        return SL_DONE;
    *outp = out;
    return SL_BATCH;
}

static int emit(sl_stage *st, group_state *s, sl_batch **outp)
{
    if (s->partial)
        return emit_partial(st, s, outp);
    sl_run *run = st->run;
    sl_batch *out = &s->out;
    uint32_t nk = s->keys.n, nout = nk + s->naggs;
    if (sl_batch_reset(out, s->out_schema, nout ? nout : 1) < 0)
        return sl_fail(&run->err, SL_E_NOMEM, STAGE, "out of memory");
    uint32_t k = 0;
    while (s->emitted < s->ngroups && k < out->cap_rows) {
        const uint8_t *r = rec_at(s, s->emitted++);
        sl_cell *dst = &out->cells[(size_t)k * out->stride];
        uint32_t klen = rec_klen(s, r);
        const uint8_t *p = rec_key(s, r), *end = p + klen;
        for (uint32_t j = 0; j < nk; j++) {
            uint8_t kind = *p++;
            if (kind == 0) {
                dst[j] = (sl_cell){NULL, 0, SL_NULL, {0}};
                continue;
            }
            uint64_t len = klen - 1; /* one key: the rest of the key */
            if (nk > 1)
                p += sl_varint_get(p, end, &len);
            dst[j] = (sl_cell){(const char *)p, (uint32_t)len, kind, {0}};
            p += len;
        }
        for (uint32_t a = 0; a < s->naggs; a++)
            if (sl_agg_result(s->aggs, a, &s->mem, r, &out->arena, &dst[nk + a]) < 0)
                return fail_memory(st, s, NULL, 0);
        memset(&out->info[k], 0, sizeof out->info[k]);
        k++;
    }
    out->nrows = k;
    if (k == 0)
        return SL_DONE;
    *outp = out;
    return SL_BATCH;
}

static int group_next(sl_stage *st, sl_batch **outp)
{
    group_state *s = st->state;
    int rc;
    if (s->phase == 0) {
        for (;;) {
            sl_batch *b;
            rc = sl_stage_next(st->input, &b);
            if (rc < 0)
                return rc;
            if (rc == SL_DONE)
                break;
            if ((rc = consume(st, s, b)) < 0)
                return rc;
        }
        if (!s->out_init) {
            uint32_t rows = st->run->opt.batch_rows ? st->run->opt.batch_rows : 1024;
            if (sl_batch_init(&s->out, rows, s->keys.n + s->naggs > 4 ? s->keys.n + s->naggs : 4, 0) < 0)
                return sl_fail(&st->run->err, SL_E_NOMEM, STAGE, "out of memory");
            s->out_init = 1;
        }
        /* the table and the per-batch buffers are not needed any more */
        free(s->kbuf);
        s->kbuf = NULL;
        s->kbuf_cap = 0;
        if (s->slots)
            munmap(s->slots, s->slots_charged);
        s->slots = NULL;
        sl_run_mem_give(st->run, s->slots_charged);
        s->slots_charged = 0;
        s->emitted = 0;
        s->phase = 1;
    }
    if (s->phase == 1) {
        rc = emit(st, s, outp);
        if (rc != SL_DONE)
            return rc;
        s->phase = 2;
        release_groups(st, s);
    }
    return SL_DONE;
}

int sl_group_reads_number_only(const sl_stage *g, const char *name, size_t len)
{
    const group_state *s = g->state;
    if (!s)
        return 0;
    for (uint32_t i = 0; i < s->keys.n; i++)
        if (s->keys.lens[i] == len && memcmp(s->keys.names[i], name, len) == 0)
            return 0;
    for (uint32_t i = 0; i < s->naggs; i++) {
        const sl_agg *a = &s->aggs[i];
        if (a->field && a->field_len == len && memcmp(a->field, name, len) == 0) {
            switch (a->op) {
            case SL_AGG_COUNT: case SL_AGG_SUM: case SL_AGG_MEAN: case SL_AGG_VAR: case SL_AGG_STDDEV:
            case SL_AGG_VAR_POP: case SL_AGG_STDDEV_POP: case SL_AGG_MEDIAN: case SL_AGG_PERCENTILE:
                continue;
            default:
                return 0; /* min, max, first, last, count_distinct keep the text */
            }
        }
        /* inside an expression (or a name that merely contains it): keep it */
        if (a->arg_text && memmem(a->arg_text, strlen(a->arg_text), name, len))
            return 0;
    }
    return 1;
}

/* The output's fields are known from the arguments alone. */
static int group_schema(sl_stage *st, sl_schema **out)
{
    group_state *s = st->state;
    *out = s ? s->out_schema : NULL;
    return SL_OK;
}

static void group_close(sl_stage *st)
{
    group_state *s = st->state;
    if (!s)
        return;
    release_groups(st, s);
    sl_agg_free(s->aggs, s->naggs);
    if (s->labels)
        for (uint32_t i = 0; i < s->naggs; i++)
            free(s->labels[i]);
    free(s->labels);
    sl_namelist_free(&s->keys);
    free(s->key_pos);
    free(s->input_agg);
    free(s->fieldcol);
    free(s->keycol);
    free(s->hash);
    free(s->gid);
    free(s->recs);
    free(s->koff);
    free(s->klen);
    free(s->drop);
    free(s->kbuf);
    free(s->ins);
    free(s->pos);
    free(s->aggs_text);
    bb_free(&s->jb);
    if (s->head_schema)
        sl_schema_unref(s->head_schema);
    if (s->part_schema)
        sl_schema_unref(s->part_schema);
    sl_arena_fini(&s->scratch);
    if (s->out_init)
        sl_batch_fini(&s->out);
    if (s->out_schema)
        sl_schema_unref(s->out_schema);
    free(s);
    st->state = NULL;
}

const sl_stage_type sl_group_stage_type = {
    .name = "group",
    .usage = "group KEYS: NAME=AGG(X),...",
    .summary = "aggregate by key: count, sum, mean, min, max, median ...",
    .help = "One record per distinct combination of the KEYS, in the order the keys\n"
            "were first seen: the keys, then each NAME set to its aggregate over the\n"
            "group's records.  Without keys (group: ...), one record for the whole\n"
            "input.  The argument of an aggregate is any expression.\n"
            "\n"
            "  group user_id: total = sum(price * quantity), n = count()\n"
            "  group region, product: avg = mean(price), p90 = percentile(price, 0.9)\n"
            "  group: rows = count(), users = count_distinct(user_id)\n"
            "\n"
            "Aggregates: count() count(x) sum mean (avg) min max first last\n"
            "count_distinct var stddev (sample) var_pop stddev_pop median\n"
            "percentile(x, p).  Nulls are skipped.  The groups are held in memory under\n"
            "--memory-limit (median, percentile and count_distinct keep every value).\n"
            "The rules are in docs/aggregates.md.\n",
    .create = group_create,
    .open = group_open,
    .next = group_next,
    .close = group_close,
    .schema = group_schema,
};
