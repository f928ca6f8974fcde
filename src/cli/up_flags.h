/* up_flags.h — the `spin up` options of `kiln up` that concern the application rather
 * than the server (up_flags.c): -c/--component-id, --profile, --disable-pooling,
 * --log-dir, --truncate-logs, --follow, --follow-all, --direct-mounts, Spin's options
 * without meaning in Kiln (accepted, noted), and the environment variables Spin reads for
 * its options (SPIN_HTTP_LISTEN_ADDR, SPIN_TLS_CERT, SPIN_TLS_KEY, RUNTIME_CONFIG_FILE,
 * SPIN_ALWAYS_BUILD, SPIN_LOG_DIR, SPIN_MAX_INSTANCE_MEMORY). up.c hands every
 * option it does not know to kiln_up_flag() and calls kiln_up_flags_apply() once the manifest is
 * loaded. */
#ifndef KILN_CLI_UP_FLAGS_H
#define KILN_CLI_UP_FLAGS_H

#include "manifest/manifest.h"

#include <stddef.h>
#include <stdio.h>

typedef struct kiln_up_flags {
    const char **components; /* -c IDs (argv strings), ncomponents of them */
    size_t ncomponents;
    const char *profile;           /* --profile NAME, or NULL */
    int disable_pooling;           /* accepted: every request already gets a fresh instance */
    const char *log_dir;           /* --log-dir DIR: guest output to files there (exec/guest_log.h);
                                      NULL or "": to kiln's stderr */
    int truncate_logs;             /* --truncate-logs: empty the log_dir files at start */
    size_t reuse_count;            /* --max-instance-reuse-count (0: not given, 1) */
    size_t concurrent_reuse_count; /* --max-instance-concurrent-reuse-count (0: 16) */
    unsigned long long idle_timeout_ns; /* --idle-instance-timeout, when idle_timeout_set */
    int idle_timeout_set;
    const char **follow; /* --follow IDs (argv strings), nfollow of them */
    size_t nfollow;
    int follow_all; /* --follow-all */
} kiln_up_flags;

/* Whether component id's output reaches the terminal: 1 followed (--follow ID or
 * --follow-all), 0 not (other --follow IDs given), -1 neither option given (Kiln's
 * default: the terminal without --log-dir, the files only with it). */
int kiln_up_flags_follows(const kiln_up_flags *f, const char *id);

/* Handles option `a` (with the next argument `val`, NULL at the end). Returns the number
 * of arguments used (1 or 2), 0 when `a` is not one of these options, -1 after printing
 * a usage error. */
int kiln_up_flag(kiln_up_flags *f, const char *a, const char *val);

/* Before the command line is read (its options override): the defaults Spin's
 * environment gives (SPIN_MAX_INSTANCE_MEMORY, in bytes). 0, or -1 after printing why. */
int kiln_up_flags_env_defaults(unsigned long long *max_instance_memory);

/* Fills what the command line left unset from Spin's environment variables: the listen
 * address, TLS files, runtime config file, --build and f's log directory. */
void kiln_up_flags_env(kiln_up_flags *f, const char **listen, const char **tls_cert,
                       const char **tls_key, const char **runtime_config_file, int *build);

/* After loading: applies --profile and -c to m, checks --follow's IDs, then refuses (one message
 * per missing feature, on stderr) an app that needs a Spin feature Kiln does not implement. Returns
 * 0, or -1 after printing why. */
int kiln_up_flags_apply(const kiln_up_flags *f, kiln_manifest *m);

void kiln_up_flags_free(kiln_up_flags *f);

/* The help text of these options. */
void kiln_up_flags_usage(FILE *out);

#endif
