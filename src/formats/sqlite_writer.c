/*
 * sqlite_writer.c - records into a table of a SQLite file (libsqlite3):
 * `-o sqlite:out.db?table=t` or `write sqlite:out.db?table=t`.
 *
 * The table.  When it does not exist it is created from the first records:
 * each column gets the narrowest of INTEGER, REAL, BOOLEAN, TEXT that holds
 * every value of the first batch (io/db.c: integers and decimals together
 * make REAL, any other mix TEXT, a column of nulls TEXT).  mode=replace
 * drops and recreates it, in the first transaction; mode=fail stops at once
 * when it exists; create=no never creates it.
 *
 * Transactions.  One per batch of the `batch` stage; without one, one per
 * SL_DB_DEFAULT_TXN_ROWS records (and one per arriving batch when the input
 * is a pipe or terminal, so that streamed records are visible at once).
 * The rows are inserted with one prepared INSERT, each value bound with the
 * type it has (an integer, a double, text, null; a boolean as 1/0 into a
 * column declared numeric or BOOLEAN, as true/false text elsewhere), so
 * SQLite's column affinity applies as usual.
 *
 * A row that SQLite refuses (a constraint, a value too big) is a bad
 * record: with --on-error stop the transaction is rolled back and the run
 * fails naming the record; with skip or reject only that row is left out
 * (SQLite undoes the one statement) and the batch goes on.  Any other
 * failure (disk full, a lock held past --retry-for) rolls the batch back and
 * fails the run with exit 74.  Either way the rows of the batches committed
 * before stay, and the message says how many they are.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/format.h"
#include "io/db.h"

#define STAGE "sqlite"

static const char *const sqlite_types[] = {"TEXT", "INTEGER", "REAL", "BOOLEAN", "TEXT"};

typedef struct sqw {
    sl_dburl url;
    sqlite3 *db;
    sqlite3_stmt *ins;
    uint64_t schema_id;     /* schema the INSERT was prepared for */
    uint32_t ncols;
    uint8_t *numeric;       /* per field: its column is declared with a
                               numeric type (booleans go in as 1/0 there,
                               as true/false text elsewhere) */
    char *qtable;           /* "table", quoted */
    int exists;             /* the table exists (or was created) */
    int first_done;         /* the first transaction (DDL of replace) is done */
    int in_txn;
    int by_batch;           /* the pipeline has a batch stage */
    uint64_t ends_seen;
    uint64_t pending;       /* rows in the open transaction */
    uint64_t committed;
    uint64_t txns;
} sqw;

static int sq_fail(sl_writer *w, int code, const char *what)
{
    sqw *s = w->state;
    return sl_fail(&w->run->err, code, STAGE, "%s: %s: %s (%llu rows committed before)", s->url.shown, what,
                   s->db ? sqlite3_errmsg(s->db) : "out of memory", (unsigned long long)s->committed);
}

static int exec(sl_writer *w, const char *sql, const char *what)
{
    sqw *s = w->state;
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return sq_fail(w, SL_E_OUTPUT, what);
    return SL_OK;
}

static int table_exists(sl_writer *w, int *exists)
{
    sqw *s = w->state;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM sqlite_master WHERE type IN ('table','view') AND name = ?1", -1, &st,
                           NULL) != SQLITE_OK)
        return sq_fail(w, SL_E_OUTPUT, "cannot look the table up");
    sqlite3_bind_text(st, 1, s->url.table, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sq_fail(w, SL_E_OUTPUT, "cannot look the table up");
    *exists = rc == SQLITE_ROW;
    return SL_OK;
}

static int sq_create(sl_writer *w)
{
    sl_error *err = &w->run->err;
    sqw *s = calloc(1, sizeof *s);
    if (!s)
        return sl_fail(err, SL_E_NOMEM, STAGE, "out of memory");
    w->state = s;
    int rc = sl_dburl_parse(w->target, &s->url, STAGE, err);
    if (rc < 0)
        return rc;
    if (!s->url.table)
        return sl_fail(err, SL_E_USAGE, STAGE, "%s: a query cannot be written to (expected ?table=NAME)", s->url.shown);
    s->qtable = sl_db_quote_ident(s->url.table, strlen(s->url.table));
    if (!s->qtable)
        return sl_fail(err, SL_E_NOMEM, STAGE, "out of memory");
    if (sqlite3_open_v2(s->url.target, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK)
        return sq_fail(w, SL_E_OUTPUT, "cannot open the database");
    uint64_t ms = w->run->opt.retry_for_ns / 1000000u;
    sqlite3_busy_timeout(s->db, ms > 0x7fffffff ? 0x7fffffff : (int)ms);
    if ((rc = table_exists(w, &s->exists)) < 0)
        return rc;
    if (s->exists && s->url.mode == SL_DBMODE_FAIL)
        return sl_fail(err, SL_E_OUTPUT, STAGE, "%s: the table %s already exists (mode=fail; use mode=append or "
                       "mode=replace)", s->url.shown, s->qtable);
    if (!s->exists && !s->url.create)
        return sl_fail(err, SL_E_OUTPUT, STAGE, "%s: there is no table %s (create=no)", s->url.shown, s->qtable);
    s->by_batch = sl_db_has_batch_stage(w->run);
    s->ends_seen = 0; /* write creates the writer after the first batch came */
    w->run->rows_committed = 0;
    return SL_OK;
}

static int begin(sl_writer *w, const sl_batch *b)
{
    sqw *s = w->state;
    int rc = exec(w, "BEGIN IMMEDIATE", "cannot start a transaction");
    if (rc < 0)
        return rc;
    s->in_txn = 1;
    s->pending = 0;
    if (!s->first_done && s->url.mode == SL_DBMODE_REPLACE && s->exists) {
        char *sql = malloc(strlen(s->qtable) + 32);
        if (!sql)
            return sl_fail(&w->run->err, SL_E_NOMEM, STAGE, "out of memory");
        sprintf(sql, "DROP TABLE %s", s->qtable);
        rc = exec(w, sql, "cannot drop the table (mode=replace)");
        free(sql);
        if (rc < 0)
            return rc;
        s->exists = 0;
    }
    if (!s->exists) {
        sl_dbtype *types = malloc((b->schema->ncols + 1) * sizeof *types);
        char *cols = NULL, *sql = NULL;
        if (types) {
            sl_db_infer(b, types);
            cols = sl_db_column_list(b->schema, types, sqlite_types);
        }
        if (cols && (sql = malloc(strlen(s->qtable) + strlen(cols) + 32)))
            sprintf(sql, "CREATE TABLE %s (%s)", s->qtable, cols);
        free(types);
        free(cols);
        if (!sql)
            return sl_fail(&w->run->err, SL_E_NOMEM, STAGE, "out of memory");
        rc = exec(w, sql, "cannot create the table");
        free(sql);
        if (rc < 0)
            return rc;
        s->exists = 1;
    }
    return SL_OK;
}

static int commit(sl_writer *w)
{
    sqw *s = w->state;
    if (!s->in_txn)
        return SL_OK;
    int rc = exec(w, "COMMIT", "cannot commit");
    if (rc < 0)
        return rc;
    s->in_txn = 0;
    s->first_done = 1;
    s->committed += s->pending;
    s->txns++;
    s->pending = 0;
    w->run->rows_committed = (int64_t)s->committed;
    return SL_OK;
}

static void rollback(sqw *s)
{
    if (s->in_txn && s->db)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    s->in_txn = 0;
    s->pending = 0;
}

static int prepare(sl_writer *w, const sl_schema *sc)
{
    sqw *s = w->state;
    sqlite3_finalize(s->ins);
    s->ins = NULL;
    char *cols = sl_db_column_list(sc, NULL, NULL);
    size_t n = cols ? strlen(s->qtable) + strlen(cols) + 4 * (size_t)sc->ncols + 64 : 0;
    char *sql = cols ? malloc(n) : NULL;
    if (!sql) {
        free(cols);
        return sl_fail(&w->run->err, SL_E_NOMEM, STAGE, "out of memory");
    }
    int k = sprintf(sql, "INSERT INTO %s (%s) VALUES (", s->qtable, cols);
    for (uint32_t c = 0; c < sc->ncols; c++)
        k += sprintf(sql + k, c ? ",?" : "?");
    sprintf(sql + k, ")");
    free(cols);
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &s->ins, NULL);
    free(sql);
    if (rc != SQLITE_OK)
        return sq_fail(w, SL_E_OUTPUT, "cannot prepare the INSERT (do the table's columns match the records' fields?)");
    s->schema_id = sc->id;
    s->ncols = sc->ncols;
    /* the declared type of each field's column */
    free(s->numeric);
    s->numeric = calloc(sc->ncols + 1, 1);
    sqlite3_stmt *ti;
    if (!s->numeric)
        return sl_fail(&w->run->err, SL_E_NOMEM, STAGE, "out of memory");
    if (sqlite3_prepare_v2(s->db, "SELECT name, upper(type) FROM pragma_table_info(?1)", -1, &ti, NULL) != SQLITE_OK)
        return sq_fail(w, SL_E_OUTPUT, "cannot read the table's columns");
    sqlite3_bind_text(ti, 1, s->url.table, -1, SQLITE_STATIC);
    while (sqlite3_step(ti) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(ti, 0), *type = (const char *)sqlite3_column_text(ti, 1);
        int c = name ? sl_schema_find(sc, name, strlen(name)) : -1;
        if (c >= 0 && type)
            s->numeric[c] = strstr(type, "INT") || strstr(type, "BOOL") || strstr(type, "REAL") ||
                            strstr(type, "NUM") || strstr(type, "DOUB") || strstr(type, "FLOA") || strstr(type, "DEC");
    }
    sqlite3_finalize(ti);
    return SL_OK;
}

static int bind_cell(sqlite3_stmt *st, int i, const sl_cell *c, int numeric)
{
    switch (sl_db_cell_type(c)) {
    case SL_DBT_NONE:
        return sqlite3_bind_null(st, i);
    case SL_DBT_INTEGER: {
        /* cells are not NUL-terminated: the digits (at most 20) are copied */
        char buf[24];
        memcpy(buf, c->p, c->len);
        buf[c->len] = 0;
        return sqlite3_bind_int64(st, i, strtoll(buf, NULL, 10));
    }
    case SL_DBT_REAL: {
        char buf[64];
        if (c->len < sizeof buf) {
            memcpy(buf, c->p, c->len);
            buf[c->len] = 0;
            return sqlite3_bind_double(st, i, strtod(buf, NULL));
        }
        return sqlite3_bind_text(st, i, c->p, (int)c->len, SQLITE_STATIC); /* a 64-digit number stays text */
    }
    case SL_DBT_BOOLEAN:
        if (numeric)
            return sqlite3_bind_int(st, i, c->p[0] == 't');
        return sqlite3_bind_text(st, i, c->p, (int)c->len, SQLITE_STATIC);
    default:
        return sqlite3_bind_text(st, i, c->len ? c->p : "", (int)c->len, SQLITE_STATIC);
    }
}

static int sq_write(sl_writer *w, const sl_batch *b)
{
    sqw *s = w->state;
    sl_run *run = w->run;
    uint32_t live = sl_batch_live(b);
    if (!live)
        return SL_OK;
    int rc;
    if (!s->in_txn && (rc = begin(w, b)) < 0)
        return rc;
    if ((!s->ins || s->schema_id != b->schema->id) && (rc = prepare(w, b->schema)) < 0) {
        rollback(s);
        return rc;
    }
    for (uint32_t i = 0; i < live; i++) {
        uint32_t row = sl_batch_row(b, i);
        for (uint32_t c = 0; c < s->ncols; c++)
            bind_cell(s->ins, (int)c + 1, sl_batch_cell(b, row, c), s->numeric[c]);
        int src = sqlite3_step(s->ins);
        sqlite3_reset(s->ins);
        if (src == SQLITE_DONE) {
            s->pending++;
            w->records++;
            continue;
        }
        int prim = src & 0xff;
        if (prim == SQLITE_CONSTRAINT || prim == SQLITE_TOOBIG || prim == SQLITE_MISMATCH || prim == SQLITE_RANGE) {
            char msg[512];
            snprintf(msg, sizeof msg, "%s refused the record: %s (batch %llu; %llu rows committed before it)", s->url.shown,
                     sqlite3_errmsg(s->db), (unsigned long long)(s->txns + 1), (unsigned long long)s->committed);
            if ((rc = sl_run_bad_record(run, b, row, STAGE, "%s", msg)) < 0) {
                rollback(s);
                return rc;
            }
            continue;
        }
        rc = sq_fail(w, SL_E_OUTPUT, "cannot insert (the batch is rolled back)");
        rollback(s);
        return rc;
    }
    if (!s->by_batch && s->pending >= SL_DB_DEFAULT_TXN_ROWS)
        return commit(w);
    return SL_OK;
}

/* the end of a batch of the batch stage (or, without one, of records that
   arrived on a pipe): commit */
static int sq_flush(sl_writer *w)
{
    sqw *s = w->state;
    return sl_db_commit_due(w->run, s->by_batch, &s->ends_seen) ? commit(w) : SL_OK;
}

static int sq_finish(sl_writer *w)
{
    sqw *s = w->state;
    int rc = commit(w);
    if (rc < 0)
        return rc;
    if (!s->first_done && s->url.mode == SL_DBMODE_REPLACE && s->exists) {
        /* no record at all: replace leaves the table, empty */
        char *sql = sl_db_delete_all_sql(s->qtable);
        if (!sql)
            return sl_fail(&w->run->err, SL_E_NOMEM, STAGE, "out of memory");
        rc = exec(w, sql, "cannot empty the table (mode=replace)");
        free(sql);
    }
    return rc;
}

static void sq_destroy(sl_writer *w)
{
    sqw *s = w->state;
    if (!s)
        return;
    rollback(s);
    sqlite3_finalize(s->ins);
    if (s->db)
        sqlite3_close(s->db);
    free(s->numeric);
    free(s->qtable);
    sl_dburl_free(&s->url);
    free(s);
    w->state = NULL;
}

const sl_writer_type sl_sqlite_writer_type = {
    .name = "sqlite",
    .create = sq_create,
    .write = sq_write,
    .finish = sq_finish,
    .flush = sq_flush,
    .destroy = sq_destroy,
    .own_target = true,
};
