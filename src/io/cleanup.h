/*
 * cleanup.h - paths to remove if the process is interrupted.
 *
 * Temporary output files and spill files register here while they exist.
 * sl_cleanup_run() is async-signal-safe: the signal handler in main.c calls
 * it and then _exit()s.  The table is fixed-size so that registering never
 * allocates.
 */
#ifndef SLUICE_CLEANUP_H
#define SLUICE_CLEANUP_H

int sl_cleanup_add(const char *path);    /* 0, or -1 when the table is full */
void sl_cleanup_remove(const char *path);
void sl_cleanup_run(void);               /* unlink every registered path */

#endif
