/*
 * parquet_types.h - the column types of Parquet output, the --schema
 * specification, and the text -> value conversions behind type inference.
 *
 * Two strengths of parsing:
 *
 *   strict   (inference, and later values of an inferred column): a number is
 *            exactly a JSON number (so 007, +1, 1. and .5 stay strings, as in
 *            NDJSON output); an int64 is a JSON integer in range; a double a
 *            finite JSON number; a boolean exactly true or false.
 *   lenient  (a type declared with --schema, which asks for the cast): also
 *            leading zeros and a leading +, decimal text that strtod reads
 *            (plus inf, infinity, nan in any case), booleans true/false/1/0 in
 *            any case.
 *
 * Timestamps (both strengths): YYYY-MM-DD, then T or a space, HH:MM, optional
 * :SS and a fraction of up to 9 digits (digits past the 6th must be 0: the
 * column holds microseconds), then optionally Z or an offset +HH:MM, +HHMM,
 * +HH.  No offset means UTC.  Years 0001-9999.  A date alone (YYYY-MM-DD) is
 * midnight UTC.  Dates: exactly YYYY-MM-DD.
 */
#ifndef SLUICE_PARQUET_TYPES_H
#define SLUICE_PARQUET_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/batch.h"

typedef enum pq_type {
    PQ_NONE = 0,   /* not decided yet (inferring) */
    PQ_BOOLEAN,    /* BOOLEAN */
    PQ_INT64,      /* INT64 */
    PQ_DOUBLE,     /* DOUBLE */
    PQ_STRING,     /* BYTE_ARRAY, STRING (UTF8) */
    PQ_TIMESTAMP,  /* INT64, TIMESTAMP(isAdjustedToUTC=true, MICROS) */
    PQ_DATE        /* INT32, DATE (days since 1970-01-01) */
} pq_type;

const char *pq_type_name(pq_type t);
/* A type name of --schema (with its aliases), or PQ_NONE. */
pq_type pq_type_from_name(const char *s, size_t n);

/* --schema 'name:type, name:type, ...' (names with other characters than
   letters, digits, _ and . in backquotes). */
typedef struct pq_spec_col {
    char *name;     /* NUL-terminated, owned */
    size_t name_len;
    pq_type type;
} pq_spec_col;

typedef struct pq_spec {
    pq_spec_col *cols;
    uint32_t n;
} pq_spec;

/* Parse text into *out (which may be NULL to only check).  Returns 0, or -1
   with a message in msg. */
int pq_spec_parse(const char *text, pq_spec *out, char *msg, size_t msgcap);
void pq_spec_free(pq_spec *s);
/* Index of the column named name in s, or -1. */
int pq_spec_find(const pq_spec *s, const char *name, size_t len);

/* Type inference: the set of types a value could be stored as (strings take
   every non-null value, so they are not in the set). */
enum {
    PQ_FIT_BOOLEAN = 1u << 0,
    PQ_FIT_INT64 = 1u << 1,
    PQ_FIT_DOUBLE = 1u << 2,
    PQ_FIT_TIMESTAMP = 1u << 3,
    PQ_FIT_DATE = 1u << 4,
    PQ_FIT_ALL = 0x1f
};
/* The fits of a non-null cell (strict parsing).  Only cells of these kinds
   may become: TEXT anything; NUMBER int64 or double; BOOL boolean; STRING a
   timestamp or a date (JSON has no such type); JSON nothing.  `want` limits
   the work to the types still possible. */
unsigned pq_fits(const sl_cell *c, unsigned want);
/* The type for a column whose non-null values all fit `fits` (any_value:
   there was at least one): int64, else double, boolean, date, timestamp,
   else string. */
pq_type pq_infer(unsigned fits, bool any_value);

/* Conversions: 0 on success, -1 when the text is not such a value. */
int pq_parse_int64(const char *p, size_t n, bool lenient, int64_t *out);
int pq_parse_double(const char *p, size_t n, bool lenient, double *out);
int pq_parse_bool(const char *p, size_t n, bool lenient, bool *out);
int pq_parse_timestamp(const char *p, size_t n, int64_t *micros);
int pq_parse_date(const char *p, size_t n, int32_t *days);

/* True when p[0..n) is valid UTF-8 (fast for ASCII). */
bool pq_utf8_valid_long(const char *p, size_t n);
static inline bool pq_utf8_valid(const char *p, size_t n)
{
    if (n <= 16) {
        unsigned char acc = 0;
        for (size_t i = 0; i < n; i++)
            acc |= (unsigned char)p[i];
        if (!(acc & 0x80))
            return true;
    }
    return pq_utf8_valid_long(p, n);
}

#endif
