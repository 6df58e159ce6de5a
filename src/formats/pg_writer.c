/*
 * pg_writer.c - records into a PostgreSQL table (libpq):
 * `-o postgres://user@host/db?table=t` or `write postgres://...?table=t`.
 *
 * The table is created from the first records when it does not exist
 * (bigint, double precision, boolean, text: the same rule as SQLite's, in
 * io/db.c), in the first transaction; mode=replace drops and recreates it
 * there; mode=fail and create=no are checked before anything is written.
 *
 * Transactions.  One per batch of the `batch` stage (else one per
 * SL_DB_DEFAULT_TXN_ROWS records, or per arriving batch when the input is a
 * pipe or terminal).  The batch's rows are formatted in COPY text format
 * into a buffer as they arrive (tab between values, \N for null, backslash,
 * tab, newline and CR escaped), and one transaction sends them, opened with
 * the batch's first rows (which the server stores while the next ones are
 * read) and committed at its end:
 *
 *   BEGIN; [CREATE TABLE ...;] COPY "t" (cols) FROM STDIN; <the buffer>;
 *   INSERT INTO sluice_load_progress (load_id, batch, rows, target) ...;
 *   COMMIT
 *
 * Exactly once.  The progress row commits or vanishes with the batch's
 * rows.  When the connection drops, the writer reconnects (waiting 100 ms,
 * then twice as long each time, at most 5 s between tries) for up to
 * --retry-for, then asks the progress table whether the batch it was
 * sending committed (the COMMIT may have been lost on its way back): if it
 * did, it goes on with the next batch; if not, it sends the buffered batch
 * again.  So every batch is committed once, whatever the moment of the
 * break; the cost is that the current batch's COPY text stays in memory
 * until it commits (a batch of N rows of the `batch` stage: about the size
 * of N rows of CSV).  The load_id is random per run; the run deletes its
 * progress rows when it succeeds (a failed run leaves them, to show how far
 * it got).
 *
 * A row the server refuses during COPY (a value that is not of the column's
 * type, a constraint) is a bad record: the server names its line, the
 * transaction is rolled back, and with --on-error skip or reject the batch
 * is sent again without that row; with stop the run fails naming it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "io/pq.h"
#include "formats/format.h"
#include "io/db.h"

#define STAGE "postgres"

static const char *const pg_types[] = {"text", "bigint", "double precision", "boolean", "text"};

typedef struct pgrow {
    size_t off;          /* where the row's COPY line starts in buf */
    sl_rowinfo info;     /* its position in the input (raw = NULL) */
} pgrow;

typedef struct pgw {
    sl_dburl url;
    PGconn *conn;
    char *qtable;
    char load_id[48];
    int exists;          /* the table exists now */
    int first_done;      /* the first transaction committed */
    int by_batch;
    uint64_t ends_seen;
    char *create_sql;    /* DDL of the first transaction, or NULL */
    char *copy_sql;      /* COPY for the current schema */
    uint64_t schema_id;
    uint32_t ncols;
    char *buf;           /* the batch's COPY text */
    size_t len, cap;
    int streaming;       /* the batch's COPY is open: rows go to the server
                            as they come, while the next ones are read */
    size_t sent;         /* bytes of buf the open COPY has had */
    pgrow *rows;
    size_t nrows, rcap;
    uint64_t committed;
    uint64_t txns;
} pgw;

enum { TXN_OK = 0, TXN_LOST, TXN_BADROW, TXN_FAIL };

static const char *first_line(const char *m, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s", m && *m ? m : "no message");
    buf[strcspn(buf, "\n")] = 0;
    return buf;
}

/* stages never print: the server's notices ("relation already exists,
   skipping") are dropped */
static void quiet_notice(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int connect_db(pgw *s, char *msg, size_t cap)
{
    if (s->conn)
        PQfinish(s->conn);
    s->conn = PQconnectdb(s->url.target);
    if (!s->conn || PQstatus(s->conn) != CONNECTION_OK) {
        first_line(s->conn ? PQerrorMessage(s->conn) : "out of memory", msg, cap);
        return -1;
    }
    PQsetClientEncoding(s->conn, "UTF8");
    PQsetNoticeProcessor(s->conn, quiet_notice, NULL);
    return 0;
}

/* a command that returns no rows; the result status, or -1 without one */
static int run_cmd(pgw *s, const char *sql, int nparams, const char *const *params, char *sqlstate)
{
    PGresult *r = nparams ? PQexecParams(s->conn, sql, nparams, NULL, params, NULL, NULL, 0) : PQexec(s->conn, sql);
    int st = r ? (int)PQresultStatus(r) : -1;
    if (sqlstate) {
        const char *ss = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
        snprintf(sqlstate, 6, "%s", ss ? ss : "");
    }
    PQclear(r);
    return st;
}

/* Is the connection gone?  libpq's own errors ("server closed the
   connection unexpectedly", "could not send data") carry no SQLSTATE, and
   libpq may not have marked the connection bad yet; the server's errors
   always carry one, and a shutting-down server says 57P01..57P03. */
static int lost(pgw *s, const char *sqlstate)
{
    return !s->conn || PQstatus(s->conn) != CONNECTION_OK || !sqlstate[0] || strncmp(sqlstate, "08", 2) == 0 ||
           strncmp(sqlstate, "57P", 3) == 0;
}

static int pg_fail(sl_writer *w, int code, const char *what, const char *why)
{
    pgw *s = w->state;
    return sl_fail(&w->run->err, code, STAGE, "%s: %s: %s (%llu rows committed before)", s->url.shown, what, why,
                   (unsigned long long)s->committed);
}

static int pg_create(sl_writer *w)
{
    sl_error *err = &w->run->err;
    pgw *s = calloc(1, sizeof *s);
    if (!s)
        return sl_fail(err, SL_E_NOMEM, STAGE, "out of memory");
    w->state = s;
    int rc = sl_dburl_parse(w->target, &s->url, STAGE, err);
    if (rc < 0)
        return rc;
    if (!s->url.table)
        return sl_fail(err, SL_E_USAGE, STAGE, "%s: a query cannot be written to (expected ?table=NAME)", s->url.shown);
    if (!(s->qtable = sl_db_quote_ident(s->url.table, strlen(s->url.table))))
        return sl_fail(err, SL_E_NOMEM, STAGE, "out of memory");
    char msg[512], ss[6];
    if (sl_pq_load(msg, sizeof msg) < 0)
        return sl_fail(err, SL_E_OUTPUT, STAGE, "%s: %s", s->url.shown, msg);
    if (connect_db(s, msg, sizeof msg) < 0)
        return pg_fail(w, SL_E_OUTPUT, "cannot connect", msg);
    /* a random id for this run's progress rows */
    unsigned char rnd[8] = {0};
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (read(fd, rnd, sizeof rnd) != (ssize_t)sizeof rnd)
            memset(rnd, 0, sizeof rnd);
        close(fd);
    }
    snprintf(s->load_id, sizeof s->load_id, "%d-%lld-%02x%02x%02x%02x%02x%02x%02x%02x", (int)getpid(),
             (long long)time(NULL), rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
    /* the progress table; two loads creating it at once: one wins, fine */
    int st = run_cmd(s, "CREATE TABLE IF NOT EXISTS " SL_DB_PROGRESS_TABLE " (load_id text NOT NULL, batch bigint NOT NULL, "
                        "rows bigint NOT NULL, target text, committed_at timestamptz NOT NULL DEFAULT now(), "
                        "PRIMARY KEY (load_id, batch))", 0, NULL, ss);
    if (st != PGRES_COMMAND_OK && strcmp(ss, "23505") != 0 && strcmp(ss, "42P07") != 0)
        return pg_fail(w, SL_E_OUTPUT, "cannot create the table " SL_DB_PROGRESS_TABLE, first_line(PQerrorMessage(s->conn),
                       msg, sizeof msg));
    const char *p[1] = {s->qtable};
    PGresult *r = PQexecParams(s->conn, "SELECT to_regclass($1) IS NOT NULL", 1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        PQclear(r);
        return pg_fail(w, SL_E_OUTPUT, "cannot look the table up", first_line(PQerrorMessage(s->conn), msg, sizeof msg));
    }
    s->exists = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
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

/* ---- one transaction ---- */

/* the row line of the COPY that the server's error names, or 0 */
static size_t error_line(const PGresult *r)
{
    const char *ctx = r ? PQresultErrorField(r, PG_DIAG_CONTEXT) : NULL;
    const char *l = ctx ? strstr(ctx, ", line ") : NULL;
    return l ? (size_t)strtoull(l + 7, NULL, 10) : 0;
}

/* The three phases of a batch's transaction.  Each returns TXN_OK or what
   went wrong (after rolling back when the connection is still there). */
#define LOST_OR(kind)                                                                                                  \
    do {                                                                                                               \
        first_line(s->conn ? PQerrorMessage(s->conn) : "no connection", msg, cap);                                     \
        if (lost(s, ss))                                                                                               \
            return TXN_LOST;                                                                                           \
        run_cmd(s, "ROLLBACK", 0, NULL, NULL);                                                                         \
        return kind;                                                                                                   \
    } while (0)

/* BEGIN, the table's DDL in the first transaction, COPY ... FROM STDIN */
static int txn_begin(pgw *s, char *msg, size_t cap)
{
    char ss[6] = "";
    if (!s->conn || PQstatus(s->conn) != CONNECTION_OK) {
        snprintf(msg, cap, "no connection");
        return TXN_LOST;
    }
    if (run_cmd(s, "BEGIN", 0, NULL, ss) != PGRES_COMMAND_OK)
        LOST_OR(TXN_FAIL);
    if (!s->first_done && s->create_sql && run_cmd(s, s->create_sql, 0, NULL, ss) != PGRES_COMMAND_OK)
        LOST_OR(TXN_FAIL);
    PGresult *r = PQexec(s->conn, s->copy_sql);
    int st = r ? (int)PQresultStatus(r) : -1;
    const char *e = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    snprintf(ss, sizeof ss, "%s", e ? e : "");
    PQclear(r);
    if (st != PGRES_COPY_IN)
        LOST_OR(TXN_FAIL);
    s->sent = 0;
    return TXN_OK;
}

/* the buffer from s->sent on, in pieces of at most 1 MiB */
static int txn_send(pgw *s, char *msg, size_t cap)
{
    char ss[6] = ""; /* a failure here is libpq's, not the server's */
    while (s->sent < s->len) {
        size_t n = s->len - s->sent < (1u << 20) ? s->len - s->sent : (1u << 20);
        if (PQputCopyData(s->conn, s->buf + s->sent, (int)n) != 1)
            LOST_OR(TXN_FAIL);
        s->sent += n;
    }
    return TXN_OK;
}

/* end the COPY, record the batch in the progress table, COMMIT */
static int txn_end(pgw *s, char *msg, size_t cap, size_t *badline)
{
    char ss[6] = "";
    *badline = 0;
    if (PQputCopyEnd(s->conn, NULL) != 1)
        LOST_OR(TXN_FAIL);
    int bad = 0;
    PGresult *r;
    while ((r = PQgetResult(s->conn))) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK && !bad) {
            bad = 1;
            const char *e = PQresultErrorField(r, PG_DIAG_SQLSTATE);
            snprintf(ss, sizeof ss, "%s", e ? e : "");
            *badline = error_line(r);
            first_line(PQresultErrorMessage(r), msg, cap);
        }
        PQclear(r);
    }
    if (bad) {
        if (lost(s, ss))
            return TXN_LOST;
        run_cmd(s, "ROLLBACK", 0, NULL, NULL);
        /* class 22 (data exception) and 23 (integrity): one row is bad */
        return *badline && (strncmp(ss, "22", 2) == 0 || strncmp(ss, "23", 2) == 0) ? TXN_BADROW : TXN_FAIL;
    }
    char batch[32], rows[32];
    snprintf(batch, sizeof batch, "%llu", (unsigned long long)(s->txns + 1));
    snprintf(rows, sizeof rows, "%zu", s->nrows);
    const char *p[4] = {s->load_id, batch, rows, s->url.table};
    if (run_cmd(s, "INSERT INTO " SL_DB_PROGRESS_TABLE " (load_id, batch, rows, target) VALUES ($1, $2, $3, $4)", 4, p,
                ss) != PGRES_COMMAND_OK)
        LOST_OR(TXN_FAIL);
    if (run_cmd(s, "COMMIT", 0, NULL, ss) != PGRES_COMMAND_OK)
        LOST_OR(TXN_FAIL);
    return TXN_OK;
}
#undef LOST_OR

/* the whole batch again, from its buffered text */
static int try_txn(pgw *s, char *msg, size_t cap, size_t *badline)
{
    *badline = 0;
    int t = txn_begin(s, msg, cap);
    if (t == TXN_OK)
        t = txn_send(s, msg, cap);
    return t == TXN_OK ? txn_end(s, msg, cap, badline) : t;
}

/* Abandon a COPY in progress (its batch will be sent again whole). */
static void stream_abort(pgw *s)
{
    if (!s->streaming)
        return;
    s->streaming = 0;
    if (!s->conn || PQstatus(s->conn) != CONNECTION_OK)
        return;
    if (PQputCopyEnd(s->conn, "abandoned: the batch is sent again") == 1) {
        PGresult *r;
        while ((r = PQgetResult(s->conn)))
            PQclear(r);
    }
    run_cmd(s, "ROLLBACK", 0, NULL, NULL);
}

/* After a lost connection: did batch txns+1 commit?  1 yes, 0 no, -1 the
   connection went again. */
static int batch_committed(pgw *s)
{
    char batch[32];
    snprintf(batch, sizeof batch, "%llu", (unsigned long long)(s->txns + 1));
    const char *p[2] = {s->load_id, batch};
    PGresult *r = PQexecParams(s->conn, "SELECT 1 FROM " SL_DB_PROGRESS_TABLE " WHERE load_id = $1 AND batch = $2", 2, NULL,
                               p, NULL, NULL, 0);
    int ok = r && PQresultStatus(r) == PGRES_TUPLES_OK;
    int n = ok ? PQntuples(r) : -1;
    PQclear(r);
    return !ok ? -1 : n > 0;
}

/* Reconnect within --retry-for of `start` (when the batch first met the
   outage), then tell whether the batch committed. */
static int recover(sl_writer *w, const char *why, uint64_t start, int *committed)
{
    pgw *s = w->state;
    uint64_t limit = w->run->opt.retry_for_ns;
    uint64_t delay = 100u * 1000000u;
    char msg[512];
    snprintf(msg, sizeof msg, "%s", why);
    for (;;) {
        if (connect_db(s, msg, sizeof msg) == 0) {
            int c = batch_committed(s);
            if (c >= 0) {
                *committed = c;
                return SL_OK;
            }
            first_line(PQerrorMessage(s->conn), msg, sizeof msg);
        }
        uint64_t el = now_ns() - start;
        if (el + delay > limit) {
            char lim[64];
            snprintf(lim, sizeof lim, "%.3gs", (double)limit / 1e9);
            return sl_fail(&w->run->err, SL_E_OUTPUT, STAGE, "%s: lost the connection and could not get it back within "
                           "--retry-for %s (last error: %s); %llu rows committed, batch %llu not", s->url.shown, lim, msg,
                           (unsigned long long)s->committed, (unsigned long long)(s->txns + 1));
        }
        struct timespec ts = {(time_t)(delay / 1000000000u), (long)(delay % 1000000000u)};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
            ;
        delay = delay * 2 > 5000ull * 1000000u ? 5000ull * 1000000u : delay * 2;
    }
}

static void drop_row(pgw *s, size_t i)
{
    size_t start = s->rows[i].off, end = i + 1 < s->nrows ? s->rows[i + 1].off : s->len;
    memmove(s->buf + start, s->buf + end, s->len - end);
    s->len -= end - start;
    for (size_t k = i + 1; k < s->nrows; k++) {
        s->rows[k - 1] = s->rows[k];
        s->rows[k - 1].off -= end - start;
    }
    s->nrows--;
}

static int commit_txn(sl_writer *w)
{
    pgw *s = w->state;
    uint64_t outage = 0; /* when this batch first lost the connection */
    int streamed = s->streaming;
    s->streaming = 0;
    while (s->nrows > 0) {
        char msg[512];
        size_t line = 0;
        int t;
        if (streamed) { /* most of it is there already: send the rest, end */
            streamed = 0;
            t = txn_send(s, msg, sizeof msg);
            if (t == TXN_OK)
                t = txn_end(s, msg, sizeof msg, &line);
        } else {
            t = try_txn(s, msg, sizeof msg, &line);
        }
        if (t == TXN_LOST) {
            if (!outage)
                outage = now_ns();
            int done = 0, rc = recover(w, msg, outage, &done);
            if (rc < 0)
                return rc;
            if (!done)
                continue; /* send the batch again */
            t = TXN_OK;
        }
        if (t == TXN_OK) {
            s->committed += s->nrows;
            s->txns++;
            s->first_done = 1;
            s->exists = 1;
            s->len = 0;
            s->nrows = 0;
            w->run->rows_committed = (int64_t)s->committed;
            return SL_OK;
        }
        if (t == TXN_BADROW && line >= 1 && line <= s->nrows) {
            sl_batch fake;
            memset(&fake, 0, sizeof fake);
            fake.info = &s->rows[line - 1].info;
            int rc = sl_run_bad_record(w->run, &fake, 0, STAGE, "%s refused the record: %s (batch %llu rolled back; %llu "
                                       "rows committed before it)", s->url.shown, msg,
                                       (unsigned long long)(s->txns + 1), (unsigned long long)s->committed);
            if (rc < 0)
                return rc;
            drop_row(s, line - 1);
            w->records--;
            continue;
        }
        return pg_fail(w, SL_E_OUTPUT, "the batch is rolled back", msg);
    }
    return SL_OK;
}

/* ---- formatting ---- */

static int reserve(pgw *s, size_t more)
{
    if (s->len + more <= s->cap)
        return 0;
    size_t nc = s->cap ? s->cap : 1u << 16;
    while (nc < s->len + more)
        nc *= 2;
    char *nb = realloc(s->buf, nc);
    if (!nb)
        return -1;
    s->buf = nb;
    s->cap = nc;
    return 0;
}

static int new_schema(sl_writer *w, const sl_batch *b)
{
    pgw *s = w->state;
    const sl_schema *sc = b->schema;
    int rc;
    if (s->nrows && (rc = commit_txn(w)) < 0) /* one COPY per transaction */
        return rc;
    char *cols = sl_db_column_list(sc, NULL, NULL);
    free(s->copy_sql);
    s->copy_sql = cols ? malloc(strlen(cols) + strlen(s->qtable) + 64) : NULL;
    if (!s->copy_sql) {
        free(cols);
        return sl_fail(&w->run->err, SL_E_NOMEM, STAGE, "out of memory");
    }
    sprintf(s->copy_sql, "COPY %s (%s) FROM STDIN", s->qtable, cols);
    free(cols);
    if (!s->first_done && !s->create_sql && (!s->exists || s->url.mode == SL_DBMODE_REPLACE)) {
        sl_dbtype *types = malloc((sc->ncols + 1) * sizeof *types);
        char *defs = NULL;
        if (types) {
            sl_db_infer(b, types);
            defs = sl_db_column_list(sc, types, pg_types);
        }
        free(types);
        s->create_sql = defs ? malloc(strlen(defs) + 2 * strlen(s->qtable) + 64) : NULL;
        if (!s->create_sql) {
            free(defs);
            return sl_fail(&w->run->err, SL_E_NOMEM, STAGE, "out of memory");
        }
        sprintf(s->create_sql, "%s%s%sCREATE TABLE %s (%s)", s->exists ? "DROP TABLE " : "", s->exists ? s->qtable : "",
                s->exists ? "; " : "", s->qtable, defs);
        free(defs);
    }
    s->schema_id = sc->id;
    s->ncols = sc->ncols;
    return SL_OK;
}

static int pg_write(sl_writer *w, const sl_batch *b)
{
    pgw *s = w->state;
    uint32_t live = sl_batch_live(b);
    int rc;
    if (!live)
        return SL_OK;
    if (s->schema_id != b->schema->id && (rc = new_schema(w, b)) < 0)
        return rc;
    static const sl_rowinfo none;
    for (uint32_t i = 0; i < live; i++) {
        uint32_t row = sl_batch_row(b, i);
        size_t need = 1;
        for (uint32_t c = 0; c < s->ncols; c++)
            need += 2 * (size_t)sl_batch_cell(b, row, c)->len + 3;
        if (reserve(s, need) < 0)
            return sl_fail(&w->run->err, SL_E_NOMEM, STAGE, "out of memory");
        if (s->nrows == s->rcap) {
            size_t nc = s->rcap ? s->rcap * 2 : 1024;
            pgrow *nr = realloc(s->rows, nc * sizeof *nr);
            if (!nr)
                return sl_fail(&w->run->err, SL_E_NOMEM, STAGE, "out of memory");
            s->rows = nr;
            s->rcap = nc;
        }
        pgrow *pr = &s->rows[s->nrows++];
        pr->off = s->len;
        pr->info = b->info ? b->info[row] : none;
        pr->info.raw = NULL;
        pr->info.len = 0;
        char *d = s->buf + s->len;
        for (uint32_t c = 0; c < s->ncols; c++) {
            const sl_cell *x = sl_batch_cell(b, row, c);
            if (c)
                *d++ = '\t';
            if (x->kind == SL_NULL || x->kind == SL_ABSENT) {
                *d++ = '\\';
                *d++ = 'N';
                continue;
            }
            for (uint32_t k = 0; k < x->len; k++) {
                char ch = x->p[k];
                switch (ch) {
                case '\\': *d++ = '\\'; *d++ = '\\'; break;
                case '\t': *d++ = '\\'; *d++ = 't'; break;
                case '\n': *d++ = '\\'; *d++ = 'n'; break;
                case '\r': *d++ = '\\'; *d++ = 'r'; break;
                default: *d++ = ch; break;
                }
            }
        }
        *d++ = '\n';
        s->len = (size_t)(d - s->buf);
    }
    w->records += live;
    if (!s->by_batch && s->nrows >= SL_DB_DEFAULT_TXN_ROWS)
        return commit_txn(w);
    /* Send what is formatted now, so that the server stores these rows while
       sluice reads the next ones.  Any trouble here is left to commit_txn,
       which sends the whole batch again. */
    char msg[512];
    if (!s->streaming && s->conn && PQstatus(s->conn) == CONNECTION_OK) {
        if (txn_begin(s, msg, sizeof msg) == TXN_OK)
            s->streaming = 1;
    }
    if (s->streaming && s->len - s->sent >= (64u << 10) && txn_send(s, msg, sizeof msg) != TXN_OK)
        stream_abort(s);
    return SL_OK;
}

static int pg_flush(sl_writer *w)
{
    pgw *s = w->state;
    return sl_db_commit_due(w->run, s->by_batch, &s->ends_seen) ? commit_txn(w) : SL_OK;
}

static int pg_finish(sl_writer *w)
{
    pgw *s = w->state;
    int rc = commit_txn(w);
    if (rc < 0)
        return rc;
    char msg[512];
    if (!s->first_done && s->url.mode == SL_DBMODE_REPLACE && s->exists) {
        /* no record at all: replace leaves the table, empty */
        char *sql = sl_db_delete_all_sql(s->qtable);
        if (!sql)
            return sl_fail(&w->run->err, SL_E_NOMEM, STAGE, "out of memory");
        int st = run_cmd(s, sql, 0, NULL, NULL);
        free(sql);
        if (st != PGRES_COMMAND_OK)
            return pg_fail(w, SL_E_OUTPUT, "cannot empty the table (mode=replace)",
                           first_line(PQerrorMessage(s->conn), msg, sizeof msg));
    }
    /* the load is complete: its progress rows have served */
    const char *p[1] = {s->load_id};
    run_cmd(s, "DELETE FROM " SL_DB_PROGRESS_TABLE " WHERE load_id = $1", 1, p, NULL);
    return SL_OK;
}

static void pg_destroy(sl_writer *w)
{
    pgw *s = w->state;
    if (!s)
        return;
    if (s->conn)
        PQfinish(s->conn); /* an open transaction is rolled back */
    free(s->qtable);
    free(s->create_sql);
    free(s->copy_sql);
    free(s->buf);
    free(s->rows);
    sl_dburl_free(&s->url);
    free(s);
    w->state = NULL;
}

const sl_writer_type sl_pg_writer_type = {
    .name = "postgres",
    .create = pg_create,
    .write = pg_write,
    .finish = pg_finish,
    .flush = pg_flush,
    .destroy = pg_destroy,
    .own_target = true,
};
