/*
 * test_db.c - database names, password redaction, the column types tables
 * are created with, and identifier quoting.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "io/db.h"

static void test_names(void **state)
{
    (void)state;
    assert_true(sl_db_is_name("sqlite:a.db?table=t"));
    assert_true(sl_db_is_name("postgres://u@h/db?table=t"));
    assert_true(sl_db_is_name("postgresql://u@h/db?table=t"));
    assert_false(sl_db_is_name("sales.csv"));
    assert_false(sl_db_is_name("sqlite.csv"));
    assert_false(sl_db_is_name("postgres:x"));

    sl_error e;
    sl_error_clear(&e);
    sl_dburl u;
    assert_int_equal(sl_dburl_parse("sqlite:dir/a%20b.db?table=my+t&mode=replace&create=no", &u, "t", &e), SL_OK);
    assert_int_equal(u.kind, SL_DB_SQLITE);
    assert_string_equal(u.target, "dir/a b.db");
    assert_string_equal(u.table, "my t");
    assert_null(u.query);
    assert_int_equal(u.mode, SL_DBMODE_REPLACE);
    assert_false(u.create);
    sl_dburl_free(&u);

    assert_int_equal(sl_dburl_parse("sqlite:///abs/x.db?query=SELECT+a,b+FROM+t+WHERE+c%3D%27x%27", &u, "t", &e), SL_OK);
    assert_string_equal(u.target, "/abs/x.db");
    assert_string_equal(u.query, "SELECT a,b FROM t WHERE c='x'");
    sl_dburl_free(&u);

    /* libpq's keys stay in the URI, sluice's are taken out; the shown name
       hides the password */
    assert_int_equal(sl_dburl_parse("postgres://etl:pw123@db:5433/dw?sslmode=require&table=ev&connect_timeout=5", &u,
                                    "t", &e), SL_OK);
    assert_int_equal(u.kind, SL_DB_POSTGRES);
    assert_string_equal(u.target, "postgres://etl:pw123@db:5433/dw?sslmode=require&connect_timeout=5");
    assert_string_equal(u.table, "ev");
    assert_string_equal(u.shown, "postgres://etl:***@db:5433/dw?sslmode=require&table=ev&connect_timeout=5");
    sl_dburl_free(&u);
}

static void test_name_errors(void **state)
{
    (void)state;
    static const struct {
        const char *name, *want;
    } bad[] = {
        {"sqlite:a.db", "names no table"},
        {"sqlite:a.db?table=t&query=SELECT+1", "both table= and query="},
        {"sqlite:a.db?table=t&mode=sometimes", "expected mode=append, replace or fail"},
        {"sqlite:a.db?table=t&create=maybe", "expected create=yes or create=no"},
        {"sqlite:a.db?table=t&sslmode=require", "unknown key 'sslmode'"},
        {"sqlite:a.db?table=%zz", "bad %XX escape"},
        {"sqlite:a.db?table=%00", "bad %XX escape"},
        {"sqlite:?table=t", "names no database file"},
        {"sqlite:a.db?table", "is not KEY=VALUE"},
        {"postgres://u:secret@h/db?table=", "the table name is empty"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sl_error e;
        sl_error_clear(&e);
        sl_dburl u;
        assert_int_equal(sl_dburl_parse(bad[i].name, &u, "t", &e), SL_E_USAGE);
        if (!strstr(e.msg, bad[i].want))
            fail_msg("%s: message '%s' lacks '%s'", bad[i].name, e.msg, bad[i].want);
        assert_null(strstr(e.msg, "secret"));
        sl_dburl_free(&u);
    }
}

static void test_redact(void **state)
{
    (void)state;
    char a[] = "cannot reach postgres://user:hunter2@host:5432/db?table=t and postgresql://u:p@h/x; done";
    sl_redact_secrets(a);
    assert_string_equal(a, "cannot reach postgres://user:***@host:5432/db?table=t and postgresql://u:*@h/x; done");
    char b[] = "host=h password=s3cret user=u and ?password=abc&x=1";
    sl_redact_secrets(b);
    assert_string_equal(b, "host=h password=*** user=u and ?password=***&x=1");
    char c[] = "postgres://user@host/db and http://example.org/a@b"; /* nothing to hide */
    sl_redact_secrets(c);
    assert_string_equal(c, "postgres://user@host/db and http://example.org/a@b");
    /* every recorded error is redacted, message and input name */
    sl_error e;
    sl_error_clear(&e);
    sl_fail(&e, SL_E_OUTPUT, "postgres", "lost postgres://a:longpassword@h/db");
    sl_error_at(&e, "postgres://a:longpassword@h/db?table=t", 0, 0, 0);
    assert_null(strstr(e.msg, "longpassword"));
    assert_null(strstr(e.input, "longpassword"));
    assert_string_equal(e.input, "postgres://a:***@h/db?table=t");
}

static sl_dbtype type_of(const char *p, uint8_t kind)
{
    sl_cell c = {p, p ? (uint32_t)strlen(p) : 0, kind, {0}};
    return sl_db_cell_type(&c);
}

static void test_types(void **state)
{
    (void)state;
    assert_int_equal(type_of("42", SL_TEXT), SL_DBT_INTEGER);
    assert_int_equal(type_of("-9223372036854775808", SL_TEXT), SL_DBT_INTEGER);
    assert_int_equal(type_of("9223372036854775807", SL_NUMBER), SL_DBT_INTEGER);
    assert_int_equal(type_of("9223372036854775808", SL_NUMBER), SL_DBT_REAL); /* past int64 */
    assert_int_equal(type_of("1.5", SL_TEXT), SL_DBT_REAL);
    assert_int_equal(type_of("1e-5", SL_TEXT), SL_DBT_REAL);
    assert_int_equal(type_of("007", SL_TEXT), SL_DBT_TEXT);
    assert_int_equal(type_of("+1", SL_TEXT), SL_DBT_TEXT);
    assert_int_equal(type_of("42", SL_STRING), SL_DBT_TEXT); /* a JSON string stays text */
    assert_int_equal(type_of("true", SL_TEXT), SL_DBT_BOOLEAN);
    assert_int_equal(type_of("false", SL_BOOL), SL_DBT_BOOLEAN);
    assert_int_equal(type_of("TRUE", SL_TEXT), SL_DBT_TEXT);
    assert_int_equal(type_of(NULL, SL_NULL), SL_DBT_NONE);
    assert_int_equal(type_of(NULL, SL_ABSENT), SL_DBT_NONE);
    assert_int_equal(type_of("{\"a\":1}", SL_JSON), SL_DBT_TEXT);
    assert_int_equal(sl_db_widen(SL_DBT_INTEGER, SL_DBT_REAL), SL_DBT_REAL);
    assert_int_equal(sl_db_widen(SL_DBT_REAL, SL_DBT_INTEGER), SL_DBT_REAL);
    assert_int_equal(sl_db_widen(SL_DBT_INTEGER, SL_DBT_BOOLEAN), SL_DBT_TEXT);
    assert_int_equal(sl_db_widen(SL_DBT_NONE, SL_DBT_BOOLEAN), SL_DBT_BOOLEAN);
    assert_int_equal(sl_db_widen(SL_DBT_BOOLEAN, SL_DBT_NONE), SL_DBT_BOOLEAN);
    assert_int_equal(sl_db_widen(SL_DBT_REAL, SL_DBT_TEXT), SL_DBT_TEXT);
}

static void test_quote(void **state)
{
    (void)state;
    char *q = sl_db_quote_ident("we\"ird name", 11);
    assert_string_equal(q, "\"we\"\"ird name\"");
    free(q);
    const char *names[] = {"id", "unit price"};
    sl_schema *sc = sl_schema_new(2, names, NULL);
    static const char *const tn[] = {"T", "I", "R", "B", "T"};
    sl_dbtype types[] = {SL_DBT_INTEGER, SL_DBT_REAL};
    char *cols = sl_db_column_list(sc, types, tn);
    assert_string_equal(cols, "\"id\" I, \"unit price\" R");
    free(cols);
    cols = sl_db_column_list(sc, NULL, NULL);
    assert_string_equal(cols, "\"id\", \"unit price\"");
    free(cols);
    sl_schema_unref(sc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),  cmocka_unit_test(test_name_errors), cmocka_unit_test(test_redact),
        cmocka_unit_test(test_types),  cmocka_unit_test(test_quote),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
