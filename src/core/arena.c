/* arena.c - chunked bump allocator, reset in O(chunks), capped. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/arena.h"

struct sl_arena_chunk {
    sl_arena_chunk *next;
    size_t cap, used;
    char data[];
};

void sl_arena_init(sl_arena *a, size_t chunk_size, size_t limit)
{
    memset(a, 0, sizeof *a);
    a->chunk_size = chunk_size ? chunk_size : 64 * 1024;
    a->limit = limit;
}

void sl_arena_fini(sl_arena *a)
{
    sl_arena_chunk *c = a->first;
    while (c) {
        sl_arena_chunk *n = c->next;
        free(c);
        c = n;
    }
    a->first = a->cur = NULL;
    a->reserved = 0;
}

void sl_arena_reset(sl_arena *a)
{
    for (sl_arena_chunk *c = a->first; c; c = c->next)
        c->used = 0;
    a->cur = a->first;
}

void *sl_arena_alloc(sl_arena *a, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    if (n == 0)
        n = 8;
    /* walk the kept chunks first: after a reset they are empty */
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
    if (a->limit && a->reserved + cap > a->limit) {
        if (a->reserved + n > a->limit)
            return NULL;
        cap = n;
    }
    sl_arena_chunk *c = malloc(sizeof *c + cap);
    if (!c)
        return NULL;
    c->next = NULL;
    c->cap = cap;
    c->used = n;
    if (a->cur)
        a->cur->next = c;
    else
        a->first = c;
    a->cur = c;
    a->reserved += cap;
    return c->data;
}

char *sl_arena_strndup(sl_arena *a, const char *s, size_t n)
{
    char *p = sl_arena_alloc(a, n + 1);
    if (!p)
        return NULL;
    if (n)
        memcpy(p, s, n);
    p[n] = 0;
    return p;
}
