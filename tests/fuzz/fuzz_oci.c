/* fuzz_oci.c — libFuzzer target for what a registry (hostile) sends Kiln: references and
 * WWW-Authenticate challenges, archive layers (gzipped tar) and the locked app, which
 * kiln_locked_unpack turns into files under a fresh temporary directory (it must never
 * write outside it, whatever the JSON says). Byte 0 selects the mode. */
// fuzz-sources: src/dist/ref.c src/dist/auth.c src/dist/locked.c src/dist/tar.c src/dist/errf.c
// fuzz-sources: src/util/alloc.c src/util/buf.c src/util/file.c src/util/json.c
#define _XOPEN_SOURCE 700
#include "dist/auth.h"
#include "dist/oci.h"
#include "dist/tar.h"
#include "util/alloc.h"

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int no_blob(void *ctx, const char *digest, kiln_buf *out, char **err)
{
    (void)ctx;
    (void)digest;
    (void)out;
    *err = kiln_strdup("no blobs while fuzzing");
    return -1;
}

static int on_entry(void *ctx, const char *name, const void *data, size_t len)
{
    (void)ctx;
    (void)name;
    (void)data;
    (void)len;
    return 0;
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)f;
    return flag == FTW_DP ? rmdir(p) : unlink(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    char *s = kiln_strndup((const char *)data + 1, size - 1); /* NUL-terminated copy */
    if (!s) return 0;
    switch (data[0] % 4) {
    case 0: {
        kiln_oci_ref r;
        const char *why;
        if (kiln_oci_ref_parse(s, &r, &why) == 0) kiln_oci_ref_free(&r);
        break;
    }
    case 1: {
        kiln_challenge c;
        if (kiln_challenge_parse(s, &c) == 0) kiln_challenge_free(&c);
        break;
    }
    case 2:
        kiln_tar_each_gz(data + 1, size - 1, 1 << 20, on_entry, NULL);
        break;
    default: {
        char dir[] = "/tmp/kiln-fuzz-oci-XXXXXX";
        if (!mkdtemp(dir)) break;
        char *err = NULL;
        kiln_locked_unpack((const char *)data + 1, size - 1, NULL, 0, no_blob, NULL, dir, &err);
        kiln_free(err);
        nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        break;
    }
    }
    kiln_free(s);
    return 0;
}
