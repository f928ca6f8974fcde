/* wasip2_test.c — the WASI 0.2 host's functions called directly (no guest): the streams'
 * check-write protocol, poll, filesystem confinement (.., absolute paths, symlink
 * escapes; with openat2 and with the component-wise resolver), read-only grants, error
 * codes, sockets (made freely, reaching only what the grants allow; a granted connect
 * with bytes both ways), version linking, and copies of a context for component images
 * (ctx_clone: get-directories' descriptors and stdio streams under the same reps, over
 * the copy's own grants, the template's directories borrowed when the grants match;
 * anything else refused). */
#include "engine/fiber.h"
#include "host/wasip2/wasip2.h"
#include "util/alloc.h"
#include "util/test.h"
#include "host/wasip2/cval_test.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <poll.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* error-code cases used below (wasi:filesystem/types) */
enum { EC_BADF = 3, EC_EXIST = 7, EC_NOENT = 20, EC_NOTEMPTY = 25, EC_PERM = 31, EC_ROFS = 33 };

static kiln_wasip2 *W;
static kiln_cabi_cx CX;

/* Calls function fname of the interface serving import `iface`; returns its rc. */
static int call(const char *iface, const char *fname, const kiln_cval *args, kiln_cval *res)
{
    const kiln_chost_iface *i = kiln_chost_find(iface, NULL);
    const kiln_chost_func *f = i ? kiln_chost_find_func(i, fname) : NULL;
    if (!f) {
        fprintf(stderr, "  no %s %s\n", iface, fname);
        return -2;
    }
    memset(res, 0, 2 * sizeof *res);
    CX.err[0] = '\0';
    return f->fn(W, &CX, args, res);
}

#define IO "wasi:io/streams@0.2.0"
#define FS "wasi:filesystem/types@0.2.3"

/* A list<u8> value: byte lists cross as bytes (compact form, host.h). */
static kiln_cval bytes_(const char *s, kiln_cval *unused)
{
    (void)unused;
    return str_(s);
}

/* The error-code of an err result, or -1 when ok. */
static long err_code(const kiln_cval *r)
{
    return r->var.disc == 1 ? (long)r->var.payload->var.disc : -1;
}

static void test_streams(kiln_buf *out)
{
    kiln_cval a[3] = {0}, r[2], items[16];
    CHECK_INT(call("wasi:cli/stdout@0.2.0", "get-stdout", a, r), 0);
    uint32_t so = r[0].res.rep;
    a[0] = res_(so);
    /* write without a permit traps (check-write was never called) */
    a[1] = bytes_("x", items);
    CHECK_INT(call(IO, "[method]output-stream.write", a, r), -1);
    CHECK(strstr(CX.err, "check-write") != NULL);
    CHECK_INT(call(IO, "[method]output-stream.check-write", a, r), 0);
    CHECK_INT(r[0].var.disc, 0);
    CHECK_INT(r[0].var.payload->u, P2_WRITE_BUDGET);
    a[1] = bytes_("hello", items);
    CHECK_INT(call(IO, "[method]output-stream.write", a, r), 0);
    CHECK_INT(r[0].var.disc, 0);
    a[1] = u64_(3);
    CHECK_INT(call(IO, "[method]output-stream.write-zeroes", a, r), 0);
    /* more than what is left of the permit traps */
    a[1] = u64_(P2_WRITE_BUDGET);
    CHECK_INT(call(IO, "[method]output-stream.write-zeroes", a, r), -1);
    CHECK_INT(out->len, 8);
    CHECK(out->len == 8 && memcmp(out->data, "hello\0\0\0", 8) == 0);
    a[1] = bytes_("!", items);
    CHECK_INT(call(IO, "[method]output-stream.blocking-write-and-flush", a, r), 0);
    a[1] = u64_(P2_BLOCKING_MAX + 1);
    CHECK_INT(call(IO, "[method]output-stream.blocking-write-zeroes-and-flush", a, r), -1);
    CHECK_INT(call(IO, "[method]output-stream.blocking-flush", a, r), 0);
    CHECK_INT(r[0].var.disc, 0);
    /* the memory sink's limit: last-operation-failed(error), then closed */
    CHECK_INT(call(IO, "[method]output-stream.check-write", a, r), 0);
    a[1] = u64_(100);
    CHECK_INT(call(IO, "[method]output-stream.write-zeroes", a, r), 0);
    CHECK_INT(r[0].var.disc, 1);
    CHECK_INT(r[0].var.payload->var.disc, 0);
    uint32_t err = r[0].var.payload->var.payload->res.rep;
    a[0] = res_(err);
    CHECK_INT(call("wasi:io/error@0.2.0", "[method]error.to-debug-string", a, r), 0);
    CHECK(r[0].str.len > 0);
    CHECK_INT(call(FS, "filesystem-error-code", a, r), 0);
    CHECK_INT(r[0].var.disc, 0); /* none: stdout is not a file */
    a[0] = res_(so);
    CHECK_INT(call(IO, "[method]output-stream.check-write", a, r), 0);
    CHECK_INT(r[0].var.disc, 1);
    CHECK_INT(r[0].var.payload->var.disc, 1); /* closed */
    /* a stdout handle is not an input stream */
    a[1] = u64_(1);
    CHECK_INT(call(IO, "[method]input-stream.read", a, r), -1);

    /* stdin from memory: read, skip, then closed at the end */
    CHECK_INT(call("wasi:cli/stdin@0.2.0", "get-stdin", a, r), 0);
    a[0] = res_(r[0].res.rep);
    a[1] = u64_(3);
    CHECK_INT(call(IO, "[method]input-stream.read", a, r), 0);
    CHECK_INT(r[0].var.disc, 0);
    CHECK_INT(r[0].var.payload->str.len, 3);
    CHECK_INT(r[0].var.payload->str.ptr[2], 'c');
    a[1] = u64_(100);
    CHECK_INT(call(IO, "[method]input-stream.blocking-skip", a, r), 0);
    CHECK_INT(r[0].var.payload->u, 3);
    CHECK_INT(call(IO, "[method]input-stream.blocking-read", a, r), 0);
    CHECK_INT(r[0].var.disc, 1);
    CHECK_INT(r[0].var.payload->var.disc, 1); /* closed */
}

static void test_poll(void)
{
    kiln_cval a[2] = {0}, r[2], list[3];
    a[0].agg.items = list;
    a[0].agg.n = 0;
    CHECK_INT(call("wasi:io/poll@0.2.0", "poll", a, r), -1); /* empty list traps */
    a[0] = u64_(3600ull * 1000000000u);
    CHECK_INT(call("wasi:clocks/monotonic-clock@0.2.0", "subscribe-duration", a, r), 0);
    uint32_t late = r[0].res.rep;
    a[0] = u64_(0);
    CHECK_INT(call("wasi:clocks/monotonic-clock@0.2.0", "subscribe-duration", a, r), 0);
    uint32_t now = r[0].res.rep;
    a[0] = u64_(20 * 1000000u);
    CHECK_INT(call("wasi:clocks/monotonic-clock@0.2.0", "subscribe-duration", a, r), 0);
    uint32_t soon = r[0].res.rep;
    a[0] = res_(soon);
    CHECK_INT(call("wasi:io/poll@0.2.0", "[method]pollable.ready", a, r), 0);
    CHECK_INT(r[0].u, 0);
    list[0] = res_(late);
    list[1] = res_(now);
    a[0].agg.items = list;
    a[0].agg.n = 2;
    CHECK_INT(call("wasi:io/poll@0.2.0", "poll", a, r), 0);
    CHECK_INT(r[0].agg.n, 1);
    CHECK_INT(r[0].agg.items[0].u, 1);
    /* only a 20 ms and a 1 h pollable: poll waits for the first */
    uint64_t t0 = p2_monotonic_now();
    list[1] = res_(soon);
    CHECK_INT(call("wasi:io/poll@0.2.0", "poll", a, r), 0);
    CHECK_INT(r[0].agg.n, 1);
    CHECK_INT(r[0].agg.items[0].u, 1);
    CHECK(p2_monotonic_now() - t0 >= 20 * 1000000u);
    a[0] = res_(soon);
    CHECK_INT(call("wasi:io/poll@0.2.0", "[method]pollable.ready", a, r), 0);
    CHECK_INT(r[0].u, 1);
    a[0] = res_(999);
    CHECK_INT(call("wasi:io/poll@0.2.0", "[method]pollable.block", a, r), -1);
}

/* On a fiber under an event loop, poll on a clock pollable and a blocking-read of a pipe
 * (a host-fd stdin) park the fiber: the loop gets the wait, the host call returns once the
 * loop completes it. */
typedef struct fake_loop {
    kiln_sched base;
    kiln_fiber *waiting;
    kiln_wait_req req;
    int woken;
} fake_loop;

static void fl_wait(kiln_sched *s, kiln_fiber *f, const kiln_wait_req *req)
{
    fake_loop *l = (fake_loop *)s;
    l->waiting = f;
    l->req = *req;
}

static void fl_wake(kiln_sched *s, kiln_fiber *f)
{
    (void)f;
    ((fake_loop *)s)->woken++;
}

static int fiber_rc;
static kiln_cval fiber_args[2], fiber_res[2];
static const char *fiber_iface, *fiber_fn;

static void call_on_fiber(void *arg)
{
    (void)arg;
    fiber_rc = call(fiber_iface, fiber_fn, fiber_args, fiber_res);
}

static void test_fiber(int pipe_rd, int pipe_wr, uint32_t in)
{
    fake_loop l = {{fl_wait, fl_wake}, NULL, {0}, 0};
    kiln_sched_bind(&l.base);
    /* poll on a 200 ms clock pollable (long enough that a loaded machine does not pass it
     * between subscribe and poll, which would not park) */
    kiln_cval a[1] = {0}, r[2];
    a[0] = u64_(200 * 1000000u);
    CHECK_INT(call("wasi:clocks/monotonic-clock@0.2.0", "subscribe-duration", a, r), 0);
    static kiln_cval list[1];
    list[0] = res_(r[0].res.rep);
    fiber_args[0].agg.items = list;
    fiber_args[0].agg.n = 1;
    fiber_iface = "wasi:io/poll@0.2.0", fiber_fn = "poll", fiber_rc = 99;
    kiln_fiber *f = kiln_fiber_new(call_on_fiber, NULL);
    CHECK(f != NULL);
    if (!f) return;
    int parked = kiln_fiber_resume(f);
    CHECK_INT(parked, KILN_FIBER_PARKED);
    if (parked != KILN_FIBER_PARKED) { /* (resuming a done fiber again would abort) */
        kiln_fiber_free(f);
        kiln_sched_bind(NULL);
        return;
    }
    CHECK(l.waiting == f);
    CHECK_INT(l.req.kind, KILN_WAIT_SLEEP);
    CHECK_INT(fiber_rc, 99); /* still waiting */
    struct timespec ts = {(time_t)(l.req.deadline_ns / 1000000000u),
                          (long)(l.req.deadline_ns % 1000000000u)};
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL); /* the loop's timer */
    kiln_sched_complete(f, 0);
    CHECK_INT(l.woken, 1);
    CHECK_INT(kiln_fiber_resume(f), KILN_FIBER_DONE);
    CHECK_INT(fiber_rc, 0);
    CHECK_INT(fiber_res[0].agg.n, 1);
    kiln_fiber_free(f);

    /* blocking-read of an empty pipe: parks on the fd, reads once data is there */
    fiber_args[0] = res_(in);
    fiber_args[1] = u64_(100);
    fiber_iface = IO, fiber_fn = "[method]input-stream.blocking-read", fiber_rc = 99;
    l.waiting = NULL;
    CHECK((f = kiln_fiber_new(call_on_fiber, NULL)) != NULL);
    if (!f) return;
    CHECK_INT(kiln_fiber_resume(f), KILN_FIBER_PARKED);
    CHECK(l.waiting == f);
    CHECK_INT(l.req.kind, KILN_WAIT_FD);
    CHECK_INT(l.req.fd, pipe_rd);
    CHECK_INT(fiber_rc, 99);
    CHECK(write(pipe_wr, "hey", 3) == 3);
    kiln_sched_complete(f, POLLIN);
    CHECK_INT(kiln_fiber_resume(f), KILN_FIBER_DONE);
    CHECK_INT(fiber_rc, 0);
    CHECK_INT(fiber_res[0].var.disc, 0);
    CHECK_INT(fiber_res[0].var.payload->str.len, 3);
    kiln_fiber_free(f);
    kiln_sched_bind(NULL);
}

/* open-at(dir, path-flags, path, open-flags, descriptor-flags): the result's error code
 * (-1 ok) and the new descriptor in *out. */
static long open_at(uint32_t dir, uint32_t pf, const char *path, uint32_t of, uint32_t df,
                    uint32_t *out)
{
    kiln_cval a[5] = {0}, r[2];
    a[0] = res_(dir);
    a[1] = flags_(pf);
    a[2] = str_(path);
    a[3] = flags_(of);
    a[4] = flags_(df);
    if (call(FS, "[method]descriptor.open-at", a, r) != 0) return -100;
    if (r[0].var.disc == 0 && out) *out = r[0].var.payload->res.rep;
    return err_code(&r[0]);
}

static long at1(const char *fn, uint32_t dir, const char *path)
{
    kiln_cval a[2] = {0}, r[2];
    a[0] = res_(dir);
    a[1] = str_(path);
    if (call(FS, fn, a, r) != 0) return -100;
    return err_code(&r[0]);
}

static void test_fs(const char *root)
{
    kiln_cval a[5] = {0}, r[2], items[16];
    CHECK_INT(call("wasi:filesystem/preopens@0.2.0", "get-directories", a, r), 0);
    CHECK_INT(r[0].agg.n, 2);
    uint32_t rw = r[0].agg.items[0].agg.items[0].res.rep;
    uint32_t ro = r[0].agg.items[1].agg.items[0].res.rep;
    CHECK(r[0].agg.items[1].agg.items[1].str.len == 3 &&
          memcmp(r[0].agg.items[1].agg.items[1].str.ptr, "/ro", 3) == 0);

    /* create, write, read back, stat */
    uint32_t f = 0;
    CHECK_INT(open_at(rw, 0, "f.txt", 1 /* create */, P2_DF_READ | P2_DF_WRITE, &f), -1);
    a[0] = res_(f);
    a[1] = bytes_("data", items);
    a[2] = u64_(2);
    CHECK_INT(call(FS, "[method]descriptor.write", a, r), 0);
    CHECK_INT(r[0].var.payload->u, 4);
    a[1] = u64_(100);
    a[2] = u64_(0);
    CHECK_INT(call(FS, "[method]descriptor.read", a, r), 0);
    CHECK_INT(r[0].var.payload->agg.items[0].str.len, 6);
    CHECK_INT(r[0].var.payload->agg.items[0].str.ptr[2], 'd');
    CHECK_INT(r[0].var.payload->agg.items[1].u, 0); /* not at the end yet */
    a[1] = u64_(10);
    a[2] = u64_(6);
    CHECK_INT(call(FS, "[method]descriptor.read", a, r), 0);
    CHECK_INT(r[0].var.payload->agg.items[1].u, 1); /* eof */
    a[1] = flags_(0);
    a[2] = str_("f.txt");
    a[0] = res_(rw);
    CHECK_INT(call(FS, "[method]descriptor.stat-at", a, r), 0);
    CHECK_INT(r[0].var.payload->agg.items[0].var.disc, 6); /* regular-file */
    CHECK_INT(r[0].var.payload->agg.items[2].u, 6);
    /* a stream over the file, and the file as a directory */
    a[0] = res_(f);
    a[1] = u64_(2);
    CHECK_INT(call(FS, "[method]descriptor.read-via-stream", a, r), 0);
    a[0] = res_(r[0].var.payload->res.rep);
    a[1] = u64_(100);
    CHECK_INT(call(IO, "[method]input-stream.read", a, r), 0);
    CHECK_INT(r[0].var.payload->str.len, 4);
    CHECK_INT(at1("[method]descriptor.create-directory-at", f, "x"), 24); /* not-directory */
    /* a descriptor opened read-only refuses writes */
    uint32_t g = 0;
    CHECK_INT(open_at(rw, 0, "f.txt", 0, P2_DF_READ, &g), -1);
    a[0] = res_(g);
    a[1] = u64_(0);
    CHECK_INT(call(FS, "[method]descriptor.write-via-stream", a, r), 0);
    CHECK_INT(err_code(&r[0]), EC_BADF);

    /* error codes */
    CHECK_INT(open_at(rw, 0, "missing", 0, P2_DF_READ, NULL), EC_NOENT);
    CHECK_INT(open_at(rw, 0, "f.txt", 1 | 4 /* exclusive */, P2_DF_WRITE, NULL), EC_EXIST);
    CHECK_INT(at1("[method]descriptor.create-directory-at", rw, "d"), -1);
    CHECK_INT(open_at(rw, 0, "d/f2", 1, P2_DF_WRITE, NULL), -1);
    CHECK_INT(at1("[method]descriptor.remove-directory-at", rw, "d"), EC_NOTEMPTY);

    /* confinement: "..", absolute paths, symlinks leading out (also through a subdir) */
    CHECK_INT(open_at(rw, 0, "..", 0, P2_DF_READ, NULL), EC_PERM);
    CHECK_INT(open_at(rw, 0, "d/../../rw", 0, P2_DF_READ, NULL), EC_PERM);
    CHECK_INT(open_at(rw, 0, "/etc/passwd", 0, P2_DF_READ, NULL), EC_PERM);
    CHECK_INT(at1("[method]descriptor.create-directory-at", rw, "../escaped"), EC_PERM);
    char p[512];
    snprintf(p, sizeof p, "%s/rw/out", root);
    CHECK(symlink("../../", p) == 0);
    snprintf(p, sizeof p, "%s/rw/abs", root);
    CHECK(symlink("/etc", p) == 0);
    CHECK_INT(open_at(rw, 1, "out/rw/f.txt", 0, P2_DF_READ, NULL), EC_PERM);
    CHECK_INT(open_at(rw, 1, "abs/passwd", 0, P2_DF_READ, NULL), EC_PERM);
    CHECK_INT(open_at(rw, 0, "abs/passwd", 0, P2_DF_READ, NULL), EC_PERM);
    a[0] = res_(rw);
    a[1] = flags_(1);
    a[2] = str_("abs");
    CHECK_INT(call(FS, "[method]descriptor.stat-at", a, r), 0);
    CHECK_INT(err_code(&r[0]), EC_PERM);
    a[1] = flags_(0);
    CHECK_INT(call(FS, "[method]descriptor.stat-at", a, r), 0);
    CHECK_INT(r[0].var.payload->agg.items[0].var.disc, 5); /* the link itself */
    CHECK_INT(at1("[method]descriptor.unlink-file-at", rw, "out/rw/f.txt"), EC_PERM);
    a[0] = res_(rw);
    a[1] = str_("/etc/passwd");
    a[2] = str_("newlink");
    CHECK_INT(call(FS, "[method]descriptor.symlink-at", a, r), 0);
    CHECK_INT(err_code(&r[0]), EC_PERM);
    a[1] = str_("f.txt");
    CHECK_INT(call(FS, "[method]descriptor.symlink-at", a, r), 0);
    CHECK_INT(err_code(&r[0]), -1);
    CHECK_INT(at1("[method]descriptor.readlink-at", rw, "newlink"), -1);
    CHECK_INT(at1("[method]descriptor.readlink-at", rw, "f.txt"), 12); /* invalid */
    /* a subdirectory descriptor cannot climb out either */
    uint32_t d = 0;
    CHECK_INT(open_at(rw, 0, "d", 2 /* directory */, P2_DF_READ, &d), -1);
    CHECK_INT(open_at(d, 0, "../f.txt", 0, P2_DF_READ, NULL), EC_PERM);
    CHECK_INT(open_at(d, 0, "f2", 0, P2_DF_READ, NULL), -1);

    /* the read-only preopen: reading works, every change is read-only */
    CHECK_INT(open_at(ro, 0, "r.txt", 0, P2_DF_READ, NULL), -1);
    CHECK_INT(open_at(ro, 0, "r.txt", 0, P2_DF_READ | P2_DF_WRITE, NULL), EC_ROFS);
    CHECK_INT(open_at(ro, 0, "new", 1, P2_DF_READ, NULL), EC_ROFS);
    CHECK_INT(open_at(ro, 0, "r.txt", 8 /* truncate */, P2_DF_READ, NULL), EC_ROFS);
    CHECK_INT(at1("[method]descriptor.create-directory-at", ro, "x"), EC_ROFS);
    CHECK_INT(at1("[method]descriptor.unlink-file-at", ro, "r.txt"), EC_ROFS);
    CHECK_INT(at1("[method]descriptor.remove-directory-at", ro, "x"), EC_ROFS);
    a[0] = res_(ro);
    a[1] = str_("r.txt");
    a[2] = res_(ro);
    a[3] = str_("s.txt");
    CHECK_INT(call(FS, "[method]descriptor.rename-at", a, r), 0);
    CHECK_INT(err_code(&r[0]), EC_ROFS);
    a[0] = res_(rw);
    a[1] = str_("f.txt");
    a[2] = res_(ro);
    CHECK_INT(call(FS, "[method]descriptor.rename-at", a, r), 0);
    CHECK_INT(err_code(&r[0]), EC_ROFS);
    uint32_t rf = 0;
    CHECK_INT(open_at(ro, 0, "r.txt", 0, P2_DF_READ, &rf), -1);
    a[0] = res_(rf);
    a[1] = u64_(0);
    CHECK_INT(call(FS, "[method]descriptor.set-size", a, r), 0);
    CHECK_INT(err_code(&r[0]), EC_ROFS);
    snprintf(p, sizeof p, "%s/ro/r.txt", root);
    struct stat st;
    CHECK(stat(p, &st) == 0 && st.st_size == 2);
    /* get-flags: no mutate-directory on the read-only preopen */
    a[0] = res_(ro);
    CHECK_INT(call(FS, "[method]descriptor.get-flags", a, r), 0);
    CHECK_INT(r[0].var.payload->flags[0], P2_DF_READ);

    /* read-directory: the entries, then none */
    a[0] = res_(ro);
    CHECK_INT(call(FS, "[method]descriptor.read-directory", a, r), 0);
    a[0] = res_(r[0].var.payload->res.rep);
    int n = 0, saw = 0;
    for (;;) {
        CHECK_INT(call(FS, "[method]directory-entry-stream.read-directory-entry", a, r), 0);
        if (r[0].var.disc != 0 || r[0].var.payload->var.disc == 0) break;
        const kiln_cval *e = r[0].var.payload->var.payload;
        n++;
        if (e->agg.items[1].str.len == 5 && !memcmp(e->agg.items[1].str.ptr, "r.txt", 5))
            saw = e->agg.items[0].var.disc == 6;
    }
    CHECK_INT(n, 1);
    CHECK(saw);
    /* is-same-object / metadata-hash */
    a[0] = res_(rf);
    a[1] = res_(rf);
    CHECK_INT(call(FS, "[method]descriptor.is-same-object", a, r), 0);
    CHECK_INT(r[0].u, 1);
    a[1] = res_(f);
    CHECK_INT(call(FS, "[method]descriptor.is-same-object", a, r), 0);
    CHECK_INT(r[0].u, 0);
    /* an unknown handle traps */
    a[0] = res_(9999);
    CHECK_INT(call(FS, "[method]descriptor.stat", a, r), -1);

    /* clean up for the second round */
    CHECK_INT(at1("[method]descriptor.unlink-file-at", rw, "d/f2"), -1);
    CHECK_INT(at1("[method]descriptor.remove-directory-at", rw, "d"), -1);
    CHECK_INT(at1("[method]descriptor.unlink-file-at", rw, "f.txt"), -1);
    CHECK_INT(at1("[method]descriptor.unlink-file-at", rw, "newlink"), -1);
    CHECK_INT(at1("[method]descriptor.unlink-file-at", rw, "out"), -1);
    CHECK_INT(at1("[method]descriptor.unlink-file-at", rw, "abs"), -1);
}

/* ctx_clone: W (a template with preopens rw and ro) hands out its directories and stdout;
 * a copy made with grants g2 (stdout into out2) has them under the same reps, over its own
 * fds and stdout. A template with a file open is refused. */
static void test_clone(const kiln_grants *g2, kiln_buf *out2)
{
    kiln_cval a[5] = {0}, r[2], items[4];
    CHECK_INT(call("wasi:filesystem/preopens@0.2.0", "get-directories", a, r), 0);
    uint32_t ro = r[0].agg.items[1].agg.items[0].res.rep;
    CHECK_INT(call("wasi:cli/stdout@0.2.0", "get-stdout", a, r), 0);
    uint32_t so = r[0].res.rep;
    kiln_wasip2 *tmpl = W;
    char *err = NULL;
    kiln_wasip2 *copy = kiln_wasip2_provider.ctx_clone(tmpl, g2, &err);
    CHECK(copy != NULL);
    if (!copy) {
        fprintf(stderr, "%s\n", err ? err : "?");
        kiln_free(err);
        return;
    }
    /* the same grants: the copy borrows the template's preopen directory */
    const p2_desc *cd = p2_table_get(&copy->descs, ro);
    CHECK(cd && cd->fd == tmpl->preopens[1].fd && cd->borrowed && cd->readonly && cd->is_dir);
    W = copy;
    a[0] = res_(ro);
    CHECK_INT(call(FS, "[method]descriptor.get-type", a, r), 0);
    CHECK_INT(r[0].var.payload->var.disc, 3); /* directory */
    a[1] = bytes_("copy", items);
    CHECK_INT(call(IO, "[method]output-stream.blocking-write-and-flush", (a[0] = res_(so), a), r),
              0);
    CHECK(out2->len == 4 && memcmp(out2->data, "copy", 4) == 0);
    kiln_wasip2_provider.ctx_free(copy);
    W = tmpl;
    CHECK(fcntl(tmpl->preopens[1].fd, F_GETFD) >= 0); /* freeing the copy closed nothing of it */
    /* other grants (ro granted as /ro2): the copy opens its own directory */
    kiln_grants g3 = *g2;
    kiln_wasi_preopen pre3[2] = {g2->wasi.preopens[0], g2->wasi.preopens[1]};
    pre3[1].guest_path = "/ro2";
    g3.wasi.preopens = pre3;
    copy = kiln_wasip2_provider.ctx_clone(tmpl, &g3, &err);
    CHECK(copy != NULL);
    cd = copy ? p2_table_get(&copy->descs, ro) : NULL;
    CHECK(cd && !cd->borrowed && cd->fd != tmpl->preopens[1].fd && cd->fd != copy->preopens[1].fd);
    CHECK(copy && copy->preopens[0].borrowed && !copy->preopens[1].borrowed);
    kiln_wasip2_provider.ctx_free(copy);
    /* a file opened at initialization cannot be copied */
    uint32_t f = 0;
    CHECK_INT(open_at(ro, 0, ".", 0, P2_DF_READ, &f), -1);
    CHECK(kiln_wasip2_provider.ctx_clone(tmpl, g2, &err) == NULL);
    CHECK(err && strstr(err, "descriptor other than get-directories'"));
    kiln_free(err);
    const kiln_chost_iface *fs = kiln_chost_find(FS, NULL);
    long k = fs ? kiln_chost_find_resource(fs, "descriptor") : -1;
    CHECK(k >= 0);
    if (k >= 0) fs->resources[k].dtor(W, f); /* the guest drops it: copies work again */
    copy = kiln_wasip2_provider.ctx_clone(tmpl, g2, &err);
    CHECK(copy != NULL);
    kiln_wasip2_provider.ctx_free(copy);
}

/* Grants of the two preopens pre (rw, ro), stdin from in[0..inlen), stdout into out (at
 * most 20 bytes), no stderr. */
static void grants_of(kiln_grants *g, kiln_wasi_preopen *pre, const uint8_t *in, size_t inlen,
                      kiln_buf *out)
{
    memset(g, 0, sizeof *g);
    g->wasi.preopens = pre;
    g->wasi.npreopens = 2;
    g->wasi.stdio[0] = (kiln_wasi_stdio){-1, in, inlen, NULL, 0};
    g->wasi.stdio[1] = (kiln_wasi_stdio){-1, NULL, 0, out, 20};
    g->wasi.stdio[2] = (kiln_wasi_stdio){-1, NULL, 0, NULL, 0};
}

/* An ip-socket-address value (ipv4 a.b.c.d:port) with its parts in p[0..7). */
static kiln_cval addr4(kiln_cval *p, int a, int b, int c, int d, int port)
{
    static kiln_cval parts[4][8];
    static int k;
    (void)p;
    kiln_cval *q = parts[k++ % 4];
    memset(q, 0, 8 * sizeof *q);
    q[0].agg.items = &q[1]; /* the record {port, address} */
    q[0].agg.n = 2;
    q[1].u = (uint64_t)port;
    q[2].agg.items = &q[3]; /* the tuple */
    q[2].agg.n = 4;
    q[3].u = (uint64_t)a, q[4].u = (uint64_t)b, q[5].u = (uint64_t)c, q[6].u = (uint64_t)d;
    kiln_cval v = {0};
    v.var.disc = 0;
    v.var.payload = q;
    return v;
}

#define TCPI "wasi:sockets/tcp@0.2.0"
#define UDPI "wasi:sockets/udp@0.2.3"
/* Under grants tcp://127.0.0.1:PORT and udp://127.0.0.1:* (an app: no TCP bind):
 * connect, the would-block state machine, bytes both ways through the streams; bind
 * refused; another port refused; UDP's check-send permit and datagram checks. */
static void test_sockets_granted(void)
{
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in srv = {0};
    srv.sin_family = AF_INET;
    srv.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof srv;
    CHECK(lfd >= 0 && bind(lfd, (struct sockaddr *)&srv, sl) == 0 && listen(lfd, 4) == 0 &&
          getsockname(lfd, (struct sockaddr *)&srv, &sl) == 0);
    int port = ntohs(srv.sin_port);
    char grant[64];
    snprintf(grant, sizeof grant, "tcp://127.0.0.1:%d", port);
    const char *grants[] = {grant, "udp://127.0.0.1:*"};
    kiln_grants g = {0};
    g.allowed_outbound_hosts = grants;
    g.nallowed_outbound_hosts = 2;
    g.wasi.stdio[0].fd = g.wasi.stdio[1].fd = g.wasi.stdio[2].fd = -1;
    char *err = NULL;
    kiln_wasip2 *saved = W;
    W = kiln_wasip2_provider.ctx_new(&g, &err);
    CHECK(W != NULL);
    if (!W) {
        W = saved;
        return;
    }
    kiln_cval a[3], r[2], p[8];
    memset(a, 0, sizeof a);
    CHECK_INT(call("wasi:sockets/tcp-create-socket@0.2.3", "create-tcp-socket", a, r), 0);
    uint32_t t = r[0].var.disc == 0 ? r[0].var.payload->res.rep : 0;
    CHECK(t != 0);
    a[0] = res_(t);
    a[1] = res_(1);
    a[2] = addr4(p, 127, 0, 0, 1, port);
    CHECK_INT(call(TCPI, "[method]tcp-socket.start-bind", a, r), 0);
    CHECK_INT(err_code(&r[0]), 1); /* access-denied: apps never bind TCP */
    a[2] = addr4(p, 127, 0, 0, 1, port + 1);
    CHECK_INT(call(TCPI, "[method]tcp-socket.start-connect", a, r), 0);
    CHECK_INT(err_code(&r[0]), 1); /* another port */
    a[2] = addr4(p, 127, 0, 0, 1, port);
    CHECK_INT(call(TCPI, "[method]tcp-socket.finish-connect", a, r), 0);
    CHECK_INT(err_code(&r[0]), 7); /* not-in-progress */
    CHECK_INT(call(TCPI, "[method]tcp-socket.start-connect", a, r), 0);
    CHECK_INT(err_code(&r[0]), -1);
    CHECK_INT(call(TCPI, "[method]tcp-socket.start-connect", a, r), 0);
    CHECK_INT(err_code(&r[0]), 6); /* concurrency-conflict */
    long e = 8;
    uint32_t in = 0, out = 0;
    for (int i = 0; i < 1000 && e == 8; i++) { /* would-block until connected */
        CHECK_INT(call(TCPI, "[method]tcp-socket.finish-connect", a, r), 0);
        e = err_code(&r[0]);
        if (e == 8) usleep(1000);
    }
    CHECK_INT(e, -1);
    if (e == -1) {
        in = r[0].var.payload->agg.items[0].res.rep;
        out = r[0].var.payload->agg.items[1].res.rep;
    }
    int cfd = accept(lfd, NULL, NULL);
    CHECK(cfd >= 0);
    kiln_cval b[2] = {res_(out), str_("ping")};
    CHECK_INT(call(IO, "[method]output-stream.blocking-write-and-flush", b, r), 0);
    CHECK_INT(err_code(&r[0]), -1);
    char buf[8] = {0};
    CHECK_INT(read(cfd, buf, 4), 4);
    CHECK(memcmp(buf, "ping", 4) == 0);
    b[0] = res_(in);
    b[1] = u64_(16);
    CHECK_INT(call(IO, "[method]input-stream.read", b, r), 0); /* nothing yet: empty */
    CHECK(r[0].var.disc == 0 && r[0].var.payload->str.len == 0);
    CHECK_INT(write(cfd, "pong", 4), 4);
    CHECK_INT(call(IO, "[method]input-stream.blocking-read", b, r), 0);
    CHECK(r[0].var.disc == 0 && r[0].var.payload->str.len == 4 &&
          memcmp(r[0].var.payload->str.ptr, "pong", 4) == 0);
    CHECK_INT(call(TCPI, "[method]tcp-socket.remote-address", a, r), 0);
    CHECK(r[0].var.disc == 0 && (int)r[0].var.payload->var.payload->agg.items[0].u == port);
    close(cfd);
    CHECK_INT(call(IO, "[method]input-stream.blocking-read", b, r), 0);
    CHECK_INT(r[0].var.disc, 1); /* closed */
    /* UDP: send needs check-send's permit (else a trap); a datagram without an address
     * on an unconnected socket is invalid-argument; a forged stream traps */
    a[0] = u64_(0);
    a[0].var.disc = 0;
    CHECK_INT(call("wasi:sockets/udp-create-socket@0.2.0", "create-udp-socket", a, r), 0);
    uint32_t u = r[0].var.disc == 0 ? r[0].var.payload->res.rep : 0;
    a[0] = res_(u);
    a[1] = res_(1);
    a[2] = addr4(p, 127, 0, 0, 1, 0);
    CHECK_INT(call(UDPI, "[method]udp-socket.start-bind", a, r), 0);
    CHECK_INT(err_code(&r[0]), -1);
    CHECK_INT(call(UDPI, "[method]udp-socket.finish-bind", a, r), 0);
    CHECK_INT(err_code(&r[0]), -1);
    kiln_cval none = {0};
    kiln_cval us[2] = {res_(u), none};
    CHECK_INT(call(UDPI, "[method]udp-socket.stream", us, r), 0);
    CHECK_INT(err_code(&r[0]), -1);
    uint32_t uin = 0, uout = 0;
    if (r[0].var.disc == 0) {
        uin = r[0].var.payload->agg.items[0].res.rep;
        uout = r[0].var.payload->agg.items[1].res.rep;
    }
    static kiln_cval dg[2], dgrec;
    dg[0] = str_("x");
    dg[1] = none; /* remote-address: none */
    dgrec.agg.items = dg;
    dgrec.agg.n = 2;
    kiln_cval sa[2] = {res_(uout), none};
    sa[1].agg.items = &dgrec;
    sa[1].agg.n = 1;
    CHECK_INT(call(UDPI, "[method]outgoing-datagram-stream.send", sa, r), -1);
    CHECK(strstr(CX.err, "check-send") != NULL);
    CHECK_INT(call(UDPI, "[method]outgoing-datagram-stream.check-send", sa, r), 0);
    CHECK(r[0].var.disc == 0 && r[0].var.payload->u > 0);
    CHECK_INT(call(UDPI, "[method]outgoing-datagram-stream.send", sa, r), 0);
    CHECK_INT(err_code(&r[0]), 3); /* invalid-argument: no address, not connected */
    kiln_cval ra[2] = {res_(uin), u64_(4)};
    CHECK_INT(call(UDPI, "[method]incoming-datagram-stream.receive", ra, r), 0);
    CHECK(r[0].var.disc == 0 && r[0].var.payload->agg.n == 0); /* nothing yet: empty */
    ra[0] = res_(999);
    CHECK_INT(call(UDPI, "[method]incoming-datagram-stream.receive", ra, r), -1);
    CHECK_INT(call(UDPI, "[method]udp-socket.stream", us, r), 0);
    CHECK_INT(err_code(&r[0]), 9); /* invalid-state: its streams are still there */
    /* a context holding a socket is not copied */
    CHECK(kiln_wasip2_provider.ctx_clone(W, &g, &err) == NULL);
    kiln_free(err);
    kiln_wasip2_provider.ctx_free(W);
    W = saved;
    close(lfd);
}

static void test_sockets_and_versions(void)
{
    kiln_cval a[2] = {0}, r[2];
    /* no grants: a socket can be made, but nothing reached or resolved */
    a[0] = u64_(0);
    a[0].var.disc = 0;
    CHECK_INT(call("wasi:sockets/tcp-create-socket@0.2.0", "create-tcp-socket", a, r), 0);
    CHECK_INT(err_code(&r[0]), -1);
    uint32_t t = r[0].var.payload ? r[0].var.payload->res.rep : 0;
    CHECK_INT(call("wasi:sockets/udp-create-socket@0.2.3", "create-udp-socket", a, r), 0);
    CHECK_INT(err_code(&r[0]), -1);
    CHECK_INT(call("wasi:sockets/instance-network@0.2.0", "instance-network", a, r), 0);
    uint32_t net = r[0].res.rep;
    kiln_cval a3[3] = {res_(t), res_(net), addr4(NULL, 127, 0, 0, 1, 9)};
    CHECK_INT(call("wasi:sockets/tcp@0.2.0", "[method]tcp-socket.start-connect", a3, r), 0);
    CHECK_INT(err_code(&r[0]), 1); /* access-denied */
    a[0] = res_(net);
    a[1] = str_("example.com");
    CHECK_INT(call("wasi:sockets/ip-name-lookup@0.2.0", "resolve-addresses", a, r), 0);
    CHECK_INT(err_code(&r[0]), 1);
    a[0] = res_(99); /* a forged handle traps */
    CHECK_INT(call("wasi:sockets/tcp@0.2.0", "[method]tcp-socket.start-listen", a, r), -1);
    /* every 0.2.x a toolchain emits links; 0.3 does not */
    const char *v[] = {"0.2.0", "0.2.1", "0.2.3", "0.2.6", "0.2.8", "0.2.12"};
    char name[64];
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        snprintf(name, sizeof name, "wasi:filesystem/types@%s", v[i]);
        CHECK(kiln_chost_find(name, NULL) != NULL);
        snprintf(name, sizeof name, "wasi:sockets/tcp@%s", v[i]);
        CHECK(kiln_chost_find(name, NULL) != NULL);
    }
    CHECK(kiln_chost_find("wasi:io/streams@0.3.0", NULL) == NULL);
}

int main(void)
{
    char root[] = "/tmp/kiln-wasip2-test.XXXXXX";
    if (!mkdtemp(root)) return 1;
    char p[600];
    snprintf(p, sizeof p, "%s/rw", root);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/ro", root);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/ro/r.txt", root);
    int fd = open(p, O_WRONLY | O_CREAT, 0644);
    CHECK(fd >= 0 && write(fd, "ro", 2) == 2);
    close(fd);
    char rwp[600], rop[600];
    snprintf(rwp, sizeof rwp, "%s/rw", root);
    snprintf(rop, sizeof rop, "%s/ro", root);

    /* stdin from a pipe (a host fd): parks fibers */
    {
        int pfd[2];
        CHECK(pipe(pfd) == 0);
        kiln_grants g;
        memset(&g, 0, sizeof g);
        g.wasi.stdio[0] = (kiln_wasi_stdio){pfd[0], NULL, 0, NULL, 0};
        g.wasi.stdio[1] = (kiln_wasi_stdio){-1, NULL, 0, NULL, 0};
        g.wasi.stdio[2] = (kiln_wasi_stdio){-1, NULL, 0, NULL, 0};
        char *err = NULL;
        W = kiln_wasip2_provider.ctx_new(&g, &err);
        CHECK(W != NULL && kiln_cabi_cx_init(&CX) == 0);
        if (!W) return 1;
        kiln_cval a[1] = {0}, r[2];
        CHECK_INT(call("wasi:cli/stdin@0.2.0", "get-stdin", a, r), 0);
        uint32_t in = r[0].res.rep;
        /* read never blocks: nothing there yet is an empty list */
        kiln_cval ra[2] = {res_(in), u64_(10)};
        CHECK_INT(call(IO, "[method]input-stream.read", ra, r), 0);
        CHECK_INT(r[0].var.disc, 0);
        CHECK_INT(r[0].var.payload->str.len, 0);
        CHECK_INT(call(IO, "[method]input-stream.subscribe", ra, r), 0);
        kiln_cval pa[1] = {res_(r[0].res.rep)};
        CHECK_INT(call("wasi:io/poll@0.2.0", "[method]pollable.ready", pa, r), 0);
        CHECK_INT(r[0].u, 0);
        test_fiber(pfd[0], pfd[1], in);
        CHECK_INT(call("wasi:io/poll@0.2.0", "[method]pollable.ready", pa, r), 0);
        CHECK_INT(r[0].u, 0); /* the 3 bytes were read */
        close(pfd[1]);
        CHECK_INT(call("wasi:io/poll@0.2.0", "[method]pollable.ready", pa, r), 0);
        CHECK_INT(r[0].u, 1); /* EOF is ready */
        CHECK_INT(call(IO, "[method]input-stream.blocking-read", ra, r), 0);
        CHECK_INT(r[0].var.disc, 1);
        CHECK_INT(r[0].var.payload->var.disc, 1); /* closed */
        kiln_cabi_cx_free(&CX);
        kiln_wasip2_provider.ctx_free(W);
        close(pfd[0]);
    }

    for (int round = 0; round < 2; round++) {
        kiln_buf out = KILN_BUF_INIT;
        static const uint8_t in[] = "abcdef";
        kiln_wasi_preopen pre[2] = {{rwp, "/rw", 0}, {rop, "/ro", 1}};
        kiln_grants g;
        grants_of(&g, pre, in, 6, &out);
        char *err = NULL;
        W = kiln_wasip2_provider.ctx_new(&g, &err);
        CHECK(W != NULL);
        if (!W) {
            fprintf(stderr, "%s\n", err ? err : "?");
            return 1;
        }
        W->no_openat2 = round; /* round 1: the component-wise resolver */
        CHECK_INT(kiln_cabi_cx_init(&CX), 0);
        if (round == 0) {
            test_streams(&out);
            test_poll();
            test_sockets_and_versions();
            test_sockets_granted();
        }
        test_fs(root);
        kiln_cabi_cx_free(&CX);
        kiln_wasip2_provider.ctx_free(W);
        kiln_buf_free(&out);
    }
    /* copies of a context (a fresh template: test_fs leaves files open) */
    {
        kiln_buf out = KILN_BUF_INIT, out2 = KILN_BUF_INIT;
        kiln_wasi_preopen pre[2] = {{rwp, "/rw", 0}, {rop, "/ro", 1}};
        kiln_grants g, g2;
        grants_of(&g, pre, NULL, 0, &out);
        grants_of(&g2, pre, NULL, 0, &out2);
        char *err = NULL;
        W = kiln_wasip2_provider.ctx_new(&g, &err);
        CHECK(W != NULL && kiln_cabi_cx_init(&CX) == 0);
        if (W) test_clone(&g2, &out2);
        CHECK_INT(out.len, 0); /* the template's stdout saw nothing */
        kiln_cabi_cx_free(&CX);
        kiln_wasip2_provider.ctx_free(W);
        kiln_buf_free(&out);
        kiln_buf_free(&out2);
    }
    /* a preopen that cannot be opened is an error with a message */
    kiln_wasi_preopen bad = {"/nonexistent/kiln", "/x", 0};
    kiln_grants g;
    memset(&g, 0, sizeof g);
    g.wasi.preopens = &bad;
    g.wasi.npreopens = 1;
    char *err = NULL;
    CHECK(kiln_wasip2_provider.ctx_new(&g, &err) == NULL);
    CHECK(err && strstr(err, "/nonexistent/kiln"));
    kiln_free(err);
    snprintf(p, sizeof p, "rm -rf '%s'", root);
    CHECK(system(p) == 0);
    return test_finish("wasip2");
}
