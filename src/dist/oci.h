/* oci.h — a Kiln/Spin application as an OCI artifact, in Spin's layout.
 *
 * What `spin registry push` writes, so that one artifact moves between Spin and Kiln:
 *   image manifest (application/vnd.oci.image.manifest.v1+json), annotations
 *     org.opencontainers.image.{title,version,description,authors,created}
 *   config (application/vnd.oci.image.config.v1+json): architecture "wasm", os "wasip1",
 *     config.Labels["com.fermyon.spin.lockedAppDigest"] = the locked app layer's digest
 *   layers: one per component          application/vnd.wasm.content.layer.v1+wasm
 *           one per static file         application/vnd.wasm.content.layer.v1+data
 *             (files of at most 128 bytes are inlined in the locked app instead)
 *           or, in archive mode, one per component with all its files
 *                                       application/vnd.wasm.content.bundle.v1.tar+gzip
 *           the locked app, last        application/vnd.fermyon.spin.application.v1+config
 * The locked app (Spin's spin.lock JSON, spin_lock_version 1) names every component
 * source and file by digest ("inline" base64 for small files); file paths are relative
 * to the guest's "/". Archive mode is chosen with `archive`, SPIN_OCI_ARCHIVE_LAYERS in
 * the environment (as Spin), or when one layer per file would pass 500 layers.
 *
 * Pulling turns the artifact back into a directory Kiln serves like any other
 * (locked.c): spin.toml written from the locked app, components/ID.wasm, files/ID/...
 * It lands in CACHE/oci/sha256-HEX (HEX of the manifest digest): written in a temporary
 * directory next to it and renamed into place once every byte is verified, so the cache
 * never holds half an app (the temporary directory of a pull that was killed is removed
 * by the next pull). */
#ifndef KILN_DIST_OCI_H
#define KILN_DIST_OCI_H

#include <stddef.h>
#include <stdio.h>

#include "dist/ref.h"
#include "dist/registry.h"
#include "util/buf.h"

#define KILN_OCI_MANIFEST_TYPE "application/vnd.oci.image.manifest.v1+json"
#define KILN_OCI_CONFIG_TYPE "application/vnd.oci.image.config.v1+json"
#define KILN_OCI_WASM_TYPE "application/vnd.wasm.content.layer.v1+wasm"
#define KILN_OCI_WASM_TYPE_WKG "application/wasm"
#define KILN_OCI_DATA_TYPE "application/vnd.wasm.content.layer.v1+data"
#define KILN_OCI_ARCHIVE_TYPE "application/vnd.wasm.content.bundle.v1.tar+gzip"
#define KILN_OCI_LOCKED_TYPE "application/vnd.fermyon.spin.application.v1+config"
#define KILN_OCI_INLINE_MAX 128
#define KILN_OCI_MAX_LAYERS 500

typedef struct kiln_oci_blob {
    char digest[KILN_DIGEST_LEN + 1];
    const char *media_type; /* one of the constants above */
    char *data;             /* owned */
    size_t len;
} kiln_oci_blob;

/* An assembled artifact: every blob to push (layers, then the config) and the manifest. */
typedef struct kiln_oci_artifact {
    kiln_oci_blob *layers;
    size_t n_layers;
    kiln_oci_blob config;
    kiln_buf manifest;
    char manifest_digest[KILN_DIGEST_LEN + 1];
    int archive; /* archive mode was used */
} kiln_oci_artifact;

/* Assembles the app of the manifest at manifest_path (its components must be built).
 * `created` is the RFC 3339 time of the created annotation (NULL: none). 0, or -1 with
 * *err allocated. Free with kiln_oci_artifact_free. */
int kiln_oci_assemble(const char *manifest_path, int archive, const char *created,
                      kiln_oci_artifact *out, char **err);
void kiln_oci_artifact_free(kiln_oci_artifact *a);

/* Pushes an assembled artifact to ref (which needs a tag), one line per blob on log
 * ("exists", "mounted", "uploaded") when log is not NULL. 0 or -1 with *err. */
int kiln_oci_push(kiln_registry *r, const kiln_oci_ref *ref, const kiln_oci_artifact *a, FILE *log,
                  char **err);

/* Pulls ref into cache_dir/oci/ (see above) unless a verified copy is there already.
 * Sets *app_dir (allocated) to the app's directory and digest to the manifest digest.
 * 0 or -1 with *err allocated; on failure nothing is left under cache_dir/oci but
 * complete apps. */
int kiln_oci_pull(kiln_registry *r, const kiln_oci_ref *ref, const char *cache_dir, char **app_dir,
                  char digest[KILN_DIGEST_LEN + 1], FILE *log, char **err);

/* Fetches a blob's bytes by digest for kiln_locked_unpack. 0, or -1 with *err. */
typedef int (*kiln_blob_fetch)(void *ctx, const char *digest, kiln_buf *out, char **err);

/* Writes the app of a locked app (JSON text) into the existing empty directory dir:
 * spin.toml plus components/ID.wasm and files/ID/PATH, whose bytes come inline, from the
 * archives (each: the verified bytes of an archive layer), or from fetch. Everything in
 * the JSON is untrusted: ids and paths are checked (no "..", no absolute paths, no
 * control characters) and every byte is checked against its digest. 0, or -1 with *err. */
int kiln_locked_unpack(const char *json, size_t len, const kiln_buf *archives, size_t n_archives,
                       kiln_blob_fetch fetch, void *ctx, const char *dir, char **err);

#endif
