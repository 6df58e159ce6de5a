/*
 * uniq.c - `uniq [KEYS]` keeps the first record of each distinct key;
 * `uniq --adjacent [KEYS]` drops a record only when its key equals the
 * previous record's.
 *
 * Streaming: a record goes on as soon as it is seen the first time; the
 * stage narrows the selection of the batch it was handed (no cell is
 * copied) and never holds records, only keys.
 *
 * Keys.  A key is the list of the key fields' values; without KEYS, the
 * whole record: its (field name, value) pairs, absent fields left out and
 * the order of the fields ignored, so {"a":1,"b":2} and {"b":2,"a":1} are
 * one record.  Values compare as their text, byte for byte (nothing is
 * trimmed, 1 and 1.0 differ, a JSON string "7" equals a CSV field 7); null
 * and absent are one value, different from every text, the empty text
 * included (a CSV "" is text, an empty unquoted field is null).
 *
 * Memory.  Plain uniq keeps every distinct key, encoded (record.h varints:
 * one tag byte and a length per value), in a hash set whose table and key
 * bytes are charged to the run's memory budget.  When the budget is spent
 * it stops with an error saying how many keys it held; it does not spill.
 * --adjacent keeps one key: constant memory.
 */
#include <stdlib.h>
#include <string.h>

#include "sluice/run.h"
#include "stages/args.h"
#include "stages/record.h"

#define STAGE "uniq"

typedef struct uniq_ent {
    uint64_t h;
    const uint8_t *k;   /* varint length, then the key bytes */
} uniq_ent;

typedef struct uniq_state {
    int adjacent;
    sl_namelist keys;       /* n == 0: the whole record */
    /* the schema of the batch being read */
    uint64_t cur_id;
    int have_cur;
    int32_t *cols;          /* keys: column of each key, -1 absent */
    uint32_t *perm;         /* whole record: columns in name order */
    uint32_t perm_cap;
    int cur_open;
    uint32_t cur_nameset;   /* whole record, closed schema: its name set */
    /* name sets of closed schemas: the sorted names, length-prefixed */
    uint8_t **namesets;
    size_t *nameset_len;
    uint32_t nnamesets;
    /* the key of the record at hand */
    uint8_t *key;
    size_t klen, kcap;
    /* the set */
    uniq_ent *tab;
    size_t tcap, count;
    sl_budget_arena store;
    uint64_t held;          /* the table, and prev */
    /* --adjacent */
    uint8_t *prev;
    size_t prev_len, prev_cap;
    int have_prev;
} uniq_state;

/* ---- keys ---- */

static int key_room(uniq_state *s, size_t n)
{
    if (s->klen + n <= s->kcap)
        return 0;
    size_t ncap = s->kcap ? s->kcap : 256;
    while (ncap < s->klen + n)
        ncap *= 2;
    uint8_t *nk = realloc(s->key, ncap);
    if (!nk)
        return -1;
    s->key = nk;
    s->kcap = ncap;
    return 0;
}

static int put_value(uniq_state *s, const sl_cell *c)
{
    if (c->kind == SL_NULL || c->kind == SL_ABSENT) {
        if (key_room(s, 1) < 0)
            return -1;
        s->key[s->klen++] = 0;
        return 0;
    }
    if (key_room(s, 11 + (size_t)c->len) < 0)
        return -1;
    s->key[s->klen++] = 1;
    s->klen += sl_varint_put(s->key + s->klen, c->len);
    if (c->len)
        memcpy(s->key + s->klen, c->p, c->len);
    s->klen += c->len;
    return 0;
}

static int name_cmp(const void *a, const void *b, void *schema)
{
    const sl_schema *sc = schema;
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    uint32_t lx = sc->name_len[x], ly = sc->name_len[y];
    int c = memcmp(sc->names[x], sc->names[y], lx < ly ? lx : ly);
    return c ? c : (lx > ly) - (lx < ly);
}

static int plan(sl_stage *st, uniq_state *s, const sl_schema *sc)
{
    sl_error *err = &st->run->err;
    s->cur_id = sc->id;
    s->have_cur = 1;
    s->cur_open = sc->open;
    if (s->keys.n) {
        for (uint32_t i = 0; i < s->keys.n; i++) {
            int c = sl_schema_find(sc, s->keys.names[i], s->keys.lens[i]);
            if (c < 0 && !sc->open)
                return sl_fail_no_field(err, STAGE, s->keys.names[i], sc);
            s->cols[i] = c;
        }
        return SL_OK;
    }
    if (sc->ncols > s->perm_cap) {
        uint32_t *np = realloc(s->perm, sc->ncols * sizeof *np);
        if (!np)
            return sl_fail(err, SL_E_NOMEM, STAGE, "out of memory");
        s->perm = np;
        s->perm_cap = sc->ncols;
    }
    for (uint32_t i = 0; i < sc->ncols; i++)
        s->perm[i] = i;
    qsort_r(s->perm, sc->ncols, sizeof *s->perm, name_cmp, (void *)sc);
    if (sc->open)
        return SL_OK;
    /* a closed schema: its sorted names stand for one small number */
    size_t n = 0;
    for (uint32_t i = 0; i < sc->ncols; i++)
        n += sl_varint_len(sc->name_len[i]) + sc->name_len[i];
    uint8_t *sig = malloc(n ? n : 1);
    if (!sig)
        return sl_fail(err, SL_E_NOMEM, STAGE, "out of memory");
    size_t k = 0;
    for (uint32_t i = 0; i < sc->ncols; i++) {
        uint32_t c = s->perm[i];
        k += sl_varint_put(sig + k, sc->name_len[c]);
        memcpy(sig + k, sc->names[c], sc->name_len[c]);
        k += sc->name_len[c];
    }
    for (uint32_t i = 0; i < s->nnamesets; i++)
        if (s->nameset_len[i] == n && memcmp(s->namesets[i], sig, n) == 0) {
            free(sig);
            s->cur_nameset = i;
            return SL_OK;
        }
    uint8_t **ns = realloc(s->namesets, (s->nnamesets + 1) * sizeof *ns);
    if (ns)
        s->namesets = ns;
    size_t *nl = realloc(s->nameset_len, (s->nnamesets + 1) * sizeof *nl);
    if (nl)
        s->nameset_len = nl;
    if (!ns || !nl) {
        free(sig);
        return sl_fail(err, SL_E_NOMEM, STAGE, "out of memory");
    }
    s->namesets[s->nnamesets] = sig;
    s->nameset_len[s->nnamesets] = n;
    s->cur_nameset = s->nnamesets++;
    return SL_OK;
}

/* The key of physical row `row` into s->key[0..klen). */
static int make_key(uniq_state *s, const sl_batch *b, uint32_t row)
{
    static const sl_cell absent = {NULL, 0, SL_ABSENT, {0}};
    s->klen = 0;
    if (s->keys.n) {
        for (uint32_t i = 0; i < s->keys.n; i++)
            if (put_value(s, s->cols[i] < 0 ? &absent : sl_batch_cell(b, row, (uint32_t)s->cols[i])) < 0)
                return -1;
        return 0;
    }
    const sl_schema *sc = b->schema;
    if (!s->cur_open) {
        if (key_room(s, 10) < 0)
            return -1;
        s->klen += sl_varint_put(s->key, s->cur_nameset);
        for (uint32_t i = 0; i < sc->ncols; i++)
            if (put_value(s, sl_batch_cell(b, row, s->perm[i])) < 0)
                return -1;
        return 0;
    }
    for (uint32_t i = 0; i < sc->ncols; i++) {
        uint32_t c = s->perm[i];
        const sl_cell *v = sl_batch_cell(b, row, c);
        if (v->kind == SL_ABSENT)
            continue;
        if (key_room(s, 10 + sc->name_len[c]) < 0)
            return -1;
        s->klen += sl_varint_put(s->key + s->klen, sc->name_len[c]);
        memcpy(s->key + s->klen, sc->names[c], sc->name_len[c]);
        s->klen += sc->name_len[c];
        if (put_value(s, v) < 0)
            return -1;
    }
    return 0;
}

/* ---- the set ---- */

static int fail_full(sl_stage *st, uniq_state *s, const sl_batch *b, uint32_t row)
{
    char lim[32];
    sl_fail(&st->run->err, SL_E_NOMEM, STAGE, "more distinct keys than --memory-limit %s holds (%zu keys seen); raise "
            "--memory-limit", sl_size_text(st->run->opt.memory_limit, lim), s->count);
    if (b->info) {
        const sl_rowinfo *in = &b->info[row];
        sl_error_at(&st->run->err, in->input < st->run->ninputs ? st->run->inputs[in->input].name : NULL, in->line, 0,
                    in->record);
    }
    return SL_E_NOMEM;
}

static int grow(sl_stage *st, uniq_state *s)
{
    size_t ncap = s->tcap ? s->tcap * 2 : 1024;
    uint64_t bytes = (uint64_t)ncap * sizeof(uniq_ent);
    if (sl_run_mem_take(st->run, bytes) < 0)
        return SL_E_NOMEM;
    uniq_ent *nt = calloc(ncap, sizeof *nt);
    if (!nt) {
        sl_run_mem_give(st->run, bytes);
        return sl_fail(&st->run->err, SL_E_NOMEM, STAGE, "out of memory");
    }
    for (size_t i = 0; i < s->tcap; i++) {
        if (!s->tab[i].k)
            continue;
        size_t j = s->tab[i].h & (ncap - 1);
        while (nt[j].k)
            j = (j + 1) & (ncap - 1);
        nt[j] = s->tab[i];
    }
    free(s->tab);
    sl_run_mem_give(st->run, (uint64_t)s->tcap * sizeof(uniq_ent));
    s->held += bytes - (uint64_t)s->tcap * sizeof(uniq_ent);
    s->tab = nt;
    s->tcap = ncap;
    return SL_OK;
}

/* 1 when the key is new (and now kept), 0 when seen before, or an error. */
static int insert(sl_stage *st, uniq_state *s, const sl_batch *b, uint32_t row)
{
    if ((s->count + 1) * 10 > s->tcap * 7) {
        int rc = grow(st, s);
        if (rc == SL_E_NOMEM && st->run->err.code == SL_OK)
            return fail_full(st, s, b, row);
        if (rc < 0)
            return rc;
    }
    uint64_t h = sl_hash_bytes(s->key, s->klen);
    size_t j = h & (s->tcap - 1);
    while (s->tab[j].k) {
        if (s->tab[j].h == h) {
            uint64_t len = 0;
            size_t k = sl_varint_get(s->tab[j].k, s->tab[j].k + 10, &len);
            if (len == s->klen && memcmp(s->tab[j].k + k, s->key, s->klen) == 0)
                return 0;
        }
        j = (j + 1) & (s->tcap - 1);
    }
    size_t need = sl_varint_len(s->klen) + s->klen;
    uint8_t *p = sl_budget_arena_alloc(&s->store, need);
    if (!p)
        return s->store.oom ? sl_fail(&st->run->err, SL_E_NOMEM, STAGE, "out of memory") : fail_full(st, s, b, row);
    size_t k = sl_varint_put(p, s->klen);
    memcpy(p + k, s->key, s->klen);
    s->tab[j].h = h;
    s->tab[j].k = p;
    s->count++;
    return 1;
}

/* --adjacent: 1 when the key differs from the previous one (and is now the
   previous one), 0 when equal. */
static int differs(sl_stage *st, uniq_state *s)
{
    if (s->have_prev && s->prev_len == s->klen && memcmp(s->prev, s->key, s->klen) == 0)
        return 0;
    if (s->klen > s->prev_cap) {
        size_t ncap = s->klen * 2;
        if (sl_run_mem_take(st->run, ncap - s->prev_cap) < 0) {
            char lim[32];
            return sl_fail(&st->run->err, SL_E_NOMEM, STAGE, "a key of %zu bytes does not fit in --memory-limit %s", s->klen,
                           sl_size_text(st->run->opt.memory_limit, lim));
        }
        uint8_t *np = realloc(s->prev, ncap);
        if (!np) {
            sl_run_mem_give(st->run, ncap - s->prev_cap);
            return sl_fail(&st->run->err, SL_E_NOMEM, STAGE, "out of memory");
        }
        s->held += ncap - s->prev_cap;
        s->prev = np;
        s->prev_cap = ncap;
    }
    if (s->klen)
        memcpy(s->prev, s->key, s->klen);
    s->prev_len = s->klen;
    s->have_prev = 1;
    return 1;
}

static int uniq_next(sl_stage *st, sl_batch **out)
{
    uniq_state *s = st->state;
    for (;;) {
        sl_batch *b;
        int rc = sl_stage_next(st->input, &b);
        if (rc != SL_BATCH)
            return rc;
        if ((!s->have_cur || b->schema->id != s->cur_id) && (rc = plan(st, s, b->schema)) < 0)
            return rc;
        if (sl_batch_ensure_sel(b) < 0)
            return sl_fail(&st->run->err, SL_E_NOMEM, STAGE, "out of memory");
        uint32_t k = 0;
        for (uint32_t i = 0; i < b->nsel; i++) {
            uint32_t row = b->sel[i];
            if (make_key(s, b, row) < 0)
                return sl_fail(&st->run->err, SL_E_NOMEM, STAGE, "out of memory");
            rc = s->adjacent ? differs(st, s) : insert(st, s, b, row);
            if (rc < 0)
                return rc;
            if (rc)
                b->sel[k++] = row;
        }
        b->nsel = k;
        if (k) {
            *out = b;
            return SL_BATCH;
        }
    }
}

/* ---- lifecycle ---- */

static int uniq_create(sl_stage *st, const char *args, sl_error *err)
{
    uniq_state *s = calloc(1, sizeof *s);
    if (!s)
        return sl_fail(err, SL_E_NOMEM, STAGE, "out of memory");
    st->state = s;
    /* options are words starting with "--"; the rest is the key list */
    char *text = strdup(args ? args : "");
    if (!text)
        return sl_fail(err, SL_E_NOMEM, STAGE, "out of memory");
    for (char *p = text; (p = strstr(p, "--")) != NULL;) {
        if (p > text && p[-1] != ' ' && p[-1] != '\t' && p[-1] != ',') {
            p += 2;
            continue;
        }
        size_t n = strcspn(p, " \t,");
        if (n == 10 && strncmp(p, "--adjacent", 10) == 0) {
            s->adjacent = 1;
            memset(p, ' ', n);
        } else {
            int rc = sl_fail(err, SL_E_USAGE, STAGE, "unknown option '%.*s' (expected --adjacent)", (int)n, p);
            free(text);
            return rc;
        }
        p += n;
    }
    int rc = sl_namelist_parse(&s->keys, text, 0, STAGE, err);
    free(text);
    if (rc < 0)
        return rc;
    for (uint32_t i = 0; i < s->keys.n; i++)
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(s->keys.names[i], s->keys.names[j]) == 0)
                return sl_fail(err, SL_E_USAGE, STAGE, "key '%s' is listed twice", s->keys.names[i]);
    s->cols = calloc(s->keys.n ? s->keys.n : 1, sizeof *s->cols);
    if (!s->cols)
        return sl_fail(err, SL_E_NOMEM, STAGE, "out of memory");
    return SL_OK;
}

static int uniq_open(sl_stage *st)
{
    uniq_state *s = st->state;
    sl_budget_arena_init(&s->store, st->run, 256 * 1024);
    return SL_OK;
}

static void uniq_close(sl_stage *st)
{
    uniq_state *s = st->state;
    if (!s)
        return;
    sl_budget_arena_fini(&s->store);
    if (s->held)
        sl_run_mem_give(st->run, s->held);
    free(s->tab);
    free(s->prev);
    free(s->key);
    free(s->cols);
    free(s->perm);
    for (uint32_t i = 0; i < s->nnamesets; i++)
        free(s->namesets[i]);
    free(s->namesets);
    free(s->nameset_len);
    sl_namelist_free(&s->keys);
    free(s);
    st->state = NULL;
}

const sl_stage_type sl_uniq_stage_type = {
    .name = "uniq",
    .usage = "uniq [--adjacent] [KEYS]",
    .summary = "keep the first record of each distinct key (or whole record)",
    .help = "Passes a record on the first time its key is seen and drops the later\n"
            "ones.  The key is the values of KEYS (FIELD[,FIELD...]), or without KEYS\n"
            "the whole record (field names and values; absent fields and the order of\n"
            "fields do not matter).  Values compare as text, byte for byte: 1 and 1.0\n"
            "differ, nothing is trimmed; null and absent are equal to each other and\n"
            "to no text.  Records stream through in their input order.\n"
            "Every distinct key is kept in memory, within --memory-limit; past it\n"
            "uniq stops with an error that says how many keys it held.\n"
            "--adjacent compares each record only with the one before it (like the\n"
            "uniq command), in constant memory: use it on sorted input.\n",
    .create = uniq_create,
    .open = uniq_open,
    .next = uniq_next,
    .close = uniq_close,
    .schema = sl_stage_schema_input,
};
