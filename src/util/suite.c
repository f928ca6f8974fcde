/* suite.c — per-file children and exclusion lists for the suite runners (suite.h). */
#include "util/suite.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/buf.h"
#include "util/file.h"

/* Accounts for a finished child: the commands it did not reach count as failed. */
static void child_done(const char *path, kiln_suite_slot *slot, int status)
{
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
    long done = slot->passed + slot->failed + slot->skipped;
    long missing = slot->total > done ? slot->total - done : 1;
    if (WIFSIGNALED(status))
        fprintf(stderr, "%s: killed by signal %d (%s) at line %ld; %ld commands not run\n", path,
                WTERMSIG(status),
                WTERMSIG(status) == SIGALRM ? "timeout" : strsignal(WTERMSIG(status)), slot->line,
                missing);
    else
        fprintf(stderr, "%s: exited with status %d; %ld commands not run\n", path,
                WEXITSTATUS(status), missing);
    slot->failed += missing;
}

kiln_suite_slot *kiln_suite_run(char *const *files, int nfiles, int jobs, int no_fork,
                                kiln_suite_file_fn fn, void *ctx)
{
    size_t len = (size_t)nfiles * sizeof(kiln_suite_slot);
    kiln_suite_slot *slots =
        mmap(NULL, len ? len : 1, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    pid_t *pids = kiln_calloc(nfiles ? (size_t)nfiles : 1, sizeof *pids);
    if (slots == MAP_FAILED || !pids) {
        if (slots != MAP_FAILED) munmap(slots, len ? len : 1);
        kiln_free(pids);
        return NULL;
    }
    memset(slots, 0, len);
    if (jobs < 1) jobs = 1;
    int next = 0, running = 0;
    while (next < nfiles || running > 0) {
        while (next < nfiles && running < jobs) {
            kiln_suite_slot *s = &slots[next];
            s->total = -1;
            snprintf(s->name, sizeof s->name, "%s", files[next]);
            fflush(NULL);
            if (no_fork) {
                child_done(files[next], s, fn(ctx, files[next], s) << 8);
                next++;
                continue;
            }
            pids[next] = fork();
            if (pids[next] == 0) {
                int rc = fn(ctx, files[next], s);
                fflush(NULL);
                _exit(rc);
            }
            if (pids[next] < 0) {
                perror("fork");
                s->total = 1;
                s->failed = 1;
                pids[next] = 0;
            } else {
                running++;
            }
            next++;
        }
        if (running == 0) continue;
        int status;
        pid_t pid = wait(&status);
        if (pid < 0) {
            if (errno == EINTR) continue;
            perror("wait");
            break;
        }
        for (int i = 0; i < nfiles; i++)
            if (pids[i] == pid) {
                child_done(files[i], &slots[i], status);
                pids[i] = 0;
                running--;
            }
    }
    kiln_free(pids);
    return slots;
}

void kiln_suite_free(kiln_suite_slot *slots, int nfiles)
{
    size_t len = (size_t)nfiles * sizeof(kiln_suite_slot);
    if (slots) munmap(slots, len ? len : 1);
}

int kiln_suite_exclusions_load(kiln_suite_exclusions *ex, const char *path)
{
    kiln_buf b = KILN_BUF_INIT;
    if (kiln_read_file(path, &b) != 0 || kiln_buf_putc(&b, '\0') != 0) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        kiln_buf_free(&b);
        return -1;
    }
    char *save = NULL;
    int rc = 0;
    for (char *ln = strtok_r(b.data, "\n", &save); ln; ln = strtok_r(NULL, "\n", &save)) {
        ln += strspn(ln, " \t");
        if (*ln == '#' || *ln == '\0') continue;
        size_t n = strcspn(ln, " \t");
        char *reason = ln + n;
        reason += strspn(reason, " \t");
        ln[n] = '\0';
        char *colon = strchr(ln, ':');
        if (colon) *colon = '\0';
        /* ":LINE[-LAST][,LINE[-LAST]]...": one entry per range; no colon: one for all */
        const char *p = colon ? colon + 1 : NULL;
        do {
            long line = 0, last = 0;
            if (p) {
                char *end;
                line = last = strtol(p, &end, 10);
                if (*end == '-') last = strtol(end + 1, &end, 10);
                p = *end == ',' ? end + 1 : NULL;
            }
            kiln_suite_exclusion *nv = kiln_realloc(ex->v, (ex->n + 1) * sizeof *nv);
            if (!nv) {
                rc = -1;
                break;
            }
            ex->v = nv;
            kiln_suite_exclusion *e = &nv[ex->n++];
            e->path = kiln_strdup(ln);
            e->reason = kiln_strdup(*reason ? reason : "(no reason given)");
            e->line = line;
            e->last = last;
            if (!e->path || !e->reason) rc = -1;
        } while (p && rc == 0);
        if (rc != 0) break;
    }
    if (rc != 0) fprintf(stderr, "%s: out of memory\n", path);
    kiln_buf_free(&b);
    return rc;
}

const kiln_suite_exclusion *kiln_suite_excluded(const kiln_suite_exclusions *ex, const char *name,
                                                long line)
{
    for (size_t i = 0; i < ex->n; i++) {
        const kiln_suite_exclusion *e = &ex->v[i];
        size_t n = strlen(e->path);
        int folder = n > 0 && e->path[n - 1] == '/';
        if (folder ? strncmp(e->path, name, n) != 0 : strcmp(e->path, name) != 0) continue;
        if (e->line == 0 || (line >= e->line && line <= e->last)) return e;
    }
    return NULL;
}

void kiln_suite_exclusions_free(kiln_suite_exclusions *ex)
{
    for (size_t i = 0; i < ex->n; i++) {
        kiln_free(ex->v[i].path);
        kiln_free(ex->v[i].reason);
    }
    kiln_free(ex->v);
    ex->v = NULL;
    ex->n = 0;
}

int kiln_suite_parse_args(int argc, char **argv, kiln_suite_opts *o)
{
    memset(o, 0, sizeof *o);
    o->jobs = 1;
    o->timeout = 60;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (strcmp(a, "--tier") == 0 && more) {
            o->tier = argv[++i];
        } else if (strcmp(a, "--cache-dir") == 0 && more) {
            o->cache_dir = argv[++i];
        } else if (strcmp(a, "--exclude") == 0 && more) {
            if (kiln_suite_exclusions_load(&o->excl, argv[++i]) != 0) return -1;
        } else if (strcmp(a, "-j") == 0 && more) {
            o->jobs = atoi(argv[++i]);
            if (o->jobs < 1) o->jobs = 1;
        } else if (strcmp(a, "--timeout") == 0 && more) {
            o->timeout = (unsigned)strtoul(argv[++i], NULL, 10);
        } else if (strcmp(a, "--no-fork") == 0) {
            o->no_fork = 1;
        } else if (strcmp(a, "--verbose") == 0 || strcmp(a, "-v") == 0) {
            o->verbose = 1;
        } else if (a[0] == '-' && a[1] != '\0') {
            return -1;
        } else {
            return i;
        }
    }
    return -1;
}

int kiln_suite_main(int argc, char **argv, const char *usage, kiln_suite_opts *o,
                    int (*prepare)(void *ctx), kiln_suite_file_fn fn, void *ctx,
                    kiln_suite_slot **slots, int *nfiles, kiln_suite_slot *total)
{
    memset(o, 0, sizeof *o);
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fprintf(stderr, "%s\n", usage);
        return 0;
    }
    int first = kiln_suite_parse_args(argc, argv, o);
    if (first < 0 || prepare(ctx) < 0) {
        if (first < 0) fprintf(stderr, "%s\n", usage);
        kiln_suite_exclusions_free(&o->excl);
        return 2;
    }
    *nfiles = argc - first;
    *slots = kiln_suite_run(argv + first, *nfiles, o->jobs, o->no_fork, fn, ctx);
    if (!*slots) {
        fprintf(stderr, "out of memory\n");
        kiln_suite_exclusions_free(&o->excl);
        return 2;
    }
    memset(total, 0, sizeof *total);
    for (int i = 0; i < *nfiles; i++) {
        const kiln_suite_slot *sl = &(*slots)[i];
        total->passed += sl->passed;
        total->failed += sl->failed;
        total->skipped += sl->skipped;
        total->aux += sl->aux;
    }
    return -1;
}
