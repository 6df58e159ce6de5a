/* registry.c - every stage type, one line each. */
#include <string.h>

#include "sluice/stage.h"

extern const sl_stage_type sl_cat_stage_type;
extern const sl_stage_type sl_select_stage_type;
extern const sl_stage_type sl_drop_stage_type;
extern const sl_stage_type sl_rename_stage_type;
extern const sl_stage_type sl_head_stage_type;
extern const sl_stage_type sl_filter_stage_type;
extern const sl_stage_type sl_map_stage_type;
extern const sl_stage_type sl_sort_stage_type;
extern const sl_stage_type sl_group_stage_type;
extern const sl_stage_type sl_normalize_stage_type;
extern const sl_stage_type sl_batch_stage_type;
extern const sl_stage_type sl_write_stage_type;
extern const sl_stage_type sl_top_stage_type;
extern const sl_stage_type sl_uniq_stage_type;
extern const sl_stage_type sl_join_stage_type;
extern const sl_stage_type sl_require_stage_type;

const sl_stage_type *const sl_stage_types[] = {
    &sl_cat_stage_type,
    &sl_select_stage_type,
    &sl_drop_stage_type,
    &sl_rename_stage_type,
    &sl_head_stage_type,
    &sl_filter_stage_type,
    &sl_map_stage_type,
    &sl_sort_stage_type,
    &sl_group_stage_type,
    &sl_normalize_stage_type,
    &sl_batch_stage_type,
    &sl_write_stage_type,
    &sl_top_stage_type,
    &sl_uniq_stage_type,
    &sl_join_stage_type,
    &sl_require_stage_type,
    NULL,
};

const sl_stage_type *sl_stage_type_find(const char *name, size_t len)
{
    for (int i = 0; sl_stage_types[i]; i++)
        if (strlen(sl_stage_types[i]->name) == len && memcmp(sl_stage_types[i]->name, name, len) == 0)
            return sl_stage_types[i];
    return NULL;
}
