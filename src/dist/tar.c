/* tar.c — tar streams written and read, gzip (see tar.h). */
#include "dist/tar.h"
#include "util/alloc.h"
#include "util/file.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#define BLOCK 512

/* Writes v in octal into field f of width w (w-1 digits and a NUL). 0, or -1 when it
 * does not fit. */
static int octal(char *f, size_t w, unsigned long long v)
{
    for (size_t i = w - 1; i-- > 0;) {
        f[i] = (char)('0' + (v & 7));
        v >>= 3;
    }
    f[w - 1] = '\0';
    return v ? -1 : 0;
}

/* Appends zero bytes up to the next block boundary. */
static int pad(kiln_buf *b)
{
    static const char zeros[BLOCK];
    size_t r = b->len % BLOCK;
    return r ? kiln_buf_append(b, zeros, BLOCK - r) : 0;
}

/* Appends one 512-byte header. name/prefix must already fit their fields. */
static int header(kiln_buf *b, const char *name, const char *prefix, char type, unsigned mode,
                  unsigned long long size, const char *link)
{
    char h[BLOCK];
    memset(h, 0, sizeof h);
    memcpy(h, name, strlen(name));
    if (octal(h + 100, 8, mode & 07777) < 0 || octal(h + 108, 8, 0) < 0 ||
        octal(h + 116, 8, 0) < 0 || octal(h + 124, 12, size) < 0 || octal(h + 136, 12, 0) < 0)
        return -1;
    h[156] = type;
    if (link) memcpy(h + 157, link, strlen(link));
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    memcpy(h + 265, "root", 4);
    memcpy(h + 297, "root", 4);
    if (octal(h + 329, 8, 0) < 0 || octal(h + 337, 8, 0) < 0) return -1;
    if (prefix) memcpy(h + 345, prefix, strlen(prefix));
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (size_t i = 0; i < BLOCK; i++)
        sum += (unsigned char)h[i];
    if (octal(h + 148, 7, sum) < 0) return -1;
    h[155] = ' ';
    return kiln_buf_append(b, h, BLOCK);
}

/* A PAX extended header carrying `path`, for names ustar cannot hold. */
static int pax_path(kiln_buf *b, const char *path)
{
    size_t body = strlen(" path=\n") + strlen(path), n = body + 1;
    char digits[32];
    for (;;) { /* the record's length counts its own decimal digits */
        int d = snprintf(digits, sizeof digits, "%zu", n);
        if (d < 0) return -1;
        if (body + (size_t)d == n) break;
        n = body + (size_t)d;
    }
    if (header(b, "PaxHeader", NULL, 'x', 0644, n, NULL) < 0 ||
        kiln_buf_printf(b, "%s path=%s\n", digits, path) < 0)
        return -1;
    return pad(b);
}

/* Splits path into ustar's prefix and name. 0 when it fits (name/prefix set, prefix
 * possibly empty), -1 when a PAX record is needed. */
static int split(const char *path, char name[101], char prefix[156])
{
    size_t n = strlen(path);
    prefix[0] = '\0';
    if (n <= 100) {
        memcpy(name, path, n + 1);
        return 0;
    }
    for (size_t i = n; i-- > 0;) {
        if (path[i] != '/') continue;
        if (n - i - 1 > 100) return -1; /* the name part alone is too long */
        if (i > 155) continue;
        if (i == n - 1) return -1;
        memcpy(prefix, path, i);
        prefix[i] = '\0';
        memcpy(name, path + i + 1, n - i);
        return 0;
    }
    return -1;
}

static int has_dir(const kiln_tar *t, const char *d, size_t n)
{
    for (size_t i = 0; i < t->ndirs; i++)
        if (strlen(t->dirs[i]) == n && memcmp(t->dirs[i], d, n) == 0) return 1;
    return 0;
}

/* Remembers directory d[0..n). 0 or -1. */
static int note_dir(kiln_tar *t, const char *d, size_t n)
{
    char **nd = kiln_realloc(t->dirs, (t->ndirs + 1) * sizeof *nd);
    if (!nd) return -1;
    t->dirs = nd;
    if (!(nd[t->ndirs] = kiln_strndup(d, n))) return -1;
    t->ndirs++;
    return 0;
}

/* Writes one entry whose path is already validated (no leading '/'). */
static int entry(kiln_tar *t, char type, const char *path, unsigned mode, const void *data,
                 size_t len, const char *link)
{
    char name[101], prefix[156];
    kiln_buf full = KILN_BUF_INIT;
    if (kiln_buf_puts(&full, path) < 0 || (type == KILN_TAR_DIR && kiln_buf_putc(&full, '/') < 0))
        goto oom;
    int rc;
    if (split(full.data, name, prefix) == 0) {
        rc = header(&t->out, name, prefix[0] ? prefix : NULL, type, mode, len, link);
    } else {
        /* a truncated ustar name stays for readers without PAX; the record wins */
        memcpy(name, full.data, 100);
        name[100] = '\0';
        rc = pax_path(&t->out, full.data) < 0 ? -1
                                              : header(&t->out, name, NULL, type, mode, len, link);
    }
    if (rc < 0 || (len && kiln_buf_append(&t->out, data, len) < 0) || pad(&t->out) < 0) goto oom;
    kiln_buf_free(&full);
    return 0;
oom:
    kiln_buf_free(&full);
    return -1;
}

int kiln_tar_add(kiln_tar *t, char type, const char *path, unsigned mode, const void *data,
                 size_t len, const char *link, kiln_buf *err)
{
    while (*path == '/')
        path++;
    size_t n = strlen(path);
    while (n && path[n - 1] == '/')
        n--;
    if (n == 0) {
        kiln_buf_puts(err, "a tar entry's path must not be empty");
        return -1;
    }
    for (const char *s = path; s < path + n;) { /* refuse ".." components */
        const char *e = memchr(s, '/', (size_t)(path + n - s));
        size_t cl = e ? (size_t)(e - s) : (size_t)(path + n - s);
        if (cl == 2 && s[0] == '.' && s[1] == '.') {
            kiln_buf_printf(err, "path '%s' has a '..' component", path);
            return -1;
        }
        s += cl + 1;
    }
    if (link && strlen(link) > 100) {
        kiln_buf_printf(err, "symlink target of '%s' is longer than 100 bytes", path);
        return -1;
    }
    if (len > 077777777777ULL) {
        kiln_buf_printf(err, "'%s' is too large for a tar entry", path);
        return -1;
    }
    /* parents first, each once */
    for (size_t i = 1; i < n; i++) {
        if (path[i] != '/' || has_dir(t, path, i)) continue;
        char *d = kiln_strndup(path, i);
        int rc = d ? entry(t, KILN_TAR_DIR, d, 0755, NULL, 0, NULL) : -1;
        kiln_free(d);
        if (rc < 0 || note_dir(t, path, i) < 0) goto oom;
    }
    if (type == KILN_TAR_DIR) {
        if (has_dir(t, path, n)) return 0;
        if (note_dir(t, path, n) < 0) goto oom;
    }
    char *p = kiln_strndup(path, n);
    int rc = p ? entry(t, type, p, mode, data, type == KILN_TAR_FILE ? len : 0, link) : -1;
    kiln_free(p);
    if (rc < 0) goto oom;
    return 0;
oom:
    kiln_buf_puts(err, "out of memory");
    return -1;
}

int kiln_tar_add_host_file(kiln_tar *t, const char *path, const char *src, kiln_buf *err)
{
    struct stat st;
    kiln_buf data = KILN_BUF_INIT;
    if (stat(src, &st) < 0 || !S_ISREG(st.st_mode) || kiln_read_file(src, &data) < 0) {
        kiln_buf_printf(err, "cannot read %s: %s", src,
                        errno ? strerror(errno) : "not a regular file");
        kiln_buf_free(&data);
        return -1;
    }
    int rc = kiln_tar_add(t, KILN_TAR_FILE, path, (unsigned)st.st_mode & 0777, data.data, data.len,
                          NULL, err);
    kiln_buf_free(&data);
    return rc;
}

int kiln_tar_finish(kiln_tar *t)
{
    static const char zeros[2 * BLOCK];
    return kiln_buf_append(&t->out, zeros, sizeof zeros);
}

void kiln_tar_free(kiln_tar *t)
{
    kiln_buf_free(&t->out);
    for (size_t i = 0; i < t->ndirs; i++)
        kiln_free(t->dirs[i]);
    kiln_free(t->dirs);
    t->dirs = NULL;
    t->ndirs = 0;
}

int kiln_gzip(const void *data, size_t len, kiln_buf *out)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    /* 15 + 16: a gzip wrapper (header with mtime 0) around raw deflate */
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return -1;
    uLong bound = deflateBound(&z, (uLong)len) + 32;
    if (kiln_buf_reserve(out, bound) < 0) {
        deflateEnd(&z);
        return -1;
    }
    z.next_in = (Bytef *)(uintptr_t)data;
    z.avail_in = (uInt)len;
    z.next_out = (Bytef *)out->data + out->len;
    z.avail_out = (uInt)bound;
    int rc = (len == (size_t)(uInt)len && bound == (uLong)(uInt)bound) ? deflate(&z, Z_FINISH)
                                                                       : Z_BUF_ERROR;
    if (rc != Z_STREAM_END) {
        deflateEnd(&z);
        return -1;
    }
    out->len += z.total_out;
    out->data[out->len] = '\0';
    deflateEnd(&z);
    return 0;
}

int kiln_tar_finish_gz(kiln_tar *t, kiln_buf *out)
{
    int rc = kiln_tar_finish(t) < 0 ? -1 : kiln_gzip(t->out.data, t->out.len, out);
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
