/*
 * fuzz_compressed.c - sl_source_open/sl_source_read on hostile files.
 *
 * Byte 0 picks the mode and the read size, bytes 1-3 a position and a mask,
 * the rest is the payload:
 *
 *   mode 0  the payload is the file, as it is (mutated gzip/zstd seeds)
 *   mode 1  gzip(payload) with the byte at the position xored by the mask
 *   mode 2  zstd(payload, with a checksum) with one byte xored
 *   mode 3  gzip or zstd of the payload cut at the position
 *
 * Properties: every read returns 1..cap bytes, 0 at the end, or SL_E_DATA
 * with a message naming what is wrong (never a crash, a hang, another code
 * or a silent end); after the end, reads keep returning 0.  In modes 1-3
 * the bytes read are exactly the payload, or the read fails: a flipped or
 * missing byte is never silently turned into other data.  (Flips of the
 * magic bytes are left out: those files are plain data, rightly.)
 */
#include <zlib.h>
#include <zstd.h>

#include "fuzz_util.h"
#include "io/source.h"

#define MAX_OUT (32u << 20) /* stop reading a bomb here; closing early is tested too */

static const size_t caps[8] = {1, 2, 3, 7, 64, 4096, 65536, 1u << 20};

static size_t gzip_of(const uint8_t *p, size_t n, uint8_t *out, size_t cap)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        abort();
    z.next_in = (Bytef *)p;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END)
        abort();
    size_t len = cap - z.avail_out;
    deflateEnd(&z);
    return len;
}

static size_t zstd_of(const uint8_t *p, size_t n, uint8_t *out, size_t cap)
{
    static ZSTD_CCtx *cc;
    if (!cc)
        cc = ZSTD_createCCtx();
    ZSTD_CCtx_reset(cc, ZSTD_reset_session_and_parameters);
    ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, 1);
    ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1);
    size_t r = ZSTD_compress2(cc, out, cap, p, n);
    if (ZSTD_isError(r))
        abort();
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int mode = 0;
    size_t cap = 4096;
    const uint8_t *file = data;
    size_t flen = size;
    const uint8_t *payload = NULL;
    size_t plen = 0;
    uint8_t *made = NULL;
    if (size >= 4) {
        mode = data[0] & 3;
        cap = caps[(data[0] >> 2) & 7];
        if (mode) {
            payload = data + 4;
            plen = size - 4;
            size_t mcap = ZSTD_compressBound(plen) + compressBound((uLong)plen) + 64;
            made = malloc(mcap);
            if (!made)
                abort();
            int use_zstd = mode == 2 || (mode == 3 && (data[0] & 0x20));
            flen = use_zstd ? zstd_of(payload, plen, made, mcap) : gzip_of(payload, plen, made, mcap);
            size_t magic = use_zstd ? 4 : 3; /* gzip: 1f 8b and the method byte 08 */
            size_t at = ((size_t)data[1] << 8 | data[2]) % flen;
            if (mode == 3) {
                if (at < magic)
                    at = magic; /* shorter is not compressed at all */
                flen = at;      /* at < the full length */
            } else {
                if (at < magic)
                    at = magic;
                if (at < flen)
                    made[at] ^= data[3] ? data[3] : 0xff;
            }
            file = made;
        } else {
            file = data + 1;
            flen = size - 1;
        }
    }
    const char *path = fz_file(0, file, flen);

    sl_error err;
    sl_error_clear(&err);
    sl_source *s = sl_source_open(path, &err);
    FZ_CHECK(s != NULL, "cannot open the memfd: %s", err.msg);
    char *buf = malloc(cap);
    uint8_t *got = mode ? malloc(plen + 1) : NULL;
    if (!buf || (mode && !got))
        abort();
    size_t total = 0, calls = 0;
    int failed = 0, ended = 0;
    while (total < MAX_OUT && calls < (1u << 20)) {
        ssize_t n = sl_source_read(s, buf, cap, &err);
        calls++;
        if (n < 0) {
            FZ_CHECK(n == SL_E_DATA, "read returns %zd (%s); expected SL_E_DATA for a bad stream", n, err.msg);
            FZ_CHECK(err.code == SL_E_DATA && err.msg[0], "read fails without recording the error");
            failed = 1;
            break;
        }
        FZ_CHECK((size_t)n <= cap, "read returns %zd bytes into %zu", n, cap);
        if (n == 0) {
            ended = 1;
            FZ_CHECK(sl_source_read(s, buf, cap, &err) == 0, "a read after the end returns data");
            break;
        }
        if (mode) {
            if (total + (size_t)n <= plen)
                memcpy(got + total, buf, (size_t)n);
        }
        total += (size_t)n;
    }
    FZ_CHECK(failed || ended || total >= MAX_OUT || calls >= (1u << 20), "reading stopped for no reason");
    FZ_CHECK(sl_source_bytes(s) == total, "sl_source_bytes %llu, handed out %zu",
             (unsigned long long)sl_source_bytes(s), total);
    if (mode && !failed) {
        FZ_CHECK(total == plen && memcmp(got, payload, plen) == 0,
                 "mode %d: a damaged stream read as %zu bytes of other data without an error (payload %zu bytes)", mode,
                 total, plen);
    }
    sl_source_close(s);
    free(buf);
    free(got);
    free(made);
    return 0;
}
