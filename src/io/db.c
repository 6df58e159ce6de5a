/* db.c - database names, column types from records, identifier quoting,
   and hiding passwords in messages. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/json_out.h"
#include "io/db.h"
#include "sluice/run.h"

bool sl_db_is_name(const char *name)
{
    return name && (strncmp(name, "sqlite:", 7) == 0 || strncmp(name, "postgres://", 11) == 0 ||
                    strncmp(name, "postgresql://", 13) == 0);
}

void sl_dburl_free(sl_dburl *u)
{
    free(u->target);
    free(u->table);
    free(u->query);
    free(u->shown);
    memset(u, 0, sizeof *u);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* p[0..n) with + as space and %XX decoded; NULL on a bad escape or NUL */
static char *decode(const char *p, size_t n)
{
    char *out = malloc(n + 1);
    if (!out)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '+') {
            out[k++] = ' ';
        } else if (p[i] == '%') {
            int a = i + 2 < n ? hexval((unsigned char)p[i + 1]) : -1;
            int b = i + 2 < n ? hexval((unsigned char)p[i + 2]) : -1;
            if (a < 0 || b < 0 || (a == 0 && b == 0)) {
                free(out);
                return NULL;
            }
            out[k++] = (char)(a * 16 + b);
            i += 2;
        } else {
            out[k++] = p[i];
        }
    }
    out[k] = 0;
    return out;
}

int sl_dburl_parse(const char *name, sl_dburl *u, const char *stage, sl_error *err)
{
    memset(u, 0, sizeof *u);
    u->create = true;
    u->shown = strdup(name);
    if (!u->shown)
        return sl_fail(err, SL_E_NOMEM, stage, "out of memory");
    sl_redact_secrets(u->shown);
    const char *q = strchr(name, '?');
    size_t base = q ? (size_t)(q - name) : strlen(name);
    /* libpq keys to keep in the connection URI */
    size_t cap = strlen(name) + 2, klen = 0;
    char *keep = malloc(cap);
    if (!keep)
        return sl_fail(err, SL_E_NOMEM, stage, "out of memory");
    keep[0] = 0;
    if (strncmp(name, "sqlite:", 7) == 0) {
        u->kind = SL_DB_SQLITE;
        const char *path = name + 7;
        if (strncmp(path, "//", 2) == 0) /* sqlite:///abs/path */
            path += 2;
        if (path >= name + base) {
            free(keep);
            return sl_fail(err, SL_E_USAGE, stage, "'%s' names no database file (expected sqlite:PATH?table=NAME)", u->shown);
        }
        u->target = decode(path, (size_t)(name + base - path));
    } else {
        u->kind = SL_DB_POSTGRES;
        u->target = NULL; /* built below, with the kept keys */
    }
    int rc = SL_OK;
    for (const char *p = q ? q + 1 : NULL; p && *p && rc == SL_OK;) {
        size_t n = strcspn(p, "&");
        const char *eq = memchr(p, '=', n);
        if (!eq) {
            rc = sl_fail(err, SL_E_USAGE, stage, "'%.*s' in '%s' is not KEY=VALUE", (int)n, p, u->shown);
            break;
        }
        size_t kl = (size_t)(eq - p);
        char *v = decode(eq + 1, n - kl - 1);
        if (!v) {
            rc = sl_fail(err, SL_E_USAGE, stage, "bad %%XX escape in the value of '%.*s' in '%s'", (int)kl, p, u->shown);
            break;
        }
        if (kl == 5 && strncmp(p, "table", 5) == 0) {
            free(u->table);
            u->table = v;
        } else if (kl == 5 && strncmp(p, "query", 5) == 0) {
            free(u->query);
            u->query = v;
        } else if (kl == 4 && strncmp(p, "mode", 4) == 0) {
            if (strcmp(v, "append") == 0)
                u->mode = SL_DBMODE_APPEND;
            else if (strcmp(v, "replace") == 0)
                u->mode = SL_DBMODE_REPLACE;
            else if (strcmp(v, "fail") == 0)
                u->mode = SL_DBMODE_FAIL;
            else
                rc = sl_fail(err, SL_E_USAGE, stage, "mode=%s in '%s' (expected mode=append, replace or fail)", v, u->shown);
            free(v);
        } else if (kl == 6 && strncmp(p, "create", 6) == 0) {
            if (strcmp(v, "yes") == 0)
                u->create = true;
            else if (strcmp(v, "no") == 0)
                u->create = false;
            else
                rc = sl_fail(err, SL_E_USAGE, stage, "create=%s in '%s' (expected create=yes or create=no)", v, u->shown);
            free(v);
        } else if (u->kind == SL_DB_POSTGRES) {
            free(v);
            if (klen)
                keep[klen++] = '&';
            memcpy(keep + klen, p, n);
            klen += n;
            keep[klen] = 0;
        } else {
            free(v);
            rc = sl_fail(err, SL_E_USAGE, stage, "unknown key '%.*s' in '%s' (expected table, query, mode or create)", (int)kl,
                         p, u->shown);
        }
        p += n;
        if (*p == '&')
            p++;
    }
    if (rc == SL_OK && u->kind == SL_DB_POSTGRES) {
        u->target = malloc(base + klen + 2);
        if (u->target) {
            memcpy(u->target, name, base);
            u->target[base] = 0;
            if (klen) {
                strcat(u->target, "?");
                strcat(u->target, keep);
            }
        }
    }
    free(keep);
    if (rc < 0)
        return rc;
    if (!u->target)
        return sl_fail(err, SL_E_NOMEM, stage, "out of memory");
    if (u->table && u->query)
        return sl_fail(err, SL_E_USAGE, stage, "'%s' gives both table= and query= (expected one of them)", u->shown);
    if (!u->table && !u->query)
        return sl_fail(err, SL_E_USAGE, stage, "'%s' names no table (expected ?table=NAME, or ?query=SELECT... to read)",
                       u->shown);
    if (u->table && !*u->table)
        return sl_fail(err, SL_E_USAGE, stage, "'%s': the table name is empty", u->shown);
    return SL_OK;
}

/* an integer of at most 64 bits: -?(0|[1-9][0-9]*) */
static bool is_int64(const char *p, size_t n)
{
    size_t i = 0;
    if (i < n && p[i] == '-')
        i++;
    if (i == n || n - i > 19)
        return false;
    if (p[i] == '0' && n - i > 1)
        return false;
    for (size_t j = i; j < n; j++)
        if (!isdigit((unsigned char)p[j]))
            return false;
    if (n - i == 19) {
        /* compare with 9223372036854775807 (and ...808 when negative) */
        const char *max = p[0] == '-' ? "9223372036854775808" : "9223372036854775807";
        return memcmp(p + i, max, 19) <= 0;
    }
    return true;
}

sl_dbtype sl_db_cell_type(const sl_cell *c)
{
    switch (c->kind) {
    case SL_NULL:
    case SL_ABSENT:
        return SL_DBT_NONE;
    case SL_BOOL:
        return SL_DBT_BOOLEAN;
    case SL_NUMBER:
    case SL_TEXT:
        if (c->len && is_int64(c->p, c->len))
            return SL_DBT_INTEGER;
        if (c->len && sl_json_is_number(c->p, c->len))
            return SL_DBT_REAL;
        if (c->kind == SL_TEXT && ((c->len == 4 && memcmp(c->p, "true", 4) == 0) ||
                                   (c->len == 5 && memcmp(c->p, "false", 5) == 0)))
            return SL_DBT_BOOLEAN;
        return c->kind == SL_NUMBER ? SL_DBT_REAL : SL_DBT_TEXT;
    default:
        return SL_DBT_TEXT;
    }
}

sl_dbtype sl_db_widen(sl_dbtype col, sl_dbtype v)
{
    if (v == SL_DBT_NONE || v == col)
        return col;
    if (col == SL_DBT_NONE)
        return v;
    if ((col == SL_DBT_INTEGER && v == SL_DBT_REAL) || (col == SL_DBT_REAL && v == SL_DBT_INTEGER))
        return SL_DBT_REAL;
    return SL_DBT_TEXT;
}

char *sl_db_quote_ident(const char *name, size_t len)
{
    char *out = malloc(2 * len + 3);
    if (!out)
        return NULL;
    size_t k = 0;
    out[k++] = '"';
    for (size_t i = 0; i < len; i++) {
        if (name[i] == '"')
            out[k++] = '"';
        out[k++] = name[i];
    }
    out[k++] = '"';
    out[k] = 0;
    return out;
}

void sl_db_infer(const sl_batch *b, sl_dbtype *types)
{
    uint32_t nc = b->schema->ncols, live = sl_batch_live(b);
    for (uint32_t c = 0; c < nc; c++) {
        sl_dbtype t = SL_DBT_NONE;
        for (uint32_t i = 0; i < live && t != SL_DBT_TEXT; i++)
            t = sl_db_widen(t, sl_db_cell_type(sl_batch_cell(b, sl_batch_row(b, i), c)));
        types[c] = t == SL_DBT_NONE ? SL_DBT_TEXT : t;
    }
}

/* append s to a growing string; false on out of memory */
static bool cat(char **buf, size_t *len, size_t *cap, const char *s)
{
    size_t n = strlen(s);
    if (*len + n + 1 > *cap) {
        size_t nc = (*len + n + 1) * 2;
        char *nb = realloc(*buf, nc);
        if (!nb)
            return false;
        *buf = nb;
        *cap = nc;
    }
    memcpy(*buf + *len, s, n + 1);
    *len += n;
    return true;
}

char *sl_db_column_list(const sl_schema *sc, const sl_dbtype *types, const char *const tnames[5])
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    bool ok = cat(&buf, &len, &cap, "");
    for (uint32_t c = 0; c < sc->ncols && ok; c++) {
        char *q = sl_db_quote_ident(sc->names[c], sc->name_len[c]);
        ok = q && (c == 0 || cat(&buf, &len, &cap, ", ")) && cat(&buf, &len, &cap, q) &&
             (!types || (cat(&buf, &len, &cap, " ") && cat(&buf, &len, &cap, tnames[types[c]])));
        free(q);
    }
    if (!ok) {
        free(buf);
        return NULL;
    }
    return buf;
}

bool sl_db_has_batch_stage(const sl_run *run)
{
    for (int i = 0; i < run->nstages; i++)
        if (run->stages[i] && run->stages[i]->type && strcmp(run->stages[i]->type->name, "batch") == 0)
            return true;
    return false;
}

bool sl_db_commit_due(const sl_run *run, bool by_batch, uint64_t *ends_seen)
{
    if (!by_batch)
        return true;
    if (run->batch_ends == *ends_seen)
        return false;
    *ends_seen = run->batch_ends;
    return true;
}

char *sl_db_delete_all_sql(const char *qtable)
{
    char *sql = malloc(strlen(qtable) + 16);
    if (sql)
        sprintf(sql, "DELETE FROM %s", qtable);
    return sql;
}
