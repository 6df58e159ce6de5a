/* sortkey.c - parsing key lists, parsing and comparing key values. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "expr/expr.h"
#include "stages/args.h"
#include "stages/sortkey.h"

void sl_sortspec_free(sl_sortspec *k)
{
    for (uint32_t i = 0; i < k->n; i++)
        free(k->names[i]);
    free(k->names);
    free(k->lens);
    free(k->desc);
    memset(k, 0, sizeof *k);
}

int sl_sortspec_parse(sl_sortspec *k, const char *text, const char *stage, sl_error *err)
{
    memset(k, 0, sizeof *k);
    const char *p = text ? text : "";
    uint32_t cap = 0;
    for (;;) {
        while (isspace((unsigned char)*p) || *p == ',')
            p++;
        if (!*p)
            break;
        const char *item = p;
        uint8_t desc = 0;
        if (*p == '-' || *p == '+') {
            desc = *p == '-';
            p++;
        }
        char *name;
        size_t len;
        if (*p == '`' || *p == '"') {
            char q = *p++;
            name = malloc(strlen(p) + 1);
            if (!name)
                return sl_fail(err, SL_E_NOMEM, stage, "out of memory");
            len = 0;
            while (*p && !(*p == q && p[1] != q)) {
                if (*p == q) /* a doubled quote is one quote */
                    p++;
                name[len++] = *p++;
            }
            if (*p != q) {
                free(name);
                return sl_fail(err, SL_E_USAGE, stage, "unterminated %c in the key list '%s'", q, text);
            }
            p++;
            name[len] = 0;
        } else {
            const char *s = p;
            while (*p && *p != ',' && !isspace((unsigned char)*p))
                p++;
            len = (size_t)(p - s);
            if (len == 0 || *s == '-' || *s == '+')
                return sl_fail(err, SL_E_USAGE, stage,
                               "bad key at column %d of '%s' (expected a field name, -name for descending, or "
                               "`name` in backquotes)", (int)(item - text) + 1, text);
            name = strndup(s, len);
            if (!name)
                return sl_fail(err, SL_E_NOMEM, stage, "out of memory");
        }
        if (len == 0) {
            free(name);
            return sl_fail(err, SL_E_USAGE, stage, "empty field name at column %d of '%s'", (int)(item - text) + 1, text);
        }
        if (k->n == cap) {
            cap = cap ? cap * 2 : 4;
            char **nn = realloc(k->names, cap * sizeof *nn);
            if (nn)
                k->names = nn;
            uint32_t *nl = realloc(k->lens, cap * sizeof *nl);
            if (nl)
                k->lens = nl;
            uint8_t *nd = realloc(k->desc, cap * sizeof *nd);
            if (nd)
                k->desc = nd;
            if (!nn || !nl || !nd) {
                free(name);
                return sl_fail(err, SL_E_NOMEM, stage, "out of memory");
            }
        }
        k->names[k->n] = name;
        k->lens[k->n] = (uint32_t)len;
        k->desc[k->n] = desc;
        k->n++;
        while (isspace((unsigned char)*p))
            p++;
        if (*p && *p != ',' && *p != '-' && *p != '+' && *p != '`' && *p != '"' && !isalnum((unsigned char)*p) &&
            *p != '_')
            return sl_fail(err, SL_E_USAGE, stage, "unexpected '%c' at column %d of '%s'", *p, (int)(p - text) + 1, text);
    }
    if (k->n == 0)
        return sl_fail(err, SL_E_USAGE, stage, "expected a list of keys (a field name, -name for descending)");
    return SL_OK;
}

int sl_sortspec_bind(const sl_sortspec *k, const sl_schema *s, int32_t *cols, const char *stage, sl_error *err)
{
    for (uint32_t i = 0; i < k->n; i++) {
        int c = sl_schema_find(s, k->names[i], k->lens[i]);
        if (c < 0 && !s->open)
            return sl_fail_no_field(err, stage, k->names[i], s);
        cols[i] = c;
    }
    return SL_OK;
}

void sl_sortkey_of_cell(const sl_cell *c, sl_sortkey *k)
{
    switch (c->kind) {
    case SL_NULL:
    case SL_ABSENT:
        k->cls = SL_SK_NULL;
        k->len = 0;
        k->prefix = k->prefix2 = 0;
        k->u.p = NULL;
        return;
    case SL_TEXT:
    case SL_NUMBER: {
        /* a quick look at the first byte spares the parser most words */
        unsigned char f = c->len ? (unsigned char)c->p[0] : 0;
        if (c->len && ((f >= '0' && f <= '9') || f == '-' || f == '+' || f == '.')) {
            int64_t i;
            double d;
            int t = sl_num_parse(c->p, c->len, &i, &d);
            if (t == SL_V_INT) {
                k->cls = SL_SK_INT;
                k->u.i = i;
                k->len = 0;
                k->prefix = k->prefix2 = 0;
                return;
            }
            if (t == SL_V_DOUBLE) {
                k->cls = SL_SK_DOUBLE;
                k->u.d = d;
                k->len = 0;
                k->prefix = k->prefix2 = 0;
                return;
            }
        }
        break;
    }
    default:
        break;
    }
    k->cls = SL_SK_TEXT;
    k->u.p = c->p;
    k->len = c->len;
    uint64_t x = 0, y = 0;
    uint32_t n = c->len < 16 ? c->len : 16;
    for (uint32_t i = 0; i < n; i++) {
        if (i < 8)
            x |= (uint64_t)(unsigned char)c->p[i] << (56 - 8 * i);
        else
            y |= (uint64_t)(unsigned char)c->p[i] << (56 - 8 * (i - 8));
    }
    k->prefix = x;
    k->prefix2 = y;
}

void sl_sortkeys_of_row(const sl_batch *b, uint32_t row, const int32_t *cols, uint32_t n, sl_sortkey *keys)
{
    static const sl_cell absent = {NULL, 0, SL_ABSENT, {0}};
    for (uint32_t i = 0; i < n; i++)
        sl_sortkey_of_cell(cols[i] < 0 ? &absent : sl_batch_cell(b, row, (uint32_t)cols[i]), &keys[i]);
}
