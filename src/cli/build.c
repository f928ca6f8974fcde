/* build.c — `kiln build [-f PATH] [-c ID]... [--profile NAME]`: runs each component's
 * build command (version-1 [[component]] manifests too; with --profile, a component's
 * [component.ID.profile.NAME.build] command instead of its own where it has one).
 *
 * A component's `[component.ID.build] command` is a string or a list of strings; each
 * is run with `/bin/sh -c` in the component's `workdir` (relative to the manifest's
 * directory; the manifest's directory when not given), stdin from /dev/null. Its output
 * (stdout and stderr together) is streamed line by line, each line prefixed with
 * "[ID] ". The first command that fails stops the build with a message naming the
 * component, the command and its exit status (or signal). Components without a build
 * command are skipped.
 *
 * Only the [component.ID.build] tables are read (with the TOML parser), not the whole
 * application model: the model insists that every component's source exists, which is
 * what a build produces. kiln_build_app() is also what `kiln up --build` calls before
 * loading the manifest. */
#include "cli/cli.h"
#include "manifest/manifest.h"
#include "manifest/toml.h"
#include "util/alloc.h"
#include "util/buf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* A line longer than this is written out in pieces (each piece prefixed). */
#define BUILD_MAX_LINE 65536

static void build_usage(FILE *f)
{
    fprintf(f, "usage: kiln build [-f PATH] [-c ID]...\n\n"
               "Runs the build command of every component (or of the named ones), in the\n"
               "component's workdir, showing its output prefixed with the component id.\n\n"
               "  -f, --from PATH          manifest file, or a directory holding kiln.toml or\n"
               "                           spin.toml (default: the current directory)\n"
               "  -c, --component-id ID    build only this component (repeatable)\n"
               "      --profile NAME       build profile NAME: a component's\n"
               "                           [component.ID.profile.NAME.build] command replaces\n"
               "                           its own\n");
}

/* Writes the complete lines of *pending to out as "[id] line", keeping a trailing
 * partial line unless `all` is set (end of output) or it has grown too long. */
static void emit_lines(FILE *out, const char *id, kiln_buf *pending, int all)
{
    size_t start = 0;
    while (start < pending->len) {
        const char *nl = memchr(pending->data + start, '\n', pending->len - start);
        size_t end;
        if (nl) {
            end = (size_t)(nl - pending->data);
        } else if (all || pending->len - start >= BUILD_MAX_LINE) {
            end = pending->len;
        } else {
            break;
        }
        size_t n = end - start;
        if (n && pending->data[start + n - 1] == '\r') n--;
        fprintf(out, "[%s] %.*s\n", id, (int)n, pending->data + start);
        start = nl ? end + 1 : end;
    }
    fflush(out);
    if (start) {
        memmove(pending->data, pending->data + start, pending->len - start);
        pending->len -= start;
        pending->data[pending->len] = '\0';
    }
}

/* In the child: enter dir, connect stdin to /dev/null and stdout/stderr to the pipe,
 * and exec the shell. Reports failures on the pipe (they show up prefixed). */
static void child_exec(const char *dir, const char *cmd, int wfd)
{
    if (chdir(dir) < 0) {
        dprintf(wfd, "kiln: cannot enter workdir %s: %s\n", dir, strerror(errno));
        _exit(127);
    }
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(wfd, 1) < 0 || dup2(wfd, 2) < 0) {
        dprintf(wfd, "kiln: cannot set up the build command's I/O: %s\n", strerror(errno));
        _exit(127);
    }
    execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
    dprintf(wfd, "kiln: cannot run /bin/sh: %s\n", strerror(errno));
    _exit(127);
}

/* Runs one command; returns its wait status, or -1 (message printed) if it could not
 * be started. */
static int run_command(const char *id, const char *dir, const char *cmd, FILE *out)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0) {
        fprintf(stderr, "error: component %s: pipe: %s\n", id, strerror(errno));
        return -1;
    }
    fflush(out);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "error: component %s: fork: %s\n", id, strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        child_exec(dir, cmd, fds[1]);
    }
    if (close(fds[1]) < 0) fprintf(stderr, "warning: close: %s\n", strerror(errno));
    kiln_buf pending = KILN_BUF_INIT;
    char chunk[4096];
    int rc = 0;
    for (;;) {
        ssize_t n = read(fds[0], chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            fprintf(stderr, "error: component %s: reading build output: %s\n", id, strerror(errno));
            rc = -1;
            break;
        }
        if (n == 0) break;
        if (kiln_buf_append(&pending, chunk, (size_t)n) < 0) {
            fprintf(stderr, "error: out of memory\n");
            rc = -1;
            break;
        }
        emit_lines(out, id, &pending, 0);
    }
    if (pending.len) emit_lines(out, id, &pending, 1);
    kiln_buf_free(&pending);
    close(fds[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            fprintf(stderr, "error: component %s: waitpid: %s\n", id, strerror(errno));
            return -1;
        }
    }
    return rc < 0 ? -1 : status;
}

/* 1 if `id` is selected by the -c list (an empty list selects everything). */
static int selected(const char *id, const char *const *only, size_t n_only)
{
    if (!n_only) return 1;
    for (size_t i = 0; i < n_only; i++)
        if (strcmp(only[i], id) == 0) return 1;
    return 0;
}

/* Reads a whole file into *out (NUL-terminated). 0, or -1 with errno set. */
static int read_file(const char *path, kiln_buf *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    char chunk[8192];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0 || kiln_buf_append(out, chunk, (size_t)n) < 0) {
            int e = n < 0 ? errno : n == 0 ? 0 : ENOMEM;
            close(fd);
            errno = e;
            return e ? -1 : (kiln_buf_append(out, "", 0) < 0 ? -1 : 0);
        }
    }
}

/* The directory of the manifest, absolute (allocated), or NULL. */
static char *manifest_dir(const char *path)
{
    char *abs = realpath(path, NULL);
    if (!abs) return NULL;
    char *slash = strrchr(abs, '/');
    if (slash == abs)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    char *dir = kiln_strdup(abs);
    free(abs); /* realpath's buffer comes from malloc */
    return dir;
}

/* The build command of profile `profile` of component table t
 * ([component.ID.profile.NAME.build] command), or NULL when it has none. */
static const kiln_toml_value *profile_command(const kiln_toml_value *t, const char *profile)
{
    if (!profile) return NULL;
    const kiln_toml_value *p = kiln_toml_get(kiln_toml_get(t, "profile"), profile);
    return kiln_toml_get(kiln_toml_get(p, "build"), "command");
}

/* Runs the build of one component table (`t` is [component.ID]), with the command of
 * build profile `profile` when it defines one. Returns 1 when it had no build command, 0
 * when it was built, -1 on failure (reported). */
static int build_component(const char *path, const char *dir, const char *id,
                           const kiln_toml_value *t, const char *profile, FILE *out)
{
    const kiln_toml_value *b = kiln_toml_get(t, "build");
    const kiln_toml_value *pcmd = profile_command(t, profile);
    if (!b && !pcmd) return 1;
    const kiln_toml_value *cmd = pcmd ? pcmd : kiln_toml_get(b, "command");
    if (!b) b = kiln_toml_get(kiln_toml_get(kiln_toml_get(t, "profile"), profile), "build");
    const kiln_toml_value *wd = kiln_toml_get(b, "workdir");
    if (!kiln_toml_is(b, KILN_TOML_TABLE) || !cmd ||
        (!kiln_toml_is(cmd, KILN_TOML_STRING) && !kiln_toml_is(cmd, KILN_TOML_ARRAY)) ||
        (wd && !kiln_toml_is(wd, KILN_TOML_STRING))) {
        fprintf(stderr,
                "%s:%d:%d: error: [component.%s.build] needs `command` (a string or a list of "
                "strings) and an optional `workdir` string\n",
                path, b->line, b->col, id);
        return -1;
    }
    size_t ncmd = kiln_toml_is(cmd, KILN_TOML_STRING) ? 1 : kiln_toml_array_len(cmd);
    for (size_t k = 0; k < ncmd; k++) {
        const kiln_toml_value *c =
            kiln_toml_is(cmd, KILN_TOML_STRING) ? cmd : kiln_toml_array_at(cmd, k);
        if (!kiln_toml_is(c, KILN_TOML_STRING)) {
            fprintf(stderr, "%s:%d:%d: error: component %s: every build command must be a string\n",
                    path, c->line, c->col, id);
            return -1;
        }
    }
    kiln_buf work = KILN_BUF_INIT;
    const char *w = wd ? kiln_toml_str(wd) : NULL;
    int rc = w && w[0] == '/' ? kiln_buf_puts(&work, w)
             : w              ? kiln_buf_printf(&work, "%s/%s", dir, w)
                              : kiln_buf_puts(&work, dir);
    if (rc < 0) {
        fprintf(stderr, "error: out of memory\n");
        return -1;
    }
    for (size_t k = 0; k < ncmd && rc == 0; k++) {
        const char *line =
            kiln_toml_str(kiln_toml_is(cmd, KILN_TOML_STRING) ? cmd : kiln_toml_array_at(cmd, k));
        fprintf(out, "Building component %s with `%s`\n", id, line);
        int st = run_command(id, work.data, line, out);
        if (st < 0) {
            rc = -1;
        } else if (WIFSIGNALED(st)) {
            fprintf(stderr, "error: build of component %s failed: `%s` was killed by signal %d\n",
                    id, line, WTERMSIG(st));
            rc = -1;
        } else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr,
                    "error: build of component %s failed: `%s` exited with status %d (in %s)\n", id,
                    line, WIFEXITED(st) ? WEXITSTATUS(st) : st, work.data);
            rc = -1;
        }
    }
    kiln_buf_free(&work);
    return rc;
}

int kiln_build_app(const char *manifest_path, const char *const *only, size_t n_only, FILE *out)
{
    return kiln_build_app_profile(manifest_path, only, n_only, NULL, out);
}

/* The id of the i-th component and its table: [component.ID] (version 2) or the i-th
 * [[component]] (version 1, its `id` made kebab-case as Spin does, into idbuf). */
static const kiln_toml_value *component_at(const kiln_toml_value *comps, size_t i, const char **id,
                                           char *idbuf, size_t cap)
{
    if (kiln_toml_is(comps, KILN_TOML_TABLE)) {
        const kiln_toml_entry *e = kiln_toml_table_at(comps, i);
        *id = e->key;
        return e->value;
    }
    const kiln_toml_value *t = kiln_toml_array_at(comps, i);
    const char *raw = kiln_toml_str(kiln_toml_get(t, "id"));
    snprintf(idbuf, cap, "%s", raw ? raw : "?");
    for (char *p = idbuf; *p; p++)
        *p = *p == '_' ? '-' : (*p >= 'A' && *p <= 'Z') ? (char)(*p - 'A' + 'a') : *p;
    *id = idbuf;
    return t;
}

int kiln_build_app_profile(const char *manifest_path, const char *const *only, size_t n_only,
                           const char *profile, FILE *out)
{
    kiln_buf text = KILN_BUF_INIT;
    char *err = NULL, *dir = NULL;
    kiln_toml_value *root = NULL;
    int rc = -1;
    size_t built = 0;
    if (read_file(manifest_path, &text) < 0) {
        fprintf(stderr, "error: cannot read %s: %s\n", manifest_path, strerror(errno));
        goto out;
    }
    root = kiln_toml_parse(text.data, text.len, manifest_path, &err);
    if (!root) {
        fprintf(stderr, "%s\n", err ? err : "error: out of memory");
        goto out;
    }
    dir = manifest_dir(manifest_path);
    if (!dir) {
        fprintf(stderr, "error: %s: %s\n", manifest_path, strerror(errno));
        goto out;
    }
    const kiln_toml_value *comps = kiln_toml_get(root, "component");
    size_t ncomps = kiln_toml_is(comps, KILN_TOML_ARRAY) ? kiln_toml_array_len(comps)
                                                         : kiln_toml_table_len(comps);
    char idbuf[256];
    const char *id = NULL;
    for (size_t i = 0; i < n_only; i++) {
        size_t k = 0;
        while (k < ncomps &&
               (component_at(comps, k, &id, idbuf, sizeof idbuf), strcmp(id, only[i]) != 0))
            k++;
        if (k == ncomps) {
            fprintf(stderr, "error: %s has no component '%s'\n", manifest_path, only[i]);
            goto out;
        }
    }
    int profile_found = !profile;
    for (size_t i = 0; i < ncomps; i++) {
        const kiln_toml_value *t = component_at(comps, i, &id, idbuf, sizeof idbuf);
        if (profile && kiln_toml_get(kiln_toml_get(t, "profile"), profile)) profile_found = 1;
        if (!selected(id, only, n_only)) continue;
        int r = build_component(manifest_path, dir, id, t, profile, out);
        if (r < 0) goto out;
        if (r == 1 && n_only) fprintf(out, "Component %s has no build command: skipped\n", id);
        if (r == 0) built++;
    }
    if (!profile_found) {
        fprintf(stderr, "error: profile %s is not defined in this application\n", profile);
        goto out;
    }
    if (built)
        fprintf(out, "Finished building %zu component%s\n", built, built == 1 ? "" : "s");
    else
        fprintf(out, "No component has a build command: nothing to build\n");
    rc = 0;
out:
    fflush(out);
    kiln_toml_free(root);
    kiln_buf_free(&text);
    kiln_free(err);
    kiln_free(dir);
    return rc;
}

int kiln_cmd_build(int argc, char **argv)
{
    const char *from = NULL, *profile = NULL;
    const char **only = kiln_calloc((size_t)argc + 1, sizeof *only);
    size_t n_only = 0;
    int rc = 2;
    char *path = NULL, *err = NULL;
    if (!only) {
        fprintf(stderr, "error: out of memory\n");
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            build_usage(stdout);
            rc = 0;
            goto out;
        } else if ((strcmp(a, "-f") == 0 || strcmp(a, "--from") == 0 || strcmp(a, "--file") == 0) &&
                   val) {
            from = val;
            i++;
        } else if ((strcmp(a, "-c") == 0 || strcmp(a, "--component-id") == 0) && val) {
            only[n_only++] = val;
            i++;
        } else if (strcmp(a, "--profile") == 0 && val) {
            profile = val;
            i++;
        } else {
            fprintf(stderr, "error: kiln build: unknown or incomplete option '%s'\n", a);
            build_usage(stderr);
            goto out;
        }
    }
    rc = 1;
    if (kiln_manifest_find(from, &path, &err) < 0) {
        fprintf(stderr, "error: %s\n", err ? err : "no manifest found");
        goto out;
    }
    rc = kiln_build_app_profile(path, only, n_only, profile, stdout) < 0 ? 1 : 0;
out:
    kiln_free(path);
    kiln_free(err);
    kiln_free(only);
    return rc;
}
