/* semver_test.c — Cargo-style version requirements as Spin writes dependency versions. */
#include "dist/package.h"
#include "util/test.h"

static void match(const char *req, const char *ver, int want)
{
    int got = kiln_semver_match(req, ver);
    if (got != want) fprintf(stderr, "  %s vs %s: got %d, want %d\n", req, ver, got, want);
    CHECK_INT(got, want);
}

int main(void)
{
    /* a bare version is a caret requirement */
    match("1.0.0", "1.0.0", 1);
    match("1.0.0", "1.4.2", 1);
    match("1.0.0", "2.0.0", 0);
    match("1.2.3", "1.2.2", 0);
    match("0.2.0", "0.2.9", 1);
    match("0.2.0", "0.3.0", 0);
    match("0.0.3", "0.0.4", 0);
    match("^1.2", "1.9.0", 1);
    match("^0", "0.9.9", 1);
    match("^0", "1.0.0", 0);
    /* exact, tilde, ranges, wildcards */
    match("=1.2.3", "1.2.3", 1);
    match("=1.2.3", "1.2.4", 0);
    match("=1.2", "1.2.7", 1);
    match("~1.2.3", "1.2.9", 1);
    match("~1.2.3", "1.3.0", 0);
    match("~1", "1.9.0", 1);
    match(">= 0.1.0", "0.1.0", 1);
    match(">= 0.1.0", "3.0.0", 1);
    match(">=1.0, <2", "1.5.0", 1);
    match(">=1.0, <2", "2.0.0", 0);
    match(">1.2", "1.2.9", 0);
    match(">1.2", "1.3.0", 1);
    match("<=1.2", "1.2.9", 1);
    match("*", "7.0.0", 1);
    match("1.*", "1.3.0", 1);
    /* pre-releases only when named exactly */
    match("1.0.0", "1.1.0-rc.1", 0);
    match("=1.1.0-rc.1", "1.1.0-rc.1", 1);
    match("*", "1.0.0-alpha", 0);
    /* malformed */
    match("1.0.0", "latest", -1);
    match("1.0.0", "1.0", -1);
    match("banana", "1.0.0", -1);
    match(">>1", "1.0.0", -1);
    match("1.0.0,", "1.0.0", -1);
    /* precedence */
    CHECK(kiln_semver_cmp("1.10.0", "1.9.0") > 0);
    CHECK(kiln_semver_cmp("1.0.0-rc.1", "1.0.0") < 0);
    CHECK(kiln_semver_cmp("1.0.0+b1", "1.0.0") == 0);
    return test_finish("semver_test");
}
