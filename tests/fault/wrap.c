/*
 * wrap.c - allocation failures for sluice_faultwrap, a sluice linked with
 * -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc: sluice's own calls (not
 * those inside libc, zlib, zstd, libcsv or jansson) go through these
 * functions, which fail the N-th one.
 *
 *   SLUICE_FAIL_MALLOC=N   the N-th allocation returns NULL (errno ENOMEM)
 *   SLUICE_FAIL_STICKY=1   every allocation from the N-th on fails
 *   SLUICE_COUNT=FILE      at exit, "malloc K" into FILE ("-" = stderr)
 *
 * Unlike the LD_PRELOAD interposer (inject.c) this works under the
 * sanitizers and under valgrind, which own malloc themselves: __real_malloc
 * is theirs.  So leaks on every failure path are caught by LeakSanitizer in
 * the sanitizer build and by valgrind in the normal one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t a, size_t b);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t a, size_t b);
void *__wrap_realloc(void *p, size_t n);

static int ready;
static unsigned long count, fail_at;
static int sticky;
static const char *count_file;

static void report(void)
{
    if (!count_file)
        return;
    FILE *f = strcmp(count_file, "-") == 0 ? stderr : fopen(count_file, "w");
    if (!f)
        return;
    fprintf(f, "malloc %lu\n", count);
    if (f != stderr)
        fclose(f);
}

static int fail_now(void)
{
    if (!ready) {
        ready = 1;
        const char *v = getenv("SLUICE_FAIL_MALLOC");
        fail_at = v ? strtoul(v, NULL, 10) : 0;
        v = getenv("SLUICE_FAIL_STICKY");
        sticky = v && *v == '1';
        count_file = getenv("SLUICE_COUNT");
        if (count_file && !*count_file)
            count_file = NULL;
        if (count_file)
            atexit(report);
    }
    unsigned long n = ++count;
    return fail_at && (n == fail_at || (sticky && n > fail_at));
}

void *__wrap_malloc(size_t n)
{
    if (fail_now()) {
        errno = ENOMEM;
        return NULL;
    }
    return __real_malloc(n);
}

void *__wrap_calloc(size_t a, size_t b)
{
    if (fail_now()) {
        errno = ENOMEM;
        return NULL;
    }
    return __real_calloc(a, b);
}

void *__wrap_realloc(void *p, size_t n)
{
    if (fail_now()) {
        errno = ENOMEM;
        return NULL;
    }
    return __real_realloc(p, n);
}
