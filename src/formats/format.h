/*
 * format.h - the registry of record formats (one file per format and
 * direction) and the shared reader plumbing.
 *
 * A reader is the first stage of the chain (an sl_stage_type).  It reads
 * run->inputs one after the other as one stream; each input is opened with
 * sl_source_open().  A writer is driven by the run loop: it formats batches
 * into bytes and hands them to the sink.
 */
#ifndef SLUICE_FORMAT_H
#define SLUICE_FORMAT_H

#include <stdbool.h>

#include "sluice/run.h"
#include "sluice/stage.h"

struct sl_sink;

typedef struct sl_writer sl_writer;
typedef struct sl_writer_type {
    const char *name;
    /* create: allocate state for writing to sink; no output yet */
    int (*create)(sl_writer *w);
    /* write the live rows of b */
    int (*write)(sl_writer *w, const sl_batch *b);
    /* end of data: write trailers, flush formatting buffers into the sink */
    int (*finish)(sl_writer *w);
    /* hand every complete record formatted so far to the sink (streaming
       input: records appear as they arrive); NULL = nothing buffered */
    int (*flush)(sl_writer *w);
    void (*destroy)(sl_writer *w);
    /* the format compresses its own data (Parquet pages): its sink is opened
       without compression, and --compress or a .gz/.zst output name is a
       usage error */
    bool self_compressing;
    /* the format has a header: when no record reached the writer, the run
       hands it one empty batch of the chain's schema (when known) */
    bool header_without_records;
    /* the writer writes to a target of its own (a database table) named by
       sl_writer.target: no sink is opened, and sink is NULL */
    bool own_target;
} sl_writer_type;

struct sl_writer {
    const sl_writer_type *type;
    sl_run *run;
    struct sl_sink *sink;
    const char *target;  /* the output name (-o, or write's PATH) */
    void *state;
    uint64_t records;
};

typedef struct sl_format {
    const char *name;            /* "csv", "tsv", "ndjson", "lines", "parquet" */
    const char *const *exts;     /* file name suffixes, NULL-terminated */
    const sl_stage_type *reader; /* NULL: sluice cannot read the format */
    const sl_writer_type *writer;
} sl_format;

extern const sl_format *const sl_formats[];
const sl_format *sl_format_find(const char *name);
/* Format from a file name (ignoring .gz/.zst), or NULL.  A database name
   (sqlite:..., postgres://...: io/db.h) gives the "database" format. */
const sl_format *sl_format_for_path(const char *path);

extern const sl_stage_type sl_csv_reader_type;
extern const sl_stage_type sl_tsv_reader_type;
extern const sl_stage_type sl_ndjson_reader_type;
extern const sl_stage_type sl_lines_reader_type;
/* the readers of `sluice merge`: partial files (partial_reader.c), and
   sorted files merged into one order (sorted_merge.c) */
extern const sl_stage_type sl_partial_reader_type;
extern const sl_stage_type sl_sorted_merge_type;
extern const sl_writer_type sl_csv_writer_type;
extern const sl_writer_type sl_tsv_writer_type;
extern const sl_writer_type sl_ndjson_writer_type;
extern const sl_writer_type sl_lines_writer_type;
extern const sl_writer_type sl_parquet_writer_type;
extern const sl_stage_type sl_db_reader_type;
extern const sl_writer_type sl_db_writer_type;   /* picks one of these two: */
extern const sl_writer_type sl_sqlite_writer_type;
extern const sl_writer_type sl_pg_writer_type;

/* Writers append bytes to a formatting buffer and hand it to the sink when
   it passes SL_WBUF_FLUSH bytes. */
#define SL_WBUF_FLUSH (128u * 1024u)

#endif
