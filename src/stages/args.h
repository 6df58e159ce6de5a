/*
 * args.h - parsing the argument text of a stage.
 *
 * Field lists are comma (or space) separated names; a name with other
 * characters is written in backquotes (`unit price`) or double quotes.
 */
#ifndef SLUICE_ARGS_H
#define SLUICE_ARGS_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/error.h"

typedef struct sl_namelist {
    char **names;   /* owned, NUL-terminated */
    uint32_t *lens;
    char **alias;   /* for "old:new" pairs: the new names, else NULL */
    uint32_t *alias_lens;
    uint32_t n;
} sl_namelist;

/* Parse "a, b,`c d`" (pairs "a:b" when pairs is set).  Errors are usage
   errors naming the stage; after one, *l holds nothing (freeing it again is
   harmless). */
int sl_namelist_parse(sl_namelist *l, const char *text, int pairs, const char *stage, sl_error *err);
void sl_namelist_free(sl_namelist *l);

/* Parse a non-negative integer argument. */
int sl_parse_count(const char *text, uint64_t *out);

/* "no field 'x' in input; fields are: a, b, c" into the error. */
int sl_fail_no_field(sl_error *err, const char *stage, const char *name, const void *schema);

#endif
