/* runtime_config.c — Spin's runtime config file (`--runtime-config-file`), the parts
 * Kiln serves (spin.h):
 *   state_dir = "DIR"                         ("" : no state directory, stores in memory)
 *   [key_value_store.LABEL] type = "spin"     path = "FILE" (relative to the file's
 *                                             directory; none: in memory)
 *   [key_value_store.LABEL] type = "redis"    url = "redis://..."
 *   [sqlite_database.LABEL] type = "spin"     path = "FILE" (the same)
 *   [[variables_provider]] / [[config_provider]]
 *       type = "static", values = { name = "value", ... }
 *       type = "env", prefix = "PREFIX"       (default SPIN_VARIABLE)
 *   [outbound_http] max_connections = N       (each component's concurrent outbound
 *                                             requests; Spin's deprecated
 *                                             max_concurrent_requests = N means N + 1;
 *                                             connection_pooling accepted: Kiln pools)
 * Other store and provider types are refused (Kiln cannot serve them yet); other top-level
 * tables (outbound_networking, ...) are ignored with a warning. */
#include "host/spin/app.h"
#include "manifest/toml.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Sets *err to "FILE: message"; returns -1. */
static int fail(char **err, const char *file, const char *fmt, const char *a)
{
    kiln_buf b = KILN_BUF_INIT;
    if (kiln_buf_printf(&b, "%s: ", file) < 0 || kiln_buf_printf(&b, fmt, a ? a : "") < 0) {
        kiln_buf_free(&b);
        *err = kiln_strdup("out of memory");
    } else {
        *err = kiln_buf_steal(&b);
    }
    return -1;
}

/* [outbound_http] (Spin's keys; both limits at once are refused, as Spin does). 0 or -1. */
static int load_outbound(const kiln_toml_value *t, const char *path, kiln_spin_runtime_config *rc,
                         char **err)
{
    if (!kiln_toml_is(t, KILN_TOML_TABLE))
        return fail(err, path, "outbound_http must be a table%s", NULL);
    int both = 0;
    for (size_t i = 0; i < kiln_toml_table_len(t); i++) {
        const kiln_toml_entry *e = kiln_toml_table_at(t, i);
        int deprecated = strcmp(e->key, "max_concurrent_requests") == 0;
        if (strcmp(e->key, "connection_pooling") == 0) {
            if (!kiln_toml_is(e->value, KILN_TOML_BOOL))
                return fail(err, path, "outbound_http.connection_pooling must be a boolean%s",
                            NULL);
            continue;
        }
        if (!deprecated && strcmp(e->key, "max_connections") != 0)
            return fail(err, path, "outbound_http: unknown key `%s`", e->key);
        if (!kiln_toml_is(e->value, KILN_TOML_INTEGER) || e->value->u.integer < 0 ||
            e->value->u.integer > 1000000)
            return fail(err, path, "outbound_http.%s must be a number from 0 to 1000000", e->key);
        if (both++)
            return fail(err, path,
                        "cannot set both `max_connections` and `max_concurrent_requests` in "
                        "[outbound_http]; use `max_connections` only%s",
                        NULL);
        rc->outbound_limited = 1;
        rc->outbound_max = (unsigned)e->value->u.integer + (unsigned)deprecated;
        if (deprecated)
            fprintf(stderr,
                    "warning: %s: `max_concurrent_requests` in [outbound_http] is deprecated; "
                    "use `max_connections` (N + 1)\n",
                    path);
    }
    return 0;
}

/* path resolved against dir (absolute paths as they are); kiln_malloc'd or NULL. */
static char *resolve(const char *dir, const char *path)
{
    kiln_buf b = KILN_BUF_INIT;
    int rc = path[0] == '/' ? kiln_buf_puts(&b, path) : kiln_buf_printf(&b, "%s/%s", dir, path);
    if (rc < 0) {
        kiln_buf_free(&b);
        return NULL;
    }
    return kiln_buf_steal(&b);
}

/* [key_value_store.LABEL] or [sqlite_database.LABEL] (what: the table name) into
 * (*out, *count): type "spin" with an optional path. */
static int load_dbs(const kiln_toml_value *t, const char *what, const char *file, const char *dir,
                    kiln_spin_kv_cfg **out, size_t *count, char **err)
{
    size_t n = kiln_toml_table_len(t);
    if (!kiln_toml_is(t, KILN_TOML_TABLE)) return fail(err, file, "%s must be a table", what);
    *out = kiln_calloc(n ? n : 1, sizeof **out);
    if (!*out) return fail(err, file, "out of memory%s", NULL);
    for (size_t i = 0; i < n; i++) {
        const kiln_toml_entry *e = kiln_toml_table_at(t, i);
        const char *type = kiln_toml_str(kiln_toml_get(e->value, "type"));
        if (!type) return fail(err, file, "%s needs a type", e->key);
        /* key_value_store also takes Spin's "redis" type (url = "redis://...") */
        int redis = strcmp(what, "key_value_store") == 0 && strcmp(type, "redis") == 0;
        if (strcmp(type, "spin") != 0 && !redis)
            return fail(err, file, "store type \"%s\" is not supported by Kiln yet", type);
        for (size_t k = 0; k < kiln_toml_table_len(e->value); k++) {
            const char *key = kiln_toml_table_at(e->value, k)->key;
            if (strcmp(key, "type") != 0 && strcmp(key, redis ? "url" : "path") != 0)
                return fail(err, file, "unknown key \"%s\"", key);
        }
        kiln_spin_kv_cfg *s = &(*out)[(*count)++];
        if (!(s->label = kiln_strdup(e->key))) return fail(err, file, "out of memory%s", NULL);
        const kiln_toml_value *p = kiln_toml_get(e->value, "path");
        if (p && !kiln_toml_str(p)) return fail(err, file, "%s: path must be a string", e->key);
        if (p && !(s->path = resolve(dir, kiln_toml_str(p))))
            return fail(err, file, "out of memory%s", NULL);
        const char *url = kiln_toml_str(kiln_toml_get(e->value, "url"));
        if (redis && !url) return fail(err, file, "%s: a redis store needs a url string", e->key);
        if (redis && !(s->url = kiln_strdup(url))) return fail(err, file, "out of memory%s", NULL);
    }
    return 0;
}

static int load_providers(const kiln_toml_value *arr, const char *file,
                          kiln_spin_runtime_config *rc, char **err)
{
    size_t n = kiln_toml_array_len(arr);
    if (!kiln_toml_is(arr, KILN_TOML_ARRAY))
        return fail(err, file, "variables_provider must be an array of tables%s", NULL);
    kiln_spin_var_provider *ps = kiln_realloc(rc->providers, (rc->nproviders + n + 1) * sizeof *ps);
    if (!ps) return fail(err, file, "out of memory%s", NULL);
    rc->providers = ps;
    for (size_t i = 0; i < n; i++) {
        const kiln_toml_value *t = kiln_toml_array_at(arr, i);
        const char *type = kiln_toml_str(kiln_toml_get(t, "type"));
        if (!type) return fail(err, file, "a variables provider needs a type%s", NULL);
        kiln_spin_var_provider *p = &rc->providers[rc->nproviders];
        memset(p, 0, sizeof *p);
        if (strcmp(type, "env") == 0) {
            p->is_env = 1;
            const kiln_toml_value *pre = kiln_toml_get(t, "prefix");
            if (kiln_toml_get(t, "dotenv_path"))
                return fail(err, file, "env provider: dotenv_path is not supported by Kiln yet%s",
                            NULL);
            if (pre && !kiln_toml_str(pre))
                return fail(err, file, "env provider: prefix must be a string%s", NULL);
            if (!(p->prefix = kiln_strdup(pre ? kiln_toml_str(pre) : "SPIN_VARIABLE")))
                return fail(err, file, "out of memory%s", NULL);
            rc->nproviders++;
        } else if (strcmp(type, "static") == 0) {
            const kiln_toml_value *vals = kiln_toml_get(t, "values");
            size_t nv = kiln_toml_table_len(vals);
            rc->nproviders++;
            p->values.items = kiln_calloc(nv ? nv : 1, sizeof *p->values.items);
            if (!p->values.items) return fail(err, file, "out of memory%s", NULL);
            for (size_t k = 0; k < nv; k++) {
                const kiln_toml_entry *e = kiln_toml_table_at(vals, k);
                const char *v = kiln_toml_str(e->value);
                if (!v)
                    return fail(err, file, "static provider: value of %s must be a string", e->key);
                kiln_kv *kv = &p->values.items[p->values.len++];
                kv->key = kiln_strdup(e->key);
                kv->value = kiln_strdup(v);
                if (!kv->key || !kv->value) return fail(err, file, "out of memory%s", NULL);
            }
        } else {
            return fail(err, file,
                        "variables provider type \"%s\" is not supported by Kiln yet (static, "
                        "env)",
                        type);
        }
    }
    return 0;
}

int kiln_spin_runtime_config_load(const char *path, kiln_spin_runtime_config *rc, char **err)
{
    memset(rc, 0, sizeof *rc);
    kiln_buf text = KILN_BUF_INIT;
    if (kiln_read_file(path, &text) < 0) {
        kiln_buf_free(&text);
        return fail(err, path, "cannot read it: %s", strerror(errno));
    }
    char *perr = NULL;
    kiln_toml_value *root = kiln_toml_parse(text.data ? text.data : "", text.len, path, &perr);
    kiln_buf_free(&text);
    if (!root) {
        *err = perr ? perr : kiln_strdup("cannot parse the runtime config");
        return -1;
    }
    char *abs = realpath(path, NULL);
    char *dir = abs ? kiln_strdup(abs) : NULL;
    free(abs);
    int ret = dir ? 0 : fail(err, path, "cannot resolve its directory%s", NULL);
    if (dir) {
        char *slash = strrchr(dir, '/');
        if (slash) *(slash == dir ? slash + 1 : slash) = '\0';
    }
    for (size_t i = 0; ret == 0 && i < kiln_toml_table_len(root); i++) {
        const kiln_toml_entry *e = kiln_toml_table_at(root, i);
        if (strcmp(e->key, "state_dir") == 0) {
            const char *s = kiln_toml_str(e->value);
            if (!s)
                ret = fail(err, path, "state_dir must be a string%s", NULL);
            else if (!(rc->state_dir = *s ? resolve(dir, s) : kiln_strdup("")))
                ret = fail(err, path, "out of memory%s", NULL);
        } else if (strcmp(e->key, "key_value_store") == 0) {
            ret = load_dbs(e->value, e->key, path, dir, &rc->stores, &rc->nstores, err);
        } else if (strcmp(e->key, "sqlite_database") == 0) {
            ret = load_dbs(e->value, e->key, path, dir, &rc->sqlite, &rc->nsqlite, err);
        } else if (strcmp(e->key, "variables_provider") == 0 ||
                   strcmp(e->key, "config_provider") == 0) {
            ret = load_providers(e->value, path, rc, err);
        } else if (strcmp(e->key, "outbound_http") == 0) {
            ret = load_outbound(e->value, path, rc, err);
        } else {
            fprintf(stderr, "warning: %s: `%s` is not served by Kiln yet; ignored\n", path, e->key);
        }
    }
    kiln_free(dir);
    kiln_toml_free(root);
    if (ret < 0) kiln_spin_runtime_config_free(rc);
    return ret;
}

void kiln_spin_runtime_config_free(kiln_spin_runtime_config *rc)
{
    kiln_free(rc->state_dir);
    for (size_t i = 0; i < rc->nstores; i++) {
        kiln_free(rc->stores[i].label);
        kiln_free(rc->stores[i].path);
        kiln_free(rc->stores[i].url);
    }
    kiln_free(rc->stores);
    for (size_t i = 0; i < rc->nsqlite; i++) {
        kiln_free(rc->sqlite[i].label);
        kiln_free(rc->sqlite[i].path);
    }
    kiln_free(rc->sqlite);
    for (size_t i = 0; i < rc->nproviders; i++) {
        kiln_free(rc->providers[i].prefix);
        for (size_t k = 0; k < rc->providers[i].values.len; k++) {
            kiln_free(rc->providers[i].values.items[k].key);
            kiln_free(rc->providers[i].values.items[k].value);
        }
        kiln_free(rc->providers[i].values.items);
    }
    kiln_free(rc->providers);
    memset(rc, 0, sizeof *rc);
}
