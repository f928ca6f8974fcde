/* cgi.h — WAGI's CGI/1.1 mapping as pure functions: a request becomes environment
 * variables and argv; a guest's stdout becomes a response (status, headers, body).
 *
 * Nothing here does I/O, so everything is unit-tested (cgi_test.c) and fuzzed
 * (tests/fuzz/fuzz_cgi.c). The formats are those of docs/reference spin-and-wagi.md:
 * CGI variables, Kiln/Spin's X_* extensions, HTTP_* request headers (never
 * Authorization, Connection or Proxy), argv from ${SCRIPT_NAME} ${ARGS}.
 *
 * The guest is hostile: every header it prints is checked (a token name, a value
 * without control characters); bad or framing headers are dropped and noted in
 * kiln_cgi_response.notes for the log. */
#ifndef KILN_EXEC_WAGI_CGI_H
#define KILN_EXEC_WAGI_CGI_H

#include <stddef.h>

#include "exec/handler.h"
#include "util/buf.h"

struct kiln_strv_block; /* a block of a kiln_strv's string arena (cgi.c) */

/* A growable vector of owned C strings (argv, "KEY=VALUE" environments), built once per
 * request on the hot path, so it is cheap: the strings live in an arena of blocks owned
 * by the vector (no allocation per string) and replaced values are simply left there
 * until kiln_strv_free. A zero-initialized kiln_strv ({0}) is a valid empty vector.
 *
 * Callers read `v` (v[0..n-1], then NULL once anything was added: argv/envp style) and
 * `n`; the other fields are private. The strings must not be freed or resized. */
typedef struct kiln_strv {
    char **v;
    size_t n, cap;
    /* private: v has room for cap strings and the NULL, followed (same allocation) by a
     * small filter of the keys present and cap key lengths (offset of the first '=', or
     * SIZE_MAX), so that setenv rarely has to compare strings */
    struct kiln_strv_block *blocks; /* the arena; the first one is the current block */
    /* public, set before first use: take the vector's memory from this per-request arena
     * (then nothing is freed one by one); NULL: from the heap */
    kiln_arena *arena;
} kiln_strv;

/* Appends a copy of s (NUL-terminated) / of the first len bytes. 0 or -1 (memory). */
int kiln_strv_push(kiln_strv *sv, const char *s);
int kiln_strv_pushn(kiln_strv *sv, const char *s, size_t len);
/* Sets "KEY=VALUE" in an environment vector, replacing an existing KEY. 0 or -1. */
int kiln_strv_setenv(kiln_strv *sv, const char *key, size_t key_len, const char *val,
                     size_t val_len);
/* Same with a "KEY=VALUE" string (a string without '=' is ignored: returns 0). */
int kiln_strv_putenv(kiln_strv *sv, const char *kv);
/* Frees the strings and the vector; sv is an empty vector again. */
void kiln_strv_free(kiln_strv *sv);

typedef kiln_http_header kiln_cgi_header;

/* What the executor knows about one request. Strings are not NUL-terminated unless
 * said otherwise; everything is borrowed. */
typedef struct kiln_cgi_request {
    const char *method;
    size_t method_len;
    const char *path; /* raw (percent-encoded) path without the query */
    size_t path_len;
    const char *query; /* without the '?', may be NULL */
    size_t query_len;
    const char *authority; /* Host header or :authority, may be NULL */
    size_t authority_len;
    const char *scheme;    /* "http" or "https" (NUL-terminated) */
    const char *protocol;  /* "HTTP/1.1", "HTTP/2.0" (NUL-terminated) */
    const char *client_ip; /* NUL-terminated */
    int client_port;
    int server_port;       /* used when the authority has no port */
    size_t content_length; /* length of the body that is given on stdin */
    const kiln_cgi_header *headers;
    size_t nheaders;
    const kiln_route_match *match;
    int pass_authorization; /* 1: also HTTP_AUTHORIZATION (the manifest opted in) */
    /* Whether the request had a Content-Length header, its value, and whether it came
     * chunked, for HTTP_CONTENT_LENGTH and HTTP_TRANSFER_ENCODING when `headers` lacks
     * them (the server's parser consumes both: handler.h). */
    int has_declared_length;
    unsigned long long declared_length;
    int chunked;
} kiln_cgi_request;

/* Appends the CGI environment of `req` to env (replacing keys already there). */
int kiln_cgi_env(const kiln_cgi_request *req, kiln_strv *env);
/* Splits an authority ("host:port", "[v6]:port", "host") into its host (the returned
 * length, from a) and its port (*port, *port_len; NULL and 0 when there is none). */
size_t kiln_cgi_authority_split(const char *a, size_t len, const char **port, size_t *port_len);

/* Appends the guest's argv: `tmpl` is the manifest's argv ("${SCRIPT_NAME} ${ARGS}"
 * when NULL), split at spaces; a word that is exactly ${ARGS} becomes one argument per
 * '&'-separated query item (percent-decoded), elsewhere the variables are substituted. */
int kiln_cgi_argv(const kiln_cgi_request *req, const char *tmpl, kiln_strv *argv);

/* Percent-decodes src into out (appending). "%00" and malformed escapes stay as they
 * are, so the result never contains NUL. 0 or -1 (memory). */
int kiln_cgi_url_decode(const char *src, size_t len, kiln_buf *out);

/* The response parsed from a guest's stdout. Header and body slices point into the
 * output given to kiln_cgi_parse_response. */
typedef struct kiln_cgi_response {
    int status;               /* 100..999; 500/502 when the output is unusable */
    kiln_cgi_header *headers; /* pass-through headers (Content-Type, Location, others) */
    size_t nheaders;
    const char *body;
    size_t body_len;
    int failed;     /* 1: status is an error of the guest's output (see notes) */
    kiln_buf notes; /* "; "-separated reasons for the log (errors, dropped headers) */
} kiln_cgi_response;

/* Parses a guest's stdout. Returns 0 (res filled, possibly with failed = 1 and status
 * 500/502) or -1 when memory ran out. Release with kiln_cgi_response_free. */
int kiln_cgi_parse_response(const char *out, size_t len, kiln_cgi_response *res);
void kiln_cgi_response_free(kiln_cgi_response *res);

#endif
