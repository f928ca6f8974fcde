/* beneath.c — path resolution confined beneath a directory fd (beneath.h), shared by the
 * WASI preview1 (wasi_path.c) and WASI 0.2 (wasip2/filesystem.c) hosts.
 *
 * With openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS) when the kernel has it, else
 * component by component with O_NOFOLLOW, expanding symlinks ourselves and keeping a stack
 * of directory fds (so ".." can never climb above the starting directory, even when
 * directories are renamed concurrently). An escape is EXDEV. */
#include "host/beneath.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/buf.h"

/* Symlinks expanded per resolution before ELOOP (like Linux). */
#define WASI_MAX_SYMLINKS 40
/* Directory depth of the component-wise resolver's fd stack. */
#define WASI_MAX_DEPTH 256

/* Reads a symlink into a new string; NULL with errno set on failure. */
char *kiln_beneath_readlink(int dirfd, const char *name)
{
    size_t cap = 256;
    for (;;) {
        char *b = kiln_malloc(cap);
        if (!b) {
            errno = ENOMEM;
            return NULL;
        }
        ssize_t n = readlinkat(dirfd, name, b, cap);
        if (n < 0) {
            int e = errno;
            kiln_free(b);
            errno = e;
            return NULL;
        }
        if ((size_t)n < cap) {
            b[n] = '\0';
            return b;
        }
        kiln_free(b);
        if (cap > 65536) {
            errno = ENAMETOOLONG;
            return NULL;
        }
        cap *= 2;
    }
}

/* The component-wise resolver (no openat2): opens `path` beneath dirfd with `flags`.
 * Returns an fd or -errno. O_NOFOLLOW in flags: the last component is not followed. */
static int walk_open(int dirfd, const char *path, int flags, mode_t mode)
{
    int stack[WASI_MAX_DEPTH];
    int depth = 0, links = 0, rc = -EINVAL;
    stack[0] = dirfd;
    kiln_buf rest = KILN_BUF_INIT;
    if (path[0] == '/') return -EXDEV;
    if (kiln_buf_puts(&rest, path) < 0) return -ENOMEM;
    size_t pos = 0;
    for (;;) {
        const char *s = rest.data ? rest.data : "";
        while (s[pos] == '/')
            pos++;
        size_t end = pos;
        while (s[end] && s[end] != '/')
            end++;
        size_t after = end;
        while (s[after] == '/')
            after++;
        int last = s[after] == '\0';
        int slash = after > end; /* a trailing slash after the last component */
        /* An empty component is only possible for an empty path: ".". */
        char *comp = end > pos ? kiln_strndup(s + pos, end - pos) : kiln_strdup(".");
        if (!comp) {
            rc = -ENOMEM;
            break;
        }
        int cur = stack[depth];
        if (strcmp(comp, "..") == 0) {
            kiln_free(comp);
            if (depth == 0) {
                rc = -EXDEV;
                break;
            }
            close(stack[depth--]);
            if (last) {
                rc = openat(stack[depth], ".", flags & ~(O_CREAT | O_EXCL | O_NOFOLLOW), mode);
                rc = rc < 0 ? -errno : rc;
                break;
            }
            pos = after;
            continue;
        }
        if (strcmp(comp, ".") == 0 && !last) {
            kiln_free(comp);
            pos = after;
            continue;
        }
        /* Is this component a symlink that we must expand? */
        int follow = !last || slash || !(flags & O_NOFOLLOW);
        if ((flags & O_CREAT) && (flags & O_EXCL) && last) follow = 0;
        struct stat st;
        int have = fstatat(cur, comp, &st, AT_SYMLINK_NOFOLLOW) == 0;
        if (!have && errno != ENOENT) {
            rc = -errno;
            kiln_free(comp);
            break;
        }
        if (have && S_ISLNK(st.st_mode) && follow) {
            if (++links > WASI_MAX_SYMLINKS) {
                kiln_free(comp);
                rc = -ELOOP;
                break;
            }
            char *target = kiln_beneath_readlink(cur, comp);
            kiln_free(comp);
            if (!target) {
                rc = -errno;
                break;
            }
            if (target[0] == '/') {
                kiln_free(target);
                rc = -EXDEV;
                break;
            }
            kiln_buf nb = KILN_BUF_INIT;
            int bad = kiln_buf_puts(&nb, target) < 0;
            if (!bad && (slash || s[after] != '\0'))
                bad = kiln_buf_putc(&nb, '/') < 0 || kiln_buf_puts(&nb, s + after) < 0;
            kiln_free(target);
            if (bad) {
                kiln_buf_free(&nb);
                rc = -ENOMEM;
                break;
            }
            kiln_buf_free(&rest);
            rest = nb;
            pos = 0;
            continue;
        }
        if (last) {
            int fl = flags | O_NOFOLLOW;
            if (slash) fl |= O_DIRECTORY;
            rc = openat(cur, comp, fl, mode);
            rc = rc < 0 ? -errno : rc;
            kiln_free(comp);
            break;
        }
        if (!have) {
            kiln_free(comp);
            rc = -ENOENT;
            break;
        }
        if (!S_ISDIR(st.st_mode)) {
            kiln_free(comp);
            rc = -ENOTDIR;
            break;
        }
        if (depth + 1 >= WASI_MAX_DEPTH) {
            kiln_free(comp);
            rc = -ENAMETOOLONG;
            break;
        }
        int nfd = openat(cur, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        kiln_free(comp);
        if (nfd < 0) {
            rc = -errno;
            break;
        }
        stack[++depth] = nfd;
        pos = after;
    }
    while (depth > 0)
        close(stack[depth--]);
    kiln_buf_free(&rest);
    return rc;
}

int kiln_beneath_open(int *no_openat2, int dirfd, const char *path, int flags, mode_t mode)
{
    if (!*no_openat2) {
        struct open_how how;
        memset(&how, 0, sizeof how);
        how.flags = (uint64_t)(unsigned)flags;
        how.mode = (flags & O_CREAT) ? mode : 0;
        how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
        for (int tries = 0; tries < 16; tries++) {
            long r = syscall(SYS_openat2, dirfd, path, &how, sizeof how);
            if (r >= 0) return (int)r;
            if (errno == EAGAIN || errno == EINTR) continue; /* a concurrent rename: retry */
            if (errno != ENOSYS) return -errno;
            *no_openat2 = 1;
            break;
        }
        if (!*no_openat2) return -EAGAIN;
    }
    return walk_open(dirfd, path, flags, mode);
}

void kiln_beneath_parent_free(kiln_beneath_parent *p)
{
    if (p->owned && p->fd >= 0) close(p->fd);
    kiln_free(p->path);
    memset(p, 0, sizeof *p);
    p->fd = -1;
}

int kiln_beneath_resolve_parent(int *no_openat2, int dirfd, const char *path,
                                kiln_beneath_parent *out)
{
    memset(out, 0, sizeof *out);
    out->fd = -1;
    size_t n = strlen(path);
    if (n == 0) return -ENOENT;
    if (path[0] == '/') return -EXDEV;
    if (!(out->path = kiln_strdup(path))) return -ENOMEM;
    char *p = out->path;
    size_t end = n;
    while (end > 0 && p[end - 1] == '/')
        end--;
    size_t start = end;
    while (start > 0 && p[start - 1] != '/')
        start--;
    out->slash = end < n;
    size_t blen = end - start;
    int dots =
        (blen == 1 && p[start] == '.') || (blen == 2 && p[start] == '.' && p[start + 1] == '.');
    if (dots || out->slash) {
        /* "x/.." or "dir/": make sure the whole path stays beneath the directory. */
        int t = kiln_beneath_open(no_openat2, dirfd, p, O_PATH | O_CLOEXEC, 0);
        if (t >= 0)
            close(t);
        else if (t == -EXDEV || t == -ELOOP) {
            kiln_beneath_parent_free(out);
            return t;
        }
    }
    out->name = p + start;
    if (start == 0) {
        out->fd = dirfd;
        return 0;
    }
    char save = p[start];
    p[start] = '\0';
    int r = kiln_beneath_open(no_openat2, dirfd, p, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
    p[start] = save;
    if (r < 0) {
        kiln_beneath_parent_free(out);
        return r;
    }
    out->fd = r;
    out->owned = 1;
    return 0;
}
