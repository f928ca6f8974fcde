/* ref.c — OCI references and sha256 digests (see ref.h). */
#include "dist/ref.h"
#include "util/alloc.h"

#include <openssl/evp.h>
#include <string.h>
#include <sys/stat.h>

static int is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* One repository path component: alnum runs separated by '.', '_', "__" or '-'s. */
static int valid_component(const char *s, size_t n)
{
    if (n == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1])) return 0;
    for (size_t i = 0; i < n; i++) {
        if (is_lower_alnum(s[i])) continue;
        if (s[i] == '.' || s[i] == '_') {
            /* '.' and '_' single, "__" double; never next to another separator */
            size_t run = 1;
            if (s[i] == '_' && s[i + 1] == '_') run = 2;
            if (!is_lower_alnum(s[i + run])) return 0;
            i += run - 1;
        } else if (s[i] == '-') {
            while (s[i + 1] == '-')
                i++;
            if (!is_lower_alnum(s[i + 1])) return 0;
        } else {
            return 0;
        }
    }
    return 1;
}

static int valid_repo(const char *s, size_t n)
{
    if (n == 0 || n > 255) return 0;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == '/') {
            if (!valid_component(s + start, i - start)) return 0;
            start = i + 1;
        }
    }
    return 1;
}

static int valid_tag(const char *s, size_t n)
{
    if (n == 0 || n > 128) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || (i > 0 && (c == '.' || c == '-'));
        if (!ok) return 0;
    }
    return 1;
}

/* host[:port]: letters, digits, '.', '-', or a bracketed IPv6 address; port digits. */
static int valid_host(const char *s, size_t n)
{
    if (n == 0) return 0;
    size_t i = 0;
    if (s[0] == '[') {
        while (i < n && s[i] != ']')
            i++;
        if (i == n) return 0;
        i++;
    } else {
        while (i < n && s[i] != ':') {
            char c = s[i];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '-'))
                return 0;
            i++;
        }
        if (i == 0) return 0;
    }
    if (i == n) return 1;
    if (s[i] != ':' || i + 1 == n || n - i - 1 > 5) return 0;
    for (i++; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return 0;
    return 1;
}

static int first_is_host(const char *s, size_t n)
{
    if (n == 0 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') ||
                    (s[0] >= '0' && s[0] <= '9') || s[0] == '['))
        return 0; /* "." and ".." are directories */
    if (n == 9 && memcmp(s, "localhost", 9) == 0) return 1;
    return memchr(s, '.', n) || memchr(s, ':', n) || (n && s[0] == '[');
}

int kiln_digest_valid(const char *s)
{
    if (!s || strncmp(s, "sha256:", 7) != 0 || strlen(s) != KILN_DIGEST_LEN) return 0;
    for (const char *p = s + 7; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) return 0;
    return 1;
}

void kiln_oci_ref_free(kiln_oci_ref *r)
{
    kiln_free(r->registry);
    kiln_free(r->repo);
    kiln_free(r->tag);
    kiln_free(r->digest);
    memset(r, 0, sizeof *r);
}

int kiln_oci_ref_parse(const char *s, kiln_oci_ref *out, const char **why)
{
    memset(out, 0, sizeof *out);
    *why = "out of memory";
    const char *at = strchr(s, '@');
    size_t name_len = at ? (size_t)(at - s) : strlen(s);
    if (at && !kiln_digest_valid(at + 1)) {
        *why = "the digest is not sha256: followed by 64 lowercase hex digits";
        return -1;
    }
    /* the tag is after the last ':' that follows the last '/' */
    const char *slash = memrchr(s, '/', name_len);
    const char *colon =
        memrchr(slash ? slash : s, ':', name_len - (size_t)((slash ? slash : s) - s));
    size_t path_len = colon ? (size_t)(colon - s) : name_len;
    const char *first_end = memchr(s, '/', path_len);
    const char *host = "docker.io";
    size_t host_len = 9;
    const char *repo = s;
    size_t repo_len = path_len;
    int hub = 1;
    if (first_end && first_is_host(s, (size_t)(first_end - s))) {
        host = s;
        host_len = (size_t)(first_end - s);
        repo = first_end + 1;
        repo_len = path_len - host_len - 1;
        hub = 0;
        if (!valid_host(host, host_len)) {
            *why = "the registry is not host[:port]";
            return -1;
        }
    }
    if (!valid_repo(repo, repo_len)) {
        *why = "the repository must be lowercase letters, digits and separators (. _ __ - /)";
        return -1;
    }
    if (colon && !valid_tag(colon + 1, name_len - path_len - 1)) {
        *why = "the tag must be letters, digits, '_', '.' or '-' (at most 128)";
        return -1;
    }
    out->registry = kiln_strndup(host, host_len);
    if (hub && !memchr(repo, '/', repo_len)) {
        out->repo = kiln_malloc(repo_len + 9);
        if (out->repo) {
            memcpy(out->repo, "library/", 8);
            memcpy(out->repo + 8, repo, repo_len);
            out->repo[repo_len + 8] = '\0';
        }
    } else {
        out->repo = kiln_strndup(repo, repo_len);
    }
    if (colon)
        out->tag = kiln_strndup(colon + 1, name_len - path_len - 1);
    else if (!at)
        out->tag = kiln_strdup("latest");
    if (at) out->digest = kiln_strdup(at + 1);
    if (!out->registry || !out->repo || (!out->tag && (colon || !at)) || (at && !out->digest)) {
        kiln_oci_ref_free(out);
        return -1;
    }
    *why = NULL;
    return 0;
}

const char *kiln_oci_ref_target(const kiln_oci_ref *r)
{
    return r->digest ? r->digest : r->tag;
}

int kiln_oci_ref_looks_like(const char *s)
{
    struct stat st;
    if (!s || stat(s, &st) == 0) return 0;
    const char *slash = strchr(s, '/');
    if (!slash || !first_is_host(s, (size_t)(slash - s))) return 0;
    kiln_oci_ref r;
    const char *why;
    if (kiln_oci_ref_parse(s, &r, &why) < 0) return 0;
    kiln_oci_ref_free(&r);
    return 1;
}

int kiln_digest_sha256(const void *data, size_t len, char out[KILN_DIGEST_LEN + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32) return -1;
    static const char hex[] = "0123456789abcdef";
    memcpy(out, "sha256:", 7);
    for (unsigned i = 0; i < 32; i++) {
        out[7 + 2 * i] = hex[md[i] >> 4];
        out[8 + 2 * i] = hex[md[i] & 15];
    }
    out[KILN_DIGEST_LEN] = '\0';
    return 0;
}

int kiln_digest_check(const void *data, size_t len, const char *digest)
{
    char got[KILN_DIGEST_LEN + 1];
    if (!kiln_digest_valid(digest) || kiln_digest_sha256(data, len, got) < 0) return 0;
    return strcmp(got, digest) == 0;
}
