/*
 * arena.h - bump allocator for per-batch data.
 *
 * An arena hands out memory that lives until the next sl_arena_reset().  Reset
 * is O(number of chunks) and keeps the chunks for reuse, so a batch refilled a
 * million times allocates only during its first few fills.  Every arena has a
 * hard cap (limit); an allocation past it returns NULL and the caller reports
 * a limit error with its position.
 */
#ifndef SLUICE_ARENA_H
#define SLUICE_ARENA_H

#include <stddef.h>

typedef struct sl_arena_chunk sl_arena_chunk;

typedef struct sl_arena {
    sl_arena_chunk *first; /* owned list of chunks */
    sl_arena_chunk *cur;   /* chunk being filled */
    size_t chunk_size;     /* default size of a new chunk */
    size_t reserved;       /* bytes of all chunks */
    size_t limit;          /* cap on reserved; 0 = none */
} sl_arena;

void sl_arena_init(sl_arena *a, size_t chunk_size, size_t limit);
void sl_arena_fini(sl_arena *a);
void sl_arena_reset(sl_arena *a);
/* n bytes aligned to 8, or NULL when over the limit or out of memory. */
void *sl_arena_alloc(sl_arena *a, size_t n);
/* Copy of s[0..n) with a terminating NUL, or NULL. */
char *sl_arena_strndup(sl_arena *a, const char *s, size_t n);

#endif
