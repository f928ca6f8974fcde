/* filesystem.c — wasi:filesystem 0.2: types (descriptor, directory-entry-stream) and
 * preopens (wasip2.h).
 *
 * Descriptors are host fds. get-directories hands out one descriptor per granted preopen;
 * every *-at function resolves its path beneath the descriptor with host/beneath.h (the
 * resolver preview1 uses), so absolute paths, ".." above the descriptor and symlinks that
 * lead out fail with not-permitted. A descriptor below a read-only preopen refuses every
 * change to the file system (open for write/create/truncate, create/remove/rename/link/
 * symlink, set-size, set-times) with read-only. A descriptor opened without the `read` /
 * `write` flag refuses reads / writes with bad-descriptor (as wasmtime does). */
#include "host/beneath.h"
#include "host/wasip2/wasip2.h"
#include "util/alloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* error-code cases (WIT order) */
enum {
    EC_ACCESS = 0,
    EC_WOULD_BLOCK = 1,
    EC_ALREADY = 2,
    EC_BADF = 3,
    EC_BUSY = 4,
    EC_DEADLOCK = 5,
    EC_QUOTA = 6,
    EC_EXIST = 7,
    EC_FBIG = 8,
    EC_ILSEQ = 9,
    EC_INPROGRESS = 10,
    EC_INTR = 11,
    EC_INVAL = 12,
    EC_IO = 13,
    EC_ISDIR = 14,
    EC_LOOP = 15,
    EC_MLINK = 16,
    EC_MSGSIZE = 17,
    EC_NAMETOOLONG = 18,
    EC_NODEV = 19,
    EC_NOENT = 20,
    EC_NOLCK = 21,
    EC_NOMEM = 22,
    EC_NOSPC = 23,
    EC_NOTDIR = 24,
    EC_NOTEMPTY = 25,
    EC_NOTRECOVERABLE = 26,
    EC_UNSUPPORTED = 27,
    EC_NOTTY = 28,
    EC_NXIO = 29,
    EC_OVERFLOW = 30,
    EC_PERM = 31,
    EC_PIPE = 32,
    EC_ROFS = 33,
    EC_SPIPE = 34,
    EC_TXTBSY = 35,
    EC_XDEV = 36,
};

uint32_t p2_fs_error_code(int e)
{
    switch (e) {
    case EACCES:
        return EC_ACCESS;
    case EAGAIN:
        return EC_WOULD_BLOCK;
    case EALREADY:
        return EC_ALREADY;
    case EBADF:
        return EC_BADF;
    case EBUSY:
        return EC_BUSY;
    case EDEADLK:
        return EC_DEADLOCK;
    case EDQUOT:
        return EC_QUOTA;
    case EEXIST:
        return EC_EXIST;
    case EFBIG:
        return EC_FBIG;
    case EILSEQ:
        return EC_ILSEQ;
    case EINPROGRESS:
        return EC_INPROGRESS;
    case EINTR:
        return EC_INTR;
    case EINVAL:
        return EC_INVAL;
    case EISDIR:
        return EC_ISDIR;
    case ELOOP:
        return EC_LOOP;
    case EMLINK:
        return EC_MLINK;
    case EMSGSIZE:
        return EC_MSGSIZE;
    case ENAMETOOLONG:
        return EC_NAMETOOLONG;
    case ENODEV:
        return EC_NODEV;
    case ENOENT:
        return EC_NOENT;
    case ENOLCK:
        return EC_NOLCK;
    case ENOMEM:
        return EC_NOMEM;
    case ENOSPC:
        return EC_NOSPC;
    case ENOTDIR:
        return EC_NOTDIR;
    case ENOTEMPTY:
        return EC_NOTEMPTY;
    case ENOTRECOVERABLE:
        return EC_NOTRECOVERABLE;
    case ENOTSUP:
        return EC_UNSUPPORTED;
    case ENOTTY:
        return EC_NOTTY;
    case ENXIO:
        return EC_NXIO;
    case EOVERFLOW:
        return EC_OVERFLOW;
    case EPERM:
        return EC_PERM;
    case EPIPE:
        return EC_PIPE;
    case EROFS:
        return EC_ROFS;
    case ESPIPE:
        return EC_SPIPE;
    case ETXTBSY:
        return EC_TXTBSY;
    case EXDEV:
        return EC_XDEV;
    default:
        return EC_IO;
    }
}

/* Sets r to err(code). Returns 0 (or -1 out of memory). */
static int fs_err(kiln_cabi_cx *cx, kiln_cval *r, uint32_t code)
{
    kiln_cval *c = kiln_cabi_alloc(cx, sizeof *c);
    if (!c) return p2_fail(cx, "out of memory");
    c->var.disc = code;
    c->var.payload = NULL;
    r->var.disc = 1;
    r->var.payload = c;
    return 0;
}

/* err for an errno of a system call on a resolved path or descriptor. */
static int fs_errno(kiln_cabi_cx *cx, kiln_cval *r, int e)
{
    return fs_err(cx, r, p2_fs_error_code(e));
}

/* err for an errno of path resolution: EXDEV (an escape) is not-permitted. */
static int path_errno(kiln_cabi_cx *cx, kiln_cval *r, int e)
{
    return fs_err(cx, r, e == EXDEV ? EC_PERM : p2_fs_error_code(e));
}

/* Sets r to ok(payload). payload NULL: no payload. */
static int fs_ok(kiln_cabi_cx *cx, kiln_cval *r, kiln_cval **payload)
{
    r->var.disc = 0;
    r->var.payload = NULL;
    if (!payload) return 0;
    if (!(*payload = kiln_cabi_alloc(cx, sizeof **payload))) return p2_fail(cx, "out of memory");
    memset(*payload, 0, sizeof **payload);
    r->var.payload = *payload;
    return 0;
}

static p2_desc *desc(void *ctx, kiln_cabi_cx *cx, uint32_t rep)
{
    p2_desc *d = p2_table_get(&((kiln_wasip2 *)ctx)->descs, rep);
    if (!d) p2_fail(cx, "descriptor: unknown descriptor");
    return d;
}

/* A path argument as a NUL-terminated string from the call's arena: NULL with
 * *code = illegal-byte-sequence when it holds a NUL (or p2_fail on out of memory). */
static char *path_arg(kiln_cabi_cx *cx, const kiln_cval *v, int *oom)
{
    *oom = 0;
    if (memchr(v->str.ptr, 0, v->str.len)) return NULL;
    char *s = kiln_cabi_alloc(cx, v->str.len + 1);
    if (!s) {
        *oom = 1;
        return NULL;
    }
    memcpy(s, v->str.ptr, v->str.len);
    s[v->str.len] = '\0';
    return s;
}

#define PATH_ARG(var, v)                                                                           \
    int var##_oom;                                                                                 \
    char *var = path_arg(cx, (v), &var##_oom);                                                     \
    if (!var) return var##_oom ? p2_fail(cx, "out of memory") : fs_err(cx, &res[0], EC_ILSEQ)

/* The directory descriptor a *-at function works in: a trap for an unknown handle,
 * err(not-directory) / err(read-only) for a file / a read-only tree when writing. */
static p2_desc *dir_desc(void *ctx, kiln_cabi_cx *cx, uint32_t rep, int writing, kiln_cval *res,
                         int *answered)
{
    *answered = 0;
    p2_desc *d = desc(ctx, cx, rep);
    if (!d) return NULL;
    if (!d->is_dir || (writing && d->readonly)) {
        *answered = 1;
        if (fs_err(cx, &res[0], !d->is_dir ? EC_NOTDIR : EC_ROFS) < 0) *answered = -1;
        return NULL;
    }
    return d;
}

#define DIR_DESC(d, rep, writing)                                                                  \
    int d##_ans;                                                                                   \
    p2_desc *d = dir_desc(ctx, cx, (rep), (writing), res, &d##_ans);                               \
    if (!d) return d##_ans == 1 ? 0 : -1

static uint32_t type_of_mode(mode_t m)
{
    if (S_ISBLK(m)) return 1;
    if (S_ISCHR(m)) return 2;
    if (S_ISDIR(m)) return 3;
    if (S_ISFIFO(m)) return 4;
    if (S_ISLNK(m)) return 5;
    if (S_ISREG(m)) return 6;
    if (S_ISSOCK(m)) return 7;
    return 0;
}

/* option<datetime> */
static int opt_time(kiln_cabi_cx *cx, kiln_cval *v, const struct timespec *ts)
{
    kiln_cval *dt = kiln_cabi_alloc(cx, sizeof *dt), *f = kiln_cabi_alloc(cx, 2 * sizeof *f);
    if (!dt || !f) return p2_fail(cx, "out of memory");
    f[0].u = (uint64_t)ts->tv_sec;
    f[1].u = (uint64_t)ts->tv_nsec;
    dt->agg.items = f;
    dt->agg.n = 2;
    v->var.disc = 1;
    v->var.payload = dt;
    return 0;
}

/* ok(descriptor-stat) for st. */
static int stat_result(kiln_cabi_cx *cx, kiln_cval *r, const struct stat *st)
{
    kiln_cval *p, *f = kiln_cabi_alloc(cx, 6 * sizeof *f);
    if (!f || fs_ok(cx, r, &p) < 0) return p2_fail(cx, "out of memory");
    f[0].var.disc = type_of_mode(st->st_mode);
    f[0].var.payload = NULL;
    f[1].u = (uint64_t)st->st_nlink;
    f[2].u = (uint64_t)st->st_size;
    if (opt_time(cx, &f[3], &st->st_atim) < 0 || opt_time(cx, &f[4], &st->st_mtim) < 0 ||
        opt_time(cx, &f[5], &st->st_ctim) < 0)
        return -1;
    p->agg.items = f;
    p->agg.n = 6;
    return 0;
}

/* A new-timestamp value as a utimensat timespec. */
static void new_timestamp(const kiln_cval *v, struct timespec *ts)
{
    ts->tv_sec = 0;
    if (v->var.disc == 0)
        ts->tv_nsec = UTIME_OMIT;
    else if (v->var.disc == 1)
        ts->tv_nsec = UTIME_NOW;
    else {
        ts->tv_sec = (time_t)v->var.payload->agg.items[0].u;
        ts->tv_nsec = (long)v->var.payload->agg.items[1].u;
    }
}

/* Puts a new descriptor for fd (taken over) in the table: its rep, or 0 (fd closed). */
static uint32_t desc_new(kiln_wasip2 *w, int fd, int readonly, uint32_t flags, int is_dir)
{
    p2_desc *d = kiln_malloc(sizeof *d);
    uint32_t rep = d ? p2_table_put(&w->descs, d) : 0;
    if (!rep) {
        kiln_free(d);
        close(fd);
        return 0;
    }
    *d = (p2_desc){fd, readonly, flags, is_dir, 0, 0};
    return rep;
}

static void desc_dtor(void *ctx, uint32_t rep)
{
    p2_desc *d = p2_table_take(&((kiln_wasip2 *)ctx)->descs, rep);
    if (d && !d->borrowed) close(d->fd);
    kiln_free(d);
}

static void dirstream_dtor(void *ctx, uint32_t rep)
{
    p2_dirstream *d = p2_table_take(&((kiln_wasip2 *)ctx)->dirs, rep);
    if (d && d->dir) closedir(d->dir);
    kiln_free(d);
}

/* ---- preopens ---- */

static int get_directories(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    kiln_wasip2 *w = ctx;
    size_t n = w->npreopens;
    kiln_cval *items = kiln_cabi_alloc(cx, (n ? n : 1) * sizeof *items);
    kiln_cval *pairs = kiln_cabi_alloc(cx, (n ? n : 1) * 2 * sizeof *pairs);
    if (!items || !pairs) return p2_fail(cx, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const p2_preopen *p = &w->preopens[i];
        int fd = fcntl(p->fd, F_DUPFD_CLOEXEC, 0);
        uint32_t flags = P2_DF_READ | (p->readonly ? 0 : P2_DF_MUTATE_DIR);
        uint32_t rep = fd < 0 ? 0 : desc_new(w, fd, p->readonly, flags, 1);
        if (!rep) return p2_fail(cx, "get-directories: %s", strerror(fd < 0 ? errno : ENOMEM));
        ((p2_desc *)p2_table_get(&w->descs, rep))->preopen = i + 1;
        pairs[2 * i].res.rep = rep;
        pairs[2 * i].res.type = NULL;
        pairs[2 * i + 1].str.ptr = p->guest_path;
        pairs[2 * i + 1].str.len = strlen(p->guest_path);
        items[i].agg.items = &pairs[2 * i];
        items[i].agg.n = 2;
    }
    res[0].agg.items = items;
    res[0].agg.n = (uint32_t)n;
    return 0;
}

static const kiln_chost_func preopen_funcs[] = {
    {"get-directories", "() -> list<tuple<own<descriptor>, string>>", get_directories}};
const kiln_chost_iface kiln_wasip2_fs_preopens = {
    "wasi:filesystem/preopens", KILN_WASIP2_VERSION, NULL, 0, preopen_funcs, 1};

/* ---- descriptor: data ---- */

/* A file descriptor for a data operation: err(bad-descriptor) when it is a directory or
 * lacks the flag needed (P2_DF_READ / P2_DF_WRITE; writing also needs a writable tree). */
static p2_desc *file_desc(void *ctx, kiln_cabi_cx *cx, uint32_t rep, uint32_t need, kiln_cval *res,
                          int *answered)
{
    *answered = 0;
    p2_desc *d = desc(ctx, cx, rep);
    if (!d) return NULL;
    uint32_t code = UINT32_MAX;
    if (d->is_dir) code = need ? EC_BADF : UINT32_MAX;
    if (code == UINT32_MAX && (d->flags & need) != need) code = EC_BADF;
    if (code == UINT32_MAX && (need & P2_DF_WRITE) && d->readonly) code = EC_ROFS;
    if (code != UINT32_MAX) {
        *answered = fs_err(cx, &res[0], code) < 0 ? -1 : 1;
        return NULL;
    }
    return d;
}

#define FILE_DESC(d, rep, need)                                                                    \
    int d##_ans;                                                                                   \
    p2_desc *d = file_desc(ctx, cx, (rep), (need), res, &d##_ans);                                 \
    if (!d) return d##_ans == 1 ? 0 : -1

static int stream_result(kiln_cabi_cx *cx, kiln_cval *res, uint32_t rep)
{
    if (!rep) return fs_errno(cx, &res[0], errno ? errno : ENOMEM);
    kiln_cval *p;
    if (fs_ok(cx, &res[0], &p) < 0) return -1;
    p->res.rep = rep;
    p->res.type = NULL;
    return 0;
}

static int read_via_stream(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    FILE_DESC(d, args[0].res.rep, P2_DF_READ);
    return stream_result(cx, res, p2_stream_new_file(ctx, P2_STREAM_IN, d->fd, args[1].u, 0));
}

static int write_via_stream(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    FILE_DESC(d, args[0].res.rep, P2_DF_WRITE);
    return stream_result(cx, res, p2_stream_new_file(ctx, P2_STREAM_OUT, d->fd, args[1].u, 0));
}

static int append_via_stream(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    FILE_DESC(d, args[0].res.rep, P2_DF_WRITE);
    return stream_result(cx, res, p2_stream_new_file(ctx, P2_STREAM_OUT, d->fd, 0, 1));
}

static int advise(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    FILE_DESC(d, args[0].res.rep, 0);
    static const int adv[] = {POSIX_FADV_NORMAL,   POSIX_FADV_SEQUENTIAL, POSIX_FADV_RANDOM,
                              POSIX_FADV_WILLNEED, POSIX_FADV_DONTNEED,   POSIX_FADV_NOREUSE};
    uint32_t a = args[3].var.disc < 6 ? args[3].var.disc : 0;
    if (d->is_dir) return fs_err(cx, &res[0], EC_BADF);
    int e = posix_fadvise(d->fd, (off_t)args[1].u, (off_t)args[2].u, adv[a]);
    return e ? fs_errno(cx, &res[0], e) : fs_ok(cx, &res[0], NULL);
}

static int sync_common(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res, int data)
{
    p2_desc *d = desc(ctx, cx, args[0].res.rep);
    if (!d) return -1;
    int r = data ? fdatasync(d->fd) : fsync(d->fd);
    return r < 0 ? fs_errno(cx, &res[0], errno) : fs_ok(cx, &res[0], NULL);
}

static int sync_data(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    return sync_common(ctx, cx, args, res, 1);
}
static int sync_(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    return sync_common(ctx, cx, args, res, 0);
}

static int get_flags(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p2_desc *d = desc(ctx, cx, args[0].res.rep);
    kiln_cval *p;
    if (!d || fs_ok(cx, &res[0], &p) < 0) return -1;
    uint32_t *words = kiln_cabi_alloc(cx, sizeof *words);
    if (!words) return p2_fail(cx, "out of memory");
    *words = d->flags;
    p->flags = words;
    return 0;
}

static int get_type(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p2_desc *d = desc(ctx, cx, args[0].res.rep);
    if (!d) return -1;
    struct stat st;
    if (fstat(d->fd, &st) < 0) return fs_errno(cx, &res[0], errno);
    kiln_cval *p;
    if (fs_ok(cx, &res[0], &p) < 0) return -1;
    p->var.disc = type_of_mode(st.st_mode);
    return 0;
}

static int set_size(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p2_desc *d = desc(ctx, cx, args[0].res.rep);
    if (!d) return -1;
    if (d->is_dir) return fs_err(cx, &res[0], EC_ISDIR);
    if (d->readonly) return fs_err(cx, &res[0], EC_ROFS);
    if (!(d->flags & P2_DF_WRITE)) return fs_err(cx, &res[0], EC_BADF);
    if (args[1].u > INT64_MAX) return fs_err(cx, &res[0], EC_FBIG);
    return ftruncate(d->fd, (off_t)args[1].u) < 0 ? fs_errno(cx, &res[0], errno)
                                                  : fs_ok(cx, &res[0], NULL);
}

static int set_times(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p2_desc *d = desc(ctx, cx, args[0].res.rep);
    if (!d) return -1;
    if (d->readonly) return fs_err(cx, &res[0], EC_ROFS);
    struct timespec ts[2];
    new_timestamp(&args[1], &ts[0]);
    new_timestamp(&args[2], &ts[1]);
    return futimens(d->fd, ts) < 0 ? fs_errno(cx, &res[0], errno) : fs_ok(cx, &res[0], NULL);
}

/* At most this much per read (the guest asks again). */
#define READ_MAX (1u << 20)

static int read_(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    FILE_DESC(d, args[0].res.rep, P2_DF_READ);
    size_t want = args[1].u > READ_MAX ? READ_MAX : (size_t)args[1].u;
    if (args[2].u > INT64_MAX) return fs_err(cx, &res[0], EC_INVAL);
    char *buf = kiln_cabi_alloc(cx, want ? want : 1);
    if (!buf) return p2_fail(cx, "out of memory");
    ssize_t k;
    do
        k = pread(d->fd, buf, want, (off_t)args[2].u);
    while (k < 0 && errno == EINTR);
    if (k < 0) return fs_errno(cx, &res[0], errno);
    kiln_cval *p, *t = kiln_cabi_alloc(cx, 2 * sizeof *t);
    if (!t || fs_ok(cx, &res[0], &p) < 0) return p2_fail(cx, "out of memory");
    t[0].str.ptr = buf;
    t[0].str.len = (size_t)k;
    t[1].u = k == 0 && want > 0;
    p->agg.items = t;
    p->agg.n = 2;
    return 0;
}

static int write_(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    FILE_DESC(d, args[0].res.rep, P2_DF_WRITE);
    if (args[2].u > INT64_MAX) return fs_err(cx, &res[0], EC_INVAL);
    ssize_t k; /* list<u8> crosses as bytes (host.h) */
    do
        k = pwrite(d->fd, args[1].str.ptr, args[1].str.len, (off_t)args[2].u);
    while (k < 0 && errno == EINTR);
    if (k < 0) return fs_errno(cx, &res[0], errno);
    kiln_cval *p;
    if (fs_ok(cx, &res[0], &p) < 0) return -1;
    p->u = (uint64_t)k;
    return 0;
}

static int stat_(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p2_desc *d = desc(ctx, cx, args[0].res.rep);
    if (!d) return -1;
    struct stat st;
    if (fstat(d->fd, &st) < 0) return fs_errno(cx, &res[0], errno);
    return stat_result(cx, &res[0], &st);
}

static int is_same_object(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p2_desc *a = desc(ctx, cx, args[0].res.rep), *b = a ? desc(ctx, cx, args[1].res.rep) : NULL;
    if (!b) return -1;
    struct stat sa, sb;
    res[0].u = fstat(a->fd, &sa) == 0 && fstat(b->fd, &sb) == 0 && sa.st_dev == sb.st_dev &&
               sa.st_ino == sb.st_ino;
    return 0;
}

/* ok(metadata-hash-value) from a file's identity (device, inode). */
static int hash_result(kiln_cabi_cx *cx, kiln_cval *r, const struct stat *st)
{
    kiln_cval *p, *f = kiln_cabi_alloc(cx, 2 * sizeof *f);
    if (!f || fs_ok(cx, r, &p) < 0) return p2_fail(cx, "out of memory");
    uint64_t dev = (uint64_t)st->st_dev, ino = (uint64_t)st->st_ino;
    f[0].u = (ino * 0x9e3779b97f4a7c15u) ^ (dev * 0xc2b2ae3d27d4eb4fu);
    f[1].u = (dev * 0x9e3779b97f4a7c15u) ^ (ino >> 17) ^ 0x165667b19e3779f9u;
    p->agg.items = f;
    p->agg.n = 2;
    return 0;
}

static int metadata_hash(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p2_desc *d = desc(ctx, cx, args[0].res.rep);
    if (!d) return -1;
    struct stat st;
    if (fstat(d->fd, &st) < 0) return fs_errno(cx, &res[0], errno);
    return hash_result(cx, &res[0], &st);
}

/* ---- directories ---- */

static int read_directory(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    DIR_DESC(d, args[0].res.rep, 0);
    int fd = openat(d->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return fs_errno(cx, &res[0], errno);
    DIR *dir = fdopendir(fd);
    if (!dir) {
        int e = errno;
        close(fd);
        return fs_errno(cx, &res[0], e);
    }
    p2_dirstream *s = kiln_malloc(sizeof *s);
    uint32_t rep = s ? p2_table_put(&((kiln_wasip2 *)ctx)->dirs, s) : 0;
    if (!rep) {
        kiln_free(s);
        closedir(dir);
        return p2_fail(cx, "out of memory");
    }
    s->dir = dir;
    kiln_cval *p;
    if (fs_ok(cx, &res[0], &p) < 0) return -1;
    p->res.rep = rep;
    p->res.type = NULL;
    return 0;
}

static int read_directory_entry(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p2_dirstream *s = p2_table_get(&((kiln_wasip2 *)ctx)->dirs, args[0].res.rep);
    if (!s) return p2_fail(cx, "directory-entry-stream: unknown stream");
    kiln_cval *opt;
    if (fs_ok(cx, &res[0], &opt) < 0) return -1;
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(s->dir);
        if (!e) {
            if (errno) return fs_errno(cx, &res[0], errno);
            opt->var.disc = 0; /* none: the end */
            return 0;
        }
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        uint32_t type = 0;
        switch (e->d_type) {
        case DT_BLK:
            type = 1;
            break;
        case DT_CHR:
            type = 2;
            break;
        case DT_DIR:
            type = 3;
            break;
        case DT_FIFO:
            type = 4;
            break;
        case DT_LNK:
            type = 5;
            break;
        case DT_REG:
            type = 6;
            break;
        case DT_SOCK:
            type = 7;
            break;
        default: {
            struct stat st;
            if (fstatat(dirfd(s->dir), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
                type = type_of_mode(st.st_mode);
        }
        }
        size_t n = strlen(e->d_name);
        kiln_cval *ent = kiln_cabi_alloc(cx, sizeof *ent), *f = kiln_cabi_alloc(cx, 2 * sizeof *f);
        char *name = kiln_cabi_alloc(cx, n + 1);
        if (!ent || !f || !name) return p2_fail(cx, "out of memory");
        memcpy(name, e->d_name, n);
        f[0].var.disc = type;
        f[0].var.payload = NULL;
        f[1].str.ptr = name;
        f[1].str.len = n;
        ent->agg.items = f;
        ent->agg.n = 2;
        opt->var.disc = 1;
        opt->var.payload = ent;
        return 0;
    }
}

/* The parent of path beneath d, or err(...) answered (returns 1) / 0 resolved. */
static int parent_of(kiln_wasip2 *w, kiln_cabi_cx *cx, p2_desc *d, const char *path,
                     kiln_beneath_parent *p, kiln_cval *res)
{
    int r = kiln_beneath_resolve_parent(&w->no_openat2, d->fd, path, p);
    if (r < 0) return path_errno(cx, &res[0], -r) < 0 ? -1 : 1;
    return 0;
}

#define PARENT(p, d, path)                                                                         \
    kiln_beneath_parent p;                                                                         \
    do {                                                                                           \
        int r_ = parent_of(ctx, cx, (d), (path), &p, res);                                         \
        if (r_) return r_ < 0 ? -1 : 0;                                                            \
    } while (0)

/* Answers a *at() call's outcome (r < 0: errno; enotempty: EEXIST means not-empty) and
 * frees the parent. */
static int at_done(kiln_cabi_cx *cx, kiln_cval *res, int r, int enotempty, kiln_beneath_parent *p)
{
    int e = errno;
    kiln_beneath_parent_free(p);
    if (r < 0) return fs_errno(cx, &res[0], enotempty && e == EEXIST ? ENOTEMPTY : e);
    return fs_ok(cx, &res[0], NULL);
}

static int create_directory_at(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    DIR_DESC(d, args[0].res.rep, 1);
    PATH_ARG(path, &args[1]);
    PARENT(p, d, path);
    return at_done(cx, res, mkdirat(p.fd, p.name, 0777), 0, &p);
}

static int remove_directory_at(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    DIR_DESC(d, args[0].res.rep, 1);
    PATH_ARG(path, &args[1]);
    PARENT(p, d, path);
    return at_done(cx, res, unlinkat(p.fd, p.name, AT_REMOVEDIR), 1, &p);
}

static int unlink_file_at(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    DIR_DESC(d, args[0].res.rep, 1);
    PATH_ARG(path, &args[1]);
    PARENT(p, d, path);
    if (p.slash) { /* "file/" names a directory: unlink refuses it like preview1 */
        struct stat st;
        int r = fstatat(p.fd, p.name, &st, AT_SYMLINK_NOFOLLOW);
        if (r == 0 && !S_ISDIR(st.st_mode)) errno = ENOTDIR, r = -1;
        if (r == 0) errno = EISDIR, r = -1;
        return at_done(cx, res, r, 0, &p);
    }
    return at_done(cx, res, unlinkat(p.fd, p.name, 0), 0, &p);
}

static int symlink_at(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    DIR_DESC(d, args[0].res.rep, 1);
    PATH_ARG(target, &args[1]);
    PATH_ARG(path, &args[2]);
    if (target[0] == '/') return fs_err(cx, &res[0], EC_PERM); /* would point outside */
    PARENT(p, d, path);
    if (p.slash) {
        kiln_beneath_parent_free(&p);
        return fs_err(cx, &res[0], EC_NOENT);
    }
    return at_done(cx, res, symlinkat(target, p.fd, p.name), 0, &p);
}

static int readlink_at(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    DIR_DESC(d, args[0].res.rep, 0);
    PATH_ARG(path, &args[1]);
    PARENT(p, d, path);
    char *t = kiln_beneath_readlink(p.fd, p.name);
    int e = errno;
    kiln_beneath_parent_free(&p);
    if (!t) return fs_errno(cx, &res[0], e);
    size_t n = strlen(t);
    kiln_cval *v;
    char *s = kiln_cabi_alloc(cx, n + 1);
    if (!s || fs_ok(cx, &res[0], &v) < 0) {
        kiln_free(t);
        return p2_fail(cx, "out of memory");
    }
    memcpy(s, t, n);
    kiln_free(t);
    v->str.ptr = s;
    v->str.len = n;
    return 0;
}

static int rename_at(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    DIR_DESC(a, args[0].res.rep, 1);
    DIR_DESC(b, args[2].res.rep, 1);
    PATH_ARG(from, &args[1]);
    PATH_ARG(to, &args[3]);
    PARENT(pa, a, from);
    kiln_beneath_parent pb;
    int r = parent_of(ctx, cx, b, to, &pb, res);
    if (r) {
        kiln_beneath_parent_free(&pa);
        return r < 0 ? -1 : 0;
    }
    r = renameat(pa.fd, pa.name, pb.fd, pb.name);
    int e = errno;
    kiln_beneath_parent_free(&pb);
    errno = e;
    return at_done(cx, res, r, 1, &pa);
}

static int link_at(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    DIR_DESC(a, args[0].res.rep, 1);
    DIR_DESC(b, args[3].res.rep, 1);
    /* Following a symlink could leave the sandbox (wasmtime refuses it too). */
    if (args[1].flags[0] & 1) return fs_err(cx, &res[0], EC_INVAL);
    PATH_ARG(from, &args[2]);
    PATH_ARG(to, &args[4]);
    PARENT(pa, a, from);
    kiln_beneath_parent pb;
    int r = parent_of(ctx, cx, b, to, &pb, res);
    if (r) {
        kiln_beneath_parent_free(&pa);
        return r < 0 ? -1 : 0;
    }
    if (pa.slash || pb.slash) {
        struct stat st;
        r = fstatat(pa.fd, pa.name, &st, AT_SYMLINK_NOFOLLOW);
        if (r == 0) errno = S_ISDIR(st.st_mode) ? EPERM : pb.slash ? ENOENT : ENOTDIR, r = -1;
    } else {
        r = linkat(pa.fd, pa.name, pb.fd, pb.name, 0);
    }
    int e = errno;
    kiln_beneath_parent_free(&pb);
    errno = e;
    return at_done(cx, res, r, 0, &pa);
}

/* Opens path beneath d as O_PATH (following the last symlink when follow): fd, or -1
 * with the error answered in res (*answered set: 1, or -1 out of memory). */
static int path_fd(kiln_wasip2 *w, kiln_cabi_cx *cx, p2_desc *d, const char *path, int follow,
                   kiln_cval *res, int *answered)
{
    *answered = 0;
    int r = path[0] ? kiln_beneath_open(&w->no_openat2, d->fd, path,
                                        O_PATH | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW), 0)
                    : -ENOENT;
    if (r < 0) {
        *answered = path_errno(cx, &res[0], -r) < 0 ? -1 : 1;
        return -1;
    }
    return r;
}

/* stat-at and metadata-hash-at: (descriptor, path-flags, path) -> fstat of the path
 * opened below the descriptor, answered by `put`. */
static int fstat_at(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res,
                    int (*put)(kiln_cabi_cx *, kiln_cval *, const struct stat *))
{
    DIR_DESC(d, args[0].res.rep, 0);
    PATH_ARG(path, &args[2]);
    int ans, fd = path_fd(ctx, cx, d, path, args[1].flags[0] & 1, res, &ans);
    if (fd < 0) return ans < 0 ? -1 : 0;
    struct stat st;
    int r = fstat(fd, &st), e = errno;
    close(fd);
    return r < 0 ? fs_errno(cx, &res[0], e) : put(cx, &res[0], &st);
}

static int stat_at(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    return fstat_at(ctx, cx, args, res, stat_result);
}

static int metadata_hash_at(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    return fstat_at(ctx, cx, args, res, hash_result);
}

static int set_times_at(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    DIR_DESC(d, args[0].res.rep, 1);
    PATH_ARG(path, &args[2]);
    struct timespec ts[2];
    new_timestamp(&args[3], &ts[0]);
    new_timestamp(&args[4], &ts[1]);
    if (args[1].flags[0] & 1) {
        int ans, fd = path_fd(ctx, cx, d, path, 1, res, &ans);
        if (fd < 0) return ans < 0 ? -1 : 0;
        int r = utimensat(fd, "", ts, AT_EMPTY_PATH), e = errno;
        close(fd);
        return r < 0 ? fs_errno(cx, &res[0], e) : fs_ok(cx, &res[0], NULL);
    }
    PARENT(p, d, path);
    return at_done(cx, res, utimensat(p.fd, p.name, ts, AT_SYMLINK_NOFOLLOW), 0, &p);
}

/* open-at(path-flags, path, open-flags, descriptor-flags) -> result<own<descriptor>>. */
static int open_at(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    DIR_DESC(d, args[0].res.rep, 0);
    PATH_ARG(path, &args[2]);
    uint32_t pf = args[1].flags[0], of = args[3].flags[0], df = args[4].flags[0] & 63u;
    int create = of & 1, directory = of & 2, excl = of & 4, trunc = of & 8;
    int writing = (df & P2_DF_WRITE) != 0;
    if (d->readonly && (writing || create || trunc)) return fs_err(cx, &res[0], EC_ROFS);
    if (directory && writing) return fs_err(cx, &res[0], EC_ISDIR);
    if (!path[0]) return fs_err(cx, &res[0], EC_NOENT);
    int fl = O_CLOEXEC;
    if (create) fl |= O_CREAT;
    if (excl) fl |= O_EXCL;
    if (trunc) fl |= O_TRUNC;
    if (directory) fl |= O_DIRECTORY;
    if (!(pf & 1)) fl |= O_NOFOLLOW;
    if (df & P2_DF_FILE_SYNC) fl |= O_SYNC;
    if (df & P2_DF_DATA_SYNC) fl |= O_DSYNC;
    if (df & P2_DF_REQ_SYNC) fl |= O_RSYNC;
    if (writing && !directory)
        fl |= (df & P2_DF_READ) ? O_RDWR : O_WRONLY;
    else
        fl |= O_RDONLY;
    int h = kiln_beneath_open(&((kiln_wasip2 *)ctx)->no_openat2, d->fd, path, fl, 0666);
    if (h == -EISDIR && !writing && !directory) /* e.g. O_TRUNC on a directory */
        return fs_err(cx, &res[0], EC_ISDIR);
    if (h < 0) return path_errno(cx, &res[0], -h);
    struct stat st;
    if (fstat(h, &st) < 0) {
        int e = errno;
        close(h);
        return fs_errno(cx, &res[0], e);
    }
    int is_dir = S_ISDIR(st.st_mode);
    /* A directory has its parent's permissions whatever the flags asked (as in wasmtime):
     * read, and mutate-directory unless read-only. */
    if (is_dir)
        df = (df & ~(uint32_t)P2_DF_MUTATE_DIR) | P2_DF_READ | (d->flags & P2_DF_MUTATE_DIR);
    if (d->readonly) df &= ~(uint32_t)P2_DF_MUTATE_DIR;
    uint32_t rep = desc_new(ctx, h, d->readonly, df, is_dir);
    if (!rep) return p2_fail(cx, "out of memory");
    kiln_cval *p;
    if (fs_ok(cx, &res[0], &p) < 0) return -1;
    p->res.rep = rep;
    p->res.type = NULL;
    return 0;
}

/* filesystem-error-code(borrow<error>) -> option<error-code>: some for errors that a file
 * operation made (streams over files). */
static int error_code(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    const p2_error *e = p2_table_get(&((kiln_wasip2 *)ctx)->errors, args[0].res.rep);
    res[0].var.disc = 0;
    res[0].var.payload = NULL;
    if (!e || !e->host_errno) return 0;
    kiln_cval *c = kiln_cabi_alloc(cx, sizeof *c);
    if (!c) return p2_fail(cx, "out of memory");
    c->var.disc = p2_fs_error_code(e->host_errno);
    c->var.payload = NULL;
    res[0].var.disc = 1;
    res[0].var.payload = c;
    return 0;
}

#define BD "(borrow<descriptor>"
#define R(T) " -> result<" T ", *>"
static const kiln_chost_resource fs_res[] = {{"descriptor", desc_dtor},
                                             {"directory-entry-stream", dirstream_dtor}};
static const kiln_chost_func fs_funcs[] = {
    {"filesystem-error-code", "(borrow<error>) -> option<*>", error_code},
    {"[method]descriptor.read-via-stream", BD ", u64)" R("own<input-stream>"), read_via_stream},
    {"[method]descriptor.write-via-stream", BD ", u64)" R("own<output-stream>"), write_via_stream},
    {"[method]descriptor.append-via-stream", BD ")" R("own<output-stream>"), append_via_stream},
    {"[method]descriptor.advise", BD ", u64, u64, *)" R("_"), advise},
    {"[method]descriptor.sync-data", BD ")" R("_"), sync_data},
    {"[method]descriptor.get-flags", BD ")" R("*"), get_flags},
    {"[method]descriptor.get-type", BD ")" R("*"), get_type},
    {"[method]descriptor.set-size", BD ", u64)" R("_"), set_size},
    {"[method]descriptor.set-times", BD ", *, *)" R("_"), set_times},
    {"[method]descriptor.read", BD ", u64, u64)" R("tuple<list<u8>, bool>"), read_},
    {"[method]descriptor.write", BD ", list<u8>, u64)" R("u64"), write_},
    {"[method]descriptor.read-directory", BD ")" R("own<directory-entry-stream>"), read_directory},
    {"[method]descriptor.sync", BD ")" R("_"), sync_},
    {"[method]descriptor.create-directory-at", BD ", string)" R("_"), create_directory_at},
    {"[method]descriptor.stat", BD ")" R("*"), stat_},
    {"[method]descriptor.stat-at", BD ", *, string)" R("*"), stat_at},
    {"[method]descriptor.set-times-at", BD ", *, string, *, *)" R("_"), set_times_at},
    {"[method]descriptor.link-at", BD ", *, string, borrow<descriptor>, string)" R("_"), link_at},
    {"[method]descriptor.open-at", BD ", *, string, *, *)" R("own<descriptor>"), open_at},
    {"[method]descriptor.readlink-at", BD ", string)" R("string"), readlink_at},
    {"[method]descriptor.remove-directory-at", BD ", string)" R("_"), remove_directory_at},
    {"[method]descriptor.rename-at", BD ", string, borrow<descriptor>, string)" R("_"), rename_at},
    {"[method]descriptor.symlink-at", BD ", string, string)" R("_"), symlink_at},
    {"[method]descriptor.unlink-file-at", BD ", string)" R("_"), unlink_file_at},
    {"[method]descriptor.is-same-object", BD ", borrow<descriptor>) -> bool", is_same_object},
    {"[method]descriptor.metadata-hash", BD ")" R("*"), metadata_hash},
    {"[method]descriptor.metadata-hash-at", BD ", *, string)" R("*"), metadata_hash_at},
    {"[method]directory-entry-stream.read-directory-entry",
     "(borrow<directory-entry-stream>)" R("option<*>"), read_directory_entry},
};
const kiln_chost_iface kiln_wasip2_fs_types = {"wasi:filesystem/types",
                                               KILN_WASIP2_VERSION,
                                               fs_res,
                                               2,
                                               fs_funcs,
                                               sizeof fs_funcs / sizeof fs_funcs[0]};
