/* handler.c — helpers shared by the server and the handlers (see handler.h). */
#include "exec/handler.h"
#include "util/buf.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long buffer_read(kiln_body_source *s, void *buf, size_t cap)
{
    size_t n = s->len - s->off;
    if (n > cap) n = cap;
    if (n > (size_t)LONG_MAX) n = (size_t)LONG_MAX;
    if (n) memcpy(buf, s->data + s->off, n);
    s->off += n;
    return (long)n;
}

void kiln_body_source_buffer(kiln_body_source *s, const void *data, size_t len)
{
    *s = (kiln_body_source){
        .read = buffer_read, .length_hint = len, .data = data, .len = len, .off = 0};
}

void kiln_response_simple(kiln_response *res, int status, const char *ctype,
                          const kiln_http_header *headers, size_t n, const void *body, size_t len)
{
    kiln_http_header local[8];
    const kiln_http_header *hs = headers;
    if (ctype && n < sizeof local / sizeof local[0]) {
        if (n) memcpy(local, headers, n * sizeof *local);
        local[n++] = (kiln_http_header){"content-type", 12, ctype, strlen(ctype)};
        hs = local;
    }
    res->content_length = len;
    if (res->ops->start(res, status, hs, n) == 0 && len) res->ops->write(res, body, len);
    res->ops->finish(res, NULL, 0);
}

void kiln_response_error(kiln_response *res, int status)
{
    char body[96];
    int len = snprintf(body, sizeof body, "%d %s\n", status, kiln_http_reason(status));
    size_t blen = len < 0 ? 0 : (size_t)len >= sizeof body ? sizeof body - 1 : (size_t)len;
    kiln_http_header retry = {"retry-after", 11, "1", 1};
    kiln_response_simple(res, status, "text/plain; charset=utf-8", &retry, status == 503 ? 1 : 0,
                         body, blen);
}

void kiln_log_error(const char *fmt, ...)
{
    kiln_buf msg = KILN_BUF_INIT, b = KILN_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    int rc = kiln_buf_vprintf(&msg, fmt, ap);
    va_end(ap);
    rc |= kiln_buf_puts(&b, "kiln: ");
    for (size_t i = 0; i < msg.len && rc == 0; i++) {
        unsigned char c = (unsigned char)msg.data[i];
        rc =
            c >= 0x20 && c != 0x7f ? kiln_buf_putc(&b, (char)c) : kiln_buf_printf(&b, "\\x%02x", c);
    }
    if (rc == 0 && kiln_buf_putc(&b, '\n') == 0) {
        ssize_t w = write(2, b.data, b.len);
        (void)w; /* a closed stderr must not stop the server */
    }
    kiln_buf_free(&msg);
    kiln_buf_free(&b);
}

const char *kiln_http_reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 206:
        return "Partial Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 303:
        return "See Other";
    case 304:
        return "Not Modified";
    case 307:
        return "Temporary Redirect";
    case 308:
        return "Permanent Redirect";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 413:
        return "Payload Too Large";
    case 415:
        return "Unsupported Media Type";
    case 417:
        return "Expectation Failed";
    case 418:
        return "I'm a teapot";
    case 422:
        return "Unprocessable Content";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "Unknown";
    }
}

int64_t kiln_realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
