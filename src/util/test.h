/* test.h — the tiny harness of Kiln's C unit tests.
 *
 * A unit test is src/<layer>/<module>_test.c with its own main(); it calls CHECK*()
 * and returns test_finish(), which prints "NAME: N passed, N failed" (the line the
 * test runner sums up) and returns the exit status. */
#ifndef KILN_UTIL_TEST_H
#define KILN_UTIL_TEST_H

#include <stdio.h>
#include <string.h>

static int test_passed, test_failed;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (cond) {                                                                                \
            test_passed++;                                                                         \
        } else {                                                                                   \
            test_failed++;                                                                         \
            fprintf(stderr, "  FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                      \
        }                                                                                          \
    } while (0)

#define CHECK_STR(got, want)                                                                       \
    do {                                                                                           \
        const char *g_ = (got), *w_ = (want);                                                      \
        if (g_ && w_ && strcmp(g_, w_) == 0) {                                                     \
            test_passed++;                                                                         \
        } else {                                                                                   \
            test_failed++;                                                                         \
            fprintf(stderr, "  FAIL %s:%d: %s\n       want: %s\n       got:  %s\n", __FILE__,      \
                    __LINE__, #got, w_ ? w_ : "(null)", g_ ? g_ : "(null)");                       \
        }                                                                                          \
    } while (0)

#define CHECK_INT(got, want)                                                                       \
    do {                                                                                           \
        long long g_ = (long long)(got), w_ = (long long)(want);                                   \
        if (g_ == w_) {                                                                            \
            test_passed++;                                                                         \
        } else {                                                                                   \
            test_failed++;                                                                         \
            fprintf(stderr, "  FAIL %s:%d: %s: want %lld, got %lld\n", __FILE__, __LINE__, #got,   \
                    w_, g_);                                                                       \
        }                                                                                          \
    } while (0)

static inline int test_finish(const char *name)
{
    printf("%s: %d passed, %d failed\n", name, test_passed, test_failed);
    return test_failed == 0 && test_passed > 0 ? 0 : 1;
}

#endif
