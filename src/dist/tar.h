/* tar.h — tar streams built in memory and read back, and gzip: the layers of Kiln's container
 * image and Spin's archive layers (application/vnd.wasm.content.bundle.v1.tar+gzip, one per
 * component, holding its static files when an app has too many files for one layer each).
 *
 * A layer of an OCI image is a tar stream (here ustar, with a PAX "path" record for names
 * longer than ustar's 100+155 bytes), gzip'd; the image's config names it by the sha256 of
 * the uncompressed stream (its diff_id) and the manifest by the sha256 of the gzip'd blob.
 * Every header is reproducible: owner 0:0 ("root"), mtime 0, so the same files give the
 * same digests. Entries are appended in the caller's order; kiln_tar_add_parents adds
 * each missing parent directory once (a layer that names /a/b/c also holds /a and /a/b),
 * which unpackers such as umoci expect. */
#ifndef KILN_DIST_TAR_H
#define KILN_DIST_TAR_H

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
/* kiln_tar_finish, then the gzip of the stream into *out (appended); frees t's storage
 * either way. 0 or -1 (out of memory). */
int kiln_tar_finish_gz(kiln_tar *t, kiln_buf *out);

/* Reading (hostile input: sizes are checked against the bytes present, the inflated size is
 * capped). Gunzips and walks a .tar.gz of at most `max_inflated` bytes, calling fn for each
 * regular file; fn returns 0 to go on. Entry names are passed along untrusted (Spin's pull
 * matches files to the locked app by digest). Returns 0, or -1 (malformed, too large, or fn
 * failed). */
int kiln_tar_each_gz(const void *gz, size_t len, size_t max_inflated,
                     int (*fn)(void *ctx, const char *name, const void *data, size_t len),
                     void *ctx);

#endif
