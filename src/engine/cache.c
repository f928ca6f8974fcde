/* cache.c — content-addressed compiled-module cache (see cache.h). */
#include "engine/cache.h"
#include "engine/codegen.h"
#include "engine/compiler.h"
#include "util/alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef KILN_WABT_VERSION
#define KILN_WABT_VERSION "unknown"
#endif
#define TRAILER_MAGIC "KILNSUM1"
#define TRAILER_SIZE (32 + 8)

static void hex(const unsigned char *d, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    out[2 * n] = '\0';
}

void kiln_cache_key(const uint8_t *bytes, size_t len, kiln_tier tier, kiln_mem_checks checks,
                    char key[KILN_CACHE_KEY_HEX])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    char head[1024];
    int n = snprintf(
        head, sizeof head, "kiln-abi=%d\ntier=%s\nchecks=%s\ncompiler=%s\nwasm2c=%s\n",
        KILN_ABI_VERSION, kiln_tier_name(tier),
        kiln_mem_checks_name(checks == KILN_MEM_CHECKS_BOUNDS ? checks : KILN_MEM_CHECKS_GUARD),
        kiln_compiler_identity(tier), KILN_WABT_VERSION);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
        EVP_DigestUpdate(ctx, head, (size_t)n) != 1 || EVP_DigestUpdate(ctx, bytes, len) != 1 ||
        EVP_DigestFinal_ex(ctx, md, &mdlen) != 1) {
        /* Cannot hash: a key that never matches a stored entry (forces a build). */
        memset(md, 0, sizeof md);
        snprintf((char *)md, sizeof md, "nohash-%d", (int)getpid());
    }
    EVP_MD_CTX_free(ctx);
    hex(md, 32, key);
}

/* mkdir -p */
static int mkdirs(const char *path)
{
    char *p = kiln_strdup(path);
    if (!p) return -1;
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = '\0';
        if (mkdir(p, 0755) < 0 && errno != EEXIST) {
            kiln_free(p);
            return -1;
        }
        *s = '/';
    }
    int rc = (mkdir(p, 0755) < 0 && errno != EEXIST) ? -1 : 0;
    kiln_free(p);
    return rc;
}

int kiln_cache_dir(const kiln_compile_opts *opts, char *out, size_t outlen)
{
    const char *d = opts ? opts->cache_dir : NULL;
    const char *e;
    int n;
    if (d && *d)
        n = snprintf(out, outlen, "%s", d);
    else if ((e = getenv("KILN_CACHE_DIR")) && *e)
        n = snprintf(out, outlen, "%s", e);
    else if ((e = getenv("XDG_CACHE_HOME")) && *e)
        n = snprintf(out, outlen, "%s/kiln", e);
    else if ((e = getenv("HOME")) && *e)
        n = snprintf(out, outlen, "%s/.cache/kiln", e);
    else
        n = snprintf(out, outlen, "/tmp/kiln-cache-%d", (int)getuid());
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

int kiln_cache_prepare(const kiln_compile_opts *opts, char *dir, size_t dirlen, kiln_buf *err)
{
    if (kiln_cache_dir(opts, dir, dirlen) < 0) {
        kiln_buf_puts(err, "cache directory path too long");
        return -1;
    }
    if (mkdirs(dir) < 0) {
        kiln_buf_printf(err, "cannot create cache directory %s: %s", dir, strerror(errno));
        return -1;
    }
    return 0;
}

static char *entry_path(const char *dir, const char *key)
{
    kiln_buf b = KILN_BUF_INIT;
    kiln_buf_printf(&b, "%s/%s.so", dir, key);
    return b.data;
}

/* SHA-256 of the first n bytes of fd (from offset 0). */
static int hash_fd(int fd, off_t n, unsigned char md[32])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        return -1;
    }
    char buf[65536];
    off_t done = 0;
    int rc = 0;
    while (done < n) {
        size_t want = (size_t)(n - done) < sizeof buf ? (size_t)(n - done) : sizeof buf;
        ssize_t r = pread(fd, buf, want, done);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0 || EVP_DigestUpdate(ctx, buf, (size_t)r) != 1) {
            rc = -1;
            break;
        }
        done += r;
    }
    unsigned int len;
    if (rc == 0 && EVP_DigestFinal_ex(ctx, md, &len) != 1) rc = -1;
    EVP_MD_CTX_free(ctx);
    return rc;
}

int kiln_cache_open(const char *dir, const char *key, kiln_buf *note)
{
    char *path = entry_path(dir, key);
    if (!path) return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        kiln_free(path);
        return -1;
    }
    struct stat st;
    unsigned char trailer[TRAILER_SIZE], md[32];
    int ok = fstat(fd, &st) == 0 && st.st_size > TRAILER_SIZE &&
             pread(fd, trailer, TRAILER_SIZE, st.st_size - TRAILER_SIZE) == TRAILER_SIZE &&
             memcmp(trailer + 32, TRAILER_MAGIC, 8) == 0 &&
             hash_fd(fd, st.st_size - TRAILER_SIZE, md) == 0 && memcmp(md, trailer, 32) == 0;
    if (!ok) {
        if (note) kiln_buf_printf(note, "corrupt cache entry %s removed; rebuilding", path);
        close(fd);
        fd = -1;
        unlink(path);
    }
    kiln_free(path);
    return fd;
}

char *kiln_cache_temp_path(const char *dir, const char *key)
{
    static atomic_uint counter;
    kiln_buf b = KILN_BUF_INIT;
    kiln_buf_printf(&b, "%s/.tmp-%s-%d-%u.so", dir, key, (int)getpid(),
                    atomic_fetch_add(&counter, 1));
    return b.data;
}

int kiln_cache_commit(const char *dir, const char *key, const char *tmp_path, kiln_buf *err)
{
    int fd = open(tmp_path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        kiln_buf_printf(err, "cannot open %s: %s", tmp_path, strerror(errno));
        return -1;
    }
    struct stat st;
    unsigned char trailer[TRAILER_SIZE];
    int rc = -1;
    if (fstat(fd, &st) < 0 || hash_fd(fd, st.st_size, trailer) < 0) {
        kiln_buf_printf(err, "cannot hash %s", tmp_path);
        goto out;
    }
    memcpy(trailer + 32, TRAILER_MAGIC, 8);
    if (pwrite(fd, trailer, TRAILER_SIZE, st.st_size) != TRAILER_SIZE || fsync(fd) < 0) {
        kiln_buf_printf(err, "cannot write %s: %s", tmp_path, strerror(errno));
        goto out;
    }
    char *path = entry_path(dir, key);
    if (!path || rename(tmp_path, path) < 0) {
        kiln_buf_printf(err, "cannot store cache entry: %s", strerror(errno));
        kiln_free(path);
        goto out;
    }
    kiln_free(path);
    rc = 0;
out:
    close(fd);
    if (rc < 0) unlink(tmp_path);
    return rc;
}
