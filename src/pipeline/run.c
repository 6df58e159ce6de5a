/*
 * run.c - building the chain, driving it, and the bad-record policy.
 *
 * The writer drives: it pulls batches from the last stage until SL_DONE, so
 * nothing runs ahead of demand and memory stays bounded by the batches the
 * stages hold.  Output goes through a sink that publishes the file only when
 * the whole run succeeded.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "formats/format.h"
#include "formats/json_out.h"
#include "io/shard.h"
#include "io/sink.h"
#include "pipeline/pipeline.h"
#include "sluice/run.h"
#include "stages/hints.h"

typedef struct run_priv {
    sl_pipeline_text text;
    sl_sink *sink;
    sl_writer writer;
    int writer_created;
    sl_sink *reject;
    char *reject_line;
    size_t reject_cap;
} run_priv;

void sl_options_defaults(sl_options *o)
{
    memset(o, 0, sizeof *o);
    o->level = -1;
    o->quote = '"';
    o->batch_rows = 1024;
    o->max_field_bytes = 16u << 20;
    o->max_record_bytes = 32u << 20;
    o->max_fields = 65536;
    o->max_depth = 64;
    o->max_errors = UINT64_MAX;
    o->max_errors_frac = -1;
    o->memory_limit = 256u << 20;
    o->retry_for_ns = 60ull * 1000000000u;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int sl_stage_next(sl_stage *st, sl_batch **out)
{
    uint64_t t0 = now_ns();
    int rc = st->type->next(st, out);
    st->stats.ns += now_ns() - t0;
    if (rc == SL_BATCH) {
        st->stats.batches_out++;
        st->stats.rows_out += sl_batch_live(*out);
    }
    if (rc < 0 && st->run->err.code == SL_OK)
        sl_fail(&st->run->err, rc, st->type->name, "failed without a message (%s)", sl_code_name(rc));
    return rc;
}

int sl_stage_schema(sl_stage *st, sl_schema **out)
{
    *out = NULL;
    if (!st || !st->type->schema)
        return SL_OK;
    return st->type->schema(st, out);
}

int sl_stage_schema_input(sl_stage *st, sl_schema **out) { return sl_stage_schema(st->input, out); }

int sl_parse_size(const char *s, uint64_t *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || v < 0)
        return -1;
    double m = 1;
    switch (*end) {
    case 'k': case 'K': m = 1024.0; end++; break;
    case 'm': case 'M': m = 1024.0 * 1024; end++; break;
    case 'g': case 'G': m = 1024.0 * 1024 * 1024; end++; break;
    case 't': case 'T': m = 1024.0 * 1024 * 1024 * 1024; end++; break;
    default: break;
    }
    if (*end == 'i' && m > 1)
        end++;
    if (*end == 'B' || *end == 'b')
        end++;
    if (*end)
        return -1;
    double x = v * m;
    if (!(x < 18446744073709551616.0)) /* 2^64, and NaN: the cast would be undefined */
        return -1;
    *out = (uint64_t)x;
    return 0;
}

int sl_parse_duration(const char *s, size_t n, uint64_t *ns)
{
    char buf[64];
    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, s, n);
    buf[n] = 0;
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if (end == buf || errno || !(v > 0))
        return -1;
    double unit = 1e9;
    if (strcmp(end, "ms") == 0)
        unit = 1e6;
    else if (strcmp(end, "us") == 0)
        unit = 1e3;
    else if (strcmp(end, "s") == 0 || *end == 0)
        unit = 1e9;
    else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
        unit = 60e9;
    else if (strcmp(end, "h") == 0)
        unit = 3600e9;
    else
        return -1;
    double t = v * unit;
    if (t < 1e6 || t > 1e18)
        return -1; /* under 1 ms, or absurd */
    *ns = (uint64_t)t;
    return 0;
}

int sl_run_mem_take(sl_run *run, uint64_t bytes)
{
    if (run->mem_used + bytes > run->opt.memory_limit)
        return SL_E_NOMEM;
    run->mem_used += bytes;
    if (run->mem_used > run->mem_peak)
        run->mem_peak = run->mem_used;
    return SL_OK;
}

void sl_run_mem_give(sl_run *run, uint64_t bytes)
{
    run->mem_used = bytes > run->mem_used ? 0 : run->mem_used - bytes;
}

const char *sl_run_temp_dir(const sl_run *run)
{
    if (run->opt.temp_dir && *run->opt.temp_dir)
        return run->opt.temp_dir;
    const char *t = getenv("TMPDIR");
    return t && *t ? t : "/tmp";
}

/* ---- the bad-record policy ---- */

static int reject_write(sl_run *run, const sl_rowinfo *in, uint64_t line, uint64_t col, const char *stage, const char *msg)
{
    run_priv *p = run->priv;
    char shown[4096]; /* a database name without its password */
    snprintf(shown, sizeof shown, "%s", in && in->input < run->ninputs ? run->inputs[in->input].name : "");
    sl_redact_secrets(shown);
    const char *name = strcmp(shown, "-") == 0 ? "(stdin)" : shown;
    size_t rawlen = in && in->raw ? in->len : 0;
    size_t need = 6 * (strlen(name) + strlen(msg) + strlen(stage) + rawlen) + 256;
    if (need > p->reject_cap) {
        char *nb = realloc(p->reject_line, need);
        if (!nb)
            return sl_fail(&run->err, SL_E_NOMEM, "reject", "out of memory");
        p->reject_line = nb;
        p->reject_cap = need;
    }
    char *d = p->reject_line;
    size_t n = 0;
    n += (size_t)sprintf(d + n, "{\"input\":");
    long k = sl_json_escape(d + n, name, strlen(name), NULL);
    n += k > 0 ? (size_t)k : 0;
    n += (size_t)sprintf(d + n, ",\"line\":%llu", (unsigned long long)line);
    if (col)
        n += (size_t)sprintf(d + n, ",\"column\":%llu", (unsigned long long)col);
    n += (size_t)sprintf(d + n, ",\"offset\":%llu,\"record\":%llu,\"stage\":", (unsigned long long)(in ? in->offset : 0),
                         (unsigned long long)(in ? in->record : 0));
    k = sl_json_escape(d + n, stage, strlen(stage), NULL);
    n += k > 0 ? (size_t)k : 0;
    n += (size_t)sprintf(d + n, ",\"reason\":");
    k = sl_json_escape(d + n, msg, strlen(msg), NULL);
    n += k > 0 ? (size_t)k : 0;
    n += (size_t)sprintf(d + n, ",\"raw\":");
    if (in && in->raw) {
        size_t len = in->len;
        /* strip the record's line break */
        while (len > 0 && (in->raw[len - 1] == '\n' || in->raw[len - 1] == '\r'))
            len--;
        size_t ok = sl_utf8_valid_prefix(in->raw, len);
        k = sl_json_escape(d + n, in->raw, ok, NULL);
        n += k > 0 ? (size_t)k : 0;
    } else {
        n += (size_t)sprintf(d + n, "null");
    }
    n += (size_t)sprintf(d + n, "}\n");
    return sl_sink_write(p->reject, d, n, &run->err);
}

static int bad_record(sl_run *run, const sl_batch *b, uint32_t row, uint64_t line, uint64_t col, const char *stage,
                      const char *fmt, va_list ap)
{
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    const sl_rowinfo *in = b && b->info ? &b->info[row] : NULL;
    const char *name = in && in->input < run->ninputs ? run->inputs[in->input].name : NULL;
    if (name && strcmp(name, "-") == 0)
        name = "(stdin)";
    if (!line || !in)
        col = 0;
    if (in && !line)
        line = in->line;
    if (run->opt.on_error == SL_ONERR_STOP) {
        sl_fail(&run->err, SL_E_DATA, stage, "%s", msg);
        if (in)
            sl_error_at(&run->err, name, line, col, in->record);
        return SL_E_DATA;
    }
    run->bad_records++;
    if (run->opt.on_error == SL_ONERR_REJECT) {
        int rc = reject_write(run, in, line, col, stage, msg);
        if (rc < 0)
            return rc;
    }
    if (run->bad_records > run->opt.max_errors) {
        sl_fail(&run->err, SL_E_DATA, stage, "too many bad records: %llu, over the budget of --max-errors %llu; the last: %s",
                (unsigned long long)run->bad_records, (unsigned long long)run->opt.max_errors, msg);
        if (in)
            sl_error_at(&run->err, name, line, col, in->record);
        return SL_E_DATA;
    }
    return SL_OK;
}

int sl_run_bad_record(sl_run *run, const sl_batch *b, uint32_t row, const char *stage, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = bad_record(run, b, row, 0, 0, stage, fmt, ap);
    va_end(ap);
    return rc;
}

int sl_run_bad_record_at(sl_run *run, const sl_batch *b, uint32_t row, uint64_t line, uint64_t col, const char *stage,
                         const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = bad_record(run, b, row, line, col, stage, fmt, ap);
    va_end(ap);
    return rc;
}

/* ---- building and running ---- */

/* a format sluice writes but does not read (Parquet) */
static const sl_format *cannot_read(sl_run *run, const sl_format *f, const char *name)
{
    sl_fail(&run->err, SL_E_USAGE, "options", "cannot read %s%s%s%s: sluice writes %s but does not read it (inputs are csv, "
            "tsv, ndjson or lines)", f->name, name ? " (input '" : "", name ? name : "", name ? "')" : "", f->name);
    return NULL;
}

static const sl_format *input_format(sl_run *run)
{
    sl_error *err = &run->err;
    if (run->opt.merge) /* partial files are NDJSON, whatever their names */
        return sl_format_find("ndjson");
    if (run->opt.from) {
        const sl_format *f = sl_format_find(run->opt.from);
        if (!f)
            sl_fail(err, SL_E_USAGE, "options", "unknown input format '%s' (expected csv, tsv, ndjson or lines)", run->opt.from);
        else if (!f->reader)
            return cannot_read(run, f, NULL);
        return f;
    }
    const sl_format *f = NULL;
    for (size_t i = 0; i < run->ninputs; i++) {
        const char *name = run->inputs[i].name;
        const sl_format *g = strcmp(name, "-") == 0 ? NULL : sl_format_for_path(name);
        if (!g) {
            if (strcmp(name, "-") != 0) {
                sl_fail(err, SL_E_USAGE, "options",
                        "cannot tell the format of '%s' from its name (expected .csv, .tsv, .ndjson or .jsonl, optionally "
                        "with .gz or .zst; or give --from)", name);
                return NULL;
            }
            g = sl_format_find("csv");
        }
        if (!g->reader)
            return cannot_read(run, g, name);
        if (f && g != f) {
            sl_fail(err, SL_E_USAGE, "options", "inputs of different formats (%s and %s) in one stream; give --from to read them "
                    "all as one format", f->name, g->name);
            return NULL;
        }
        f = g;
    }
    return f;
}

static const sl_format *output_format(sl_run *run, const sl_format *in)
{
    if (run->opt.to) {
        const sl_format *f = sl_format_find(run->opt.to);
        if (!f)
            sl_fail(&run->err, SL_E_USAGE, "options", "unknown output format '%s' (expected csv, tsv, ndjson, lines or parquet)",
                    run->opt.to);
        return f;
    }
    const char *o = run->opt.output;
    if (o && strcmp(o, "-") != 0) {
        const sl_format *f = sl_format_for_path(o);
        if (f)
            return f;
        struct stat st;
        if (stat(o, &st) == 0 && !S_ISREG(st.st_mode))
            return in; /* /dev/null, a FIFO: same as the input */
        sl_fail(&run->err, SL_E_USAGE, "options", "cannot tell the output format from '%s' (expected .csv, .tsv, .ndjson, "
                ".jsonl or .parquet, optionally with .gz or .zst; or give --to)", o);
        return NULL;
    }
    if (in && in->writer && in->writer->own_target)
        return sl_format_find("csv"); /* a table read to standard output */
    return in;
}

static bool has_stage(const sl_run *run, const char *name)
{
    for (int i = 0; i < run->nstages; i++)
        if (run->stages[i] && run->stages[i]->type && strcmp(run->stages[i]->type->name, name) == 0)
            return true;
    return false;
}

/* --partial: the pipeline ends with group, and every stage before it
   works record by record in input order, so that the shards' states merge
   into what one run computes (docs/sharding.md). */
static int check_partial(sl_run *run)
{
    static const char *const ok[] = {"cat", "select", "drop", "rename", "filter", "map", "join", "batch", NULL};
    sl_stage *last = run->stages[run->nstages - 1];
    if (run->nstages < 2 || strcmp(last->type->name, "group") != 0)
        return sl_fail(&run->err, SL_E_USAGE, "options", "--partial needs a pipeline that ends with group (the records of "
                       "other pipelines merge by concatenating the shards' outputs, or with sluice merge --sorted KEYS)");
    for (int i = 1; i < run->nstages - 1; i++) {
        const char *name = run->stages[i]->type->name;
        int fine = 0;
        for (int k = 0; ok[k]; k++)
            fine |= strcmp(ok[k], name) == 0;
        if (!fine)
            return sl_fail(&run->err, SL_E_USAGE, "options", "--partial: '%s' cannot run before group in a shard (it "
                           "needs all the records; stages before group may be cat, select, drop, rename, filter, map "
                           "and join; put '%s' after the merge with sluice merge --then)", name, name);
    }
    return SL_OK;
}

static int build(sl_run *run)
{
    run_priv *p = run->priv;
    sl_error *err = &run->err;
    const sl_format *inf = input_format(run);
    if (!inf)
        return err->code;
    const sl_format *outf = output_format(run, inf);
    if (!outf)
        return err->code;
    int header = (strcmp(inf->name, "csv") == 0 || strcmp(inf->name, "tsv") == 0) && !run->opt.no_header;
    int rc0 = sl_shard_plan(run, header, run->note, sizeof run->note);
    if (rc0 < 0)
        return rc0;
    if (!run->opt.pipeline)
        return sl_fail(err, SL_E_USAGE, "options", "no pipeline given");
    int merging = run->opt.merge || run->opt.merge_sorted;
    if (run->opt.partial && strcmp(outf->name, "ndjson") != 0)
        return sl_fail(err, SL_E_USAGE, "options", "--partial writes NDJSON (the output is %s): name the output .ndjson, "
                       "optionally with .gz or .zst, or give --to ndjson", outf->name);
    run->reader = inf->reader;
    const char *t = run->opt.pipeline;
    while (*t == ' ' || *t == '\t' || *t == '\n')
        t++;
    int rc = merging && !*t ? SL_OK : sl_pipeline_parse(run->opt.pipeline, &p->text, err);
    if (rc < 0)
        return rc;
    run->nstages = (int)p->text.n + 1;
    run->stages = calloc((size_t)run->nstages, sizeof *run->stages);
    if (!run->stages)
        return sl_fail(err, SL_E_NOMEM, "pipeline", "out of memory");
    for (int i = 0; i < run->nstages; i++) {
        sl_stage *st = calloc(1, sizeof *st);
        if (!st)
            return sl_fail(err, SL_E_NOMEM, "pipeline", "out of memory");
        run->stages[i] = st;
        st->run = run;
        st->index = i;
        st->input = i ? run->stages[i - 1] : NULL;
        if (i == 0) {
            st->type = run->opt.merge ? &sl_partial_reader_type : run->opt.merge_sorted ? &sl_sorted_merge_type : inf->reader;
            st->text = merging ? "merge" : inf->name;
            rc = st->type->create(st, "", err);
        } else {
            const sl_stage_text *t = &p->text.stages[i - 1];
            st->type = sl_stage_type_find(t->name, strlen(t->name));
            st->text = t->text;
            rc = st->type->create(st, t->args, err);
        }
        if (rc < 0)
            return rc;
    }
    if (run->opt.partial && (rc = check_partial(run)) < 0)
        return rc;
    for (int i = 1; i + 1 < run->nstages; i++)
        if (run->stages[i]->type == &sl_map_stage_type && run->stages[i + 1]->type == &sl_group_stage_type)
            sl_map_hint_group(run->stages[i], run->stages[i + 1]);
    for (int i = 0; i < run->nstages; i++) {
        rc = run->stages[i]->type->open(run->stages[i]);
        run->stages[i]->opened = 1;
        if (rc < 0)
            return rc;
    }
    if (run->opt.check_only)
        return SL_OK;
    if (run->stages[run->nstages - 1]->type->own_output) {
        /* the last stage (write) writes the records itself: no output here,
           and the output options are its own to check */
        if (run->opt.on_error == SL_ONERR_REJECT &&
            !(p->reject = sl_sink_open(run->opt.reject_path, sl_comp_for_path(run->opt.reject_path), -1, err)))
            return err->code;
        return SL_OK;
    }
    /* the output: the compression comes from the option, else the name */
    sl_comp comp = sl_comp_for_path(run->opt.output);
    if (run->opt.compress) {
        if (strcmp(run->opt.compress, "gzip") == 0 || strcmp(run->opt.compress, "gz") == 0)
            comp = SL_COMP_GZIP;
        else if (strcmp(run->opt.compress, "zstd") == 0 || strcmp(run->opt.compress, "zst") == 0)
            comp = SL_COMP_ZSTD;
        else if (strcmp(run->opt.compress, "none") == 0)
            comp = SL_COMP_NONE;
        else
            return sl_fail(err, SL_E_USAGE, "options", "unknown compression '%s' (expected gzip, zstd or none)", run->opt.compress);
    }
    if (outf->writer->own_target) {
        /* a database table: the writer connects itself, no sink */
        if (run->opt.compress || comp != SL_COMP_NONE)
            return sl_fail(err, SL_E_USAGE, "options", "--compress does not apply to a database output");
        if (run->opt.on_error == SL_ONERR_REJECT &&
            !(p->reject = sl_sink_open(run->opt.reject_path, sl_comp_for_path(run->opt.reject_path), -1, err)))
            return err->code;
        p->writer.type = outf->writer;
        p->writer.run = run;
        p->writer.target = run->opt.output;
        rc = p->writer.type->create(&p->writer);
        p->writer_created = 1;
        return rc;
    }
    if (outf->writer->self_compressing) {
        /* Parquet compresses each page itself: the file must not be wrapped */
        if (comp != SL_COMP_NONE)
            return sl_fail(err, SL_E_USAGE, "options", "%s output compresses its own data: name the output without .gz or "
                           ".zst and without --compress (use --parquet-compression zstd|gzip|none)", outf->name);
    } else if ((run->opt.parquet_compression || run->opt.row_group_size || run->opt.parquet_schema) &&
               !has_stage(run, "write")) {
        return sl_fail(err, SL_E_USAGE, "options", "--parquet-compression, --row-group-size and --schema apply to Parquet "
                       "output only (the output is %s)", outf->name);
    }
    if (comp == SL_COMP_GZIP && run->opt.level > 9)
        return sl_fail(err, SL_E_USAGE, "options", "gzip level %d is out of range (expected 1..9)", run->opt.level);
    if (comp == SL_COMP_ZSTD && run->opt.level > 22)
        return sl_fail(err, SL_E_USAGE, "options", "zstd level %d is out of range (expected 1..22)", run->opt.level);
    if (run->opt.on_error == SL_ONERR_REJECT) {
        p->reject = sl_sink_open(run->opt.reject_path, sl_comp_for_path(run->opt.reject_path), -1, err);
        if (!p->reject)
            return err->code;
    }
    p->sink = sl_sink_open(run->opt.output, comp, run->opt.level, err);
    if (!p->sink)
        return err->code;
    p->writer.type = outf->writer;
    p->writer.run = run;
    p->writer.sink = p->sink;
    rc = p->writer.type->create(&p->writer);
    p->writer_created = 1;
    return rc;
}

static int drive(sl_run *run)
{
    run_priv *p = run->priv;
    sl_stage *last = run->stages[run->nstages - 1];
    sl_writer *w = &p->writer;
    /* records appear as they arrive when the input is a pipe or terminal and
       the output is not a regular file */
    int streaming = 0;
    struct stat st;
    for (size_t i = 0; i < run->ninputs; i++)
        if (strcmp(run->inputs[i].name, "-") == 0 && fstat(0, &st) == 0 && !S_ISREG(st.st_mode))
            streaming = 1;
    const char *o = run->opt.output;
    if (o && strcmp(o, "-") != 0 && (stat(o, &st) != 0 || S_ISREG(st.st_mode)))
        streaming = 0;
    if ((!o || strcmp(o, "-") == 0) && fstat(1, &st) == 0 && S_ISREG(st.st_mode))
        streaming = 0;
    uint64_t ends = 0; /* batch boundaries flushed */
    for (;;) {
        sl_batch *b;
        int rc = sl_stage_next(last, &b);
        if (rc < 0)
            return rc;
        if (rc == SL_DONE)
            break;
        if (!p->writer_created)
            return sl_fail(&run->err, SL_E_INTERNAL, "run", "%s passed records on", last->type->name);
        rc = w->type->write(w, b);
        if (rc < 0)
            return rc;
        if (run->on_batch)
            run->on_batch(run, run->on_batch_ctx);
        if (streaming || run->batch_ends != ends) {
            ends = run->batch_ends;
            if (w->type->flush && (rc = w->type->flush(w)) < 0)
                return rc;
            if (p->sink && (rc = sl_sink_flush(p->sink, &run->err)) < 0)
                return rc;
        }
    }
    int rc;
    if (p->writer_created && w->type->header_without_records && last->stats.rows_out == 0) {
        sl_schema *schema;
        if ((rc = sl_stage_schema(last, &schema)) < 0)
            return rc;
        if (schema) {
            sl_batch empty;
            memset(&empty, 0, sizeof empty);
            empty.schema = schema;
            if ((rc = w->type->write(w, &empty)) < 0)
                return rc;
        }
    }
    rc = p->writer_created ? w->type->finish(w) : SL_OK;
    if (rc < 0)
        return rc;
    if (run->opt.max_errors_frac >= 0 && run->bad_records) {
        uint64_t total = 0;
        for (size_t i = 0; i < run->ninputs; i++)
            total += run->inputs[i].records;
        if ((double)run->bad_records > run->opt.max_errors_frac * (double)total)
            return sl_fail(&run->err, SL_E_DATA, "run", "too many bad records: %llu of %llu (%.4g%%), over the budget of "
                           "--max-errors %.4g%%", (unsigned long long)run->bad_records, (unsigned long long)total,
                           100.0 * (double)run->bad_records / (double)(total ? total : 1), 100.0 * run->opt.max_errors_frac);
    }
    return SL_OK;
}

uint64_t sl_run_bytes_read(const sl_run *run)
{
    uint64_t n = 0;
    for (size_t i = 0; i < run->ninputs; i++)
        n += run->inputs[i].bytes_raw;
    return n;
}

int64_t sl_run_bytes_total(const sl_run *run)
{
    int64_t n = 0;
    for (size_t i = 0; i < run->ninputs; i++) {
        if (run->inputs[i].size < 0)
            return -1;
        n += run->inputs[i].size;
    }
    return n;
}

int sl_run_execute(sl_run *run, const sl_options *opt, const char *const *inputs, size_t ninputs)
{
    return sl_run_execute_cb(run, opt, inputs, ninputs, NULL, NULL);
}

int sl_run_execute_cb(sl_run *run, const sl_options *opt, const char *const *inputs, size_t ninputs,
                      void (*on_batch)(sl_run *, void *), void *ctx)
{
    memset(run, 0, sizeof *run);
    run->opt = *opt;
    run->rows_committed = -1;
    run->on_batch = on_batch;
    run->on_batch_ctx = ctx;
    run_priv *p = calloc(1, sizeof *p);
    static const char *const stdin_only[] = {"-"};
    if (ninputs == 0) {
        inputs = stdin_only;
        ninputs = 1;
    }
    run->inputs = calloc(ninputs, sizeof *run->inputs);
    if (!p || !run->inputs) {
        free(p);
        return sl_fail(&run->err, SL_E_NOMEM, "run", "out of memory");
    }
    run->priv = p;
    run->ninputs = ninputs;
    for (size_t i = 0; i < ninputs; i++) {
        run->inputs[i].name = inputs[i];
        run->inputs[i].size = -1;
        struct stat st;
        if (strcmp(inputs[i], "-") != 0 && stat(inputs[i], &st) == 0 && S_ISREG(st.st_mode))
            run->inputs[i].size = st.st_size;
    }
    int rc = build(run);
    if (run->opt.check_only)
        return rc < 0 ? run->err.code : SL_OK;
    if (rc == SL_OK)
        rc = drive(run);
    if (rc == SL_OK && p->sink)
        rc = sl_sink_commit(p->sink, &run->err);
    if (p->reject) {
        /* the reject file is kept whatever the outcome: it explains it */
        sl_error ignore;
        sl_error_clear(&ignore);
        if (sl_sink_commit(p->reject, rc == SL_OK ? &run->err : &ignore) < 0 && rc == SL_OK)
            rc = run->err.code;
    }
    if (p->sink) {
        run->bytes_out = sl_sink_bytes(p->sink);
        if (rc < 0)
            sl_sink_abort(p->sink);
    }
    run->records_out = p->writer.records;
    if (rc < 0 && run->err.code == SL_OK)
        sl_fail(&run->err, rc, "run", "failed (%s)", sl_code_name(rc));
    return rc < 0 ? run->err.code : SL_OK;
}

void sl_run_fini(sl_run *run)
{
    run_priv *p = run->priv;
    for (int i = run->nstages - 1; i >= 0; i--) {
        if (run->stages && run->stages[i]) {
            if (run->stages[i]->type && run->stages[i]->type->close)
                run->stages[i]->type->close(run->stages[i]);
            free(run->stages[i]);
        }
    }
    free(run->stages);
    run->stages = NULL;
    if (p) {
        if (p->writer_created && p->writer.type->destroy)
            p->writer.type->destroy(&p->writer);
        sl_sink_close(p->sink);
        sl_sink_close(p->reject);
        free(p->reject_line);
        sl_pipeline_text_free(&p->text);
        free(p);
    }
    run->priv = NULL;
    free(run->inputs);
    run->inputs = NULL;
}
