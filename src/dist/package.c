/* package.c — fetching a Wasm package from an OCI registry (see package.h). */
#include "dist/package.h"
#include "dist/auth.h"
#include "dist/errf.h"
#include "dist/oci.h"
#include "dist/registry.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/file.h"
#include "util/json.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DISCOVERY_MAX 65536

typedef struct capped {
    kiln_buf *b;
    int too_big;
} capped;

static size_t on_doc(char *p, size_t size, size_t n, void *ud)
{
    capped *c = ud;
    size_t len = size * n;
    if (c->b->len + len > DISCOVERY_MAX || kiln_buf_append(c->b, p, len) < 0) {
        c->too_big = 1;
        return 0;
    }
    return len;
}

/* Where package `ns/name` of registry `host` lives, from the discovery document: sets
 * *oci_host and *prefix (allocated). 0, or -1 with *err when the registry is not an OCI
 * registry (or memory runs out). */
static int discover(const char *host, char **oci_host, char **prefix, char **err)
{
    *oci_host = *prefix = NULL;
    kiln_buf url = KILN_BUF_INIT, doc = KILN_BUF_INIT;
    capped c = {&doc, 0};
    long status = 0;
    int rc = -1;
    if (kiln_buf_printf(&url, "%s://%s/.well-known/wasm-pkg/registry.json",
                        kiln_registry_is_loopback(host) ? "http" : "https", host) < 0)
        goto oom;
    CURL *h = curl_easy_init();
    if (!h) goto oom;
    curl_easy_setopt(h, CURLOPT_URL, url.data);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 15L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "kiln");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_doc);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &c);
    CURLcode cr = curl_easy_perform(h);
    if (cr == CURLE_OK) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    /* no document: OCI at the host itself, as wasm-pkg-tools assumes */
    kiln_json *j = cr == CURLE_OK && status == 200 && doc.len
                       ? kiln_json_parse(doc.data, doc.len, NULL, 0)
                       : NULL;
    const char *pref = kiln_json_get_str(j, "preferredProtocol");
    const kiln_json *oci = kiln_json_get(j, "oci");
    const kiln_json *warg = kiln_json_get(j, "warg");
    /* older documents: {"ociRegistry": ..., "ociNamespacePrefix": ..., "wargUrl": ...} */
    const char *reg =
        oci ? kiln_json_get_str(oci, "registry") : kiln_json_get_str(j, "ociRegistry");
    const char *pfx = oci ? kiln_json_get_str(oci, "namespacePrefix")
                          : kiln_json_get_str(j, "ociNamespacePrefix");
    int is_warg = pref ? strcmp(pref, "warg") == 0
                       : (warg || kiln_json_get_str(j, "wargUrl")) && !oci && !reg;
    if (is_warg) {
        kiln_dist_errf(err,
                       "registry %s is a warg registry (%s prefers the warg protocol): Kiln "
                       "fetches dependencies from OCI registries only; publish the package to "
                       "one (`wkg oci push`) and name it with `registry = \"HOST\"`, or serve "
                       "a registry.json there that points wkg and Kiln at it "
                       "({\"preferredProtocol\": \"oci\", \"oci\": {\"registry\": \"HOST\", "
                       "\"namespacePrefix\": \"...\"}}), or use `{ path = ... }` / "
                       "`{ url, digest }`",
                       host, url.data);
    } else if (pref && strcmp(pref, "oci") != 0) {
        kiln_dist_errf(err, "registry %s: %s prefers the protocol `%s`: Kiln speaks OCI only", host,
                       url.data, pref);
    } else if (!(*oci_host = kiln_strdup(reg && *reg ? reg : host)) ||
               !(*prefix = kiln_strdup(pfx ? pfx : ""))) {
        kiln_dist_errf(err, "out of memory");
    } else {
        rc = 0;
    }
    kiln_json_free(j);
    goto out;
oom:
    kiln_dist_errf(err, "out of memory");
out:
    if (rc < 0) {
        kiln_free(*oci_host);
        kiln_free(*prefix);
        *oci_host = *prefix = NULL;
    }
    kiln_buf_free(&url);
    kiln_buf_free(&doc);
    return rc;
}

/* 1 when s[0..n) is a package name label: lowercase letters, digits and '-'. */
static int label_ok(const char *s, size_t n)
{
    if (!n || s[0] == '-' || s[n - 1] == '-') return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return 0;
    return 1;
}

/* The highest tag of the tag list (JSON) that meets req, or NULL (*why set). */
static const char *pick_tag(const kiln_buf *tags, const char *req, kiln_json **j, const char **why)
{
    *j = kiln_json_parse(tags->data ? tags->data : "", tags->len, NULL, 0);
    const kiln_json *list = kiln_json_get(*j, "tags");
    const char *best = NULL;
    *why = "no tag meets the version requirement";
    for (size_t i = 0; list && i < list->count; i++) {
        const kiln_json *t = kiln_json_at(list, i);
        if (!t || t->type != KILN_JSON_STRING || strlen(t->str) != t->len) continue;
        int m = kiln_semver_match(req, t->str);
        if (m < 0 && kiln_semver_match(req, "0.0.0") < 0) {
            *why = "the version requirement is malformed";
            return NULL;
        }
        if (m == 1 && (!best || kiln_semver_cmp(t->str, best) > 0)) best = t->str;
    }
    return best;
}

/* Reads the cached file at path; 1 when it is there and hashes to digest. */
static int cached_ok(const char *path, const char *digest)
{
    kiln_buf b = KILN_BUF_INIT;
    int ok =
        kiln_read_file(path, &b) == 0 && kiln_digest_check(b.data ? b.data : "", b.len, digest);
    kiln_buf_free(&b);
    return ok;
}

int kiln_pkg_fetch(const char *host, const char *package, const char *req, const char *cache_dir,
                   char **path_out, FILE *log, char **err)
{
    *path_out = NULL;
    *err = NULL;
    char *oci_host = NULL, *prefix = NULL, *user = NULL, *pass = NULL, *ctype = NULL;
    kiln_buf pkg = KILN_BUF_INIT, repo = KILN_BUF_INIT, tags = KILN_BUF_INIT, body = KILN_BUF_INIT,
             blob = KILN_BUF_INIT, dir = KILN_BUF_INIT, path = KILN_BUF_INIT, tmp = KILN_BUF_INIT;
    kiln_json *tj = NULL, *man = NULL;
    kiln_registry *r = NULL;
    char digest[KILN_DIGEST_LEN + 1];
    const char *why = NULL;
    int rc = -1;
    /* "ns:name[/iface][@ver]" -> ns, name */
    size_t plen = strcspn(package, "/@");
    const char *colon = memchr(package, ':', plen);
    if (kiln_buf_append(&pkg, package, plen) < 0) goto oom;
    if (!colon || !label_ok(package, (size_t)(colon - package)) ||
        !label_ok(colon + 1, plen - (size_t)(colon - package) - 1)) {
        kiln_dist_errf(err, "package `%s`: not a package name like `namespace:name`", pkg.data);
        goto out;
    }
    if (discover(host, &oci_host, &prefix, err) < 0) {
        char *e = *err;
        kiln_dist_errf(err, "package %s: %s", pkg.data, e ? e : "out of memory");
        kiln_free(e);
        goto out;
    }
    if (kiln_buf_printf(&repo, "%s%.*s/%s", prefix, (int)(colon - package), package,
                        pkg.data + (colon - package) + 1) < 0)
        goto oom;
    kiln_oci_ref ref = {oci_host, repo.data, NULL, NULL};
    if (kiln_creds_get(oci_host, &user, &pass, err) < 0) goto out;
    kiln_registry_opts ro = {
        .insecure = kiln_registry_is_loopback(oci_host), .user = user, .password = pass};
    if (!(r = kiln_registry_new(&ref, &ro, err))) goto out;
    if (kiln_registry_list_tags(r, &tags, err) < 0) goto named;
    const char *tag = pick_tag(&tags, req, &tj, &why);
    if (!tag) {
        kiln_dist_errf(err, "package %s: %s/%s: %s `%s`", pkg.data, oci_host, repo.data, why, req);
        goto out;
    }
    ref.tag = (char *)tag;
    if (kiln_registry_get_manifest(r, tag, &body, digest, &ctype, err) < 0) goto named;
    man = kiln_json_parse(body.data ? body.data : "", body.len, NULL, 0);
    const kiln_json *l0 = kiln_json_at(kiln_json_get(man, "layers"), 0);
    const char *lt = kiln_json_get_str(l0, "mediaType"), *ld = kiln_json_get_str(l0, "digest");
    if (!lt || !ld || !kiln_digest_valid(ld) ||
        (strcmp(lt, KILN_OCI_WASM_TYPE_WKG) != 0 && strcmp(lt, KILN_OCI_WASM_TYPE) != 0)) {
        kiln_dist_errf(err,
                       "package %s@%s: %s/%s:%s is not a Wasm package (its first layer is %s, "
                       "not " KILN_OCI_WASM_TYPE_WKG ")",
                       pkg.data, tag, oci_host, repo.data, tag, lt ? lt : "missing");
        goto out;
    }
    if (kiln_buf_printf(&dir, "%s/downloads", cache_dir) < 0 ||
        kiln_buf_printf(&path, "%s/sha256-%s.wasm", dir.data, ld + 7) < 0 ||
        kiln_buf_printf(&tmp, "%s/.pkg-XXXXXX", dir.data) < 0)
        goto oom;
    if (cached_ok(path.data, ld)) {
        if (log) fprintf(log, "package %s@%s: cached (%s)\n", pkg.data, tag, ld);
    } else {
        if (kiln_registry_get_blob(r, ld, &blob, err) < 0) goto named; /* verified */
        int fd = -1;
        if ((mkdir(cache_dir, 0755) < 0 && errno != EEXIST) ||
            (mkdir(dir.data, 0755) < 0 && errno != EEXIST) || (fd = mkstemp(tmp.data)) < 0) {
            kiln_dist_errf(err, "package %s: cannot write the download cache %s: %s", pkg.data,
                           dir.data, strerror(errno));
            goto out;
        }
        close(fd);
        if (kiln_write_file(tmp.data, blob.data, blob.len) < 0 || chmod(tmp.data, 0644) < 0 ||
            rename(tmp.data, path.data) < 0) {
            kiln_dist_errf(err, "package %s: cannot write the download cache %s: %s", pkg.data,
                           path.data, strerror(errno));
            unlink(tmp.data);
            goto out;
        }
        if (log)
            fprintf(log, "package %s@%s: fetched from %s/%s:%s (%s)\n", pkg.data, tag, oci_host,
                    repo.data, tag, ld);
    }
    *path_out = kiln_buf_steal(&path);
    rc = *path_out ? 0 : -1;
    if (rc < 0) goto oom;
    goto out;
named : {
    char *e = *err;
    kiln_dist_errf(err, "package %s: %s", pkg.data, e ? e : "out of memory");
    kiln_free(e);
    goto out;
}
oom:
    kiln_free(*err);
    kiln_dist_errf(err, "out of memory");
out:
    kiln_registry_free(r);
    kiln_json_free(tj);
    kiln_json_free(man);
    kiln_free(oci_host);
    kiln_free(prefix);
    kiln_free(user);
    if (pass) {
        memset(pass, 0, strlen(pass));
        kiln_free(pass);
    }
    kiln_free(ctype);
    kiln_buf_free(&pkg);
    kiln_buf_free(&repo);
    kiln_buf_free(&tags);
    kiln_buf_free(&body);
    kiln_buf_free(&blob);
    kiln_buf_free(&dir);
    kiln_buf_free(&path);
    kiln_buf_free(&tmp);
    return rc;
}
