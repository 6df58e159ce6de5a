/* json_scan.c - the hand JSON object scanner, and its jansson twin.
 *
 * The hand parser makes one pass over the text.  Strings are checked 16 bytes
 * at a time (SSE2) for the only bytes that need attention: '"', '\\', control
 * characters and non-ASCII (checked as strict UTF-8).  A string with escapes
 * is validated in that pass and decoded in a second one into the arena; a
 * nested object or array is validated iteratively (no recursion, so a deep
 * line cannot exhaust the C stack) and kept as its text, compacted only when
 * it holds whitespace.
 *
 * Duplicate keys are found per object: small objects compare their keys
 * linearly; an object that grows past DUP_LINEAR keys moves its keys into an
 * open-addressing set tagged with the object's serial number, so a hostile
 * object with a million keys costs O(n), not O(n^2).
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "formats/json_scan.h"
#include "sluice/error.h"

typedef unsigned char uchar;

#define DUP_LINEAR 16 /* keys per object compared linearly */

struct sl_json_frame {
    uint64_t serial;  /* 0: keys compared linearly; else tag in the set */
    uint32_t kstart;  /* first key of this object in the key stack */
    uint32_t nkeys;
    uint8_t type;     /* '{' or '[' */
};

struct sl_json_hent {
    uint64_t serial;  /* 0 = empty slot */
    uint32_t hash;
    uint32_t key;     /* index in the key stack */
};

/* JSON whitespace */
static const uchar ws_tab[256] = {[' '] = 1, ['\t'] = 1, ['\n'] = 1, ['\r'] = 1};

/* string bytes that need no attention: 0x20..0x7f except '"' and '\\' */
static const uchar str_plain[256] = {
#define R8(x) x, x, x, x, x, x, x, x
    R8(0), R8(0), R8(0), R8(0),                /* 0x00 - 0x1f */
    1, 1, 0, 1, 1, 1, 1, 1, R8(1),             /* 0x20 - 0x2f: '"' at 0x22 */
    R8(1), R8(1),                              /* 0x30 - 0x3f */
    R8(1), R8(1),                              /* 0x40 - 0x4f */
    R8(1), 1, 1, 1, 1, 0, 1, 1, 1,             /* 0x50 - 0x5f: '\\' at 0x5c */
    R8(1), R8(1), R8(1), R8(1),                /* 0x60 - 0x7f */
#undef R8
};

/* digits, letters and the other bytes that may not directly follow a number
   or a literal (they would be part of a malformed token) */
static const uchar tok_cont[256] = {
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1,
    ['7'] = 1, ['8'] = 1, ['9'] = 1, ['.'] = 1, ['+'] = 1, ['-'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1,
    ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1,
    ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1,
    ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1,
    ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1,
    ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1,
    ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1,
};

/* ------------------------------------------------------------------------ */
/* setup */

int sl_json_scan_init(sl_json_scan *js, uint32_t max_depth, uint32_t max_fields, unsigned flags)
{
    memset(js, 0, sizeof *js);
    js->max_depth = max_depth ? max_depth : 64;
    js->max_fields = max_fields ? max_fields : UINT32_MAX;
    js->flags = flags;
    sl_arena_init(&js->scratch, 4096, 0);
    js->cap_fields = 16;
    js->fields = malloc(js->cap_fields * sizeof *js->fields);
    js->cap_keys = 64;
    js->kp = malloc(js->cap_keys * sizeof *js->kp);
    js->kl = malloc(js->cap_keys * sizeof *js->kl);
    js->kh = malloc(js->cap_keys * sizeof *js->kh);
    js->cap_frames = 16;
    js->frames = malloc(js->cap_frames * sizeof *js->frames);
    if (!js->fields || !js->kp || !js->kl || !js->kh || !js->frames) {
        sl_json_scan_fini(js);
        return SL_E_NOMEM;
    }
    return SL_OK;
}

void sl_json_scan_fini(sl_json_scan *js)
{
    free(js->fields);
    free(js->kp);
    free(js->kl);
    free(js->kh);
    free(js->frames);
    free(js->hents);
    sl_arena_fini(&js->scratch);
    memset(js, 0, sizeof *js);
}

/* ------------------------------------------------------------------------ */
/* errors */

/* "'x'", "byte 0xC3" or "end of line" for the byte at p */
static const char *describe(const uchar *p, const uchar *end, char buf[16])
{
    if (p >= end)
        return "end of line";
    if (*p >= 0x21 && *p <= 0x7e)
        snprintf(buf, 16, "'%c'", *p);
    else
        snprintf(buf, 16, "byte 0x%02X", *p);
    return buf;
}

static void set_err(sl_json_scan *js, int kind, uint32_t col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void set_err(sl_json_scan *js, int kind, uint32_t col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    js->err = kind;
    js->err_col = col;
    vsnprintf(js->msg, sizeof js->msg, fmt, ap);
    va_end(ap);
}

/* Record a syntax error at p and return NULL (for `return bad(...)`). */
#define COL(p) ((uint32_t)((const uchar *)(p) - line) + 1)
#define bad(p, fmt, ...)                                                                       \
    (set_err(js, SL_JSON_ESYNTAX, COL(p), "invalid JSON at column %u: " fmt, COL(p), ##__VA_ARGS__), \
     (const uchar *)NULL)

static const uchar *unexpected(sl_json_scan *js, const uchar *line, const uchar *p, const uchar *end,
                               const char *expected)
{
    char b[16];
    return bad(p, "unexpected %s (expected %s)", describe(p, end, b), expected);
}

static const uchar *nomem(sl_json_scan *js)
{
    set_err(js, SL_JSON_ENOMEM, 0, "out of memory for the record's values");
    return NULL;
}

/* Key for an error message: printable, cut at 60 bytes. */
static void quote_key(char *out, size_t cap, const char *k, uint32_t n)
{
    size_t o = 0;
    for (uint32_t i = 0; i < n && o + 8 < cap; i++) {
        uchar c = (uchar)k[i];
        if (i == 60) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            o += (size_t)snprintf(out + o, cap - o, "\\u%04x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    out[o] = 0;
}

/* ------------------------------------------------------------------------ */
/* strings */

/* Length of the strict UTF-8 sequence at p (2..4), or 0 if invalid. */
static inline int utf8_seq(const uchar *p, const uchar *end)
{
    uchar c = p[0];
    ptrdiff_t left = end - p;
    if (c >= 0xc2 && c <= 0xdf) {
        if (left < 2 || (p[1] & 0xc0) != 0x80)
            return 0;
        return 2;
    }
    if (c >= 0xe0 && c <= 0xef) {
        if (left < 3 || (p[2] & 0xc0) != 0x80)
            return 0;
        uchar lo = 0x80, hi = 0xbf;
        if (c == 0xe0)
            lo = 0xa0; /* overlong */
        else if (c == 0xed)
            hi = 0x9f; /* UTF-16 surrogates */
        if (p[1] < lo || p[1] > hi)
            return 0;
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        if (left < 4 || (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80)
            return 0;
        uchar lo = 0x80, hi = 0xbf;
        if (c == 0xf0)
            lo = 0x90; /* overlong */
        else if (c == 0xf4)
            hi = 0x8f; /* above U+10FFFF */
        if (p[1] < lo || p[1] > hi)
            return 0;
        return 4;
    }
    return 0;
}

static inline int hexval(uchar c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* The 4 hex digits at p as a value, or -1. */
static inline long hex4(const uchar *p)
{
    int a = hexval(p[0]), b = hexval(p[1]), c = hexval(p[2]), d = hexval(p[3]);
    if ((a | b | c | d) < 0)
        return -1;
    return (long)(a << 12 | b << 8 | c << 4 | d);
}

/* Check the escape at p (p[0] == '\\'); return what follows it or NULL. */
static const uchar *esc_check(sl_json_scan *js, const uchar *line, const uchar *p, const uchar *end)
{
    if (end - p < 2)
        return bad(p, "unterminated string");
    switch (p[1]) {
    case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
        return p + 2;
    case 'u':
        break;
    default: {
        char b[16];
        return bad(p, "invalid escape '\\' followed by %s", describe(p + 1, end, b));
    }
    }
    long v = end - p >= 6 ? hex4(p + 2) : -1;
    if (v < 0)
        return bad(p, "invalid \\u escape (expected 4 hex digits)");
    if (v == 0)
        return bad(p, "\\u0000 is not allowed in a string");
    if (v >= 0xdc00 && v <= 0xdfff)
        return bad(p, "lone surrogate \\u%04lX (a low surrogate must follow a high one)", v);
    if (v >= 0xd800 && v <= 0xdbff) {
        long w = (end - p >= 12 && p[6] == '\\' && p[7] == 'u') ? hex4(p + 8) : -1;
        if (w < 0xdc00 || w > 0xdfff)
            return bad(p, "lone surrogate \\u%04lX (expected a low surrogate \\uDC00-\\uDFFF after it)", v);
        return p + 12;
    }
    return p + 6;
}

/* Validate a string; p is just after the opening quote.  Returns the byte
   after the closing quote, or NULL.  *esc tells whether it has escapes. */
static inline const uchar *str_scan(sl_json_scan *js, const uchar *line, const uchar *p, const uchar *end, int *esc)
{
    const uchar *open = p - 1;
    int e = 0;
    for (;;) {
#ifdef __SSE2__
        const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'), space = _mm_set1_epi8(' ');
        while (end - p >= 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)p);
            /* signed compare: control bytes and bytes >= 0x80 are both < ' ' */
            __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)),
                                     _mm_cmplt_epi8(v, space));
            unsigned mask = (unsigned)_mm_movemask_epi8(m);
            if (mask) {
                p += __builtin_ctz(mask);
                goto special;
            }
            p += 16;
        }
#endif
        while (p < end && str_plain[*p])
            p++;
        if (p == end)
            return bad(open, "unterminated string");
#ifdef __SSE2__
    special:
#endif
        if (*p == '"') {
            *esc = e;
            return p + 1;
        }
        if (*p == '\\') {
            e = 1;
            if (!(p = esc_check(js, line, p, end)))
                return NULL;
        } else if (*p < 0x20) {
            return bad(p, "control character 0x%02X in a string (it must be escaped)", *p);
        } else {
            int n = utf8_seq(p, end);
            if (!n)
                return bad(p, "invalid UTF-8 byte 0x%02X in a string", *p);
            p += n;
        }
    }
}

static inline char *put_utf8(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        *o++ = (char)cp;
    } else if (cp < 0x800) {
        *o++ = (char)(0xc0 | cp >> 6);
        *o++ = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        *o++ = (char)(0xe0 | cp >> 12);
        *o++ = (char)(0x80 | (cp >> 6 & 0x3f));
        *o++ = (char)(0x80 | (cp & 0x3f));
    } else {
        *o++ = (char)(0xf0 | cp >> 18);
        *o++ = (char)(0x80 | (cp >> 12 & 0x3f));
        *o++ = (char)(0x80 | (cp >> 6 & 0x3f));
        *o++ = (char)(0x80 | (cp & 0x3f));
    }
    return o;
}

/* Decode the already validated string body s[0..n) into out (n bytes are
   enough: no escape decodes longer than itself).  Returns the length. */
static size_t str_decode(const uchar *s, size_t n, char *out)
{
    const uchar *end = s + n;
    char *o = out;
    while (s < end) {
        const uchar *b = memchr(s, '\\', (size_t)(end - s));
        if (!b)
            b = end;
        memcpy(o, s, (size_t)(b - s));
        o += b - s;
        s = b;
        if (s == end)
            break;
        switch (s[1]) {
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u': {
            uint32_t cp = (uint32_t)hex4(s + 2);
            if (cp >= 0xd800 && cp <= 0xdbff) {
                cp = 0x10000 + ((cp - 0xd800) << 10) + ((uint32_t)hex4(s + 8) - 0xdc00);
                s += 6;
            }
            o = put_utf8(o, cp);
            s += 4;
            break;
        }
        default: *o++ = (char)s[1]; break; /* " \ / */
        }
        s += 2;
    }
    return (size_t)(o - out);
}

/* ------------------------------------------------------------------------ */
/* numbers and literals */

/* Validate the number at p; return the byte after it or NULL. */
static inline const uchar *num_scan(sl_json_scan *js, const uchar *line, const uchar *p, const uchar *end)
{
    const uchar *s = p;
    if (*p == '-')
        p++;
    if (p < end && *p == '0') {
        p++;
    } else if (p < end && *p >= '1' && *p <= '9') {
        do
            p++;
        while (p < end && *p >= '0' && *p <= '9');
    } else {
        return bad(s, "invalid number (expected a digit after '-')");
    }
    if (p < end && *p == '.') {
        p++;
        if (p >= end || *p < '0' || *p > '9')
            return bad(s, "invalid number (expected a digit after '.')");
        do
            p++;
        while (p < end && *p >= '0' && *p <= '9');
    }
    if (p < end && (*p | 0x20) == 'e') {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p >= end || *p < '0' || *p > '9')
            return bad(s, "invalid number (expected a digit in the exponent)");
        do
            p++;
        while (p < end && *p >= '0' && *p <= '9');
    }
    if (p < end && tok_cont[*p]) {
        if (*s == '0' || (s[0] == '-' && s[1] == '0'))
            return bad(s, "invalid number (no leading zeros)");
        return bad(s, "invalid number");
    }
    return p;
}

/* Match the literal word w (len n) at p; return the byte after it or NULL. */
static inline const uchar *lit_scan(sl_json_scan *js, const uchar *line, const uchar *p, const uchar *end,
                                    const char *w, size_t n)
{
    if ((size_t)(end - p) < n || memcmp(p, w, n) != 0 || (end - p > (ptrdiff_t)n && tok_cont[p[n]]))
        return bad(p, "invalid literal (expected a value: string, number, object, array, true, false or null)");
    return p + n;
}

/* ------------------------------------------------------------------------ */
/* duplicate keys */

static inline uint32_t key_hash(const char *k, uint32_t n)
{
    uint32_t h = 2166136261u;
    for (uint32_t i = 0; i < n; i++)
        h = (h ^ (uchar)k[i]) * 16777619u;
    return h;
}

static int keys_grow(sl_json_scan *js)
{
    uint32_t cap = js->cap_keys * 2;
    const char **kp = realloc(js->kp, cap * sizeof *kp);
    if (kp)
        js->kp = kp;
    uint32_t *kl = realloc(js->kl, cap * sizeof *kl);
    if (kl)
        js->kl = kl;
    uint32_t *kh = realloc(js->kh, cap * sizeof *kh);
    if (kh)
        js->kh = kh;
    if (!kp || !kl || !kh)
        return -1;
    js->cap_keys = cap;
    return 0;
}

/* Insert key index k (hash h) under serial s; return 1 if an equal key with
   the same serial is there already, 0 if inserted, -1 out of memory. */
static int hset_add(sl_json_scan *js, uint64_t s, uint32_t h, uint32_t k)
{
    if ((js->hcount + 1) * 2 > js->hcap) {
        uint32_t ncap = js->hcap ? js->hcap * 2 : 256;
        sl_json_hent *ne = calloc(ncap, sizeof *ne);
        if (!ne)
            return -1;
        for (uint32_t i = 0; i < js->hcap; i++) {
            sl_json_hent *e = &js->hents[i];
            if (!e->serial)
                continue;
            uint32_t j = e->hash & (ncap - 1);
            while (ne[j].serial)
                j = (j + 1) & (ncap - 1);
            ne[j] = *e;
        }
        free(js->hents);
        js->hents = ne;
        js->hcap = ncap;
    }
    uint32_t mask = js->hcap - 1, j = h & mask;
    for (; js->hents[j].serial; j = (j + 1) & mask) {
        sl_json_hent *e = &js->hents[j];
        if (e->serial == s && e->hash == h && js->kl[e->key] == js->kl[k] &&
            memcmp(js->kp[e->key], js->kp[k], js->kl[k]) == 0)
            return 1;
    }
    js->hents[j] = (sl_json_hent){s, h, k};
    js->hcount++;
    return 0;
}

static void hset_clear(sl_json_scan *js)
{
    if (js->hcount) {
        memset(js->hents, 0, js->hcap * sizeof *js->hents);
        js->hcount = 0;
    }
}

/* Add key k[0..n) to the object of frame f; 1 if it repeats a key of that
   object, 0 if new, -1 out of memory. */
static int key_add(sl_json_scan *js, sl_json_frame *f, const char *k, uint32_t n)
{
    if (js->nkeys == js->cap_keys && keys_grow(js) < 0)
        return -1;
    uint32_t idx = js->nkeys;
    js->kp[idx] = k;
    js->kl[idx] = n;
    if (!f->serial) {
        for (uint32_t i = f->kstart; i < idx; i++)
            if (js->kl[i] == n && memcmp(js->kp[i], k, n) == 0)
                return 1;
        js->nkeys++;
        if (++f->nkeys <= DUP_LINEAR)
            return 0;
        /* many keys: index this object's keys in the set from now on */
        f->serial = ++js->serial;
        for (uint32_t i = f->kstart; i < js->nkeys; i++) {
            js->kh[i] = key_hash(js->kp[i], js->kl[i]);
            if (hset_add(js, f->serial, js->kh[i], i) < 0)
                return -1;
        }
        return 0;
    }
    js->kh[idx] = key_hash(k, n);
    int r = hset_add(js, f->serial, js->kh[idx], idx);
    if (r == 0) {
        js->nkeys++;
        f->nkeys++;
    }
    return r;
}

/* Decode an escaped key into scratch memory. */
static const char *key_decode(sl_json_scan *js, const uchar *s, size_t n, uint32_t *len)
{
    char *o = sl_arena_alloc(&js->scratch, n ? n : 1);
    if (!o)
        return NULL;
    js->scratch_used = 1;
    *len = (uint32_t)str_decode(s, n, o);
    return o;
}

static int dup_error(sl_json_scan *js, const char *k, uint32_t n, uint32_t col)
{
    char q[256];
    quote_key(q, sizeof q, k, n);
    set_err(js, SL_JSON_EDUPKEY, col, "duplicate key \"%s\" at column %u", q, col);
    return SL_E_DATA;
}

static sl_json_frame *frame_at(sl_json_scan *js, uint32_t depth)
{
    if (depth > js->cap_frames) {
        uint32_t cap = js->cap_frames * 2;
        while (cap < depth)
            cap *= 2;
        sl_json_frame *f = realloc(js->frames, cap * sizeof *f);
        if (!f)
            return NULL;
        js->frames = f;
        js->cap_frames = cap;
    }
    return &js->frames[depth - 1];
}

int sl_json_scan_find_dup(sl_json_scan *js)
{
    sl_json_frame f = {0};
    js->nkeys = 0;
    hset_clear(js);
    for (uint32_t i = 0; i < js->nfields; i++) {
        sl_json_field *fl = &js->fields[i];
        int r = key_add(js, &f, fl->key, fl->key_len);
        if (r < 0) { /* no memory for the set: compare the slow way */
            for (uint32_t a = 0; a < js->nfields; a++)
                for (uint32_t b = 0; b < a; b++)
                    if (js->fields[a].key_len == js->fields[b].key_len &&
                        memcmp(js->fields[a].key, js->fields[b].key, js->fields[a].key_len) == 0) {
                        dup_error(js, js->fields[a].key, js->fields[a].key_len, js->fields[a].key_col);
                        return (int)a;
                    }
            return -1;
        }
        if (r > 0) {
            dup_error(js, fl->key, fl->key_len, fl->key_col);
            return (int)i;
        }
    }
    return -1;
}

/* ------------------------------------------------------------------------ */
/* values */

#define SKIP_WS(p)                                                                                 \
    do {                                                                                           \
        if ((p) < end && ws_tab[*(p)]) {                                                           \
            do                                                                                     \
                (p)++;                                                                             \
            while ((p) < end && ws_tab[*(p)]);                                                     \
            saw_ws = 1;                                                                            \
        }                                                                                          \
    } while (0)

/* Copy s[0..n) without the whitespace outside strings; returns the length. */
static size_t compact(const uchar *s, size_t n, char *out)
{
    const uchar *end = s + n;
    char *o = out;
    while (s < end) {
        uchar c = *s++;
        if (ws_tab[c])
            continue;
        *o++ = (char)c;
        if (c != '"')
            continue;
        for (;;) { /* inside a validated string: copy to its closing quote */
            c = *s++;
            *o++ = (char)c;
            if (c == '\\')
                *o++ = (char)*s++;
            else if (c == '"')
                break;
        }
    }
    return (size_t)(o - out);
}

/* Validate the object or array at p (inside the top-level object, so at
   depth 2) and make its cell.  Iterative: frames[] holds the open
   containers. */
static const uchar *nested_scan(sl_json_scan *js, const uchar *line, const uchar *p, const uchar *end,
                                sl_cell *cell, sl_arena *arena)
{
    const uchar *start = p;
    uint32_t depth = 1; /* the top-level object */
    int saw_ws = 0;
    sl_json_frame *f = NULL;
    int esc;

open:
    if (depth >= js->max_depth) {
        set_err(js, SL_JSON_EDEPTH, COL(p), "nesting deeper than %u levels at column %u (limit --max-depth)",
                js->max_depth, COL(p));
        return NULL;
    }
    if (!(f = frame_at(js, ++depth)))
        return nomem(js);
    f->type = *p++;
    f->serial = 0;
    f->kstart = js->nkeys;
    f->nkeys = 0;
    SKIP_WS(p);
    if (f->type == '{') {
        if (p < end && *p == '}') {
            p++;
            goto close;
        }
        goto key;
    }
    if (p < end && *p == ']') {
        p++;
        goto close;
    }
    goto value;

key:
    if (p >= end || *p != '"')
        return unexpected(js, line, p, end, "a string key");
    {
        const uchar *k = p + 1;
        if (!(p = str_scan(js, line, k, end, &esc)))
            return NULL;
        uint32_t kn = (uint32_t)(p - 1 - k);
        const char *kd = (const char *)k;
        if (esc && !(kd = key_decode(js, k, kn, &kn)))
            return nomem(js);
        int r = key_add(js, f, kd, kn);
        if (r < 0)
            return nomem(js);
        if (r > 0) {
            dup_error(js, kd, kn, COL(k - 1));
            return NULL;
        }
    }
    SKIP_WS(p);
    if (p >= end || *p != ':')
        return unexpected(js, line, p, end, "':'");
    p++;
    SKIP_WS(p);

value:
    if (p >= end)
        return unexpected(js, line, p, end, "a value");
    switch (*p) {
    case '{':
    case '[':
        goto open;
    case '"':
        if (!(p = str_scan(js, line, p + 1, end, &esc)))
            return NULL;
        break;
    case 't':
        if (!(p = lit_scan(js, line, p, end, "true", 4)))
            return NULL;
        break;
    case 'f':
        if (!(p = lit_scan(js, line, p, end, "false", 5)))
            return NULL;
        break;
    case 'n':
        if (!(p = lit_scan(js, line, p, end, "null", 4)))
            return NULL;
        break;
    case '-': case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7': case '8': case '9':
        if (!(p = num_scan(js, line, p, end)))
            return NULL;
        break;
    default:
        return unexpected(js, line, p, end, "a value");
    }

after:
    SKIP_WS(p);
    if (p < end && *p == ',') {
        p++;
        SKIP_WS(p);
        if (f->type == '{')
            goto key;
        goto value;
    }
    if (p < end && *p == (f->type == '{' ? '}' : ']')) {
        p++;
        goto close;
    }
    return unexpected(js, line, p, end, f->type == '{' ? "',' or '}'" : "',' or ']'");

close:
    js->nkeys = f->kstart;
    if (--depth > 1) {
        f = &js->frames[depth - 1];
        goto after;
    }
    size_t n = (size_t)(p - start);
    if (!saw_ws) {
        *cell = (sl_cell){.p = (const char *)start, .len = (uint32_t)n, .kind = SL_JSON};
    } else {
        char *o = sl_arena_alloc(arena, n);
        if (!o)
            return nomem(js);
        *cell = (sl_cell){.p = o, .len = (uint32_t)compact(start, n, o), .kind = SL_JSON};
    }
    return p;
}

/* The value at p, top level: its cell. */
static inline const uchar *value_scan(sl_json_scan *js, const uchar *line, const uchar *p, const uchar *end,
                                      sl_cell *cell, sl_arena *arena)
{
    const uchar *q;
    int esc;
    switch (p < end ? *p : 0) {
    case '"':
        if (!(q = str_scan(js, line, p + 1, end, &esc)))
            return NULL;
        if (!esc) {
            *cell = (sl_cell){.p = (const char *)p + 1, .len = (uint32_t)(q - p - 2), .kind = SL_STRING};
        } else {
            size_t n = (size_t)(q - p - 2);
            char *o = sl_arena_alloc(arena, n);
            if (!o)
                return nomem(js);
            *cell = (sl_cell){.p = o, .len = (uint32_t)str_decode(p + 1, n, o), .kind = SL_STRING};
        }
        return q;
    case '{':
    case '[':
        return nested_scan(js, line, p, end, cell, arena);
    case 't':
        if (!(q = lit_scan(js, line, p, end, "true", 4)))
            return NULL;
        *cell = (sl_cell){.p = (const char *)p, .len = 4, .kind = SL_BOOL};
        return q;
    case 'f':
        if (!(q = lit_scan(js, line, p, end, "false", 5)))
            return NULL;
        *cell = (sl_cell){.p = (const char *)p, .len = 5, .kind = SL_BOOL};
        return q;
    case 'n':
        if (!(q = lit_scan(js, line, p, end, "null", 4)))
            return NULL;
        *cell = (sl_cell){.p = NULL, .len = 0, .kind = SL_NULL};
        return q;
    case '-': case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7': case '8': case '9':
        if (!(q = num_scan(js, line, p, end)))
            return NULL;
        *cell = (sl_cell){.p = (const char *)p, .len = (uint32_t)(q - p), .kind = SL_NUMBER};
        return q;
    default:
        return unexpected(js, line, p, end, "a value");
    }
}

static void scan_begin(sl_json_scan *js)
{
    js->nfields = 0;
    js->nkeys = 0;
    js->err = SL_JSON_OK;
    js->err_col = 0;
    js->msg[0] = 0;
    if (js->scratch_used) {
        sl_arena_reset(&js->scratch);
        js->scratch_used = 0;
    }
    hset_clear(js);
}

static int not_object(sl_json_scan *js, const uchar *line, const uchar *p, const uchar *end)
{
    char b[16];
    const char *what = describe(p, end, b);
    if (p < end) {
        switch (*p) {
        case '[': what = "an array"; break;
        case '"': what = "a string"; break;
        case 't': case 'f': what = "a boolean"; break;
        case 'n': what = "null"; break;
        case '-': case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7': case '8': case '9':
            what = "a number"; break;
        }
    }
    set_err(js, SL_JSON_ENOTOBJ, COL(p), "expected a JSON object at column %u, found %s", COL(p), what);
    return SL_E_DATA;
}

static int fields_grow(sl_json_scan *js)
{
    uint32_t cap = js->cap_fields * 2;
    sl_json_field *f = realloc(js->fields, cap * sizeof *f);
    if (!f)
        return -1;
    js->fields = f;
    js->cap_fields = cap;
    return 0;
}

int sl_json_scan_object(sl_json_scan *js, const char *text, size_t len, sl_arena *arena)
{
    const uchar *line = (const uchar *)text, *p = line, *end = line + len;
    int saw_ws = 0; /* unused here; SKIP_WS sets it */
    int top_dups = !(js->flags & SL_JSON_CALLER_CHECKS_TOP_DUPS);
    scan_begin(js);
    js->frames[0] = (sl_json_frame){.type = '{'};

    SKIP_WS(p);
    if (p >= end || *p != '{')
        return not_object(js, line, p, end);
    p++;
    SKIP_WS(p);
    if (p < end && *p == '}') {
        p++;
        goto done;
    }
    for (;;) {
        if (p >= end || *p != '"') {
            unexpected(js, line, p, end, "a string key");
            goto fail;
        }
        if (js->nfields == js->max_fields) {
            set_err(js, SL_JSON_EFIELDS, COL(p), "more than %u keys in the object at column %u (limit --max-fields)",
                    js->max_fields, COL(p));
            goto fail;
        }
        if (js->nfields == js->cap_fields && fields_grow(js) < 0) {
            nomem(js);
            goto fail;
        }
        sl_json_field *fl = &js->fields[js->nfields];
        const uchar *k = p + 1;
        int esc;
        if (!(p = str_scan(js, line, k, end, &esc)))
            goto fail;
        fl->key = (const char *)k;
        fl->key_len = (uint32_t)(p - 1 - k);
        fl->key_col = COL(k - 1);
        if (esc && !(fl->key = key_decode(js, k, fl->key_len, &fl->key_len))) {
            nomem(js);
            goto fail;
        }
        if (top_dups) {
            /* frames[] may have moved while scanning a nested value */
            int r = key_add(js, &js->frames[0], fl->key, fl->key_len);
            if (r < 0) {
                nomem(js);
                goto fail;
            }
            if (r > 0) {
                dup_error(js, fl->key, fl->key_len, fl->key_col);
                goto fail;
            }
        }
        if (p < end && *p == ':') {
            p++;
        } else {
            SKIP_WS(p);
            if (p >= end || *p != ':') {
                unexpected(js, line, p, end, "':'");
                goto fail;
            }
            p++;
        }
        SKIP_WS(p);
        if (!(p = value_scan(js, line, p, end, &fl->val, arena)))
            goto fail;
        js->nfields++;
        SKIP_WS(p);
        if (p < end && *p == ',') {
            p++;
            SKIP_WS(p);
            continue;
        }
        if (p < end && *p == '}') {
            p++;
            break;
        }
        unexpected(js, line, p, end, "',' or '}'");
        goto fail;
    }
done:
    SKIP_WS(p);
    if (p < end) {
        char b[16];
        set_err(js, SL_JSON_ESYNTAX, COL(p), "invalid JSON at column %u: unexpected %s after the object (one object per line)",
                COL(p), describe(p, end, b));
        goto fail;
    }
    (void)saw_ws;
    return SL_OK;
fail:
    js->nfields = 0;
    return js->err == SL_JSON_ENOMEM ? SL_E_NOMEM : SL_E_DATA;
}

/* ------------------------------------------------------------------------ */
/* the jansson twin */

/* Containers nested in v, v included (0 for a scalar). */
static uint32_t jdepth(json_t *v, uint32_t limit)
{
    uint32_t d = 0;
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) {
            uint32_t e = jdepth(x, limit);
            if (e > d)
                d = e;
            if (d > limit)
                break;
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) {
            uint32_t e = jdepth(x, limit);
            if (e > d)
                d = e;
            if (d > limit)
                break;
        }
    } else {
        return 0;
    }
    return d + 1;
}

/* Shortest "%.*g" text that reads back as d, always with a '.' or an
   exponent so that it stays a real. */
static size_t real_text(double d, char *buf, size_t cap)
{
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(buf, cap, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    if (!strpbrk(buf, ".eE") && (size_t)n + 2 < cap) {
        memcpy(buf + n, ".0", 3);
        n += 2;
    }
    return (size_t)n;
}

static int jcell(sl_json_scan *js, json_t *v, sl_cell *c, sl_arena *arena, uint32_t col)
{
    char tmp[64];
    const char *s = NULL;
    size_t n = 0;
    char *dumped = NULL;
    switch (json_typeof(v)) {
    case JSON_OBJECT:
    case JSON_ARRAY:
        if (1 + jdepth(v, js->max_depth) > js->max_depth) {
            set_err(js, SL_JSON_EDEPTH, col, "nesting deeper than %u levels (limit --max-depth)", js->max_depth);
            return SL_E_DATA;
        }
        if (!(dumped = json_dumps(v, JSON_COMPACT))) {
            nomem(js);
            return SL_E_NOMEM;
        }
        s = dumped;
        n = strlen(dumped);
        c->kind = SL_JSON;
        break;
    case JSON_STRING:
        s = json_string_value(v);
        n = json_string_length(v);
        c->kind = SL_STRING;
        break;
    case JSON_INTEGER:
        n = (size_t)snprintf(tmp, sizeof tmp, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        s = tmp;
        c->kind = SL_NUMBER;
        break;
    case JSON_REAL:
        n = real_text(json_real_value(v), tmp, sizeof tmp);
        s = tmp;
        c->kind = SL_NUMBER;
        break;
    case JSON_TRUE:
        *c = (sl_cell){.p = "true", .len = 4, .kind = SL_BOOL};
        return SL_OK;
    case JSON_FALSE:
        *c = (sl_cell){.p = "false", .len = 5, .kind = SL_BOOL};
        return SL_OK;
    case JSON_NULL:
        *c = (sl_cell){.p = NULL, .len = 0, .kind = SL_NULL};
        return SL_OK;
    }
    char *o = sl_arena_alloc(arena, n);
    if (o && n)
        memcpy(o, s, n);
    free(dumped);
    if (!o) {
        nomem(js);
        return SL_E_NOMEM;
    }
    c->p = o;
    c->len = (uint32_t)n;
    return SL_OK;
}

int sl_json_scan_object_jansson(sl_json_scan *js, const char *text, size_t len, sl_arena *arena)
{
    const uchar *line = (const uchar *)text, *p = line, *end = line + len;
    scan_begin(js);
    while (p < end && ws_tab[*p])
        p++;
    if (p >= end || *p != '{')
        return not_object(js, line, p, end);
    /* jansson 2.14 drops a NUL byte right after a number or a literal; a raw
       NUL is JSON nowhere, so refuse it first, as the hand parser does */
    const uchar *nul = memchr(line, 0, len);
    if (nul) {
        uint32_t col = (uint32_t)(nul - line) + 1;
        set_err(js, SL_JSON_ESYNTAX, col, "invalid JSON at column %u: unexpected byte 0x00", col);
        return SL_E_DATA;
    }

    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        int kind = SL_JSON_ESYNTAX;
        switch (json_error_code(&je)) {
        case json_error_duplicate_key: kind = SL_JSON_EDUPKEY; break;
        case json_error_stack_overflow: kind = SL_JSON_EDEPTH; break;
        case json_error_out_of_memory: kind = SL_JSON_ENOMEM; break;
        default: break;
        }
        if (kind == SL_JSON_ENOMEM) {
            nomem(js);
            return SL_E_NOMEM;
        }
        set_err(js, kind, (uint32_t)je.column, "invalid JSON at column %d: %s", je.column, je.text);
        return SL_E_DATA;
    }
    int rc = SL_OK;
    size_t n = json_object_size(root);
    if (n > js->max_fields) {
        set_err(js, SL_JSON_EFIELDS, 0, "more than %u keys in the object (limit --max-fields)", js->max_fields);
        rc = SL_E_DATA;
        goto out;
    }
    while (js->cap_fields < n) {
        if (fields_grow(js) < 0) {
            nomem(js);
            rc = SL_E_NOMEM;
            goto out;
        }
    }
    for (void *it = json_object_iter(root); it; it = json_object_iter_next(root, it)) {
        sl_json_field *fl = &js->fields[js->nfields];
        const char *k = json_object_iter_key(it);
        size_t kn = json_object_iter_key_len(it);
        /* the key must outlive root: copy it into scratch memory */
        char *kc = sl_arena_alloc(&js->scratch, kn ? kn : 1);
        if (!kc) {
            nomem(js);
            rc = SL_E_NOMEM;
            goto out;
        }
        js->scratch_used = 1;
        memcpy(kc, k, kn);
        fl->key = kc;
        fl->key_len = (uint32_t)kn;
        fl->key_col = 0;
        if ((rc = jcell(js, json_object_iter_value(it), &fl->val, arena, 0)) < 0)
            goto out;
        js->nfields++;
    }
out:
    json_decref(root);
    if (rc < 0)
        js->nfields = 0;
    return rc;
}
