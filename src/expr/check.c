/*
 * check.c - static types: errors that need no data are compile errors.
 *
 * Fields have type "any" (their values decide at run time).  Literals and
 * most operators have a known type, so `"a" * 2`, `not 5`, `abs("x")` or
 * `substr(s)` fail before the first record is read, with a caret at the
 * offending operand.
 */
#include <stdio.h>
#include <string.h>

#include "expr/expr_int.h"

const char *sl_etype_name(sl_etype t)
{
    switch (t) {
    case SL_T_ANY: return "any value";
    case SL_T_NULL: return "null";
    case SL_T_BOOL: return "a boolean";
    case SL_T_INT: return "an integer";
    case SL_T_DOUBLE: return "a number";
    case SL_T_NUM: return "a number";
    case SL_T_STR: return "a string";
    }
    return "?";
}

static bool is_numeric_type(uint8_t t) { return t == SL_T_INT || t == SL_T_DOUBLE || t == SL_T_NUM; }
/* may this static type be used where a number is needed? */
static bool can_num(uint8_t t) { return t != SL_T_STR && t != SL_T_BOOL; }
static bool can_bool(uint8_t t) { return t != SL_T_STR && !is_numeric_type(t); }

static const char *const bin_names[] = {
    [B_ADD] = "+", [B_SUB] = "-", [B_MUL] = "*", [B_DIV] = "/", [B_IDIV] = "//", [B_MOD] = "%",
    [B_CONCAT] = "||", [B_EQ] = "==", [B_NE] = "!=", [B_LT] = "<", [B_LE] = "<=", [B_GT] = ">",
    [B_GE] = ">=", [B_MATCH] = "=~", [B_NMATCH] = "!~",
};

static int need_num(const expr_src *src, const node *arg, const char *op)
{
    if (can_num(arg->type)) return SL_OK;
    return expr_src_error(src, arg->pos, "'%s' needs numbers, got %s", op, sl_etype_name((sl_etype)arg->type));
}

static int need_bool(const expr_src *src, const node *arg, const char *op)
{
    if (can_bool(arg->type)) return SL_OK;
    return expr_src_error(src, arg->pos, "'%s' needs true or false, got %s", op, sl_etype_name((sl_etype)arg->type));
}

static uint8_t arith_type(int op, uint8_t a, uint8_t b)
{
    if (a == SL_T_NULL || b == SL_T_NULL) return SL_T_NULL;
    if (op == B_DIV) return SL_T_DOUBLE;
    if (a == SL_T_DOUBLE || b == SL_T_DOUBLE) return SL_T_DOUBLE;
    return SL_T_NUM; /* int unless it overflows */
}

static uint8_t ret_type(char r)
{
    switch (r) {
    case 'i': return SL_T_INT;
    case 'd': return SL_T_DOUBLE;
    case 'n': return SL_T_NUM;
    case 's': return SL_T_STR;
    case 'b': return SL_T_BOOL;
    default: return SL_T_ANY;
    }
}

static int check_call(const expr_src *src, node *n)
{
    const sl_expr_func *f = &sl_expr_funcs[n->func];
    int na = (int)n->nargs;
    if (na < f->min_args || (f->max_args >= 0 && na > f->max_args)) {
        char want[64];
        if (f->max_args < 0)
            snprintf(want, sizeof want, "at least %d argument%s", f->min_args, f->min_args == 1 ? "" : "s");
        else if (f->min_args == f->max_args)
            snprintf(want, sizeof want, "%d argument%s", f->min_args, f->min_args == 1 ? "" : "s");
        else
            snprintf(want, sizeof want, "%d to %d arguments", f->min_args, f->max_args);
        return expr_src_error(src, n->pos, "function '%s' takes %s, got %d (%s)", f->name, want, na, f->signature);
    }
    size_t nt = strlen(f->argtypes);
    for (int i = 0; i < na; i++) {
        char want = nt ? f->argtypes[(size_t)i < nt ? (size_t)i : nt - 1] : 'a';
        const node *a = n->args[i];
        if (want == 'n' && !can_num(a->type))
            return expr_src_error(src, a->pos, "'%s' needs a number as argument %d, got %s (%s)", f->name, i + 1,
                                  sl_etype_name((sl_etype)a->type), f->signature);
        if (want == 'b' && !can_bool(a->type))
            return expr_src_error(src, a->pos, "'%s' needs true or false as argument %d, got %s (%s)", f->name,
                                  i + 1, sl_etype_name((sl_etype)a->type), f->signature);
    }
    n->type = ret_type(f->ret);
    if (strcmp(f->name, "if") == 0) {
        uint8_t a = n->args[1]->type, b = n->args[2]->type;
        n->type = a == b ? a : SL_T_ANY;
    } else if (f->ret == 'a' && na > 0) { /* coalesce, min, max: same type in, same out */
        uint8_t t = n->args[0]->type;
        for (int i = 1; i < na; i++)
            if (n->args[i]->type != t) t = SL_T_ANY;
        if (t != SL_T_NULL) n->type = t;
    }
    return SL_OK;
}

int check_expr(const expr_src *src, node *n)
{
    int rc;
    for (uint32_t i = 0; i < n->nargs; i++)
        if ((rc = check_expr(src, n->args[i]))) return rc;
    switch ((node_kind)n->kind) {
    case N_LIT:
        switch (n->lit.type) {
        case SL_V_NULL: n->type = SL_T_NULL; break;
        case SL_V_BOOL: n->type = SL_T_BOOL; break;
        case SL_V_INT: n->type = SL_T_INT; break;
        case SL_V_DOUBLE: n->type = SL_T_DOUBLE; break;
        default: n->type = SL_T_STR; break;
        }
        return SL_OK;
    case N_FIELD:
        n->type = SL_T_ANY;
        return SL_OK;
    case N_NEG:
        if ((rc = need_num(src, n->args[0], "-"))) return rc;
        n->type = n->args[0]->type == SL_T_NULL ? SL_T_NULL
                  : n->args[0]->type == SL_T_DOUBLE ? SL_T_DOUBLE : SL_T_NUM;
        return SL_OK;
    case N_NOT:
        if ((rc = need_bool(src, n->args[0], "not"))) return rc;
        n->type = SL_T_BOOL;
        return SL_OK;
    case N_AND:
    case N_OR: {
        const char *op = n->kind == N_AND ? "and" : "or";
        if ((rc = need_bool(src, n->args[0], op)) || (rc = need_bool(src, n->args[1], op))) return rc;
        n->type = SL_T_BOOL;
        return SL_OK;
    }
    case N_BIN:
        switch (n->op) {
        case B_ADD: case B_SUB: case B_MUL: case B_DIV: case B_IDIV: case B_MOD:
            if ((rc = need_num(src, n->args[0], bin_names[n->op])) ||
                (rc = need_num(src, n->args[1], bin_names[n->op])))
                return rc;
            n->type = arith_type(n->op, n->args[0]->type, n->args[1]->type);
            return SL_OK;
        case B_CONCAT:
            n->type = SL_T_STR;
            return SL_OK;
        default:
            n->type = SL_T_BOOL;
            return SL_OK;
        }
    case N_CALL:
        return check_call(src, n);
    }
    return SL_OK;
}
