/*
 * test_core.c - arena, schemas, batches, errors, sizes, pipeline text,
 * sources (compression detection) and sinks (atomic publication).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <zlib.h>
#include <zstd.h>

#include "io/sink.h"
#include "io/source.h"
#include "pipeline/pipeline.h"
#include "testutil.h"

static void test_arena(void **state)
{
    (void)state;
    sl_arena a;
    sl_arena_init(&a, 64, 256);
    char *p = sl_arena_alloc(&a, 10);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % 8, 0);
    char *q = sl_arena_strndup(&a, "hello", 5);
    assert_string_equal(q, "hello");
    assert_null(sl_arena_alloc(&a, 300)); /* over the cap */
    sl_arena_reset(&a);
    char *r = sl_arena_alloc(&a, 10);
    assert_ptr_equal(r, p); /* reset reuses the first chunk */
    for (int i = 0; i < 3; i++)
        assert_non_null(sl_arena_alloc(&a, 60));
    assert_true(a.reserved <= 256);
    sl_arena_fini(&a);
}

static void test_schema(void **state)
{
    (void)state;
    const char *names[] = {"id", "price", "note"};
    sl_schema *a = sl_schema_new(3, names, NULL);
    sl_schema *b = sl_schema_new(3, names, NULL);
    assert_true(a->id != b->id);
    assert_true(sl_schema_same_names(a, b));
    assert_int_equal(sl_schema_find(a, "price", 5), 1);
    assert_int_equal(sl_schema_find(a, "pri", 3), -1);
    sl_schema_ref(a);
    sl_schema_unref(a);
    assert_int_equal(a->refs, 1);
    sl_schema_unref(a);
    sl_schema_unref(b);
}

static void test_batch_shapes(void **state)
{
    (void)state;
    sl_batch b;
    assert_int_equal(sl_batch_init(&b, 100, 4, 0), SL_OK);
    const char *n1[] = {"a"};
    sl_schema *s = sl_schema_new(1, n1, NULL);
    /* a very wide schema lowers the rows so that cells stay within budget */
    assert_int_equal(sl_batch_reset(&b, s, SL_BATCH_MAX_CELLS / 10), SL_OK);
    assert_int_equal(b.cap_rows, 10);
    assert_int_equal(sl_batch_reset(&b, s, 2), SL_OK);
    assert_int_equal(b.cap_rows, 100); /* never above the configured rows */
    b.nrows = 5;
    assert_int_equal(sl_batch_live(&b), 5);
    assert_int_equal(sl_batch_ensure_sel(&b), SL_OK);
    b.sel[0] = 3;
    b.nsel = 1;
    assert_int_equal(sl_batch_live(&b), 1);
    assert_int_equal(sl_batch_row(&b, 0), 3);
    /* a view copies the selection into its own buffer */
    sl_batch v;
    memset(&v, 0, sizeof v);
    assert_int_equal(sl_batch_view(&v, &b), SL_OK);
    assert_ptr_not_equal(v.sel, b.sel);
    v.sel[0] = 4;
    assert_int_equal(b.sel[0], 3);
    sl_batch_view_fini(&v);
    sl_schema_unref(s);
    sl_batch_fini(&b);
}

static void test_error_format(void **state)
{
    (void)state;
    sl_error e;
    sl_error_clear(&e);
    assert_int_equal(sl_fail(&e, SL_E_DATA, "csv", "unterminated quoted field (opened at line %d)", 1230), SL_E_DATA);
    sl_error_at(&e, "sales.csv", 1234, 7, 0);
    /* the first error wins */
    sl_fail(&e, SL_E_INPUT, "x", "later");
    sl_error_at(&e, "other", 1, 1, 0);
    char buf[512];
    sl_error_format(&e, buf, sizeof buf);
    assert_string_equal(buf, "sluice: csv: sales.csv:1234:7: unterminated quoted field (opened at line 1230)");
    assert_int_equal(sl_exit_code(&e), 65);
    e.code = SL_E_SIGNAL;
    e.signo = 15;
    assert_int_equal(sl_exit_code(&e), 143);
}

static void test_parse_size(void **state)
{
    (void)state;
    uint64_t v;
    assert_int_equal(sl_parse_size("4096", &v), 0);
    assert_int_equal(v, 4096);
    assert_int_equal(sl_parse_size("64M", &v), 0);
    assert_int_equal(v, 64u << 20);
    assert_int_equal(sl_parse_size("1.5G", &v), 0);
    assert_int_equal(v, (uint64_t)(1.5 * 1024 * 1024 * 1024));
    assert_int_equal(sl_parse_size("2KiB", &v), 0);
    assert_int_equal(v, 2048);
    assert_int_equal(sl_parse_size("12X", &v), -1);
    assert_int_equal(sl_parse_size("", &v), -1);
}

static void test_pipeline_text(void **state)
{
    (void)state;
    sl_pipeline_text p;
    sl_error e;
    sl_error_clear(&e);
    assert_int_equal(sl_pipeline_parse("select a,b | head 3", &p, &e), SL_OK);
    assert_int_equal(p.n, 2);
    assert_string_equal(p.stages[0].name, "select");
    assert_string_equal(p.stages[0].args, "a,b");
    assert_string_equal(p.stages[1].args, "3");
    sl_pipeline_text_free(&p);
    /* || stays inside a stage; | inside quotes and backquotes too */
    assert_int_equal(sl_pipeline_parse("map x = a || \"|\" | select `a|b`", &p, &e), SL_OK);
    assert_int_equal(p.n, 2);
    assert_string_equal(p.stages[0].args, "x = a || \"|\"");
    assert_string_equal(p.stages[1].args, "`a|b`");
    sl_pipeline_text_free(&p);
    /* lines: a line starting with a stage name starts a stage; comments */
    assert_int_equal(sl_pipeline_parse("# job\nselect a, # keep a\n  b\nhead 2 # two\n", &p, &e), SL_OK);
    assert_int_equal(p.n, 2);
    assert_string_equal(p.stages[1].name, "head");
    assert_int_equal(p.stages[1].line, 4);
    sl_pipeline_text_free(&p);
    assert_int_equal(sl_pipeline_parse("select a | hed 2", &p, &e), SL_E_USAGE);
    assert_non_null(strstr(e.msg, "did you mean 'head'"));
    assert_non_null(strstr(e.detail, "^"));
    sl_pipeline_text_free(&p);
    sl_error_clear(&e);
    assert_int_equal(sl_pipeline_parse("  ", &p, &e), SL_E_USAGE);
    sl_pipeline_text_free(&p);
    assert_int_equal(sl_edit_distance("lowr", "lower"), 1);
}

/* read a whole source */
static char *slurp(const char *path, size_t *n, int *rc)
{
    sl_error e;
    sl_error_clear(&e);
    sl_source *s = sl_source_open(path, &e);
    if (!s) {
        *rc = e.code;
        return NULL;
    }
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    ssize_t k;
    while ((k = sl_source_read(s, buf + len, cap - len, &e)) > 0) {
        len += (size_t)k;
        if (len == cap)
            buf = realloc(buf, cap *= 2);
    }
    *rc = k < 0 ? (int)k : SL_OK;
    *n = len;
    sl_source_close(s);
    return buf;
}

static void gz_member(FILE *f, const char *text)
{
    unsigned char out[1024];
    z_stream z;
    memset(&z, 0, sizeof z);
    deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
    z.next_in = (unsigned char *)text;
    z.avail_in = (unsigned)strlen(text);
    z.next_out = out;
    z.avail_out = sizeof out;
    deflate(&z, Z_FINISH);
    fwrite(out, 1, sizeof out - z.avail_out, f);
    deflateEnd(&z);
}

static void test_source_detection(void **state)
{
    (void)state;
    char path[] = "/tmp/sluice-src-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "wb");
    gz_member(f, "hello ");
    gz_member(f, "world\n");
    fclose(f);
    size_t n;
    int rc;
    char *got = slurp(path, &n, &rc);
    assert_int_equal(rc, SL_OK);
    assert_int_equal(n, 12);
    assert_memory_equal(got, "hello world\n", 12);
    free(got);
    /* zstd: two frames */
    f = fopen(path, "wb");
    char frame[256];
    size_t k = ZSTD_compress(frame, sizeof frame, "abc", 3, 3);
    fwrite(frame, 1, k, f);
    k = ZSTD_compress(frame, sizeof frame, "def", 3, 3);
    fwrite(frame, 1, k, f);
    fclose(f);
    got = slurp(path, &n, &rc);
    assert_int_equal(rc, SL_OK);
    assert_int_equal(n, 6);
    assert_memory_equal(got, "abcdef", 6);
    free(got);
    /* truncated zstd: a data error */
    f = fopen(path, "wb");
    char big[4096];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)('a' + (i * 7919) % 26);
    char comp[8192];
    k = ZSTD_compress(comp, sizeof comp, big, sizeof big, 3);
    fwrite(comp, 1, k / 2, f);
    fclose(f);
    got = slurp(path, &n, &rc);
    assert_int_equal(rc, SL_E_DATA);
    free(got);
    /* plain text that happens to be short */
    f = fopen(path, "wb");
    fputs("x", f);
    fclose(f);
    got = slurp(path, &n, &rc);
    assert_int_equal(rc, SL_OK);
    assert_int_equal(n, 1);
    free(got);
    unlink(path);
    got = slurp("/nonexistent/file.csv", &n, &rc);
    assert_null(got);
    assert_int_equal(rc, SL_E_INPUT);
}

static void test_sink_atomic(void **state)
{
    (void)state;
    char dir[] = "/tmp/sluice-sink-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/out.csv", dir);
    FILE *f = fopen(path, "w");
    fputs("old\n", f);
    fclose(f);
    sl_error e;
    sl_error_clear(&e);
    /* aborted: the old file stays, no temporary file remains */
    sl_sink *s = sl_sink_open(path, SL_COMP_NONE, -1, &e);
    assert_non_null(s);
    assert_int_equal(sl_sink_write(s, "new\n", 4, &e), SL_OK);
    sl_sink_abort(s);
    sl_sink_close(s);
    char buf[64] = {0};
    f = fopen(path, "r");
    assert_non_null(fgets(buf, sizeof buf, f));
    fclose(f);
    assert_string_equal(buf, "old\n");
    /* committed: replaced, compressed by name */
    char gz[256];
    snprintf(gz, sizeof gz, "%s/out.csv.gz", dir);
    assert_int_equal(sl_comp_for_path(gz), SL_COMP_GZIP);
    s = sl_sink_open(gz, sl_comp_for_path(gz), -1, &e);
    assert_int_equal(sl_sink_write(s, "a,b\n1,2\n", 8, &e), SL_OK);
    assert_int_equal(sl_sink_commit(s, &e), SL_OK);
    sl_sink_close(s);
    size_t n;
    int rc;
    char *got = slurp(gz, &n, &rc);
    assert_int_equal(rc, SL_OK);
    assert_int_equal(n, 8);
    assert_memory_equal(got, "a,b\n1,2\n", 8);
    free(got);
    unlink(gz);
    unlink(path);
    assert_int_equal(rmdir(dir), 0); /* empty: no temporary file left */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arena),         cmocka_unit_test(test_schema),
        cmocka_unit_test(test_batch_shapes),  cmocka_unit_test(test_error_format),
        cmocka_unit_test(test_parse_size),    cmocka_unit_test(test_pipeline_text),
        cmocka_unit_test(test_source_detection), cmocka_unit_test(test_sink_atomic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
