/*
 * vec.c - evaluating an expression for many rows at once.
 *
 * The bytecode interpreter (eval.c) pays its dispatch, its stack traffic
 * and a parse of every field it reads once per row and instruction.  For
 * the expressions that most filters and maps are made of - numbers, fields,
 * + - * / // %, unary minus, comparisons, and/or/not and the numeric
 * functions (abs, round, pow...) - this file evaluates one operation over
 * up to SL_EXPR_BATCH rows before it moves to the next: a field column is
 * parsed once into numbers, and an operation whose operands are all doubles
 * is a plain loop over arrays.
 *
 * Same answers as the interpreter, by construction:
 *   - a row whose field is anything but a number or null (text that is not
 *     a number, a JSON string, bool or object) is not evaluated here at all:
 *     it comes back as SL_V_ROW and the caller evaluates it with
 *     sl_expr_eval(), which gives the text comparison or the error that row
 *     needs;
 *   - everything but the all-double loops goes through the interpreter's
 *     own operations (expr_binop, expr_negate, the function table), element
 *     by element; an operation that fails marks its row SL_V_ROW too;
 *   - the all-double loops do what those operations do for two doubles (or a
 *     double and an integer, converted the same way): a non-finite result
 *     and a division by zero are null;
 *   - nothing has a side effect and nothing here can fail, so evaluating
 *     both sides of `and`/`or` gives what the short circuit gives.
 *
 * Memory: one slot of SL_EXPR_BATCH values per node, allocated when the
 * program is compiled; nothing is allocated per call.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "expr/expr_int.h"

enum { VN_FIELD, VN_CONST, VN_NEG, VN_BIN, VN_AND, VN_OR, VN_NOT, VN_CALL };

/* what every row of a slot holds (for the plain loops) */
enum {
    F_NUM = 1, /* an int or a double */
    F_D = 2,   /* a double */
    F_X = 4,   /* a double, or an int that a double holds exactly */
};

typedef struct vnode {
    uint8_t kind, op;
    uint32_t a, b;      /* operand nodes */
    uint32_t ref;       /* VN_FIELD */
    int func;           /* VN_CALL */
    uint32_t nargs;
    uint32_t *args;     /* VN_CALL: operand nodes */
    uint8_t flags;      /* of the slot after the last evaluation */
    bool konst;         /* VN_CONST of a number: kd is its value as a double
                           (what the plain loops use when the other operand
                           is a double, as binop converts it) */
    double kd;
    sl_value *slot;     /* SL_EXPR_BATCH values */
} vnode;

struct vprog {
    vnode *nodes;       /* operands before the nodes that use them */
    uint32_t n, cap;
    uint8_t *fb;        /* per row: evaluate alone (SL_V_ROW) */
    bool alone;         /* the last call left a row alone */
    sl_value *argv;     /* VN_CALL arguments */
    uint32_t max_args;
};

/* ---- building ---- */

/* a double holds i exactly */
static inline bool fits53(int64_t i) { return i >= -(1ll << 53) && i <= (1ll << 53); }

static bool num_ok(const node *n);

static bool call_ok(const node *n)
{
    const sl_expr_func *f = &sl_expr_funcs[n->func];
    if (!f->fn || n->nargs == 0) return false;
    if (f->ret != 'i' && f->ret != 'd' && f->ret != 'n') return false;
    for (const char *t = f->argtypes; *t; t++)
        if (*t != 'n') return false;
    if (!*f->argtypes) return false;
    for (uint32_t i = 0; i < n->nargs; i++)
        if (!num_ok(n->args[i])) return false;
    return true;
}

/* n gives a number or null for every row whose fields are numbers or null */
static bool num_ok(const node *n)
{
    switch ((node_kind)n->kind) {
    case N_LIT: return n->lit.type == SL_V_INT || n->lit.type == SL_V_DOUBLE;
    case N_FIELD: return true;
    case N_NEG: return num_ok(n->args[0]);
    case N_BIN: return n->op <= B_MOD && num_ok(n->args[0]) && num_ok(n->args[1]);
    case N_CALL: return call_ok(n);
    default: return false;
    }
}

/* n gives true or false for every such row */
static bool bool_ok(const node *n)
{
    switch ((node_kind)n->kind) {
    case N_LIT: return n->lit.type == SL_V_BOOL;
    case N_BIN: return n->op >= B_EQ && n->op <= B_GE && num_ok(n->args[0]) && num_ok(n->args[1]);
    case N_AND:
    case N_OR: return bool_ok(n->args[0]) && bool_ok(n->args[1]);
    case N_NOT: return bool_ok(n->args[0]);
    default: return false;
    }
}

static int add_node(struct vprog *v, const vnode *x, uint32_t *idx)
{
    if (v->n == v->cap) {
        uint32_t cap = v->cap ? 2 * v->cap : 16;
        vnode *nn = realloc(v->nodes, cap * sizeof *nn);
        if (!nn) return SL_E_NOMEM;
        v->nodes = nn;
        v->cap = cap;
    }
    v->nodes[v->n] = *x;
    v->nodes[v->n].slot = NULL;
    *idx = v->n++;
    return SL_OK;
}

static uint32_t find_ref(const sl_expr *p, const node *n)
{
    for (uint32_t i = 0; i < p->nrefs; i++)
        if (p->refs[i].name_len == n->name_len && memcmp(p->refs[i].name, n->name, n->name_len) == 0) return i;
    return UINT32_MAX;
}

static int build(struct vprog *v, const sl_expr *p, const node *n, uint32_t *idx)
{
    vnode x = {0};
    int rc;
    switch ((node_kind)n->kind) {
    case N_LIT:
        x.kind = VN_CONST;
        break;
    case N_FIELD:
        x.kind = VN_FIELD;
        x.ref = find_ref(p, n);
        if (x.ref == UINT32_MAX) return SL_E_INTERNAL;
        for (uint32_t i = 0; i < v->n; i++) /* one column parse per field */
            if (v->nodes[i].kind == VN_FIELD && v->nodes[i].ref == x.ref) {
                *idx = i;
                return SL_OK;
            }
        break;
    case N_NEG:
    case N_NOT:
        x.kind = n->kind == N_NEG ? VN_NEG : VN_NOT;
        if ((rc = build(v, p, n->args[0], &x.a))) return rc;
        break;
    case N_BIN:
    case N_AND:
    case N_OR:
        x.kind = n->kind == N_BIN ? VN_BIN : n->kind == N_AND ? VN_AND : VN_OR;
        x.op = n->op;
        if ((rc = build(v, p, n->args[0], &x.a)) || (rc = build(v, p, n->args[1], &x.b))) return rc;
        break;
    case N_CALL:
        x.kind = VN_CALL;
        x.func = n->func;
        x.nargs = n->nargs;
        x.args = malloc(n->nargs * sizeof *x.args);
        if (!x.args) return SL_E_NOMEM;
        for (uint32_t i = 0; i < n->nargs; i++)
            if ((rc = build(v, p, n->args[i], &x.args[i]))) {
                free(x.args);
                return rc;
            }
        if (n->nargs > v->max_args) v->max_args = n->nargs;
        break;
    }
    if ((rc = add_node(v, &x, idx))) {
        free(x.args);
        return rc;
    }
    if (n->kind == N_LIT) { /* constants fill their slot once */
        vnode *c = &v->nodes[*idx];
        c->slot = malloc(SL_EXPR_BATCH * sizeof *c->slot);
        if (!c->slot) return SL_E_NOMEM;
        sl_value lit = n->lit;
        lit.scratch = 0;
        for (uint32_t i = 0; i < SL_EXPR_BATCH; i++) c->slot[i] = lit;
        if (lit.type == SL_V_DOUBLE) c->flags = F_NUM | F_D | F_X;
        else if (lit.type == SL_V_INT) c->flags = F_NUM | (fits53(lit.u.i) ? F_X : 0);
        c->konst = lit.type == SL_V_DOUBLE || lit.type == SL_V_INT;
        c->kd = lit.type == SL_V_DOUBLE ? lit.u.d : (double)lit.u.i;
    }
    return SL_OK;
}

void vec_free(struct vprog *v)
{
    if (!v) return;
    for (uint32_t i = 0; i < v->n; i++) {
        free(v->nodes[i].slot);
        free(v->nodes[i].args);
    }
    free(v->nodes);
    free(v->fb);
    free(v->argv);
    free(v);
}

int vec_build(const node *root, sl_expr *p)
{
    p->vec = NULL;
    /* a bare field is passed on as it is (its text, "007"), not as a number */
    if (root->kind == N_FIELD || (!num_ok(root) && !bool_ok(root))) return SL_OK;
    /* every record through the interpreter: for comparing the two forms */
    const char *off = getenv("SLUICE_EXPR_ROWWISE");
    if (off && *off && strcmp(off, "0") != 0) return SL_OK;
    struct vprog *v = calloc(1, sizeof *v);
    if (!v) return SL_E_NOMEM;
    uint32_t top;
    int rc = build(v, p, root, &top);
    if (rc == SL_OK) {
        v->fb = malloc(SL_EXPR_BATCH);
        v->argv = malloc((v->max_args ? v->max_args : 1) * sizeof *v->argv);
        if (!v->fb || !v->argv) rc = SL_E_NOMEM;
    }
    for (uint32_t i = 0; rc == SL_OK && i < v->n; i++)
        if (!v->nodes[i].slot && !(v->nodes[i].slot = malloc(SL_EXPR_BATCH * sizeof(sl_value)))) rc = SL_E_NOMEM;
    if (rc) {
        vec_free(v);
        return rc;
    }
    p->vec = v;
    return SL_OK;
}

/* ---- evaluating ---- */

static inline double as_d(const sl_value *v) { return v->type == SL_V_DOUBLE ? v->u.d : (double)v->u.i; }

static uint8_t flags_of(const sl_value *r, const uint8_t *fb, uint32_t n)
{
    uint8_t f = F_NUM | F_D | F_X;
    for (uint32_t i = 0; i < n && f; i++) {
        if (fb[i] || (r[i].type != SL_V_INT && r[i].type != SL_V_DOUBLE)) return 0;
        if (r[i].type == SL_V_INT) f &= (uint8_t)~F_D & (uint8_t)(fits53(r[i].u.i) ? 0xff : ~F_X);
    }
    return f;
}

/* A column: numbers parsed once; anything else than a number or null makes
   its row SL_V_ROW. */
static void eval_field(const sl_expr *p, vnode *x, const sl_batch *b, const uint32_t *rows, uint32_t n, uint8_t *fb)
{
    uint32_t col = p->refs[x->ref].col;
    sl_value *r = x->slot;
    if (col == UINT32_MAX) { /* not in this (open) schema: null */
        for (uint32_t i = 0; i < n; i++) r[i] = (sl_value){.type = SL_V_NULL};
        x->flags = 0;
        return;
    }
    uint32_t pc = sl_batch_phys(b, col), stride = b->stride;
    const double *dn = b->dnum ? b->dnum[pc] : NULL;
    uint8_t f = F_NUM | F_D | F_X;
    if (b->parsed && b->parsed[pc]) { /* read already, by a stage before */
        const sl_value *pv = b->parsed[pc];
        for (uint32_t i = 0; i < n; i++) {
            const sl_value *v = &pv[rows[i]];
            r[i] = *v;
            if (v->type == SL_V_DOUBLE) continue;
            if (v->type == SL_V_INT) {
                f &= (uint8_t)~F_D;
                if (!fits53(v->u.i)) f &= (uint8_t)~F_X;
                continue;
            }
            f = 0;
            if (v->type == SL_V_ROW) fb[i] = 1;
        }
        x->flags = f;
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t row = rows[i];
        const sl_cell *c = &b->cells[(size_t)row * stride + pc];
        sl_value *v = &r[i];
        v->scratch = 0;
        v->kind = 0;
        v->len = 0;
        if (c->len == 0 || c->kind == SL_NULL || c->kind == SL_ABSENT) {
            v->type = SL_V_NULL;
            f = 0;
            continue;
        }
        if (c->kind != SL_TEXT && c->kind != SL_NUMBER) {
            v->type = SL_V_ROW; /* not a number: this row alone */
            fb[i] = 1;
            f = 0;
            continue;
        }
        int64_t iv;
        double d;
        int k = dn && dn[row] == dn[row] ? sl_num_reread(dn[row], &iv, &d) : sl_num_parse_short(c->p, c->len, &iv, &d);
        if (k == SL_V_DOUBLE) {
            v->type = SL_V_DOUBLE;
            v->u.d = d;
        } else if (k == SL_V_INT) {
            v->type = SL_V_INT;
            v->u.i = iv;
            f &= (uint8_t)~F_D;
            if (!fits53(iv)) f &= (uint8_t)~F_X;
        } else {
            v->type = SL_V_ROW;
            fb[i] = 1;
            f = 0;
        }
    }
    x->flags = f;
}

/* The plain loops, for operands that are all numbers: XE and YE are the
   operands of row i as doubles, specialised for an operand that is all
   doubles (read straight), a number constant (kd) or a mix (as_d). */
#define CMP_LOOP(XE, YE, OPX)                                                                                \
    for (uint32_t i = 0; i < n; i++) {                                                                       \
        double x = (XE), y = (YE);                                                                           \
        R[i].type = SL_V_BOOL;                                                                               \
        R[i].u.b = (x OPX y);                                                                                \
    }
#define CMP_OPS(XE, YE)                                                                                      \
    switch (op) {                                                                                            \
    case B_EQ: CMP_LOOP(XE, YE, ==) break;                                                                   \
    case B_NE: CMP_LOOP(XE, YE, !=) break;                                                                   \
    case B_LT: CMP_LOOP(XE, YE, <) break;                                                                    \
    case B_LE: CMP_LOOP(XE, YE, <=) break;                                                                   \
    case B_GT: CMP_LOOP(XE, YE, >) break;                                                                    \
    default: CMP_LOOP(XE, YE, >=) break;                                                                     \
    }
/* what binop does for a double and a number (or two numbers, /): the
   result, null when it is not finite (division by zero included) */
#define ARITH_LOOP(XE, YE, EXPR)                                                                             \
    for (uint32_t i = 0; i < n; i++) {                                                                       \
        double x = (XE), y = (YE), r = (EXPR);                                                               \
        bool fin = isfinite(r);                                                                              \
        R[i].type = fin ? SL_V_DOUBLE : SL_V_NULL;                                                           \
        R[i].u.d = r;                                                                                        \
        all &= fin;                                                                                          \
    }
#define ARITH_OPS(XE, YE)                                                                                    \
    switch (op) {                                                                                            \
    case B_ADD: ARITH_LOOP(XE, YE, x + y) break;                                                             \
    case B_SUB: ARITH_LOOP(XE, YE, x - y) break;                                                             \
    case B_MUL: ARITH_LOOP(XE, YE, x * y) break;                                                             \
    default: ARITH_LOOP(XE, YE, y == 0 ? NAN : x / y) break;                                                 \
    }
#define BY_OPERANDS(OPS)                                                                                     \
    do {                                                                                                     \
        double ka = na->kd, kb = nb->kd;                                                                     \
        if ((fa & F_D) && nb->konst) OPS(A[i].u.d, kb)                                                       \
        else if (na->konst && (fbl & F_D)) OPS(ka, B[i].u.d)                                                 \
        else if ((fa & F_D) && (fbl & F_D)) OPS(A[i].u.d, B[i].u.d)                                          \
        else OPS(as_d(&A[i]), as_d(&B[i]))                                                                   \
    } while (0)

static void eval_bin(sl_expr_rt *rt, vnode *x, const vnode *na, const vnode *nb, uint32_t n, uint8_t *fb)
{
    const sl_value *A = na->slot, *B = nb->slot;
    sl_value *R = x->slot;
    int op = x->op;
    uint8_t fa = na->flags, fbl = nb->flags;
    if (op >= B_EQ && (fa & F_X) && (fbl & F_X)) { /* exact as doubles */
        BY_OPERANDS(CMP_OPS);
        x->flags = 0;
        return;
    }
    if (op <= B_DIV && (fa & F_NUM) && (fbl & F_NUM) && (op == B_DIV || ((fa | fbl) & F_D))) {
        bool all = true;
        BY_OPERANDS(ARITH_OPS);
        x->flags = all ? F_NUM | F_D | F_X : 0;
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        if (fb[i]) {
            R[i] = (sl_value){.type = op >= B_EQ ? SL_V_BOOL : SL_V_NULL};
            continue;
        }
        R[i] = A[i];
        if (expr_binop(rt, op, &R[i], &B[i]) != SL_OK) {
            fb[i] = 1;
            R[i] = (sl_value){.type = op >= B_EQ ? SL_V_BOOL : SL_V_NULL};
        }
    }
    x->flags = op >= B_EQ ? 0 : flags_of(R, fb, n);
}

static void eval_neg(sl_expr_rt *rt, vnode *x, const vnode *na, uint32_t n, uint8_t *fb)
{
    const sl_value *A = na->slot;
    sl_value *R = x->slot;
    if (na->flags & F_D) {
        for (uint32_t i = 0; i < n; i++) {
            R[i] = A[i];
            R[i].u.d = -A[i].u.d;
        }
        x->flags = na->flags;
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        R[i] = A[i];
        if (!fb[i] && expr_negate(rt, &R[i]) != SL_OK) {
            fb[i] = 1;
            R[i].type = SL_V_NULL;
        }
    }
    x->flags = flags_of(R, fb, n);
}

static void eval_call(struct vprog *v, sl_expr_rt *rt, vnode *x, uint32_t n, uint8_t *fb)
{
    const sl_expr_func *f = &sl_expr_funcs[x->func];
    sl_value *R = x->slot, *argv = v->argv;
    rt->func = f;
    rt->site = NULL;
    for (uint32_t i = 0; i < n; i++) {
        if (fb[i]) {
            R[i] = (sl_value){.type = SL_V_NULL};
            continue;
        }
        for (uint32_t k = 0; k < x->nargs; k++) argv[k] = v->nodes[x->args[k]].slot[i];
        if (f->fn(rt, argv, x->nargs, argv) != SL_OK) {
            fb[i] = 1;
            R[i] = (sl_value){.type = SL_V_NULL};
            continue;
        }
        R[i] = argv[0];
    }
    x->flags = flags_of(R, fb, n);
}

bool sl_expr_batchable(const sl_expr *p) { return p->vec != NULL; }

bool sl_expr_rows_alone(const sl_expr *p) { return p->vec && p->vec->alone; }

uint32_t sl_expr_rows_fields(const sl_expr *p, uint32_t *cols, const sl_value **vals, uint32_t max)
{
    const struct vprog *v = p->vec;
    uint32_t k = 0;
    for (uint32_t i = 0; v && i < v->n && k < max; i++) {
        const vnode *x = &v->nodes[i];
        if (x->kind != VN_FIELD || p->refs[x->ref].col == UINT32_MAX) continue;
        cols[k] = p->refs[x->ref].col;
        vals[k++] = x->slot;
    }
    return k;
}

const sl_value *sl_expr_eval_rows(sl_expr *p, const sl_batch *b, const uint32_t *rows, uint32_t n, sl_arena *arena)
{
    struct vprog *v = p->vec;
    uint8_t *fb = v->fb;
    sl_expr_rt rt = {.prog = p, .arena = arena};
    memset(fb, 0, n);
    for (uint32_t k = 0; k < v->n; k++) {
        vnode *x = &v->nodes[k];
        switch (x->kind) {
        case VN_CONST:
            break;
        case VN_FIELD:
            eval_field(p, x, b, rows, n, fb);
            break;
        case VN_NEG:
            eval_neg(&rt, x, &v->nodes[x->a], n, fb);
            break;
        case VN_BIN:
            eval_bin(&rt, x, &v->nodes[x->a], &v->nodes[x->b], n, fb);
            break;
        case VN_AND:
        case VN_OR: {
            const sl_value *A = v->nodes[x->a].slot, *B = v->nodes[x->b].slot;
            sl_value *R = x->slot;
            bool and = x->kind == VN_AND;
            for (uint32_t i = 0; i < n; i++) {
                R[i].type = SL_V_BOOL;
                R[i].u.i = 0;
                R[i].u.b = and ? (A[i].u.b && B[i].u.b) : (A[i].u.b || B[i].u.b);
            }
            x->flags = 0;
            break;
        }
        case VN_NOT: {
            const sl_value *A = v->nodes[x->a].slot;
            sl_value *R = x->slot;
            for (uint32_t i = 0; i < n; i++) {
                R[i].type = SL_V_BOOL;
                R[i].u.i = 0;
                R[i].u.b = !A[i].u.b;
            }
            x->flags = 0;
            break;
        }
        case VN_CALL:
            eval_call(v, &rt, x, n, fb);
            break;
        }
    }
    sl_value *res = v->nodes[v->n - 1].slot;
    v->alone = memchr(fb, 1, n) != NULL;
    if (!v->alone) return res;
    for (uint32_t i = 0; i < n; i++)
        if (fb[i]) res[i].type = SL_V_ROW;
    return res;
}
