/* sink.c - output: direct or temp-file-and-rename, gzip/zstd on the way. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "io/cleanup.h"
#include "io/sink.h"

#define OUT_CAP (256 * 1024)

struct sl_sink {
    int fd;
    int own_fd;
    char *name;      /* display / final path */
    char *tmp;       /* temporary path, or NULL when written directly */
    sl_comp comp;
    uint64_t bytes, bytes_out;
    char *zbuf;      /* compressed output */
    z_stream z;
    int z_init;
    ZSTD_CCtx *zc;
    int committed;
};

sl_comp sl_comp_for_path(const char *path)
{
    if (!path)
        return SL_COMP_NONE;
    size_t n = strlen(path);
    if (n > 3 && strcmp(path + n - 3, ".gz") == 0)
        return SL_COMP_GZIP;
    if (n > 4 && strcmp(path + n - 4, ".zst") == 0)
        return SL_COMP_ZSTD;
    return SL_COMP_NONE;
}

static int sink_fail(sl_sink *s, sl_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int sink_fail(sl_sink *s, sl_error *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sl_vfail(err, code, "output", fmt, ap);
    va_end(ap);
    sl_error_at(err, s->name ? s->name : "(output)", 0, 0, 0);
    return code;
}

static int write_all(sl_sink *s, const char *p, size_t n, sl_error *err)
{
    while (n > 0) {
        ssize_t w = write(s->fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EPIPE)
                return sink_fail(s, err, SL_E_OUTPUT, "write failed: the reader of the output went away (broken pipe)");
            return sink_fail(s, err, SL_E_OUTPUT, "write failed: %s", strerror(errno));
        }
        p += w;
        n -= (size_t)w;
        s->bytes_out += (uint64_t)w;
    }
    return SL_OK;
}

/* The compressor of a new sink. */
static int init_comp(sl_sink *s, sl_comp comp, int level, sl_error *err)
{
    if (comp == SL_COMP_GZIP) {
        int zrc = deflateInit2(&s->z, level < 0 ? 6 : level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
        if (zrc == Z_MEM_ERROR) /* not the level's fault */
            return sl_fail(err, SL_E_NOMEM, "output", "out of memory for the gzip encoder");
        if (zrc != Z_OK)
            return sink_fail(s, err, SL_E_USAGE, "invalid gzip level %d (expected 0..9)", level);
        s->z_init = 1;
    } else if (comp == SL_COMP_ZSTD) {
        s->zc = ZSTD_createCCtx();
        if (!s->zc)
            return sl_fail(err, SL_E_NOMEM, "output", "out of memory");
        size_t r = ZSTD_CCtx_setParameter(s->zc, ZSTD_c_compressionLevel, level < 0 ? 3 : level);
        if (ZSTD_isError(r))
            return sink_fail(s, err, SL_E_USAGE, "invalid zstd level %d", level);
        ZSTD_CCtx_setParameter(s->zc, ZSTD_c_checksumFlag, 1);
    }
    if (comp != SL_COMP_NONE && !(s->zbuf = malloc(OUT_CAP)))
        return sl_fail(err, SL_E_NOMEM, "output", "out of memory");
    return SL_OK;
}

sl_sink *sl_sink_open(const char *path, sl_comp comp, int level, sl_error *err)
{
    sl_sink *s = calloc(1, sizeof *s);
    if (!s) {
        sl_fail(err, SL_E_NOMEM, "output", "out of memory");
        return NULL;
    }
    s->comp = comp;
    if (!path || strcmp(path, "-") == 0) {
        s->fd = 1;
        /* name what stdout is, so "disk full" names the file */
        char target[512];
        ssize_t tl = readlink("/proc/self/fd/1", target, sizeof target - 1);
        if (tl > 0 && target[0] == '/') {
            target[tl] = 0;
            char *nm = malloc((size_t)tl + 16);
            if (nm)
                snprintf(nm, (size_t)tl + 16, "stdout (%s)", target);
            s->name = nm;
        } else {
            s->name = strdup("stdout");
        }
    } else {
        s->name = strdup(path);
        struct stat st;
        int exists = stat(path, &st) == 0;
        if (exists && S_ISDIR(st.st_mode)) {
            sink_fail(s, err, SL_E_OUTPUT, "is a directory");
            goto fail;
        }
        if (exists && !S_ISREG(st.st_mode)) {
            /* FIFO, device, /dev/null: write in place */
            s->fd = open(path, O_WRONLY | O_CLOEXEC);
            if (s->fd < 0) {
                sink_fail(s, err, SL_E_OUTPUT, "cannot open for writing: %s", strerror(errno));
                goto fail;
            }
            s->own_fd = 1;
        } else {
            const char *slash = strrchr(path, '/');
            size_t dlen = slash ? (size_t)(slash - path + 1) : 0;
            const char *base = slash ? slash + 1 : path;
            size_t need = dlen + strlen(base) + 32;
            s->tmp = malloc(need);
            if (!s->tmp || !s->name) {
                sl_fail(err, SL_E_NOMEM, "output", "out of memory");
                goto fail;
            }
            snprintf(s->tmp, need, "%.*s.%s.sluice-XXXXXX", (int)dlen, path, base);
            /* no signal between creating the file and registering it for
               removal, or an interrupted run could leave it behind */
            sigset_t block, old;
            sigemptyset(&block);
            sigaddset(&block, SIGINT);
            sigaddset(&block, SIGTERM);
            sigaddset(&block, SIGHUP);
            sigprocmask(SIG_BLOCK, &block, &old);
            s->fd = mkostemp(s->tmp, O_CLOEXEC);
            int saved = errno;
            if (s->fd >= 0)
                sl_cleanup_add(s->tmp);
            sigprocmask(SIG_SETMASK, &old, NULL);
            if (s->fd < 0) {
                sink_fail(s, err, SL_E_OUTPUT, "cannot create a temporary file beside it: %s", strerror(saved));
                free(s->tmp);
                s->tmp = NULL;
                goto fail;
            }
            s->own_fd = 1;
            /* mkstemp creates 0600; published files get the usual 0666 & ~umask,
               or keep the mode of the file they replace */
            mode_t um = umask(0);
            umask(um);
            fchmod(s->fd, exists ? (st.st_mode & 07777) : (0666 & ~um));
        }
    }
    if (!s->name) {
        sl_fail(err, SL_E_NOMEM, "output", "out of memory");
        goto fail;
    }
    if (init_comp(s, comp, level, err) < 0)
        goto fail;
    return s;
fail:
    sl_sink_abort(s);
    sl_sink_close(s);
    return NULL;
}

sl_sink *sl_sink_open_fd(int fd, const char *name, sl_comp comp, int level, sl_error *err)
{
    sl_sink *s = calloc(1, sizeof *s);
    if (!s) {
        close(fd);
        sl_fail(err, SL_E_NOMEM, "output", "out of memory");
        return NULL;
    }
    s->fd = fd;
    s->own_fd = 1;
    s->comp = comp;
    s->name = strdup(name);
    if (!s->name) {
        sl_fail(err, SL_E_NOMEM, "output", "out of memory");
        sl_sink_close(s);
        return NULL;
    }
    if (init_comp(s, comp, level, err) < 0) {
        sl_sink_close(s);
        return NULL;
    }
    return s;
}

static int deflate_some(sl_sink *s, const void *buf, size_t len, int flush, sl_error *err)
{
    s->z.next_in = (Bytef *)buf;
    s->z.avail_in = (uInt)len;
    for (;;) {
        s->z.next_out = (Bytef *)s->zbuf;
        s->z.avail_out = OUT_CAP;
        int rc = deflate(&s->z, flush);
        if (rc == Z_STREAM_ERROR)
            return sink_fail(s, err, SL_E_INTERNAL, "gzip encoder failed");
        size_t have = OUT_CAP - s->z.avail_out;
        if (have && write_all(s, s->zbuf, have, err) < 0)
            return err->code;
        if (flush == Z_FINISH) {
            if (rc == Z_STREAM_END)
                return SL_OK;
        } else if (s->z.avail_out != 0) {
            return SL_OK; /* room left: all input consumed (and flushed) */
        }
    }
}

static int zstd_some(sl_sink *s, const void *buf, size_t len, ZSTD_EndDirective mode, sl_error *err)
{
    ZSTD_inBuffer in = {buf, len, 0};
    for (;;) {
        ZSTD_outBuffer out = {s->zbuf, OUT_CAP, 0};
        size_t r = ZSTD_compressStream2(s->zc, &out, &in, mode);
        if (ZSTD_isError(r))
            return sink_fail(s, err, ZSTD_getErrorCode(r) == ZSTD_error_memory_allocation ? SL_E_NOMEM : SL_E_INTERNAL,
                             "zstd encoder failed: %s", ZSTD_getErrorName(r));
        if (out.pos && write_all(s, s->zbuf, out.pos, err) < 0)
            return err->code;
        if (mode == ZSTD_e_continue ? in.pos == in.size : r == 0)
            return SL_OK;
    }
}

int sl_sink_write(sl_sink *s, const void *buf, size_t len, sl_error *err)
{
    if (len == 0)
        return SL_OK;
    s->bytes += len;
    switch (s->comp) {
    case SL_COMP_GZIP: return deflate_some(s, buf, len, Z_NO_FLUSH, err);
    case SL_COMP_ZSTD: return zstd_some(s, buf, len, ZSTD_e_continue, err);
    default: return write_all(s, buf, len, err);
    }
}

int sl_sink_flush(sl_sink *s, sl_error *err)
{
    switch (s->comp) {
    case SL_COMP_GZIP: return deflate_some(s, NULL, 0, Z_SYNC_FLUSH, err);
    case SL_COMP_ZSTD: return zstd_some(s, NULL, 0, ZSTD_e_flush, err);
    default: return SL_OK;
    }
}

int sl_sink_commit(sl_sink *s, sl_error *err)
{
    int rc = SL_OK;
    if (s->comp == SL_COMP_GZIP)
        rc = deflate_some(s, NULL, 0, Z_FINISH, err);
    else if (s->comp == SL_COMP_ZSTD)
        rc = zstd_some(s, NULL, 0, ZSTD_e_end, err);
    if (rc < 0)
        return rc;
    if (s->tmp) {
        if (fsync(s->fd) < 0)
            return sink_fail(s, err, SL_E_OUTPUT, "fsync failed: %s", strerror(errno));
        if (close(s->fd) < 0) {
            s->fd = -1;
            return sink_fail(s, err, SL_E_OUTPUT, "close failed: %s", strerror(errno));
        }
        s->fd = -1;
        if (rename(s->tmp, s->name) < 0)
            return sink_fail(s, err, SL_E_OUTPUT, "cannot rename the temporary file into place: %s", strerror(errno));
        sl_cleanup_remove(s->tmp);
        free(s->tmp);
        s->tmp = NULL;
    } else if (s->own_fd) {
        if (close(s->fd) < 0) {
            s->fd = -1;
            return sink_fail(s, err, SL_E_OUTPUT, "close failed: %s", strerror(errno));
        }
        s->fd = -1;
    }
    s->committed = 1;
    return SL_OK;
}

void sl_sink_abort(sl_sink *s)
{
    if (!s || !s->tmp)
        return;
    unlink(s->tmp);
    sl_cleanup_remove(s->tmp);
    free(s->tmp);
    s->tmp = NULL;
}

void sl_sink_close(sl_sink *s)
{
    if (!s)
        return;
    sl_sink_abort(s);
    if (s->own_fd && s->fd >= 0)
        close(s->fd);
    if (s->z_init)
        deflateEnd(&s->z);
    if (s->zc)
        ZSTD_freeCCtx(s->zc);
    free(s->zbuf);
    free(s->name);
    free(s);
}

uint64_t sl_sink_bytes(const sl_sink *s) { return s->bytes; }
uint64_t sl_sink_bytes_out(const sl_sink *s) { return s->bytes_out; }
const char *sl_sink_name(const sl_sink *s) { return s->name; }
