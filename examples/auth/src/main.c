/* auth — answers who the caller is, given a bearer token:
 *
 *   GET /  with  Authorization: Bearer <JWT>   ->  200 {"subject": "<sub>", "expires": <exp>}
 *   no token                                  ->  401, WWW-Authenticate: Bearer realm="kiln"
 *   bad, tampered or expired token            ->  401, WWW-Authenticate: Bearer ...
 * error="invalid_token"
 *
 * The token is an HS256 JWT signed with the component's JWT_SECRET (from `environment`
 * in kiln.toml); see jwt.h for what is checked.
 *
 * Where the token comes from: like WAGI (and CGI/1.1, RFC 3875 section 4.1.18) Kiln does
 * not pass the Authorization header to handlers by default, so the handler also reads
 * the same "Bearer <token>" from the X-Authorization header. */
#include "jwt.h"
#include "kiln.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* The token of a "Bearer <token>" header value, or NULL. */
static const char *bearer(const char *value)
{
    if (!value || strncasecmp(value, "Bearer ", 7) != 0) return NULL;
    value += 7;
    while (*value == ' ')
        value++;
    return *value ? value : NULL;
}

/* A 401 with the RFC 6750 challenge, naming error="invalid_token" for a bad token. */
static int unauthorized(int invalid_token, const char *why)
{
    if (invalid_token)
        kiln_add_header("WWW-Authenticate", "Bearer realm=\"kiln\", error=\"invalid_token\"");
    else
        kiln_add_header("WWW-Authenticate", "Bearer realm=\"kiln\"");
    return kiln_respond_error(401, "%s", why);
}

int main(void)
{
    const char *m = kiln_method();
    if (strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0) {
        kiln_add_header("Allow", "GET, HEAD");
        return kiln_respond_error(405, "method %s is not allowed", m);
    }
    const char *secret = getenv("JWT_SECRET");
    if (!secret || !*secret) return kiln_respond_error(500, "JWT_SECRET is not configured");
    const char *token = bearer(kiln_header("Authorization"));
    if (!token) token = bearer(kiln_header("X-Authorization"));
    if (!token) return unauthorized(0, "a bearer token is required");
    char *subject = NULL;
    long long exp = 0;
    jwt_result r = jwt_verify_hs256(token, secret, (long long)time(NULL), &subject, &exp);
    if (r != JWT_OK) return unauthorized(1, jwt_result_text(r));
    kiln_set_header("Content-Type", "application/json");
    kiln_set_header("Cache-Control", "no-store");
    kiln_puts("{\"subject\": ");
    kiln_write_json_string(subject, strlen(subject));
    kiln_printf(", \"expires\": %lld}\n", exp);
    free(subject);
    return kiln_send();
}
