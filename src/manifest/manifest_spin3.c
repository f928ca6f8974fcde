/* manifest_spin3.c — the parts of a Spin manifest that Kiln parses and keeps but does not
 * implement (or implements only partly), and what `kiln up` makes of them:
 *   [component.ID.dependencies]             component composition (Spin 3)
 *   dependencies_inherit_configuration
 *   [component.ID.profile.NAME]             build profiles (source, environment, build)
 *   [[trigger.http]] dependencies.middleware HTTP middleware chains
 *   [[trigger.TYPE]] for TYPE other than http (redis, cron, ...)
 *   [application.trigger.TYPE]              trigger-type settings (redis `address`)
 * Each is checked for Spin's syntax (unknown keys are errors, as Spin's deny_unknown_fields)
 * and kept in the model; kiln_manifest_unserved() then names the ones that stop `kiln up`,
 * so that one message says which Spin feature is missing instead of a syntax error. */
#include "manifest/manifest_internal.h"
#include "util/alloc.h"
#include "util/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static const char *const dep_keys[] = {"version", "registry",  "package",
                                       "export",  "path",      "url",
                                       "digest",  "component", "inherit_configuration",
                                       NULL};
static const char *const mw_keys[] = {
    "component", "path", "version", "url", "digest", "export", "inherit_configuration", NULL};
static const char *const profile_keys[] = {"source", "environment", "dependencies", "build", NULL};
static const char *const profile_build_keys[] = {"command", NULL};

/* Copies a scalar as text into *out ("true", "42", the string itself); tables and arrays
 * give NULL. */
static char *scalar_text(const kiln_toml_value *v)
{
    char tmp[64];
    switch (v->type) {
    case KILN_TOML_STRING:
        return kiln_strdup(v->u.str.ptr);
    case KILN_TOML_INTEGER:
        snprintf(tmp, sizeof tmp, "%lld", (long long)v->u.integer);
        return kiln_strdup(tmp);
    case KILN_TOML_FLOAT:
        snprintf(tmp, sizeof tmp, "%g", v->u.fp);
        return kiln_strdup(tmp);
    case KILN_TOML_BOOL:
        return kiln_strdup(v->u.boolean ? "true" : "false");
    default:
        return NULL;
    }
}

/* Appends the scalar entries of table t to kv (keys as written, values as text; nested
 * tables and arrays are skipped, a `skip` key too). */
static void scalars_to_kv(loader *L, const kiln_toml_value *t, kiln_kvlist *kv, const char *skip)
{
    size_t n = kiln_toml_table_len(t);
    kiln_kv *items = kiln_realloc(kv->items, (kv->len + n + 1) * sizeof *items);
    if (!items) {
        man_oom(L);
        return;
    }
    kv->items = items;
    for (size_t i = 0; i < n; i++) {
        const kiln_toml_entry *e = kiln_toml_table_at(t, i);
        if (skip && strcmp(e->key, skip) == 0) continue;
        char *val = scalar_text(e->value);
        if (!val) continue;
        char *key = kiln_strdup(e->key);
        if (!key) {
            kiln_free(val);
            man_oom(L);
            return;
        }
        kv->items[kv->len].key = key;
        kv->items[kv->len++].value = val;
    }
}

/* Checks `inherit_configuration`: true/false or an array of strings (kept in *keys).
 * Returns -1 when not given, 0/1 for false/true, 2 for a list. */
static int check_inherit(loader *L, const kiln_toml_value *t, kiln_strlist *keys)
{
    const kiln_toml_value *v = kiln_toml_get(t, "inherit_configuration");
    if (!v) return -1;
    if (v->type == KILN_TOML_BOOL) return v->u.boolean ? 1 : 0;
    if (v->type == KILN_TOML_ARRAY) {
        for (size_t i = 0; i < kiln_toml_array_len(v); i++)
            if (kiln_toml_array_at(v, i)->type != KILN_TOML_STRING) goto bad;
        man_get_strlist(L, t, "inherit_configuration", "a dependency", 0, keys);
        return 2;
    }
bad:
    man_error(L, v->line, v->col,
              "`inherit_configuration` must be true, false or a list of configuration names");
    return -1;
}

/* Reads one entry of [component.ID.dependencies] into d. */
static void load_dependency(loader *L, kiln_dependency *d, const kiln_toml_entry *e)
{
    const kiln_toml_value *v = e->value;
    d->line = e->line;
    d->col = e->col;
    d->inherit = -1;
    d->name = kiln_strdup(e->key);
    if (!d->name) {
        man_oom(L);
        return;
    }
    if (v->type == KILN_TOML_STRING) {
        d->kind = kiln_strdup("version");
        d->value = kiln_strdup(v->u.str.ptr);
        if (!d->kind || !d->value) man_oom(L);
        if (!strchr(e->key, ':'))
            man_error(L, e->line, e->col, "dependency `%s` must specify a package name", e->key);
        return;
    }
    if (v->type != KILN_TOML_TABLE) {
        man_error(L, v->line, v->col,
                  "dependency `%s` must be a version string or a table like { path = \"...\" }, "
                  "not %s",
                  e->key, man_a_type(v));
        return;
    }
    man_check_keys(L, v, dep_keys, "a dependency");
    d->inherit = check_inherit(L, v, &d->inherit_keys);
    man_get_string(L, v, "package", "a dependency", &d->package);
    man_get_string(L, v, "registry", "a dependency", &d->registry);
    man_get_string(L, v, "digest", "a dependency", &d->digest);
    man_get_string(L, v, "export", "a dependency", &d->export_name);
    char *val = NULL;
    const char *kind = NULL;
    if (kiln_toml_get(v, "path")) {
        kind = "path";
        man_get_string(L, v, "path", "a dependency", &val);
        if (val) {
            char *abs = man_abs_path(L, val);
            kiln_free(val);
            val = abs;
        }
    } else if (kiln_toml_get(v, "url")) {
        kind = "url";
        man_get_string(L, v, "url", "a dependency", &val);
        if (!kiln_toml_get(v, "digest"))
            man_error(L, v->line, v->col, "dependency `%s`: a `url` needs a `digest`", e->key);
        else if (d->digest && strncmp(d->digest, "sha256:", 7) != 0)
            man_error(L, v->line, v->col, "dependency `%s`: `digest` must begin with \"sha256:\"",
                      e->key);
    } else if (kiln_toml_get(v, "component")) {
        kind = "component";
        man_get_string(L, v, "component", "a dependency", &val);
    } else if (kiln_toml_get(v, "version")) {
        kind = "package";
        man_get_string(L, v, "version", "a dependency", &val);
        if (!d->package && !strchr(e->key, ':'))
            man_error(L, e->line, e->col, "dependency `%s` must specify a package name", e->key);
    } else {
        man_error(L, v->line, v->col,
                  "dependency `%s` needs one of `version`, `path`, `url` or `component`", e->key);
        return;
    }
    d->kind = kiln_strdup(kind);
    d->value = val;
    if (!d->kind) man_oom(L);
}

/* Reads a dependencies table (a component's or a profile's) into *deps / *n. */
static void load_dependencies(loader *L, const kiln_toml_value *v, kiln_dependency **deps,
                              size_t *n)
{
    if (v->type != KILN_TOML_TABLE) {
        man_error(L, v->line, v->col, "`dependencies` must be a table, not %s", man_a_type(v));
        return;
    }
    size_t len = kiln_toml_table_len(v);
    *deps = kiln_calloc(len ? len : 1, sizeof **deps);
    if (!*deps) {
        man_oom(L);
        return;
    }
    for (size_t i = 0; i < len && !L->oom; i++)
        load_dependency(L, &(*deps)[(*n)++], kiln_toml_table_at(v, i));
}

/* Reads [component.ID.profile.NAME] tables. */
static void load_profiles(loader *L, kiln_component *c, const kiln_toml_value *pv)
{
    if (pv->type != KILN_TOML_TABLE) {
        man_error(L, pv->line, pv->col, "`profile` must be a table of profiles, not %s",
                  man_a_type(pv));
        return;
    }
    size_t n = kiln_toml_table_len(pv);
    c->profiles = kiln_calloc(n ? n : 1, sizeof *c->profiles);
    if (!c->profiles) {
        man_oom(L);
        return;
    }
    for (size_t i = 0; i < n && !L->oom; i++) {
        const kiln_toml_entry *e = kiln_toml_table_at(pv, i);
        if (e->value->type != KILN_TOML_TABLE) {
            man_error(L, e->value->line, e->value->col, "profile `%s` must be a table, not %s",
                      e->key, man_a_type(e->value));
            continue;
        }
        kiln_profile *p = &c->profiles[c->profiles_len++];
        const kiln_toml_value *t = e->value;
        p->line = e->line;
        p->col = e->col;
        p->name = kiln_strdup(e->key);
        if (!p->name) {
            man_oom(L);
            return;
        }
        man_check_keys(L, t, profile_keys, "a profile");
        const kiln_toml_value *src = kiln_toml_get(t, "source");
        if (src && src->type == KILN_TOML_STRING) {
            p->source = man_abs_path(L, src->u.str.ptr);
        } else if (src) {
            /* { url, digest } or a registry package, read as a component's source */
            kiln_component tmp = {0};
            tmp.id = c->id;
            man_load_source_table(L, &tmp, src);
            p->source_url = tmp.source_url;
            p->source_digest = tmp.source_digest;
            p->source_registry = tmp.source_registry;
            p->source_registry_host = tmp.source_registry_host;
        }
        man_get_kvlist(L, t, "environment", "a profile", &p->environment);
        const kiln_toml_value *deps = kiln_toml_get(t, "dependencies");
        if (deps) load_dependencies(L, deps, &p->dependencies, &p->dependencies_len);
        const kiln_toml_value *b = kiln_toml_get(t, "build");
        if (b && b->type != KILN_TOML_TABLE) {
            man_error(L, b->line, b->col, "a profile's `build` must be a table, not %s",
                      man_a_type(b));
        } else if (b) {
            man_check_keys(L, b, profile_build_keys, "a profile's build");
            man_get_strlist(L, b, "command", "a profile's build", 1, &p->build_command);
            if (!kiln_toml_get(b, "command"))
                man_error(L, b->line, b->col, "profile `%s`: `build` needs a `command`", e->key);
        }
    }
}

void man_load_spin3_component(loader *L, kiln_component *c, const kiln_toml_value *t)
{
    const kiln_toml_value *v = kiln_toml_get(t, "dependencies_inherit_configuration");
    if (v && v->type != KILN_TOML_BOOL)
        man_error(L, v->line, v->col,
                  "`dependencies_inherit_configuration` must be true or false, not %s",
                  man_a_type(v));
    else if (v) {
        c->dependencies_inherit_configuration = v->u.boolean;
        c->dependencies_inherit_given = 1;
        c->dependencies_inherit_line = v->line;
        c->dependencies_inherit_col = v->col;
    }
    v = kiln_toml_get(t, "dependencies");
    if (v) load_dependencies(L, v, &c->dependencies, &c->dependencies_len);
    v = kiln_toml_get(t, "profile");
    if (v) load_profiles(L, c, v);
}

/* A `{ component = "id" }` dependency (or middleware entry) d of `depender` (a component
 * or a trigger, `kind`): the component must exist and have no resources or permissions of
 * its own (Spin's ensure_is_acceptable_dependency). */
static void check_dependency_component(loader *L, const kiln_dependency *d, const char *kind,
                                       const char *depender)
{
    if (!d->kind || strcmp(d->kind, "component") != 0 || !d->value) return;
    const kiln_component *o = kiln_manifest_component(L->m, d->value);
    if (!o) {
        if (strcmp(kind, "component") == 0) /* middleware: said when it was read */
            man_error(L, d->line, d->col, "dependency `%s`: component `%s` does not exist", d->name,
                      d->value);
        return;
    }
    const char *what[9];
    size_t n = 0;
    if (o->ai_models.len) what[n++] = "ai_models";
    if (o->allowed_outbound_hosts.len) what[n++] = "allowed_outbound_hosts";
    if (o->dependencies_len) what[n++] = "dependencies";
    if (o->environment.len) what[n++] = "environment";
    if (o->files_len) what[n++] = "files";
    if (o->key_value_stores.len) what[n++] = "key_value_stores";
    if (o->sqlite_databases.len) what[n++] = "sqlite_databases";
    if (o->variables.len) what[n++] = "variables";
    if (!n) return;
    kiln_buf b = KILN_BUF_INIT;
    for (size_t j = 0; j < n; j++)
        kiln_buf_printf(&b, "%s%s", j ? ", " : "", what[j]);
    man_error(L, d->line, d->col,
              "dependencies may not have their own resources or permissions: component `%s` "
              "cannot be used as a dependency of %s `%s` because it specifies: %s",
              o->id, kind, depender, b.data ? b.data : "?");
    kiln_buf_free(&b);
}

/* Spin's rules across components (its manifest normalization): a component gives either
 * `dependencies_inherit_configuration` or per-dependency `inherit_configuration`, not both;
 * a `{ component = "id" }` dependency names a component without resources or permissions
 * of its own. */
void man_check_dependencies(loader *L)
{
    const kiln_manifest *m = L->m;
    for (size_t i = 0; i < m->components_len; i++) {
        const kiln_component *c = &m->components[i];
        for (size_t k = 0; k < c->dependencies_len; k++) {
            const kiln_dependency *d = &c->dependencies[k];
            if (c->dependencies_inherit_given && d->inherit >= 0) {
                man_error(L, c->dependencies_inherit_line, c->dependencies_inherit_col,
                          "component `%s` specifies both `dependencies_inherit_configuration` "
                          "and per-dependency `inherit_configuration`; they are mutually "
                          "exclusive: use one or the other",
                          c->id);
                break;
            }
        }
        for (size_t k = 0; k < c->dependencies_len; k++)
            check_dependency_component(L, &c->dependencies[k], "component", c->id);
    }
    for (size_t i = 0; i < m->triggers_len; i++)
        for (size_t k = 0; k < m->triggers[i].mw_len; k++)
            check_dependency_component(L, &m->triggers[i].mw[k], "trigger", m->triggers[i].id);
}

/* Reads one middleware entry into t->middleware. */
static void load_middleware_entry(loader *L, kiln_trigger *t, const kiln_toml_value *it)
{
    if (it->type != KILN_TOML_TABLE) {
        man_error(L, it->line, it->col,
                  "a middleware entry must be a table like { component = \"ID\" }, not %s",
                  man_a_type(it));
        return;
    }
    man_check_keys(L, it, mw_keys, "a middleware entry");
    kiln_strlist keys = {0};
    int inherit = check_inherit(L, it, &keys);
    const kiln_toml_value *c = kiln_toml_get(it, "component");
    const kiln_toml_value *p = kiln_toml_get(it, "path");
    const kiln_toml_value *u = kiln_toml_get(it, "url");
    const kiln_toml_value *x = c ? c : p ? p : u;
    if (!x) {
        man_error(L, it->line, it->col,
                  "a middleware entry needs `component`, `path` or `url` (with `digest`)");
        return;
    }
    if (x->type != KILN_TOML_STRING) {
        man_error(L, x->line, x->col, "a middleware `%s` must be a string, not %s",
                  c   ? "component"
                  : p ? "path"
                      : "url",
                  man_a_type(x));
        return;
    }
    if (u && !c && !p && !kiln_toml_get(it, "digest"))
        man_error(L, it->line, it->col, "a middleware `url` needs a `digest`");
    if (c && !kiln_manifest_component(L->m, x->u.str.ptr))
        man_error(L, x->line, x->col, "middleware names component `%s`, which is not defined",
                  x->u.str.ptr);
    kiln_dependency *n = kiln_realloc(t->mw, (t->mw_len + 1) * sizeof *n);
    if (!n) {
        man_oom(L);
        return;
    }
    t->mw = n;
    kiln_dependency *d = &n[t->mw_len++];
    memset(d, 0, sizeof *d);
    d->line = it->line;
    d->col = it->col;
    d->inherit = inherit;
    d->inherit_keys = keys;
    keys = (kiln_strlist){0};
    d->name = kiln_strdup(x->u.str.ptr);
    d->kind = kiln_strdup(c ? "component" : p ? "path" : "url");
    d->value = p && !c ? man_abs_path(L, x->u.str.ptr) : kiln_strdup(x->u.str.ptr);
    if (!d->name || !d->kind || !d->value) man_oom(L);
    man_get_string(L, it, "digest", "a middleware entry", &d->digest);
    kiln_buf b = KILN_BUF_INIT;
    if (kiln_buf_printf(&b, "%s%s",
                        c   ? ""
                        : p ? "path:"
                            : "url:",
                        x->u.str.ptr) < 0 ||
        man_strlist_add(L, &t->middleware, b.data) < 0)
        man_oom(L);
    kiln_buf_free(&b);
}

void man_load_trigger_spin3(loader *L, kiln_trigger *t, const kiln_toml_value *tt)
{
    const kiln_toml_value *deps = kiln_toml_get(tt, "dependencies");
    if (deps && deps->type != KILN_TOML_TABLE) {
        man_error(L, deps->line, deps->col,
                  "a trigger's `dependencies` must be a table like { middleware = [...] }, not %s",
                  man_a_type(deps));
    } else if (deps) {
        static const char *const trig_dep_keys[] = {"middleware", NULL};
        man_check_keys(L, deps, trig_dep_keys, "a trigger's dependencies");
        const kiln_toml_value *mw = kiln_toml_get(deps, "middleware");
        if (mw && mw->type != KILN_TOML_ARRAY) {
            man_error(L, mw->line, mw->col, "`middleware` must be an array of tables, not %s",
                      man_a_type(mw));
        } else if (mw) {
            t->middleware_line = mw->line;
            t->middleware_col = mw->col;
            for (size_t i = 0; i < kiln_toml_array_len(mw) && !L->oom; i++)
                load_middleware_entry(L, t, kiln_toml_array_at(mw, i));
        }
    }
    const kiln_toml_value *extra = kiln_toml_get(tt, "components");
    if (extra && extra->type != KILN_TOML_TABLE)
        man_error(L, extra->line, extra->col, "a trigger's `components` must be a table, not %s",
                  man_a_type(extra));
    else if (extra && kiln_toml_table_len(extra))
        man_warning(L, extra->line, extra->col,
                    "a trigger's extra `components` (for trigger plugins) are not used by Kiln");
}

/* Spin's trigger types Kiln knows by name (for a "did you mean" on a typo). */
static const char *const known_trigger_types[] = {"http", "redis", "cron",    "sqs",
                                                  "mqtt", "kafka", "command", NULL};

void man_load_other_triggers(loader *L, const kiln_toml_entry *e)
{
    kiln_manifest *m = L->m;
    const kiln_toml_value *arr = e->value;
    if (arr->type != KILN_TOML_ARRAY) {
        man_error(L, arr->line, arr->col,
                  "`trigger.%s` must be an array of tables ([[trigger.%s]]), not %s", e->key,
                  e->key, man_a_type(arr));
        return;
    }
    const char *s = man_suggest(e->key, known_trigger_types);
    if (s && strcmp(s, e->key) != 0 && strcmp(s, "http") == 0)
        man_warning(L, e->line, e->col, "trigger type `%s`: did you mean `http`?", e->key);
    size_t n = kiln_toml_array_len(arr);
    kiln_other_trigger *nt =
        kiln_realloc(m->other_triggers, (m->other_triggers_len + n + 1) * sizeof *nt);
    if (!nt) {
        man_oom(L);
        return;
    }
    m->other_triggers = nt;
    for (size_t i = 0; i < n && !L->oom; i++) {
        const kiln_toml_value *tt = kiln_toml_array_at(arr, i);
        if (tt->type != KILN_TOML_TABLE) {
            man_error(L, tt->line, tt->col, "each trigger.%s entry must be a table, not %s", e->key,
                      man_a_type(tt));
            continue;
        }
        kiln_other_trigger *t = &m->other_triggers[m->other_triggers_len++];
        memset(t, 0, sizeof *t);
        t->component = -1;
        t->line = tt->line;
        t->col = tt->col;
        t->type = kiln_strdup(e->key);
        man_get_string(L, tt, "id", "a trigger", &t->id);
        if (!t->id) {
            char id[64];
            snprintf(id, sizeof id, "%.20s-trigger-%zu", e->key, i + 1);
            t->id = kiln_strdup(id);
        }
        if (!t->type || !t->id) {
            man_oom(L);
            return;
        }
        if (kiln_toml_get(tt, "component"))
            man_trigger_component(L, &t->component, tt, 1000 + m->other_triggers_len);
        else
            man_error(L, tt->line, tt->col, "[[trigger.%s]] needs a `component`", e->key);
        scalars_to_kv(L, tt, &t->settings, "id");
    }
}

void man_load_trigger_settings(loader *L, const kiln_toml_entry *e)
{
    kiln_manifest *m = L->m;
    if (e->value->type != KILN_TOML_TABLE) {
        man_error(L, e->value->line, e->value->col, "`application.trigger.%s` must be a table",
                  e->key);
        return;
    }
    kiln_trigger_settings *n =
        kiln_realloc(m->trigger_settings, (m->trigger_settings_len + 1) * sizeof *n);
    if (!n) {
        man_oom(L);
        return;
    }
    m->trigger_settings = n;
    kiln_trigger_settings *s = &m->trigger_settings[m->trigger_settings_len++];
    memset(s, 0, sizeof *s);
    s->type = kiln_strdup(e->key);
    if (!s->type) {
        man_oom(L);
        return;
    }
    scalars_to_kv(L, e->value, &s->settings, NULL);
}

/* Appends one formatted message to out; -1 when memory ran out. */
static int add_msg(kiln_strlist *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int add_msg(kiln_strlist *out, const char *fmt, ...)
{
    kiln_buf b = KILN_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    int rc = kiln_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    char **n = rc == 0 ? kiln_realloc(out->items, (out->len + 1) * sizeof *n) : NULL;
    if (!n) {
        kiln_buf_free(&b);
        return -1;
    }
    out->items = n;
    out->items[out->len++] = kiln_buf_steal(&b);
    return 0;
}

long kiln_manifest_unserved(const kiln_manifest *m, kiln_strlist *out)
{
    int rc = 0;
    for (size_t i = 0; i < m->components_len && rc == 0; i++) {
        const kiln_component *c = &m->components[i];
        if (c->unused) continue;
        for (size_t k = 0; k < c->dependencies_len && rc == 0; k++) {
            const char *why = NULL;
            if (kiln_dependency_file(m, &c->dependencies[k], &why) || !why) continue;
            rc = add_msg(out, "component `%s`: dependency '%s': %s", c->id, c->dependencies[k].name,
                         why);
        }
        if (rc == 0 && c->source_registry && !c->source_registry_host && !c->source)
            rc = add_msg(out,
                         "component `%s` has a registry source (%s) from Spin's default registry "
                         "(wa.dev, a warg registry): Kiln fetches packages from OCI registries "
                         "only: name one with `registry = \"HOST\"`, or build or download the "
                         ".wasm and use `source = \"PATH\"`",
                         c->id, c->source_registry);
    }
    for (size_t i = 0; i < m->triggers_len && rc == 0; i++) {
        const kiln_trigger *t = &m->triggers[i];
        for (size_t k = 0; k < t->mw_len && rc == 0; k++) {
            const char *why = NULL;
            if (kiln_dependency_file(m, &t->mw[k], &why) || !why) continue;
            rc = add_msg(out, "trigger %s (route %s): middleware `%s`: %s", t->id,
                         t->route ? t->route : "(private)", t->mw[k].name, why);
        }
    }
    if (rc == 0 && !kiln_manifest_serves_some(m) && m->other_triggers_len)
        rc = add_msg(out,
                     "the application has no HTTP, Redis or cron trigger, only [[trigger.%s]]: "
                     "Kiln serves those three types only",
                     m->other_triggers[0].type);
    return rc < 0 ? -1 : (long)out->len;
}

const char *kiln_dependency_file(const kiln_manifest *m, const kiln_dependency *d, const char **why)
{
    *why = NULL;
    if (!d->kind) return NULL;
    if (strcmp(d->kind, "path") == 0) return d->value;
    if (strcmp(d->kind, "url") == 0) {
        if (!d->file) *why = NULL; /* fetched by kiln up before loading */
        return d->file;
    }
    if (strcmp(d->kind, "component") == 0) {
        const kiln_component *o = d->value ? kiln_manifest_component(m, d->value) : NULL;
        if (!o) {
            *why = "it names a component the application does not define";
            return NULL;
        }
        if (!o->source && !o->source_url)
            *why = "the component it names has no local source (a registry package)";
        return o->source;
    }
    /* a package: { version, registry } is fetched by kiln up before loading (an OCI
     * registry; a warg one is refused then, with its reason) */
    if (d->file || d->registry) return d->file;
    *why = "a package from Spin's default registry (wa.dev, a warg registry): Kiln fetches "
           "packages from OCI registries only: name one with `registry = \"HOST\"` (the package "
           "pushed there with `wkg oci push`, or a registry whose "
           "/.well-known/wasm-pkg/registry.json points at an OCI registry, as wkg reads it); or "
           "build or download the component and use `{ path = \"...\" }` or "
           "`{ url = \"...\", digest = \"sha256:...\" }`";
    return NULL;
}

int kiln_dependency_inherits(const kiln_component *c, const kiln_dependency *d)
{
    if (d->inherit >= 0) return d->inherit;
    return c && c->dependencies_inherit_configuration ? 1 : 0;
}

int kiln_trigger_type_served(const char *type)
{
    return strcmp(type, "redis") == 0 || strcmp(type, "cron") == 0;
}

int kiln_manifest_serves_some(const kiln_manifest *m)
{
    for (size_t i = 0; i < m->triggers_len; i++)
        if (!m->triggers[i].is_private) return 1;
    for (size_t i = 0; i < m->other_triggers_len; i++)
        if (kiln_trigger_type_served(m->other_triggers[i].type)) return 1;
    return 0;
}

void kiln_strlist_free(kiln_strlist *l)
{
    man_strlist_free(l);
}

/* Moves profile p's dependencies into component c, replacing those of the same name (as
 * Spin extends the component's table with the profile's). 0, or -1 out of memory. */
static int apply_profile_dependencies(kiln_component *c, kiln_profile *p)
{
    for (size_t k = 0; k < p->dependencies_len; k++) {
        kiln_dependency *d = &p->dependencies[k];
        if (!d->name) continue;
        size_t j = 0;
        while (j < c->dependencies_len && strcmp(c->dependencies[j].name, d->name) != 0)
            j++;
        if (j == c->dependencies_len) {
            kiln_dependency *n =
                kiln_realloc(c->dependencies, (c->dependencies_len + 1) * sizeof *n);
            if (!n) return -1;
            c->dependencies = n;
            c->dependencies_len++;
        } else {
            man_dependencies_free_one(&c->dependencies[j]);
        }
        c->dependencies[j] = *d;
        memset(d, 0, sizeof *d); /* moved */
    }
    return 0;
}

/* Gives c the url or registry source of profile p (kiln_manifest_fetch_sources then
 * downloads a url; kiln_manifest_unserved names a registry package). 0, or -1 when
 * memory ran out. */
static int profile_source(kiln_component *c, const kiln_profile *p)
{
    char *url = p->source_url ? kiln_strdup(p->source_url) : NULL;
    char *digest = p->source_digest ? kiln_strdup(p->source_digest) : NULL;
    char *reg = p->source_registry ? kiln_strdup(p->source_registry) : NULL;
    char *host = p->source_registry_host ? kiln_strdup(p->source_registry_host) : NULL;
    if ((p->source_url && !url) || (p->source_digest && !digest) || (p->source_registry && !reg) ||
        (p->source_registry_host && !host)) {
        kiln_free(url);
        kiln_free(digest);
        kiln_free(reg);
        kiln_free(host);
        return -1;
    }
    kiln_free(c->source_registry_host);
    c->source_registry_host = host;
    kiln_free(c->source);
    c->source = NULL;
    kiln_free(c->source_url);
    c->source_url = url;
    kiln_free(c->source_digest);
    c->source_digest = digest;
    kiln_free(c->source_registry);
    c->source_registry = reg;
    return 0;
}

int kiln_manifest_apply_profile(kiln_manifest *m, const char *profile, const char **err)
{
    if (!profile || !*profile) return 0;
    int defined = 0;
    for (size_t i = 0; i < m->components_len; i++) {
        kiln_component *c = &m->components[i];
        for (size_t k = 0; k < c->profiles_len; k++) {
            kiln_profile *p = &c->profiles[k];
            if (strcmp(p->name, profile) != 0) continue;
            defined = 1;
            if (p->source) {
                struct stat st;
                if (stat(p->source, &st) != 0) {
                    *err = "a profile's source file does not exist (build it with kiln build "
                           "--profile)";
                    return -1;
                }
                kiln_free(c->source);
                c->source = kiln_strdup(p->source);
                kiln_free(c->source_url);
                c->source_url = NULL;
                kiln_free(c->source_registry);
                c->source_registry = NULL;
                kiln_free(c->source_registry_host);
                c->source_registry_host = NULL;
                if (!c->source) {
                    *err = "out of memory";
                    return -1;
                }
            }
            if ((p->source_url || p->source_registry) && profile_source(c, p) < 0) {
                *err = "out of memory";
                return -1;
            }
            if (apply_profile_dependencies(c, p) < 0) {
                *err = "out of memory";
                return -1;
            }
            for (size_t e = 0; e < p->environment.len; e++) {
                const kiln_kv *kv = &p->environment.items[e];
                size_t j = 0;
                while (j < c->environment.len && strcmp(c->environment.items[j].key, kv->key))
                    j++;
                char *val = kiln_strdup(kv->value);
                char *key = j == c->environment.len ? kiln_strdup(kv->key) : NULL;
                kiln_kv *items = j == c->environment.len
                                     ? kiln_realloc(c->environment.items,
                                                    (c->environment.len + 1) * sizeof *items)
                                     : c->environment.items;
                if (!val || !items || (j == c->environment.len && !key)) {
                    kiln_free(val);
                    kiln_free(key);
                    if (items) c->environment.items = items;
                    *err = "out of memory";
                    return -1;
                }
                c->environment.items = items;
                if (j == c->environment.len) {
                    items[j].key = key;
                    items[j].value = val;
                    c->environment.len++;
                } else {
                    kiln_free(items[j].value);
                    items[j].value = val;
                }
            }
        }
    }
    if (!defined) {
        *err = "no component defines this profile";
        return -1;
    }
    return 0;
}

void man_dependencies_free_one(kiln_dependency *d)
{
    kiln_free(d->name);
    kiln_free(d->kind);
    kiln_free(d->value);
    kiln_free(d->package);
    kiln_free(d->registry);
    kiln_free(d->export_name);
    kiln_free(d->digest);
    kiln_free(d->file);
    man_strlist_free(&d->inherit_keys);
}

void man_dependencies_free(kiln_dependency *deps, size_t n)
{
    for (size_t i = 0; i < n; i++)
        man_dependencies_free_one(&deps[i]);
    kiln_free(deps);
}

/* Frees what a component's Spin 3 parts own. */
void man_spin3_component_free(kiln_component *c)
{
    man_dependencies_free(c->dependencies, c->dependencies_len);
    for (size_t i = 0; i < c->profiles_len; i++) {
        kiln_profile *p = &c->profiles[i];
        kiln_free(p->name);
        kiln_free(p->source);
        kiln_free(p->source_url);
        kiln_free(p->source_digest);
        kiln_free(p->source_registry);
        kiln_free(p->source_registry_host);
        man_strlist_free(&p->build_command);
        man_kvlist_free(&p->environment);
        man_dependencies_free(p->dependencies, p->dependencies_len);
    }
    kiln_free(c->profiles);
    kiln_free(c->source_registry);
    kiln_free(c->source_registry_host);
    man_strlist_free(&c->ai_models);
    man_strlist_free(&c->targets);
}

/* Frees what one [[trigger.TYPE]] (not HTTP) owns. */
static void other_trigger_free(kiln_other_trigger *t)
{
    kiln_free(t->type);
    kiln_free(t->id);
    man_kvlist_free(&t->settings);
}

void man_spin3_manifest_free(kiln_manifest *m)
{
    for (size_t i = 0; i < m->other_triggers_len; i++)
        other_trigger_free(&m->other_triggers[i]);
    kiln_free(m->other_triggers);
    for (size_t i = 0; i < m->trigger_settings_len; i++) {
        kiln_free(m->trigger_settings[i].type);
        man_kvlist_free(&m->trigger_settings[i].settings);
    }
    kiln_free(m->trigger_settings);
}

/* Is component index c (-1: none) one of the n ids? */
static int selected(const kiln_manifest *m, long c, const char *const *ids, size_t n)
{
    for (size_t k = 0; k < n && c >= 0; k++)
        if (strcmp(m->components[c].id, ids[k]) == 0) return 1;
    return 0;
}

int kiln_manifest_select_components(kiln_manifest *m, const char *const *ids, size_t n,
                                    const char **bad)
{
    if (!n) return 0;
    for (size_t i = 0; i < n; i++) {
        if (!kiln_manifest_component(m, ids[i])) {
            *bad = ids[i];
            return -1;
        }
    }
    size_t kept = 0;
    for (size_t i = 0; i < m->triggers_len; i++) {
        kiln_trigger *t = &m->triggers[i];
        if (selected(m, t->component, ids, n))
            m->triggers[kept++] = *t;
        else
            man_trigger_free(t);
    }
    m->triggers_len = kept;
    /* as Spin's retain_components: every trigger type, not only HTTP */
    kept = 0;
    for (size_t i = 0; i < m->other_triggers_len; i++) {
        kiln_other_trigger *t = &m->other_triggers[i];
        if (selected(m, t->component, ids, n))
            m->other_triggers[kept++] = *t;
        else
            other_trigger_free(t);
    }
    m->other_triggers_len = kept;
    return 0;
}
