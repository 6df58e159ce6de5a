/*
 * lex.c - tokens of the expression language, and compile-error carets.
 *
 * Identifiers are [A-Za-z_] followed by [A-Za-z0-9_.] (a dot is part of a
 * name: flattened JSON keys read `user.id`); bytes >= 0x80 are allowed so
 * UTF-8 names work bare.  Any other name is written in backquotes, with ``
 * for a backquote inside.  Strings are "..." with the escapes \n \t \r \\
 * \" \/ \uXXXX (surrogate pairs combine), or raw r"..." with no escapes at
 * all (for regular expressions).
 */
#include <stdio.h>
#include <string.h>

#include "expr/expr_int.h"

static const char *const tok_names[] = {
    [TK_EOF] = "end of expression", [TK_INT] = "number", [TK_DOUBLE] = "number",
    [TK_STRING] = "string", [TK_IDENT] = "name", [TK_QIDENT] = "name",
    [TK_TRUE] = "'true'", [TK_FALSE] = "'false'", [TK_NULL] = "'null'",
    [TK_AND] = "'and'", [TK_OR] = "'or'", [TK_NOT] = "'not'",
    [TK_LPAREN] = "'('", [TK_RPAREN] = "')'", [TK_COMMA] = "','",
    [TK_PLUS] = "'+'", [TK_MINUS] = "'-'", [TK_STAR] = "'*'", [TK_SLASH] = "'/'",
    [TK_SLASH2] = "'//'", [TK_PERCENT] = "'%'", [TK_EQ] = "'=='", [TK_NE] = "'!='",
    [TK_LT] = "'<'", [TK_LE] = "'<='", [TK_GT] = "'>'", [TK_GE] = "'>='",
    [TK_MATCH] = "'=~'", [TK_NMATCH] = "'!~'", [TK_CONCAT] = "'||'", [TK_ASSIGN] = "'='",
};

const char *tok_name(tok_type t) { return tok_names[t]; }

void sl_expr_caret(sl_error *err, const char *text, size_t len, size_t pos)
{
    if (err->col != 0 || err->detail[0]) return;
    if (pos > len) pos = len;
    size_t ls = pos, le = pos;
    while (ls > 0 && text[ls - 1] != '\n') ls--;
    while (le < len && text[le] != '\n') le++;
    /* window of at most ~160 bytes around pos on long lines */
    size_t ws = ls, we = le;
    bool cut_l = false, cut_r = false;
    if (pos - ws > 100) {
        ws = pos - 80;
        while (ws < pos && ((unsigned char)text[ws] & 0xC0) == 0x80) ws++;
        cut_l = true;
    }
    if (we - pos > 80) {
        we = pos + 60;
        while (we > pos && ((unsigned char)text[we] & 0xC0) == 0x80) we--;
        cut_r = true;
    }
    uint64_t col = 1;
    for (size_t i = ls; i < pos; i++)
        if (((unsigned char)text[i] & 0xC0) != 0x80) col++;
    err->col = col;
    char *d = err->detail;
    size_t cap = sizeof err->detail, o = 0;
    o += (size_t)snprintf(d + o, cap - o, "  %s%.*s%s\n  %s", cut_l ? "..." : "",
                          (int)(we - ws), text + ws, cut_r ? "..." : "", cut_l ? "   " : "");
    for (size_t i = ws; i < pos && o + 2 < cap; i++) {
        unsigned char c = (unsigned char)text[i];
        if ((c & 0xC0) == 0x80) continue;
        d[o++] = c == '\t' ? '\t' : ' ';
    }
    if (o + 2 < cap) d[o++] = '^';
    d[o < cap ? o : cap - 1] = 0;
}

int expr_src_error(const expr_src *src, size_t pos, const char *fmt, ...)
{
    if (src->err->code != SL_OK) return SL_E_USAGE;
    va_list ap;
    va_start(ap, fmt);
    sl_vfail(src->err, SL_E_USAGE, src->stage, fmt, ap);
    va_end(ap);
    sl_expr_caret(src->err, src->text, src->len, pos);
    return SL_E_USAGE;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int read_hex4(const char *s, size_t n, size_t i, unsigned *out)
{
    if (i + 4 > n) return -1;
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        int h = hexval(s[i + (size_t)k]);
        if (h < 0) return -1;
        v = v * 16 + (unsigned)h;
    }
    *out = v;
    return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xC0 | cp >> 6); o[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12); o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18); o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* "..." starting at s[start] (the quote). */
static int lex_string(const expr_src *src, size_t start, size_t *end, token *t)
{
    const char *s = src->text;
    size_t n = src->len, i = start + 1;
    char *out = sl_arena_alloc(src->arena, n - start + 1);
    if (!out) return sl_fail(src->err, SL_E_NOMEM, src->stage, "out of memory");
    size_t o = 0;
    for (;;) {
        if (i >= n) return expr_src_error(src, start, "unterminated string (opened here; expected a closing '\"')");
        char c = s[i];
        if (c == '"') { i++; break; }
        if (c != '\\') { out[o++] = c; i++; continue; }
        if (i + 1 >= n) return expr_src_error(src, start, "unterminated string (opened here; expected a closing '\"')");
        char e = s[i + 1];
        switch (e) {
        case 'n': out[o++] = '\n'; i += 2; break;
        case 't': out[o++] = '\t'; i += 2; break;
        case 'r': out[o++] = '\r'; i += 2; break;
        case '\\': out[o++] = '\\'; i += 2; break;
        case '"': out[o++] = '"'; i += 2; break;
        case '/': out[o++] = '/'; i += 2; break;
        case 'u': {
            unsigned cp;
            if (read_hex4(s, n, i + 2, &cp) < 0)
                return expr_src_error(src, i, "bad \\u escape (expected four hex digits)");
            size_t used = 6;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned lo;
                if (i + 7 < n && s[i + 6] == '\\' && s[i + 7] == 'u' && read_hex4(s, n, i + 8, &lo) == 0 &&
                    lo >= 0xDC00 && lo <= 0xDFFF) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    used = 12;
                } else {
                    return expr_src_error(src, i, "lone surrogate in \\u escape (expected a \\uDC00-\\uDFFF pair)");
                }
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return expr_src_error(src, i, "lone surrogate in \\u escape (expected a \\uD800-\\uDBFF first)");
            }
            o += put_utf8(out + o, cp);
            i += used;
            break;
        }
        default:
            return expr_src_error(src, i, "unknown escape '\\%c' in string (expected one of \\n \\t \\r \\\\ \\\" \\/ \\uXXXX; "
                                  "r\"...\" strings take backslashes as they are)", e);
        }
    }
    out[o] = 0;
    t->type = TK_STRING;
    t->s = out;
    t->slen = (uint32_t)o;
    *end = i;
    return SL_OK;
}

static bool ident_start(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80; }
static bool ident_char(unsigned char c) { return ident_start(c) || (c >= '0' && c <= '9') || c == '.'; }

static const struct { const char *w; tok_type t; } keywords[] = {
    {"and", TK_AND}, {"or", TK_OR}, {"not", TK_NOT}, {"true", TK_TRUE}, {"false", TK_FALSE}, {"null", TK_NULL},
};

int lex_next(const expr_src *src, size_t *posp, token *t)
{
    const char *s = src->text;
    size_t n = src->len, i = *posp;
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
    memset(t, 0, sizeof *t);
    t->pos = (uint32_t)i;
    if (i >= n) {
        t->type = TK_EOF;
        *posp = i;
        return SL_OK;
    }
    unsigned char c = (unsigned char)s[i];
    size_t j = i + 1;
    char c1 = j < n ? s[j] : 0;
    switch (c) {
    case '(': t->type = TK_LPAREN; break;
    case ')': t->type = TK_RPAREN; break;
    case ',': t->type = TK_COMMA; break;
    case '+': t->type = TK_PLUS; break;
    case '-': t->type = TK_MINUS; break;
    case '*': t->type = TK_STAR; break;
    case '%': t->type = TK_PERCENT; break;
    case '/':
        if (c1 == '/') { t->type = TK_SLASH2; j++; } else t->type = TK_SLASH;
        break;
    case '=':
        if (c1 == '=') { t->type = TK_EQ; j++; }
        else if (c1 == '~') { t->type = TK_MATCH; j++; }
        else t->type = TK_ASSIGN;
        break;
    case '!':
        if (c1 == '=') { t->type = TK_NE; j++; }
        else if (c1 == '~') { t->type = TK_NMATCH; j++; }
        else return expr_src_error(src, i, "unexpected '!' (expected '!=' or '!~'; negation is 'not')");
        break;
    case '<':
        if (c1 == '=') { t->type = TK_LE; j++; }
        else if (c1 == '>') { t->type = TK_NE; j++; }
        else t->type = TK_LT;
        break;
    case '>':
        if (c1 == '=') { t->type = TK_GE; j++; } else t->type = TK_GT;
        break;
    case '|':
        if (c1 == '|') { t->type = TK_CONCAT; j++; }
        else return expr_src_error(src, i, "unexpected '|' (expected '||' to join strings)");
        break;
    case '&':
        return expr_src_error(src, i, "unexpected '&' (expected 'and')");
    case '"': {
        int rc = lex_string(src, i, &j, t);
        if (rc) return rc;
        break;
    }
    case '`': {
        char *out = sl_arena_alloc(src->arena, n - i + 1);
        if (!out) return sl_fail(src->err, SL_E_NOMEM, src->stage, "out of memory");
        size_t o = 0;
        for (;;) {
            if (j >= n) return expr_src_error(src, i, "unterminated `name` (opened here; expected a closing '`')");
            if (s[j] == '`') {
                if (j + 1 < n && s[j + 1] == '`') { out[o++] = '`'; j += 2; continue; }
                j++;
                break;
            }
            out[o++] = s[j++];
        }
        if (o == 0) return expr_src_error(src, i, "empty `` name (expected a field name between the backquotes)");
        out[o] = 0;
        t->type = TK_QIDENT;
        t->s = out;
        t->slen = (uint32_t)o;
        break;
    }
    default:
        if (c >= '0' && c <= '9') {
            while (j < n && s[j] >= '0' && s[j] <= '9') j++;
            bool isdbl = false;
            if (j + 1 < n && s[j] == '.' && s[j + 1] >= '0' && s[j + 1] <= '9') {
                isdbl = true;
                j++;
                while (j < n && s[j] >= '0' && s[j] <= '9') j++;
            }
            if (j < n && (s[j] == 'e' || s[j] == 'E')) {
                size_t k = j + 1;
                if (k < n && (s[k] == '+' || s[k] == '-')) k++;
                if (k < n && s[k] >= '0' && s[k] <= '9') {
                    isdbl = true;
                    j = k;
                    while (j < n && s[j] >= '0' && s[j] <= '9') j++;
                }
            }
            if (j < n && ident_start((unsigned char)s[j]))
                return expr_src_error(src, j, "unexpected '%c' after a number (names start with a letter or _)", s[j]);
            int64_t iv;
            double dv;
            int k = sl_num_parse(s + i, j - i, &iv, &dv);
            if (k == SL_V_NULL) return expr_src_error(src, i, "number out of range");
            if (k == SL_V_INT && !isdbl) {
                t->type = TK_INT;
                t->i = iv;
            } else {
                t->type = TK_DOUBLE;
                t->d = k == SL_V_INT ? (double)iv : dv;
            }
            break;
        }
        if (c == 'r' && c1 == '"') { /* raw string */
            size_t k = j + 1;
            while (k < n && s[k] != '"') k++;
            if (k >= n) return expr_src_error(src, i, "unterminated string (opened here; expected a closing '\"')");
            t->type = TK_STRING;
            t->s = s + j + 1;
            t->slen = (uint32_t)(k - j - 1);
            j = k + 1;
            break;
        }
        if (ident_start(c)) {
            while (j < n && ident_char((unsigned char)s[j])) j++;
            t->type = TK_IDENT;
            t->s = s + i;
            t->slen = (uint32_t)(j - i);
            for (size_t k = 0; k < sizeof keywords / sizeof keywords[0]; k++)
                if (strlen(keywords[k].w) == t->slen && memcmp(keywords[k].w, t->s, t->slen) == 0)
                    t->type = keywords[k].t;
            break;
        }
        if (c < 0x20 || c == 0x7f)
            return expr_src_error(src, i, "unexpected control character 0x%02x", c);
        return expr_src_error(src, i, "unexpected '%c'", c);
    }
    t->len = (uint32_t)(j - i);
    *posp = j;
    return SL_OK;
}
