/* manifest_internal.h — what the files of the manifest loader share (manifest.c: the
 * driver, diagnostics and typed getters; manifest_load.c: components and triggers;
 * manifest_files.c: discovery, outbound hosts, file mounts). Not a public API. */
#ifndef KILN_MANIFEST_MANIFEST_INTERNAL_H
#define KILN_MANIFEST_MANIFEST_INTERNAL_H

#include "manifest/manifest.h"
#include "manifest/toml.h"

/* State of one load. */
typedef struct loader {
    kiln_manifest *m;
    kiln_diags *diags;
    const char *file; /* manifest path as given, for messages */
    int failed;       /* at least one error */
    int oom;
} loader;

void man_error(loader *L, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void man_warning(loader *L, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void man_oom(loader *L);

/* The closest candidate to word by edit distance, or NULL when none is close. */
const char *man_suggest(const char *word, const char *const *candidates);
/* Reports every key of table t that is not in the NULL-terminated list `allowed`. */
void man_check_keys(loader *L, const kiln_toml_value *t, const char *const *allowed,
                    const char *where);
const char *man_a_type(const kiln_toml_value *v);
int man_get_string(loader *L, const kiln_toml_value *t, const char *key, const char *where,
                   char **out);
int man_get_strlist(loader *L, const kiln_toml_value *t, const char *key, const char *where,
                    int allow_single, kiln_strlist *list);
int man_get_kvlist(loader *L, const kiln_toml_value *t, const char *key, const char *where,
                   kiln_kvlist *kv);
int man_strlist_add(loader *L, kiln_strlist *list, const char *s);
void man_strlist_free(kiln_strlist *l);
void man_kvlist_free(kiln_kvlist *kv);
char *man_abs_path(loader *L, const char *rel);
/* Reads a `source` that is not a path into c: { url, digest } (c->source_url and
 * c->source_digest) or { registry?, package, version } (c->source_registry); anything
 * else is an error naming c->id. */
void man_load_source_table(loader *L, kiln_component *c, const kiln_toml_value *v);
void man_trigger_free(kiln_trigger *t);

/* manifest_load.c */
/* Spin's component ids: lowercase letters and digits in words joined by single '-'. */
int man_is_kebab(const char *s);
long man_load_component(loader *L, const char *id, const kiln_toml_value *t, int line, int col,
                        int v1);
void man_trigger_component(loader *L, long *out, const kiln_toml_value *tt, size_t index);
void man_load_components(loader *L, const kiln_toml_value *root);
/* Appends an HTTP trigger read from a version-1 [component.trigger] table tt (`route`,
 * `executor`) for component index `component`; NULL when memory ran out. */
kiln_trigger *man_add_http_trigger(loader *L, const kiln_toml_value *tt, long component,
                                   const char *id);
void man_load_triggers(loader *L, const kiln_toml_value *root);
void man_cross_check(loader *L);

/* manifest.c */
void man_load_variables(loader *L, const kiln_toml_value *root);

/* manifest_spin3.c: dependencies, profiles, middleware, other trigger types */
void man_load_spin3_component(loader *L, kiln_component *c, const kiln_toml_value *t);
void man_load_trigger_spin3(loader *L, kiln_trigger *t, const kiln_toml_value *tt);
void man_load_other_triggers(loader *L, const kiln_toml_entry *e);
void man_load_trigger_settings(loader *L, const kiln_toml_entry *e);
void man_spin3_component_free(kiln_component *c);
void man_check_dependencies(loader *L);
/* Frees n dependencies and the array; one dependency's strings. */
void man_dependencies_free(kiln_dependency *d, size_t n);
void man_dependencies_free_one(kiln_dependency *d);
void man_spin3_manifest_free(kiln_manifest *m);

/* manifest_v1.c: a version-1 manifest converted as Spin converts it */
void man_load_v1(loader *L, const kiln_toml_value *root);

#endif
