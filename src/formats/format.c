/* format.c - the format registry: one line per format. */
#include <string.h>

#include "formats/format.h"
#include "io/db.h"

static const char *const csv_exts[] = {".csv", NULL};
static const char *const tsv_exts[] = {".tsv", ".tab", NULL};
static const char *const ndjson_exts[] = {".ndjson", ".jsonl", ".json", NULL};
static const char *const lines_exts[] = {".txt", ".log", NULL};
static const char *const parquet_exts[] = {".parquet", NULL};

static const sl_format fmt_csv = {"csv", csv_exts, &sl_csv_reader_type, &sl_csv_writer_type};
static const sl_format fmt_tsv = {"tsv", tsv_exts, &sl_tsv_reader_type, &sl_tsv_writer_type};
static const sl_format fmt_ndjson = {"ndjson", ndjson_exts, &sl_ndjson_reader_type, &sl_ndjson_writer_type};
static const sl_format fmt_lines = {"lines", lines_exts, &sl_lines_reader_type, &sl_lines_writer_type};
static const sl_format fmt_parquet = {"parquet", parquet_exts, NULL, &sl_parquet_writer_type}; /* output only */
static const char *const no_exts[] = {NULL};
/* tables and queries of SQLite and PostgreSQL, chosen by the name's scheme */
static const sl_format fmt_db = {"database", no_exts, &sl_db_reader_type, &sl_db_writer_type};

const sl_format *const sl_formats[] = {&fmt_csv, &fmt_tsv, &fmt_ndjson, &fmt_lines, &fmt_parquet, &fmt_db, NULL};

const sl_format *sl_format_find(const char *name)
{
    if (!name)
        return NULL;
    if (strcmp(name, "jsonl") == 0 || strcmp(name, "json") == 0)
        name = "ndjson";
    for (int i = 0; sl_formats[i]; i++)
        if (strcmp(sl_formats[i]->name, name) == 0)
            return sl_formats[i];
    return NULL;
}

const sl_format *sl_format_for_path(const char *path)
{
    if (!path)
        return NULL;
    if (sl_db_is_name(path))
        return &fmt_db;
    size_t n = strlen(path);
    /* look through a compression suffix */
    if (n > 3 && strcmp(path + n - 3, ".gz") == 0)
        n -= 3;
    else if (n > 4 && strcmp(path + n - 4, ".zst") == 0)
        n -= 4;
    for (int i = 0; sl_formats[i]; i++)
        for (const char *const *e = sl_formats[i]->exts; *e; e++) {
            size_t k = strlen(*e);
            if (n > k && strncasecmp(path + n - k, *e, k) == 0)
                return sl_formats[i];
        }
    return NULL;
}
