/* kiln_backend.h — inside the Kiln C SDK: what the shared part (kiln.c) and a backend
 * (kiln_http.c for wasi:http components, kiln_wagi.c for WAGI modules) give each other.
 * Not for handlers: they include kiln.h only.
 *
 * kiln.c owns everything that does not depend on how the request arrives: memory helpers,
 * growable buffers, percent-decoding, the query parameters, the body cache, the response
 * being built (status, headers, body) and JSON. A backend owns the transport:
 *   - kiln_method(), kiln_path(), kiln_path_info(), kiln_param(), kiln_header() (kiln.h),
 *   - kiln__query_string(): the raw query ("" if none),
 *   - kiln__read_body(): reads the whole body once, at most KILN_MAX_BODY bytes,
 *   - kiln__emit(): writes the finished response.
 * Exactly one backend is linked into a handler. The internal names start with `kiln__`. */
#ifndef KILN_SDK_BACKEND_H
#define KILN_SDK_BACKEND_H

#include <stdarg.h>
#include <stddef.h>

/* Out of memory: writes a line to stderr and exits with status 70 (the host answers 500). */
_Noreturn void kiln__oom(void);
void *kiln__xmalloc(size_t n);
void *kiln__xrealloc(void *p, size_t n);
/* A NUL-terminated copy of n bytes of s. */
char *kiln__xstrndup(const char *s, size_t n);

/* A growable byte string, always NUL-terminated once anything was appended. */
typedef struct kiln__sbuf {
    char *data;
    size_t len, cap;
} kiln__sbuf;

/* Makes room for `extra` more bytes plus the terminating NUL. */
void kiln__sb_reserve(kiln__sbuf *b, size_t extra);
void kiln__sb_append(kiln__sbuf *b, const void *p, size_t n);
void kiln__sb_putc(kiln__sbuf *b, char c);
void kiln__sb_vprintf(kiln__sbuf *b, const char *fmt, va_list ap);

/* Percent-decodes len bytes of s into a new string: %XX becomes a byte (except %00 and
 * malformed escapes, kept as written so that the result is a C string), and '+' becomes
 * a space when `plus` is set (query strings) and stays '+' otherwise (paths). */
char *kiln__url_decode(const char *s, size_t len, int plus);

/* Forgets the request and the response of the previous call (freeing them), so that a
 * backend whose instance serves several requests starts each one afresh. */
void kiln__reset(void);

/* ---- implemented by the backend ---- */

/* The raw query string (without '?'; "" when there is none). */
const char *kiln__query_string(void);
/* Appends the whole request body to body (which starts empty). Returns 0, or -1 when it
 * could not be read or is longer than KILN_MAX_BODY. Called at most once per request. */
int kiln__read_body(kiln__sbuf *body);
/* Writes the response: a status in 100..999, n headers (names are HTTP tokens, values
 * have no CR/LF), the body. Returns 0 or -1. Called at most once per request. */
int kiln__emit(int status, size_t n, char *const *names, char *const *values, const char *body,
               size_t len);

#endif
