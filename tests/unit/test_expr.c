/* test_expr.c - the expression language (src/expr) and the filter and map
   stages.
 *
 * Most tests evaluate one expression against one row of a fixed batch and
 * compare a rendering of the result: "int 13", "double 2.5", "str \"ab\"",
 * "text \"10\"", "true", "false", "null", "error: MESSAGE" (a record error)
 * or "compile error at COL: MESSAGE". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <math.h>

#include "expr/expr_int.h"
#include "sluice/run.h"

extern const sl_stage_type sl_filter_stage_type;
extern const sl_stage_type sl_map_stage_type;

/* ------------------------------------------------------------------------ */
/* the fixture: one row of typical cells */

typedef struct fcell {
    const char *name;
    const char *text;
    sl_kind kind;
} fcell;

static const fcell fixture[] = {
    {"a", "10", SL_TEXT},
    {"b", "3", SL_TEXT},
    {"x", "2.5", SL_TEXT},
    {"s", "Hello World", SL_STRING},
    {"e", "", SL_NULL},
    {"t", "abc", SL_TEXT},
    {"n", "1e3", SL_NUMBER},
    {"flag", "true", SL_BOOL},
    {"big", "9223372036854775807", SL_TEXT},
    {"neg", "-7", SL_TEXT},
    {"ws", "  pad  ", SL_TEXT},
    {"z", "0", SL_TEXT},
    {"j", "{\"k\":1}", SL_JSON},
    {"date", "2024-03-05 10:20:30", SL_TEXT},
    {"odd name", "odd", SL_TEXT},
    {"a.b", "dotted", SL_TEXT},
    {"u", "h\xc3\xa9llo", SL_STRING},
    {"ab", "", SL_ABSENT},
    {"num10", "10", SL_STRING},
    {"tf", "false", SL_TEXT},
    {"x2", "2.50", SL_TEXT},
    {"csv", "a,b,,d", SL_TEXT},
    {"small", "-9223372036854775808", SL_TEXT},
};
#define NF (sizeof fixture / sizeof fixture[0])

static sl_batch batch;
static sl_arena arena;
static char out[1200];

static int setup(void **state)
{
    (void)state;
    const char *names[NF];
    for (size_t i = 0; i < NF; i++) names[i] = fixture[i].name;
    sl_schema *s = sl_schema_new(NF, names, NULL);
    assert_non_null(s);
    assert_int_equal(sl_batch_init(&batch, 4, NF, 0), SL_OK);
    assert_int_equal(sl_batch_reset(&batch, s, NF), SL_OK);
    sl_schema_unref(s);
    for (size_t i = 0; i < NF; i++) {
        batch.cells[i].p = fixture[i].text;
        batch.cells[i].len = (uint32_t)strlen(fixture[i].text);
        batch.cells[i].kind = (uint8_t)fixture[i].kind;
    }
    batch.nrows = 1;
    memset(&batch.info[0], 0, sizeof batch.info[0]);
    sl_arena_init(&arena, 4096, 1 << 20);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sl_batch_fini(&batch);
    sl_arena_fini(&arena);
    return 0;
}

static const char *render(const sl_value *v)
{
    char num[40];
    size_t n;
    switch (v->type) {
    case SL_V_NULL: snprintf(out, sizeof out, "null"); break;
    case SL_V_BOOL: snprintf(out, sizeof out, "%s", v->u.b ? "true" : "false"); break;
    case SL_V_INT: snprintf(out, sizeof out, "int %lld", (long long)v->u.i); break;
    case SL_V_DOUBLE:
        n = sl_num_format_double(v->u.d, num);
        snprintf(out, sizeof out, "double %.*s", (int)n, num);
        break;
    case SL_V_STRING: snprintf(out, sizeof out, "str \"%.*s\"", (int)v->len, v->u.s); break;
    default: snprintf(out, sizeof out, "text \"%.*s\"", (int)v->len, v->u.s); break;
    }
    return out;
}

/* Compile, bind and evaluate text on the fixture row. */
static const char *ev(const char *text)
{
    sl_error err;
    sl_error_clear(&err);
    sl_expr *p = sl_expr_compile(text, "test", &err);
    if (!p) {
        assert_int_equal(err.code, SL_E_USAGE);
        assert_string_equal(err.stage, "test");
        snprintf(out, sizeof out, "compile error at %llu: %s", (unsigned long long)err.col, err.msg);
        return out;
    }
    if (sl_expr_bind(p, batch.schema, UINT32_MAX, 0, &err) != SL_OK) {
        snprintf(out, sizeof out, "bind error at %llu: %s", (unsigned long long)err.col, err.msg);
        sl_expr_free(p);
        return out;
    }
    sl_value v;
    sl_arena_reset(&arena);
    int rc = sl_expr_eval(p, &batch, 0, &arena, &v);
    if (rc == SL_E_DATA) snprintf(out, sizeof out, "error: %s", sl_expr_errmsg(p));
    else if (rc) snprintf(out, sizeof out, "rc %d", rc);
    else render(&v);
    sl_expr_free(p);
    return out;
}

#define EQ(expr, want) assert_string_equal(ev(expr), want)

/* ------------------------------------------------------------------------ */
/* literals and fields */

static void test_literals(void **state)
{
    (void)state;
    EQ("42", "int 42");
    EQ("-42", "int -42");
    EQ("2.5", "double 2.5");
    EQ("1e3", "double 1000");
    EQ("1.5E-2", "double 0.015");
    EQ("9223372036854775807", "int 9223372036854775807");
    EQ("-9223372036854775808", "int -9223372036854775808");
    EQ("9223372036854775808", "double 9.223372036854776e+18");
    EQ("\"hi\"", "str \"hi\"");
    EQ("\"a\\tb\\n\\\\\\\"\\/\"", "str \"a\tb\n\\\"/\"");
    EQ("\"\\u00e9\"", "str \"\xc3\xa9\"");
    EQ("\"\\ud83d\\ude00\"", "str \"\xf0\x9f\x98\x80\"");
    EQ("r\"a\\.b\"", "str \"a\\.b\"");
    EQ("true", "true");
    EQ("false", "false");
    EQ("null", "null");
    EQ("\"\"", "str \"\"");
}

static void test_fields(void **state)
{
    (void)state;
    EQ("a", "text \"10\"");
    EQ("s", "str \"Hello World\"");
    EQ("e", "null");
    EQ("ab", "null");
    EQ("flag", "true");
    EQ("n", "text \"1e3\"");
    EQ("j", "str \"{\"k\":1}\"");
    EQ("`odd name`", "text \"odd\"");
    EQ("a.b", "text \"dotted\"");
    EQ("`a`", "text \"10\"");
    EQ("nope", "bind error at 1: no field 'nope' in input; fields are: a, b, x, s, e, t, n, flag, big, neg, ws, z, "
               "j, date, odd name, a.b, u, ab, num10, tf, x2, csv, small");
    EQ("a + nope2", "bind error at 5: no field 'nope2' in input; fields are: a, b, x, s, e, t, n, flag, big, neg, ws, "
                    "z, j, date, odd name, a.b, u, ab, num10, tf, x2, csv, small");
}

/* ------------------------------------------------------------------------ */
/* operators */

static void test_arithmetic(void **state)
{
    (void)state;
    EQ("a + b", "int 13");
    EQ("a - b", "int 7");
    EQ("a * b", "int 30");
    EQ("a / b", "double 3.3333333333333335");
    EQ("a / 2", "double 5");
    EQ("a // b", "int 3");
    EQ("a % b", "int 1");
    EQ("neg // 2", "int -4");
    EQ("neg % 3", "int 2");
    EQ("7 % -3", "int -2");
    EQ("-7 // -2", "int 3");
    EQ("x * 2", "double 5");
    EQ("x + a", "double 12.5");
    EQ("7.5 // 2", "double 3");
    EQ("-7.5 % 2", "double 0.5");
    EQ("n + 1", "double 1001");
    EQ("0.1 + 0.2", "double 0.30000000000000004");
    EQ("-a", "int -10");
    EQ("-x", "double -2.5");
    EQ("- -a", "int 10");
    EQ("num10 + 1", "int 11"); /* a JSON string that reads as a number */
}

static void test_arith_null_zero_overflow(void **state)
{
    (void)state;
    EQ("e + 1", "null");
    EQ("1 - e", "null");
    EQ("-e", "null");
    EQ("null * 2", "null");
    EQ("a / 0", "null");
    EQ("a // 0", "null");
    EQ("a % 0", "null");
    EQ("x / 0.0", "null");
    EQ("a / z", "null");
    EQ("big + 1", "double 9.223372036854776e+18");
    EQ("big * 2", "double 1.8446744073709552e+19");
    EQ("small - 1", "double -9.223372036854776e+18");
    EQ("-small", "double 9.223372036854776e+18");
    EQ("small // -1", "double 9.223372036854776e+18");
    EQ("small % -1", "int 0");
    EQ("big - 1", "int 9223372036854775806");
    EQ("1e308 * 10", "null");
}

static void test_arith_type_errors(void **state)
{
    (void)state;
    EQ("t + 1", "error: '+': \"abc\" is not a number (expected a number)");
    EQ("1 * s", "error: '*': \"Hello World\" is not a number (expected a number)");
    EQ("-t", "error: '-': \"abc\" is not a number (expected a number)");
    EQ("flag + 1", "error: '+': true is not a number (expected a number)");
    EQ("\"a\" * 2", "compile error at 1: '*' needs numbers, got a string");
    EQ("2 * \"a\"", "compile error at 5: '*' needs numbers, got a string");
    EQ("true + 1", "compile error at 1: '+' needs numbers, got a boolean");
    EQ("-\"x\"", "compile error at 2: '-' needs numbers, got a string");
    EQ("lower(t) + 1", "compile error at 1: '+' needs numbers, got a string");
}

static void test_concat(void **state)
{
    (void)state;
    EQ("t || \"-\" || a", "str \"abc-10\"");
    EQ("t || 1.50", "str \"abc1.5\"");
    EQ("t || flag", "str \"abctrue\"");
    EQ("t || e", "null");
    EQ("\"\" || \"\"", "str \"\"");
    EQ("a || b + 1", "str \"104\""); /* + binds tighter than || */
}

static void test_comparison(void **state)
{
    (void)state;
    EQ("a == 10", "true");
    EQ("a == 10.0", "true");
    EQ("10 == a", "true");
    EQ("a != 10", "false");
    EQ("a > 9", "true");
    EQ("9 < a", "true");
    EQ("a >= 10", "true");
    EQ("a <= 9.99", "false");
    EQ("a <> 3", "true");
    EQ("a > b", "true"); /* numerically: 10 > 3 (as text "10" < "3") */
    EQ("x == x2", "true"); /* 2.5 == 2.50 */
    EQ("n == 1000", "true");
    EQ("t == \"abc\"", "true");
    EQ("t < \"abd\"", "true");
    EQ("t > 5", "true");     /* not a number: compared as text, "abc" > "5" */
    EQ("a == \"10\"", "true");
    EQ("x2 == \"2.5\"", "true");   /* text and a string that read as numbers */
    EQ("num10 > 9", "true");       /* a JSON string that reads as a number */
    EQ("num10 == \"10.0\"", "false"); /* two strings: text */
    EQ("\"10\" < \"9\"", "true");
    EQ("t == \"ABC\"", "false");
    /* field <cmp> "string" is one fused instruction: same rules */
    EQ("a == \"10.0\"", "true");
    EQ("\"10.0\" == a", "true");
    EQ("flag == \"true\"", "true");
    EQ("flag == \"1\"", "false");
    EQ("e == \"x\"", "false");
    EQ("e != \"x\"", "false");
    EQ("ab < \"x\"", "false");
    EQ("\"b\" > t", "true");
    EQ("t < \"b\"", "true");
    EQ("j == \"{\\\"k\\\":1}\"", "true");
    EQ("n == \"1000\"", "true");
    EQ("n > \"999.5\"", "true");
    EQ("num10 < \"9\"", "true"); /* two strings: text */
    EQ("s >= \"Hello\"", "true");
    EQ("s == \"Hello World\"", "true");
    EQ("\"abc\" < \"abd\"", "true");
    EQ("\"ab\" < \"abc\"", "true");
    EQ("\"b\" > \"abc\"", "true");
    EQ("flag == true", "true");
    EQ("tf == false", "true"); /* text "false" equals the boolean as text */
    EQ("true > false", "true");
    EQ("big > 9223372036854775806", "true");
    EQ("big == 9223372036854775807.0", "false"); /* 2^63 as a double */
    EQ("big < 9223372036854775808.0", "true");
    EQ("1 == 1.0", "true");
    EQ("small < -9223372036854775807", "true");
}

static void test_comparison_null(void **state)
{
    (void)state;
    EQ("e == null", "true");
    EQ("null == e", "true");
    EQ("e != null", "false");
    EQ("a == null", "false");
    EQ("a != null", "true");
    EQ("ab == null", "true");
    EQ("e == 1", "false");
    EQ("e != 1", "false");
    EQ("e < 1", "false");
    EQ("e > 1", "false");
    EQ("e == e", "false");
    EQ("e == \"\"", "false");
    EQ("null == null", "true");
    EQ("is_null(e)", "true");
    EQ("is_null(a)", "false");
    EQ("not (e > 1)", "true");
    EQ("e =~ \"x\"", "false");
    EQ("e !~ \"x\"", "false");
}

static void test_logic(void **state)
{
    (void)state;
    EQ("true and false", "false");
    EQ("true and true", "true");
    EQ("false or true", "true");
    EQ("false or false", "false");
    EQ("not true", "false");
    EQ("not e", "true");
    EQ("e and true", "false");
    EQ("e or true", "true");
    EQ("flag and tf", "false"); /* text "false" is a boolean here */
    EQ("tf or flag", "true");
    /* short circuit: the right side would be an error */
    EQ("false and to_int(t) > 1", "false");
    EQ("true or to_int(t) > 1", "true");
    EQ("true and to_int(t) > 1", "error: to_int: cannot convert \"abc\" to an integer (expected an integer such as 42)");
    EQ("t and true", "error: and: \"abc\" is not a boolean (expected true or false)");
    EQ("true and a", "error: and/or: \"10\" is not a boolean (expected true or false)");
    EQ("not t", "error: not: \"abc\" is not a boolean (expected true or false)");
    EQ("1 and true", "compile error at 1: 'and' needs true or false, got an integer");
    EQ("true or \"x\"", "compile error at 9: 'or' needs true or false, got a string");
    EQ("not 5", "compile error at 5: 'not' needs true or false, got an integer");
}

static void test_regex(void **state)
{
    (void)state;
    EQ("s =~ \"^Hel+o\"", "true");
    EQ("s =~ \"^hello\"", "false");
    EQ("s !~ \"^hello\"", "true");
    EQ("s =~ \"W(or|ee)ld$\"", "true");
    EQ("a =~ \"^[0-9]+$\"", "true");
    EQ("x * 2 =~ \"^5$\"", "true");
    EQ("date =~ r\"^[0-9]{4}-[0-9]{2}\"", "true");
    EQ("s =~ t", "false");
    /* plain patterns take a memcmp/memmem path: same answers */
    EQ("s =~ \"World\"", "true");
    EQ("s =~ \"^Hello\"", "true");
    EQ("s =~ \"World$\"", "true");
    EQ("s =~ \"^Hello World$\"", "true");
    EQ("s =~ \"^World\"", "false");
    EQ("s =~ \"Hello$\"", "false");
    EQ("s !~ \"xyz\"", "true");
    EQ("t =~ \"\"", "true");
    EQ("\"\" =~ \"^$\"", "true");
    EQ("t =~ \"^$\"", "false");
    EQ("\"xa.by\" =~ r\"a\\.b\"", "true");
    EQ("\"xaxby\" =~ r\"a\\.b\"", "false");
    EQ("\"xaxby\" =~ \"a.b\"", "true");
    EQ("flag =~ \"^tr\"", "true");
    EQ("a * 2 =~ \"^20$\"", "true");
    EQ("t =~ t || \"|x\"", "true"); /* dynamic pattern "abc|x" */
    EQ("s =~ \"(\"", "compile error at 6: bad regular expression: Unmatched ( or \\( (POSIX extended syntax expected)");
    EQ("s =~ (\"(\" || t)", "error: bad regular expression \"(abc\": Unmatched ( or \\( (POSIX extended syntax expected)");
}

static void test_precedence(void **state)
{
    (void)state;
    EQ("1 + 2 * 3", "int 7");
    EQ("(1 + 2) * 3", "int 9");
    EQ("10 - 4 - 3", "int 3");
    EQ("2 * 3 % 4", "int 2");
    EQ("-2 * 3", "int -6");
    EQ("- (2 + 3) * 2", "int -10");
    EQ("1 + 2 == 3", "true");
    EQ("1 < 2 and 3 < 4", "true");
    EQ("true or false and false", "true");
    EQ("(true or false) and false", "false");
    EQ("not false and false", "false");
    EQ("not 1 == 2", "true");
    EQ("\"a\" || \"b\" == \"ab\"", "true");
    EQ("1 < 2 < 3", "compile error at 7: comparisons cannot be chained (write 'a < b and b < c')");
}

/* ------------------------------------------------------------------------ */
/* functions */

static void test_string_functions(void **state)
{
    (void)state;
    EQ("lower(s)", "str \"hello world\"");
    EQ("upper(s)", "str \"HELLO WORLD\"");
    EQ("upper(u)", "str \"H\xc3\xa9LLO\"");
    EQ("lower(e)", "null");
    EQ("lower(42)", "str \"42\"");
    EQ("trim(ws)", "str \"pad\"");
    EQ("ltrim(ws)", "str \"pad  \"");
    EQ("rtrim(ws)", "str \"  pad\"");
    EQ("length(s)", "int 11");
    EQ("length(u)", "int 5");
    EQ("length(\"\")", "int 0");
    EQ("length(e)", "null");
    EQ("length(a * 10)", "int 3");
    EQ("substr(s, 0, 5)", "str \"Hello\"");
    EQ("substr(s, 6)", "str \"World\"");
    EQ("substr(s, -5, 3)", "str \"Wor\"");
    EQ("substr(s, 20, 3)", "str \"\"");
    EQ("substr(s, 3, 0)", "str \"\"");
    EQ("substr(u, 1, 2)", "str \"\xc3\xa9l\"");
    EQ("substr(s, -100, 2)", "str \"He\"");
    EQ("substr(e, 0, 1)", "null");
    EQ("substr(s, t, 1)", "error: substr: \"abc\" is not a number (expected a number)");
    EQ("replace(s, \"o\", \"0\")", "str \"Hell0 W0rld\"");
    EQ("replace(s, \"World\", \"\")", "str \"Hello \"");
    EQ("replace(s, \"\", \"x\")", "str \"Hello World\"");
    EQ("replace(s, \"zz\", \"x\")", "str \"Hello World\"");
    EQ("replace(\"aaa\", \"a\", \"bb\")", "str \"bbbbbb\"");
    EQ("contains(s, \"lo W\")", "true");
    EQ("contains(s, \"low\")", "false");
    EQ("contains(s, \"\")", "true");
    EQ("contains(e, \"x\")", "null");
    EQ("starts_with(s, \"Hell\")", "true");
    EQ("starts_with(s, \"hell\")", "false");
    EQ("ends_with(s, \"World\")", "true");
    EQ("ends_with(\"d\", \"World\")", "false");
    EQ("split_part(csv, \",\", 1)", "str \"a\"");
    EQ("split_part(csv, \",\", 2)", "str \"b\"");
    EQ("split_part(csv, \",\", 3)", "str \"\"");
    EQ("split_part(csv, \",\", 4)", "str \"d\"");
    EQ("split_part(csv, \",\", 5)", "null");
    EQ("split_part(csv, \",\", -1)", "str \"d\"");
    EQ("split_part(csv, \",\", -4)", "str \"a\"");
    EQ("split_part(csv, \",\", -5)", "null");
    EQ("split_part(date, \" \", 2)", "str \"10:20:30\"");
    EQ("split_part(csv, \",\", 0)", "error: split_part: part number 0 (expected 1 for the first part, -1 for the last)");
    EQ("concat(t, \"-\", a, e, 1.5)", "str \"abc-101.5\"");
    EQ("concat(e)", "str \"\"");
}

static void test_regex_functions(void **state)
{
    (void)state;
    EQ("regex_replace(s, \"o\", \"0\")", "str \"Hell0 W0rld\"");
    EQ("regex_replace(s, \"([A-Z])[a-z]+\", \"<\\\\1>\")", "str \"<H> <W>\"");
    EQ("regex_replace(s, r\"(\\w+) (\\w+)\", r\"\\2 \\1\")", "str \"World Hello\"");
    EQ("regex_replace(s, \"^\", \">\")", "str \">Hello World\"");
    EQ("regex_replace(\"abc\", \"x*\", \"-\")", "str \"-a-b-c-\"");
    EQ("regex_replace(s, \"zzz\", \"-\")", "str \"Hello World\"");
    EQ("regex_replace(s, \"l+\", r\"[\\0]\")", "str \"He[ll]o Wor[l]d\"");
    EQ("regex_replace(e, \"a\", \"b\")", "null");
    EQ("regex_extract(date, r\"([0-9]+)-([0-9]+)\", 2)", "str \"03\"");
    EQ("regex_extract(date, \"[0-9]+:[0-9]+\")", "str \"10:20\"");
    EQ("regex_extract(s, \"[0-9]+\")", "null");
    EQ("regex_extract(s, \"(a)|(W)\", 1)", "null");
    EQ("regex_extract(s, \"(o)\", 2)", "compile error at 25: group 2, but the pattern has 1 group (expected 0 to 1)");
    EQ("regex_extract(s, \"(o)\", b - 1)", "error: regex_extract: group 2 but the pattern has 1 group (expected 0 to 1)");
    EQ("regex_extract(s, \"(o)\", b - 2)", "str \"o\"");
    EQ("regex_extract(s, t || \"|o\")", "str \"o\"");
    EQ("regex_replace(s, \"[\", \"x\")",
       "compile error at 18: bad regular expression: Invalid regular expression (POSIX extended syntax expected)");
}

static void test_casts(void **state)
{
    (void)state;
    EQ("int(a)", "int 10");
    EQ("int(x)", "int 2");
    EQ("int(-2.7)", "int -2");
    EQ("int(t)", "null");
    EQ("int(e)", "null");
    EQ("int(flag)", "int 1");
    EQ("int(1e30)", "null");
    EQ("int(\"12\")", "int 12");
    EQ("float(a)", "double 10");
    EQ("float(x)", "double 2.5");
    EQ("float(t)", "null");
    EQ("float(\" 1\")", "null");
    EQ("string(a)", "str \"10\"");
    EQ("string(2.50)", "str \"2.5\"");
    EQ("string(flag)", "str \"true\"");
    EQ("string(e)", "null");
    EQ("string(a) == \"10\"", "true");
    EQ("bool(\"yes\")", "true");
    EQ("bool(\"No\")", "false");
    EQ("bool(\"TRUE\")", "true");
    EQ("bool(z)", "false");
    EQ("bool(2.5)", "true");
    EQ("bool(t)", "null");
    EQ("bool(e)", "null");
    EQ("to_int(a)", "int 10");
    EQ("to_int(n)", "int 1000");
    EQ("to_int(e)", "null");
    EQ("to_int(t)", "error: to_int: cannot convert \"abc\" to an integer (expected an integer such as 42)");
    EQ("to_int(x)", "error: to_int: cannot convert \"2.5\" to an integer (expected an integer such as 42)");
    EQ("to_int(flag)", "error: to_int: cannot convert true to an integer (expected an integer such as 42)");
    EQ("to_float(x)", "double 2.5");
    EQ("to_float(a)", "double 10");
    EQ("to_float(e)", "null");
    EQ("to_float(ws)", "error: to_float: cannot convert \"  pad  \" to a number (expected a number such as 2.5)");
    EQ("is_number(a)", "true");
    EQ("is_number(x)", "true");
    EQ("is_number(t)", "false");
    EQ("is_number(e)", "false");
    EQ("is_number(flag)", "false");
    EQ("is_number(num10)", "true");
}

static void test_math_functions(void **state)
{
    (void)state;
    EQ("abs(neg)", "int 7");
    EQ("abs(-2.5)", "double 2.5");
    EQ("abs(small)", "double 9.223372036854776e+18");
    EQ("abs(e)", "null");
    EQ("abs(t)", "error: abs: \"abc\" is not a number (expected a number)");
    EQ("abs(\"x\")", "compile error at 5: 'abs' needs a number as argument 1, got a string (abs(x) -> number)");
    EQ("round(x)", "int 3");
    EQ("round(-2.5)", "int -3");
    EQ("round(2.4)", "int 2");
    EQ("round(a)", "int 10");
    EQ("round(3.14159, 2)", "double 3.14");
    EQ("round(2.675, 2)", "double 2.67");  /* 2.675 is 2.67499999... in binary */
    EQ("round(0.125, 2)", "double 0.13");  /* an exact tie: away from zero */
    EQ("round(-0.125, 2)", "double -0.13");
    EQ("round(1.005, 2)", "double 1");     /* 1.00499999... */
    EQ("round(86.18000000000001, 2)", "double 86.18");
    EQ("round(-0.001, 2)", "double 0");
    EQ("round(1234.5, -2)", "int 1200");
    EQ("round(1250, -2)", "int 1300");
    EQ("round(-1250, -2)", "int -1300");
    EQ("round(1249, -2)", "int 1200");
    EQ("round(a, 2)", "int 10");
    EQ("round(1e300, 2)", "double 1e+300");
    EQ("floor(x)", "int 2");
    EQ("floor(-2.5)", "int -3");
    EQ("ceil(x)", "int 3");
    EQ("ceil(-2.5)", "int -2");
    EQ("floor(a)", "int 10");
    EQ("floor(1e300)", "double 1e+300");
    EQ("min(a, b, x)", "text \"2.5\"");
    EQ("max(a, b, x)", "text \"10\"");
    EQ("min(e, 5)", "int 5");
    EQ("max(e, e)", "null");
    EQ("max(\"b\", \"abc\")", "str \"b\"");
    EQ("pow(2, 10)", "int 1024");
    EQ("pow(2, 0.5)", "double 1.4142135623730951");
    EQ("pow(2, -1)", "double 0.5");
    EQ("pow(10, 30)", "double 1e+30");
    EQ("pow(10, 400)", "null");
    EQ("pow(e, 2)", "null");
    EQ("sqrt(16)", "double 4");
    EQ("sqrt(-1)", "null");
    EQ("sqrt(x)", "double 1.5811388300841898");
}

static void test_null_functions(void **state)
{
    (void)state;
    EQ("coalesce(e, ab, t)", "text \"abc\"");
    EQ("coalesce(e, null)", "null");
    EQ("coalesce(a, to_int(t))", "text \"10\""); /* later arguments not evaluated */
    EQ("coalesce(e, \"Unknown\")", "str \"Unknown\"");
    EQ("if(a > 5, \"big\", \"small\")", "str \"big\"");
    EQ("if(a < 5, \"big\", \"small\")", "str \"small\"");
    EQ("if(e, 1, 2)", "int 2");
    EQ("if(true, 1, to_int(t))", "int 1");
    EQ("if(false, to_int(t), 2)", "int 2");
    EQ("if(t, 1, 2)", "error: if: \"abc\" is not a boolean (expected true or false)");
    EQ("if(1, 2, 3)", "compile error at 4: 'if' needs true or false as argument 1, got an integer (if(cond, then, else) -> any)");
    EQ("is_null(ab)", "true");
    EQ("is_null(s)", "false");
    EQ("is_null(a / 0)", "true");
}

static void test_time_functions(void **state)
{
    (void)state;
    EQ("strptime(date, \"%Y-%m-%d %H:%M:%S\")", "int 1709634030");
    EQ("strptime(\"2024-03-05\", \"%Y-%m-%d\")", "int 1709596800");
    EQ("strptime(\"1970-01-01T00:00:00+0100\", \"%Y-%m-%dT%H:%M:%S%z\")", "int -3600");
    EQ("strptime(\"2024-03-05 junk\", \"%Y-%m-%d\")", "null");
    EQ("strptime(t, \"%Y\")", "null");
    EQ("strptime(e, \"%Y\")", "null");
    EQ("strftime(1709634030, \"%Y-%m-%dT%H:%M:%SZ\")", "str \"2024-03-05T10:20:30Z\"");
    EQ("strftime(0, \"%F %T\")", "str \"1970-01-01 00:00:00\"");
    EQ("strftime(-1.5, \"%T\")", "str \"23:59:58\"");
    EQ("strftime(strptime(date, \"%Y-%m-%d %H:%M:%S\") + 86400, \"%F\")", "str \"2024-03-06\"");
    EQ("strftime(1e20, \"%F\")", "null");
    EQ("now() > 1600000000", "true");
    EQ("now() == now()", "true");
}

static void test_hash_functions(void **state)
{
    (void)state;
    EQ("md5(\"\")", "str \"d41d8cd98f00b204e9800998ecf8427e\"");
    EQ("md5(\"abc\")", "str \"900150983cd24fb0d6963f7d28e17f72\"");
    EQ("md5(\"The quick brown fox jumps over the lazy dog\")", "str \"9e107d9d372bb6826bd81d3542a419d6\"");
    EQ("md5(\"12345678901234567890123456789012345678901234567890123456789012345678901234567890\")",
       "str \"57edf4a22be3c955ac49da2e2107b67a\"");
    EQ("sha256(\"\")", "str \"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"");
    EQ("sha256(\"abc\")", "str \"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\"");
    EQ("sha256(\"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq\")",
       "str \"248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1\"");
    EQ("md5(e)", "null");
    EQ("hash(e)", "null");
    EQ("hash(a) == hash(\"10\")", "true");
    EQ("hash(a) == hash(b)", "false");
    EQ("hash(\"x\") % 16 >= 0", "true");
    /* stable across versions and machines: these values are part of the
       interface (people shard with them) */
    EQ("hash(\"\")", "int -3594420647476835102");
    EQ("hash(\"sluice\")", "int 7033674035011281855");
    /* spread: 4096 keys into 16 buckets */
    int buckets[16] = {0};
    char key[32];
    for (int i = 0; i < 4096; i++) {
        int n = snprintf(key, sizeof key, "user%d", i);
        buckets[(uint64_t)sl_hash64(key, (size_t)n, 0) % 16]++;
    }
    for (int i = 0; i < 16; i++) {
        assert_true(buckets[i] > 256 - 64);
        assert_true(buckets[i] < 256 + 64);
    }
}

static void test_function_errors(void **state)
{
    (void)state;
    EQ("lowr(s)", "compile error at 1: unknown function 'lowr' (did you mean 'lower'?)");
    EQ("1 + uper(s)", "compile error at 5: unknown function 'uper' (did you mean 'upper'?)");
    EQ("frobnicate(s)", "compile error at 1: unknown function 'frobnicate' (see `sluice help functions`)");
    EQ("substr(s)", "compile error at 1: function 'substr' takes 2 to 3 arguments, got 1 (substr(s, start, len) -> string)");
    EQ("lower(s, t)", "compile error at 1: function 'lower' takes 1 argument, got 2 (lower(s) -> string)");
    EQ("coalesce()", "compile error at 1: function 'coalesce' takes at least 1 argument, got 0 (coalesce(x, y, ...) -> any)");
    EQ("now(1)", "compile error at 1: function 'now' takes 0 arguments, got 1 (now() -> int)");
    EQ("round(x, \"2\")", "compile error at 10: 'round' needs a number as argument 2, got a string (round(x, digits = 0) -> number)");
}

/* ------------------------------------------------------------------------ */
/* syntax errors and carets */

static void test_syntax_errors(void **state)
{
    (void)state;
    EQ("", "compile error at 1: missing expression");
    EQ("   ", "compile error at 4: missing expression");
    EQ("a +", "compile error at 4: unexpected end of expression (expected a value: a number, \"string\", name, function call or '(')");
    EQ("a + * b", "compile error at 5: unexpected '*' (expected a value: a number, \"string\", name, function call or '(')");
    EQ("\"abc", "compile error at 1: unterminated string (opened here; expected a closing '\"')");
    EQ("a == \"x\\q\"", "compile error at 8: unknown escape '\\q' in string (expected one of \\n \\t \\r \\\\ \\\" \\/ \\uXXXX; r\"...\" strings take backslashes as they are)");
    EQ("\"\\u12\"", "compile error at 2: bad \\u escape (expected four hex digits)");
    EQ("\"\\ud800\"", "compile error at 2: lone surrogate in \\u escape (expected a \\uDC00-\\uDFFF pair)");
    EQ("(a + b", "compile error at 1: unclosed '(' (opened here; expected ')')");
    EQ("a + b)", "compile error at 6: unexpected ')' (no '(' to close)");
    EQ("a = 1", "compile error at 3: unexpected '=' (expected '==' to compare)");
    EQ("a b", "compile error at 3: unexpected name (expected an operator or the end of the expression)");
    EQ("a, b", "compile error at 2: unexpected ',' (expected an operator or the end of the expression)");
    EQ("a ! b", "compile error at 3: unexpected '!' (expected '!=' or '!~'; negation is 'not')");
    EQ("a && b", "compile error at 3: unexpected '&' (expected 'and')");
    EQ("a | b", "compile error at 3: unexpected '|' (expected '||' to join strings)");
    EQ("a $ b", "compile error at 3: unexpected '$'");
    EQ("`abc", "compile error at 1: unterminated `name` (opened here; expected a closing '`')");
    EQ("``", "compile error at 1: empty `` name (expected a field name between the backquotes)");
    EQ("12abc", "compile error at 3: unexpected 'a' after a number (names start with a letter or _)");
    EQ("1e999", "compile error at 1: number out of range");
    EQ("lower(s", "compile error at 8: unexpected end of expression (expected ',' or ')' after a function argument)");
    EQ("\"h\xc3\xa9\" + 1 ==", "compile error at 12: unexpected end of expression (expected a value: a number, \"string\", name, function call or '(')");
}

static void test_caret_detail(void **state)
{
    (void)state;
    sl_error err;
    sl_error_clear(&err);
    const char *text = "filter celsius >= -40 andd x";
    assert_null(sl_expr_compile_at(text, 7, "filter", &err));
    assert_int_equal(err.code, SL_E_USAGE);
    assert_string_equal(err.stage, "filter");
    assert_int_equal(err.col, 23);
    assert_string_equal(err.msg, "unexpected name (expected an operator or the end of the expression)");
    assert_string_equal(err.detail, "  filter celsius >= -40 andd x\n                        ^");

    /* multi-line text: the line of the error, its column */
    sl_error_clear(&err);
    assert_null(sl_expr_compile("a > 1 and\n\tlowr(b)", "filter", &err));
    assert_int_equal(err.col, 2);
    assert_string_equal(err.detail, "  \tlowr(b)\n  \t^");

    /* bind errors point at the reference */
    sl_error_clear(&err);
    sl_expr *p = sl_expr_compile("a + prce", "map", &err);
    assert_non_null(p);
    assert_int_equal(sl_expr_bind(p, batch.schema, 3, 0, &err), SL_E_USAGE);
    assert_string_equal(err.msg, "no field 'prce' in input; fields are: a, b, x");
    assert_string_equal(err.detail, "  a + prce\n      ^");
    assert_int_equal(err.col, 5);
    /* open schemas: unknown names read as null */
    sl_error_clear(&err);
    assert_int_equal(sl_expr_bind(p, batch.schema, 3, SL_EXPR_BIND_OPEN, &err), SL_OK);
    sl_value v;
    assert_int_equal(sl_expr_eval(p, &batch, 0, &arena, &v), SL_OK);
    assert_int_equal(v.type, SL_V_NULL);
    /* visible prefix: a column past nvisible is unknown */
    sl_error_clear(&err);
    assert_int_equal(sl_expr_bind(p, batch.schema, 2, 0, &err), SL_E_USAGE);
    sl_expr_free(p);
}

static void test_assignments(void **state)
{
    (void)state;
    sl_error err;
    sl_error_clear(&err);
    sl_expr_assign *as;
    size_t n;
    assert_int_equal(sl_expr_compile_assignments("f = round(a * 9 / 5 + 32, 2), `g h` = concat(a, \",\", b), a = 1",
                                                 0, "map", &as, &n, &err),
                     SL_OK);
    assert_int_equal(n, 3);
    assert_string_equal(as[0].name, "f");
    assert_string_equal(as[1].name, "g h");
    assert_string_equal(as[2].name, "a");
    assert_int_equal(sl_expr_bind(as[1].prog, batch.schema, UINT32_MAX, 0, &err), SL_OK);
    sl_value v;
    assert_int_equal(sl_expr_eval(as[1].prog, &batch, 0, &arena, &v), SL_OK);
    assert_string_equal(render(&v), "str \"10,3\"");
    sl_expr_assign_free(as, n);

    static const struct { const char *text; const char *msg; unsigned col; } bad[] = {
        {"", "missing assignment (expected NAME = EXPRESSION)", 1},
        {"a == 1", "unexpected '==' after 'a' (expected '=' as in NAME = EXPRESSION)", 3},
        {"a = 1,", "unexpected end of expression (expected the name of the field to set, as in NAME = EXPRESSION)", 7},
        {"a = 1, = 2", "unexpected '=' (expected the name of the field to set, as in NAME = EXPRESSION)", 8},
        {"a = 1 b = 2", "unexpected name (expected an operator, ',' before the next assignment, or the end)", 7},
        {"1 = 2", "unexpected number (expected the name of the field to set, as in NAME = EXPRESSION)", 1},
        {"a = lowr(b)", "unknown function 'lowr' (did you mean 'lower'?)", 5},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sl_error_clear(&err);
        assert_int_equal(sl_expr_compile_assignments(bad[i].text, 0, "map", &as, &n, &err), SL_E_USAGE);
        assert_null(as);
        assert_string_equal(err.msg, bad[i].msg);
        assert_int_equal(err.col, bad[i].col);
    }
}

static void test_static_types(void **state)
{
    (void)state;
    static const struct { const char *text; sl_etype t; } cases[] = {
        {"a > 1", SL_T_BOOL}, {"a", SL_T_ANY}, {"a + 1", SL_T_NUM}, {"a / 2", SL_T_DOUBLE},
        {"lower(a)", SL_T_STR}, {"a || b", SL_T_STR}, {"if(a > 1, 1, 2)", SL_T_INT},
        {"if(a > 1, 1, \"x\")", SL_T_ANY}, {"coalesce(a, 1)", SL_T_ANY}, {"null", SL_T_NULL},
        {"length(a)", SL_T_INT}, {"not a", SL_T_BOOL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sl_error err;
        sl_error_clear(&err);
        sl_expr *p = sl_expr_compile(cases[i].text, "t", &err);
        assert_non_null(p);
        assert_int_equal(sl_expr_type(p), cases[i].t);
        sl_expr_free(p);
    }
}

/* ------------------------------------------------------------------------ */
/* numbers */

static void test_num_parse(void **state)
{
    (void)state;
    static const struct { const char *s; int type; int64_t i; double d; } cases[] = {
        {"0", SL_V_INT, 0, 0}, {"-0", SL_V_INT, 0, 0}, {"+5", SL_V_INT, 5, 0}, {"007", SL_V_INT, 7, 0},
        {"123456789012345678", SL_V_INT, 123456789012345678, 0},
        {"9223372036854775807", SL_V_INT, INT64_MAX, 0}, {"-9223372036854775808", SL_V_INT, INT64_MIN, 0},
        {"9223372036854775808", SL_V_DOUBLE, 0, 9223372036854775808.0},
        {"1.5", SL_V_DOUBLE, 0, 1.5}, {".5", SL_V_DOUBLE, 0, 0.5}, {"5.", SL_V_DOUBLE, 0, 5.0},
        {"-0.0", SL_V_DOUBLE, 0, -0.0}, {"1e3", SL_V_DOUBLE, 0, 1000.0}, {"1E+3", SL_V_DOUBLE, 0, 1000.0},
        {"2.5e-3", SL_V_DOUBLE, 0, 0.0025}, {"0.1", SL_V_DOUBLE, 0, 0.1}, {"86.18", SL_V_DOUBLE, 0, 86.18},
        {"0.30000000000000004", SL_V_DOUBLE, 0, 0.30000000000000004},
        {"123456789.123456789", SL_V_DOUBLE, 0, 123456789.123456789},
        {"1e-320", SL_V_DOUBLE, 0, 1e-320}, {"1.7976931348623157e308", SL_V_DOUBLE, 0, 1.7976931348623157e308},
        {"0e999", SL_V_DOUBLE, 0, 0.0},
        {"0.000000000000000000000000000001", SL_V_DOUBLE, 0, 1e-30},
        {"100000000000000000000000", SL_V_DOUBLE, 0, 1e23},
        {"", SL_V_NULL, 0, 0}, {"-", SL_V_NULL, 0, 0}, {".", SL_V_NULL, 0, 0}, {"e5", SL_V_NULL, 0, 0},
        {"1e", SL_V_NULL, 0, 0}, {"1e+", SL_V_NULL, 0, 0}, {" 1", SL_V_NULL, 0, 0}, {"1 ", SL_V_NULL, 0, 0},
        {"0x10", SL_V_NULL, 0, 0}, {"inf", SL_V_NULL, 0, 0}, {"nan", SL_V_NULL, 0, 0}, {"1e999", SL_V_NULL, 0, 0},
        {"1.2.3", SL_V_NULL, 0, 0}, {"--1", SL_V_NULL, 0, 0}, {"1,5", SL_V_NULL, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t iv = 0;
        double dv = 0;
        int t = sl_num_parse(cases[i].s, strlen(cases[i].s), &iv, &dv);
        if (t != cases[i].type) fail_msg("'%s': type %d, expected %d", cases[i].s, t, cases[i].type);
        if (t == SL_V_INT) assert_true(iv == cases[i].i);
        if (t == SL_V_DOUBLE && memcmp(&dv, &cases[i].d, sizeof dv) != 0)
            fail_msg("'%s': %.17g, expected %.17g", cases[i].s, dv, cases[i].d);
    }
    /* the fast path agrees with strtod on many decimals */
    char buf[64];
    uint64_t seed = 12345;
    for (int i = 0; i < 200000; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        int digits = (int)(seed >> 60) + 1;   /* 1..16 */
        int scale = (int)((seed >> 52) & 31); /* 0..31 */
        uint64_t m = (seed >> 8) % 10000000000000000ull;
        uint64_t p = 1;
        for (int k = 0; k < digits; k++) p *= 10;
        m %= p;
        int n = snprintf(buf, sizeof buf, "%s%llu", (seed & 1) ? "-" : "", (unsigned long long)m);
        if (scale > 0 && scale < n) { /* insert a point */
            memmove(buf + n - scale + 1, buf + n - scale, (size_t)scale + 1);
            buf[n - scale] = '.';
            n++;
            if (buf[0] == '.' || (buf[0] == '-' && buf[1] == '.')) continue;
        }
        int64_t iv;
        double dv;
        int t = sl_num_parse(buf, (size_t)n, &iv, &dv);
        double want = strtod(buf, NULL);
        if (t == SL_V_INT) dv = (double)iv;
        if (dv != want) fail_msg("'%s': %.17g, strtod %.17g", buf, dv, want);
        /* the inline short form gives the same type and bits */
        int64_t iv2 = 0;
        double dv2 = 0;
        int t2 = sl_num_parse_short(buf, (size_t)n, &iv2, &dv2);
        if (t2 != t || (t == SL_V_INT && iv2 != iv) || (t == SL_V_DOUBLE && memcmp(&dv, &dv2, sizeof dv) != 0))
            fail_msg("'%s': short form type %d %.17g, full %d %.17g", buf, t2, dv2, t, dv);
    }
    /* short strings of digits, points, signs and other bytes: the word-at-a-
       time path of the short form (up to 8 bytes) against the full parser */
    static const char alpha[] = "0123456789012345678901234567890123456789..--+e x,/:\x80\xff";
    for (int i = 0; i < 300000; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        size_t n = (size_t)(seed >> 59) % 11; /* 0..10 */
        char t[16];
        uint64_t r = seed;
        for (size_t k = 0; k < n; k++) {
            r = r * 6364136223846793005ull + 1442695040888963407ull;
            t[k] = alpha[(r >> 33) % (sizeof alpha - 1)];
        }
        int64_t iv = 0, iv2 = 0;
        double dv = 0, dv2 = 0;
        int t1 = sl_num_parse(t, n, &iv, &dv);
        int t2 = sl_num_parse_short(t, n, &iv2, &dv2);
        if (t2 != t1 || (t1 == SL_V_INT && iv2 != iv) || (t1 == SL_V_DOUBLE && memcmp(&dv, &dv2, sizeof dv) != 0))
            fail_msg("'%.*s': short form type %d %lld %.17g, full %d %lld %.17g", (int)n, t, t2, (long long)iv2, dv2, t1,
                     (long long)iv, dv);
    }
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t iv = 0, iv2 = 0;
        double dv = 0, dv2 = 0;
        int t = sl_num_parse(cases[i].s, strlen(cases[i].s), &iv, &dv);
        int t2 = sl_num_parse_short(cases[i].s, strlen(cases[i].s), &iv2, &dv2);
        if (t2 != t || (t == SL_V_INT && iv2 != iv) || (t == SL_V_DOUBLE && memcmp(&dv, &dv2, sizeof dv) != 0))
            fail_msg("'%s': short form type %d, full %d", cases[i].s, t2, t);
    }
}

static void test_num_format(void **state)
{
    (void)state;
    /* sl_num_reread is what parsing the written text gives, also for the
       integral doubles from 1e15 to 1e17 that are written without an
       exponent when they need every digit (6305039478318694) */
    {
        static const double probes[] = {1e15, 2e15, 6305039478318694.0, 9007199254740992.0, 1e16, 12345678901234568.0,
                                        99999999999999984.0, 1e17, 123.5, -6305039478318694.0, -1e15, 0.1, 5e-324};
        uint64_t sd = 99;
        for (int i = 0; i < 200000 + (int)(sizeof probes / sizeof probes[0]); i++) {
            double d;
            if (i < (int)(sizeof probes / sizeof probes[0])) {
                d = probes[i];
            } else {
                sd = sd * 6364136223846793005ull + 1442695040888963407ull;
                d = (double)(int64_t)((sd >> 8) % 200000000000000000ull) * ((sd & 1) ? -1 : 1);
                if (sd & 2) d = nextafter(d, 0);
            }
            char t[40];
            size_t n = sl_num_format_double(d, t);
            int64_t i1 = 0, i2 = 0;
            double d1 = 0, d2 = 0;
            int k1 = sl_num_parse(t, n, &i1, &d1), k2 = sl_num_reread(d, &i2, &d2);
            if (k1 != k2 || (k1 == SL_V_INT && i1 != i2) || (k1 == SL_V_DOUBLE && memcmp(&d1, &d2, sizeof d1) != 0))
                fail_msg("%.17g written as %.*s: parse %d, reread %d", d, (int)n, t, k1, k2);
        }
    }
    static const struct { double d; const char *s; } cases[] = {
        {0.0, "0"}, {-0.0, "0"}, {14.0, "14"}, {-10.0, "-10"}, {72.5, "72.5"}, {86.18, "86.18"},
        {60.44, "60.44"}, {0.1, "0.1"}, {0.30000000000000004, "0.30000000000000004"}, {1.0 / 3, "0.3333333333333333"},
        {2.0 / 3, "0.6666666666666666"}, {1e20, "1e+20"}, {1e15, "1e+15"}, {123456789012345.0, "123456789012345"},
        {0.0001, "0.0001"}, {0.00001, "1e-05"}, {1e-300, "1e-300"}, {1.7976931348623157e308, "1.7976931348623157e+308"},
        {5e-324, "4.94065645841247e-324"}, {9007199254740993.0, "9007199254740992"}, {123.456, "123.456"}, {-0.5, "-0.5"},
        {100.0, "100"}, {1234567.125, "1234567.125"}, {0.1 + 0.7, "0.7999999999999999"},
    };
    char buf[40];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = sl_num_format_double(cases[i].d, buf);
        buf[n] = 0;
        if (strcmp(buf, cases[i].s) != 0) fail_msg("%.17g: '%s', expected '%s'", cases[i].d, buf, cases[i].s);
    }
    /* round trip and shortest on many values */
    uint64_t seed = 99;
    for (int i = 0; i < 200000; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        double d;
        uint64_t bits = seed;
        memcpy(&d, &bits, sizeof d);
        if (!isfinite(d)) continue;
        if (i % 3 == 1) d = (double)(int64_t)(seed >> 20) / 1000.0; /* decimal-looking values too */
        if (i % 3 == 2) d = ldexp((double)(seed >> 11), (int)(seed % 64) - 66); /* 1e-4 .. 1e15: 16-17 digits */
        size_t n = sl_num_format_double(d, buf);
        buf[n] = 0;
        if (strtod(buf, NULL) != d) fail_msg("%.17g printed as '%s' does not read back", d, buf);
        char g[40];
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(g, sizeof g, "%.*g", prec, d);
            if (strtod(g, NULL) == d) break;
        }
        if (d == 0) strcpy(g, "0");
        if (strcmp(buf, g) != 0) fail_msg("%.17g printed as '%s', %%g gives '%s'", d, buf, g);
    }
    assert_int_equal(sl_num_format_int(INT64_MIN, buf), 20);
    buf[20] = 0;
    assert_string_equal(buf, "-9223372036854775808");
}

static void test_value_to_cell(void **state)
{
    (void)state;
    sl_cell c;
    sl_value v = {.type = SL_V_DOUBLE, .u.d = 14.0};
    assert_int_equal(sl_value_to_cell(&v, &arena, &c), SL_OK);
    assert_int_equal(c.kind, SL_NUMBER);
    assert_int_equal(c.len, 2);
    assert_memory_equal(c.p, "14", 2);
    v = (sl_value){.type = SL_V_INT, .u.i = -5};
    assert_int_equal(sl_value_to_cell(&v, &arena, &c), SL_OK);
    assert_int_equal(c.kind, SL_NUMBER);
    assert_memory_equal(c.p, "-5", 2);
    v = (sl_value){.type = SL_V_BOOL, .u.b = false};
    assert_int_equal(sl_value_to_cell(&v, &arena, &c), SL_OK);
    assert_int_equal(c.kind, SL_BOOL);
    assert_int_equal(c.len, 5);
    v = (sl_value){.type = SL_V_NULL};
    assert_int_equal(sl_value_to_cell(&v, &arena, &c), SL_OK);
    assert_int_equal(c.kind, SL_NULL);
    char tmp[4] = "abc";
    v = (sl_value){.type = SL_V_STRING, .kind = SL_STRING, .scratch = 1, .len = 3, .u.s = tmp};
    assert_int_equal(sl_value_to_cell(&v, &arena, &c), SL_OK);
    assert_int_equal(c.kind, SL_STRING);
    assert_ptr_not_equal(c.p, tmp); /* copied out of the scratch arena */
    assert_memory_equal(c.p, "abc", 3);
    v = (sl_value){.type = SL_V_TEXT, .kind = SL_NUMBER, .len = 3, .u.s = "1e3"};
    assert_int_equal(sl_value_to_cell(&v, &arena, &c), SL_OK);
    assert_int_equal(c.kind, SL_NUMBER);
    assert_ptr_equal(c.p, v.u.s); /* borrowed: not copied */
    /* over the cap */
    sl_arena small;
    sl_arena_init(&small, 16, 16);
    v = (sl_value){.type = SL_V_STRING, .scratch = 1, .len = 100, .u.s = out};
    assert_int_equal(sl_value_to_cell(&v, &small, &c), SL_E_NOMEM);
    sl_arena_fini(&small);
}

static void test_function_table(void **state)
{
    (void)state;
    static const char *const required[] = {
        "lower", "upper", "trim", "ltrim", "rtrim", "length", "substr", "replace", "contains", "starts_with",
        "ends_with", "split_part", "concat", "regex_replace", "regex_extract", "int", "float", "string", "bool",
        "to_int", "to_float", "abs", "round", "floor", "ceil", "min", "max", "pow", "sqrt", "coalesce", "if",
        "is_null", "is_number", "strptime", "strftime", "now", "hash", "md5", "sha256",
    };
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
        int found = 0;
        for (int k = 0; sl_expr_funcs[k].name; k++)
            if (strcmp(sl_expr_funcs[k].name, required[i]) == 0) found = 1;
        if (!found) fail_msg("function %s missing", required[i]);
    }
    for (int k = 0; sl_expr_funcs[k].name; k++) {
        const sl_expr_func *f = &sl_expr_funcs[k];
        assert_non_null(f->signature);
        assert_non_null(f->summary);
        assert_true(strncmp(f->signature, f->name, strlen(f->name)) == 0);
        if (sl_expr_funcs[k + 1].name) assert_true(strcmp(f->name, sl_expr_funcs[k + 1].name) < 0);
    }
    /* docs/expressions.md lists every function by its signature */
    char path[4096];
    snprintf(path, sizeof path, "%s", __FILE__);
    char *slash = strrchr(path, '/');
    assert_non_null(slash);
    snprintf(slash, sizeof path - (size_t)(slash - path), "/../../docs/expressions.md");
    FILE *f = fopen(path, "r");
    if (!f) fail_msg("cannot open %s", path);
    static char docs[1 << 17];
    size_t n = fread(docs, 1, sizeof docs - 1, f);
    fclose(f);
    docs[n] = 0;
    for (int k = 0; sl_expr_funcs[k].name; k++) {
        char want[200];
        snprintf(want, sizeof want, "| `%s` |", sl_expr_funcs[k].signature);
        if (!strstr(docs, want)) fail_msg("docs/expressions.md lacks the line for %s", sl_expr_funcs[k].signature);
    }
}

/* ------------------------------------------------------------------------ */
/* the stages, on a fake upstream stage */

typedef struct fake_src {
    sl_batch b;
    int batches;   /* how many times to hand out b */
    bool keep_sel; /* hand out b's selection as it is */
} fake_src;

static int fake_next(sl_stage *st, sl_batch **out)
{
    fake_src *f = st->state;
    if (f->batches == 0) return SL_DONE;
    f->batches--;
    if (!f->keep_sel) f->b.has_sel = false; /* the owner resets the selection on refill */
    *out = &f->b;
    return SL_BATCH;
}

static const sl_stage_type fake_type = {.name = "fake", .next = fake_next};

typedef struct stage_h {
    sl_run run;
    sl_input input;
    fake_src src;
    sl_stage up, st;
} stage_h;

/* a batch of the sensor readings, as a CSV reader would make it */
static void stage_h_init(stage_h *h, const sl_stage_type *type, const char *text, int batches)
{
    memset(h, 0, sizeof *h);
    sl_options_defaults(&h->run.opt);
    h->input.name = "readings.csv";
    h->run.inputs = &h->input;
    h->run.ninputs = 1;
    static const char *const vals[] = {"22.5", "-10.0", "30.1", "-45.0", "150.0", "15.8", "abc"};
    const char *names[] = {"id", "celsius"};
    sl_schema *s = sl_schema_new(2, names, NULL);
    assert_int_equal(sl_batch_init(&h->src.b, 16, 2, 0), SL_OK);
    assert_int_equal(sl_batch_reset(&h->src.b, s, 2), SL_OK);
    sl_schema_unref(s);
    static const char *const ids[] = {"1", "2", "3", "4", "5", "6", "7"};
    for (uint32_t r = 0; r < 7; r++) {
        h->src.b.cells[r * 2] = (sl_cell){ids[r], 1, SL_TEXT, {0}};
        h->src.b.cells[r * 2 + 1] = (sl_cell){vals[r], (uint32_t)strlen(vals[r]), SL_TEXT, {0}};
        h->src.b.info[r] = (sl_rowinfo){.line = r + 2, .record = r + 1};
    }
    h->src.b.nrows = 7;
    h->src.batches = batches;
    h->up = (sl_stage){.type = &fake_type, .run = &h->run, .state = &h->src};
    h->st = (sl_stage){.type = type, .input = &h->up, .run = &h->run, .index = 1, .text = text};
}

static void stage_h_fini(stage_h *h)
{
    h->st.type->close(&h->st);
    sl_batch_fini(&h->src.b);
}

static const char *stage_args(const char *text) { return strchr(text, ' ') + 1; }

static void render_batch(const sl_batch *b, char *buf, size_t cap)
{
    size_t o = 0;
    for (uint32_t c = 0; c < b->schema->ncols; c++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%s", c ? "," : "", b->schema->names[c]);
    for (uint32_t i = 0; i < sl_batch_live(b); i++) {
        uint32_t r = sl_batch_row(b, i);
        o += (size_t)snprintf(buf + o, cap - o, "\n");
        for (uint32_t c = 0; c < b->schema->ncols; c++) {
            const sl_cell *cell = sl_batch_cell(b, r, c);
            static const char kinds[] = "0-TSNBJ";
            o += (size_t)snprintf(buf + o, cap - o, "%s%.*s:%c", c ? "," : "", (int)cell->len, cell->p ? cell->p : "",
                                  kinds[cell->kind]);
        }
    }
}

static void test_filter_stage(void **state)
{
    (void)state;
    stage_h h;
    const char *text = "filter celsius >= -40 and celsius <= 85 and is_number(celsius)";
    stage_h_init(&h, &sl_filter_stage_type, text, 2);
    assert_int_equal(h.st.type->create(&h.st, stage_args(text), &h.run.err), SL_OK);
    assert_int_equal(h.st.type->open(&h.st), SL_OK);
    sl_batch *b;
    assert_int_equal(h.st.type->next(&h.st, &b), SL_BATCH);
    assert_ptr_equal(b, &h.src.b); /* the same batch, narrowed */
    assert_true(b->has_sel);
    assert_int_equal(b->nsel, 4);
    assert_int_equal(b->sel[0], 0);
    assert_int_equal(b->sel[1], 1);
    assert_int_equal(b->sel[2], 2);
    assert_int_equal(b->sel[3], 5);
    assert_int_equal(h.st.type->next(&h.st, &b), SL_BATCH);
    assert_int_equal(b->nsel, 4);
    assert_int_equal(h.st.type->next(&h.st, &b), SL_DONE);
    stage_h_fini(&h);

    /* batches left empty are not passed on */
    text = "filter is_number(celsius) and celsius > 1000";
    stage_h_init(&h, &sl_filter_stage_type, text, 3);
    assert_int_equal(h.st.type->create(&h.st, stage_args(text), &h.run.err), SL_OK);
    assert_int_equal(h.st.type->next(&h.st, &b), SL_DONE);
    assert_int_equal(h.src.batches, 0);
    stage_h_fini(&h);
}

static void test_filter_stage_errors(void **state)
{
    (void)state;
    stage_h h;
    /* a record error stops the run by default, with its position */
    const char *text = "filter to_float(celsius) > 0";
    stage_h_init(&h, &sl_filter_stage_type, text, 1);
    assert_int_equal(h.st.type->create(&h.st, stage_args(text), &h.run.err), SL_OK);
    sl_batch *b;
    assert_int_equal(h.st.type->next(&h.st, &b), SL_E_DATA);
    assert_string_equal(h.run.err.stage, "filter");
    assert_string_equal(h.run.err.input, "readings.csv");
    assert_int_equal(h.run.err.line, 8);
    assert_int_equal(h.run.err.record, 7);
    assert_string_equal(h.run.err.msg, "to_float: cannot convert \"abc\" to a number (expected a number such as 2.5)");
    stage_h_fini(&h);

    /* --on-error skip drops it and goes on */
    stage_h_init(&h, &sl_filter_stage_type, text, 1);
    h.run.opt.on_error = SL_ONERR_SKIP;
    assert_int_equal(h.st.type->create(&h.st, stage_args(text), &h.run.err), SL_OK);
    assert_int_equal(h.st.type->next(&h.st, &b), SL_BATCH);
    assert_int_equal(b->nsel, 4);
    assert_int_equal(h.run.bad_records, 1);
    stage_h_fini(&h);

    /* compile errors point into the stage text */
    text = "filter celsius >= -40 andd x";
    stage_h_init(&h, &sl_filter_stage_type, text, 1);
    assert_int_equal(h.st.type->create(&h.st, stage_args(text), &h.run.err), SL_E_USAGE);
    assert_int_equal(h.run.err.col, 23);
    assert_string_equal(h.run.err.detail, "  filter celsius >= -40 andd x\n                        ^");
    stage_h_fini(&h);

    text = "filter celsius * 2";
    stage_h_init(&h, &sl_filter_stage_type, text, 1);
    assert_int_equal(h.st.type->create(&h.st, stage_args(text), &h.run.err), SL_E_USAGE);
    assert_string_equal(h.run.err.msg, "a filter needs a condition that is true or false, but this expression gives a number");
    assert_string_equal(h.run.err.detail, "  filter celsius * 2\n         ^");
    stage_h_fini(&h);

    /* unknown field: when the first batch arrives */
    text = "filter celsus > 1";
    stage_h_init(&h, &sl_filter_stage_type, text, 1);
    assert_int_equal(h.st.type->create(&h.st, stage_args(text), &h.run.err), SL_OK);
    assert_int_equal(h.st.type->next(&h.st, &b), SL_E_USAGE);
    assert_string_equal(h.run.err.msg, "no field 'celsus' in input; fields are: id, celsius");
    assert_string_equal(h.run.err.detail, "  filter celsus > 1\n         ^");
    stage_h_fini(&h);

    /* a non-boolean value at run time */
    text = "filter if(id == 7, celsius, true)";
    stage_h_init(&h, &sl_filter_stage_type, text, 1);
    assert_int_equal(h.st.type->create(&h.st, stage_args(text), &h.run.err), SL_OK);
    assert_int_equal(h.st.type->next(&h.st, &b), SL_E_DATA);
    assert_string_equal(h.run.err.msg, "condition: \"abc\" is not a boolean (expected true or false)");
    stage_h_fini(&h);
}

static void test_map_stage(void **state)
{
    (void)state;
    stage_h h;
    char buf[2048];
    const char *text = "map f = round(celsius * 9 / 5 + 32, 2), celsius = -celsius, big = f > 70, s = \"x\" || id, "
                       "n = null, f = f + 0";
    stage_h_init(&h, &sl_map_stage_type, text, 2);
    h.src.b.nrows = 6; /* without the "abc" row */
    h.run.opt.batch_rows = 4; /* output in parts */
    assert_int_equal(h.st.type->create(&h.st, stage_args(text), &h.run.err), SL_OK);
    assert_int_equal(h.st.type->open(&h.st), SL_OK);
    sl_batch *b;
    assert_int_equal(h.st.type->next(&h.st, &b), SL_BATCH);
    render_batch(b, buf, sizeof buf);
    assert_string_equal(buf, "id,celsius,f,big,s,n\n"
                             "1:T,-22.5:N,72.5:N,true:B,x1:S,:0\n"
                             "2:T,10:N,14:N,false:B,x2:S,:0\n"
                             "3:T,-30.1:N,86.18:N,true:B,x3:S,:0\n"
                             "4:T,45:N,-49:N,false:B,x4:S,:0");
    assert_int_equal(b->info[3].line, 5);
    assert_int_equal(h.st.type->next(&h.st, &b), SL_BATCH);
    render_batch(b, buf, sizeof buf);
    assert_string_equal(buf, "id,celsius,f,big,s,n\n"
                             "5:T,-150:N,302:N,true:B,x5:S,:0\n"
                             "6:T,-15.8:N,60.44:N,false:B,x6:S,:0");
    assert_int_equal(b->info[1].record, 6);
    /* the second input batch: same schema, same plan */
    assert_int_equal(h.st.type->next(&h.st, &b), SL_BATCH);
    assert_int_equal(b->nrows, 4);
    assert_int_equal(h.st.type->next(&h.st, &b), SL_BATCH);
    assert_int_equal(h.st.type->next(&h.st, &b), SL_DONE);
    stage_h_fini(&h);

    /* a selection on the input is honoured; cells of untouched fields keep their kind */
    text = "map id = id";
    stage_h_init(&h, &sl_map_stage_type, text, 1);
    assert_int_equal(sl_batch_ensure_sel(&h.src.b), SL_OK);
    assert_int_equal(h.st.type->create(&h.st, stage_args(text), &h.run.err), SL_OK);
    assert_int_equal(h.st.type->open(&h.st), SL_OK);
    h.src.b.sel[0] = 6;
    h.src.b.sel[1] = 2;
    h.src.b.nsel = 2;
    h.src.keep_sel = true;
    assert_int_equal(h.st.type->next(&h.st, &b), SL_BATCH);
    render_batch(b, buf, sizeof buf);
    assert_string_equal(buf, "id,celsius\n7:T,abc:T\n3:T,30.1:T");
    assert_int_equal(b->info[0].line, 8);
    stage_h_fini(&h);
}

static void test_map_stage_errors(void **state)
{
    (void)state;
    stage_h h;
    sl_batch *b;
    char buf[2048];
    const char *text = "map f = to_float(celsius) * 2";
    stage_h_init(&h, &sl_map_stage_type, text, 1);
    assert_int_equal(h.st.type->create(&h.st, stage_args(text), &h.run.err), SL_OK);
    assert_int_equal(h.st.type->open(&h.st), SL_OK);
    assert_int_equal(h.st.type->next(&h.st, &b), SL_E_DATA);
    assert_string_equal(h.run.err.msg, "setting f: to_float: cannot convert \"abc\" to a number (expected a number such as 2.5)");
    assert_int_equal(h.run.err.line, 8);
    assert_string_equal(h.run.err.input, "readings.csv");
    stage_h_fini(&h);

    stage_h_init(&h, &sl_map_stage_type, text, 1);
    h.run.opt.on_error = SL_ONERR_SKIP;
    assert_int_equal(h.st.type->create(&h.st, stage_args(text), &h.run.err), SL_OK);
    assert_int_equal(h.st.type->open(&h.st), SL_OK);
    assert_int_equal(h.st.type->next(&h.st, &b), SL_BATCH);
    assert_int_equal(sl_batch_live(b), 6);
    render_batch(b, buf, sizeof buf);
    assert_string_equal(strrchr(buf, '\n'), "\n6:T,15.8:T,31.6:N");
    assert_int_equal(h.run.bad_records, 1);
    stage_h_fini(&h);

    /* a later assignment sees an earlier one, not the other way round */
    text = "map a = b + 1, b = 2";
    stage_h_init(&h, &sl_map_stage_type, text, 1);
    assert_int_equal(h.st.type->create(&h.st, stage_args(text), &h.run.err), SL_OK);
    assert_int_equal(h.st.type->open(&h.st), SL_OK);
    assert_int_equal(h.st.type->next(&h.st, &b), SL_E_USAGE);
    assert_string_equal(h.run.err.msg, "no field 'b' in input; fields are: id, celsius");
    assert_string_equal(h.run.err.detail, "  map a = b + 1, b = 2\n          ^");
    stage_h_fini(&h);

    text = "map a = 1, b = a + 1, a = b * 10";
    stage_h_init(&h, &sl_map_stage_type, text, 1);
    h.src.b.nrows = 1;
    assert_int_equal(h.st.type->create(&h.st, stage_args(text), &h.run.err), SL_OK);
    assert_int_equal(h.st.type->open(&h.st), SL_OK);
    assert_int_equal(h.st.type->next(&h.st, &b), SL_BATCH);
    render_batch(b, buf, sizeof buf);
    assert_string_equal(buf, "id,celsius,a,b\n1:T,22.5:T,20:N,2:N");
    stage_h_fini(&h);

    text = "map x == 1";
    stage_h_init(&h, &sl_map_stage_type, text, 1);
    assert_int_equal(h.st.type->create(&h.st, stage_args(text), &h.run.err), SL_E_USAGE);
    assert_string_equal(h.run.err.detail, "  map x == 1\n        ^");
    stage_h_fini(&h);
}


/* ------------------------------------------------------------------------ */
/* the batch form (vec.c) against the interpreter, row by row */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void test_batch_eval_matches_rows(void **state)
{
    (void)state;
    static const fcell pool[] = {
        {"", "22.5", SL_TEXT},      {"", "-10.0", SL_TEXT},    {"", "3", SL_TEXT},
        {"", "-40", SL_TEXT},       {"", "85", SL_NUMBER},     {"", "0", SL_TEXT},
        {"", "-0.0", SL_TEXT},      {"", "", SL_NULL},         {"", "", SL_ABSENT},
        {"", "", SL_TEXT},          {"", "abc", SL_TEXT},      {"", "5", SL_STRING},
        {"", "true", SL_BOOL},      {"", "{\"a\":1}", SL_JSON}, {"", "007", SL_TEXT},
        {"", " 5", SL_TEXT},        {"", "1e308", SL_TEXT},    {"", "9223372036854775807", SL_TEXT},
        {"", "-9223372036854775808", SL_TEXT}, {"", "9007199254740993", SL_TEXT},
        {"", "0.1", SL_TEXT},       {"", "1e-300", SL_NUMBER}, {"", "inf", SL_TEXT},
        {"", "102.02000000000001", SL_NUMBER}, {"", "-3", SL_TEXT}, {"", "7", SL_TEXT},
    };
    const size_t npool = sizeof pool / sizeof pool[0];
    static const char *const exprs[] = {
        "p + q", "p - q * 2", "p / q", "p // q", "p % q", "-p", "-(p * q)", "p * 1e308", "p * 9 / 5 + 32",
        "(p + q) * (r - 1) / 7", "p + 9223372036854775807", "p * 3", "p - 1", "p >= -40 and q <= 85",
        "not (p < q) or r == 3", "p == q", "p != 2.5", "p > 9007199254740992", "p <= r", "true and p > 0",
        "false or not (q >= 1.5)", "abs(p) + round(q, 1)", "pow(p, 2)", "sqrt(p)", "floor(p / 3)", "ceil(q)",
        "round(p * 9 / 5 + 32, 2)", "round(p, r)", "1 + 2", "2.5 * 4", "p / 0", "p // 0.0", "p % -3",
        "-(-p) // 2", "pow(p, q)", "abs(-9223372036854775807 - 1 + p * 0)",
    };
    /* three regions of 1000 rows, each evaluated as one call: anything
       (mostly rows left to the interpreter); numbers only, p all doubles, q
       doubles and small integers, r small integers (the plain loops);
       numbers only with integers past 2^53 and huge doubles in p */
    static const fcell dbl[] = {{"", "22.5", SL_TEXT}, {"", "-10.0", SL_TEXT}, {"", "0.1", SL_TEXT},
                                {"", "-0.0", SL_TEXT}, {"", "1e-300", SL_NUMBER}, {"", "102.02000000000001", SL_NUMBER},
                                {"", "85.0", SL_TEXT}, {"", "-40.5", SL_TEXT}};
    static const fcell small[] = {{"", "3", SL_TEXT}, {"", "-40", SL_TEXT}, {"", "0", SL_TEXT}, {"", "85", SL_NUMBER},
                                  {"", "7", SL_TEXT}, {"", "-3", SL_TEXT}, {"", "2", SL_TEXT}};
    static const fcell wide[] = {{"", "9223372036854775807", SL_TEXT}, {"", "-9223372036854775808", SL_TEXT},
                                 {"", "9007199254740993", SL_TEXT}, {"", "9007199254740992", SL_TEXT},
                                 {"", "1e308", SL_TEXT}, {"", "-1.5e308", SL_TEXT}, {"", "12", SL_TEXT}};
    enum { ROWS = 3000, REGION = 1000 };
    const char *names[] = {"p", "q", "r"};
    sl_schema *sch = sl_schema_new(3, names, NULL);
    assert_non_null(sch);
    sl_batch b;
    assert_int_equal(sl_batch_init(&b, ROWS, 3, 0), SL_OK);
    assert_int_equal(sl_batch_reset(&b, sch, 3), SL_OK);
    sl_schema_unref(sch);
    /* column r of the first region also has numbers computed upstream
       beside its text */
    static double rnum[ROWS];
    static char texts[ROWS][40];
    const double *dnum[3] = {NULL, NULL, rnum};
#define PICK(arr) (&(arr)[rng() % (sizeof(arr) / sizeof((arr)[0]))])
    for (uint32_t row = 0; row < ROWS; row++) {
        for (uint32_t c = 0; c < 3; c++) {
            const fcell *f;
            if (row < REGION) f = &pool[rng() % npool];
            else if (row < 2 * REGION) f = c == 0 ? PICK(dbl) : c == 1 ? (rng() & 1 ? PICK(dbl) : PICK(small)) : PICK(small);
            else f = c == 0 ? (rng() & 1 ? PICK(wide) : PICK(small)) : c == 1 ? PICK(dbl) : (rng() & 1 ? PICK(dbl) : PICK(wide));
            b.cells[row * 3 + c] = (sl_cell){f->text, (uint32_t)strlen(f->text), (uint8_t)f->kind, {0}};
        }
        rnum[row] = NAN;
        if (row < REGION && row % 5 == 0) { /* as map leaves it: the double and its shortest text */
            double d = (double)(int64_t)(rng() % 20001 - 10000) / 10 * 9 / 5 + 32;
            size_t n = sl_num_format_double(d, texts[row]);
            b.cells[row * 3 + 2] = (sl_cell){texts[row], (uint32_t)n, SL_NUMBER, {0}};
            rnum[row] = d;
        }
    }
#undef PICK
    b.nrows = ROWS;
    b.dnum = dnum;
    uint32_t *rows = malloc(ROWS * sizeof *rows);
    assert_non_null(rows);
    for (uint32_t i = 0; i < ROWS; i++) /* every row of each region, out of order */
        rows[i] = i / REGION * REGION + (i % REGION * 7919u) % REGION;
    sl_error err = {0};
    for (size_t e = 0; e < sizeof exprs / sizeof exprs[0]; e++) {
        sl_expr *p = sl_expr_compile(exprs[e], "test", &err);
        assert_non_null(p);
        if (!sl_expr_batchable(p)) fail_msg("not batchable: %s", exprs[e]);
        assert_int_equal(sl_expr_bind(p, b.schema, UINT32_MAX, 0, &err), SL_OK);
        uint32_t batched = 0, alone = 0;
        for (uint32_t at = 0; at < ROWS; at += REGION) {
            uint32_t n = REGION;
            const sl_value *vals = sl_expr_eval_rows(p, &b, rows + at, n, &arena);
            sl_value keep[SL_EXPR_BATCH];
            memcpy(keep, vals, n * sizeof *keep);
            for (uint32_t i = 0; i < n; i++) {
                sl_value want;
                int rc = sl_expr_eval(p, &b, rows[at + i], &arena, &want);
                if (keep[i].type == SL_V_ROW) {
                    alone++;
                    continue;
                }
                batched++;
                if (rc != SL_OK) fail_msg("%s, row %u: batch gave a value, rows gave an error", exprs[e], rows[at + i]);
                char got_s[64], want_s[64];
                snprintf(want_s, sizeof want_s, "%s", render(&want));
                snprintf(got_s, sizeof got_s, "%s", render(&keep[i]));
                if (strcmp(got_s, want_s) != 0 || keep[i].type != want.type ||
                    (want.type == SL_V_DOUBLE && memcmp(&keep[i].u.d, &want.u.d, sizeof want.u.d) != 0))
                    fail_msg("%s, row %u (p=%.*s q=%.*s r=%.*s): batch %s, rows %s", exprs[e], rows[at + i],
                             (int)b.cells[rows[at + i] * 3].len, b.cells[rows[at + i] * 3].p ? b.cells[rows[at + i] * 3].p : "",
                             (int)b.cells[rows[at + i] * 3 + 1].len, b.cells[rows[at + i] * 3 + 1].p ? b.cells[rows[at + i] * 3 + 1].p : "",
                             (int)b.cells[rows[at + i] * 3 + 2].len, b.cells[rows[at + i] * 3 + 2].p ? b.cells[rows[at + i] * 3 + 2].p : "",
                             got_s, want_s);
            }
            sl_arena_reset(&arena);
        }
        /* both forms were exercised */
        if (batched == 0 || (alone == 0 && p->nrefs > 0))
            fail_msg("%s: %u rows batched, %u alone", exprs[e], batched, alone);
        sl_expr_free(p);
    }
    /* no batch form: strings, regexes, a bare field (passed on as its text) */
    static const char *const rowwise[] = {"p", "p || q", "p =~ \"a\"", "lower(p) == \"x\"", "coalesce(p, 1)",
                                          "if(p > 1, 1, 2)", "p == null", "is_null(p)", "p > \"a\""};
    for (size_t e = 0; e < sizeof rowwise / sizeof rowwise[0]; e++) {
        sl_expr *p = sl_expr_compile(rowwise[e], "test", &err);
        assert_non_null(p);
        if (sl_expr_batchable(p)) fail_msg("batchable: %s", rowwise[e]);
        sl_expr_free(p);
    }
    free(rows);
    b.dnum = NULL;
    sl_batch_fini(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literals),
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_arithmetic),
        cmocka_unit_test(test_arith_null_zero_overflow),
        cmocka_unit_test(test_arith_type_errors),
        cmocka_unit_test(test_concat),
        cmocka_unit_test(test_comparison),
        cmocka_unit_test(test_comparison_null),
        cmocka_unit_test(test_logic),
        cmocka_unit_test(test_regex),
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_string_functions),
        cmocka_unit_test(test_regex_functions),
        cmocka_unit_test(test_casts),
        cmocka_unit_test(test_math_functions),
        cmocka_unit_test(test_null_functions),
        cmocka_unit_test(test_time_functions),
        cmocka_unit_test(test_hash_functions),
        cmocka_unit_test(test_function_errors),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_caret_detail),
        cmocka_unit_test(test_assignments),
        cmocka_unit_test(test_static_types),
        cmocka_unit_test(test_num_parse),
        cmocka_unit_test(test_num_format),
        cmocka_unit_test(test_value_to_cell),
        cmocka_unit_test(test_function_table),
        cmocka_unit_test(test_filter_stage),
        cmocka_unit_test(test_filter_stage_errors),
        cmocka_unit_test(test_map_stage),
        cmocka_unit_test(test_map_stage_errors),
        cmocka_unit_test(test_batch_eval_matches_rows),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
