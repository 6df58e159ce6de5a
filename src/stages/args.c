/* args.c - field lists and counts in stage arguments. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/batch.h"
#include "stages/args.h"

void sl_namelist_free(sl_namelist *l)
{
    for (uint32_t i = 0; i < l->n; i++) {
        free(l->names[i]);
        if (l->alias)
            free(l->alias[i]);
    }
    free(l->names);
    free(l->lens);
    free(l->alias);
    free(l->alias_lens);
    memset(l, 0, sizeof *l);
}

/* one name at *pp; returns malloc'd copy or NULL with *bad set */
static char *one_name(const char **pp, uint32_t *len, const char **bad, int pairs)
{
    const char *p = *pp;
    char *out;
    if (*p == '`' || *p == '"') {
        char q = *p++;
        const char *s = p;
        size_t n = 0;
        out = malloc(strlen(p) + 1);
        if (!out)
            return NULL;
        while (*p && !(*p == q && p[1] != q)) {
            if (*p == q) /* doubled quote inside */
                p++;
            out[n++] = *p++;
        }
        if (*p != q) {
            free(out);
            *bad = s - 1;
            return NULL;
        }
        p++;
        out[n] = 0;
        *len = (uint32_t)n;
    } else {
        const char *s = p;
        while (*p && *p != ',' && !isspace((unsigned char)*p) && !(pairs && *p == ':'))
            p++;
        if (p == s) {
            *bad = s;
            return NULL;
        }
        out = strndup(s, (size_t)(p - s));
        *len = (uint32_t)(p - s);
    }
    *pp = p;
    return out;
}

static int namelist_parse(sl_namelist *l, const char *text, int pairs, const char *stage, sl_error *err);

int sl_namelist_parse(sl_namelist *l, const char *text, int pairs, const char *stage, sl_error *err)
{
    int rc = namelist_parse(l, text, pairs, stage, err);
    if (rc < 0)
        sl_namelist_free(l); /* nothing to free for the caller after an error */
    return rc;
}

static int namelist_parse(sl_namelist *l, const char *text, int pairs, const char *stage, sl_error *err)
{
    memset(l, 0, sizeof *l);
    const char *p = text;
    uint32_t cap = 0;
    while (*p) {
        while (isspace((unsigned char)*p) || *p == ',')
            p++;
        if (!*p)
            break;
        if (l->n == cap) {
            /* keep every array valid for sl_namelist_free() when one fails */
            uint32_t ncap = cap ? cap * 2 : 8;
            char **nn = realloc(l->names, ncap * sizeof *nn);
            if (nn)
                l->names = nn;
            uint32_t *nl = realloc(l->lens, ncap * sizeof *nl);
            if (nl)
                l->lens = nl;
            int grown = nn && nl;
            if (pairs) {
                char **na = realloc(l->alias, ncap * sizeof *na);
                if (na)
                    l->alias = na;
                uint32_t *nal = realloc(l->alias_lens, ncap * sizeof *nal);
                if (nal)
                    l->alias_lens = nal;
                grown = grown && na && nal;
            }
            if (!grown)
                return sl_fail(err, SL_E_NOMEM, stage, "out of memory");
            cap = ncap;
        }
        const char *bad = NULL;
        uint32_t len = 0;
        char *name = one_name(&p, &len, &bad, pairs);
        if (!name && !bad)
            return sl_fail(err, SL_E_NOMEM, stage, "out of memory");
        if (!name)
            return sl_fail(err, SL_E_USAGE, stage, "bad field name at column %d of '%s' (expected a name, or `name` in backquotes)",
                           (int)((bad ? bad : p) - text) + 1, text);
        l->names[l->n] = name;
        l->lens[l->n] = len;
        if (pairs) {
            l->alias[l->n] = NULL;
            if (*p != ':') {
                l->n++;
                return sl_fail(err, SL_E_USAGE, stage, "expected OLD:NEW at column %d of '%s'", (int)(p - text) + 1, text);
            }
            p++;
            char *nn = one_name(&p, &len, &bad, pairs);
            l->n++;
            if (!nn && !bad)
                return sl_fail(err, SL_E_NOMEM, stage, "out of memory");
            if (!nn)
                return sl_fail(err, SL_E_USAGE, stage, "expected a new name after ':' at column %d of '%s'",
                               (int)((bad ? bad : p) - text) + 1, text);
            l->alias[l->n - 1] = nn;
            l->alias_lens[l->n - 1] = len;
        } else {
            l->n++;
        }
        while (isspace((unsigned char)*p))
            p++;
        if (*p && *p != ',' && !(isalnum((unsigned char)*p) || *p == '`' || *p == '"' || *p == '_'))
            return sl_fail(err, SL_E_USAGE, stage, "unexpected '%c' at column %d of '%s'", *p, (int)(p - text) + 1, text);
    }
    return SL_OK;
}

int sl_parse_count(const char *text, uint64_t *out)
{
    while (isspace((unsigned char)*text))
        text++;
    if (!isdigit((unsigned char)*text))
        return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(text, &end, 10);
    while (isspace((unsigned char)*end))
        end++;
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

int sl_fail_no_field(sl_error *err, const char *stage, const char *name, const void *schema)
{
    const sl_schema *s = schema;
    char list[700];
    size_t n = 0;
    list[0] = 0;
    for (uint32_t i = 0; i < s->ncols && n < sizeof list - 8; i++) {
        int k = snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "", s->names[i]);
        if (k < 0 || (size_t)k >= sizeof list - n) {
            snprintf(list + (sizeof list - 8), 8, ", ...");
            break;
        }
        n += (size_t)k;
    }
    return sl_fail(err, SL_E_USAGE, stage, "no field '%s' in input; fields are: %s", name, list);
}
