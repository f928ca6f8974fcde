/* proc.h — run a child process and collect its output. */
#ifndef KILN_UTIL_PROC_H
#define KILN_UTIL_PROC_H

#include "util/buf.h"

/* Runs argv[0] (searched in PATH) with argv, stdin from /dev/null, stdout and stderr
 * appended to *output (both; NULL: inherited). `nice_incr` > 0 lowers the child's
 * priority. Returns the exit status (0..255), 128+signal if killed, or -1 if it could
 * not be started (message in *output when given). */
int kiln_proc_run(const char *const *argv, kiln_buf *output, int nice_incr);

/* Cancels every child process of kiln_proc_run, now and from now on (process-wide; for
 * shutdown): a running child is killed with its process group (each child runs in a
 * group of its own, so that a compiler's own children go too) and kiln_proc_run returns
 * -1 with "cancelled" in *output; later calls return -1 at once. Thread-safe and
 * async-signal-safe. Polling granularity: 20 ms. */
void kiln_proc_cancel_all(void);
/* 1 once kiln_proc_cancel_all was called. */
int kiln_proc_cancelled(void);

#endif
