/*
 * thrift_compact.h - a writer for Thrift's compact protocol, the encoding of
 * Parquet's metadata (FileMetaData, PageHeader, ...).  Writing only: sluice
 * never reads Thrift.
 *
 * The encoding, as Parquet uses it:
 *
 *   integers      i16, i32, i64 are zigzag-encoded ((n << 1) ^ (n >> 63)),
 *                 then written as unsigned LEB128 varints
 *   binary        varint length, then the bytes (strings are UTF-8 binary)
 *   field         header byte (delta << 4) | type when the field id is 1..15
 *                 above the previous field's id in the same struct, else the
 *                 type byte then the id as a zigzag varint i16; booleans carry
 *                 their value in the type (1 = true, 2 = false) and no body
 *   struct        its fields, then a stop byte 0; a nested struct starts
 *                 counting field ids from 0 again
 *   list          header byte (size << 4) | element type when size < 15, else
 *                 0xF0 | element type then the size as a varint; then the
 *                 elements without field headers
 *
 * Usage: fields of the outermost struct are written directly; tc_struct_end()
 * ends it (writes its stop byte).  A struct field is opened with
 * tc_field_struct() and a struct element of a list with tc_struct_begin();
 * both are closed by tc_struct_end().  The caller writes the fields of each
 * struct in increasing id order, as Thrift writers do.
 *
 * Errors: running out of memory sets out.oom (see bytebuf.h); nesting deeper
 * than TC_MAX_DEPTH sets `bad`.  Check tc_ok() once at the end.
 */
#ifndef SLUICE_THRIFT_COMPACT_H
#define SLUICE_THRIFT_COMPACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "formats/bytebuf.h"

/* compact-protocol type codes */
enum {
    TC_STOP = 0,
    TC_TRUE = 1,
    TC_FALSE = 2,
    TC_BYTE = 3,
    TC_I16 = 4,
    TC_I32 = 5,
    TC_I64 = 6,
    TC_DOUBLE = 7,
    TC_BINARY = 8,
    TC_LIST = 9,
    TC_SET = 10,
    TC_MAP = 11,
    TC_STRUCT = 12
};

#define TC_MAX_DEPTH 16

typedef struct tc_writer {
    bytebuf out;                  /* the encoded bytes (owned) */
    int16_t last[TC_MAX_DEPTH];   /* last field id per open struct */
    int depth;                    /* index of the innermost open struct */
    bool bad;                     /* nesting error */
} tc_writer;

/* Start (or restart) writing, keeping out's memory. */
void tc_reset(tc_writer *w);
void tc_free(tc_writer *w);
static inline bool tc_ok(const tc_writer *w) { return !w->bad && bb_ok(&w->out); }

/* zigzag for i16/i32/i64 */
static inline uint64_t tc_zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }

void tc_field_bool(tc_writer *w, int16_t id, bool v);
void tc_field_i8(tc_writer *w, int16_t id, int8_t v);
void tc_field_i16(tc_writer *w, int16_t id, int16_t v);
void tc_field_i32(tc_writer *w, int16_t id, int32_t v);
void tc_field_i64(tc_writer *w, int16_t id, int64_t v);
void tc_field_binary(tc_writer *w, int16_t id, const void *p, size_t n);
void tc_field_string(tc_writer *w, int16_t id, const char *s); /* NUL-terminated */
/* Open a struct-valued field; close it with tc_struct_end(). */
void tc_field_struct(tc_writer *w, int16_t id);
/* A list field of n elements of type elem; then write the n elements. */
void tc_field_list(tc_writer *w, int16_t id, uint8_t elem, uint32_t n);

/* list elements */
void tc_elem_i32(tc_writer *w, int32_t v);
void tc_elem_binary(tc_writer *w, const void *p, size_t n);
void tc_struct_begin(tc_writer *w);
/* Write the stop byte of the innermost struct and close it. */
void tc_struct_end(tc_writer *w);

#endif
