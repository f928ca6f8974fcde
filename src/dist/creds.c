/* creds.c — the registry credentials file, and docker's config.json as a fallback (see
 * auth.h). */
#include "dist/auth.h"
#include "dist/errf.h"
#include "dist/jsonw.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/file.h"
#include "util/json.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *kiln_creds_path(void)
{
    kiln_buf b = KILN_BUF_INIT;
    const char *e;
    int rc;
    if ((e = getenv("KILN_REGISTRY_AUTH")) && *e)
        rc = kiln_buf_puts(&b, e);
    else if ((e = getenv("XDG_CONFIG_HOME")) && *e)
        rc = kiln_buf_printf(&b, "%s/kiln/registry-auth.json", e);
    else if ((e = getenv("HOME")) && *e)
        rc = kiln_buf_printf(&b, "%s/.config/kiln/registry-auth.json", e);
    else
        rc = -1;
    if (rc < 0) {
        kiln_buf_free(&b);
        return NULL;
    }
    return kiln_buf_steal(&b);
}

/* Reads the file into *tree (NULL when it does not exist). With `strict` (Kiln's own file)
 * a file others may read is refused; docker's file is docker's business. 0 or -1 with
 * *err. */
static int load(const char *path, int strict, kiln_json **tree, char **err)
{
    *tree = NULL;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return 0;
        kiln_dist_errf(err, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        kiln_dist_errf(err, "%s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode) || (strict && (st.st_uid != geteuid() || (st.st_mode & 077)))) {
        kiln_dist_errf(
            err,
            "%s: refusing a credentials file that is not a regular file owned by you with "
            "mode 0600 (it is %04o; chmod 600 it)",
            path, (unsigned)(st.st_mode & 07777));
        close(fd);
        return -1;
    }
    kiln_buf b = KILN_BUF_INIT;
    int rc = kiln_read_all(fd, &b);
    int saved = errno;
    close(fd);
    if (rc < 0) {
        kiln_dist_errf(err, "%s: %s", path, strerror(saved));
        kiln_buf_free(&b);
        return -1;
    }
    char jerr[160];
    *tree = kiln_json_parse(b.data ? b.data : "", b.len, jerr, sizeof jerr);
    kiln_buf_free(&b);
    if (!*tree || (*tree)->type != KILN_JSON_OBJECT) {
        kiln_dist_errf(err, "%s: not a JSON object (%s)", path, *tree ? "wrong type" : jerr);
        kiln_json_free(*tree);
        *tree = NULL;
        return -1;
    }
    return 0;
}

/* Decodes an "auth" entry (base64 of user:password) of file `path`. 1 with *user and
 * *password allocated, or -1 with *err. */
static int decode_auth(const char *path, const char *registry, const char *auth, char **user,
                       char **password, char **err)
{
    size_t n;
    char *dec = kiln_base64_decode(auth, &n);
    char *colon = dec ? memchr(dec, ':', n) : NULL;
    int rc = -1;
    if (!colon || strlen(dec) != n) {
        kiln_dist_errf(err, "%s: the entry of %s is not base64 of user:password", path, registry);
    } else {
        *colon = '\0';
        *user = kiln_strdup(dec);
        *password = kiln_strdup(colon + 1);
        rc = *user && *password ? 1 : -1;
        if (rc < 0) {
            kiln_free(*user);
            kiln_free(*password);
            *user = *password = NULL;
            kiln_dist_errf(err, "out of memory");
        }
    }
    if (dec) {
        memset(dec, 0, n);
        kiln_free(dec);
    }
    return rc;
}

char *kiln_docker_config_path(void)
{
    kiln_buf b = KILN_BUF_INIT;
    const char *e;
    int rc;
    if ((e = getenv("DOCKER_CONFIG")) && *e)
        rc = kiln_buf_printf(&b, "%s/config.json", e);
    else if ((e = getenv("HOME")) && *e)
        rc = kiln_buf_printf(&b, "%s/.docker/config.json", e);
    else
        rc = -1;
    if (rc < 0) {
        kiln_buf_free(&b);
        return NULL;
    }
    return kiln_buf_steal(&b);
}

/* Whether docker's auths key names registry: "HOST[:PORT]", or a URL of it
 * ("https://HOST/v1/"); Docker Hub's key is "https://index.docker.io/v1/". */
static int docker_key_matches(const char *key, const char *registry)
{
    if (strncmp(key, "https://", 8) == 0)
        key += 8;
    else if (strncmp(key, "http://", 7) == 0)
        key += 7;
    size_t n = strcspn(key, "/");
    if (strcmp(registry, "docker.io") == 0 && n == 15 && strncmp(key, "index.docker.io", 15) == 0)
        return 1;
    return strlen(registry) == n && strncmp(key, registry, n) == 0;
}

/* The fallback: docker's config.json (kiln_creds_get's contract). Entries kept by a
 * credential helper (credsStore, credHelpers) are not read: one note on stderr. */
static int docker_get(const char *registry, char **user, char **password, char **err)
{
    char *path = kiln_docker_config_path();
    if (!path) return 0;
    kiln_json *tree;
    if (load(path, 0, &tree, err) < 0) {
        kiln_free(path);
        return -1;
    }
    int rc = 0;
    const kiln_json *auths = kiln_json_get(tree, "auths");
    for (size_t i = 0; auths && auths->type == KILN_JSON_OBJECT && i < auths->count; i++) {
        const char *auth = kiln_json_get_str(auths->members[i].value, "auth");
        if (auth && *auth && docker_key_matches(auths->members[i].key, registry)) {
            rc = decode_auth(path, registry, auth, user, password, err);
            break;
        }
    }
    const char *helper = kiln_json_get_str(kiln_json_get(tree, "credHelpers"), registry);
    if (!helper) helper = kiln_json_get_str(tree, "credsStore");
    if (rc == 0 && helper)
        fprintf(stderr,
                "note: %s keeps credentials in docker-credential-%s, which kiln does not run "
                "(use `kiln registry login %s`)\n",
                path, helper, registry);
    kiln_json_free(tree);
    kiln_free(path);
    return rc;
}

int kiln_creds_get(const char *registry, char **user, char **password, char **err)
{
    *user = *password = NULL;
    *err = NULL;
    char *path = kiln_creds_path();
    if (!path) return docker_get(registry, user, password, err);
    kiln_json *tree;
    if (load(path, 1, &tree, err) < 0) {
        kiln_free(path);
        return -1;
    }
    int rc = 0;
    const char *auth =
        kiln_json_get_str(kiln_json_get(kiln_json_get(tree, "auths"), registry), "auth");
    if (auth) rc = decode_auth(path, registry, auth, user, password, err);
    kiln_json_free(tree);
    kiln_free(path);
    return rc ? rc : docker_get(registry, user, password, err);
}

/* mkdir -p of path's parent directories (mode 0700 for the ones created). */
static int make_parents(const char *path)
{
    char *p = kiln_strdup(path);
    if (!p) return -1;
    for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
        *s = '\0';
        if (mkdir(p, 0700) < 0 && errno != EEXIST) {
            kiln_free(p);
            return -1;
        }
        *s = '/';
    }
    kiln_free(p);
    return 0;
}

int kiln_creds_put(const char *registry, const char *user, const char *password, char **err)
{
    *err = NULL;
    char *path = kiln_creds_path(), *tmp = NULL, *auth = NULL;
    kiln_json *tree = NULL;
    kiln_buf out = KILN_BUF_INIT, up = KILN_BUF_INIT;
    int rc = -1;
    if (!path) {
        kiln_dist_errf(err, "no credentials file: set HOME or KILN_REGISTRY_AUTH");
        return -1;
    }
    if (load(path, 1, &tree, err) < 0) goto out;
    if (password) {
        if (kiln_buf_printf(&up, "%s:%s", user, password) < 0 ||
            !(auth = kiln_base64_encode(up.data, up.len)))
            goto oom;
    }
    /* the other entries of "auths" are kept; other top-level members are dropped */
    if (kiln_buf_puts(&out, "{\"auths\":{") < 0) goto oom;
    const kiln_json *auths = kiln_json_get(tree, "auths");
    for (size_t i = 0; auths && auths->type == KILN_JSON_OBJECT && i < auths->count; i++) {
        const kiln_json_member *m = &auths->members[i];
        const char *a = kiln_json_get_str(m->value, "auth");
        if (strcmp(m->key, registry) == 0 || !a) continue;
        if (kiln_jsonw_key(&out, m->key) < 0 || kiln_buf_putc(&out, '{') < 0 ||
            kiln_jsonw_kv(&out, "auth", a) < 0 || kiln_buf_putc(&out, '}') < 0)
            goto oom;
    }
    if (auth && (kiln_jsonw_key(&out, registry) < 0 || kiln_buf_putc(&out, '{') < 0 ||
                 kiln_jsonw_kv(&out, "auth", auth) < 0 || kiln_buf_putc(&out, '}') < 0))
        goto oom;
    if (kiln_buf_puts(&out, "}}\n") < 0) goto oom;
    kiln_buf tb = KILN_BUF_INIT;
    if (kiln_buf_printf(&tb, "%s.tmp.%ld", path, (long)getpid()) < 0) goto oom;
    tmp = kiln_buf_steal(&tb);
    if (make_parents(path) < 0 || kiln_write_file(tmp, out.data, out.len) < 0 ||
        chmod(tmp, 0600) < 0 || rename(tmp, path) < 0) {
        kiln_dist_errf(err, "%s: %s", path, strerror(errno));
        unlink(tmp);
        goto out;
    }
    rc = 0;
    goto out;
oom:
    kiln_dist_errf(err, "out of memory");
out:
    if (auth) {
        memset(auth, 0, strlen(auth));
        kiln_free(auth);
    }
    if (up.data) memset(up.data, 0, up.len);
    kiln_buf_free(&up);
    kiln_buf_free(&out);
    kiln_json_free(tree);
    kiln_free(tmp);
    kiln_free(path);
    return rc;
}
