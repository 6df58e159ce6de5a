/*
 * run.h - the embedding API: describe a run with sl_options, execute it with
 * sl_run_execute(), read the outcome from run->err and the statistics.
 *
 * The library never prints and never exits; src/main.c is a thin shell that
 * fills sl_options from the command line and turns run->err into a message
 * and an exit status.
 */
#ifndef SLUICE_RUN_H
#define SLUICE_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/error.h"
#include "sluice/stage.h"

typedef enum { SL_HDRCHG_ERROR = 0, SL_HDRCHG_BLOCK } sl_header_change;
typedef enum { SL_CSVP_FAST = 0, SL_CSVP_LIBCSV } sl_csv_parser;
typedef enum { SL_JSONP_FAST = 0, SL_JSONP_JANSSON } sl_json_parser;
typedef enum { SL_ONERR_STOP = 0, SL_ONERR_SKIP, SL_ONERR_REJECT } sl_on_error;

typedef struct sl_options {
    const char *pipeline;      /* pipeline text (after -f file reading) */
    const char *output;        /* NULL or "-" = stdout */
    const char *from;          /* input format name, NULL = by name/stdin csv */
    const char *to;            /* output format name, NULL = by name/input */
    const char *compress;      /* "gzip", "zstd", "none" or NULL = by name */
    int level;                 /* compression level, -1 = library default */
    char delim;                /* input delimiter, 0 = by format */
    char quote;                /* quote character, default '"' */
    char out_delim;            /* output delimiter, 0 = by format */
    bool no_header;            /* input CSV/TSV has no header row */
    bool no_infer;             /* write every text value as a JSON string */
    uint32_t batch_rows;       /* records per batch */
    uint64_t max_field_bytes;  /* limits for input-fed buffers */
    uint64_t max_record_bytes;
    uint32_t max_fields;
    uint32_t max_depth;        /* JSON nesting */
    sl_csv_parser csv_parser;
    sl_json_parser json_parser;
    sl_header_change header_change;
    sl_on_error on_error;
    const char *reject_path;
    uint64_t max_errors;       /* absolute budget; UINT64_MAX = unlimited */
    double max_errors_frac;    /* budget as a fraction of records, <0 = unused */
    uint64_t memory_limit;     /* bytes for blocking stages */
    const char *temp_dir;
    bool check_only;           /* build the chain (parse, compile, check
                                  arguments) and stop before reading */
    uint32_t read_buffer;      /* initial read buffer of readers, 0 = 1 MiB
                                  (tests use tiny buffers to reach every
                                  refill path) */
    const char *parquet_compression; /* Parquet pages: "zstd", "gzip" or
                                        "none"; NULL = zstd */
    uint64_t row_group_size;   /* Parquet row group bound in buffered bytes,
                                  0 = 128M (never more than memory_limit / 2) */
    const char *parquet_schema; /* --schema "name:type, ..." or NULL */
    uint32_t shard_index;      /* --shard I/N: this process reads share I */
    uint32_t shard_count;      /* (0-based) of N; 0 = no sharding */
    bool partial;              /* --partial: the last stage (group) writes
                                  its aggregate states (docs/sharding.md) */
    bool merge;                /* `sluice merge`: the inputs are partial
                                  files, combined before the pipeline */
    bool merge_any_shards;     /* merge --allow-missing-shards: no check that
                                  every shard I of N is there */
    const char *merge_sorted;  /* `sluice merge --sorted KEYS`: the inputs
                                  are sorted by KEYS, merged into one order */
    uint64_t retry_for_ns;     /* --retry-for: how long a database output
                                  keeps reconnecting (and SQLite waits for
                                  a lock) before the run fails */
} sl_options;

void sl_options_defaults(sl_options *o);

typedef struct sl_input {
    const char *name;      /* as given; "-" = stdin */
    uint64_t bytes_raw;    /* bytes read from the file (compressed) */
    uint64_t bytes;        /* bytes after decompression */
    uint64_t records;      /* data records read */
    int64_t size;          /* file size if a regular file, else -1 */
    /* sharding (--shard): the input's position in the whole input list,
       and, for a byte range of one file, what the source delivers */
    uint32_t order;        /* index in the list given on the command line */
    bool ranged;           /* read only the byte range below */
    uint64_t head_len;     /* bytes [0, head_len) first (the CSV header) */
    uint64_t start, end;   /* then bytes [start, end), line-aligned */
} sl_input;

struct sl_run {
    sl_options opt;
    sl_error err;
    sl_input *inputs;
    size_t ninputs;
    sl_stage **stages;     /* chain, reader first */
    int nstages;
    uint64_t records_out;
    uint64_t bytes_out;
    uint64_t bad_records;  /* skipped or rejected */
    uint64_t mem_used;     /* bytes drawn from the memory budget now */
    uint64_t mem_peak;     /* most bytes drawn at once */
    /* Batch boundaries (the `batch` stage): how many batches of records
       have ended so far.  A stage that ends one increments it just before
       returning the last sl_batch of it; the run loop then flushes the writer
       and the output after writing that sl_batch, and `write` ends the batch
       there (next file, next command). */
    uint64_t batch_ends;
    /* rows committed to a database output (-o or write DBNAME) so far, the
       count that stays whatever happens next; -1 when the output is no
       database */
    int64_t rows_committed;
    /* called after every batch written (progress display); may be NULL */
    void (*on_batch)(sl_run *run, void *ctx);
    void *on_batch_ctx;
    void *priv;            /* run internals */
    const sl_stage_type *reader; /* the input format's reader (merge
                              --sorted runs one per input) */
    char note[512];        /* a remark for the user, or "" (src/main.c
                              prints it on standard error unless -q) */
};

/* Build and execute the whole run.  Returns SL_OK or the (negative) code
   recorded in run->err.  inputs may be empty (stdin). */
int sl_run_execute(sl_run *run, const sl_options *opt, const char *const *inputs, size_t ninputs);
/* The same, on a run whose on_batch fields the caller has set (the rest of
   *run is overwritten). */
int sl_run_execute_cb(sl_run *run, const sl_options *opt, const char *const *inputs, size_t ninputs,
                      void (*on_batch)(sl_run *, void *), void *ctx);
/* Bytes read so far from all inputs (compressed size for compressed ones),
   and the total when every input is a regular file (else -1). */
uint64_t sl_run_bytes_read(const sl_run *run);
int64_t sl_run_bytes_total(const sl_run *run);
void sl_run_fini(sl_run *run);

/* A stage met a bad record (physical row `row` of b): apply the run's
   --on-error policy.  Returns SL_OK when the record is to be dropped (it was
   skipped or written to the reject file, and counted), or a negative code
   after recording the error with the record's position when the run must
   stop.  The message says what was wrong and what was expected. */
int sl_run_bad_record(sl_run *run, const sl_batch *b, uint32_t row, const char *stage,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* The same with the position of the bad value inside the record: line and
   1-based column (0 = unknown: the record's own line, no column). */
int sl_run_bad_record_at(sl_run *run, const sl_batch *b, uint32_t row, uint64_t line, uint64_t col,
                         const char *stage, const char *fmt, ...) __attribute__((format(printf, 7, 8)));

/* The memory budget (--memory-limit) that every stage holding records
   (sort, group, join, uniq, ...) draws from.  sl_run_mem_take() returns
   SL_OK, or SL_E_NOMEM without recording an error when the budget would be
   exceeded: the stage then spills to disk, or fails with a message saying
   how much it needed.  Give back what you took when you free it. */
int sl_run_mem_take(sl_run *run, uint64_t bytes);
void sl_run_mem_give(sl_run *run, uint64_t bytes);

/* Directory for temporary spill files: --temp-dir, else $TMPDIR, else /tmp. */
const char *sl_run_temp_dir(const sl_run *run);

/* Parse a size like "64M", "1.5G", "4096" (binary units). */
int sl_parse_size(const char *s, uint64_t *out);
/* Parse a duration of at least 1 ms: "2s", "500ms", "1.5m", "1h", "250us",
   or seconds, from s[0..n). */
int sl_parse_duration(const char *s, size_t n, uint64_t *ns);

#endif
