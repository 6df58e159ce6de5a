/* cleanup.c - fixed table of paths to unlink on a fatal signal. */
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "io/cleanup.h"

#define MAX_PATHS 256
#define MAX_LEN 4096

static char paths[MAX_PATHS][MAX_LEN];
static volatile sig_atomic_t used[MAX_PATHS];

int sl_cleanup_add(const char *path)
{
    size_t n = strlen(path);
    if (n >= MAX_LEN)
        return -1;
    for (int i = 0; i < MAX_PATHS; i++) {
        if (!used[i]) {
            memcpy(paths[i], path, n + 1);
            used[i] = 1;
            return 0;
        }
    }
    return -1;
}

void sl_cleanup_remove(const char *path)
{
    for (int i = 0; i < MAX_PATHS; i++)
        if (used[i] && strcmp(paths[i], path) == 0) {
            used[i] = 0;
            return;
        }
}

void sl_cleanup_run(void)
{
    for (int i = 0; i < MAX_PATHS; i++)
        if (used[i])
            unlink(paths[i]);
}
