/* Unit tests of the compile cache: keys separate tiers and bytes, entries are verified,
 * a corrupt entry is removed. */
#include "engine/cache.h"
#include "util/test.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void write_file(const char *path, const char *s)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return;
    if (write(fd, s, strlen(s)) < 0) test_failed++;
    close(fd);
}

int main(void)
{
    char k1[KILN_CACHE_KEY_HEX], k2[KILN_CACHE_KEY_HEX], k3[KILN_CACHE_KEY_HEX],
        k4[KILN_CACHE_KEY_HEX], k5[KILN_CACHE_KEY_HEX], k6[KILN_CACHE_KEY_HEX];
    kiln_cache_key((const uint8_t *)"abc", 3, KILN_TIER_FAST, KILN_MEM_CHECKS_GUARD, k1);
    kiln_cache_key((const uint8_t *)"abc", 3, KILN_TIER_FAST, KILN_MEM_CHECKS_GUARD, k2);
    kiln_cache_key((const uint8_t *)"abc", 3, KILN_TIER_OPT, KILN_MEM_CHECKS_GUARD, k3);
    kiln_cache_key((const uint8_t *)"abd", 3, KILN_TIER_FAST, KILN_MEM_CHECKS_GUARD, k4);
    kiln_cache_key((const uint8_t *)"abc", 3, KILN_TIER_FAST, KILN_MEM_CHECKS_BOUNDS, k5);
    kiln_cache_key((const uint8_t *)"abc", 3, KILN_TIER_FAST, KILN_MEM_CHECKS_AUTO, k6);
    CHECK_INT(strlen(k1), 64);
    CHECK(strcmp(k1, k2) == 0);
    CHECK(strcmp(k1, k3) != 0);
    CHECK(strcmp(k1, k4) != 0);
    CHECK(strcmp(k1, k5) != 0); /* the variant is part of the key */
    CHECK(strcmp(k1, k6) == 0); /* AUTO is taken as guard */

    char dir[] = "/tmp/kiln-cache-test.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    CHECK_INT(kiln_cache_open(dir, k1, NULL), -1); /* absent */
    char *tmp = kiln_cache_temp_path(dir, k1);
    write_file(tmp, "pretend shared object");
    kiln_buf err = KILN_BUF_INIT;
    CHECK_INT(kiln_cache_commit(dir, k1, tmp, &err), 0);
    int fd = kiln_cache_open(dir, k1, NULL);
    CHECK(fd >= 0);
    if (fd >= 0) close(fd);
    /* Corrupt it: flip a byte of the object. */
    char path[256];
    snprintf(path, sizeof path, "%s/%s.so", dir, k1);
    int wfd = open(path, O_WRONLY);
    CHECK(wfd >= 0 && pwrite(wfd, "X", 1, 0) == 1);
    if (wfd >= 0) close(wfd);
    kiln_buf note = KILN_BUF_INIT;
    CHECK_INT(kiln_cache_open(dir, k1, &note), -1);
    CHECK(note.data && strstr(note.data, "corrupt cache entry"));
    CHECK(access(path, F_OK) != 0); /* removed */
    /* A truncated entry (no trailer) is corrupt too. */
    write_file(path, "short");
    CHECK_INT(kiln_cache_open(dir, k1, NULL), -1);
    free(tmp);
    kiln_buf_free(&err);
    kiln_buf_free(&note);
    rmdir(dir);

    return test_finish("cache");
}
