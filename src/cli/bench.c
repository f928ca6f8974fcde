/* bench.c — `kiln bench [APP]`: the mission's comparison table for this app, measured on
 * this machine in one run.
 *
 *   kiln bench [APP] [--route PATH]... [--duration S] [--connections N] [--live N]
 *              [--runs N] [--container-live N] [--no-container] [--tier opt|fast]
 *              [--price-gb-s USD] [--price-requests USD] [--format table|markdown|json]
 *              [--state-dir DIR]
 *
 * Kiln: the app served by a real `kiln up --tier opt --admin` (a child process of this
 * one; with --tier fast, `--tier fast --no-tier-up`, for runtimes whose optimized tier
 * takes minutes to compile), driven over HTTP/1.1 keep-alive by the in-process load generator
 * (bench_load.h) on the app's routes or the --route ones; requests/s from the generator, instance
 * start p50/p99 and the request duration from Kiln's own measurement (the admin
 * listener's /stats.json); memory per live instance and time to N live instances from N
 * instances of the first route's component made at once in this process, the way
 * kiln up makes one per request (bench_live.h).
 *
 * Baselines (bench_native.h), same machine, same run: a native static program that
 * writes the first route's response, started per request (fork+exec, the process
 * model of CGI), and the same program as a runc container started per request, when
 * runc works here (else the row says why).
 *
 * Cost per million invocations: requests price + memory (GiB) x duration (s) x GB-second
 * price, with the measured memory per instance and duration, no minimum or rounding;
 * defaults are AWS Lambda's published x86 prices, overridable. The JSON of the run goes
 * to bench.json in the state directory, where the dashboard of `kiln up --admin` finds
 * it (cli/up_metrics.h kiln_up_bench_path). */
#include "cli/bench_live.h"
#include "cli/bench_load.h"
#include "cli/bench_native.h"
#include "cli/cli.h"
#include "cli/up_metrics.h"
#include "manifest/manifest.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/file.h"
#include "util/json.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* AWS Lambda, x86, on-demand (us-east-1), as published: per GB-second and per million
 * requests. */
#define DEFAULT_GB_S 0.0000166667
#define DEFAULT_REQUESTS 0.20

typedef struct bench_opts {
    const char *app, *state_dir, *format;
    const char *tier; /* "opt" or "fast" */
    const char **routes;
    size_t nroutes;
    double duration, gb_s, per_million;
    unsigned connections;
    size_t live, runs, container_live;
    int no_container;
} bench_opts;

/* One row of the table; negative numbers: not measured. */
typedef struct bench_row {
    const char *name;
    double cold_p50, cold_p99; /* seconds */
    double kib;                /* memory per instance */
    double to_live;            /* seconds to `live` alive */
    size_t live;               /* how many were measured alive */
    double rps, duration;      /* requests/s; seconds billed per invocation */
    char note[512];
} bench_row;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: kiln bench [APP] [options]\n"
            "Measures APP (a directory or manifest; default .) on this machine against a\n"
            "native process and a runc container per request, and prints the comparison.\n"
            "  --route PATH         drive this path (repeatable; default: every route)\n"
            "  --duration S         seconds of load for Kiln (default 5)\n"
            "  --connections N      load generator connections/threads (default 8)\n"
            "  --live N             instances held at once for memory and time (default 1000)\n"
            "  --runs N             sequential invocations of the process baseline (default 500)\n"
            "  --container-live N   containers held at once (default 100; time scaled to 1,000)\n"
            "  --no-container       skip the runc baseline\n"
            "  --tier T             opt (default) or fast: the tier Kiln is measured on\n"
            "  --price-gb-s USD     price per GB-second (default %.10g, AWS Lambda x86)\n"
            "  --price-requests USD price per million requests (default %.2f, AWS Lambda)\n"
            "  --format F           table (default), markdown or json\n"
            "  --state-dir DIR      where bench.json goes (default: .kiln beside the manifest)\n",
            DEFAULT_GB_S, DEFAULT_REQUESTS);
}

/* Parses argv into o. 0, 1 (help printed) or -1 (said why). */
static int parse_args(int argc, char **argv, bench_opts *o)
{
    *o = (bench_opts){.app = ".",
                      .format = "table",
                      .tier = "opt",
                      .duration = 5,
                      .gb_s = DEFAULT_GB_S,
                      .per_million = DEFAULT_REQUESTS,
                      .connections = 8,
                      .live = 1000,
                      .runs = 500,
                      .container_live = 100};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
#define NUM(flag) (strcmp(a, flag) == 0 && v && (i++, 1))
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 1;
        } else if (NUM("--route")) {
            const char **r = kiln_realloc(o->routes, (o->nroutes + 1) * sizeof *r);
            if (!r) return -1;
            o->routes = r;
            r[o->nroutes++] = v;
        } else if (NUM("--duration")) {
            o->duration = strtod(v, &end);
        } else if (NUM("--connections")) {
            o->connections = (unsigned)strtoul(v, &end, 10);
        } else if (NUM("--live")) {
            o->live = strtoul(v, &end, 10);
        } else if (NUM("--runs")) {
            o->runs = strtoul(v, &end, 10);
        } else if (NUM("--container-live")) {
            o->container_live = strtoul(v, &end, 10);
        } else if (NUM("--price-gb-s")) {
            o->gb_s = strtod(v, &end);
        } else if (NUM("--price-requests")) {
            o->per_million = strtod(v, &end);
        } else if (NUM("--format")) {
            o->format = v;
        } else if (NUM("--state-dir")) {
            o->state_dir = v;
        } else if (NUM("--tier")) {
            o->tier = v;
        } else if (strcmp(a, "--no-container") == 0) {
            o->no_container = 1;
        } else if (a[0] != '-') {
            o->app = a;
        } else {
            fprintf(stderr, "kiln bench: unknown option %s\n\n", a);
            usage(stderr);
            return -1;
        }
#undef NUM
        if (end && *end) {
            fprintf(stderr, "kiln bench: %s: not a number: %s\n", a, v);
            return -1;
        }
    }
    if (strcmp(o->format, "table") && strcmp(o->format, "markdown") && strcmp(o->format, "json")) {
        fprintf(stderr, "kiln bench: --format: table, markdown or json\n");
        return -1;
    }
    if (strcmp(o->tier, "opt") && strcmp(o->tier, "fast")) {
        fprintf(stderr, "kiln bench: --tier: opt or fast\n");
        return -1;
    }
    if (o->duration <= 0 || o->duration > 3600 || !o->connections || o->connections > 1024 ||
        !o->live || o->live > 100000 || !o->runs || o->runs > 100000 || !o->container_live ||
        o->container_live > 10000 || o->gb_s < 0 || o->per_million < 0) {
        fprintf(stderr, "kiln bench: a value is out of range (see --help)\n");
        return -1;
    }
    return 0;
}

/* A request path for a route: parameters filled ("/hello/:name" -> "/hello/bench"), a
 * trailing wildcard dropped ("/api/..." -> "/api/"). Allocated, or NULL. */
static char *route_path(const char *route)
{
    kiln_buf b = KILN_BUF_INIT;
    int rc = 0;
    for (const char *p = route; *p && rc == 0;) {
        if (strcmp(p, "...") == 0) break;
        if (*p == ':' && (p == route || p[-1] == '/')) {
            rc = kiln_buf_puts(&b, "bench");
            while (*p && *p != '/')
                p++;
        } else {
            rc = kiln_buf_putc(&b, *p++);
        }
    }
    if (rc == 0 && b.len == 0) rc = kiln_buf_putc(&b, '/');
    if (rc < 0) {
        kiln_buf_free(&b);
        return NULL;
    }
    return kiln_buf_steal(&b);
}

/* A TCP port on 127.0.0.1 that was free a moment ago (0 on failure). */
static uint16_t free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    uint16_t port = 0;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    if (fd >= 0) close(fd);
    return port;
}

/* Starts `kiln up` on the app (this very binary) on `tier` ("opt", or "fast" without
 * the optimized tier compiled behind it) with its output to log. The pid, or -1. */
static pid_t start_up(const char *manifest, const char *tier, uint16_t port, uint16_t aport,
                      const char *log)
{
    char listen[32], admin[32];
    snprintf(listen, sizeof listen, "127.0.0.1:%u", port);
    snprintf(admin, sizeof admin, "127.0.0.1:%u", aport);
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        /* it ends with the bench, even when the bench is interrupted */
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0) _exit(127);
        execl("/proc/self/exe", "kiln", "up", "-f", manifest, "--listen", listen, "--admin", admin,
              "--quiet", "--tier", tier, strcmp(tier, "fast") ? (char *)NULL : "--no-tier-up",
              (char *)NULL);
        _exit(127);
    }
    close(fd);
    return pid;
}

/* Stops the child kiln up: SIGTERM, then SIGKILL after 10 s. */
static void stop_up(pid_t pid)
{
    if (pid <= 0) return;
    kill(pid, SIGTERM);
    for (int i = 0; i < 100; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid) return;
        usleep(100000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

/* A number member of a JSON object (def when absent). */
static double num(const kiln_json *o, const char *key, double def)
{
    const kiln_json *v = kiln_json_get(o, key);
    return v && v->type == KILN_JSON_NUMBER ? v->number : def;
}

/* Fills Kiln's row from /stats.json: the component's instance starts and the duration
 * of its first route's requests. 0 or -1. */
static int read_stats(uint16_t aport, const char *component, const char *route, bench_row *row)
{
    kiln_buf b = KILN_BUF_INIT;
    int rc = -1;
    kiln_json *j = NULL;
    /* Generous: under a sanitizer on a loaded machine kiln up can take seconds to answer
     * right after the load run. */
    if (kiln_bench_get(aport, "/stats.json", &b, 30000) == 200 &&
        (j = kiln_json_parse(b.data, b.len, NULL, 0)) != NULL) {
        const kiln_json *comps = kiln_json_get(j, "components"),
                        *routes = kiln_json_get(j, "routes");
        for (size_t i = 0; comps && i < comps->count; i++) {
            const kiln_json *c = kiln_json_at(comps, i);
            const char *name = kiln_json_get_str(c, "name");
            if (!name || strcmp(name, component) != 0) continue;
            row->cold_p50 = num(c, "start_p50", -1);
            row->cold_p99 = num(c, "start_p99", -1);
            rc = 0;
        }
        for (size_t i = 0; routes && i < routes->count; i++) {
            const kiln_json *r = kiln_json_at(routes, i);
            const char *name = kiln_json_get_str(r, "route");
            if (name && strcmp(name, route) == 0) row->duration = num(r, "p50", -1);
        }
    }
    kiln_json_free(j);
    kiln_buf_free(&b);
    return rc;
}

/* "N cores, CPU, G GiB, kernel K". */
static void machine(char *out, size_t cap)
{
    char model[256] = "unknown CPU", line[512];
    long mem_kib = 0;
    FILE *f = fopen("/proc/cpuinfo", "re");
    while (f && fgets(line, sizeof line, f)) {
        char *c = strchr(line, ':');
        if (strncmp(line, "model name", 10) == 0 && c) {
            snprintf(model, sizeof model, "%s", c + 2);
            model[strcspn(model, "\n")] = 0;
            break;
        }
    }
    if (f) fclose(f);
    f = fopen("/proc/meminfo", "re");
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "MemTotal: %ld", &mem_kib) == 1) break;
    if (f) fclose(f);
    struct utsname u;
    if (uname(&u) < 0) snprintf(u.release, sizeof u.release, "?");
    snprintf(out, cap, "%ld cores, %s, %.0f GiB, Linux %s", sysconf(_SC_NPROCESSORS_ONLN), model,
             (double)mem_kib / 1048576.0, u.release);
}

/* Cost per million invocations of a row (negative when its numbers are missing). */
static double cost(const bench_opts *o, const bench_row *r)
{
    if (r->kib < 0 || r->duration < 0) return -1;
    return o->per_million + 1e6 * (r->kib / 1048576.0) * r->duration * o->gb_s;
}

/* Seconds to 1,000 live (scaled from r->live when fewer were measured). */
static double to_1000(const bench_row *r)
{
    return r->to_live < 0 || !r->live ? -1 : r->to_live * 1000.0 / (double)r->live;
}

/* A duration for people: "12.3 us", "4.56 ms", "1.23 s"; "n/a" when negative. */
static const char *fmt_time(double s, char *buf, size_t cap)
{
    if (s < 0)
        snprintf(buf, cap, "n/a");
    else if (s < 1e-3)
        snprintf(buf, cap, "%.1f us", s * 1e6);
    else if (s < 1)
        snprintf(buf, cap, "%.2f ms", s * 1e3);
    else
        snprintf(buf, cap, "%.2f s", s);
    return buf;
}

static const char *fmt_num(double v, const char *fmt, char *buf, size_t cap)
{
    if (v < 0)
        snprintf(buf, cap, "n/a");
    else
        snprintf(buf, cap, fmt, v);
    return buf;
}

/* The compute part of the cost per million (memory-seconds only), or negative. */
static double compute_cost(const bench_opts *o, const bench_row *r)
{
    double c = cost(o, r);
    return c < 0 ? -1 : c - o->per_million;
}

/* The table (markdown: with pipes) and the notes under it. */
static void print_table(const bench_opts *o, const bench_row *rows, size_t n, const char *title,
                        const char *mach, const char *date, int md)
{
    enum { NCOL = 8 };
    static const char *const heads[NCOL] = {
        "",           "cold start p50", "cold start p99",    "memory/instance",
        "1,000 live", "requests/s",     "$/1M compute part", "$/1M invocations"};
    static const int width[NCOL] = {27, 14, 14, 15, 10, 10, 17, 16};
    if (md)
        printf("**%s** — %s, %s\n\n", title, mach, date);
    else
        printf("%s\n%s, %s\n\n", title, mach, date);
    char cell[NCOL][48];
    for (size_t i = 0; i <= n; i++) {
        const bench_row *r = i ? &rows[i - 1] : NULL;
        for (int c = 0; c < NCOL; c++)
            snprintf(cell[c], sizeof cell[c], "%s", heads[c]);
        if (r) {
            snprintf(cell[0], sizeof cell[0], "%s", r->name);
            fmt_time(r->cold_p50, cell[1], sizeof cell[1]);
            fmt_time(r->cold_p99, cell[2], sizeof cell[2]);
            fmt_num(r->kib, "%.0f KiB", cell[3], sizeof cell[3]);
            fmt_time(to_1000(r), cell[4], sizeof cell[4]);
            fmt_num(r->rps, "%.0f", cell[5], sizeof cell[5]);
            fmt_num(compute_cost(o, r), "$%.3g", cell[6], sizeof cell[6]);
            fmt_num(cost(o, r), "$%.6f", cell[7], sizeof cell[7]);
        }
        for (int c = 0; c < NCOL; c++) {
            if (md)
                printf("| %s ", cell[c]);
            else
                printf(c ? "  %*s" : "%-*s", width[c], cell[c]);
        }
        printf(md ? "|\n" : "\n");
        if (md && i == 0) printf("|---|---:|---:|---:|---:|---:|---:|---:|\n");
    }
    printf("\n");
    for (size_t i = 0; i < n; i++)
        if (rows[i].note[0]) printf("%s%s: %s\n", md ? "- " : "", rows[i].name, rows[i].note);
    printf("%sPrices: $%.10g per GB-second, $%.2f per million requests (AWS Lambda x86 list "
           "prices by default; --price-gb-s, --price-requests); memory and duration as measured, "
           "no minimum or rounding.\n",
           md ? "- " : "", o->gb_s, o->per_million);
}

/* A JSON number, or null when negative (not measured). */
static int jnum(kiln_buf *b, const char *key, double v, int last)
{
    return v < 0 ? kiln_buf_printf(b, "\"%s\":null%s", key, last ? "" : ",")
                 : kiln_buf_printf(b, "\"%s\":%.9g%s", key, v, last ? "" : ",");
}

static int to_json(const bench_opts *o, const bench_row *rows, size_t n, const char *app,
                   char **paths, size_t npaths, const char *mach, const char *date, kiln_buf *b)
{
    int rc = kiln_buf_puts(b, "{\"app\":") | kiln_json_write_str(b, app);
    rc |= kiln_buf_puts(b, ",\"machine\":") | kiln_json_write_str(b, mach);
    rc |= kiln_buf_puts(b, ",\"date\":") | kiln_json_write_str(b, date);
    rc |= kiln_buf_puts(b, ",\"tier\":") | kiln_json_write_str(b, o->tier);
    rc |= kiln_buf_puts(b, ",\"routes\":[");
    for (size_t i = 0; i < npaths; i++)
        rc |= kiln_buf_puts(b, i ? "," : "") | kiln_json_write_str(b, paths[i]);
    rc |= kiln_buf_printf(b,
                          "],\"duration_s\":%g,\"connections\":%u,\"prices\":{\"gb_s\":%.10g,"
                          "\"per_million_requests\":%.6g,\"source\":\"AWS Lambda x86 list prices "
                          "unless overridden\"},\"rows\":[",
                          o->duration, o->connections, o->gb_s, o->per_million);
    for (size_t i = 0; i < n; i++) {
        const bench_row *r = &rows[i];
        rc |= kiln_buf_puts(b, i ? ",{\"name\":" : "{\"name\":") | kiln_json_write_str(b, r->name);
        rc |= kiln_buf_putc(b, ',') |
              jnum(b, "cold_p50_ms", r->cold_p50 < 0 ? -1 : r->cold_p50 * 1e3, 0);
        rc |= jnum(b, "cold_p99_ms", r->cold_p99 < 0 ? -1 : r->cold_p99 * 1e3, 0);
        rc |= jnum(b, "mem_per_instance_kib", r->kib, 0) | jnum(b, "time_to_1000_s", to_1000(r), 0);
        rc |= jnum(b, "live_measured", r->to_live < 0 ? -1 : (double)r->live, 0);
        rc |= jnum(b, "rps", r->rps, 0);
        rc |= jnum(b, "duration_ms", r->duration < 0 ? -1 : r->duration * 1e3, 0);
        rc |= jnum(b, "cost_per_million_usd", cost(o, r), 0);
        rc |=
            kiln_buf_puts(b, "\"note\":") | kiln_json_write_str(b, r->note) | kiln_buf_putc(b, '}');
    }
    return rc | kiln_buf_puts(b, "]}\n");
}

/* Writes the run's JSON where the dashboard reads it (a failure is only said). */
static void save_json(const char *dir_of_manifest, const char *state_dir, const kiln_buf *json)
{
    char *path = kiln_up_bench_path(dir_of_manifest, state_dir);
    if (!path) return;
    char *slash = strrchr(path, '/');
    if (slash) {
        *slash = 0;
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
            fprintf(stderr, "kiln bench: %s: %s\n", path, strerror(errno));
        *slash = '/';
    }
    if (kiln_write_file(path, json->data, json->len) < 0)
        fprintf(stderr, "kiln bench: cannot write %s\n", path);
    else
        fprintf(stderr, "kiln bench: the run's JSON is in %s (the admin dashboard shows it)\n",
                path);
    kiln_free(path);
}

/* The first 2,000 bytes of kiln up's log, to stderr. */
static void print_up_log(const char *log)
{
    kiln_buf l = KILN_BUF_INIT;
    kiln_read_file(log, &l);
    fprintf(stderr, "%.*s\n", (int)(l.len > 2000 ? 2000 : l.len), l.data ? l.data : "");
    kiln_buf_free(&l);
}

/* Kiln's row: the app under `kiln up`, driven over HTTP, then n live instances of the
 * component. The first route's response goes to body (for the baselines). 0 or -1. */
static int measure_kiln(const bench_opts *o, const char *manifest, const kiln_manifest *m,
                        long comp, const char *route, char **paths, size_t npaths, const char *tmp,
                        bench_row *row, kiln_buf *body)
{
    char log[4200];
    snprintf(log, sizeof log, "%s/up.log", tmp);
    uint16_t port = free_port(), aport = free_port();
    pid_t up = port && aport ? start_up(manifest, o->tier, port, aport, log) : -1;
    int ready = 0;
    fprintf(stderr, "kiln bench: starting kiln up on the %s tier (compiling it if needed)\n",
            o->tier);
    for (int i = 0; up > 0 && i < 3000 && !ready; i++) { /* up to 5 minutes of compiling */
        ready = kiln_bench_get(aport, "/readyz", NULL, 2000) == 200;
        if (!ready && waitpid(up, NULL, WNOHANG) == up) {
            up = -1;
            break;
        }
        if (!ready) usleep(100000);
    }
    if (!ready) {
        fprintf(stderr, "kiln bench: kiln up did not become ready:\n");
        print_up_log(log);
        stop_up(up);
        return -1;
    }
    for (size_t i = 0; i < npaths; i++) {
        kiln_buf b = KILN_BUF_INIT;
        int st = kiln_bench_get(port, paths[i], &b, 10000);
        if (st < 200 || st >= 400)
            fprintf(stderr, "kiln bench: warning: GET %s answered %d\n", paths[i], st);
        if (i == 0) kiln_buf_append(body, b.data ? b.data : "", b.len);
        kiln_buf_free(&b);
    }
    kiln_bench_load warm, load;
    fprintf(stderr, "kiln bench: %u connections, %.0f s on %zu route(s)\n", o->connections,
            o->duration, npaths);
    int rc =
        kiln_bench_load_run(port, (const char *const *)paths, npaths, o->connections, 1.0, &warm);
    if (rc == 0)
        rc = kiln_bench_load_run(port, (const char *const *)paths, npaths, o->connections,
                                 o->duration, &load);
    if (rc == 0) {
        row->rps = load.seconds > 0 ? (double)load.ok / load.seconds : -1;
        if (load.failed)
            snprintf(row->note, sizeof row->note, "%llu of %llu requests failed; ",
                     (unsigned long long)load.failed, (unsigned long long)(load.ok + load.failed));
        if (read_stats(aport, m->components[comp].id, route, row) < 0) rc = -1;
    }
    stop_up(up);
    if (rc < 0) {
        fprintf(stderr, "kiln bench: the load run or /stats.json failed; kiln up said:\n");
        print_up_log(log);
        return -1;
    }
    char err[512];
    kiln_bench_live lv;
    fprintf(stderr, "kiln bench: %zu live instances of %s\n", o->live, m->components[comp].id);
    kiln_tier tier = strcmp(o->tier, "fast") ? KILN_TIER_OPT : KILN_TIER_FAST;
    if (kiln_bench_live_run(m->components[comp].id, m->components[comp].source, tier, o->live, 128,
                            &lv, err, sizeof err) == 0) {
        row->kib = lv.kib_per_inst;
        row->to_live = lv.seconds;
        row->live = lv.alive;
    } else {
        size_t len = strlen(row->note);
        snprintf(row->note + len, sizeof row->note - len, "live instances: %s; ", err);
    }
    size_t len = strlen(row->note);
    snprintf(row->note + len, sizeof row->note - len,
             "instance start and duration from kiln up's own measurement (/stats.json), "
             "memory = host RSS + page tables per live instance");
    return 0;
}

/* A row with nothing measured yet. */
static bench_row empty_row(const char *name)
{
    return (bench_row){.name = name,
                       .cold_p50 = -1,
                       .cold_p99 = -1,
                       .kib = -1,
                       .to_live = -1,
                       .rps = -1,
                       .duration = -1};
}

/* A baseline row from its measure (or its reason). */
static void base_row(bench_row *r, const char *name, int rc, const kiln_bench_base *b,
                     const char *err, const char *what)
{
    *r = empty_row(name);
    if (rc < 0 && !b->start_p50_s) {
        snprintf(r->note, sizeof r->note, "not measured: %s", err);
        return;
    }
    r->cold_p50 = b->start_p50_s;
    r->cold_p99 = b->start_p99_s;
    r->duration = b->start_p50_s;
    r->rps = b->rps;
    if (b->live && b->kib_per_inst >= 0) {
        r->kib = b->kib_per_inst;
        r->to_live = b->live_seconds;
        r->live = b->live;
    }
    snprintf(r->note, sizeof r->note, "%s%s%s", what, rc < 0 ? "; " : "", rc < 0 ? err : "");
}

int kiln_cmd_bench(int argc, char **argv)
{
    bench_opts o;
    int prc = parse_args(argc, argv, &o);
    if (prc != 0) {
        kiln_free(o.routes);
        return prc > 0 ? 0 : 2;
    }
    char *manifest = NULL, *err = NULL, tmp[] = "/tmp/kiln-bench.XXXXXX";
    kiln_diags diags = KILN_DIAGS_INIT;
    kiln_manifest *m = NULL;
    char **paths = NULL;
    size_t npaths = 0;
    int status = 1;
    long comp = -1;
    const char *route = NULL;
    kiln_buf body = KILN_BUF_INIT, json = KILN_BUF_INIT;
    if (kiln_manifest_find(o.app, &manifest, &err) < 0) {
        fprintf(stderr, "kiln bench: %s\n", err ? err : "no manifest found");
        goto out;
    }
    if (!(m = kiln_manifest_load(manifest, &diags))) {
        for (size_t i = 0; i < diags.len; i++)
            fprintf(stderr, "%s\n", diags.items[i].message);
        goto out;
    }
    /* the routes driven: the --route ones, else every route with a component */
    size_t want = o.nroutes ? o.nroutes : m->triggers_len;
    paths = kiln_calloc(want + 1, sizeof *paths);
    if (!paths) goto out;
    for (size_t i = 0; i < m->triggers_len; i++) {
        const kiln_trigger *t = &m->triggers[i];
        if (!t->route || t->component < 0) continue;
        if (comp < 0) {
            comp = t->component;
            route = t->route;
        }
        if (!o.nroutes && !(paths[npaths++] = route_path(t->route))) goto out;
    }
    for (size_t i = 0; i < o.nroutes; i++)
        if (!(paths[npaths++] = kiln_strdup(o.routes[i]))) goto out;
    if (comp < 0 || !npaths || !m->components[comp].source) {
        fprintf(stderr, "kiln bench: %s has no HTTP route served by a local component\n", manifest);
        goto out;
    }
    if (!mkdtemp(tmp)) {
        fprintf(stderr, "kiln bench: cannot make a temporary directory: %s\n", strerror(errno));
        goto out;
    }
    bench_row rows[3];
    rows[0] = empty_row("Kiln");
    if (measure_kiln(&o, manifest, m, comp, route, paths, npaths, tmp, &rows[0], &body) < 0)
        goto out;
    char berr[512] = "";
    kiln_bench_base nb = {0}, cb = {0};
    fprintf(stderr, "kiln bench: the native process baseline\n");
    int nrc = kiln_bench_native_build(tmp, body.data ? body.data : "", body.len, berr, sizeof berr);
    if (nrc == 0)
        nrc = kiln_bench_native_run(tmp, o.runs, o.connections, o.duration / 2, o.live, &nb, berr,
                                    sizeof berr);
    base_row(&rows[1], "native process per request", nrc, &nb, berr,
             "fork+exec+wait of a static C program writing the same response (no HTTP); "
             "memory = PSS + page tables per live process (kernel task structures not counted)");
    int crc = -1;
    char cerr[512] = "--no-container";
    if (!o.no_container && nrc == 0) {
        fprintf(stderr, "kiln bench: the runc container baseline\n");
        crc = kiln_bench_runc_run(tmp, o.runs / 10 ? o.runs / 10 : 1, o.connections, o.duration / 2,
                                  o.container_live, &cb, cerr, sizeof cerr);
    } else if (nrc != 0) {
        snprintf(cerr, sizeof cerr, "no native program to put in it");
    }
    char what[300];
    snprintf(what, sizeof what,
             "`runc run` of the same program per request; memory = PSS + page tables of the "
             "container's process (runc and kernel namespaces not counted); %zu held at once, "
             "time scaled to 1,000",
             cb.live ? cb.live : o.container_live);
    base_row(&rows[2], "runc container per request", crc, &cb, cerr, what);

    char mach[512], date[64], title[512];
    machine(mach, sizeof mach);
    time_t now = time(NULL);
    struct tm tmv;
    strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime_r(&now, &tmv));
    snprintf(title, sizeof title, "kiln bench %s (%s, %s tier; %zu route(s): %s%s)", o.app,
             m->components[comp].id, o.tier, npaths, paths[0], npaths > 1 ? ", ..." : "");
    if (to_json(&o, rows, 3, o.app, paths, npaths, mach, date, &json) != 0) goto out;
    save_json(m->dir, o.state_dir, &json);
    if (strcmp(o.format, "json") == 0)
        fwrite(json.data, 1, json.len, stdout);
    else
        print_table(&o, rows, 3, title, mach, date, strcmp(o.format, "markdown") == 0);
    status = 0;
out:
    if (strcmp(tmp, "/tmp/kiln-bench.XXXXXX") != 0) {
        kiln_buf rm = KILN_BUF_INIT;
        if (kiln_buf_printf(&rm, "rm -rf '%s'", tmp) == 0 && system(rm.data) != 0)
            fprintf(stderr, "kiln bench: could not remove %s\n", tmp);
        kiln_buf_free(&rm);
    }
    for (size_t i = 0; paths && i < npaths; i++)
        kiln_free(paths[i]);
    kiln_free(paths);
    kiln_buf_free(&body);
    kiln_buf_free(&json);
    kiln_manifest_free(m);
    kiln_diags_free(&diags);
    kiln_free(manifest);
    kiln_free(err);
    kiln_free(o.routes);
    return status;
}
