/* proc.h — run a child process and collect its output. */
#ifndef KILN_UTIL_PROC_H
#define KILN_UTIL_PROC_H

#include "util/buf.h"

/* Runs argv[0] (searched in PATH) with argv, stdin from /dev/null, stdout and stderr
 * appended to *output (both; NULL: inherited). `nice_incr` > 0 lowers the child's
 * priority. Returns the exit status (0..255), 128+signal if killed, or -1 if it could
 * not be started (message in *output when given). */
int kiln_proc_run(const char *const *argv, kiln_buf *output, int nice_incr);

#endif
