/* wasi_fd.c — the guest fd table and the fd_* functions of WASI preview1: read/write on
 * host fds and memory streams, seek/tell, stat, flags, rights, readdir, preopens. */
#include "host/wasi_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "util/alloc.h"

/* Most guest fds a context may have open at once. */
#define WASI_MAX_FDS 65536

/* The entry for a guest fd; NULL when it is not open. */
wasi_fd *wasi_fd_get(kiln_wasi *w, uint32_t fd)
{
    if (fd >= w->nfds || w->fds[fd].kind == WFK_FREE) return NULL;
    return &w->fds[fd];
}

/* Finds (growing the table when needed) the lowest free guest fd. */
int64_t wasi_fd_alloc(kiln_wasi *w)
{
    for (size_t i = 0; i < w->nfds; i++)
        if (w->fds[i].kind == WFK_FREE) return (int64_t)i;
    if (w->nfds >= WASI_MAX_FDS) return -1;
    size_t n = w->nfds * 2 < 16 ? 16 : w->nfds * 2;
    wasi_fd *f = kiln_realloc(w->fds, n * sizeof *f);
    if (!f) return -1;
    memset(f + w->nfds, 0, (n - w->nfds) * sizeof *f);
    for (size_t i = w->nfds; i < n; i++)
        f[i].hostfd = -1;
    int64_t r = (int64_t)w->nfds;
    w->fds = f;
    w->nfds = n;
    return r;
}

/* Closes what an entry owns and marks it free. */
void wasi_fd_release(wasi_fd *f)
{
    if (f->kind == WFK_HOST && f->hostfd >= 0)
        close(f->hostfd); /* errors of close are not actionable here */
    kiln_free(f->preopen_name);
    memset(f, 0, sizeof *f);
    f->hostfd = -1;
    f->kind = WFK_FREE;
}

/* WASI filetype of a host st_mode. */
uint8_t wasi_filetype_of_mode(unsigned mode)
{
    switch (mode & S_IFMT) {
    case S_IFREG:
        return WF_REGULAR_FILE;
    case S_IFDIR:
        return WF_DIRECTORY;
    case S_IFLNK:
        return WF_SYMBOLIC_LINK;
    case S_IFCHR:
        return WF_CHARACTER_DEVICE;
    case S_IFBLK:
        return WF_BLOCK_DEVICE;
    case S_IFSOCK:
        return WF_SOCKET_STREAM;
    default:
        return WF_UNKNOWN;
    }
}

static uint64_t ts_ns(struct timespec t)
{
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Writes the 64-byte filestat (dev, ino, filetype, nlink, size, atim, mtim, ctim). */
void wasi_write_filestat(uint8_t *p, const void *host_stat)
{
    const struct stat *st = host_stat;
    memset(p, 0, 64);
    wasi_st64(p + 0, (uint64_t)st->st_dev);
    wasi_st64(p + 8, (uint64_t)st->st_ino);
    p[16] = wasi_filetype_of_mode(st->st_mode);
    wasi_st64(p + 24, (uint64_t)st->st_nlink);
    wasi_st64(p + 32, (uint64_t)st->st_size);
    wasi_st64(p + 40, ts_ns(st->st_atim));
    wasi_st64(p + 48, ts_ns(st->st_mtim));
    wasi_st64(p + 56, ts_ns(st->st_ctim));
}

/* Converts WASI times + fstflags to a utimensat timespec[2]. */
uint32_t wasi_times(uint64_t atim, uint64_t mtim, uint32_t fst, void *ts_pair)
{
    struct timespec *ts = ts_pair;
    if (fst & ~(uint32_t)(WT_ATIM | WT_ATIM_NOW | WT_MTIM | WT_MTIM_NOW)) return WE_INVAL;
    if ((fst & WT_ATIM) && (fst & WT_ATIM_NOW)) return WE_INVAL;
    if ((fst & WT_MTIM) && (fst & WT_MTIM_NOW)) return WE_INVAL;
    uint64_t t[2] = {atim, mtim};
    uint32_t set[2] = {WT_ATIM, WT_MTIM}, now[2] = {WT_ATIM_NOW, WT_MTIM_NOW};
    for (int i = 0; i < 2; i++) {
        ts[i].tv_sec = 0;
        if (fst & now[i]) {
            ts[i].tv_nsec = UTIME_NOW;
        } else if (fst & set[i]) {
            ts[i].tv_sec = (time_t)(t[i] / 1000000000u);
            ts[i].tv_nsec = (long)(t[i] % 1000000000u);
        } else {
            ts[i].tv_nsec = UTIME_OMIT;
        }
    }
    return WE_SUCCESS;
}

/* Looks up fd and checks that it has all `rights`. */
static uint32_t get_fd(kiln_wasi *w, uint32_t fd, uint64_t rights, wasi_fd **out)
{
    wasi_fd *f = wasi_fd_get(w, fd);
    if (!f) return WE_BADF;
    if ((f->rights_base & rights) != rights) return WE_NOTCAPABLE;
    *out = f;
    return WE_SUCCESS;
}

/* Collects a guest iovec array into host iovecs (at most IOV_MAX); EFAULT if any is bad.
 * *total gets the byte count. The array is kiln_free'd by the caller. */
static uint32_t gather(kiln_wasi *w, uint32_t iovs, uint32_t n, struct iovec **out, int *cnt,
                       size_t *total)
{
    *out = NULL;
    *cnt = 0;
    *total = 0;
    const uint8_t *a = wasi_mem(w, iovs, (uint64_t)n * 8);
    if (!a) return WE_FAULT;
    if (n > IOV_MAX) n = IOV_MAX;
    struct iovec *v = kiln_malloc((n ? n : 1) * sizeof *v);
    if (!v) return WE_NOMEM;
    size_t sum = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t p = wasi_ld32(a + 8 * i), l = wasi_ld32(a + 8 * i + 4);
        uint8_t *h = wasi_mem(w, p, l);
        if (!h) {
            kiln_free(v);
            return WE_FAULT;
        }
        if (l > SSIZE_MAX - sum) l = 0; /* total beyond ssize_t: ignore the rest */
        v[i].iov_base = h;
        v[i].iov_len = l;
        sum += l;
    }
    *out = v;
    *cnt = (int)n;
    *total = sum;
    return WE_SUCCESS;
}

/* Writes to a stream entry: memory output (bounded by its limit) or a host fd. */
uint32_t wasi_stream_write(wasi_fd *f, const uint8_t *data, size_t len, size_t *written)
{
    *written = 0;
    if (f->kind == WFK_MEM_OUT) {
        size_t n = len;
        if (f->limit > 0) {
            if (f->out->len >= f->limit) return len ? WE_FBIG : WE_SUCCESS;
            if (n > f->limit - f->out->len) n = f->limit - f->out->len;
        }
        if (kiln_buf_append(f->out, data, n) < 0) return WE_NOMEM;
        *written = n;
        return WE_SUCCESS;
    }
    if (f->kind == WFK_MEM_IN) return WE_BADF;
    ssize_t r;
    do
        r = write(f->hostfd, data, len);
    while (r < 0 && errno == EINTR);
    if (r < 0) return wasi_errno(errno);
    *written = (size_t)r;
    return WE_SUCCESS;
}

/* Shared body of fd_read / fd_pread (off < 0: at the current position). */
static uint32_t do_read(kiln_wasi *w, uint32_t fd, uint32_t iovs, uint32_t n, int64_t off,
                        uint32_t nread)
{
    wasi_fd *f;
    uint32_t e = get_fd(w, fd, WR_FD_READ | (off >= 0 ? WR_FD_SEEK : 0), &f);
    if (e) return e;
    if (!wasi_mem(w, nread, 4)) return WE_FAULT;
    struct iovec *v;
    int cnt;
    size_t total;
    if ((e = gather(w, iovs, n, &v, &cnt, &total))) return e;
    size_t got = 0;
    if (f->kind == WFK_MEM_IN) {
        if (off >= 0) {
            kiln_free(v);
            return WE_SPIPE;
        }
        for (int i = 0; i < cnt && f->in_pos < f->in_len; i++) {
            size_t k = v[i].iov_len;
            if (k > f->in_len - f->in_pos) k = f->in_len - f->in_pos;
            memcpy(v[i].iov_base, f->in + f->in_pos, k);
            f->in_pos += k;
            got += k;
        }
    } else if (f->kind == WFK_MEM_OUT) {
        kiln_free(v);
        return WE_BADF;
    } else {
        if (f->filetype == WF_DIRECTORY) {
            kiln_free(v);
            return WE_ISDIR;
        }
        ssize_t r;
        do
            r = off >= 0 ? preadv(f->hostfd, v, cnt, off) : readv(f->hostfd, v, cnt);
        while (r < 0 && errno == EINTR);
        if (r < 0) {
            kiln_free(v);
            return wasi_errno(errno);
        }
        got = (size_t)r;
    }
    kiln_free(v);
    return wasi_put32(w, nread, (uint32_t)got);
}

/* Shared body of fd_write / fd_pwrite (off < 0: at the current position). */
static uint32_t do_write(kiln_wasi *w, uint32_t fd, uint32_t iovs, uint32_t n, int64_t off,
                         uint32_t nwritten)
{
    wasi_fd *f;
    uint32_t e = get_fd(w, fd, WR_FD_WRITE | (off >= 0 ? WR_FD_SEEK : 0), &f);
    if (e) return e;
    if (!wasi_mem(w, nwritten, 4)) return WE_FAULT;
    struct iovec *v;
    int cnt;
    size_t total;
    if ((e = gather(w, iovs, n, &v, &cnt, &total))) return e;
    size_t done = 0;
    if (f->kind == WFK_MEM_OUT || f->kind == WFK_MEM_IN) {
        if (off >= 0) {
            kiln_free(v);
            return WE_SPIPE;
        }
        for (int i = 0; i < cnt; i++) {
            size_t k;
            e = wasi_stream_write(f, v[i].iov_base, v[i].iov_len, &k);
            done += k;
            if (e || k < v[i].iov_len) break;
        }
        if (e && done == 0) {
            kiln_free(v);
            return e;
        }
    } else {
        if (f->readonly) {
            kiln_free(v);
            return WE_ROFS;
        }
        ssize_t r;
        do
            r = off >= 0 ? pwritev(f->hostfd, v, cnt, off) : writev(f->hostfd, v, cnt);
        while (r < 0 && errno == EINTR);
        if (r < 0) {
            kiln_free(v);
            return wasi_errno(errno);
        }
        done = (size_t)r;
    }
    kiln_free(v);
    return wasi_put32(w, nwritten, (uint32_t)done);
}

uint32_t wasi_fd_read(void *ctx, uint32_t fd, uint32_t iovs, uint32_t n, uint32_t nread)
{
    return do_read(ctx, fd, iovs, n, -1, nread);
}

uint32_t wasi_fd_pread(void *ctx, uint32_t fd, uint32_t iovs, uint32_t n, uint64_t off,
                       uint32_t nread)
{
    if (off > INT64_MAX) return WE_INVAL;
    return do_read(ctx, fd, iovs, n, (int64_t)off, nread);
}

uint32_t wasi_fd_write(void *ctx, uint32_t fd, uint32_t iovs, uint32_t n, uint32_t nwritten)
{
    return do_write(ctx, fd, iovs, n, -1, nwritten);
}

uint32_t wasi_fd_pwrite(void *ctx, uint32_t fd, uint32_t iovs, uint32_t n, uint64_t off,
                        uint32_t nwritten)
{
    if (off > INT64_MAX) return WE_INVAL;
    return do_write(ctx, fd, iovs, n, (int64_t)off, nwritten);
}

uint32_t wasi_fd_close(void *ctx, uint32_t fd)
{
    kiln_wasi *w = ctx;
    wasi_fd *f = wasi_fd_get(w, fd);
    if (!f) return WE_BADF;
    wasi_fd_release(f);
    return WE_SUCCESS;
}

/* A host fd behind an entry, or -1 for memory streams. */
static int host_fd(const wasi_fd *f)
{
    return (f->kind == WFK_HOST || f->kind == WFK_STDIO) ? f->hostfd : -1;
}

uint32_t wasi_fd_datasync(void *ctx, uint32_t fd)
{
    wasi_fd *f;
    uint32_t e = get_fd(ctx, fd, WR_FD_DATASYNC, &f);
    if (e) return e;
    if (host_fd(f) < 0) return WE_INVAL;
    if (fdatasync(f->hostfd) < 0) return wasi_errno(errno);
    return WE_SUCCESS;
}

uint32_t wasi_fd_sync(void *ctx, uint32_t fd)
{
    wasi_fd *f;
    uint32_t e = get_fd(ctx, fd, WR_FD_SYNC, &f);
    if (e) return e;
    if (host_fd(f) < 0) return WE_INVAL;
    if (fsync(f->hostfd) < 0) return wasi_errno(errno);
    return WE_SUCCESS;
}

uint32_t wasi_fd_advise(void *ctx, uint32_t fd, uint64_t off, uint64_t len, uint32_t advice)
{
    static const int adv[] = {POSIX_FADV_NORMAL,   POSIX_FADV_SEQUENTIAL, POSIX_FADV_RANDOM,
                              POSIX_FADV_WILLNEED, POSIX_FADV_DONTNEED,   POSIX_FADV_NOREUSE};
    wasi_fd *f;
    uint32_t e = get_fd(ctx, fd, WR_FD_ADVISE, &f);
    if (e) return e;
    if (advice > 5 || off > INT64_MAX || len > INT64_MAX) return WE_INVAL;
    if (f->filetype == WF_DIRECTORY) return WE_BADF;
    if (host_fd(f) < 0) return WE_SPIPE;
    int r = posix_fadvise(f->hostfd, (off_t)off, (off_t)len, adv[advice]);
    return r ? wasi_errno(r) : WE_SUCCESS;
}

uint32_t wasi_fd_allocate(void *ctx, uint32_t fd, uint64_t off, uint64_t len)
{
    wasi_fd *f;
    uint32_t e = get_fd(ctx, fd, WR_FD_ALLOCATE, &f);
    if (e) return e;
    if (off > INT64_MAX || len > INT64_MAX || off + len > INT64_MAX) return WE_INVAL;
    if (f->readonly) return WE_ROFS;
    if (f->filetype == WF_DIRECTORY) return WE_BADF;
    if (host_fd(f) < 0) return WE_SPIPE;
    if (fallocate(f->hostfd, 0, (off_t)off, (off_t)len) == 0) return WE_SUCCESS;
    if (errno != EOPNOTSUPP) return wasi_errno(errno);
    struct stat st; /* file system without fallocate: extend with ftruncate */
    if (fstat(f->hostfd, &st) < 0) return wasi_errno(errno);
    if ((uint64_t)st.st_size < off + len && ftruncate(f->hostfd, (off_t)(off + len)) < 0)
        return wasi_errno(errno);
    return WE_SUCCESS;
}

uint32_t wasi_fd_fdstat_get(void *ctx, uint32_t fd, uint32_t out)
{
    kiln_wasi *w = ctx;
    wasi_fd *f = wasi_fd_get(w, fd);
    if (!f) return WE_BADF;
    uint8_t *p = wasi_mem(w, out, 24);
    if (!p) return WE_FAULT;
    uint16_t flags = f->fdflags;
    if (host_fd(f) >= 0) {
        int fl = fcntl(f->hostfd, F_GETFL);
        if (fl < 0) return wasi_errno(errno);
        flags = 0;
        if (fl & O_APPEND) flags |= WFD_APPEND;
        if (fl & O_NONBLOCK) flags |= WFD_NONBLOCK;
        if ((fl & O_SYNC) == O_SYNC)
            flags |= WFD_SYNC;
        else if (fl & O_DSYNC)
            flags |= WFD_DSYNC;
    }
    memset(p, 0, 24);
    p[0] = f->filetype;
    wasi_st16(p + 2, flags);
    wasi_st64(p + 8, f->rights_base);
    wasi_st64(p + 16, f->rights_inheriting);
    return WE_SUCCESS;
}

uint32_t wasi_fd_fdstat_set_flags(void *ctx, uint32_t fd, uint32_t flags)
{
    wasi_fd *f;
    uint32_t e = get_fd(ctx, fd, 0, &f);
    if (e) return e;
    if (flags & ~(uint32_t)(WFD_APPEND | WFD_DSYNC | WFD_NONBLOCK | WFD_RSYNC | WFD_SYNC))
        return WE_INVAL;
    if (flags & (WFD_DSYNC | WFD_RSYNC | WFD_SYNC))
        return WE_NOTSUP; /* Linux cannot change O_SYNC on an open file */
    if (host_fd(f) < 0) {
        f->fdflags = (uint16_t)flags;
        return WE_SUCCESS;
    }
    int fl = fcntl(f->hostfd, F_GETFL);
    if (fl < 0) return wasi_errno(errno);
    fl &= ~(O_APPEND | O_NONBLOCK);
    if (flags & WFD_APPEND) fl |= O_APPEND;
    if (flags & WFD_NONBLOCK) fl |= O_NONBLOCK;
    if (fcntl(f->hostfd, F_SETFL, fl) < 0) return wasi_errno(errno);
    return WE_SUCCESS;
}

/* Rights can only shrink. */
uint32_t wasi_fd_fdstat_set_rights(void *ctx, uint32_t fd, uint64_t base, uint64_t inh)
{
    wasi_fd *f;
    uint32_t e = get_fd(ctx, fd, 0, &f);
    if (e) return e;
    if ((base & ~f->rights_base) || (inh & ~f->rights_inheriting)) return WE_NOTCAPABLE;
    f->rights_base = base;
    f->rights_inheriting = inh;
    return WE_SUCCESS;
}

uint32_t wasi_fd_filestat_get(void *ctx, uint32_t fd, uint32_t out)
{
    kiln_wasi *w = ctx;
    wasi_fd *f;
    uint32_t e = get_fd(w, fd, 0, &f);
    if (e) return e;
    uint8_t *p = wasi_mem(w, out, 64);
    if (!p) return WE_FAULT;
    if (host_fd(f) < 0) {
        memset(p, 0, 64);
        p[16] = f->filetype;
        return WE_SUCCESS;
    }
    struct stat st;
    if (fstat(f->hostfd, &st) < 0) return wasi_errno(errno);
    wasi_write_filestat(p, &st);
    return WE_SUCCESS;
}

uint32_t wasi_fd_filestat_set_size(void *ctx, uint32_t fd, uint64_t size)
{
    wasi_fd *f;
    uint32_t e = get_fd(ctx, fd, WR_FD_FILESTAT_SET_SIZE, &f);
    if (e) return e;
    if (size > INT64_MAX) return WE_INVAL;
    if (f->readonly) return WE_ROFS;
    if (host_fd(f) < 0) return WE_INVAL;
    if (ftruncate(f->hostfd, (off_t)size) < 0) return wasi_errno(errno);
    return WE_SUCCESS;
}

uint32_t wasi_fd_filestat_set_times(void *ctx, uint32_t fd, uint64_t atim, uint64_t mtim,
                                    uint32_t fst)
{
    wasi_fd *f;
    uint32_t e = get_fd(ctx, fd, WR_FD_FILESTAT_SET_TIMES, &f);
    if (e) return e;
    struct timespec ts[2];
    if ((e = wasi_times(atim, mtim, fst, ts))) return e;
    if (f->readonly) return WE_ROFS;
    if (host_fd(f) < 0) return WE_INVAL;
    if (futimens(f->hostfd, ts) < 0) return wasi_errno(errno);
    return WE_SUCCESS;
}

uint32_t wasi_fd_prestat_get(void *ctx, uint32_t fd, uint32_t out)
{
    kiln_wasi *w = ctx;
    wasi_fd *f = wasi_fd_get(w, fd);
    if (!f) return WE_BADF;
    if (!f->preopen_name) return WE_BADF;
    uint8_t *p = wasi_mem(w, out, 8);
    if (!p) return WE_FAULT;
    memset(p, 0, 8);
    wasi_st32(p + 4, (uint32_t)strlen(f->preopen_name));
    return WE_SUCCESS;
}

uint32_t wasi_fd_prestat_dir_name(void *ctx, uint32_t fd, uint32_t path, uint32_t len)
{
    kiln_wasi *w = ctx;
    wasi_fd *f = wasi_fd_get(w, fd);
    if (!f || !f->preopen_name) return WE_BADF;
    size_t n = strlen(f->preopen_name);
    if (len < n) return WE_NAMETOOLONG;
    uint8_t *p = wasi_mem(w, path, n);
    if (!p) return WE_FAULT;
    memcpy(p, f->preopen_name, n);
    return WE_SUCCESS;
}

uint32_t wasi_fd_renumber(void *ctx, uint32_t fd, uint32_t to)
{
    kiln_wasi *w = ctx;
    wasi_fd *from = wasi_fd_get(w, fd), *dst = wasi_fd_get(w, to);
    if (!from || !dst) return WE_BADF;
    if (fd == to) return WE_SUCCESS;
    wasi_fd_release(dst);
    *dst = *from;
    memset(from, 0, sizeof *from);
    from->hostfd = -1;
    from->kind = WFK_FREE;
    return WE_SUCCESS;
}

uint32_t wasi_fd_seek(void *ctx, uint32_t fd, uint64_t off, uint32_t whence, uint32_t out)
{
    kiln_wasi *w = ctx;
    wasi_fd *f = wasi_fd_get(w, fd);
    if (!f) return WE_BADF;
    uint64_t need = (off == 0 && whence == 1) ? WR_FD_TELL : WR_FD_SEEK;
    if (!(f->rights_base & need) && !(f->rights_base & WR_FD_SEEK)) return WE_NOTCAPABLE;
    if (whence > 2) return WE_INVAL;
    if (!wasi_mem(w, out, 8)) return WE_FAULT;
    if (host_fd(f) < 0) return WE_SPIPE;
    if (f->filetype == WF_DIRECTORY) return WE_BADF;
    static const int wh[] = {SEEK_SET, SEEK_CUR, SEEK_END};
    off_t r = lseek(f->hostfd, (off_t)(int64_t)off, wh[whence]);
    if (r < 0) return wasi_errno(errno);
    return wasi_put64(w, out, (uint64_t)r);
}

uint32_t wasi_fd_tell(void *ctx, uint32_t fd, uint32_t out)
{
    kiln_wasi *w = ctx;
    wasi_fd *f;
    uint32_t e = get_fd(w, fd, WR_FD_TELL, &f);
    if (e) return e;
    if (!wasi_mem(w, out, 8)) return WE_FAULT;
    if (host_fd(f) < 0) return WE_SPIPE;
    off_t r = lseek(f->hostfd, 0, SEEK_CUR);
    if (r < 0) return wasi_errno(errno);
    return wasi_put64(w, out, (uint64_t)r);
}

/* WASI filetype of a dirent d_type. */
static uint8_t dtype(unsigned char t)
{
    switch (t) {
    case DT_REG:
        return WF_REGULAR_FILE;
    case DT_DIR:
        return WF_DIRECTORY;
    case DT_LNK:
        return WF_SYMBOLIC_LINK;
    case DT_CHR:
        return WF_CHARACTER_DEVICE;
    case DT_BLK:
        return WF_BLOCK_DEVICE;
    case DT_SOCK:
        return WF_SOCKET_STREAM;
    default:
        return WF_UNKNOWN;
    }
}

/* fd_readdir: entries in directory order; the cookie of an entry is its index + 1. The
 * directory is re-read from the start on every call (a fresh fd, so the guest fd's
 * position is untouched). The last entry may be truncated to fill the buffer exactly. */
uint32_t wasi_fd_readdir(void *ctx, uint32_t fd, uint32_t buf, uint32_t len, uint64_t cookie,
                         uint32_t used)
{
    kiln_wasi *w = ctx;
    wasi_fd *f;
    uint32_t e = get_fd(w, fd, WR_FD_READDIR, &f);
    if (e) return e;
    uint8_t *out = wasi_mem(w, buf, len);
    if (!out || !wasi_mem(w, used, 4)) return WE_FAULT;
    if (f->filetype != WF_DIRECTORY || host_fd(f) < 0) return WE_NOTDIR;
    int d = openat(f->hostfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d < 0) return wasi_errno(errno);
    DIR *dp = fdopendir(d);
    if (!dp) {
        e = wasi_errno(errno);
        close(d);
        return e;
    }
    uint32_t pos = 0;
    uint64_t idx = 0;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(dp);
        if (!de) {
            if (errno) e = wasi_errno(errno);
            break;
        }
        idx++;
        if (idx <= cookie) continue;
        size_t nl = strlen(de->d_name);
        uint8_t hdr[24];
        memset(hdr, 0, sizeof hdr);
        wasi_st64(hdr, idx);
        wasi_st64(hdr + 8, (uint64_t)de->d_ino);
        wasi_st32(hdr + 16, (uint32_t)nl);
        hdr[20] = dtype(de->d_type);
        struct stat st; /* file systems without d_type: ask */
        if (de->d_type == DT_UNKNOWN &&
            fstatat(dirfd(dp), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
            hdr[20] = wasi_filetype_of_mode(st.st_mode);
        size_t k = len - pos < 24 ? len - pos : 24;
        memcpy(out + pos, hdr, k);
        pos += (uint32_t)k;
        k = len - pos < nl ? len - pos : nl;
        memcpy(out + pos, de->d_name, k);
        pos += (uint32_t)k;
        if (pos >= len) break;
    }
    closedir(dp);
    if (e) return e;
    return wasi_put32(w, used, pos);
}
