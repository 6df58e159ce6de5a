/* batch.c - schemas and batches. */
#include <stdlib.h>
#include <string.h>

#include "sluice/batch.h"
#include "sluice/error.h"

static uint64_t schema_next_id = 1;

sl_schema *sl_schema_new(uint32_t ncols, const char *const *names, const uint32_t *lens)
{
    sl_schema *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->id = schema_next_id++;
    s->refs = 1;
    s->ncols = ncols;
    s->names = calloc(ncols ? ncols : 1, sizeof *s->names);
    s->name_len = calloc(ncols ? ncols : 1, sizeof *s->name_len);
    if (!s->names || !s->name_len)
        goto oom;
    for (uint32_t i = 0; i < ncols; i++) {
        size_t n = lens ? lens[i] : strlen(names[i]);
        s->names[i] = malloc(n + 1);
        if (!s->names[i])
            goto oom;
        memcpy(s->names[i], names[i], n);
        s->names[i][n] = 0;
        s->name_len[i] = (uint32_t)n;
    }
    return s;
oom:
    sl_schema_unref(s);
    return NULL;
}

sl_schema *sl_schema_ref(sl_schema *s)
{
    if (s)
        s->refs++;
    return s;
}

void sl_schema_unref(sl_schema *s)
{
    if (!s || --s->refs > 0)
        return;
    if (s->names)
        for (uint32_t i = 0; i < s->ncols; i++)
            free(s->names[i]);
    free(s->names);
    free(s->name_len);
    free(s);
}

int sl_schema_find(const sl_schema *s, const char *name, size_t len)
{
    for (uint32_t i = 0; i < s->ncols; i++)
        if (s->name_len[i] == len && memcmp(s->names[i], name, len) == 0)
            return (int)i;
    return -1;
}

bool sl_schema_same_names(const sl_schema *a, const sl_schema *b)
{
    if (a == b)
        return true;
    if (!a || !b || a->ncols != b->ncols)
        return false;
    for (uint32_t i = 0; i < a->ncols; i++)
        if (a->name_len[i] != b->name_len[i] || memcmp(a->names[i], b->names[i], a->name_len[i]))
            return false;
    return true;
}

int sl_batch_init(sl_batch *b, uint32_t cap_rows, uint32_t stride, size_t arena_limit)
{
    memset(b, 0, sizeof *b);
    if (cap_rows == 0)
        cap_rows = 1;
    if (stride == 0)
        stride = 1;
    b->cap_rows = cap_rows;
    b->stride = stride;
    if ((uint64_t)cap_rows * stride > SL_BATCH_MAX_CELLS) {
        b->cap_rows = SL_BATCH_MAX_CELLS / stride;
        if (b->cap_rows == 0)
            b->cap_rows = 1;
    }
    b->cap_cells = b->cap_rows * stride;
    b->cells = malloc((size_t)b->cap_cells * sizeof *b->cells);
    b->info = malloc((size_t)cap_rows * sizeof *b->info);
    sl_arena_init(&b->arena, 256 * 1024, arena_limit);
    if (!b->cells || !b->info)
        return SL_E_NOMEM;
    b->rows_cfg = cap_rows;
    return SL_OK;
}

void sl_batch_fini(sl_batch *b)
{
    if (b->schema)
        sl_schema_unref(b->schema);
    free(b->cells);
    free(b->info);
    free(b->sel);
    sl_arena_fini(&b->arena);
    memset(b, 0, sizeof *b);
}

void sl_batch_set_schema(sl_batch *b, sl_schema *schema)
{
    if (schema)
        sl_schema_ref(schema);
    if (b->schema)
        sl_schema_unref(b->schema);
    b->schema = schema;
}

int sl_batch_reset(sl_batch *b, sl_schema *schema, uint32_t stride)
{
    sl_arena_reset(&b->arena);
    return sl_batch_reshape(b, schema, stride);
}

int sl_batch_reshape(sl_batch *b, sl_schema *schema, uint32_t stride)
{
    if (stride == 0)
        stride = 1;
    b->nrows = 0;
    b->nsel = 0;
    b->has_sel = false;
    b->colmap = NULL;
    b->dnum = NULL;
    b->parsed = NULL;
    if (stride != b->stride) {
        /* a wide schema gets fewer rows, so that no batch exceeds the cell
           budget; rows never exceed the configured capacity (size of info) */
        uint32_t rows = b->rows_cfg;
        if ((uint64_t)rows * stride > SL_BATCH_MAX_CELLS) {
            rows = SL_BATCH_MAX_CELLS / stride;
            if (rows == 0)
                rows = 1;
        }
        if ((uint64_t)rows * stride > b->cap_cells) {
            sl_cell *c = realloc(b->cells, (size_t)rows * stride * sizeof *c);
            if (!c)
                return SL_E_NOMEM;
            b->cells = c;
            b->cap_cells = rows * stride;
        }
        b->stride = stride;
        b->cap_rows = rows;
    }
    sl_batch_set_schema(b, schema);
    return SL_OK;
}

int sl_batch_ensure_sel(sl_batch *b)
{
    if (b->has_sel)
        return SL_OK;
    if (b->sel_cap < b->nrows) {
        uint32_t cap = b->nrows > 1024 ? b->nrows : 1024;
        uint32_t *s = realloc(b->sel, (size_t)cap * sizeof *s);
        if (!s)
            return SL_E_NOMEM;
        b->sel = s;
        b->sel_cap = cap;
    }
    for (uint32_t i = 0; i < b->nrows; i++)
        b->sel[i] = i;
    b->nsel = b->nrows;
    b->has_sel = true;
    return SL_OK;
}

int sl_batch_view(sl_batch *view, const sl_batch *in)
{
    uint32_t *sel = view->sel, cap = view->sel_cap;
    *view = *in;
    view->arena = (sl_arena){0};
    view->sel = sel;
    view->sel_cap = cap;
    if (in->has_sel) {
        if (cap < in->nsel) {
            uint32_t ncap = in->nsel > 1024 ? in->nsel : 1024;
            uint32_t *ns = realloc(view->sel, (size_t)ncap * sizeof *ns);
            if (!ns)
                return SL_E_NOMEM;
            view->sel = ns;
            view->sel_cap = ncap;
        }
        memcpy(view->sel, in->sel, (size_t)in->nsel * sizeof *in->sel);
    }
    return SL_OK;
}

void sl_batch_view_fini(sl_batch *view)
{
    free(view->sel);
    view->sel = NULL;
    view->sel_cap = 0;
}
