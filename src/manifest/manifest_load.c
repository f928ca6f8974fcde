/* manifest_load.c — the [component.*] and [[trigger.http]] parts of the manifest loader
 * (see manifest.c for the driver and the typed getters it uses). */
#include "manifest/manifest_internal.h"
#include "util/units.h"
#include "util/alloc.h"
#include "util/buf.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static void load_trigger_component(loader *L, kiln_trigger *t, const kiln_toml_value *tt,
                                   size_t index);

/* `tool` (settings of external tools, e.g. [component.x.tool.spin-test]) is accepted and
 * ignored, as Spin does. */
static const char *const component_keys[] = {"description",
                                             "source",
                                             "files",
                                             "exclude_files",
                                             "environment",
                                             "allowed_outbound_hosts",
                                             "allowed_http_hosts",
                                             "key_value_stores",
                                             "sqlite_databases",
                                             "variables",
                                             "build",
                                             "tool",
                                             "ai_models",
                                             "targets",
                                             "dependencies",
                                             "dependencies_inherit_configuration",
                                             "profile",
                                             NULL};
/* A version-1 [[component]] (Spin's ComponentV1; allowed_outbound_hosts as Spin 2 read
 * it in version-1 manifests too). */
static const char *const v1_component_keys[] = {"id",
                                                "source",
                                                "trigger",
                                                "description",
                                                "config",
                                                "environment",
                                                "files",
                                                "exclude_files",
                                                "allowed_http_hosts",
                                                "allowed_outbound_hosts",
                                                "key_value_stores",
                                                "sqlite_databases",
                                                "ai_models",
                                                "build",
                                                NULL};
static const char *const build_keys[] = {"command", "workdir", "watch", NULL};
static const char *const source_keys[] = {"url", "digest", NULL};
static const char *const registry_keys[] = {"registry", "package", "version", NULL};
static const char *const file_keys[] = {"source", "destination", NULL};
static const char *const trigger_keys[] = {
    "id", "route", "component", "executor", "static_response", "dependencies", "components", NULL};
static const char *const route_keys[] = {"private", NULL};
static const char *const static_keys[] = {"status_code", "headers", "body", NULL};
static const char *const executor_types[] = {"http", "spin", "wagi", NULL};

/* Spin's component ids: lowercase words of letters and digits joined by single dashes,
 * starting with a letter ("my-api", "api2"). */
int man_is_kebab(const char *s)
{
    if (!(*s >= 'a' && *s <= 'z')) return 0;
    for (const char *p = s; *p; p++) {
        if (*p == '-') {
            if (p[1] == '\0' || p[1] == '-') return 0;
        } else if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'))) {
            return 0;
        }
    }
    return 1;
}

/* Does the file or directory at path exist? is_dir: 1 dir, 0 file, -1 either. */
static int path_exists(const char *path, int is_dir)
{
    struct stat st;
    if (stat(path, &st) != 0) return 0;
    if (is_dir == 1) return S_ISDIR(st.st_mode);
    if (is_dir == 0) return S_ISREG(st.st_mode);
    return 1;
}

/* Is `name` an application variable? */
static int app_var_exists(const kiln_manifest *m, const char *name, size_t len)
{
    for (size_t i = 0; i < m->variables_len; i++)
        if (strlen(m->variables[i].name) == len && memcmp(m->variables[i].name, name, len) == 0)
            return 1;
    return 0;
}

/* Checks the "{{ name }}" references of a component variable's template. */
static void check_template(loader *L, const char *tmpl, const kiln_toml_value *at, const char *comp)
{
    const char *p = tmpl;
    while ((p = strstr(p, "{{")) != NULL) {
        const char *end = strstr(p + 2, "}}");
        if (!end) {
            man_error(L, at->line, at->col, "unclosed \"{{\" in a variable template");
            return;
        }
        const char *a = p + 2, *b = end;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        if (!app_var_exists(L->m, a, (size_t)(b - a)))
            man_error(L, at->line, at->col,
                      "component `%s` uses variable `%.*s`, which is not defined in "
                      "[variables]",
                      comp, (int)(b - a), a);
        p = end + 2;
    }
}

/* Converts one legacy allowed_http_hosts entry to allowed_outbound_hosts form: "host" or
 * "host:port" becomes its http:// and https:// forms, "self" http://self, and
 * "insecure:allow-all" every HTTP(S) host (as Spin converts them). */
static int add_legacy_host(loader *L, kiln_component *c, const char *h)
{
    if (strcmp(h, "insecure:allow-all") == 0)
        return man_strlist_add(L, &c->allowed_outbound_hosts, "http://*:*") ||
               man_strlist_add(L, &c->allowed_outbound_hosts, "https://*:*") ||
               man_strlist_add(L, &c->allowed_outbound_hosts, "http://self");
    if (strcmp(h, "self") == 0)
        return man_strlist_add(L, &c->allowed_outbound_hosts, "http://self");
    if (strstr(h, "://")) return man_strlist_add(L, &c->allowed_outbound_hosts, h);
    kiln_buf b = KILN_BUF_INIT;
    int rc = -1;
    if (kiln_buf_printf(&b, "https://%s", h) == 0 &&
        man_strlist_add(L, &c->allowed_outbound_hosts, b.data) == 0) {
        kiln_buf_reset(&b);
        if (kiln_buf_printf(&b, "http://%s", h) == 0)
            rc = man_strlist_add(L, &c->allowed_outbound_hosts, b.data);
    }
    kiln_buf_free(&b);
    return rc;
}

/* Reads `source`: a path relative to the manifest, or { url, digest }. */
static void load_source(loader *L, kiln_component *c, const kiln_toml_value *t)
{
    const kiln_toml_value *v = kiln_toml_get(t, "source");
    if (!v) {
        man_error(L, c->line, c->col, "component `%s` needs a `source` (the .wasm file)", c->id);
        return;
    }
    if (v->type == KILN_TOML_STRING) {
        c->source = man_abs_path(L, v->u.str.ptr);
        if (c->source && !path_exists(c->source, 0))
            man_error(L, v->line, v->col, "component `%s`: source file \"%s\" does not exist",
                      c->id, c->source);
        return;
    }
    man_load_source_table(L, c, v);
}

void man_load_source_table(loader *L, kiln_component *c, const kiln_toml_value *v)
{
    if (v->type != KILN_TOML_TABLE) {
        man_error(L, v->line, v->col,
                  "`source` of component `%s` must be a path or { url, digest }, not %s", c->id,
                  man_a_type(v));
        return;
    }
    if (kiln_toml_get(v, "package")) {
        /* { registry?, package, version }: kept, refused at serve time */
        man_check_keys(L, v, registry_keys, "a registry source");
        char *pkg = NULL, *ver = NULL;
        man_get_string(L, v, "package", "a registry source", &pkg);
        man_get_string(L, v, "version", "a registry source", &ver);
        man_get_string(L, v, "registry", "a registry source", &c->source_registry_host);
        if (!kiln_toml_get(v, "version"))
            man_error(L, v->line, v->col, "a registry `source` needs `package` and `version`");
        kiln_buf b = KILN_BUF_INIT;
        if (pkg && kiln_buf_printf(&b, "%s@%s", pkg, ver ? ver : "") == 0)
            c->source_registry = kiln_buf_steal(&b);
        else
            kiln_buf_free(&b);
        kiln_free(pkg);
        kiln_free(ver);
        return;
    }
    man_check_keys(L, v, source_keys, "a component source");
    man_get_string(L, v, "url", "a component source", &c->source_url);
    man_get_string(L, v, "digest", "a component source", &c->source_digest);
    if (!kiln_toml_get(v, "url") || !kiln_toml_get(v, "digest"))
        man_error(L, v->line, v->col, "a `source` table needs both `url` and `digest`");
    else if (c->source_digest && strncmp(c->source_digest, "sha256:", 7) != 0) {
        const kiln_toml_value *d = kiln_toml_get(v, "digest");
        man_error(L, d->line, d->col, "digest must look like \"sha256:<hex>\"");
    }
}

/* Reads `files`: glob strings and { source, destination } tables. */
static void load_files(loader *L, kiln_component *c, const kiln_toml_value *t)
{
    const kiln_toml_value *v = kiln_toml_get(t, "files");
    if (!v) return;
    if (v->type != KILN_TOML_ARRAY) {
        man_error(L, v->line, v->col, "`files` must be an array, not %s", man_a_type(v));
        return;
    }
    size_t n = kiln_toml_array_len(v);
    c->files = kiln_calloc(n ? n : 1, sizeof *c->files);
    if (!c->files) {
        man_oom(L);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const kiln_toml_value *it = kiln_toml_array_at(v, i);
        kiln_file_spec *f = &c->files[c->files_len];
        f->line = it->line;
        f->col = it->col;
        if (it->type == KILN_TOML_STRING) {
            c->files_len++;
            f->pattern = kiln_strdup(it->u.str.ptr);
            if (!f->pattern) man_oom(L);
            continue;
        }
        if (it->type != KILN_TOML_TABLE) {
            man_error(L, it->line, it->col,
                      "`files` entries must be glob strings or { source, destination }, not %s",
                      man_a_type(it));
            continue;
        }
        c->files_len++;
        man_check_keys(L, it, file_keys, "a `files` entry");
        char *src = NULL;
        man_get_string(L, it, "source", "a `files` entry", &src);
        man_get_string(L, it, "destination", "a `files` entry", &f->destination);
        if (!kiln_toml_get(it, "source") || !kiln_toml_get(it, "destination")) {
            man_error(L, it->line, it->col,
                      "a `files` table needs both `source` and `destination`");
        }
        if (f->destination && f->destination[0] != '/') {
            const kiln_toml_value *d = kiln_toml_get(it, "destination");
            man_error(L, d->line, d->col, "destination \"%s\" must be an absolute path",
                      f->destination);
        }
        if (src) {
            f->source = man_abs_path(L, src);
            if (f->source && !path_exists(f->source, -1)) {
                const kiln_toml_value *s = kiln_toml_get(it, "source");
                man_error(L, s->line, s->col, "files source \"%s\" does not exist", f->source);
            }
            kiln_free(src);
        }
    }
}

/* Reads allowed_outbound_hosts (checking each entry) and legacy allowed_http_hosts. A
 * version-1 component without allowed_outbound_hosts may also reach every Redis, MySQL
 * and PostgreSQL host, as before that field existed (Spin's conversion). */
static void load_hosts(loader *L, kiln_component *c, const kiln_toml_value *t, int v1)
{
    if (v1 && !kiln_toml_get(t, "allowed_outbound_hosts") &&
        (man_strlist_add(L, &c->allowed_outbound_hosts, "redis://*:*") ||
         man_strlist_add(L, &c->allowed_outbound_hosts, "mysql://*:*") ||
         man_strlist_add(L, &c->allowed_outbound_hosts, "postgres://*:*")))
        return;
    const kiln_toml_value *v = kiln_toml_get(t, "allowed_outbound_hosts");
    if (v && v->type != KILN_TOML_ARRAY) {
        man_error(L, v->line, v->col, "`allowed_outbound_hosts` must be an array, not %s",
                  man_a_type(v));
    } else if (v) {
        for (size_t i = 0; i < kiln_toml_array_len(v); i++) {
            const kiln_toml_value *it = kiln_toml_array_at(v, i);
            const char *why = NULL;
            if (it->type != KILN_TOML_STRING) {
                man_error(L, it->line, it->col,
                          "`allowed_outbound_hosts` entries must be strings, not %s",
                          man_a_type(it));
            } else if (!kiln_outbound_host_valid(it->u.str.ptr, &why)) {
                man_error(L, it->line, it->col, "invalid allowed_outbound_hosts entry \"%s\": %s",
                          it->u.str.ptr, why);
            } else {
                check_template(L, it->u.str.ptr, it, c->id); /* kiln up resolves it */
                if (man_strlist_add(L, &c->allowed_outbound_hosts, it->u.str.ptr)) return;
            }
        }
    }
    const kiln_toml_value *legacy = kiln_toml_get(t, "allowed_http_hosts");
    if (!legacy) return;
    kiln_strlist hosts = {0};
    if (man_get_strlist(L, t, "allowed_http_hosts", "a component", 0, &hosts) == 0) {
        if (!v1)
            man_warning(L, legacy->line, legacy->col,
                        "`allowed_http_hosts` is deprecated; use `allowed_outbound_hosts`");
        for (size_t i = 0; i < hosts.len; i++)
            if (add_legacy_host(L, c, hosts.items[i])) break;
    }
    man_strlist_free(&hosts);
}

/* Reads [component.ID.build]. */
static void load_build(loader *L, kiln_component *c, const kiln_toml_value *t)
{
    const kiln_toml_value *b = kiln_toml_get(t, "build");
    if (!b) return;
    if (b->type != KILN_TOML_TABLE) {
        man_error(L, b->line, b->col, "`build` must be a table, not %s", man_a_type(b));
        return;
    }
    man_check_keys(L, b, build_keys, "[component.build]");
    man_get_strlist(L, b, "command", "[component.build]", 1, &c->build_command);
    if (!kiln_toml_get(b, "command"))
        man_error(L, b->line, b->col, "[component.%s.build] needs a `command`", c->id);
    char *wd = NULL;
    man_get_string(L, b, "workdir", "[component.build]", &wd);
    if (wd) {
        c->build_workdir = man_abs_path(L, wd);
        kiln_free(wd);
    }
    man_get_strlist(L, b, "watch", "[component.build]", 0, &c->build_watch);
}

/* Reads Kiln's per-component settings from [component.ID.tool.kiln] (Spin ignores
 * `tool` tables, so the manifest stays valid for Spin):
 *   request_timeout = "5s"        the component's time limit per request
 *   max_instance_memory = "64M"   its linear-memory cap
 *   memory_checks = "bounds"      the compile variant: "guard" (guard pages, fastest) or
 *                                 "bounds" (explicit checks, many instances alive at once)
 * Other `tool` tables belong to other tools and are ignored. */
static void load_kiln_tool(loader *L, kiln_component *c, const kiln_toml_value *t)
{
    static const char *const kiln_tool_keys[] = {"request_timeout", "max_instance_memory",
                                                 "memory_checks", NULL};
    const kiln_toml_value *tool = kiln_toml_get(t, "tool");
    const kiln_toml_value *k =
        tool && tool->type == KILN_TOML_TABLE ? kiln_toml_get(tool, "kiln") : NULL;
    if (!k) return;
    if (k->type != KILN_TOML_TABLE) {
        man_error(L, k->line, k->col, "`tool.kiln` must be a table, not %s", man_a_type(k));
        return;
    }
    man_check_keys(L, k, kiln_tool_keys, "[component.tool.kiln]");
    const kiln_toml_value *v = kiln_toml_get(k, "request_timeout");
    if (v && (v->type != KILN_TOML_STRING ||
              kiln_parse_duration_ms(v->u.str.ptr, &c->request_timeout_ms) < 0 ||
              c->request_timeout_ms == 0))
        man_error(L, v->line, v->col,
                  "`request_timeout` must be a duration string like \"5s\" or \"500ms\"");
    v = kiln_toml_get(k, "max_instance_memory");
    if (v && (v->type != KILN_TOML_STRING ||
              kiln_parse_size(v->u.str.ptr, &c->max_instance_memory) < 0 ||
              c->max_instance_memory < 65536))
        man_error(L, v->line, v->col,
                  "`max_instance_memory` must be a size string of at least 64K, like \"64M\"");
    v = kiln_toml_get(k, "memory_checks");
    if (v) {
        const char *s = v->type == KILN_TOML_STRING ? v->u.str.ptr : "";
        c->memory_checks = strcmp(s, "guard") == 0 ? 1 : strcmp(s, "bounds") == 0 ? 2 : 0;
        if (!c->memory_checks)
            man_error(L, v->line, v->col,
                      "`memory_checks` must be \"guard\" (guard pages) or \"bounds\" "
                      "(explicit bounds checks)");
    }
}

/* Adds a component loaded from table t (a version-1 [[component]] when v1: its
 * variables are `config`); returns its index or -1. */
long man_load_component(loader *L, const char *id, const kiln_toml_value *t, int line, int col,
                        int v1)
{
    kiln_manifest *m = L->m;
    kiln_component *n = kiln_realloc(m->components, (m->components_len + 1) * sizeof *n);
    if (!n) {
        man_oom(L);
        return -1;
    }
    m->components = n;
    long idx = (long)m->components_len++;
    kiln_component *c = &m->components[idx];
    memset(c, 0, sizeof *c);
    c->line = line;
    c->col = col;
    c->id = kiln_strdup(id);
    if (!c->id) {
        man_oom(L);
        return -1;
    }
    char where[64];
    snprintf(where, sizeof where, "component `%.40s`", id);
    man_check_keys(L, t, v1 ? v1_component_keys : component_keys, where);
    man_get_string(L, t, "description", where, &c->description);
    load_source(L, c, t);
    load_files(L, c, t);
    man_get_strlist(L, t, "exclude_files", where, 0, &c->exclude_files);
    man_get_kvlist(L, t, "environment", where, &c->environment);
    load_hosts(L, c, t, v1);
    man_get_strlist(L, t, "key_value_stores", where, 0, &c->key_value_stores);
    man_get_strlist(L, t, "sqlite_databases", where, 0, &c->sqlite_databases);
    const char *vars_key = v1 ? "config" : "variables";
    if (man_get_kvlist(L, t, vars_key, where, &c->variables) == 0) {
        const kiln_toml_value *vt = kiln_toml_get(t, vars_key);
        for (size_t i = 0; i < c->variables.len; i++) {
            const kiln_toml_entry *e = kiln_toml_get_entry(vt, c->variables.items[i].key);
            check_template(L, c->variables.items[i].value, e->value, id);
        }
    }
    load_build(L, c, t);
    load_kiln_tool(L, c, t);
    man_get_strlist(L, t, "ai_models", where, 0, &c->ai_models);
    man_get_strlist(L, t, "targets", where, 0, &c->targets);
    man_load_spin3_component(L, c, t);
    return idx;
}

void man_load_components(loader *L, const kiln_toml_value *root)
{
    const kiln_toml_value *comps = kiln_toml_get(root, "component");
    if (!comps) return;
    if (comps->type != KILN_TOML_TABLE) {
        man_error(L, comps->line, comps->col, "`component` must be a table of components");
        return;
    }
    for (size_t i = 0; i < kiln_toml_table_len(comps); i++) {
        const kiln_toml_entry *e = kiln_toml_table_at(comps, i);
        if (!man_is_kebab(e->key))
            man_error(L, e->line, e->col,
                      "component id `%s` must be kebab-case (lowercase letters and digits "
                      "separated by '-', starting with a letter)",
                      e->key);
        if (e->value->type != KILN_TOML_TABLE) {
            man_error(L, e->value->line, e->value->col, "component `%s` must be a table, not %s",
                      e->key, man_a_type(e->value));
            continue;
        }
        if (man_load_component(L, e->key, e->value, e->value->line, e->value->col, 0) < 0 && L->oom)
            return;
    }
}

/* Reads `route`: "/path" or { private = true }. */
static void load_route(loader *L, kiln_trigger *t, const kiln_toml_value *tt)
{
    const kiln_toml_value *r = kiln_toml_get(tt, "route");
    if (!r) {
        man_error(L, tt->line, tt->col, "[[trigger.http]] needs a `route`");
        return;
    }
    t->line = r->line;
    t->col = r->col;
    if (r->type == KILN_TOML_STRING) {
        if (r->u.str.ptr[0] != '/') {
            man_error(L, r->line, r->col, "route \"%s\" must start with '/'", r->u.str.ptr);
            return;
        }
        t->route = kiln_strdup(r->u.str.ptr);
        if (!t->route) man_oom(L);
        return;
    }
    if (r->type == KILN_TOML_TABLE) {
        man_check_keys(L, r, route_keys, "a route");
        const kiln_toml_value *p = kiln_toml_get(r, "private");
        if (p && p->type == KILN_TOML_BOOL && p->u.boolean) {
            t->is_private = 1;
            return;
        }
        man_error(L, p ? p->line : r->line, p ? p->col : r->col,
                  "a route table must be { private = true }");
        return;
    }
    man_error(L, r->line, r->col,
              "route must be a string like \"/api/...\" or { private = true }, "
              "not %s",
              man_a_type(r));
}

/* Reads `executor`. */
static void load_executor(loader *L, kiln_trigger *t, const kiln_toml_value *tt)
{
    const kiln_toml_value *x = kiln_toml_get(tt, "executor");
    if (!x) return;
    if (x->type != KILN_TOML_TABLE) {
        man_error(L, x->line, x->col, "`executor` must be a table like { type = \"wagi\" }, not %s",
                  man_a_type(x));
        return;
    }
    char *type = NULL;
    if (man_get_string(L, x, "type", "`executor`", &type)) return;
    if (!type) {
        man_error(L, x->line, x->col, "`executor` needs a `type` (\"http\" or \"wagi\")");
        return;
    }
    const kiln_toml_value *tv = kiln_toml_get(x, "type");
    if (strcmp(type, "http") == 0 || strcmp(type, "spin") == 0) {
        /* "http" is Spin's canonical name of its wasi:http executor, "spin" an alias */
        static const char *const spin_keys[] = {"type", NULL};
        t->executor = KILN_EXECUTOR_SPIN;
        man_check_keys(L, x, spin_keys, "an http executor");
    } else if (strcmp(type, "wagi") == 0) {
        static const char *const wagi_keys[] = {"type", "argv", "entrypoint", "pass_authorization",
                                                NULL};
        t->executor = KILN_EXECUTOR_WAGI;
        man_check_keys(L, x, wagi_keys, "a wagi executor");
        /* Kiln's extension: CGI withholds Authorization from handlers (RFC 3875 4.1.18);
         * a handler that verifies tokens itself opts in, like Apache's CGIPassAuth. */
        const kiln_toml_value *pa = kiln_toml_get(x, "pass_authorization");
        if (pa && pa->type != KILN_TOML_BOOL)
            man_error(L, pa->line, pa->col, "`pass_authorization` must be true or false, not %s",
                      man_a_type(pa));
        else if (pa)
            t->wagi_pass_authorization = pa->u.boolean;
        man_get_string(L, x, "argv", "a wagi executor", &t->wagi_argv);
        man_get_string(L, x, "entrypoint", "a wagi executor", &t->wagi_entrypoint);
        if (!t->wagi_argv) t->wagi_argv = kiln_strdup("${SCRIPT_NAME} ${ARGS}");
        if (!t->wagi_entrypoint) t->wagi_entrypoint = kiln_strdup("_start");
        if (!t->wagi_argv || !t->wagi_entrypoint) man_oom(L);
    } else {
        const char *s = man_suggest(type, executor_types);
        man_error(L, tv->line, tv->col,
                  "unknown executor type \"%s\"; expected \"http\" or \"wagi\"%s%s%s", type,
                  s ? " (did you mean \"" : "", s ? s : "", s ? "\"?)" : "");
    }
    kiln_free(type);
}

/* Reads `static_response`. */
static void load_static(loader *L, kiln_trigger *t, const kiln_toml_value *tt)
{
    const kiln_toml_value *s = kiln_toml_get(tt, "static_response");
    if (!s) return;
    if (s->type != KILN_TOML_TABLE) {
        man_error(L, s->line, s->col, "`static_response` must be a table, not %s", man_a_type(s));
        return;
    }
    t->has_static_response = 1;
    t->status_code = 200;
    /* Spin ignores other keys here (its StaticResponse does not deny them): a warning */
    for (size_t i = 0; i < kiln_toml_table_len(s); i++) {
        const kiln_toml_entry *e = kiln_toml_table_at(s, i);
        const char *near = man_suggest(e->key, static_keys);
        int known = 0;
        for (const char *const *k = static_keys; *k; k++)
            if (strcmp(e->key, *k) == 0) known = 1;
        if (!known)
            man_warning(L, e->line, e->col,
                        "unknown key `%s` in a static_response is ignored%s%s%s", e->key,
                        near ? " (did you mean `" : "", near ? near : "", near ? "`?)" : "");
    }
    const kiln_toml_value *sc = kiln_toml_get(s, "status_code");
    if (sc && (sc->type != KILN_TOML_INTEGER || sc->u.integer < 100 || sc->u.integer > 599))
        man_error(L, sc->line, sc->col, "status_code must be an integer from 100 to 599");
    else if (sc)
        t->status_code = (int)sc->u.integer;
    man_get_kvlist(L, s, "headers", "a static_response", &t->static_headers);
    const kiln_toml_value *body = kiln_toml_get(s, "body");
    if (body && body->type != KILN_TOML_STRING) {
        man_error(L, body->line, body->col, "`body` must be a string, not %s", man_a_type(body));
    } else if (body) {
        t->static_body = kiln_strndup(body->u.str.ptr, body->u.str.len);
        t->static_body_len = body->u.str.len;
        if (!t->static_body) man_oom(L);
    }
}

/* Reads `component`: an id of a [component.ID], or an inline component table. */
void man_trigger_component(loader *L, long *out, const kiln_toml_value *tt, size_t index)
{
    kiln_trigger t = {0};
    t.component = -1;
    load_trigger_component(L, &t, tt, index);
    *out = t.component;
}

static void load_trigger_component(loader *L, kiln_trigger *t, const kiln_toml_value *tt,
                                   size_t index)
{
    const kiln_toml_value *c = kiln_toml_get(tt, "component");
    if (!c) {
        if (!t->has_static_response)
            man_error(L, tt->line, tt->col,
                      "[[trigger.http]] needs a `component` (or a `static_response`)");
        return;
    }
    if (t->has_static_response) {
        man_error(L, c->line, c->col, "give either `component` or `static_response`, not both");
        return;
    }
    if (c->type == KILN_TOML_STRING) {
        const kiln_component *found = kiln_manifest_component(L->m, c->u.str.ptr);
        if (found) {
            t->component = (long)(found - L->m->components);
            return;
        }
        size_t n = L->m->components_len;
        const char **ids = kiln_calloc(n + 1, sizeof *ids);
        const char *s = NULL;
        if (ids) {
            for (size_t i = 0; i < n; i++)
                ids[i] = L->m->components[i].id;
            s = man_suggest(c->u.str.ptr, ids);
        }
        man_error(L, c->line, c->col, "trigger names component `%s`, which is not defined%s%s%s",
                  c->u.str.ptr, s ? "; did you mean `" : "", s ? s : "", s ? "`?" : "");
        kiln_free(ids);
        return;
    }
    if (c->type == KILN_TOML_TABLE) {
        char id[48];
        snprintf(id, sizeof id, "inline-component-%zu", index + 1);
        t->component = man_load_component(L, id, c, c->line, c->col, 0);
        return;
    }
    man_error(L, c->line, c->col, "`component` must be a component id or a table, not %s",
              man_a_type(c));
}

void man_load_triggers(loader *L, const kiln_toml_value *root)
{
    kiln_manifest *m = L->m;
    const kiln_toml_value *trig = kiln_toml_get(root, "trigger");
    if (!trig) return;
    if (trig->type != KILN_TOML_TABLE) {
        man_error(L, trig->line, trig->col, "`trigger` must be a table like [[trigger.http]]");
        return;
    }
    for (size_t i = 0; i < kiln_toml_table_len(trig); i++) {
        const kiln_toml_entry *e = kiln_toml_table_at(trig, i);
        if (strcmp(e->key, "http") != 0) man_load_other_triggers(L, e);
    }
    const kiln_toml_value *http = kiln_toml_get(trig, "http");
    if (!http) return;
    if (http->type != KILN_TOML_ARRAY) {
        man_error(L, http->line, http->col,
                  "`trigger.http` must be an array of tables ([[trigger.http]]), not %s",
                  man_a_type(http));
        return;
    }
    size_t n = kiln_toml_array_len(http);
    m->triggers = kiln_calloc(n ? n : 1, sizeof *m->triggers);
    if (!m->triggers) {
        man_oom(L);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const kiln_toml_value *tt = kiln_toml_array_at(http, i);
        if (tt->type != KILN_TOML_TABLE) {
            man_error(L, tt->line, tt->col, "each trigger.http entry must be a table, not %s",
                      man_a_type(tt));
            continue;
        }
        kiln_trigger *t = &m->triggers[m->triggers_len++];
        t->component = -1;
        t->line = tt->line;
        t->col = tt->col;
        man_check_keys(L, tt, trigger_keys, "[[trigger.http]]");
        man_get_string(L, tt, "id", "[[trigger.http]]", &t->id);
        if (!t->id) {
            char id[32];
            snprintf(id, sizeof id, "trigger-%zu", i + 1);
            t->id = kiln_strdup(id);
            if (!t->id) {
                man_oom(L);
                return;
            }
        }
        load_route(L, t, tt);
        load_executor(L, t, tt);
        man_load_trigger_spin3(L, t, tt);
        load_static(L, t, tt);
        load_trigger_component(L, t, tt, i);
        if (L->oom) return;
    }
}

kiln_trigger *man_add_http_trigger(loader *L, const kiln_toml_value *tt, long component,
                                   const char *id)
{
    static const char *const v1_http_keys[] = {"route", "executor", NULL};
    kiln_manifest *m = L->m;
    kiln_trigger *n = kiln_realloc(m->triggers, (m->triggers_len + 1) * sizeof *n);
    if (!n) {
        man_oom(L);
        return NULL;
    }
    m->triggers = n;
    kiln_trigger *t = &m->triggers[m->triggers_len++];
    memset(t, 0, sizeof *t);
    t->component = component;
    t->line = tt->line;
    t->col = tt->col;
    t->id = kiln_strdup(id);
    if (!t->id) {
        man_oom(L);
        return NULL;
    }
    man_check_keys(L, tt, v1_http_keys, "[component.trigger]");
    load_route(L, t, tt);
    load_executor(L, t, tt);
    return t;
}

/* Number of wildcard characters at the end of a route: a trailing star 1, "/..." 3, else 0. */
static size_t wildcard_len(const char *r, size_t len)
{
    if (len >= 2 && strcmp(r + len - 2, "/*") == 0) return 1;
    if (len >= 4 && strcmp(r + len - 4, "/...") == 0) return 3;
    return 0;
}

/* Route equality as the router sees it: a trailing "/" plus star is the same as "/...". */
static int same_route(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t wa = wildcard_len(a, la), wb = wildcard_len(b, lb);
    return (wa > 0) == (wb > 0) && la - wa == lb - wb && memcmp(a, b, la - wa) == 0;
}

/* Warns once about Spin features a servable app uses that Kiln does not implement:
 * Serverless AI models, and triggers of other types next to HTTP ones (an app with no
 * HTTP trigger is refused by kiln_manifest_unserved instead). */
static void warn_unimplemented(loader *L)
{
    kiln_manifest *m = L->m;
    const kiln_component *ai = NULL;
    size_t n_ai = 0;
    for (size_t i = 0; i < m->components_len; i++)
        if (m->components[i].ai_models.len && n_ai++ == 0) ai = &m->components[i];
    if (ai)
        man_warning(L, ai->line, ai->col,
                    "`ai_models` (Spin's Serverless AI, used by %zu component%s: `%s`%s) is not "
                    "implemented by Kiln: the app is served, but its inference calls fail",
                    n_ai, n_ai == 1 ? "" : "s", ai->id, n_ai > 1 ? " and more" : "");
    if (!kiln_manifest_serves_some(m)) return;
    for (size_t i = 0; i < m->other_triggers_len; i++) {
        const kiln_other_trigger *t = &m->other_triggers[i];
        if (kiln_trigger_type_served(t->type)) continue;
        int seen = 0;
        size_t count = 0;
        for (size_t k = 0; k < m->other_triggers_len; k++) {
            if (strcmp(m->other_triggers[k].type, t->type) != 0) continue;
            if (k < i) seen = 1;
            count++;
        }
        if (!seen)
            man_warning(L, t->line, t->col,
                        "[[trigger.%s]] (%zu trigger%s) is not implemented by Kiln: only the "
                        "HTTP, Redis and cron triggers are served",
                        t->type, count, count == 1 ? "" : "s");
    }
}

void man_cross_check(loader *L)
{
    kiln_manifest *m = L->m;
    warn_unimplemented(L);
    man_check_dependencies(L);
    /* duplicate routes: warn, and drop the earlier trigger (the later one wins) */
    for (size_t j = 1; j < m->triggers_len; j++) {
        kiln_trigger *b = &m->triggers[j];
        if (!b->route) continue;
        for (size_t i = 0; i < j; i++) {
            kiln_trigger *a = &m->triggers[i];
            if (!a->route || !same_route(a->route, b->route)) continue;
            man_warning(L, b->line, b->col,
                        "duplicate route \"%s\" (also at line %d); the later one wins", b->route,
                        a->line);
            man_trigger_free(a);
            memmove(a, a + 1, (m->triggers_len - i - 1) * sizeof *a);
            m->triggers_len--;
            j--;
            break;
        }
    }
}
