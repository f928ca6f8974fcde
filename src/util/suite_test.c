/* suite_test.c — unit tests of util/suite.c: exclusion lists (files, folders, lines, ranges
 * and lists of them, reasons, comments) and per-file children (counts come back through the
 * shared slots; a child that dies has its unreached commands counted as failed). */
#include "util/suite.h"
#include "util/file.h"
#include "util/test.h"

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

static void test_exclusions(void)
{
    char path[] = "/tmp/kiln-suite-test.XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0) return;
    close(fd);
    const char *text = "# comment\n"
                       "\n"
                       "async/  the async ABI\n"
                       "values/a.wast:12  one line\n"
                       "values/b.wast:3-5,9  a range and a line\n"
                       "whole.wast\n";
    CHECK(kiln_write_file(path, text, strlen(text)) == 0);
    kiln_suite_exclusions ex = {0};
    CHECK(kiln_suite_exclusions_load(&ex, path) == 0);
    CHECK_INT(ex.n, 5);
    const kiln_suite_exclusion *e = kiln_suite_excluded(&ex, "async/x.wast", 0);
    CHECK(e != NULL && e->line == 0);
    if (e) CHECK_STR(e->reason, "the async ABI");
    CHECK(kiln_suite_excluded(&ex, "asyncx/x.wast", 7) == NULL);
    CHECK(kiln_suite_excluded(&ex, "values/a.wast", 12) != NULL);
    CHECK(kiln_suite_excluded(&ex, "values/a.wast", 13) == NULL);
    CHECK(kiln_suite_excluded(&ex, "values/a.wast", 0) == NULL); /* not the whole file */
    CHECK(kiln_suite_excluded(&ex, "values/b.wast", 2) == NULL);
    CHECK(kiln_suite_excluded(&ex, "values/b.wast", 4) != NULL);
    CHECK(kiln_suite_excluded(&ex, "values/b.wast", 9) != NULL);
    CHECK(kiln_suite_excluded(&ex, "values/b.wast", 8) == NULL);
    e = kiln_suite_excluded(&ex, "whole.wast", 77);
    CHECK(e != NULL);
    if (e) CHECK_STR(e->reason, "(no reason given)");
    kiln_suite_exclusions_free(&ex);
    CHECK(ex.n == 0 && ex.v == NULL);
    unlink(path);
    CHECK(kiln_suite_exclusions_load(&ex, path) == -1); /* gone */
}

/* A file "ok": 3 commands passed; "crash": 5 commands, 1 passed, then killed. */
static int run_one(void *ctx, const char *path, kiln_suite_slot *slot)
{
    (void)ctx;
    slot->total = strcmp(path, "crash") == 0 ? 5 : 3;
    slot->passed = 1;
    if (strcmp(path, "crash") == 0) {
        slot->line = 42;
        raise(SIGKILL);
    }
    slot->passed = 3;
    return 0;
}

static void test_run(void)
{
    char *files[] = {"ok", "crash", "ok"};
    for (int no_fork = 0; no_fork < 2; no_fork++) {
        kiln_suite_slot *slots = kiln_suite_run(files, no_fork ? 1 : 3, 2, no_fork, run_one, NULL);
        CHECK(slots != NULL);
        if (!slots) continue;
        CHECK_INT(slots[0].passed, 3);
        CHECK_INT(slots[0].failed, 0);
        CHECK_STR(slots[0].name, "ok");
        if (!no_fork) {
            CHECK_INT(slots[1].passed, 1);
            CHECK_INT(slots[1].failed, 4); /* the 4 commands it did not reach */
            CHECK_INT(slots[2].passed, 3);
        }
        kiln_suite_free(slots, no_fork ? 1 : 3);
    }
}

int main(void)
{
    test_exclusions();
    test_run();
    return test_finish("suite");
}
