/* Unit tests of the layer formats (tar.c): ustar headers (checksum, prefix split,
 * PAX records for long names), parent directories once, refused paths, gzip that zlib
 * reads back, and sha256 digests of known inputs. */
#include "dist/ref.h"
#include "dist/tar.h"
#include "util/test.h"

#include <stdlib.h>
#include <zlib.h>

/* The checksum field of the header at off matches its bytes. */
static int checksum_ok(const kiln_buf *b, size_t off)
{
    const unsigned char *h = (const unsigned char *)b->data + off;
    unsigned sum = 0;
    for (size_t i = 0; i < 512; i++)
        sum += (i >= 148 && i < 156) ? ' ' : h[i];
    return strtoul((const char *)h + 148, NULL, 8) == sum;
}

static void test_entries(void)
{
    kiln_tar t = KILN_TAR_INIT;
    kiln_buf err = KILN_BUF_INIT;
    CHECK_INT(kiln_tar_add(&t, KILN_TAR_FILE, "/usr/bin/x", 0755, "hi", 2, NULL, &err), 0);
    /* parents usr/, usr/bin/ then the file: 3 headers + 1 data block */
    CHECK_INT(t.out.len, 4 * 512);
    CHECK_STR(t.out.data, "usr/");
    CHECK_STR(t.out.data + 512, "usr/bin/");
    CHECK_STR(t.out.data + 1024, "usr/bin/x");
    CHECK(t.out.data[1024 + 156] == '0');
    CHECK_STR(t.out.data + 1024 + 124, "00000000002");
    CHECK_STR(t.out.data + 1024 + 257, "ustar");
    CHECK(checksum_ok(&t.out, 0) && checksum_ok(&t.out, 1024));
    CHECK(memcmp(t.out.data + 1536, "hi", 2) == 0);
    /* the same parents are not written twice; a directory entry neither */
    size_t before = t.out.len;
    CHECK_INT(kiln_tar_add(&t, KILN_TAR_DIR, "usr/bin", 0755, NULL, 0, NULL, &err), 0);
    CHECK_INT(t.out.len, before);
    CHECK_INT(kiln_tar_add(&t, KILN_TAR_SYMLINK, "usr/bin/y", 0777, NULL, 0, "x", &err), 0);
    CHECK_STR(t.out.data + before + 157, "x");
    CHECK_INT(kiln_tar_add(&t, KILN_TAR_FILE, "a/../etc/passwd", 0644, "", 0, NULL, &err), -1);
    CHECK(err.data && strstr(err.data, "'..'"));
    kiln_buf_reset(&err);
    CHECK_INT(kiln_tar_add(&t, KILN_TAR_FILE, "///", 0644, "", 0, NULL, &err), -1);
    CHECK_INT(kiln_tar_finish(&t), 0);
    CHECK_INT(t.out.len % 512, 0);
    kiln_tar_free(&t);
    kiln_buf_free(&err);
}

static void test_long_names(void)
{
    kiln_tar t = KILN_TAR_INIT;
    kiln_buf err = KILN_BUF_INIT;
    char dir[151], name[120];
    memset(dir, 'd', 150);
    dir[150] = '\0';
    char path[300];
    snprintf(path, sizeof path, "%s/file", dir);
    /* 150-byte directory + "file": fits ustar's prefix + name split */
    CHECK_INT(kiln_tar_add(&t, KILN_TAR_FILE, path, 0644, "", 0, NULL, &err), 0);
    size_t off = t.out.len - 512;
    CHECK_STR(t.out.data + off, "file");
    CHECK(strncmp(t.out.data + off + 345, dir, 150) == 0);
    /* a 119-byte last component: only a PAX record holds it */
    memset(name, 'n', 119);
    name[119] = '\0';
    snprintf(path, sizeof path, "x/%s", name);
    size_t start = t.out.len;
    CHECK_INT(kiln_tar_add(&t, KILN_TAR_FILE, path, 0644, "", 0, NULL, &err), 0);
    /* x/ dir header, then the PAX header with its record, then the file header */
    CHECK(t.out.data[start + 512 + 156] == 'x');
    char want[400];
    snprintf(want, sizeof want, "131 path=%s\n", path);
    CHECK(strncmp(t.out.data + start + 1024, want, strlen(want)) == 0);
    CHECK_INT(strlen(want), 131);
    CHECK(checksum_ok(&t.out, start + 1536));
    kiln_tar_free(&t);
    kiln_buf_free(&err);
}

static void test_gzip_sha(void)
{
    kiln_buf gz = KILN_BUF_INIT;
    static const char text[] = "hello hello hello hello";
    CHECK_INT(kiln_gzip(text, sizeof text - 1, &gz), 0);
    CHECK(gz.len > 18 && (unsigned char)gz.data[0] == 0x1f && (unsigned char)gz.data[1] == 0x8b);
    char back[64] = {0};
    z_stream z;
    memset(&z, 0, sizeof z);
    CHECK_INT(inflateInit2(&z, 15 + 16), Z_OK);
    z.next_in = (Bytef *)gz.data;
    z.avail_in = (uInt)gz.len;
    z.next_out = (Bytef *)back;
    z.avail_out = sizeof back - 1;
    CHECK_INT(inflate(&z, Z_FINISH), Z_STREAM_END);
    inflateEnd(&z);
    CHECK_STR(back, text);
    kiln_buf_free(&gz);
    char d[KILN_DIGEST_LEN + 1];
    CHECK_INT(kiln_digest_sha256("", 0, d), 0);
    CHECK_STR(d, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK_INT(kiln_digest_sha256("abc", 3, d), 0);
    CHECK_STR(d, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

int main(void)
{
    test_entries();
    test_long_names();
    test_gzip_sha();
    return test_finish("tar_test");
}
