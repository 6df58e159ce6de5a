/*
 * json_scan.h - one JSON object in, its top-level fields out as cells.
 *
 * Two parsers behind one interface, chosen per call:
 *
 *   sl_json_scan_object()          the hand parser (default; ~10x jansson)
 *   sl_json_scan_object_jansson()  json_loadb() + conversion (--json-parser)
 *
 * Both fill js->fields[0..nfields) with the object's keys in text order and
 * one cell per value:
 *
 *   string            SL_STRING, decoded UTF-8
 *   number            SL_NUMBER, the number's text (hand parser: verbatim,
 *                     so 1.50 stays 1.50 and 30-digit integers keep every
 *                     digit; jansson: integers exact, reals shortest text
 *                     that reads back as the same double)
 *   true / false      SL_BOOL, "true" / "false"
 *   null              SL_NULL, p = NULL, len = 0
 *   object / array    SL_JSON, compact text: whitespace outside strings
 *                     removed (hand parser: strings inside copied verbatim,
 *                     escapes included; jansson: as json_dumps writes them)
 *
 * Ownership: a cell points either into the caller's text (zero-copy: strings
 * without escapes, numbers, booleans, nested values without whitespace) or
 * into the caller's arena (decoded strings, compacted nested values).  Keys
 * point into the text or into the scanner's own scratch memory.  Everything
 * stays valid until the next scan call on js, the arena's next reset, or the
 * text's next change, whichever comes first.
 *
 * Validation (the hand parser is as strict as RFC 8259 and jansson 2.14 with
 * JSON_REJECT_DUPLICATES, proven by tests/unit/test_json_diff.c): invalid
 * UTF-8 (overlong, encoded surrogates, truncated, above U+10FFFF), lone
 * surrogate escapes, raw control characters in strings, \u0000 anywhere,
 * leading zeros, +1, .5, 1., NaN, trailing commas, duplicate keys at any
 * depth and anything after the object are rejected.
 *
 * Deliberate differences between the two parsers:
 *   - Integers beyond int64 and reals beyond the double range (1e400) are
 *     valid JSON: the hand parser keeps their text; jansson rejects them
 *     ("too big integer", "real number overflow").
 *   - Depth: both count containers (the top-level object is depth 1) against
 *     max_depth; jansson also has its own fixed limit of 2048 that counts
 *     scalars as one more level.
 *   - jansson 2.14 silently drops one NUL byte right after a number or a
 *     literal ({"a":1<NUL>} loads as {"a":1}); the hand parser rejects it,
 *     and so does sl_json_scan_object_jansson(), which refuses a raw NUL
 *     anywhere in the line before calling jansson.
 *   - Error columns: the hand parser counts bytes, jansson characters.
 */
#ifndef SLUICE_JSON_SCAN_H
#define SLUICE_JSON_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/arena.h"
#include "sluice/batch.h"
#include "sluice/error.h"

/* Why the last scan failed (js->err). */
typedef enum sl_json_err {
    SL_JSON_OK = 0,
    SL_JSON_ESYNTAX, /* not valid JSON */
    SL_JSON_ENOTOBJ, /* not an object (the first byte tells) */
    SL_JSON_EDUPKEY, /* the same key twice in one object */
    SL_JSON_EFIELDS, /* more than max_fields keys at the top level */
    SL_JSON_EDEPTH,  /* nested deeper than max_depth */
    SL_JSON_ENOMEM   /* the arena is over its limit, or malloc failed */
} sl_json_err;

typedef struct sl_json_field {
    const char *key;  /* decoded UTF-8, not NUL-terminated */
    uint32_t key_len;
    uint32_t key_col; /* 1-based byte column of the key's opening quote */
    sl_cell val;
} sl_json_field;

/* Flags for sl_json_scan_init(). */
#define SL_JSON_CALLER_CHECKS_TOP_DUPS 1u /* skip the duplicate check on
    top-level keys: the caller matches them against a schema anyway and
    calls sl_json_scan_find_dup() when that cannot prove them distinct */

typedef struct sl_json_frame sl_json_frame;
typedef struct sl_json_hent sl_json_hent;

typedef struct sl_json_scan {
    /* settings */
    uint32_t max_depth;  /* containers, the top-level object counts 1 */
    uint32_t max_fields; /* keys of the top-level object */
    unsigned flags;
    /* result of the last scan */
    sl_json_field *fields;
    uint32_t nfields;
    /* error of the last scan: kind, 1-based byte column (0 = none) and a
       message naming what was wrong and where, e.g.
       "invalid JSON at column 17: unexpected ','" */
    int err;
    uint32_t err_col;
    char msg[256];

    /* private */
    uint32_t cap_fields;
    sl_arena scratch;      /* decoded keys */
    int scratch_used;
    const char **kp;       /* keys of the open objects, innermost last */
    uint32_t *kl;
    uint32_t *kh;          /* hashes, filled only in hashed frames */
    uint32_t nkeys, cap_keys;
    sl_json_frame *frames; /* open containers by depth */
    uint32_t cap_frames;
    sl_json_hent *hents;   /* open-addressing set for objects with many keys */
    uint32_t hcap, hcount;
    uint64_t serial;       /* last object serial handed to the set */
} sl_json_scan;

/* Prepare a scanner.  max_depth 0 means 64; max_fields 0 means no limit but
   UINT32_MAX.  Returns SL_OK or SL_E_NOMEM. */
int sl_json_scan_init(sl_json_scan *js, uint32_t max_depth, uint32_t max_fields, unsigned flags);
void sl_json_scan_fini(sl_json_scan *js);

/* Scan text[0..len) (one line, without its newline) as one JSON object.
   Returns SL_OK with js->fields filled, SL_E_DATA with js->err/msg set (a bad
   record), or SL_E_NOMEM with js->err = SL_JSON_ENOMEM when the arena
   refused (the record may fit in an emptier arena).  No padding is needed
   after the text: nothing past text[len-1] is read. */
int sl_json_scan_object(sl_json_scan *js, const char *text, size_t len, sl_arena *arena);

/* The same through jansson (json_loadb with JSON_REJECT_DUPLICATES). */
int sl_json_scan_object_jansson(sl_json_scan *js, const char *text, size_t len, sl_arena *arena);

/* Index of the first top-level field whose key repeats an earlier one, or
   -1.  With SL_JSON_CALLER_CHECKS_TOP_DUPS, call it when the keys do not all
   match distinct schema columns.  Sets js->err/msg when it finds one. */
int sl_json_scan_find_dup(sl_json_scan *js);

#endif
