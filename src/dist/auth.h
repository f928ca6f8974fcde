/* auth.h — registry authentication: WWW-Authenticate challenges and the credentials file.
 *
 * A registry answers 401 with a challenge (RFC 7235): `Basic realm="..."`, or
 * `Bearer realm="https://auth/token",service="reg",scope="repository:r:pull"`, the
 * distribution token flow: the client GETs realm?service=..&scope=.. (with basic
 * credentials when it has some) and retries with the token it gets back.
 *
 * Credentials live in one JSON file shaped like docker's config.json:
 *   {"auths": {"HOST[:PORT]": {"auth": "base64(user:password)"}}}
 * at $KILN_REGISTRY_AUTH, else $XDG_CONFIG_HOME/kiln/registry-auth.json, else
 * ~/.config/kiln/registry-auth.json. It is written 0600 (through a temporary file and a
 * rename) and refused when it is readable or writable by anyone but its owner.
 * A registry that file has no entry for is looked up in docker's config.json
 * ($DOCKER_CONFIG/config.json, else ~/.docker/config.json; read only, never written):
 * its "auths" entries with an "auth" member, keyed by HOST[:PORT] or a URL of it.
 * Credentials docker keeps in a helper program (credsStore, credHelpers) are not read:
 * a one-line note says so. */
#ifndef KILN_DIST_AUTH_H
#define KILN_DIST_AUTH_H

#include <stddef.h>

typedef enum kiln_auth_scheme {
    KILN_AUTH_NONE = 0,
    KILN_AUTH_BASIC,
    KILN_AUTH_BEARER,
} kiln_auth_scheme;

typedef struct kiln_challenge {
    kiln_auth_scheme scheme;
    char *realm, *service, *scope; /* allocated; NULL when absent */
} kiln_challenge;

/* Parses one WWW-Authenticate header value (scheme names case-insensitive, parameters
 * as token=token or token="quoted\"string", separated by commas). Returns 0, or -1 when
 * the header is malformed, the scheme is neither Basic nor Bearer, a Bearer challenge
 * has no realm, or memory runs out. Free with kiln_challenge_free. */
int kiln_challenge_parse(const char *header, kiln_challenge *out);
void kiln_challenge_free(kiln_challenge *c);

/* Base64 (standard alphabet, padded). Both return allocated NUL-terminated text (the
 * decoded bytes may contain NUL: *out_len), or NULL on bad input / out of memory. */
char *kiln_base64_encode(const void *data, size_t len);
char *kiln_base64_decode(const char *text, size_t *out_len);

/* The credentials file path (allocated), or NULL when no home is known. */
char *kiln_creds_path(void);
/* docker's config.json path (allocated), or NULL when neither $DOCKER_CONFIG nor $HOME
 * is set. */
char *kiln_docker_config_path(void);
/* Looks up registry in the credentials file, then in docker's. Returns 1 with *user and *password
 * allocated, 0 when the file or the entry does not exist, -1 with *err (allocated) when
 * the file cannot be read, has unsafe permissions or is malformed. */
int kiln_creds_get(const char *registry, char **user, char **password, char **err);
/* Stores (password != NULL) or removes (password == NULL) the entry of registry, keeping
 * the others. 0, or -1 with *err allocated. */
int kiln_creds_put(const char *registry, const char *user, const char *password, char **err);

#endif
