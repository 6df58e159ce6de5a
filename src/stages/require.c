/*
 * require.c - `require FIELD[:TYPE], ...` checks that every record has the
 * named fields, not null, of the named types; a record that fails goes to
 * the run's bad-record policy (--on-error) with its position and a reason
 * naming the field, what it was and what was expected.
 *
 * Types: any (the default: present and not null), string, number, int,
 * bool, object, array.  A type ending in `?` also accepts a missing or null
 * field (a field that may be absent, but is of that type when present).
 *
 * What a cell is: in NDJSON the JSON type decides ("404" is a string, 404 a
 * number).  CSV, TSV and lines carry only text: every non-empty field is a
 * string, and it is also a number (int) when its text reads as one, a bool
 * when it is true or false; an empty field is null.
 *
 * Like filter, it passes the batch it was handed with a narrower selection:
 * it never copies a record.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr/expr.h"
#include "sluice/run.h"

#define STAGE "require"

typedef enum req_type { RT_ANY, RT_STRING, RT_NUMBER, RT_INT, RT_BOOL, RT_OBJECT, RT_ARRAY } req_type;

static const char *const type_names[] = {"any", "string", "number", "int", "bool", "object", "array"};
static const char *const type_expect[] = {"a value",  "a string",  "a number", "an integer",
                                          "a boolean", "an object", "an array"};

typedef struct req_field {
    char *name;
    uint32_t len;
    req_type type;
    int nullable;
    uint32_t col; /* bound column, UINT32_MAX when the schema lacks it */
} req_field;

typedef struct require_state {
    req_field *f;
    uint32_t n;
    uint64_t schema_id;
    int bound;
} require_state;

/* One name at *pp: bare (letters, digits, _ . -), `backquoted` or "double
   quoted"; returns a malloc'd copy or NULL with *bad set. */
static char *name_at(const char **pp, uint32_t *len, const char **bad)
{
    const char *p = *pp;
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
    const char *s = p, *e;
    if (*p == '`' || *p == '"') {
        char q = *p++;
        s = p;
        while (*p && *p != q) p++;
        if (!*p) {
            *bad = "a name whose quote is never closed";
            return NULL;
        }
        e = p++;
    } else {
        while (*p && *p != ',' && *p != ':' && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') p++;
        e = p;
    }
    if (e == s) {
        *bad = "a field name";
        return NULL;
    }
    char *n = malloc((size_t)(e - s) + 1);
    if (!n) {
        *bad = "memory";
        return NULL;
    }
    memcpy(n, s, (size_t)(e - s));
    n[e - s] = 0;
    *len = (uint32_t)(e - s);
    *pp = p;
    return n;
}

static int require_create(sl_stage *st, const char *args, sl_error *err)
{
    require_state *s = calloc(1, sizeof *s);
    if (!s) return sl_fail(err, SL_E_NOMEM, STAGE, "out of memory");
    st->state = s;
    const char *p = args ? args : "";
    uint32_t cap = 0;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
        if (!*p) break;
        if (s->n == cap) {
            cap = cap ? cap * 2 : 8;
            req_field *nf = realloc(s->f, cap * sizeof *nf);
            if (!nf) return sl_fail(err, SL_E_NOMEM, STAGE, "out of memory");
            s->f = nf;
        }
        req_field *f = &s->f[s->n];
        memset(f, 0, sizeof *f);
        const char *bad = NULL, *at = p;
        f->name = name_at(&p, &f->len, &bad);
        if (!f->name)
            return sl_fail(err, SL_E_USAGE, STAGE, "expected %s at column %zu of '%s'", bad, (size_t)(at - args) + 1, args);
        s->n++;
        while (*p == ' ' || *p == '\t') p++;
        if (*p == ':') {
            p++;
            while (*p == ' ' || *p == '\t') p++;
            const char *t = p;
            while (*p && *p != ',' && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') p++;
            size_t tl = (size_t)(p - t);
            if (tl > 0 && t[tl - 1] == '?') {
                f->nullable = 1;
                tl--;
            }
            int found = -1;
            for (int k = 0; k < (int)(sizeof type_names / sizeof type_names[0]); k++)
                if (strlen(type_names[k]) == tl && memcmp(type_names[k], t, tl) == 0) found = k;
            if (found < 0)
                return sl_fail(err, SL_E_USAGE, STAGE,
                               "unknown type '%.*s' for field '%s': the types are any, string, number, int, bool, "
                               "object, array (with ? for a field that may be missing or null)",
                               (int)(p - t), t, f->name);
            f->type = (req_type)found;
        }
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
        if (*p == ',') {
            p++;
            continue;
        }
        if (*p)
            return sl_fail(err, SL_E_USAGE, STAGE, "expected ',' or ':TYPE' at column %zu of '%s'", (size_t)(p - args) + 1,
                           args);
    }
    if (s->n == 0)
        return sl_fail(err, SL_E_USAGE, STAGE, "expects the fields to check, as FIELD[:TYPE], ... (require id:int, name)");
    return SL_OK;
}

static int require_open(sl_stage *st)
{
    (void)st;
    return SL_OK;
}

static void bind(require_state *s, const sl_schema *schema)
{
    for (uint32_t i = 0; i < s->n; i++) {
        int c = sl_schema_find(schema, s->f[i].name, s->f[i].len);
        s->f[i].col = c < 0 ? UINT32_MAX : (uint32_t)c;
    }
    s->schema_id = schema->id;
    s->bound = 1;
}

/* What a present, non-null cell is, as one word for messages. */
static const char *cell_is(const sl_cell *c)
{
    switch (c->kind) {
    case SL_STRING: return "a string";
    case SL_NUMBER: return "a number";
    case SL_BOOL: return "a boolean";
    case SL_JSON: return c->p[0] == '{' ? "an object" : "an array";
    default: return "text";
    }
}

static int is_bool_text(const sl_cell *c)
{
    return (c->len == 4 && memcmp(c->p, "true", 4) == 0) || (c->len == 5 && memcmp(c->p, "false", 5) == 0);
}

/* Whether a present, non-null cell is of type t. */
static int type_ok(const sl_cell *c, req_type t)
{
    int64_t iv;
    double dv;
    switch (t) {
    case RT_ANY: return 1;
    case RT_STRING: return c->kind == SL_STRING || c->kind == SL_TEXT;
    case RT_NUMBER:
        if (c->kind == SL_NUMBER) return 1;
        return c->kind == SL_TEXT && sl_num_parse(c->p, c->len, &iv, &dv) != SL_V_NULL;
    case RT_INT:
        if (c->kind != SL_NUMBER && c->kind != SL_TEXT) return 0;
        return sl_num_parse(c->p, c->len, &iv, &dv) == SL_V_INT;
    case RT_BOOL: return c->kind == SL_BOOL || (c->kind == SL_TEXT && is_bool_text(c));
    case RT_OBJECT: return c->kind == SL_JSON && c->p[0] == '{';
    case RT_ARRAY: return c->kind == SL_JSON && c->p[0] == '[';
    }
    return 0;
}

/* The first 40 bytes of a value for a message, control bytes escaped. */
static void show_value(const sl_cell *c, char *out, size_t cap)
{
    size_t o = 0, n = c->len > 40 ? 40 : c->len;
    for (size_t i = 0; i < n && o + 8 < cap; i++) {
        unsigned char ch = (unsigned char)c->p[i];
        if (ch == '\n') o += (size_t)snprintf(out + o, cap - o, "\\n");
        else if (ch == '\t') o += (size_t)snprintf(out + o, cap - o, "\\t");
        else if (ch == '\r') o += (size_t)snprintf(out + o, cap - o, "\\r");
        else if (ch < 0x20 || ch == 0x7f) o += (size_t)snprintf(out + o, cap - o, "\\x%02x", ch);
        else out[o++] = (char)ch;
    }
    if (c->len > 40 && o + 4 < cap) o += (size_t)snprintf(out + o, cap - o, "...");
    out[o] = 0;
}

/* Line and column of a cell whose bytes lie inside the record's raw text
   (cells that were not decoded into other memory); 0 when unknown. */
static void cell_where(const sl_batch *b, uint32_t row, const sl_cell *c, uint64_t *line, uint64_t *col)
{
    *line = 0;
    *col = 0;
    if (!b->info || !c->p) return;
    const sl_rowinfo *in = &b->info[row];
    if (!in->raw || c->p < in->raw || c->p >= in->raw + in->len) return;
    uint64_t l = in->line;
    const char *ls = in->raw;
    for (const char *q = in->raw; q < c->p; q++)
        if (*q == '\n') {
            l++;
            ls = q + 1;
        }
    *line = l;
    *col = (uint64_t)(c->p - ls) + 1;
    if (c->kind == SL_STRING && c->p > ls && c->p[-1] == '"')
        (*col)--; /* a JSON string: its opening quote */
}

static int require_next(sl_stage *st, sl_batch **out)
{
    require_state *s = st->state;
    sl_run *run = st->run;
    for (;;) {
        sl_batch *b;
        int rc = sl_stage_next(st->input, &b);
        if (rc != SL_BATCH) return rc;
        if (!s->bound || s->schema_id != b->schema->id) bind(s, b->schema);
        if (sl_batch_ensure_sel(b) < 0) return sl_fail(&run->err, SL_E_NOMEM, STAGE, "out of memory");
        uint32_t *sel = b->sel, n = b->nsel, k = 0;
        for (uint32_t i = 0; i < n; i++) {
            uint32_t row = sel[i];
            uint32_t bad = UINT32_MAX;
            const sl_cell *c = NULL;
            for (uint32_t j = 0; j < s->n; j++) {
                const req_field *f = &s->f[j];
                c = f->col == UINT32_MAX ? NULL : sl_batch_cell(b, row, f->col);
                int absent = !c || c->kind == SL_ABSENT;
                int null = !absent && (c->kind == SL_NULL || c->len == 0);
                if (absent || null) {
                    if (f->nullable) continue;
                } else if (type_ok(c, f->type)) {
                    continue;
                }
                bad = j;
                break;
            }
            if (bad == UINT32_MAX) {
                sel[k++] = row;
                continue;
            }
            const req_field *f = &s->f[bad];
            const char *want = type_expect[f->type];
            if (!c || c->kind == SL_ABSENT) {
                rc = sl_run_bad_record(run, b, row, STAGE, "field '%s' is missing; expected %s", f->name, want);
            } else if (c->kind == SL_NULL || c->len == 0) {
                rc = sl_run_bad_record(run, b, row, STAGE, "field '%s' is %s; expected %s", f->name,
                                       c->kind == SL_NULL ? "null" : "empty", want);
            } else {
                uint64_t line, col;
                cell_where(b, row, c, &line, &col);
                char shown[200];
                show_value(c, shown, sizeof shown);
                rc = sl_run_bad_record_at(run, b, row, line, col, STAGE, "field '%s' is %s (%s); expected %s", f->name,
                                          cell_is(c), shown, want);
            }
            if (rc < 0) return rc;
        }
        b->nsel = k;
        if (k > 0) {
            *out = b;
            return SL_BATCH;
        }
    }
}

static void require_close(sl_stage *st)
{
    require_state *s = st->state;
    if (!s) return;
    for (uint32_t i = 0; i < s->n; i++) free(s->f[i].name);
    free(s->f);
    free(s);
    st->state = NULL;
}

const sl_stage_type sl_require_stage_type = {
    .name = "require",
    .usage = "require FIELD[:TYPE][, ...]",
    .summary = "check that fields are present, not null, and of a type",
    .help = "Passes a record only when every named field is present and not null\n"
            "and, when a TYPE is given, of that type; any other record is a bad\n"
            "record (--on-error: stop with its position, skip, or reject=FILE),\n"
            "with a reason naming the field, what it was and what was expected.\n"
            "\n"
            "Types: any (the default), string, number, int, bool, object, array.\n"
            "TYPE? also accepts a missing or null field.  In NDJSON the JSON type\n"
            "decides (\"404\" is a string, 404 a number); in CSV every non-empty\n"
            "field is a string, and also a number when its text reads as one.\n"
            "\n"
            "  require path:string, user_agent:string, ts:string\n"
            "  require id:int, amount:number, note:string?\n",
    .create = require_create,
    .open = require_open,
    .next = require_next,
    .close = require_close,
    .schema = sl_stage_schema_input,
};
