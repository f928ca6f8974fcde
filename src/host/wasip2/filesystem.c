/* filesystem.c — wasi:filesystem 0.2, minimal: no preopened directories yet, so no
 * descriptor ever exists; the descriptor functions a preview1 adapter imports link, and
 * trap if called (they cannot be without a descriptor). (wasip2.h) */
#include "host/wasip2/wasip2.h"

static int get_directories(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    res[0].agg.items = NULL;
    res[0].agg.n = 0;
    return 0;
}

static const kiln_chost_func preopen_funcs[] = {
    {"get-directories", "() -> list<tuple<own<descriptor>, string>>", get_directories}};
const kiln_chost_iface kiln_wasip2_fs_preopens = {
    "wasi:filesystem/preopens", KILN_WASIP2_VERSION, NULL, 0, preopen_funcs, 1};

static int no_descriptor(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    return p2_fail(cx, "wasi:filesystem: no such descriptor");
}

/* filesystem-error-code(borrow<error>) -> option<error-code>: stream errors here never come
 * from a file. */
static int error_code(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    res[0].var.disc = 0;
    res[0].var.payload = NULL;
    return 0;
}

static const kiln_chost_resource fs_res[] = {{"descriptor", NULL},
                                             {"directory-entry-stream", NULL}};
#define D(name)                                                                                    \
    {                                                                                              \
        "[method]descriptor." name, NULL, no_descriptor                                            \
    }
static const kiln_chost_func fs_funcs[] = {
    {"filesystem-error-code", "(borrow<error>) -> option<*>", error_code},
    D("read-via-stream"),
    D("write-via-stream"),
    D("append-via-stream"),
    D("advise"),
    D("sync-data"),
    D("get-flags"),
    D("get-type"),
    D("set-size"),
    D("set-times"),
    D("read"),
    D("write"),
    D("read-directory"),
    D("sync"),
    D("create-directory-at"),
    D("stat"),
    D("stat-at"),
    D("set-times-at"),
    D("link-at"),
    D("open-at"),
    D("readlink-at"),
    D("remove-directory-at"),
    D("rename-at"),
    D("symlink-at"),
    D("unlink-file-at"),
    D("is-same-object"),
    D("metadata-hash"),
    D("metadata-hash-at"),
    {"[method]directory-entry-stream.read-directory-entry", NULL, no_descriptor},
};
const kiln_chost_iface kiln_wasip2_fs_types = {"wasi:filesystem/types",
                                               KILN_WASIP2_VERSION,
                                               fs_res,
                                               2,
                                               fs_funcs,
                                               sizeof fs_funcs / sizeof fs_funcs[0]};
