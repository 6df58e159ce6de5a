/* error.c - recording and formatting the one error of a run. */
#include <stdio.h>
#include <string.h>

#include "sluice/error.h"

void sl_error_clear(sl_error *e) { memset(e, 0, sizeof *e); }

int sl_vfail(sl_error *e, int code, const char *stage, const char *fmt, va_list ap)
{
    if (!e || e->code != SL_OK)
        return code;
    e->code = code;
    snprintf(e->stage, sizeof e->stage, "%s", stage ? stage : "");
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
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
    if (input && !e->input[0])
        snprintf(e->input, sizeof e->input, "%s", input);
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
