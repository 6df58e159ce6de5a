/*
 * partial_reader.c - the reader of `sluice merge`: it reads the partial
 * files that `group` writes under --partial, folds the states of each
 * group together, and hands on the records one run over all the inputs
 * would have made.  docs/sharding.md describes the format:
 *
 *   {"sluice_partial":1,"keys":[KEY...],"aggs":"NAME = AGG(X), ...","shard":"I/N"}
 *   {"pos":[INPUT,OFFSET],"k":[[KIND,BYTES] or null, ...],"a":[STATE, ...]}
 *   ...
 *
 * Every file must hold the same keys and aggregates (the first line);
 * groups are matched by their keys (kind and bytes, as group matches
 * them), their states merged by sl_agg_state_merge(), and the groups come
 * out in the order of their first position (INPUT, OFFSET): the order in
 * which a single run would first have seen them.  The files may come in
 * any order and may hold no group at all (an empty shard).
 *
 * The lines are parsed with jansson: partial files are small next to the
 * data they sum up, and jansson's checks are worth more here than speed.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/format.h"
#include "io/source.h"
#include "stages/agg.h"
#include "stages/record.h"

#define STAGE "merge"
#define FORMAT_VERSION 1

typedef struct mgroup {
    uint64_t off;       /* first position */
    uint32_t input;
    uint32_t haspos;
    uint8_t *key;       /* encoded key (in the key arena) */
    uint32_t klen;
    uint32_t pad;
} mgroup;

typedef struct partial_reader {
    sl_run *run;
    /* the spec, from the first file */
    char **keys;
    uint32_t *key_lens;
    uint32_t nkeys;
    char *keys_json;     /* the keys as the first line wrote them */
    char *aggs_text;
    const char *spec_file;
    sl_agg *aggs;
    uint32_t naggs;
    sl_agg_mem mem;
    int mem_init;
    uint32_t rsize;
    /* the groups */
    uint8_t *recs;       /* rsize bytes each */
    mgroup *g;
    uint64_t ngroups, gcap, charged;
    uint32_t *slots;     /* group number + 1, 0 = empty */
    uint64_t mask;
    sl_budget_arena keyarena;
    int keyarena_init;
    sl_arena scratch;
    uint8_t *kbuf;
    size_t kcap;
    /* reading */
    char *buf;
    size_t cap, len;
    /* output */
    sl_schema *schema;
    sl_batch out;
    int out_init;
    uint32_t *order;
    uint64_t emitted;
    int done_reading;
    /* which shards the files hold: for each N seen, how many files hold
       each shard I of N */
    struct shardset {
        uint32_t n;
        uint32_t *count;
    } *shards;
    uint32_t nshards;
} partial_reader;

static int partial_create(sl_stage *st, const char *args, sl_error *err)
{
    (void)args;
    partial_reader *r = calloc(1, sizeof *r);
    if (!r)
        return sl_fail(err, SL_E_NOMEM, STAGE, "out of memory");
    r->run = st->run;
    st->state = r;
    sl_arena_init(&r->scratch, 16 * 1024, 0);
    return SL_OK;
}

static int partial_open(sl_stage *st)
{
    partial_reader *r = st->state;
    sl_budget_arena_init(&r->keyarena, st->run, 64 * 1024);
    r->keyarena_init = 1;
    return SL_OK;
}

static int fail_line(partial_reader *r, int code, const char *name, uint64_t line, const char *fmt, const char *what)
    __attribute__((format(printf, 5, 0)));
static int fail_line(partial_reader *r, int code, const char *name, uint64_t line, const char *fmt, const char *what)
{
    sl_fail(&r->run->err, code, STAGE, fmt, what);
    sl_error_at(&r->run->err, name, line, 0, 0);
    return code;
}

static char *dump(const json_t *j)
{
    return json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* The first line of a file: check the format, take or compare the spec. */
/* Note the "shard":"I/N" of a file's first line. */
static int note_shard(partial_reader *r, const json_t *h, const char *name)
{
    const json_t *v = json_object_get(h, "shard");
    unsigned long i, n;
    char tail;
    if (!v)
        return SL_OK; /* written by no shard option: nothing to check */
    if (!json_is_string(v) || sscanf(json_string_value(v), "%lu/%lu%c", &i, &n, &tail) != 2 || n == 0 || i >= n ||
        n > 1000000)
        return fail_line(r, SL_E_DATA, name, 1, "%s", "the first line's \"shard\" is not I/N with 0 <= I < N");
    if (n == 1)
        return SL_OK;
    uint32_t k = 0;
    while (k < r->nshards && r->shards[k].n != n)
        k++;
    if (k == r->nshards) {
        struct shardset *ns = realloc(r->shards, (r->nshards + 1) * sizeof *ns);
        if (!ns)
            return sl_fail(&r->run->err, SL_E_NOMEM, STAGE, "out of memory");
        r->shards = ns;
        ns[k].n = (uint32_t)n;
        if (!(ns[k].count = calloc(n, sizeof *ns[k].count)))
            return sl_fail(&r->run->err, SL_E_NOMEM, STAGE, "out of memory");
        r->nshards++;
    }
    r->shards[k].count[i]++;
    return SL_OK;
}

/* Every shard I of N must be there as often as the others (once per run):
   a missing shard would make every total short, a doubled one too big. */
/* "0, 1, 3" (at most 12, then "...") of the shards given `most` times
   (want_most) or fewer; returns how many there are. */
static uint32_t shard_list(const struct shardset *s, uint32_t most, int want_most, char *out, size_t cap)
{
    size_t o = 0;
    uint32_t n = 0;
    out[0] = 0;
    for (uint32_t i = 0; i < s->n; i++) {
        if ((s->count[i] == most) != (want_most != 0))
            continue;
        if (n < 12 && o + 16 < cap)
            o += (size_t)snprintf(out + o, cap - o, "%s%u", n ? ", " : "", i);
        else if (n == 12 && o + 8 < cap)
            o += (size_t)snprintf(out + o, cap - o, ", ...");
        n++;
    }
    return n;
}

static int check_shards(partial_reader *r)
{
    for (uint32_t k = 0; k < r->nshards; k++) {
        const struct shardset *s = &r->shards[k];
        uint32_t most = 0;
        for (uint32_t i = 0; i < s->n; i++)
            if (s->count[i] > most)
                most = s->count[i];
        /* the shards given fewer times than the most given one, and those */
        char few[256], many[256];
        uint32_t nfew = shard_list(s, most, 0, few, sizeof few), nmany = shard_list(s, most, 1, many, sizeof many);
        if (!nfew)
            continue;
        if (most == 1)
            return sl_fail(&r->run->err, SL_E_USAGE, STAGE, "shard%s %s of %u %s missing: the totals would be wrong; "
                           "give the partial file of every shard, or --allow-missing-shards to merge those given",
                           nfew == 1 ? "" : "s", few, s->n, nfew == 1 ? "is" : "are");
        return sl_fail(&r->run->err, SL_E_USAGE, STAGE, "the shards of %u are not given equally often: shard%s %s %u "
                       "times, shard%s %s fewer: the totals would be wrong; give each shard's partial file once per "
                       "run, or --allow-missing-shards to merge those given", s->n, nmany == 1 ? "" : "s", many, most,
                       nfew == 1 ? "" : "s", few);
    }
    return SL_OK;
}

static int take_header(partial_reader *r, const json_t *h, const char *name)
{
    const json_t *v = json_object_get(h, "sluice_partial");
    if (!json_is_object(h) || !json_is_integer(v))
        return fail_line(r, SL_E_DATA, name, 1, "%s", "not a partial file of sluice (expected a first line "
                         "{\"sluice_partial\":1,...} as written by sluice --partial)");
    if (json_integer_value(v) != FORMAT_VERSION) {
        char msg[160];
        snprintf(msg, sizeof msg, "partial format version %lld, which this sluice does not read (it reads version %d)",
                 (long long)json_integer_value(v), FORMAT_VERSION);
        return fail_line(r, SL_E_DATA, name, 1, "%s", msg);
    }
    if (!r->run->opt.merge_any_shards) {
        int rc = note_shard(r, h, name);
        if (rc < 0)
            return rc;
    }
    const json_t *keys = json_object_get(h, "keys"), *aggs = json_object_get(h, "aggs");
    if (!json_is_array(keys) || !json_is_string(aggs))
        return fail_line(r, SL_E_DATA, name, 1, "%s", "the first line lacks \"keys\" (an array) or \"aggs\" (a string)");
    char *kj = dump(keys);
    if (!kj)
        return sl_fail(&r->run->err, SL_E_NOMEM, STAGE, "out of memory");
    if (r->aggs_text) {
        int same = strcmp(kj, r->keys_json) == 0 && strcmp(json_string_value(aggs), r->aggs_text) == 0;
        if (!same) {
            char msg[4096];
            snprintf(msg, sizeof msg, "holds group %.300s: %.600s, but %.300s holds group %.300s: %.600s (expected partial "
                     "files of one pipeline)", kj, json_string_value(aggs), r->spec_file, r->keys_json, r->aggs_text);
            free(kj);
            return fail_line(r, SL_E_USAGE, name, 1, "%s", msg);
        }
        free(kj);
        return SL_OK;
    }
    r->keys_json = kj;
    r->spec_file = name;
    if (!(r->aggs_text = strdup(json_string_value(aggs))))
        return sl_fail(&r->run->err, SL_E_NOMEM, STAGE, "out of memory");
    r->nkeys = (uint32_t)json_array_size(keys);
    r->keys = calloc(r->nkeys + 1, sizeof *r->keys);
    r->key_lens = calloc(r->nkeys + 1, sizeof *r->key_lens);
    if (!r->keys || !r->key_lens)
        return sl_fail(&r->run->err, SL_E_NOMEM, STAGE, "out of memory");
    for (uint32_t k = 0; k < r->nkeys; k++) {
        const json_t *e = json_array_get(keys, k);
        if (!json_is_string(e))
            return fail_line(r, SL_E_DATA, name, 1, "%s", "the keys must be strings");
        r->keys[k] = strndup(json_string_value(e), json_string_length(e));
        if (!r->keys[k])
            return sl_fail(&r->run->err, SL_E_NOMEM, STAGE, "out of memory");
        r->key_lens[k] = (uint32_t)json_string_length(e);
    }
    sl_error perr;
    sl_error_clear(&perr);
    if (sl_agg_parse(r->aggs_text, 0, STAGE, &r->aggs, &r->naggs, &perr) < 0)
        return fail_line(r, SL_E_DATA, name, 1, "the aggregates of the first line do not parse: %s", perr.msg);
    uint32_t end = sl_agg_layout(r->aggs, r->naggs, 0);
    r->rsize = end ? end : 8;
    if (sl_agg_mem_init(&r->mem, r->run, r->naggs) < 0)
        return sl_fail(&r->run->err, SL_E_NOMEM, STAGE, "out of memory");
    r->mem_init = 1;
    /* the output schema: keys, then aggregates, as group makes it */
    uint32_t nout = r->nkeys + r->naggs;
    const char **names = calloc(nout + 1, sizeof *names);
    uint32_t *lens = calloc(nout + 1, sizeof *lens);
    if (!names || !lens) {
        free(names);
        free(lens);
        return sl_fail(&r->run->err, SL_E_NOMEM, STAGE, "out of memory");
    }
    for (uint32_t k = 0; k < r->nkeys; k++) {
        names[k] = r->keys[k];
        lens[k] = r->key_lens[k];
    }
    for (uint32_t i = 0; i < r->naggs; i++) {
        names[r->nkeys + i] = r->aggs[i].name;
        lens[r->nkeys + i] = r->aggs[i].name_len;
    }
    r->schema = sl_schema_new(nout, names, lens);
    free(names);
    free(lens);
    return r->schema ? SL_OK : sl_fail(&r->run->err, SL_E_NOMEM, STAGE, "out of memory");
}

static int mem_fail(partial_reader *r)
{
    char lim[32];
    return sl_fail(&r->run->err, SL_E_NOMEM, STAGE, "the merged groups do not fit in --memory-limit %s (%llu groups so "
                   "far); raise --memory-limit", sl_size_text(r->run->opt.memory_limit, lim),
                   (unsigned long long)r->ngroups);
}

static int grow_groups(partial_reader *r)
{
    uint64_t cap = r->gcap ? r->gcap * 2 : 1024;
    uint64_t bytes = cap * (r->rsize + sizeof(mgroup) + 2 * sizeof(uint32_t));
    if (sl_run_mem_take(r->run, bytes - r->charged) < 0)
        return mem_fail(r);
    r->charged = bytes;
    uint8_t *nr = realloc(r->recs, cap * r->rsize);
    if (nr)
        r->recs = nr;
    mgroup *ng = nr ? realloc(r->g, cap * sizeof *ng) : NULL;
    if (ng)
        r->g = ng;
    uint32_t *ns = ng ? calloc(cap * 2, sizeof *ns) : NULL;
    if (!ns)
        return sl_fail(&r->run->err, SL_E_NOMEM, STAGE, "out of memory");
    memset(r->recs + r->gcap * r->rsize, 0, (cap - r->gcap) * r->rsize);
    uint64_t mask = cap * 2 - 1;
    for (uint64_t i = 0; i < r->ngroups; i++) {
        uint64_t h = sl_hash_bytes(r->g[i].key, r->g[i].klen) & mask;
        while (ns[h])
            h = (h + 1) & mask;
        ns[h] = (uint32_t)(i + 1);
    }
    free(r->slots);
    r->slots = ns;
    r->mask = mask;
    r->gcap = cap;
    return SL_OK;
}

/* Encode the keys of a group line like group does (kind, varint length,
   bytes; 0 for null) into r->kbuf. */
static int encode_key(partial_reader *r, const json_t *k, size_t *klen)
{
    size_t n = 0;
    for (uint32_t i = 0; i < r->nkeys; i++) {
        const json_t *e = json_array_get(k, i);
        const char *p = NULL;
        size_t len = 0;
        uint8_t kind = 0;
        if (!json_is_null(e)) {
            const json_t *kj = json_array_get(e, 0);
            if (json_array_size(e) != 2 || !json_is_integer(kj) || json_integer_value(kj) < SL_TEXT ||
                json_integer_value(kj) > SL_JSON || sl_agg_json_get_bytes(json_array_get(e, 1), &r->scratch, &p, &len) < 0)
                return -1;
            kind = (uint8_t)json_integer_value(kj);
        }
        if (n + len + 12 > r->kcap) {
            size_t cap = (n + len + 12) * 2;
            uint8_t *nb = realloc(r->kbuf, cap);
            if (!nb)
                return -2;
            r->kbuf = nb;
            r->kcap = cap;
        }
        r->kbuf[n++] = kind;
        if (kind) {
            n += sl_varint_put(r->kbuf + n, len);
            memcpy(r->kbuf + n, p, len);
            n += len;
        }
    }
    *klen = n;
    return 0;
}

static int take_group(partial_reader *r, const json_t *j, const char *name, uint64_t line)
{
    const json_t *pos = json_object_get(j, "pos"), *k = json_object_get(j, "k"), *a = json_object_get(j, "a");
    if (!json_is_object(j) || !json_is_array(k) || json_array_size(k) != r->nkeys || !json_is_array(a) ||
        json_array_size(a) != r->naggs)
        return fail_line(r, SL_E_DATA, name, line, "%s", "expected a group: {\"pos\":[INPUT,OFFSET],\"k\":[...keys],"
                         "\"a\":[...states]} with as many keys and states as the first line names");
    int haspos = !json_is_null(pos);
    if (haspos && (json_array_size(pos) != 2 || !json_is_integer(json_array_get(pos, 0)) ||
                   !json_is_integer(json_array_get(pos, 1)) || json_integer_value(json_array_get(pos, 0)) < 0 ||
                   json_integer_value(json_array_get(pos, 1)) < 0))
        return fail_line(r, SL_E_DATA, name, line, "%s", "\"pos\" must be [INPUT, OFFSET] or null");
    size_t klen;
    int rc = encode_key(r, k, &klen);
    if (rc == -2)
        return sl_fail(&r->run->err, SL_E_NOMEM, STAGE, "out of memory");
    if (rc < 0)
        return fail_line(r, SL_E_DATA, name, line, "%s", "each key must be null or [KIND, \"bytes\"]");
    if (r->ngroups * 2 >= r->gcap && (rc = grow_groups(r)) < 0)
        return rc;
    uint64_t h = sl_hash_bytes(r->kbuf, klen), i = h & r->mask;
    uint64_t gi = UINT64_MAX;
    for (; r->slots[i]; i = (i + 1) & r->mask) {
        const mgroup *g = &r->g[r->slots[i] - 1];
        if (g->klen == klen && (klen == 0 || memcmp(g->key, r->kbuf, klen) == 0)) {
            gi = r->slots[i] - 1;
            break;
        }
    }
    if (gi == UINT64_MAX) {
        if (r->ngroups >= UINT32_MAX - 1)
            return sl_fail(&r->run->err, SL_E_NOMEM, STAGE, "more than %u groups", UINT32_MAX - 2);
        uint8_t *kc = sl_budget_arena_alloc(&r->keyarena, klen ? klen : 1);
        if (!kc)
            return mem_fail(r);
        if (klen)
            memcpy(kc, r->kbuf, klen);
        gi = r->ngroups++;
        r->g[gi] = (mgroup){0, 0, 0, kc, (uint32_t)klen, 0};
        r->slots[i] = (uint32_t)(gi + 1);
    }
    mgroup *g = &r->g[gi];
    if (haspos) {
        uint32_t in = (uint32_t)json_integer_value(json_array_get(pos, 0));
        uint64_t off = (uint64_t)json_integer_value(json_array_get(pos, 1));
        if (!g->haspos || sl_agg_pos_cmp(in, off, g->input, g->off) < 0) {
            g->input = in;
            g->off = off;
            g->haspos = 1;
        }
    }
    uint8_t *rec = r->recs + gi * r->rsize;
    for (uint32_t ai = 0; ai < r->naggs; ai++) {
        char why[512];
        rc = sl_agg_state_merge(r->aggs, ai, &r->mem, rec, (uint32_t)gi, json_array_get(a, ai), &r->scratch, why, sizeof why);
        if (rc == SL_E_DATA)
            return fail_line(r, SL_E_DATA, name, line, "%s", why);
        if (rc < 0)
            return mem_fail(r);
    }
    return SL_OK;
}

/* Read one partial file, line by line. */
static int read_file(partial_reader *r, size_t idx)
{
    sl_input *in = &r->run->inputs[idx];
    const char *name = strcmp(in->name, "-") == 0 ? "(stdin)" : in->name;
    sl_source *src = sl_source_open_input(in, &r->run->err);
    if (!src)
        return r->run->err.code;
    uint64_t line = 0, cap_max = r->run->opt.max_record_bytes > r->run->opt.memory_limit ? r->run->opt.max_record_bytes
                                                                                           : r->run->opt.memory_limit;
    int eof = 0, rc = SL_OK;
    size_t pos = 0;
    r->len = 0;
    while (rc == SL_OK) {
        char *nl = pos < r->len ? memchr(r->buf + pos, '\n', r->len - pos) : NULL;
        if (!nl && !eof) {
            if (pos) {
                memmove(r->buf, r->buf + pos, r->len - pos);
                r->len -= pos;
            }
            pos = 0;
            if (r->len == r->cap) {
                if (r->cap >= cap_max) {
                    rc = fail_line(r, SL_E_DATA, name, line + 1, "%s", "a line longer than --memory-limit");
                    break;
                }
                size_t cap = r->cap ? r->cap * 2 : 1u << 20;
                char *nb = realloc(r->buf, cap);
                if (!nb) {
                    rc = sl_fail(&r->run->err, SL_E_NOMEM, STAGE, "out of memory");
                    break;
                }
                r->buf = nb;
                r->cap = cap;
            }
            ssize_t n = sl_source_read(src, r->buf + r->len, r->cap - r->len, &r->run->err);
            if (n < 0) {
                sl_error_at(&r->run->err, name, 0, 0, 0);
                rc = (int)n;
                break;
            }
            if (n == 0)
                eof = 1;
            r->len += (size_t)n;
            continue;
        }
        if (!nl && pos == r->len)
            break;
        size_t end = nl ? (size_t)(nl - r->buf) : r->len;
        line++;
        json_error_t jerr;
        sl_arena_reset(&r->scratch);
        json_t *j = json_loadb(r->buf + pos, end - pos, JSON_ALLOW_NUL, &jerr);
        pos = end + (nl ? 1 : 0);
        if (!j) {
            rc = fail_line(r, SL_E_DATA, name, line, "not a JSON line of a partial file: %s", jerr.text);
            break;
        }
        rc = line == 1 ? take_header(r, j, name) : take_group(r, j, name, line);
        json_decref(j);
    }
    if (rc == SL_OK && line == 0)
        rc = fail_line(r, SL_E_DATA, name, 0, "%s", "is empty (expected a partial file written by sluice --partial)");
    in->bytes_raw = sl_source_bytes_raw(src);
    in->bytes = sl_source_bytes(src);
    in->records = line ? line - 1 : 0;
    sl_source_close(src);
    return rc;
}

static const partial_reader *sort_r;
static int by_pos(const void *a, const void *b)
{
    const mgroup *x = &sort_r->g[*(const uint32_t *)a], *y = &sort_r->g[*(const uint32_t *)b];
    if (x->haspos != y->haspos)
        return x->haspos ? -1 : 1;
    int c = sl_agg_pos_cmp(x->input, x->off, y->input, y->off);
    if (c)
        return c;
    return *(const uint32_t *)a < *(const uint32_t *)b ? -1 : 1;
}

static int partial_next(sl_stage *st, sl_batch **outp)
{
    partial_reader *r = st->state;
    sl_run *run = st->run;
    if (!r->done_reading) {
        for (size_t i = 0; i < run->ninputs; i++) {
            int rc = read_file(r, i);
            if (rc < 0)
                return rc;
        }
        r->done_reading = 1;
        int crc = check_shards(r);
        if (crc < 0)
            return crc;
        r->order = malloc((r->ngroups ? r->ngroups : 1) * sizeof *r->order);
        if (!r->order)
            return sl_fail(&run->err, SL_E_NOMEM, STAGE, "out of memory");
        for (uint64_t i = 0; i < r->ngroups; i++)
            r->order[i] = (uint32_t)i;
        sort_r = r;
        qsort(r->order, r->ngroups, sizeof *r->order, by_pos);
        uint32_t nout = r->nkeys + r->naggs;
        if (sl_batch_init(&r->out, run->opt.batch_rows ? run->opt.batch_rows : 1024, nout ? nout : 1, 0) < 0)
            return sl_fail(&run->err, SL_E_NOMEM, STAGE, "out of memory");
        r->out_init = 1;
    }
    sl_batch *out = &r->out;
    uint32_t nk = r->nkeys, nout = nk + r->naggs;
    if (r->emitted >= r->ngroups)
        return SL_DONE;
    if (sl_batch_reset(out, r->schema, nout ? nout : 1) < 0)
        return sl_fail(&run->err, SL_E_NOMEM, STAGE, "out of memory");
    uint32_t k = 0;
    while (r->emitted < r->ngroups && k < out->cap_rows) {
        uint32_t gi = r->order[r->emitted++];
        const mgroup *g = &r->g[gi];
        sl_cell *dst = &out->cells[(size_t)k * out->stride];
        const uint8_t *p = g->key, *end = p + g->klen;
        for (uint32_t j = 0; j < nk; j++) {
            uint8_t kind = *p++;
            if (kind == 0) {
                dst[j] = (sl_cell){NULL, 0, SL_NULL, {0}};
                continue;
            }
            uint64_t len = 0;
            p += sl_varint_get(p, end, &len);
            dst[j] = (sl_cell){(const char *)p, (uint32_t)len, kind, {0}};
            p += len;
        }
        for (uint32_t a = 0; a < r->naggs; a++)
            if (sl_agg_result(r->aggs, a, &r->mem, r->recs + (size_t)gi * r->rsize, &out->arena, &dst[nk + a]) < 0)
                return mem_fail(r);
        memset(&out->info[k], 0, sizeof out->info[k]);
        k++;
    }
    out->nrows = k;
    *outp = out;
    return SL_BATCH;
}

static void partial_close(sl_stage *st)
{
    partial_reader *r = st->state;
    if (!r)
        return;
    if (r->mem_init)
        sl_agg_mem_fini(&r->mem);
    for (uint32_t k = 0; k < r->nshards; k++)
        free(r->shards[k].count);
    free(r->shards);
    if (r->keyarena_init)
        sl_budget_arena_fini(&r->keyarena);
    if (r->charged)
        sl_run_mem_give(r->run, r->charged);
    sl_agg_free(r->aggs, r->naggs);
    for (uint32_t k = 0; r->keys && k < r->nkeys; k++)
        free(r->keys[k]);
    free(r->keys);
    free(r->key_lens);
    free(r->keys_json);
    free(r->aggs_text);
    free(r->recs);
    free(r->g);
    free(r->slots);
    free(r->kbuf);
    free(r->buf);
    free(r->order);
    sl_arena_fini(&r->scratch);
    if (r->out_init)
        sl_batch_fini(&r->out);
    if (r->schema)
        sl_schema_unref(r->schema);
    free(r);
    st->state = NULL;
}

const sl_stage_type sl_partial_reader_type = {
    .name = "merge",
    .usage = "sluice merge PARTIAL...",
    .summary = "combine the partial files of group --partial",
    .create = partial_create,
    .open = partial_open,
    .next = partial_next,
    .close = partial_close,
};
