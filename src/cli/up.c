/* up.c — `kiln up`: load an application's manifest and serve its HTTP triggers.
 *
 *   kiln up [-f PATH] [--listen ADDR] [-e K=V]... [--workers N] [--build] [--quiet]
 *           [--tls-cert F --tls-key F] [--max-request-size SIZE] [--tier fast|opt|auto]
 *           [--admin ADDR [--admin-public]]
 *           [--runtime-config-file FILE] [--state-dir DIR] [--variable N=V]...
 *           [--key-value K=V]...
 *
 * Every component is loaded (compiled or found in the cache) once at startup; each
 * request then runs in a fresh instance (exec/wagi/: the WAGI handler behind the server's
 * neutral handler interface; exec/http/: wasi:http components). Which executor a trigger
 * gets: `executor = { type = "http" }` ("spin" is an alias) or `"wagi"`; without one, a
 * component exporting wasi:http/incoming-handler is served as wasi:http and a core WASI
 * command as WAGI (with Spin's deprecation note, once). Files granted to a component are
 * mounted read-only: directories directly, single files through a private staging
 * directory that is removed at exit. */
#include "cli/cli.h"
#include "cli/up_flags.h"
#include "cli/up_metrics.h"
#include "cli/up_outbound.h"
#include "component/compose.h"
#include "dist/ref.h"
#include "engine/engine.h"
#include "engine/runtime.h"
#include "exec/executor.h"
#include "exec/guest_log.h"
#include "exec/http/serve.h"
#include "exec/trigger/trigger.h"
#include "exec/wagi/serve.h"
#include "exec/wagi/wagi.h"
#include "host/registry.h"
#include "host/spin/app.h"
#include "manifest/manifest.h"
#include "server/http.h"
#include "server/router.h"
#include "server/trace.h"
#include "util/alloc.h"
#include "util/proc.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define POOL_AUTO ULLONG_MAX

typedef struct up_opts {
    const char *from, *listen, *tls_cert, *tls_key;
    const char *admin; /* --admin ADDR: the admin listener (NULL: none) */
    int workers, build, quiet, admin_public;
    unsigned long long max_request_size;
    unsigned read_timeout_ms;
    unsigned long long request_timeout_ms, max_instance_memory, max_response_size;
    unsigned long long max_instances, max_queue, queue_timeout_ms, inline_budget_ms;
    unsigned long long executor_threads;
    unsigned long long pool_size; /* POOL_AUTO: one slot per event loop */
    int no_tier_up;
    int insecure; /* -k: --from a registry over plain HTTP (cli/registry.c) */
    kiln_compile_opts compile;
    kiln_strv env; /* -e K=V */
    /* Spin's key-value stores and variables (host/spin/app.h) */
    const char *runtime_config_file, *state_dir;
    kiln_strv variables, key_values; /* --variable N=V, --key-value K=V */
    kiln_up_flags flags;             /* spin up's -c, --profile, ... (up_flags.c) */
    kiln_strv sqlite;                /* --sqlite STATEMENT | @FILE[:LABEL] */
} up_opts;

/* Everything `kiln up` builds from the manifest; freed by app_free. */
typedef struct up_app {
    kiln_manifest *manifest;
    kiln_router *router;
    kiln_server_target *targets; /* one per trigger */
    size_t ntargets;
    kiln_wagi_component **wagi;  /* one per trigger (NULL for static ones) */
    kiln_wagi_handler *handlers; /* one per trigger: what the server calls */
    size_t nwagi;
    kiln_executor *executor; /* guest threads, shared by every component */
    kiln_slots *slots;       /* guests alive at once (--max-instances) */
    unsigned inline_budget_ms, queue_timeout_ms;
    kiln_wagi_component **loaded;     /* one per component: the module's owner */
    kiln_http_component **http;       /* one per component served as wasi:http (else NULL) */
    kiln_http_handler *http_handlers; /* one per trigger */
    kiln_http_component **http_mw;    /* one per trigger with middleware (else NULL) */
    size_t nhttp;
    kiln_handler **by_component; /* per component: its first HTTP trigger's (chaining) */
    kiln_up_observe observe;     /* chained requests' metrics and spans */
    int wagi_noted;              /* the WAGI deprecation note was printed */
    char **staging;              /* staging directories to remove at exit */
    size_t nstaging;
    kiln_buf routes;       /* the "Available Routes" text */
    atomic_int stopping;   /* tells the tier-up thread to stop */
    kiln_metrics *metrics; /* --admin: what the admin listener serves (else NULL) */
    kiln_admin *admin;
    kiln_tracer *tracer;  /* OTEL_EXPORTER_OTLP_*ENDPOINT: the trace exporter (else NULL) */
    kiln_guest_log *logs; /* --log-dir: one per component (else NULL) */
    kiln_spin_app *spin;  /* key-value stores and variables of the components */
} up_app;

/* Logs the end of one component's tier-up: rc as kiln_*_tier_up returns it. */
static void tier_up_log(const up_app *app, size_t i, const char *id, int rc,
                        const struct timespec *t0, const char *err)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
    if (rc > 0) kiln_metrics_set_tier(app->metrics, (int)i, "opt", secs);
    if (rc > 0)
        fprintf(stderr,
                "kiln: component %s: optimized tier ready after %.2f s; new requests use it\n", id,
                secs);
    else if (rc < 0 && !atomic_load(&app->stopping))
        fprintf(stderr, "kiln: component %s: optimized tier failed, staying on the fast tier: %s\n",
                id, err ? err : "?");
}

/* Tier-up: the server starts on the fast tier; this thread builds each component's
 * optimized tier (cc -O2 at lower priority, one at a time; WAGI modules and wasi:http
 * components alike) and switches new requests to it when ready, logging both times. */
static void *tier_up_main(void *arg)
{
    up_app *app = arg;
    /* SIGINT/SIGTERM are for the main thread; this one only builds. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    for (size_t i = 0; i < app->manifest->components_len && !atomic_load(&app->stopping); i++) {
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        kiln_wagi_component *c = app->loaded ? app->loaded[i] : NULL;
        kiln_http_component *hc = app->http ? app->http[i] : NULL;
        if (c && kiln_wagi_component_tier(c) != KILN_TIER_OPT) {
            kiln_err err = {{0}};
            int rc = kiln_wagi_component_tier_up(c, &err);
            tier_up_log(app, i, c->id, rc, &t0, err.msg);
        } else if (hc && kiln_http_component_tier(hc) != KILN_TIER_OPT) {
            char *err = NULL;
            int rc = kiln_http_component_tier_up(hc, &err);
            tier_up_log(app, i, hc->id, rc, &t0, err);
            kiln_free(err);
        }
    }
    /* the middleware chains (one per trigger that has one), after the components */
    for (size_t i = 0; app->http_mw && i < app->manifest->triggers_len; i++) {
        kiln_http_component *hc = app->http_mw[i];
        if (!hc || atomic_load(&app->stopping) || kiln_http_component_tier(hc) == KILN_TIER_OPT)
            continue;
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        char *err = NULL;
        int rc = kiln_http_component_tier_up(hc, &err);
        tier_up_log(app, (size_t)app->manifest->triggers[i].component, hc->id, rc, &t0, err);
        kiln_free(err);
    }
    return NULL;
}

static void usage(FILE *f)
{
    fprintf(f, "Start the application (as `spin up` does)\n\n"
               "Usage: kiln up [OPTIONS]\n\n"
               "Options:\n"
               "  -f, --from PATH            manifest file or directory (default: ./kiln.toml, "
               "./spin.toml),\n"
               "                             a .wasm file served alone on /..., or\n"
               "                             HOST[:PORT]/REPO[:TAG][@DIGEST] in a registry\n"
               "  -k, --insecure             pull over plain HTTP (loopback registries only)\n"
               "      --listen ADDR          address to serve on (default 127.0.0.1:3000)\n"
               "  -e, --env K=V              environment variable for every component\n"
               "      --workers N            event-loop threads (default: 2 per CPU)\n"
               "      --build                run each component's build command first\n"
               "      --quiet                no access log\n"
               "      --tls-cert FILE        PEM certificate chain: serve HTTPS (HTTP/2 via ALPN)\n"
               "      --tls-key FILE         PEM private key of the certificate\n"
               "      --max-request-size N   largest request body (default 10M)\n"
               "      --read-timeout SECS    time a request may take to arrive (default 10)\n"
               "      --request-timeout DUR  time a guest may run for one request (default 30s);\n"
               "                             past it: 504\n"
               "      --max-instance-memory SIZE  linear memory of one instance (default 128M)\n"
               "      --max-response-size SIZE    largest guest output (default 100M)\n"
               "      --max-instances N      guests alive at once: running, or waiting in a host\n"
               "                             call such as a sleep (default 10000); more wait\n"
               "                             in the queue\n"
               "      --executor-threads N   threads for guests that do not run on the event\n"
               "                             loops (default 16)\n"
               "      --pool-size N          instance slots made ready per component at start\n"
               "                             (default: one per event loop; more are made on\n"
               "                             need and kept)\n"
               "      --max-queue N          requests waiting for an instance (default 1024);\n"
               "                             beyond: 503 with Retry-After\n"
               "      --queue-timeout DUR    longest wait for an instance (default 10s)\n"
               "      --inline-budget DUR    run a guest on the I/O thread up to DUR first, then\n"
               "                             again on an executor thread (default 10ms; 0: off;\n"
               "                             never for components granted outbound hosts,\n"
               "                             key-value stores or SQLite databases)\n"
               "      --no-tier-up           do not build the optimized tier in the background\n"
               "      --tier fast|opt|auto   compiler tier (default auto)\n"
               "      --memory-checks guard|bounds  compile variant (default guard, or\n"
               "                             $KILN_MEMORY_CHECKS): guard pages, or explicit\n"
               "                             bounds checks for many instances alive at once\n"
               "      --cache-dir DIR        compiled-module cache\n"
               "      --admin ADDR           serve /metrics, /healthz, /readyz and a live\n"
               "                             dashboard (/) on ADDR (off by default; a loopback\n"
               "                             address such as 127.0.0.1:9090)\n"
               "      --admin-public         allow a non-loopback --admin address\n"
               "      --runtime-config-file FILE  Spin's runtime config: key-value stores,\n"
               "                             variable providers, state_dir\n"
               "      --state-dir DIR        where the default key-value store lives (default:\n"
               "                             .kiln beside the manifest; \"\": in memory)\n"
               "      --variable NAME=VALUE  an application variable (NAME=@FILE: the file's\n"
               "                             contents); before every other provider\n"
               "      --key-value KEY=VALUE  set in the default key-value store at start\n"
               "      --sqlite SQL|@FILE[:LABEL]  run a statement on the default SQLite database\n"
               "                             (or a file's statements on LABEL) before serving\n");
    kiln_up_flags_usage(f);
}

/* Parses the command line; returns 0, 1 for --help, -1 on a usage error. */
static int parse_args(int argc, char **argv, up_opts *o)
{
    o->max_request_size = 10ull << 20;
    o->read_timeout_ms = 10000;
    o->request_timeout_ms = 30000;
    o->max_instance_memory = 128ull << 20;
    o->max_response_size = 100ull << 20;
    o->max_instances = 10000;
    o->executor_threads = 16;
    o->max_queue = 1024;
    o->queue_timeout_ms = 10000;
    o->inline_budget_ms = 10;
    o->pool_size = POOL_AUTO;
    if (kiln_up_flags_env_defaults(&o->max_instance_memory) < 0) return -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
#define TAKES(s) (strcmp(a, s) == 0 && val && ++i)
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 1;
        } else if (TAKES("-f") || TAKES("--from") || TAKES("--file") || TAKES("--from-file") ||
                   TAKES("--from-registry")) {
            o->from = val;
        } else if (strcmp(a, "-k") == 0 || strcmp(a, "--insecure") == 0) {
            o->insecure = 1;
        } else if (TAKES("--listen")) {
            o->listen = val;
        } else if (TAKES("-e") || TAKES("--env")) {
            if (!strchr(val, '=') || val[0] == '=') {
                fprintf(stderr, "error: -e %s: expected KEY=VALUE\n", val);
                return -1;
            }
            if (kiln_strv_push(&o->env, val) < 0) return -1;
        } else if (TAKES("--workers")) {
            char *end;
            long n = strtol(val, &end, 10);
            if (*end || n < 1 || n > 1024) {
                fprintf(stderr, "error: --workers %s: expected a number from 1 to 1024\n", val);
                return -1;
            }
            o->workers = (int)n;
        } else if (strcmp(a, "--build") == 0) {
            o->build = 1;
        } else if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0 || strcmp(a, "--sh") == 0 ||
                   strcmp(a, "--shush") == 0) {
            o->quiet = 1;
        } else if (TAKES("--tls-cert")) {
            o->tls_cert = val;
        } else if (TAKES("--tls-key")) {
            o->tls_key = val;
        } else if (TAKES("--max-request-size")) {
            if (kiln_parse_size(val, &o->max_request_size) < 0) {
                fprintf(stderr, "error: --max-request-size %s: expected a size like 10M\n", val);
                return -1;
            }
        } else if (TAKES("--read-timeout")) {
            char *end;
            double s = strtod(val, &end);
            if (*end || !(s > 0 && s < 86400)) {
                fprintf(stderr, "error: --read-timeout %s: expected seconds\n", val);
                return -1;
            }
            o->read_timeout_ms = (unsigned)(s * 1000);
        } else if (TAKES("--request-timeout") || TAKES("--queue-timeout")) {
            unsigned long long *dst =
                strcmp(a, "--request-timeout") == 0 ? &o->request_timeout_ms : &o->queue_timeout_ms;
            if (kiln_parse_duration_ms(val, dst) < 0 || *dst == 0) {
                fprintf(stderr, "error: %s %s: expected a duration like 30s or 500ms\n", a, val);
                return -1;
            }
        } else if (TAKES("--inline-budget")) {
            if (kiln_parse_duration_ms(val, &o->inline_budget_ms) < 0 ||
                o->inline_budget_ms > 60000) {
                fprintf(stderr,
                        "error: --inline-budget %s: expected a duration like 10ms (0: off)\n", val);
                return -1;
            }
        } else if (TAKES("--max-instance-memory") || TAKES("--max-response-size")) {
            unsigned long long *dst = strcmp(a, "--max-instance-memory") == 0
                                          ? &o->max_instance_memory
                                          : &o->max_response_size;
            if (kiln_parse_size(val, dst) < 0 || *dst == 0) {
                fprintf(stderr, "error: %s %s: expected a size like 128M\n", a, val);
                return -1;
            }
        } else if (TAKES("--max-instances") || TAKES("--max-queue") ||
                   TAKES("--executor-threads")) {
            char *end;
            unsigned long long n = strtoull(val, &end, 10);
            unsigned long long max = strcmp(a, "--executor-threads") == 0 ? 1024 : 100000;
            if (*end || n == 0 || n > max) {
                fprintf(stderr, "error: %s %s: expected a number from 1 to %llu\n", a, val, max);
                return -1;
            }
            *(strcmp(a, "--max-instances") == 0 ? &o->max_instances
              : strcmp(a, "--max-queue") == 0   ? &o->max_queue
                                                : &o->executor_threads) = n;
        } else if (TAKES("--pool-size")) {
            char *end;
            unsigned long long n = strtoull(val, &end, 10);
            if (*end || !*val || n > 100000) {
                fprintf(stderr, "error: --pool-size %s: expected a number from 0 to 100000\n", val);
                return -1;
            }
            o->pool_size = n;
        } else if (strcmp(a, "--no-tier-up") == 0) {
            o->no_tier_up = 1;
        } else if (TAKES("--tier")) {
            if (kiln_tier_parse(val, &o->compile.tier) < 0) {
                fprintf(stderr, "error: unknown tier '%s' (fast, opt or auto)\n", val);
                return -1;
            }
        } else if (TAKES("--memory-checks")) {
            if (kiln_mem_checks_parse(val, &o->compile.memory_checks) < 0) {
                fprintf(stderr, "error: --memory-checks '%s': guard or bounds\n", val);
                return -1;
            }
        } else if (TAKES("--admin")) {
            o->admin = val;
        } else if (strcmp(a, "--admin-public") == 0) {
            o->admin_public = 1;
        } else if (TAKES("--cache-dir")) {
            o->compile.cache_dir = val;
        } else if (TAKES("--runtime-config-file")) {
            o->runtime_config_file = val;
        } else if (TAKES("--state-dir")) {
            o->state_dir = val;
        } else if (TAKES("--sqlite")) {
            if (kiln_strv_push(&o->sqlite, val) < 0) return -1;
        } else if (TAKES("--variable") || TAKES("--key-value")) {
            if (kiln_strv_push(strcmp(a, "--variable") == 0 ? &o->variables : &o->key_values, val) <
                0)
                return -1;
        } else {
            int used = kiln_up_flag(&o->flags, a, val);
            if (used < 0) return -1;
            i += used - 1;
            if (used > 0) continue;
            fprintf(stderr, "error: kiln up: unknown or incomplete option '%s'\n", a);
            usage(stderr);
            return -1;
        }
#undef TAKES
    }
    kiln_up_flags_env(&o->flags, &o->listen, &o->tls_cert, &o->tls_key, &o->runtime_config_file,
                      &o->build);
    return 0;
}

/* Creates the directories above `path` (mkdir -p of its parent). */
static int mkdir_parents(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        int rc = mkdir(path, 0755);
        *p = '/';
        if (rc < 0 && errno != EEXIST) return -1;
    }
    return 0;
}

/* Copies one file (regular files only; symlinks are not followed). */
static int copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (in < 0) return -1;
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) {
        close(in);
        return -1;
    }
    char buf[65536];
    int rc = 0;
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            rc = n < 0 ? -1 : 0;
            break;
        }
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) {
                rc = -1;
                break;
            }
            off += w;
        }
        if (rc) break;
    }
    if (close(out) < 0) rc = -1;
    close(in);
    return rc;
}

/* Grants a component its files: directory mounts are preopened read-only where they
 * belong; single files are copied into a staging directory preopened read-only at "/". */
typedef int (*preopen_fn)(void *target, const char *host_path, const char *guest_path);

static int wagi_preopen(void *w, const char *host_path, const char *guest_path)
{
    return kiln_wagi_component_preopen(w, host_path, guest_path);
}

static int http_preopen(void *c, const char *host_path, const char *guest_path)
{
    return kiln_http_component_preopen(c, host_path, guest_path);
}

/* Grants a component its files through preopen(w, host, guest) (WAGI or wasi:http). */
static int grant_files(up_app *app, const kiln_component *comp, preopen_fn preopen, void *w)
{
    kiln_mount *mounts = NULL;
    size_t n = 0;
    char *err = NULL;
    if (kiln_component_mounts(app->manifest, comp, &mounts, &n, &err) < 0) {
        fprintf(stderr, "error: component %s: files: %s\n", comp->id, err ? err : "failed");
        kiln_free(err);
        return -1;
    }
    int rc = 0;
    char *staging = NULL;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (mounts[i].is_dir) {
            rc = preopen(w, mounts[i].host_path, mounts[i].guest_path);
            continue;
        }
        if (!staging) {
            const char *tmp = getenv("TMPDIR");
            kiln_buf t = KILN_BUF_INIT;
            if (kiln_buf_printf(&t, "%s/kiln-files-XXXXXX", tmp && *tmp ? tmp : "/tmp") < 0 ||
                !mkdtemp(t.data)) {
                fprintf(stderr, "error: component %s: cannot create a staging directory: %s\n",
                        comp->id, strerror(errno));
                kiln_buf_free(&t);
                rc = -1;
                break;
            }
            staging = kiln_buf_steal(&t);
            char **s = kiln_realloc(app->staging, (app->nstaging + 1) * sizeof *s);
            if (!s) {
                rmdir(staging);
                kiln_free(staging);
                rc = -1;
                break;
            }
            app->staging = s;
            s[app->nstaging++] = staging;
        }
        kiln_buf dst = KILN_BUF_INIT;
        rc = kiln_buf_printf(&dst, "%s%s", staging, mounts[i].guest_path);
        if (rc == 0 &&
            (mkdir_parents(dst.data) < 0 || copy_file(mounts[i].host_path, dst.data) < 0)) {
            fprintf(stderr, "error: component %s: cannot stage %s: %s\n", comp->id,
                    mounts[i].host_path, strerror(errno));
            rc = -1;
        }
        kiln_buf_free(&dst);
    }
    if (rc == 0 && staging) rc = preopen(w, staging, "/");
    kiln_mounts_free(mounts, n);
    return rc;
}

/* Says once per component which of its grants no host API serves yet: the manifest is
 * valid Spin and loads, but a user must not think the guest can use them through Kiln
 * today. Outbound hosts, key-value stores, SQLite databases and variables are served to
 * components (host/wasihttp/, host/spin/), not to WAGI modules, which cannot import them. */
static void warn_unserved_grants(const kiln_component *comp, int is_component)
{
    const char *names[4];
    size_t n = 0;
    if (comp->allowed_outbound_hosts.len && !is_component) names[n++] = "allowed_outbound_hosts";
    if (comp->key_value_stores.len && !is_component) names[n++] = "key_value_stores";
    if (comp->sqlite_databases.len && !is_component) names[n++] = "sqlite_databases";
    if (comp->variables.len && !is_component) names[n++] = "variables";
    if (!n) return;
    fprintf(stderr, "kiln: component %s: ", comp->id);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "%s%s", i ? (i + 1 == n ? " and " : ", ") : "", names[i]);
    fprintf(stderr,
            " %s granted, but Kiln has no host API for %s yet: the guest cannot use "
            "%s\n",
            n > 1 ? "are" : "is", n > 1 ? "them" : "it", n > 1 ? "them" : "it");
}

/* Loads a component once (the first trigger that needs it). */
static kiln_wagi_component *load_component(up_app *app, const up_opts *o, size_t ci,
                                           const kiln_trigger *t)
{
    if (app->loaded[ci]) return app->loaded[ci];
    const kiln_component *comp = &app->manifest->components[ci];
    if (!comp->source) {
        fprintf(stderr, "error: component %s: a source URL is not supported yet by kiln up\n",
                comp->id);
        return NULL;
    }
    if (comp->dependencies_len) {
        fprintf(stderr,
                "error: component %s: has dependencies but is a core module: only components "
                "can import what a dependency exports\n",
                comp->id);
        return NULL;
    }
    kiln_err err = {{0}};
    /* The compile variant: the component's own choice, else kiln up's (--memory-checks,
     * else $KILN_MEMORY_CHECKS, else guard pages). */
    kiln_compile_opts copts = o->compile;
    if (comp->memory_checks)
        copts.memory_checks =
            comp->memory_checks == 2 ? KILN_MEM_CHECKS_BOUNDS : KILN_MEM_CHECKS_GUARD;
    kiln_wagi_component *w =
        kiln_wagi_component_new(comp->id, comp->source, &copts, t->wagi_entrypoint, &err);
    if (!w) {
        fprintf(stderr, "error: %s\n", err.msg);
        return NULL;
    }
    warn_unserved_grants(comp, 0);
    /* Host APIs with side effects (outbound requests, key-value, SQLite) arrive soon: a
     * guest granted one must never run twice for one request, so it skips the inline
     * path (serve.h). Read-only files and stdout alone make a re-run invisible. */
    w->rerunnable = !(comp->allowed_outbound_hosts.len || comp->key_value_stores.len ||
                      comp->sqlite_databases.len);
    fprintf(stderr, "kiln: component %s: %s tier ready (%s memory checks; %s%.3f s)\n", comp->id,
            kiln_tier_name(kiln_wagi_component_tier(w)),
            kiln_mem_checks_name(kiln_module_memory_checks(w->module)),
            kiln_module_was_cached(w->module) ? "from the cache, " : "compiled in ",
            kiln_module_was_cached(w->module) ? 0.0 : kiln_module_compile_seconds(w->module));
    /* The component's own limits ([component.ID.tool.kiln]) win over kiln up's. */
    unsigned long long timeout_ms =
        comp->request_timeout_ms ? comp->request_timeout_ms : o->request_timeout_ms;
    unsigned long long mem =
        comp->max_instance_memory ? comp->max_instance_memory : o->max_instance_memory;
    w->timeout_ns = timeout_ms * 1000000ull;
    w->max_memory_pages = (uint32_t)(mem / 65536 > 65535 ? 65535 : mem / 65536);

    w->stdout_limit = (size_t)o->max_response_size;
    size_t pool = (size_t)o->pool_size;
    if (o->pool_size == POOL_AUTO)
        pool = (size_t)(o->workers > 0 ? o->workers : kiln_server_default_workers());
    if (kiln_wagi_component_reserve(w, pool) < 0) {
        fprintf(stderr, "error: component %s: cannot prepare %zu instance slots (--pool-size)\n",
                comp->id, pool);
        kiln_wagi_component_free(w);
        return NULL;
    }
    int rc = 0;
    for (size_t i = 0; i < comp->environment.len && rc == 0; i++)
        rc = kiln_strv_setenv(
            &w->env, comp->environment.items[i].key, strlen(comp->environment.items[i].key),
            comp->environment.items[i].value, strlen(comp->environment.items[i].value));
    for (size_t i = 0; i < o->env.n && rc == 0; i++)
        rc = kiln_strv_putenv(&w->env, o->env.v[i]);
    if (rc == 0) rc = grant_files(app, comp, wagi_preopen, w);
    if (rc < 0) {
        kiln_wagi_component_free(w);
        return NULL;
    }
    w->log = app->logs ? &app->logs[ci] : NULL;
    app->loaded[ci] = w;
    return w;
}

/* The KILN_INHERIT_* sets dependency d of c (NULL: a middleware entry) gets. */
static int inherit_sets(const kiln_component *c, const kiln_dependency *d)
{
    int r = kiln_dependency_inherits(c, d), sets = 0;
    if (r == 1) return KILN_INHERIT_ALL;
    for (size_t i = 0; r == 2 && i < d->inherit_keys.len; i++)
        sets |= kiln_compose_inherit_key(d->inherit_keys.items[i]);
    return sets;
}

/* The dependencies of comp as a compose spec (component/compose.h): each one's file and
 * grants. 0, or -1 said on stderr. */
static int dependency_spec(const kiln_manifest *m, const kiln_component *comp,
                           kiln_compose_spec *spec)
{
    for (size_t k = 0; k < comp->dependencies_len; k++) {
        const kiln_dependency *d = &comp->dependencies[k];
        const char *why = NULL, *file = kiln_dependency_file(m, d, &why);
        if (!file) {
            fprintf(stderr, "error: component `%s`: dependency '%s': %s\n", comp->id, d->name,
                    why ? why : "its file was not fetched");
            return -1;
        }
        if (kiln_compose_spec_add(spec, d->name, file, d->export_name, inherit_sets(comp, d)) < 0) {
            fprintf(stderr, "error: out of memory\n");
            return -1;
        }
    }
    return 0;
}

/* The middleware chain of trigger t in front of comp (component/compose.h): the spec that
 * loads t's first middleware, in *first its file. NULL said on stderr. */
static kiln_compose_spec *middleware_spec(const kiln_manifest *m, const kiln_trigger *t,
                                          const kiln_component *comp,
                                          const kiln_compose_spec *inner, const char **first)
{
    const char **files = kiln_calloc(t->mw_len, sizeof *files);
    int *inherit = kiln_calloc(t->mw_len, sizeof *inherit);
    kiln_compose_spec *s = NULL;
    size_t k = 0;
    for (; files && inherit && k < t->mw_len; k++) {
        const char *why = NULL;
        if (!(files[k] = kiln_dependency_file(m, &t->mw[k], &why))) {
            fprintf(stderr, "error: trigger %s: middleware `%s`: %s\n", t->id, t->mw[k].name,
                    why ? why : "its file was not fetched");
            break;
        }
        inherit[k] = inherit_sets(NULL, &t->mw[k]);
    }
    if (files && inherit && k == t->mw_len) {
        s = kiln_compose_chain(comp->source, inner, files, inherit, t->mw_len);
        if (!s) fprintf(stderr, "error: out of memory\n");
        *first = files[0];
    }
    kiln_free(files);
    kiln_free(inherit);
    return s;
}

/* Component ci as a component file, loaded once with its grants (environment, files, outbound
 * hosts, limits), shared by its HTTP and other triggers; any_export: it need not be a wasi:http
 * handler (exec/trigger/). With mw_t (a trigger with middleware), the chain of mw_t's
 * middleware in front of it, loaded for that trigger alone. NULL on failure (said on
 * stderr). */
static kiln_http_component *http_component_mw(up_app *app, const up_opts *o, size_t ci,
                                              int any_export, const kiln_trigger *mw_t)
{
    kiln_http_component *c = mw_t ? NULL : app->http[ci];
    if (c) return c;
    const kiln_component *comp = &app->manifest->components[ci];
    char *err = NULL;
    kiln_compose_spec spec = {0}, *chain = NULL;
    const char *path = comp->source;
    if (dependency_spec(app->manifest, comp, &spec) < 0 ||
        (mw_t && !(chain = middleware_spec(app->manifest, mw_t, comp, &spec, &path)))) {
        kiln_compose_spec_free(&spec, 0);
        return NULL;
    }
    c = kiln_http_component_load_deps(comp->id, path, chain ? chain : &spec, &o->compile,
                                      any_export, &err);
    kiln_compose_spec_free(&spec, 0);
    kiln_compose_spec_free(chain, 1);
    if (!c) {
        if (mw_t)
            fprintf(stderr,
                    "error: trigger %s: the middleware chain in front of component %s: %s\n",
                    mw_t->id, comp->id, err ? err : "cannot load");
        else
            fprintf(stderr, "error: component %s: %s\n", comp->id, err ? err : "cannot load");
        kiln_free(err);
        return NULL;
    }
    if (mw_t)
        app->http_mw[mw_t - app->manifest->triggers] = c;
    else
        app->http[ci] = c;
    warn_unserved_grants(comp, 1);
    /* its instances' allowed_outbound_hosts, "{{ variable }}" templates resolved */
    c->outbound = kiln_spin_app_outbound(app->spin, comp->id, &c->noutbound);
    char desc[160];
    kiln_http_component_describe(c, desc, sizeof desc);
    fprintf(stderr, "kiln: component %s: %s, %s\n", comp->id,
            any_export ? "component" : "wasi:http", desc);
    const char *stores = kiln_spin_app_describe(app->spin, comp->id);
    if (stores) fprintf(stderr, "kiln: component %s: %s\n", comp->id, stores);
    unsigned long long timeout_ms =
        comp->request_timeout_ms ? comp->request_timeout_ms : o->request_timeout_ms;
    unsigned long long mem =
        comp->max_instance_memory ? comp->max_instance_memory : o->max_instance_memory;
    c->timeout_ns = timeout_ms * 1000000ull;
    c->max_memory_pages = (uint32_t)(mem / 65536 > 65535 ? 65535 : mem / 65536);
    c->reuse_max = o->flags.reuse_count ? o->flags.reuse_count : 1; /* p3 only (reuse_p3.h) */
    c->reuse_concurrent = o->flags.concurrent_reuse_count ? o->flags.concurrent_reuse_count : 16;
    c->reuse_idle_ns = o->flags.idle_timeout_set ? o->flags.idle_timeout_ns : 1000000000ull;
    int rc = 0;
    kiln_buf kv = KILN_BUF_INIT;
    for (size_t i = 0; i < comp->environment.len && rc == 0; i++) {
        kv.len = 0;
        rc = kiln_buf_printf(&kv, "%s=%s", comp->environment.items[i].key,
                             comp->environment.items[i].value);
        if (rc == 0) rc = kiln_http_component_putenv(c, kv.data);
    }
    kiln_buf_free(&kv);
    for (size_t i = 0; i < o->env.n && rc == 0; i++)
        rc = kiln_http_component_putenv(c, o->env.v[i]);
    if (rc == 0) rc = grant_files(app, comp, http_preopen, c);
    if (rc < 0) return NULL;
    if (app->logs) { /* --log-dir: the guest's wasi:cli stdout/stderr go to its files */
        c->stdout_fd = app->logs[ci].out_fd;
        c->stderr_fd = app->logs[ci].err_fd;
    }
    size_t pool = (size_t)o->pool_size;
    if (o->pool_size == POOL_AUTO)
        pool = (size_t)(o->workers > 0 ? o->workers : kiln_server_default_workers());
    char *perr = NULL;
    if (kiln_http_component_prepare(c, pool, &perr) < 0) {
        fprintf(stderr, "kiln: component %s: no image (%s): each request instantiates it\n",
                comp->id, perr ? perr : "failed");
        kiln_free(perr);
    }
    return c;
}

static kiln_http_component *http_component(up_app *app, const up_opts *o, size_t ci, int any_export)
{
    return http_component_mw(app, o, ci, any_export, NULL);
}

/* A trigger whose component is a component file: served as wasi:http (exec/http/),
 * loaded once per component. NULL on failure (said on stderr). */
static kiln_handler *http_trigger(up_app *app, const up_opts *o, const kiln_trigger *t)
{
    size_t ci = (size_t)t->component;
    const kiln_component *comp = &app->manifest->components[ci];
    if (t->executor == KILN_EXECUTOR_WAGI) {
        fprintf(stderr,
                "error: trigger %s: component %s is a component, not a core WASI command "
                "module: WAGI cannot run it (use executor = { type = \"http\" })\n",
                t->id, comp->id);
        return NULL;
    }
    kiln_http_component *c = http_component_mw(app, o, ci, 0, t->mw_len ? t : NULL);
    if (!c) return NULL;
    if (t->mw_len)
        fprintf(stderr, "kiln: trigger %s: %zu middleware in front of component %s\n", t->id,
                t->mw_len, comp->id);
    if (t->executor == KILN_EXECUTOR_DEFAULT)
        fprintf(stderr,
                "note: trigger %s: component %s exports wasi:http/%s and no "
                "executor is given: serving it as wasi:http\n",
                t->id, comp->id, c->p3 ? "handler@0.3" : "incoming-handler");
    kiln_http_handler *h = &app->http_handlers[app->nhttp++];
    kiln_http_handler_init(h, c, app->slots, (size_t)o->max_queue, app->queue_timeout_ms,
                           app->executor, app->inline_budget_ms);
    return &h->base;
}

/* The executor of one trigger: the component's loaded module with the trigger's argv. */
static kiln_wagi_component *trigger_executor(up_app *app, const up_opts *o, const kiln_trigger *t)
{
    size_t ci = (size_t)t->component;
    const kiln_component *comp = &app->manifest->components[ci];
    if (t->executor == KILN_EXECUTOR_SPIN) {
        fprintf(stderr,
                "error: trigger %s: component %s is a core module; the http executor needs a "
                "component exporting wasi:http/incoming-handler (set executor = { type = "
                "\"wagi\" } for a WASI command module)\n",
                t->id, comp->id);
        return NULL;
    }
    if (t->mw_len) {
        fprintf(stderr,
                "error: trigger %s: middleware runs in front of a wasi:http component; component "
                "%s is a core module (WAGI)\n",
                t->id, comp->id);
        return NULL;
    }
    kiln_wagi_component *base = load_component(app, o, ci, t);
    if (!base) return NULL;
    if (t->executor == KILN_EXECUTOR_DEFAULT) {
        if (!kiln_wagi_is_command(base->module)) {
            fprintf(stderr,
                    "error: trigger %s: component %s exports no _start and no "
                    "executor is given\n",
                    t->id, comp->id);
            return NULL;
        }
        fprintf(stderr,
                "note: trigger %s: component %s is a WASI command module and no "
                "executor is given: running it as WAGI\n",
                t->id, comp->id);
        if (!app->wagi_noted) {
            app->wagi_noted = 1;
            fprintf(stderr, "note: Spin deprecates the WAGI executor; prefer wasi:http "
                            "components (the http executor)\n");
        }
    }
    kiln_wagi_component *w = kiln_wagi_component_share(base, t->wagi_argv);
    if (!w) return NULL;
    app->wagi[app->nwagi] = w;
    kiln_wagi_handler_init(&app->handlers[app->nwagi], w, app->executor, app->slots,
                           app->inline_budget_ms, app->queue_timeout_ms);
    app->nwagi++;
    w->pass_authorization = t->wagi_pass_authorization;
    if (t->wagi_entrypoint) {
        /* every trigger's entry point, not only the first one's (which loading checked):
         * the call passes no arguments and has room for no result */
        long ix = kiln_module_export_index(w->module, t->wagi_entrypoint);
        const kiln_export_info *ex = ix >= 0 ? kiln_module_export(w->module, (size_t)ix) : NULL;
        if (!ex || ex->kind != KILN_EXTERN_FUNC) {
            fprintf(stderr, "error: trigger %s: component %s has no exported function %s\n", t->id,
                    comp->id, t->wagi_entrypoint);
            return NULL;
        }
        if (strcmp(ex->type, ":") != 0) {
            fprintf(stderr,
                    "error: trigger %s: component %s: entrypoint %s must take no parameters "
                    "and return nothing (its type is %s)\n",
                    t->id, comp->id, t->wagi_entrypoint, ex->type);
            return NULL;
        }
        w->entry_index = ix;
    }
    return w;
}

/* exec/trigger/'s loader: component ci for a Redis or cron trigger (ctx: up_loader). */
typedef struct up_loader {
    up_app *app;
    const up_opts *o;
} up_loader;

static kiln_http_component *trigger_component(void *ctx, size_t ci)
{
    up_loader *l = ctx;
    const kiln_component *comp = &l->app->manifest->components[ci];
    if (!comp->source || !kiln_cli_is_component_file(comp->source)) {
        fprintf(stderr,
                "error: component %s: Redis and cron triggers run components, not core "
                "modules\n",
                comp->id);
        return NULL;
    }
    return http_component(l->app, l->o, ci, 1);
}

/* The handler of HTTP trigger t (a component file: wasi:http; else WAGI), also what service
 * chaining to its component reaches. NULL on failure (said on stderr). */
static kiln_handler *trigger_handler(up_app *app, const up_opts *o, const kiln_trigger *t)
{
    const char *src = app->manifest->components[t->component].source;
    kiln_handler *h;
    if (src && kiln_cli_is_component_file(src)) {
        h = http_trigger(app, o, t);
    } else {
        h = trigger_executor(app, o, t) ? &app->handlers[app->nwagi - 1].base : NULL;
    }
    if (h && !app->by_component[t->component]) app->by_component[t->component] = h;
    return h;
}

/* Service chaining (exec/http/chain.h): what answers a request for component, or for a
 * self request the route of path, as the server would route it. */
static int chain_lookup(void *ctx, const char *component, const char *path, size_t len,
                        kiln_arena *arena, kiln_http_chain_target *t)
{
    const up_app *app = ctx;
    const kiln_manifest *m = app->manifest;
    memset(t, 0, sizeof *t);
    if (component) {
        for (size_t i = 0; i < m->components_len; i++)
            if (app->by_component[i] && strcmp(m->components[i].id, component) == 0) {
                t->handler = app->by_component[i];
                t->component = m->components[i].id;
                for (size_t k = 0; k < app->ntargets; k++)
                    if (app->targets[k].handler == t->handler)
                        t->metrics_route = app->targets[k].metrics_route;
                t->match = (kiln_route_match){NULL, "/...", "", 1, 0, NULL, 0};
                return 1;
            }
        return 0;
    }
    kiln_route_match rm;
    int rc = kiln_router_lookup(app->router, path, len, &rm);
    if (rc <= 0) return rc < 0 ? -1 : 1; /* no route: 404 */
    const kiln_server_target *tg = rm.target;
    t->handler = tg->handler;
    t->component = tg->handler ? tg->component : NULL;
    t->metrics_route = tg->metrics_route;
    t->status = tg->status;
    t->headers = tg->headers;
    t->nheaders = tg->nheaders;
    t->body = tg->body;
    t->body_len = tg->body_len;
    t->match = rm;
    t->match.params = rm.nparams ? kiln_arena_alloc(arena, rm.nparams * sizeof *rm.params) : NULL;
    if (rm.nparams && !t->match.params) rc = -1;
    for (size_t i = 0; rc > 0 && i < rm.nparams; i++)
        t->match.params[i] = rm.params[i]; /* names: the router's; values: slices of path */
    kiln_route_match_free(&rm);
    return rc;
}

/* Builds the router and targets from the manifest. */
static int app_build(up_app *app, const up_opts *o)
{
    const kiln_manifest *m = app->manifest;
    app->router = kiln_router_new();
    app->targets = kiln_calloc(m->triggers_len + 1, sizeof *app->targets);
    app->loaded = kiln_calloc(m->components_len + 1, sizeof *app->loaded);
    app->wagi = kiln_calloc(m->triggers_len + 1, sizeof *app->wagi);
    app->handlers = kiln_calloc(m->triggers_len + 1, sizeof *app->handlers);
    app->http = kiln_calloc(m->components_len + 1, sizeof *app->http);
    app->http_handlers = kiln_calloc(m->triggers_len + 1, sizeof *app->http_handlers);
    app->http_mw = kiln_calloc(m->triggers_len + 1, sizeof *app->http_mw);
    app->by_component = kiln_calloc(m->components_len + 1, sizeof *app->by_component);
    if (!app->router || !app->targets || !app->loaded || !app->wagi || !app->handlers ||
        !app->http || !app->http_handlers || !app->http_mw || !app->by_component)
        return -1;
    const char *base = m->base && strcmp(m->base, "/") != 0 ? m->base : "";
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/')
        bl--;
    for (size_t i = 0; i < m->triggers_len; i++) {
        const kiln_trigger *t = &m->triggers[i];
        kiln_server_target *tg = &app->targets[app->ntargets];
        if (t->is_private && t->component >= 0 && (size_t)t->component < m->components_len) {
            /* no route: reached only by service chaining */
            if (!trigger_handler(app, o, t)) return -1;
            continue;
        }
        if (t->is_private || !t->route) continue;
        if (t->has_static_response) {
            tg->component = "static";
            tg->status = t->status_code ? t->status_code : 200;
            tg->body = t->static_body ? t->static_body : "";
            tg->body_len = t->static_body ? t->static_body_len : 0;
            tg->headers = kiln_calloc(t->static_headers.len + 1, sizeof *tg->headers);
            if (!tg->headers) return -1;
            for (size_t k = 0; k < t->static_headers.len; k++) {
                const kiln_kv *kv = &t->static_headers.items[k];
                tg->headers[k] =
                    (kiln_cgi_header){kv->key, strlen(kv->key), kv->value, strlen(kv->value)};
            }
            tg->nheaders = t->static_headers.len;
        } else {
            if (t->component < 0 || (size_t)t->component >= m->components_len) continue;
            if (!(tg->handler = trigger_handler(app, o, t))) return -1;
            tg->component = m->components[t->component].id;
        }
        app->ntargets++;
        kiln_buf route = KILN_BUF_INIT;
        if (kiln_buf_append(&route, base, bl) < 0 || kiln_buf_puts(&route, t->route) < 0) {
            kiln_buf_free(&route);
            return -1;
        }
        int mr = app->metrics
                     ? kiln_metrics_add_route(app->metrics, route.data,
                                              tg->handler ? t->component : -1, tg->component)
                     : 0;
        tg->metrics_route = mr > 0 ? (size_t)mr : 0;
        const char *err = NULL;
        int rc = kiln_router_add(app->router, route.data, tg, &err);
        if (rc < 0) {
            fprintf(stderr, "error: trigger %s: route %s: %s\n", t->id, route.data, err);
            kiln_buf_free(&route);
            return -1;
        }
        if (rc == 1)
            fprintf(stderr, "warning: route %s is given twice; the later one wins\n", route.data);
        rc = kiln_buf_printf(&app->routes, "  %s: %%s%s%s\n", tg->component, route.data,
                             tg->handler ? "" : " (static)");
        kiln_buf_free(&route);
        if (rc < 0) return -1;
    }
    return 0;
}

/* Removes a staging directory tree. */
static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP)
        rmdir(path);
    else
        unlink(path);
    return 0;
}

static void app_free(up_app *app)
{
    for (size_t i = 0; i < app->nwagi; i++)
        kiln_wagi_component_free(app->wagi[i]);
    kiln_free(app->wagi);
    kiln_free(app->handlers);
    for (size_t i = 0; app->loaded && i < app->manifest->components_len; i++)
        kiln_wagi_component_free(app->loaded[i]);
    kiln_free(app->loaded);
    for (size_t i = 0; app->http && i < app->manifest->components_len; i++)
        kiln_http_component_free(app->http[i]);
    kiln_free(app->http);
    for (size_t i = 0; app->http_mw && i < app->manifest->triggers_len; i++)
        kiln_http_component_free(app->http_mw[i]);
    kiln_free(app->http_mw);
    kiln_free(app->http_handlers);
    kiln_free(app->by_component);
    for (size_t i = 0; i < app->ntargets; i++)
        kiln_free(app->targets[i].headers);
    kiln_free(app->targets);
    kiln_router_free(app->router);
    for (size_t i = 0; i < app->nstaging; i++) {
        nftw(app->staging[i], rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        kiln_free(app->staging[i]);
    }
    kiln_free(app->staging);
    kiln_buf_free(&app->routes);
    kiln_spin_app_free(app->spin); /* after the components: no instance runs any more */
    kiln_manifest_free(app->manifest);
}

/* Prints the URL and routes once every socket listens. */
static void on_ready(void *ctx, const char *url)
{
    up_app *app = ctx;
    printf("Serving %s\nAvailable Routes:\n", url);
    const char *p = app->routes.data ? app->routes.data : "";
    /* each line holds one %s for the URL */
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        const char *mark = strstr(p, "%s");
        if (mark && mark < p + len) {
            printf("%.*s%s%.*s\n", (int)(mark - p), p, url, (int)(len - (size_t)(mark - p) - 2),
                   mark + 2);
        }
        p += len + (nl ? 1 : 0);
    }
    fflush(stdout);
    kiln_admin_set_ready(app->admin, 1);
}

/* Starts the trace exporter when the environment asks for one (server/trace.h); its
 * counters join the admin metrics. 0, or -1 (the reason printed). */
static int up_tracer_start(up_app *app)
{
    char err[512];
    if (kiln_tracer_from_env(app->manifest->name, &app->tracer, err, sizeof err) < 0) {
        fprintf(stderr, "error: %s\n", err);
        return -1;
    }
    if (app->tracer && app->metrics)
        kiln_metrics_set_extra(app->metrics, kiln_tracer_render_metrics, app->tracer);
    if (app->tracer) kiln_wasihttp_set_span_sink(kiln_up_outbound_span, app->tracer);
    return 0;
}

/* --log-dir DIR (not ""): opens every component's log files (exec/guest_log.h), a
 * followed component's (--follow, --follow-all) copied to the terminal too. Without
 * --log-dir but with --follow: the followed components' output to kiln's stderr, the
 * others' dropped. 0, or -1 (the reason printed). */
static int up_logs_open(up_app *app, const kiln_up_flags *f)
{
    size_t n = app->manifest->components_len;
    const char *dir = f->log_dir;
    int files = dir && *dir;
    if ((!files && !f->nfollow) || !n) return 0;
    app->logs = kiln_calloc(n, sizeof *app->logs);
    if (!app->logs) return -1;
    for (size_t i = 0; i < n; i++)
        app->logs[i].out_fd = app->logs[i].err_fd = -1;
    for (size_t i = 0; i < n; i++) {
        char err[512];
        const char *id = app->manifest->components[i].id;
        int follow = kiln_up_flags_follows(f, id);
        if (!files) { /* copies of stderr: closing the logs leaves kiln's own */
            kiln_guest_log *l = &app->logs[i];
            if (follow == 1 && ((l->out_fd = fcntl(2, F_DUPFD_CLOEXEC, 3)) < 0 ||
                                (l->err_fd = fcntl(2, F_DUPFD_CLOEXEC, 3)) < 0)) {
                fprintf(stderr, "error: --follow: %s\n", strerror(errno));
                return -1;
            }
            continue;
        }
        if (kiln_guest_log_open(&app->logs[i], dir, id, err, sizeof err) < 0 ||
            (follow == 1 && kiln_guest_log_tee(&app->logs[i], 2, err, sizeof err) < 0)) {
            fprintf(stderr, "error: --log-dir: %s\n", err);
            return -1;
        }
    }
    return 0;
}

/* A stop was asked for: not ready any more (the drain begins). */
static void on_stopping(void *ctx)
{
    kiln_admin_set_ready(((up_app *)ctx)->admin, 0);
}

int kiln_cmd_up(int argc, char **argv)
{
    up_opts o = {0};
    o.compile.tier = KILN_TIER_AUTO;
    int prc = parse_args(argc, argv, &o);
    if (prc != 0) {
        kiln_strv_free(&o.env);
        kiln_strv_free(&o.variables);
        kiln_strv_free(&o.key_values);
        kiln_up_flags_free(&o.flags);
        kiln_strv_free(&o.sqlite);
        return prc > 0 ? 0 : 2;
    }
    int status = 1;
    char *path = NULL, *err = NULL;
    up_app app = {0};
    kiln_triggers *triggers = NULL; /* Redis and cron (exec/trigger/) */
    kiln_diags diags = KILN_DIAGS_INIT;
    char *pulled = NULL; /* --from REGISTRY/REPO:TAG: the pulled app's directory */
    if (o.from && kiln_oci_ref_looks_like(o.from)) {
        if (kiln_registry_fetch_app(o.from, o.insecure, NULL, NULL, &pulled) < 0) goto out;
        o.from = pulled;
        if (!o.state_dir) o.state_dir = ".kiln"; /* not inside the cache */
    }
    if (kiln_manifest_find(o.from, &path, &err) < 0) {
        fprintf(stderr, "error: %s\n", err ? err : "no manifest found");
        goto out;
    }
    /* Build first: before a first build the components' sources do not exist yet, and
     * loading the manifest checks them. */
    /* `-f FILE.wasm`: a bare Wasm file is a one-component app (nothing to build), as in Spin */
    int bare = kiln_manifest_is_wasm_file(path);
    if (o.build && !bare && kiln_build_app_profile(path, NULL, 0, o.flags.profile, stderr) < 0)
        goto out;
    app.manifest = bare ? kiln_manifest_from_wasm(path, &diags) : kiln_manifest_load(path, &diags);
    for (size_t i = 0; i < diags.len; i++)
        fprintf(stderr, "%s\n", diags.items[i].message);
    if (!app.manifest || kiln_up_flags_apply(&o.flags, app.manifest) < 0) goto out;
    /* `{ url, digest }` sources and dependencies: downloaded once, verified, cached */
    if (kiln_manifest_fetch_sources(app.manifest, &err) < 0) {
        fprintf(stderr, "error: %s\n", err ? err : "cannot fetch a source");
        goto out;
    }
    /* Key-value stores opened and variables resolved before anything loads: a required
     * variable without a value or an unknown store label stops here, as in Spin. */
    kiln_spin_options so = {o.state_dir,
                            o.runtime_config_file,
                            (const char *const *)o.variables.v,
                            o.variables.n,
                            (const char *const *)o.key_values.v,
                            o.key_values.n,
                            (const char *const *)o.sqlite.v,
                            o.sqlite.n,
                            NULL};
    app.spin = kiln_spin_app_new(app.manifest, &so, &err);
    if (!app.spin || kiln_spin_app_install(app.spin) < 0) {
        fprintf(stderr, "error: %s\n", err ? err : "cannot register the key-value host");
        goto out;
    }
    if (kiln_rt_init() < 0 || kiln_triggers_register_types() < 0) {
        fprintf(stderr, "error: cannot initialize the Wasm runtime\n");
        goto out;
    }
    /* Guest threads, apart from the event loops; created after SIGINT/SIGTERM are blocked
     * (kiln_server_run blocks them too) so that only the main thread takes them. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    /* More executor threads than instance slots could only wait for slots. */
    unsigned threads =
        (unsigned)(o.executor_threads < o.max_instances ? o.executor_threads : o.max_instances);
    if (pthread_sigmask(SIG_BLOCK, &sigs, NULL) != 0 ||
        !(app.slots = kiln_slots_new((size_t)o.max_instances)) ||
        !(app.executor =
              kiln_executor_new(threads, (size_t)o.max_queue, (unsigned)o.queue_timeout_ms, 0))) {
        fprintf(stderr, "error: cannot start executor threads\n");
        goto out;
    }
    app.inline_budget_ms = (unsigned)o.inline_budget_ms;
    app.queue_timeout_ms = (unsigned)o.queue_timeout_ms;
    if (o.admin) {
        char *bench = kiln_up_bench_path(app.manifest->dir, o.state_dir);
        int arc = kiln_up_admin_start(o.admin, o.admin_public, bench, &app.metrics, &app.admin);
        kiln_free(bench);
        if (arc < 0) goto out;
    }
    for (size_t i = 0; app.metrics && i < app.manifest->components_len; i++)
        kiln_metrics_add_component(app.metrics, app.manifest->components[i].id);
    if (up_tracer_start(&app) < 0 || up_logs_open(&app, &o.flags) < 0) goto out;
    if (app_build(&app, &o) < 0) {
        fprintf(stderr, "error: cannot start the application\n");
        goto out;
    }
    app.observe = (kiln_up_observe){app.metrics, app.tracer};
    /* *.spin.internal and self requests */
    kiln_http_chain_configure(chain_lookup, &app, &kiln_up_chain_observer, &app.observe);
    up_loader loader = {&app, &o};
    kiln_triggers_config tc = {.manifest = app.manifest,
                               .load = trigger_component,
                               .load_ctx = &loader,
                               .slots = app.slots,
                               .executor = app.executor,
                               .quiet = o.quiet,
                               .observer = kiln_up_metrics_triggers(app.metrics),
                               .runtime_config_file = o.runtime_config_file,
                               .variables = (const char *const *)o.variables.v,
                               .nvariables = o.variables.n};
    if (kiln_triggers_start(&tc, &triggers) < 0) {
        fprintf(stderr, "error: cannot start the application's triggers\n");
        goto out;
    }
    kiln_up_metrics_seal(app.metrics, app.manifest->components_len, app.loaded, app.http, app.slots,
                         (size_t)o.max_instances, app.executor);
    kiln_server_config cfg = {
        .listen = o.listen ? o.listen : "127.0.0.1:3000",
        .workers = o.workers,
        .quiet = o.quiet,
        .max_request_size = (size_t)o.max_request_size,
        .max_header_size = 32 * 1024,
        .read_timeout_ms = o.read_timeout_ms,
        .shutdown_timeout_ms = 5000,
        .tls_cert = o.tls_cert,
        .tls_key = o.tls_key,
        .router = app.router,
        .app_name = app.manifest->name,
        .app_version = app.manifest->version,
        .on_ready = on_ready,
        .on_ready_ctx = &app,
        .on_stopping = on_stopping,
        .metrics = app.metrics,
        .tracer = app.tracer,
    };
    cfg.thread_init = kiln_rt_thread_init;
    pthread_t tier_thread;
    int tiering = !o.no_tier_up && o.compile.tier == KILN_TIER_AUTO &&
                  pthread_create(&tier_thread, NULL, tier_up_main, &app) == 0;
    status = kiln_server_run(&cfg) == 0 ? 0 : 1;
    if (tiering) {
        /* Stop promptly: the optimized build in progress (cc, seconds for a big module)
         * is killed rather than awaited; requests already drained. */
        atomic_store(&app.stopping, 1);
        kiln_proc_cancel_all();
        pthread_join(tier_thread, NULL);
    }
out:
    kiln_triggers_stop(triggers); /* no new events; the running ones finish */
    kiln_http_chain_configure(NULL, NULL, NULL, NULL);
    kiln_admin_stop(app.admin);
    kiln_wasihttp_set_span_sink(NULL, NULL);
    kiln_tracer_free(app.tracer); /* flushes the spans of the drained requests */
    for (size_t i = 0; app.logs && i < app.manifest->components_len; i++)
        kiln_guest_log_close(&app.logs[i]);
    kiln_free(app.logs);
    kiln_up_metrics_detach();
    kiln_metrics_free(app.metrics);
    kiln_executor_free(app.executor); /* idle: the server waited for every request */
    kiln_slots_free(app.slots);
    if (app.manifest || app.router) app_free(&app);
    kiln_diags_free(&diags);
    kiln_free(path);
    kiln_free(pulled);
    kiln_free(err);
    kiln_strv_free(&o.env);
    kiln_strv_free(&o.variables);
    kiln_strv_free(&o.key_values);
    kiln_up_flags_free(&o.flags);
    kiln_strv_free(&o.sqlite);
    return status;
}
