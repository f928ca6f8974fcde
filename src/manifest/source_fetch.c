/* source_fetch.c — `source = { url, digest }` and `{ url, digest }` dependencies: each
 * file downloaded once over HTTP(S) (libcurl), verified against its "sha256:HEX" digest
 * and kept in the download cache under its digest (manifest.h: kiln_source_fetch).
 *
 * The cache is $KILN_CACHE_DIR (else $XDG_CACHE_HOME/kiln, else ~/.cache/kiln; the compile
 * cache's directory) + "/downloads/sha256-HEX.wasm". A download goes to a temporary file
 * in that directory, hashed while it is written, and is renamed into place only when the
 * digest matches, so a cached file is always a verified one; a cached file is hashed again
 * when used (a truncated or edited cache entry is downloaded again).
 *
 * Dependencies on a package of an OCI registry (`{ version, registry = "HOST" }`) are
 * fetched by dist/package.h into the same downloads directory, by layer digest. */
#include "engine/cache.h"
#include "dist/package.h"
#include "engine/engine.h"
#include "manifest/manifest_internal.h"
#include "util/alloc.h"
#include "util/buf.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_DOWNLOAD (1024LL * 1024 * 1024) /* bytes: a component larger than 1 GiB is refused */

/* 1 if digest is "sha256:" and 64 lowercase hex digits. */
static int digest_valid(const char *digest)
{
    if (strncmp(digest, "sha256:", 7) != 0 || strlen(digest) != 7 + 64) return 0;
    for (const char *p = digest + 7; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) return 0;
    return 1;
}

/* Formats a finished hash as "sha256:HEX" into out (72 bytes). */
static void hex_digest(EVP_MD_CTX *md, char out[72])
{
    unsigned char h[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(md, h, &n);
    memcpy(out, "sha256:", 7);
    for (unsigned int i = 0; i < n && i < 32; i++)
        snprintf(out + 7 + 2 * i, 3, "%02x", h[i]);
}

/* The digest of the file at path into out; 0, or -1 when it cannot be read. */
static int file_digest(const char *path, char out[72])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int rc = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 ? 0 : -1;
    char buf[65536];
    while (rc == 0) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) rc = -1;
        if (n <= 0) break;
        if (EVP_DigestUpdate(md, buf, (size_t)n) != 1) rc = -1;
    }
    if (rc == 0) hex_digest(md, out);
    EVP_MD_CTX_free(md);
    close(fd);
    return rc;
}

typedef struct sink {
    int fd;
    EVP_MD_CTX *md;
    int failed; /* a write or the hash failed */
} sink;

static size_t on_data(char *data, size_t size, size_t n, void *ctx)
{
    sink *s = ctx;
    size_t len = size * n, off = 0;
    if (EVP_DigestUpdate(s->md, data, len) != 1) {
        s->failed = 1;
        return 0;
    }
    while (off < len) {
        ssize_t w = write(s->fd, data + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            s->failed = 1;
            return 0;
        }
        off += (size_t)w;
    }
    return len;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Downloads url into the open file of s. 0, or -1 with *err. */
static int download(const char *url, sink *s, kiln_buf *err)
{
    pthread_once(&curl_once, curl_init);
    CURL *h = curl_easy_init();
    if (!h) return kiln_buf_puts(err, "cannot start a download (libcurl)"), -1;
    char cerr[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)MAX_DOWNLOAD);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "kiln");
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, s);
    CURLcode rc = curl_easy_perform(h);
    curl_easy_cleanup(h);
    if (rc == CURLE_OK && !s->failed) return 0;
    kiln_buf_printf(err, "download failed: %s",
                    s->failed ? "cannot write the download cache"
                    : cerr[0] ? cerr
                              : curl_easy_strerror(rc));
    return -1;
}

int kiln_source_fetch(const char *what, const char *url, const char *digest, char **path_out,
                      char **err)
{
    kiln_buf e = KILN_BUF_INIT, dir = KILN_BUF_INIT, path = KILN_BUF_INIT, tmp = KILN_BUF_INIT;
    char cache[4096], got[72];
    int rc = -1, fd = -1;
    EVP_MD_CTX *md = NULL;
    *path_out = NULL;
    if (!digest_valid(digest)) {
        kiln_buf_printf(&e,
                        "%s: source %s: digest `%s` must be \"sha256:\" and 64 lowercase hex "
                        "digits",
                        what, url, digest);
        goto out;
    }
    kiln_buf cerr = KILN_BUF_INIT;
    int prepared = kiln_cache_prepare(NULL, cache, sizeof cache, &cerr);
    if (prepared < 0) {
        kiln_buf_printf(&e, "%s: the download cache: %s", what, cerr.data ? cerr.data : "failed");
        kiln_buf_free(&cerr);
        goto out;
    }
    kiln_buf_free(&cerr);
    if (kiln_buf_printf(&dir, "%s/downloads", cache) < 0 ||
        kiln_buf_printf(&path, "%s/sha256-%s.wasm", dir.data, digest + 7) < 0 ||
        kiln_buf_printf(&tmp, "%s/.download-XXXXXX", dir.data) < 0) {
        kiln_buf_printf(&e, "%s: out of memory", what);
        goto out;
    }
    if (file_digest(path.data, got) == 0 && strcmp(got, digest) == 0) {
        rc = 0;
        goto out;
    }
    if ((mkdir(dir.data, 0755) < 0 && errno != EEXIST) || (fd = mkstemp(tmp.data)) < 0) {
        kiln_buf_printf(&e, "%s: cannot write the download cache %s: %s", what, dir.data,
                        strerror(errno));
        goto out;
    }
    md = EVP_MD_CTX_new();
    if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        kiln_buf_printf(&e, "%s: cannot hash (OpenSSL)", what);
        goto out;
    }
    sink s = {fd, md, 0};
    kiln_buf derr = KILN_BUF_INIT;
    if (download(url, &s, &derr) < 0) {
        kiln_buf_printf(&e, "%s: source %s: %s", what, url, derr.data ? derr.data : "failed");
        kiln_buf_free(&derr);
        goto out;
    }
    hex_digest(md, got);
    if (strcmp(got, digest) != 0) {
        kiln_buf_printf(&e,
                        "%s: source %s: digest mismatch: expected %s, the download is %s; "
                        "refusing it",
                        what, url, digest, got);
        goto out;
    }
    if (fsync(fd) < 0 || close(fd) < 0) {
        fd = -1;
        kiln_buf_printf(&e, "%s: cannot write the download cache: %s", what, strerror(errno));
        goto out;
    }
    fd = -1;
    if (rename(tmp.data, path.data) < 0) {
        kiln_buf_printf(&e, "%s: cannot write the download cache %s: %s", what, path.data,
                        strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0) close(fd);
    if (rc < 0 && tmp.data && strstr(tmp.data, "XXXXXX") == NULL) unlink(tmp.data);
    EVP_MD_CTX_free(md);
    if (rc == 0) *path_out = kiln_buf_steal(&path);
    if (rc == 0 && !*path_out) rc = -1;
    if (rc < 0) *err = e.data ? kiln_buf_steal(&e) : kiln_strdup("out of memory");
    kiln_buf_free(&e);
    kiln_buf_free(&dir);
    kiln_buf_free(&path);
    kiln_buf_free(&tmp);
    return rc;
}

/* Fetches package (a version meeting req) from the OCI registry host into the download
 * cache: *file the verified file (allocated). 0, or -1 with *err naming `what`. */
static int fetch_package(const char *host, const char *package, const char *req, const char *what,
                         char **file, char **err)
{
    char cache[4096];
    kiln_buf cerr = KILN_BUF_INIT, e = KILN_BUF_INIT;
    char *perr = NULL;
    int rc = -1;
    if (kiln_cache_prepare(NULL, cache, sizeof cache, &cerr) < 0)
        kiln_buf_printf(&e, "%s: the download cache: %s", what, cerr.data ? cerr.data : "failed");
    else if (kiln_pkg_fetch(host, package, req, cache, file, stderr, &perr) < 0)
        kiln_buf_printf(&e, "%s: %s", what, perr ? perr : "out of memory");
    else
        rc = 0;
    if (rc < 0) *err = e.data ? kiln_buf_steal(&e) : kiln_strdup("out of memory");
    kiln_free(perr);
    kiln_buf_free(&cerr);
    kiln_buf_free(&e);
    return rc;
}

/* Fetches dependency d (described by `what`) when it is a url or a registry package not
 * fetched yet: d->file set. 0, or -1 with *err. */
static int fetch_dependency(kiln_dependency *d, const char *what, char **err)
{
    if (!d->kind || d->file) return 0;
    if (strcmp(d->kind, "url") == 0)
        return kiln_source_fetch(what, d->value, d->digest ? d->digest : "", &d->file, err);
    if ((strcmp(d->kind, "version") != 0 && strcmp(d->kind, "package") != 0) || !d->registry)
        return 0; /* refused with its reason by kiln_manifest_unserved */
    return fetch_package(d->registry, d->package ? d->package : d->name, d->value ? d->value : "*",
                         what, &d->file, err);
}

/* source = { registry = HOST, package, version } (c->source_registry "package@version"):
 * fetched as a dependency's package; without a registry, refused by
 * kiln_manifest_unserved (Spin's default registry is a warg one). 0 or -1 with *err. */
static int fetch_registry_source(kiln_component *c, const char *what, char **err)
{
    if (c->source || !c->source_registry || !c->source_registry_host) return 0;
    const char *at = strrchr(c->source_registry, '@');
    char *pkg = at ? kiln_strndup(c->source_registry, (size_t)(at - c->source_registry)) : NULL;
    if (!pkg) {
        *err = kiln_strdup("out of memory");
        return -1;
    }
    int rc = fetch_package(c->source_registry_host, pkg, at + 1, what, &c->source, err);
    kiln_free(pkg);
    return rc;
}

int kiln_manifest_fetch_sources(kiln_manifest *m, char **err)
{
    for (size_t i = 0; i < m->components_len; i++) {
        kiln_component *c = &m->components[i];
        if (c->unused) continue;
        kiln_buf what = KILN_BUF_INIT;
        if (kiln_buf_printf(&what, "component `%s`", c->id) < 0) {
            *err = kiln_strdup("out of memory");
            return -1;
        }
        int rc = 0;
        if (!c->source && c->source_url && c->source_digest) {
            char *p = NULL;
            rc = kiln_source_fetch(what.data, c->source_url, c->source_digest, &p, err);
            if (rc == 0) c->source = p;
        }
        if (rc == 0) rc = fetch_registry_source(c, what.data, err);
        for (size_t k = 0; k < c->dependencies_len && rc == 0; k++) {
            kiln_dependency *d = &c->dependencies[k];
            kiln_buf dw = KILN_BUF_INIT;
            if (kiln_buf_printf(&dw, "component `%s`: dependency '%s'", c->id, d->name) < 0) {
                *err = kiln_strdup("out of memory");
                rc = -1;
            } else {
                rc = fetch_dependency(d, dw.data, err);
            }
            kiln_buf_free(&dw);
        }
        kiln_buf_free(&what);
        if (rc < 0) return -1;
    }
    for (size_t i = 0; i < m->triggers_len; i++) {
        kiln_trigger *t = &m->triggers[i];
        for (size_t k = 0; k < t->mw_len; k++) {
            kiln_dependency *d = &t->mw[k];
            kiln_buf what = KILN_BUF_INIT;
            int rc = kiln_buf_printf(&what, "trigger %s: middleware `%s`", t->id, d->name);
            if (rc < 0) *err = kiln_strdup("out of memory");
            if (rc == 0) rc = fetch_dependency(d, what.data, err);
            kiln_buf_free(&what);
            if (rc < 0) return -1;
        }
    }
    return 0;
}
