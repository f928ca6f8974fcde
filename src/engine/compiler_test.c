/* Unit tests of the opt tier's bounds (compiler.h): C over the size limit is refused before
 * any compiler runs, a compiler past the time limit is stopped and named as such, a normal
 * compile stays within the caps, and the identity names the level rule. */
#include "engine/compiler.h"
#include "util/alloc.h"
#include "util/test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char SMALL_C[] = "int kiln_answer(void) { return 42; }\n";

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(void)
{
    char dir[] = "/tmp/kiln-compiler-test-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char so[256], script[256];
    snprintf(so, sizeof so, "%s/out.so", dir);
    snprintf(script, sizeof script, "%s/slow-cc", dir);

    /* A normal compile, under the default caps. */
    kiln_buf err = KILN_BUF_INIT;
    CHECK_INT(kiln_compile_c(KILN_TIER_OPT, SMALL_C, strlen(SMALL_C), so, &err), 0);
    CHECK(access(so, F_OK) == 0);
    kiln_buf_reset(&err);

    /* Over the size limit: refused at once, no output, the limit named. */
    size_t big_len = (size_t)2 << 20;
    char *big = kiln_malloc(big_len + 1);
    CHECK(big != NULL);
    if (big) {
        memset(big, ' ', big_len);
        memcpy(big, SMALL_C, strlen(SMALL_C));
        big[big_len] = '\0';
        unlink(so);
        setenv("KILN_OPT_MAX_C_MB", "1", 1);
        double t0 = now();
        CHECK_INT(kiln_compile_c(KILN_TIER_OPT, big, big_len, so, &err), -1);
        CHECK(now() - t0 < 1.0);
        CHECK(access(so, F_OK) != 0);
        CHECK(err.data && strstr(err.data, "KILN_OPT_MAX_C_MB"));
        CHECK(err.data && strstr(err.data, "the fast tier stays"));
        unsetenv("KILN_OPT_MAX_C_MB");
        kiln_buf_reset(&err);
        kiln_free(big);
    }

    /* A compiler that runs past the time limit is stopped (the script sleeps 30 s). */
    FILE *f = fopen(script, "w");
    CHECK(f != NULL);
    if (f) {
        fputs("#!/bin/sh\nsleep 30\n", f);
        fclose(f);
        chmod(script, 0755);
        setenv("KILN_CC", script, 1);
        setenv("KILN_OPT_TIMEOUT", "1", 1);
        double t0 = now();
        CHECK_INT(kiln_compile_c(KILN_TIER_OPT, SMALL_C, strlen(SMALL_C), so, &err), -1);
        double took = now() - t0;
        CHECK(took >= 0.9 && took < 15.0);
        CHECK(err.data && strstr(err.data, "time limit of 1 s"));
        unsetenv("KILN_CC");
        unsetenv("KILN_OPT_TIMEOUT");
        kiln_buf_reset(&err);
    }

    /* A malformed limit falls back to the default: the small compile works again. */
    setenv("KILN_OPT_MAX_MEM_MB", "lots", 1);
    CHECK_INT(kiln_compile_c(KILN_TIER_OPT, SMALL_C, strlen(SMALL_C), so, &err), 0);
    unsetenv("KILN_OPT_MAX_MEM_MB");

    CHECK(strstr(kiln_compiler_identity(KILN_TIER_OPT), "-O1 above") != NULL);
    kiln_buf_free(&err);
    unlink(so);
    unlink(script);
    rmdir(dir);
    return test_finish("compiler");
}
