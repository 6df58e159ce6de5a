/* record.c - the record encoding, the schema table, a hash, size text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/error.h"
#include "sluice/run.h"
#include "stages/record.h"

void sl_record_gather(const sl_batch *b, uint32_t row, sl_cell *cells)
{
    const sl_cell *base = b->cells + (size_t)row * b->stride;
    uint32_t n = b->schema->ncols;
    if (!b->colmap) {
        memcpy(cells, base, (size_t)n * sizeof *cells);
        return;
    }
    for (uint32_t c = 0; c < n; c++)
        cells[c] = base[b->colmap[c]];
}

static size_t header_size(uint32_t schema, const sl_rowinfo *info, uint32_t ncells)
{
    return sl_varint_len(schema) + sl_varint_len(info->input) + sl_varint_len(info->line) +
           sl_varint_len(info->record) + sl_varint_len(info->offset) + sl_varint_len(ncells);
}

static size_t body_size(uint32_t schema, const sl_rowinfo *info, const sl_cell *cells, uint32_t ncells)
{
    size_t n = header_size(schema, info, ncells);
    for (uint32_t i = 0; i < ncells; i++) {
        uint32_t len = cells[i].kind == SL_NULL || cells[i].kind == SL_ABSENT ? 0 : cells[i].len;
        n += sl_varint_len(((uint64_t)len << 3) | cells[i].kind) + len;
    }
    return n;
}

size_t sl_record_size(uint32_t schema, const sl_rowinfo *info, const sl_cell *cells, uint32_t ncells)
{
    size_t body = body_size(schema, info, cells, ncells);
    return sl_varint_len(body) + body;
}

size_t sl_record_encode(uint8_t *dst, uint32_t schema, const sl_rowinfo *info, sl_cell *cells, uint32_t ncells)
{
    size_t body = body_size(schema, info, cells, ncells);
    uint8_t *p = dst;
    p += sl_varint_put(p, body);
    p += sl_varint_put(p, schema);
    p += sl_varint_put(p, info->input);
    p += sl_varint_put(p, info->line);
    p += sl_varint_put(p, info->record);
    p += sl_varint_put(p, info->offset);
    p += sl_varint_put(p, ncells);
    for (uint32_t i = 0; i < ncells; i++) {
        uint32_t len = cells[i].kind == SL_NULL || cells[i].kind == SL_ABSENT ? 0 : cells[i].len;
        p += sl_varint_put(p, ((uint64_t)len << 3) | cells[i].kind);
    }
    for (uint32_t i = 0; i < ncells; i++) {
        if (cells[i].kind == SL_NULL || cells[i].kind == SL_ABSENT) {
            cells[i].p = NULL;
            cells[i].len = 0;
            continue;
        }
        if (cells[i].len)
            memcpy(p, cells[i].p, cells[i].len);
        cells[i].p = (const char *)p;
        p += cells[i].len;
    }
    return (size_t)(p - dst);
}

int64_t sl_record_total(const uint8_t *p, size_t avail)
{
    uint64_t body;
    size_t k = sl_varint_get(p, p + avail, &body);
    if (k == 0)
        return avail >= 10 ? -1 : 0;
    if (body > ((uint64_t)1 << 40))
        return -1;
    return (int64_t)(k + body);
}

int sl_record_decode(const uint8_t *p, size_t total, sl_record_view *v, sl_cell *cells, uint32_t max_cells)
{
    const uint8_t *end = p + total;
    uint64_t x[7];
    for (int i = 0; i < 7; i++) {
        size_t k = sl_varint_get(p, end, &x[i]);
        if (k == 0)
            return -1;
        p += k;
    }
    if (x[1] > UINT32_MAX || x[2] > UINT32_MAX || x[6] > UINT32_MAX)
        return -1;
    memset(v, 0, sizeof *v);
    v->schema = (uint32_t)x[1];
    v->info.input = (uint32_t)x[2];
    v->info.line = x[3];
    v->info.record = x[4];
    v->info.offset = x[5];
    v->ncells = (uint32_t)x[6];
    if (v->ncells > max_cells)
        return -2;
    /* the bytes start after the cell descriptors */
    for (uint32_t i = 0; i < v->ncells; i++) {
        uint64_t d;
        size_t k = sl_varint_get(p, end, &d);
        if (k == 0)
            return -1;
        p += k;
        cells[i].kind = (uint8_t)(d & 7);
        cells[i].len = (uint32_t)(d >> 3);
        if ((d >> 3) > UINT32_MAX || cells[i].kind > SL_JSON)
            return -1;
    }
    for (uint32_t i = 0; i < v->ncells; i++) {
        if ((size_t)(end - p) < cells[i].len)
            return -1;
        cells[i].p = cells[i].len ? (const char *)p : NULL;
        p += cells[i].len;
    }
    return p == end ? 0 : -1;
}

/* ---- schema table ---- */

static uint64_t names_hash(const sl_schema *s)
{
    uint64_t h = sl_hash_bytes(&s->ncols, sizeof s->ncols) ^ (s->open ? 0x9e3779b97f4a7c15ull : 0);
    for (uint32_t i = 0; i < s->ncols; i++)
        h = (h * 0x100000001b3ull) ^ sl_hash_bytes(s->names[i], s->name_len[i]);
    return h;
}

static int table_rehash(sl_schema_table *t, uint32_t nslots)
{
    uint32_t *ns = calloc(nslots, sizeof *ns);
    if (!ns)
        return SL_E_NOMEM;
    for (uint32_t i = 0; i < t->n; i++) {
        uint32_t h = (uint32_t)names_hash(t->s[i]) & (nslots - 1);
        while (ns[h])
            h = (h + 1) & (nslots - 1);
        ns[h] = i + 1;
    }
    free(t->slots);
    t->slots = ns;
    t->nslots = nslots;
    return SL_OK;
}

int sl_schema_table_add(sl_schema_table *t, sl_schema *s, uint32_t *idx, int *added)
{
    *added = 0;
    if (t->n && t->last_id == s->id) {
        *idx = t->last_idx;
        return SL_OK;
    }
    if (t->nslots == 0 && table_rehash(t, 16) < 0)
        return SL_E_NOMEM;
    uint64_t hv = names_hash(s);
    uint32_t h = (uint32_t)hv & (t->nslots - 1);
    while (t->slots[h]) {
        sl_schema *o = t->s[t->slots[h] - 1];
        if (o->open == s->open && sl_schema_same_names(o, s)) {
            *idx = t->slots[h] - 1;
            t->last_id = s->id;
            t->last_idx = *idx;
            return SL_OK;
        }
        h = (h + 1) & (t->nslots - 1);
    }
    if (t->n == t->cap) {
        uint32_t cap = t->cap ? t->cap * 2 : 8;
        sl_schema **ns = realloc(t->s, (size_t)cap * sizeof *ns);
        if (!ns)
            return SL_E_NOMEM;
        t->s = ns;
        t->cap = cap;
    }
    t->s[t->n] = sl_schema_ref(s);
    t->slots[h] = t->n + 1;
    *idx = t->n++;
    *added = 1;
    t->last_id = s->id;
    t->last_idx = *idx;
    if (t->n * 2 > t->nslots && table_rehash(t, t->nslots * 2) < 0)
        return SL_E_NOMEM;
    return SL_OK;
}

void sl_schema_table_fini(sl_schema_table *t)
{
    for (uint32_t i = 0; i < t->n; i++)
        sl_schema_unref(t->s[i]);
    free(t->s);
    free(t->slots);
    memset(t, 0, sizeof *t);
}

/* ---- hash ---- */

static inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ull;
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ull;
    x ^= x >> 32;
    return x;
}

uint64_t sl_hash_bytes(const void *data, size_t n)
{
    const uint8_t *p = data;
    uint64_t h = 0x243f6a8885a308d3ull ^ (n * 0x9e3779b97f4a7c15ull);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ mix64(w)) * 0x9fb21c651e98df25ull;
        h ^= h >> 29;
        p += 8;
        n -= 8;
    }
    if (n) {
        uint64_t w = 0;
        memcpy(&w, p, n);
        h = (h ^ mix64(w ^ ((uint64_t)n << 56))) * 0x9fb21c651e98df25ull;
    }
    return mix64(h);
}

const char *sl_size_text(uint64_t bytes, char buf[32])
{
    static const char units[] = "KMGT";
    uint64_t unit = (uint64_t)1 << 40;
    for (int i = 3; i >= 0; i--, unit >>= 10) {
        if (bytes >= unit) {
            if (bytes % unit == 0)
                snprintf(buf, 32, "%llu%c", (unsigned long long)(bytes / unit), units[i]);
            else
                snprintf(buf, 32, "%.1f%c", (double)bytes / (double)unit, units[i]);
            return buf;
        }
    }
    snprintf(buf, 32, "%llu bytes", (unsigned long long)bytes);
    return buf;
}

/* ---- the budget arena ---- */

struct sl_budget_chunk {
    sl_budget_chunk *next;
    size_t cap, used;
    uint8_t data[];
};

void sl_budget_arena_init(sl_budget_arena *a, struct sl_run *run, size_t chunk_size)
{
    memset(a, 0, sizeof *a);
    a->run = run;
    a->chunk_size = chunk_size ? chunk_size : 64 * 1024;
}

void *sl_budget_arena_alloc(sl_budget_arena *a, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    a->oom = 0;
    while (a->cur) {
        if (a->cur->cap - a->cur->used >= n) {
            void *p = a->cur->data + a->cur->used;
            a->cur->used += n;
            return p;
        }
        if (!a->cur->next)
            break;
        a->cur = a->cur->next;
    }
    size_t cap = n > a->chunk_size ? n : a->chunk_size;
    uint64_t cost = cap + sizeof(sl_budget_chunk);
    if (sl_run_mem_take(a->run, cost) < 0)
        return NULL;
    sl_budget_chunk *c = malloc(sizeof *c + cap);
    if (!c) {
        sl_run_mem_give(a->run, cost);
        a->oom = 1;
        return NULL;
    }
    a->charged += cost;
    c->next = NULL;
    c->cap = cap;
    c->used = n;
    if (a->cur)
        a->cur->next = c;
    else
        a->first = c;
    a->cur = c;
    return c->data;
}

void sl_budget_arena_reset(sl_budget_arena *a)
{
    for (sl_budget_chunk *c = a->first; c; c = c->next)
        c->used = 0;
    a->cur = a->first;
}

void sl_budget_arena_fini(sl_budget_arena *a)
{
    sl_budget_chunk *c = a->first;
    while (c) {
        sl_budget_chunk *nx = c->next;
        free(c);
        c = nx;
    }
    if (a->charged && a->run)
        sl_run_mem_give(a->run, a->charged);
    a->first = a->cur = NULL;
    a->charged = 0;
}
