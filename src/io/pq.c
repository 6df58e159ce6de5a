/* pq.c - loading libpq on first use (see pq.h). */
#define SL_PQ_IMPL
#include "io/pq.h"

#include <dlfcn.h>
#include <stdio.h>

sl_pq_api sl_pq;

int sl_pq_load(char *msg, size_t cap)
{
    static int state; /* 0 not tried, 1 loaded, -1 failed */
    static char why[400];
    if (state == 0) {
        void *h = dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL);
        const char *missing = NULL;
        if (!h) {
            snprintf(why, sizeof why, "PostgreSQL needs libpq.so.5 (Debian package libpq5), which cannot be loaded: %s",
                     dlerror());
        } else {
#define SL_PQ_LOAD(f)                                                                                                 \
    if (!missing && !(*(void **)&sl_pq.f = dlsym(h, #f)))                                                         \
        missing = #f;
            SL_PQ_FUNCS(SL_PQ_LOAD)
#undef SL_PQ_LOAD
            if (missing)
                snprintf(why, sizeof why, "the libpq.so.5 found lacks %s (expected libpq 10 or later)", missing);
        }
        state = h && !missing ? 1 : -1;
    }
    if (state < 0) {
        snprintf(msg, cap, "%s", why);
        return -1;
    }
    return 0;
}
