/* error.c - recording and formatting the one error of a run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/error.h"

void sl_error_clear(sl_error *e) { memset(e, 0, sizeof *e); }

/* Database names may carry a password (postgres://u:PASSWORD@h, password=..):
   every error is recorded without it.  The text only shrinks. */
void sl_redact_secrets(char *s)
{
    if (!s)
        return;
    /* scheme://user:PASSWORD@host */
    for (char *p = s; (p = strstr(p, "://"));) {
        p += 3;
        size_t auth = strcspn(p, "/?# \t\n'\"");
        char *at = NULL;
        for (size_t i = 0; i < auth; i++)
            if (p[i] == '@')
                at = p + i;
        if (!at)
            continue;
        char *colon = memchr(p, ':', (size_t)(at - p));
        if (!colon)
            continue;
        size_t n = (size_t)(at - colon - 1), k = n < 3 ? n : 3; /* never longer */
        memmove(colon + 1 + k, at, strlen(at) + 1);
        memcpy(colon + 1, "***", k);
        p = colon + 1 + k;
    }
    /* password=VALUE (conninfo keywords and URI parameters) */
    for (char *p = s; (p = strstr(p, "password="));) {
        p += 9;
        size_t n = strcspn(p, "& \t\n'\""), k = n < 3 ? n : 3;
        memmove(p + k, p + n, strlen(p + n) + 1);
        memcpy(p, "***", k);
        p += k;
    }
}

int sl_vfail(sl_error *e, int code, const char *stage, const char *fmt, va_list ap)
{
    if (!e || e->code != SL_OK)
        return code;
    e->code = code;
    snprintf(e->stage, sizeof e->stage, "%s", stage ? stage : "");
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    sl_redact_secrets(e->msg);
    return code;
}

int sl_fail(sl_error *e, int code, const char *stage, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sl_vfail(e, code, stage, fmt, ap);
    va_end(ap);
    return code;
}

void sl_error_at(sl_error *e, const char *input, uint64_t line, uint64_t col, uint64_t record)
{
    if (!e)
        return;
    if (input && !e->input[0]) {
        char full[4096]; /* redacted before it is cut to size */
        snprintf(full, sizeof full, "%s", input);
        sl_redact_secrets(full);
        size_t n = strlen(full) < sizeof e->input - 1 ? strlen(full) : sizeof e->input - 1;
        memcpy(e->input, full, n);
        e->input[n] = 0;
    }
    if (line && !e->line) {
        e->line = line;
        e->col = col;
    }
    if (record && !e->record)
        e->record = record;
}

size_t sl_error_format(const sl_error *e, char *buf, size_t cap)
{
    size_t n = 0;
#define PUT(...)                                                                  \
    do {                                                                          \
        int k_ = snprintf(buf + n, n < cap ? cap - n : 0, __VA_ARGS__);           \
        if (k_ > 0)                                                               \
            n += (size_t)k_;                                                      \
    } while (0)
    PUT("sluice: ");
    if (e->stage[0])
        PUT("%s: ", e->stage);
    if (e->input[0]) {
        PUT("%s", e->input);
        if (e->line) {
            PUT(":%llu", (unsigned long long)e->line);
            if (e->col)
                PUT(":%llu", (unsigned long long)e->col);
        }
        PUT(": ");
    }
    PUT("%s", e->msg);
    if (e->record && e->input[0])
        PUT(" (record %llu)", (unsigned long long)e->record);
    if (e->detail[0])
        PUT("\n%s", e->detail);
#undef PUT
    return n;
}

int sl_exit_code(const sl_error *e)
{
    switch (e->code) {
    case SL_OK: return SL_EXIT_OK;
    case SL_E_USAGE: return SL_EXIT_USAGE;
    case SL_E_DATA: return SL_EXIT_DATA;
    case SL_E_INPUT: return SL_EXIT_NOINPUT;
    case SL_E_OUTPUT: return SL_EXIT_IOERR;
    case SL_E_NOMEM: return SL_EXIT_OSERR;
    case SL_E_SIGNAL: return 128 + e->signo;
    default: return SL_EXIT_SOFTWARE;
    }
}

const char *sl_code_name(int code)
{
    switch (code) {
    case SL_OK: return "ok";
    case SL_E_USAGE: return "usage";
    case SL_E_DATA: return "data";
    case SL_E_INPUT: return "input";
    case SL_E_OUTPUT: return "output";
    case SL_E_NOMEM: return "memory";
    case SL_E_SIGNAL: return "signal";
    default: return "internal";
    }
}
