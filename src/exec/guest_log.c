/* guest_log.c — per-component log files of guest output (see guest_log.h). */
#include "exec/guest_log.h"
#include "util/alloc.h"
#include "util/buf.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
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
    l->tee[0] = l->tee[1] = NULL;
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

/* One stream's tee: the pipe's read end, copied to the file and the terminal. */
struct kiln_guest_log_tee_t {
    int rd, file_fd, term_fd;
    pthread_t thread;
};

/* Writes all n bytes to fd; 0 or -1. */
static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* The tee's thread: until every write end is closed, what comes out of the pipe goes to
 * the file and to the terminal (a terminal gone does not stop the file's copy). */
static void *tee_run(void *arg)
{
    kiln_guest_log_tee_t *t = arg;
    char chunk[8192];
    for (;;) {
        ssize_t n = read(t->rd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        write_all(t->file_fd, chunk, (size_t)n);
        write_all(t->term_fd, chunk, (size_t)n);
    }
    return NULL;
}

/* Ends tee t: its write end wr is closed, the thread drains the pipe and is joined. */
static void tee_end(kiln_guest_log_tee_t *t, int wr)
{
    if (wr >= 0) close(wr);
    pthread_join(t->thread, NULL);
    close(t->rd);
    if (t->file_fd >= 0) close(t->file_fd);
    kiln_free(t);
}

/* Starts a tee of *fd (a file) to term_fd: *fd becomes the pipe's write end. NULL with err. */
static kiln_guest_log_tee_t *tee_start(int *fd, int term_fd, char *err, size_t errlen)
{
    kiln_guest_log_tee_t *t = kiln_calloc(1, sizeof *t);
    int p[2];
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (pipe2(p, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        kiln_free(t);
        return NULL;
    }
    t->rd = p[0];
    t->file_fd = *fd;
    t->term_fd = term_fd;
    int rc = pthread_create(&t->thread, NULL, tee_run, t);
    if (rc != 0) {
        snprintf(err, errlen, "pthread_create: %s", strerror(rc));
        close(p[0]);
        close(p[1]);
        kiln_free(t);
        return NULL;
    }
    *fd = p[1];
    return t;
}

int kiln_guest_log_tee(kiln_guest_log *l, int term_fd, char *err, size_t errlen)
{
    if (l->out_fd < 0 || l->err_fd < 0 || l->tee[0]) {
        snprintf(err, errlen, "no log files to copy");
        return -1;
    }
    if (!(l->tee[0] = tee_start(&l->out_fd, term_fd, err, errlen))) return -1;
    if (!(l->tee[1] = tee_start(&l->err_fd, term_fd, err, errlen))) {
        int file = l->tee[0]->file_fd;
        l->tee[0]->file_fd = -1; /* the file stays l's */
        tee_end(l->tee[0], l->out_fd);
        l->tee[0] = NULL;
        l->out_fd = file;
        return -1;
    }
    return 0;
}

void kiln_guest_log_close(kiln_guest_log *l)
{
    int *fd[2] = {&l->out_fd, &l->err_fd};
    for (int i = 0; i < 2; i++) {
        if (l->tee[i])
            tee_end(l->tee[i], *fd[i]); /* closes the write end and the file */
        else if (*fd[i] >= 0)
            close(*fd[i]);
        l->tee[i] = NULL;
        *fd[i] = -1;
    }
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
