/* app.c — the application's key-value stores and variables, resolved once when kiln up
 * starts, and the lookup instance contexts use (spin.h). */
#include "host/spin/app.h"
#include "host/wasihttp/settings.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/file.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* One configured store label and the database serving it (shared by labels of one path). */
typedef struct spin_db {
    char *label;
    char *path; /* NULL: in memory */
    char *url;  /* a Redis store: its url */
    kiln_kvs *db;
    int owner; /* this entry opened db (others share it) */
} spin_db;

/* One configured SQLite database label (labels of one path share the connection). */
typedef struct spin_sql {
    char *label;
    char *path; /* NULL: in memory */
    kiln_sqldb *db;
    int owner;
} spin_sql;

struct spin_component {
    char *id;
    char **sql_labels; /* granted SQLite databases */
    kiln_sqldb **sql_dbs;
    size_t nsql;
    char **labels;  /* granted */
    kiln_kvs **dbs; /* per label; NULL: not configured */
    size_t nlabels;
    spin_var *vars;
    size_t nvars;
    char **outbound; /* allowed_outbound_hosts, templates resolved */
    size_t noutbound;
    char *describe;
};

struct kiln_spin_app {
    int outbound_limited; /* the runtime config's [outbound_http] limit */
    unsigned outbound_max;
    spin_db *dbs;
    size_t ndbs;
    spin_sql *sqls;
    size_t nsqls;
    spin_component *comps;
    size_t ncomps;
};

static kiln_spin_app *installed;

const spin_component *spin_app_component(const char *id)
{
    kiln_spin_app *a = installed;
    for (size_t i = 0; a && i < a->ncomps; i++)
        if (strcmp(a->comps[i].id, id) == 0) return &a->comps[i];
    return NULL;
}

int spin_component_store(const spin_component *c, const char *label, size_t len, kiln_kvs **db,
                         const char **name)
{
    for (size_t i = 0; i < c->nlabels; i++) {
        if (strlen(c->labels[i]) != len || memcmp(c->labels[i], label, len) != 0) continue;
        *db = c->dbs[i];
        *name = c->labels[i];
        return c->dbs[i] ? 1 : 0;
    }
    return -1;
}

int spin_component_sqlite(const spin_component *c, const char *label, size_t len, kiln_sqldb **db)
{
    for (size_t i = 0; i < c->nsql; i++) {
        if (strlen(c->sql_labels[i]) != len || memcmp(c->sql_labels[i], label, len) != 0) continue;
        *db = c->sql_dbs[i];
        return c->sql_dbs[i] ? 1 : 0;
    }
    return -1;
}

const spin_var *spin_component_vars(const spin_component *c, size_t *n)
{
    *n = c->nvars;
    return c->vars;
}

const char *spin_component_id(const spin_component *c)
{
    return c->id;
}

int kiln_spin_app_install(kiln_spin_app *a)
{
    if (kiln_spin_register() < 0) return -1;
    installed = a;
    const char **ids = a && a->outbound_limited ? kiln_calloc(a->ncomps + 1, sizeof *ids) : NULL;
    if (a && a->outbound_limited && !ids) return -1;
    for (size_t i = 0; ids && i < a->ncomps; i++)
        ids[i] = a->comps[i].id;
    int rc = kiln_wasihttp_limit_outbound(ids, ids ? a->ncomps : 0, ids ? a->outbound_max : 0);
    kiln_free(ids);
    return rc;
}

const char *kiln_spin_app_describe(const kiln_spin_app *a, const char *id)
{
    for (size_t i = 0; a && i < a->ncomps; i++)
        if (strcmp(a->comps[i].id, id) == 0) return a->comps[i].describe;
    return NULL;
}

/* Sets *err to a message printed by fmt; returns -1. */
static int fail(char **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(char **err, const char *fmt, ...)
{
    kiln_buf b = KILN_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    int rc = kiln_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    if (rc < 0) {
        kiln_buf_free(&b);
        *err = kiln_strdup("out of memory");
    } else {
        *err = kiln_buf_steal(&b);
    }
    return -1;
}

/* mkdir -p dir (a copy is modified). 0, or -1 with errno. */
static int make_dirs(const char *dir)
{
    char *p = kiln_strdup(dir);
    if (!p) return -1;
    int rc = 0;
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s) continue;
        char c = *s;
        *s = '\0';
        if (mkdir(p, 0755) < 0 && errno != EEXIST) rc = -1;
        *s = c;
        if (!c || rc < 0) break;
    }
    kiln_free(p);
    return rc;
}

/* Opens the database of d (sharing one already open for the same path). */
static int open_db(kiln_spin_app *a, spin_db *d, char **err)
{
    if (d->db) return 0;
    if (d->url) {
        char *why = NULL;
        if (!(d->db = kiln_kvs_open_redis(d->url, &why))) {
            fail(err, "key-value store \"%s\": %s", d->label, why ? why : "cannot open");
            kiln_free(why);
            return -1;
        }
        d->owner = 1;
        return 0;
    }
    for (size_t i = 0; d->path && i < a->ndbs; i++) {
        if (a->dbs[i].db && a->dbs[i].path && strcmp(a->dbs[i].path, d->path) == 0) {
            d->db = a->dbs[i].db;
            return 0;
        }
    }
    if (d->path) {
        char *dir = kiln_strdup(d->path);
        if (!dir) return fail(err, "out of memory");
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir) *slash = '\0';
        int rc = slash && slash != dir ? make_dirs(dir) : 0;
        if (rc < 0)
            fail(err, "key-value store \"%s\": cannot create %s: %s", d->label, dir,
                 strerror(errno));
        kiln_free(dir);
        if (rc < 0) return -1;
    }
    char *why = NULL;
    d->db = kiln_kvs_open(d->path, &why);
    if (!d->db) {
        fail(err, "key-value store \"%s\": %s", d->label, why ? why : "cannot open");
        kiln_free(why);
        return -1;
    }
    d->owner = 1;
    return 0;
}

/* Opens the SQLite database of q (sharing one already open for the same path; creating
 * the file's directory, as Spin does). */
static int open_sql(kiln_spin_app *a, spin_sql *q, char **err)
{
    if (q->db) return 0;
    for (size_t i = 0; q->path && i < a->nsqls; i++) {
        if (a->sqls[i].db && a->sqls[i].path && strcmp(a->sqls[i].path, q->path) == 0) {
            q->db = a->sqls[i].db;
            return 0;
        }
    }
    if (q->path) {
        char *dir = kiln_strdup(q->path);
        if (!dir) return fail(err, "out of memory");
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir) *slash = '\0';
        int rc = slash && slash != dir ? make_dirs(dir) : 0;
        if (rc < 0)
            fail(err, "sqlite database \"%s\": cannot create %s: %s", q->label, dir,
                 strerror(errno));
        kiln_free(dir);
        if (rc < 0) return -1;
    }
    char *why = NULL;
    if (!(q->db = kiln_sqldb_open(q->path, &why))) {
        fail(err, "sqlite database \"%s\": %s", q->label, why ? why : "cannot open");
        kiln_free(why);
        return -1;
    }
    q->owner = 1;
    return 0;
}

/* The configured SQLite databases: the runtime config's, then "default" in the state dir
 * (STATE_DIR/sqlite_db.db, Spin's name). */
static int add_sqls(kiln_spin_app *a, const kiln_spin_runtime_config *rc, const char *sdir,
                    char **err)
{
    a->sqls = kiln_calloc(rc->nsqlite + 1, sizeof *a->sqls);
    if (!a->sqls) return fail(err, "out of memory");
    int has_default = 0;
    for (size_t i = 0; i < rc->nsqlite; i++) {
        spin_sql *q = &a->sqls[a->nsqls++];
        q->label = kiln_strdup(rc->sqlite[i].label);
        q->path = rc->sqlite[i].path ? kiln_strdup(rc->sqlite[i].path) : NULL;
        if (!q->label || (rc->sqlite[i].path && !q->path)) return fail(err, "out of memory");
        has_default |= strcmp(q->label, "default") == 0;
    }
    if (!has_default) {
        spin_sql *q = &a->sqls[a->nsqls++];
        kiln_buf p = KILN_BUF_INIT;
        q->label = kiln_strdup("default");
        if (*sdir && kiln_buf_printf(&p, "%s/sqlite_db.db", sdir) < 0) {
            kiln_buf_free(&p);
            return fail(err, "out of memory");
        }
        q->path = *sdir ? kiln_buf_steal(&p) : NULL;
        if (!q->label || (*sdir && !q->path)) return fail(err, "out of memory");
    }
    return 0;
}

static spin_sql *find_sql(kiln_spin_app *a, const char *label)
{
    for (size_t i = 0; i < a->nsqls; i++)
        if (strcmp(a->sqls[i].label, label) == 0) return &a->sqls[i];
    return NULL;
}

/* The component's granted SQLite databases, opened; their description appended to desc. */
static int add_component_sql(kiln_spin_app *a, const kiln_component *mc, spin_component *c,
                             kiln_buf *desc, char **err)
{
    c->sql_labels = kiln_calloc(mc->sqlite_databases.len + 1, sizeof *c->sql_labels);
    c->sql_dbs = kiln_calloc(mc->sqlite_databases.len + 1, sizeof *c->sql_dbs);
    if (!c->sql_labels || !c->sql_dbs) return fail(err, "out of memory");
    for (size_t i = 0; i < mc->sqlite_databases.len; i++) {
        const char *label = mc->sqlite_databases.items[i];
        spin_sql *q = find_sql(a, label);
        if (!q)
            return fail(err,
                        "component %s: unknown sqlite_databases label \"%s\" (define "
                        "[sqlite_database.%s] in a --runtime-config-file)",
                        mc->id, label, label);
        if (open_sql(a, q, err) < 0) return -1;
        if (!(c->sql_labels[c->nsql] = kiln_strdup(label)) ||
            kiln_buf_printf(desc, "%s%s at %s",
                            c->nsql     ? ", "
                            : desc->len ? "; sqlite database "
                                        : "sqlite database ",
                            label, q->path ? q->path : "(memory)") < 0)
            return fail(err, "out of memory");
        c->sql_dbs[c->nsql++] = q->db;
    }
    return 0;
}

/* Runs each --sqlite statement: "@FILE[:LABEL]" a script on LABEL, else one statement on
 * the default database (Spin's SqlStatementExecutorHook). */
static int run_sqlite_statements(kiln_spin_app *a, const kiln_spin_options *o, char **err)
{
    for (size_t i = 0; i < o->nsqlite_statements; i++) {
        const char *s = o->sqlite_statements[i];
        char *why = NULL, *file = NULL;
        const char *label = "default";
        int rc;
        if (s[0] == '@') {
            const char *colon = strchr(s + 1, ':');
            file = colon ? kiln_strndup(s + 1, (size_t)(colon - s - 1)) : kiln_strdup(s + 1);
            if (colon) label = colon + 1;
            if (!file) return fail(err, "out of memory");
            if (!*file || !*label) {
                kiln_free(file);
                return fail(err, "--sqlite %s: expected @FILE or @FILE:LABEL", s);
            }
        }
        spin_sql *q = find_sql(a, label);
        if (!q) {
            kiln_free(file);
            return fail(err, "--sqlite %s: no sqlite database labelled \"%s\"", s, label);
        }
        if (open_sql(a, q, err) < 0) {
            kiln_free(file);
            return -1;
        }
        if (file) {
            kiln_buf text = KILN_BUF_INIT;
            if (kiln_read_file(file, &text) < 0 || kiln_buf_putc(&text, '\0') < 0) {
                fail(err, "--sqlite: cannot read %s: %s", file, strerror(errno));
                kiln_buf_free(&text);
                kiln_free(file);
                return -1;
            }
            rc = kiln_sqldb_exec(q->db, text.data, &why);
            kiln_buf_free(&text);
        } else {
            kiln_sql_result r;
            rc = kiln_sqldb_query(q->db, s, strlen(s), NULL, 0, &r, &why);
            if (rc == 0) kiln_sql_result_free(&r);
        }
        if (rc < 0) {
            fail(err, "--sqlite %s: database \"%s\": %s", file ? file : s, label,
                 why ? why : "failed");
            kiln_free(why);
            kiln_free(file);
            return -1;
        }
        kiln_free(file);
    }
    return 0;
}

/* The state directory: --state-dir, else the runtime config's, else MANIFEST_DIR/.kiln;
 * relative paths against the working directory. kiln_malloc'd ("" : none). */
static char *state_dir(const kiln_manifest *m, const kiln_spin_options *o,
                       const kiln_spin_runtime_config *rc)
{
    kiln_buf b = KILN_BUF_INIT;
    const char *d = o->state_dir ? o->state_dir : rc->state_dir;
    int r;
    if (!d) {
        r = kiln_buf_printf(&b, "%s/.kiln", m->dir);
    } else if (d[0] == '/' || d[0] == '\0') {
        r = kiln_buf_puts(&b, d);
    } else {
        char *cwd = getcwd(NULL, 0);
        r = cwd ? kiln_buf_printf(&b, "%s/%s", cwd, d) : -1;
        free(cwd);
    }
    if (r < 0) {
        kiln_buf_free(&b);
        return NULL;
    }
    return kiln_buf_steal(&b);
}

/* Adds the configured stores: the runtime config's, then "default" in the state dir. */
static int add_dbs(kiln_spin_app *a, const kiln_spin_runtime_config *rc, const char *sdir,
                   char **err)
{
    a->dbs = kiln_calloc(rc->nstores + 1, sizeof *a->dbs);
    if (!a->dbs) return fail(err, "out of memory");
    int has_default = 0;
    for (size_t i = 0; i < rc->nstores; i++) {
        spin_db *d = &a->dbs[a->ndbs++];
        d->label = kiln_strdup(rc->stores[i].label);
        d->path = rc->stores[i].path ? kiln_strdup(rc->stores[i].path) : NULL;
        d->url = rc->stores[i].url ? kiln_strdup(rc->stores[i].url) : NULL;
        if (!d->label || (rc->stores[i].path && !d->path) || (rc->stores[i].url && !d->url))
            return fail(err, "out of memory");
        has_default |= strcmp(d->label, "default") == 0;
    }
    if (!has_default) {
        spin_db *d = &a->dbs[a->ndbs++];
        kiln_buf p = KILN_BUF_INIT;
        d->label = kiln_strdup("default");
        if (*sdir && kiln_buf_printf(&p, "%s/sqlite_key_value.db", sdir) < 0) {
            kiln_buf_free(&p);
            return fail(err, "out of memory");
        }
        d->path = *sdir ? kiln_buf_steal(&p) : NULL;
        if (!d->label || (*sdir && !d->path)) return fail(err, "out of memory");
    }
    return 0;
}

typedef struct lookup_arg {
    const kiln_manifest *m;
    char **values;
} lookup_arg;

static const char *lookup(void *arg, const char *name, size_t len)
{
    lookup_arg *l = arg;
    for (size_t i = 0; i < l->m->variables_len; i++)
        if (strlen(l->m->variables[i].name) == len &&
            memcmp(l->m->variables[i].name, name, len) == 0)
            return l->values[i];
    return NULL;
}

/* Resolves the component's allowed_outbound_hosts with the application variables (Spin:
 * an entry that renders empty, "http://" or "https://" grants nothing and is dropped). */
static int add_outbound(const kiln_component *mc, lookup_arg *la, spin_component *c, char **err)
{
    const kiln_strlist *hs = &mc->allowed_outbound_hosts;
    if (!(c->outbound = kiln_calloc(hs->len + 1, sizeof *c->outbound)))
        return fail(err, "out of memory");
    for (size_t i = 0; i < hs->len; i++) {
        char *why = NULL;
        char *h = kiln_spin_template_render(hs->items[i], lookup, la, &why);
        if (!h) {
            fail(err,
                 "component %s: allowed_outbound_hosts entry \"%s\": %s (a variable without a "
                 "value?)",
                 mc->id, hs->items[i], why ? why : "cannot render");
            kiln_free(why);
            return -1;
        }
        const char *why_bad = NULL;
        if (!*h || strcmp(h, "http://") == 0 || strcmp(h, "https://") == 0) {
            kiln_free(h); /* an optional endpoint left empty */
            continue;
        }
        if (strcmp(h, hs->items[i]) != 0 && !kiln_outbound_host_valid(h, &why_bad)) {
            fail(err, "component %s: allowed_outbound_hosts entry \"%s\" resolves to \"%s\": %s",
                 mc->id, hs->items[i], h, why_bad);
            kiln_free(h);
            return -1;
        }
        c->outbound[c->noutbound++] = h;
    }
    return 0;
}

const char *const *kiln_spin_app_outbound(const kiln_spin_app *a, const char *id, size_t *n)
{
    *n = 0;
    for (size_t i = 0; a && i < a->ncomps; i++)
        if (strcmp(a->comps[i].id, id) == 0) {
            *n = a->comps[i].noutbound;
            return (const char *const *)a->comps[i].outbound;
        }
    return NULL;
}

/* Fills one component: its granted stores (opened) and its variables (rendered). */
static int add_component(kiln_spin_app *a, const kiln_manifest *m, const kiln_component *mc,
                         char **values, spin_component *c, char **err)
{
    c->id = kiln_strdup(mc->id);
    c->labels = kiln_calloc(mc->key_value_stores.len + 1, sizeof *c->labels);
    c->dbs = kiln_calloc(mc->key_value_stores.len + 1, sizeof *c->dbs);
    c->vars = kiln_calloc(mc->variables.len + 1, sizeof *c->vars);
    if (!c->id || !c->labels || !c->dbs || !c->vars) return fail(err, "out of memory");
    if (mc->unused) return 0; /* kiln up -c left it out: its stores are not opened */
    kiln_buf desc = KILN_BUF_INIT;
    for (size_t i = 0; i < mc->key_value_stores.len; i++) {
        const char *label = mc->key_value_stores.items[i];
        spin_db *d = NULL;
        for (size_t k = 0; k < a->ndbs && !d; k++)
            if (strcmp(a->dbs[k].label, label) == 0) d = &a->dbs[k];
        if (!d) {
            kiln_buf_free(&desc);
            return fail(err,
                        "component %s: unknown key_value_stores label \"%s\" (define "
                        "[key_value_store.%s] in a --runtime-config-file)",
                        mc->id, label, label);
        }
        if (open_db(a, d, err) < 0) {
            kiln_buf_free(&desc);
            return -1;
        }
        if (!(c->labels[c->nlabels] = kiln_strdup(label)) ||
            kiln_buf_printf(&desc, "%s%s at %s%s", desc.len ? ", " : "key-value store ", label,
                            d->url ? "redis " : "",
                            d->url    ? kiln_kvs_redis_where(d->db)
                            : d->path ? d->path
                                      : "(memory)") < 0) {
            kiln_buf_free(&desc);
            return fail(err, "out of memory");
        }
        c->dbs[c->nlabels++] = d->db;
    }
    if (add_component_sql(a, mc, c, &desc, err) < 0) {
        kiln_buf_free(&desc);
        return -1;
    }
    c->describe = desc.len ? kiln_buf_steal(&desc) : NULL;
    kiln_buf_free(&desc);
    lookup_arg la = {m, values};
    if (add_outbound(mc, &la, c, err) < 0) return -1;
    for (size_t i = 0; i < mc->variables.len; i++) {
        char *why = NULL;
        spin_var *v = &c->vars[c->nvars];
        v->value = kiln_spin_template_render(mc->variables.items[i].value, lookup, &la, &why);
        if (!v->value) {
            fail(err, "component %s: variable %s: %s", mc->id, mc->variables.items[i].key,
                 why ? why : "cannot render");
            kiln_free(why);
            return -1;
        }
        c->nvars++;
        if (!(v->name = kiln_strdup(mc->variables.items[i].key))) return fail(err, "out of memory");
    }
    return 0;
}

/* The --variable values as a static provider put before the runtime config's. */
static int cli_provider(const kiln_spin_options *o, kiln_spin_runtime_config *rc, char **err)
{
    if (!o->nvariables) return 0;
    kiln_spin_var_provider *ps = kiln_realloc(rc->providers, (rc->nproviders + 1) * sizeof *ps);
    if (!ps) return fail(err, "out of memory");
    rc->providers = ps;
    memmove(ps + 1, ps, rc->nproviders * sizeof *ps);
    rc->nproviders++;
    kiln_spin_var_provider *p = &ps[0];
    memset(p, 0, sizeof *p);
    if (!(p->values.items = kiln_calloc(o->nvariables, sizeof *p->values.items)))
        return fail(err, "out of memory");
    for (size_t i = 0; i < o->nvariables; i++) {
        const char *v = o->variables[i], *eq = strchr(v, '=');
        if (!eq || eq == v) return fail(err, "--variable %s: expected NAME=VALUE or NAME=@FILE", v);
        kiln_kv *kv = &p->values.items[p->values.len++];
        kiln_buf b = KILN_BUF_INIT;
        if (eq[1] == '@') {
            if (kiln_read_file(eq + 2, &b) < 0) {
                kiln_buf_free(&b);
                return fail(err, "--variable %.*s: cannot read %s: %s", (int)(eq - v), v, eq + 2,
                            strerror(errno));
            }
        } else if (kiln_buf_puts(&b, eq + 1) < 0) {
            kiln_buf_free(&b);
            return fail(err, "out of memory");
        }
        kv->value = kiln_buf_steal(&b);
        kv->key = kiln_malloc((size_t)(eq - v) + 1);
        if (!kv->key || !kv->value) return fail(err, "out of memory");
        memcpy(kv->key, v, (size_t)(eq - v));
        kv->key[eq - v] = '\0';
    }
    return 0;
}

/* Sets each --key-value KEY=VALUE in the default store. */
static int seed(kiln_spin_app *a, const kiln_spin_options *o, char **err)
{
    spin_db *d = NULL;
    for (size_t i = 0; i < a->ndbs && !d; i++)
        if (strcmp(a->dbs[i].label, "default") == 0) d = &a->dbs[i];
    if (!o->nkey_values || !d) return 0;
    if (open_db(a, d, err) < 0) return -1;
    for (size_t i = 0; i < o->nkey_values; i++) {
        const char *kv = o->key_values[i], *eq = strchr(kv, '=');
        if (!eq || eq == kv) return fail(err, "--key-value %s: expected KEY=VALUE", kv);
        char *why = NULL;
        if (kiln_kvs_set(d->db, "default", kv, (size_t)(eq - kv), (const uint8_t *)eq + 1,
                         strlen(eq + 1), &why) < 0) {
            fail(err, "--key-value %.*s: %s", (int)(eq - kv), kv, why ? why : "failed");
            kiln_free(why);
            return -1;
        }
    }
    return 0;
}

kiln_spin_app *kiln_spin_app_new(const kiln_manifest *m, const kiln_spin_options *o, char **err)
{
    kiln_spin_runtime_config rc = {0};
    kiln_spin_app *a = kiln_calloc(1, sizeof *a);
    char **values = NULL, *sdir = NULL;
    int ok = -1;
    if (!a) {
        *err = kiln_strdup("out of memory");
        return NULL;
    }
    if (o->runtime_config_file &&
        kiln_spin_runtime_config_load(o->runtime_config_file, &rc, err) < 0)
        goto out;
    if (!(sdir = state_dir(m, o, &rc))) {
        fail(err, "out of memory");
        goto out;
    }
    if (add_dbs(a, &rc, sdir, err) < 0 || add_sqls(a, &rc, sdir, err) < 0 ||
        cli_provider(o, &rc, err) < 0)
        goto out;
    if (kiln_spin_vars_resolve(m, &rc, o->getenv_fn, &values, err) < 0) goto out;
    a->outbound_limited = rc.outbound_limited;
    a->outbound_max = rc.outbound_max;
    if (!(a->comps = kiln_calloc(m->components_len + 1, sizeof *a->comps))) {
        fail(err, "out of memory");
        goto out;
    }
    ok = 0;
    for (size_t i = 0; i < m->components_len && ok == 0; i++, a->ncomps++)
        ok = add_component(a, m, &m->components[i], values, &a->comps[i], err);
    if (ok == 0) ok = seed(a, o, err);
    if (ok == 0) ok = run_sqlite_statements(a, o, err);
out:
    for (size_t i = 0; values && i < m->variables_len; i++)
        kiln_free(values[i]);
    kiln_free(values);
    kiln_free(sdir);
    kiln_spin_runtime_config_free(&rc);
    if (ok < 0) {
        kiln_spin_app_free(a);
        return NULL;
    }
    return a;
}

void kiln_spin_app_free(kiln_spin_app *a)
{
    if (!a) return;
    if (installed == a) installed = NULL;
    for (size_t i = 0; i < a->ncomps; i++) {
        spin_component *c = &a->comps[i];
        kiln_free(c->id);
        for (size_t k = 0; k < c->nlabels; k++)
            kiln_free(c->labels[k]);
        kiln_free(c->labels);
        kiln_free(c->dbs);
        for (size_t k = 0; k < c->nsql; k++)
            kiln_free(c->sql_labels[k]);
        kiln_free(c->sql_labels);
        kiln_free(c->sql_dbs);
        for (size_t k = 0; k < c->nvars; k++) {
            kiln_free(c->vars[k].name);
            kiln_free(c->vars[k].value);
        }
        kiln_free(c->vars);
        for (size_t k = 0; k < c->noutbound; k++)
            kiln_free(c->outbound[k]);
        kiln_free(c->outbound);
        kiln_free(c->describe);
    }
    kiln_free(a->comps);
    for (size_t i = 0; i < a->ndbs; i++) {
        if (a->dbs[i].owner) kiln_kvs_close(a->dbs[i].db);
        kiln_free(a->dbs[i].label);
        kiln_free(a->dbs[i].path);
        kiln_free(a->dbs[i].url);
    }
    kiln_free(a->dbs);
    for (size_t i = 0; i < a->nsqls; i++) {
        if (a->sqls[i].owner) kiln_sqldb_close(a->sqls[i].db);
        kiln_free(a->sqls[i].label);
        kiln_free(a->sqls[i].path);
    }
    kiln_free(a->sqls);
    kiln_free(a);
}
