/* suite.h — what the runners of external test suites share (src/tools/spec_runner.c for
 * the core spec tests, src/tools/component_spec_runner.c for the component-model ones).
 *
 * Files run in forked children, up to `jobs` at once, each counting into a slot in memory
 * shared with the parent: an engine crash or a hang (a runner arms alarm() per command)
 * costs that file, not the run, and the commands the child did not reach count as failed.
 *
 * Exclusion lists are text files of lines "PATH[:LINES]  reason" ('#' starts a comment
 * line): PATH names a file as the runner names it ("values/strings.wast",
 * "skip-stack-guard-page.wast"), or a folder when it ends in '/'; without ":LINES" every
 * command of it is meant, otherwise the commands on LINES: "12", "12-40", "12,17,30-33". */
#ifndef KILN_UTIL_SUITE_H
#define KILN_UTIL_SUITE_H

#include <stddef.h>

/* The counters of one file, in shared memory. */
typedef struct kiln_suite_slot {
    long total;                   /* commands in the file (-1 until the runner knows) */
    long passed, failed, skipped; /* skipped: for any reason */
    long aux;                     /* a count of the runner's own (it says what) */
    long line;                    /* line of the command being run, for crash reports */
    char name[128];               /* the file's name in reports (the path until set) */
} kiln_suite_slot;

/* Runs one file, counting into slot; returns the child's exit status (0: ran). */
typedef int (*kiln_suite_file_fn)(void *ctx, const char *path, kiln_suite_slot *slot);

/* Runs fn(ctx, files[i], &slots[i]) for every file, each in a child process of its own, at
 * most `jobs` at once (no_fork: one after the other in this process, for debuggers). A
 * child that exits non-zero or is killed gets its unreached commands (at least one)
 * counted as failed, with a line on stderr naming the signal (SIGALRM: "timeout") and the
 * line it was at. Returns the slots (free with kiln_suite_free), NULL when out of memory. */
kiln_suite_slot *kiln_suite_run(char *const *files, int nfiles, int jobs, int no_fork,
                                kiln_suite_file_fn fn, void *ctx);
void kiln_suite_free(kiln_suite_slot *slots, int nfiles);

typedef struct kiln_suite_exclusion {
    char *path;      /* a file's name, or a folder ending in '/' */
    long line, last; /* the lines line..last; line 0: every command */
    char *reason;    /* never NULL */
} kiln_suite_exclusion;

typedef struct kiln_suite_exclusions {
    kiln_suite_exclusion *v;
    size_t n;
} kiln_suite_exclusions;

/* Adds the entries of the list in file `path` to *ex (zeroed first by the caller).
 * 0, or -1 with a message on stderr. */
int kiln_suite_exclusions_load(kiln_suite_exclusions *ex, const char *path);
/* The first entry covering command `line` of file `name` (line 0: only entries for every
 * command), or NULL. */
const kiln_suite_exclusion *kiln_suite_excluded(const kiln_suite_exclusions *ex, const char *name,
                                                long line);
void kiln_suite_exclusions_free(kiln_suite_exclusions *ex);

/* The options both runners take: [--tier T] [--cache-dir D] [--exclude F]... [-j N]
 * [--timeout S] [--no-fork] [--verbose|-v] FILE... */
typedef struct kiln_suite_opts {
    const char *tier;      /* NULL unless given (the runner parses it) */
    const char *cache_dir; /* NULL unless given */
    int verbose, jobs, no_fork;
    unsigned timeout; /* seconds per command (default 60) */
    kiln_suite_exclusions excl;
} kiln_suite_opts;

/* Parses the options into *o (defaults first: 1 job, 60 s); returns the index of the first
 * file in argv, or -1 (usage error, or an exclusion list that cannot be read: message on
 * stderr). Free o->excl with kiln_suite_exclusions_free. */
int kiln_suite_parse_args(int argc, char **argv, kiln_suite_opts *o);

/* A runner's main up to the report: parses the options into *o ("--help" alone: the usage
 * line on stderr), lets prepare(ctx) take what it needs from them (-1: refuse, after its
 * own message), runs every file (kiln_suite_run) and sums the slots into *total. Returns
 * -1 when the files ran (*slots, *nfiles, *total set; the caller reports, then frees the
 * slots and o->excl), otherwise the exit status to end with (o->excl freed). */
int kiln_suite_main(int argc, char **argv, const char *usage, kiln_suite_opts *o,
                    int (*prepare)(void *ctx), kiln_suite_file_fn fn, void *ctx,
                    kiln_suite_slot **slots, int *nfiles, kiln_suite_slot *total);

#endif
