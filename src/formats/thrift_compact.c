/* thrift_compact.c - Thrift compact protocol writer (see thrift_compact.h). */
#include <string.h>

#include "formats/thrift_compact.h"

void tc_reset(tc_writer *w)
{
    bb_clear(&w->out);
    w->depth = 0;
    w->last[0] = 0;
    w->bad = false;
}

void tc_free(tc_writer *w)
{
    bb_free(&w->out);
    w->depth = 0;
    w->last[0] = 0;
    w->bad = false;
}

static void field_header(tc_writer *w, int16_t id, uint8_t type)
{
    int delta = (int)id - (int)w->last[w->depth];
    if (delta > 0 && delta <= 15) {
        bb_byte(&w->out, (uint8_t)((delta << 4) | type));
    } else {
        bb_byte(&w->out, type);
        bb_varint(&w->out, tc_zigzag(id));
    }
    w->last[w->depth] = id;
}

void tc_field_bool(tc_writer *w, int16_t id, bool v) { field_header(w, id, v ? TC_TRUE : TC_FALSE); }

void tc_field_i8(tc_writer *w, int16_t id, int8_t v)
{
    field_header(w, id, TC_BYTE);
    bb_byte(&w->out, (uint8_t)v);
}

void tc_field_i16(tc_writer *w, int16_t id, int16_t v)
{
    field_header(w, id, TC_I16);
    bb_varint(&w->out, tc_zigzag(v));
}

void tc_field_i32(tc_writer *w, int16_t id, int32_t v)
{
    field_header(w, id, TC_I32);
    bb_varint(&w->out, tc_zigzag(v));
}

void tc_field_i64(tc_writer *w, int16_t id, int64_t v)
{
    field_header(w, id, TC_I64);
    bb_varint(&w->out, tc_zigzag(v));
}

void tc_field_binary(tc_writer *w, int16_t id, const void *p, size_t n)
{
    field_header(w, id, TC_BINARY);
    tc_elem_binary(w, p, n);
}

void tc_field_string(tc_writer *w, int16_t id, const char *s) { tc_field_binary(w, id, s, strlen(s)); }

void tc_struct_begin(tc_writer *w)
{
    if (w->depth + 1 >= TC_MAX_DEPTH) {
        w->bad = true;
        return;
    }
    w->last[++w->depth] = 0;
}

void tc_field_struct(tc_writer *w, int16_t id)
{
    field_header(w, id, TC_STRUCT);
    tc_struct_begin(w);
}

void tc_struct_end(tc_writer *w)
{
    bb_byte(&w->out, TC_STOP);
    if (w->depth > 0)
        w->depth--;
}

void tc_field_list(tc_writer *w, int16_t id, uint8_t elem, uint32_t n)
{
    field_header(w, id, TC_LIST);
    if (n < 15) {
        bb_byte(&w->out, (uint8_t)((n << 4) | elem));
    } else {
        bb_byte(&w->out, (uint8_t)(0xF0 | elem));
        bb_varint(&w->out, n);
    }
}

void tc_elem_i32(tc_writer *w, int32_t v) { bb_varint(&w->out, tc_zigzag(v)); }

void tc_elem_binary(tc_writer *w, const void *p, size_t n)
{
    bb_varint(&w->out, n);
    bb_put(&w->out, p, n);
}
