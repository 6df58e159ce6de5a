/* parquet_types.c - Parquet column types, --schema, value conversions (see
   parquet_types.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "formats/json_out.h"
#include "formats/parquet_types.h"

const char *pq_type_name(pq_type t)
{
    switch (t) {
    case PQ_BOOLEAN: return "boolean";
    case PQ_INT64: return "int64";
    case PQ_DOUBLE: return "double";
    case PQ_STRING: return "string";
    case PQ_TIMESTAMP: return "timestamp";
    case PQ_DATE: return "date";
    default: return "undecided";
    }
}

static const struct {
    const char *name;
    pq_type type;
} type_names[] = {
    {"boolean", PQ_BOOLEAN}, {"bool", PQ_BOOLEAN},       {"int64", PQ_INT64},         {"int", PQ_INT64},
    {"integer", PQ_INT64},   {"bigint", PQ_INT64},       {"long", PQ_INT64},          {"double", PQ_DOUBLE},
    {"float64", PQ_DOUBLE},  {"string", PQ_STRING},      {"utf8", PQ_STRING},         {"text", PQ_STRING},
    {"varchar", PQ_STRING},  {"timestamp", PQ_TIMESTAMP}, {"timestamptz", PQ_TIMESTAMP}, {"datetime", PQ_TIMESTAMP},
    {"date", PQ_DATE},
};

pq_type pq_type_from_name(const char *s, size_t n)
{
    for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++)
        if (strlen(type_names[i].name) == n && strncasecmp(type_names[i].name, s, n) == 0)
            return type_names[i].type;
    return PQ_NONE;
}

/* ---- --schema ---- */

void pq_spec_free(pq_spec *s)
{
    if (!s)
        return;
    for (uint32_t i = 0; i < s->n; i++)
        free(s->cols[i].name);
    free(s->cols);
    s->cols = NULL;
    s->n = 0;
}

int pq_spec_find(const pq_spec *s, const char *name, size_t len)
{
    for (uint32_t i = 0; s && i < s->n; i++)
        if (s->cols[i].name_len == len && memcmp(s->cols[i].name, name, len) == 0)
            return (int)i;
    return -1;
}

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return p;
}

static int spec_fail(char *msg, size_t cap, const char *text, const char *at, const char *what)
{
    if (msg)
        snprintf(msg, cap, "%s at character %zu of '%s'", what, (size_t)(at - text) + 1, text);
    return -1;
}

int pq_spec_parse(const char *text, pq_spec *out, char *msg, size_t msgcap)
{
    pq_spec tmp = {0};
    const char *p = skip_ws(text);
    if (!*p)
        return spec_fail(msg, msgcap, text, p, "empty schema (expected NAME:TYPE, ...)");
    for (;;) {
        const char *name, *at = p;
        size_t nl;
        if (*p == '`') {
            name = ++p;
            while (*p && *p != '`')
                p++;
            if (!*p)
                return pq_spec_free(&tmp), spec_fail(msg, msgcap, text, at, "unclosed backquote");
            nl = (size_t)(p - name);
            p++;
        } else {
            name = p;
            while (*p && *p != ':' && *p != ',' && *p != '`' && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
                p++;
            nl = (size_t)(p - name);
        }
        if (nl == 0)
            return pq_spec_free(&tmp), spec_fail(msg, msgcap, text, at, "expected a column name");
        p = skip_ws(p);
        if (*p != ':')
            return pq_spec_free(&tmp), spec_fail(msg, msgcap, text, p, "expected ':' and a type after the column name");
        p = skip_ws(p + 1);
        const char *tn = p;
        while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_')
            p++;
        pq_type t = pq_type_from_name(tn, (size_t)(p - tn));
        if (t == PQ_NONE) {
            if (msg)
                snprintf(msg, msgcap, "unknown type '%.*s' for column '%.*s' (expected boolean, int64, double, string, "
                         "timestamp or date)", (int)(p - tn), tn, (int)nl, name);
            pq_spec_free(&tmp);
            return -1;
        }
        if (pq_spec_find(&tmp, name, nl) >= 0) {
            if (msg)
                snprintf(msg, msgcap, "column '%.*s' is named twice", (int)nl, name);
            pq_spec_free(&tmp);
            return -1;
        }
        pq_spec_col *nc = realloc(tmp.cols, (tmp.n + 1) * sizeof *nc);
        char *nm = nc ? strndup(name, nl) : NULL;
        if (!nc || !nm) {
            free(nm);
            if (nc)
                tmp.cols = nc;
            pq_spec_free(&tmp);
            if (msg)
                snprintf(msg, msgcap, "out of memory");
            return -1;
        }
        tmp.cols = nc;
        tmp.cols[tmp.n].name = nm;
        tmp.cols[tmp.n].name_len = nl;
        tmp.cols[tmp.n].type = t;
        tmp.n++;
        p = skip_ws(p);
        if (!*p)
            break;
        if (*p != ',')
            return pq_spec_free(&tmp), spec_fail(msg, msgcap, text, p, "expected ',' between columns");
        p = skip_ws(p + 1);
    }
    if (out)
        *out = tmp;
    else
        pq_spec_free(&tmp);
    return 0;
}

/* ---- numbers ---- */

static const double pow10_exact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                       1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

int pq_parse_int64(const char *p, size_t n, bool lenient, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (i < n && p[i] == '-') {
        neg = true;
        i++;
    } else if (lenient && i < n && p[i] == '+') {
        i++;
    }
    if (i == n)
        return -1;
    if (!lenient && p[i] == '0' && n - i > 1)
        return -1; /* JSON has no leading zeros */
    uint64_t acc = 0;
    for (; i < n; i++) {
        unsigned d = (unsigned)(unsigned char)p[i] - '0';
        if (d > 9)
            return -1;
        if (acc > (UINT64_MAX - d) / 10)
            return -1;
        acc = acc * 10 + d;
    }
    if (neg) {
        if (acc > (uint64_t)INT64_MAX + 1)
            return -1;
        *out = (int64_t)(0 - acc);
    } else {
        if (acc > (uint64_t)INT64_MAX)
            return -1;
        *out = (int64_t)acc;
    }
    return 0;
}

/* Decimal text with at most 15 significant digits and a power of ten within
   10^22 is converted exactly by one IEEE operation on two exact operands
   (Clinger's fast path); returns -1 to ask for strtod. */
static int double_fast(const char *p, size_t n, double *out)
{
    size_t i = 0;
    bool neg = false;
    if (i < n && (p[i] == '-' || p[i] == '+'))
        neg = p[i++] == '-';
    uint64_t m = 0;
    int nd = 0, frac = 0;
    bool any = false;
    for (; i < n && (unsigned)(p[i] - '0') < 10; i++) {
        any = true;
        if (m || p[i] != '0') {
            if (++nd > 15)
                return -1;
            m = m * 10 + (uint64_t)(p[i] - '0');
        }
    }
    if (i < n && p[i] == '.') {
        for (i++; i < n && (unsigned)(p[i] - '0') < 10; i++) {
            any = true;
            frac++;
            if (m || p[i] != '0') {
                if (++nd > 15)
                    return -1;
            }
            m = m * 10 + (uint64_t)(p[i] - '0');
        }
    }
    if (!any)
        return -1;
    long ex = 0;
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        bool eneg = false;
        if (i < n && (p[i] == '-' || p[i] == '+'))
            eneg = p[i++] == '-';
        if (i == n)
            return -1;
        for (; i < n && (unsigned)(p[i] - '0') < 10; i++)
            if (ex < 100000)
                ex = ex * 10 + (p[i] - '0');
        if (eneg)
            ex = -ex;
    }
    if (i != n)
        return -1;
    long e10 = ex - frac;
    if (m == 0) {
        *out = neg ? -0.0 : 0.0;
        return 0;
    }
    if (e10 < -22 || e10 > 22)
        return -1;
    double v = (double)m;
    v = e10 < 0 ? v / pow10_exact[-e10] : v * pow10_exact[e10];
    *out = neg ? -v : v;
    return 0;
}

static int double_strtod(const char *p, size_t n, double *out)
{
    char buf[512];
    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, p, n);
    buf[n] = 0;
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if (end != buf + n)
        return -1;
    /* out of range: 1e999 is not infinity, 1e-999 is not 0 (but the words
       inf, infinity and nan are what they say) */
    if (errno == ERANGE || (!isfinite(v) && !memchr(buf, 'n', n) && !memchr(buf, 'N', n)))
        return -1;
    *out = v;
    return 0;
}

int pq_parse_double(const char *p, size_t n, bool lenient, double *out)
{
    if (!lenient) {
        if (n == 0 || !sl_json_is_number(p, n))
            return -1;
        double v;
        if (double_fast(p, n, &v) < 0 && double_strtod(p, n, &v) < 0)
            return -1;
        if (!isfinite(v))
            return -1;
        /* an integer beyond 2^53 would not read back as itself */
        if (!memchr(p, '.', n) && !memchr(p, 'e', n) && !memchr(p, 'E', n)) {
            int64_t i;
            if (pq_parse_int64(p, n, false, &i) < 0 || i > (1ll << 53) || i < -(1ll << 53))
                return -1;
        }
        *out = v;
        return 0;
    }
    if (n == 0 || p[0] == ' ' || p[0] == '\t' || p[0] == '\n' || p[0] == '\r' || p[0] == '\f' || p[0] == '\v')
        return -1;
    if (memchr(p, 'x', n) || memchr(p, 'X', n))
        return -1; /* no hexadecimal floats */
    if (double_fast(p, n, out) == 0)
        return 0;
    return double_strtod(p, n, out);
}

int pq_parse_bool(const char *p, size_t n, bool lenient, bool *out)
{
    if (n == 4 && (lenient ? strncasecmp(p, "true", 4) : memcmp(p, "true", 4)) == 0) {
        *out = true;
        return 0;
    }
    if (n == 5 && (lenient ? strncasecmp(p, "false", 5) : memcmp(p, "false", 5)) == 0) {
        *out = false;
        return 0;
    }
    if (lenient && n == 1 && (p[0] == '0' || p[0] == '1')) {
        *out = p[0] == '1';
        return 0;
    }
    return -1;
}

/* ---- dates and times ---- */

static int digits(const char *p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        unsigned d = (unsigned)(unsigned char)p[i] - '0';
        if (d > 9)
            return -1;
        v = v * 10 + (int)d;
    }
    return v;
}

static int days_in_month(int y, int m)
{
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dm[m - 1];
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* YYYY-MM-DD at p (n >= 10): days, or -1 (as a flag in *ok). */
static int parse_ymd(const char *p, int64_t *days)
{
    if (p[4] != '-' || p[7] != '-')
        return -1;
    int y = digits(p, 4), m = digits(p + 5, 2), d = digits(p + 8, 2);
    if (y < 1 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
        return -1;
    *days = days_from_civil(y, m, d);
    return 0;
}

int pq_parse_date(const char *p, size_t n, int32_t *days)
{
    int64_t d;
    if (n != 10 || parse_ymd(p, &d) < 0)
        return -1;
    *days = (int32_t)d;
    return 0;
}

int pq_parse_timestamp(const char *p, size_t n, int64_t *micros)
{
    int64_t days;
    if (n < 10 || parse_ymd(p, &days) < 0)
        return -1;
    int64_t secs = 0, us = 0, off = 0;
    size_t i = 10;
    if (i < n) {
        if ((p[i] != 'T' && p[i] != 't' && p[i] != ' ') || n < i + 6 || p[i + 3] != ':')
            return -1;
        int h = digits(p + i + 1, 2), mi = digits(p + i + 4, 2);
        if (h < 0 || h > 23 || mi < 0 || mi > 59)
            return -1;
        secs = h * 3600 + mi * 60;
        i += 6;
        if (i < n && p[i] == ':') {
            if (n < i + 3)
                return -1;
            int s = digits(p + i + 1, 2);
            if (s < 0 || s > 59)
                return -1;
            secs += s;
            i += 3;
            if (i < n && (p[i] == '.' || p[i] == ',')) {
                i++;
                int nd = 0;
                for (; i < n && (unsigned)(p[i] - '0') < 10; i++, nd++) {
                    if (nd < 6)
                        us = us * 10 + (p[i] - '0');
                    else if (p[i] != '0')
                        return -1; /* finer than a microsecond */
                }
                if (nd == 0 || nd > 9)
                    return -1;
                for (int k = nd; k < 6; k++)
                    us *= 10;
            }
        }
        if (i < n) {
            if ((p[i] == 'Z' || p[i] == 'z') && i + 1 == n) {
                i++;
            } else if (p[i] == '+' || p[i] == '-') {
                int sign = p[i] == '-' ? -1 : 1;
                size_t rest = n - i - 1;
                int oh, om = 0;
                if (rest == 2) {
                    oh = digits(p + i + 1, 2);
                } else if (rest == 4) {
                    oh = digits(p + i + 1, 2);
                    om = digits(p + i + 3, 2);
                } else if (rest == 5 && p[i + 3] == ':') {
                    oh = digits(p + i + 1, 2);
                    om = digits(p + i + 4, 2);
                } else {
                    return -1;
                }
                if (oh < 0 || oh > 23 || om < 0 || om > 59)
                    return -1;
                off = sign * (oh * 3600 + om * 60);
                i = n;
            } else {
                return -1;
            }
        }
    }
    if (i != n)
        return -1;
    *micros = (days * 86400 + secs - off) * 1000000 + us;
    return 0;
}

/* ---- inference ---- */

static bool looks_dated(const char *p, size_t n)
{
    return n >= 10 && (unsigned)(p[0] - '0') < 10 && p[4] == '-';
}

unsigned pq_fits(const sl_cell *c, unsigned want)
{
    const char *p = c->p;
    size_t n = c->len;
    unsigned f = 0;
    switch (c->kind) {
    case SL_TEXT:
    case SL_NUMBER:
        if (want & (PQ_FIT_INT64 | PQ_FIT_DOUBLE) && n &&
            (p[0] == '-' || (unsigned)(p[0] - '0') < 10)) {
            int64_t i;
            double d;
            if ((want & PQ_FIT_INT64) && pq_parse_int64(p, n, false, &i) == 0)
                f |= PQ_FIT_INT64;
            if ((want & PQ_FIT_DOUBLE) && pq_parse_double(p, n, false, &d) == 0)
                f |= PQ_FIT_DOUBLE;
        }
        if (c->kind == SL_NUMBER)
            break;
        if ((want & PQ_FIT_BOOLEAN) && ((n == 4 && memcmp(p, "true", 4) == 0) || (n == 5 && memcmp(p, "false", 5) == 0)))
            f |= PQ_FIT_BOOLEAN;
        __attribute__((fallthrough)); /* dates and times */
    case SL_STRING:
        if ((want & (PQ_FIT_TIMESTAMP | PQ_FIT_DATE)) && looks_dated(p, n)) {
            int32_t d;
            int64_t t;
            if (n == 10 && pq_parse_date(p, n, &d) == 0)
                f |= PQ_FIT_DATE | PQ_FIT_TIMESTAMP;
            else if (pq_parse_timestamp(p, n, &t) == 0)
                f |= PQ_FIT_TIMESTAMP;
        }
        break;
    case SL_BOOL:
        f = PQ_FIT_BOOLEAN;
        break;
    default:
        break;
    }
    return f & want;
}

pq_type pq_infer(unsigned fits, bool any_value)
{
    if (!any_value)
        return PQ_STRING;
    if (fits & PQ_FIT_INT64)
        return PQ_INT64;
    if (fits & PQ_FIT_DOUBLE)
        return PQ_DOUBLE;
    if (fits & PQ_FIT_BOOLEAN)
        return PQ_BOOLEAN;
    if (fits & PQ_FIT_DATE)
        return PQ_DATE;
    if (fits & PQ_FIT_TIMESTAMP)
        return PQ_TIMESTAMP;
    return PQ_STRING;
}

bool pq_utf8_valid_long(const char *p, size_t n)
{
    size_t i = 0;
    while (i + 8 <= n) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        if (w & 0x8080808080808080ull)
            break;
        i += 8;
    }
    while (i < n && !((unsigned char)p[i] & 0x80))
        i++;
    if (i == n)
        return true;
    return sl_utf8_valid_prefix(p + i, n - i) == n - i;
}
