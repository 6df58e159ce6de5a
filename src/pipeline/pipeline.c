/* pipeline.c - splitting pipeline text into stages. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/pipeline.h"
#include "sluice/stage.h"

int sl_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 100 || lb > 100)
        return 100;
    int d[101][101];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int c = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < c)
                c = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < c)
                c = d[i][j - 1] + 1;
            d[i][j] = c;
        }
    return d[la][lb];
}

void sl_pipeline_text_free(sl_pipeline_text *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->stages[i].name);
        free(p->stages[i].args);
        free(p->stages[i].text);
    }
    free(p->stages);
    p->stages = NULL;
    p->n = 0;
}

/* does the line starting at p begin (after blanks and an optional '|') with
   the name of a stage? */
static int line_starts_stage(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '|' && p[1] != '|')
        return 1;
    const char *s = p;
    while (isalnum((unsigned char)*p) || *p == '_' || *p == '-')
        p++;
    if (p == s)
        return 0;
    if (*p && !isspace((unsigned char)*p) && *p != ':')
        return 0;
    return sl_stage_type_find(s, (size_t)(p - s)) != NULL;
}

static int add_stage(sl_pipeline_text *out, const char *text, const char *s, const char *e, sl_error *err)
{
    while (s < e && isspace((unsigned char)*s))
        s++;
    while (e > s && isspace((unsigned char)e[-1]))
        e--;
    if (s == e)
        return SL_OK; /* empty stage (blank line, leading '|'): nothing */
    size_t line = 1, col = 1;
    for (const char *q = text; q < s; q++) {
        if (*q == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    const char *ne = s;
    /* the name ends at a blank, or at a ':' that starts the arguments
       (`group: n = count()`) */
    while (ne < e && !isspace((unsigned char)*ne) && *ne != ':')
        ne++;
    size_t nlen = (size_t)(ne - s);
    if (!sl_stage_type_find(s, nlen)) {
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(nlen < 60 ? nlen : 60), s);
        const char *best = NULL;
        int bd = 3;
        for (int i = 0; sl_stage_types[i]; i++) {
            int d = sl_edit_distance(name, sl_stage_types[i]->name);
            if (d < bd) {
                bd = d;
                best = sl_stage_types[i]->name;
            }
        }
        sl_fail(err, SL_E_USAGE, "pipeline", "line %zu, column %zu: unknown stage '%s'%s%s%s (see sluice --help for the list)",
                line, col, name, best ? " (did you mean '" : "", best ? best : "", best ? "'?)" : "");
        /* the pipeline line with a caret under the stage */
        const char *ls = s;
        while (ls > text && ls[-1] != '\n')
            ls--;
        const char *le = strchr(s, '\n');
        int llen = le ? (int)(le - ls) : (int)strlen(ls);
        snprintf(err->detail, sizeof err->detail, "  %.*s\n  %*s^", llen > 200 ? 200 : llen, ls, (int)(col - 1), "");
        return SL_E_USAGE;
    }
    sl_stage_text *n = realloc(out->stages, (out->n + 1) * sizeof *n);
    if (!n)
        return sl_fail(err, SL_E_NOMEM, "pipeline", "out of memory");
    out->stages = n;
    sl_stage_text *t = &out->stages[out->n++];
    const char *a = ne;
    while (a < e && isspace((unsigned char)*a))
        a++;
    t->name = strndup(s, nlen);
    t->args = strndup(a, (size_t)(e - a));
    t->text = strndup(s, (size_t)(e - s));
    t->line = line;
    t->col = col;
    if (!t->name || !t->args || !t->text)
        return sl_fail(err, SL_E_NOMEM, "pipeline", "out of memory");
    return SL_OK;
}

int sl_pipeline_parse(const char *text, sl_pipeline_text *out, sl_error *err)
{
    memset(out, 0, sizeof *out);
    /* copy without comments, keeping offsets (comments become spaces) */
    size_t n = strlen(text);
    char *buf = malloc(n + 1);
    if (!buf)
        return sl_fail(err, SL_E_NOMEM, "pipeline", "out of memory");
    memcpy(buf, text, n + 1);
    char q = 0;
    for (size_t i = 0; i < n; i++) {
        char c = buf[i];
        if (q) {
            if (c == '\\' && q == '"' && i + 1 < n)
                i++;
            else if (c == q)
                q = 0;
        } else if (c == '"' || c == '`') {
            q = c;
        } else if (c == '#') {
            while (i < n && buf[i] != '\n')
                buf[i++] = ' ';
            i--;
        }
    }
    if (q) {
        free(buf);
        return sl_fail(err, SL_E_USAGE, "pipeline", "unterminated %c quote in the pipeline", q);
    }
    const char *start = buf;
    int rc = SL_OK;
    q = 0;
    for (size_t i = 0; i <= n && rc == SL_OK; i++) {
        char c = buf[i];
        if (q) {
            if (c == '\\' && q == '"' && i + 1 < n)
                i++;
            else if (c == q)
                q = 0;
            continue;
        }
        if (c == '"' || c == '`') {
            q = c;
        } else if (c == '|') {
            if (buf[i + 1] == '|') {
                i++; /* || is an operator */
                continue;
            }
            rc = add_stage(out, buf, start, buf + i, err);
            start = buf + i + 1;
        } else if (c == '\n') {
            if (line_starts_stage(buf + i + 1)) {
                rc = add_stage(out, buf, start, buf + i, err);
                start = buf + i + 1;
            }
        } else if (c == 0) {
            rc = add_stage(out, buf, start, buf + i, err);
        }
    }
    free(buf);
    if (rc == SL_OK && out->n == 0)
        rc = sl_fail(err, SL_E_USAGE, "pipeline", "the pipeline is empty (expected stages such as 'cat' or 'select a,b')");
    return rc;
}
