/* registry.h — a client of the OCI distribution API v2 (libcurl).
 *
 * One kiln_registry talks to one repository of one registry, as the user `push`es or
 * `pull`s. Every request goes through one function that answers a 401 the way the
 * challenge asks: Basic with the stored credentials, or Bearer (the token flow of
 * auth.h, with the credentials when there are some, anonymously otherwise); the token
 * is kept for the next requests. TLS uses the system CAs (or opts.ca_file); plain HTTP
 * only with opts.insecure and only for a loopback registry. Redirects are followed
 * (registries redirect blob GETs to storage).
 *
 * Uploads: a HEAD first (an existing blob is not sent again); then a cross-repository
 * mount when opts.mount_from names another repository of the same registry; then
 * POST + PUT (monolithic), or POST + PATCH chunks of opts.chunk_size + PUT (chunked).
 * Downloads are checked against their digest before the caller sees a byte.
 *
 * Errors are allocated messages naming the reference and the cause: an HTTP status
 * with the registry's own error code ("MANIFEST_UNKNOWN", ...), or curl's reason. */
#ifndef KILN_DIST_REGISTRY_H
#define KILN_DIST_REGISTRY_H

#include <stddef.h>

#include "dist/ref.h"
#include "util/buf.h"

typedef struct kiln_registry_opts {
    int insecure;           /* http:// (loopback registries only) */
    const char *ca_file;    /* PEM bundle replacing the system CAs, or NULL */
    const char *user;       /* NULL: anonymous */
    const char *password;   /* with user */
    int push;               /* ask tokens for push as well as pull */
    size_t chunk_size;      /* 0: monolithic uploads */
    const char *mount_from; /* repository to mount existing blobs from, or NULL */
    int registry_only;      /* messages name the registry alone (login: no repository) */
} kiln_registry_opts;

typedef struct kiln_registry kiln_registry;

/* What happened to a blob on upload. */
typedef enum kiln_blob_outcome {
    KILN_BLOB_EXISTED,
    KILN_BLOB_MOUNTED,
    KILN_BLOB_UPLOADED,
} kiln_blob_outcome;

/* A client of ref's registry and repository (ref and opts' strings are borrowed and
 * must outlive it). NULL with *err when insecure is asked for a registry that is not on
 * loopback, or memory runs out. */
kiln_registry *kiln_registry_new(const kiln_oci_ref *ref, const kiln_registry_opts *opts,
                                 char **err);
void kiln_registry_free(kiln_registry *r);
/* 1 when host ("host[:port]") is localhost, 127.x.x.x or [::1]. */
int kiln_registry_is_loopback(const char *host);

/* GET /v2/ (authenticating when challenged): checks that the registry is reachable and
 * accepts the credentials. 0 or -1 with *err. */
int kiln_registry_ping(kiln_registry *r, char **err);

/* Fetches the manifest named by `target` (a tag or a digest) into *body and its digest
 * (computed from the bytes; must equal target when target is a digest, and the
 * registry's Docker-Content-Digest when it sends one) into digest. *media_type gets the
 * Content-Type (allocated). 0 or -1 with *err. */
int kiln_registry_get_manifest(kiln_registry *r, const char *target, kiln_buf *body,
                               char digest[KILN_DIGEST_LEN + 1], char **media_type, char **err);
/* GET /v2/REPO/tags/list: the registry's JSON ({"name": ..., "tags": [...]}) into *body.
 * 0 or -1 with *err. */
int kiln_registry_list_tags(kiln_registry *r, kiln_buf *body, char **err);
/* Fetches a blob into *out and verifies it against digest (a mismatch is an error:
 * nothing is returned). 0 or -1 with *err. */
int kiln_registry_get_blob(kiln_registry *r, const char *digest, kiln_buf *out, char **err);
/* Uploads a blob unless the repository has it (see above). 0 or -1 with *err. */
int kiln_registry_put_blob(kiln_registry *r, const char *digest, const void *data, size_t len,
                           kiln_blob_outcome *outcome, char **err);
/* PUTs a manifest under `target` (a tag or its digest). 0 or -1 with *err. */
int kiln_registry_put_manifest(kiln_registry *r, const char *target, const char *media_type,
                               const void *body, size_t len, char **err);

#endif
