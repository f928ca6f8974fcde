/* vars.c — application variables in trigger settings: `address = "{{ redis_address }}"`,
 * `channel = "{{ channel }}"` (trigger.h). Resolved once at start as Spin resolves them for
 * components (host/spin/app.h: --variable first, then the runtime config's providers, then
 * SPIN_VARIABLE_* in the environment, then the variable's default). */
#include "exec/trigger/internal.h"
#include "host/spin/app.h"
#include "manifest/manifest.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/file.h"

#include <stdio.h>
#include <string.h>

typedef struct var_lookup {
    const kiln_manifest *m;
    char **values; /* one per m->variables (NULL: none) */
} var_lookup;

static const char *lookup(void *arg, const char *name, size_t len)
{
    var_lookup *l = arg;
    for (size_t i = 0; i < l->m->variables_len; i++)
        if (strlen(l->m->variables[i].name) == len &&
            memcmp(l->m->variables[i].name, name, len) == 0)
            return l->values[i];
    return NULL;
}

/* --variable NAME=VALUE / NAME=@FILE as a static provider before the others. 0 or -1. */
static int cli_values(const kiln_triggers_config *cfg, kiln_spin_runtime_config *rc, char **err)
{
    if (!cfg->nvariables) return 0;
    kiln_spin_var_provider *ps = kiln_realloc(rc->providers, (rc->nproviders + 1) * sizeof *ps);
    if (!ps) return -1;
    rc->providers = ps;
    memmove(ps + 1, ps, rc->nproviders * sizeof *ps);
    rc->nproviders++;
    memset(&ps[0], 0, sizeof ps[0]);
    kiln_kvlist *vals = &ps[0].values;
    if (!(vals->items = kiln_calloc(cfg->nvariables, sizeof *vals->items))) return -1;
    for (size_t i = 0; i < cfg->nvariables; i++) {
        const char *v = cfg->variables[i], *eq = strchr(v, '=');
        if (!eq || eq == v) continue; /* kiln_spin_app_new refused it already */
        kiln_buf b = KILN_BUF_INIT;
        int rc2 = eq[1] == '@' ? kiln_read_file(eq + 2, &b) : kiln_buf_puts(&b, eq + 1);
        kiln_kv *kv = &vals->items[vals->len++];
        kv->value = rc2 < 0 ? NULL : kiln_buf_steal(&b);
        kiln_buf_free(&b);
        kv->key = kiln_strndup(v, (size_t)(eq - v));
        if (!kv->key || !kv->value) {
            *err = kiln_strdup(rc2 < 0 ? "a --variable file cannot be read" : "out of memory");
            return -1;
        }
    }
    return 0;
}

int trig_render_settings(const kiln_triggers_config *cfg, char **values[], size_t n)
{
    int needed = 0;
    for (size_t i = 0; i < n; i++)
        if (*values[i] && strstr(*values[i], "{{")) needed = 1;
    if (!needed) return 0;
    const kiln_manifest *m = cfg->manifest;
    kiln_spin_runtime_config rc = {0};
    char **vals = NULL, *err = NULL;
    int ok = -1;
    if (cfg->runtime_config_file &&
        kiln_spin_runtime_config_load(cfg->runtime_config_file, &rc, &err) < 0)
        goto out;
    if (cli_values(cfg, &rc, &err) < 0 || kiln_spin_vars_resolve(m, &rc, NULL, &vals, &err) < 0)
        goto out;
    var_lookup l = {m, vals};
    ok = 0;
    for (size_t i = 0; i < n && ok == 0; i++) {
        if (!*values[i] || !strstr(*values[i], "{{")) continue;
        char *r = kiln_spin_template_render(*values[i], lookup, &l, &err);
        if (!r) {
            ok = -1;
            break;
        }
        kiln_free(*values[i]);
        *values[i] = r;
    }
out:
    if (ok < 0) fprintf(stderr, "error: a trigger setting: %s\n", err ? err : "out of memory");
    for (size_t i = 0; vals && i < m->variables_len; i++)
        kiln_free(vals[i]);
    kiln_free(vals);
    kiln_free(err);
    kiln_spin_runtime_config_free(&rc);
    return ok;
}
