/*
 * parse.c - expression text -> AST by recursive descent.
 *
 * Precedence, lowest first (docs/expressions.md has the same table):
 *
 *   or
 *   and
 *   not                      (prefix)
 *   == != < <= > >= =~ !~    (not chainable: a < b < c is an error)
 *   ||                       (string concatenation)
 *   + -
 *   * / // %
 *   - (unary)
 *   literals, names, calls, ( ... )
 */
#include <string.h>

#include "expr/expr_int.h"

#define MAX_DEPTH 200

typedef struct parser {
    const expr_src *src;
    size_t pos;   /* offset after tok */
    token tok;    /* current token */
    int depth;
} parser;

static int advance(parser *P) { return lex_next(P->src, &P->pos, &P->tok); }

static node *new_node(parser *P, node_kind k, uint32_t pos)
{
    node *n = sl_arena_alloc(P->src->arena, sizeof *n);
    if (!n) {
        sl_fail(P->src->err, SL_E_NOMEM, P->src->stage, "out of memory");
        return NULL;
    }
    memset(n, 0, sizeof *n);
    n->kind = (uint8_t)k;
    n->pos = pos;
    return n;
}

static int expected(parser *P, const char *what)
{
    if (P->tok.type == TK_EOF)
        return expr_src_error(P->src, P->tok.pos, "unexpected end of expression (expected %s)", what);
    return expr_src_error(P->src, P->tok.pos, "unexpected %s (expected %s)", tok_name(P->tok.type), what);
}

static int parse_or(parser *P, node **out);

unsigned edit_distance(const char *a, size_t an, const char *b, size_t bn)
{
    if (an > 60 || bn > 60) return 100;
    unsigned row[61];
    for (size_t j = 0; j <= bn; j++) row[j] = (unsigned)j;
    for (size_t i = 1; i <= an; i++) {
        unsigned diag = row[0];
        row[0] = (unsigned)i;
        for (size_t j = 1; j <= bn; j++) {
            unsigned up = row[j];
            unsigned cost = a[i - 1] == b[j - 1] ? 0 : 1;
            unsigned v = diag + cost;
            if (up + 1 < v) v = up + 1;
            if (row[j - 1] + 1 < v) v = row[j - 1] + 1;
            row[j] = v;
            diag = up;
        }
    }
    return row[bn];
}

int func_find(const char *name, size_t len)
{
    for (int i = 0; sl_expr_funcs[i].name; i++)
        if (strlen(sl_expr_funcs[i].name) == len && memcmp(sl_expr_funcs[i].name, name, len) == 0) return i;
    return -1;
}

static int unknown_function(parser *P, const token *t)
{
    const char *best = NULL;
    unsigned bd = 100;
    for (int i = 0; sl_expr_funcs[i].name; i++) {
        const char *f = sl_expr_funcs[i].name;
        unsigned d = edit_distance(t->s, t->slen, f, strlen(f));
        if (d < bd) { bd = d; best = f; }
    }
    unsigned limit = t->slen <= 3 ? 1 : t->slen <= 6 ? 2 : 3;
    if (best && bd <= limit)
        return expr_src_error(P->src, t->pos, "unknown function '%.*s' (did you mean '%s'?)", (int)t->slen, t->s, best);
    return expr_src_error(P->src, t->pos, "unknown function '%.*s' (see `sluice help functions`)", (int)t->slen, t->s);
}

static int parse_call(parser *P, token name, node **out)
{
    int f = func_find(name.s, name.slen);
    if (f < 0) return unknown_function(P, &name);
    node *n = new_node(P, N_CALL, name.pos);
    if (!n) return SL_E_NOMEM;
    n->name = name.s;
    n->name_len = name.slen;
    n->func = f;
    int rc = advance(P); /* past '(' */
    if (rc) return rc;
    node *args[64];
    uint32_t na = 0;
    if (P->tok.type != TK_RPAREN) {
        for (;;) {
            if (na == 64) return expr_src_error(P->src, P->tok.pos, "too many arguments (at most 64)");
            rc = parse_or(P, &args[na]);
            if (rc) return rc;
            na++;
            if (P->tok.type == TK_COMMA) {
                if ((rc = advance(P))) return rc;
                continue;
            }
            if (P->tok.type == TK_RPAREN) break;
            return expected(P, "',' or ')' after a function argument");
        }
    }
    rc = advance(P); /* past ')' */
    if (rc) return rc;
    n->nargs = na;
    if (na) {
        n->args = sl_arena_alloc(P->src->arena, na * sizeof *n->args);
        if (!n->args) return sl_fail(P->src->err, SL_E_NOMEM, P->src->stage, "out of memory");
        memcpy(n->args, args, na * sizeof *args);
    }
    *out = n;
    return SL_OK;
}

static int parse_primary(parser *P, node **out)
{
    token t = P->tok;
    node *n;
    int rc;
    switch (t.type) {
    case TK_INT:
    case TK_DOUBLE:
    case TK_STRING:
    case TK_TRUE:
    case TK_FALSE:
    case TK_NULL:
        if (!(n = new_node(P, N_LIT, t.pos))) return SL_E_NOMEM;
        if (t.type == TK_INT) { n->lit.type = SL_V_INT; n->lit.u.i = t.i; }
        else if (t.type == TK_DOUBLE) { n->lit.type = SL_V_DOUBLE; n->lit.u.d = t.d; }
        else if (t.type == TK_STRING) {
            n->lit.type = SL_V_STRING;
            n->lit.kind = SL_STRING;
            n->lit.u.s = t.s;
            n->lit.len = t.slen;
        } else if (t.type == TK_NULL) n->lit.type = SL_V_NULL;
        else { n->lit.type = SL_V_BOOL; n->lit.u.b = t.type == TK_TRUE; }
        *out = n;
        return advance(P);
    case TK_IDENT:
    case TK_QIDENT:
        if ((rc = advance(P))) return rc;
        if (t.type == TK_IDENT && P->tok.type == TK_LPAREN) return parse_call(P, t, out);
        if (!(n = new_node(P, N_FIELD, t.pos))) return SL_E_NOMEM;
        n->name = t.s;
        n->name_len = t.slen;
        *out = n;
        return SL_OK;
    case TK_LPAREN: {
        if ((rc = advance(P))) return rc;
        if ((rc = parse_or(P, out))) return rc;
        if (P->tok.type != TK_RPAREN) {
            if (P->tok.type == TK_EOF)
                return expr_src_error(P->src, t.pos, "unclosed '(' (opened here; expected ')')");
            return expected(P, "')'");
        }
        return advance(P);
    }
    default:
        return expected(P, "a value: a number, \"string\", name, function call or '('");
    }
}

static int parse_unary(parser *P, node **out)
{
    if (P->tok.type != TK_MINUS) return parse_primary(P, out);
    uint32_t pos = P->tok.pos;
    int rc = advance(P);
    if (rc) return rc;
    if (++P->depth > MAX_DEPTH) return expr_src_error(P->src, pos, "expression nested too deeply");
    /* -literal is a literal, so `x > -40` stays "field <cmp> constant" and
       -9223372036854775808 is the smallest int64 */
    if (P->tok.type == TK_INT || P->tok.type == TK_DOUBLE) {
        token t = P->tok;
        node *n = new_node(P, N_LIT, pos);
        if (!n) return SL_E_NOMEM;
        if (t.type == TK_INT) {
            n->lit.type = SL_V_INT;
            n->lit.u.i = -t.i;
        } else if (t.len == 19 && memcmp(P->src->text + t.pos, "9223372036854775808", 19) == 0) {
            n->lit.type = SL_V_INT;
            n->lit.u.i = INT64_MIN;
        } else {
            n->lit.type = SL_V_DOUBLE;
            n->lit.u.d = -t.d;
        }
        *out = n;
        P->depth--;
        return advance(P);
    }
    node *a;
    if ((rc = parse_unary(P, &a))) return rc;
    node *n = new_node(P, N_NEG, pos);
    if (!n) return SL_E_NOMEM;
    n->args = sl_arena_alloc(P->src->arena, sizeof *n->args);
    if (!n->args) return sl_fail(P->src->err, SL_E_NOMEM, P->src->stage, "out of memory");
    n->args[0] = a;
    n->nargs = 1;
    *out = n;
    P->depth--;
    return SL_OK;
}

static int binop_of(tok_type t, int level)
{
    switch (level) {
    case 0: /* multiplicative */
        return t == TK_STAR ? B_MUL : t == TK_SLASH ? B_DIV : t == TK_SLASH2 ? B_IDIV : t == TK_PERCENT ? B_MOD : -1;
    case 1: return t == TK_PLUS ? B_ADD : t == TK_MINUS ? B_SUB : -1;
    case 2: return t == TK_CONCAT ? B_CONCAT : -1;
    case 3:
        switch (t) {
        case TK_EQ: return B_EQ;
        case TK_NE: return B_NE;
        case TK_LT: return B_LT;
        case TK_LE: return B_LE;
        case TK_GT: return B_GT;
        case TK_GE: return B_GE;
        case TK_MATCH: return B_MATCH;
        case TK_NMATCH: return B_NMATCH;
        default: return -1;
        }
    }
    return -1;
}

static int mk_bin(parser *P, node_kind k, int op, uint32_t pos, node *l, node *r, node **out)
{
    node *n = new_node(P, k, pos);
    if (!n) return SL_E_NOMEM;
    n->op = (uint8_t)op;
    n->args = sl_arena_alloc(P->src->arena, 2 * sizeof *n->args);
    if (!n->args) return sl_fail(P->src->err, SL_E_NOMEM, P->src->stage, "out of memory");
    n->args[0] = l;
    n->args[1] = r;
    n->nargs = 2;
    *out = n;
    return SL_OK;
}

/* levels 0..3 of binary operators, left-associative; level 3 (comparison)
   takes at most one operator */
static int parse_level(parser *P, int level, node **out)
{
    node *l;
    int rc = level == 0 ? parse_unary(P, &l) : parse_level(P, level - 1, &l);
    if (rc) return rc;
    for (;;) {
        int op = binop_of(P->tok.type, level);
        if (op < 0) break;
        uint32_t pos = P->tok.pos;
        if ((rc = advance(P))) return rc;
        node *r;
        rc = level == 0 ? parse_unary(P, &r) : parse_level(P, level - 1, &r);
        if (rc) return rc;
        if ((rc = mk_bin(P, N_BIN, op, pos, l, r, &l))) return rc;
        if (level == 3 && binop_of(P->tok.type, 3) >= 0)
            return expr_src_error(P->src, P->tok.pos,
                                  "comparisons cannot be chained (write 'a < b and b < c')");
    }
    *out = l;
    return SL_OK;
}

static int parse_not(parser *P, node **out)
{
    if (P->tok.type != TK_NOT) return parse_level(P, 3, out);
    uint32_t pos = P->tok.pos;
    int rc = advance(P);
    if (rc) return rc;
    if (++P->depth > MAX_DEPTH) return expr_src_error(P->src, pos, "expression nested too deeply");
    node *a;
    if ((rc = parse_not(P, &a))) return rc;
    P->depth--;
    node *n = new_node(P, N_NOT, pos);
    if (!n) return SL_E_NOMEM;
    n->args = sl_arena_alloc(P->src->arena, sizeof *n->args);
    if (!n->args) return sl_fail(P->src->err, SL_E_NOMEM, P->src->stage, "out of memory");
    n->args[0] = a;
    n->nargs = 1;
    *out = n;
    return SL_OK;
}

static int parse_and(parser *P, node **out)
{
    node *l;
    int rc = parse_not(P, &l);
    if (rc) return rc;
    while (P->tok.type == TK_AND) {
        uint32_t pos = P->tok.pos;
        node *r;
        if ((rc = advance(P)) || (rc = parse_not(P, &r))) return rc;
        if ((rc = mk_bin(P, N_AND, 0, pos, l, r, &l))) return rc;
    }
    *out = l;
    return SL_OK;
}

static int parse_or(parser *P, node **out)
{
    if (++P->depth > MAX_DEPTH) return expr_src_error(P->src, P->tok.pos, "expression nested too deeply");
    node *l;
    int rc = parse_and(P, &l);
    if (rc) return rc;
    while (P->tok.type == TK_OR) {
        uint32_t pos = P->tok.pos;
        node *r;
        if ((rc = advance(P)) || (rc = parse_and(P, &r))) return rc;
        if ((rc = mk_bin(P, N_OR, 0, pos, l, r, &l))) return rc;
    }
    P->depth--;
    *out = l;
    return SL_OK;
}

int parse_expr(const expr_src *src, size_t *pos, node **out)
{
    parser P = {.src = src, .pos = *pos};
    int rc = advance(&P);
    if (rc) return rc;
    if (P.tok.type == TK_EOF) return expr_src_error(src, P.tok.pos, "missing expression");
    if ((rc = parse_or(&P, out))) return rc;
    if (P.tok.type != TK_EOF && P.tok.type != TK_COMMA) {
        if (P.tok.type == TK_ASSIGN)
            return expr_src_error(src, P.tok.pos, "unexpected '=' (expected '==' to compare)");
        if (P.tok.type == TK_RPAREN)
            return expr_src_error(src, P.tok.pos, "unexpected ')' (no '(' to close)");
        return expected(&P, src->list ? "an operator, ',' before the next assignment, or the end"
                                      : "an operator or the end of the expression");
    }
    *pos = P.tok.pos; /* at the ',' or the end */
    return SL_OK;
}
