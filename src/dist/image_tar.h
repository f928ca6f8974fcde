/* image_tar.h — the byte formats of a container image layer: a POSIX tar stream built in
 * memory, gzip, and sha256 digests.
 *
 * A layer of an OCI image is a tar stream (here ustar, with a PAX "path" record for names
 * longer than ustar's 100+155 bytes), gzip'd; the image's config names it by the sha256 of
 * the uncompressed stream (its diff_id) and the manifest by the sha256 of the gzip'd blob.
 * Every header is reproducible: owner 0:0 ("root"), mtime 0, so the same files give the
 * same digests. Entries are appended in the caller's order; kiln_tar_add_parents adds
 * each missing parent directory once (a layer that names /a/b/c also holds /a and /a/b),
 * which unpackers such as umoci expect. */
#ifndef KILN_DIST_IMAGE_TAR_H
#define KILN_DIST_IMAGE_TAR_H

#include "util/buf.h"

#include <stddef.h>

typedef struct kiln_tar {
    kiln_buf out; /* the stream so far */
    char **dirs;  /* directories already written (no leading or trailing '/') */
    size_t ndirs;
} kiln_tar;

#define KILN_TAR_INIT                                                                              \
    {                                                                                              \
        KILN_BUF_INIT, NULL, 0                                                                     \
    }

/* Entry types (ustar typeflag). */
#define KILN_TAR_FILE '0'
#define KILN_TAR_SYMLINK '2'
#define KILN_TAR_DIR '5'

/* Appends one entry: `path` relative (a leading '/' is dropped; empty is refused), `mode`
 * the permission bits, `data`/`len` the contents of a regular file, `link` the target of
 * a symlink. Adds the missing parent directories first. 0, or -1 with the reason in *err
 * (a path with a ".." component or a NUL, a link target over 100 bytes, out of memory). */
int kiln_tar_add(kiln_tar *t, char type, const char *path, unsigned mode, const void *data,
                 size_t len, const char *link, kiln_buf *err);
/* Reads the host file `src` and appends it as a regular file at `path` with its own
 * permission bits (symlinks followed). 0 or -1 (*err says which file and why). */
int kiln_tar_add_host_file(kiln_tar *t, const char *path, const char *src, kiln_buf *err);
/* Ends the stream (two zero blocks). 0 or -1 (out of memory). */
int kiln_tar_finish(kiln_tar *t);
void kiln_tar_free(kiln_tar *t);

/* gzip (RFC 1952, mtime 0, level 6) of data into *out (appended). 0 or -1. */
int kiln_gzip(const void *data, size_t len, kiln_buf *out);
/* "sha256:" + 64 lowercase hex digits of data into out (72 bytes with the NUL). 0 or -1. */
#define KILN_DIGEST_LEN 72
int kiln_sha256_digest(const void *data, size_t len, char out[KILN_DIGEST_LEN]);

#endif
