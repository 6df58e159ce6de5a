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

#include "formats/format.h"
#include "io/cleanup.h"
#include "sluice/run.h"

enum opt_id {
    O_OUTPUT, O_FILE, O_FROM, O_TO, O_DELIM, O_OUT_DELIM, O_QUOTE, O_NO_HEADER, O_NO_INFER, O_COMPRESS, O_LEVEL,
    O_HEADER_CHANGE, O_ON_ERROR, O_MAX_ERRORS, O_BATCH_ROWS, O_MAX_FIELD, O_MAX_RECORD, O_MAX_FIELDS, O_MAX_DEPTH,
    O_CSV_PARSER, O_JSON_PARSER, O_MEMORY, O_TEMP_DIR, O_QUIET, O_HELP, O_VERSION, O_MAN
};

typedef struct opt_def {
    int id;
    char short_name;
    const char *long_name;
    const char *arg;   /* NULL = flag */
    const char *help;
    const char *section;
} opt_def;

static const opt_def options[] = {
    {O_OUTPUT, 'o', "output", "FILE", "Write to FILE (default: standard output). The format comes from the name "
     "(.csv .tsv .ndjson .jsonl) and a .gz or .zst suffix compresses. A regular file is written to a temporary file "
     "beside it and renamed into place only when the run succeeds.", "Input and output"},
    {O_FILE, 'f', "file", "FILE", "Read the pipeline from FILE: one stage per line or separated by |, # starts a "
     "comment. Every operand is then an input.", "Input and output"},
    {O_FROM, 0, "from", "FORMAT", "Input format: csv, tsv, ndjson (jsonl) or lines. Default: from the input names; "
     "standard input is csv.", "Input and output"},
    {O_TO, 0, "to", "FORMAT", "Output format: csv, tsv, ndjson or lines. Default: from the -o name, else the input "
     "format.", "Input and output"},
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

static const char *const sections[] = {"Input and output", "CSV and TSV", "NDJSON", "Bad records", "Limits",
                                       "Parsers", "General", NULL};

static void usage_line(FILE *f)
{
    fprintf(f, "usage: sluice [OPTIONS] PIPELINE [INPUT...]\n"
               "       sluice [OPTIONS] -f PIPELINE_FILE [INPUT...]\n"
               "       sluice help [STAGE|functions]\n");
}

static void print_help(void)
{
    usage_line(stdout);
    printf("\nStreams records from the inputs (default: standard input) through the stages of\n"
           "PIPELINE, e.g. 'select id,price | head 10', and writes them out.  Inputs may be\n"
           "gzip or zstd compressed (detected from their bytes).\n\nStages:\n");
    for (int i = 0; sl_stage_types[i]; i++)
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
    printf("\nMore: sluice help STAGE, man sluice, docs/ in the source tree.\n");
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
    printf(".B sluice\n[\\fIOPTIONS\\fR] \\fB\\-f\\fR \\fIFILE\\fR [\\fIINPUT\\fR...]\n");
    printf(".SH DESCRIPTION\nsluice reads CSV, TSV, NDJSON or plain lines (plain, gzip or zstd, detected from "
           "the bytes), passes the records through the stages of \\fIPIPELINE\\fR, separated by |, and writes "
           "them as CSV, TSV, NDJSON or lines, compressed when the output name ends in .gz or .zst.  Memory stays "
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

static int stage_help(const char *name)
{
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
static int apply(sl_options *o, const opt_def *d, const char *v, const char **pipeline_file, int *quiet)
{
    uint64_t n;
    switch (d->id) {
    case O_OUTPUT: o->output = v; break;
    case O_FILE: *pipeline_file = v; break;
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
    case O_QUIET: *quiet = 1; break;
    case O_HELP: print_help(); return -1;
    case O_VERSION: printf("sluice %s\n", SLUICE_VERSION); return -1;
    case O_MAN: print_man(); return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    sl_options opt;
    sl_options_defaults(&opt);
    const char *pipeline_file = NULL;
    int quiet = 0;
    const char **operands = calloc((size_t)argc + 1, sizeof *operands);
    int nops = 0;
    if (!operands)
        return SL_EXIT_OSERR;
    if (argc >= 2 && strcmp(argv[1], "help") == 0) {
        free(operands);
        if (argc == 2) {
            print_help();
            return 0;
        }
        return stage_help(argv[2]);
    }
    for (int i = 1; i < argc; i++) {
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
                free(operands);
                return usage_error("unknown option '%s'", a);
            }
            if (eq) {
                if (!d->arg) {
                    free(operands);
                    return usage_error("option '%s' takes no value", a);
                }
                val = eq + 1;
            }
        } else {
            for (size_t k = 0; k < NOPTS; k++)
                if (options[k].short_name == a[1])
                    d = &options[k];
            if (!d) {
                free(operands);
                return usage_error("unknown option '%s'", a);
            }
            if (a[2]) {
                if (!d->arg) {
                    free(operands);
                    return usage_error("option '%s' takes no value (options are not grouped)", a);
                }
                val = a + 2;
            }
        }
        if (d->arg && !val) {
            if (i + 1 >= argc) {
                free(operands);
                return usage_error("option '%s' needs a value", a);
            }
            val = argv[++i];
        }
        int rc = apply(&opt, d, val, &pipeline_file, &quiet);
        if (rc != 0) {
            free(operands);
            return rc < 0 ? 0 : rc;
        }
    }
    char *file_text = NULL;
    int first_input = 0;
    if (pipeline_file) {
        file_text = read_file(pipeline_file);
        if (!file_text) {
            fprintf(stderr, "sluice: cannot read the pipeline file %s: %s\n", pipeline_file, strerror(errno));
            free(operands);
            return SL_EXIT_NOINPUT;
        }
        opt.pipeline = file_text;
    } else {
        if (nops == 0) {
            free(operands);
            return usage_error("%s", "no pipeline given (for example: sluice 'select a,b' in.csv)");
        }
        opt.pipeline = operands[0];
        first_input = 1;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);

    sl_run run;
    int rc = sl_run_execute(&run, &opt, operands + first_input, (size_t)(nops - first_input));
    int status = sl_exit_code(&run.err);
    if (rc != SL_OK && run.err.code != SL_E_PIPE) {
        char msg[4096];
        sl_error_format(&run.err, msg, sizeof msg);
        fprintf(stderr, "%s\n", msg);
    } else if (run.bad_records) {
        if (!quiet)
            fprintf(stderr, "sluice: %llu bad record%s %s%s%s\n", (unsigned long long)run.bad_records,
                    run.bad_records == 1 ? "" : "s", opt.on_error == SL_ONERR_REJECT ? "rejected to " : "skipped",
                    opt.on_error == SL_ONERR_REJECT ? opt.reject_path : "", "");
        status = SL_EXIT_PARTIAL;
    }
    sl_run_fini(&run);
    free(file_text);
    free(operands);
    return status;
}
