/* compose.h — component dependencies (Spin 3 `[component.ID.dependencies]`): a component
 * whose imports are satisfied by other components' exports, linked at load time by Kiln's
 * own runtime (no composed binary is written, no external tool runs).
 *
 * Design. A kiln_compose_spec names the main component's file and its dependencies, each
 * with the manifest's dependency name, the dependency's component file, an optional export
 * name and whether it inherits the main component's configuration. Resolution
 * (kiln_compose_resolve, pure, as Spin's crates/compose): every dependency name is matched
 * against every import of the main component —
 *   "ns:pkg/iface@1.2.3"  that exact import
 *   "ns:pkg/iface"        that interface, with or without a version
 *   "ns:pkg"              every interface of the package ("ns:pkg@1.2.3": of that version)
 *   "plain-name"          the import named exactly so
 * — a dependency that matches no import is an error, and so is an import matched by two
 * dependencies. The import is then satisfied by the dependency's export of the same name,
 * or of the name given by `export = "..."` (else a semver-compatible version of it); the
 * export must exist and every function of the import must be one of the export's with the
 * same type.
 *
 * Loading (kiln_component_load_composed) loads each dependency as a component (its own
 * imports checked against the host), the main one with only its unsatisfied imports
 * checked, and keeps the dependencies in the main component's kiln_loaded_component.
 * Instantiation (link.c) instantiates every dependency, in the same instance graph, before
 * the main component, and gives the main component the dependency's exported instance for
 * each satisfied import — so images (image.c) copy the whole graph. A dependency's own
 * imports go to the host: with the depending component's grants when it inherits the
 * configuration, else with deny-all grants (no environment, arguments, files, outbound
 * hosts, stores or databases; stdio kept), as Spin's deny adapter. */
#ifndef KILN_COMPONENT_COMPOSE_H
#define KILN_COMPONENT_COMPOSE_H

#include <stddef.h>

struct kiln_compose_spec;

/* What a dependency inherits of the depending component's configuration: Spin's capability
 * sets (spin_capabilities), one bit each. A denied set's host interfaces answer as Spin's
 * deny adapter does: no environment, no preopens, outbound HTTP refused, and the Spin APIs'
 * stores, databases, variables and models not granted. */
enum {
    KILN_INHERIT_AI_MODELS = 1,
    KILN_INHERIT_OUTBOUND = 2, /* allowed_outbound_hosts */
    KILN_INHERIT_ENVIRONMENT = 4,
    KILN_INHERIT_FILES = 8,
    KILN_INHERIT_KEY_VALUE = 16,
    KILN_INHERIT_SQLITE = 32,
    KILN_INHERIT_VARIABLES = 64,
    KILN_INHERIT_ALL = 127,
};

/* The bit of a capability set by its manifest key ("allowed_outbound_hosts",
 * "key_value_stores", ...), 0 for an unknown one (Spin ignores those). */
int kiln_compose_inherit_key(const char *key);
/* The capability set a host interface belongs to ("wasi:cli/environment@0.2.0" ->
 * KILN_INHERIT_ENVIRONMENT), 0 when it is granted to every dependency (wasi:io, clocks,
 * random, the wasi:http types, ...). */
int kiln_compose_capability(const char *import_name);

typedef struct kiln_compose_dep {
    char *name;        /* the dependency name as written in the manifest */
    char *path;        /* the dependency's component file */
    char *export_name; /* NULL: the import's own name */
    int inherit;       /* KILN_INHERIT_* bits it gets of the component's grants (0: deny-all) */
    struct kiln_compose_spec *sub; /* the dependency's own dependencies (owned), or NULL */
    int link;                      /* a middleware chain's link (below): name is not matched */
} kiln_compose_dep;

/* HTTP middleware (Spin's `dependencies.middleware`) is a chain of such specs: middleware
 * i is loaded with one dependency, a `link`, which is middleware i + 1, and the last one's
 * is the trigger's component (with its own dependencies as `sub`). A link satisfies the
 * middleware's HTTP handler import: wasi:http/handler@0.3.x (Spin 3/4's form: the
 * middleware exports and imports the p3 handler, and so must the next component, as
 * Spin's composition requires the same interface all along the chain) or, Kiln's WASI 0.2
 * form, wasi:http/incoming-handler@0.2.x. The request goes in at the first one, which
 * answers itself or passes the request (and in 0.2 the response-outparam) to the next
 * one's handle. The outermost component of such a chain is a middleware: deny_self denies
 * it what its entry does not inherit. */
typedef struct kiln_compose_spec {
    kiln_compose_dep *deps;
    size_t ndeps;
    int deny_self; /* KILN_INHERIT_* bits denied to the component this spec loads (0: none) */
} kiln_compose_spec;

/* Adds a dependency (strings copied; export_name may be NULL). 0, or -1 out of memory. */
int kiln_compose_spec_add(kiln_compose_spec *s, const char *name, const char *path,
                          const char *export_name, int inherit);
/* Builds the middleware chain in front of the component at path (with its dependencies
 * inner, may be NULL): n middleware files, outermost first, inherit[i] (KILN_INHERIT_*
 * bits) for each. The
 * result loads middleware[0] (kiln_component_load_composed(mw[0], chain)). NULL out of
 * memory. */
kiln_compose_spec *kiln_compose_chain(const char *path, const kiln_compose_spec *inner,
                                      const char *const *mw, const int *inherit, size_t n);
/* A deep copy, or NULL out of memory. */
kiln_compose_spec *kiln_compose_spec_dup(const kiln_compose_spec *s);
/* Frees what s owns, and s itself when `self` is set. */
void kiln_compose_spec_free(kiln_compose_spec *s, int self);

/* 1 if dependency name `dep` (a manifest key) satisfies the import `import` (Spin's
 * matching, above); 0 if not, -1 when dep is not a valid dependency name. */
int kiln_compose_match(const char *dep, const char *import);

/* Resolves n imports (names) against the spec: which[i] = the dependency index satisfying
 * import i, or -1 (the host). 0, or -1 with a message in err (a dependency matching no
 * import, an import matched twice); `id` names the component in messages. */
int kiln_compose_resolve(const kiln_compose_spec *s, const char *id, const char *const *imports,
                         size_t n, long *which, char *err, size_t errcap);

/* Loading a component with its dependencies: kiln_component_load_composed (instance.h;
 * this header stays free of the component model's types so that code holding a manifest
 * model can build a spec). */

#endif
