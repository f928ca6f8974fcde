/* ref.h — OCI image references and content digests.
 *
 * A reference names an artifact in a registry: `host[:port]/repo[:tag][@sha256:HEX]`, as
 * docker, skopeo and `spin registry` write them. The first path segment is the registry
 * when it has a '.' or ':' or is "localhost"; otherwise the registry is Docker Hub
 * ("docker.io", whose one-segment repositories live under "library/"). Without tag or
 * digest the tag is "latest". Repositories follow the distribution spec's grammar
 * (lowercase alphanumerics separated by '.', '_', '__', '-' or '/'); tags are
 * [A-Za-z0-9_][A-Za-z0-9._-]{0,127}; digests are "sha256:" and 64 lowercase hex digits.
 *
 * Digests: kiln_digest_sha256 hashes bytes into that form; kiln_digest_check compares
 * bytes with a digest (the one check every pulled byte goes through). */
#ifndef KILN_DIST_REF_H
#define KILN_DIST_REF_H

#include <stddef.h>

typedef struct kiln_oci_ref {
    char *registry; /* "host[:port]" */
    char *repo;     /* "path/to/repo" */
    char *tag;      /* NULL when only a digest was given */
    char *digest;   /* "sha256:HEX" or NULL */
} kiln_oci_ref;

/* Parses s into *out (every string allocated; free with kiln_oci_ref_free). Returns 0,
 * or -1 with *why (static text) naming what is wrong; *out is then left empty. */
int kiln_oci_ref_parse(const char *s, kiln_oci_ref *out, const char **why);
void kiln_oci_ref_free(kiln_oci_ref *r);
/* What the registry is asked for: the digest when there is one, else the tag. */
const char *kiln_oci_ref_target(const kiln_oci_ref *r);
/* Whether s is meant as a registry reference rather than a path: it names no existing
 * file, and its first segment is a registry host (has '.' or ':' or is "localhost")
 * followed by a repository. Used by `kiln up --from`. */
int kiln_oci_ref_looks_like(const char *s);

#define KILN_DIGEST_LEN 71 /* "sha256:" + 64 hex */
/* Writes "sha256:HEX" of the bytes into out (KILN_DIGEST_LEN + 1 bytes). 0 or -1. */
int kiln_digest_sha256(const void *data, size_t len, char out[KILN_DIGEST_LEN + 1]);
/* 1 when s is a well-formed sha256 digest. */
int kiln_digest_valid(const char *s);
/* 1 when the bytes hash to digest, 0 when they do not (or digest is malformed). */
int kiln_digest_check(const void *data, size_t len, const char *digest);

#endif
