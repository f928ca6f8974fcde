/* push.c — assembling an app into Spin's OCI layout and pushing it (see oci.h). */
#include "dist/auth.h"
#include "dist/errf.h"
#include "dist/jsonw.h"
#include "util/json.h"
#include "dist/oci.h"
#include "dist/tar.h"
#include "manifest/manifest.h"
#include "util/alloc.h"
#include "util/file.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_WALK_DEPTH 64

/* One static file of a component: where it is, where the guest sees it. */
typedef struct file_ent {
    char *host;  /* absolute */
    char *guest; /* relative to the guest's "/" */
} file_ent;

typedef struct files {
    file_ent *v;
    size_t n, cap;
} files;

static void files_free(files *f)
{
    for (size_t i = 0; i < f->n; i++) {
        kiln_free(f->v[i].host);
        kiln_free(f->v[i].guest);
    }
    kiln_free(f->v);
    memset(f, 0, sizeof *f);
}

static int files_add(files *f, const char *host, const char *guest)
{
    while (*guest == '/')
        guest++;
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 16;
        file_ent *v = kiln_realloc(f->v, cap * sizeof *v);
        if (!v) return -1;
        f->v = v;
        f->cap = cap;
    }
    file_ent *e = &f->v[f->n];
    e->host = kiln_strdup(host);
    e->guest = kiln_strdup(guest);
    if (!e->host || !e->guest) {
        kiln_free(e->host);
        kiln_free(e->guest);
        return -1;
    }
    f->n++;
    return 0;
}

/* Adds every regular file below dir (sorted, so that pushes are reproducible). */
static int walk(files *f, const char *dir, const char *guest, int depth, char **err)
{
    if (depth > MAX_WALK_DEPTH) {
        kiln_dist_errf(err, "%s: directories nested too deep", dir);
        return -1;
    }
    struct dirent **names = NULL;
    int n = scandir(dir, &names, NULL, alphasort);
    if (n < 0) {
        kiln_dist_errf(err, "%s: %s", dir, strerror(errno));
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        const char *nm = names[i]->d_name;
        if (rc == 0 && strcmp(nm, ".") != 0 && strcmp(nm, "..") != 0) {
            kiln_buf h = KILN_BUF_INIT, g = KILN_BUF_INIT;
            struct stat st;
            if (kiln_buf_printf(&h, "%s/%s", dir, nm) < 0 ||
                kiln_buf_printf(&g, "%s%s%s", guest, *guest ? "/" : "", nm) < 0) {
                kiln_dist_errf(err, "out of memory");
                rc = -1;
            } else if (stat(h.data, &st) < 0) {
                kiln_dist_errf(err, "%s: %s", h.data, strerror(errno));
                rc = -1;
            } else if (S_ISDIR(st.st_mode)) {
                rc = walk(f, h.data, g.data, depth + 1, err);
            } else if (S_ISREG(st.st_mode) && files_add(f, h.data, g.data) < 0) {
                kiln_dist_errf(err, "out of memory");
                rc = -1;
            }
            kiln_buf_free(&h);
            kiln_buf_free(&g);
        }
        free(names[i]); /* scandir's own allocation */
    }
    free(names);
    return rc;
}

/* The static files of component c: its mounts, directories walked. */
static int component_files(const kiln_manifest *m, const kiln_component *c, files *out, char **err)
{
    kiln_mount *mounts = NULL;
    size_t n = 0;
    if (kiln_component_mounts(m, c, &mounts, &n, err) < 0) return -1;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (mounts[i].is_dir) {
            const char *g = mounts[i].guest_path;
            while (*g == '/')
                g++;
            rc = walk(out, mounts[i].host_path, g, 0, err);
        } else if (files_add(out, mounts[i].host_path, mounts[i].guest_path) < 0) {
            kiln_dist_errf(err, "out of memory");
            rc = -1;
        }
    }
    kiln_mounts_free(mounts, n);
    return rc;
}

void kiln_oci_artifact_free(kiln_oci_artifact *a)
{
    for (size_t i = 0; i < a->n_layers; i++)
        kiln_free(a->layers[i].data);
    kiln_free(a->layers);
    kiln_free(a->config.data);
    kiln_buf_free(&a->manifest);
    memset(a, 0, sizeof *a);
}

/* Adds a layer (taking data) unless one with the same digest is there. */
static int add_layer(kiln_oci_artifact *a, const char *media_type, char *data, size_t len,
                     char digest[KILN_DIGEST_LEN + 1])
{
    if (kiln_digest_sha256(data, len, digest) < 0) {
        kiln_free(data);
        return -1;
    }
    for (size_t i = 0; i < a->n_layers; i++)
        if (strcmp(a->layers[i].digest, digest) == 0) {
            kiln_free(data);
            return 0;
        }
    kiln_oci_blob *v = kiln_realloc(a->layers, (a->n_layers + 1) * sizeof *v);
    if (!v) {
        kiln_free(data);
        return -1;
    }
    a->layers = v;
    kiln_oci_blob *b = &v[a->n_layers++];
    memcpy(b->digest, digest, KILN_DIGEST_LEN + 1);
    b->media_type = media_type;
    b->data = data;
    b->len = len;
    return 0;
}

static int read_whole(const char *path, char **data, size_t *len, char **err)
{
    kiln_buf b = KILN_BUF_INIT;
    if (kiln_read_file(path, &b) < 0) {
        kiln_dist_errf(err, "%s: %s", path, strerror(errno));
        kiln_buf_free(&b);
        return -1;
    }
    *len = b.len;
    *data = kiln_buf_steal(&b);
    if (!*data) kiln_dist_errf(err, "out of memory");
    return *data ? 0 : -1;
}

static int w_strlist(kiln_buf *j, const char *key, const kiln_strlist *l)
{
    if (!l->len) return 0;
    if (kiln_jsonw_key(j, key) < 0 || kiln_buf_putc(j, '[') < 0) return -1;
    for (size_t i = 0; i < l->len; i++)
        if ((i && kiln_buf_putc(j, ',') < 0) || kiln_json_write_str(j, l->items[i]) < 0) return -1;
    return kiln_buf_putc(j, ']');
}

static int w_kvlist(kiln_buf *j, const char *key, const kiln_kvlist *l)
{
    if (!l->len) return 0;
    if (kiln_jsonw_key(j, key) < 0 || kiln_buf_putc(j, '{') < 0) return -1;
    for (size_t i = 0; i < l->len; i++)
        if (kiln_jsonw_kv(j, l->items[i].key, l->items[i].value) < 0) return -1;
    return kiln_buf_putc(j, '}');
}

/* The locked app's metadata, variables and triggers (components come after). */
static int w_head(kiln_buf *j, const kiln_manifest *m)
{
    if (kiln_buf_puts(j, "{\"spin_lock_version\":1,\"metadata\":{") < 0 ||
        kiln_jsonw_kv(j, "name", m->name) < 0 || kiln_jsonw_kv(j, "version", m->version) < 0 ||
        kiln_jsonw_kv(j, "description", m->description) < 0 ||
        w_strlist(j, "authors", &m->authors) < 0 || kiln_jsonw_key(j, "trigger") < 0 ||
        kiln_buf_puts(j, "{\"type\":\"http\"") < 0 ||
        (m->base && strcmp(m->base, "/") != 0 && kiln_jsonw_kv(j, "base", m->base) < 0) ||
        kiln_buf_putc(j, '}') < 0)
        return -1;
    if (m->trigger_settings_len) {
        if (kiln_jsonw_key(j, "triggers") < 0 || kiln_buf_putc(j, '{') < 0) return -1;
        for (size_t i = 0; i < m->trigger_settings_len; i++) {
            if (kiln_jsonw_key(j, m->trigger_settings[i].type) < 0 || kiln_buf_putc(j, '{') < 0)
                return -1;
            for (size_t k = 0; k < m->trigger_settings[i].settings.len; k++)
                if (kiln_jsonw_kv(j, m->trigger_settings[i].settings.items[k].key,
                                  m->trigger_settings[i].settings.items[k].value) < 0)
                    return -1;
            if (kiln_buf_putc(j, '}') < 0) return -1;
        }
        if (kiln_buf_putc(j, '}') < 0) return -1;
    }
    if (kiln_buf_putc(j, '}') < 0) return -1;
    if (m->variables_len) {
        if (kiln_jsonw_key(j, "variables") < 0 || kiln_buf_putc(j, '{') < 0) return -1;
        for (size_t i = 0; i < m->variables_len; i++) {
            const kiln_variable *v = &m->variables[i];
            if (kiln_jsonw_key(j, v->name) < 0 || kiln_buf_putc(j, '{') < 0 ||
                kiln_jsonw_kv(j, "description", v->description) < 0 ||
                kiln_jsonw_kv(j, "default", v->required ? NULL : v->default_value) < 0 ||
                (v->secret && (kiln_jsonw_key(j, "secret") < 0 || kiln_buf_puts(j, "true") < 0)) ||
                kiln_buf_putc(j, '}') < 0)
                return -1;
        }
        if (kiln_buf_putc(j, '}') < 0) return -1;
    }
    if (kiln_buf_puts(j, ",\"triggers\":[") < 0) return -1;
    for (size_t i = 0; i < m->triggers_len; i++) {
        const kiln_trigger *t = &m->triggers[i];
        if ((j->data[j->len - 1] != '[' && kiln_buf_putc(j, ',') < 0) ||
            kiln_buf_putc(j, '{') < 0 || kiln_jsonw_kv(j, "id", t->id) < 0 ||
            kiln_buf_puts(j, ",\"trigger_type\":\"http\",\"trigger_config\":{") < 0)
            return -1;
        if (t->component >= 0 && kiln_jsonw_kv(j, "component", m->components[t->component].id) < 0)
            return -1;
        if (t->is_private
                ? kiln_jsonw_key(j, "route") < 0 || kiln_buf_puts(j, "{\"private\":true}") < 0
                : kiln_jsonw_kv(j, "route", t->route) < 0)
            return -1;
        if (t->executor == KILN_EXECUTOR_SPIN &&
            kiln_buf_puts(j, ",\"executor\":{\"type\":\"http\"}") < 0)
            return -1;
        if (t->executor == KILN_EXECUTOR_WAGI &&
            (kiln_buf_puts(j, ",\"executor\":{\"type\":\"wagi\"") < 0 ||
             kiln_jsonw_kv(j, "argv", t->wagi_argv) < 0 ||
             kiln_jsonw_kv(j, "entrypoint", t->wagi_entrypoint) < 0 || kiln_buf_putc(j, '}') < 0))
            return -1;
        if (t->has_static_response) {
            if (kiln_buf_printf(j, ",\"static_response\":{\"status_code\":%d", t->status_code) <
                    0 ||
                w_kvlist(j, "headers", &t->static_headers) < 0 ||
                (t->static_body &&
                 (kiln_jsonw_key(j, "body") < 0 ||
                  kiln_json_write_strn(j, t->static_body, t->static_body_len) < 0)) ||
                kiln_buf_putc(j, '}') < 0)
                return -1;
        }
        if (kiln_buf_puts(j, "}}") < 0) return -1;
    }
    for (size_t i = 0; i < m->other_triggers_len; i++) {
        const kiln_other_trigger *t = &m->other_triggers[i];
        if ((j->data[j->len - 1] != '[' && kiln_buf_putc(j, ',') < 0) ||
            kiln_buf_putc(j, '{') < 0 || kiln_jsonw_kv(j, "id", t->id) < 0 ||
            kiln_jsonw_kv(j, "trigger_type", t->type) < 0 ||
            kiln_buf_puts(j, ",\"trigger_config\":{") < 0 ||
            (t->component >= 0 &&
             kiln_jsonw_kv(j, "component", m->components[t->component].id) < 0))
            return -1;
        for (size_t k = 0; k < t->settings.len; k++)
            if (kiln_jsonw_kv(j, t->settings.items[k].key, t->settings.items[k].value) < 0)
                return -1;
        if (kiln_buf_puts(j, "}}") < 0) return -1;
    }
    return kiln_buf_puts(j, "],\"components\":[");
}

/* One component: its wasm layer, its files (layers, inline, or one archive), its JSON. */
static int w_component(kiln_oci_artifact *a, kiln_buf *j, const kiln_manifest *m,
                       const kiln_component *c, int archive, char **err)
{
    if (!c->source) {
        kiln_dist_errf(err, "component %s: only components with a local source can be pushed",
                       c->id);
        return -1;
    }
    char *data = NULL, digest[KILN_DIGEST_LEN + 1];
    size_t len = 0;
    if (read_whole(c->source, &data, &len, err) < 0) return -1;
    if (add_layer(a, KILN_OCI_WASM_TYPE, data, len, digest) < 0) goto oom;
    if ((j->data[j->len - 1] != '[' && kiln_buf_putc(j, ',') < 0) || kiln_buf_putc(j, '{') < 0 ||
        kiln_jsonw_kv(j, "id", c->id) < 0 || kiln_buf_puts(j, ",\"metadata\":{") < 0 ||
        kiln_jsonw_kv(j, "description", c->description) < 0 ||
        w_strlist(j, "allowed_outbound_hosts", &c->allowed_outbound_hosts) < 0 ||
        w_strlist(j, "key_value_stores", &c->key_value_stores) < 0 ||
        w_strlist(j, "databases", &c->sqlite_databases) < 0 ||
        w_strlist(j, "ai_models", &c->ai_models) < 0 ||
        kiln_buf_puts(j, "},\"source\":{\"content_type\":\"application/wasm\"") < 0 ||
        kiln_jsonw_kv(j, "digest", digest) < 0 || kiln_buf_putc(j, '}') < 0 ||
        w_kvlist(j, "env", &c->environment) < 0)
        goto oom;
    files fl = {0};
    if (component_files(m, c, &fl, err) < 0) {
        files_free(&fl);
        return -1;
    }
    kiln_tar tar = KILN_TAR_INIT;
    if (fl.n && kiln_buf_puts(j, ",\"files\":[") < 0) goto oom_files;
    for (size_t i = 0; i < fl.n; i++) {
        if (read_whole(fl.v[i].host, &data, &len, err) < 0) {
            files_free(&fl);
            kiln_tar_free(&tar);
            return -1;
        }
        if (kiln_digest_sha256(data, len, digest) < 0) goto oom_data;
        if ((i && kiln_buf_putc(j, ',') < 0) || kiln_buf_putc(j, '{') < 0 ||
            kiln_jsonw_kv(j, "digest", digest) < 0)
            goto oom_data;
        if (len <= KILN_OCI_INLINE_MAX) {
            char *b64 = kiln_base64_encode(data, len);
            int rc = b64 ? kiln_jsonw_kv(j, "inline", b64) : -1;
            kiln_free(b64);
            if (rc < 0) goto oom_data;
        }
        if (kiln_jsonw_kv(j, "path", fl.v[i].guest) < 0 || kiln_buf_putc(j, '}') < 0) goto oom_data;
        if (archive) {
            kiln_buf why = KILN_BUF_INIT;
            if (kiln_tar_add(&tar, KILN_TAR_FILE, fl.v[i].guest, 0644, data, len, NULL, &why) < 0) {
                kiln_dist_errf(err, "%s: cannot go into an archive layer: %s", fl.v[i].host,
                               why.data ? why.data : "out of memory");
                kiln_buf_free(&why);
                kiln_free(data);
                files_free(&fl);
                kiln_tar_free(&tar);
                return -1;
            }
            kiln_free(data);
        } else if (len <= KILN_OCI_INLINE_MAX) {
            kiln_free(data); /* inlined: no layer, as Spin */
        } else if (add_layer(a, KILN_OCI_DATA_TYPE, data, len, digest) < 0) {
            goto oom_files;
        }
        data = NULL;
    }
    if (fl.n && kiln_buf_putc(j, ']') < 0) goto oom_files;
    if (archive && fl.n) {
        kiln_buf gz = KILN_BUF_INIT;
        if (kiln_tar_finish_gz(&tar, &gz) < 0) {
            kiln_buf_free(&gz);
            goto oom_files;
        }
        size_t gl = gz.len;
        if (add_layer(a, KILN_OCI_ARCHIVE_TYPE, kiln_buf_steal(&gz), gl, digest) < 0)
            goto oom_files;
    }
    kiln_tar_free(&tar);
    files_free(&fl);
    if (w_kvlist(j, "config", &c->variables) < 0 || kiln_buf_putc(j, '}') < 0) goto oom;
    return 0;
oom_data:
    kiln_free(data);
oom_files:
    kiln_tar_free(&tar);
    files_free(&fl);
oom:
    kiln_dist_errf(err, "out of memory");
    return -1;
}

/* The number of static files of the whole app (to choose archive mode as Spin does). */
static long count_files(const kiln_manifest *m, char **err)
{
    long n = 0;
    for (size_t i = 0; i < m->components_len; i++) {
        files fl = {0};
        if (component_files(m, &m->components[i], &fl, err) < 0) {
            files_free(&fl);
            return -1;
        }
        n += (long)fl.n;
        files_free(&fl);
    }
    return n;
}

/* The config blob and the image manifest, once the layers are there. */
static int w_manifest(kiln_oci_artifact *a, const kiln_manifest *m, const char *created)
{
    kiln_buf cfg = KILN_BUF_INIT, *j = &a->manifest;
    const kiln_oci_blob *locked = &a->layers[a->n_layers - 1];
    if (kiln_buf_puts(
            &cfg, "{\"architecture\":\"wasm\",\"os\":\"wasip1\",\"config\":{\"Labels\":{") < 0 ||
        kiln_jsonw_kv(&cfg, "com.fermyon.spin.lockedAppDigest", locked->digest) < 0 ||
        kiln_buf_puts(&cfg, "}},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}") < 0)
        goto oom;
    a->config.len = cfg.len;
    a->config.data = kiln_buf_steal(&cfg);
    a->config.media_type = KILN_OCI_CONFIG_TYPE;
    if (!a->config.data || kiln_digest_sha256(a->config.data, a->config.len, a->config.digest) < 0)
        goto oom;
    if (kiln_buf_puts(j, "{\"schemaVersion\":2,\"mediaType\":\"" KILN_OCI_MANIFEST_TYPE
                         "\",\"config\":{\"mediaType\":\"" KILN_OCI_CONFIG_TYPE "\"") < 0 ||
        kiln_jsonw_kv(j, "digest", a->config.digest) < 0 ||
        kiln_buf_printf(j, ",\"size\":%zu},\"layers\":[", a->config.len) < 0)
        goto oom;
    for (size_t i = 0; i < a->n_layers; i++) {
        const kiln_oci_blob *b = &a->layers[i];
        if (kiln_buf_printf(j, "%s{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu}",
                            i ? "," : "", b->media_type, b->digest, b->len) < 0)
            goto oom;
    }
    if (kiln_buf_puts(j, "],\"annotations\":{") < 0) goto oom;
    if (m->authors.len) {
        kiln_buf au = KILN_BUF_INIT;
        for (size_t i = 0; i < m->authors.len; i++)
            if (kiln_buf_printf(&au, "%s%s", i ? ", " : "", m->authors.items[i]) < 0) {
                kiln_buf_free(&au);
                goto oom;
            }
        int rc = kiln_jsonw_kv(j, "org.opencontainers.image.authors", au.data);
        kiln_buf_free(&au);
        if (rc < 0) goto oom;
    }
    if (kiln_jsonw_kv(j, "org.opencontainers.image.created", created) < 0 ||
        kiln_jsonw_kv(j, "org.opencontainers.image.description", m->description) < 0 ||
        kiln_jsonw_kv(j, "org.opencontainers.image.title", m->name) < 0 ||
        kiln_jsonw_kv(j, "org.opencontainers.image.version", m->version) < 0 ||
        kiln_buf_puts(j, "}}") < 0)
        goto oom;
    return kiln_digest_sha256(j->data, j->len, a->manifest_digest);
oom:
    kiln_buf_free(&cfg);
    return -1;
}

int kiln_oci_assemble(const char *manifest_path, int archive, const char *created,
                      kiln_oci_artifact *out, char **err)
{
    memset(out, 0, sizeof *out);
    *err = NULL;
    kiln_diags diags = KILN_DIAGS_INIT;
    kiln_manifest *m = kiln_manifest_load(manifest_path, &diags);
    kiln_buf j = KILN_BUF_INIT;
    int rc = -1;
    if (!m) {
        kiln_buf e = KILN_BUF_INIT;
        for (size_t i = 0; i < diags.len; i++)
            if (!diags.items[i].is_warning &&
                kiln_buf_printf(&e, "%s%s", e.len ? "\n" : "", diags.items[i].message) < 0)
                break;
        *err = e.len ? kiln_buf_steal(&e) : NULL;
        kiln_buf_free(&e);
        if (!*err) kiln_dist_errf(err, "%s: cannot load the manifest", manifest_path);
        goto out;
    }
    if (!archive) {
        const char *e = getenv("SPIN_OCI_ARCHIVE_LAYERS");
        long n = count_files(m, err);
        if (n < 0) goto out;
        archive = e != NULL || (size_t)n + m->components_len > KILN_OCI_MAX_LAYERS - 1;
    }
    out->archive = archive;
    if (w_head(&j, m) < 0) goto oom;
    for (size_t i = 0; i < m->components_len; i++)
        if (w_component(out, &j, m, &m->components[i], archive, err) < 0) goto out;
    if (kiln_buf_puts(&j, "]}") < 0) goto oom;
    char digest[KILN_DIGEST_LEN + 1];
    size_t jl = j.len;
    if (add_layer(out, KILN_OCI_LOCKED_TYPE, kiln_buf_steal(&j), jl, digest) < 0) goto oom;
    /* add_layer dedups: a locked app identical to a file would not be last */
    if (strcmp(out->layers[out->n_layers - 1].digest, digest) != 0) {
        kiln_dist_errf(err, "%s: a static file has the same bytes as the locked app",
                       manifest_path);
        goto out;
    }
    if (w_manifest(out, m, created) < 0) goto oom;
    rc = 0;
    goto out;
oom:
    kiln_dist_errf(err, "out of memory");
out:
    kiln_buf_free(&j);
    if (rc < 0) kiln_oci_artifact_free(out);
    kiln_manifest_free(m);
    kiln_diags_free(&diags);
    return rc;
}

int kiln_oci_push(kiln_registry *r, const kiln_oci_ref *ref, const kiln_oci_artifact *a, FILE *log,
                  char **err)
{
    if (!ref->tag) {
        kiln_dist_errf(err, "%s/%s: a push needs a tag (REGISTRY/REPO:TAG)", ref->registry,
                       ref->repo);
        return -1;
    }
    static const char *const said[] = {"exists", "mounted", "uploaded"};
    for (size_t i = 0; i <= a->n_layers; i++) {
        const kiln_oci_blob *b = i < a->n_layers ? &a->layers[i] : &a->config;
        kiln_blob_outcome o;
        if (kiln_registry_put_blob(r, b->digest, b->data, b->len, &o, err) < 0) return -1;
        if (log)
            fprintf(log, "  %-8s %s %s (%zu bytes)\n", said[o], b->digest, b->media_type, b->len);
    }
    return kiln_registry_put_manifest(r, ref->tag, KILN_OCI_MANIFEST_TYPE, a->manifest.data,
                                      a->manifest.len, err);
}
