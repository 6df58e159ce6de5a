/*
 * fuzz_csv.c - the CSV reader on hostile bytes.
 *
 * Input: byte 0 chooses the dialect and the options, byte 1 a tiny read
 * buffer, byte 2 small limits; the rest is the CSV text.  (Shorter inputs
 * are read whole with the defaults.)  Properties, each an abort when broken:
 *
 *   1. Reading with the default 1 MiB buffer and with a buffer of 4..67 bytes
 *      (every refill, compaction and growth path) gives the same records, or
 *      the same error at the same line and column with the same message.
 *   2. With the default limits, the hand scanner and libcsv
 *      (--csv-parser libcsv) agree as in tests/unit/test_csv_diff.c: both
 *      succeed with the same records, or both fail at the same line.
 *   3. The whole run CSV -> NDJSON writes only complete lines that are each
 *      one valid JSON object (jansson accepts it, and so does the strict hand
 *      parser unless it holds \u0000, which only sluice's readers refuse):
 *      invalid UTF-8, raw control characters or NUL bytes never reach JSON
 *      output.
 *   4. CSV -> CSV -> read again gives the records read the first time.
 */
#include <jansson.h>

#include "formats/json_scan.h"
#include "fuzz_util.h"

static const char dialects[4][2] = {{',', '"'}, {';', '\''}, {'\t', '"'}, {'|', '"'}};

static void check_ndjson_output(const char *out, size_t n, const uint8_t *data, size_t size)
{
    static sl_json_scan js;
    static sl_arena arena;
    static int ready;
    if (!ready) {
        if (sl_json_scan_init(&js, 0, 0, 0) != SL_OK)
            abort();
        sl_arena_init(&arena, 0, 0);
        ready = 1;
    }
    FZ_CHECK(n == 0 || out[n - 1] == '\n', "NDJSON output ends inside a line; input %s", fz_show(data, size));
    size_t pos = 0;
    while (pos < n) {
        const char *nl = memchr(out + pos, '\n', n - pos);
        size_t len = (size_t)(nl - (out + pos));
        FZ_CHECK(!memchr(out + pos, 0, len), "NUL byte in NDJSON output: %s", fz_show(out + pos, len));
        /* a NUL in CSV text is written as \u0000: valid JSON (RFC 8259) that
           jansson and sluice's own readers refuse; judge the line with it
           read as \u0001 */
        char *line = malloc(len + 1);
        if (!line)
            abort();
        memcpy(line, out + pos, len);
        int subst = 0;
        for (char *u = line; (u = memmem(u, (size_t)(line + len - u), "\\u0000", 6)); u += 6, subst = 1)
            u[5] = '1';
        /* (a substitution may make two keys equal: only then is a duplicate
           excused) */
        sl_arena_reset(&arena);
        int rc = sl_json_scan_object(&js, line, len, &arena);
        FZ_CHECK(rc == SL_OK || (subst && js.err == SL_JSON_EDUPKEY),
                 "NDJSON output line is not a valid JSON object (%s): %s", js.msg, fz_show(line, len));
        json_error_t je;
        json_t *v = json_loadb(line, len, subst ? 0 : JSON_REJECT_DUPLICATES, &je);
        /* numbers beyond int64 or double are valid JSON that jansson refuses
           (the documented difference; the hand parser checked them) */
        FZ_CHECK((v && json_is_object(v)) || (!v && json_error_code(&je) == json_error_numeric_overflow),
                 "jansson rejects an NDJSON output line (%s): %s", je.text, fz_show(line, len));
        free(line);
        json_decref(v);
        pos += len + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sl_options o;
    sl_options_defaults(&o);
    uint32_t tiny = 7;
    int small_limits = 0;
    const uint8_t *text = data;
    size_t len = size;
    if (size >= 3) {
        uint8_t f = data[0];
        o.no_header = f & 1;
        o.delim = dialects[(f >> 1) & 3][0];
        o.quote = dialects[(f >> 1) & 3][1];
        tiny = 4 + data[1] % 64;
        if (f & 8) {
            small_limits = 1;
            o.max_fields = 1 + (data[2] & 15);
            o.max_field_bytes = 1 + (uint64_t)(data[2] >> 4) * 5;
            o.max_record_bytes = 8 + (uint64_t)(data[2] & 0x3c) * 3;
        }
        o.batch_rows = (f & 16) ? 1 + data[2] % 5 : 1024;
        text = data + 3;
        len = size - 3;
    }
    const char *path = fz_file(0, text, len);

    /* 1. default buffer against a tiny one */
    int rc_big, rc_tiny;
    sl_error e_big, e_tiny;
    o.read_buffer = 0;
    char *big = fz_read_all(&sl_csv_reader_type, path, &o, &rc_big, &e_big);
    o.read_buffer = tiny;
    char *small = fz_read_all(&sl_csv_reader_type, path, &o, &rc_tiny, &e_tiny);
    if (rc_big == SL_OK)
        FZ_CHECK(rc_tiny == SL_OK && strcmp(big, small) == 0,
                 "buffer %u reads other records than 1 MiB (rc %d: %s)\n--- 1 MiB:\n%s--- tiny:\n%s\ninput: %s", tiny,
                 rc_tiny, e_tiny.msg, big, small, fz_show(text, len));
    else
        FZ_CHECK(rc_tiny == rc_big && e_big.line == e_tiny.line && e_big.col == e_tiny.col &&
                     strcmp(e_big.msg, e_tiny.msg) == 0,
                 "buffer %u fails otherwise than 1 MiB:\n  1 MiB: rc %d %llu:%llu %s\n  tiny:  rc %d %llu:%llu %s\ninput: %s",
                 tiny, rc_big, (unsigned long long)e_big.line, (unsigned long long)e_big.col, e_big.msg, rc_tiny,
                 (unsigned long long)e_tiny.line, (unsigned long long)e_tiny.col, e_tiny.msg, fz_show(text, len));
    free(small);

    /* 2. hand scanner against libcsv (default limits only: libcsv checks
       them at other points of the record) */
    if (!small_limits) {
        int rc_lib;
        sl_error e_lib;
        o.read_buffer = tiny;
        o.csv_parser = SL_CSVP_LIBCSV;
        char *lib = fz_read_all(&sl_csv_reader_type, path, &o, &rc_lib, &e_lib);
        o.csv_parser = SL_CSVP_FAST;
        int same = (rc_big < 0) == (rc_lib < 0) && (rc_big < 0 ? e_big.line == e_lib.line : strcmp(big, lib) == 0);
        FZ_CHECK(same, "fast and libcsv differ:\n  fast:   rc %d line %llu %s\n  libcsv: rc %d line %llu %s\n--- fast:\n%s--- libcsv:\n%s\ninput: %s",
                 rc_big, (unsigned long long)e_big.line, e_big.msg, rc_lib, (unsigned long long)e_lib.line, e_lib.msg,
                 big, lib, fz_show(text, len));
        free(lib);
    }

    /* 3. the whole run to NDJSON: only valid JSON lines come out */
    o.read_buffer = 0;
    o.from = "csv";
    o.to = "ndjson";
    o.pipeline = "cat";
    int rc;
    size_t n;
    sl_error e_run;
    char *out = fz_run_capture(&o, path, &rc, &e_run, &n);
    check_ndjson_output(out, n, text, len);
    free(out);

    /* 4. CSV -> CSV -> the same records (unless what was written begins
       with a gzip or zstd magic number: sluice detects compression from the
       bytes, so such text reads back as compressed, by design) */
    if (rc_big == SL_OK) {
        o.to = "csv";
        out = fz_run_capture(&o, path, &rc, &e_run, &n);
        FZ_CHECK(rc == SL_OK, "CSV -> CSV fails (%s) where reading succeeded; input %s", e_run.msg,
                 fz_show(text, len));
        sl_options back;
        sl_options_defaults(&back);
        back.quote = o.quote;
        back.no_header = 0;
        const unsigned char *w = (const unsigned char *)out;
        if ((n >= 3 && w[0] == 0x1f && w[1] == 0x8b && w[2] == 0x08) ||
            (n >= 4 && ((w[0] == 0x28 && w[1] == 0xb5 && w[2] == 0x2f && w[3] == 0xfd) ||
                        ((w[0] & 0xf0) == 0x50 && w[1] == 0x2a && w[2] == 0x4d && w[3] == 0x18)))) {
            free(out);
            free(big);
            return 0;
        }
        const char *p2 = fz_file(1, out, n);
        int rc2;
        sl_error e2;
        char *again = fz_read_all(&sl_csv_reader_type, p2, &back, &rc2, &e2);
        FZ_CHECK(rc2 == SL_OK && strcmp(again, big) == 0,
                 "CSV written by sluice reads back differently (rc %d: %s)\n--- first:\n%s--- written:\n%s--- read back:\n%s\ninput: %s",
                 rc2, e2.msg, big, fz_show(out, n), again, fz_show(text, len));
        free(again);
        free(out);
    }
    free(big);
    return 0;
}
