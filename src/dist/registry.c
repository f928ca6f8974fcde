/* registry.c — the distribution API v2 client (see registry.h). */
#include "dist/registry.h"
#include "dist/auth.h"
#include "dist/errf.h"
#include "util/alloc.h"
#include "util/json.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MANIFEST_MAX (4u << 20)    /* the distribution spec's manifest limit */
#define BLOB_MAX ((size_t)2 << 30) /* what one pulled blob may weigh in memory */
#define MANIFEST_ACCEPT                                                                            \
    "Accept: application/vnd.oci.image.manifest.v1+json, "                                         \
    "application/vnd.docker.distribution.manifest.v2+json"

struct kiln_registry {
    const kiln_oci_ref *ref;
    kiln_registry_opts opts;
    CURL *curl;
    char *origin; /* "https://host:port" */
    char *base;   /* origin + "/v2/" + repo */
    char *label;  /* what messages name: "registry/repo", or "registry" (login) */
    char *auth;   /* "Authorization: ..." once known, or NULL */
};

/* One request and what came back. */
typedef struct req {
    const char *method;
    const char *url;
    const char *hdr[4]; /* extra header lines, NULL-terminated */
    const void *body;
    size_t body_len;
    kiln_buf *resp; /* NULL: the body is discarded */
    size_t limit;   /* most bytes accepted in resp */
    long status;
    char *location, *digest, *ctype, *challenge;
    kiln_buf err_body; /* error responses' JSON, for the message */
    char curl_err[CURL_ERROR_SIZE];
    int too_big;
} req;

static void req_clear(req *q)
{
    kiln_free(q->location);
    kiln_free(q->digest);
    kiln_free(q->ctype);
    kiln_free(q->challenge);
    q->location = q->digest = q->ctype = q->challenge = NULL;
    kiln_buf_free(&q->err_body);
    q->too_big = 0;
    q->status = 0;
    q->curl_err[0] = '\0';
}

int kiln_registry_is_loopback(const char *host)
{
    return strncmp(host, "localhost", 9) == 0 && (host[9] == '\0' || host[9] == ':') ? 1
           : strncmp(host, "127.", 4) == 0                                           ? 1
           : strncmp(host, "[::1]", 5) == 0                                          ? 1
                                                                                     : 0;
}

kiln_registry *kiln_registry_new(const kiln_oci_ref *ref, const kiln_registry_opts *opts,
                                 char **err)
{
    *err = NULL;
    if (opts->insecure && !kiln_registry_is_loopback(ref->registry)) {
        kiln_dist_errf(err, "%s: --insecure (plain HTTP) is only allowed for a loopback registry",
                       ref->registry);
        return NULL;
    }
    static int inited;
    if (!inited) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
            kiln_dist_errf(err, "cannot initialize libcurl");
            return NULL;
        }
        inited = 1;
    }
    kiln_registry *r = kiln_calloc(1, sizeof *r);
    kiln_buf o = KILN_BUF_INIT, b = KILN_BUF_INIT;
    const char *host =
        strcmp(ref->registry, "docker.io") == 0 ? "registry-1.docker.io" : ref->registry;
    if (!r || kiln_buf_printf(&o, "%s://%s", opts->insecure ? "http" : "https", host) < 0 ||
        kiln_buf_printf(&b, "%s/v2/%s", o.data, ref->repo) < 0 || !(r->curl = curl_easy_init())) {
        kiln_buf_free(&o);
        kiln_buf_free(&b);
        kiln_free(r);
        kiln_dist_errf(err, "out of memory");
        return NULL;
    }
    r->ref = ref;
    r->opts = *opts;
    /* libcurl does not read SSL_CERT_FILE itself; OpenSSL tools and Go clients do */
    const char *env_ca = getenv("SSL_CERT_FILE");
    if (!r->opts.ca_file && env_ca && *env_ca) r->opts.ca_file = env_ca;
    r->origin = kiln_buf_steal(&o);
    r->base = kiln_buf_steal(&b);
    kiln_buf l = KILN_BUF_INIT;
    if (opts->registry_only ? kiln_buf_puts(&l, ref->registry) < 0
                            : kiln_buf_printf(&l, "%s/%s", ref->registry, ref->repo) < 0) {
        kiln_buf_free(&l);
        kiln_registry_free(r);
        kiln_dist_errf(err, "out of memory");
        return NULL;
    }
    r->label = kiln_buf_steal(&l);
    return r;
}

void kiln_registry_free(kiln_registry *r)
{
    if (!r) return;
    if (r->curl) curl_easy_cleanup(r->curl);
    kiln_free(r->origin);
    kiln_free(r->base);
    kiln_free(r->label);
    if (r->auth) memset(r->auth, 0, strlen(r->auth));
    kiln_free(r->auth);
    kiln_free(r);
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    req *q = ud;
    size_t len = size * n;
    kiln_buf *dst = q->resp;
    if (!dst || q->status >= 300) dst = &q->err_body; /* error bodies explain the error */
    if (dst == &q->err_body && dst->len > 8192) return len;
    if (dst->len + len > (dst == q->resp ? q->limit : 16384)) {
        q->too_big = 1;
        return 0;
    }
    return kiln_buf_append(dst, p, len) == 0 ? len : 0;
}

/* Keeps the value of header `name` (case-insensitive) from line p into *slot. */
static void grab(const char *p, size_t len, const char *name, char **slot)
{
    size_t nl = strlen(name);
    if (len <= nl + 1 || strncasecmp(p, name, nl) != 0 || p[nl] != ':') return;
    p += nl + 1;
    len -= nl + 1;
    while (len && (*p == ' ' || *p == '\t'))
        p++, len--;
    while (len && (p[len - 1] == '\r' || p[len - 1] == '\n' || p[len - 1] == ' '))
        len--;
    kiln_free(*slot);
    *slot = kiln_strndup(p, len);
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    req *q = ud;
    size_t len = size * n;
    if (len > 5 && strncmp(p, "HTTP/", 5) == 0) {
        /* a new response (after a redirect or a 100): its status, fresh headers */
        const char *sp = memchr(p, ' ', len);
        q->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        kiln_free(q->location);
        kiln_free(q->digest);
        kiln_free(q->ctype);
        kiln_free(q->challenge);
        q->location = q->digest = q->ctype = q->challenge = NULL;
        if (q->resp) kiln_buf_reset(q->resp);
        kiln_buf_reset(&q->err_body);
        return len;
    }
    grab(p, len, "Location", &q->location);
    grab(p, len, "Docker-Content-Digest", &q->digest);
    grab(p, len, "Content-Type", &q->ctype);
    grab(p, len, "WWW-Authenticate", &q->challenge);
    return len;
}

/* Runs q once with the current credentials. 0 when an HTTP answer came back (any
 * status), -1 on a transport error (q->curl_err says why). */
static int perform(kiln_registry *r, req *q, const char *auth)
{
    CURL *c = r->curl;
    curl_easy_reset(c);
    req_clear(q);
    if (q->resp) kiln_buf_reset(q->resp);
    struct curl_slist *h = NULL, *t;
    for (size_t i = 0; i < 4 && q->hdr[i]; i++) {
        if (!(t = curl_slist_append(h, q->hdr[i]))) goto oom;
        h = t;
    }
    if (auth) {
        if (!(t = curl_slist_append(h, auth))) goto oom;
        h = t;
    }
    /* no "Expect: 100-continue" round trip on uploads */
    if (!(t = curl_slist_append(h, "Expect:"))) goto oom;
    h = t;
    curl_easy_setopt(c, CURLOPT_URL, q->url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, q->curl_err);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, q);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, q);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 15L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "kiln");
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, r->opts.insecure ? "http,https" : "https");
    if (r->opts.ca_file) curl_easy_setopt(c, CURLOPT_CAINFO, r->opts.ca_file);
    if (strcmp(q->method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (strcmp(q->method, "GET") != 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, q->method);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, q->body ? q->body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->body_len);
    }
    CURLcode rc = curl_easy_perform(c);
    curl_slist_free_all(h);
    if (rc != CURLE_OK) {
        if (q->too_big)
            snprintf(q->curl_err, sizeof q->curl_err, "the response is larger than allowed");
        else if (!q->curl_err[0])
            snprintf(q->curl_err, sizeof q->curl_err, "%s", curl_easy_strerror(rc));
        return -1;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &q->status);
    return 0;
oom:
    curl_slist_free_all(h);
    snprintf(q->curl_err, sizeof q->curl_err, "out of memory");
    return -1;
}

/* The token of a Bearer challenge: GET realm?service=..&scope=.. Returns an allocated
 * "Authorization: Bearer TOKEN" or NULL with *err. */
static char *fetch_token(kiln_registry *r, const kiln_challenge *ch, const char *basic, char **err)
{
    kiln_buf url = KILN_BUF_INIT, body = KILN_BUF_INIT, scope = KILN_BUF_INIT;
    char *out = NULL;
    /* the realm is the registry's choice: credentials and tokens travel over TLS unless
     * the user asked for plain HTTP */
    if (strncmp(ch->realm, "https://", 8) != 0 &&
        !(r->opts.insecure && strncmp(ch->realm, "http://", 7) == 0)) {
        kiln_dist_errf(err, "token endpoint %s: refused (not https; -k allows http for loopback)",
                       ch->realm);
        return NULL;
    }
    /* a push asks for pull and push at once (the challenge names what one request
     * needs); login asks for no repository at all */
    const char *sc = r->opts.push ? NULL : ch->scope;
    if (!sc && !r->opts.registry_only) {
        if (kiln_buf_printf(&scope, "repository:%s:%s", r->ref->repo,
                            r->opts.push ? "pull,push" : "pull") < 0)
            goto oom;
        sc = scope.data;
    }
    char sep = strchr(ch->realm, '?') ? '&' : '?';
    int rc = kiln_buf_puts(&url, ch->realm);
    char *ev = ch->service ? curl_easy_escape(r->curl, ch->service, 0) : NULL;
    if (rc == 0 && ev) {
        rc = kiln_buf_printf(&url, "%cservice=%s", sep, ev);
        sep = '&';
    }
    char *es = sc ? curl_easy_escape(r->curl, sc, 0) : NULL;
    if (rc == 0 && es) {
        rc = kiln_buf_printf(&url, "%cscope=%s", sep, es);
        sep = '&';
    }
    if (rc == 0 && r->opts.mount_from && r->opts.push) {
        char *mf = NULL;
        kiln_buf m = KILN_BUF_INIT;
        if (kiln_buf_printf(&m, "repository:%s:pull", r->opts.mount_from) == 0 &&
            (mf = curl_easy_escape(r->curl, m.data, 0)))
            rc = kiln_buf_printf(&url, "%cscope=%s", sep, mf);
        curl_free(mf);
        kiln_buf_free(&m);
    }
    curl_free(es);
    curl_free(ev);
    if (rc < 0) goto oom;
    req q = {.method = "GET", .url = url.data, .resp = &body, .limit = 1u << 20};
    if (perform(r, &q, basic) < 0) {
        kiln_dist_errf(err, "token endpoint %s: %s", ch->realm, q.curl_err);
    } else if (q.status != 200) {
        kiln_dist_errf(err, "token endpoint %s: HTTP %ld%s", ch->realm, q.status,
                       q.status == 401 ? " (wrong user name or password)" : "");
    } else {
        kiln_json *j = kiln_json_parse(body.data ? body.data : "", body.len, NULL, 0);
        const char *tok = kiln_json_get_str(j, "token");
        if (!tok) tok = kiln_json_get_str(j, "access_token");
        kiln_buf a = KILN_BUF_INIT;
        if (!tok || !*tok)
            kiln_dist_errf(err, "token endpoint %s: no token in its answer", ch->realm);
        else if (kiln_buf_printf(&a, "Authorization: Bearer %s", tok) == 0)
            out = kiln_buf_steal(&a);
        kiln_buf_free(&a);
        kiln_json_free(j);
    }
    req_clear(&q);
    goto done;
oom:
    kiln_dist_errf(err, "out of memory");
done:
    kiln_buf_free(&url);
    kiln_buf_free(&body);
    kiln_buf_free(&scope);
    return out;
}

/* "Authorization: Basic base64(user:password)" or NULL (no credentials / no memory). */
static char *basic_header(const kiln_registry *r)
{
    if (!r->opts.user) return NULL;
    kiln_buf up = KILN_BUF_INIT, h = KILN_BUF_INIT;
    char *b64 = NULL, *out = NULL;
    if (kiln_buf_printf(&up, "%s:%s", r->opts.user, r->opts.password ? r->opts.password : "") ==
            0 &&
        (b64 = kiln_base64_encode(up.data, up.len)) &&
        kiln_buf_printf(&h, "Authorization: Basic %s", b64) == 0)
        out = kiln_buf_steal(&h);
    if (up.data) memset(up.data, 0, up.len);
    kiln_buf_free(&up);
    kiln_buf_free(&h);
    kiln_free(b64);
    return out;
}

/* Runs q, answering one 401 challenge. 0 with q->status set, or -1 with *err (transport
 * errors and failed authentication). `what` names the operation in messages. */
static int run(kiln_registry *r, req *q, const char *what, char **err)
{
    if (perform(r, q, r->auth) < 0) {
        kiln_dist_errf(err, "%s: %s: %s", r->label, what, q->curl_err);
        return -1;
    }
    if (q->status != 401 || !q->challenge) return 0;
    kiln_challenge ch;
    if (kiln_challenge_parse(q->challenge, &ch) < 0) return 0; /* reported as a 401 */
    char *basic = basic_header(r), *auth = NULL, *terr = NULL;
    if (ch.scheme == KILN_AUTH_BASIC) {
        if (!basic || (r->auth && strcmp(r->auth, basic) == 0)) {
            kiln_free(basic);
            kiln_challenge_free(&ch);
            kiln_dist_errf(err, "%s: %s: %s", r->label, what,
                           r->opts.user
                               ? "the registry refused the user name or password (HTTP 401)"
                               : "the registry needs credentials (HTTP 401): run "
                                 "`kiln registry login`");
            return -1;
        }
        auth = basic;
        basic = NULL;
    } else {
        auth = fetch_token(r, &ch, basic, &terr);
        if (!auth) {
            kiln_dist_errf(err, "%s: %s: %s", r->label, what, terr ? terr : "out of memory");
            kiln_free(terr);
            kiln_free(basic);
            kiln_challenge_free(&ch);
            return -1;
        }
    }
    kiln_free(basic);
    kiln_challenge_free(&ch);
    if (r->auth) memset(r->auth, 0, strlen(r->auth));
    kiln_free(r->auth);
    r->auth = auth;
    if (perform(r, q, r->auth) < 0) {
        kiln_dist_errf(err, "%s: %s: %s", r->label, what, q->curl_err);
        return -1;
    }
    if (q->status == 401) {
        kiln_dist_errf(err, "%s: %s: %s", r->label, what,
                       r->opts.user ? "the registry refused the user name or password (HTTP 401)"
                                    : "the registry needs credentials (HTTP 401): run `kiln "
                                      "registry login`");
        return -1;
    }
    return 0;
}

/* An error for an unexpected status: "REF: what: HTTP 404 MANIFEST_UNKNOWN: message". */
static void status_err(kiln_registry *r, req *q, const char *what, char **err)
{
    kiln_json *j =
        q->err_body.len ? kiln_json_parse(q->err_body.data, q->err_body.len, NULL, 0) : NULL;
    const kiln_json *e0 = kiln_json_at(kiln_json_get(j, "errors"), 0);
    const char *code = kiln_json_get_str(e0, "code");
    const char *msg = kiln_json_get_str(e0, "message");
    kiln_dist_errf(err, "%s: %s: HTTP %ld%s%s%s%s", r->label, what, q->status, code ? " " : "",
                   code ? code : "", msg ? ": " : "", msg ? msg : "");
    kiln_json_free(j);
}

int kiln_registry_ping(kiln_registry *r, char **err)
{
    kiln_buf url = KILN_BUF_INIT;
    if (kiln_buf_printf(&url, "%s/v2/", r->origin) < 0) {
        kiln_dist_errf(err, "out of memory");
        return -1;
    }
    req q = {.method = "GET", .url = url.data};
    int rc = run(r, &q, "login", err);
    if (rc == 0 && q.status != 200) {
        status_err(r, &q, "login", err);
        rc = -1;
    }
    req_clear(&q);
    kiln_buf_free(&url);
    return rc;
}

int kiln_registry_get_manifest(kiln_registry *r, const char *target, kiln_buf *body,
                               char digest[KILN_DIGEST_LEN + 1], char **media_type, char **err)
{
    kiln_buf url = KILN_BUF_INIT;
    *media_type = NULL;
    if (kiln_buf_printf(&url, "%s/manifests/%s", r->base, target) < 0) {
        kiln_dist_errf(err, "out of memory");
        return -1;
    }
    req q = {.method = "GET",
             .url = url.data,
             .resp = body,
             .limit = MANIFEST_MAX,
             .hdr = {MANIFEST_ACCEPT}};
    int rc = run(r, &q, target, err);
    if (rc == 0 && q.status != 200) {
        status_err(r, &q, q.status == 404 ? "no such tag or manifest" : "manifest", err);
        rc = -1;
    }
    if (rc == 0 && kiln_digest_sha256(body->data ? body->data : "", body->len, digest) < 0) {
        kiln_dist_errf(err, "cannot hash");
        rc = -1;
    }
    if (rc == 0 && kiln_digest_valid(target) && strcmp(target, digest) != 0) {
        kiln_dist_errf(err, "%s@%s: the manifest the registry sent hashes to %s: refused", r->label,
                       target, digest);
        rc = -1;
    }
    if (rc == 0 && q.digest && kiln_digest_valid(q.digest) && strcmp(q.digest, digest) != 0) {
        kiln_dist_errf(err, "%s:%s: the manifest hashes to %s, not the %s the registry announced",
                       r->label, target, digest, q.digest);
        rc = -1;
    }
    if (rc == 0 && q.ctype) {
        *media_type = q.ctype;
        q.ctype = NULL;
    }
    req_clear(&q);
    kiln_buf_free(&url);
    return rc;
}

int kiln_registry_list_tags(kiln_registry *r, kiln_buf *body, char **err)
{
    kiln_buf url = KILN_BUF_INIT;
    if (kiln_buf_printf(&url, "%s/tags/list", r->base) < 0) {
        kiln_dist_errf(err, "out of memory");
        return -1;
    }
    req q = {.method = "GET", .url = url.data, .resp = body, .limit = MANIFEST_MAX};
    int rc = run(r, &q, "tags", err);
    if (rc == 0 && q.status != 200) {
        status_err(r, &q, q.status == 404 ? "no such repository" : "tags", err);
        rc = -1;
    }
    req_clear(&q);
    kiln_buf_free(&url);
    return rc;
}

int kiln_registry_get_blob(kiln_registry *r, const char *digest, kiln_buf *out, char **err)
{
    kiln_buf url = KILN_BUF_INIT;
    if (!kiln_digest_valid(digest)) {
        kiln_dist_errf(err, "%s: malformed digest %s", r->label, digest);
        return -1;
    }
    if (kiln_buf_printf(&url, "%s/blobs/%s", r->base, digest) < 0) {
        kiln_dist_errf(err, "out of memory");
        return -1;
    }
    req q = {.method = "GET", .url = url.data, .resp = out, .limit = BLOB_MAX};
    int rc = run(r, &q, digest, err);
    if (rc == 0 && q.status != 200) {
        status_err(r, &q, digest, err);
        rc = -1;
    }
    if (rc == 0 && !kiln_digest_check(out->data ? out->data : "", out->len, digest)) {
        char got[KILN_DIGEST_LEN + 1] = "?";
        kiln_digest_sha256(out->data ? out->data : "", out->len, got);
        kiln_dist_errf(err,
                       "%s: blob %s: the registry sent %zu bytes that hash to %s (tampered or "
                       "corrupt): refused",
                       r->label, digest, out->len, got);
        rc = -1;
    }
    if (rc < 0) kiln_buf_reset(out);
    req_clear(&q);
    kiln_buf_free(&url);
    return rc;
}

/* An upload URL from a Location header (absolute, or a path on the registry). */
static int resolve(kiln_registry *r, const char *loc, kiln_buf *out)
{
    kiln_buf_reset(out);
    if (strncmp(loc, "http://", 7) == 0 || strncmp(loc, "https://", 8) == 0)
        return kiln_buf_puts(out, loc);
    return kiln_buf_printf(out, "%s%s%s", r->origin, loc[0] == '/' ? "" : "/", loc);
}

int kiln_registry_put_blob(kiln_registry *r, const char *digest, const void *data, size_t len,
                           kiln_blob_outcome *outcome, char **err)
{
    kiln_buf url = KILN_BUF_INIT, up = KILN_BUF_INIT, range = KILN_BUF_INIT;
    req q = {0};
    int rc = -1;
    if (kiln_buf_printf(&url, "%s/blobs/%s", r->base, digest) < 0) goto oom;
    q = (req){.method = "HEAD", .url = url.data};
    if (run(r, &q, digest, err) < 0) goto out;
    if (q.status == 200) {
        *outcome = KILN_BLOB_EXISTED;
        rc = 0;
        goto out;
    }
    kiln_buf_reset(&url);
    if (r->opts.mount_from && strcmp(r->opts.mount_from, r->ref->repo) != 0) {
        char *ef = curl_easy_escape(r->curl, r->opts.mount_from, 0);
        int prc =
            ef ? kiln_buf_printf(&url, "%s/blobs/uploads/?mount=%s&from=%s", r->base, digest, ef)
               : -1;
        curl_free(ef);
        if (prc < 0) goto oom;
    } else if (kiln_buf_printf(&url, "%s/blobs/uploads/", r->base) < 0) {
        goto oom;
    }
    req_clear(&q);
    q = (req){.method = "POST", .url = url.data};
    if (run(r, &q, "start an upload", err) < 0) goto out;
    if (q.status == 201 && r->opts.mount_from) {
        *outcome = KILN_BLOB_MOUNTED;
        rc = 0;
        goto out;
    }
    if (q.status != 202 || !q.location) {
        status_err(r, &q, "start an upload", err);
        goto out;
    }
    if (resolve(r, q.location, &up) < 0) goto oom;
    size_t chunk = r->opts.chunk_size;
    size_t off = 0;
    if (chunk && len > chunk) {
        while (off < len) {
            size_t n = len - off < chunk ? len - off : chunk;
            kiln_buf_reset(&range);
            if (kiln_buf_printf(&range, "Content-Range: %zu-%zu", off, off + n - 1) < 0) goto oom;
            req_clear(&q);
            q = (req){.method = "PATCH",
                      .url = up.data,
                      .body = (const char *)data + off,
                      .body_len = n,
                      .hdr = {"Content-Type: application/octet-stream", range.data}};
            if (run(r, &q, "upload a chunk", err) < 0) goto out;
            if (q.status != 202 || !q.location) {
                status_err(r, &q, "upload a chunk", err);
                goto out;
            }
            if (resolve(r, q.location, &up) < 0) goto oom;
            off += n;
        }
    }
    if (kiln_buf_printf(&up, "%cdigest=%s", strchr(up.data, '?') ? '&' : '?', digest) < 0) goto oom;
    req_clear(&q);
    q = (req){.method = "PUT",
              .url = up.data,
              .body = (const char *)data + off,
              .body_len = len - off,
              .hdr = {"Content-Type: application/octet-stream"}};
    if (run(r, &q, "finish an upload", err) < 0) goto out;
    if (q.status != 201) {
        status_err(r, &q, digest, err);
        goto out;
    }
    *outcome = KILN_BLOB_UPLOADED;
    rc = 0;
    goto out;
oom:
    kiln_dist_errf(err, "out of memory");
out:
    req_clear(&q);
    kiln_buf_free(&url);
    kiln_buf_free(&up);
    kiln_buf_free(&range);
    return rc;
}

int kiln_registry_put_manifest(kiln_registry *r, const char *target, const char *media_type,
                               const void *body, size_t len, char **err)
{
    kiln_buf url = KILN_BUF_INIT, ct = KILN_BUF_INIT;
    if (kiln_buf_printf(&url, "%s/manifests/%s", r->base, target) < 0 ||
        kiln_buf_printf(&ct, "Content-Type: %s", media_type) < 0) {
        kiln_buf_free(&url);
        kiln_buf_free(&ct);
        kiln_dist_errf(err, "out of memory");
        return -1;
    }
    req q = {.method = "PUT", .url = url.data, .body = body, .body_len = len, .hdr = {ct.data}};
    int rc = run(r, &q, "push the manifest", err);
    if (rc == 0 && q.status != 201) {
        status_err(r, &q, "push the manifest", err);
        rc = -1;
    }
    req_clear(&q);
    kiln_buf_free(&url);
    kiln_buf_free(&ct);
    return rc;
}
