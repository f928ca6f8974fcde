/* image_layout.c — the OCI image layout and its archive (see image.h). */
#include "dist/image.h"
#include "util/json.h"
#include "util/alloc.h"
#include "util/file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#define MT_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_LAYER "application/vnd.oci.image.layer.v1.tar+gzip"
#define MT_INDEX "application/vnd.oci.image.index.v1+json"

const char *kiln_image_arch(void)
{
    static char machine[65];
    struct utsname u;
    if (uname(&u) < 0) return "amd64";
    if (strcmp(u.machine, "x86_64") == 0) return "amd64";
    if (strcmp(u.machine, "aarch64") == 0) return "arm64";
    snprintf(machine, sizeof machine, "%s", u.machine);
    return machine;
}

/* "KEY":["a","b"] (or nothing when v is NULL), preceded by a comma when *first is 0. */
static int json_strv(kiln_buf *b, const char *key, const char *const *v, int *first)
{
    if (!v) return 0;
    if ((!*first && kiln_buf_putc(b, ',') < 0) || kiln_buf_printf(b, "\"%s\":[", key) < 0)
        return -1;
    *first = 0;
    for (size_t i = 0; v[i]; i++)
        if ((i && kiln_buf_putc(b, ',') < 0) || kiln_json_write_str(b, v[i]) < 0) return -1;
    return kiln_buf_putc(b, ']');
}

/* "KEY":{"a":{},...} for ports, or {"k":"v"} for labels (split at the first '='). */
static int json_obj(kiln_buf *b, const char *key, const char *const *v, int labels, int *first)
{
    if (!v) return 0;
    if ((!*first && kiln_buf_putc(b, ',') < 0) || kiln_buf_printf(b, "\"%s\":{", key) < 0)
        return -1;
    *first = 0;
    for (size_t i = 0; v[i]; i++) {
        if (i && kiln_buf_putc(b, ',') < 0) return -1;
        if (!labels) {
            if (kiln_json_write_str(b, v[i]) < 0 || kiln_buf_puts(b, ":{}") < 0) return -1;
            continue;
        }
        const char *eq = strchr(v[i], '=');
        char *k = kiln_strndup(v[i], eq ? (size_t)(eq - v[i]) : strlen(v[i]));
        int rc = !k || kiln_json_write_str(b, k) < 0 || kiln_buf_putc(b, ':') < 0 ||
                         kiln_json_write_str(b, eq ? eq + 1 : "") < 0
                     ? -1
                     : 0;
        kiln_free(k);
        if (rc < 0) return -1;
    }
    return kiln_buf_putc(b, '}');
}

/* Creates a file with mode 0644 holding data. 0 or -1 (*err). */
static int put_file(const char *path, const void *data, size_t len, kiln_buf *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || kiln_write_all(fd, data, len) < 0) {
        kiln_buf_printf(err, "cannot write %s: %s", path, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    if (close(fd) < 0) {
        kiln_buf_printf(err, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Writes a blob into dir/blobs/sha256/ and stores its digest. 0 or -1 (*err). */
static int put_blob(const char *dir, const void *data, size_t len, char digest[KILN_DIGEST_LEN + 1],
                    kiln_buf *err)
{
    if (kiln_digest_sha256(data, len, digest) < 0) {
        kiln_buf_puts(err, "cannot compute a sha256 digest");
        return -1;
    }
    kiln_buf path = KILN_BUF_INIT;
    if (kiln_buf_printf(&path, "%s/blobs/sha256/%s", dir, digest + 7) < 0) {
        kiln_buf_puts(err, "out of memory");
        return -1;
    }
    int rc = put_file(path.data, data, len, err);
    kiln_buf_free(&path);
    return rc;
}

static int mkdir_one(const char *path, kiln_buf *err)
{
    if (mkdir(path, 0755) < 0 && errno != EEXIST) {
        kiln_buf_printf(err, "cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* The config JSON of the image. */
static int config_json(kiln_buf *b, const kiln_image_config *cfg, const kiln_image_layer *layers,
                       char (*diff_ids)[KILN_DIGEST_LEN + 1], size_t n)
{
    int first = 1;
    if (kiln_buf_puts(b, "{\"created\":\"1970-01-01T00:00:00Z\",\"architecture\":") < 0 ||
        kiln_json_write_str(b, cfg->architecture ? cfg->architecture : kiln_image_arch()) < 0 ||
        kiln_buf_puts(b, ",\"os\":\"linux\",\"config\":{") < 0 ||
        json_strv(b, "Entrypoint", cfg->entrypoint, &first) < 0 ||
        json_strv(b, "Cmd", cfg->cmd, &first) < 0 || json_strv(b, "Env", cfg->env, &first) < 0 ||
        json_obj(b, "ExposedPorts", cfg->ports, 0, &first) < 0 ||
        json_obj(b, "Labels", cfg->labels, 1, &first) < 0)
        return -1;
    if (cfg->workdir && (kiln_buf_printf(b, "%s\"WorkingDir\":", first ? "" : ",") < 0 ||
                         kiln_json_write_str(b, cfg->workdir) < 0))
        return -1;
    if (cfg->workdir) first = 0;
    if (cfg->stop_signal && (kiln_buf_printf(b, "%s\"StopSignal\":", first ? "" : ",") < 0 ||
                             kiln_json_write_str(b, cfg->stop_signal) < 0))
        return -1;
    if (kiln_buf_puts(b, "},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[") < 0) return -1;
    for (size_t i = 0; i < n; i++)
        if (kiln_buf_printf(b, "%s\"%s\"", i ? "," : "", diff_ids[i]) < 0) return -1;
    if (kiln_buf_puts(b, "]},\"history\":[") < 0) return -1;
    for (size_t i = 0; i < n; i++)
        if ((i && kiln_buf_putc(b, ',') < 0) ||
            kiln_buf_puts(b, "{\"created\":\"1970-01-01T00:00:00Z\",\"created_by\":") < 0 ||
            kiln_json_write_str(b, layers[i].created_by ? layers[i].created_by : "kiln") < 0 ||
            kiln_buf_putc(b, '}') < 0)
            return -1;
    return kiln_buf_puts(b, "]}");
}

int kiln_image_write_layout(const char *dir, const kiln_image_config *cfg,
                            const kiln_image_layer *layers, size_t nlayers, const char *tag,
                            char manifest_digest[KILN_DIGEST_LEN + 1], kiln_buf *err)
{
    int rc = -1;
    kiln_buf path = KILN_BUF_INIT, gz = KILN_BUF_INIT, json = KILN_BUF_INIT,
             manifest = KILN_BUF_INIT;
    char(*diff_ids)[KILN_DIGEST_LEN + 1] = kiln_calloc(nlayers ? nlayers : 1, sizeof *diff_ids);
    char(*digests)[KILN_DIGEST_LEN + 1] = kiln_calloc(nlayers ? nlayers : 1, sizeof *digests);
    size_t *sizes = kiln_calloc(nlayers ? nlayers : 1, sizeof *sizes);
    if (!diff_ids || !digests || !sizes) goto oom;
    if (mkdir_one(dir, err) < 0) goto out;
    if (kiln_buf_printf(&path, "%s/blobs", dir) < 0) goto oom;
    if (mkdir_one(path.data, err) < 0) goto out;
    if (kiln_buf_puts(&path, "/sha256") < 0) goto oom;
    if (mkdir_one(path.data, err) < 0) goto out;
    for (size_t i = 0; i < nlayers; i++) {
        kiln_buf_reset(&gz);
        if (kiln_digest_sha256(layers[i].tar->data, layers[i].tar->len, diff_ids[i]) < 0 ||
            kiln_gzip(layers[i].tar->data, layers[i].tar->len, &gz) < 0) {
            kiln_buf_puts(err, "cannot compress a layer");
            goto out;
        }
        if (put_blob(dir, gz.data, gz.len, digests[i], err) < 0) goto out;
        sizes[i] = gz.len;
    }
    char config_digest[KILN_DIGEST_LEN + 1], mdigest[KILN_DIGEST_LEN + 1];
    if (config_json(&json, cfg, layers, diff_ids, nlayers) < 0) goto oom;
    if (put_blob(dir, json.data, json.len, config_digest, err) < 0) goto out;
    if (kiln_buf_printf(&manifest,
                        "{\"schemaVersion\":2,\"mediaType\":\"" MT_MANIFEST
                        "\",\"config\":{\"mediaType\":\"" MT_CONFIG
                        "\",\"digest\":\"%s\",\"size\":%zu},\"layers\":[",
                        config_digest, json.len) < 0)
        goto oom;
    for (size_t i = 0; i < nlayers; i++)
        if (kiln_buf_printf(&manifest,
                            "%s{\"mediaType\":\"" MT_LAYER "\",\"digest\":\"%s\",\"size\":%zu}",
                            i ? "," : "", digests[i], sizes[i]) < 0)
            goto oom;
    if (kiln_buf_puts(&manifest, "]}") < 0) goto oom;
    if (put_blob(dir, manifest.data, manifest.len, mdigest, err) < 0) goto out;
    kiln_buf_reset(&json);
    if (kiln_buf_printf(&json,
                        "{\"schemaVersion\":2,\"mediaType\":\"" MT_INDEX
                        "\",\"manifests\":[{\"mediaType\":\"" MT_MANIFEST
                        "\",\"digest\":\"%s\",\"size\":%zu,\"platform\":{\"architecture\":",
                        mdigest, manifest.len) < 0 ||
        kiln_json_write_str(&json, cfg->architecture ? cfg->architecture : kiln_image_arch()) < 0 ||
        kiln_buf_puts(&json, ",\"os\":\"linux\"}") < 0)
        goto oom;
    if (tag &&
        (kiln_buf_puts(&json, ",\"annotations\":{\"org.opencontainers.image.ref.name\":") < 0 ||
         kiln_json_write_str(&json, tag) < 0 || kiln_buf_putc(&json, '}') < 0))
        goto oom;
    if (kiln_buf_puts(&json, "}]}") < 0) goto oom;
    kiln_buf_reset(&path);
    if (kiln_buf_printf(&path, "%s/oci-layout", dir) < 0) goto oom;
    static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
    if (put_file(path.data, layout, sizeof layout - 1, err) < 0) goto out;
    kiln_buf_reset(&path);
    if (kiln_buf_printf(&path, "%s/index.json", dir) < 0) goto oom;
    if (put_file(path.data, json.data, json.len, err) < 0) goto out;
    if (manifest_digest) memcpy(manifest_digest, mdigest, KILN_DIGEST_LEN + 1);
    rc = 0;
    goto out;
oom:
    kiln_buf_puts(err, "out of memory");
out:
    kiln_free(diff_ids);
    kiln_free(digests);
    kiln_free(sizes);
    kiln_buf_free(&path);
    kiln_buf_free(&gz);
    kiln_buf_free(&json);
    kiln_buf_free(&manifest);
    return rc;
}

/* Adds dir/name to the archive as `name`. */
static int archive_add(kiln_tar *t, const char *dir, const char *name, kiln_buf *err)
{
    kiln_buf src = KILN_BUF_INIT;
    if (kiln_buf_printf(&src, "%s/%s", dir, name) < 0) {
        kiln_buf_puts(err, "out of memory");
        return -1;
    }
    int rc = kiln_tar_add_host_file(t, name, src.data, err);
    kiln_buf_free(&src);
    return rc;
}

int kiln_image_write_archive(const char *dir, const char *file, kiln_buf *err)
{
    kiln_tar t = KILN_TAR_INIT;
    kiln_buf blobs = KILN_BUF_INIT;
    DIR *d = NULL;
    int rc = -1;
    if (archive_add(&t, dir, "oci-layout", err) < 0 || archive_add(&t, dir, "index.json", err) < 0)
        goto out;
    if (kiln_buf_printf(&blobs, "%s/blobs/sha256", dir) < 0) goto oom;
    if (!(d = opendir(blobs.data))) {
        kiln_buf_printf(err, "cannot read %s: %s", blobs.data, strerror(errno));
        goto out;
    }
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        kiln_buf name = KILN_BUF_INIT;
        if (kiln_buf_printf(&name, "blobs/sha256/%s", e->d_name) < 0) goto oom;
        int r = archive_add(&t, dir, name.data, err);
        kiln_buf_free(&name);
        if (r < 0) goto out;
    }
    if (kiln_tar_finish(&t) < 0) goto oom;
    rc = put_file(file, t.out.data, t.out.len, err);
    goto out;
oom:
    kiln_buf_puts(err, "out of memory");
out:
    if (d) closedir(d);
    kiln_tar_free(&t);
    kiln_buf_free(&blobs);
    return rc;
}
