/* pull.c — fetching an app from a registry into the cache by manifest digest (oci.h). */
#define _XOPEN_SOURCE 700
#include "dist/oci.h"
#include "dist/errf.h"
#include "util/alloc.h"
#include "util/file.h"
#include "util/json.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    return (flag == FTW_DP ? rmdir(path) : unlink(path)) < 0 && errno != ENOENT ? -1 : 0;
}

/* rm -rf of a directory this code created. */
static void remove_tree(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Removes the temporary directories of pulls whose process is gone (killed half way):
 * ".pull-PID-XXXXXX" with no process PID. Errors are ignored: this is housekeeping. */
static void remove_stale(const char *root)
{
    DIR *d = opendir(root);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        char *end;
        if (strncmp(e->d_name, ".pull-", 6) != 0) continue;
        long pid = strtol(e->d_name + 6, &end, 10);
        if (end == e->d_name + 6 || *end != '-' || pid <= 0) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
        kiln_buf p = KILN_BUF_INIT;
        if (kiln_buf_printf(&p, "%s/%s", root, e->d_name) == 0) remove_tree(p.data);
        kiln_buf_free(&p);
    }
    closedir(d);
}

static int fetch_blob(void *ctx, const char *digest, kiln_buf *out, char **err)
{
    return kiln_registry_get_blob(ctx, digest, out, err);
}

static int is_dir_with_manifest(const char *dir)
{
    kiln_buf p = KILN_BUF_INIT;
    struct stat st;
    int ok = kiln_buf_printf(&p, "%s/spin.toml", dir) == 0 && stat(p.data, &st) == 0 &&
             S_ISREG(st.st_mode);
    kiln_buf_free(&p);
    return ok;
}

static int mkdir_p(const char *path)
{
    char *p = kiln_strdup(path);
    if (!p) return -1;
    for (char *s = strchr(p + 1, '/');; s = strchr(s + 1, '/')) {
        if (s) *s = '\0';
        if (mkdir(p, 0755) < 0 && errno != EEXIST) {
            kiln_free(p);
            return -1;
        }
        if (!s) break;
        *s = '/';
    }
    kiln_free(p);
    return 0;
}

/* The descriptor {mediaType, digest, size} checks of one layer. */
static int layer_ok(const kiln_json *l)
{
    return kiln_json_get_str(l, "mediaType") && kiln_digest_valid(kiln_json_get_str(l, "digest"));
}

int kiln_oci_pull(kiln_registry *r, const kiln_oci_ref *ref, const char *cache_dir, char **app_dir,
                  char digest[KILN_DIGEST_LEN + 1], FILE *log, char **err)
{
    *app_dir = NULL;
    *err = NULL;
    kiln_buf root = KILN_BUF_INIT, final = KILN_BUF_INIT, tmp = KILN_BUF_INIT, body = KILN_BUF_INIT,
             locked = KILN_BUF_INIT;
    kiln_buf *archives = NULL;
    size_t n_archives = 0;
    kiln_json *man = NULL;
    char *ctype = NULL;
    int rc = -1, made_tmp = 0;
    const char *target = kiln_oci_ref_target(ref);
    if (kiln_buf_printf(&root, "%s/oci", cache_dir) < 0) goto oom;
    /* by digest: a complete copy in the cache needs no registry at all */
    if (ref->digest) {
        if (kiln_buf_printf(&final, "%s/sha256-%s", root.data, ref->digest + 7) < 0) goto oom;
        if (is_dir_with_manifest(final.data)) {
            memcpy(digest, ref->digest, KILN_DIGEST_LEN + 1);
            if (log) fprintf(log, "cached %s/%s@%s\n", ref->registry, ref->repo, digest);
            goto done;
        }
        kiln_buf_reset(&final);
    }
    if (kiln_registry_get_manifest(r, target, &body, digest, &ctype, err) < 0) goto out;
    char jerr[160];
    man = kiln_json_parse(body.data ? body.data : "", body.len, jerr, sizeof jerr);
    const char *mt = kiln_json_get_str(man, "mediaType");
    if (!mt) mt = ctype;
    if (!man || (mt && strcmp(mt, KILN_OCI_MANIFEST_TYPE) != 0 &&
                 strcmp(mt, "application/vnd.docker.distribution.manifest.v2+json") != 0)) {
        kiln_dist_errf(err, "%s/%s:%s: not an image manifest (%s)", ref->registry, ref->repo,
                       target, man ? mt : jerr);
        goto out;
    }
    if (kiln_buf_printf(&final, "%s/sha256-%s", root.data, digest + 7) < 0) goto oom;
    if (is_dir_with_manifest(final.data)) {
        if (log) fprintf(log, "cached %s/%s@%s\n", ref->registry, ref->repo, digest);
        goto done;
    }
    const kiln_json *layers = kiln_json_get(man, "layers");
    const kiln_json *cfg = kiln_json_get(man, "config");
    const char *locked_digest = NULL;
    for (size_t i = 0; layers && layers->type == KILN_JSON_ARRAY && i < layers->count; i++) {
        const kiln_json *l = layers->items[i];
        if (!layer_ok(l)) {
            kiln_dist_errf(err, "%s/%s:%s: layer %zu has no valid mediaType and digest",
                           ref->registry, ref->repo, target, i);
            goto out;
        }
        const char *lt = kiln_json_get_str(l, "mediaType");
        if (strcmp(lt, KILN_OCI_LOCKED_TYPE) == 0) locked_digest = kiln_json_get_str(l, "digest");
        if (strcmp(lt, KILN_OCI_ARCHIVE_TYPE) == 0) {
            kiln_buf *v = kiln_realloc(archives, (n_archives + 1) * sizeof *v);
            if (!v) goto oom;
            archives = v;
            archives[n_archives] = (kiln_buf)KILN_BUF_INIT;
            if (kiln_registry_get_blob(r, kiln_json_get_str(l, "digest"), &archives[n_archives++],
                                       err) < 0)
                goto out;
        }
    }
    /* older Spin artifacts carry the locked app as the config itself */
    if (!locked_digest) locked_digest = kiln_json_get_str(cfg, "digest");
    if (!kiln_digest_valid(locked_digest)) {
        kiln_dist_errf(err, "%s/%s:%s: no locked app layer (%s): not a Spin application",
                       ref->registry, ref->repo, target, KILN_OCI_LOCKED_TYPE);
        goto out;
    }
    if (kiln_registry_get_blob(r, locked_digest, &locked, err) < 0) goto out;
    if (mkdir_p(root.data) < 0) {
        kiln_dist_errf(err, "%s: %s", root.data, strerror(errno));
        goto out;
    }
    remove_stale(root.data);
    if (kiln_buf_printf(&tmp, "%s/.pull-%ld-XXXXXX", root.data, (long)getpid()) < 0) goto oom;
    if (!mkdtemp(tmp.data)) {
        kiln_dist_errf(err, "%s: %s", tmp.data, strerror(errno));
        goto out;
    }
    made_tmp = 1;
    if (kiln_locked_unpack(locked.data, locked.len, archives, n_archives, fetch_blob, r, tmp.data,
                           err) < 0) {
        char *e = *err;
        kiln_dist_errf(err, "%s/%s:%s: %s", ref->registry, ref->repo, target,
                       e ? e : "out of memory");
        kiln_free(e);
        goto out;
    }
    kiln_buf mp = KILN_BUF_INIT;
    int wr = kiln_buf_printf(&mp, "%s/manifest.json", tmp.data) == 0
                 ? kiln_write_file(mp.data, body.data, body.len)
                 : -1;
    kiln_buf_free(&mp);
    if (wr < 0 || chmod(tmp.data, 0755) < 0) {
        kiln_dist_errf(err, "%s: %s", tmp.data, strerror(errno));
        goto out;
    }
    if (rename(tmp.data, final.data) < 0) {
        /* another pull of the same digest got there first: its copy is as good */
        if ((errno != EEXIST && errno != ENOTEMPTY) || !is_dir_with_manifest(final.data)) {
            kiln_dist_errf(err, "%s: %s", final.data, strerror(errno));
            goto out;
        }
    } else {
        made_tmp = 0;
    }
    if (log) fprintf(log, "pulled %s/%s@%s\n", ref->registry, ref->repo, digest);
done:
    *app_dir = kiln_buf_steal(&final);
    if (!*app_dir) goto oom;
    rc = 0;
    goto out;
oom:
    kiln_free(*err);
    kiln_dist_errf(err, "out of memory");
out:
    if (made_tmp) remove_tree(tmp.data);
    for (size_t i = 0; i < n_archives; i++)
        kiln_buf_free(&archives[i]);
    kiln_free(archives);
    kiln_json_free(man);
    kiln_free(ctype);
    kiln_buf_free(&root);
    kiln_buf_free(&final);
    kiln_buf_free(&tmp);
    kiln_buf_free(&body);
    kiln_buf_free(&locked);
    return rc;
}
