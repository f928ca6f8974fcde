/* ref_test.c — references `host[:port]/repo[:tag][@digest]` and sha256 digests. */
#include "dist/ref.h"
#include "util/test.h"

#define D64 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static void ok(const char *s, const char *reg, const char *repo, const char *tag,
               const char *digest)
{
    kiln_oci_ref r;
    const char *why = NULL;
    int rc = kiln_oci_ref_parse(s, &r, &why);
    CHECK_INT(rc, 0);
    if (rc < 0) {
        fprintf(stderr, "  %s: %s\n", s, why);
        return;
    }
    CHECK_STR(r.registry, reg);
    CHECK_STR(r.repo, repo);
    if (tag)
        CHECK_STR(r.tag, tag);
    else
        CHECK(r.tag == NULL);
    if (digest)
        CHECK_STR(r.digest, digest);
    else
        CHECK(r.digest == NULL);
    kiln_oci_ref_free(&r);
}

static void bad(const char *s)
{
    kiln_oci_ref r;
    const char *why = NULL;
    CHECK_INT(kiln_oci_ref_parse(s, &r, &why), -1);
    CHECK(why != NULL);
    CHECK(r.registry == NULL && r.repo == NULL);
}

int main(void)
{
    ok("localhost:5000/app:v1", "localhost:5000", "app", "v1", NULL);
    ok("localhost:5000/org/app", "localhost:5000", "org/app", "latest", NULL);
    ok("ghcr.io/fermyon/spin-hello:1.0.0", "ghcr.io", "fermyon/spin-hello", "1.0.0", NULL);
    ok("127.0.0.1:5000/a/b/c@sha256:" D64, "127.0.0.1:5000", "a/b/c", NULL, "sha256:" D64);
    ok("reg.example/x:t@sha256:" D64, "reg.example", "x", "t", "sha256:" D64);
    ok("localhost/a_b__c.d-e--f:V_1.0-rc", "localhost", "a_b__c.d-e--f", "V_1.0-rc", NULL);
    ok("[::1]:5000/app:x", "[::1]:5000", "app", "x", NULL);
    ok("alpine", "docker.io", "library/alpine", "latest", NULL);
    ok("user/app:2", "docker.io", "user/app", "2", NULL);
    bad("localhost:5000/App:v1");               /* uppercase repository */
    bad("localhost:5000/app:");                 /* empty tag */
    bad("localhost:5000/app:-x");               /* tag starts with '-' */
    bad("localhost:5000/app@sha256:abc");       /* short digest */
    bad("localhost:5000/app@md5:" D64);         /* other algorithm */
    bad("localhost:5000//app");                 /* empty component */
    bad("localhost:5000/app/");                 /* trailing slash */
    bad("localhost:5000/a..b");                 /* doubled separator */
    bad("local host:5000/app");                 /* space in host */
    bad("localhost:50a/app");                   /* port not numeric */
    bad("");                                    /* nothing */
    bad("localhost:5000/app@sha256:" D64 "00"); /* long digest */

    kiln_oci_ref r;
    const char *why;
    CHECK_INT(kiln_oci_ref_parse("localhost:5000/app@sha256:" D64, &r, &why), 0);
    CHECK_STR(kiln_oci_ref_target(&r), "sha256:" D64);
    kiln_oci_ref_free(&r);
    CHECK_INT(kiln_oci_ref_parse("localhost:5000/app", &r, &why), 0);
    CHECK_STR(kiln_oci_ref_target(&r), "latest");
    kiln_oci_ref_free(&r);

    /* --from: a registry reference only when the first segment is a host and no file */
    CHECK(kiln_oci_ref_looks_like("localhost:5000/app:v1"));
    CHECK(kiln_oci_ref_looks_like("ghcr.io/org/app@sha256:" D64));
    CHECK(!kiln_oci_ref_looks_like("examples/hello"));
    CHECK(!kiln_oci_ref_looks_like("app:v1"));
    CHECK(!kiln_oci_ref_looks_like("/tmp"));
    CHECK(!kiln_oci_ref_looks_like("./kiln.toml"));
    CHECK(!kiln_oci_ref_looks_like("../app/kiln.toml"));

    char d[KILN_DIGEST_LEN + 1];
    CHECK_INT(kiln_digest_sha256("", 0, d), 0);
    CHECK_STR(d, "sha256:" D64);
    CHECK(kiln_digest_check("", 0, "sha256:" D64));
    CHECK(!kiln_digest_check("x", 1, "sha256:" D64));
    CHECK(!kiln_digest_check("", 0, "sha256:" D64 "0"));
    CHECK(!kiln_digest_check("", 0, "SHA256:" D64));
    CHECK(kiln_digest_valid("sha256:" D64));
    CHECK(!kiln_digest_valid(
        "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"));
    CHECK(!kiln_digest_valid(NULL));
    return test_finish("ref_test");
}
