/* source.c - plain, gzip and zstd input, detected from the first bytes. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "io/source.h"

#define RAW_CAP (256 * 1024)

struct sl_source {
    int fd;
    int own_fd;
    char *name;
    sl_comp comp;
    int is_stream;
    int64_t size;
    uint64_t bytes_raw, bytes;
    char *raw;         /* compressed bytes read from fd */
    size_t raw_len;    /* bytes valid in raw */
    size_t raw_pos;    /* next unread byte */
    int eof;           /* fd reached end */
    int frame_open;    /* inside a gzip member / zstd frame */
    z_stream z;
    int z_init;
    ZSTD_DStream *zd;
    /* a byte range of a plain file (--shard): up to two segments read with
       pread, the header line and the shard's lines */
    int ranged;
    uint64_t seg_pos[2], seg_end[2];
    int seg;
};

static int fill_raw(sl_source *s, sl_error *err)
{
    if (s->raw_pos < s->raw_len || s->eof)
        return 0;
    ssize_t n;
    do
        n = read(s->fd, s->raw, RAW_CAP);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return sl_fail(err, SL_E_INPUT, "input", "read failed: %s", strerror(errno));
    s->raw_pos = 0;
    s->raw_len = (size_t)n;
    s->bytes_raw += (uint64_t)n;
    if (n == 0)
        s->eof = 1;
    return 0;
}

sl_source *sl_source_open(const char *name, sl_error *err)
{
    sl_source *s = calloc(1, sizeof *s);
    if (!s) {
        sl_fail(err, SL_E_NOMEM, "input", "out of memory");
        return NULL;
    }
    s->size = -1;
    if (strcmp(name, "-") == 0) {
        s->fd = 0;
        s->name = strdup("(stdin)");
    } else {
        s->fd = open(name, O_RDONLY | O_CLOEXEC);
        s->own_fd = 1;
        s->name = strdup(name);
        if (s->fd < 0) {
            sl_fail(err, SL_E_INPUT, "input", "cannot open: %s", strerror(errno));
            sl_error_at(err, name, 0, 0, 0);
            free(s->name);
            free(s);
            return NULL;
        }
    }
    struct stat st;
    if (fstat(s->fd, &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            sl_fail(err, SL_E_INPUT, "input", "is a directory (expected a file)");
            sl_error_at(err, name, 0, 0, 0);
            sl_source_close(s);
            return NULL;
        }
        if (S_ISREG(st.st_mode))
            s->size = st.st_size;
        else
            s->is_stream = 1;
#ifdef POSIX_FADV_SEQUENTIAL
        if (S_ISREG(st.st_mode))
            posix_fadvise(s->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
    }
    s->raw = malloc(RAW_CAP);
    if (!s->name || !s->raw) {
        sl_fail(err, SL_E_NOMEM, "input", "out of memory");
        sl_source_close(s);
        return NULL;
    }
    /* sniff: gather up to 4 bytes (a pipe may deliver them one by one) */
    while (s->raw_len < 4 && !s->eof) {
        ssize_t n;
        do
            n = read(s->fd, s->raw + s->raw_len, RAW_CAP - s->raw_len);
        while (n < 0 && errno == EINTR);
        if (n < 0) {
            sl_fail(err, SL_E_INPUT, "input", "read failed: %s", strerror(errno));
            sl_source_close(s);
            return NULL;
        }
        if (n == 0)
            s->eof = 1;
        s->raw_len += (size_t)n;
        s->bytes_raw += (uint64_t)n;
    }
    const unsigned char *m = (const unsigned char *)s->raw;
    /* gzip: the magic and the deflate method byte (RFC 1952: 8 is the only
       method), so that text which merely begins with 1f 8b is text */
    if (s->raw_len >= 3 && m[0] == 0x1f && m[1] == 0x8b && m[2] == 0x08)
        s->comp = SL_COMP_GZIP;
    else if (s->raw_len >= 4 && m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd)
        s->comp = SL_COMP_ZSTD;
    else if (s->raw_len >= 4 && (m[0] & 0xf0) == 0x50 && m[1] == 0x2a && m[2] == 0x4d && m[3] == 0x18)
        s->comp = SL_COMP_ZSTD; /* starts with a skippable frame */
    if (s->comp == SL_COMP_GZIP) {
        if (inflateInit2(&s->z, 15 + 16) != Z_OK) {
            sl_fail(err, SL_E_NOMEM, "input", "cannot start the gzip decoder");
            sl_source_close(s);
            return NULL;
        }
        s->z_init = 1;
    } else if (s->comp == SL_COMP_ZSTD) {
        s->zd = ZSTD_createDStream();
        if (!s->zd || ZSTD_isError(ZSTD_initDStream(s->zd))) {
            sl_fail(err, SL_E_NOMEM, "input", "cannot start the zstd decoder");
            sl_source_close(s);
            return NULL;
        }
    }
    return s;
}

static ssize_t read_range(sl_source *s, char *buf, size_t cap, sl_error *err)
{
    while (s->seg < 2 && s->seg_pos[s->seg] >= s->seg_end[s->seg])
        s->seg++;
    if (s->seg == 2)
        return 0;
    uint64_t left = s->seg_end[s->seg] - s->seg_pos[s->seg];
    if (cap > left)
        cap = (size_t)left;
    ssize_t n;
    do
        n = pread(s->fd, buf, cap, (off_t)s->seg_pos[s->seg]);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return sl_fail(err, SL_E_INPUT, "input", "read failed: %s", strerror(errno));
    if (n == 0) /* the file shrank since the shards were planned */
        return sl_fail(err, SL_E_INPUT, "input", "the file ended at byte %llu, inside the byte range of this shard "
                       "(was it changed while being read?)", (unsigned long long)s->seg_pos[s->seg]);
    s->seg_pos[s->seg] += (uint64_t)n;
    s->bytes_raw += (uint64_t)n;
    return n;
}

static ssize_t read_plain(sl_source *s, char *buf, size_t cap, sl_error *err)
{
    if (s->ranged)
        return read_range(s, buf, cap, err);
    if (s->raw_pos < s->raw_len) { /* bytes kept from sniffing */
        size_t n = s->raw_len - s->raw_pos;
        if (n > cap)
            n = cap;
        memcpy(buf, s->raw + s->raw_pos, n);
        s->raw_pos += n;
        return (ssize_t)n;
    }
    if (s->eof)
        return 0;
    ssize_t n;
    do
        n = read(s->fd, buf, cap);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return sl_fail(err, SL_E_INPUT, "input", "read failed: %s", strerror(errno));
    if (n == 0)
        s->eof = 1;
    s->bytes_raw += (uint64_t)n;
    return n;
}

static ssize_t read_gzip(sl_source *s, char *buf, size_t cap, sl_error *err)
{
    s->z.next_out = (Bytef *)buf;
    s->z.avail_out = (uInt)(cap > (1u << 30) ? (1u << 30) : cap);
    for (;;) {
        if (fill_raw(s, err) < 0)
            return SL_E_INPUT;
        size_t avail = s->raw_len - s->raw_pos;
        if (avail == 0 && s->eof) {
            if (s->frame_open)
                return sl_fail(err, SL_E_DATA, "input", "truncated gzip stream (ends inside a member, after %llu compressed bytes)",
                               (unsigned long long)s->bytes_raw);
            break;
        }
        if (!s->frame_open) {
            /* between members: another member must follow, or the end */
            if (avail < 2 && !s->eof) {
                /* keep the odd byte; fill_raw only refills when empty */
                memmove(s->raw, s->raw + s->raw_pos, avail);
                s->raw_len = avail;
                s->raw_pos = 0;
                ssize_t n;
                do
                    n = read(s->fd, s->raw + avail, RAW_CAP - avail);
                while (n < 0 && errno == EINTR);
                if (n < 0)
                    return sl_fail(err, SL_E_INPUT, "input", "read failed: %s", strerror(errno));
                if (n == 0)
                    s->eof = 1;
                s->raw_len += (size_t)n;
                s->bytes_raw += (uint64_t)n;
                continue;
            }
            const unsigned char *m = (const unsigned char *)s->raw + s->raw_pos;
            if (avail < 2 || m[0] != 0x1f || m[1] != 0x8b)
                return sl_fail(err, SL_E_DATA, "input", "corrupt gzip stream: trailing garbage at compressed byte %llu",
                               (unsigned long long)(s->bytes_raw - avail));
            inflateReset(&s->z);
            s->frame_open = 1;
        }
        s->z.next_in = (Bytef *)s->raw + s->raw_pos;
        s->z.avail_in = (uInt)avail;
        int rc = inflate(&s->z, Z_NO_FLUSH);
        s->raw_pos = s->raw_len - s->z.avail_in;
        if (rc == Z_STREAM_END) {
            s->frame_open = 0;
        } else if (rc == Z_BUF_ERROR) {
            /* no progress possible: needs more input (handled above) or output full */
        } else if (rc == Z_MEM_ERROR) {
            return sl_fail(err, SL_E_NOMEM, "input", "out of memory for the gzip decoder");
        } else if (rc != Z_OK) {
            return sl_fail(err, SL_E_DATA, "input", "corrupt gzip stream: %s",
                           s->z.msg ? s->z.msg : "inflate failed");
        }
        if (s->z.avail_out == 0)
            break;
        /* return what we have if the input is a stream and would block */
        if ((size_t)(s->z.next_out - (Bytef *)buf) > 0 && s->raw_pos >= s->raw_len && s->is_stream)
            break;
    }
    size_t n = (size_t)(s->z.next_out - (Bytef *)buf);
    s->bytes += n;
    return (ssize_t)n;
}

/* A decoder error: out of memory, or a corrupt stream. */
static int zstd_fail(size_t r, sl_error *err)
{
    if (ZSTD_getErrorCode(r) == ZSTD_error_memory_allocation)
        return sl_fail(err, SL_E_NOMEM, "input", "out of memory for the zstd decoder");
    return sl_fail(err, SL_E_DATA, "input", "corrupt zstd stream: %s", ZSTD_getErrorName(r));
}

static ssize_t read_zstd(sl_source *s, char *buf, size_t cap, sl_error *err)
{
    ZSTD_outBuffer out = {buf, cap, 0};
    for (;;) {
        if (fill_raw(s, err) < 0)
            return SL_E_INPUT;
        size_t avail = s->raw_len - s->raw_pos;
        if (avail == 0 && s->eof) {
            if (s->frame_open) {
                /* let the decoder hand out what it still holds */
                ZSTD_inBuffer in0 = {s->raw, 0, 0};
                size_t r = ZSTD_decompressStream(s->zd, &out, &in0);
                if (ZSTD_isError(r))
                    return zstd_fail(r, err);
                s->frame_open = r != 0;
                if (out.pos > 0 || !s->frame_open)
                    break;
                return sl_fail(err, SL_E_DATA, "input", "truncated zstd stream (ends inside a frame, after %llu compressed bytes)",
                               (unsigned long long)s->bytes_raw);
            }
            break;
        }
        ZSTD_inBuffer in = {s->raw + s->raw_pos, avail, 0};
        size_t r = ZSTD_decompressStream(s->zd, &out, &in);
        s->raw_pos += in.pos;
        if (ZSTD_isError(r))
            return zstd_fail(r, err);
        s->frame_open = r != 0;
        if (out.pos == out.size)
            break;
        if (out.pos > 0 && s->raw_pos >= s->raw_len && s->is_stream)
            break;
    }
    s->bytes += out.pos;
    return (ssize_t)out.pos;
}

ssize_t sl_source_read(sl_source *s, char *buf, size_t cap, sl_error *err)
{
    if (cap == 0)
        return 0;
    ssize_t n;
    switch (s->comp) {
    case SL_COMP_GZIP: return read_gzip(s, buf, cap, err);
    case SL_COMP_ZSTD: return read_zstd(s, buf, cap, err);
    default:
        n = read_plain(s, buf, cap, err);
        if (n > 0)
            s->bytes += (uint64_t)n;
        return n;
    }
}

sl_source *sl_source_open_input(const sl_input *in, sl_error *err)
{
    sl_source *s = sl_source_open(in->name, err);
    if (!s || !in->ranged)
        return s;
    if (s->comp != SL_COMP_NONE || s->is_stream) {
        sl_fail(err, SL_E_INTERNAL, "input", "a byte range of a compressed file or a stream was planned");
        sl_error_at(err, in->name, 0, 0, 0);
        sl_source_close(s);
        return NULL;
    }
    s->ranged = 1;
    s->raw_pos = s->raw_len; /* the sniffed bytes are read again by pread */
    s->seg_pos[0] = 0;
    s->seg_end[0] = in->head_len;
    s->seg_pos[1] = in->start;
    s->seg_end[1] = in->end;
    s->bytes_raw = 0;
    return s;
}

void sl_source_close(sl_source *s)
{
    if (!s)
        return;
    if (s->own_fd && s->fd >= 0)
        close(s->fd);
    if (s->z_init)
        inflateEnd(&s->z);
    if (s->zd)
        ZSTD_freeDStream(s->zd);
    free(s->raw);
    free(s->name);
    free(s);
}

sl_comp sl_source_compression(const sl_source *s) { return s->comp; }
uint64_t sl_source_bytes_raw(const sl_source *s) { return s->bytes_raw; }
uint64_t sl_source_bytes(const sl_source *s) { return s->bytes; }
int64_t sl_source_size(const sl_source *s) { return s->size; }
const char *sl_source_name(const sl_source *s) { return s->name; }
int sl_source_is_stream(const sl_source *s) { return s->is_stream; }
