/*
 * compile.c - checked AST -> bytecode; the public compile/bind/free calls.
 *
 * The code is a flat array of `ins` (see expr_int.h for why bytecode).  Field
 * references are collected into a table of names; binding resolves each name
 * to a column once per schema and patches the column into the instructions
 * that read it, so evaluation never looks a name up.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "expr/expr_int.h"

typedef struct cgen {
    const expr_src *src;
    sl_expr *p;
    uint32_t cap_code, cap_consts, cap_refs, cap_sites;
    uint32_t depth, max_depth;
} cgen;

static int nomem(cgen *g) { return sl_fail(g->src->err, SL_E_NOMEM, g->src->stage, "out of memory"); }

static int grow(void **arr, uint32_t *cap, uint32_t need, size_t elem)
{
    if (need <= *cap) return SL_OK;
    uint32_t nc = *cap ? *cap * 2 : 16;
    while (nc < need) nc *= 2;
    void *n = realloc(*arr, (size_t)nc * elem);
    if (!n) return SL_E_NOMEM;
    memset((char *)n + (size_t)*cap * elem, 0, (size_t)(nc - *cap) * elem);
    *arr = n;
    *cap = nc;
    return SL_OK;
}

static int emit(cgen *g, uint8_t op, uint8_t sub, uint32_t a, uint32_t b, uint32_t c, uint16_t n, int dd)
{
    sl_expr *p = g->p;
    if (grow((void **)&p->code, &g->cap_code, p->ncode + 1, sizeof(ins))) return nomem(g);
    p->code[p->ncode++] = (ins){.op = op, .sub = sub, .n = n, .a = a, .b = b, .c = c};
    g->depth = (uint32_t)((int)g->depth + dd);
    if (g->depth > g->max_depth) g->max_depth = g->depth;
    return SL_OK;
}

/* Add a constant; its text form is kept beside it for mixed comparisons. */
static int add_const(cgen *g, const sl_value *v, uint32_t *idx)
{
    sl_expr *p = g->p;
    if (grow((void **)&p->consts, &g->cap_consts, p->nconsts + 1, sizeof *p->consts)) return nomem(g);
    uint32_t cap = g->cap_consts;
    /* ctext arrays follow consts' capacity */
    char **nt = realloc(p->ctext, cap * sizeof *nt);
    if (!nt) return nomem(g);
    p->ctext = nt;
    sl_value *nn = realloc(p->cnum, cap * sizeof *nn);
    if (!nn) return nomem(g);
    p->cnum = nn;
    uint32_t *nl = realloc(p->ctext_len, cap * sizeof *nl);
    if (!nl) return nomem(g);
    p->ctext_len = nl;
    char buf[40];
    const char *s = buf;
    size_t len = 0;
    switch (v->type) {
    case SL_V_NULL: break;
    case SL_V_BOOL: s = v->u.b ? "true" : "false"; len = strlen(s); break;
    case SL_V_INT: len = sl_num_format_int(v->u.i, buf); break;
    case SL_V_DOUBLE: len = sl_num_format_double(v->u.d, buf); break;
    default: s = v->u.s; len = v->len; break;
    }
    char *t = malloc(len + 1);
    if (!t) return nomem(g);
    if (len) memcpy(t, s, len);
    t[len] = 0;
    uint32_t k = p->nconsts++;
    p->consts[k] = *v;
    p->ctext[k] = t;
    p->ctext_len[k] = (uint32_t)len;
    if (v->type == SL_V_STRING || v->type == SL_V_TEXT) p->consts[k].u.s = t;
    p->consts[k].scratch = 0;
    p->cnum[k] = (sl_value){.type = SL_V_NULL};
    val_num(&p->consts[k], &p->cnum[k]);
    *idx = k;
    return SL_OK;
}

static int add_ref(cgen *g, const node *n, uint32_t *idx)
{
    sl_expr *p = g->p;
    for (uint32_t i = 0; i < p->nrefs; i++)
        if (p->refs[i].name_len == n->name_len && memcmp(p->refs[i].name, n->name, n->name_len) == 0) {
            *idx = i;
            return SL_OK;
        }
    if (grow((void **)&p->refs, &g->cap_refs, p->nrefs + 1, sizeof *p->refs)) return nomem(g);
    field_ref *r = &p->refs[p->nrefs];
    r->name = malloc(n->name_len + 1);
    if (!r->name) return nomem(g);
    memcpy(r->name, n->name, n->name_len);
    r->name[n->name_len] = 0;
    r->name_len = n->name_len;
    r->pos = n->pos;
    r->col = UINT32_MAX;
    *idx = p->nrefs++;
    return SL_OK;
}

/* A regex call site; when pat is a string literal it is compiled now. */
static int add_site(cgen *g, const node *pat, uint32_t *idx)
{
    sl_expr *p = g->p;
    if (grow((void **)&p->sites, &g->cap_sites, p->nsites + 1, sizeof *p->sites)) return nomem(g);
    rx_site *s = &p->sites[p->nsites];
    memset(s, 0, sizeof *s);
    *idx = p->nsites++;
    if (pat && pat->kind == N_LIT && pat->lit.type == SL_V_STRING) {
        char msg[256];
        if (rx_compile(&s->re, pat->lit.u.s, pat->lit.len, msg, sizeof msg) != 0)
            return expr_src_error(g->src, pat->pos, "bad regular expression: %s (POSIX extended syntax expected)", msg);
        s->have = true;
        s->literal = true;
        /* plain text, maybe anchored: match with memcmp/memmem, not regexec */
        const char *q = pat->lit.u.s;
        size_t n = pat->lit.len, i = 0;
        char *plain = malloc(n + 1);
        if (!plain) return nomem(g);
        size_t o = 0;
        bool ok = true, bol = false, eol = false;
        if (i < n && q[i] == '^') { bol = true; i++; }
        for (; i < n && ok; i++) {
            char ch = q[i];
            if (ch == '$' && i + 1 == n) { eol = true; break; }
            if (ch == '\\') {
                if (i + 1 < n && strchr(".[]()*+?{}|^$\\", q[i + 1])) plain[o++] = q[++i];
                else ok = false;
            } else if (strchr(".[]()*+?{}|^$", ch) || ch == 0) {
                ok = false;
            } else {
                plain[o++] = ch;
            }
        }
        if (ok) {
            s->plain = true;
            s->plain_bol = bol;
            s->plain_eol = eol;
            s->plain_text = plain;
            s->plain_len = o;
        } else {
            free(plain);
        }
    }
    return SL_OK;
}

static bool is_num_lit(const node *n)
{
    return n->kind == N_LIT && (n->lit.type == SL_V_INT || n->lit.type == SL_V_DOUBLE);
}

static int flip_cmp(int op)
{
    switch (op) {
    case B_LT: return B_GT;
    case B_LE: return B_GE;
    case B_GT: return B_LT;
    case B_GE: return B_LE;
    default: return op;
    }
}

static int gen(cgen *g, const node *n);

/* an operand that must be a number: a field is loaded as one */
static int gen_num(cgen *g, const node *n)
{
    if (n->kind != N_FIELD) return gen(g, n);
    uint32_t k;
    int rc = add_ref(g, n, &k);
    if (rc) return rc;
    return emit(g, OP_FIELDNUM, 0, UINT32_MAX, k, 0, 0, 1);
}

static uint32_t here(cgen *g) { return g->p->ncode; }
static void patch(cgen *g, uint32_t at) { g->p->code[at].a = g->p->ncode; }

static int gen_call(cgen *g, const node *n)
{
    const sl_expr_func *f = &sl_expr_funcs[n->func];
    int rc;
    uint32_t k;
    if (strcmp(f->name, "if") == 0) {
        if ((rc = gen(g, n->args[0]))) return rc;
        uint32_t jf = here(g);
        if ((rc = emit(g, OP_JFPOP, 0, 0, 0, 0, 0, -1))) return rc;
        if ((rc = gen(g, n->args[1]))) return rc;
        uint32_t jmp = here(g);
        if ((rc = emit(g, OP_JMP, 0, 0, 0, 0, 0, -1))) return rc;
        patch(g, jf);
        if ((rc = gen(g, n->args[2]))) return rc;
        patch(g, jmp);
        return SL_OK;
    }
    if (strcmp(f->name, "coalesce") == 0) {
        uint32_t jumps[64];
        for (uint32_t i = 0; i + 1 < n->nargs; i++) {
            if ((rc = gen(g, n->args[i]))) return rc;
            jumps[i] = here(g);
            if ((rc = emit(g, OP_JNN, 0, 0, 0, 0, 0, -1))) return rc;
        }
        if ((rc = gen(g, n->args[n->nargs - 1]))) return rc;
        for (uint32_t i = 0; i + 1 < n->nargs; i++) patch(g, jumps[i]);
        return SL_OK;
    }
    if (strcmp(f->name, "is_null") == 0) {
        if ((rc = gen(g, n->args[0]))) return rc;
        return emit(g, OP_ISNULL, 0, 0, 0, 0, 0, 0);
    }
    if (strcmp(f->name, "now") == 0) { /* fixed for the run: every record sees the same time */
        sl_value v = {.type = SL_V_INT, .u.i = (int64_t)time(NULL)};
        if ((rc = add_const(g, &v, &k))) return rc;
        return emit(g, OP_CONST, 0, k, 0, 0, 0, 1);
    }
    uint32_t site = UINT32_MAX;
    if (strncmp(f->name, "regex_", 6) == 0 && (rc = add_site(g, n->args[1], &site))) return rc;
    if (site != UINT32_MAX && n->nargs == 3 && strcmp(f->name, "regex_extract") == 0 && g->p->sites[site].literal &&
        n->args[2]->kind == N_LIT && n->args[2]->lit.type == SL_V_INT) {
        int64_t grp = n->args[2]->lit.u.i;
        size_t nsub = g->p->sites[site].re.re_nsub;
        if (grp < 0 || (uint64_t)grp > nsub || grp > 9)
            return expr_src_error(g->src, n->args[2]->pos, "group %lld, but the pattern has %zu group%s (expected 0 to %zu)",
                                  (long long)grp, nsub, nsub == 1 ? "" : "s", nsub < 9 ? nsub : 9);
    }
    size_t nt = strlen(f->argtypes);
    for (uint32_t i = 0; i < n->nargs; i++) {
        char want = nt ? f->argtypes[i < nt ? i : nt - 1] : 'a';
        if ((rc = want == 'n' ? gen_num(g, n->args[i]) : gen(g, n->args[i]))) return rc;
    }
    return emit(g, OP_CALL, 0, (uint32_t)n->func, site, 0, (uint16_t)n->nargs, 1 - (int)n->nargs);
}

static int gen(cgen *g, const node *n)
{
    int rc;
    uint32_t k, at;
    switch ((node_kind)n->kind) {
    case N_LIT:
        if ((rc = add_const(g, &n->lit, &k))) return rc;
        return emit(g, OP_CONST, 0, k, 0, 0, 0, 1);
    case N_FIELD:
        if ((rc = add_ref(g, n, &k))) return rc;
        return emit(g, OP_FIELD, 0, UINT32_MAX, k, 0, 0, 1);
    case N_NEG:
        if ((rc = gen_num(g, n->args[0]))) return rc;
        return emit(g, OP_NEG, 0, 0, 0, 0, 0, 0);
    case N_NOT:
        if ((rc = gen(g, n->args[0]))) return rc;
        return emit(g, OP_NOT, 0, 0, 0, 0, 0, 0);
    case N_AND:
    case N_OR:
        if ((rc = gen(g, n->args[0]))) return rc;
        at = here(g);
        if ((rc = emit(g, n->kind == N_AND ? OP_JF : OP_JT, 0, 0, 0, 0, 0, -1))) return rc;
        if ((rc = gen(g, n->args[1]))) return rc;
        if ((rc = emit(g, OP_TOBOOL, 0, 0, 0, 0, 0, 0))) return rc;
        patch(g, at);
        return SL_OK;
    case N_BIN: {
        const node *l = n->args[0], *r = n->args[1];
        int op = n->op;
        if (op >= B_EQ && op <= B_GE) {
            /* field <cmp> number: one instruction */
            if (l->kind == N_FIELD && is_num_lit(r)) {
                uint32_t ref;
                if ((rc = add_ref(g, l, &ref)) || (rc = add_const(g, &r->lit, &k))) return rc;
                return emit(g, OP_CMPFC, (uint8_t)op, UINT32_MAX, ref, k, 0, 1);
            }
            if (r->kind == N_FIELD && is_num_lit(l)) {
                uint32_t ref;
                if ((rc = add_ref(g, r, &ref)) || (rc = add_const(g, &l->lit, &k))) return rc;
                return emit(g, OP_CMPFC, (uint8_t)flip_cmp(op), UINT32_MAX, ref, k, 0, 1);
            }
            /* field <cmp> "string": one instruction */
            if (l->kind == N_FIELD && r->kind == N_LIT && r->lit.type == SL_V_STRING) {
                uint32_t ref;
                if ((rc = add_ref(g, l, &ref)) || (rc = add_const(g, &r->lit, &k))) return rc;
                return emit(g, OP_CMPFS, (uint8_t)op, UINT32_MAX, ref, k, 0, 1);
            }
            if (r->kind == N_FIELD && l->kind == N_LIT && l->lit.type == SL_V_STRING) {
                uint32_t ref;
                if ((rc = add_ref(g, r, &ref)) || (rc = add_const(g, &l->lit, &k))) return rc;
                return emit(g, OP_CMPFS, (uint8_t)flip_cmp(op), UINT32_MAX, ref, k, 0, 1);
            }
            /* x == null, x != null */
            if ((op == B_EQ || op == B_NE) && (r->kind == N_LIT && r->lit.type == SL_V_NULL)) {
                if ((rc = gen(g, l))) return rc;
                return emit(g, OP_ISNULL, op == B_NE, 0, 0, 0, 0, 0);
            }
            if ((op == B_EQ || op == B_NE) && (l->kind == N_LIT && l->lit.type == SL_V_NULL)) {
                if ((rc = gen(g, r))) return rc;
                return emit(g, OP_ISNULL, op == B_NE, 0, 0, 0, 0, 0);
            }
        }
        if (op == B_MATCH || op == B_NMATCH) {
            bool lit = r->kind == N_LIT && r->lit.type == SL_V_STRING;
            if ((rc = add_site(g, r, &k))) return rc;
            if ((rc = gen(g, l))) return rc;
            if (lit) return emit(g, OP_MATCH, op == B_NMATCH, k, 0, 0, 0, 0);
            if ((rc = gen(g, r))) return rc;
            return emit(g, OP_MATCHDYN, op == B_NMATCH, k, 0, 0, 0, -1);
        }
        if (op <= B_MOD) {
            if ((rc = gen_num(g, l)) || (rc = gen_num(g, r))) return rc;
        } else if ((rc = gen(g, l)) || (rc = gen(g, r))) {
            return rc;
        }
        return emit(g, OP_BIN, (uint8_t)op, 0, 0, 0, 0, -1);
    }
    case N_CALL:
        return gen_call(g, n);
    }
    return SL_OK;
}

int compile_program(const expr_src *src, node *root, sl_expr *p)
{
    cgen g = {.src = src, .p = p};
    int rc = gen(&g, root);
    if (rc) return rc;
    if ((rc = emit(&g, OP_RET, 0, 0, 0, 0, 0, 0))) return rc;
    p->stack_cap = g.max_depth + 1;
    p->stack = calloc(p->stack_cap, sizeof *p->stack);
    p->ncache = calloc(p->nrefs ? p->nrefs : 1, sizeof *p->ncache);
    if (!p->stack || !p->ncache) return nomem(&g);
    p->type = root->type;
    if (vec_build(root, p) != SL_OK) return nomem(&g);
    return SL_OK;
}

/* ---- public entry points ---- */

static sl_expr *prog_new(const char *text, size_t len, const char *stage)
{
    sl_expr *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->text = malloc(len + 1);
    if (!p->text) {
        free(p);
        return NULL;
    }
    memcpy(p->text, text, len);
    p->text[len] = 0;
    p->text_len = len;
    snprintf(p->stage, sizeof p->stage, "%s", stage ? stage : "");
    return p;
}

void sl_expr_free(sl_expr *p)
{
    if (!p) return;
    for (uint32_t i = 0; i < p->nconsts; i++) free(p->ctext[i]);
    for (uint32_t i = 0; i < p->nrefs; i++) free(p->refs[i].name);
    for (uint32_t i = 0; i < p->nsites; i++) {
        if (p->sites[i].have) regfree(&p->sites[i].re);
        free(p->sites[i].pat);
        free(p->sites[i].plain_text);
    }
    free(p->ctext);
    free(p->cnum);
    free(p->ctext_len);
    free(p->consts);
    free(p->refs);
    free(p->sites);
    free(p->code);
    free(p->stack);
    free(p->ncache);
    vec_free(p->vec);
    free(p->text);
    free(p);
}

/* parse + check + compile one expression at *pos of src into p */
static int build(const expr_src *src, size_t *pos, sl_expr *p)
{
    node *root;
    int rc = parse_expr(src, pos, &root);
    if (rc) return rc;
    if ((rc = check_expr(src, root))) return rc;
    return compile_program(src, root, p);
}

sl_expr *sl_expr_compile(const char *text, const char *stage, sl_error *err)
{
    return sl_expr_compile_at(text, 0, stage, err);
}

sl_expr *sl_expr_compile_at(const char *text, size_t start, const char *stage, sl_error *err)
{
    size_t len = strlen(text);
    if (start > len) start = len;
    sl_expr *p = prog_new(text, len, stage);
    if (!p) {
        sl_fail(err, SL_E_NOMEM, stage, "out of memory");
        return NULL;
    }
    sl_arena arena;
    sl_arena_init(&arena, 4096, 0);
    expr_src src = {.text = p->text, .len = len, .stage = stage, .err = err, .arena = &arena};
    size_t pos = start;
    int rc = build(&src, &pos, p);
    if (rc == SL_OK && pos < len) /* stopped at a top-level ',' */
        rc = expr_src_error(&src, pos, "unexpected ',' (expected an operator or the end of the expression)");
    sl_arena_fini(&arena);
    if (rc) {
        sl_expr_free(p);
        return NULL;
    }
    return p;
}

void sl_expr_assign_free(sl_expr_assign *a, size_t n)
{
    if (!a) return;
    for (size_t i = 0; i < n; i++) {
        free(a[i].name);
        sl_expr_free(a[i].prog);
    }
    free(a);
}

int sl_expr_compile_assignments(const char *text, size_t start, const char *stage, sl_expr_assign **out,
                                size_t *nout, sl_error *err)
{
    size_t len = strlen(text);
    if (start > len) start = len;
    sl_arena arena;
    sl_arena_init(&arena, 4096, 0);
    expr_src src = {.text = text, .len = len, .stage = stage, .err = err, .arena = &arena, .list = true};
    sl_expr_assign *a = NULL;
    size_t n = 0, cap = 0, pos = start;
    int rc = SL_OK;
    token t;
    for (;;) {
        if ((rc = lex_next(&src, &pos, &t))) break;
        if (t.type == TK_EOF && n == 0) {
            rc = expr_src_error(&src, t.pos, "missing assignment (expected NAME = EXPRESSION)");
            break;
        }
        if (t.type != TK_IDENT && t.type != TK_QIDENT) {
            rc = expr_src_error(&src, t.pos, "unexpected %s (expected the name of the field to set, as in NAME = EXPRESSION)",
                                tok_name(t.type));
            break;
        }
        token name = t;
        if ((rc = lex_next(&src, &pos, &t))) break;
        if (t.type != TK_ASSIGN) {
            rc = expr_src_error(&src, t.pos, "unexpected %s after '%.*s' (expected '=' as in NAME = EXPRESSION)",
                                tok_name(t.type), (int)name.slen, name.s);
            break;
        }
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 4;
            sl_expr_assign *na = realloc(a, nc * sizeof *na);
            if (!na) {
                rc = sl_fail(err, SL_E_NOMEM, stage, "out of memory");
                break;
            }
            a = na;
            cap = nc;
        }
        sl_expr_assign *as = &a[n];
        memset(as, 0, sizeof *as);
        as->name = malloc(name.slen + 1);
        as->prog = prog_new(text, len, stage);
        n++;
        if (!as->name || !as->prog) {
            rc = sl_fail(err, SL_E_NOMEM, stage, "out of memory");
            break;
        }
        memcpy(as->name, name.s, name.slen);
        as->name[name.slen] = 0;
        as->name_len = name.slen;
        if ((rc = build(&src, &pos, as->prog))) break;
        if ((rc = lex_next(&src, &pos, &t))) break;
        if (t.type == TK_EOF) break;
        /* build() stops only at ',' or the end */
    }
    sl_arena_fini(&arena);
    if (rc) {
        sl_expr_assign_free(a, n);
        *out = NULL;
        *nout = 0;
        return rc;
    }
    *out = a;
    *nout = n;
    return SL_OK;
}

sl_etype sl_expr_type(const sl_expr *p) { return (sl_etype)p->type; }
const char *sl_expr_text(const sl_expr *p) { return p->text; }

/* ---- binding ---- */

static int no_field(const sl_expr *p, const field_ref *r, const sl_schema *s, uint32_t nv, const char *how,
                    sl_error *err)
{
    char list[700];
    size_t o = 0;
    list[0] = 0;
    for (uint32_t i = 0; i < nv; i++) {
        const char *sep = i ? ", " : "";
        if (o + strlen(sep) + s->name_len[i] + 8 >= sizeof list) {
            o += (size_t)snprintf(list + o, sizeof list - o, ", \xe2\x80\xa6");
            break;
        }
        o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", sep, s->names[i]);
    }
    if (err->code != SL_OK) return SL_E_USAGE;
    if (nv == 0)
        sl_fail(err, SL_E_USAGE, p->stage, "no field '%s' %s (it has no fields)", r->name, how);
    else
        sl_fail(err, SL_E_USAGE, p->stage, "no field '%s' %s; fields are: %s", r->name, how, list);
    sl_expr_caret(err, p->text, p->text_len, r->pos);
    return SL_E_USAGE;
}

int sl_expr_bind(sl_expr *p, const sl_schema *s, uint32_t nvisible, unsigned flags, sl_error *err)
{
    if (p->bound && p->bound_id == s->id && p->bound_nvisible == nvisible && p->bound_flags == flags)
        return SL_OK;
    uint32_t nv = nvisible < s->ncols ? nvisible : s->ncols;
    for (uint32_t i = 0; i < p->nrefs; i++) {
        field_ref *r = &p->refs[i];
        int c = sl_schema_find(s, r->name, r->name_len);
        if (c < 0 || (uint32_t)c >= nv) {
            /* a later duplicate name inside the visible part? */
            c = -1;
            for (uint32_t j = 0; j < nv; j++)
                if (s->name_len[j] == r->name_len && memcmp(s->names[j], r->name, r->name_len) == 0) {
                    c = (int)j;
                    break;
                }
        }
        if (c < 0) {
            if (!(flags & SL_EXPR_BIND_OPEN)) {
                p->bound = false;
                return no_field(p, r, s, nv, "in input", err);
            }
            r->col = UINT32_MAX;
        } else {
            r->col = (uint32_t)c;
        }
    }
    for (uint32_t i = 0; i < p->ncode; i++) {
        ins *in = &p->code[i];
        if (in->op == OP_FIELD || in->op == OP_FIELDNUM || in->op == OP_CMPFC || in->op == OP_CMPFS)
            in->a = p->refs[in->b].col;
    }
    p->bound = true;
    p->bound_id = s->id;
    p->bound_nvisible = nvisible;
    p->bound_flags = flags;
    return SL_OK;
}

uint32_t sl_expr_nfields(const sl_expr *p) { return p->nrefs; }
uint32_t sl_expr_field_col(const sl_expr *p, uint32_t i) { return i < p->nrefs ? p->refs[i].col : UINT32_MAX; }
