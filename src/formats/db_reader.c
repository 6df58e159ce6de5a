/*
 * db_reader.c - records from a table or a query of SQLite (libsqlite3) or
 * PostgreSQL (libpq): `sluice cat sqlite:app.db?table=users -o users.csv`,
 * and the lookup side of `join` when it names a database.
 *
 * Each input is one table or query, read in order; the schema is the
 * result's column names (two columns of the same name are an error: name
 * them apart with AS).  Values:
 *
 *   NULL                       null
 *   integer, real, numeric     a number (SQLite reals are printed with the
 *                              fewest digits that read back the same
 *                              double; NaN and infinities are strings)
 *   boolean                    true / false (PostgreSQL boolean; SQLite
 *                              columns declared BOOLEAN)
 *   text and everything else   a string, as the database prints it
 *   blob / bytea               a string of hex digits after \x, as
 *                              PostgreSQL prints bytea
 *
 * SQLite is read with one prepared statement, a row at a time, the values
 * copied into the batch's arena.  PostgreSQL is read through a cursor in a
 * read-only transaction, --batch-rows rows per FETCH, the cells pointing
 * into the result of the FETCH, which lives until the next one: memory is
 * one batch, whatever the size of the table.
 */
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "formats/format.h"
#include "formats/json_out.h"
#include "io/db.h"

/* PostgreSQL type oids (catalog/pg_type.h, stable across versions) */
#define OID_BOOL 16
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23
#define OID_OID 26
#define OID_FLOAT4 700
#define OID_FLOAT8 701
#define OID_NUMERIC 1700

typedef struct dbr {
    sl_run *run;
    size_t in_idx;
    int active;           /* run->inputs[in_idx] is open */
    const char *stage;    /* "sqlite" or "postgres" */
    sl_dburl url;
    sl_schema *schema;
    uint32_t ncols;
    sl_batch batch;
    int batch_init;
    uint64_t nrec;        /* rows read from this input */
    /* SQLite */
    sqlite3 *db;
    sqlite3_stmt *st;
    uint8_t *isbool;      /* per column: declared BOOLEAN */
    int sq_end;           /* the statement is done (stepping again would
                             run it again) */
    /* PostgreSQL */
    PGconn *pg;
    PGresult *res;        /* the last FETCH: the batch's cells point into it */
    uint8_t *kind;        /* per column: SL_NUMBER, SL_BOOL or SL_STRING */
    int pg_end;
} dbr;

static int dbr_create(sl_stage *st, const char *args, sl_error *err)
{
    if (args && *args)
        return sl_fail(err, SL_E_USAGE, "database", "the database reader takes no arguments");
    dbr *r = calloc(1, sizeof *r);
    if (!r)
        return sl_fail(err, SL_E_NOMEM, "database", "out of memory");
    r->run = st->run;
    st->state = r;
    return SL_OK;
}

static int dbr_open(sl_stage *st)
{
    dbr *r = st->state;
    /* parse every name now, so that --check finds a bad one; connect later */
    for (size_t i = 0; i < r->run->ninputs; i++) {
        sl_dburl u;
        int rc = sl_dburl_parse(r->run->inputs[i].name, &u, "database", &r->run->err);
        sl_dburl_free(&u);
        if (rc < 0)
            return rc;
    }
    if (sl_batch_init(&r->batch, r->run->opt.batch_rows, 8, 0) < 0)
        return sl_fail(&r->run->err, SL_E_NOMEM, "database", "out of memory");
    r->batch_init = 1;
    return SL_OK;
}

/* libpq's message, first line, without its line break */
static const char *pg_msg(const char *m, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s", m && *m ? m : "no message");
    buf[strcspn(buf, "\n")] = 0;
    return buf;
}

static void close_input(dbr *r)
{
    if (r->st)
        sqlite3_finalize(r->st);
    r->st = NULL;
    if (r->db)
        sqlite3_close(r->db);
    r->db = NULL;
    if (r->res)
        PQclear(r->res);
    r->res = NULL;
    if (r->pg)
        PQfinish(r->pg); /* the read-only transaction ends with it */
    r->pg = NULL;
    if (r->schema)
        sl_schema_unref(r->schema);
    r->schema = NULL;
    free(r->isbool);
    r->isbool = NULL;
    free(r->kind);
    r->kind = NULL;
    sl_dburl_free(&r->url);
    r->active = 0;
}

static int fail_in(dbr *r, int code, const char *fmt, const char *what)
{
    sl_fail(&r->run->err, code, r->stage, fmt, r->url.shown, what);
    return code;
}

/* the result's column names as the schema; duplicates are an error */
static int make_schema(dbr *r, uint32_t n, const char *const *names)
{
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(names[i], names[j]) == 0)
                return fail_in(r, SL_E_USAGE, "%s: two columns are named '%s' (name them apart with AS)", names[i]);
    r->schema = sl_schema_new(n, names, NULL);
    r->ncols = n;
    if (!r->schema)
        return sl_fail(&r->run->err, SL_E_NOMEM, r->stage, "out of memory");
    return SL_OK;
}

static char *select_sql(dbr *r)
{
    if (r->url.query)
        return strdup(r->url.query);
    char *q = sl_db_quote_ident(r->url.table, strlen(r->url.table));
    char *sql = q ? malloc(strlen(q) + 32) : NULL;
    if (sql)
        sprintf(sql, "SELECT * FROM %s", q);
    free(q);
    return sql;
}

static int open_sqlite(dbr *r)
{
    char *sql = select_sql(r);
    if (!sql)
        return sl_fail(&r->run->err, SL_E_NOMEM, r->stage, "out of memory");
    if (sqlite3_open_v2(r->url.target, &r->db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        free(sql);
        return fail_in(r, SL_E_INPUT, "%s: cannot open the database: %s", r->db ? sqlite3_errmsg(r->db) : "out of memory");
    }
    uint64_t ms = r->run->opt.retry_for_ns / 1000000u;
    sqlite3_busy_timeout(r->db, ms > 0x7fffffff ? 0x7fffffff : (int)ms);
    int rc = sqlite3_prepare_v2(r->db, sql, -1, &r->st, NULL);
    free(sql);
    if (rc != SQLITE_OK)
        return fail_in(r, SL_E_INPUT, "%s: %s", sqlite3_errmsg(r->db));
    uint32_t n = (uint32_t)sqlite3_column_count(r->st);
    const char **names = calloc(n + 1, sizeof *names);
    r->isbool = calloc(n + 1, 1);
    if (!names || !r->isbool) {
        free(names);
        return sl_fail(&r->run->err, SL_E_NOMEM, r->stage, "out of memory");
    }
    for (uint32_t c = 0; c < n; c++) {
        names[c] = sqlite3_column_name(r->st, (int)c);
        const char *decl = sqlite3_column_decltype(r->st, (int)c);
        r->isbool[c] = decl && (strcasecmp(decl, "BOOLEAN") == 0 || strcasecmp(decl, "BOOL") == 0);
    }
    rc = make_schema(r, n, names);
    free(names);
    return rc;
}

/* stages never print: the server's notices are dropped */
static void quiet_notice(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

static int open_pg(dbr *r)
{
    char m[512];
    r->pg = PQconnectdb(r->url.target);
    if (!r->pg || PQstatus(r->pg) != CONNECTION_OK)
        return fail_in(r, SL_E_INPUT, "%s: cannot connect: %s", pg_msg(r->pg ? PQerrorMessage(r->pg) : NULL, m, sizeof m));
    PQsetClientEncoding(r->pg, "UTF8");
    PQsetNoticeProcessor(r->pg, quiet_notice, NULL);
    char *sql = select_sql(r);
    char *decl = sql ? malloc(strlen(sql) + 64) : NULL;
    if (!decl) {
        free(sql);
        return sl_fail(&r->run->err, SL_E_NOMEM, r->stage, "out of memory");
    }
    sprintf(decl, "DECLARE sluice_read NO SCROLL CURSOR FOR %s", sql);
    free(sql);
    PGresult *res = PQexec(r->pg, "BEGIN READ ONLY");
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    if (ok) {
        res = PQexec(r->pg, decl);
        ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        PQclear(res);
    }
    free(decl);
    if (!ok)
        return fail_in(r, SL_E_INPUT, "%s: %s", pg_msg(PQerrorMessage(r->pg), m, sizeof m));
    r->pg_end = 0;
    /* the columns, before the first FETCH, so that a batch is sized for them */
    res = PQdescribePortal(r->pg, "sluice_read");
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        PQclear(res);
        return fail_in(r, SL_E_INPUT, "%s: %s", pg_msg(PQerrorMessage(r->pg), m, sizeof m));
    }
    uint32_t n = (uint32_t)PQnfields(res);
    const char **names = calloc(n + 1, sizeof *names);
    r->kind = calloc(n + 1, 1);
    if (!names || !r->kind) {
        free(names);
        PQclear(res);
        return sl_fail(&r->run->err, SL_E_NOMEM, r->stage, "out of memory");
    }
    for (uint32_t c = 0; c < n; c++) {
        names[c] = PQfname(res, (int)c);
        switch (PQftype(res, (int)c)) {
        case OID_BOOL: r->kind[c] = SL_BOOL; break;
        case OID_INT2: case OID_INT4: case OID_INT8: case OID_OID: case OID_FLOAT4: case OID_FLOAT8:
        case OID_NUMERIC: r->kind[c] = SL_NUMBER; break;
        default: r->kind[c] = SL_STRING; break;
        }
    }
    int rc = make_schema(r, n, names);
    free(names);
    PQclear(res);
    return rc;
}

static int open_input(dbr *r)
{
    const char *name = r->run->inputs[r->in_idx].name;
    r->stage = strncmp(name, "sqlite:", 7) == 0 ? "sqlite" : "postgres";
    int rc = sl_dburl_parse(name, &r->url, r->stage, &r->run->err);
    if (rc < 0)
        return rc;
    r->active = 1;
    r->nrec = 0;
    r->sq_end = 0;
    return r->url.kind == SL_DB_SQLITE ? open_sqlite(r) : open_pg(r);
}

/* a double as the shortest of %.15g and %.17g that reads back the same */
static int fmt_double(double v, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%.15g", v);
    if (strtod(buf, NULL) != v)
        n = snprintf(buf, cap, "%.17g", v);
    return n;
}

static void row_done(dbr *r, sl_batch *b)
{
    uint32_t row = b->nrows++;
    r->nrec++;
    r->run->inputs[r->in_idx].records++;
    b->info[row] = (sl_rowinfo){r->nrec, 0, r->nrec, (uint32_t)r->in_idx, 0, NULL};
}

/* rows into b: >0 rows, 0 at the end of the input, or an error */
static int fill_sqlite(dbr *r, sl_batch *b)
{
    static const char hex[] = "0123456789abcdef";
    while (b->nrows < b->cap_rows && !r->sq_end) {
        int rc = sqlite3_step(r->st);
        if (rc == SQLITE_DONE) {
            r->sq_end = 1;
            break;
        }
        if (rc != SQLITE_ROW) {
            fail_in(r, SL_E_INPUT, "%s: %s", sqlite3_errmsg(r->db));
            sl_error_at(&r->run->err, NULL, 0, 0, r->nrec + 1);
            return SL_E_INPUT;
        }
        sl_cell *cells = b->cells + (size_t)b->nrows * b->stride;
        for (uint32_t c = 0; c < r->ncols; c++) {
            int t = sqlite3_column_type(r->st, (int)c);
            sl_cell *d = &cells[c];
            char num[40];
            const char *src = NULL;
            size_t n = 0;
            uint8_t kind = SL_STRING;
            if (t == SQLITE_NULL) {
                *d = (sl_cell){NULL, 0, SL_NULL, {0}};
                continue;
            } else if (t == SQLITE_INTEGER && r->isbool[c]) {
                int v = sqlite3_column_int64(r->st, (int)c) != 0;
                *d = (sl_cell){v ? "true" : "false", v ? 4u : 5u, SL_BOOL, {0}};
                continue;
            } else if (t == SQLITE_INTEGER) {
                n = (size_t)snprintf(num, sizeof num, "%lld", (long long)sqlite3_column_int64(r->st, (int)c));
                src = num;
                kind = SL_NUMBER;
            } else if (t == SQLITE_FLOAT) {
                n = (size_t)fmt_double(sqlite3_column_double(r->st, (int)c), num, sizeof num);
                src = num;
                kind = sl_json_is_number(num, n) ? SL_NUMBER : SL_STRING;
            } else if (t == SQLITE_BLOB) {
                const unsigned char *p = sqlite3_column_blob(r->st, (int)c);
                size_t len = (size_t)sqlite3_column_bytes(r->st, (int)c);
                char *x = sl_arena_alloc(&b->arena, 2 * len + 3);
                if (!x)
                    return sl_fail(&r->run->err, SL_E_NOMEM, r->stage, "out of memory");
                x[0] = '\\';
                x[1] = 'x';
                for (size_t i = 0; i < len; i++) {
                    x[2 + 2 * i] = hex[p[i] >> 4];
                    x[3 + 2 * i] = hex[p[i] & 15];
                }
                *d = (sl_cell){x, (uint32_t)(2 * len + 2), SL_STRING, {0}};
                continue;
            } else {
                src = (const char *)sqlite3_column_text(r->st, (int)c);
                n = (size_t)sqlite3_column_bytes(r->st, (int)c);
            }
            if (n > r->run->opt.max_field_bytes) {
                fail_in(r, SL_E_DATA, "%s: a value of column '%s' is longer than --max-field-bytes", r->schema->names[c]);
                sl_error_at(&r->run->err, NULL, 0, 0, r->nrec + 1);
                return SL_E_DATA;
            }
            char *x = n ? sl_arena_strndup(&b->arena, src, n) : NULL;
            if (n && !x)
                return sl_fail(&r->run->err, SL_E_NOMEM, r->stage, "out of memory");
            *d = (sl_cell){x, (uint32_t)n, kind, {0}};
        }
        row_done(r, b);
    }
    return (int)b->nrows;
}

static int fill_pg(dbr *r, sl_batch *b)
{
    char m[512];
    if (r->res)
        PQclear(r->res);
    r->res = NULL;
    if (r->pg_end)
        return 0;
    char sql[64];
    snprintf(sql, sizeof sql, "FETCH FORWARD %u FROM sluice_read", b->cap_rows);
    r->res = PQexec(r->pg, sql);
    if (PQresultStatus(r->res) != PGRES_TUPLES_OK) {
        fail_in(r, SL_E_INPUT, "%s: %s", pg_msg(PQerrorMessage(r->pg), m, sizeof m));
        sl_error_at(&r->run->err, NULL, 0, 0, r->nrec + 1);
        return SL_E_INPUT;
    }
    int nt = PQntuples(r->res);
    if (nt < (int)b->cap_rows)
        r->pg_end = 1;
    for (int i = 0; i < nt; i++) {
        sl_cell *cells = b->cells + (size_t)b->nrows * b->stride;
        for (uint32_t c = 0; c < r->ncols; c++) {
            if (PQgetisnull(r->res, i, (int)c)) {
                cells[c] = (sl_cell){NULL, 0, SL_NULL, {0}};
                continue;
            }
            const char *v = PQgetvalue(r->res, i, (int)c);
            uint32_t n = (uint32_t)PQgetlength(r->res, i, (int)c);
            uint8_t kind = r->kind[c];
            if (kind == SL_BOOL) {
                int t = v[0] == 't';
                cells[c] = (sl_cell){t ? "true" : "false", t ? 4u : 5u, SL_BOOL, {0}};
                continue;
            }
            if (kind == SL_NUMBER && !sl_json_is_number(v, n))
                kind = SL_STRING; /* NaN, Infinity */
            cells[c] = (sl_cell){n ? v : NULL, n, kind, {0}};
        }
        row_done(r, b);
    }
    return (int)b->nrows;
}

static int dbr_next(sl_stage *st, sl_batch **out)
{
    dbr *r = st->state;
    sl_batch *b = &r->batch;
    for (;;) {
        if (!r->active) {
            if (r->in_idx >= r->run->ninputs)
                return SL_DONE;
            int rc = open_input(r);
            if (rc < 0)
                return rc;
        }
        if (sl_batch_reset(b, r->schema, r->ncols ? r->ncols : 1) < 0)
            return sl_fail(&r->run->err, SL_E_NOMEM, r->stage, "out of memory");
        int rc = r->url.kind == SL_DB_SQLITE ? fill_sqlite(r, b) : fill_pg(r, b);
        if (rc < 0) {
            sl_error_at(&r->run->err, r->url.shown, 0, 0, 0);
            return rc;
        }
        if (rc > 0) {
            *out = b;
            return SL_BATCH;
        }
        close_input(r);
        r->in_idx++;
    }
}

static void dbr_close(sl_stage *st)
{
    dbr *r = st->state;
    if (!r)
        return;
    /* a batch may still point into the last result: the run is over now */
    close_input(r);
    if (r->batch_init)
        sl_batch_fini(&r->batch);
    free(r);
    st->state = NULL;
}

const sl_stage_type sl_db_reader_type = {
    .name = "database",
    .usage = "(reader)",
    .summary = "a table or query of SQLite or PostgreSQL",
    .create = dbr_create,
    .open = dbr_open,
    .next = dbr_next,
    .close = dbr_close,
};
