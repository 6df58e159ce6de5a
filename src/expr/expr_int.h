/*
 * expr_int.h - shared by the files of src/expr only: tokens, the AST, the
 * bytecode and the program layout.
 *
 * Why bytecode.  An expression compiles to a flat array of fixed-size
 * (16-byte) instructions for a small stack machine, evaluated by one switch
 * loop per row.  Compared with a tree of closures this keeps the whole
 * program in a cache line or two, costs no indirect call per node, and
 * makes short-circuit `and`/`or`, the lazy `if` and `coalesce` plain jumps.
 * The compiler fuses the hot shape `field <cmp> number` (nearly every
 * filter) into one instruction, so `celsius >= -40 and celsius <= 85` runs
 * as four instructions per row.
 *
 * Memory: the AST lives in a compile-time arena freed when compilation
 * ends; the program is a few malloc'd arrays owned by sl_expr.
 */
#ifndef SLUICE_EXPR_INT_H
#define SLUICE_EXPR_INT_H

#include <regex.h>
#include <stdarg.h>

#include "expr/expr.h"

/* ---- tokens (lex.c) ---- */

typedef enum tok_type {
    TK_EOF = 0,
    TK_INT, TK_DOUBLE, TK_STRING, TK_IDENT, TK_QIDENT,
    TK_TRUE, TK_FALSE, TK_NULL, TK_AND, TK_OR, TK_NOT,
    TK_LPAREN, TK_RPAREN, TK_COMMA,
    TK_PLUS, TK_MINUS, TK_STAR, TK_SLASH, TK_SLASH2, TK_PERCENT,
    TK_EQ, TK_NE, TK_LT, TK_LE, TK_GT, TK_GE, TK_MATCH, TK_NMATCH,
    TK_CONCAT, TK_ASSIGN
} tok_type;

typedef struct token {
    tok_type type;
    uint32_t pos;  /* byte offset in the text */
    uint32_t len;  /* bytes of source */
    const char *s; /* TK_STRING/TK_QIDENT: decoded bytes (compile arena);
                      TK_IDENT: points into the text */
    uint32_t slen;
    int64_t i;
    double d;
} token;

typedef struct expr_src {
    const char *text;
    size_t len;
    const char *stage;
    sl_error *err;
    sl_arena *arena; /* compile-time allocations */
    bool list;       /* a list of assignments: ',' may follow */
} expr_src;

/* Error at byte offset pos of the source: message, column, caret detail.
   Returns SL_E_USAGE. */
int expr_src_error(const expr_src *src, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Next token starting at *pos; advances *pos.  SL_OK or an error. */
int lex_next(const expr_src *src, size_t *pos, token *t);
const char *tok_name(tok_type t);

/* ---- AST (parse.c, check.c) ---- */

typedef enum node_kind {
    N_LIT, N_FIELD, N_NEG, N_NOT, N_BIN, N_AND, N_OR, N_CALL
} node_kind;

/* Binary operators (N_BIN.op), also instruction sub-codes. */
enum {
    B_ADD, B_SUB, B_MUL, B_DIV, B_IDIV, B_MOD, B_CONCAT,
    B_EQ, B_NE, B_LT, B_LE, B_GT, B_GE, B_MATCH, B_NMATCH
};

typedef struct node {
    uint8_t kind;  /* node_kind */
    uint8_t op;    /* N_BIN: B_* */
    uint8_t type;  /* sl_etype, set by the checker */
    uint32_t pos;  /* byte offset of the node's token */
    sl_value lit;  /* N_LIT */
    const char *name; /* N_FIELD, N_CALL */
    uint32_t name_len;
    int func;      /* N_CALL: index in sl_expr_funcs */
    struct node **args;
    uint32_t nargs;
} node;

/* Parse one expression starting at *pos, stopping before a top-level ','
   or the end; *pos is left at the first unused token. */
int parse_expr(const expr_src *src, size_t *pos, node **out);
/* Type-check in place; SL_OK or an error at the offending node. */
int check_expr(const expr_src *src, node *n);
int func_find(const char *name, size_t len);

/* ---- bytecode (compile.c, eval.c) ---- */

typedef enum op_code {
    OP_RET = 0,
    OP_CONST,    /* push consts[a] */
    OP_FIELD,    /* push field: a = column (bound), b = field ref */
    OP_FIELDNUM, /* the same, as a number when it reads as one (operands of
                    arithmetic): parsed once per row, however often used */
    OP_CMPFC,    /* push field(a, ref b) <sub> consts[c] (a number) */
    OP_CMPFS,    /* push field(a, ref b) <sub> consts[c] (a string) */
    OP_NEG,
    OP_BIN,      /* sub = B_* (not B_MATCH/B_NMATCH) */
    OP_MATCH,    /* regex site a, sub = 1 for !~ ; pattern constant */
    OP_MATCHDYN, /* pattern on the stack; site a; sub = 1 for !~ */
    OP_NOT,
    OP_TOBOOL,   /* top -> bool (null -> false) */
    OP_JF,       /* top falsy: replace by false, jump a; else pop */
    OP_JT,       /* top truthy: replace by true, jump a; else pop */
    OP_JFPOP,    /* pop; falsy: jump a */
    OP_JNN,      /* top not null: jump a; else pop */
    OP_JMP,
    OP_ISNULL,   /* top -> is null; sub = 1 for "not null" */
    OP_CALL      /* a = function index, n = number of arguments, b = site */
} op_code;

typedef struct ins {
    uint8_t op;
    uint8_t sub;
    uint16_t n;
    uint32_t a, b, c;
} ins;

/* Per call site state: a regex compiled once from a literal, or a cache of
   the last pattern seen at run time. */
typedef struct rx_site {
    regex_t re;
    bool have;      /* re holds a compiled regex */
    bool literal;   /* compiled at compile time; never changes */
    bool plain;     /* the literal pattern is plain text (=~ by memmem) */
    bool plain_bol, plain_eol; /* ... anchored with ^ / $ */
    char *plain_text; /* owned */
    size_t plain_len;
    char *pat;      /* dynamic: text of the pattern in re (owned) */
    size_t pat_len;
} rx_site;

typedef struct field_ref {
    char *name;     /* owned, NUL-terminated */
    uint32_t name_len;
    uint32_t pos;   /* first use, for the caret */
    uint32_t col;   /* bound column, or UINT32_MAX when missing */
} field_ref;

struct sl_expr_rt {
    sl_expr *prog;
    sl_arena *arena;
    rx_site *site;
    const sl_expr_func *func;
};

struct sl_expr {
    char *text;       /* owned copy of the source */
    size_t text_len;
    char stage[32];
    ins *code;
    uint32_t ncode;
    sl_value *consts;
    char **ctext;     /* text form of each constant (owned) */
    sl_value *cnum;   /* each constant as a number, or null when it is not */
    uint32_t *ctext_len;
    uint32_t nconsts;
    field_ref *refs;
    uint32_t nrefs;
    rx_site *sites;
    uint32_t nsites;
    sl_value *stack;
    uint32_t stack_cap;
    struct numcache {  /* per field ref: its value as a number this eval */
        uint64_t stamp;
        sl_value v;
    } *ncache;
    uint64_t stamp;    /* counts evaluations */
    struct vprog *vec; /* the batch form (vec.c), or NULL */
    uint8_t type;     /* sl_etype of the result */
    /* binding */
    uint64_t bound_id;
    uint32_t bound_nvisible;
    bool bound;
    unsigned bound_flags;
    char errmsg[512];
};

/* Compile a checked AST into p (code, consts, refs, sites). */
int compile_program(const expr_src *src, node *root, sl_expr *p);

/* The batch form of a compiled program (vec.c): p->vec when every node of
   root is one the batch evaluator has, else NULL.  SL_OK or SL_E_NOMEM. */
int vec_build(const node *root, sl_expr *p);
void vec_free(struct vprog *v);
/* The interpreter's unary minus and binary operators (eval.c), for vec.c. */
int expr_negate(sl_expr_rt *rt, sl_value *v);
int expr_binop(sl_expr_rt *rt, int op, sl_value *a, const sl_value *c);

/* ---- run-time helpers (eval.c), used by the function library ---- */

int rt_error(sl_expr_rt *rt, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Text form of a non-null value (numbers formatted into the arena). */
int val_text(sl_expr_rt *rt, const sl_value *v, const char **s, uint32_t *len);
/* Number from a value: SL_V_INT or SL_V_DOUBLE in *out; SL_V_NULL when the
   value is not a number (strings that are not numbers, booleans). */
int val_num(const sl_value *v, sl_value *out);
/* Same, but a run-time error naming what (e.g. "abs") when not a number. */
int val_need_num(sl_expr_rt *rt, const sl_value *v, sl_value *out, const char *what);
/* Three-way comparison by the language's rules (neither may be null). */
int val_cmp(sl_expr_rt *rt, const sl_value *a, const sl_value *b, int *res);
/* Quote a value for a message into buf ("\"abc\"", "42", "true"). */
const char *val_describe(const sl_value *v, char *buf, size_t cap);
void *rt_alloc(sl_expr_rt *rt, size_t n);
int rt_nomem(sl_expr_rt *rt);
/* Set *out to a double, or null when not finite. */
void val_set_double(sl_value *out, double d);
void val_set_string(sl_value *out, const char *s, uint32_t len, bool scratch);

/* Regex helpers (funcs.c / eval.c).  pattern compiled with REG_EXTENDED. */
int rx_compile(regex_t *re, const char *pat, size_t len, char *msg, size_t cap);
int rx_site_get(sl_expr_rt *rt, rx_site *site, const sl_value *pat, regex_t **re);
/* Match s[0..n) with REG_STARTEND; 1 match, 0 no match. */
int rx_exec(const regex_t *re, const char *s, size_t n, size_t nmatch, regmatch_t *m);
/* The same from byte `from` of s[0..n) on (not at a line start when from >
   0); matches are offsets into s.  Every regexec of sluice goes through
   these two (see the sanitizer note in eval.c). */
int rx_exec_at(const regex_t *re, const char *s, size_t n, size_t from, size_t nmatch, regmatch_t *m);

/* Hashes (digest.c). */
uint64_t sl_hash64(const void *p, size_t n, uint64_t seed);
void sl_md5(const void *p, size_t n, uint8_t out[16]);
void sl_sha256(const void *p, size_t n, uint8_t out[32]);

/* Edit distance (parse.c), capped at 100. */
unsigned edit_distance(const char *a, size_t an, const char *b, size_t bn);

#endif
