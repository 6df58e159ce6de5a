/*
 * json_out.h - JSON text helpers shared by the writers.
 */
#ifndef SLUICE_JSON_OUT_H
#define SLUICE_JSON_OUT_H

#include <stdbool.h>
#include <stddef.h>

/* True when p[0..n) is exactly a JSON number (RFC 8259 grammar). */
bool sl_json_is_number(const char *p, size_t n);

/* Write p[0..n) as a quoted, escaped JSON string into d, which must have room
   for 6 * n + 2 bytes.  Returns bytes written, or -1 when the text is not
   valid UTF-8 (*bad = byte offset of the first invalid byte). */
long sl_json_escape(char *d, const char *p, size_t n, size_t *bad);

/* Length of the first valid UTF-8 prefix of p[0..n) (n when all valid). */
size_t sl_utf8_valid_prefix(const char *p, size_t n);

#endif
