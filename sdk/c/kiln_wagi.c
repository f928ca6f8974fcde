/* kiln_wagi.c — the WAGI backend of the Kiln C SDK (kiln_backend.h): the handler is a WASI
 * command run once per request; the request is in CGI environment variables (RFC 3875 as
 * WAGI sets them) with the body on stdin, and the response is written to stdout as
 * "Status: CODE REASON", header lines, a blank line and the body.
 *
 * Build: clang --target=wasm32-wasi --sysroot=/usr -O2 main.c kiln.c kiln_wagi.c */
#include "kiln.h"
#include "kiln_backend.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v ? v : dflt;
}

const char *kiln_method(void)
{
    return env_or("REQUEST_METHOD", "GET");
}

const char *kiln_path_info(void)
{
    return env_or("PATH_INFO", "");
}

const char *kiln__query_string(void)
{
    return env_or("QUERY_STRING", "");
}

const char *kiln_path(void)
{
    static char *path;
    if (path) return path;
    /* X_FULL_URL is scheme://authority/path?query; without it, SCRIPT_NAME + PATH_INFO. */
    const char *url = getenv("X_FULL_URL");
    const char *p = url ? strstr(url, "://") : NULL;
    if (p) {
        p = strchr(p + 3, '/');
        if (!p) p = "/";
        path = kiln__xstrndup(p, strcspn(p, "?#"));
    } else {
        kiln__sbuf b = {0};
        kiln__sb_append(&b, "", 0);
        const char *s = env_or("SCRIPT_NAME", ""), *i = kiln_path_info();
        kiln__sb_append(&b, s, strlen(s));
        kiln__sb_append(&b, i, strlen(i));
        if (b.len == 0) kiln__sb_putc(&b, '/');
        path = b.data;
    }
    return path;
}

/* Builds PREFIX + NAME with letters uppercased and everything but letters and digits
 * turned into '_' (how CGI names headers and route parameters). */
static char *cgi_name(const char *prefix, const char *name)
{
    kiln__sbuf b = {0};
    kiln__sb_append(&b, prefix, strlen(prefix));
    for (const char *p = name; *p; p++) {
        unsigned char c = (unsigned char)*p;
        kiln__sb_putc(&b, isalnum(c) ? (char)toupper(c) : '_');
    }
    return b.data;
}

const char *kiln_param(const char *name)
{
    char *var = cgi_name("X_PATH_MATCH_", name);
    const char *v = getenv(var);
    free(var);
    return v;
}

/* CONTENT_TYPE or CONTENT_LENGTH: the server sets them empty when the request has no such
 * header, and an empty one means absent (as in the wasi:http backend). */
static const char *content_var(const char *var)
{
    const char *v = getenv(var);
    return v && *v ? v : NULL;
}

const char *kiln_header(const char *name)
{
    if (strcasecmp(name, "content-type") == 0) return content_var("CONTENT_TYPE");
    if (strcasecmp(name, "content-length") == 0) return content_var("CONTENT_LENGTH");
    char *var = cgi_name("HTTP_", name);
    const char *v = getenv(var);
    free(var);
    return v;
}

int kiln__read_body(kiln__sbuf *body)
{
    const char *cl = getenv("CONTENT_LENGTH");
    char *end = NULL;
    unsigned long long want = cl && *cl ? strtoull(cl, &end, 10) : 0;
    int known = cl && *cl && end && *end == '\0';
    if (known && want > KILN_MAX_BODY) return -1;
    for (;;) {
        size_t chunk = 65536;
        if (known) {
            if (body->len >= want) return 0;
            if (want - body->len < chunk) chunk = (size_t)(want - body->len);
        } else if (body->len >= KILN_MAX_BODY) {
            return -1;
        }
        kiln__sb_reserve(body, chunk);
        size_t n = fread(body->data + body->len, 1, chunk, stdin);
        body->len += n;
        body->data[body->len] = '\0';
        if (n < chunk) return ferror(stdin) ? -1 : 0;
    }
}

/* The reason phrase of common status codes (WAGI wants "Status: CODE REASON"). */
static const char *reason(int status)
{
    static const struct {
        int status;
        const char *text;
    } reasons[] = {
        {200, "OK"},
        {201, "Created"},
        {204, "No Content"},
        {301, "Moved Permanently"},
        {302, "Found"},
        {304, "Not Modified"},
        {400, "Bad Request"},
        {401, "Unauthorized"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {409, "Conflict"},
        {413, "Content Too Large"},
        {415, "Unsupported Media Type"},
        {422, "Unprocessable Content"},
        {500, "Internal Server Error"},
        {501, "Not Implemented"},
        {503, "Service Unavailable"},
    };
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
        if (reasons[i].status == status) return reasons[i].text;
    return "Status";
}

int kiln__emit(int status, size_t n, char *const *names, char *const *values, const char *body,
               size_t len)
{
    printf("Status: %d %s\n", status, reason(status));
    for (size_t i = 0; i < n; i++)
        printf("%s: %s\n", names[i], values[i]);
    putchar('\n');
    if (len) fwrite(body, 1, len, stdout);
    return fflush(stdout) == 0 && !ferror(stdout) ? 0 : -1;
}
