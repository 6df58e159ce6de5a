/*
 * inject.c - fault injection by LD_PRELOAD: fail the N-th call of malloc,
 * calloc, realloc, read, write, fsync or rename made by the program.
 *
 *   SLUICE_FAIL_MALLOC=N   the N-th allocation (malloc, calloc and realloc
 *                          counted together) returns NULL, errno ENOMEM
 *   SLUICE_FAIL_READ=N     the N-th read() returns -1, errno EIO
 *   SLUICE_FAIL_WRITE=N    the N-th write() returns -1, errno ENOSPC
 *   SLUICE_FAIL_FSYNC=N    the N-th fsync() returns -1, errno EIO
 *   SLUICE_FAIL_RENAME=N   the N-th rename() returns -1, errno EIO
 *   SLUICE_FAIL_STICKY=1   every call from the N-th on fails, not only it
 *   SLUICE_COUNT=FILE      at exit, write the number of calls of each kind
 *                          to FILE ("malloc 123" ... one per line; "-" =
 *                          standard error)
 *   SLUICE_FAIL_PROGRAM=P  count and fail only in a program whose name
 *                          (argv[0] without its directory) is P; default
 *                          "sluice", so that a wrapper that is preloaded
 *                          too (valgrind's launcher, env) runs untouched
 *
 * Counting starts when main() starts (the wrapper of __libc_start_main
 * below), so the dynamic loader and the C library's own start-up are never
 * hit and the numbers are the program's.  write() calls on standard error
 * are neither counted nor failed: that is where the program reports the
 * failure under test.  Calls that stdio makes internally do not go through
 * these symbols at all; glibc does route its own malloc calls here.
 *
 * Allocation goes to glibc's __libc_malloc & co, so no dlsym is needed (it
 * allocates itself) and nothing here allocates.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);

enum { K_MALLOC, K_READ, K_WRITE, K_FSYNC, K_RENAME, K_N };
static const char *const kind_name[K_N] = {"malloc", "read", "write", "fsync", "rename"};
static const char *const kind_env[K_N] = {"SLUICE_FAIL_MALLOC", "SLUICE_FAIL_READ", "SLUICE_FAIL_WRITE",
                                          "SLUICE_FAIL_FSYNC", "SLUICE_FAIL_RENAME"};

static int armed;                 /* main() has started */
static unsigned long count[K_N];  /* calls since then */
static unsigned long fail_at[K_N]; /* 0 = never */
static int sticky;
static const char *count_file;

/* getenv() does not allocate; parse by hand (no strtoul locale games) */
static unsigned long env_num(const char *name)
{
    const char *v = getenv(name);
    unsigned long n = 0;
    if (!v)
        return 0;
    for (; *v >= '0' && *v <= '9'; v++)
        n = n * 10 + (unsigned long)(*v - '0');
    return n;
}

/* Count one call of kind k; 1 when it must fail. */
static int hit(int k)
{
    if (!armed)
        return 0;
    unsigned long n = ++count[k];
    return fail_at[k] && (n == fail_at[k] || (sticky && n > fail_at[k]));
}

void *malloc(size_t n)
{
    if (hit(K_MALLOC)) {
        errno = ENOMEM;
        return NULL;
    }
    return __libc_malloc(n);
}

void *calloc(size_t a, size_t b)
{
    if (hit(K_MALLOC)) {
        errno = ENOMEM;
        return NULL;
    }
    return __libc_calloc(a, b);
}

void *realloc(void *p, size_t n)
{
    if (hit(K_MALLOC)) {
        errno = ENOMEM;
        return NULL;
    }
    return __libc_realloc(p, n);
}

ssize_t read(int fd, void *buf, size_t n)
{
    if (hit(K_READ)) {
        errno = EIO;
        return -1;
    }
    return syscall(SYS_read, fd, buf, n);
}

ssize_t write(int fd, const void *buf, size_t n)
{
    if (fd != 2 && hit(K_WRITE)) {
        errno = ENOSPC;
        return -1;
    }
    return syscall(SYS_write, fd, buf, n);
}

int fsync(int fd)
{
    if (hit(K_FSYNC)) {
        errno = EIO;
        return -1;
    }
    return (int)syscall(SYS_fsync, fd);
}

int rename(const char *from, const char *to)
{
    if (hit(K_RENAME)) {
        errno = EIO;
        return -1;
    }
    return (int)syscall(SYS_rename, from, to);
}

static void report(void)
{
    if (!count_file)
        return;
    armed = 0;
    char line[512];
    int len = 0;
    for (int k = 0; k < K_N; k++)
        len += snprintf(line + len, sizeof line - (size_t)len, "%s %lu\n", kind_name[k], count[k]);
    int fd = strcmp(count_file, "-") == 0 ? 2 : (int)syscall(SYS_open, count_file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        syscall(SYS_write, fd, line, (size_t)len);
        if (fd != 2)
            syscall(SYS_close, fd);
    }
}

typedef int (*main_fn)(int, char **, char **);
static main_fn real_main;

static int wrapped_main(int argc, char **argv, char **envp)
{
    const char *want = getenv("SLUICE_FAIL_PROGRAM");
    const char *base = argc > 0 && argv[0] ? strrchr(argv[0], '/') : NULL;
    base = base ? base + 1 : argc > 0 && argv[0] ? argv[0] : "";
    if (strcmp(base, want && *want ? want : "sluice") != 0)
        return real_main(argc, argv, envp);
    for (int k = 0; k < K_N; k++)
        fail_at[k] = env_num(kind_env[k]);
    sticky = env_num("SLUICE_FAIL_STICKY") != 0;
    count_file = getenv("SLUICE_COUNT");
    if (count_file && !*count_file)
        count_file = NULL;
    /* exit() from main's return runs this; so does an exit() elsewhere */
    atexit(report);
    armed = 1;
    return real_main(argc, argv, envp);
}

int __libc_start_main(main_fn main, int argc, char **argv, void (*init)(void), void (*fini)(void),
                      void (*rtld_fini)(void), void *stack_end)
{
    typedef int (*start_fn)(main_fn, int, char **, void (*)(void), void (*)(void), void (*)(void), void *);
    start_fn real = (start_fn)dlsym(RTLD_NEXT, "__libc_start_main");
    real_main = main;
    return real(wrapped_main, argc, argv, init, fini, rtld_fini, stack_end);
}
