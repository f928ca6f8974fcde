/* providers.c — application variables resolved at start by Spin's providers: the runtime
 * config's static and env providers in order, then SPIN_VARIABLE_<NAME>, then the
 * default (app.h). */
#include "host/spin/app.h"
#include "util/alloc.h"
#include "util/buf.h"

#include <stdlib.h>
#include <string.h>

/* "PREFIX_NAME" with NAME upper-cased (Spin's env provider; no '_' after an empty
 * prefix); kiln_malloc'd or NULL. */
static char *env_name(const char *prefix, const char *name)
{
    kiln_buf b = KILN_BUF_INIT;
    if (kiln_buf_printf(&b, "%s%s", prefix, *prefix ? "_" : "") < 0) goto oom;
    for (const char *p = name; *p; p++)
        if (kiln_buf_putc(&b, *p >= 'a' && *p <= 'z' ? (char)(*p - 'a' + 'A') : *p) < 0) goto oom;
    return kiln_buf_steal(&b);
oom:
    kiln_buf_free(&b);
    return NULL;
}

/* The value of name from one provider (borrowed), NULL when it has none; *oom on failure. */
static const char *from_provider(const kiln_spin_var_provider *p, const char *name,
                                 const char *(*get)(const char *), int *oom)
{
    if (!p->is_env) {
        for (size_t i = 0; i < p->values.len; i++)
            if (strcmp(p->values.items[i].key, name) == 0) return p->values.items[i].value;
        return NULL;
    }
    char *env = env_name(p->prefix, name);
    if (!env) {
        *oom = 1;
        return NULL;
    }
    const char *v = get(env);
    kiln_free(env);
    return v;
}

static const char *plain_getenv(const char *name)
{
    return getenv(name);
}

int kiln_spin_vars_resolve(const kiln_manifest *m, const kiln_spin_runtime_config *rc,
                           const char *(*getenv_fn)(const char *), char ***values, char **err)
{
    const char *(*get)(const char *) = getenv_fn ? getenv_fn : plain_getenv;
    static const kiln_spin_var_provider env_default = {1, "SPIN_VARIABLE", {NULL, 0}};
    char **vals = kiln_calloc(m->variables_len + 1, sizeof *vals);
    if (!vals) {
        *err = kiln_strdup("out of memory");
        return -1;
    }
    for (size_t i = 0; i < m->variables_len; i++) {
        const kiln_variable *v = &m->variables[i];
        const char *found = NULL;
        int oom = 0;
        size_t np = rc ? rc->nproviders : 0;
        for (size_t k = 0; k <= np && !found && !oom; k++)
            found = from_provider(k < np ? &rc->providers[k] : &env_default, v->name, get, &oom);
        if (!found && !oom) found = v->default_value;
        if (!oom && found && !(vals[i] = kiln_strdup(found))) oom = 1;
        if (oom || !found) {
            kiln_buf b = KILN_BUF_INIT;
            char *envn = oom ? NULL : env_name("SPIN_VARIABLE", v->name);
            if (oom || !envn ||
                kiln_buf_printf(&b,
                                "variable `%s` is required but has no value (set %s in the "
                                "environment, or give it in a runtime config file)",
                                v->name, envn) < 0) {
                kiln_buf_free(&b);
                *err = kiln_strdup("out of memory");
            } else {
                *err = kiln_buf_steal(&b);
            }
            kiln_free(envn);
            for (size_t k = 0; k < i; k++)
                kiln_free(vals[k]);
            kiln_free(vals);
            return -1;
        }
    }
    *values = vals;
    return 0;
}
