/* guest_log.c — per-component log files of guest output (see guest_log.h). */
#include "exec/guest_log.h"
#include "util/buf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Opens DIR/COMPONENT_SUFFIX.txt for append; the descriptor or -1 (message in err). */
static int open_one(const char *dir, const char *component, const char *suffix, char *err,
                    size_t errlen)
{
    kiln_buf path = KILN_BUF_INIT;
    int fd = -1;
    if (kiln_buf_printf(&path, "%s/%s_%s.txt", dir, component, suffix) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    fd = open(path.data, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) snprintf(err, errlen, "%s: %s", path.data, strerror(errno));
    kiln_buf_free(&path);
    return fd;
}

int kiln_guest_log_open(kiln_guest_log *l, const char *dir, const char *component, char *err,
                        size_t errlen)
{
    l->out_fd = l->err_fd = -1;
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        return -1;
    }
    if (strchr(component, '/') || strcmp(component, "..") == 0) { /* ids are kebab-case */
        snprintf(err, errlen, "component id '%s' cannot name a log file", component);
        return -1;
    }
    l->out_fd = open_one(dir, component, "stdout", err, errlen);
    if (l->out_fd >= 0) l->err_fd = open_one(dir, component, "stderr", err, errlen);
    if (l->err_fd < 0) {
        kiln_guest_log_close(l);
        return -1;
    }
    return 0;
}

void kiln_guest_log_close(kiln_guest_log *l)
{
    if (l->out_fd >= 0) close(l->out_fd);
    if (l->err_fd >= 0) close(l->err_fd);
    l->out_fd = l->err_fd = -1;
}

int kiln_guest_log_lines(int fd, const char *prefix, const char *text, size_t len)
{
    if (!len) return 0;
    kiln_buf line = KILN_BUF_INIT;
    int rc = kiln_buf_puts(&line, prefix);
    for (size_t i = 0; i < len && rc == 0; i++) {
        unsigned char ch = (unsigned char)text[i];
        if (ch == '\n') {
            rc = kiln_buf_putc(&line, '\n');
            if (rc == 0 && i + 1 < len) rc = kiln_buf_puts(&line, prefix);
        } else if (ch == '\t' || (ch >= 0x20 && ch != 0x7f)) {
            rc = kiln_buf_putc(&line, (char)ch);
        } else {
            rc = kiln_buf_printf(&line, "\\x%02x", ch);
        }
    }
    if (rc == 0 && line.data[line.len - 1] != '\n') rc = kiln_buf_putc(&line, '\n');
    size_t off = 0;
    while (rc == 0 && off < line.len) {
        ssize_t n = write(fd, line.data + off, line.len - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0)
            rc = -1; /* the file or stderr gone: nothing better to do with it */
        else
            off += (size_t)n;
    }
    kiln_buf_free(&line);
    return rc;
}
