/* tar.c — ustar + gzip (see tar.h). */
#include "dist/tar.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#define BLOCK 512

/* Writes v in octal into a field of n bytes (n-1 digits and a NUL). */
static void octal(char *field, size_t n, unsigned long long v)
{
    snprintf(field, n, "%0*llo", (int)(n - 1), v);
}

int kiln_tar_add(kiln_tar *t, const char *name, const void *data, size_t len)
{
    char h[BLOCK];
    memset(h, 0, sizeof h);
    size_t nl = strlen(name);
    if (nl == 0) return -1;
    if (nl <= 100) {
        memcpy(h, name, nl);
    } else {
        /* split at a '/' so that prefix <= 155 and name <= 100 */
        const char *cut = NULL;
        for (const char *p = name; (p = strchr(p, '/')); p++)
            if ((size_t)(p - name) <= 155 && nl - (size_t)(p - name) - 1 <= 100) {
                cut = p;
                break;
            }
        if (!cut || cut == name) return -1;
        memcpy(h, cut + 1, nl - (size_t)(cut - name) - 1);
        memcpy(h + 345, name, (size_t)(cut - name));
    }
    octal(h + 100, 8, 0644);
    octal(h + 108, 8, 0);
    octal(h + 116, 8, 0);
    octal(h + 124, 12, len);
    octal(h + 136, 12, 0);
    h[156] = '0';
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (size_t i = 0; i < BLOCK; i++)
        sum += (unsigned char)h[i];
    snprintf(h + 148, 8, "%06o", sum);
    size_t pad = (BLOCK - len % BLOCK) % BLOCK;
    static const char zeros[BLOCK];
    if (kiln_buf_append(&t->raw, h, BLOCK) < 0 || kiln_buf_append(&t->raw, data, len) < 0 ||
        kiln_buf_append(&t->raw, zeros, pad) < 0)
        return -1;
    return 0;
}

void kiln_tar_free(kiln_tar *t)
{
    kiln_buf_free(&t->raw);
}

int kiln_tar_finish_gz(kiln_tar *t, kiln_buf *out)
{
    static const char zeros[2 * BLOCK];
    int rc = -1;
    z_stream z;
    memset(&z, 0, sizeof z);
    if (kiln_buf_append(&t->raw, zeros, sizeof zeros) < 0) goto out;
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) goto out;
    uLong bound = deflateBound(&z, t->raw.len) + 64;
    if (kiln_buf_reserve(out, bound) < 0) {
        deflateEnd(&z);
        goto out;
    }
    z.next_in = (Bytef *)t->raw.data;
    z.avail_in = (uInt)t->raw.len;
    z.next_out = (Bytef *)out->data + out->len;
    z.avail_out = (uInt)bound;
    int zr = deflate(&z, Z_FINISH);
    if (zr == Z_STREAM_END) {
        out->len += z.total_out;
        out->data[out->len] = '\0';
        rc = 0;
    }
    deflateEnd(&z);
out:
    kiln_tar_free(t);
    return rc;
}

static unsigned long long parse_octal(const char *f, size_t n, int *ok)
{
    unsigned long long v = 0;
    size_t i = 0;
    while (i < n && f[i] == ' ')
        i++;
    for (; i < n && f[i] >= '0' && f[i] <= '7'; i++) {
        if (v > (1ull << 60)) *ok = 0;
        v = v * 8 + (unsigned)(f[i] - '0');
    }
    if (i < n && f[i] != '\0' && f[i] != ' ') *ok = 0;
    return v;
}

int kiln_tar_each_gz(const void *gz, size_t len, size_t max_inflated,
                     int (*fn)(void *ctx, const char *name, const void *data, size_t len),
                     void *ctx)
{
    kiln_buf raw = KILN_BUF_INIT;
    z_stream z;
    memset(&z, 0, sizeof z);
    int rc = -1;
    if (len > UINT32_MAX || inflateInit2(&z, 15 + 16) != Z_OK) return -1;
    z.next_in = (Bytef *)gz;
    z.avail_in = (uInt)len;
    for (;;) {
        if (kiln_buf_reserve(&raw, 65536) < 0) goto out;
        z.next_out = (Bytef *)raw.data + raw.len;
        z.avail_out = 65536;
        int zr = inflate(&z, Z_NO_FLUSH);
        raw.len += 65536 - z.avail_out;
        if (raw.len > max_inflated) goto out;
        if (zr == Z_STREAM_END) break;
        if (zr != Z_OK) goto out;
        if (z.avail_in == 0 && z.avail_out != 0) goto out; /* truncated */
    }
    for (size_t off = 0; off + BLOCK <= raw.len;) {
        const char *h = raw.data + off;
        static const char zeros[BLOCK];
        if (memcmp(h, zeros, BLOCK) == 0) break;
        int ok = 1;
        unsigned long long size = parse_octal(h + 124, 12, &ok);
        if (!ok || size > raw.len - off - BLOCK) goto out;
        char name[256 + 2];
        size_t pl = strnlen(h + 345, 155), nl = strnlen(h, 100);
        if (memcmp(h + 257, "ustar", 5) == 0 && pl) {
            memcpy(name, h + 345, pl);
            name[pl] = '/';
            memcpy(name + pl + 1, h, nl);
            name[pl + 1 + nl] = '\0';
        } else {
            memcpy(name, h, nl);
            name[nl] = '\0';
        }
        char type = h[156];
        if ((type == '0' || type == '\0') && fn(ctx, name, h + BLOCK, (size_t)size) < 0) goto out;
        size_t adv = (size_t)size + (BLOCK - (size_t)size % BLOCK) % BLOCK;
        off += BLOCK + adv;
    }
    rc = 0;
out:
    inflateEnd(&z);
    kiln_buf_free(&raw);
    return rc;
}
