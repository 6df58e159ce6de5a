/*
 * write.c - `write PATH` and `write --exec CMD`: the last stage of a
 * pipeline that writes the records itself, a batch at a time, and passes
 * nothing on (the run's own output then stays empty).
 *
 * Batches are what the `batch` stage makes (it marks the end of each by
 * incrementing run->batch_ends); without it, the whole input is one batch.
 *
 *   write PATH         the whole output to PATH, flushed at the end of every
 *                      batch, published atomically when the run succeeds
 *                      (the sink's temporary file and rename).
 *   write 'DIR/name-{batch}.csv.gz'
 *                      each batch to its own file: {batch} is the batch's
 *                      number from 000001 (six digits, more when needed).
 *                      Each file is written through its own sink, so it
 *                      appears whole when its batch is complete; a failing
 *                      run keeps the batches completed before the failure
 *                      and leaves no partial file.
 *   write --exec CMD   each batch to the standard input of a new `sh -c CMD`
 *                      (like split --filter), with SLUICE_BATCH set to the
 *                      batch's number; the command's standard output is
 *                      sluice's.  A command that exits with a non-zero
 *                      status, or is killed, fails the run (exit 74) with
 *                      its command text and status.  A command that stops
 *                      reading and exits 0 (like head) has chosen to: the
 *                      rest of its batch is dropped without error.
 *
 *   write DBNAME       into a table of SQLite or PostgreSQL (sqlite:out.db?
 *                      table=t, postgres://u@h/db?table=t: io/db.h): one
 *                      connection for the run, one transaction per batch
 *                      (the database writers say how).
 *
 * The format and compression come from --to and --compress when given,
 * else from PATH as for -o (csv, tsv, ndjson, lines, parquet; .gz, .zst);
 * --exec writes CSV with a header unless --to says otherwise.  Every file
 * and every command gets its own header.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "formats/format.h"
#include "io/sink.h"
#include "sluice/run.h"

#define STAGE "write"

typedef struct write_state {
    char *path;              /* PATH, or NULL with --exec */
    char *cmd;               /* --exec CMD */
    int per_batch;           /* PATH holds {batch} */
    const sl_writer_type *wt;
    sl_comp comp;
    uint64_t nbatch;         /* batches started */
    uint64_t ends_seen;      /* run->batch_ends already acted on */
    /* the batch being written */
    sl_sink *sink;
    sl_writer w;
    int w_created;
    pid_t child;
    int discarding;          /* the command stopped reading: drop the rest */
    char *cur_name;
    int done;
    struct sigaction old_pipe;
    int pipe_ignored;
} write_state;

/* One argument word at *pp: bare, "double quoted" (\" and \\ escapes) or
   'single quoted'.  Returns a malloc'd copy or NULL (*bad set on a quote
   that is never closed). */
static char *word(const char **pp, int *bad)
{
    const char *p = *pp;
    while (isspace((unsigned char)*p))
        p++;
    if (!*p)
        return NULL;
    size_t cap = strlen(p) + 1, n = 0;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    if (*p == '"' || *p == '\'') {
        char q = *p++;
        while (*p && *p != q) {
            if (q == '"' && *p == '\\' && (p[1] == '"' || p[1] == '\\'))
                p++;
            out[n++] = *p++;
        }
        if (*p != q) {
            free(out);
            *bad = 1;
            return NULL;
        }
        p++;
    } else {
        while (*p && !isspace((unsigned char)*p))
            out[n++] = *p++;
    }
    out[n] = 0;
    *pp = p;
    return out;
}

static int write_create(sl_stage *st, const char *args, sl_error *err)
{
    write_state *s = calloc(1, sizeof *s);
    if (!s)
        return sl_fail(err, SL_E_NOMEM, STAGE, "out of memory");
    st->state = s;
    s->child = -1;
    const char *p = args ? args : "";
    for (;;) {
        int bad = 0;
        char *w = word(&p, &bad);
        if (!w) {
            if (bad)
                return sl_fail(err, SL_E_USAGE, STAGE, "a quote is never closed in '%s'", args);
            break;
        }
        if (strcmp(w, "--exec") == 0) {
            free(w);
            if (s->cmd)
                return sl_fail(err, SL_E_USAGE, STAGE, "--exec is given twice");
            s->cmd = word(&p, &bad);
            if (!s->cmd || !*s->cmd)
                return sl_fail(err, SL_E_USAGE, STAGE, "--exec needs a command, as in write --exec 'gzip > part-$SLUICE_BATCH.gz'%s",
                               bad ? " (a quote is never closed)" : "");
        } else if (w[0] == '-' && w[1] == '-') {
            sl_fail(err, SL_E_USAGE, STAGE, "unknown option '%s' (expected PATH or --exec CMD)", w);
            free(w);
            return SL_E_USAGE;
        } else if (s->path) {
            sl_fail(err, SL_E_USAGE, STAGE, "unexpected '%s': write takes one PATH (quote a path with spaces)", w);
            free(w);
            return SL_E_USAGE;
        } else {
            s->path = w;
        }
    }
    if (!s->path == !s->cmd)
        return sl_fail(err, SL_E_USAGE, STAGE, "expected PATH or --exec CMD (one of them): write PATH, write --exec CMD");
    if (s->path)
        s->per_batch = strstr(s->path, "{batch}") != NULL;
    return SL_OK;
}

static int write_open(sl_stage *st)
{
    write_state *s = st->state;
    sl_run *run = st->run;
    sl_error *err = &run->err;
    if (st->index != run->nstages - 1)
        return sl_fail(err, SL_E_USAGE, STAGE, "write must be the last stage (it passes no records on)");
    if (run->opt.output && strcmp(run->opt.output, "-") != 0)
        return sl_fail(err, SL_E_USAGE, STAGE, "the pipeline ends with write, which names its own output: drop -o %s",
                       run->opt.output);
    /* the format: --to, else the name, else CSV for --exec */
    const sl_format *f = NULL;
    if (run->opt.to) {
        f = sl_format_find(run->opt.to);
        if (!f)
            return sl_fail(err, SL_E_USAGE, STAGE, "unknown output format '%s'", run->opt.to);
    } else if (s->path) {
        f = sl_format_for_path(s->path);
        struct stat sb;
        if (!f && !s->per_batch && stat(s->path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
            /* /dev/stdout, a FIFO: the input's format, as for -o */
            for (int i = 0; sl_formats[i] && !f; i++)
                if (sl_formats[i]->reader == run->stages[0]->type)
                    f = sl_formats[i];
        }
        if (!f)
            return sl_fail(err, SL_E_USAGE, STAGE, "cannot tell the output format from '%s' (expected .csv, .tsv, .ndjson, "
                           ".jsonl or .parquet, optionally with .gz or .zst; or give --to)", s->path);
    } else {
        f = sl_format_find("csv");
    }
    if (!f || !f->writer)
        return sl_fail(err, SL_E_INTERNAL, STAGE, "no writer for the output format");
    s->wt = f->writer;
    if (s->wt->own_target) {
        /* a database table: one connection for the run, a transaction per
           batch (see the database writers) */
        if (!s->path || s->per_batch)
            return sl_fail(err, SL_E_USAGE, STAGE, "a database table is written with write DBNAME, without {batch} or --exec");
        if (run->opt.compress)
            return sl_fail(err, SL_E_USAGE, STAGE, "--compress does not apply to a database output");
        return SL_OK;
    }
    s->comp = s->path ? sl_comp_for_path(s->path) : SL_COMP_NONE;
    if (run->opt.compress) {
        const char *c = run->opt.compress;
        if (strcmp(c, "gzip") == 0 || strcmp(c, "gz") == 0)
            s->comp = SL_COMP_GZIP;
        else if (strcmp(c, "zstd") == 0 || strcmp(c, "zst") == 0)
            s->comp = SL_COMP_ZSTD;
        else if (strcmp(c, "none") == 0)
            s->comp = SL_COMP_NONE;
        else
            return sl_fail(err, SL_E_USAGE, STAGE, "unknown compression '%s' (expected gzip, zstd or none)", c);
    }
    if (s->wt->self_compressing && s->comp != SL_COMP_NONE)
        return sl_fail(err, SL_E_USAGE, STAGE, "%s output compresses its own data: name the output without .gz or .zst and "
                       "without --compress", f->name);
    if (!s->wt->self_compressing && (run->opt.parquet_compression || run->opt.row_group_size || run->opt.parquet_schema))
        return sl_fail(err, SL_E_USAGE, STAGE, "--parquet-compression, --row-group-size and --schema apply to Parquet output "
                       "only (write writes %s)", f->name);
    if (s->comp == SL_COMP_GZIP && run->opt.level > 9)
        return sl_fail(err, SL_E_USAGE, STAGE, "gzip level %d is out of range (expected 1..9)", run->opt.level);
    if (s->comp == SL_COMP_ZSTD && run->opt.level > 22)
        return sl_fail(err, SL_E_USAGE, STAGE, "zstd level %d is out of range (expected 1..22)", run->opt.level);
    if (s->cmd) {
        /* a command that stops reading must not kill sluice: a write to it
           fails with EPIPE instead, and its exit status decides */
        struct sigaction ign;
        memset(&ign, 0, sizeof ign);
        ign.sa_handler = SIG_IGN;
        sigemptyset(&ign.sa_mask);
        if (sigaction(SIGPIPE, &ign, &s->old_pipe) == 0)
            s->pipe_ignored = 1;
    }
    return SL_OK;
}

/* ---- one batch ---- */

static char *batch_path(const char *tmpl, uint64_t n)
{
    char num[32];
    int nl = snprintf(num, sizeof num, "%06llu", (unsigned long long)n);
    size_t cap = strlen(tmpl) + 1, k = 0;
    for (const char *q = tmpl; (q = strstr(q, "{batch}")); q += 7)
        cap += (size_t)nl;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    for (const char *q = tmpl; *q;) {
        if (strncmp(q, "{batch}", 7) == 0) {
            memcpy(out + k, num, (size_t)nl);
            k += (size_t)nl;
            q += 7;
        } else {
            out[k++] = *q++;
        }
    }
    out[k] = 0;
    return out;
}

static int spawn(sl_stage *st, write_state *s, int *wfd)
{
    sl_error *err = &st->run->err;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0)
        return sl_fail(err, SL_E_OUTPUT, STAGE, "cannot make a pipe for command '%s': %s", s->cmd, strerror(errno));
    char num[32];
    snprintf(num, sizeof num, "%06llu", (unsigned long long)s->nbatch);
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return sl_fail(err, SL_E_OUTPUT, STAGE, "cannot start command '%s': %s", s->cmd, strerror(errno));
    }
    if (pid == 0) {
        /* the child: the pipe is its standard input */
        if (dup2(fds[0], 0) < 0)
            _exit(126);
        signal(SIGPIPE, SIG_DFL);
        setenv("SLUICE_BATCH", num, 1);
        execl("/bin/sh", "sh", "-c", s->cmd, (char *)NULL);
        _exit(127);
    }
    close(fds[0]);
    s->child = pid;
    *wfd = fds[1];
    return SL_OK;
}

static int start_batch(sl_stage *st, write_state *s)
{
    sl_run *run = st->run;
    s->nbatch++;
    s->discarding = 0;
    if (s->cmd) {
        int fd = -1;
        int rc = spawn(st, s, &fd);
        if (rc < 0)
            return rc;
        char name[64];
        snprintf(name, sizeof name, "command of batch %llu", (unsigned long long)s->nbatch);
        s->sink = sl_sink_open_fd(fd, name, s->comp, run->opt.level, &run->err);
    } else if (s->wt->own_target) {
        s->cur_name = NULL; /* no sink: the writer connects to the database */
    } else {
        free(s->cur_name);
        s->cur_name = s->per_batch ? batch_path(s->path, s->nbatch) : strdup(s->path);
        if (!s->cur_name)
            return sl_fail(&run->err, SL_E_NOMEM, STAGE, "out of memory");
        s->sink = sl_sink_open(s->cur_name, s->comp, run->opt.level, &run->err);
    }
    if (!s->sink && !s->wt->own_target)
        return run->err.code ? run->err.code : SL_E_OUTPUT;
    memset(&s->w, 0, sizeof s->w);
    s->w.type = s->wt;
    s->w.run = run;
    s->w.sink = s->sink;
    s->w.target = s->path;
    int rc = s->wt->create(&s->w);
    s->w_created = 1;
    return rc;
}

static void drop_writer(write_state *s)
{
    if (s->w_created && s->w.type->destroy)
        s->w.type->destroy(&s->w);
    s->w_created = 0;
}

/* Wait for the command; SL_OK when it exited 0, else its failure. */
static int reap(sl_stage *st, write_state *s, int *status_ok)
{
    int status = 0;
    pid_t pid = s->child;
    s->child = -1;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            *status_ok = 0;
            return sl_fail(&st->run->err, SL_E_OUTPUT, STAGE, "command '%s' (batch %llu): cannot wait for it: %s", s->cmd,
                           (unsigned long long)s->nbatch, strerror(errno));
        }
    }
    *status_ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (*status_ok)
        return SL_OK;
    sl_error_clear(&st->run->err); /* a broken pipe says less than the status */
    if (WIFSIGNALED(status))
        return sl_fail(&st->run->err, SL_E_OUTPUT, STAGE, "command '%s' was killed by signal %d (batch %llu)", s->cmd,
                       WTERMSIG(status), (unsigned long long)s->nbatch);
    int code = WEXITSTATUS(status);
    return sl_fail(&st->run->err, SL_E_OUTPUT, STAGE, "command '%s' failed with exit status %d%s (batch %llu)", s->cmd, code,
                   code == 127 ? ", command not found" : "", (unsigned long long)s->nbatch);
}

/* A write to the command failed: did the command stop reading on purpose? */
static int command_write_failed(sl_stage *st, write_state *s)
{
    sl_sink_close(s->sink); /* closes our end of the pipe */
    s->sink = NULL;
    drop_writer(s);
    int ok = 0;
    int rc = reap(st, s, &ok);
    if (!ok)
        return rc;
    /* it exited 0 without reading everything: its choice */
    sl_error_clear(&st->run->err);
    s->discarding = 1;
    return SL_OK;
}

static int end_batch(sl_stage *st, write_state *s)
{
    sl_run *run = st->run;
    int rc = SL_OK;
    if (s->discarding) {
        s->discarding = 0;
        return SL_OK;
    }
    if (!s->w_created)
        return SL_OK;
    rc = s->w.type->finish(&s->w);
    if (rc >= 0 && s->sink)
        rc = sl_sink_commit(s->sink, &run->err);
    if (s->cmd) {
        if (rc < 0) {
            rc = command_write_failed(st, s);
            s->discarding = 0;
            return rc;
        }
        sl_sink_close(s->sink); /* end of input for the command */
        s->sink = NULL;
        drop_writer(s);
        int ok = 0;
        return reap(st, s, &ok);
    }
    drop_writer(s);
    if (rc < 0)
        return rc;
    sl_sink_close(s->sink);
    s->sink = NULL;
    return SL_OK;
}

static int write_next(sl_stage *st, sl_batch **out)
{
    (void)out;
    write_state *s = st->state;
    sl_run *run = st->run;
    if (s->done)
        return SL_DONE;
    for (;;) {
        sl_batch *b;
        int rc = sl_stage_next(st->input, &b);
        if (rc < 0)
            return rc;
        if (rc == SL_DONE) {
            /* without {batch}, PATH is written even when there was nothing */
            if (!s->w_created && !s->per_batch && !s->cmd && s->nbatch == 0 && (rc = start_batch(st, s)) < 0)
                return rc;
            if ((rc = end_batch(st, s)) < 0)
                return rc;
            s->done = 1;
            return SL_DONE;
        }
        if (!s->w_created && !s->discarding && (rc = start_batch(st, s)) < 0)
            return rc;
        if (!s->discarding) {
            rc = s->w.type->write(&s->w, b);
            if (rc < 0) {
                if (!s->cmd)
                    return rc;
                if ((rc = command_write_failed(st, s)) < 0)
                    return rc;
            }
        }
        if (run->batch_ends != s->ends_seen) {
            s->ends_seen = run->batch_ends;
            if (s->per_batch || s->cmd) {
                if ((rc = end_batch(st, s)) < 0)
                    return rc;
            } else if (s->w_created) {
                if ((s->w.type->flush && (rc = s->w.type->flush(&s->w)) < 0) ||
                    (s->sink && (rc = sl_sink_flush(s->sink, &run->err)) < 0))
                    return rc;
            }
        }
    }
}

static void write_close(sl_stage *st)
{
    write_state *s = st->state;
    if (!s)
        return;
    drop_writer(s);
    if (s->sink) {
        sl_sink_abort(s->sink);
        sl_sink_close(s->sink);
    }
    if (s->child > 0) {
        int status;
        while (waitpid(s->child, &status, 0) < 0 && errno == EINTR)
            ;
    }
    if (s->pipe_ignored)
        sigaction(SIGPIPE, &s->old_pipe, NULL);
    free(s->path);
    free(s->cmd);
    free(s->cur_name);
    free(s);
    st->state = NULL;
}

const sl_stage_type sl_write_stage_type = {
    .name = "write",
    .usage = "write PATH|--exec CMD",
    .summary = "write each batch to PATH, to its own {batch} file, or to a command",
    .help = "The last stage: writes the records itself and passes nothing on.\n"
            "  write out.csv.gz            all records, flushed at every batch's end;\n"
            "                              published atomically when the run succeeds\n"
            "  write 'parts/x-{batch}.csv' one file per batch, numbered 000001, ...;\n"
            "                              each appears whole when its batch is done\n"
            "  write --exec \"CMD\"          each batch to the standard input of a new\n"
            "                              sh -c CMD, with $SLUICE_BATCH set; a command\n"
            "                              that fails fails the run (exit 74)\n"
            "  write sqlite:out.db?table=t  into a database table (also postgres://...):\n"
            "                              a transaction per batch (docs/databases.md)\n"
            "Batches come from a `batch N` stage just before write; without one the\n"
            "whole input is one batch.  Format and compression come from --to and\n"
            "--compress, else from the name (--exec: CSV with a header).  Write a\n"
            "command that contains | in double quotes.\n",
    .create = write_create,
    .open = write_open,
    .next = write_next,
    .close = write_close,
    .own_output = 1,
};
