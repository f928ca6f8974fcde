/* grants.h — what one component may use of the application's stores and variables, as
 * app.c resolved them (design: spin.h). */
#ifndef KILN_HOST_SPIN_GRANTS_H
#define KILN_HOST_SPIN_GRANTS_H

#include <stddef.h>

#include "host/spin/kv_sqlite.h"
#include "host/spin/sqlite_db.h"

typedef struct spin_component spin_component; /* app.c */

/* A component's resolved variable (name → value). */
typedef struct spin_var {
    char *name;
    char *value;
} spin_var;

/* What app.c exposes to the host functions about one component. */
const spin_component *spin_app_component(const char *id);
/* The database serving label (len bytes) for c, and the label as a C string in *name: 1 found, 0
 * granted but not configured, -1 not granted. */
int spin_component_store(const spin_component *c, const char *label, size_t len, kiln_kvs **db,
                         const char **name);
/* The SQLite database serving label for c: 1 found, 0 granted but not configured, -1 not
 * granted. */
int spin_component_sqlite(const spin_component *c, const char *label, size_t len, kiln_sqldb **db);
const spin_var *spin_component_vars(const spin_component *c, size_t *n);
const char *spin_component_id(const spin_component *c);

/* NULL if name is a valid variable name (Spin: lowercase ASCII letters, digits and single
 * '_' between them, starting with a letter, ending with a letter or digit); else a static
 * reason. (template.c) */
const char *kiln_spin_name_invalid(const char *name, size_t len);

/* Registers the "spin" provider with the component host registry (once). 0 or -1. (kv.c) */
int kiln_spin_register(void);

#endif
