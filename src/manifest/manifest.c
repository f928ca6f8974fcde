/* manifest.c — loads a Spin version 2 manifest into the app model (see manifest.h).
 *
 * The loader walks the TOML tree once. Every table is checked against the keys it may
 * hold (unknown keys are errors with a "did you mean" suggestion), every value against
 * the type it must have; on an error the loader records it and goes on with the next
 * key, so that one run reports everything it can. Cross-checks (triggers naming missing
 * components, duplicate routes, variable references) run after the walk. */
#include "manifest/manifest.h"
#include "manifest/manifest_internal.h"
#include "manifest/toml.h"
#include "util/alloc.h"
#include "util/buf.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- diagnostics ---------------------------------------------------------------- */

/* Appends one diagnostic "FILE:LINE:COL: [warning: ]message" to L->diags. */
static void vdiag(loader *L, int warning, int line, int col, const char *fmt, va_list ap)
{
    kiln_diags *d = L->diags;
    kiln_buf b = KILN_BUF_INIT;
    if (warning) {
        d->warnings++;
    } else {
        d->errors++;
        L->failed = 1;
    }
    if (kiln_buf_printf(&b, "%s:%d:%d: %s", L->file, line, col, warning ? "warning: " : "") ||
        kiln_buf_vprintf(&b, fmt, ap)) {
        kiln_buf_free(&b);
        return;
    }
    if (d->len == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        kiln_diag *n = kiln_realloc(d->items, cap * sizeof *n);
        if (!n) {
            kiln_buf_free(&b);
            return;
        }
        d->items = n;
        d->cap = cap;
    }
    d->items[d->len].is_warning = warning;
    d->items[d->len].line = line;
    d->items[d->len].col = col;
    d->items[d->len++].message = kiln_buf_steal(&b);
}

void man_error(loader *L, int line, int col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vdiag(L, 0, line, col, fmt, ap);
    va_end(ap);
}

void man_warning(loader *L, int line, int col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vdiag(L, 1, line, col, fmt, ap);
    va_end(ap);
}

/* Records "out of memory" once. */
void man_oom(loader *L)
{
    if (!L->oom) man_error(L, 1, 1, "out of memory");
    L->oom = 1;
}

void kiln_diags_free(kiln_diags *d)
{
    for (size_t i = 0; i < d->len; i++)
        kiln_free(d->items[i].message);
    kiln_free(d->items);
    memset(d, 0, sizeof *d);
}

/* ---- key checks and suggestions ------------------------------------------------- */

/* Levenshtein distance of two short strings (longer ones count as very far). */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64) return 99;
    size_t row[65];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = diag + cost;
            if (row[j] + 1 < best) best = row[j] + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

const char *man_suggest(const char *word, const char *const *candidates)
{
    const char *best = NULL;
    size_t best_d = 99;
    for (const char *const *c = candidates; *c; c++) {
        size_t d = edit_distance(word, *c);
        if (d < best_d) {
            best_d = d;
            best = *c;
        }
    }
    size_t len = strlen(word);
    size_t limit = len <= 3 ? 1 : len <= 6 ? 2 : 3;
    return best_d <= limit ? best : NULL;
}

void man_check_keys(loader *L, const kiln_toml_value *t, const char *const *allowed,
                    const char *where)
{
    for (size_t i = 0; i < kiln_toml_table_len(t); i++) {
        const kiln_toml_entry *e = kiln_toml_table_at(t, i);
        int known = 0;
        for (const char *const *a = allowed; *a; a++)
            if (strcmp(e->key, *a) == 0) known = 1;
        if (known) continue;
        const char *s = man_suggest(e->key, allowed);
        if (s)
            man_error(L, e->line, e->col, "unknown key `%s` in %s; did you mean `%s`?", e->key,
                      where, s);
        else
            man_error(L, e->line, e->col, "unknown key `%s` in %s", e->key, where);
    }
}

/* ---- typed getters ------------------------------------------------------------- */

/* "a string", "an integer", ... for messages. */
const char *man_a_type(const kiln_toml_value *v)
{
    switch (v->type) {
    case KILN_TOML_STRING:
        return "a string";
    case KILN_TOML_INTEGER:
        return "an integer";
    case KILN_TOML_FLOAT:
        return "a float";
    case KILN_TOML_BOOL:
        return "a boolean";
    case KILN_TOML_ARRAY:
        return "an array";
    case KILN_TOML_TABLE:
        return "a table";
    default:
        return "a date/time";
    }
}

/* Copies the string at key `key` of table t into *out (NULL when absent). A value of
 * another type is an error. Returns 0 unless memory ran out or the type is wrong. */
int man_get_string(loader *L, const kiln_toml_value *t, const char *key, const char *where,
                   char **out)
{
    *out = NULL;
    const kiln_toml_value *v = kiln_toml_get(t, key);
    if (!v) return 0;
    if (v->type != KILN_TOML_STRING) {
        man_error(L, v->line, v->col, "`%s` in %s must be a string, not %s", key, where,
                  man_a_type(v));
        return -1;
    }
    *out = kiln_strdup(v->u.str.ptr);
    if (!*out) {
        man_oom(L);
        return -1;
    }
    return 0;
}

/* Reads a boolean at `key` (absent: *out unchanged). */
static int get_bool(loader *L, const kiln_toml_value *t, const char *key, const char *where,
                    int *out)
{
    const kiln_toml_value *v = kiln_toml_get(t, key);
    if (!v) return 0;
    if (v->type != KILN_TOML_BOOL) {
        man_error(L, v->line, v->col, "`%s` in %s must be true or false, not %s", key, where,
                  man_a_type(v));
        return -1;
    }
    *out = v->u.boolean;
    return 0;
}

/* Appends a copy of s to list. */
int man_strlist_add(loader *L, kiln_strlist *list, const char *s)
{
    char *c = kiln_strdup(s);
    char **n = c ? kiln_realloc(list->items, (list->len + 1) * sizeof *n) : NULL;
    if (!n) {
        kiln_free(c);
        man_oom(L);
        return -1;
    }
    list->items = n;
    list->items[list->len++] = c;
    return 0;
}

void man_strlist_free(kiln_strlist *l)
{
    for (size_t i = 0; i < l->len; i++)
        kiln_free(l->items[i]);
    kiln_free(l->items);
    l->items = NULL;
    l->len = 0;
}

/* Reads an array of strings at `key` into list (a single string too when
 * allow_single). Wrong types are errors at the offending value. */
int man_get_strlist(loader *L, const kiln_toml_value *t, const char *key, const char *where,
                    int allow_single, kiln_strlist *list)
{
    const kiln_toml_value *v = kiln_toml_get(t, key);
    if (!v) return 0;
    if (allow_single && v->type == KILN_TOML_STRING) return man_strlist_add(L, list, v->u.str.ptr);
    if (v->type != KILN_TOML_ARRAY) {
        man_error(L, v->line, v->col, "`%s` in %s must be an array of strings, not %s", key, where,
                  man_a_type(v));
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < kiln_toml_array_len(v); i++) {
        const kiln_toml_value *it = kiln_toml_array_at(v, i);
        if (it->type != KILN_TOML_STRING) {
            man_error(L, it->line, it->col, "`%s` in %s must hold strings, not %s", key, where,
                      man_a_type(it));
            rc = -1;
            continue;
        }
        if (man_strlist_add(L, list, it->u.str.ptr)) return -1;
    }
    return rc;
}

/* Reads a table of strings at `key` into kv. */
int man_get_kvlist(loader *L, const kiln_toml_value *t, const char *key, const char *where,
                   kiln_kvlist *kv)
{
    const kiln_toml_value *v = kiln_toml_get(t, key);
    if (!v) return 0;
    if (v->type != KILN_TOML_TABLE) {
        man_error(L, v->line, v->col, "`%s` in %s must be a table of strings, not %s", key, where,
                  man_a_type(v));
        return -1;
    }
    int rc = 0;
    size_t n = kiln_toml_table_len(v);
    kv->items = kiln_calloc(n ? n : 1, sizeof *kv->items);
    if (!kv->items) {
        man_oom(L);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const kiln_toml_entry *e = kiln_toml_table_at(v, i);
        if (e->value->type != KILN_TOML_STRING) {
            man_error(L, e->value->line, e->value->col, "`%s.%s` in %s must be a string, not %s",
                      key, e->key, where, man_a_type(e->value));
            rc = -1;
            continue;
        }
        kiln_kv *it = &kv->items[kv->len];
        it->key = kiln_strdup(e->key);
        it->value = kiln_strdup(e->value->u.str.ptr);
        kv->len++;
        if (!it->key || !it->value) {
            man_oom(L);
            return -1;
        }
    }
    return rc;
}

void man_kvlist_free(kiln_kvlist *kv)
{
    for (size_t i = 0; i < kv->len; i++) {
        kiln_free(kv->items[i].key);
        kiln_free(kv->items[i].value);
    }
    kiln_free(kv->items);
    kv->items = NULL;
    kv->len = 0;
}

/* Makes rel absolute against the manifest directory (absolute paths are kept). */
char *man_abs_path(loader *L, const char *rel)
{
    kiln_buf b = KILN_BUF_INIT;
    int rc = rel[0] == '/' ? kiln_buf_puts(&b, rel) : kiln_buf_printf(&b, "%s/%s", L->m->dir, rel);
    if (rc) {
        kiln_buf_free(&b);
        man_oom(L);
        return NULL;
    }
    /* drop "./" prefixes and a trailing "/." for tidy messages */
    char *s = b.data;
    char *dot;
    while ((dot = strstr(s, "/./")) != NULL)
        memmove(dot, dot + 2, strlen(dot + 2) + 1);
    return kiln_buf_steal(&b);
}

/* ---- top level ----------------------------------------------------------------- */

static const char *const top_keys[] = {
    "spin_manifest_version", "application", "variables", "trigger", "component", NULL};
static const char *const app_keys[] = {"name",    "version", "description", "authors",
                                       "trigger", "targets", "tool",        NULL};
static const char *const var_keys[] = {"default", "required", "secret", "description", NULL};

/* Is s a valid application variable name (lowercase letters, digits, '_')? */
static int valid_var_name(const char *s)
{
    if (!(*s >= 'a' && *s <= 'z')) return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_')) return 0;
    return 1;
}

/* Checks spin_manifest_version (or the older spin_version); returns 2 or 1 (a version-1
 * manifest, "1"), -1 on an error. */
static int check_version(loader *L, const kiln_toml_value *root)
{
    const kiln_toml_value *v = kiln_toml_get(root, "spin_manifest_version");
    if (!v) v = kiln_toml_get(root, "spin_version");
    if (!v) {
        if (kiln_toml_get(root, "kiln_manifest_version"))
            man_error(L, kiln_toml_get(root, "kiln_manifest_version")->line, 1,
                      "use `spin_manifest_version = 2`, not kiln_manifest_version");
        else
            man_error(L, 1, 1,
                      "missing `spin_manifest_version = 2` (Kiln reads Spin manifests, version "
                      "2)");
        return -1;
    }
    long ver = -1;
    if (v->type == KILN_TOML_INTEGER) ver = (long)v->u.integer;
    if (v->type == KILN_TOML_STRING && strcmp(v->u.str.ptr, "1") == 0) ver = 1;
    if (ver == 2) return 2;
    if (ver == 1) return 1;
    if (v->type == KILN_TOML_INTEGER)
        man_error(L, v->line, v->col,
                  "unsupported spin_manifest_version %lld; Kiln supports version 2",
                  (long long)v->u.integer);
    else
        man_error(L, v->line, v->col,
                  "spin_manifest_version must be the integer 2 (or \"1\" for a version-1 "
                  "manifest), not %s%s",
                  v->type == KILN_TOML_STRING ? "the string " : man_a_type(v),
                  v->type == KILN_TOML_STRING ? v->u.str.ptr : "");
    return -1;
}

/* [application] and [application.trigger.http]. */
static void load_application(loader *L, const kiln_toml_value *root)
{
    kiln_manifest *m = L->m;
    const kiln_toml_value *app = kiln_toml_get(root, "application");
    if (!app) {
        man_error(L, 1, 1, "missing [application] table (it needs at least `name`)");
        return;
    }
    if (app->type != KILN_TOML_TABLE) {
        man_error(L, app->line, app->col, "`application` must be a table, not %s", man_a_type(app));
        return;
    }
    man_check_keys(L, app, app_keys, "[application]");
    man_get_string(L, app, "name", "[application]", &m->name);
    if (!m->name && !kiln_toml_get(app, "name"))
        man_error(L, app->line, app->col, "[application] needs a `name`");
    man_get_string(L, app, "version", "[application]", &m->version);
    man_get_string(L, app, "description", "[application]", &m->description);
    man_get_strlist(L, app, "authors", "[application]", 0, &m->authors);
    const kiln_toml_value *trig = kiln_toml_get(app, "trigger");
    if (trig && trig->type != KILN_TOML_TABLE) {
        man_error(L, trig->line, trig->col, "`application.trigger` must be a table");
    } else if (trig) {
        static const char *const http_keys[] = {"base", NULL};
        for (size_t i = 0; i < kiln_toml_table_len(trig); i++) {
            const kiln_toml_entry *e = kiln_toml_table_at(trig, i);
            if (strcmp(e->key, "http") != 0) man_load_trigger_settings(L, e);
        }
        const kiln_toml_value *http = kiln_toml_get(trig, "http");
        if (http && http->type != KILN_TOML_TABLE) {
            man_error(L, http->line, http->col, "`application.trigger.http` must be a table");
        } else if (http) {
            man_check_keys(L, http, http_keys, "[application.trigger.http]");
            char *base = NULL;
            man_get_string(L, http, "base", "[application.trigger.http]", &base);
            if (base && base[0] != '/') {
                const kiln_toml_value *bv = kiln_toml_get(http, "base");
                man_error(L, bv->line, bv->col, "base \"%s\" must start with '/'", base);
            }
            if (base) {
                kiln_free(m->base);
                m->base = base;
            }
        }
    }
}

/* [variables]. */
void man_load_variables(loader *L, const kiln_toml_value *root)
{
    kiln_manifest *m = L->m;
    const kiln_toml_value *vars = kiln_toml_get(root, "variables");
    if (!vars) return;
    if (vars->type != KILN_TOML_TABLE) {
        man_error(L, vars->line, vars->col, "`variables` must be a table, not %s",
                  man_a_type(vars));
        return;
    }
    size_t n = kiln_toml_table_len(vars);
    m->variables = kiln_calloc(n ? n : 1, sizeof *m->variables);
    if (!m->variables) {
        man_oom(L);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const kiln_toml_entry *e = kiln_toml_table_at(vars, i);
        if (!valid_var_name(e->key))
            man_error(L, e->line, e->col,
                      "variable name `%s` must be lowercase letters, digits and '_', starting "
                      "with a letter",
                      e->key);
        if (e->value->type != KILN_TOML_TABLE) {
            man_error(L, e->value->line, e->value->col,
                      "variable `%s` must be a table like { default = \"...\" } or { required = "
                      "true }, not %s",
                      e->key, man_a_type(e->value));
            continue;
        }
        kiln_variable *v = &m->variables[m->variables_len++];
        v->line = e->line;
        v->col = e->col;
        v->name = kiln_strdup(e->key);
        if (!v->name) {
            man_oom(L);
            return;
        }
        man_check_keys(L, e->value, var_keys, "a variable");
        man_get_string(L, e->value, "default", "a variable", &v->default_value);
        man_get_string(L, e->value, "description", "a variable", &v->description);
        get_bool(L, e->value, "required", "a variable", &v->required);
        get_bool(L, e->value, "secret", "a variable", &v->secret);
        if (v->required && kiln_toml_get(e->value, "default"))
            man_error(L, e->line, e->col,
                      "variable `%s` cannot be both required and have a default", e->key);
    }
}

/* Sorts diags[first..] by line and column, keeping the order of equal positions
 * (insertion sort: the lists are short). */
static void sort_diags(kiln_diags *d, size_t first)
{
    for (size_t i = first + 1; i < d->len; i++) {
        kiln_diag x = d->items[i];
        size_t j = i;
        while (j > first && (d->items[j - 1].line > x.line ||
                             (d->items[j - 1].line == x.line && d->items[j - 1].col > x.col))) {
            d->items[j] = d->items[j - 1];
            j--;
        }
        d->items[j] = x;
    }
}

/* Reads the whole file at path into *out (NUL-terminated). */
static int read_file(const char *path, char **out, size_t *len, char **err)
{
    kiln_buf b = KILN_BUF_INIT;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) goto fail;
    for (;;) {
        if (kiln_buf_reserve(&b, 65536)) {
            errno = ENOMEM;
            goto fail;
        }
        ssize_t n = read(fd, b.data + b.len, 65536);
        if (n < 0) {
            if (errno == EINTR) continue;
            goto fail;
        }
        if (n == 0) break;
        b.len += (size_t)n;
        b.data[b.len] = '\0';
    }
    int fd_done = fd;
    fd = -1;
    if (close(fd_done) != 0) goto fail;
    *len = b.len;
    *out = kiln_buf_steal(&b);
    return *out ? 0 : -1;
fail : {
    int e = errno;
    if (fd >= 0) (void)close(fd); /* already failing: the first error is the one to report */
    kiln_buf_free(&b);
    kiln_buf eb = KILN_BUF_INIT;
    kiln_buf_printf(&eb, "%s: cannot read manifest: %s", path, strerror(e));
    *err = kiln_buf_steal(&eb);
    return -1;
}
}

/* Absolute directory of the manifest file at path. */
static char *manifest_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? kiln_strndup(path, (size_t)(slash - path) + (slash == path)) : NULL;
    if (!slash) dir = kiln_strdup(".");
    if (!dir) return NULL;
    char *real = realpath(dir, NULL);
    if (real) {
        char *copy = kiln_strdup(real);
        free(real); /* realpath allocates with malloc */
        kiln_free(dir);
        return copy;
    }
    return dir;
}

kiln_manifest *kiln_manifest_load_text(const char *text, size_t len, const char *path,
                                       kiln_diags *diags)
{
    loader L = {0};
    size_t first = diags->len;
    L.diags = diags;
    L.file = path;
    kiln_manifest *m = kiln_calloc(1, sizeof *m);
    L.m = m;
    if (!m) {
        man_oom(&L);
        return NULL;
    }
    m->path = kiln_strdup(path);
    m->dir = manifest_dir(path);
    m->base = kiln_strdup("/");
    if (!m->path || !m->dir || !m->base) {
        man_oom(&L);
        kiln_manifest_free(m);
        return NULL;
    }
    char *err = NULL;
    kiln_toml_value *root = kiln_toml_parse(text, len, path, &err);
    if (!root) {
        /* the TOML error already reads "FILE:LINE:COL: message" */
        kiln_diags *d = diags;
        kiln_diag *n = kiln_realloc(d->items, (d->len + 1) * sizeof *n);
        if (n) {
            d->items = n;
            d->cap = d->len + 1;
            d->items[d->len].is_warning = 0;
            d->items[d->len].line = d->items[d->len].col = 0;
            d->items[d->len++].message = err ? err : kiln_strdup("out of memory");
        } else {
            kiln_free(err);
        }
        d->errors++;
        kiln_manifest_free(m);
        return NULL;
    }
    int version = check_version(&L, root);
    m->manifest_version = version;
    if (version == 2) {
        man_check_keys(&L, root, top_keys, "the manifest");
        load_application(&L, root);
        man_load_variables(&L, root);
        man_load_components(&L, root);
        man_load_triggers(&L, root);
        man_cross_check(&L);
    } else if (version == 1) {
        man_load_v1(&L, root);
        man_cross_check(&L);
    }
    kiln_toml_free(root);
    sort_diags(diags, first);
    if (L.failed) {
        kiln_manifest_free(m);
        return NULL;
    }
    return m;
}

kiln_manifest *kiln_manifest_load(const char *path, kiln_diags *diags)
{
    char *text = NULL, *err = NULL;
    size_t len = 0;
    if (read_file(path, &text, &len, &err)) {
        kiln_diag *n = kiln_realloc(diags->items, (diags->len + 1) * sizeof *n);
        if (n) {
            diags->items = n;
            diags->cap = diags->len + 1;
            diags->items[diags->len].is_warning = 0;
            diags->items[diags->len].line = diags->items[diags->len].col = 0;
            diags->items[diags->len++].message = err ? err : kiln_strdup("out of memory");
        } else {
            kiln_free(err);
        }
        diags->errors++;
        return NULL;
    }
    kiln_manifest *m = kiln_manifest_load_text(text, len, path, diags);
    kiln_free(text);
    return m;
}

/* Frees everything a component owns (not the struct itself). */
static void component_free(kiln_component *c)
{
    kiln_free(c->id);
    kiln_free(c->description);
    kiln_free(c->source);
    kiln_free(c->source_url);
    kiln_free(c->source_digest);
    for (size_t i = 0; i < c->files_len; i++) {
        kiln_free(c->files[i].pattern);
        kiln_free(c->files[i].source);
        kiln_free(c->files[i].destination);
    }
    kiln_free(c->files);
    man_strlist_free(&c->exclude_files);
    man_kvlist_free(&c->environment);
    man_strlist_free(&c->allowed_outbound_hosts);
    man_strlist_free(&c->key_value_stores);
    man_strlist_free(&c->sqlite_databases);
    man_kvlist_free(&c->variables);
    man_strlist_free(&c->build_command);
    kiln_free(c->build_workdir);
    man_strlist_free(&c->build_watch);
    man_spin3_component_free(c);
}

void man_trigger_free(kiln_trigger *t)
{
    kiln_free(t->id);
    kiln_free(t->route);
    kiln_free(t->wagi_argv);
    kiln_free(t->wagi_entrypoint);
    man_kvlist_free(&t->static_headers);
    kiln_free(t->static_body);
    man_strlist_free(&t->middleware);
    man_dependencies_free(t->mw, t->mw_len);
}

void kiln_manifest_free(kiln_manifest *m)
{
    if (!m) return;
    kiln_free(m->path);
    kiln_free(m->dir);
    kiln_free(m->name);
    kiln_free(m->version);
    kiln_free(m->description);
    man_strlist_free(&m->authors);
    kiln_free(m->base);
    for (size_t i = 0; i < m->variables_len; i++) {
        kiln_free(m->variables[i].name);
        kiln_free(m->variables[i].default_value);
        kiln_free(m->variables[i].description);
    }
    kiln_free(m->variables);
    for (size_t i = 0; i < m->triggers_len; i++)
        man_trigger_free(&m->triggers[i]);
    kiln_free(m->triggers);
    for (size_t i = 0; i < m->components_len; i++)
        component_free(&m->components[i]);
    kiln_free(m->components);
    man_spin3_manifest_free(m);
    kiln_free(m);
}

const kiln_component *kiln_manifest_component(const kiln_manifest *m, const char *id)
{
    for (size_t i = 0; i < m->components_len; i++)
        if (strcmp(m->components[i].id, id) == 0) return &m->components[i];
    return NULL;
}
