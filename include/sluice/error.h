/*
 * error.h - the one error type of sluice.
 *
 * Every failing function in the library returns a negative SL_E_* code and,
 * when it has a context to report, fills an sl_error through sl_fail().  The
 * first error recorded wins: later sl_fail() calls on a struct that already
 * holds an error only return the code.  Only src/main.c prints an error, with
 * sl_error_format(), and maps codes to exit statuses with sl_exit_code().
 */
#ifndef SLUICE_ERROR_H
#define SLUICE_ERROR_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* Statuses of next()-style calls.  Errors are negative. */
#define SL_BATCH 1 /* here is a non-empty batch */
#define SL_DONE 0  /* end of input: not an error */

typedef enum sl_code {
    SL_OK = 0,
    SL_E_USAGE = -1,    /* bad command line, pipeline text or expression */
    SL_E_DATA = -2,     /* malformed input record, or over the error budget */
    SL_E_INPUT = -3,    /* an input cannot be opened or read */
    SL_E_OUTPUT = -4,   /* the output cannot be created or written */
    SL_E_NOMEM = -5,    /* out of memory, or over the memory limit */
    SL_E_INTERNAL = -6, /* a bug: an invariant does not hold */
    SL_E_SIGNAL = -7    /* interrupted by a signal */
} sl_code;

/* Documented exit statuses (sysexits.h where one fits). */
#define SL_EXIT_OK 0
#define SL_EXIT_PARTIAL 3   /* finished, but bad records were skipped or
                               rejected (within the --max-errors budget) */
#define SL_EXIT_USAGE 64    /* EX_USAGE */
#define SL_EXIT_DATA 65     /* EX_DATAERR */
#define SL_EXIT_NOINPUT 66  /* EX_NOINPUT */
#define SL_EXIT_SOFTWARE 70 /* EX_SOFTWARE: internal error */
#define SL_EXIT_OSERR 71    /* EX_OSERR: out of memory */
#define SL_EXIT_IOERR 74    /* EX_IOERR: output cannot be written */

typedef struct sl_error {
    int code;           /* SL_OK or an SL_E_* value */
    int signo;          /* with SL_E_SIGNAL: the signal number */
    char stage[32];     /* "csv", "select", "sink", ... or "" */
    char input[256];    /* input or output name, or "" */
    uint64_t line;      /* 1-based; 0 = unknown */
    uint64_t col;       /* 1-based; 0 = unknown */
    uint64_t record;    /* 1-based data record number; 0 = unknown */
    char msg[1024];     /* what happened (what was expected) */
    char detail[1024];  /* optional extra lines (expression + caret) */
} sl_error;

void sl_error_clear(sl_error *e);

/* Record an error (if none is recorded yet) and return code. */
int sl_fail(sl_error *e, int code, const char *stage, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int sl_vfail(sl_error *e, int code, const char *stage, const char *fmt, va_list ap);

/* Add a position to the recorded error, only where it has none yet. */
void sl_error_at(sl_error *e, const char *input, uint64_t line, uint64_t col, uint64_t record);

/* "sluice: STAGE: FILE:LINE:COL: message" (+ detail lines) into buf. */
size_t sl_error_format(const sl_error *e, char *buf, size_t cap);

/* Replace secrets in a text in place: the password of any URL
   (scheme://user:PASSWORD@host) and the value of any password=... key
   become "***".  sl_fail() and sl_error_at() apply it to what they record,
   so no error shows a database password. */
void sl_redact_secrets(char *s);

int sl_exit_code(const sl_error *e);
const char *sl_code_name(int code);

#endif
