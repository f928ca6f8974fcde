/* up_flags.c — `spin up`'s application options for `kiln up` (see up_flags.h).
 *
 * What each means in Kiln:
 *   -c, --component-id ID  serve only the routes of these components (repeatable); the
 *                          others answer 404, as with Spin; components no kept trigger
 *                          needs (nor its dependencies or middleware) are marked unused:
 *                          not fetched, checked or loaded
 *   --profile NAME         run the components' [component.ID.profile.NAME] source and
 *                          environment (with --build: build that profile first)
 *   --disable-pooling      accepted: Kiln gives every request a fresh instance already
 *                          (its pool holds ready-made memory images, never reused state)
 *   --follow ID, --follow-all
 *                          only these components' output reaches kiln's stderr
 *                          (repeatable; with --log-dir their files keep everything and a
 *                          copy goes to the terminal; exec/guest_log.h); an unknown ID is
 *                          refused, as by Spin
 *   -L, --log-dir DIR      guest output to DIR/COMPONENT_stdout.txt and _stderr.txt
 *                          (exec/guest_log.h) instead of kiln's stderr; "": no files
 *   --truncate-logs        empties the --log-dir files of the app's components at start
 *   --direct-mounts        accepted: Kiln mounts `files` directories directly already
 *   --max-instance-reuse-count N, --max-instance-concurrent-reuse-count M
 *                          wasi:http 0.3 components: requests per instance (default 1,
 *                          a fresh instance each; Spin's is 128) and at once on one
 *                          (default 16: exec/http/reuse_p3.h); no effect on 0.2 ones,
 *                          as in Spin (no environment variables, as in Spin)
 *   --idle-instance-timeout D
 *                          a reused instance idle longer than D (default 1 s, Spin's) is
 *                          freed when the next request comes
 *   Spin options about Wasmtime or its HTTP server that have no meaning in Kiln are
 *   accepted and noted once on stderr (accepted_flags below), so that a `spin up`
 *   command line runs unchanged.
 * Environment (when the option is not given): SPIN_HTTP_LISTEN_ADDR (--listen),
 * SPIN_TLS_CERT / SPIN_TLS_KEY, RUNTIME_CONFIG_FILE, SPIN_ALWAYS_BUILD (--build),
 * SPIN_LOG_DIR (--log-dir), SPIN_MAX_INSTANCE_MEMORY (--max-instance-memory, bytes). */
#include "cli/up_flags.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/units.h"

#include <errno.h>
#include <limits.h>
#include <unistd.h>

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* `spin up` options Kiln accepts without effect: the option, whether it takes a value,
 * and why it has none here. */
static const struct {
    const char *name;
    int takes_value;
    const char *why;
} accepted_flags[] = {
    {"--disable-cache", 0, "Kiln's compiled-module cache is --cache-dir"},
    {"--cache", 1, "a Wasmtime cache file; Kiln's compiled-module cache is --cache-dir"},
    {"--debug-info", 0, "Kiln compiles guests to C; debug them with `kiln run`"},
    {"--http1-max-buf-size", 1, "Kiln's HTTP/1 buffers grow as needed"},
    {"--temp", 1, "Kiln unpacks registry apps in its own cache"},
    {"--tmp", 1, "Kiln unpacks registry apps in its own cache"},
    {"--experimental-wasi-otel", 0, "Kiln exports its own traces (--otel)"},
    {"--format", 1, "Kiln's access log has one format"},
    {"--allow-transient-write", 0, "`files` stay read-only in Kiln"},
};

/* Handles an option of accepted_flags (also as --name=value): 1 or 2 arguments used, 0
 * when a is not one of them, -1 when its value is missing. */
static int accepted_flag(const char *a, const char *val)
{
    for (size_t i = 0; i < sizeof accepted_flags / sizeof *accepted_flags; i++) {
        size_t n = strlen(accepted_flags[i].name);
        if (strncmp(a, accepted_flags[i].name, n) != 0 || (a[n] != '\0' && a[n] != '=')) continue;
        int inline_value = a[n] == '=';
        if (accepted_flags[i].takes_value && !inline_value && !val) return -1;
        fprintf(stderr, "note: %.*s is accepted and has no effect: %s\n", (int)n, a,
                accepted_flags[i].why);
        return accepted_flags[i].takes_value && !inline_value ? 2 : 1;
    }
    return 0;
}

/* --NAME N or --NAME=N with N a positive count into *out: 1 or 2 arguments used, 0 when a
 * is not --NAME, -1 after printing a usage error. */
static int count_flag(const char *name, const char *a, const char *val, size_t *out)
{
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0 || (a[n] != '\0' && a[n] != '=')) return 0;
    const char *v = a[n] == '=' ? a + n + 1 : val;
    char *end = NULL;
    errno = 0;
    unsigned long long x = v && *v >= '0' && *v <= '9' ? strtoull(v, &end, 10) : 0;
    if (!v || !end || *end || errno || x == 0 || x > 1000000000ull) {
        fprintf(stderr, "error: %s needs a count from 1 (Spin's ranges A..B are not taken)\n",
                name);
        return -1;
    }
    *out = (size_t)x;
    return a[n] == '=' ? 1 : 2;
}

/* --idle-instance-timeout D (or =D): Spin's durations, a count with no suffix or `s`
 * (seconds), `ms`, `us`, `μs` or `ns`, into *ns. 1 or 2 arguments used, 0 when a is not
 * the option, -1 after printing a usage error. */
static int duration_flag(const char *a, const char *val, unsigned long long *ns)
{
    static const char name[] = "--idle-instance-timeout";
    size_t n = sizeof name - 1;
    if (strncmp(a, name, n) != 0 || (a[n] != '\0' && a[n] != '=')) return 0;
    const char *v = a[n] == '=' ? a + n + 1 : val;
    static const struct {
        const char *suffix;
        unsigned long long ns;
    } units[] = {{"", 1000000000ull}, {"s", 1000000000ull}, {"ms", 1000000ull},
                 {"us", 1000ull},     {"\u03bcs", 1000ull}, {"ns", 1ull}};
    char *end = NULL;
    errno = 0;
    unsigned long long x = v && *v >= '0' && *v <= '9' ? strtoull(v, &end, 10) : 0;
    for (size_t i = 0; end && !errno && i < sizeof units / sizeof *units; i++)
        if (strcmp(end, units[i].suffix) == 0 && x <= ULLONG_MAX / units[i].ns) {
            *ns = x * units[i].ns;
            return a[n] == '=' ? 1 : 2;
        }
    fprintf(stderr,
            "error: %s needs a duration (N, Ns, Nms, Nus or Nns; Spin's ranges A..B are "
            "not taken)\n",
            name);
    return -1;
}

int kiln_up_flag(kiln_up_flags *f, const char *a, const char *val)
{
    int c = count_flag("--max-instance-reuse-count", a, val, &f->reuse_count);
    if (c == 0)
        c = count_flag("--max-instance-concurrent-reuse-count", a, val, &f->concurrent_reuse_count);
    if (c == 0 && (c = duration_flag(a, val, &f->idle_timeout_ns)) > 0) f->idle_timeout_set = 1;
    if (c != 0) return c;
    int used = accepted_flag(a, val);
    if (used != 0) {
        if (used < 0) fprintf(stderr, "error: %s needs a value\n", a);
        return used;
    }
    if (strcmp(a, "--truncate-logs") == 0) {
        f->truncate_logs = 1;
        return 1;
    }
    if ((strcmp(a, "-c") == 0 || strcmp(a, "--component-id") == 0) && val) {
        const char **n = kiln_realloc(f->components, (f->ncomponents + 1) * sizeof *n);
        if (!n) {
            fprintf(stderr, "error: out of memory\n");
            return -1;
        }
        f->components = n;
        n[f->ncomponents++] = val;
        return 2;
    }
    if (strcmp(a, "--profile") == 0 && val) {
        f->profile = val;
        return 2;
    }
    if (strcmp(a, "--disable-pooling") == 0) {
        f->disable_pooling = 1;
        return 1;
    }
    if (strcmp(a, "--direct-mounts") == 0) return 1;
    if (strcmp(a, "--follow-all") == 0) {
        f->follow_all = 1;
        return 1;
    }
    if (strcmp(a, "--follow") == 0 && val) {
        const char **n = kiln_realloc(f->follow, (f->nfollow + 1) * sizeof *n);
        if (!n) {
            fprintf(stderr, "error: out of memory\n");
            return -1;
        }
        f->follow = n;
        n[f->nfollow++] = val;
        return 2;
    }
    if ((strcmp(a, "-L") == 0 || strcmp(a, "--log-dir") == 0) && val) {
        f->log_dir = val;
        return 2;
    }
    if (strncmp(a, "--log-dir=", 10) == 0) {
        f->log_dir = a + 10;
        return 1;
    }
    return 0;
}

/* The value of environment variable `name` when set and not empty, else NULL. */
static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

int kiln_up_flags_env_defaults(unsigned long long *max_instance_memory)
{
    const char *mem = env("SPIN_MAX_INSTANCE_MEMORY");
    if (mem && (kiln_parse_size(mem, max_instance_memory) < 0 || *max_instance_memory == 0)) {
        fprintf(stderr, "error: SPIN_MAX_INSTANCE_MEMORY=%s: expected a size in bytes\n", mem);
        return -1;
    }
    return 0;
}

void kiln_up_flags_env(kiln_up_flags *f, const char **listen, const char **tls_cert,
                       const char **tls_key, const char **runtime_config_file, int *build)
{
    if (!*listen) *listen = env("SPIN_HTTP_LISTEN_ADDR");
    if (!*tls_cert) *tls_cert = env("SPIN_TLS_CERT");
    if (!*tls_key) *tls_key = env("SPIN_TLS_KEY");
    if (!*runtime_config_file) *runtime_config_file = env("RUNTIME_CONFIG_FILE");
    if (!f->log_dir) f->log_dir = env("SPIN_LOG_DIR");
    const char *b = env("SPIN_ALWAYS_BUILD");
    /* clap's boolish values */
    if (!*build && b &&
        (strcmp(b, "1") == 0 || strcasecmp(b, "true") == 0 || strcasecmp(b, "yes") == 0 ||
         strcasecmp(b, "on") == 0 || strcasecmp(b, "y") == 0 || strcasecmp(b, "t") == 0))
        *build = 1;
}

/* --truncate-logs: empties DIR/ID_stdout.txt and DIR/ID_stderr.txt of every component
 * (the files exec/guest_log.c appends to). 0, or -1 after printing why. */
static int truncate_logs(const char *dir, const kiln_manifest *m)
{
    for (size_t i = 0; i < m->components_len; i++) {
        for (int k = 0; k < 2; k++) {
            kiln_buf p = KILN_BUF_INIT;
            if (kiln_buf_printf(&p, "%s/%s_%s.txt", dir, m->components[i].id,
                                k ? "stderr" : "stdout") < 0) {
                fprintf(stderr, "error: out of memory\n");
                return -1;
            }
            if (truncate(p.data, 0) < 0 && errno != ENOENT) {
                fprintf(stderr, "error: --truncate-logs: %s: %s\n", p.data, strerror(errno));
                kiln_buf_free(&p);
                return -1;
            }
            kiln_buf_free(&p);
        }
    }
    return 0;
}

/* The index of component id in m, -1 when none. */
static long component_index(const kiln_manifest *m, const char *id)
{
    const kiln_component *c = id ? kiln_manifest_component(m, id) : NULL;
    return c ? (long)(c - m->components) : -1;
}

/* Marks component ci needed, and the components its `{ component = "id" }`
 * dependencies name (kiln_component.unused cleared). */
static void need(kiln_manifest *m, long ci)
{
    if (ci < 0 || (size_t)ci >= m->components_len || !m->components[ci].unused) return;
    kiln_component *c = &m->components[ci];
    c->unused = 0;
    for (size_t k = 0; k < c->dependencies_len; k++)
        if (strcmp(c->dependencies[k].kind, "component") == 0)
            need(m, component_index(m, c->dependencies[k].value));
}

/* -c: marks the components that no kept trigger needs unused (not fetched, checked or
 * loaded: an unselected component cannot stop the selected ones from starting). */
static void mark_unused(kiln_manifest *m)
{
    for (size_t i = 0; i < m->components_len; i++)
        m->components[i].unused = 1;
    for (size_t i = 0; i < m->triggers_len; i++) {
        const kiln_trigger *t = &m->triggers[i];
        need(m, t->component);
        for (size_t k = 0; k < t->mw_len; k++)
            if (strcmp(t->mw[k].kind, "component") == 0)
                need(m, component_index(m, t->mw[k].value));
    }
    for (size_t i = 0; i < m->other_triggers_len; i++)
        need(m, m->other_triggers[i].component);
}

int kiln_up_flags_apply(const kiln_up_flags *f, kiln_manifest *m)
{
    if (f->truncate_logs && f->log_dir && *f->log_dir && truncate_logs(f->log_dir, m) < 0)
        return -1;
    const char *err = NULL;
    if (kiln_manifest_apply_profile(m, f->profile, &err) < 0) {
        fprintf(stderr, "error: --profile %s: %s\n", f->profile, err);
        return -1;
    }
    const char *bad = NULL;
    if (kiln_manifest_select_components(m, f->components, f->ncomponents, &bad) < 0) {
        fprintf(stderr, "error: -c %s: the application has no component '%s'\n", bad, bad);
        return -1;
    }
    if (f->ncomponents) mark_unused(m);
    size_t unknown = 0;
    for (size_t i = 0; i < f->nfollow; i++)
        if (!kiln_manifest_component(m, f->follow[i])) {
            fprintf(stderr, "error: --follow %s: the application has no component '%s'\n",
                    f->follow[i], f->follow[i]);
            unknown++;
        }
    if (unknown) {
        fprintf(stderr, "its components:");
        for (size_t i = 0; i < m->components_len; i++)
            fprintf(stderr, " %s", m->components[i].id);
        fprintf(stderr, "\n");
        return -1;
    }
    kiln_strlist why = {0};
    long n = kiln_manifest_unserved(m, &why);
    for (size_t i = 0; i < why.len; i++)
        fprintf(stderr, "error: %s\n", why.items[i]);
    if (n < 0) fprintf(stderr, "error: out of memory\n");
    kiln_strlist_free(&why);
    return n == 0 ? 0 : -1;
}

int kiln_up_flags_follows(const kiln_up_flags *f, const char *id)
{
    if (f->follow_all) return 1;
    if (!f->nfollow) return -1;
    for (size_t i = 0; i < f->nfollow; i++)
        if (strcmp(f->follow[i], id) == 0) return 1;
    return 0;
}

void kiln_up_flags_free(kiln_up_flags *f)
{
    kiln_free(f->follow);
    f->follow = NULL;
    f->nfollow = 0;
    kiln_free(f->components);
    f->components = NULL;
    f->ncomponents = 0;
}

void kiln_up_flags_usage(FILE *out)
{
    fprintf(out, "\nSpin options:\n"
                 "  -c, --component-id ID      serve only this component's routes (repeatable);\n"
                 "                             the others answer 404\n"
                 "      --profile NAME         use the components' build profile NAME (source,\n"
                 "                             environment; with --build, its build command)\n"
                 "      --disable-pooling      accepted: every request already gets a fresh\n"
                 "                             instance\n"
                 "      --follow ID            only this component's output on the terminal\n"
                 "                             (repeatable; --log-dir files keep all output)\n"
                 "      --follow-all           every component's output on the terminal, also\n"
                 "                             with --log-dir\n"
                 "  -L, --log-dir DIR          guest output to DIR/COMPONENT_stdout.txt and\n"
                 "                             DIR/COMPONENT_stderr.txt instead of kiln's stderr\n"
                 "                             (\"\": no files)\n"
                 "      --truncate-logs        empty the --log-dir files at start\n"
                 "      --direct-mounts        accepted: `files` directories are mounted directly\n"
                 "      --max-instance-reuse-count N  requests one instance serves, for\n"
                 "                             wasi:http 0.3 components (default 1: a fresh\n"
                 "                             instance per request; Spin's default is 128);\n"
                 "                             a trap or timeout retires the instance\n"
                 "      --max-instance-concurrent-reuse-count M  requests at once on one\n"
                 "                             instance (0.3 components; default 16; a trap\n"
                 "                             fails every request in flight on it)\n"
                 "      --idle-instance-timeout D  a reused instance idle longer is dropped\n"
                 "                             (default 1s; N, Ns, Nms, Nus, Nns)\n"
                 "      --disable-cache, --cache FILE, --debug-info, --http1-max-buf-size N,\n"
                 "      --temp DIR, --allow-transient-write, --experimental-wasi-otel,\n"
                 "      --format F\n"
                 "                             spin up's options without meaning in Kiln:\n"
                 "                             accepted, each noted once\n"
                 "\nEnvironment (as the options): SPIN_HTTP_LISTEN_ADDR, SPIN_TLS_CERT,\n"
                 "  SPIN_TLS_KEY, RUNTIME_CONFIG_FILE, SPIN_ALWAYS_BUILD, SPIN_LOG_DIR,\n"
                 "  SPIN_MAX_INSTANCE_MEMORY\n");
}
