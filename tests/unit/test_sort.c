/* test_sort.c - sort keys, the record encoding, and the sort and top stages
   driven by a generated input under a small memory budget. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <unistd.h>

#include <cmocka.h>

#include "sluice/run.h"
#include "stages/record.h"
#include "stages/sortkey.h"

extern const sl_stage_type sl_sort_stage_type;
extern const sl_stage_type sl_top_stage_type;
extern const sl_stage_type sl_uniq_stage_type;

static sl_cell text(const char *s) { return (sl_cell){s, (uint32_t)strlen(s), SL_TEXT, {0}}; }
static sl_cell kind(const char *s, sl_kind k) { return (sl_cell){s, s ? (uint32_t)strlen(s) : 0, (uint8_t)k, {0}}; }

/* ---- key lists ---- */

static void test_spec_parse(void **state)
{
    (void)state;
    sl_sortspec k;
    sl_error err;
    sl_error_clear(&err);
    assert_int_equal(sl_sortspec_parse(&k, "region, -price,+qty -`unit price`", "sort", &err), SL_OK);
    assert_int_equal(k.n, 4);
    assert_string_equal(k.names[0], "region");
    assert_int_equal(k.desc[0], 0);
    assert_string_equal(k.names[1], "price");
    assert_int_equal(k.desc[1], 1);
    assert_string_equal(k.names[2], "qty");
    assert_int_equal(k.desc[2], 0);
    assert_string_equal(k.names[3], "unit price");
    assert_int_equal(k.desc[3], 1);
    sl_sortspec_free(&k);

    /* a dash inside a name is part of it */
    assert_int_equal(sl_sortspec_parse(&k, "a-b", "sort", &err), SL_OK);
    assert_string_equal(k.names[0], "a-b");
    assert_int_equal(k.desc[0], 0);
    sl_sortspec_free(&k);

    const char *bad[] = {"", " , ", "-", "a, --b", "`open", "-``"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        sl_error_clear(&err);
        assert_int_equal(sl_sortspec_parse(&k, bad[i], "sort", &err), SL_E_USAGE);
        assert_int_equal(err.code, SL_E_USAGE);
        sl_sortspec_free(&k);
    }
}

/* ---- the order of values ---- */

static int cmp_cells(sl_cell a, sl_cell b, int desc)
{
    sl_sortkey x, y;
    uint8_t d = (uint8_t)desc;
    sl_sortkey_of_cell(&a, &x);
    sl_sortkey_of_cell(&b, &y);
    return sl_sortkey_cmp(&x, &y, &d, 1);
}

static void test_value_order(void **state)
{
    (void)state;
    /* numbers by value, whatever the spelling */
    assert_true(cmp_cells(text("9"), text("10"), 0) < 0);
    assert_true(cmp_cells(text("-1.5"), text("-1"), 0) < 0);
    assert_int_equal(cmp_cells(text("10"), text("1e1"), 0), 0);
    assert_int_equal(cmp_cells(text("10"), text("10.000"), 0), 0);
    assert_true(cmp_cells(text("0.1"), text(".2"), 0) < 0);
    /* int64 against double, beyond 2^53 */
    assert_true(cmp_cells(text("9007199254740993"), text("9007199254740992.0"), 0) > 0);
    assert_true(cmp_cells(text("-9223372036854775808"), text("-9223372036854775807"), 0) < 0);
    /* numbers before text, text byte-wise, nulls last */
    assert_true(cmp_cells(text("1000000"), text("a"), 0) < 0);
    assert_true(cmp_cells(text("B"), text("a"), 0) < 0);
    assert_true(cmp_cells(text("ab"), text("abc"), 0) < 0);
    assert_true(cmp_cells(text(""), text(" "), 0) < 0);
    assert_true(cmp_cells(text("zzz"), kind(NULL, SL_NULL), 0) < 0);
    assert_int_equal(cmp_cells(kind(NULL, SL_NULL), kind(NULL, SL_ABSENT), 0), 0);
    /* text that only looks like a number is text */
    assert_true(cmp_cells(text("5"), text(" 4"), 0) < 0);
    assert_true(cmp_cells(text("5"), text("0x10"), 0) < 0);
    assert_true(cmp_cells(text("5"), text("inf"), 0) < 0);
    /* a JSON string with digits is text; a JSON number is a number */
    assert_true(cmp_cells(kind("100", SL_NUMBER), kind("2", SL_STRING), 0) < 0);
    assert_true(cmp_cells(kind("2", SL_NUMBER), kind("100", SL_NUMBER), 0) < 0);
    /* descending: inside a class only; numbers before text, nulls last */
    assert_true(cmp_cells(text("10"), text("9"), 1) < 0);
    assert_true(cmp_cells(text("b"), text("a"), 1) < 0);
    assert_true(cmp_cells(text("1"), text("a"), 1) < 0);
    assert_true(cmp_cells(text("a"), kind(NULL, SL_NULL), 1) < 0);
    assert_true(cmp_cells(kind(NULL, SL_ABSENT), text("1"), 1) > 0);
}

static void test_multi_key(void **state)
{
    (void)state;
    sl_cell a[2] = {text("east"), text("7")}, b[2] = {text("east"), text("12.5")}, c[2] = {text("west"), text("1")};
    int32_t cols[2] = {0, 1};
    uint8_t desc[2] = {0, 1};
    sl_sortkey ka[2], kb[2], kc[2];
    sl_sortkeys_of_cells(a, cols, 2, ka);
    sl_sortkeys_of_cells(b, cols, 2, kb);
    sl_sortkeys_of_cells(c, cols, 2, kc);
    assert_true(sl_sortkey_cmp(kb, ka, desc, 2) < 0); /* same region, higher price first */
    assert_true(sl_sortkey_cmp(ka, kc, desc, 2) < 0); /* east before west */
    /* a key an open schema lacks reads as absent */
    int32_t cols2[2] = {0, -1};
    sl_sortkeys_of_cells(a, cols2, 2, ka);
    assert_int_equal(ka[1].cls, SL_SK_NULL);
}

/* ---- the record encoding ---- */

static void test_record_roundtrip(void **state)
{
    (void)state;
    char big[1000];
    memset(big, 'x', sizeof big);
    sl_cell cells[8] = {
        text("hello"), kind(NULL, SL_NULL), kind(NULL, SL_ABSENT), kind("", SL_TEXT),
        kind("\"q\"", SL_STRING), kind("-1.5e3", SL_NUMBER), kind("true", SL_BOOL), {big, sizeof big, SL_JSON, {0}},
    };
    sl_rowinfo info = {.line = 123456789012ull, .offset = 1ull << 40, .record = 77, .input = 3, .len = 9, .raw = "ignored"};
    size_t n = sl_record_size(5, &info, cells, 8);
    uint8_t *buf = malloc(n + 16);
    sl_cell work[8];
    memcpy(work, cells, sizeof work);
    assert_int_equal(sl_record_encode(buf, 5, &info, work, 8), n);
    /* the work cells now point into the copy */
    assert_ptr_equal(work[0].p >= (const char *)buf && work[0].p < (const char *)buf + n, 1);
    assert_int_equal(sl_record_total(buf, n), (int64_t)n);
    assert_int_equal(sl_record_total(buf, 1), 0); /* the length varint is 2 bytes: incomplete */
    sl_record_view v;
    sl_cell out[8];
    assert_int_equal(sl_record_decode(buf, n, &v, out, 4), -2); /* not enough room: says so */
    assert_int_equal(v.ncells, 8);
    assert_int_equal(sl_record_decode(buf, n, &v, out, 8), 0);
    assert_int_equal(v.schema, 5);
    assert_int_equal(v.info.line, info.line);
    assert_int_equal(v.info.offset, info.offset);
    assert_int_equal(v.info.record, info.record);
    assert_int_equal(v.info.input, info.input);
    assert_null(v.info.raw);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(out[i].kind, cells[i].kind);
        uint32_t len = cells[i].kind == SL_NULL || cells[i].kind == SL_ABSENT ? 0 : cells[i].len;
        assert_int_equal(out[i].len, len);
        if (len)
            assert_memory_equal(out[i].p, cells[i].p, len);
    }
    /* truncated or damaged encodings are refused, not read past */
    for (size_t cut = 1; cut < n; cut += 7)
        assert_int_not_equal(sl_record_decode(buf, cut, &v, out, 8), 0);
    /* the first cell's descriptor sits after the header: body (2 bytes),
       schema, input, line (6), record, offset (6), ncells */
    size_t d0 = 2 + 1 + 1 + 6 + 1 + 6 + 1;
    assert_int_equal(buf[d0], (5 << 3) | SL_TEXT);
    buf[d0] = 0x7f; /* kind 7 does not exist */
    assert_int_equal(sl_record_decode(buf, n, &v, out, 8), -1);
    buf[d0] = (15 << 3) | SL_TEXT; /* 15 bytes, not 5: the bytes no longer add up */
    assert_int_equal(sl_record_decode(buf, n, &v, out, 8), -1);
    free(buf);
}

static void test_schema_table(void **state)
{
    (void)state;
    const char *n1[] = {"a", "b"}, *n2[] = {"b", "a"};
    sl_schema *s1 = sl_schema_new(2, n1, NULL), *s2 = sl_schema_new(2, n1, NULL), *s3 = sl_schema_new(2, n2, NULL);
    sl_schema *s4 = sl_schema_new(2, n1, NULL);
    s4->open = true;
    sl_schema_table t = {0};
    uint32_t i1, i2, i3, i4;
    int added;
    assert_int_equal(sl_schema_table_add(&t, s1, &i1, &added), SL_OK);
    assert_int_equal(added, 1);
    assert_int_equal(sl_schema_table_add(&t, s2, &i2, &added), SL_OK); /* same names: same index */
    assert_int_equal(added, 0);
    assert_int_equal(i1, i2);
    assert_int_equal(sl_schema_table_add(&t, s3, &i3, &added), SL_OK);
    assert_int_not_equal(i3, i1);
    assert_int_equal(sl_schema_table_add(&t, s4, &i4, &added), SL_OK); /* open differs */
    assert_int_not_equal(i4, i1);
    /* many schemas: the index stays right through rehashing */
    for (int i = 0; i < 200; i++) {
        char name[16];
        snprintf(name, sizeof name, "f%d", i);
        const char *nn[] = {name};
        sl_schema *s = sl_schema_new(1, nn, NULL);
        uint32_t a, b;
        assert_int_equal(sl_schema_table_add(&t, s, &a, &added), SL_OK);
        assert_int_equal(added, 1);
        sl_schema *again = sl_schema_new(1, nn, NULL);
        assert_int_equal(sl_schema_table_add(&t, again, &b, &added), SL_OK);
        assert_int_equal(a, b);
        sl_schema_unref(s);
        sl_schema_unref(again);
    }
    assert_int_equal(t.n, 203);
    sl_schema_table_fini(&t);
    sl_schema_unref(s1);
    sl_schema_unref(s2);
    sl_schema_unref(s3);
    sl_schema_unref(s4);
}

static void test_size_text(void **state)
{
    (void)state;
    char b[32];
    assert_string_equal(sl_size_text(256u << 20, b), "256M");
    assert_string_equal(sl_size_text(1u << 20, b), "1M");
    assert_string_equal(sl_size_text(3u << 29, b), "1.5G");
    assert_string_equal(sl_size_text(512 * 1024, b), "512K");
    assert_string_equal(sl_size_text(1000, b), "1000 bytes");
}

/* ---- the stages on a generated input ---- */

/* gen: `n` records (k, seq) with k = (seq * 7919) % modulo, in batches of
   `batch` rows; every 5th k is null when `nulls` is set. */
typedef struct gen_state {
    uint64_t n, next, modulo;
    uint32_t batch;
    int nulls;
    sl_schema *schema;
    sl_batch b;
} gen_state;

static int gen_next(sl_stage *st, sl_batch **out)
{
    gen_state *g = st->state;
    if (g->next >= g->n)
        return SL_DONE;
    sl_batch_reset(&g->b, g->schema, 2);
    while (g->next < g->n && g->b.nrows < g->batch) {
        uint64_t i = g->next++;
        char *k = sl_arena_alloc(&g->b.arena, 48);
        int kl = snprintf(k, 24, "%llu", (unsigned long long)((i * 7919) % g->modulo));
        char *q = k + 24;
        int ql = snprintf(q, 24, "%llu", (unsigned long long)i);
        sl_cell *c = g->b.cells + (size_t)g->b.nrows * g->b.stride;
        c[0] = (sl_cell){k, (uint32_t)kl, SL_TEXT, {0}};
        if (g->nulls && i % 5 == 0)
            c[0] = (sl_cell){NULL, 0, SL_NULL, {0}};
        c[1] = (sl_cell){q, (uint32_t)ql, SL_TEXT, {0}};
        g->b.info[g->b.nrows] = (sl_rowinfo){.line = i + 2, .record = i + 1};
        g->b.nrows++;
    }
    *out = &g->b;
    return SL_BATCH;
}

static const sl_stage_type gen_type = {.name = "gen", .next = gen_next};

typedef struct harness {
    sl_run run;
    sl_input input;
    sl_stage gen, stage;
    gen_state g;
    char dir[64];
} harness;

static void h_open(harness *h, const sl_stage_type *t, const char *args, uint64_t n, uint64_t limit)
{
    memset(h, 0, sizeof *h);
    sl_options_defaults(&h->run.opt);
    h->run.opt.memory_limit = limit;
    snprintf(h->dir, sizeof h->dir, "/tmp/sl_sort_test_XXXXXX");
    assert_non_null(mkdtemp(h->dir));
    h->run.opt.temp_dir = h->dir;
    h->input.name = "gen";
    h->run.inputs = &h->input;
    h->run.ninputs = 1;
    const char *names[] = {"k", "seq"};
    h->g.schema = sl_schema_new(2, names, NULL);
    h->g.n = n;
    h->g.modulo = 1000;
    h->g.batch = 700;
    h->g.nulls = 1;
    assert_int_equal(sl_batch_init(&h->g.b, 1024, 2, 0), SL_OK);
    h->gen = (sl_stage){.type = &gen_type, .run = &h->run, .state = &h->g};
    h->stage = (sl_stage){.type = t, .input = &h->gen, .run = &h->run, .index = 1};
    assert_int_equal(t->create(&h->stage, args, &h->run.err), SL_OK);
    assert_int_equal(t->open(&h->stage), SL_OK);
}

static int dir_entries(const char *path)
{
    DIR *d = opendir(path);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

static void h_close(harness *h)
{
    h->stage.type->close(&h->stage);
    assert_int_equal(h->run.mem_used, 0); /* everything given back */
    assert_int_equal(dir_entries(h->dir), 0);
    rmdir(h->dir);
    sl_batch_fini(&h->g.b);
    sl_schema_unref(h->g.schema);
}

static long long cell_int(const sl_cell *c)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%.*s", (int)c->len, c->p);
    return strtoll(buf, NULL, 10);
}

/* Pull everything; check the order (k ascending numerically, nulls last,
   ties by seq) and that the positions travelled with the records. */
static uint64_t drain_sorted(harness *h, int desc)
{
    sl_batch *b;
    int rc;
    uint64_t rows = 0;
    long long pk = -1, pseq = -1;
    int pnull = 0;
    while ((rc = sl_stage_next(&h->stage, &b)) == SL_BATCH) {
        assert_true(sl_batch_live(b) > 0);
        for (uint32_t i = 0; i < sl_batch_live(b); i++) {
            uint32_t r = sl_batch_row(b, i);
            const sl_cell *k = sl_batch_cell(b, r, 0), *q = sl_batch_cell(b, r, 1);
            long long seq = cell_int(q);
            assert_int_equal(b->info[r].record, (uint64_t)seq + 1);
            assert_int_equal(b->info[r].line, (uint64_t)seq + 2);
            int isnull = k->kind == SL_NULL;
            long long kv = isnull ? -1 : cell_int(k);
            if (rows) {
                assert_true(!pnull || isnull); /* nulls last */
                if (!isnull && !pnull)
                    assert_true(desc ? kv <= pk : kv >= pk);
                if ((isnull && pnull) || (!isnull && !pnull && kv == pk))
                    assert_true(seq > pseq); /* stable */
            }
            pk = kv;
            pseq = seq;
            pnull = isnull;
            rows++;
        }
    }
    assert_int_equal(rc, SL_DONE);
    return rows;
}

static void test_sort_in_memory(void **state)
{
    (void)state;
    harness h;
    h_open(&h, &sl_sort_stage_type, "k", 5000, 64u << 20);
    assert_int_equal(drain_sorted(&h, 0), 5000);
    h_close(&h);
}

static void test_sort_spills(void **state)
{
    (void)state;
    harness h;
    h_open(&h, &sl_sort_stage_type, "-k", 200000, 1u << 20);
    assert_int_equal(drain_sorted(&h, 1), 200000);
    assert_true(h.run.mem_peak <= (1u << 20));
    h_close(&h);
}

static void test_sort_empty(void **state)
{
    (void)state;
    harness h;
    h_open(&h, &sl_sort_stage_type, "k", 0, 1u << 20);
    sl_batch *b;
    assert_int_equal(sl_stage_next(&h.stage, &b), SL_DONE);
    h_close(&h);
}

static void test_sort_close_midway(void **state)
{
    (void)state;
    /* closed after the first output batch of a spilled sort: the run files
       are closed and the budget given back */
    harness h;
    h_open(&h, &sl_sort_stage_type, "k", 100000, 1u << 20);
    sl_batch *b;
    assert_int_equal(sl_stage_next(&h.stage, &b), SL_BATCH);
    assert_true(h.run.mem_used > 0);
    h_close(&h);
}

static void test_top(void **state)
{
    (void)state;
    harness h;
    h_open(&h, &sl_top_stage_type, "2500 by k", 100000, 1u << 20);
    assert_int_equal(drain_sorted(&h, 0), 2500);
    h_close(&h);
    /* over the budget: an error that says so */
    h_open(&h, &sl_top_stage_type, "100000 by k", 100000, 1u << 20);
    sl_batch *b;
    assert_int_equal(sl_stage_next(&h.stage, &b), SL_E_NOMEM);
    assert_non_null(strstr(h.run.err.msg, "keeping 100000 records needs more than --memory-limit 1M"));
    h_close(&h);
}

static void test_uniq_budget(void **state)
{
    (void)state;
    harness h;
    h_open(&h, &sl_uniq_stage_type, "k", 100000, 1u << 20);
    sl_batch *b;
    int rc;
    uint64_t rows = 0;
    while ((rc = sl_stage_next(&h.stage, &b)) == SL_BATCH)
        rows += sl_batch_live(b);
    assert_int_equal(rc, SL_DONE);
    assert_int_equal(rows, 1000 - 200 + 1); /* keys 0..999, those of every 5th record null */
    h_close(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_parse),
        cmocka_unit_test(test_value_order),
        cmocka_unit_test(test_multi_key),
        cmocka_unit_test(test_record_roundtrip),
        cmocka_unit_test(test_schema_table),
        cmocka_unit_test(test_size_text),
        cmocka_unit_test(test_sort_in_memory),
        cmocka_unit_test(test_sort_spills),
        cmocka_unit_test(test_sort_empty),
        cmocka_unit_test(test_sort_close_midway),
        cmocka_unit_test(test_top),
        cmocka_unit_test(test_uniq_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
