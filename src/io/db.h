/*
 * db.h - database names (SQLite and PostgreSQL targets), shared by the
 * database reader, the database writer and join.
 *
 * A database name looks like a URL:
 *
 *   sqlite:PATH?table=T                 a table of the SQLite file PATH
 *   sqlite:PATH?query=SELECT+...        the rows of a query (input, join)
 *   postgres://USER@HOST:PORT/DB?table=T      (or postgresql://)
 *
 * The query string holds sluice's own keys (table, query, mode, create);
 * in a value, `+` is a space and %XX a
 * byte.  For PostgreSQL every other key (sslmode, connect_timeout,
 * application_name, ...) is handed to libpq with the part before `?`, as a
 * connection URI: passwords, ~/.pgpass, PGPASSWORD, PGHOST and the rest
 * follow libpq's conventions.  A password is never printed: every message
 * that could show the name goes through sl_redact_secrets().
 */
#ifndef SLUICE_DB_H
#define SLUICE_DB_H

#include <stdbool.h>
#include <stdint.h>

#include "sluice/batch.h"
#include "sluice/error.h"

typedef enum { SL_DB_SQLITE = 1, SL_DB_POSTGRES } sl_db_kind;
typedef enum { SL_DBMODE_APPEND = 0, SL_DBMODE_REPLACE, SL_DBMODE_FAIL } sl_db_mode;

typedef struct sl_dburl {
    sl_db_kind kind;
    char *target;     /* SQLite: the file path; PostgreSQL: the connection URI
                         handed to libpq (libpq's own keys kept) */
    char *table;      /* ?table=, or NULL */
    char *query;      /* ?query=, or NULL */
    sl_db_mode mode;  /* ?mode=append|replace|fail */
    bool create;      /* ?create=yes|no (default yes) */
    char *shown;      /* the name with any password replaced, for messages */
} sl_dburl;

/* Does name start like a database name (sqlite:, postgres://,
   postgresql://)? */
bool sl_db_is_name(const char *name);

/* Parse name into u.  Errors are usage errors that say what was expected;
   `stage` names the stage for the message.  u is freed with sl_dburl_free
   whatever the outcome. */
int sl_dburl_parse(const char *name, sl_dburl *u, const char *stage, sl_error *err);
void sl_dburl_free(sl_dburl *u);

/* The column types sluice creates tables with, from the records. */
typedef enum { SL_DBT_NONE = 0, SL_DBT_INTEGER, SL_DBT_REAL, SL_DBT_BOOLEAN, SL_DBT_TEXT } sl_dbtype;

/* What a single cell is: NONE for null/absent, else the narrowest type that
   holds it (INTEGER: an integer that fits 64 bits, spelled without leading
   zeros or '+'; REAL: any other JSON number; BOOLEAN: true/false; TEXT:
   anything else, and every string that came quoted from JSON). */
sl_dbtype sl_db_cell_type(const sl_cell *c);
/* Widen a column's type by one more value: INTEGER+REAL = REAL, any other
   mix = TEXT, NONE leaves it. */
sl_dbtype sl_db_widen(sl_dbtype col, sl_dbtype v);

/* Column types for a new table from the live rows of b: each column the
   widening of its values, TEXT when they are all null. */
void sl_db_infer(const sl_batch *b, sl_dbtype *types);

/* "\"a\", \"b\"" for the columns of sc, or with types "\"a\" T, ..." where T
   is tnames[types[c]].  malloc'd, NULL on out of memory. */
char *sl_db_column_list(const sl_schema *sc, const sl_dbtype *types, const char *const tnames[5]);

struct sl_run;
/* Does the pipeline hold a `batch` stage (whose batches are then the
   transactions)? */
bool sl_db_has_batch_stage(const struct sl_run *run);
/* A database writer's flush(): whether to commit now.  Without the batch
   stage every flush commits; with it (by_batch), only the first flush after
   each end of one of its batches (run->batch_ends past *ends_seen). */
bool sl_db_commit_due(const struct sl_run *run, bool by_batch, uint64_t *ends_seen);
/* "DELETE FROM qtable" (replace mode with no record), malloc'd, or NULL. */
char *sl_db_delete_all_sql(const char *qtable);

/* "name" with inner double quotes doubled, into a malloc'd string. */
char *sl_db_quote_ident(const char *name, size_t len);

/* ---- per-key lookups (join --lookup per-key), in formats/db_reader.c
   beside the reader whose value conversion they share ---- */

typedef struct sl_db_lookup sl_db_lookup;
/* called for each row found: cells[0..ncells) valid during the call */
typedef int (*sl_db_row_fn)(void *ctx, const sl_cell *cells, uint32_t ncells);

/* Open name (a table or query) for lookups by one column: prepares
   SELECT * FROM <table or (query)> WHERE "column" = $1 once.  NULL after
   recording an error. */
sl_db_lookup *sl_db_lookup_open(const char *name, const char *column, const char *stage, sl_error *err);
/* The result's columns (the lookup owns the reference). */
sl_schema *sl_db_lookup_schema(const sl_db_lookup *lk);
uint64_t sl_db_lookup_queries(const sl_db_lookup *lk);
/* Run the query for one key (compared with the database's own equality,
   after the database converts the key to the column's type); fn is called
   per row.  Returns SL_OK or an error (fn's, or the database's). */
int sl_db_lookup_fetch(sl_db_lookup *lk, const char *key, size_t len, sl_db_row_fn fn, void *ctx, uint64_t maxlen,
                       sl_error *err);
void sl_db_lookup_close(sl_db_lookup *lk);

/* The table name of the progress records of PostgreSQL loads. */
#define SL_DB_PROGRESS_TABLE "sluice_load_progress"

/* Rows per transaction when the pipeline has no `batch` stage. */
#define SL_DB_DEFAULT_TXN_ROWS 10000

#endif
