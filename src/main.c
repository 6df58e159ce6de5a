/*
 * main.c - the command line: options, help, man page, exit codes.
 *
 * One table (options[]) drives parsing, validation, --help and the man page
 * (--man writes docs/sluice.1), so they cannot drift apart.  Only this file
 * prints and exits.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <stdarg.h>
#include <sys/resource.h>
#include <time.h>

#include "expr/expr.h"
#include "formats/format.h"
#include "formats/json_out.h"
#include "formats/parquet_types.h"
#include "io/cleanup.h"
#include "io/sink.h"
#include "sluice/run.h"

enum opt_id {
    O_OUTPUT, O_INPUT, O_FILE, O_FROM, O_TO, O_DELIM, O_OUT_DELIM, O_QUOTE, O_NO_HEADER, O_NO_INFER, O_COMPRESS, O_LEVEL,
    O_HEADER_CHANGE, O_ON_ERROR, O_MAX_ERRORS, O_BATCH_ROWS, O_MAX_FIELD, O_MAX_RECORD, O_MAX_FIELDS, O_MAX_DEPTH,
    O_CSV_PARSER, O_JSON_PARSER, O_MEMORY, O_TEMP_DIR, O_QUIET, O_HELP, O_VERSION, O_MAN, O_VAR, O_CHECK, O_STATS,
    O_PROGRESS, O_LOG_FORMAT, O_PQ_COMPRESSION, O_ROW_GROUP_SIZE, O_SCHEMA, O_SHARD, O_PARTIAL, O_SORTED,
    O_THEN, O_RETRY_FOR, O_ANY_SHARDS
};

typedef struct opt_def {
    int id;
    char short_name;
    const char *long_name;
    const char *arg;   /* NULL = flag; "[=X]" = optional value, only as --opt=X */
    const char *help;
    const char *section;
} opt_def;

static const opt_def options[] = {
    {O_OUTPUT, 'o', "output", "FILE", "Write to FILE (default: standard output). The format comes from the name "
     "(.csv .tsv .ndjson .jsonl .parquet) and a .gz or .zst suffix compresses. A regular file is written to a temporary file "
     "beside it and renamed into place only when the run succeeds.", "Input and output"},
    {O_INPUT, 'i', "input", "FILE", "Read FILE, after the inputs given as operands (repeatable; the same as an "
     "operand, for schedulers that pass named arguments).", "Input and output"},
    {O_FILE, 'f', "file", "FILE", "Read the pipeline from FILE: one stage per line or separated by |, # starts a "
     "comment. Every operand is then an input.", "Input and output"},
    {O_FROM, 0, "from", "FORMAT", "Input format: csv, tsv, ndjson (jsonl) or lines. Default: from the input names; "
     "standard input is csv.", "Input and output"},
    {O_TO, 0, "to", "FORMAT", "Output format: csv, tsv, ndjson, lines or parquet. Default: from the -o name, else the input "
     "format.", "Input and output"},
    {O_VAR, 0, "var", "NAME=VALUE", "Set ${NAME} in the pipeline text (a pipeline file or the command line). "
     "Unset variables are looked up in the environment; a variable set nowhere is an error.", "Input and output"},
    {O_CHECK, 0, "check", NULL, "Check the pipeline (stages, arguments, expressions, options) and exit without "
     "reading or writing anything: 0 when it is valid, 64 with the position of the first problem.",
     "Input and output"},
    {O_COMPRESS, 0, "compress", "METHOD", "Compress the output with gzip, zstd or none, whatever its name.",
     "Input and output"},
    {O_LEVEL, 0, "level", "N", "Compression level (gzip 1-9, default 6; zstd 1-22, default 3).", "Input and output"},
    {O_DELIM, 'd', "delimiter", "CHAR", "Field delimiter of CSV input (default , for csv, tab for tsv; 'tab' or "
     "\\t for a tab).", "CSV and TSV"},
    {O_OUT_DELIM, 0, "output-delimiter", "CHAR", "Field delimiter of CSV output (default: that of the output format).",
     "CSV and TSV"},
    {O_QUOTE, 0, "quote", "CHAR", "Quote character of CSV input and output (default \").", "CSV and TSV"},
    {O_NO_HEADER, 0, "no-header", NULL, "CSV/TSV input has no header row: fields are named c1, c2, ...",
     "CSV and TSV"},
    {O_HEADER_CHANGE, 0, "header-change", "MODE", "When records with a field the CSV header lacks reach CSV output: "
     "error (default) or block (start a new header block).", "CSV and TSV"},
    {O_NO_INFER, 0, "no-infer", NULL, "Write every text value to NDJSON as a string (by default text that is a JSON "
     "number, true, false, or a JSON object or array is written as that value).", "NDJSON"},
    {O_ON_ERROR, 0, "on-error", "POLICY", "What to do with a bad record: stop (default), skip, or reject=FILE "
     "(write it with its position and the reason as one NDJSON line to FILE).", "Bad records"},
    {O_MAX_ERRORS, 0, "max-errors", "N|P%", "With skip or reject: fail the run when more than N records (or P percent "
     "of the records read) are bad.", "Bad records"},
    {O_PQ_COMPRESSION, 0, "parquet-compression", "METHOD", "Compression of Parquet pages: zstd (default), gzip or "
     "none; --level sets its level.", "Parquet"},
    {O_ROW_GROUP_SIZE, 0, "row-group-size", "SIZE", "Write a Parquet row group whenever this much column data is "
     "buffered (default 128M, at most half of --memory-limit).", "Parquet"},
    {O_SCHEMA, 0, "schema", "SPEC", "Parquet column types, e.g. 'id:int64, price:double, ts:timestamp, note:string' "
     "(boolean, int64, double, string, timestamp, date); other columns are inferred from the first row group.",
     "Parquet"},
    {O_RETRY_FOR, 0, "retry-for", "DURATION", "How long a database output keeps reconnecting after its connection "
     "drops (PostgreSQL), or waits for a locked SQLite file, before the run fails with exit 74 (default 60s; e.g. 500ms, "
     "2m).", "Databases"},
    {O_SHARD, 0, "shard", "I/N", "Read only share I (0 to N-1) of the inputs: whole files, balanced by size, when there "
     "are several; a line-aligned byte range of one plain file. The N shards together read every record once "
     "(docs/sharding.md).", "Sharding"},
    {O_PARTIAL, 0, "partial", NULL, "The pipeline ends with group: write its aggregate states (a versioned NDJSON "
     "format) instead of its records, for sluice merge.", "Sharding"},
    {O_SORTED, 0, "sorted", "KEYS", "sluice merge: the inputs are each sorted by KEYS (as in sort KEYS); merge them into "
     "one sorted output in constant memory.", "Sharding"},
    {O_THEN, 0, "then", "PIPELINE", "sluice merge: pass the merged records through PIPELINE (e.g. 'sort -total | head "
     "10').", "Sharding"},
    {O_ANY_SHARDS, 0, "allow-missing-shards", NULL, "sluice merge: combine the partial files given even when "
     "some shard I of N is missing or given more often than the others (by default an error: the totals would "
     "be wrong).", "Sharding"},
    {O_BATCH_ROWS, 0, "batch-rows", "N", "Records per batch (default 1024).", "Limits"},
    {O_MAX_FIELD, 0, "max-field-bytes", "SIZE", "Longest field or line accepted (default 16M).", "Limits"},
    {O_MAX_RECORD, 0, "max-record-bytes", "SIZE", "Longest record accepted (default 32M).", "Limits"},
    {O_MAX_FIELDS, 0, "max-fields", "N", "Most fields in one record (default 65536).", "Limits"},
    {O_MAX_DEPTH, 0, "max-depth", "N", "Deepest JSON nesting accepted (default 64).", "Limits"},
    {O_MEMORY, 0, "memory-limit", "SIZE", "Memory budget of the stages that hold records (default 256M).", "Limits"},
    {O_TEMP_DIR, 0, "temp-dir", "DIR", "Directory for spill files (default $TMPDIR, else /tmp).", "Limits"},
    {O_CSV_PARSER, 0, "csv-parser", "NAME", "fast (default) or libcsv: the same records, libcsv is slower.",
     "Parsers"},
    {O_JSON_PARSER, 0, "json-parser", "NAME", "fast (default) or jansson: the same records, jansson is slower and "
     "rewrites numbers in its own spelling.", "Parsers"},
    {O_STATS, 0, "stats", "[=FILE]", "At the end, write one JSON object with the run's statistics (per stage records "
     "in and out and seconds, inputs and output with sizes, bad records, peak memory, wall and CPU seconds) to FILE, "
     "or to standard error.", "General"},
    {O_PROGRESS, 0, "progress", NULL, "Draw a progress line on standard error (bytes of the total, records, rate, "
     "ETA) when it is a terminal.", "General"},
    {O_LOG_FORMAT, 0, "log-format", "FORMAT", "text (default) or json: every message on standard error as one JSON "
     "object per line.", "General"},
    {O_QUIET, 'q', "quiet", NULL, "Print nothing but errors.", "General"},
    {O_HELP, 'h', "help", NULL, "Show this help and exit.", "General"},
    {O_VERSION, 'V', "version", NULL, "Show the version and exit.", "General"},
    {O_MAN, 0, "man", NULL, "Write the manual page (roff) to standard output and exit.", "General"},
};
#define NOPTS (sizeof options / sizeof options[0])

static const struct {
    int code;
    const char *meaning;
} exit_codes[] = {
    {SL_EXIT_OK, "success: every record was read and written"},
    {SL_EXIT_PARTIAL, "finished, but some bad records were skipped or rejected (within --max-errors)"},
    {SL_EXIT_USAGE, "usage error: bad option, pipeline text, expression or field name (EX_USAGE)"},
    {SL_EXIT_DATA, "bad input data: a malformed record with --on-error stop, or over the error budget (EX_DATAERR)"},
    {SL_EXIT_NOINPUT, "an input cannot be opened or read (EX_NOINPUT)"},
    {SL_EXIT_SOFTWARE, "internal error (EX_SOFTWARE)"},
    {SL_EXIT_OSERR, "out of memory (EX_OSERR)"},
    {SL_EXIT_IOERR, "the output cannot be written: disk full, permission, closed pipe (EX_IOERR)"},
    {128, "+N: stopped by signal N (130 for SIGINT, 143 for SIGTERM); partial output is removed"},
};

static const char *const sections[] = {"Input and output", "CSV and TSV", "NDJSON", "Parquet", "Databases", "Bad records", "Sharding",
                                       "Limits", "Parsers", "General", NULL};

static void usage_line(FILE *f)
{
    fprintf(f, "usage: sluice [OPTIONS] PIPELINE [INPUT...]\n"
               "       sluice [OPTIONS] -f PIPELINE_FILE [INPUT...]\n"
               "       sluice merge [OPTIONS] [--sorted KEYS] [--then PIPELINE] FILE...\n"
               "       sluice help [STAGE|functions]\n");
}

static void print_help(void)
{
    usage_line(stdout);
    printf("\nStreams records from the inputs (default: standard input) through the stages of\n"
           "PIPELINE, e.g. 'select id,price | head 10', and writes them out.  Inputs may be\n"
           "gzip or zstd compressed (detected from their bytes).\n\nStages:\n");
    for (int i = 0; sl_stage_types[i]; i++)
        if (strlen(sl_stage_types[i]->usage) > 28) /* a long usage: the summary on a line of its own */
            printf("  %s\n  %-28s %s\n", sl_stage_types[i]->usage, "", sl_stage_types[i]->summary);
        else
            printf("  %-28s %s\n", sl_stage_types[i]->usage, sl_stage_types[i]->summary);
    for (int s = 0; sections[s]; s++) {
        printf("\n%s:\n", sections[s]);
        for (size_t i = 0; i < NOPTS; i++) {
            const opt_def *o = &options[i];
            if (strcmp(o->section, sections[s]) != 0)
                continue;
            char head[64];
            snprintf(head, sizeof head, "%s%c%s--%s%s%s", o->short_name ? "-" : "", o->short_name ? o->short_name : ' ',
                     o->short_name ? ", " : " ", o->long_name, o->arg ? " " : "", o->arg ? o->arg : "");
            printf("  %-28s ", o->short_name ? head : head + 2);
            /* wrap the help text at 80 columns */
            const char *h = o->help;
            int col = 31;
            while (*h) {
                const char *sp = strchr(h, ' ');
                int wl = sp ? (int)(sp - h) : (int)strlen(h);
                if (col + wl > 79) {
                    printf("\n%31s", "");
                    col = 31;
                }
                printf("%.*s%s", wl, h, sp ? " " : "");
                col += wl + 1;
                h += wl + (sp ? 1 : 0);
            }
            printf("\n");
        }
    }
    printf("\nExit status:\n");
    for (size_t i = 0; i < sizeof exit_codes / sizeof exit_codes[0]; i++)
        printf("  %-4d %s\n", exit_codes[i].code, exit_codes[i].meaning);
    printf("\nMore: sluice help STAGE, sluice help functions, man sluice, docs/ in the source tree.\n");
}

static void roff_text(const char *s)
{
    if (*s == '.' || *s == '\'')
        fputs("\\&", stdout);
    for (; *s; s++) {
        if (*s == '\\')
            fputs("\\e", stdout);
        else if (*s == '-')
            fputs("\\-", stdout);
        else
            putchar(*s);
    }
}

static void print_man(void)
{
    printf(".\\\" generated by `sluice --man`; do not edit\n");
    printf(".TH SLUICE 1 \"\" \"sluice %s\" \"User Commands\"\n", SLUICE_VERSION);
    printf(".SH NAME\nsluice \\- stream records through a pipeline of stages\n");
    printf(".SH SYNOPSIS\n.B sluice\n[\\fIOPTIONS\\fR] \\fIPIPELINE\\fR [\\fIINPUT\\fR...]\n.br\n");
    printf(".B sluice\n[\\fIOPTIONS\\fR] \\fB\\-f\\fR \\fIFILE\\fR [\\fIINPUT\\fR...]\n.br\n");
    printf(".B sluice merge\n[\\fIOPTIONS\\fR] [\\fB\\-\\-sorted\\fR \\fIKEYS\\fR] [\\fB\\-\\-then\\fR "
           "\\fIPIPELINE\\fR] \\fIFILE\\fR...\n");
    printf(".SH DESCRIPTION\nsluice reads CSV, TSV, NDJSON or plain lines (plain, gzip or zstd, detected from "
           "the bytes), passes the records through the stages of \\fIPIPELINE\\fR, separated by |, and writes "
           "them as CSV, TSV, NDJSON, lines or Parquet, compressed when the output name ends in .gz or .zst.  Memory stays "
           "constant whatever the size of the input.\n");
    printf(".SH STAGES\n");
    for (int i = 0; sl_stage_types[i]; i++) {
        printf(".TP\n.B ");
        roff_text(sl_stage_types[i]->usage);
        printf("\n");
        roff_text(sl_stage_types[i]->summary);
        printf(".\n");
    }
    printf(".SH OPTIONS\n");
    for (int s = 0; sections[s]; s++) {
        printf(".SS %s\n", sections[s]);
        for (size_t i = 0; i < NOPTS; i++) {
            const opt_def *o = &options[i];
            if (strcmp(o->section, sections[s]) != 0)
                continue;
            printf(".TP\n");
            if (o->short_name)
                printf("\\fB\\-%c\\fR, ", o->short_name);
            printf("\\fB\\-\\-");
            roff_text(o->long_name);
            printf("\\fR");
            if (o->arg) {
                printf(" \\fI");
                roff_text(o->arg);
                printf("\\fR");
            }
            printf("\n");
            roff_text(o->help);
            printf("\n");
        }
    }
    printf(".SH EXIT STATUS\n");
    for (size_t i = 0; i < sizeof exit_codes / sizeof exit_codes[0]; i++) {
        printf(".TP\n.B %d\n", exit_codes[i].code);
        roff_text(exit_codes[i].meaning);
        printf("\n");
    }
    printf(".SH EXAMPLES\n.nf\n");
    printf("sluice 'select id,user_id,price | head 1000' sales.csv.gz \\-o sample.ndjson.zst\n");
    printf("sluice cat events.ndjson.zst \\-o events.csv\n");
    printf("zcat logs.csv.gz | sluice 'drop note' \\-\\-from csv > trimmed.csv\n");
    printf("sluice cat part1.csv part2.csv.zst \\-o all.tsv\n.fi\n");
    printf(".SH SEE ALSO\nThe docs/ folder of the source tree: the user manual and the pipeline reference.\n");
}

static void functions_help(void)
{
    printf("Functions of filter and map expressions (docs/expressions.md has the whole language):\n\n");
    for (const sl_expr_func *f = sl_expr_funcs; f->name; f++)
        printf("  %-40s %s\n", f->signature, f->summary);
}

static int stage_help(const char *name)
{
    if (strcmp(name, "functions") == 0) {
        functions_help();
        return 0;
    }
    for (int i = 0; sl_stage_types[i]; i++)
        if (strcmp(sl_stage_types[i]->name, name) == 0) {
            const sl_stage_type *t = sl_stage_types[i];
            printf("%s\n\n  %s\n\n%s", t->usage, t->summary, t->help ? t->help : "");
            return 0;
        }
    fprintf(stderr, "sluice: help: no stage named '%s' (stages:", name);
    for (int i = 0; sl_stage_types[i]; i++)
        fprintf(stderr, " %s", sl_stage_types[i]->name);
    fprintf(stderr, ")\n");
    return SL_EXIT_USAGE;
}

static int usage_error(const char *fmt, const char *a)
{
    fprintf(stderr, "sluice: ");
    fprintf(stderr, fmt, a);
    fprintf(stderr, "\n");
    usage_line(stderr);
    fprintf(stderr, "Try 'sluice --help' for more.\n");
    return SL_EXIT_USAGE;
}

/* What the command line asks of main itself (the rest goes to sl_options). */
typedef struct cli {
    const char *pipeline_file;
    int quiet;
    const char **vars;     /* "NAME=VALUE" */
    int nvars;
    int stats;             /* --stats given */
    const char *stats_file;
    int progress;
    int log_json;
    const char **inputs;   /* --input FILE, in order */
    int ninputs;
    int merge;             /* `sluice merge` */
    const char *then;      /* merge --then PIPELINE */
} cli;

static int parse_char(const char *v, char *out)
{
    if (strcmp(v, "tab") == 0 || strcmp(v, "\\t") == 0) {
        *out = '\t';
        return 0;
    }
    if (strlen(v) != 1)
        return -1;
    *out = v[0];
    return 0;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t k = fread(buf + n, 1, cap - n - 1, f);
        n += k;
        if (n < cap - 1)
            break;
        cap *= 2;
        char *nb = realloc(buf, cap);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
    }
    if (buf)
        buf[n] = 0;
    fclose(f);
    return buf;
}

static void on_signal(int sig)
{
    sl_cleanup_run();
    _exit(128 + sig);
}

/* apply one option with its value (or NULL); returns 0 or an exit status */
static int apply(sl_options *o, const opt_def *d, const char *v, cli *c)
{
    uint64_t n;
    switch (d->id) {
    case O_OUTPUT: o->output = v; break;
    case O_FILE: c->pipeline_file = v; break;
    case O_VAR: {
        const char *eq = strchr(v, '=');
        if (!eq || eq == v)
            return usage_error("--var expects NAME=VALUE, not '%s'", v);
        c->vars[c->nvars++] = v;
        break;
    }
    case O_CHECK: o->check_only = true; break;
    case O_STATS:
        c->stats = 1;
        c->stats_file = v;
        break;
    case O_PROGRESS: c->progress = 1; break;
    case O_LOG_FORMAT:
        if (strcmp(v, "json") == 0)
            c->log_json = 1;
        else if (strcmp(v, "text") == 0)
            c->log_json = 0;
        else
            return usage_error("--log-format expects text or json, not '%s'", v);
        break;
    case O_FROM: o->from = v; break;
    case O_TO: o->to = v; break;
    case O_COMPRESS: o->compress = v; break;
    case O_LEVEL:
        if (sl_parse_size(v, &n) < 0 || n > 22)
            return usage_error("--level expects a number, not '%s'", v);
        o->level = (int)n;
        break;
    case O_DELIM:
        if (parse_char(v, &o->delim) < 0)
            return usage_error("--delimiter expects one character (or 'tab'), not '%s'", v);
        break;
    case O_OUT_DELIM:
        if (parse_char(v, &o->out_delim) < 0)
            return usage_error("--output-delimiter expects one character (or 'tab'), not '%s'", v);
        break;
    case O_QUOTE:
        if (parse_char(v, &o->quote) < 0)
            return usage_error("--quote expects one character, not '%s'", v);
        break;
    case O_NO_HEADER: o->no_header = true; break;
    case O_NO_INFER: o->no_infer = true; break;
    case O_HEADER_CHANGE:
        if (strcmp(v, "error") == 0)
            o->header_change = SL_HDRCHG_ERROR;
        else if (strcmp(v, "block") == 0)
            o->header_change = SL_HDRCHG_BLOCK;
        else
            return usage_error("--header-change expects error or block, not '%s'", v);
        break;
    case O_ON_ERROR:
        if (strcmp(v, "stop") == 0)
            o->on_error = SL_ONERR_STOP;
        else if (strcmp(v, "skip") == 0)
            o->on_error = SL_ONERR_SKIP;
        else if (strncmp(v, "reject=", 7) == 0 && v[7]) {
            o->on_error = SL_ONERR_REJECT;
            o->reject_path = v + 7;
        } else
            return usage_error("--on-error expects stop, skip or reject=FILE, not '%s'", v);
        break;
    case O_MAX_ERRORS: {
        size_t len = strlen(v);
        char *end;
        if (len > 1 && v[len - 1] == '%') {
            double p = strtod(v, &end);
            if (end != v + len - 1 || p < 0 || p > 100)
                return usage_error("--max-errors expects N or P%%, not '%s'", v);
            o->max_errors_frac = p / 100.0;
        } else {
            if (sl_parse_size(v, &n) < 0)
                return usage_error("--max-errors expects N or P%%, not '%s'", v);
            o->max_errors = n;
        }
        break;
    }
    case O_BATCH_ROWS:
        if (sl_parse_size(v, &n) < 0 || n < 1 || n > (1u << 20))
            return usage_error("--batch-rows expects a number from 1 to 1048576, not '%s'", v);
        o->batch_rows = (uint32_t)n;
        break;
    case O_MAX_FIELD:
        if (sl_parse_size(v, &n) < 0 || n < 1 || n > (1ull << 31))
            return usage_error("--max-field-bytes expects a size from 1 to 2G, not '%s'", v);
        o->max_field_bytes = n;
        break;
    case O_MAX_RECORD:
        if (sl_parse_size(v, &n) < 0 || n < 1 || n > (1ull << 31))
            return usage_error("--max-record-bytes expects a size from 1 to 2G, not '%s'", v);
        o->max_record_bytes = n;
        break;
    case O_MAX_FIELDS:
        if (sl_parse_size(v, &n) < 0 || n < 1 || n > 10000000)
            return usage_error("--max-fields expects a number from 1 to 10000000, not '%s'", v);
        o->max_fields = (uint32_t)n;
        break;
    case O_MAX_DEPTH:
        if (sl_parse_size(v, &n) < 0 || n < 1 || n > 10000)
            return usage_error("--max-depth expects a number from 1 to 10000, not '%s'", v);
        o->max_depth = (uint32_t)n;
        break;
    case O_MEMORY:
        if (sl_parse_size(v, &n) < 0 || n < (1u << 20))
            return usage_error("--memory-limit expects a size of at least 1M, not '%s'", v);
        o->memory_limit = n;
        break;
    case O_TEMP_DIR: o->temp_dir = v; break;
    case O_RETRY_FOR:
        if (sl_parse_duration(v, strlen(v), &n) < 0)
            return usage_error("--retry-for expects a duration such as 60s, 500ms or 2m, not '%s'", v);
        o->retry_for_ns = n;
        break;
    case O_PQ_COMPRESSION:
        if (strcmp(v, "zstd") != 0 && strcmp(v, "gzip") != 0 && strcmp(v, "none") != 0)
            return usage_error("--parquet-compression expects zstd, gzip or none, not '%s'", v);
        o->parquet_compression = v;
        break;
    case O_ROW_GROUP_SIZE:
        if (sl_parse_size(v, &n) < 0 || n < 1)
            return usage_error("--row-group-size expects a size like 64M, not '%s'", v);
        o->row_group_size = n;
        break;
    case O_SCHEMA: {
        char msg[512];
        if (pq_spec_parse(v, NULL, msg, sizeof msg) < 0)
            return usage_error("--schema: %s", msg);
        o->parquet_schema = v;
        break;
    }
    case O_CSV_PARSER:
        if (strcmp(v, "fast") == 0)
            o->csv_parser = SL_CSVP_FAST;
        else if (strcmp(v, "libcsv") == 0)
            o->csv_parser = SL_CSVP_LIBCSV;
        else
            return usage_error("--csv-parser expects fast or libcsv, not '%s'", v);
        break;
    case O_JSON_PARSER:
        if (strcmp(v, "fast") == 0)
            o->json_parser = SL_JSONP_FAST;
        else if (strcmp(v, "jansson") == 0)
            o->json_parser = SL_JSONP_JANSSON;
        else
            return usage_error("--json-parser expects fast or jansson, not '%s'", v);
        break;
    case O_SHARD: {
        char *end;
        errno = 0;
        unsigned long i = strtoul(v, &end, 10), n = 0;
        int okv = end != v && *end == '/' && v[0] >= '0' && v[0] <= '9';
        if (okv) {
            const char *q = end + 1;
            n = strtoul(q, &end, 10);
            okv = end != q && *end == 0 && q[0] >= '0' && q[0] <= '9' && errno == 0 && n >= 1 && n <= 1000000;
        }
        if (!okv)
            return usage_error("--shard expects I/N with 0 <= I < N (I counts from 0, as SLURM_ARRAY_TASK_ID with "
                               "--array=0-N-1), not '%s'", v);
        if (i >= n) {
            fprintf(stderr, "sluice: --shard %s: the shard number must be from 0 to %lu (shards count from 0)\n", v, n - 1);
            return SL_EXIT_USAGE;
        }
        o->shard_index = (uint32_t)i;
        o->shard_count = (uint32_t)n;
        break;
    }
    case O_PARTIAL: o->partial = true; break;
    case O_SORTED:
        if (!c->merge)
            return usage_error("%s", "--sorted belongs to sluice merge (sluice merge --sorted KEYS FILE...)");
        o->merge_sorted = v;
        break;
    case O_ANY_SHARDS:
        if (!c->merge)
            return usage_error("%s", "--allow-missing-shards belongs to sluice merge");
        o->merge_any_shards = true;
        break;
    case O_THEN:
        if (!c->merge)
            return usage_error("%s", "--then belongs to sluice merge (sluice merge --then PIPELINE FILE...)");
        c->then = v;
        break;
    case O_QUIET: c->quiet = 1; break;
    case O_INPUT: c->inputs[c->ninputs++] = v; break;
    case O_HELP: print_help(); return -1;
    case O_VERSION: printf("sluice %s\n", SLUICE_VERSION); return -1;
    case O_MAN: print_man(); return -1;
    }
    return 0;
}

/* ---- ${name} variables ---- */

/* Expand ${NAME} from --var, else the environment.  Returns a malloc'd
   string, or NULL after printing nothing: *bad_name / *bad_line / *bad_col
   say which variable is unset. */
static char *expand_vars(const char *text, const cli *c, char *bad_name, size_t bad_cap, size_t *bad_line,
                         size_t *bad_col)
{
    size_t cap = strlen(text) + 64, n = 0, line = 1, col = 1;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    for (const char *p = text; *p;) {
        if (p[0] == '$' && p[1] == '{') {
            const char *e = strchr(p + 2, '}');
            size_t nl = e ? (size_t)(e - (p + 2)) : 0;
            const char *val = NULL;
            char name[128];
            if (e && nl > 0 && nl < sizeof name) {
                memcpy(name, p + 2, nl);
                name[nl] = 0;
                for (int k = c->nvars - 1; k >= 0 && !val; k--)
                    if (strncmp(c->vars[k], name, nl) == 0 && c->vars[k][nl] == '=')
                        val = c->vars[k] + nl + 1;
                if (!val)
                    val = getenv(name);
            }
            if (!val) {
                snprintf(bad_name, bad_cap, "%.*s", e ? (int)(e - p + 1) : 2, p);
                *bad_line = line;
                *bad_col = col;
                free(out);
                return NULL;
            }
            size_t vl = strlen(val);
            if (n + vl + 1 > cap) {
                cap = (n + vl + 1) * 2;
                char *nb = realloc(out, cap);
                if (!nb) {
                    free(out);
                    return NULL;
                }
                out = nb;
            }
            memcpy(out + n, val, vl);
            n += vl;
            col += (size_t)(e - p) + 1;
            p = e + 1;
            continue;
        }
        if (n + 2 > cap) {
            cap *= 2;
            char *nb = realloc(out, cap);
            if (!nb) {
                free(out);
                return NULL;
            }
            out = nb;
        }
        if (*p == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
        out[n++] = *p++;
    }
    out[n] = 0;
    return out;
}

/* ---- progress ---- */

typedef struct progress {
    int on;
    double t0, last;
    int drawn;
} progress;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void human(double b, char *out, size_t n)
{
    const char *u[] = {"B", "kB", "MB", "GB", "TB"};
    int k = 0;
    while (b >= 1000 && k < 4) {
        b /= 1000;
        k++;
    }
    snprintf(out, n, k ? "%.1f %s" : "%.0f %s", b, u[k]);
}

static void progress_draw(sl_run *run, progress *pg, int final)
{
    double t = now_s();
    if (!final && t - pg->last < 0.25)
        return;
    pg->last = t;
    uint64_t done = sl_run_bytes_read(run);
    int64_t total = sl_run_bytes_total(run);
    uint64_t recs = 0;
    for (size_t i = 0; i < run->ninputs; i++)
        recs += run->inputs[i].records;
    double el = t - pg->t0, rate = el > 0 ? (double)done / el : 0;
    char a[32], b[32], r[32], line[200];
    human((double)done, a, sizeof a);
    human(rate, r, sizeof r);
    int n;
    if (total > 0) {
        human((double)total, b, sizeof b);
        double frac = (double)done / (double)total;
        double eta = rate > 0 ? ((double)total - (double)done) / rate : 0;
        n = snprintf(line, sizeof line, "sluice: %s of %s (%3.0f%%)  %llu records  %s/s  ETA %d:%02d", a, b, frac * 100,
                     (unsigned long long)recs, r, (int)eta / 60, (int)eta % 60);
    } else {
        n = snprintf(line, sizeof line, "sluice: %s  %llu records  %s/s", a, (unsigned long long)recs, r);
    }
    fprintf(stderr, "\r%-*s", n < 79 ? 79 : n, line);
    if (final)
        fputc('\n', stderr);
    fflush(stderr);
    pg->drawn = 1;
}

static void on_batch(sl_run *run, void *ctx)
{
    progress_draw(run, ctx, 0);
}

/* ---- stats and JSON messages ---- */

typedef struct jbuf {
    char *p;
    size_t n, cap;
} jbuf;

static void jput(jbuf *j, const char *s, size_t len)
{
    if (j->n + len + 1 > j->cap) {
        j->cap = (j->n + len + 1) * 2;
        char *nb = realloc(j->p, j->cap);
        if (!nb)
            return;
        j->p = nb;
    }
    memcpy(j->p + j->n, s, len);
    j->n += len;
    j->p[j->n] = 0;
}

static void jf(jbuf *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void jf(jbuf *j, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    jput(j, tmp, n < (int)sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static void jstr(jbuf *j, const char *s)
{
    if (!s) {
        jput(j, "null", 4);
        return;
    }
    size_t len = strlen(s);
    size_t ok = sl_utf8_valid_prefix(s, len);
    char *d = malloc(6 * ok + 3);
    if (!d)
        return;
    long k = sl_json_escape(d, s, ok, NULL);
    jput(j, d, (size_t)k);
    free(d);
}

static void json_error_fields(jbuf *j, const sl_error *e)
{
    jf(j, "\"code\":");
    jstr(j, sl_code_name(e->code));
    jf(j, ",\"stage\":");
    jstr(j, e->stage[0] ? e->stage : NULL);
    jf(j, ",\"input\":");
    jstr(j, e->input[0] ? e->input : NULL);
    jf(j, ",\"line\":%llu,\"column\":%llu,\"record\":%llu,\"message\":", (unsigned long long)e->line,
       (unsigned long long)e->col, (unsigned long long)e->record);
    jstr(j, e->msg);
}

static void log_message(const cli *c, const char *level, const sl_error *e, const char *text, int exit_status)
{
    if (!c->log_json) {
        fprintf(stderr, "%s\n", text);
        return;
    }
    jbuf j = {0};
    jf(&j, "{\"level\":");
    jstr(&j, level);
    if (e) {
        jput(&j, ",", 1);
        json_error_fields(&j, e);
    } else {
        jf(&j, ",\"message\":");
        jstr(&j, text);
    }
    jf(&j, ",\"exit\":%d}\n", exit_status);
    if (j.p)
        fputs(j.p, stderr);
    free(j.p);
}

static void write_stats(const cli *c, sl_run *run, int status, double wall)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
                 (double)ru.ru_stime.tv_usec / 1e6;
    jbuf j = {0};
    uint64_t rin = 0;
    for (size_t i = 0; i < run->ninputs; i++)
        rin += run->inputs[i].records;
    jf(&j, "{\"sluice\":\"%s\",\"exit\":%d,\"ok\":%s,\"error\":", SLUICE_VERSION, status,
       run->err.code == SL_OK ? "true" : "false");
    if (run->err.code != SL_OK) {
        jput(&j, "{", 1);
        json_error_fields(&j, &run->err);
        jput(&j, "}", 1);
    } else {
        jput(&j, "null", 4);
    }
    jf(&j, ",\"wall_seconds\":%.6f,\"cpu_seconds\":%.6f,\"peak_rss_bytes\":%llu,\"memory_budget_peak_bytes\":%llu",
       wall, cpu, (unsigned long long)ru.ru_maxrss * 1024ull, (unsigned long long)run->mem_peak);
    jf(&j, ",\"records_in\":%llu,\"records_out\":%llu,\"bad_records\":%llu", (unsigned long long)rin,
       (unsigned long long)run->records_out, (unsigned long long)run->bad_records);
    if (run->rows_committed >= 0)
        jf(&j, ",\"rows_committed\":%lld", (long long)run->rows_committed);
    else
        jf(&j, ",\"rows_committed\":null");
    jf(&j, ",\"inputs\":[");
    for (size_t i = 0; i < run->ninputs; i++) {
        const sl_input *in = &run->inputs[i];
        jf(&j, "%s{\"name\":", i ? "," : "");
        char shown[4096]; /* a database name without its password */
        snprintf(shown, sizeof shown, "%s", strcmp(in->name, "-") == 0 ? "(stdin)" : in->name);
        sl_redact_secrets(shown);
        jstr(&j, shown);
        jf(&j, ",\"size_bytes\":");
        if (in->size >= 0)
            jf(&j, "%lld", (long long)in->size);
        else
            jf(&j, "null");
        jf(&j, ",\"bytes_read\":%llu,\"bytes_decompressed\":%llu,\"records\":%llu}", (unsigned long long)in->bytes_raw,
           (unsigned long long)in->bytes, (unsigned long long)in->records);
    }
    jf(&j, "],\"output\":{\"name\":");
    char oshown[4096];
    snprintf(oshown, sizeof oshown, "%s", run->opt.output && strcmp(run->opt.output, "-") != 0 ? run->opt.output : "(stdout)");
    sl_redact_secrets(oshown);
    jstr(&j, oshown);
    jf(&j, ",\"bytes\":%llu,\"records\":%llu},\"stages\":[", (unsigned long long)run->bytes_out,
       (unsigned long long)run->records_out);
    for (int i = 0; i < run->nstages; i++) {
        const sl_stage *st = run->stages[i];
        if (!st || !st->type)
            continue;
        uint64_t in_rows = i == 0 ? rin : run->stages[i - 1]->stats.rows_out;
        uint64_t up_ns = i == 0 ? 0 : run->stages[i - 1]->stats.ns;
        jf(&j, "%s{\"stage\":", i ? "," : "");
        jstr(&j, st->type->name);
        jf(&j, ",\"text\":");
        jstr(&j, st->text);
        jf(&j, ",\"records_in\":%llu,\"records_out\":%llu,\"batches_out\":%llu,\"seconds\":%.6f,\"seconds_self\":%.6f}",
           (unsigned long long)in_rows, (unsigned long long)st->stats.rows_out,
           (unsigned long long)st->stats.batches_out, (double)st->stats.ns / 1e9,
           (double)(st->stats.ns > up_ns ? st->stats.ns - up_ns : 0) / 1e9);
    }
    jf(&j, "]}\n");
    if (!j.p)
        return;
    if (c->stats_file) {
        sl_error e;
        sl_error_clear(&e);
        sl_sink *sk = sl_sink_open(c->stats_file, SL_COMP_NONE, -1, &e);
        if (!sk || sl_sink_write(sk, j.p, j.n, &e) < 0 || sl_sink_commit(sk, &e) < 0) {
            char msg[2048];
            sl_error_format(&e, msg, sizeof msg);
            fprintf(stderr, "%s\n", msg);
        }
        sl_sink_close(sk);
    } else {
        fputs(j.p, stderr);
    }
    free(j.p);
}

int main(int argc, char **argv)
{
    sl_options opt;
    sl_options_defaults(&opt);
    cli c;
    memset(&c, 0, sizeof c);
    const char **operands = calloc((size_t)argc + 1, sizeof *operands);
    c.vars = calloc((size_t)argc + 1, sizeof *c.vars);
    c.inputs = calloc((size_t)argc + 1, sizeof *c.inputs);
    int nops = 0, status = 0;
    char *file_text = NULL, *expanded = NULL;
    if (!operands || !c.vars || !c.inputs) {
        fputs("sluice: out of memory\n", stderr);
        free(operands);
        free(c.vars);
        free(c.inputs);
        return SL_EXIT_OSERR;
    }
    if (argc >= 2 && strcmp(argv[1], "help") == 0) {
        status = argc == 2 ? (print_help(), 0) : stage_help(argv[2]);
        goto out;
    }
    int argi = 1;
    if (argc >= 2 && strcmp(argv[1], "merge") == 0) {
        c.merge = 1;
        argi = 2;
    }
    for (int i = argi; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            while (++i < argc)
                operands[nops++] = argv[i];
            break;
        }
        if (a[0] != '-' || a[1] == 0) {
            operands[nops++] = a;
            continue;
        }
        const opt_def *d = NULL;
        const char *val = NULL;
        if (a[1] == '-') {
            const char *name = a + 2;
            const char *eq = strchr(name, '=');
            size_t nl = eq ? (size_t)(eq - name) : strlen(name);
            for (size_t k = 0; k < NOPTS; k++)
                if (strlen(options[k].long_name) == nl && strncmp(options[k].long_name, name, nl) == 0)
                    d = &options[k];
            if (!d) {
                status = usage_error("unknown option '%s'", a);
                goto out;
            }
            if (eq) {
                if (!d->arg) {
                    status = usage_error("option '%s' takes no value", a);
                    goto out;
                }
                val = eq + 1;
            }
        } else {
            for (size_t k = 0; k < NOPTS; k++)
                if (options[k].short_name == a[1])
                    d = &options[k];
            if (!d) {
                status = usage_error("unknown option '%s'", a);
                goto out;
            }
            if (a[2]) {
                if (!d->arg) {
                    status = usage_error("option '%s' takes no value (options are not grouped)", a);
                    goto out;
                }
                val = a + 2;
            }
        }
        if (d->arg && d->arg[0] != '[' && !val) {
            if (i + 1 >= argc) {
                status = usage_error("option '%s' needs a value", a);
                goto out;
            }
            val = argv[++i];
        }
        int rc = apply(&opt, d, val, &c);
        if (rc != 0) {
            status = rc < 0 ? 0 : rc;
            goto out;
        }
    }
    int first_input = 0;
    const char *text;
    if (c.merge) {
        if (c.pipeline_file || opt.shard_count || opt.partial) {
            status = usage_error("%s", "sluice merge takes no -f, --shard or --partial (give the pipeline after the merge "
                                 "with --then)");
            goto out;
        }
        if (nops == 0) {
            status = usage_error("%s", "sluice merge needs the files to merge (for example: sluice merge partial/*.ndjson "
                                 "-o summary.csv)");
            goto out;
        }
        opt.merge = !opt.merge_sorted;
        text = c.then ? c.then : "";
    } else if (c.pipeline_file) {
        file_text = read_file(c.pipeline_file);
        if (!file_text) {
            fprintf(stderr, "sluice: cannot read the pipeline file %s: %s\n", c.pipeline_file, strerror(errno));
            status = SL_EXIT_NOINPUT;
            goto out;
        }
        text = file_text;
    } else {
        if (nops == 0) {
            status = usage_error("%s", "no pipeline given (for example: sluice 'select a,b' in.csv)");
            goto out;
        }
        text = operands[0];
        first_input = 1;
    }
    /* --input files follow the operands (operands has room: argc slots) */
    for (int k = 0; k < c.ninputs; k++)
        operands[nops++] = c.inputs[k];
    char bad[160];
    bad[0] = 0;
    size_t bl = 0, bc = 0;
    expanded = expand_vars(text, &c, bad, sizeof bad, &bl, &bc);
    if (!expanded && !bad[0]) { /* no variable is missing: memory is */
        sl_error e;
        sl_error_clear(&e);
        sl_fail(&e, SL_E_NOMEM, "pipeline", "out of memory");
        log_message(&c, "error", &e, "sluice: pipeline: out of memory", SL_EXIT_OSERR);
        status = SL_EXIT_OSERR;
        goto out;
    }
    if (!expanded) {
        char msg[512];
        snprintf(msg, sizeof msg, "sluice: pipeline: line %zu, column %zu: variable %s is not set (give --var NAME=VALUE "
                 "or set it in the environment)", bl, bc, bad);
        sl_error e;
        sl_error_clear(&e);
        sl_fail(&e, SL_E_USAGE, "pipeline", "line %zu, column %zu: variable %s is not set (give --var NAME=VALUE or set "
                "it in the environment)", bl, bc, bad);
        log_message(&c, "error", &e, msg, SL_EXIT_USAGE);
        status = SL_EXIT_USAGE;
        goto out;
    }
    opt.pipeline = expanded;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);

    progress pg = {0};
    pg.on = c.progress && !c.quiet && isatty(2);
    pg.t0 = pg.last = now_s();
    sl_run run;
    int rc = sl_run_execute_cb(&run, &opt, operands + first_input, (size_t)(nops - first_input),
                               pg.on ? on_batch : NULL, &pg);
    if (pg.on)
        progress_draw(&run, &pg, 1);
    if (run.note[0] && !c.quiet)
        log_message(&c, "info", NULL, run.note, 0);
    status = sl_exit_code(&run.err);
    if (rc != SL_OK) {
        char msg[4096];
        sl_error_format(&run.err, msg, sizeof msg);
        log_message(&c, "error", &run.err, msg, status);
        if (run.rows_committed >= 0 && !strstr(run.err.msg, "committed")) {
            /* a database output keeps the batches committed before the error */
            snprintf(msg, sizeof msg, "sluice: %lld rows were committed to the database output before the error; the "
                     "batch in progress was rolled back", (long long)run.rows_committed);
            log_message(&c, "info", NULL, msg, status);
        }
    } else if (run.bad_records) {
        status = SL_EXIT_PARTIAL;
        if (!c.quiet) {
            char msg[1024];
            snprintf(msg, sizeof msg, "sluice: %llu bad record%s %s%s", (unsigned long long)run.bad_records,
                     run.bad_records == 1 ? "" : "s", opt.on_error == SL_ONERR_REJECT ? "rejected to " : "skipped",
                     opt.on_error == SL_ONERR_REJECT ? opt.reject_path : "");
            log_message(&c, "warning", NULL, msg, status);
        }
    } else if (opt.check_only && !c.quiet) {
        log_message(&c, "info", NULL, "sluice: the pipeline is valid", status);
    }
    if (c.stats && !opt.check_only)
        write_stats(&c, &run, status, now_s() - pg.t0);
    sl_run_fini(&run);
out:
    free(expanded);
    free(file_text);
    free(operands);
    free(c.vars);
    free(c.inputs);
    return status;
}
