/* cli.h — the kiln command's subcommands. Each takes argv with argv[0] = its name and
 * returns the process exit status. */
#ifndef KILN_CLI_CLI_H
#define KILN_CLI_CLI_H

#include <stddef.h>
#include <stdio.h>

#include "util/buf.h"

int kiln_cmd_run(int argc, char **argv);
int kiln_cmd_compile(int argc, char **argv);
int kiln_cmd_check(int argc, char **argv);
int kiln_cmd_up(int argc, char **argv);
int kiln_cmd_build(int argc, char **argv);
int kiln_cmd_watch(int argc, char **argv);
int kiln_cmd_new(int argc, char **argv);
int kiln_cmd_templates(int argc, char **argv);
int kiln_cmd_inspect(int argc, char **argv);
int kiln_cmd_registry(int argc, char **argv);

/* Pulls the app `reference` (REGISTRY/REPO[:TAG][@DIGEST]) into cache_dir/oci (NULL: the
 * default cache directory) with the stored credentials (registry.c). Returns 0 with
 * *app_dir (allocated) its directory, or -1 after printing why to stderr. */
int kiln_registry_fetch_app(const char *reference, int insecure, const char *ca,
                            const char *cache_dir, char **app_dir);
int kiln_cmd_bench(int argc, char **argv);
int kiln_cmd_image(int argc, char **argv);
int kiln_cmd_kube(int argc, char **argv);

/* The runtime config (Spin's TOML) of the stores m's components use (kube.c): with
 * redis_url, every key-value store label on that Redis (what replicas share); with NULL,
 * every key-value store and SQLite database label in memory (what `kiln image build`
 * links the components against). Labels and URL written as TOML basic strings. Appended
 * to b; 0 or -1 (out of memory). */
struct kiln_manifest;
int kiln_kube_runtime_config(kiln_buf *b, const struct kiln_manifest *m, const char *redis_url);

/* Runs the build commands of the components of the manifest at manifest_path (build.c):
 * every component, or only the n_only ids in `only` (NULL/0: all). Each command runs
 * with /bin/sh -c in the component's workdir; its output is streamed to `out`, every
 * line prefixed "[ID] ". Stops at the first failing command. Returns 0, or -1 after
 * printing to stderr which component failed and its exit status. It reads only the
 * [component.ID.build] tables, so it works before the sources exist: call it before
 * kiln_manifest_load (which insists that every source file exists). */
int kiln_build_app(const char *manifest_path, const char *const *only, size_t n_only, FILE *out);
/* The same for build profile `profile` (NULL: the default): a component's
 * [component.ID.profile.NAME.build] command replaces its own where it has one. */
int kiln_build_app_profile(const char *manifest_path, const char *const *only, size_t n_only,
                           const char *profile, FILE *out);

/* Components (run_component.c): 1 if the file starts with a component's preamble; run a
 * command component (exports wasi:cli/run) with these grants and time limit (0: none) and
 * return the exit status;
 * compile one into the cache and print a line about it (0 or 1). */
struct kiln_compile_opts;
struct kiln_grants;
int kiln_cli_is_component_file(const char *path);
int kiln_run_component(const char *path, const struct kiln_compile_opts *opts,
                       const struct kiln_grants *g, unsigned long long timeout_ms);
int kiln_compile_component(const char *path, const struct kiln_compile_opts *opts);

/* The exit status of `kiln run` for a guest that ended with trap t (run.c): the guest's
 * own exit code for proc_exit / wasi:cli/exit, else 134 after "error: trap: ..." on
 * stderr (stdout flushed first, so the guest's output comes before it). */
struct kiln_trap;
int kiln_cli_trap_status(const struct kiln_trap *t);

#include "util/units.h" /* kiln_parse_size, kiln_parse_duration_ms */

#endif
