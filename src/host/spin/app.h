/* app.h — what `kiln up` uses of Spin's host APIs: the runtime config file, variable
 * templates and providers, and the application's resolved stores and variables (design:
 * spin.h). */
#ifndef KILN_HOST_SPIN_APP_H
#define KILN_HOST_SPIN_APP_H

#include <stddef.h>

#include "host/spin/grants.h"
#include "manifest/manifest.h"

/* ---- templates and variable names (template.c) ---- */

/* Looks a variable up for kiln_spin_template_render: its value, or NULL when unknown. */
typedef const char *(*kiln_spin_lookup_fn)(void *arg, const char *name, size_t len);

/* Renders template "lit{{ name }}lit..." (names trimmed of spaces) with lookup. Returns a
 * kiln_malloc'd string, or NULL with *err (kiln_malloc'd: an unclosed "{{", an unknown name,
 * or out of memory). */
char *kiln_spin_template_render(const char *tmpl, kiln_spin_lookup_fn lookup, void *arg,
                                char **err);

/* ---- the runtime config file (runtime_config.c) ---- */

typedef struct kiln_spin_kv_cfg {
    char *label;
    char *path; /* absolute; NULL: in memory */
    char *url;  /* key-value type "redis": its url (path unused) */
} kiln_spin_kv_cfg;

typedef struct kiln_spin_var_provider {
    int is_env;   /* 1: environment with prefix; 0: static values */
    char *prefix; /* env: default SPIN_VARIABLE */
    kiln_kvlist values;
} kiln_spin_var_provider;

typedef struct kiln_spin_runtime_config {
    char *state_dir; /* absolute, NULL: not set; "" : unset (stores in memory) */
    kiln_spin_kv_cfg *stores;
    size_t nstores;
    kiln_spin_kv_cfg *sqlite; /* [sqlite_database.LABEL] type = "spin" */
    size_t nsqlite;
    kiln_spin_var_provider *providers;
    size_t nproviders;
    int outbound_limited;  /* [outbound_http] gave a limit: */
    unsigned outbound_max; /* each component's concurrent outbound requests */
} kiln_spin_runtime_config;

/* Reads a runtime config file (Spin's format; relative paths against its directory).
 * Keys Kiln does not serve yet are reported as warnings on stderr. 0, or -1 with *err. */
int kiln_spin_runtime_config_load(const char *path, kiln_spin_runtime_config *rc, char **err);
void kiln_spin_runtime_config_free(kiln_spin_runtime_config *rc);

/* ---- the application (app.c, providers.c) ---- */

typedef struct kiln_spin_options {
    const char *state_dir;           /* --state-dir; NULL: the runtime config's, else
                                        MANIFEST_DIR/.kiln */
    const char *runtime_config_file; /* NULL: none */
    /* --variable NAME=VALUE or NAME=@FILE (the file's contents), before every provider */
    const char *const *variables;
    size_t nvariables;
    /* --key-value KEY=VALUE: set in the default store at start */
    const char *const *key_values;
    size_t nkey_values;
    /* --sqlite STATEMENT (run on the default database) or @FILE[:LABEL] (a script run on
     * LABEL, default "default"), in order, before serving (Spin's flag) */
    const char *const *sqlite_statements;
    size_t nsqlite_statements;
    /* The environment lookup (getenv when NULL), for tests. */
    const char *(*getenv_fn)(const char *name);
} kiln_spin_options;

typedef struct kiln_spin_app kiln_spin_app;

/* Resolves what every component of m may use: opens the stores and SQLite databases its
 * components are granted (creating the state directory), resolves every variable, seeds
 * the default store with o->key_values, runs o->sqlite_statements, resolves the templates of
 * allowed_outbound_hosts. NULL with *err (a required variable without a value, a template
 * that does not resolve to a valid entry, a granted label not configured, a file that cannot be
 * opened, a bad runtime config). */
kiln_spin_app *kiln_spin_app_new(const kiln_manifest *m, const kiln_spin_options *o, char **err);
void kiln_spin_app_free(kiln_spin_app *a);
/* Makes a the application instance contexts see (NULL: none); registers the provider on
 * first use; sets the runtime config's limit on each component's concurrent outbound HTTP
 * requests (host/wasihttp). Call before components load and while no instance runs. 0 or
 * -1. */
int kiln_spin_app_install(kiln_spin_app *a);
/* One line for the startup log about component id's stores ("default at PATH"), or NULL
 * when it has none (static storage until the next call). */
const char *kiln_spin_app_describe(const kiln_spin_app *a, const char *id);

/* Component id's allowed_outbound_hosts with their "{{ variable }}" templates resolved
 * (entries that resolve empty dropped, as Spin does); *n of them. Valid while a lives.
 * What the instances of id are granted (kiln_grants.allowed_outbound_hosts). */
const char *const *kiln_spin_app_outbound(const kiln_spin_app *a, const char *id, size_t *n);

/* Resolves the application variables of m into values[i] (kiln_malloc'd, NULL when none and
 * not required), in m->variables order. -1 with *err naming a required variable without a
 * value. (providers.c) */
int kiln_spin_vars_resolve(const kiln_manifest *m, const kiln_spin_runtime_config *rc,
                           const char *(*getenv_fn)(const char *), char ***values, char **err);

#endif
