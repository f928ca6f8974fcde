/* image.h — a container image of Kiln, written as an OCI image layout without a daemon.
 *
 * An OCI image layout (image-spec, "image-layout.md") is a directory:
 *   oci-layout          {"imageLayoutVersion":"1.0.0"}
 *   index.json          an image index naming one manifest (annotation
 *                       org.opencontainers.image.ref.name = the tag)
 *   blobs/sha256/HEX    content-addressed blobs: the manifest, the config, the layers
 * The config carries what a runtime needs to start the container (Entrypoint, Cmd, Env,
 * WorkingDir, ExposedPorts, StopSignal) and the diff_ids of the layers (sha256 of each
 * uncompressed tar); the manifest lists the config and the gzip'd layers by digest and
 * size. kiln_image_write_layout writes the blobs first and index.json last, so a reader
 * never sees an index that names a missing blob. kiln_image_write_archive packs the same
 * files into one tar (an "oci-archive", what skopeo and podman read as oci-archive:FILE).
 *
 * What goes into the layers is decided by the caller (src/cli/image.c): this module only
 * knows layers as finished tar streams (dist/tar.h). */
#ifndef KILN_DIST_IMAGE_H
#define KILN_DIST_IMAGE_H

#include "dist/ref.h"
#include "dist/tar.h"
#include "util/buf.h"

#include <stddef.h>

/* The runtime configuration of the image (NULL-terminated string arrays; NULL: absent). */
typedef struct kiln_image_config {
    const char *const *entrypoint;
    const char *const *cmd;
    const char *const *env;    /* "NAME=value" */
    const char *const *ports;  /* "3000/tcp" */
    const char *const *labels; /* "key=value" */
    const char *workdir;
    const char *stop_signal;  /* "SIGTERM" */
    const char *architecture; /* GOARCH spelling: "amd64", "arm64"; NULL: this machine's */
} kiln_image_config;

/* One layer: a finished tar stream (kiln_tar_finish called) and a line for the history. */
typedef struct kiln_image_layer {
    const kiln_buf *tar;
    const char *created_by;
} kiln_image_layer;

/* Writes the layout into directory `dir` (created if missing; an existing layout's
 * index.json is replaced, its blobs kept), the image tagged `tag` in index.json. Stores the
 * manifest's digest into manifest_digest when not NULL. 0, or -1 with the reason in *err. */
int kiln_image_write_layout(const char *dir, const kiln_image_config *cfg,
                            const kiln_image_layer *layers, size_t nlayers, const char *tag,
                            char manifest_digest[KILN_DIGEST_LEN + 1], kiln_buf *err);

/* Packs the layout in `dir` (as written above) into the tar file `file`. 0 or -1 (*err). */
int kiln_image_write_archive(const char *dir, const char *file, kiln_buf *err);

/* The GOARCH name of this machine ("amd64" for x86_64, "arm64" for aarch64, else the
 * uname machine). Static storage. */
const char *kiln_image_arch(void);

#endif
