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
void man_trigger_free(kiln_trigger *t);

/* manifest_load.c */
void man_load_components(loader *L, const kiln_toml_value *root);
void man_load_triggers(loader *L, const kiln_toml_value *root);
void man_cross_check(loader *L);

#endif
