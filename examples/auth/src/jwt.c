/* jwt.c — HS256 JWT verification (see jwt.h). */
#include "jwt.h"
#include "kiln.h"
#include "sha256.h"

#include <stdlib.h>
#include <string.h>

static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Decodes unpadded base64url into a malloc'ed buffer (NUL-terminated); NULL if the text
 * has other characters, an impossible length or non-zero leftover bits. */
static unsigned char *b64url_decode(const char *s, size_t len, size_t *out_len)
{
    if (len % 4 == 1) return NULL;
    unsigned char *out = malloc(len / 4 * 3 + 3);
    if (!out) return NULL;
    size_t n = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        const char *p = s[i] ? strchr(B64URL, s[i]) : NULL;
        if (!p) {
            free(out);
            return NULL;
        }
        acc = (acc << 6) | (unsigned)(p - B64URL);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0) { /* leftover bits must be zero: one token, one spelling */
        free(out);
        return NULL;
    }
    out[n] = '\0';
    *out_len = n;
    return out;
}

/* Encodes bytes as unpadded base64url into out (room for 4 * ceil(len / 3) + 1). */
static void b64url_encode(const unsigned char *p, size_t len, char *out)
{
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        acc = (acc << 8) | p[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            *out++ = B64URL[(acc >> bits) & 63];
        }
    }
    if (bits) *out++ = B64URL[(acc << (6 - bits)) & 63];
    *out = '\0';
}

/* Decodes one base64url part and parses it as a JSON object; NULL if it is not one. */
static kiln_jv *decode_object(const char *s, size_t len)
{
    size_t n;
    unsigned char *raw = b64url_decode(s, len, &n);
    if (!raw) return NULL;
    kiln_jv *v = kiln_jv_parse((const char *)raw, n, NULL, 0);
    free(raw);
    if (v && v->type != KILN_JV_OBJECT) {
        kiln_jv_free(v);
        return NULL;
    }
    return v;
}

/* Compares two equally long strings in time independent of where they differ. */
static int equal_ct(const char *a, const char *b, size_t len)
{
    unsigned char d = 0;
    for (size_t i = 0; i < len; i++)
        d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

jwt_result jwt_verify_hs256(const char *token, const char *secret, long long now, char **subject,
                            long long *exp)
{
    const char *dot1 = strchr(token, '.');
    const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    if (!dot1 || !dot2 || strchr(dot2 + 1, '.')) return JWT_MALFORMED;
    kiln_jv *header = decode_object(token, (size_t)(dot1 - token));
    if (!header) return JWT_MALFORMED;
    const char *alg = kiln_jv_string(kiln_jv_get(header, "alg"));
    int alg_ok = alg && strcmp(alg, "HS256") == 0;
    kiln_jv_free(header);
    if (!alg_ok) return JWT_BAD_ALG;

    unsigned char mac[SHA256_LEN];
    char want[48];
    hmac_sha256(secret, strlen(secret), token, (size_t)(dot2 - token), mac);
    b64url_encode(mac, sizeof mac, want);
    const char *sig = dot2 + 1;
    if (strlen(sig) != strlen(want) || !equal_ct(sig, want, strlen(want))) return JWT_BAD_SIGNATURE;

    kiln_jv *payload = decode_object(dot1 + 1, (size_t)(dot2 - dot1 - 1));
    if (!payload) return JWT_MALFORMED;
    const kiln_jv *e = kiln_jv_get(payload, "exp"), *nbf = kiln_jv_get(payload, "nbf");
    const char *sub = kiln_jv_string(kiln_jv_get(payload, "sub"));
    jwt_result r = JWT_OK;
    if (!e || e->type != KILN_JV_NUMBER || !sub || (nbf && nbf->type != KILN_JV_NUMBER))
        r = JWT_BAD_CLAIMS;
    else if (!(e->number > (double)now))
        r = JWT_EXPIRED;
    else if (nbf && nbf->number > (double)now)
        r = JWT_NOT_YET_VALID;
    if (r == JWT_OK) {
        *subject = strdup(sub);
        *exp = e->number < 9e18 ? (long long)e->number : (long long)9e18;
        if (!*subject) r = JWT_MALFORMED;
    }
    kiln_jv_free(payload);
    return r;
}

const char *jwt_result_text(jwt_result r)
{
    switch (r) {
    case JWT_OK:
        return "valid";
    case JWT_MALFORMED:
        return "the token is not a well-formed JWT";
    case JWT_BAD_ALG:
        return "the token is not signed with HS256";
    case JWT_BAD_SIGNATURE:
        return "the token's signature is invalid";
    case JWT_EXPIRED:
        return "the token has expired";
    case JWT_NOT_YET_VALID:
        return "the token is not valid yet";
    case JWT_BAD_CLAIMS:
        return "the token lacks a numeric exp or a string sub";
    }
    return "invalid token";
}
