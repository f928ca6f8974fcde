/* file.h — whole-buffer reads and writes on file descriptors (EINTR and short transfers
 * handled in one place). */
#ifndef KILN_UTIL_FILE_H
#define KILN_UTIL_FILE_H

#include <stddef.h>

#include "util/buf.h"

/* Writes all len bytes. 0, or -1 with errno set. */
int kiln_write_all(int fd, const void *data, size_t len);
/* Appends everything up to end of file to *out. 0, or -1 with errno set (ENOMEM when the
 * buffer cannot grow). */
int kiln_read_all(int fd, kiln_buf *out);
/* Creates or truncates path (mode 0600) and writes data to it. 0 or -1 (errno set). */
int kiln_write_file(const char *path, const void *data, size_t len);
/* Appends the contents of path to *out. 0 or -1 (errno set). */
int kiln_read_file(const char *path, kiln_buf *out);

#endif
