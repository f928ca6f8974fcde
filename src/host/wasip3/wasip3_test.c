/* wasip3_test.c — the WASI 0.3 host's synchronous functions called directly (no guest):
 * both versions (0.3.0 and 0.3.0-rc-2026-03-15) link; wasi:cli environment gives the
 * granted arguments and environment; system-clock, timezone, random insecure and
 * insecure-seed answer; wasi:filesystem 0.3 answers with 0.3's error-code and
 * descriptor-type cases (no would-block, no unknown: one less than 0.2's), confines paths
 * beneath the preopen ("..", absolute paths, a symlink leading out: not-permitted) and
 * refuses changes below a read-only preopen (read-only); copies of a context (ctx_clone,
 * for images) keep get-directories' descriptors and refuse opened files. The streams
 * (read-via-stream, write-via-stream, read-directory) need a guest: tests/e2e/component_p3_wasi.sh.
 */
#include "host/wasip3/wasip3.h"
#include "util/alloc.h"
#include "util/test.h"
#include "host/wasip2/cval_test.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* 0.3 error-code cases (wasi:filesystem/types@0.3.0) and descriptor-type cases */
enum {
    EC_EXIST = 6,
    EC_INVAL = 11,
    EC_ISDIR = 13,
    EC_NOENT = 19,
    EC_NOTDIR = 23,
    EC_NOTEMPTY = 24,
    EC_PERM = 30,
    EC_ROFS = 32
};
enum { T_DIRECTORY = 2, T_SYMLINK = 4, T_REGULAR = 5 };

static void *C;
static kiln_cabi_cx CX;

#define REL "@0.3.0"
#define RC "@0.3.0-rc-2026-03-15"
#define FS "wasi:filesystem/types" REL

/* Calls function fname of the interface serving import `iface`; returns its rc. */
static int call(const char *iface, const char *fname, const kiln_cval *args, kiln_cval *res)
{
    const kiln_chost_provider *p = NULL;
    const kiln_chost_iface *i = kiln_chost_find(iface, &p);
    const kiln_chost_func *f = i ? kiln_chost_find_func(i, fname) : NULL;
    if (!f || p != &kiln_wasip3_provider) {
        fprintf(stderr, "  no %s %s in wasi 0.3\n", iface, fname);
        return -2;
    }
    memset(res, 0, 2 * sizeof *res);
    CX.err[0] = '\0';
    return f->fn(C, &CX, args, res);
}

/* The error-code case of result r, or -1 when ok. */
static int err_of(const kiln_cval *r)
{
    return r->var.disc == 1 ? (int)r->var.payload->var.disc : -1;
}

/* A descriptor method taking (descriptor, string): its error-code case or -1. */
static int at(const char *method, uint32_t d, const char *path)
{
    kiln_cval a[2] = {res_(d), str_(path)}, r[2];
    if (call(FS, method, a, r) != 0) return -100;
    return err_of(&r[0]);
}

/* open-at(d, path-flags pf, path, open-flags of, descriptor-flags df): the new rep, or
 * -(error-code case) - 1. */
static long open_at(uint32_t d, uint32_t pf, const char *path, uint32_t of, uint32_t df)
{
    kiln_cval a[5] = {res_(d), flags_(pf), str_(path), flags_(of), flags_(df)}, r[2];
    if (call(FS, "[method]descriptor.open-at", a, r) != 0) return -1000;
    if (r[0].var.disc == 1) return -(long)r[0].var.payload->var.disc - 1;
    return (long)r[0].var.payload->res.rep;
}

static void test_versions(void)
{
    static const char *const names[] = {"wasi:cli/environment",     "wasi:cli/exit",
                                        "wasi:cli/terminal-input",  "wasi:cli/terminal-stdout",
                                        "wasi:clocks/system-clock", "wasi:clocks/timezone",
                                        "wasi:random/insecure",     "wasi:random/insecure-seed",
                                        "wasi:filesystem/types",    "wasi:filesystem/preopens"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char n[128];
        const kiln_chost_provider *p = NULL;
        snprintf(n, sizeof n, "%s%s", names[i], REL);
        CHECK(kiln_chost_find(n, &p) != NULL && p == &kiln_wasip3_provider);
        snprintf(n, sizeof n, "%s%s", names[i], RC);
        p = NULL;
        CHECK(kiln_chost_find(n, &p) != NULL && p == &kiln_wasip3_provider);
    }
}

static void test_cli_clocks_random(void)
{
    kiln_cval a[2], r[2];
    memset(a, 0, sizeof a);
    CHECK_INT(call("wasi:cli/environment" REL, "get-arguments", a, r), 0);
    CHECK_INT(r[0].agg.n, 3);
    if (r[0].agg.n == 3)
        CHECK(r[0].agg.items[2].str.len == 3 && !memcmp(r[0].agg.items[2].str.ptr, "y z", 3));
    CHECK_INT(call("wasi:cli/environment" RC, "get-environment", a, r), 0);
    CHECK_INT(r[0].agg.n, 1);
    if (r[0].agg.n == 1) {
        const kiln_cval *kv = r[0].agg.items[0].agg.items;
        CHECK(kv[0].str.len == 1 && kv[0].str.ptr[0] == 'K');
        CHECK(kv[1].str.len == 3 && !memcmp(kv[1].str.ptr, "v=1", 3));
    }
    CHECK_INT(call("wasi:cli/environment" REL, "get-initial-cwd", a, r), 0);
    CHECK_INT(r[0].var.disc, 0);
    CHECK_INT(call("wasi:cli/terminal-stdout" REL, "get-terminal-stdout", a, r), 0);
    CHECK_INT(r[0].var.disc, 0);

    CHECK_INT(call("wasi:clocks/system-clock" REL, "now", a, r), 0);
    CHECK(r[0].agg.n == 2 && r[0].agg.items[0].s > 1600000000 && r[0].agg.items[1].u < 1000000000u);
    CHECK_INT(call("wasi:clocks/system-clock" REL, "get-resolution", a, r), 0);
    CHECK(r[0].u > 0 && r[0].u <= 1000000000u);
    CHECK_INT(call("wasi:clocks/timezone" REL, "iana-id", a, r), 0);
    CHECK(r[0].var.disc == 1 && r[0].var.payload->str.len == 3);
    CHECK_INT(call("wasi:clocks/timezone" REL, "utc-offset", a, r), 0);
    CHECK(r[0].var.disc == 1 && r[0].var.payload->s == 0);

    a[0].u = 40;
    CHECK_INT(call("wasi:random/insecure" REL, "get-insecure-random-bytes", a, r), 0);
    CHECK_INT(r[0].str.len, 40);
    CHECK_INT(call("wasi:random/insecure-seed" RC, "get-insecure-seed", a, r), 0);
    CHECK_INT(r[0].agg.n, 2);
    CHECK_INT(call("wasi:random/random" REL, "get-random-u64", a, r), 0);
}

static void test_filesystem(const char *root)
{
    kiln_cval a[2], r[2];
    memset(a, 0, sizeof a);
    CHECK_INT(call("wasi:filesystem/preopens" REL, "get-directories", a, r), 0);
    CHECK_INT(r[0].agg.n, 2);
    if (r[0].agg.n != 2) return;
    uint32_t rw = r[0].agg.items[0].agg.items[0].res.rep;
    uint32_t ro = r[0].agg.items[1].agg.items[0].res.rep;
    CHECK(r[0].agg.items[1].agg.items[1].str.len == 3);

    CHECK_INT(at("[method]descriptor.create-directory-at", rw, "d"), -1);
    CHECK_INT(at("[method]descriptor.create-directory-at", rw, "d"), EC_EXIST);
    long f = open_at(rw, 0, "d/f.txt", 1 /* create */, 2 /* write */);
    CHECK(f > 0);
    CHECK_INT(at("[method]descriptor.remove-directory-at", rw, "d"), EC_NOTEMPTY);
    long fr = open_at(rw, 0, "d/f.txt", 0, 1 /* read */); /* set-size: invalid, as ftruncate */
    kiln_cval sz[2] = {res_(fr > 0 ? (uint32_t)fr : 0), u64_(0)};
    CHECK(fr > 0 && call(FS, "[method]descriptor.set-size", sz, r) == 0 &&
          err_of(&r[0]) == EC_INVAL);
    CHECK_INT(at("[method]descriptor.unlink-file-at", rw, "nothing"), EC_NOENT);
    CHECK_INT(at("[method]descriptor.create-directory-at", rw, "d/f.txt/x"), EC_NOTDIR);
    /* ways out: not-permitted (0.2's case 31, one less) */
    CHECK_INT(at("[method]descriptor.create-directory-at", rw, "../out"), EC_PERM);
    CHECK_INT(at("[method]descriptor.create-directory-at", rw, "/tmp/out"), EC_PERM);
    CHECK_INT(open_at(rw, 0, "d/../../ro/r.txt", 0, 1), -EC_PERM - 1);
    char p[700];
    snprintf(p, sizeof p, "%s/ro/r.txt", root); /* an absolute symlink, made on the host */
    char l[700];
    snprintf(l, sizeof l, "%s/rw/abs", root);
    CHECK(symlink(p, l) == 0);
    CHECK_INT(open_at(rw, 1 /* follow */, "abs", 0, 1), -EC_PERM - 1);
    kiln_cval sl[3] = {res_(rw), str_("../ro/r.txt"), str_("rel")};
    CHECK_INT(call(FS, "[method]descriptor.symlink-at", sl, r), 0);
    CHECK_INT(r[0].var.disc, 0);
    kiln_cval sa[3] = {res_(rw), flags_(1), str_("rel")};
    CHECK_INT(call(FS, "[method]descriptor.stat-at", sa, r), 0);
    CHECK_INT(err_of(&r[0]), EC_PERM);
    /* stat: 0.3's descriptor-type cases, instants */
    sa[1] = flags_(0);
    CHECK_INT(call(FS, "[method]descriptor.stat-at", sa, r), 0);
    CHECK(r[0].var.disc == 0 && r[0].var.payload->agg.items[0].var.disc == T_SYMLINK);
    sa[2] = str_("d/f.txt");
    CHECK_INT(call(FS, "[method]descriptor.stat-at", sa, r), 0);
    CHECK(r[0].var.disc == 0 && r[0].var.payload->agg.items[0].var.disc == T_REGULAR);
    if (r[0].var.disc == 0) {
        const kiln_cval *mt = &r[0].var.payload->agg.items[4];
        CHECK(mt->var.disc == 1 && mt->var.payload->agg.items[0].s > 1600000000);
    }
    kiln_cval one[1] = {res_(rw)};
    CHECK_INT(call(FS, "[method]descriptor.get-type", one, r), 0);
    CHECK(r[0].var.disc == 0 && r[0].var.payload->var.disc == T_DIRECTORY);
    /* read-only preopen: read-only (0.2's 33, one less) */
    CHECK_INT(at("[method]descriptor.create-directory-at", ro, "x"), EC_ROFS);
    CHECK_INT(at("[method]descriptor.unlink-file-at", ro, "r.txt"), EC_ROFS);
    CHECK_INT(open_at(ro, 0, "r.txt", 0, 2 /* write */), -EC_ROFS - 1);
    long rf = open_at(ro, 0, "r.txt", 0, 1 /* read */);
    CHECK(rf > 0);
    /* the rc's interface is the same */
    kiln_cval rn[4] = {res_(rw), str_("d/f.txt"), res_(rw), str_("g.txt")};
    const kiln_chost_iface *i = kiln_chost_find("wasi:filesystem/types" RC, NULL);
    const kiln_chost_func *fn = i ? kiln_chost_find_func(i, "[method]descriptor.rename-at") : NULL;
    CHECK(fn && fn->fn(C, &CX, rn, r) == 0 && r[0].var.disc == 0);
    /* a directory's read-via-stream needs a guest (no async instance here): a trap, no leak */
    kiln_cval rs[2] = {res_(rw), {.u = 0}};
    CHECK_INT(call(FS, "[method]descriptor.read-via-stream", rs, r), -1);
    /* descriptors go with their dtor */
    const kiln_chost_iface *fi = kiln_chost_find(FS, NULL);
    if (fi && f > 0) fi->resources[0].dtor(C, (uint32_t)f);
    if (fi && rf > 0) fi->resources[0].dtor(C, (uint32_t)rf);
    if (fi && fr > 0) fi->resources[0].dtor(C, (uint32_t)fr);
    CHECK_INT(at("[method]descriptor.unlink-file-at", rw, "g.txt"), -1);
}

/* ctx_clone: a template holding get-directories' descriptors is copied (the copy's
 * descriptor of the same rep works, over the copy's grants); one holding a file it opened
 * is refused, as the 0.2 host refuses it. */
static void test_clone(const kiln_grants *g)
{
    kiln_cval a[2], r[2];
    memset(a, 0, sizeof a);
    CHECK_INT(call("wasi:filesystem/preopens" REL, "get-directories", a, r), 0);
    uint32_t rw = r[0].agg.n ? r[0].agg.items[0].agg.items[0].res.rep : 0;
    char *err = NULL;
    void *copy = kiln_wasip3_provider.ctx_clone(C, g, &err);
    CHECK(copy != NULL);
    if (copy) {
        void *tmpl = C;
        C = copy;
        CHECK_INT(at("[method]descriptor.create-directory-at", rw, "from-copy"), -1);
        CHECK_INT(at("[method]descriptor.remove-directory-at", rw, "from-copy"), -1);
        C = tmpl;
        kiln_wasip3_provider.ctx_free(copy);
    }
    long f = open_at(rw, 0, "x.txt", 1 /* create */, 2 /* write */);
    CHECK(f > 0);
    err = NULL;
    CHECK(kiln_wasip3_provider.ctx_clone(C, g, &err) == NULL && err != NULL);
    kiln_free(err);
    const kiln_chost_iface *fi = kiln_chost_find(FS, NULL);
    if (fi && f > 0) fi->resources[0].dtor(C, (uint32_t)f);
    CHECK_INT(at("[method]descriptor.unlink-file-at", rw, "x.txt"), -1);
}

int main(void)
{
    char root[] = "/tmp/kiln-wasip3-test.XXXXXX";
    if (!mkdtemp(root)) return 1;
    char rwp[600], rop[600], p[700];
    snprintf(rwp, sizeof rwp, "%s/rw", root);
    snprintf(rop, sizeof rop, "%s/ro", root);
    CHECK(mkdir(rwp, 0755) == 0 && mkdir(rop, 0755) == 0);
    snprintf(p, sizeof p, "%s/r.txt", rop);
    int fd = open(p, O_WRONLY | O_CREAT, 0644);
    CHECK(fd >= 0 && write(fd, "ro", 2) == 2);
    close(fd);

    kiln_wasi_preopen pre[2] = {{rwp, "/", 0}, {rop, "/ro", 1}};
    const char *argv[] = {"prog", "x", "y z"}, *env[] = {"K=v=1"};
    kiln_grants g;
    memset(&g, 0, sizeof g);
    g.wasi.argc = 3;
    g.wasi.argv = argv;
    g.wasi.nenv = 1;
    g.wasi.env = env;
    g.wasi.preopens = pre;
    g.wasi.npreopens = 2;
    for (int i = 0; i < 3; i++)
        g.wasi.stdio[i] = (kiln_wasi_stdio){-1, NULL, 0, NULL, 0};
    char *err = NULL;
    C = kiln_wasip3_provider.ctx_new(&g, &err);
    CHECK(C != NULL && kiln_cabi_cx_init(&CX) == 0);
    if (!C) return 1;
    test_versions();
    test_cli_clocks_random();
    test_filesystem(root);
    kiln_cabi_cx_free(&CX);
    kiln_wasip3_provider.ctx_free(C);
    C = kiln_wasip3_provider.ctx_new(&g, &err);
    CHECK(C != NULL && kiln_cabi_cx_init(&CX) == 0);
    if (C) test_clone(&g);
    kiln_cabi_cx_free(&CX);
    kiln_wasip3_provider.ctx_free(C);

    /* a preopen that cannot be opened: no context, a reason */
    kiln_wasi_preopen bad = {"/nonexistent/kiln", "/", 0};
    g.wasi.preopens = &bad;
    g.wasi.npreopens = 1;
    err = NULL;
    CHECK(kiln_wasip3_provider.ctx_new(&g, &err) == NULL);
    CHECK(err && strstr(err, "/nonexistent/kiln"));
    kiln_free(err);
    snprintf(p, sizeof p, "rm -rf '%s'", root);
    CHECK(system(p) == 0);
    return test_finish("wasip3");
}
