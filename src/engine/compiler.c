/* compiler.c — the fast (libtcc) and optimized (cc -O2) tiers (see compiler.h). */
#include "engine/compiler.h"
#include "engine/split.h"
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
#include <time.h>
#include <unistd.h>

#ifndef KILN_TCC_VERSION
#define KILN_TCC_VERSION "unknown"
#endif
#define OPT_CC_FLAGS                                                                               \
    "-fPIC -shared -fno-strict-aliasing -fno-optimize-sibling-calls -fsignaling-nans -w"

/* The opt tier's bounds (compiler.h), each overridable from the environment. */
#define OPT_O1_ABOVE_MB 24  /* KILN_OPT_O1_ABOVE_MB: -O1 for C larger than this */
#define OPT_MAX_C_MB 256    /* KILN_OPT_MAX_C_MB: no opt tier for C larger than this */
#define OPT_TIMEOUT_S 900   /* KILN_OPT_TIMEOUT: seconds before cc is killed */
#define OPT_MAX_MEM_MB 4096 /* KILN_OPT_MAX_MEM_MB: address space of each compiler process */
#define OPT_PART_MB 16      /* KILN_OPT_PART_MB: split C larger than this, in parts this large */
#define OPT_MAX_PARTS 64    /* KILN_OPT_PARTS (1..64) forces the number of parts */

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

/* How many compilers the opt tier runs at once: $KILN_OPT_JOBS, else one per online CPU. */
static size_t opt_jobs(void)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    return env_limit("KILN_OPT_JOBS", cpus > 0 ? (unsigned long)cpus : 1);
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

/* The caps of one opt-tier compile (compiler.h), read from the environment. */
typedef struct {
    const char *level;    /* -O2, or -O1 for C over KILN_OPT_O1_ABOVE_MB */
    unsigned long mem_mb; /* address space of each compiler process */
    unsigned long timeout_s;
    double deadline; /* monotonic seconds: the whole compile's time limit */
    size_t c_mb;     /* MiB of C, for messages */
} opt_caps;

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs cc with `args` (NULL-terminated, after the level and OPT_CC_FLAGS' code flags)
 * through `sh -c 'ulimit -v ...; exec timeout ...'`, so that the time (what is left of the
 * compile's limit) and address-space caps hold for the compiler's own children (cc1, as,
 * ld) too. Returns 0, or -1 with a message in *err that names `what` and the bound that
 * stopped it. */
static int run_cc(const opt_caps *caps, const char *what, const char *const *args, kiln_buf *err)
{
    double left = caps->deadline - mono_now();
    unsigned long t = left < 1 ? 1 : (unsigned long)left;
    char script[160];
    snprintf(script, sizeof script, "ulimit -v %lu 2>/dev/null; exec timeout -k 10 %lu \"$@\"",
             caps->mem_mb << 10, t);
    size_t nargs = 0;
    while (args[nargs])
        nargs++;
    const char **argv = kiln_calloc(nargs + 12, sizeof *argv);
    if (!argv) {
        kiln_buf_puts(err, "out of memory starting the opt tier's compiler");
        return -1;
    }
    const char *head[] = {"sh",
                          "-c",
                          script,
                          "kiln-opt-cc",
                          opt_cc(),
                          caps->level,
                          "-fPIC",
                          "-fno-strict-aliasing",
                          "-fno-optimize-sibling-calls",
                          "-fsignaling-nans",
                          "-w"}; /* = level OPT_CC_FLAGS, -shared given by the caller */
    size_t n = 0;
    for (; n < sizeof head / sizeof *head; n++)
        argv[n] = head[n];
    for (size_t i = 0; i < nargs; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    kiln_buf log = KILN_BUF_INIT;
    int st = kiln_proc_run(argv, &log, 10);
    int rc = -1;
    if (st == 124 || st == 128 + 9)
        kiln_buf_printf(err,
                        "opt tier (%s %s, %zu MiB of C, %s) stopped after its time limit of "
                        "%lu s (KILN_OPT_TIMEOUT); the fast tier stays",
                        opt_cc(), caps->level, caps->c_mb, what, caps->timeout_s);
    else if (st != 0)
        kiln_buf_printf(err,
                        "opt tier (%s %s, %zu MiB of C, %s, at most %lu MiB of memory "
                        "(KILN_OPT_MAX_MEM_MB)) failed with status %d: %.2000s",
                        opt_cc(), caps->level, caps->c_mb, what, caps->mem_mb, st,
                        log.data ? log.data : "");
    else
        rc = 0;
    kiln_buf_free(&log);
    kiln_free(argv);
    return rc;
}

/* How many translation units the C is cut into (split.h): $KILN_OPT_PARTS when set (1: no
 * split); else none up to OPT_PART_MB of C, above that at least one per CPU and at most
 * OPT_PART_MB MiB each, so that each compiler process stays bounded in memory. */
static size_t opt_parts(size_t len)
{
    unsigned long forced = env_limit("KILN_OPT_PARTS", 0);
    if (forced) return forced > OPT_MAX_PARTS ? OPT_MAX_PARTS : forced;
    size_t part = (size_t)env_limit("KILN_OPT_PART_MB", OPT_PART_MB) << 20;
    if (len <= part) return 1;
    size_t n = (len + part - 1) / part, jobs = opt_jobs();
    if (n < jobs) n = jobs;
    return n > OPT_MAX_PARTS ? OPT_MAX_PARTS : n;
}

/* The parts of a split compile and the workers that compile them, opt_jobs() at a time. */
typedef struct {
    const opt_caps *caps;
    char **cpaths, **opaths;
    size_t n, next;
    int failed;
    kiln_buf err;
    pthread_mutex_t lock;
} split_job;

static void *split_worker(void *arg)
{
    split_job *j = arg;
    for (;;) {
        pthread_mutex_lock(&j->lock);
        size_t i = j->next++;
        int stop = j->failed || i >= j->n;
        pthread_mutex_unlock(&j->lock);
        if (stop) return NULL;
        char what[64];
        snprintf(what, sizeof what, "part %zu of %zu", i + 1, j->n);
        kiln_buf err = KILN_BUF_INIT;
        const char *args[] = {"-c", "-o", j->opaths[i], j->cpaths[i], NULL};
        if (run_cc(j->caps, what, args, &err) < 0) {
            pthread_mutex_lock(&j->lock);
            if (!j->failed) {
                j->failed = 1;
                kiln_buf_append(&j->err, err.data ? err.data : "", err.len);
            }
            pthread_mutex_unlock(&j->lock);
        }
        kiln_buf_free(&err);
    }
}

/* Compiles the parts (nparts C texts) to objects next to so_path in parallel, then links
 * them into so_path. Returns 0 or -1 with *err. */
static int compile_parts(const opt_caps *caps, kiln_buf *parts, size_t nparts, const char *so_path,
                         kiln_buf *err)
{
    split_job j = {.caps = caps, .n = nparts, .err = KILN_BUF_INIT};
    pthread_mutex_init(&j.lock, NULL);
    int rc = -1;
    size_t made = 0, nthreads = 0;
    pthread_t threads[OPT_MAX_PARTS];
    const char **link = NULL;
    j.cpaths = kiln_calloc(nparts, sizeof *j.cpaths);
    j.opaths = kiln_calloc(nparts, sizeof *j.opaths);
    link = kiln_calloc(nparts + 6, sizeof *link);
    if (!j.cpaths || !j.opaths || !link) goto out;
    size_t pl = strlen(so_path) + 32;
    for (; made < nparts; made++) {
        j.cpaths[made] = kiln_malloc(pl);
        j.opaths[made] = kiln_malloc(pl);
        if (!j.cpaths[made] || !j.opaths[made]) {
            made++;
            goto out;
        }
        snprintf(j.cpaths[made], pl, "%s.%zu.c", so_path, made);
        snprintf(j.opaths[made], pl, "%s.%zu.o", so_path, made);
        if (kiln_write_file(j.cpaths[made], parts[made].data, parts[made].len) < 0) {
            kiln_buf_printf(err, "cannot write %s: %s", j.cpaths[made], strerror(errno));
            made++;
            goto out;
        }
        kiln_buf_free(&parts[made]); /* on disk now */
    }
    size_t jobs = opt_jobs();
    if (jobs > nparts) jobs = nparts;
    for (; nthreads < jobs; nthreads++)
        if (pthread_create(&threads[nthreads], NULL, split_worker, &j) != 0) break;
    if (nthreads == 0) split_worker(&j);
    for (size_t i = 0; i < nthreads; i++)
        pthread_join(threads[i], NULL);
    if (j.failed) {
        kiln_buf_append(err, j.err.data ? j.err.data : "", j.err.len);
        goto out;
    }
    size_t k = 0;
    link[k++] = "-shared";
    link[k++] = "-o";
    link[k++] = so_path;
    for (size_t i = 0; i < nparts; i++)
        link[k++] = j.opaths[i];
    link[k++] = "-lm";
    link[k] = NULL;
    rc = run_cc(caps, "link", link, err);
out:
    for (size_t i = 0; i < made; i++) {
        if (j.cpaths[i]) unlink(j.cpaths[i]);
        if (j.opaths[i]) unlink(j.opaths[i]);
        kiln_free(j.cpaths[i]);
        kiln_free(j.opaths[i]);
    }
    kiln_free(j.cpaths);
    kiln_free(j.opaths);
    kiln_free(link);
    kiln_buf_free(&j.err);
    pthread_mutex_destroy(&j.lock);
    if (rc < 0 && !err->len) kiln_buf_puts(err, "out of memory compiling the opt tier's parts");
    return rc;
}

/* The opt tier: cc in child processes, bounded (compiler.h). Refuses C over the size limit
 * before starting anything; cuts large C into parts compiled in parallel (split.h). */
static int compile_cc(const char *src, size_t len, const char *so_path, kiln_buf *err)
{
    unsigned long o1_mb = env_limit("KILN_OPT_O1_ABOVE_MB", OPT_O1_ABOVE_MB);
    unsigned long max_mb = env_limit("KILN_OPT_MAX_C_MB", OPT_MAX_C_MB);
    opt_caps caps = {.level = len > o1_mb << 20 ? "-O1" : "-O2",
                     .mem_mb = env_limit("KILN_OPT_MAX_MEM_MB", OPT_MAX_MEM_MB),
                     .timeout_s = env_limit("KILN_OPT_TIMEOUT", OPT_TIMEOUT_S),
                     .c_mb = len >> 20};
    caps.deadline = mono_now() + (double)caps.timeout_s;
    if (len > max_mb << 20) {
        kiln_buf_printf(err,
                        "opt tier skipped: %zu MiB of C is over its limit of %lu MiB "
                        "(KILN_OPT_MAX_C_MB); the fast tier stays",
                        len >> 20, max_mb);
        return -1;
    }
    size_t nparts = opt_parts(len);
    if (nparts > 1) {
        kiln_buf *parts = kiln_calloc(nparts, sizeof *parts);
        if (!parts) {
            kiln_buf_puts(err, "out of memory splitting the opt tier's C");
            return -1;
        }
        int r = kiln_split_c(src, len, nparts, parts);
        int rc = -1;
        if (r == 0)
            rc = compile_parts(&caps, parts, nparts, so_path, err);
        else if (r < 0)
            kiln_buf_puts(err, "out of memory splitting the opt tier's C");
        for (size_t i = 0; i < nparts; i++)
            kiln_buf_free(&parts[i]);
        kiln_free(parts);
        if (r <= 0) return rc;
        /* No function bodies to split: compile the text whole. */
    }
    /* The C goes to a temp file next to the output (same filesystem, cleaned up). */
    size_t n = strlen(so_path) + 8;
    char *cpath = kiln_malloc(n);
    if (!cpath) return -1;
    snprintf(cpath, n, "%s.c", so_path);
    int rc = -1;
    if (kiln_write_file(cpath, src, len) < 0) {
        kiln_buf_printf(err, "cannot write %s: %s", cpath, strerror(errno));
    } else {
        const char *args[] = {"-shared", "-o", so_path, cpath, "-lm", NULL};
        rc = run_cc(&caps, "one unit", args, err);
    }
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
    snprintf(cc_id, sizeof cc_id,
             "%s: %.*s -O2 (-O1 above %lu MiB of C) " OPT_CC_FLAGS " " KILN_SPLIT_SCHEME
             " (parts of %lu MiB, forced %lu)",
             opt_cc(), (int)(n > 340 ? 340 : n), v,
             env_limit("KILN_OPT_O1_ABOVE_MB", OPT_O1_ABOVE_MB),
             env_limit("KILN_OPT_PART_MB", OPT_PART_MB), env_limit("KILN_OPT_PARTS", 0));
    kiln_buf_free(&out);
}

const char *kiln_compiler_identity(kiln_tier tier)
{
    if (tier != KILN_TIER_OPT) return "libtcc " KILN_TCC_VERSION " -w direct-memory";
    pthread_once(&cc_once, init_cc_id);
    return cc_id;
}
