/* manifest.h — the application model: a Spin manifest (version 2) loaded into C structs.
 *
 * Kiln reads the same manifest as Spin (`spin_manifest_version = 2`, see
 * ../shared/reference/spin-and-wagi.md). kiln_manifest_load() reads the TOML, checks it
 * and fills a kiln_manifest; every problem is collected (not only the first) into a
 * kiln_diags as "FILE:LINE:COL: message" lines, warnings as "FILE:LINE:COL: warning: ...".
 *
 * The model is what the rest of Kiln (the HTTP server, `kiln check`) consumes:
 *   manifest ── application metadata, app variables, base path
 *            ── triggers[]   one per [[trigger.http]] (duplicate routes already removed:
 *                            the later one wins), each naming components[component]
 *            ── components[] one per [component.ID] plus one per inline component
 * Paths are absolute (relative ones are resolved against the manifest's directory).
 * Every string is owned by the manifest and freed by kiln_manifest_free. Each trigger,
 * component and variable remembers the line:col where it was written. */
#ifndef KILN_MANIFEST_MANIFEST_H
#define KILN_MANIFEST_MANIFEST_H

#include <stddef.h>

/* A list of strings. */
typedef struct kiln_strlist {
    char **items;
    size_t len;
} kiln_strlist;

/* A list of key = value string pairs, in manifest order. */
typedef struct kiln_kv {
    char *key;
    char *value;
} kiln_kv;

typedef struct kiln_kvlist {
    kiln_kv *items;
    size_t len;
} kiln_kvlist;

/* One entry of a component's `files`: a glob pattern relative to the manifest directory
 * (with * and ** wildcards), or a {source, destination} mapping of a file or directory. */
typedef struct kiln_file_spec {
    char *pattern;     /* glob, or NULL for a mapping */
    char *source;      /* mapping: absolute host path */
    char *destination; /* mapping: absolute guest path */
    int line, col;
} kiln_file_spec;

/* One entry of a component's `dependencies` (Spin 3 component composition): the import
 * it satisfies and where the implementation comes from. `kiln up` composes the component
 * with it at load time (component/compose.h); registry packages are refused there. */
typedef struct kiln_dependency {
    char *name;     /* the import: "foo:bar/baz@1.0.0", "foo:bar" or a plain name */
    char *kind;     /* "version", "package", "path", "url" or "component" */
    char *value;    /* the version requirement, path (absolute), URL or component id */
    char *package;  /* package = "..." (NULL when not given) */
    char *registry; /* registry = "..." (NULL when not given) */
    char *export_name;
    char *digest; /* url: "sha256:..." */
    char *file;   /* url: the verified download (kiln_manifest_fetch_sources), else NULL */
    int inherit;  /* inherit_configuration: -1 not given, 0 false, 1 true, 2 a list of keys */
    kiln_strlist inherit_keys; /* the list ("allowed_outbound_hosts", "key_value_stores"...) */
    int line, col;
} kiln_dependency;

/* A named build profile of a component ([component.ID.profile.NAME], Spin 3.x): what
 * `--profile NAME` replaces. */
typedef struct kiln_profile {
    char *name;
    char *source;                     /* absolute path, or NULL: the component's own */
    char *source_url, *source_digest; /* source = { url, digest } (source NULL) */
    char *source_registry;            /* source = { registry?, package, version } */
    char *source_registry_host;       /* its `registry` (NULL: Spin's default) */
    kiln_strlist build_command;       /* empty: the component's own build */
    kiln_kvlist environment;          /* added to (and overriding) the component's */
    kiln_dependency *dependencies;    /* added to (and replacing by name) the component's */
    size_t dependencies_len;
    int line, col;
} kiln_profile;

/* A component: a Wasm module plus what it is granted. */
typedef struct kiln_component {
    char *id; /* kebab-case; "inline-component-N" for inline components */
    int line, col;
    char *description;
    char *source;        /* absolute path of the .wasm, or NULL when source_url is set */
    char *source_url;    /* { url, digest } source */
    char *source_digest; /* "sha256:..." */
    kiln_file_spec *files;
    size_t files_len;
    kiln_strlist exclude_files;          /* glob patterns, relative to the manifest dir */
    kiln_kvlist environment;             /* NAME = value */
    kiln_strlist allowed_outbound_hosts; /* "scheme://host[:port]"; legacy hosts converted */
    kiln_strlist key_value_stores;       /* store labels */
    kiln_strlist sqlite_databases;       /* database labels */
    kiln_kvlist variables;               /* name = template ("{{ app_var }}/v1") */
    kiln_strlist build_command;          /* argv-less: each item one shell command */
    char *build_workdir;                 /* absolute, or NULL */
    kiln_strlist build_watch;
    /* [component.ID.tool.kiln] (0: not set; kiln up's options apply) */
    unsigned long long request_timeout_ms;
    unsigned long long max_instance_memory; /* bytes */
    int memory_checks;                      /* 0 not set, 1 "guard", 2 "bounds" */
    /* Spin features Kiln parses but does not implement (kiln_manifest_unserved) */
    char *source_registry;      /* source = { registry?, package, version }: "package@version" */
    char *source_registry_host; /* its `registry` (NULL: Spin's default, wa.dev) */
    kiln_strlist ai_models;     /* Serverless AI models */
    kiln_strlist targets;       /* deployment target environments (informational) */
    kiln_dependency *dependencies;
    size_t dependencies_len;
    int dependencies_inherit_configuration; /* 0 when not given */
    int dependencies_inherit_given;         /* it was written (line/col below) */
    int dependencies_inherit_line, dependencies_inherit_col;
    kiln_profile *profiles;
    size_t profiles_len;
    int unused; /* kiln up -c: no trigger kept runs it, nor a dependency or middleware of
                   one: nothing of it is fetched, checked or loaded */
} kiln_component;

typedef enum kiln_executor_type {
    KILN_EXECUTOR_DEFAULT, /* not given: Spin, or WAGI for core WASI commands */
    KILN_EXECUTOR_SPIN,    /* "http" (or "spin"): wasi:http components (exec/http/) */
    KILN_EXECUTOR_WAGI,
} kiln_executor_type;

/* One [[trigger.http]]. */
typedef struct kiln_trigger {
    char *id;    /* `id` if given, else "trigger-N" */
    char *route; /* starts with '/'; NULL when is_private */
    int is_private;
    int line, col;
    long component; /* index into manifest.components, -1 for a static response */
    kiln_executor_type executor;
    char *wagi_argv;             /* WAGI: `argv` template, default "${SCRIPT_NAME} ${ARGS}" */
    char *wagi_entrypoint;       /* WAGI: default "_start" */
    int wagi_pass_authorization; /* WAGI: Kiln extension, pass HTTP_AUTHORIZATION */
    int has_static_response;
    int status_code; /* static_response: default 200 */
    kiln_kvlist static_headers;
    char *static_body; /* may be NULL */
    size_t static_body_len;
    kiln_strlist middleware; /* dependencies.middleware: component ids, or "path:FILE" /
                                "url:URL" for the other forms (for messages) */
    kiln_dependency *mw;     /* the same entries, outermost first: kind "component", "path"
                                or "url", value, digest, inherit (kiln_dependency_file) */
    size_t mw_len;
    int middleware_line, middleware_col;
} kiln_trigger;

/* A trigger of another type than HTTP ([[trigger.redis]], [[trigger.cron]], ...): its
 * component and its settings (scalars as strings: channel, address, cron_expression).
 * `kiln up` serves the Redis and cron ones (exec/trigger/); the others are reported. */
typedef struct kiln_other_trigger {
    char *type;
    char *id;
    long component; /* index into manifest.components, -1 when none */
    kiln_kvlist settings;
    int line, col;
} kiln_other_trigger;

/* [application.trigger.TYPE] settings of a trigger type other than HTTP (e.g. redis's
 * `address`), scalars as strings. */
typedef struct kiln_trigger_settings {
    char *type;
    kiln_kvlist settings;
} kiln_trigger_settings;

/* An application variable ([variables]). */
typedef struct kiln_variable {
    char *name;
    char *default_value; /* NULL when none */
    char *description;   /* NULL when none */
    int required, secret;
    int line, col;
} kiln_variable;

typedef struct kiln_manifest {
    char *path; /* the manifest file as given */
    char *dir;  /* absolute directory of the manifest */
    char *name, *version, *description;
    kiln_strlist authors;
    char *base; /* [application.trigger.http] base, default "/" */
    kiln_variable *variables;
    size_t variables_len;
    kiln_trigger *triggers;
    size_t triggers_len;
    kiln_component *components;
    size_t components_len;
    int manifest_version; /* 2, or 1 for a converted version-1 manifest */
    kiln_other_trigger *other_triggers;
    size_t other_triggers_len;
    kiln_trigger_settings *trigger_settings; /* [application.trigger.TYPE], TYPE != http */
    size_t trigger_settings_len;
} kiln_manifest;

/* Errors and warnings found while loading, in the order found. */
typedef struct kiln_diag {
    int is_warning;
    int line, col; /* where it points (diagnostics are sorted by position) */
    char *message; /* "FILE:LINE:COL: message" or "FILE:LINE:COL: warning: message" */
} kiln_diag;

typedef struct kiln_diags {
    kiln_diag *items;
    size_t len, cap;
    size_t errors, warnings;
} kiln_diags;

#define KILN_DIAGS_INIT                                                                            \
    {                                                                                              \
        NULL, 0, 0, 0, 0                                                                           \
    }

/* Reads and validates the manifest at `path`. Returns the model, or NULL when there was
 * at least one error; in both cases every error and warning is appended to *diags
 * (which the caller frees with kiln_diags_free). */
kiln_manifest *kiln_manifest_load(const char *path, kiln_diags *diags);

/* The same from text in memory: `path` names the file in messages and its directory is
 * the base of relative paths. */
kiln_manifest *kiln_manifest_load_text(const char *text, size_t len, const char *path,
                                       kiln_diags *diags);

void kiln_manifest_free(kiln_manifest *m);
void kiln_diags_free(kiln_diags *d);

/* Spin's manifest discovery. f_arg is the -f argument or NULL: a file is used as is; a
 * directory is searched for kiln.toml, then spin.toml; without -f the current directory
 * is searched the same way. On success returns 0 and sets *path_out (allocated); on
 * failure returns -1 and sets *err (allocated message). */
int kiln_manifest_find(const char *f_arg, char **path_out, char **err);

/* `kiln up -f FILE.wasm` (manifest_wasm.c): whether path names a bare Wasm file (.wasm or
 * .wat, as Spin decides), and the one-component app Spin makes of it: named after the
 * file's stem, one HTTP trigger on "/..." with the file as its inline component's source.
 * NULL with *diags as kiln_manifest_load. */
int kiln_manifest_is_wasm_file(const char *path);
kiln_manifest *kiln_manifest_from_wasm(const char *wasm_path, kiln_diags *diags);

/* Why `kiln up` cannot serve this valid manifest: one allocated message per Spin
 * feature Kiln does not implement that the app needs (component dependencies, HTTP
 * middleware, registry sources, an app with no HTTP trigger), each naming the feature
 * and where it is used. Returns the number of messages (0: servable), -1 when memory
 * ran out; the caller frees the list with kiln_strlist_free. */
long kiln_manifest_unserved(const kiln_manifest *m, kiln_strlist *out);
/* Whether `kiln up` serves triggers of a type other than HTTP ("redis", "cron":
 * exec/trigger/). */
int kiln_trigger_type_served(const char *type);
/* Whether m has a trigger `kiln up` serves (a public HTTP route, a Redis or cron trigger). */
int kiln_manifest_serves_some(const kiln_manifest *m);
void kiln_strlist_free(kiln_strlist *l);

/* Applies build profile `profile` (NULL or "": the default) to the loaded model: each
 * component that defines it gets the profile's source and environment. Returns 0, or
 * -1 with *err (static) when no component defines the profile, as Spin refuses a
 * mistyped profile name. */
int kiln_manifest_apply_profile(kiln_manifest *m, const char *profile, const char **err);

/* Keeps only the triggers (HTTP and the other types) of the n components named in ids
 * (`spin up -c`, as Spin's retain_components): the other routes then answer 404, the
 * other Redis and cron triggers do not run. Returns 0, or -1 with *bad set to the first
 * id that names no component. */
int kiln_manifest_select_components(kiln_manifest *m, const char *const *ids, size_t n,
                                    const char **bad);

/* Downloads a `{ url, digest }` file once into the download cache (source_fetch.c),
 * verified against digest ("sha256:HEX"); `what` names it in messages ("component `x`").
 * 0 with *path_out (allocated: the cached file), or -1 with *err (allocated) naming what,
 * the URL and, on a mismatch, the expected and actual digests. */
int kiln_source_fetch(const char *what, const char *url, const char *digest, char **path_out,
                      char **err);
/* Fetches every url source of m (components' `source = { url, digest }`, which then get
 * `source` set to the cached file, and url dependencies: their `file`). 0, or -1 with *err
 * (allocated). */
int kiln_manifest_fetch_sources(kiln_manifest *m, char **err);

/* The component file dependency d of component c is loaded from (a path, a url's cached
 * download, another component's source), or NULL with *why (static text) when Kiln
 * cannot get it: a registry package ("not supported yet"). */
const char *kiln_dependency_file(const kiln_manifest *m, const kiln_dependency *d,
                                 const char **why);
/* What dependency d of c (c NULL: a middleware entry) gets of the component's
 * configuration: 1 all, 0 none, 2 the capability sets named in d->inherit_keys (Spin's
 * keys: ai_models, allowed_outbound_hosts, environment, files, key_value_stores,
 * sqlite_databases, variables). Its own `inherit_configuration` when given, else the
 * component's `dependencies_inherit_configuration`. */
int kiln_dependency_inherits(const kiln_component *c, const kiln_dependency *d);

/* The component with this id, or NULL. */
const kiln_component *kiln_manifest_component(const kiln_manifest *m, const char *id);

/* Checks one allowed_outbound_hosts entry: "scheme://host[:port]" where scheme, host
 * (or a leading "*." label) and port may be "*", the port may be a range "a..b", and
 * "{{ var }}" templates are allowed. Returns 1 when valid; else 0 and, when why is not
 * NULL, a static explanation. */
int kiln_outbound_host_valid(const char *entry, const char **why);

/* A read-only mount the server gives a component: host_path appears at guest_path. */
typedef struct kiln_mount {
    char *host_path;  /* absolute */
    char *guest_path; /* absolute, '/'-separated */
    int is_dir;
} kiln_mount;

/* Resolves a component's `files` into mounts. A {source, destination} mapping becomes
 * one mount (a directory or a file). A glob is matched against the files below the
 * manifest directory ("*" within one path segment, "**" across segments, "?" and [...]
 * as in fnmatch), and every match not excluded by exclude_files becomes a file mount at
 * the same relative path under "/". Returns 0 and an allocated array (free with
 * kiln_mounts_free), or -1 with *err set (allocated) when a mapping's source is missing,
 * a directory cannot be read or memory runs out. */
int kiln_component_mounts(const kiln_manifest *m, const kiln_component *c, kiln_mount **out,
                          size_t *n_out, char **err);
void kiln_mounts_free(kiln_mount *mounts, size_t n);

/* Glob matching used by kiln_component_mounts: 1 when the '/'-separated relative path
 * matches pattern. */
int kiln_glob_match(const char *pattern, const char *path);

#endif
