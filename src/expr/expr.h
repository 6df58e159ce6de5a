/*
 * expr.h - the expression language of `filter` and `map`.
 *
 * An expression lives in three steps:
 *
 *   sl_expr_compile()  text -> program: lex, parse, type-check what is known
 *                      without data, compile to bytecode.  Once per run.
 *   sl_expr_bind()     resolve field names to column indexes for a schema.
 *                      A no-op while the schema id stays the same, so it is
 *                      called once per batch and costs once per schema.
 *   sl_expr_eval()     evaluate for one physical row of a batch.
 *
 * The language is documented in docs/expressions.md.
 *
 * Ownership, once for the module:
 *
 *   A program owns its code, constants, compiled regexes and evaluation
 *   stack; sl_expr_free() releases all of it.  Programs are not reentrant
 *   (the stack lives in the program); the run is single-threaded.
 *
 *   A value produced by sl_expr_eval() borrows its string bytes from one of:
 *   the cells of the batch it was evaluated on, the program's constants, or
 *   the arena passed to eval (then `scratch` is set).  It is valid until the
 *   earliest of those changes.  Evaluation never calls malloc per record;
 *   computed strings go to the arena, and an arena over its cap gives
 *   SL_E_NOMEM.
 */
#ifndef SLUICE_EXPR_H
#define SLUICE_EXPR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/arena.h"
#include "sluice/batch.h"
#include "sluice/error.h"

/* Types of run-time values. */
typedef enum sl_vtype {
    SL_V_NULL = 0,
    SL_V_BOOL,
    SL_V_INT,    /* int64 */
    SL_V_DOUBLE, /* always finite: non-finite results become null */
    SL_V_STRING, /* a string: compares as a string, never as a number */
    SL_V_TEXT    /* untyped text from a SL_TEXT or SL_NUMBER cell: a number
                    when its text is a number, else a string */
} sl_vtype;

typedef struct sl_value {
    uint8_t type;    /* sl_vtype */
    uint8_t kind;    /* STRING/TEXT: sl_kind of the source cell (SL_STRING
                        for computed strings); tells map how to write it */
    uint8_t scratch; /* bytes live in the eval arena */
    uint8_t pad;
    uint32_t len;    /* STRING/TEXT: length in bytes */
    union {
        bool b;
        int64_t i;
        double d;
        const char *s; /* not NUL-terminated */
    } u;
} sl_value;

/* Static types the checker knows before seeing data ("when not null"). */
typedef enum sl_etype {
    SL_T_ANY = 0, /* a field, or a function whose type follows its data */
    SL_T_NULL,
    SL_T_BOOL,
    SL_T_INT,
    SL_T_DOUBLE,
    SL_T_NUM,     /* int or double */
    SL_T_STR
} sl_etype;

typedef struct sl_expr sl_expr;

/* ---- the function library (also printed by `sluice help functions`) ---- */

typedef struct sl_expr_rt sl_expr_rt; /* run-time context of one call */
typedef int (*sl_expr_fn)(sl_expr_rt *rt, sl_value *args, uint32_t nargs, sl_value *out);

typedef struct sl_expr_func {
    const char *name;
    const char *signature; /* "substr(s, start, len) -> string" */
    const char *summary;   /* one line */
    int8_t min_args;
    int8_t max_args;       /* -1 = any number */
    const char *argtypes;  /* one letter per argument, the last repeats:
                              n number, s string (anything is turned into
                              its text), b boolean, a anything */
    char ret;              /* i int, d double, n number, s string, b bool,
                              a any */
    sl_expr_fn fn;         /* NULL for forms compiled inline (if, coalesce,
                              is_null) */
} sl_expr_func;

/* Every function, ordered by name, terminated by an entry with name NULL. */
extern const sl_expr_func sl_expr_funcs[];

/* ---- compiling ---- */

/* Compile text.  Returns an owned program, or NULL after sl_fail(err,
   SL_E_USAGE, stage, ...) with err->col (1-based character column in text)
   and err->detail (the text's line and a caret line under the column). */
sl_expr *sl_expr_compile(const char *text, const char *stage, sl_error *err);
/* The same for the expression that starts at byte `start` of text: a stage
   passes its whole text ("filter x > 1") and where its argument begins, so
   that columns and carets point into what the user wrote. */
sl_expr *sl_expr_compile_at(const char *text, size_t start, const char *stage, sl_error *err);
void sl_expr_free(sl_expr *p);

/* Fill err->col and err->detail (the line of text holding byte pos, and a
   caret under it) unless err already has a column or detail. */
void sl_expr_caret(sl_error *err, const char *text, size_t len, size_t pos);

/* One `name = expr` of a map. */
typedef struct sl_expr_assign {
    char *name;        /* NUL-terminated, owned */
    uint32_t name_len;
    sl_expr *prog;     /* owned */
} sl_expr_assign;

/* Compile "name = expr, `odd name` = expr, ..." starting at byte `start`
   of text (map's argument).  On success *out is an owned array of *n
   assignments (free it with sl_expr_assign_free); else an error as for
   sl_expr_compile. */
int sl_expr_compile_assignments(const char *text, size_t start, const char *stage, sl_expr_assign **out,
                                size_t *n, sl_error *err);
void sl_expr_assign_free(sl_expr_assign *a, size_t n);

/* Static type of the whole expression. */
sl_etype sl_expr_type(const sl_expr *p);
const char *sl_etype_name(sl_etype t);
/* The text the program was compiled from. */
const char *sl_expr_text(const sl_expr *p);

/* ---- binding ---- */

/* Field names missing from the schema read as null instead of failing
   (open schemas: NDJSON records differ in their keys). */
#define SL_EXPR_BIND_OPEN 1u

/* Resolve field names against the first `nvisible` columns of schema (all
   when nvisible >= ncols).  Does nothing when already bound to this schema
   id with the same nvisible and flags.  An unknown field (without
   SL_EXPR_BIND_OPEN) is SL_E_USAGE: "no field 'prce' in input; fields are:
   id, price, ..." with the column and caret of the reference. */
int sl_expr_bind(sl_expr *p, const sl_schema *schema, uint32_t nvisible, unsigned flags,
                 sl_error *err);

/* ---- evaluating ---- */

/* Evaluate for physical row `row` of b (the program must be bound to
   b->schema).  Returns SL_OK with *out set; SL_E_DATA for an error in this
   record (message from sl_expr_errmsg(), the stage applies the bad-record
   policy); SL_E_NOMEM when the arena is over its cap. */
int sl_expr_eval(sl_expr *p, const sl_batch *b, uint32_t row, sl_arena *arena, sl_value *out);

/* The same, but *out points at the result inside the program, valid until
   its next evaluation (saves a copy on the hot path of map). */
int sl_expr_eval_ref(sl_expr *p, const sl_batch *b, uint32_t row, sl_arena *arena, const sl_value **out);

/* Evaluate as a condition: true only for true; null is false; text "true"
   and "false" are booleans; any other value is SL_E_DATA. */
int sl_expr_eval_bool(sl_expr *p, const sl_batch *b, uint32_t row, sl_arena *arena, bool *out);

/* Many rows at once.  When sl_expr_batchable(p) (the expression is made of
   numbers, fields, arithmetic, comparisons, and/or/not and numeric
   functions), sl_expr_eval_rows() evaluates it for the physical rows
   rows[0..n) of b, n <= SL_EXPR_BATCH, and returns n values, valid until the
   next call: the value of row rows[i], or type SL_V_ROW when that row must
   be evaluated alone with sl_expr_eval() (a field that is not a number or
   null; an operation that fails).  The values are those sl_expr_eval()
   gives; the call cannot fail. */
#define SL_EXPR_BATCH 1024
#define SL_V_ROW 255
bool sl_expr_batchable(const sl_expr *p);
/* Whether the last sl_expr_eval_rows() left any row alone (SL_V_ROW). */
bool sl_expr_rows_alone(const sl_expr *p);
const sl_value *sl_expr_eval_rows(sl_expr *p, const sl_batch *b, const uint32_t *rows, uint32_t n, sl_arena *arena);
/* After sl_expr_eval_rows(): the fields it read (at most max), as the
   logical column cols[k] of b and vals[k][i], what it read for rows[i] -
   null, an int, a double, or SL_V_ROW for "not a number" - the values
   sl_batch.parsed holds.  Returns how many. */
uint32_t sl_expr_rows_fields(const sl_expr *p, uint32_t *cols, const sl_value **vals, uint32_t max);
/* The columns the program reads (bound): how many, and the i-th
   (UINT32_MAX for a name the schema lacks). */
uint32_t sl_expr_nfields(const sl_expr *p);
uint32_t sl_expr_field_col(const sl_expr *p, uint32_t i);

/* Message of the last SL_E_DATA or SL_E_NOMEM from eval. */
const char *sl_expr_errmsg(const sl_expr *p);

/* ---- values ---- */

/* Write v as a cell: int/double -> SL_NUMBER text, string -> SL_STRING (or
   the kind of the cell it came from), bool -> SL_BOOL, null -> SL_NULL.
   Bytes that are not borrowed from a batch or constant are copied into a.
   Returns SL_OK or SL_E_NOMEM. */
int sl_value_to_cell(const sl_value *v, sl_arena *a, sl_cell *c);

/* Numbers as text.  sl_num_parse: the whole of s[0..n) as a number; returns
   SL_V_INT, SL_V_DOUBLE, or SL_V_NULL when it is not a number (or overflows
   a double).  The result is the correctly rounded double. */
int sl_num_parse(const char *s, size_t n, int64_t *i, double *d);
/* Shortest text that reads back as d ("14" for 14.0, "86.18", "1e+20"); at
   most 32 bytes, not NUL-terminated; returns the length. */
size_t sl_num_format_double(double d, char *buf);
/* sl_num_parse's two common shapes, inline for loops over a column:
   [-+]digits (1 to 18) and [-+]digits.digits (1 to 15 digits in all), each
   converted exactly (an integer; one division of exact doubles, Clinger's
   fast path).  -1 for anything else.  sl_num_parse starts with it. */
static inline int sl_num_parse_common(const char *s, size_t n, int64_t *iout, double *dout)
{
    static const double p10[16] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
    const unsigned char *p = (const unsigned char *)s, *e = p + n;
    if (n == 0 || n > 19) return -1;
    bool neg = *p == '-';
    if (neg || *p == '+') p++;
    const unsigned char *ds = p;
    uint64_t m = 0;
    while (p < e && (unsigned)(*p - '0') < 10) m = m * 10 + (unsigned)(*p++ - '0');
    size_t nint = (size_t)(p - ds);
    if (p == e) {
        if (nint - 1 < 18) {
            *iout = neg ? -(int64_t)m : (int64_t)m;
            return SL_V_INT;
        }
    } else if (*p == '.' && nint) {
        const unsigned char *fs = ++p;
        while (p < e && (unsigned)(*p - '0') < 10) m = m * 10 + (unsigned)(*p++ - '0');
        size_t nfrac = (size_t)(p - fs);
        if (p == e && nfrac && nint + nfrac <= 15) {
            double v = (double)m / p10[nfrac];
            *dout = neg ? -v : v;
            return SL_V_DOUBLE;
        }
    }
    return -1;
}
/* The same, anything else through sl_num_parse: its results. */
static inline int sl_num_parse_short(const char *s, size_t n, int64_t *iout, double *dout)
{
    int k = sl_num_parse_common(s, n, iout, dout);
    return k >= 0 ? k : sl_num_parse(s, n, iout, dout);
}
size_t sl_num_format_int(int64_t i, char *buf); /* at most 20 bytes */
/* What sl_num_parse gives for the text sl_num_format_double(d) writes,
   without writing it: an integral d under 1e15 is written without a point,
   so it reads back as an integer; from 1e15 to 1e17 an integral d is written
   with an exponent ("2e+15") or, when it needs all 16 or 17 digits, without
   ("6305039478318694", an integer again), so that range is written and read
   (sl_num_reread_wide); anything else reads back as the double. */
int sl_num_reread_wide(double d, int64_t *i, double *dout);
static inline int sl_num_reread(double d, int64_t *i, double *dout)
{
    if (d > -1e15 && d < 1e15 && d == (double)(int64_t)d) {
        *i = (int64_t)d;
        return SL_V_INT;
    }
    if (d > -1e17 && d < 1e17 && d == (double)(int64_t)d) return sl_num_reread_wide(d, i, dout);
    *dout = d;
    return SL_V_DOUBLE;
}

#endif
