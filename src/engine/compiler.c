/* compiler.c — the fast (libtcc) and optimized (cc -O2) tiers (see compiler.h). */
#include "engine/compiler.h"
#include "util/alloc.h"
#include "util/file.h"
#include "util/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <libtcc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef KILN_TCC_VERSION
#define KILN_TCC_VERSION "unknown"
#endif
#define OPT_CC_FLAGS                                                                               \
    "-fPIC -shared -fno-strict-aliasing -fno-optimize-sibling-calls -fsignaling-nans -w"

/* The opt tier's bounds (compiler.h), each overridable from the environment. */
#define OPT_O1_ABOVE_MB 24  /* KILN_OPT_O1_ABOVE_MB: -O1 for C larger than this */
#define OPT_MAX_C_MB 96     /* KILN_OPT_MAX_C_MB: no opt tier for C larger than this */
#define OPT_TIMEOUT_S 900   /* KILN_OPT_TIMEOUT: seconds before cc is killed */
#define OPT_MAX_MEM_MB 4096 /* KILN_OPT_MAX_MEM_MB: address space of each compiler process */

static pthread_mutex_t tcc_lock = PTHREAD_MUTEX_INITIALIZER;

static void tcc_error(void *opaque, const char *msg)
{
    kiln_buf *err = opaque;
    if (err->len) kiln_buf_putc(err, '\n');
    kiln_buf_puts(err, msg);
}

/* The C compiler of the opt tier: $KILN_CC, else cc. */
static const char *opt_cc(void)
{
    const char *cc = getenv("KILN_CC");
    return cc && *cc ? cc : "cc";
}

/* The positive integer in $name, else `def` (an unset, malformed or out-of-range value). */
static unsigned long env_limit(const char *name, unsigned long def)
{
    const char *v = getenv(name);
    if (!v || !*v) return def;
    char *end;
    errno = 0;
    unsigned long n = strtoul(v, &end, 10);
    if (errno || *end || n == 0 || n > (1ul << 30)) return def;
    return n;
}

static int compile_tcc(const char *src, const char *so_path, kiln_buf *err)
{
    pthread_mutex_lock(&tcc_lock);
    int rc = -1;
    TCCState *s = tcc_new();
    if (!s) {
        kiln_buf_puts(err, "cannot create a tcc state");
        goto out;
    }
    kiln_buf msgs = KILN_BUF_INIT;
    tcc_set_error_func(s, &msgs, tcc_error);
    tcc_set_options(s, "-w");
    if (tcc_set_output_type(s, TCC_OUTPUT_DLL) < 0 || tcc_compile_string(s, src) < 0 ||
        tcc_add_library(s, "m") < 0 || tcc_output_file(s, so_path) < 0) {
        kiln_buf_printf(err, "fast tier (tcc) failed: %s", msgs.data ? msgs.data : "");
    } else {
        rc = 0;
    }
    kiln_buf_free(&msgs);
    tcc_delete(s);
out:
    pthread_mutex_unlock(&tcc_lock);
    return rc;
}

/* The opt tier: cc in a child process, bounded (compiler.h). Refuses C over the size limit
 * before starting anything; runs cc through `sh -c 'ulimit -v ...; exec timeout ...'` so
 * that the time and address-space caps hold for the compiler's own children (cc1, as, ld)
 * too. Returns 0, or -1 with a message in *err that says which bound stopped it. */
static int compile_cc(const char *src, size_t len, const char *so_path, kiln_buf *err)
{
    unsigned long o1_mb = env_limit("KILN_OPT_O1_ABOVE_MB", OPT_O1_ABOVE_MB);
    unsigned long max_mb = env_limit("KILN_OPT_MAX_C_MB", OPT_MAX_C_MB);
    unsigned long timeout_s = env_limit("KILN_OPT_TIMEOUT", OPT_TIMEOUT_S);
    unsigned long mem_mb = env_limit("KILN_OPT_MAX_MEM_MB", OPT_MAX_MEM_MB);
    if (len > max_mb << 20) {
        kiln_buf_printf(err,
                        "opt tier skipped: %zu MiB of C is over its limit of %lu MiB "
                        "(KILN_OPT_MAX_C_MB); the fast tier stays",
                        len >> 20, max_mb);
        return -1;
    }
    const char *level = len > o1_mb << 20 ? "-O1" : "-O2";
    char script[160];
    snprintf(script, sizeof script, "ulimit -v %lu 2>/dev/null; exec timeout -k 10 %lu \"$@\"",
             mem_mb << 10, timeout_s);
    /* The C goes to a temp file next to the output (same filesystem, cleaned up). */
    size_t n = strlen(so_path) + 8;
    char *cpath = kiln_malloc(n);
    if (!cpath) return -1;
    snprintf(cpath, n, "%s.c", so_path);
    int rc = -1;
    if (kiln_write_file(cpath, src, len) < 0) {
        kiln_buf_printf(err, "cannot write %s: %s", cpath, strerror(errno));
        goto out;
    }
    kiln_buf log = KILN_BUF_INIT;
    const char *argv[] = {"sh",
                          "-c",
                          script,
                          "kiln-opt-cc",
                          opt_cc(),
                          level,
                          "-fPIC",
                          "-shared",
                          "-fno-strict-aliasing",
                          "-fno-optimize-sibling-calls",
                          "-fsignaling-nans",
                          "-w",
                          "-o",
                          so_path,
                          cpath,
                          "-lm",
                          NULL}; /* = level OPT_CC_FLAGS */
    int st = kiln_proc_run(argv, &log, 10);
    if (st == 124 || st == 128 + 9)
        kiln_buf_printf(err,
                        "opt tier (%s %s, %zu MiB of C) stopped after its time limit of %lu s "
                        "(KILN_OPT_TIMEOUT); the fast tier stays",
                        opt_cc(), level, len >> 20, timeout_s);
    else if (st != 0)
        kiln_buf_printf(err,
                        "opt tier (%s %s, %zu MiB of C, at most %lu MiB of memory "
                        "(KILN_OPT_MAX_MEM_MB)) failed with status %d: %.2000s",
                        opt_cc(), level, len >> 20, mem_mb, st, log.data ? log.data : "");
    else
        rc = 0;
    kiln_buf_free(&log);
out:
    unlink(cpath);
    kiln_free(cpath);
    return rc;
}

int kiln_compile_c(kiln_tier tier, const char *c_source, size_t c_len, const char *so_path,
                   kiln_buf *err)
{
    if (tier == KILN_TIER_OPT) return compile_cc(c_source, c_len, so_path, err);
    return compile_tcc(c_source, so_path, err);
}

static pthread_once_t cc_once = PTHREAD_ONCE_INIT;
static char cc_id[512];

/* `cc --version`'s first line plus our flags and the rule that picks the level, computed
 * once per process; $KILN_CC_ID instead when set (a container image whose cache was
 * compiled at build time carries the builder's identity there, since it has no cc to ask:
 * dist/image.h). */
static void init_cc_id(void)
{
    const char *given = getenv("KILN_CC_ID");
    if (given && *given) {
        snprintf(cc_id, sizeof cc_id, "%s", given);
        return;
    }
    kiln_buf out = KILN_BUF_INIT;
    const char *argv[] = {opt_cc(), "--version", NULL};
    int st = kiln_proc_run(argv, &out, 0);
    const char *v = st == 0 && out.data ? out.data : "unknown";
    size_t n = strcspn(v, "\n");
    snprintf(cc_id, sizeof cc_id, "%s: %.*s -O2 (-O1 above %lu MiB of C) " OPT_CC_FLAGS, opt_cc(),
             (int)(n > 380 ? 380 : n), v, env_limit("KILN_OPT_O1_ABOVE_MB", OPT_O1_ABOVE_MB));
    kiln_buf_free(&out);
}

const char *kiln_compiler_identity(kiln_tier tier)
{
    if (tier != KILN_TIER_OPT) return "libtcc " KILN_TCC_VERSION " -w direct-memory";
    pthread_once(&cc_once, init_cc_id);
    return cc_id;
}
