/* file.c — whole-buffer reads and writes (see file.h). */
#include "util/file.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

int kiln_write_all(int fd, const void *data, size_t len)
{
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, (const char *)data + off, len - off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -1;
        if (n == 0) {
            errno = EIO;
            return -1;
        }
        off += (size_t)n;
    }
    return 0;
}

int kiln_read_all(int fd, kiln_buf *out)
{
    char chunk[65536];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -1;
        if (n == 0) return 0;
        if (kiln_buf_append(out, chunk, (size_t)n) < 0) {
            errno = ENOMEM;
            return -1;
        }
    }
}

int kiln_write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return -1;
    if (kiln_write_all(fd, data, len) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return close(fd);
}

int kiln_read_file(const char *path, kiln_buf *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = kiln_read_all(fd, out);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}
