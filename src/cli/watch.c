/* watch.c — `kiln watch`: rebuilds and reloads an application while its files change,
 * as `spin watch` does.
 *
 *   kiln watch [-f PATH] [--skip-build] [-c|--clear] [-d|--debounce MS] [--profile NAME]
 *              [UP_OPTIONS...] [-- UP_OPTIONS...]
 *
 * What is watched (Spin's rules): a component's `[component.ID.build] watch` globs
 * (relative to its workdir, else to the manifest's directory) — a change rebuilds that
 * component, then reloads; the manifest — rebuilds every component, then reloads (with
 * --skip-build: reloads only); the components' sources (.wasm), `files`, `path`
 * dependencies and `path` HTTP middleware (dependencies.middleware) — reloads. A
 * component with a build command and no `watch` is named once and not rebuilt on source
 * changes (as Spin does).
 *
 * Reloading never drops a request: the watch opens the listening socket once and hands it
 * to every generation (KILN_LISTEN_FD, server/http.h), so the new `kiln up` child accepts
 * on the very socket the old one does; once it prints "Serving", the old generation is
 * sent SIGTERM, on which it stops accepting, finishes its in-flight requests and exits.
 * Connections still waiting in the accept queue then are the new generation's (with a
 * socket per generation they would be reset when the old one closed its own). A new generation
 * that fails to start (a broken build or manifest) leaves the old one serving. Every
 * generation's stdout is copied to ours; stderr is shared.
 *
 * Changes are seen with inotify on every directory below the manifest's (new ones are
 * added as they appear; .git, node_modules and hidden directories are skipped), plus the
 * directory of each source, dependency or middleware file outside that tree. Events
 * arriving during a build are dropped before the new generation starts (the build's own
 * outputs would otherwise trigger a second reload); those arriving once it starts are
 * kept (it may have read the files before they changed). */
#include "cli/cli.h"
#include "manifest/manifest.h"
#include "server/http.h"
#include "util/alloc.h"
#include "util/buf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WATCH_MAX_DIRS 8192
#define WATCH_MAX_DEPTH 32
#define WATCH_START_TIMEOUT_MS 300000

/* One `kiln up` child. */
typedef struct generation {
    pid_t pid;
    int out;       /* its stdout (read end), -1 once closed */
    int ready;     /* it printed "Serving" */
    kiln_buf line; /* a partial line of its output */
} generation;

/* The watch's state. */
typedef struct watcher {
    const char *manifest; /* absolute path */
    char *dir;            /* the manifest's directory */
    int skip_build, clear;
    unsigned debounce_ms;
    const char *profile;
    char **up_args; /* passed through to kiln up */
    int n_up_args;
    int listen_fd; /* the listening socket every generation accepts on */
    int inotify;
    int *wds; /* watch descriptor -> directory index */
    char **dirs;
    size_t ndirs;
    size_t wd_cap;
} watcher;

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
    stop_signal = sig;
}

static void watch_usage(FILE *f)
{
    fprintf(f, "Build and run the application, rebuilding and reloading it when its files\n"
               "change (as `spin watch` does)\n\n"
               "Usage: kiln watch [OPTIONS] [KILN UP OPTIONS]...\n\n"
               "A reload starts the new version on the same address and then drains the old\n"
               "one: no request fails.\n\n"
               "Options:\n"
               "  -f, --from PATH        manifest file or directory (default: ./kiln.toml,\n"
               "                         ./spin.toml)\n"
               "      --skip-build       only reload on changes; never run build commands\n"
               "  -c, --clear            clear the screen before each reload\n"
               "  -d, --debounce MS      wait this long for more changes (default 100)\n"
               "      --profile NAME     build and run the components' build profile NAME\n"
               "Any other option, and all after --, goes to kiln up (e.g. --listen ADDR).\n\n"
               "Rebuilt on changes: a component's [component.ID.build] watch globs; the\n"
               "manifest rebuilds every component. Reloaded on changes: component sources\n"
               "(.wasm), their files, and the files of `path` dependencies and middleware.\n");
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ---- inotify over the directory tree ----------------------------------------------- */

/* Adds an inotify watch on dir (absolute) and, recursively, its subdirectories (none
 * when depth is WATCH_MAX_DEPTH). */
static void watch_tree(watcher *w, const char *dir, int depth)
{
    if (depth > WATCH_MAX_DEPTH || w->ndirs >= WATCH_MAX_DIRS) return;
    int wd = inotify_add_watch(w->inotify, dir,
                               IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE |
                                   IN_MOVED_FROM | IN_ONLYDIR);
    if (wd < 0) return; /* vanished or unreadable: nothing to watch there */
    if ((size_t)wd >= w->wd_cap) {
        size_t cap = (size_t)wd * 2 + 16;
        int *n = kiln_realloc(w->wds, cap * sizeof *n);
        if (!n) return;
        for (size_t i = w->wd_cap; i < cap; i++)
            n[i] = -1;
        w->wds = n;
        w->wd_cap = cap;
    }
    if (w->wds[wd] < 0) {
        char **n = kiln_realloc(w->dirs, (w->ndirs + 1) * sizeof *n);
        char *copy = kiln_strdup(dir);
        if (!n || !copy) {
            if (n) w->dirs = n;
            kiln_free(copy);
            return;
        }
        w->dirs = n;
        w->dirs[w->ndirs] = copy;
        w->wds[wd] = (int)w->ndirs++;
    }
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || strcmp(e->d_name, "node_modules") == 0) continue;
        kiln_buf p = KILN_BUF_INIT;
        struct stat st;
        if (kiln_buf_printf(&p, "%s/%s", dir, e->d_name) == 0 && lstat(p.data, &st) == 0 &&
            S_ISDIR(st.st_mode))
            watch_tree(w, p.data, depth + 1);
        kiln_buf_free(&p);
    }
    closedir(d);
}

/* Is `path` (absolute) matched by glob `pattern` relative to directory `base`? */
static int matches(const char *base, const char *pattern, const char *path)
{
    size_t bl = strlen(base);
    if (pattern[0] == '/') return kiln_glob_match(pattern + 1, path + 1);
    if (strncmp(path, base, bl) != 0 || path[bl] != '/') return 0;
    return kiln_glob_match(pattern, path + bl + 1);
}

/* The canonical form of `file` (absolute; the manifest keeps "DIR/../x.wasm" as written):
 * its directory through realpath(3), then its name. Allocated, or NULL when the
 * directory does not exist or memory ran out. */
static char *canonical(const char *file)
{
    const char *slash = strrchr(file, '/');
    if (!slash) return NULL;
    char *dir = kiln_strndup(file, slash > file ? (size_t)(slash - file) : 1);
    char *real = dir ? realpath(dir, NULL) : NULL;
    kiln_free(dir);
    if (!real) return NULL;
    kiln_buf b = KILN_BUF_INIT;
    int rc = kiln_buf_printf(&b, "%s/%s", strcmp(real, "/") == 0 ? "" : real, slash + 1);
    free(real); /* realpath allocates with malloc */
    if (rc < 0) {
        kiln_buf_free(&b);
        return NULL;
    }
    return kiln_buf_steal(&b);
}

/* Is `file` (as the manifest gives it) the changed `path` (canonical)? */
static int same_file(const char *file, const char *path)
{
    if (!file) return 0;
    if (strcmp(file, path) == 0) return 1;
    char *c = canonical(file);
    int same = c && strcmp(c, path) == 0;
    kiln_free(c);
    return same;
}

/* Is d a `path` dependency (or middleware) loaded from `path` (canonical)? */
static int is_path_dependency(const kiln_dependency *d, const char *path)
{
    return strcmp(d->kind, "path") == 0 && same_file(d->value, path);
}

/* Watches the directory of `file` on its own, when it lies outside the manifest's tree
 * (a component source, dependency or middleware given as "../x.wasm"). */
static void watch_file_dir(watcher *w, const char *file)
{
    char *c = canonical(file);
    size_t dl = strlen(w->dir);
    if (c && !(strncmp(c, w->dir, dl) == 0 && c[dl] == '/')) {
        *strrchr(c, '/') = '\0';
        watch_tree(w, c[0] ? c : "/", WATCH_MAX_DEPTH);
    }
    kiln_free(c);
}

/* Watches the directories of m's files outside the manifest's tree: component sources,
 * `path` dependencies and `path` middleware. */
static void watch_outside(watcher *w, const kiln_manifest *m)
{
    for (size_t i = 0; m && i < m->components_len; i++) {
        const kiln_component *c = &m->components[i];
        if (c->source) watch_file_dir(w, c->source);
        for (size_t k = 0; k < c->dependencies_len; k++)
            if (strcmp(c->dependencies[k].kind, "path") == 0 && c->dependencies[k].value)
                watch_file_dir(w, c->dependencies[k].value);
    }
    for (size_t i = 0; m && i < m->triggers_len; i++)
        for (size_t k = 0; k < m->triggers[i].mw_len; k++)
            if (strcmp(m->triggers[i].mw[k].kind, "path") == 0 && m->triggers[i].mw[k].value)
                watch_file_dir(w, m->triggers[i].mw[k].value);
}

/* What a change of `path` asks for: 3 rebuild everything (the manifest), 2 rebuild the
 * components marked in rebuild[], 1 reload only, 0 nothing. */
static int classify(const watcher *w, const kiln_manifest *m, const char *path,
                    unsigned char *rebuild)
{
    if (strcmp(path, w->manifest) == 0) return w->skip_build ? 1 : 3;
    if (!m || !rebuild) return 0;
    int what = 0;
    for (size_t i = 0; i < m->components_len; i++) {
        const kiln_component *c = &m->components[i];
        for (size_t k = 0; !w->skip_build && k < c->build_watch.len; k++) {
            if (matches(c->build_workdir ? c->build_workdir : w->dir, c->build_watch.items[k],
                        path)) {
                rebuild[i] = 1;
                what = 2;
            }
        }
        if (!what && same_file(c->source, path)) what = 1;
        for (size_t k = 0; k < c->dependencies_len && !what; k++)
            if (is_path_dependency(&c->dependencies[k], path)) what = 1;
        for (size_t k = 0; k < c->files_len && !what; k++) {
            const kiln_file_spec *f = &c->files[k];
            size_t sl = f->source ? strlen(f->source) : 0;
            if (f->pattern
                    ? matches(w->dir, f->pattern, path)
                    : strncmp(path, f->source, sl) == 0 && (path[sl] == '/' || path[sl] == '\0'))
                what = 1;
        }
    }
    for (size_t i = 0; i < m->triggers_len && !what; i++)
        for (size_t k = 0; k < m->triggers[i].mw_len && !what; k++)
            if (is_path_dependency(&m->triggers[i].mw[k], path)) what = 1;
    return what;
}

/* Reads the pending inotify events; returns the strongest need (see classify) and
 * prints the first path that asks for it. New directories are watched; hidden names
 * (editor swap files, kiln up's .kiln state) are not changes. */
static int read_events(watcher *w, const kiln_manifest *m, unsigned char *rebuild, int quiet)
{
    char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
    int need = 0;
    for (;;) {
        ssize_t n = read(w->inotify, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        for (char *p = buf; p < buf + n;) {
            struct inotify_event *ev = (struct inotify_event *)p;
            p += sizeof *ev + ev->len;
            if (ev->wd < 0 || (size_t)ev->wd >= w->wd_cap || w->wds[ev->wd] < 0 || !ev->len)
                continue;
            kiln_buf path = KILN_BUF_INIT;
            if (ev->name[0] == '.') continue;
            if (kiln_buf_printf(&path, "%s/%s", w->dirs[w->wds[ev->wd]], ev->name) < 0) continue;
            if ((ev->mask & IN_ISDIR) && (ev->mask & (IN_CREATE | IN_MOVED_TO)) &&
                ev->name[0] != '.')
                watch_tree(w, path.data, 1);
            int what = classify(w, m, path.data, rebuild);
            if (what > need) {
                if (!quiet)
                    fprintf(stderr, "kiln watch: %s changed: %s\n", path.data,
                            what >= 2 ? "rebuilding" : "reloading");
                need = what;
            }
            kiln_buf_free(&path);
        }
    }
    return need;
}

/* ---- generations ------------------------------------------------------------------ */

/* The address the generations serve on, as kiln up reads it: the last --listen of the
 * up options, else SPIN_HTTP_LISTEN_ADDR, else kiln up's default. */
static const char *listen_addr(const watcher *w)
{
    const char *addr = NULL;
    for (int i = 0; i + 1 < w->n_up_args; i++)
        if (strcmp(w->up_args[i], "--listen") == 0) addr = w->up_args[i + 1];
    if (!addr) addr = getenv("SPIN_HTTP_LISTEN_ADDR");
    return addr && *addr ? addr : "127.0.0.1:3000";
}

/* Starts `kiln up -f MANIFEST [--profile P] UP_ARGS` with its stdout on a pipe, accepting
 * on the watch's listening socket. */
static int spawn(watcher *w, generation *g)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0) {
        fprintf(stderr, "kiln watch: pipe: %s\n", strerror(errno));
        return -1;
    }
    char **argv = kiln_calloc((size_t)w->n_up_args + 8, sizeof *argv);
    if (!argv) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    int n = 0;
    argv[n++] = "kiln";
    argv[n++] = "up";
    argv[n++] = "-f";
    argv[n++] = (char *)w->manifest;
    if (w->profile) {
        argv[n++] = "--profile";
        argv[n++] = (char *)w->profile;
    }
    for (int i = 0; i < w->n_up_args; i++)
        argv[n++] = w->up_args[i];
    pid_t pid = fork();
    if (pid == 0) {
        if (dup2(fds[1], 1) < 0) _exit(127);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        /* the listening socket, inherited across exec (server/http.c) */
        char fdv[16];
        snprintf(fdv, sizeof fdv, "%d", w->listen_fd);
        if (fcntl(w->listen_fd, F_SETFD, 0) < 0 || setenv("KILN_LISTEN_FD", fdv, 1) < 0) _exit(127);
        execv("/proc/self/exe", argv);
        fprintf(stderr, "kiln watch: cannot run kiln up: %s\n", strerror(errno));
        _exit(127);
    }
    kiln_free(argv);
    close(fds[1]);
    if (pid < 0) {
        fprintf(stderr, "kiln watch: fork: %s\n", strerror(errno));
        close(fds[0]);
        return -1;
    }
    memset(g, 0, sizeof *g);
    g->pid = pid;
    g->out = fds[0];
    return 0;
}

/* Copies what a generation wrote to our stdout, noting "Serving". Returns 0, or -1 at
 * its end of output. */
static int pump(generation *g)
{
    char buf[4096];
    ssize_t n = read(g->out, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return 0;
    if (n <= 0) {
        close(g->out);
        g->out = -1;
        if (g->line.len) fwrite(g->line.data, 1, g->line.len, stdout);
        kiln_buf_free(&g->line);
        fflush(stdout);
        return -1;
    }
    if (kiln_buf_append(&g->line, buf, (size_t)n) < 0) return 0;
    char *nl;
    while (g->line.len && (nl = memchr(g->line.data, '\n', g->line.len)) != NULL) {
        size_t len = (size_t)(nl - g->line.data) + 1;
        if (strncmp(g->line.data, "Serving ", 8) == 0) g->ready = 1;
        fwrite(g->line.data, 1, len, stdout);
        memmove(g->line.data, g->line.data + len, g->line.len - len);
        g->line.len -= len;
    }
    fflush(stdout);
    return 0;
}

/* Waits for generation g to print "Serving" (copying its output). Returns 0 when ready,
 * -1 when it exited first (reaped) or a stop was asked for. */
static int await_ready(generation *g)
{
    double deadline = now_ms() + WATCH_START_TIMEOUT_MS;
    while (!g->ready && !stop_signal && now_ms() < deadline) {
        struct pollfd p = {g->out, POLLIN, 0};
        int r = poll(&p, 1, 200);
        if (r > 0 && pump(g) < 0) break;
    }
    if (g->ready) return 0;
    if (g->out >= 0) {
        close(g->out);
        g->out = -1;
    }
    kill(g->pid, SIGTERM);
    waitpid(g->pid, NULL, 0);
    kiln_buf_free(&g->line);
    g->pid = 0;
    return -1;
}

/* Stops generation g: SIGTERM (it drains its requests), copying its output until it
 * ends; then reaps it. */
static void retire(generation *g)
{
    if (!g->pid) return;
    kill(g->pid, SIGTERM);
    while (g->out >= 0) {
        struct pollfd p = {g->out, POLLIN, 0};
        if (poll(&p, 1, 1000) > 0) pump(g);
    }
    waitpid(g->pid, NULL, 0);
    g->pid = 0;
}

/* Runs the builds asked for (every component when all is set). 0 or -1. */
static int rebuild_components(watcher *w, const kiln_manifest *m, const unsigned char *which,
                              int all)
{
    if (w->skip_build) return 0;
    const char **only = NULL;
    size_t n = 0;
    if (!all && m) {
        only = kiln_calloc(m->components_len + 1, sizeof *only);
        if (!only) return -1;
        for (size_t i = 0; i < m->components_len; i++)
            if (which[i] && m->components[i].build_command.len) only[n++] = m->components[i].id;
        if (!n) {
            kiln_free(only);
            return 0;
        }
    }
    int rc = kiln_build_app_profile(w->manifest, only, n, w->profile, stdout);
    kiln_free(only);
    return rc;
}

/* Loads the manifest for its watch lists (NULL when it does not load: the manifest
 * itself is still watched) and names the components with a build and no `watch`. */
static kiln_manifest *load_for_watch(watcher *w, int announce)
{
    kiln_diags d = KILN_DIAGS_INIT;
    kiln_manifest *m = kiln_manifest_load(w->manifest, &d);
    kiln_diags_free(&d);
    const char *perr = NULL;
    if (m && w->profile) (void)kiln_manifest_apply_profile(m, w->profile, &perr);
    watch_outside(w, m);
    for (size_t i = 0; announce && m && !w->skip_build && i < m->components_len; i++) {
        const kiln_component *c = &m->components[i];
        if (c->build_command.len && !c->build_watch.len)
            fprintf(stderr,
                    "kiln watch: component %s has no [component.%s.build] watch globs: its "
                    "sources are not watched (its .wasm and files are)\n",
                    c->id, c->id);
    }
    return m;
}

/* Reads what changed while a build or reload ran: a change that asks for a rebuild (a
 * source edited meanwhile) is kept for the next round (returned, components marked in
 * which); artifact changes are dropped, the reload having taken them (the build wrote
 * them). */
static int changes_since(watcher *w, const kiln_manifest *m, unsigned char *which)
{
    int need = read_events(w, m, which, 0);
    if (need >= 2) return need;
    memset(which, 0, m ? m->components_len + 1 : 1);
    return 0;
}

/* The watch loop: serve, wait for changes, rebuild, reload. */
static int run_watch(watcher *w)
{
    generation cur = {0};
    if (!w->skip_build && kiln_build_app_profile(w->manifest, NULL, 0, w->profile, stdout) < 0)
        fprintf(stderr, "kiln watch: the build failed; fix it and save to try again\n");
    kiln_manifest *m = load_for_watch(w, 1);
    if (spawn(w, &cur) == 0 && await_ready(&cur) < 0)
        fprintf(stderr, "kiln watch: kiln up did not start; waiting for changes\n");
    unsigned char *which = kiln_calloc((m ? m->components_len : 0) + 1, 1);
    int need = which ? changes_since(w, m, which) : 0;
    while (which && !stop_signal) {
        if (!need) {
            struct pollfd p[2] = {{w->inotify, POLLIN, 0}, {cur.pid ? cur.out : -1, POLLIN, 0}};
            int r = poll(p, 2, 500);
            if (r < 0 && errno != EINTR) break;
            if (cur.pid && cur.out >= 0 && (p[1].revents & (POLLIN | POLLHUP)) && pump(&cur) < 0) {
                int st = 0;
                waitpid(cur.pid, &st, 0);
                fprintf(stderr, "kiln watch: kiln up exited (status %d); waiting for changes\n",
                        WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
                cur.pid = 0;
            }
            if (r <= 0 || !(p[0].revents & POLLIN)) continue;
            need = read_events(w, m, which, 0);
        }
        /* debounce: more changes of the same save */
        double until = now_ms() + w->debounce_ms;
        while (need && now_ms() < until && !stop_signal) {
            struct pollfd q = {w->inotify, POLLIN, 0};
            if (poll(&q, 1, (int)(until - now_ms()) + 1) > 0) {
                int more = read_events(w, m, which, 1);
                if (more > need) need = more;
            }
        }
        if (!need) continue;
        int ok = need >= 2 ? rebuild_components(w, m, which, need == 3 || !m) == 0 : 1;
        int pending = 0; /* a rebuild asked for while this round ran */
        if (!ok) {
            fprintf(stderr, "kiln watch: the build failed; still serving the last version\n");
        } else {
            /* what changed until now (the build's outputs among it) the new generation
             * reads; a source edited during the build is rebuilt next round */
            if (changes_since(w, m, which) >= 2) pending = 3;
            if (w->clear) printf("\033[2J\033[H");
            generation next = {0};
            if (spawn(w, &next) == 0 && await_ready(&next) == 0) {
                /* the new version serves from here on; the old one drains its requests */
                fprintf(stderr, "kiln watch: reloaded\n");
                retire(&cur);
                cur = next;
            } else {
                fprintf(stderr, "kiln watch: the new version did not start; still serving the "
                                "last one\n");
            }
            kiln_manifest_free(m);
            m = load_for_watch(w, 0);
        }
        kiln_free(which);
        which = kiln_calloc((m ? m->components_len : 0) + 1, 1);
        /* after a failed build, its partial outputs are dropped; after a reload, every
         * change since the new generation started is kept (it may have missed it) */
        int later = !which ? 0 : ok ? read_events(w, m, which, 0) : changes_since(w, m, which);
        need = later > pending ? later : pending;
    }
    kiln_free(which);
    retire(&cur);
    kiln_manifest_free(m);
    return 0;
}

int kiln_cmd_watch(int argc, char **argv)
{
    watcher w = {0};
    w.debounce_ms = 100;
    w.inotify = -1;
    w.listen_fd = -1;
    const char *from = NULL;
    int rc = 2;
    w.up_args = kiln_calloc((size_t)argc + 1, sizeof *w.up_args);
    if (!w.up_args) return 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            watch_usage(stdout);
            rc = 0;
            goto out;
        } else if (strcmp(a, "--") == 0) {
            /* `spin watch -- UP_ARGS`: the rest goes to kiln up */
            while (++i < argc)
                w.up_args[w.n_up_args++] = argv[i];
        } else if ((strcmp(a, "-f") == 0 || strcmp(a, "--from") == 0 || strcmp(a, "--file") == 0) &&
                   val) {
            from = argv[++i];
        } else if (strcmp(a, "--skip-build") == 0) {
            w.skip_build = 1;
        } else if (strcmp(a, "-c") == 0 || strcmp(a, "--clear") == 0) {
            w.clear = 1;
        } else if ((strcmp(a, "-d") == 0 || strcmp(a, "--debounce") == 0) && val) {
            char *end;
            unsigned long ms = strtoul(val, &end, 10);
            if (*end || !*val || ms > 60000) {
                fprintf(stderr, "error: --debounce %s: expected milliseconds\n", val);
                goto out;
            }
            w.debounce_ms = (unsigned)ms;
            i++;
        } else if (strcmp(a, "--profile") == 0 && val) {
            w.profile = argv[++i];
        } else {
            w.up_args[w.n_up_args++] = argv[i];
        }
    }
    rc = 1;
    char *path = NULL, *err = NULL;
    if (kiln_manifest_find(from, &path, &err) < 0) {
        fprintf(stderr, "error: %s\n", err ? err : "no manifest found");
        kiln_free(err);
        goto out;
    }
    char *abs = realpath(path, NULL);
    kiln_free(path);
    if (!abs) {
        fprintf(stderr, "error: %s\n", strerror(errno));
        goto out;
    }
    char *manifest = kiln_strdup(abs);
    free(abs); /* realpath allocates with malloc */
    if (!manifest) goto out;
    w.manifest = manifest;
    char *slash = strrchr(manifest, '/');
    w.dir = kiln_strndup(manifest, slash > manifest ? (size_t)(slash - manifest) : 1);
    w.inotify = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (!w.dir || w.inotify < 0) {
        fprintf(stderr, "error: inotify: %s\n", strerror(errno));
        kiln_free(manifest);
        goto out;
    }
    watch_tree(&w, w.dir, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0) {
        fprintf(stderr, "error: sigaction: %s\n", strerror(errno));
        kiln_free(manifest);
        goto out;
    }
    char lerr[512];
    if ((w.listen_fd = kiln_server_listen(listen_addr(&w), lerr, sizeof lerr)) < 0) {
        fprintf(stderr, "error: %s\n", lerr);
        kiln_free(manifest);
        goto out;
    }
    rc = run_watch(&w);
    kiln_free(manifest);
out:
    if (w.listen_fd >= 0) close(w.listen_fd);
    if (w.inotify >= 0) close(w.inotify);
    for (size_t i = 0; i < w.ndirs; i++)
        kiln_free(w.dirs[i]);
    kiln_free(w.dirs);
    kiln_free(w.wds);
    kiln_free(w.dir);
    kiln_free(w.up_args);
    return rc;
}
