/*
 * join.c - `join FILE on KEY[=OTHER] [--left|--anti]`: enrich the records
 * of the stream with the records of a lookup file that share a key.
 *
 * The lookup side.  At open, FILE is read whole through the reader of its
 * format (chosen by its name: .csv .tsv .ndjson .jsonl ..., compressed or
 * not: the source detects gzip and zstd), run on a private sub-run that
 * copies the main run's limits and parser choices but not its --from,
 * --delim or --no-header (those describe the main input): a lookup file
 * always has its format's own delimiter and a header.  A bad record in the
 * lookup file stops the run (the --on-error policy is for the main input).
 * Every record is copied into a hash table keyed by its OTHER field; the
 * copies and the table are charged to the run's memory budget, and a lookup
 * side that does not fit is an error saying how far the reading got.
 *
 * Keys match when their text is the same bytes: nothing is trimmed, case
 * matters, and numbers are not normalised (1 and 1.0 do not match; a JSON
 * number 7 and a CSV field 7 and a JSON string "7" do).  A null or absent
 * key matches nothing, on either side (SQL semantics): a lookup record
 * without a key is not kept; a main record without one is unmatched.
 *
 * The output.  Inner join (default): for each main record, one output
 * record per lookup record with its key, in lookup-file order (so duplicate
 * keys on the lookup side multiply, as in SQL), holding the main record's
 * fields then the lookup record's other fields (OTHER itself is left out:
 * it equals KEY).  Main records without a match are dropped.  --left keeps
 * them too, the lookup fields null.  --anti keeps only the main records
 * without a match, unchanged (zero copy).  A lookup field whose name is
 * already taken by a main field is renamed NAME_right (NAME_right2, ... if
 * that is taken too), as in Polars, so that no field is lost and the names
 * stay predictable.
 *
 * The lookup fields are the union, in first-seen order, of the lookup
 * records' fields (NDJSON records may differ); a lookup record without one
 * of them gives absent (NDJSON) or null there.
 *
 * A database as the lookup side.  FILE may name a table or query
 * (sqlite:ref.db?table=t, postgres://.../db?query=SELECT...: io/db.h), read
 * whole into the same table as a file.  With --lookup per-key it is not
 * read: each distinct key of the stream is looked up with one prepared
 * query (SELECT * ... WHERE OTHER = key, so an index on OTHER makes it one
 * probe) the first time it is seen, and the rows found (or the fact that
 * there are none) are kept in the same hash table, a cache of at most
 * --cache N keys (default 100000), emptied between input batches when it
 * is full.  In that mode keys match with the database's equality, after it
 * converts the key text to OTHER's type (so 7 and 07 both find an integer
 * 7); a key the type cannot take is an error.
 *
 * Output rows point at the input batch's cells and at the lookup copies:
 * nothing is copied per record, and an output batch never mixes two input
 * batches, so it ends with the input batch that fed it.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "formats/format.h"
#include "io/db.h"
#include "sluice/run.h"
#include "stages/args.h"
#include "stages/record.h"

#define STAGE "join"
#define USAGE "join FILE on KEY[=OTHER] [--left|--anti] [--lookup per-key [--cache N]]"

enum { J_INNER = 0, J_LEFT, J_ANTI };

typedef struct lrec {
    struct lrec *next;  /* next lookup record with the same key, file order */
    struct lrec *last;  /* in the first record of a key: the last one */
    uint32_t schema;    /* index into the lookup schema table */
    uint32_t ncells;
    sl_cell cells[];    /* then the cells' bytes */
} lrec;

/* A key of the table.  Its length and first 8 bytes are kept here, so that
   a key of up to 8 bytes (most ids) is found without reading the record,
   which is a cache miss away. */
typedef struct lslot {
    uint64_t h;
    lrec *first;
    uint64_t prefix;    /* bytes 0..7 of the key, zero-padded */
    uint32_t len;
    uint32_t pad;
} lslot;

static inline uint64_t key_prefix(const char *p, uint32_t len)
{
    uint64_t x = 0;
    if (len)
        memcpy(&x, p, len < 8 ? len : 8);
    return x;
}

typedef struct join_state {
    char *path;
    char *key, *other;
    uint32_t key_len, other_len;
    int mode;
    const sl_format *fmt;
    /* the lookup side */
    sl_schema_table ls;
    int32_t *lkey;        /* per lookup schema: column of OTHER, -1 = none */
    int32_t **umap;       /* per lookup schema: union column -> its column */
    uint32_t numap;       /* entries of umap allocated */
    char **unames;        /* the union of the lookup's other fields */
    uint32_t *ulens;
    uint32_t nu;
    lslot *tab;
    size_t tcap, nslots;
    uint64_t nrecs, nkeyless;
    sl_budget_arena store;
    uint64_t held;        /* the table */
    /* the main side */
    uint64_t in_id;
    int have_plan;
    int32_t mkey;         /* column of KEY in the main schema, -1 = absent */
    uint32_t nmain;
    sl_schema *out_schema;
    /* position inside the input batch being joined */
    sl_batch *in;
    uint32_t in_pos;
    lrec *in_match;
    int in_started;       /* the matches of in_pos are being emitted */
    lrec **m;             /* first match of each live row of `in` */
    uint64_t *mh;         /* hash of each row's key */
    uint32_t mcap;
    sl_batch out;
    int out_init;
    /* --lookup per-key */
    int per_key;
    uint64_t cache_keys;
    sl_db_lookup *lk;
    uint32_t lk_idx, miss_idx;  /* schema indexes of found rows / of misses */
    sl_schema *miss_schema;     /* one column, OTHER: "no row has this key" */
    sl_batch one;               /* one found row, for lookup_add */
    sl_batch miss;              /* one miss record */
    int one_init;
    const sl_cell *fetch_key;   /* the key being fetched */
    uint64_t fetch_rows;
} join_state;

/* ---- arguments ---- */

/* A name at *pp: `quoted`, "quoted", or bare up to a blank or one of
   `stops`.  Returns a malloc'd copy or NULL. */
static char *arg_word(const char **pp, const char *stops, uint32_t *len)
{
    const char *p = *pp;
    char *out;
    size_t n = 0;
    if (*p == '`' || *p == '"') {
        char q = *p++;
        out = malloc(strlen(p) + 1);
        if (!out)
            return NULL;
        while (*p && !(*p == q && p[1] != q)) {
            if (*p == q)
                p++;
            out[n++] = *p++;
        }
        if (*p != q) {
            free(out);
            return NULL;
        }
        p++;
    } else {
        const char *s = p;
        while (*p && !isspace((unsigned char)*p) && !strchr(stops, *p))
            p++;
        n = (size_t)(p - s);
        if (n == 0)
            return NULL;
        out = strndup(s, n);
        if (!out)
            return NULL;
    }
    out[n] = 0;
    *len = (uint32_t)n;
    *pp = p;
    return out;
}

static const char *skip_ws(const char *p)
{
    while (isspace((unsigned char)*p))
        p++;
    return p;
}

/* Options (--left, --anti, --inner) at p. */
static int arg_options(const char **pp, join_state *s, sl_error *err)
{
    const char *p = skip_ws(*pp);
    while (p[0] == '-' && p[1] == '-') {
        size_t n = strcspn(p, " \t\r\n");
        int mode;
        if (n == 6 && strncmp(p, "--left", 6) == 0)
            mode = J_LEFT;
        else if (n == 6 && strncmp(p, "--anti", 6) == 0)
            mode = J_ANTI;
        else if (n == 7 && strncmp(p, "--inner", 7) == 0)
            mode = J_INNER;
        else if ((n == 8 && strncmp(p, "--lookup", 8) == 0) || (n == 7 && strncmp(p, "--cache", 7) == 0)) {
            int lookup = n == 8;
            const char *v = p + n;
            while (*v == ' ' || *v == '\t')
                v++;
            size_t vn = strcspn(v, " \t\r\n");
            uint64_t num = 0;
            char buf[32];
            snprintf(buf, sizeof buf, "%.*s", (int)(vn < 31 ? vn : 31), v);
            if (lookup && vn == 7 && strncmp(v, "per-key", 7) == 0)
                s->per_key = 1;
            else if (lookup && vn == 4 && strncmp(v, "load", 4) == 0)
                s->per_key = 0;
            else if (lookup)
                return sl_fail(err, SL_E_USAGE, STAGE, "--lookup expects per-key or load, not '%.*s'", (int)vn, v);
            else if (vn == 0 || vn > 20 || sl_parse_count(buf, &num) < 0 || num < 1)
                return sl_fail(err, SL_E_USAGE, STAGE, "--cache expects a number of keys (at least 1), not '%.*s'", (int)vn, v);
            else
                s->cache_keys = num;
            p = skip_ws(v + vn);
            continue;
        } else
            return sl_fail(err, SL_E_USAGE, STAGE, "unknown option '%.*s' (expected --left, --anti, --inner, --lookup or "
                           "--cache)", (int)n, p);
        if (mode != s->mode && s->mode != J_INNER)
            return sl_fail(err, SL_E_USAGE, STAGE, "--left and --anti exclude each other");
        s->mode = mode;
        p = skip_ws(p + n);
    }
    *pp = p;
    return SL_OK;
}

static int join_create(sl_stage *st, const char *args, sl_error *err)
{
    join_state *s = calloc(1, sizeof *s);
    if (!s)
        return sl_fail(err, SL_E_NOMEM, STAGE, "out of memory");
    st->state = s;
    const char *p = args ? args : "";
    uint32_t n;
    int rc = arg_options(&p, s, err);
    if (rc < 0)
        return rc;
    if (!*p || !(s->path = arg_word(&p, "", &n)))
        return sl_fail(err, SL_E_USAGE, STAGE, "expected a lookup file: %s", USAGE);
    if ((rc = arg_options(&p, s, err)) < 0)
        return rc;
    if (strncmp(p, "on", 2) != 0 || !isspace((unsigned char)p[2]))
        return sl_fail(err, SL_E_USAGE, STAGE, "expected 'on KEY' after the file name: %s", USAGE);
    p = skip_ws(p + 2);
    if (!(s->key = arg_word(&p, "=", &s->key_len)))
        return sl_fail(err, SL_E_USAGE, STAGE, "expected a key field after 'on': %s", USAGE);
    p = skip_ws(p);
    if (*p == '=') {
        p = skip_ws(p + 1);
        if (!(s->other = arg_word(&p, "", &s->other_len)))
            return sl_fail(err, SL_E_USAGE, STAGE, "expected the lookup file's key field after '=': %s", USAGE);
    } else {
        s->other = strdup(s->key);
        s->other_len = s->key_len;
        if (!s->other)
            return sl_fail(err, SL_E_NOMEM, STAGE, "out of memory");
    }
    if ((rc = arg_options(&p, s, err)) < 0)
        return rc;
    if (*p)
        return sl_fail(err, SL_E_USAGE, STAGE, "unexpected '%s' (expected %s)", p, USAGE);
    if (strcmp(s->path, "-") == 0)
        return sl_fail(err, SL_E_USAGE, STAGE, "the lookup file cannot be standard input (the main input may be); name a file");
    if (s->per_key && !sl_db_is_name(s->path))
        return sl_fail(err, SL_E_USAGE, STAGE, "--lookup per-key needs a database table or query (sqlite:... or "
                       "postgres://...), not the file '%s'", s->path);
    if (s->cache_keys && !s->per_key)
        return sl_fail(err, SL_E_USAGE, STAGE, "--cache applies to --lookup per-key only");
    if (!s->cache_keys)
        s->cache_keys = 100000;
    s->fmt = sl_format_for_path(s->path);
    if (!s->fmt)
        return sl_fail(err, SL_E_USAGE, STAGE, "cannot tell the format of the lookup file '%s' from its name (expected .csv, "
                       ".tsv, .ndjson or .jsonl, optionally with .gz or .zst, or a database table such as "
                       "sqlite:ref.db?table=t)", s->path);
    if (!s->fmt->reader)
        return sl_fail(err, SL_E_USAGE, STAGE, "cannot read %s files: the lookup file '%s' must be CSV, TSV, NDJSON or "
                       "lines", s->fmt->name, s->path);
    return SL_OK;
}

/* ---- loading the lookup file ---- */

static int fail_budget(sl_stage *st, join_state *s, const sl_batch *b, uint32_t row)
{
    char lim[32], held[32], size[32];
    struct stat sb;
    char fsz[64] = "";
    if (stat(s->path, &sb) == 0 && S_ISREG(sb.st_mode))
        snprintf(fsz, sizeof fsz, " (the file is %s)", sl_size_text((uint64_t)sb.st_size, size));
    sl_fail(&st->run->err, SL_E_NOMEM, STAGE, "the lookup side does not fit in --memory-limit %s: %llu records with %zu "
            "distinct keys held %s when reading stopped%s; raise --memory-limit",
            sl_size_text(st->run->opt.memory_limit, lim), (unsigned long long)s->nrecs, s->nslots,
            sl_size_text(s->store.charged + s->held, held), fsz);
    const sl_rowinfo *in = b && b->info ? &b->info[row] : NULL;
    sl_error_at(&st->run->err, s->path, in ? in->line : 0, 0, in ? in->record : 0);
    return SL_E_NOMEM;
}

static int lookup_schema(sl_stage *st, join_state *s, sl_schema *sc, uint32_t *idx)
{
    sl_error *err = &st->run->err;
    int added;
    if (sl_schema_table_add(&s->ls, sc, idx, &added) < 0)
        return sl_fail(err, SL_E_NOMEM, STAGE, "out of memory");
    if (!added)
        return SL_OK;
    int32_t *nk = realloc(s->lkey, s->ls.n * sizeof *nk);
    if (nk)
        s->lkey = nk;
    int32_t **nm = realloc(s->umap, s->ls.n * sizeof *nm);
    if (nm) {
        s->umap = nm;
        s->umap[*idx] = NULL;
        s->numap = s->ls.n;
    }
    if (!nk || !nm)
        return sl_fail(err, SL_E_NOMEM, STAGE, "out of memory");
    int kc = sl_schema_find(sc, s->other, s->other_len);
    if (kc < 0 && !sc->open) {
        sl_fail_no_field(err, STAGE, s->other, sc);
        /* say that it is the lookup file's fields */
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "no key field '%s' in the lookup file %s; its fields are: %s", s->other, s->path,
                 strstr(err->msg, "fields are: ") ? strstr(err->msg, "fields are: ") + 12 : "");
        snprintf(err->msg, sizeof err->msg, "%s", msg);
        return SL_E_USAGE;
    }
    s->lkey[*idx] = kc;
    /* grow the union with this schema's other fields */
    for (uint32_t c = 0; c < sc->ncols; c++) {
        if ((int)c == kc)
            continue;
        uint32_t u = 0;
        while (u < s->nu && !(s->ulens[u] == sc->name_len[c] && memcmp(s->unames[u], sc->names[c], s->ulens[u]) == 0))
            u++;
        if (u < s->nu)
            continue;
        char **nn = realloc(s->unames, (s->nu + 1) * sizeof *nn);
        if (nn)
            s->unames = nn;
        uint32_t *nl = realloc(s->ulens, (s->nu + 1) * sizeof *nl);
        if (nl)
            s->ulens = nl;
        if (!nn || !nl || !(s->unames[s->nu] = strndup(sc->names[c], sc->name_len[c])))
            return sl_fail(err, SL_E_NOMEM, STAGE, "out of memory");
        s->ulens[s->nu++] = sc->name_len[c];
    }
    return SL_OK;
}

/* Build the union maps once the union is complete. */
static int lookup_maps(sl_stage *st, join_state *s)
{
    for (uint32_t i = 0; i < s->ls.n; i++) {
        const sl_schema *sc = s->ls.s[i];
        s->umap[i] = malloc((s->nu ? s->nu : 1) * sizeof **s->umap);
        if (!s->umap[i])
            return sl_fail(&st->run->err, SL_E_NOMEM, STAGE, "out of memory");
        for (uint32_t u = 0; u < s->nu; u++) {
            int c = sl_schema_find(sc, s->unames[u], s->ulens[u]);
            s->umap[i][u] = c == s->lkey[i] ? -1 : c;
        }
    }
    return SL_OK;
}

static inline const sl_cell *lrec_key(const join_state *s, const lrec *r) { return &r->cells[s->lkey[r->schema]]; }

static int table_grow(sl_stage *st, join_state *s)
{
    size_t ncap = s->tcap ? s->tcap * 2 : 1024;
    uint64_t bytes = (uint64_t)ncap * sizeof(lslot);
    if (sl_run_mem_take(st->run, bytes) < 0)
        return SL_E_NOMEM;
    lslot *nt = calloc(ncap, sizeof *nt);
    if (!nt) {
        sl_run_mem_give(st->run, bytes);
        return sl_fail(&st->run->err, SL_E_NOMEM, STAGE, "out of memory");
    }
    for (size_t i = 0; i < s->tcap; i++) {
        if (!s->tab[i].first)
            continue;
        size_t j = s->tab[i].h & (ncap - 1);
        while (nt[j].first)
            j = (j + 1) & (ncap - 1);
        nt[j] = s->tab[i];
    }
    free(s->tab);
    sl_run_mem_give(st->run, (uint64_t)s->tcap * sizeof(lslot));
    s->held = bytes;
    s->tab = nt;
    s->tcap = ncap;
    return SL_OK;
}

static lslot *table_find(const join_state *s, const char *p, uint32_t len, uint64_t h, uint64_t prefix)
{
    size_t j = h & (s->tcap - 1);
    while (s->tab[j].first) {
        const lslot *t = &s->tab[j];
        if (t->h == h && t->len == len && t->prefix == prefix &&
            (len <= 8 || memcmp(lrec_key(s, t->first)->p + 8, p + 8, len - 8) == 0))
            return &s->tab[j];
        j = (j + 1) & (s->tcap - 1);
    }
    return &s->tab[j]; /* the empty slot where it would go */
}

/* Keep row `row` of b (schema index sidx) under its key, or, when keyover
   is given (per-key lookups), under that text, which then replaces the
   row's own OTHER value (the database may spell it differently: 7 for 07;
   OTHER is not in the output). */
static int lookup_add(sl_stage *st, join_state *s, const sl_batch *b, uint32_t row, uint32_t sidx, const sl_cell *keyover)
{
    int kc = s->lkey[sidx];
    const sl_cell *key = kc < 0 ? NULL : keyover ? keyover : sl_batch_cell(b, row, (uint32_t)kc);
    if (!key || key->kind == SL_NULL || key->kind == SL_ABSENT) {
        s->nkeyless++;
        return SL_OK;
    }
    uint32_t nc = b->schema->ncols;
    size_t bytes = sizeof(lrec) + (size_t)nc * sizeof(sl_cell);
    for (uint32_t c = 0; c < nc; c++)
        bytes += sl_batch_cell(b, row, c)->len;
    if (keyover)
        bytes += keyover->len;
    if ((s->nslots + 1) * 10 > s->tcap * 7) {
        int rc = table_grow(st, s);
        if (rc == SL_E_NOMEM && st->run->err.code == SL_OK)
            return fail_budget(st, s, b, row);
        if (rc < 0)
            return rc;
    }
    lrec *r = sl_budget_arena_alloc(&s->store, bytes);
    if (!r)
        return s->store.oom ? sl_fail(&st->run->err, SL_E_NOMEM, STAGE, "out of memory") : fail_budget(st, s, b, row);
    r->next = r->last = NULL;
    r->schema = sidx;
    r->ncells = nc;
    char *d = (char *)(r->cells + nc);
    for (uint32_t c = 0; c < nc; c++) {
        const sl_cell *x = sl_batch_cell(b, row, c);
        r->cells[c] = *x;
        if (x->len) {
            memcpy(d, x->p, x->len);
            r->cells[c].p = d;
            d += x->len;
        } else {
            r->cells[c].p = NULL;
        }
    }
    if (keyover) {
        r->cells[kc] = *keyover;
        r->cells[kc].p = keyover->len ? memcpy(d, keyover->p, keyover->len) : NULL;
        key = &r->cells[kc];
    }
    uint64_t h = sl_hash_bytes(key->p, key->len), prefix = key_prefix(key->p, key->len);
    lslot *slot = table_find(s, key->p, key->len, h, prefix);
    if (slot->first) {
        slot->first->last->next = r;
        slot->first->last = r;
    } else {
        slot->h = h;
        slot->first = r;
        slot->prefix = prefix;
        slot->len = key->len;
        r->last = r;
        s->nslots++;
    }
    s->nrecs++;
    return SL_OK;
}

static int lookup_load(sl_stage *st, join_state *s)
{
    sl_run sub;
    memset(&sub, 0, sizeof sub);
    sub.opt = st->run->opt;
    sub.opt.from = NULL;
    sub.opt.delim = 0;
    sub.opt.no_header = false;
    sub.opt.on_error = SL_ONERR_STOP;
    sub.opt.reject_path = NULL;
    sl_input in = {.name = s->path, .size = -1};
    sub.inputs = &in;
    sub.ninputs = 1;
    sl_stage rd;
    memset(&rd, 0, sizeof rd);
    rd.type = s->fmt->reader;
    rd.run = &sub;
    rd.text = s->fmt->name;
    int rc = rd.type->create(&rd, "", &sub.err);
    if (rc == SL_OK) {
        rc = rd.type->open(&rd);
        rd.opened = 1;
    }
    while (rc == SL_OK) {
        sl_batch *b;
        rc = sl_stage_next(&rd, &b);
        if (rc == SL_DONE) {
            rc = SL_OK;
            break;
        }
        if (rc < 0)
            break;
        uint32_t sidx;
        if ((rc = lookup_schema(st, s, b->schema, &sidx)) < 0)
            break;
        uint32_t live = sl_batch_live(b);
        for (uint32_t i = 0; i < live && rc == SL_OK; i++)
            rc = lookup_add(st, s, b, sl_batch_row(b, i), sidx, NULL);
    }
    if (rd.type->close)
        rd.type->close(&rd);
    if (rc < 0) {
        /* the reader's error names the lookup file and the line */
        if (st->run->err.code == SL_OK) {
            st->run->err = sub.err;
            snprintf(st->run->err.stage, sizeof st->run->err.stage, "%s", STAGE);
        }
        return rc;
    }
    if (s->ls.n && s->nrecs + s->nkeyless > 0) {
        int any = 0;
        for (uint32_t i = 0; i < s->ls.n; i++)
            any |= s->lkey[i] >= 0;
        if (!any) {
            sl_fail_no_field(&st->run->err, STAGE, s->other, s->ls.s[0]);
            char msg[sizeof st->run->err.msg];
            const char *f = strstr(st->run->err.msg, "fields are: ");
            snprintf(msg, sizeof msg, "no key field '%s' in the lookup file %s; its fields are: %s", s->other, s->path,
                     f ? f + 12 : "");
            snprintf(st->run->err.msg, sizeof st->run->err.msg, "%s", msg);
            return SL_E_USAGE;
        }
    }
    return lookup_maps(st, s);
}

/* --lookup per-key: prepare the query, learn its columns; nothing is read */
static int per_key_open(sl_stage *st, join_state *s)
{
    sl_error *err = &st->run->err;
    if (st->run->opt.check_only)
        return SL_OK;
    s->lk = sl_db_lookup_open(s->path, s->other, STAGE, err);
    if (!s->lk)
        return err->code;
    sl_schema *sc = sl_db_lookup_schema(s->lk);
    const char *kn = s->other;
    s->miss_schema = sl_schema_new(1, &kn, &s->other_len);
    if (!s->miss_schema)
        return sl_fail(err, SL_E_NOMEM, STAGE, "out of memory");
    int rc = lookup_schema(st, s, sc, &s->lk_idx);
    if (rc == SL_OK)
        rc = lookup_schema(st, s, s->miss_schema, &s->miss_idx);
    if (rc < 0)
        return rc;
    if (s->miss_idx == s->lk_idx)
        return sl_fail(err, SL_E_USAGE, STAGE, "the lookup '%s' has only the key column '%s': it adds no field", s->path,
                       s->other);
    if (sl_batch_init(&s->one, 1, sc->ncols ? sc->ncols : 1, 0) < 0 || sl_batch_init(&s->miss, 1, 1, 0) < 0)
        return sl_fail(err, SL_E_NOMEM, STAGE, "out of memory");
    s->one_init = 1;
    if (sl_batch_reset(&s->one, sc, sc->ncols ? sc->ncols : 1) < 0 || sl_batch_reset(&s->miss, s->miss_schema, 1) < 0)
        return sl_fail(err, SL_E_NOMEM, STAGE, "out of memory");
    memset(s->one.info, 0, sizeof *s->one.info);
    memset(s->miss.info, 0, sizeof *s->miss.info);
    if ((rc = table_grow(st, s)) < 0)
        return rc == SL_E_NOMEM && err->code == SL_OK ? fail_budget(st, s, NULL, 0) : rc;
    return lookup_maps(st, s);
}

/* ---- the main side ---- */

static int name_taken(char **names, const uint32_t *lens, uint32_t n, const char *x, size_t len)
{
    for (uint32_t i = 0; i < n; i++)
        if (lens[i] == len && memcmp(names[i], x, len) == 0)
            return 1;
    return 0;
}

static int plan(sl_stage *st, join_state *s, const sl_schema *in)
{
    sl_error *err = &st->run->err;
    s->in_id = in->id;
    s->have_plan = 1;
    s->mkey = sl_schema_find(in, s->key, s->key_len);
    if (s->mkey < 0 && !in->open)
        return sl_fail_no_field(err, STAGE, s->key, in);
    s->nmain = in->ncols;
    if (s->mode == J_ANTI)
        return SL_OK;
    uint32_t n = in->ncols + s->nu;
    char **names = calloc(n ? n : 1, sizeof *names);
    uint32_t *lens = calloc(n ? n : 1, sizeof *lens);
    int rc = SL_OK;
    if (!names || !lens)
        rc = SL_E_NOMEM;
    for (uint32_t c = 0; c < in->ncols && rc == SL_OK; c++) {
        names[c] = strdup(in->names[c]);
        lens[c] = in->name_len[c];
        if (!names[c])
            rc = SL_E_NOMEM;
    }
    for (uint32_t u = 0; u < s->nu && rc == SL_OK; u++) {
        uint32_t k = in->ncols + u;
        if (!name_taken(names, lens, k, s->unames[u], s->ulens[u])) {
            names[k] = strdup(s->unames[u]);
            lens[k] = s->ulens[u];
        } else {
            /* NAME_right, then NAME_right2, NAME_right3, ... */
            size_t cap = s->ulens[u] + 32;
            names[k] = malloc(cap);
            for (int i = 1; names[k]; i++) {
                int m = i == 1 ? snprintf(names[k], cap, "%s_right", s->unames[u])
                               : snprintf(names[k], cap, "%s_right%d", s->unames[u], i);
                lens[k] = (uint32_t)m;
                if (!name_taken(names, lens, k, names[k], lens[k]) &&
                    !name_taken(s->unames, s->ulens, s->nu, names[k], lens[k]))
                    break;
            }
        }
        if (!names[k])
            rc = SL_E_NOMEM;
    }
    if (rc == SL_OK) {
        if (s->out_schema)
            sl_schema_unref(s->out_schema);
        s->out_schema = sl_schema_new(n, (const char *const *)names, lens);
        if (!s->out_schema)
            rc = SL_E_NOMEM;
        else
            s->out_schema->open = in->open;
    }
    for (uint32_t i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
    free(lens);
    return rc < 0 ? sl_fail(err, rc, STAGE, "out of memory") : SL_OK;
}

/* a row found for the key being fetched */
static int fetched_row(void *ctx, const sl_cell *cells, uint32_t ncells)
{
    sl_stage *st = ctx;
    join_state *s = st->state;
    memcpy(s->one.cells, cells, ncells * sizeof *cells);
    s->one.nrows = 1;
    s->fetch_rows++;
    return lookup_add(st, s, &s->one, 0, s->lk_idx, s->fetch_key);
}

/* --lookup per-key: each key not in the cache is fetched from the database
   (its rows, or a miss record that says it has none) before it is probed */
static int match_per_key(sl_stage *st, join_state *s, const sl_batch *b)
{
    uint32_t live = sl_batch_live(b);
    if (s->nslots >= s->cache_keys) {
        /* the cache is full: start again (the previous output batches,
           which pointed into it, are gone by now) */
        sl_budget_arena_reset(&s->store);
        memset(s->tab, 0, s->tcap * sizeof *s->tab);
        s->nslots = 0;
        s->nrecs = 0;
    }
    for (uint32_t i = 0; i < live; i++) {
        const sl_cell *k = sl_batch_cell(b, sl_batch_row(b, i), (uint32_t)s->mkey);
        s->m[i] = NULL;
        if (k->kind == SL_NULL || k->kind == SL_ABSENT)
            continue;
        uint64_t h = sl_hash_bytes(k->p, k->len), prefix = key_prefix(k->p, k->len);
        lslot *slot = table_find(s, k->p, k->len, h, prefix);
        if (!slot->first) {
            s->fetch_key = k;
            s->fetch_rows = 0;
            int rc = sl_db_lookup_fetch(s->lk, k->p, k->len, fetched_row, st, st->run->opt.max_field_bytes, &st->run->err);
            if (rc == SL_OK && s->fetch_rows == 0) {
             s->miss.cells[0] = *k;
                s->miss.nrows = 1;
                rc = lookup_add(st, s, &s->miss, 0, s->miss_idx, k);
            }
            if (rc < 0) {
                const sl_rowinfo *in = b->info ? &b->info[sl_batch_row(b, i)] : NULL;
                const char *name = in && in->input < st->run->ninputs ? st->run->inputs[in->input].name : NULL;
                if (in)
                    sl_error_at(&st->run->err, name, in->line, 0, in->record);
                return rc;
            }
            slot = table_find(s, k->p, k->len, h, prefix);
        }
        if (slot->first && slot->first->schema != s->miss_idx)
            s->m[i] = slot->first;
    }
    return SL_OK;
}

/* The first lookup record matching each live row of b, into s->m[].  The
   table and the records are far apart in memory: hashing every row first
   and prefetching its slot, then probing and prefetching the record, lets
   the cache misses of a whole batch overlap instead of following one
   another. */
static int match_batch(sl_stage *st, join_state *s, const sl_batch *b)
{
    uint32_t live = sl_batch_live(b);
    if (live > s->mcap) {
        free(s->m);
        free(s->mh);
        s->m = malloc(live * sizeof *s->m);
        s->mh = malloc(live * sizeof *s->mh);
        s->mcap = s->m && s->mh ? live : 0;
        if (!s->mcap)
            return sl_fail(&st->run->err, SL_E_NOMEM, STAGE, "out of memory");
    }
    if (s->mkey < 0 || s->tcap == 0) {
        memset(s->m, 0, live * sizeof *s->m);
        return SL_OK;
    }
    if (s->per_key)
        return match_per_key(st, s, b);
    for (uint32_t i = 0; i < live; i++) {
        const sl_cell *k = sl_batch_cell(b, sl_batch_row(b, i), (uint32_t)s->mkey);
        if (k->kind == SL_NULL || k->kind == SL_ABSENT) {
            s->m[i] = NULL;
            continue;
        }
        s->mh[i] = sl_hash_bytes(k->p, k->len);
        s->m[i] = (lrec *)1; /* to probe */
        __builtin_prefetch(&s->tab[s->mh[i] & (s->tcap - 1)]);
    }
    for (uint32_t i = 0; i < live; i++) {
        if (!s->m[i])
            continue;
        const sl_cell *k = sl_batch_cell(b, sl_batch_row(b, i), (uint32_t)s->mkey);
        s->m[i] = table_find(s, k->p, k->len, s->mh[i], key_prefix(k->p, k->len))->first;
        if (s->m[i])
            __builtin_prefetch(s->m[i]);
    }
    return SL_OK;
}

static void emit(join_state *s, const sl_batch *in, uint32_t row, const lrec *r)
{
    static const sl_rowinfo none;
    sl_batch *b = &s->out;
    sl_cell *d = b->cells + (size_t)b->nrows * b->stride;
    for (uint32_t c = 0; c < s->nmain; c++)
        d[c] = *sl_batch_cell(in, row, c);
    d += s->nmain;
    for (uint32_t u = 0; u < s->nu; u++) {
        int32_t c = r ? s->umap[r->schema][u] : -1;
        if (c >= 0)
            d[u] = r->cells[c];
        else
            d[u] = (sl_cell){NULL, 0, (uint8_t)(r && s->ls.s[r->schema]->open ? SL_ABSENT : SL_NULL), {0}};
    }
    b->info[b->nrows++] = in->info ? in->info[row] : none;
}

static int join_next(sl_stage *st, sl_batch **out)
{
    join_state *s = st->state;
    for (;;) {
        if (!s->in) {
            sl_batch *b;
            int rc = sl_stage_next(st->input, &b);
            if (rc != SL_BATCH)
                return rc;
            if ((!s->have_plan || b->schema->id != s->in_id) && (rc = plan(st, s, b->schema)) < 0)
                return rc;
            if ((rc = match_batch(st, s, b)) < 0)
                return rc;
            if (s->mode == J_ANTI) {
                if (sl_batch_ensure_sel(b) < 0)
                    return sl_fail(&st->run->err, SL_E_NOMEM, STAGE, "out of memory");
                uint32_t k = 0;
                for (uint32_t i = 0; i < b->nsel; i++)
                    if (!s->m[i])
                        b->sel[k++] = b->sel[i];
                b->nsel = k;
                if (k) {
                    *out = b;
                    return SL_BATCH;
                }
                continue;
            }
            s->in = b;
            s->in_pos = 0;
            s->in_started = 0;
        }
        sl_batch *in = s->in, *b = &s->out;
        if (sl_batch_reset(b, s->out_schema, s->out_schema->ncols) < 0)
            return sl_fail(&st->run->err, SL_E_NOMEM, STAGE, "out of memory");
        uint32_t live = sl_batch_live(in);
        while (s->in_pos < live && b->nrows < b->cap_rows) {
            uint32_t row = sl_batch_row(in, s->in_pos);
            if (!s->in_started) {
                s->in_match = s->m[s->in_pos];
                s->in_started = 1;
                if (!s->in_match) {
                    if (s->mode == J_LEFT)
                        emit(s, in, row, NULL);
                    s->in_pos++;
                    s->in_started = 0;
                    continue;
                }
            }
            while (s->in_match && b->nrows < b->cap_rows) {
                emit(s, in, row, s->in_match);
                s->in_match = s->in_match->next;
            }
            if (!s->in_match) {
                s->in_pos++;
                s->in_started = 0;
            }
        }
        if (s->in_pos >= live)
            s->in = NULL; /* the next call pulls a new input batch */
        if (b->nrows) {
            *out = b;
            return SL_BATCH;
        }
    }
}

/* ---- lifecycle ---- */

static int join_open(sl_stage *st)
{
    join_state *s = st->state;
    uint64_t chunk = st->run->opt.memory_limit / 16;
    if (chunk < 16 * 1024)
        chunk = 16 * 1024;
    if (chunk > 1024 * 1024)
        chunk = 1024 * 1024;
    sl_budget_arena_init(&s->store, st->run, (size_t)chunk);
    if (sl_batch_init(&s->out, st->run->opt.batch_rows, 16, 0) < 0)
        return sl_fail(&st->run->err, SL_E_NOMEM, STAGE, "out of memory");
    s->out_init = 1;
    return s->per_key ? per_key_open(st, s) : lookup_load(st, s);
}

static void join_close(sl_stage *st)
{
    join_state *s = st->state;
    if (!s)
        return;
    sl_budget_arena_fini(&s->store);
    if (s->held)
        sl_run_mem_give(st->run, s->held);
    free(s->tab);
    free(s->m);
    free(s->mh);
    for (uint32_t i = 0; i < s->numap; i++)
        free(s->umap[i]);
    free(s->umap);
    free(s->lkey);
    for (uint32_t u = 0; u < s->nu; u++)
        free(s->unames[u]);
    free(s->unames);
    free(s->ulens);
    sl_schema_table_fini(&s->ls);
    if (s->one_init) {
        sl_batch_fini(&s->one);
        sl_batch_fini(&s->miss);
    }
    if (s->miss_schema)
        sl_schema_unref(s->miss_schema);
    sl_db_lookup_close(s->lk);
    if (s->out_schema)
        sl_schema_unref(s->out_schema);
    if (s->out_init)
        sl_batch_fini(&s->out);
    free(s->path);
    free(s->key);
    free(s->other);
    free(s);
    st->state = NULL;
}

const sl_stage_type sl_join_stage_type = {
    .name = "join",
    .usage = "join FILE|DBNAME on KEY[=OTHER]",
    .summary = "add the fields of FILE's records whose OTHER equals KEY",
    .help = "Reads the lookup FILE (any format, by its name; gzip or zstd too) into\n"
            "memory, then streams the input: each record is joined with every record\n"
            "of FILE whose field OTHER (default: KEY) has the same text as its KEY,\n"
            "one output record per match (duplicate keys in FILE give several), with\n"
            "the input's fields then FILE's other fields.  A FILE field whose name the\n"
            "input already has is renamed NAME_right.\n"
            "Keys match byte for byte: nothing is trimmed, 1 and 1.0 do not match;\n"
            "null and absent keys match nothing.\n"
            "  (default)  inner join: records without a match are dropped\n"
            "  --left     records without a match are kept, FILE's fields null\n"
            "  --anti     only the records without a match, unchanged\n"
            "FILE must fit in --memory-limit; it always has a header and its format's\n"
            "delimiter, whatever --from, --delim and --no-header say of the input.\n"
            "FILE may be a database table or query: sqlite:ref.db?table=users,\n"
            "postgres://user@host/db?query=SELECT+id,name+FROM+users (docs/databases.md).\n"
            "  --lookup per-key  do not load it: query each new key (an index on OTHER\n"
            "                    makes it one probe), keeping at most --cache N keys\n"
            "                    (default 100000); keys compare as the database does\n",
    .create = join_create,
    .open = join_open,
    .next = join_next,
    .close = join_close,
};
