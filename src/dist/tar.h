/* tar.h — gzip-compressed ustar archives: Spin's archive layers
 * (application/vnd.wasm.content.bundle.v1.tar+gzip), one per component, holding the
 * component's static files when an app has too many files for one layer each.
 *
 * The writer builds the archive in memory; the reader walks one (hostile input: sizes are
 * checked against the bytes present, the inflated size is capped) and hands each regular
 * file's bytes to a callback. Entry names are passed along but the pull side does not
 * trust them: files are matched to the locked app by digest. */
#ifndef KILN_DIST_TAR_H
#define KILN_DIST_TAR_H

#include <stddef.h>

#include "util/buf.h"

typedef struct kiln_tar {
    kiln_buf raw; /* the uncompressed archive so far */
} kiln_tar;

/* Appends a regular file (mode 0644) named `name` (relative, '/'-separated, at most 100
 * bytes or split into prefix/name as ustar allows). 0, or -1 when the name does not fit
 * or memory runs out. */
int kiln_tar_add(kiln_tar *t, const char *name, const void *data, size_t len);
/* Finishes the archive and gzips it into *out; frees t's storage. 0 or -1. */
int kiln_tar_finish_gz(kiln_tar *t, kiln_buf *out);
void kiln_tar_free(kiln_tar *t);

/* Gunzips and walks a .tar.gz of at most `max_inflated` bytes, calling fn for each regular
 * file; fn returns 0 to go on. Returns 0, or -1 (malformed, too large, or fn failed). */
int kiln_tar_each_gz(const void *gz, size_t len, size_t max_inflated,
                     int (*fn)(void *ctx, const char *name, const void *data, size_t len),
                     void *ctx);

#endif
