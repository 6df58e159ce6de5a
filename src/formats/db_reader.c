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
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "io/pq.h"
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

/* the kind of cell each PostgreSQL column gives */
static uint8_t pg_kind(Oid t)
{
    switch (t) {
    case OID_BOOL: return SL_BOOL;
    case OID_INT2: case OID_INT4: case OID_INT8: case OID_OID: case OID_FLOAT4: case OID_FLOAT8:
    case OID_NUMERIC: return SL_NUMBER;
    default: return SL_STRING;
    }
}

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
    if (sl_pq_load(m, sizeof m) < 0)
        return fail_in(r, SL_E_INPUT, "%s: %s", m);
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
        r->kind[c] = pg_kind(PQftype(res, (int)c));
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

/* The current row of a SQLite statement into cells[0..ncols): text and
   numbers copied into arena.  Returns 0, -1 out of memory, or -2 when a
   value is longer than maxlen (*col says which). */
static int sq_row(sqlite3_stmt *st, uint32_t ncols, const uint8_t *isbool, sl_cell *cells, sl_arena *arena,
                  uint64_t maxlen, uint32_t *col)
{
    static const char hex[] = "0123456789abcdef";
    for (uint32_t c = 0; c < ncols; c++) {
        int t = sqlite3_column_type(st, (int)c);
        sl_cell *d = &cells[c];
        char num[40];
        const char *src = NULL;
        size_t n = 0;
        uint8_t kind = SL_STRING;
        if (t == SQLITE_NULL) {
            *d = (sl_cell){NULL, 0, SL_NULL, {0}};
            continue;
        } else if (t == SQLITE_INTEGER && isbool[c]) {
            int v = sqlite3_column_int64(st, (int)c) != 0;
            *d = (sl_cell){v ? "true" : "false", v ? 4u : 5u, SL_BOOL, {0}};
            continue;
        } else if (t == SQLITE_INTEGER) {
            n = (size_t)snprintf(num, sizeof num, "%lld", (long long)sqlite3_column_int64(st, (int)c));
            src = num;
            kind = SL_NUMBER;
        } else if (t == SQLITE_FLOAT) {
            n = (size_t)fmt_double(sqlite3_column_double(st, (int)c), num, sizeof num);
            src = num;
            kind = sl_json_is_number(num, n) ? SL_NUMBER : SL_STRING;
        } else if (t == SQLITE_BLOB) {
            const unsigned char *p = sqlite3_column_blob(st, (int)c);
            size_t len = (size_t)sqlite3_column_bytes(st, (int)c);
            if (2 * len + 2 > maxlen) {
                *col = c;
                return -2;
            }
            char *x = sl_arena_alloc(arena, 2 * len + 3);
            if (!x)
                return -1;
            x[0] = '\\';
            x[1] = 'x';
            for (size_t i = 0; i < len; i++) {
                x[2 + 2 * i] = hex[p[i] >> 4];
                x[3 + 2 * i] = hex[p[i] & 15];
            }
            *d = (sl_cell){x, (uint32_t)(2 * len + 2), SL_STRING, {0}};
            continue;
        } else {
            src = (const char *)sqlite3_column_text(st, (int)c);
            n = (size_t)sqlite3_column_bytes(st, (int)c);
        }
        if (n > maxlen) {
            *col = c;
            return -2;
        }
        char *x = n ? sl_arena_strndup(arena, src, n) : NULL;
        if (n && !x)
            return -1;
        *d = (sl_cell){x, (uint32_t)n, kind, {0}};
    }
    return 0;
}

/* rows into b: >0 rows, 0 at the end of the input, or an error */
static int fill_sqlite(dbr *r, sl_batch *b)
{
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
        uint32_t col = 0;
        rc = sq_row(r->st, r->ncols, r->isbool, b->cells + (size_t)b->nrows * b->stride, &b->arena,
                    r->run->opt.max_field_bytes, &col);
        if (rc == -1)
            return sl_fail(&r->run->err, SL_E_NOMEM, r->stage, "out of memory");
        if (rc == -2) {
            fail_in(r, SL_E_DATA, "%s: a value of column '%s' is longer than --max-field-bytes", r->schema->names[col]);
            sl_error_at(&r->run->err, NULL, 0, 0, r->nrec + 1);
            return SL_E_DATA;
        }
        row_done(r, b);
    }
    return (int)b->nrows;
}

/* Row i of a PostgreSQL result into cells, pointing into the result. */
static void pg_row(const PGresult *res, int i, uint32_t ncols, const uint8_t *kinds, sl_cell *cells)
{
    for (uint32_t c = 0; c < ncols; c++) {
        if (PQgetisnull(res, i, (int)c)) {
            cells[c] = (sl_cell){NULL, 0, SL_NULL, {0}};
            continue;
        }
        const char *v = PQgetvalue(res, i, (int)c);
        uint32_t n = (uint32_t)PQgetlength(res, i, (int)c);
        uint8_t kind = kinds[c];
        if (kind == SL_BOOL) {
            int t = v[0] == 't';
            cells[c] = (sl_cell){t ? "true" : "false", t ? 4u : 5u, SL_BOOL, {0}};
            continue;
        }
        if (kind == SL_NUMBER && !sl_json_is_number(v, n))
            kind = SL_STRING; /* NaN, Infinity */
        cells[c] = (sl_cell){n ? v : NULL, n, kind, {0}};
    }
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
        pg_row(r->res, i, r->ncols, r->kind, b->cells + (size_t)b->nrows * b->stride);
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

/* ---- per-key lookups (join --lookup per-key) ---- */

struct sl_db_lookup {
    sl_dburl url;
    const char *stage;
    sl_schema *schema;
    uint32_t ncols;
    sqlite3 *db;
    sqlite3_stmt *st;
    uint8_t *isbool;
    sl_arena arena;       /* the values of the rows of one key (SQLite) */
    PGconn *pg;
    uint8_t *kind;
    sl_cell *cells;
    uint64_t queries;
};

sl_db_lookup *sl_db_lookup_open(const char *name, const char *column, const char *stage, sl_error *err)
{
    sl_db_lookup *lk = calloc(1, sizeof *lk);
    if (!lk) {
        sl_fail(err, SL_E_NOMEM, stage, "out of memory");
        return NULL;
    }
    lk->stage = stage;
    sl_arena_init(&lk->arena, 16 * 1024, 0);
    char *sql = NULL, *qc = NULL, *src = NULL;
    const char **names = NULL;
    char m[512];
    int ok = 0;
    if (sl_dburl_parse(name, &lk->url, stage, err) < 0)
        goto out;
    /* the rows of the table or query whose column equals the key: an index
       on the column makes each lookup one probe */
    qc = sl_db_quote_ident(column, strlen(column));
    src = lk->url.query ? strdup(lk->url.query) : sl_db_quote_ident(lk->url.table, strlen(lk->url.table));
    sql = qc && src ? malloc(strlen(qc) + strlen(src) + 96) : NULL;
    if (!sql) {
        sl_fail(err, SL_E_NOMEM, stage, "out of memory");
        goto out;
    }
    if (lk->url.query)
        sprintf(sql, "SELECT * FROM (%s) AS sluice_lookup WHERE %s = %s", src, qc,
                lk->url.kind == SL_DB_SQLITE ? "?1" : "$1");
    else
        sprintf(sql, "SELECT * FROM %s WHERE %s = %s", src, qc, lk->url.kind == SL_DB_SQLITE ? "?1" : "$1");
    if (lk->url.kind == SL_DB_SQLITE) {
        if (sqlite3_open_v2(lk->url.target, &lk->db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(lk->db, sql, -1, &lk->st, NULL) != SQLITE_OK) {
            sl_fail(err, SL_E_INPUT, stage, "%s: %s", lk->url.shown, lk->db ? sqlite3_errmsg(lk->db) : "out of memory");
            goto out;
        }
        lk->ncols = (uint32_t)sqlite3_column_count(lk->st);
        names = calloc(lk->ncols + 1, sizeof *names);
        lk->isbool = calloc(lk->ncols + 1, 1);
        if (!names || !lk->isbool) {
            sl_fail(err, SL_E_NOMEM, stage, "out of memory");
            goto out;
        }
        for (uint32_t c = 0; c < lk->ncols; c++) {
            names[c] = sqlite3_column_name(lk->st, (int)c);
            const char *decl = sqlite3_column_decltype(lk->st, (int)c);
            lk->isbool[c] = decl && (strcasecmp(decl, "BOOLEAN") == 0 || strcasecmp(decl, "BOOL") == 0);
        }
    } else {
        if (sl_pq_load(m, sizeof m) < 0) {
            sl_fail(err, SL_E_INPUT, stage, "%s: %s", lk->url.shown, m);
            goto out;
        }
        lk->pg = PQconnectdb(lk->url.target);
        if (!lk->pg || PQstatus(lk->pg) != CONNECTION_OK) {
            sl_fail(err, SL_E_INPUT, stage, "%s: cannot connect: %s", lk->url.shown,
                    pg_msg(lk->pg ? PQerrorMessage(lk->pg) : NULL, m, sizeof m));
            goto out;
        }
        PQsetClientEncoding(lk->pg, "UTF8");
        PQsetNoticeProcessor(lk->pg, quiet_notice, NULL);
        PGresult *res = PQprepare(lk->pg, "sluice_lookup", sql, 1, NULL);
        int good = PQresultStatus(res) == PGRES_COMMAND_OK;
        PQclear(res);
        res = good ? PQdescribePrepared(lk->pg, "sluice_lookup") : NULL;
        if (!good || PQresultStatus(res) != PGRES_COMMAND_OK) {
            PQclear(res);
            sl_fail(err, SL_E_INPUT, stage, "%s: %s", lk->url.shown, pg_msg(PQerrorMessage(lk->pg), m, sizeof m));
            goto out;
        }
        lk->ncols = (uint32_t)PQnfields(res);
        names = calloc(lk->ncols + 1, sizeof *names);
        lk->kind = calloc(lk->ncols + 1, 1);
        if (!names || !lk->kind) {
            PQclear(res);
            sl_fail(err, SL_E_NOMEM, stage, "out of memory");
            goto out;
        }
        /* the names outlive the description: copied into the arena, which
           is reset only after the schema has copied them again */
        for (uint32_t c = 0; c < lk->ncols; c++) {
            const char *fn = PQfname(res, (int)c);
            if (!(names[c] = sl_arena_strndup(&lk->arena, fn, strlen(fn)))) {
                PQclear(res);
                sl_fail(err, SL_E_NOMEM, stage, "out of memory");
                goto out;
            }
            lk->kind[c] = pg_kind(PQftype(res, (int)c));
        }
        PQclear(res);
    }
    for (uint32_t i = 0; i < lk->ncols; i++)
        for (uint32_t j = 0; j < i; j++)
            if (names[i] && names[j] && strcmp(names[i], names[j]) == 0) {
                sl_fail(err, SL_E_USAGE, stage, "%s: two columns are named '%s' (name them apart with AS)", lk->url.shown,
                        names[i]);
                goto out;
            }
    lk->schema = sl_schema_new(lk->ncols, names, NULL);
    lk->cells = calloc(lk->ncols + 1, sizeof *lk->cells);
    if (!lk->schema || !lk->cells) {
        sl_fail(err, SL_E_NOMEM, stage, "out of memory");
        goto out;
    }
    ok = 1;
out:
    free(names);
    free(sql);
    free(qc);
    free(src);
    sl_arena_reset(&lk->arena);
    if (!ok) {
        sl_db_lookup_close(lk);
        return NULL;
    }
    return lk;
}

sl_schema *sl_db_lookup_schema(const sl_db_lookup *lk) { return lk->schema; }
uint64_t sl_db_lookup_queries(const sl_db_lookup *lk) { return lk->queries; }

int sl_db_lookup_fetch(sl_db_lookup *lk, const char *key, size_t len, sl_db_row_fn fn, void *ctx, uint64_t maxlen,
                       sl_error *err)
{
    char m[512];
    int rc = SL_OK;
    lk->queries++;
    sl_arena_reset(&lk->arena);
    if (lk->st) {
        sqlite3_reset(lk->st);
        sqlite3_bind_text(lk->st, 1, len ? key : "", (int)len, SQLITE_STATIC);
        for (;;) {
            int s = sqlite3_step(lk->st);
            if (s == SQLITE_DONE)
                break;
            if (s != SQLITE_ROW)
                return sl_fail(err, SL_E_INPUT, lk->stage, "%s: %s", lk->url.shown, sqlite3_errmsg(lk->db));
            uint32_t col = 0;
            int r = sq_row(lk->st, lk->ncols, lk->isbool, lk->cells, &lk->arena, maxlen, &col);
            if (r == -1)
                return sl_fail(err, SL_E_NOMEM, lk->stage, "out of memory");
            if (r == -2)
                return sl_fail(err, SL_E_DATA, lk->stage, "%s: a value of column '%s' is longer than --max-field-bytes",
                               lk->url.shown, lk->schema->names[col]);
            if ((rc = fn(ctx, lk->cells, lk->ncols)) < 0)
                break;
        }
        sqlite3_reset(lk->st);
        return rc;
    }
    /* the key as a C string: PostgreSQL text cannot hold NUL anyway */
    char *k = malloc(len + 1);
    if (!k)
        return sl_fail(err, SL_E_NOMEM, lk->stage, "out of memory");
    memcpy(k, key, len);
    k[len] = 0;
    const char *p[1] = {k};
    PGresult *res = PQexecPrepared(lk->pg, "sluice_lookup", 1, p, NULL, NULL, 0);
    free(k);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        rc = sl_fail(err, SL_E_INPUT, lk->stage, "%s: looking up '%.*s': %s", lk->url.shown, (int)(len < 64 ? len : 64), key,
                     pg_msg(PQresultErrorMessage(res), m, sizeof m));
        PQclear(res);
        return rc;
    }
    int nt = PQntuples(res);
    for (int i = 0; i < nt && rc >= 0; i++) {
        pg_row(res, i, lk->ncols, lk->kind, lk->cells);
        rc = fn(ctx, lk->cells, lk->ncols);
    }
    PQclear(res);
    return rc;
}

void sl_db_lookup_close(sl_db_lookup *lk)
{
    if (!lk)
        return;
    if (lk->st)
        sqlite3_finalize(lk->st);
    if (lk->db)
        sqlite3_close(lk->db);
    if (lk->pg)
        PQfinish(lk->pg);
    if (lk->schema)
        sl_schema_unref(lk->schema);
    free(lk->isbool);
    free(lk->kind);
    free(lk->cells);
    sl_arena_fini(&lk->arena);
    sl_dburl_free(&lk->url);
    free(lk);
}
