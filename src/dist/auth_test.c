/* auth_test.c — WWW-Authenticate challenges, base64 and the credentials file. */
#include "dist/auth.h"
#include "util/alloc.h"
#include "util/file.h"
#include "util/test.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static void challenges(void)
{
    kiln_challenge c;
    CHECK_INT(kiln_challenge_parse("Basic realm=\"Registry Realm\"", &c), 0);
    CHECK_INT(c.scheme, KILN_AUTH_BASIC);
    CHECK_STR(c.realm, "Registry Realm");
    kiln_challenge_free(&c);

    CHECK_INT(
        kiln_challenge_parse("Bearer realm=\"https://auth.docker.io/token\",service=\"registry."
                             "docker.io\",scope=\"repository:library/alpine:pull\"",
                             &c),
        0);
    CHECK_INT(c.scheme, KILN_AUTH_BEARER);
    CHECK_STR(c.realm, "https://auth.docker.io/token");
    CHECK_STR(c.service, "registry.docker.io");
    CHECK_STR(c.scope, "repository:library/alpine:pull");
    kiln_challenge_free(&c);

    /* case-insensitive scheme and names, spaces, unquoted values, escapes, unknown params */
    CHECK_INT(kiln_challenge_parse("bearer  Realm=https://h/t , error=\"insufficient_scope\", "
                                   "SERVICE=\"a\\\"b\"",
                                   &c),
              0);
    CHECK_STR(c.realm, "https://h/t");
    CHECK_STR(c.service, "a\"b");
    CHECK(c.scope == NULL);
    kiln_challenge_free(&c);

    CHECK_INT(kiln_challenge_parse("Bearer service=\"x\"", &c), -1); /* no realm */
    CHECK_INT(kiln_challenge_parse("Digest realm=\"x\"", &c), -1);   /* other scheme */
    CHECK_INT(kiln_challenge_parse("Bearer realm=\"unterminated", &c), -1);
    CHECK_INT(kiln_challenge_parse("Bearer realm=\"a\" junk", &c), -1);
    CHECK_INT(kiln_challenge_parse("", &c), -1);
    CHECK(c.realm == NULL && c.service == NULL);
}

static void base64(void)
{
    char *e = kiln_base64_encode("user:pass", 9);
    CHECK_STR(e, "dXNlcjpwYXNz");
    size_t n = 0;
    char *d = kiln_base64_decode(e, &n);
    CHECK_STR(d, "user:pass");
    CHECK_INT(n, 9);
    kiln_free(e);
    kiln_free(d);
    d = kiln_base64_decode("YQ==", &n);
    CHECK_STR(d, "a");
    CHECK_INT(n, 1);
    kiln_free(d);
    CHECK(kiln_base64_decode("YQ=", &n) == NULL);  /* not a multiple of 4 */
    CHECK(kiln_base64_decode("Y!==", &n) == NULL); /* outside the alphabet */
}

static void creds(void)
{
    char dir[] = "/tmp/kiln-auth-test-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[128];
    snprintf(path, sizeof path, "%s/sub/auth.json", dir);
    setenv("KILN_REGISTRY_AUTH", path, 1);
    setenv("DOCKER_CONFIG", dir, 1); /* no config.json there: no fallback */
    char *u = NULL, *p = NULL, *err = NULL;
    CHECK_INT(kiln_creds_get("localhost:5000", &u, &p, &err), 0); /* no file yet */
    CHECK_INT(kiln_creds_put("localhost:5000", "ada", "s3cret:x", &err), 0);
    CHECK_INT(kiln_creds_put("ghcr.io", "bob", "pw", &err), 0);
    struct stat st;
    CHECK_INT(stat(path, &st), 0);
    CHECK_INT(st.st_mode & 0777, 0600);
    CHECK_INT(kiln_creds_get("localhost:5000", &u, &p, &err), 1);
    CHECK_STR(u, "ada");
    CHECK_STR(p, "s3cret:x"); /* the first ':' splits user from password */
    kiln_free(u);
    kiln_free(p);
    CHECK_INT(kiln_creds_get("other:1", &u, &p, &err), 0);
    /* removing one keeps the other */
    CHECK_INT(kiln_creds_put("localhost:5000", NULL, NULL, &err), 0);
    CHECK_INT(kiln_creds_get("localhost:5000", &u, &p, &err), 0);
    CHECK_INT(kiln_creds_get("ghcr.io", &u, &p, &err), 1);
    kiln_free(u);
    kiln_free(p);
    /* group- or world-readable: refused, with the fix in the message */
    CHECK_INT(chmod(path, 0644), 0);
    CHECK_INT(kiln_creds_get("ghcr.io", &u, &p, &err), -1);
    CHECK(err && strstr(err, "chmod 600"));
    kiln_free(err);
    err = NULL;
    CHECK(u == NULL && p == NULL);
    CHECK_INT(kiln_creds_put("ghcr.io", "bob", "pw", &err), -1);
    kiln_free(err);
    err = NULL;
    /* malformed content */
    CHECK_INT(chmod(path, 0600), 0);
    const char *junk = "{\"auths\":{\"h\":{\"auth\":\"bm9jb2xvbg==\"}}}"; /* "nocolon" */
    CHECK_INT(kiln_write_file(path, junk, strlen(junk)), 0);
    CHECK_INT(kiln_creds_get("h", &u, &p, &err), -1);
    kiln_free(err);
    err = NULL;
    CHECK_INT(kiln_write_file(path, "[1]", 3), 0);
    CHECK_INT(kiln_creds_get("h", &u, &p, &err), -1);
    kiln_free(err);
    unlink(path);
    snprintf(path, sizeof path, "%s/sub", dir);
    rmdir(path);
    rmdir(dir);
}

/* Kiln's file without an entry: docker's config.json answers (keys as HOST or URL; Docker
 * Hub's index URL); helper-kept credentials are not read; Kiln's own entry wins. */
static void docker_creds(void)
{
    char dir[] = "/tmp/kiln-auth-test-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char kiln[128], docker[128];
    snprintf(kiln, sizeof kiln, "%s/kiln.json", dir);
    snprintf(docker, sizeof docker, "%s/config.json", dir);
    setenv("KILN_REGISTRY_AUTH", kiln, 1);
    setenv("DOCKER_CONFIG", dir, 1);
    const char *cfg = "{\"auths\":{\"127.0.0.1:5000\":{\"auth\":\"YWRhOnB3\"},"      /* ada:pw */
                      "\"https://index.docker.io/v1/\":{\"auth\":\"Ym9iOmh1Yg==\"}," /* bob:hub */
                      "\"https://reg.example:8443\":{\"auth\":\"Yzpk\"},"            /* c:d */
                      "\"token.example\":{\"identitytoken\":\"x\"}},"
                      "\"credHelpers\":{\"gcr.io\":\"gcloud\"}}";
    CHECK_INT(kiln_write_file(docker, cfg, strlen(cfg)), 0);
    CHECK_INT(chmod(docker, 0644), 0); /* docker's own file: its mode is docker's business */
    char *u = NULL, *p = NULL, *err = NULL;
    CHECK_INT(kiln_creds_get("127.0.0.1:5000", &u, &p, &err), 1);
    CHECK_STR(u, "ada");
    CHECK_STR(p, "pw");
    kiln_free(u);
    kiln_free(p);
    CHECK_INT(kiln_creds_get("docker.io", &u, &p, &err), 1);
    CHECK_STR(u, "bob");
    kiln_free(u);
    kiln_free(p);
    CHECK_INT(kiln_creds_get("reg.example:8443", &u, &p, &err), 1);
    CHECK_STR(p, "d");
    kiln_free(u);
    kiln_free(p);
    CHECK_INT(kiln_creds_get("reg.example", &u, &p, &err), 0);   /* the port is part of the key */
    CHECK_INT(kiln_creds_get("token.example", &u, &p, &err), 0); /* no "auth": not usable */
    CHECK_INT(kiln_creds_get("gcr.io", &u, &p, &err), 0);        /* a helper's: a note */
    CHECK(u == NULL && p == NULL);
    /* Kiln's own entry comes first */
    CHECK_INT(kiln_creds_put("127.0.0.1:5000", "kiln", "own", &err), 0);
    CHECK_INT(kiln_creds_get("127.0.0.1:5000", &u, &p, &err), 1);
    CHECK_STR(u, "kiln");
    kiln_free(u);
    kiln_free(p);
    /* a malformed docker entry is an error naming docker's file */
    CHECK_INT(kiln_write_file(docker, "{\"auths\":{\"h\":{\"auth\":\"bm9jb2xvbg==\"}}}", 39), 0);
    CHECK_INT(kiln_creds_get("h", &u, &p, &err), -1);
    CHECK(err && strstr(err, "config.json"));
    kiln_free(err);
    unlink(kiln);
    unlink(docker);
    rmdir(dir);
}

int main(void)
{
    challenges();
    base64();
    creds();
    docker_creds();
    return test_finish("auth_test");
}
