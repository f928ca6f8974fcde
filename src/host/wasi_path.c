/* wasi_path.c — sandboxed path resolution and the path_* functions of WASI preview1.
 *
 * Every path is resolved beneath a directory fd of the guest (a preopen or a directory
 * opened from one): with openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS) when the kernel
 * has it, else component by component with O_NOFOLLOW, expanding symlinks ourselves and
 * keeping a stack of directory fds (so ".." can never climb above the starting directory,
 * even when directories are renamed concurrently). An escape answers ENOTCAPABLE.
 *
 * Operations on the last component (unlink, rmdir, rename, link, symlink, readlink,
 * lstat, mkdir) resolve the parent directory beneath the guest's fd and then act with a
 * *at() call on the final name, which the kernel does not follow. */
#include "host/wasi_internal.h"
#include "host/beneath.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/alloc.h"

/* Copies a guest path into a NUL-terminated host string; EILSEQ on an embedded NUL. */
uint32_t wasi_path_copy(kiln_wasi *w, uint32_t ptr, uint32_t len, char **out)
{
    *out = NULL;
    const uint8_t *p = wasi_mem(w, ptr, len);
    if (!p) return WE_FAULT;
    if (memchr(p, 0, len)) return WE_ILSEQ;
    *out = kiln_strndup((const char *)p, len);
    return *out ? WE_SUCCESS : WE_NOMEM;
}

/* Converts an errno of path resolution: EXDEV (escape) becomes ENOTCAPABLE. */
static uint32_t path_errno(int e)
{
    return e == EXDEV ? WE_NOTCAPABLE : wasi_errno(e);
}

/* A directory fd of the guest for path operations. */
static uint32_t dir_fd(kiln_wasi *w, uint32_t fd, int writing, wasi_fd **out)
{
    wasi_fd *f = wasi_fd_get(w, fd);
    if (!f) return WE_BADF;
    if (f->filetype != WF_DIRECTORY || f->kind != WFK_HOST) return WE_NOTDIR;
    if (writing && f->readonly) return WE_ROFS;
    *out = f;
    return WE_SUCCESS;
}

/* The parent of a path's last component, resolved beneath a guest directory. */
typedef struct wasi_parent {
    kiln_beneath_parent b;
    int fd;     /* b.fd: the parent directory */
    char *name; /* b.name: the last component, with its trailing slashes */
    int slash;  /* b.slash: name has trailing slashes */
    wasi_fd *dir;
} wasi_parent;

static void parent_free(wasi_parent *p)
{
    kiln_beneath_parent_free(&p->b);
}

/* Resolves the parent of the last component of a guest path beneath guest dir fd. */
static uint32_t parent_get(kiln_wasi *w, uint32_t fd, uint32_t ptr, uint32_t len, int writing,
                           wasi_parent *out)
{
    memset(out, 0, sizeof *out);
    out->b.fd = -1;
    uint32_t e = dir_fd(w, fd, writing, &out->dir);
    if (e) return e;
    char *path;
    if ((e = wasi_path_copy(w, ptr, len, &path))) return e;
    int r = kiln_beneath_resolve_parent(&w->no_openat2, out->dir->hostfd, path, &out->b);
    kiln_free(path);
    if (r < 0) return path_errno(-r);
    out->fd = out->b.fd;
    out->name = out->b.name;
    out->slash = out->b.slash;
    return WE_SUCCESS;
}

/* Opens the whole path beneath a guest directory as O_PATH (following symlinks when
 * follow), for stat and set-times. fd or -errno via *err. */
static int path_fd(kiln_wasi *w, wasi_fd *d, const char *path, int follow, uint32_t *err)
{
    if (path[0] == '\0') {
        *err = WE_NOENT;
        return -1;
    }
    int r = kiln_beneath_open(&w->no_openat2, d->hostfd, path,
                              O_PATH | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW), 0);
    if (r < 0) {
        *err = path_errno(-r);
        return -1;
    }
    return r;
}

uint32_t wasi_path_create_directory(void *ctx, uint32_t fd, uint32_t path, uint32_t len)
{
    wasi_parent p;
    uint32_t e = parent_get(ctx, fd, path, len, 1, &p);
    if (e) return e;
    if (mkdirat(p.fd, p.name, 0777) < 0) e = wasi_errno(errno);
    parent_free(&p);
    return e;
}

uint32_t wasi_path_remove_directory(void *ctx, uint32_t fd, uint32_t path, uint32_t len)
{
    wasi_parent p;
    uint32_t e = parent_get(ctx, fd, path, len, 1, &p);
    if (e) return e;
    if (unlinkat(p.fd, p.name, AT_REMOVEDIR) < 0)
        e = errno == EEXIST ? WE_NOTEMPTY : wasi_errno(errno);
    parent_free(&p);
    return e;
}

uint32_t wasi_path_unlink_file(void *ctx, uint32_t fd, uint32_t path, uint32_t len)
{
    wasi_parent p;
    uint32_t e = parent_get(ctx, fd, path, len, 1, &p);
    if (e) return e;
    if (unlinkat(p.fd, p.name, 0) < 0) e = wasi_errno(errno);
    parent_free(&p);
    return e;
}

uint32_t wasi_path_symlink(void *ctx, uint32_t opath, uint32_t olen, uint32_t fd, uint32_t npath,
                           uint32_t nlen)
{
    kiln_wasi *w = ctx;
    char *target;
    uint32_t e = wasi_path_copy(w, opath, olen, &target);
    if (e) return e;
    wasi_parent p;
    if ((e = parent_get(w, fd, npath, nlen, 1, &p))) {
        kiln_free(target);
        return e;
    }
    if (target[0] == '/')
        e = WE_NOTCAPABLE; /* would point outside the sandbox */
    else if (p.slash)
        e = WE_NOENT; /* "link/" names a directory that does not exist */
    else if (symlinkat(target, p.fd, p.name) < 0)
        e = wasi_errno(errno);
    kiln_free(target);
    parent_free(&p);
    return e;
}

uint32_t wasi_path_readlink(void *ctx, uint32_t fd, uint32_t path, uint32_t len, uint32_t buf,
                            uint32_t buf_len, uint32_t used)
{
    kiln_wasi *w = ctx;
    uint8_t *out = wasi_mem(w, buf, buf_len);
    if (!out || !wasi_mem(w, used, 4)) return WE_FAULT;
    wasi_parent p;
    uint32_t e = parent_get(w, fd, path, len, 0, &p);
    if (e) return e;
    char *t = kiln_beneath_readlink(p.fd, p.name);
    if (!t) {
        e = wasi_errno(errno);
    } else {
        size_t n = strlen(t);
        if (n > buf_len) n = buf_len;
        memcpy(out, t, n);
        kiln_free(t);
        e = wasi_put32(w, used, (uint32_t)n);
    }
    parent_free(&p);
    return e;
}

uint32_t wasi_path_filestat_get(void *ctx, uint32_t fd, uint32_t flags, uint32_t path, uint32_t len,
                                uint32_t out)
{
    kiln_wasi *w = ctx;
    uint8_t *o = wasi_mem(w, out, 64);
    if (!o) return WE_FAULT;
    wasi_fd *d;
    uint32_t e = dir_fd(w, fd, 0, &d);
    if (e) return e;
    char *s;
    if ((e = wasi_path_copy(w, path, len, &s))) return e;
    int t = path_fd(w, d, s, (flags & WL_SYMLINK_FOLLOW) != 0, &e);
    kiln_free(s);
    if (t < 0) return e;
    struct stat st;
    if (fstat(t, &st) < 0)
        e = wasi_errno(errno);
    else
        wasi_write_filestat(o, &st);
    close(t);
    return e;
}

uint32_t wasi_path_filestat_set_times(void *ctx, uint32_t fd, uint32_t flags, uint32_t path,
                                      uint32_t len, uint64_t atim, uint64_t mtim, uint32_t fst)
{
    kiln_wasi *w = ctx;
    struct timespec ts[2];
    uint32_t e = wasi_times(atim, mtim, fst, ts);
    if (e) return e;
    wasi_fd *d;
    if ((e = dir_fd(w, fd, 1, &d))) return e;
    if (flags & WL_SYMLINK_FOLLOW) {
        char *s;
        if ((e = wasi_path_copy(w, path, len, &s))) return e;
        int t = path_fd(w, d, s, 1, &e);
        kiln_free(s);
        if (t < 0) return e;
        if (utimensat(t, "", ts, AT_EMPTY_PATH) < 0) e = wasi_errno(errno);
        close(t);
        return e;
    }
    wasi_parent p;
    if ((e = parent_get(w, fd, path, len, 1, &p))) return e;
    if (utimensat(p.fd, p.name, ts, AT_SYMLINK_NOFOLLOW) < 0) e = wasi_errno(errno);
    parent_free(&p);
    return e;
}

uint32_t wasi_path_rename(void *ctx, uint32_t ofd, uint32_t opath, uint32_t olen, uint32_t nfd,
                          uint32_t npath, uint32_t nlen)
{
    wasi_parent a, b;
    uint32_t e = parent_get(ctx, ofd, opath, olen, 1, &a);
    if (e) return e;
    if ((e = parent_get(ctx, nfd, npath, nlen, 1, &b))) {
        parent_free(&a);
        return e;
    }
    if (renameat(a.fd, a.name, b.fd, b.name) < 0)
        e = errno == EEXIST ? WE_NOTEMPTY : wasi_errno(errno);
    parent_free(&a);
    parent_free(&b);
    return e;
}

uint32_t wasi_path_link(void *ctx, uint32_t ofd, uint32_t oflags, uint32_t opath, uint32_t olen,
                        uint32_t nfd, uint32_t npath, uint32_t nlen)
{
    if (oflags & WL_SYMLINK_FOLLOW)
        return WE_INVAL; /* like wasmtime: following could leave the sandbox */
    wasi_parent a, b;
    uint32_t e = parent_get(ctx, ofd, opath, olen, 1, &a);
    if (e) return e;
    if ((e = parent_get(ctx, nfd, npath, nlen, 1, &b))) {
        parent_free(&a);
        return e;
    }
    if (a.slash || b.slash) {
        struct stat st;
        if (fstatat(a.fd, a.name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            e = wasi_errno(errno);
        else if (S_ISDIR(st.st_mode))
            e = WE_PERM;
        else
            e = b.slash ? WE_NOENT : WE_NOTDIR;
    } else if (linkat(a.fd, a.name, b.fd, b.name, 0) < 0) {
        e = wasi_errno(errno);
    }
    parent_free(&a);
    parent_free(&b);
    return e;
}

uint32_t wasi_path_open(void *ctx, uint32_t fd, uint32_t dirflags, uint32_t path, uint32_t len,
                        uint32_t oflags, uint64_t base, uint64_t inh, uint32_t fdflags,
                        uint32_t out)
{
    kiln_wasi *w = ctx;
    wasi_fd *d;
    uint32_t e = dir_fd(w, fd, 0, &d);
    if (e) return e;
    if (!wasi_mem(w, out, 4)) return WE_FAULT;
    if (oflags & ~(uint32_t)(WO_CREAT | WO_DIRECTORY | WO_EXCL | WO_TRUNC)) return WE_INVAL;
    if ((oflags & WO_DIRECTORY) && (base & WR_FD_WRITE))
        return WE_ISDIR; /* a directory cannot be opened for writing */
    if ((oflags & WO_TRUNC) && !(d->rights_base & WR_PATH_FILESTAT_SET_SIZE)) return WE_NOTCAPABLE;
    if ((oflags & WO_CREAT) && !(d->rights_base & WR_PATH_CREATE_FILE)) return WE_NOTCAPABLE;
    int fl = O_CLOEXEC;
    if (oflags & WO_CREAT) fl |= O_CREAT;
    if (oflags & WO_EXCL) fl |= O_EXCL;
    if (oflags & WO_TRUNC) fl |= O_TRUNC;
    if (oflags & WO_DIRECTORY) fl |= O_DIRECTORY;
    if (fdflags & WFD_APPEND) fl |= O_APPEND;
    if (fdflags & WFD_NONBLOCK) fl |= O_NONBLOCK;
    if (fdflags & WFD_DSYNC) fl |= O_DSYNC;
    if (fdflags & (WFD_SYNC | WFD_RSYNC)) fl |= O_SYNC;
    if (!(dirflags & WL_SYMLINK_FOLLOW)) fl |= O_NOFOLLOW;
    int writing = (base & (WR_FD_WRITE | WR_FD_ALLOCATE | WR_FD_FILESTAT_SET_SIZE)) ||
                  (fdflags & WFD_APPEND) || (oflags & WO_TRUNC);
    int reading = (base & (WR_FD_READ | WR_FD_READDIR)) != 0;
    if (oflags & WO_DIRECTORY)
        fl |= O_RDONLY;
    else if (writing)
        fl |= reading ? O_RDWR : O_WRONLY;
    else
        fl |= O_RDONLY;
    if (d->readonly && ((writing && !(oflags & WO_DIRECTORY)) || (oflags & WO_CREAT)))
        return WE_ROFS;
    char *s;
    if ((e = wasi_path_copy(w, path, len, &s))) return e;
    if (s[0] == '\0') {
        kiln_free(s);
        return WE_NOENT;
    }
    int h = kiln_beneath_open(&w->no_openat2, d->hostfd, s, fl, 0666);
    kiln_free(s);
    if (h < 0) return path_errno(-h);
    struct stat st;
    if (fstat(h, &st) < 0) {
        e = wasi_errno(errno);
        close(h);
        return e;
    }
    int64_t g = wasi_fd_alloc(w);
    if (g < 0) {
        close(h);
        return WE_NFILE;
    }
    d = wasi_fd_get(w, fd); /* the table may have moved */
    wasi_fd *f = &w->fds[g];
    f->kind = WFK_HOST;
    f->hostfd = h;
    f->filetype = wasi_filetype_of_mode(st.st_mode);
    f->readonly = d->readonly;
    f->rights_base = base & d->rights_inheriting;
    f->rights_inheriting = inh & d->rights_inheriting;
    if (f->filetype == WF_DIRECTORY)
        f->rights_base &= WR_DIR_BASE;
    else
        f->rights_base &= WR_FILE_BASE;
    if (f->readonly) {
        f->rights_base &= ~WR_WRITING;
        f->rights_inheriting &= ~WR_WRITING;
    }
    return wasi_put32(w, out, (uint32_t)g);
}
