/* filesystem.c — wasi:filesystem 0.3: types and preopens (wasip3.h), over the WASI 0.2
 * host's filesystem (host/wasip2/filesystem.c).
 *
 * Every descriptor call that 0.3 kept from 0.2 (made async, or renamed types) is the 0.2
 * call on the 0.3 context's 0.2 context: the same descriptors (reps of its table), the
 * same confinement beneath the granted preopens (host/beneath.h: absolute paths, ".."
 * above the descriptor and symlinks leading out fail with not-permitted; changes below a
 * read-only preopen with read-only). What differs is converted on the way back:
 *   - error-code is a variant without would-block (0.2 case 1, now other(none)) and with
 *     other(option<string>) last: 0.2's case c > 1 is 0.3's c - 1;
 *   - descriptor-type has no unknown (0.2 case 0, now other(none)) first: c - 1;
 *   - instant {s64, u32} and 0.2's datetime {u64, u32} have the same values.
 * New in 0.3, the streams and futures:
 *   - read-via-stream: a host stream<u8> fed by pread from the offset, its future
 *     resolved at the end (ok, or the read's error); a directory gives an empty stream
 *     and err(is-directory);
 *   - write-via-stream / append-via-stream: the host reads the guest's stream<u8> and
 *     pwrites it at the offset (at the end of the file), the future resolved when the
 *     guest drops the stream (ok, or the first write's error, after which the rest is
 *     dropped); a descriptor that cannot write resolves it at once with
 *     err(bad-descriptor) (a directory, no write flag) or err(read-only);
 *   - read-directory: a host stream<directory-entry> read with 0.2's directory-entry-
 *     stream (".." and "." left out), its future resolved at the end.
 * Each stream's state is a p3_file (a dup of the descriptor's fd), in the context's list
 * until the stream is over (file_finished) or the context goes. */
#include "host/wasip2/wasip2.h"
#include "host/wasip3/wasip3.h"
#include "util/alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* 0.3 error-code cases used here (WIT order) */
enum { EC3_BADF = 2, EC3_INVAL = 11, EC3_IO = 12, EC3_ISDIR = 13, EC3_ROFS = 32, EC3_OTHER = 36 };
/* 0.2's would-block and unknown descriptor-type */
enum { EC2_WOULD_BLOCK = 1, TYPE2_UNKNOWN = 0, TYPE3_OTHER = 7 };

/* A stream of a descriptor in progress. */
typedef struct p3_file {
    kiln_wasip3 *c;
    int fd;       /* a dup of the descriptor's (owned), or -1 */
    uint64_t off; /* the next offset */
    int append;   /* writes go to the end */
    uint32_t dir; /* read-directory: the 0.2 directory-entry-stream's rep (0: none) */
    int err;      /* the error-code (0.3 case) + 1 the future reports; 0: ok */
    kiln_chost_future *done;
    struct p3_file *next;
} p3_file;

void kiln_wasip3_files_free(kiln_wasip3 *c)
{
    while (c->files) {
        p3_file *f = c->files;
        c->files = f->next;
        if (f->fd >= 0) close(f->fd);
        kiln_free(f); /* the 0.2 context frees its directory streams */
    }
}

static int fail(kiln_cabi_cx *cx, const char *msg)
{
    snprintf(cx->err, sizeof cx->err, "%s", msg);
    return -1;
}

/* 0.3's error-code case for 0.2's case c. */
static uint32_t ec3(uint32_t c)
{
    return c == EC2_WOULD_BLOCK ? EC3_OTHER : c > EC2_WOULD_BLOCK ? c - 1 : c;
}

/* Converts variant v of 0.2's error-code or descriptor-type (case `odd` of 0.2 is 0.3's
 * other(none)) in place; none: memory from cx for other's payload. */
static int conv_case(kiln_cabi_cx *cx, kiln_cval *v, int is_type)
{
    uint32_t c = v->var.disc;
    if (is_type)
        v->var.disc = c == TYPE2_UNKNOWN ? TYPE3_OTHER : c - 1;
    else
        v->var.disc = ec3(c);
    v->var.payload = NULL;
    if (v->var.disc == (is_type ? TYPE3_OTHER : EC3_OTHER)) {
        kiln_cval *none = kiln_cabi_alloc(cx, sizeof *none);
        if (!none) return fail(cx, "out of memory");
        memset(none, 0, sizeof *none);
        v->var.payload = none;
    }
    return 0;
}

/* What a 0.2 result's ok payload holds that 0.3 types differently. */
enum { OK_SAME, OK_STAT, OK_TYPE, NOT_RESULT };

/* Calls 0.2's descriptor function `name` and converts its result<T, error-code>. */
static int via_p2(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res,
                  const char *name, int ok)
{
    if (kiln_wasip3_p2_call(ctx, &kiln_wasip2_fs_types, name, cx, args, res) < 0) return -1;
    if (ok == NOT_RESULT) return 0;
    kiln_cval *p = res[0].var.payload;
    if (res[0].var.disc == 1) return conv_case(cx, p, 0);
    if (ok == OK_STAT) return conv_case(cx, &p->agg.items[0], 1);
    if (ok == OK_TYPE) return conv_case(cx, p, 1);
    return 0;
}

#define VIA(fn, name, ok)                                                                          \
    static int fn(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)              \
    {                                                                                              \
        return via_p2(ctx, cx, args, res, "[method]descriptor." name, ok);                         \
    }

VIA(advise, "advise", OK_SAME)
VIA(sync_data, "sync-data", OK_SAME)
VIA(get_flags, "get-flags", OK_SAME)
VIA(get_type, "get-type", OK_TYPE)
VIA(set_size_p2, "set-size", OK_SAME)

/* set-size of a file not opened for writing is invalid, as ftruncate says (and wasmtime's
 * p3 host answers); 0.2's bad-descriptor otherwise. */
static int set_size(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    const p2_desc *d =
        p2_table_get(&((kiln_wasip2 *)((kiln_wasip3 *)ctx)->p2)->descs, args[0].res.rep);
    if (!d || d->is_dir || (d->flags & P2_DF_WRITE) || d->readonly)
        return set_size_p2(ctx, cx, args, res);
    kiln_cval *c = kiln_cabi_alloc(cx, sizeof *c);
    if (!c) return fail(cx, "out of memory");
    memset(c, 0, sizeof *c);
    c->var.disc = EC3_INVAL;
    res[0].var.disc = 1;
    res[0].var.payload = c;
    return 0;
}
VIA(set_times, "set-times", OK_SAME)
VIA(sync_, "sync", OK_SAME)
VIA(create_directory_at, "create-directory-at", OK_SAME)
VIA(stat_, "stat", OK_STAT)
VIA(stat_at, "stat-at", OK_STAT)
VIA(set_times_at, "set-times-at", OK_SAME)
VIA(link_at, "link-at", OK_SAME)
VIA(open_at, "open-at", OK_SAME)
VIA(readlink_at, "readlink-at", OK_SAME)
VIA(remove_directory_at, "remove-directory-at", OK_SAME)
VIA(rename_at, "rename-at", OK_SAME)
VIA(symlink_at, "symlink-at", OK_SAME)
VIA(unlink_file_at, "unlink-file-at", OK_SAME)
VIA(is_same_object, "is-same-object", NOT_RESULT)
VIA(metadata_hash, "metadata-hash", OK_SAME)
VIA(metadata_hash_at, "metadata-hash-at", OK_SAME)

static void desc_dtor(void *ctx, uint32_t rep)
{
    kiln_wasip2_fs_types.resources[0].dtor(((kiln_wasip3 *)ctx)->p2, rep);
}

static int get_directories(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    return kiln_wasip3_p2_call(ctx, &kiln_wasip2_fs_preopens, "get-directories", cx, args, res);
}

/* ---- streams ---- */

/* Resolves f's future: ok, or err(f->err - 1). */
static void file_done(p3_file *f)
{
    if (!f->done) return;
    kiln_chost_future *hf = f->done;
    f->done = NULL;
    kiln_cval v, *parts = f->err ? kiln_chost_future_values(hf, 2) : NULL;
    memset(&v, 0, sizeof v);
    if (f->err && parts) { /* err(code); other's payload none (parts[1], zero) */
        parts[0].var.disc = (uint32_t)f->err - 1;
        parts[0].var.payload = parts[0].var.disc == EC3_OTHER ? &parts[1] : NULL;
        v.var.disc = 1;
        v.var.payload = &parts[0];
    }
    kiln_chost_future_resolve(hf, &v); /* no memory for the error: ok rather than nothing */
}

/* f's stream is over (its end reached, or the guest dropped its end: no hook of it runs
 * again): the future resolves, the fd and the 0.2 directory-entry-stream go, and so does
 * f, so that a guest opening streams in a loop holds no host fd for those it finished. */
static void file_finished(void *arg)
{
    p3_file *f = arg, **pp = &f->c->files;
    if (f->dir) kiln_wasip2_fs_types.resources[1].dtor(f->c->p2, f->dir);
    file_done(f);
    if (f->fd >= 0) close(f->fd);
    while (*pp && *pp != f)
        pp = &(*pp)->next;
    if (*pp) *pp = f->next;
    kiln_free(f);
}

/* A new p3_file of c with its future in *fut (fd: taken over): NULL with cx->err. */
static p3_file *file_new(kiln_wasip3 *c, kiln_cabi_cx *cx, int fd, kiln_cval *fut)
{
    p3_file *f = kiln_calloc(1, sizeof *f);
    if (!f) {
        if (fd >= 0) close(fd);
        return fail(cx, "out of memory"), NULL;
    }
    f->c = c;
    f->fd = fd;
    f->next = c->files;
    c->files = f;
    f->done = kiln_chost_future_writer(cx, fut);
    return f->done ? f : NULL;
}

/* The 0.2 descriptor behind rep (a trap for an unknown one), and why a stream over it
 * cannot `need` (P2_DF_READ / P2_DF_WRITE): the 0.3 error-code + 1, 0 when it can. */
static p2_desc *stream_desc(kiln_wasip3 *c, kiln_cabi_cx *cx, uint32_t rep, uint32_t need, int *err)
{
    p2_desc *d = p2_table_get(&((kiln_wasip2 *)c->p2)->descs, rep);
    if (!d) return fail(cx, "descriptor: unknown descriptor"), NULL;
    *err = 0;
    if (d->is_dir)
        *err = 1 + (need == P2_DF_READ ? EC3_ISDIR : EC3_BADF);
    else if (!(d->flags & need))
        *err = 1 + EC3_BADF;
    else if (need == P2_DF_WRITE && d->readonly)
        *err = 1 + EC3_ROFS;
    return d;
}

/* The host reads the file for the guest: pread at the offset; at the end or on an
 * error the stream ends and the future resolves. */
static size_t file_produce(void *arg, uint8_t *buf, size_t n, int *end)
{
    p3_file *f = arg;
    ssize_t k = -1;
    if (f->fd >= 0 && !f->err) {
        do
            k = pread(f->fd, buf, n, (off_t)f->off);
        while (k < 0 && errno == EINTR);
        if (k < 0) f->err = 1 + (int)ec3(p2_fs_error_code(errno));
    }
    if (k > 0) {
        f->off += (uint64_t)k;
        return (size_t)k;
    }
    *end = 1;
    file_finished(f);
    return 0;
}

/* The guest's bytes, written at the offset (or the end) at once; after an error the
 * rest is dropped and the future reports it. */
static size_t file_consume(void *arg, const uint8_t *data, size_t n)
{
    p3_file *f = arg;
    for (size_t done = 0; done < n && !f->err;) {
        struct stat st;
        if (f->append && fstat(f->fd, &st) == 0) f->off = (uint64_t)st.st_size;
        ssize_t k = pwrite(f->fd, data + done, n - done, (off_t)f->off);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) {
            f->err = 1 + (int)ec3(p2_fs_error_code(errno));
            break;
        }
        done += (size_t)k;
        f->off += (uint64_t)k;
    }
    return n;
}

static int read_via_stream(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    int err;
    p2_desc *d = stream_desc(ctx, cx, args[0].res.rep, P2_DF_READ, &err);
    if (!d) return -1;
    kiln_cval *two = kiln_cabi_alloc(cx, 2 * sizeof *two);
    if (!two) return fail(cx, "out of memory");
    memset(two, 0, 2 * sizeof *two);
    int fd = err ? -1 : fcntl(d->fd, F_DUPFD_CLOEXEC, 0);
    if (!err && fd < 0) err = 1 + (int)ec3(p2_fs_error_code(errno));
    p3_file *f = file_new(ctx, cx, fd, &two[1]);
    if (!f) return -1;
    f->off = args[1].u;
    f->err = err;
    kiln_chost_stream_ops ops = {NULL, file_produce, file_finished, f};
    if (!kiln_chost_stream_writer(cx, &two[0], &ops)) return -1;
    res[0].agg.items = two;
    res[0].agg.n = 2;
    return 0;
}

/* write-via-stream and append-via-stream: the guest's stream args[1] (append: args[1]
 * too, no offset) drained into the file. */
static int write_common(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res,
                        int append)
{
    int err;
    p2_desc *d = stream_desc(ctx, cx, args[0].res.rep, P2_DF_WRITE, &err);
    if (!d) return -1;
    int fd = err ? -1 : fcntl(d->fd, F_DUPFD_CLOEXEC, 0);
    if (!err && fd < 0) err = 1 + (int)ec3(p2_fs_error_code(errno));
    p3_file *f = file_new(ctx, cx, fd, &res[0]);
    if (!f) return -1;
    f->off = append ? 0 : args[2].u;
    f->append = append;
    f->err = err;
    if (!append && args[2].u > INT64_MAX) f->err = 1 + EC3_INVAL; /* (append has no args[2]) */
    if (f->err) file_done(f); /* known now: the guest need not finish writing */
    kiln_chost_stream_ops ops = {file_consume, NULL, file_finished, f};
    /* (f may be gone when this returns: a stream whose writer was dropped already) */
    return kiln_chost_stream_reader(cx, &args[1], &ops) ? 0 : -1;
}

static int write_via_stream(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    return write_common(ctx, cx, args, res, 0);
}

static int append_via_stream(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    return write_common(ctx, cx, args, res, 1);
}

/* The next directory entries, read with 0.2's directory-entry-stream. */
static size_t dir_values(void *arg, kiln_cabi_cx *cx, kiln_cval *vals, size_t n, int *end)
{
    p3_file *f = arg;
    size_t k = 0;
    while (k < n && f->dir && !f->err) {
        kiln_cval a, r[2];
        memset(&a, 0, sizeof a);
        memset(r, 0, sizeof r);
        a.res.rep = f->dir;
        if (kiln_wasip3_p2_call(f->c, &kiln_wasip2_fs_types,
                                "[method]directory-entry-stream.read-directory-entry", cx, &a,
                                r) < 0) {
            f->err = 1 + EC3_IO;
        } else if (r[0].var.disc == 1) {
            f->err = 1 + (int)ec3(r[0].var.payload->var.disc);
        } else if (r[0].var.payload->var.disc == 0) {
            break; /* none: the end */
        } else {
            vals[k] = *r[0].var.payload->var.payload;
            if (conv_case(cx, &vals[k].agg.items[0], 1) < 0)
                f->err = 1 + EC3_IO;
            else
                k++;
        }
    }
    if (k) return k;
    *end = 1;
    file_finished(f);
    return 0;
}

static int read_directory(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    kiln_cval r[2];
    memset(r, 0, sizeof r);
    if (kiln_wasip3_p2_call(ctx, &kiln_wasip2_fs_types, "[method]descriptor.read-directory", cx,
                            args, r) < 0)
        return -1;
    kiln_cval *two = kiln_cabi_alloc(cx, 2 * sizeof *two);
    if (!two) return fail(cx, "out of memory");
    memset(two, 0, 2 * sizeof *two);
    p3_file *f = file_new(ctx, cx, -1, &two[1]);
    if (!f) {
        if (r[0].var.disc == 0)
            kiln_wasip2_fs_types.resources[1].dtor(((kiln_wasip3 *)ctx)->p2,
                                                   r[0].var.payload->res.rep);
        return -1;
    }
    if (r[0].var.disc == 0)
        f->dir = r[0].var.payload->res.rep;
    else
        f->err = 1 + (int)ec3(r[0].var.payload->var.disc);
    kiln_chost_stream_ops ops = {NULL, NULL, file_finished, f};
    if (!kiln_chost_stream_values(cx, &two[0], dir_values, &ops)) return -1;
    res[0].agg.items = two;
    res[0].agg.n = 2;
    return 0;
}

/* ---- the interfaces ---- */

#define BD "(borrow<descriptor>"
#define R(T) " -> result<" T ", *>"
#define FUT " -> future<result<_, *>>"
static const kiln_chost_resource fs_res[] = {{"descriptor", desc_dtor}};
static const kiln_chost_func fs_funcs[] = {
    {"[method]descriptor.read-via-stream", BD ", u64) -> tuple<stream<u8>, future<result<_, *>>>",
     read_via_stream},
    {"[method]descriptor.write-via-stream", BD ", stream<u8>, u64)" FUT, write_via_stream},
    {"[method]descriptor.append-via-stream", BD ", stream<u8>)" FUT, append_via_stream},
    {"[method]descriptor.advise", BD ", u64, u64, *)" R("_"), advise},
    {"[method]descriptor.sync-data", BD ")" R("_"), sync_data},
    {"[method]descriptor.get-flags", BD ")" R("*"), get_flags},
    {"[method]descriptor.get-type", BD ")" R("*"), get_type},
    {"[method]descriptor.set-size", BD ", u64)" R("_"), set_size},
    {"[method]descriptor.set-times", BD ", *, *)" R("_"), set_times},
    {"[method]descriptor.read-directory",
     BD ") -> tuple<stream<record{type: *, name: string}>, future<result<_, *>>>", read_directory},
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
};
#define NF (sizeof fs_funcs / sizeof fs_funcs[0])
static const kiln_chost_func preopen_funcs[] = {
    {"get-directories", "() -> list<tuple<own<descriptor>, string>>", get_directories}};

#define RC "0.3.0-rc-2026-03-15"
#define REL "0.3.0"
const kiln_chost_iface kiln_wasip3_fs_types_rc = {
    "wasi:filesystem/types", RC, fs_res, 1, fs_funcs, NF};
const kiln_chost_iface kiln_wasip3_fs_types_rel = {
    "wasi:filesystem/types", REL, fs_res, 1, fs_funcs, NF};
const kiln_chost_iface kiln_wasip3_fs_preopens_rc = {
    "wasi:filesystem/preopens", RC, NULL, 0, preopen_funcs, 1};
const kiln_chost_iface kiln_wasip3_fs_preopens_rel = {
    "wasi:filesystem/preopens", REL, NULL, 0, preopen_funcs, 1};
