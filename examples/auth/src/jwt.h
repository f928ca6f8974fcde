/* jwt.h — verification of JSON Web Tokens signed with HS256 (RFC 7519, RFC 7515).
 *
 * Only the compact form "BASE64URL(header).BASE64URL(payload).BASE64URL(signature)" with
 * header {"alg": "HS256"} is accepted ("none" and every other algorithm are refused).
 * The signature is checked (in constant time) before the payload is looked at; then the
 * payload must hold a numeric `exp` in the future, a string `sub`, and, when present, a
 * numeric `nbf` not in the future. */
#ifndef AUTH_JWT_H
#define AUTH_JWT_H

typedef enum jwt_result {
    JWT_OK,
    JWT_MALFORMED,     /* not three base64url parts of JSON objects */
    JWT_BAD_ALG,       /* alg is not HS256 */
    JWT_BAD_SIGNATURE, /* signed with another key, or altered */
    JWT_EXPIRED,       /* exp is not in the future */
    JWT_NOT_YET_VALID, /* nbf is in the future */
    JWT_BAD_CLAIMS,    /* exp or sub missing or of the wrong type */
} jwt_result;

/* Verifies `token` with `secret` at unix time `now`. On JWT_OK, *subject is the `sub`
 * claim (allocated with malloc; the caller frees it) and *exp the expiry. */
jwt_result jwt_verify_hs256(const char *token, const char *secret, long long now, char **subject,
                            long long *exp);

/* A short English explanation of a result ("token expired"). */
const char *jwt_result_text(jwt_result r);

#endif
