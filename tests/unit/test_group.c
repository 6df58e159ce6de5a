/* test_group.c - the aggregates of `group` (src/stages/agg.c): parsing the
   aggregate list, reading values, the numeric kernels, and states updated
   and finished the way group.c drives them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <math.h>

#include "sluice/run.h"
#include "stages/agg.h"

/* ---- parsing ---- */

static void test_parse_list(void **state)
{
    (void)state;
    const char *text = "group k: total = sum(price * qty), n = count(), c = count(*), `odd name` = max(`unit price`),"
                       " p = percentile(x, 0.9), m = mean(price * qty), f = first(price)";
    sl_error err;
    sl_error_clear(&err);
    sl_agg *a = NULL;
    uint32_t n = 0;
    assert_int_equal(sl_agg_parse(text, 8, "group", &a, &n, &err), SL_OK);
    assert_int_equal(n, 7);
    assert_string_equal(a[0].name, "total");
    assert_int_equal(a[0].op, SL_AGG_SUM);
    assert_string_equal(a[0].arg_text, "price * qty");
    assert_null(a[0].field);
    assert_int_equal(a[1].op, SL_AGG_COUNT_ALL);
    assert_null(a[1].arg);
    assert_int_equal(a[2].op, SL_AGG_COUNT_ALL); /* count(*) */
    assert_string_equal(a[3].name, "odd name");
    assert_string_equal(a[3].field, "unit price"); /* a bare field: read without the program */
    assert_int_equal(a[4].op, SL_AGG_PERCENTILE);
    assert_true(a[4].p == 0.9);
    assert_string_equal(a[4].field, "x");
    /* the same argument read the same way is evaluated once */
    assert_int_equal(a[5].input, a[0].input);
    /* first reads values as they are, sum as numbers: not shared with price */
    assert_int_equal(a[6].mode, SL_AGG_READ_VALUE);
    sl_agg_free(a, n);

    /* empty list */
    assert_int_equal(sl_agg_parse("group k:", 8, "group", &a, &n, &err), SL_OK);
    assert_int_equal(n, 0);
    sl_agg_free(a, n);
}

static void parse_fails(const char *text, size_t start, const char *msg, uint64_t col)
{
    sl_error err;
    sl_error_clear(&err);
    sl_agg *a = NULL;
    uint32_t n = 0;
    assert_int_equal(sl_agg_parse(text, start, "group", &a, &n, &err), SL_E_USAGE);
    if (!strstr(err.msg, msg))
        fail_msg("'%s': message '%s' lacks '%s'", text, err.msg, msg);
    assert_int_equal(err.col, col);
    /* the caret line shows the whole stage, not the text cut after the
       argument */
    if (!strstr(err.detail, text))
        fail_msg("detail '%s' does not show '%s'", err.detail, text);
}

static void test_parse_errors(void **state)
{
    (void)state;
    parse_fails("group k: t = summ(x)", 8, "unknown aggregate 'summ' (did you mean 'sum'?)", 14);
    parse_fails("group k: t = sum(lowr(x)), n = count()", 8, "unknown function 'lowr'", 18);
    parse_fails("group k: t = sum(x +)", 8, "", 21);
    parse_fails("group k: t = sum(x", 8, "never closed", 17);
    parse_fails("group k: t = sum(\"x)", 8, "unterminated quote", 18);
    parse_fails("group k: t = sum(x, y)", 8, "sum takes 1 argument, got 2", 14);
    parse_fails("group k: t = percentile(x)", 8, "percentile takes 2 arguments, got 1", 14);
    parse_fails("group k: t = percentile(x, 1.5)", 8, "from 0 to 1", 28);
    parse_fails("group k: t = sum(x) n = count()", 8, "unexpected 'n'", 21);
    parse_fails("group k: t sum(x)", 8, "expected '='", 12);
    parse_fails("group k: t = sum(x),", 8, "after ','", 21);
    parse_fails("group k: t = sum", 8, "expected '('", 17);
}

static void test_recaret_multiline(void **state)
{
    (void)state;
    /* an argument on the second line of a stage: the caret lands there */
    const char *text = "group k:\n  t = sum(prce * 2)";
    sl_error err;
    sl_error_clear(&err);
    sl_agg *a = NULL;
    uint32_t n = 0;
    assert_int_equal(sl_agg_parse(text, 8, "group", &a, &n, &err), SL_OK);
    const char *names[] = {"k", "price"};
    sl_schema *s = sl_schema_new(2, names, NULL);
    assert_int_equal(sl_expr_bind(a[0].arg, s, UINT32_MAX, 0, &err), SL_E_USAGE);
    sl_agg_recaret(&err, text, a[0].arg_end, a[0].arg_pos);
    assert_int_equal(err.col, 11);
    assert_non_null(strstr(err.detail, "  t = sum(prce * 2)\n            ^"));
    sl_schema_unref(s);
    sl_agg_free(a, n);
}

/* ---- values ---- */

static sl_agg_in in_text(const char *s, uint8_t kind, sl_agg_mode mode)
{
    sl_cell c = {s, (uint32_t)strlen(s), kind, {0}};
    sl_agg_in in;
    sl_agg_in_of_cell(&c, mode, &in);
    return in;
}

static void test_values(void **state)
{
    (void)state;
    assert_int_equal(in_text("", SL_TEXT, SL_AGG_READ_NUM).t, SL_AIN_NULL);
    assert_int_equal(in_text("", SL_STRING, SL_AGG_READ_VALUE).t, SL_AIN_NULL);
    assert_int_equal(in_text("12", SL_TEXT, SL_AGG_READ_VALUE).t, SL_AIN_INT);
    assert_int_equal(in_text("1.5", SL_NUMBER, SL_AGG_READ_NUM).t, SL_AIN_DBL);
    assert_int_equal(in_text("abc", SL_TEXT, SL_AGG_READ_VALUE).t, SL_AIN_TEXT);
    assert_int_equal(in_text("abc", SL_TEXT, SL_AGG_READ_NUM).t, SL_AIN_BAD);
    /* a JSON string is text, but numeric aggregates read "12" as 12 */
    assert_int_equal(in_text("12", SL_STRING, SL_AGG_READ_VALUE).t, SL_AIN_TEXT);
    assert_int_equal(in_text("12", SL_STRING, SL_AGG_READ_NUM).t, SL_AIN_INT);
    assert_int_equal(in_text("true", SL_BOOL, SL_AGG_READ_NUM).t, SL_AIN_BAD);
    assert_int_equal(in_text("true", SL_BOOL, SL_AGG_READ_VALUE).t, SL_AIN_TEXT);
    /* count(x) only asks whether it is null */
    assert_int_equal(in_text("abc", SL_TEXT, SL_AGG_READ_NULL).t, SL_AIN_TEXT);
    sl_value v = {.type = SL_V_DOUBLE, .u.d = 2.5};
    sl_agg_in in;
    sl_agg_in_of_value(&v, SL_AGG_READ_NUM, &in);
    assert_int_equal(in.t, SL_AIN_DBL);
    assert_null(in.s);
    v.type = SL_V_BOOL;
    v.u.b = true;
    sl_agg_in_of_value(&v, SL_AGG_READ_VALUE, &in);
    assert_int_equal(in.t, SL_AIN_TEXT);
    assert_int_equal(in.kind, SL_BOOL);
}

/* ---- kernels ---- */

static void test_neumaier(void **state)
{
    (void)state;
    double s = 0, c = 0, naive = 0;
    for (int i = 0; i < 10; i++) {
        sl_agg_neumaier(&s, &c, 0.1);
        naive += 0.1;
    }
    assert_true(naive != 1.0);
    assert_true(s + c == 1.0);
    s = c = 0;
    sl_agg_neumaier(&s, &c, 1e100);
    sl_agg_neumaier(&s, &c, 1.0);
    sl_agg_neumaier(&s, &c, -1e100);
    assert_true(s + c == 1.0);
}

static void test_quantile(void **state)
{
    (void)state;
    double v[] = {1, 2, 3, 4};
    assert_true(sl_agg_quantile(v, 4, 0.5) == 2.5);
    assert_true(sl_agg_quantile(v, 4, 0) == 1);
    assert_true(sl_agg_quantile(v, 4, 1) == 4);
    assert_true(sl_agg_quantile(v, 4, 0.25) == 1.75);
    double one[] = {7};
    assert_true(sl_agg_quantile(one, 1, 0.9) == 7);
    double w[] = {10, 20};
    assert_true(sl_agg_quantile(w, 2, 0.9) == 19);
}

/* ---- states, driven as group.c drives them ---- */

typedef struct fixture {
    sl_run run;
    sl_agg *a;
    uint32_t n;
    uint32_t size;
    sl_agg_mem mem;
    sl_arena out;
    uint32_t gid; /* each fx_run is a new group */
} fixture;

static void fx_init(fixture *f, const char *list, uint64_t limit)
{
    memset(f, 0, sizeof *f);
    sl_options_defaults(&f->run.opt);
    f->run.opt.memory_limit = limit;
    sl_error err;
    sl_error_clear(&err);
    char text[512];
    snprintf(text, sizeof text, "group: %s", list);
    assert_int_equal(sl_agg_parse(text, 6, "group", &f->a, &f->n, &err), SL_OK);
    f->size = sl_agg_layout(f->a, f->n, 8);
    assert_int_equal(sl_agg_mem_init(&f->mem, &f->run, f->n), SL_OK);
    sl_arena_init(&f->out, 4096, 0);
}

static void fx_fini(fixture *f)
{
    sl_agg_mem_fini(&f->mem);
    sl_agg_free(f->a, f->n);
    sl_arena_fini(&f->out);
    assert_int_equal(f->run.mem_used, 0); /* everything given back */
}

/* Feed the texts (NULL = empty cell) to every aggregate of one group and
   return the results joined by '|'. */
static char *fx_run(fixture *f, const char *const *vals, uint32_t nv, char *buf, size_t cap)
{
    uint8_t *rec = calloc(1, f->size);
    sl_agg_init_states(f->a, f->n, rec);
    sl_agg_in *in = calloc(nv ? nv : 1, sizeof *in);
    uint8_t **recs = calloc(nv ? nv : 1, sizeof *recs);
    uint32_t *gids = calloc(nv ? nv : 1, sizeof *gids);
    for (uint32_t ai = 0; ai < f->n; ai++) {
        for (uint32_t i = 0; i < nv; i++) {
            sl_cell c = {vals[i], vals[i] ? (uint32_t)strlen(vals[i]) : 0, vals[i] ? SL_TEXT : SL_NULL, {0}};
            sl_agg_in_of_cell(&c, f->a[ai].mode, &in[i]);
            recs[i] = rec;
            gids[i] = f->gid;
        }
        assert_int_equal(sl_agg_update(f->a, ai, &f->mem, recs, gids, in, NULL, nv), SL_OK);
    }
    size_t o = 0;
    buf[0] = 0;
    for (uint32_t ai = 0; ai < f->n; ai++) {
        sl_cell c;
        assert_int_equal(sl_agg_result(f->a, ai, &f->mem, rec, &f->out, &c), SL_OK);
        o += (size_t)snprintf(buf + o, cap - o, "%s%.*s", ai ? "|" : "", (int)c.len, c.p ? c.p : "");
    }
    free(rec);
    free(in);
    free(recs);
    free(gids);
    f->gid++;
    return buf;
}

static void test_sum_int_overflow(void **state)
{
    (void)state;
    fixture f;
    fx_init(&f, "s = sum(x), m = mean(x)", 1 << 20);
    char buf[256];
    const char *ints[] = {"1", "2", "3"};
    assert_string_equal(fx_run(&f, ints, 3, buf, sizeof buf), "6|2");
    /* int64 overflow: the sum becomes a double */
    const char *big[] = {"9223372036854775807", "1"};
    assert_string_equal(fx_run(&f, big, 2, buf, sizeof buf), "9.223372036854776e+18|4.611686018427388e+18");
    /* ints and doubles: a double */
    const char *mixed[] = {"1", "0.5", NULL};
    assert_string_equal(fx_run(&f, mixed, 3, buf, sizeof buf), "1.5|0.75");
    /* nothing but nulls: null */
    const char *nulls[] = {NULL, NULL};
    assert_string_equal(fx_run(&f, nulls, 2, buf, sizeof buf), "|");
    fx_fini(&f);
}

static void test_min_max_first_last(void **state)
{
    (void)state;
    fixture f;
    fx_init(&f, "mi = min(x), ma = max(x), f = first(x), l = last(x), cd = count_distinct(x), n = count(x)", 1 << 20);
    char buf[256];
    const char *v[] = {NULL, "b", "10", "9.50", "a", "1e1", NULL, "abc"};
    /* numbers before texts, as read; 10 and 1e1 are one distinct value */
    assert_string_equal(fx_run(&f, v, 8, buf, sizeof buf), "9.50|b|b|abc|5|6");
    /* texts whose first bytes differ by more than one */
    const char *far[] = {"zeta", "alpha", "B B", "mid"};
    assert_string_equal(fx_run(&f, far, 4, buf, sizeof buf), "B B|zeta|zeta|mid|4|4");
    /* a long value replacing a short one, and back */
    const char *grow[] = {"a", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "c"};
    assert_string_equal(fx_run(&f, grow, 3, buf, sizeof buf), "a|c|a|c|3|3");
    /* exact comparison of integers and doubles near 2^63 */
    const char *edge[] = {"9223372036854775807", "9223372036854775808.0"};
    assert_string_equal(fx_run(&f, edge, 2, buf, sizeof buf),
                        "9223372036854775807|9223372036854775808.0|9223372036854775807|9223372036854775808.0|2|2");
    fx_fini(&f);
}

static void test_var_median(void **state)
{
    (void)state;
    fixture f;
    fx_init(&f, "v = var(x), s = stddev(x), vp = var_pop(x), sp = stddev_pop(x), md = median(x), p = percentile(x, 0.25)",
            1 << 20);
    char buf[256];
    const char *v[] = {"2", "4", "4", "4", "5", "5", "7", "9"};
    assert_string_equal(fx_run(&f, v, 8, buf, sizeof buf), "4.571428571428571|2.138089935299395|4|2|4.5|4");
    const char *one[] = {"3"};
    assert_string_equal(fx_run(&f, one, 1, buf, sizeof buf), "||0|0|3|3");
    fx_fini(&f);
}

static void test_budget(void **state)
{
    (void)state;
    fixture f;
    /* median keeps every value: a budget of 256 KiB holds a few thousand */
    fx_init(&f, "md = median(x)", 256 * 1024);
    uint8_t *rec = calloc(1, f.size);
    uint8_t *recs[1] = {rec};
    uint32_t gids[1] = {0};
    sl_agg_in in;
    sl_cell c = {"1.5", 3, SL_TEXT, {0}};
    sl_agg_in_of_cell(&c, SL_AGG_READ_NUM, &in);
    int rc = SL_OK, i = 0;
    for (; i < 100000 && rc == SL_OK; i++)
        rc = sl_agg_update(f.a, 0, &f.mem, recs, gids, &in, NULL, 1);
    assert_int_equal(rc, SL_E_NOMEM);
    assert_true(i > 1000);
    assert_true(f.run.mem_used <= 256 * 1024);
    free(rec);
    fx_fini(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_list),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_recaret_multiline),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_neumaier),
        cmocka_unit_test(test_quantile),
        cmocka_unit_test(test_sum_int_overflow),
        cmocka_unit_test(test_min_max_first_last),
        cmocka_unit_test(test_var_median),
        cmocka_unit_test(test_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
