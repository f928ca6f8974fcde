/* locked.c — a Spin locked app (spin.lock JSON) back into a directory Kiln serves: a
 * spin.toml (manifest version 2) written from the locked app, components/ID.wasm and
 * files/ID/PATH (see oci.h). The JSON comes from a registry: every id, path and byte is
 * checked before it touches the disk, and files are only ever created, never followed. */
#include "dist/auth.h"
#include "dist/errf.h"
#include "dist/oci.h"
#include "dist/tar.h"
#include "util/alloc.h"
#include "util/file.h"
#include "util/json.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PATH_MAX_LEN 4096
#define ARCHIVE_MAX_INFLATED ((size_t)1 << 30)

/* A file found in an archive layer, by digest. */
typedef struct arch_file {
    char digest[KILN_DIGEST_LEN + 1];
    char *data;
    size_t len;
} arch_file;

typedef struct unpack {
    const char *dir;
    kiln_buf toml;
    arch_file *af;
    size_t n_af;
    kiln_blob_fetch fetch;
    void *ctx;
    char **err;
} unpack;

static int collect(void *ctx, const char *name, const void *data, size_t len)
{
    (void)name; /* matched by digest, never by name */
    unpack *u = ctx;
    arch_file *v = kiln_realloc(u->af, (u->n_af + 1) * sizeof *v);
    if (!v) return -1;
    u->af = v;
    arch_file *f = &v[u->n_af];
    if (!(f->data = kiln_malloc(len ? len : 1))) return -1;
    memcpy(f->data, data, len);
    f->len = len;
    if (kiln_digest_sha256(data, len, f->digest) < 0) {
        kiln_free(f->data);
        return -1;
    }
    u->n_af++;
    return 0;
}

/* An id used in file names and TOML keys: [a-z0-9_-], 1..128 bytes, not starting '-'. */
static int valid_id(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 128 || s[0] == '-') return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
              s[i] == '_'))
            return 0;
    return 1;
}

/* A relative '/'-separated path with no empty, "." or ".." segment and no control
 * character or backslash (a leading '/' is allowed and ignored by the caller). */
static int valid_path(const char *p)
{
    while (*p == '/')
        p++;
    size_t n = strlen(p);
    if (n == 0 || n > PATH_MAX_LEN) return 0;
    const char *seg = p;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && ((unsigned char)p[i] < 0x20 || p[i] == 0x7f || p[i] == '\\')) return 0;
        if (i == n || p[i] == '/') {
            size_t sl = (size_t)(p + i - seg);
            if (sl == 0 || (sl == 1 && seg[0] == '.') ||
                (sl == 2 && seg[0] == '.' && seg[1] == '.'))
                return 0;
            seg = p + i + 1;
        }
    }
    return 1;
}

/* Creates rel (below u->dir) with the bytes, making parent directories; refuses to
 * replace anything. */
static int write_new(unpack *u, const char *rel, const void *data, size_t len)
{
    kiln_buf p = KILN_BUF_INIT;
    int rc = -1;
    if (kiln_buf_printf(&p, "%s/%s", u->dir, rel) < 0) goto oom;
    for (char *s = p.data + strlen(u->dir) + 1; (s = strchr(s, '/')); s++) {
        *s = '\0';
        if (mkdir(p.data, 0755) < 0 && errno != EEXIST) {
            kiln_dist_errf(u->err, "%s: %s", p.data, strerror(errno));
            goto out;
        }
        *s = '/';
    }
    int fd = open(p.data, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
        kiln_dist_errf(u->err, "%s: %s%s", p.data, strerror(errno),
                       errno == EEXIST ? " (the locked app lists the same path twice)" : "");
        goto out;
    }
    int wr = kiln_write_all(fd, data, len);
    int saved = errno;
    if (close(fd) < 0 && wr == 0) {
        saved = errno;
        wr = -1;
    }
    if (wr < 0) {
        kiln_dist_errf(u->err, "%s: %s", p.data, strerror(saved));
        goto out;
    }
    rc = 0;
    goto out;
oom:
    kiln_dist_errf(u->err, "out of memory");
out:
    kiln_buf_free(&p);
    return rc;
}

/* The bytes of a content ref ({digest, inline?}) into *out, verified. */
static int content(unpack *u, const kiln_json *ref, const char *what, kiln_buf *out)
{
    const char *digest = kiln_json_get_str(ref, "digest");
    const char *inl = kiln_json_get_str(ref, "inline");
    kiln_buf_reset(out);
    if (digest && !kiln_digest_valid(digest)) {
        kiln_dist_errf(u->err, "%s: malformed digest in the locked app", what);
        return -1;
    }
    if (inl) {
        size_t n;
        char *b = *inl ? kiln_base64_decode(inl, &n) : kiln_strdup("");
        if (!*inl) n = 0;
        if (!b) {
            kiln_dist_errf(u->err, "%s: the inline content is not base64", what);
            return -1;
        }
        int rc = kiln_buf_append(out, b, n);
        kiln_free(b);
        if (rc < 0) {
            kiln_dist_errf(u->err, "out of memory");
            return -1;
        }
        if (digest && !kiln_digest_check(out->data, out->len, digest)) {
            kiln_dist_errf(u->err, "%s: the inline content does not hash to %s: refused", what,
                           digest);
            return -1;
        }
        return 0;
    }
    if (!digest) {
        kiln_dist_errf(u->err, "%s: neither a digest nor inline content in the locked app", what);
        return -1;
    }
    for (size_t i = 0; i < u->n_af; i++)
        if (strcmp(u->af[i].digest, digest) == 0) {
            if (kiln_buf_append(out, u->af[i].data, u->af[i].len) < 0) {
                kiln_dist_errf(u->err, "out of memory");
                return -1;
            }
            return 0;
        }
    if (!u->fetch) {
        kiln_dist_errf(u->err, "%s: %s is in no layer", what, digest);
        return -1;
    }
    return u->fetch(u->ctx, digest, out, u->err);
}

/* TOML output: strings as basic strings, keys always quoted. */
static int t_str(kiln_buf *b, const char *s, size_t n)
{
    if (kiln_buf_putc(b, '"') < 0) return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int rc = c == '"' || c == '\\'   ? kiln_buf_printf(b, "\\%c", c)
                 : c < 0x20 || c == 0x7f ? kiln_buf_printf(b, "\\u%04x", c)
                                         : kiln_buf_putc(b, (char)c);
        if (rc < 0) return -1;
    }
    return kiln_buf_putc(b, '"');
}

static int t_key(kiln_buf *b, const char *k)
{
    return t_str(b, k, strlen(k));
}

/* A JSON scalar, array or object as a TOML value (inline tables for objects). */
static int t_value(kiln_buf *b, const kiln_json *v, int depth)
{
    if (depth > 8) return -1;
    switch (v->type) {
    case KILN_JSON_STRING:
        return t_str(b, v->str, v->len);
    case KILN_JSON_NUMBER:
        return kiln_buf_append(b, v->str, v->len);
    case KILN_JSON_BOOL:
        return kiln_buf_puts(b, v->boolean ? "true" : "false");
    case KILN_JSON_ARRAY:
        if (kiln_buf_putc(b, '[') < 0) return -1;
        for (size_t i = 0; i < v->count; i++)
            if ((i && kiln_buf_puts(b, ", ") < 0) || t_value(b, v->items[i], depth + 1) < 0)
                return -1;
        return kiln_buf_putc(b, ']');
    case KILN_JSON_OBJECT:
        if (kiln_buf_putc(b, '{') < 0) return -1;
        for (size_t i = 0; i < v->count; i++)
            if ((i && kiln_buf_puts(b, ", ") < 0) ||
                t_str(b, v->members[i].key, v->members[i].key_len) < 0 ||
                kiln_buf_puts(b, " = ") < 0 || t_value(b, v->members[i].value, depth + 1) < 0)
                return -1;
        return kiln_buf_putc(b, '}');
    default:
        return -1; /* null has no TOML form */
    }
}

/* `key = value` line for a member of obj, when present and not null. */
static int t_member(kiln_buf *b, const kiln_json *obj, const char *key, const char *as)
{
    const kiln_json *v = kiln_json_get(obj, key);
    if (!v || v->type == KILN_JSON_NULL) return 0;
    if (t_key(b, as ? as : key) < 0 || kiln_buf_puts(b, " = ") < 0 || t_value(b, v, 0) < 0 ||
        kiln_buf_putc(b, '\n') < 0)
        return -1;
    return 0;
}

static int app_section(unpack *u, const kiln_json *app)
{
    kiln_buf *t = &u->toml;
    const kiln_json *md = kiln_json_get(app, "metadata");
    const kiln_json *vars = kiln_json_get(app, "variables");
    if (kiln_buf_puts(t, "# Written by `kiln registry pull` from the app's locked app.\n"
                         "spin_manifest_version = 2\n\n[application]\n") < 0)
        return -1;
    if (t_member(t, md, "name", NULL) < 0 || t_member(t, md, "version", NULL) < 0 ||
        t_member(t, md, "description", NULL) < 0 || t_member(t, md, "authors", NULL) < 0)
        return -1;
    if (!kiln_json_get(md, "name") && kiln_buf_puts(t, "name = \"app\"\n") < 0) return -1;
    const char *base = kiln_json_get_str(kiln_json_get(md, "trigger"), "base");
    if (base && (kiln_buf_puts(t, "\n[application.trigger.http]\nbase = ") < 0 ||
                 t_str(t, base, strlen(base)) < 0 || kiln_buf_putc(t, '\n') < 0))
        return -1;
    const kiln_json *tg = kiln_json_get(md, "triggers");
    for (size_t i = 0; tg && tg->type == KILN_JSON_OBJECT && i < tg->count; i++) {
        const kiln_json *s = tg->members[i].value;
        if (strcmp(tg->members[i].key, "http") == 0 || s->type != KILN_JSON_OBJECT || !s->count)
            continue;
        if (!valid_id(tg->members[i].key)) return -2;
        if (kiln_buf_printf(t, "\n[application.trigger.%s]\n", tg->members[i].key) < 0) return -1;
        for (size_t k = 0; k < s->count; k++)
            if (t_member(t, s, s->members[k].key, NULL) < 0) return -1;
    }
    if (vars && vars->type == KILN_JSON_OBJECT && vars->count) {
        if (kiln_buf_puts(t, "\n[variables]\n") < 0) return -1;
        for (size_t i = 0; i < vars->count; i++) {
            const kiln_json *v = vars->members[i].value;
            const char *def = kiln_json_get_str(v, "default");
            const kiln_json *sec = kiln_json_get(v, "secret");
            if (t_key(t, vars->members[i].key) < 0 || kiln_buf_puts(t, " = { ") < 0) return -1;
            if (def ? kiln_buf_puts(t, "default = ") < 0 || t_str(t, def, strlen(def)) < 0
                    : kiln_buf_puts(t, "required = true") < 0)
                return -1;
            if (sec && sec->type == KILN_JSON_BOOL && sec->boolean &&
                kiln_buf_puts(t, ", secret = true") < 0)
                return -1;
            if (kiln_buf_puts(t, " }\n") < 0) return -1;
        }
    }
    return 0;
}

static int trigger_section(unpack *u, const kiln_json *tr)
{
    kiln_buf *t = &u->toml;
    const char *type = kiln_json_get_str(tr, "trigger_type");
    const kiln_json *cfg = kiln_json_get(tr, "trigger_config");
    if (!type || !valid_id(type) || !cfg || cfg->type != KILN_JSON_OBJECT) {
        kiln_dist_errf(u->err,
                       "locked app: a trigger without a valid trigger_type and trigger_config");
        return -1;
    }
    if (kiln_buf_printf(t, "\n[[trigger.%s]]\n", type) < 0 || t_member(t, tr, "id", NULL) < 0)
        goto oom;
    for (size_t i = 0; i < cfg->count; i++) {
        const char *k = cfg->members[i].key;
        if (strcmp(k, "component") == 0 && !valid_id(kiln_json_get_str(cfg, k))) {
            kiln_dist_errf(u->err, "locked app: trigger %s names an invalid component",
                           kiln_json_get_str(tr, "id") ? kiln_json_get_str(tr, "id") : type);
            return -1;
        }
        if (t_member(t, cfg, k, NULL) < 0) goto oom;
    }
    return 0;
oom:
    kiln_dist_errf(
        u->err,
        "locked app: a value with no TOML form (null, or nested too deep), or out of memory");
    return -1;
}

static int component_section(unpack *u, const kiln_json *c, kiln_buf *bytes)
{
    kiln_buf *t = &u->toml;
    const char *id = kiln_json_get_str(c, "id");
    if (!valid_id(id)) {
        kiln_dist_errf(u->err, "locked app: component id %s is not [a-z0-9_-]",
                       id ? id : "(missing)");
        return -1;
    }
    if (kiln_json_get(c, "dependencies") && kiln_json_get(c, "dependencies")->count) {
        kiln_dist_errf(
            u->err,
            "component %s has dependencies (component composition), which Kiln does not "
            "serve; push it with Spin's composition (the default of `spin registry push`)",
            id);
        return -1;
    }
    kiln_buf rel = KILN_BUF_INIT, what = KILN_BUF_INIT;
    int rc = -1;
    if (kiln_buf_printf(&rel, "components/%s.wasm", id) < 0 ||
        kiln_buf_printf(&what, "component %s", id) < 0)
        goto oom;
    if (content(u, kiln_json_get(c, "source"), what.data, bytes) < 0 ||
        write_new(u, rel.data, bytes->data ? bytes->data : "", bytes->len) < 0)
        goto out;
    const kiln_json *md = kiln_json_get(c, "metadata");
    if (kiln_buf_printf(t, "\n[component.%s]\nsource = \"%s\"\n", id, rel.data) < 0 ||
        t_member(t, md, "description", NULL) < 0 ||
        t_member(t, md, "allowed_outbound_hosts", NULL) < 0 ||
        t_member(t, md, "key_value_stores", NULL) < 0 ||
        t_member(t, md, "databases", "sqlite_databases") < 0 ||
        t_member(t, md, "ai_models", NULL) < 0 || t_member(t, c, "env", "environment") < 0)
        goto oom;
    const kiln_json *files = kiln_json_get(c, "files");
    for (size_t i = 0; files && files->type == KILN_JSON_ARRAY && i < files->count; i++) {
        const kiln_json *f = files->items[i];
        const char *path = kiln_json_get_str(f, "path");
        if (!path || !valid_path(path)) {
            kiln_dist_errf(u->err,
                           "component %s: file path %s is not a plain relative path: refused", id,
                           path ? path : "(missing)");
            goto out;
        }
        while (*path == '/')
            path++;
        kiln_buf_reset(&rel);
        kiln_buf_reset(&what);
        if (kiln_buf_printf(&rel, "files/%s/%s", id, path) < 0 ||
            kiln_buf_printf(&what, "component %s, file %s", id, path) < 0)
            goto oom;
        if (content(u, f, what.data, bytes) < 0 ||
            write_new(u, rel.data, bytes->data ? bytes->data : "", bytes->len) < 0)
            goto out;
    }
    if (files && files->count &&
        kiln_buf_printf(t, "files = [{ source = \"files/%s\", destination = \"/\" }]\n", id) < 0)
        goto oom;
    const kiln_json *cfg = kiln_json_get(c, "config");
    if (cfg && cfg->type == KILN_JSON_OBJECT && cfg->count) {
        if (kiln_buf_printf(t, "[component.%s.variables]\n", id) < 0) goto oom;
        for (size_t i = 0; i < cfg->count; i++)
            if (t_member(t, cfg, cfg->members[i].key, NULL) < 0) goto oom;
    }
    rc = 0;
    goto out;
oom:
    kiln_dist_errf(
        u->err,
        "locked app: a value with no TOML form (null, or nested too deep), or out of memory");
out:
    kiln_buf_free(&rel);
    kiln_buf_free(&what);
    return rc;
}

int kiln_locked_unpack(const char *json, size_t len, const kiln_buf *archives, size_t n_archives,
                       kiln_blob_fetch fetch, void *ctx, const char *dir, char **err)
{
    *err = NULL;
    unpack u = {.dir = dir, .toml = KILN_BUF_INIT, .fetch = fetch, .ctx = ctx, .err = err};
    kiln_buf bytes = KILN_BUF_INIT;
    char jerr[160];
    int rc = -1;
    kiln_json *app = kiln_json_parse(json, len, jerr, sizeof jerr);
    if (!app || app->type != KILN_JSON_OBJECT) {
        kiln_dist_errf(err, "locked app: %s", app ? "not a JSON object" : jerr);
        goto out;
    }
    const kiln_json *ver = kiln_json_get(app, "spin_lock_version");
    if (!ver || ver->type != KILN_JSON_NUMBER || ver->number != 1) {
        kiln_dist_errf(err, "locked app: spin_lock_version is not 1 (not a Spin application?)");
        goto out;
    }
    const kiln_json *mu = kiln_json_get(app, "must_understand");
    const kiln_json *hr = kiln_json_get(app, "host_requirements");
    if ((mu && mu->count) && hr && hr->type == KILN_JSON_OBJECT && hr->count) {
        kiln_dist_errf(err, "locked app: requires %s of the host, which Kiln does not provide",
                       hr->members[0].key);
        goto out;
    }
    for (size_t i = 0; i < n_archives; i++)
        if (kiln_tar_each_gz(archives[i].data, archives[i].len, ARCHIVE_MAX_INFLATED, collect, &u) <
            0) {
            kiln_dist_errf(err, "an archive layer is not a valid .tar.gz (or inflates past 1 GiB)");
            goto out;
        }
    int ar = app_section(&u, app);
    if (ar < 0) {
        kiln_dist_errf(err, ar == -2 ? "locked app: an invalid trigger type name"
                                     : "locked app: a value with no TOML form (null, or nested too "
                                       "deep), or out of memory");
        goto out;
    }
    const kiln_json *trs = kiln_json_get(app, "triggers");
    for (size_t i = 0; trs && trs->type == KILN_JSON_ARRAY && i < trs->count; i++)
        if (trigger_section(&u, trs->items[i]) < 0) goto out;
    const kiln_json *cs = kiln_json_get(app, "components");
    for (size_t i = 0; cs && cs->type == KILN_JSON_ARRAY && i < cs->count; i++)
        if (component_section(&u, cs->items[i], &bytes) < 0) goto out;
    if (write_new(&u, "spin.toml", u.toml.data, u.toml.len) < 0) goto out;
    rc = 0;
out:
    for (size_t i = 0; i < u.n_af; i++)
        kiln_free(u.af[i].data);
    kiln_free(u.af);
    kiln_buf_free(&u.toml);
    kiln_buf_free(&bytes);
    kiln_json_free(app);
    return rc;
}
