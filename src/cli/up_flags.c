/* up_flags.c — `spin up`'s application options for `kiln up` (see up_flags.h).
 *
 * What each means in Kiln:
 *   -c, --component-id ID  serve only the routes of these components (repeatable); the
 *                          others answer 404, as with Spin
 *   --profile NAME         run the components' [component.ID.profile.NAME] source and
 *                          environment (with --build: build that profile first)
 *   --disable-pooling      accepted: Kiln gives every request a fresh instance already
 *                          (its pool holds ready-made memory images, never reused state)
 *   --follow ID, --follow-all
 *                          accepted: Kiln shows the output of every component on its
 *                          own stderr, so all of them are followed already
 *   -L, --log-dir DIR      guest output to DIR/COMPONENT_stdout.txt and _stderr.txt
 *                          (exec/guest_log.h) instead of kiln's stderr; "": no files
 *   --direct-mounts        accepted: Kiln mounts `files` directories directly already
 * Environment (when the option is not given): SPIN_HTTP_LISTEN_ADDR (--listen),
 * SPIN_TLS_CERT / SPIN_TLS_KEY, RUNTIME_CONFIG_FILE, SPIN_ALWAYS_BUILD (--build);
 * SPIN_LOG_DIR is noted as ignored (a leftover of Spin's environment is no reason to
 * refuse). */
#include "cli/up_flags.h"
#include "util/alloc.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

int kiln_up_flag(kiln_up_flags *f, const char *a, const char *val)
{
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
    if (strcmp(a, "--follow-all") == 0 || strcmp(a, "--direct-mounts") == 0) return 1;
    if (strcmp(a, "--follow") == 0 && val) return 2;
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

void kiln_up_flags_env(const char **listen, const char **tls_cert, const char **tls_key,
                       const char **runtime_config_file, int *build)
{
    if (!*listen) *listen = env("SPIN_HTTP_LISTEN_ADDR");
    if (!*tls_cert) *tls_cert = env("SPIN_TLS_CERT");
    if (!*tls_key) *tls_key = env("SPIN_TLS_KEY");
    if (!*runtime_config_file) *runtime_config_file = env("RUNTIME_CONFIG_FILE");
    const char *b = env("SPIN_ALWAYS_BUILD");
    /* clap's boolish values */
    if (!*build && b &&
        (strcmp(b, "1") == 0 || strcasecmp(b, "true") == 0 || strcasecmp(b, "yes") == 0 ||
         strcasecmp(b, "on") == 0 || strcasecmp(b, "y") == 0 || strcasecmp(b, "t") == 0))
        *build = 1;
}

int kiln_up_flags_apply(const kiln_up_flags *f, kiln_manifest *m)
{
    const char *log_dir = getenv("SPIN_LOG_DIR");
    /* an environment left over from Spin is not a reason to refuse: say it is ignored */
    if (log_dir && *log_dir)
        fprintf(stderr,
                "note: SPIN_LOG_DIR=%s is ignored: pass --log-dir for component log "
                "files\n",
                log_dir);
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
    kiln_strlist why = {0};
    long n = kiln_manifest_unserved(m, &why);
    for (size_t i = 0; i < why.len; i++)
        fprintf(stderr, "error: %s\n", why.items[i]);
    if (n < 0) fprintf(stderr, "error: out of memory\n");
    kiln_strlist_free(&why);
    return n == 0 ? 0 : -1;
}

void kiln_up_flags_free(kiln_up_flags *f)
{
    kiln_free(f->components);
    f->components = NULL;
    f->ncomponents = 0;
}

void kiln_up_flags_usage(FILE *out)
{
    fprintf(out, "  -c, --component-id ID      serve only this component's routes (repeatable);\n"
                 "                             the others answer 404\n"
                 "      --profile NAME         use the components' build profile NAME (source,\n"
                 "                             environment; with --build, its build command)\n"
                 "      --disable-pooling      accepted: every request already gets a fresh\n"
                 "                             instance\n"
                 "      --follow ID, --follow-all  accepted: every component's output is shown\n"
                 "  -L, --log-dir DIR          guest output to DIR/COMPONENT_stdout.txt and\n"
                 "                             DIR/COMPONENT_stderr.txt instead of kiln's stderr\n"
                 "                             (\"\": no files)\n"
                 "      --direct-mounts        accepted: `files` directories are mounted directly\n"
                 "environment: SPIN_HTTP_LISTEN_ADDR, SPIN_TLS_CERT, SPIN_TLS_KEY,\n"
                 "  RUNTIME_CONFIG_FILE, SPIN_ALWAYS_BUILD (as the options); SPIN_LOG_DIR is\n"
                 "  ignored (noted)\n");
}
