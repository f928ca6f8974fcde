/* kiln.h — the Kiln C guest SDK: write HTTP handlers for Kiln (and Spin, wasmtime serve,
 * jco serve) in C, as wasi:http components or as WAGI modules, from the same source.
 *
 * A handler is an ordinary `int main(void)`, run once per request (Kiln gives every
 * request a fresh instance). Linked with one of the SDK's two backends, it becomes
 *   - a wasi:http component (kiln_http.c): the SDK exports
 *     wasi:http/incoming-handler.handle, reads the request from the incoming-request,
 *     calls main() and answers through the response-outparam (see kiln_http.c);
 *   - a WAGI module (kiln_wagi.c): a WASI command whose request arrives as CGI
 *     environment variables plus the body on stdin, and whose stdout (a header block, a
 *     blank line, the body) becomes the response.
 * This API hides both:
 *
 *     #include "kiln.h"
 *
 *     int main(void)
 *     {
 *         if (strcmp(kiln_method(), "GET") != 0) {
 *             kiln_add_header("Allow", "GET");
 *             return kiln_respond_error(405, "only GET is allowed");
 *         }
 *         const char *who = kiln_query("name");
 *         kiln_set_header("Content-Type", "text/plain; charset=utf-8");
 *         kiln_printf("Hello, %s!\n", who ? who : "world");
 *         return kiln_send();
 *     }
 *
 * Build (Debian's clang and wasi-libc; jco from npm for the component):
 *     component: clang --target=wasm32-wasi --sysroot=/usr -mexec-model=reactor -O2 \
 *                    -o core.wasm main.c kiln.c kiln_http.c kiln_host.c
 *                sh kiln-componentize.sh core.wasm app.wasm
 *     WAGI:      clang --target=wasm32-wasi --sysroot=/usr -O2 \
 *                    -o app.wasm main.c kiln.c kiln_wagi.c
 *
 * Requests
 *   kiln_method()      the method ("GET", "POST", ...)
 *   kiln_path()        the request path as sent (percent-encoded, without the query)
 *   kiln_path_info()   the part of the path below the route's "/..." (decoded)
 *   kiln_param(name)   a route segment `:name` (WAGI: X_PATH_MATCH_<NAME>; wasi:http:
 *                      the spin-path-match-<name> header)
 *   kiln_query(name)   a query parameter, decoded ('+' is a space, %XX escapes)
 *   kiln_header(name)  a request header by its HTTP name ("User-Agent")
 *   kiln_body(&len)    the body, read whole on first use
 * Every string returned stays valid until the program exits; NULL means "absent".
 *
 * Responses are buffered until kiln_send() (or kiln_respond_error()) writes them, so a
 * handler can still change its mind (e.g. turn a half-built answer into an error).
 *
 * Errors: kiln_respond_error(status, fmt, ...) discards the body built so far and
 * answers `{"error": "<message>", "status": <status>}` as application/json, keeping the
 * headers already added (e.g. `Allow` for a 405).
 *
 * JSON: kiln_write_json_string() writes an escaped JSON string into the body;
 * kiln_jv_parse() is a small strict RFC 8259 reader (objects, arrays, strings with all
 * escapes and UTF-8 validation, numbers, true/false/null; no comments, no trailing
 * commas, no duplicate keys, depth at most KILN_JV_MAX_DEPTH).
 *
 * Memory: when an allocation fails the SDK writes nothing and exits with status 70,
 * which Kiln answers with a 500 and logs.
 *
 * A wasi:http handler returns from main (exit() ends the instance: the host answers 500);
 * one that returns without kiln_send() gets what it built (status 0) or a 500. */
#ifndef KILN_SDK_H
#define KILN_SDK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the request ---- */

/* The HTTP method ("GET" when unknown, e.g. a WAGI module run by hand). */
const char *kiln_method(void);
/* The raw request path ("/users/a%20b"), without the query string. */
const char *kiln_path(void);
/* The path below the matched route, percent-decoded ("" for an exact route). */
const char *kiln_path_info(void);
/* The value of route segment `:name` (case-insensitive name), or NULL. */
const char *kiln_param(const char *name);
/* The first query parameter called `name`, decoded; "" for `?flag`; NULL if absent. */
const char *kiln_query(const char *name);
/* The number of query parameters and the i-th one (decoded), for iterating. */
size_t kiln_query_count(void);
int kiln_query_at(size_t i, const char **name, const char **value);
/* A request header by name ("Content-Type", "x-api-key"; any case), or NULL. Repeated
 * headers come joined with ", ". A WAGI handler never sees Authorization and Connection
 * (CGI withholds them); a wasi:http component sees every header the host passes. */
const char *kiln_header(const char *name);
/* The request body (NUL-terminated for convenience; *len is the exact length, the body
 * may contain NUL bytes). Returns NULL (and *len = 0) if it could not be read or is
 * larger than KILN_MAX_BODY. */
#ifndef KILN_MAX_BODY
#define KILN_MAX_BODY (64u << 20)
#endif
const char *kiln_body(size_t *len);

/* ---- the response ---- */

/* Sets the status (default 200). */
void kiln_status(int status);
/* Adds a header (repeatable, e.g. Set-Cookie). Returns -1, adding nothing, when the name
 * is not an HTTP token or the value contains CR, LF or other control characters. */
int kiln_add_header(const char *name, const char *value);
/* Sets a header, replacing every earlier one of the same name (case-insensitive). */
int kiln_set_header(const char *name, const char *value);
/* Appends to the body. */
void kiln_write(const void *data, size_t len);
void kiln_puts(const char *s);
void kiln_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Appends `s` (len bytes, may contain NUL) as a quoted, escaped JSON string. Invalid
 * UTF-8 bytes are replaced by U+FFFD so the output is always valid JSON. */
void kiln_write_json_string(const char *s, size_t len);
/* Sends the response (status, headers, body): to stdout for WAGI, as the outgoing-response
 * for wasi:http. Without a Content-Type, "text/plain; charset=utf-8" is used. Returns 0, or
 * 1 if writing failed: meant for `return kiln_send();` in main. A second call does
 * nothing. */
int kiln_send(void);
/* Shortcut: status, Content-Type and a NUL-terminated body, then kiln_send(). */
int kiln_respond(int status, const char *content_type, const char *body);
/* Discards the body and Content-Type built so far and sends
 * {"error": "<message>", "status": N} as application/json with the given status.
 * Returns kiln_send()'s result. */
int kiln_respond_error(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- host APIs (wasi:http components: link kiln_host.c with kiln_http.c) ----
 *
 * The interfaces Spin's SDKs import, so the component runs on Kiln and Spin alike; the
 * manifest grants what they reach (key_value_stores, variables, allowed_outbound_hosts).
 * On failure they return -1 (or NULL) and kiln_error() says why, e.g.
 * "key-value: access-denied" or "http: HTTP-request-denied". */

/* The last host API error message ("" when none). */
const char *kiln_error(void);

/* Key-value (fermyon:spin/key-value@2.0.0) in store `store` (NULL: "default").
 * kiln_kv_get: 1 with *value (malloc'd, NUL-terminated; *len its exact length; free it),
 * 0 when the key is absent, -1 on error. set, delete: 0 or -1. exists: 1, 0 or -1. */
int kiln_kv_get(const char *store, const char *key, char **value, size_t *len);
int kiln_kv_set(const char *store, const char *key, const void *value, size_t len);
int kiln_kv_delete(const char *store, const char *key);
int kiln_kv_exists(const char *store, const char *key);

/* A component variable (fermyon:spin/variables@2.0.0: [component.X.variables]), or NULL. */
const char *kiln_variable_get(const char *name);

/* SQLite (fermyon:spin/sqlite@2.0.0, sqlite_databases = ["default"]): a value, as a
 * parameter (text/blob: len bytes at text, which need not be NUL-terminated) or as a
 * result (text/blob malloc'd and NUL-terminated, len its exact length). */
typedef enum kiln_sql_type {
    KILN_SQL_NULL,
    KILN_SQL_INTEGER,
    KILN_SQL_REAL,
    KILN_SQL_TEXT,
    KILN_SQL_BLOB,
} kiln_sql_type;

typedef struct kiln_sql_value {
    kiln_sql_type type;
    int64_t integer;
    double real;
    char *text; /* TEXT, BLOB */
    size_t len;
} kiln_sql_value;

/* A query's result: nrows rows of ncolumns values, row-major (values[row * ncolumns + col]). */
typedef struct kiln_sql_result {
    size_t ncolumns, nrows;
    char **columns;
    kiln_sql_value *values;
} kiln_sql_result;

/* Runs one statement on database db (NULL: "default") with its `?` parameters bound by the
 * host (never interpolated): 0 with *res (free with kiln_sql_result_free; empty for a
 * statement without rows), or -1 with kiln_error() ("sqlite: access-denied" when
 * sqlite_databases does not grant db, "sqlite: io: ..." for SQL errors). */
int kiln_sql_query(const char *db, const char *statement, const kiln_sql_value *params,
                   size_t nparams, kiln_sql_result *res);
/* The value of column `column` in row `row`, or NULL. */
const kiln_sql_value *kiln_sql_at(const kiln_sql_result *res, size_t row, const char *column);
void kiln_sql_result_free(kiln_sql_result *res);

/* An outbound HTTP response, read whole. */
typedef struct kiln_http_response {
    int status;
    char *body; /* NUL-terminated; body_len its exact length */
    size_t body_len;
    size_t nheaders; /* names (lowercase) and values */
    char **names, **values;
} kiln_http_response;

/* Sends a request (wasi:http/outgoing-handler) and waits for the whole response: method
 * (NULL: GET), url ("https://host[:port]/path?q", or "/path" for the app itself), headers
 * ("Name: value" strings, NULL-terminated; NULL: none), body (NULL: none). 0 with *resp
 * (free with kiln_http_response_free), or -1 with kiln_error() ("http: HTTP-request-denied"
 * when allowed_outbound_hosts does not grant the host). Bodies up to KILN_MAX_BODY. */
int kiln_http_fetch(const char *method, const char *url, const char *const *headers,
                    const void *body, size_t body_len, kiln_http_response *resp);
/* One request of kiln_http_fetch_all: kiln_http_fetch's arguments. */
typedef struct kiln_http_request {
    const char *method; /* NULL: GET */
    const char *url;
    const char *const *headers;
    const void *body; /* NULL: none */
    size_t body_len;
} kiln_http_request;

/* Fan-out: sends the n requests at once and waits for all of them together (their futures
 * polled with wasi:io/poll.poll), so n requests to a slow upstream take about as long as
 * one. resps[i] and rcs[i] (0 or -1) are request i's, as kiln_http_fetch would give them
 * (free each response with kiln_http_response_free). 0 when all succeeded, else -1 with
 * kiln_error() naming the last failure. */
int kiln_http_fetch_all(size_t n, const kiln_http_request *reqs, kiln_http_response *resps,
                        int *rcs);
/* A response header by name (any case), or NULL. */
const char *kiln_http_response_header(const kiln_http_response *resp, const char *name);
void kiln_http_response_free(kiln_http_response *resp);

/* ---- JSON reader ---- */

#define KILN_JV_MAX_DEPTH 64

typedef enum kiln_jv_type {
    KILN_JV_NULL,
    KILN_JV_BOOL,
    KILN_JV_NUMBER,
    KILN_JV_STRING,
    KILN_JV_ARRAY,
    KILN_JV_OBJECT,
} kiln_jv_type;

typedef struct kiln_jv kiln_jv;
struct kiln_jv {
    kiln_jv_type type;
    int boolean;   /* BOOL */
    double number; /* NUMBER */
    char *string;  /* STRING: NUL-terminated; string_len counts bytes (may include NUL) */
    size_t string_len;
    size_t len;     /* ARRAY, OBJECT: number of items */
    kiln_jv *items; /* ARRAY, OBJECT: the values */
    char **keys;    /* OBJECT: the keys (NUL-terminated, no NUL inside) */
};

/* Parses `len` bytes of JSON. Returns the value (free with kiln_jv_free) or NULL with a
 * message like "expected ':' at offset 12" in err (errlen bytes; may be NULL). */
kiln_jv *kiln_jv_parse(const char *text, size_t len, char *err, size_t errlen);
/* The member `key` of an object, or NULL (also when v is not an object). */
const kiln_jv *kiln_jv_get(const kiln_jv *v, const char *key);
/* The string of a STRING value without NUL bytes inside, else NULL. */
const char *kiln_jv_string(const kiln_jv *v);
void kiln_jv_free(kiln_jv *v);

#ifdef __cplusplus
}
#endif

#endif
