/* cgi.c — request → CGI environment/argv, guest stdout → response (see cgi.h). */
#include "server/cgi.h"
#include "util/alloc.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ---- string vectors ---- */

int kiln_strv_pushn(kiln_strv *sv, const char *s, size_t len)
{
    if (sv->n + 1 >= sv->cap) {
        size_t ncap = sv->cap ? sv->cap * 2 : 16;
        char **v = kiln_realloc(sv->v, ncap * sizeof *v);
        if (!v) return -1;
        sv->v = v;
        sv->cap = ncap;
    }
    char *c = kiln_strndup(s, len);
    if (!c) return -1;
    sv->v[sv->n++] = c;
    sv->v[sv->n] = NULL; /* keeps v NULL-terminated like an argv */
    return 0;
}

int kiln_strv_push(kiln_strv *sv, const char *s)
{
    return kiln_strv_pushn(sv, s, strlen(s));
}

int kiln_strv_setenv(kiln_strv *sv, const char *key, size_t key_len, const char *val,
                     size_t val_len)
{
    kiln_buf b = KILN_BUF_INIT;
    if (kiln_buf_append(&b, key, key_len) < 0 || kiln_buf_putc(&b, '=') < 0 ||
        kiln_buf_append(&b, val, val_len) < 0) {
        kiln_buf_free(&b);
        return -1;
    }
    for (size_t i = 0; i < sv->n; i++) {
        if (strncmp(sv->v[i], key, key_len) == 0 && sv->v[i][key_len] == '=') {
            kiln_free(sv->v[i]);
            sv->v[i] = kiln_buf_steal(&b);
            return 0;
        }
    }
    int rc = kiln_strv_pushn(sv, b.data, b.len);
    kiln_buf_free(&b);
    return rc;
}

int kiln_strv_putenv(kiln_strv *sv, const char *kv)
{
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv) return 0;
    return kiln_strv_setenv(sv, kv, (size_t)(eq - kv), eq + 1, strlen(eq + 1));
}

void kiln_strv_free(kiln_strv *sv)
{
    for (size_t i = 0; i < sv->n; i++)
        kiln_free(sv->v[i]);
    kiln_free(sv->v);
    sv->v = NULL;
    sv->n = sv->cap = 0;
}

/* ---- request side ---- */

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int kiln_cgi_url_decode(const char *src, size_t len, kiln_buf *out)
{
    if (kiln_buf_reserve(out, len) < 0) return -1;
    for (size_t i = 0; i < len; i++) {
        char c = src[i];
        if (c == '%' && i + 2 < len) {
            int h = hexval((unsigned char)src[i + 1]), l = hexval((unsigned char)src[i + 2]);
            if (h >= 0 && l >= 0 && (h | l) != 0) {
                c = (char)(h * 16 + l);
                i += 2;
            }
        }
        if (kiln_buf_putc(out, c) < 0) return -1;
    }
    return 0;
}

/* Sets KEY to a (ptr, len) value. */
static int setv(kiln_strv *env, const char *key, const char *val, size_t len)
{
    return kiln_strv_setenv(env, key, strlen(key), val ? val : "", val ? len : 0);
}

static int sets(kiln_strv *env, const char *key, const char *val)
{
    return setv(env, key, val, val ? strlen(val) : 0);
}

/* 1 if c may appear in an HTTP header name (RFC 9110 tchar). */
static int is_tchar(unsigned char c)
{
    return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* 1 if the header name equals `want` (lowercase), ignoring case. */
static int name_is(const char *name, size_t len, const char *want)
{
    return strlen(want) == len && strncasecmp(name, want, len) == 0;
}

/* Adds HTTP_<NAME> for every request header but the excluded ones; repeated headers
 * are joined with ", ". */
static int header_env(const kiln_cgi_request *req, kiln_strv *env)
{
    kiln_buf key = KILN_BUF_INIT, val = KILN_BUF_INIT;
    int rc = 0;
    for (size_t i = 0; i < req->nheaders && rc == 0; i++) {
        const kiln_cgi_header *h = &req->headers[i];
        if ((!req->pass_authorization && name_is(h->name, h->name_len, "authorization")) ||
            name_is(h->name, h->name_len, "connection") || name_is(h->name, h->name_len, "proxy") ||
            h->name_len == 0)
            continue;
        int ok = 1, seen = 0;
        for (size_t k = 0; k < h->name_len; k++)
            ok &= is_tchar((unsigned char)h->name[k]);
        if (memchr(h->value, '\0', h->value_len)) ok = 0;
        for (size_t j = 0; j < i && ok; j++) {
            const kiln_cgi_header *p = &req->headers[j];
            if (p->name_len == h->name_len && strncasecmp(p->name, h->name, h->name_len) == 0)
                seen = 1;
        }
        if (!ok || seen) continue;
        kiln_buf_reset(&key);
        kiln_buf_reset(&val);
        rc |= kiln_buf_puts(&key, "HTTP_");
        for (size_t k = 0; k < h->name_len && rc == 0; k++) {
            unsigned char c = (unsigned char)h->name[k];
            rc |= kiln_buf_putc(&key, isalnum(c) ? (char)toupper(c) : '_');
        }
        for (size_t j = i; j < req->nheaders && rc == 0; j++) {
            const kiln_cgi_header *p = &req->headers[j];
            if (p->name_len != h->name_len || strncasecmp(p->name, h->name, h->name_len) != 0 ||
                memchr(p->value, '\0', p->value_len))
                continue;
            if (val.len) rc |= kiln_buf_puts(&val, ", ");
            rc |= kiln_buf_append(&val, p->value, p->value_len);
        }
        if (rc == 0) rc = setv(env, key.data, val.data ? val.data : "", val.len);
    }
    kiln_buf_free(&key);
    kiln_buf_free(&val);
    return rc < 0 ? -1 : 0;
}

/* Splits the authority into SERVER_NAME and SERVER_PORT (IPv6 literals keep brackets). */
static int server_env(const kiln_cgi_request *req, kiln_strv *env)
{
    const char *a = req->authority ? req->authority : "";
    size_t len = req->authority ? req->authority_len : 0;
    size_t host_len = len;
    const char *port = NULL;
    size_t port_len = 0;
    const char *close = len && a[0] == '[' ? memchr(a, ']', len) : NULL;
    const char *colon = NULL;
    if (close) {
        if ((size_t)(close - a) + 1 < len && close[1] == ':') colon = close + 1;
    } else {
        colon = memchr(a, ':', len);
    }
    if (colon) {
        host_len = (size_t)(colon - a);
        port = colon + 1;
        port_len = len - host_len - 1;
    }
    char def[16];
    if (!port || port_len == 0) {
        int p = req->server_port > 0 ? req->server_port
                : strcmp(req->scheme ? req->scheme : "http", "https") == 0 ? 443
                                                                           : 80;
        snprintf(def, sizeof def, "%d", p);
        port = def;
        port_len = strlen(def);
    }
    if (setv(env, "SERVER_NAME", a, host_len) < 0) return -1;
    return setv(env, "SERVER_PORT", port, port_len);
}

int kiln_cgi_env(const kiln_cgi_request *req, kiln_strv *env)
{
    const kiln_route_match *m = req->match;
    size_t prefix = m && m->prefix_len <= req->path_len ? m->prefix_len : req->path_len;
    const char *raw_info = req->path + prefix;
    size_t raw_info_len = req->path_len - prefix;
    const char *script = m && m->nparams == 0 ? m->base : NULL;
    size_t script_len = script ? strlen(script) : prefix;
    if (!script) script = req->path;
    kiln_buf info = KILN_BUF_INIT, url = KILN_BUF_INIT, tmp = KILN_BUF_INIT;
    int rc = 0;
    char num[32];
    rc |= kiln_cgi_url_decode(raw_info, raw_info_len, &info);
    rc |= kiln_buf_printf(&url, "%s://", req->scheme ? req->scheme : "http");
    if (req->authority) rc |= kiln_buf_append(&url, req->authority, req->authority_len);
    rc |= kiln_buf_append(&url, req->path, req->path_len);
    if (req->query && req->query_len) {
        rc |= kiln_buf_putc(&url, '?');
        rc |= kiln_buf_append(&url, req->query, req->query_len);
    }
    if (rc) goto out;
    snprintf(num, sizeof num, "%zu", req->content_length);
    rc |= sets(env, "AUTH_TYPE", "");
    rc |= sets(env, "CONTENT_LENGTH", num);
    rc |= sets(env, "CONTENT_TYPE", "");
    for (size_t i = 0; i < req->nheaders; i++)
        if (name_is(req->headers[i].name, req->headers[i].name_len, "content-type") &&
            !memchr(req->headers[i].value, '\0', req->headers[i].value_len)) {
            rc |= setv(env, "CONTENT_TYPE", req->headers[i].value, req->headers[i].value_len);
            break;
        }
    rc |= sets(env, "GATEWAY_INTERFACE", "CGI/1.1");
    rc |= setv(env, "QUERY_STRING", req->query, req->query_len);
    rc |= sets(env, "REMOTE_ADDR", req->client_ip);
    rc |= sets(env, "REMOTE_HOST", req->client_ip);
    rc |= sets(env, "REMOTE_USER", "");
    rc |= setv(env, "REQUEST_METHOD", req->method, req->method_len);
    rc |= setv(env, "SCRIPT_NAME", script, script_len);
    rc |= setv(env, "PATH_INFO", info.data, info.len);
    rc |= setv(env, "PATH_TRANSLATED", info.data, info.len);
    rc |= server_env(req, env);
    rc |= sets(env, "SERVER_PROTOCOL", req->protocol ? req->protocol : "HTTP/1.1");
    rc |= sets(env, "SERVER_SOFTWARE", "WAGI/1");
    rc |= sets(env, "X_MATCHED_ROUTE", m ? m->route : "");
    rc |= setv(env, "X_RAW_PATH_INFO", raw_info, raw_info_len);
    rc |= setv(env, "X_FULL_URL", url.data, url.len);
    rc |= sets(env, "X_RAW_COMPONENT_ROUTE", m ? m->route : "");
    rc |= sets(env, "X_COMPONENT_ROUTE", m ? m->base : "");
    rc |= sets(env, "X_BASE_PATH", "/");
    snprintf(num, sizeof num, ":%d", req->client_port);
    rc |= kiln_buf_puts(&tmp, req->client_ip ? req->client_ip : "");
    rc |= kiln_buf_puts(&tmp, num);
    if (rc == 0) rc |= setv(env, "X_CLIENT_ADDR", tmp.data, tmp.len);
    for (size_t i = 0; m && i < m->nparams && rc == 0; i++) {
        kiln_buf_reset(&tmp);
        rc |= kiln_buf_puts(&tmp, "X_PATH_MATCH_");
        for (const char *p = m->params[i].name; *p && rc == 0; p++)
            rc |= kiln_buf_putc(&tmp, isalnum((unsigned char)*p) ? (char)toupper((unsigned char)*p)
                                                                 : '_');
        kiln_buf_reset(&info);
        rc |= kiln_cgi_url_decode(m->params[i].value, m->params[i].value_len, &info);
        if (rc == 0) rc |= setv(env, tmp.data, info.data, info.len);
    }
    if (rc == 0) rc |= header_env(req, env);
    if (rc == 0 && req->authority && memchr(req->authority, '\0', req->authority_len) == NULL)
        rc |= setv(env, "HTTP_HOST", req->authority, req->authority_len);
out:
    kiln_buf_free(&info);
    kiln_buf_free(&url);
    kiln_buf_free(&tmp);
    return rc ? -1 : 0;
}

/* Appends the query's '&'-separated items, percent-decoded, as arguments. */
static int push_args(const kiln_cgi_request *req, kiln_strv *argv)
{
    const char *q = req->query, *end = req->query ? req->query + req->query_len : NULL;
    kiln_buf b = KILN_BUF_INIT;
    int rc = 0;
    while (q && q < end && rc == 0) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        if (!amp) amp = end;
        if (amp > q) {
            kiln_buf_reset(&b);
            rc |= kiln_cgi_url_decode(q, (size_t)(amp - q), &b);
            if (rc == 0) rc |= kiln_strv_pushn(argv, b.data ? b.data : "", b.len);
        }
        q = amp + 1;
    }
    kiln_buf_free(&b);
    return rc ? -1 : 0;
}

int kiln_cgi_argv(const kiln_cgi_request *req, const char *tmpl, kiln_strv *argv)
{
    if (!tmpl) tmpl = "${SCRIPT_NAME} ${ARGS}";
    const kiln_route_match *m = req->match;
    const char *script = m && m->nparams == 0 ? m->base : NULL;
    size_t prefix = m && m->prefix_len <= req->path_len ? m->prefix_len : req->path_len;
    size_t script_len = script ? strlen(script) : prefix;
    if (!script) script = req->path;
    kiln_buf word = KILN_BUF_INIT, args = KILN_BUF_INIT;
    kiln_strv list = {0};
    int rc = push_args(req, &list);
    for (size_t i = 0; i < list.n && rc == 0; i++) {
        if (i) rc |= kiln_buf_putc(&args, ' ');
        rc |= kiln_buf_puts(&args, list.v[i]);
    }
    const char *p = tmpl;
    while (*p && rc == 0) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p) break;
        const char *w = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        size_t wl = (size_t)(p - w);
        if (wl == 7 && memcmp(w, "${ARGS}", 7) == 0) {
            for (size_t i = 0; i < list.n && rc == 0; i++)
                rc |= kiln_strv_push(argv, list.v[i]);
            continue;
        }
        kiln_buf_reset(&word);
        for (const char *c = w; c < p && rc == 0;) {
            if ((size_t)(p - c) >= 14 && memcmp(c, "${SCRIPT_NAME}", 14) == 0) {
                rc |= kiln_buf_append(&word, script, script_len);
                c += 14;
            } else if ((size_t)(p - c) >= 7 && memcmp(c, "${ARGS}", 7) == 0) {
                rc |= kiln_buf_append(&word, args.data ? args.data : "", args.len);
                c += 7;
            } else {
                rc |= kiln_buf_putc(&word, *c++);
            }
        }
        if (rc == 0) rc |= kiln_strv_pushn(argv, word.data ? word.data : "", word.len);
    }
    kiln_buf_free(&word);
    kiln_buf_free(&args);
    kiln_strv_free(&list);
    return rc ? -1 : 0;
}

/* ---- response side ---- */

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

/* Appends a note for the log, "; "-separated. */
static int note(kiln_cgi_response *res, const char *fmt, const char *s, size_t len)
{
    if (res->notes.len && kiln_buf_puts(&res->notes, "; ") < 0) return -1;
    /* the guest's bytes are quoted with non-printable ones escaped, at most 64 */
    kiln_buf q = KILN_BUF_INIT;
    int rc = 0;
    for (size_t i = 0; i < len && i < 64 && rc == 0; i++) {
        unsigned char c = (unsigned char)s[i];
        rc = c >= 0x20 && c < 0x7f && c != '\\' ? kiln_buf_putc(&q, (char)c)
                                                : kiln_buf_printf(&q, "\\x%02x", c);
    }
    if (rc == 0 && len > 64) rc = kiln_buf_puts(&q, "...");
    if (rc == 0) rc = kiln_buf_printf(&res->notes, fmt, q.data ? q.data : "");
    kiln_buf_free(&q);
    return rc;
}

static int fail(kiln_cgi_response *res, int status, const char *msg)
{
    res->status = status;
    res->failed = 1;
    if (res->notes.len && kiln_buf_puts(&res->notes, "; ") < 0) return -1;
    return kiln_buf_puts(&res->notes, msg);
}

/* Framing and hop-by-hop headers are the server's business, never the guest's. */
static int is_framing(const char *n, size_t len)
{
    static const char *const names[] = {
        "content-length", "transfer-encoding", "connection", "keep-alive",
        "upgrade",        "proxy-connection",  "te",         "trailer",
        "http2-settings"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (name_is(n, len, names[i])) return 1;
    return 0;
}

/* Trims spaces and tabs (and, at the end, CRs) around [*p, *p + *len). */
static void trim(const char **p, size_t *len)
{
    while (*len && (**p == ' ' || **p == '\t'))
        (*p)++, (*len)--;
    while (*len && ((*p)[*len - 1] == ' ' || (*p)[*len - 1] == '\t' || (*p)[*len - 1] == '\r'))
        (*len)--;
}

/* Handles one header line of the guest's output. */
static int header_line(kiln_cgi_response *res, const char *line, size_t len, int *have_status,
                       int *have_location, int *have_type)
{
    const char *colon = memchr(line, ':', len);
    if (!colon) return note(res, "ignored a header line without ':': \"%s\"", line, len);
    const char *name = line, *val = colon + 1;
    size_t nlen = (size_t)(colon - line), vlen = len - nlen - 1;
    trim(&name, &nlen);
    trim(&val, &vlen);
    int ok = nlen > 0;
    for (size_t i = 0; i < nlen; i++)
        ok &= is_tchar((unsigned char)name[i]);
    if (!ok) return note(res, "dropped a header with an invalid name: \"%s\"", line, len);
    for (size_t i = 0; i < vlen; i++) {
        unsigned char c = (unsigned char)val[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return note(res, "dropped a header with control characters: \"%s\"", line, len);
    }
    if (name_is(name, nlen, "status")) {
        int code = 0;
        size_t i = 0;
        while (i < vlen && i < 4 && isdigit((unsigned char)val[i]))
            code = code * 10 + (val[i++] - '0');
        if (i != 3 || (i < vlen && val[i] != ' ' && val[i] != '\t') || code < 100) {
            res->status = 502;
            res->failed = 1;
            return note(res, "the guest's Status header is not a valid status code: \"%s\"", val,
                        vlen);
        }
        if (!res->failed) res->status = code;
        *have_status = 1;
        return 0;
    }
    if (is_framing(name, nlen))
        return note(res, "dropped the hop-by-hop header \"%s\"", name, nlen);
    if (name_is(name, nlen, "location")) *have_location = 1;
    if (name_is(name, nlen, "content-type")) *have_type = 1;
    kiln_cgi_header *h = kiln_realloc(res->headers, (res->nheaders + 1) * sizeof *h);
    if (!h) return -1;
    res->headers = h;
    h[res->nheaders++] = (kiln_cgi_header){name, nlen, val, vlen};
    return 0;
}

int kiln_cgi_parse_response(const char *out, size_t len, kiln_cgi_response *res)
{
    memset(res, 0, sizeof *res);
    res->status = 200;
    res->body = out;
    if (len == 0)
        return fail(res, 500,
                    "the component wrote nothing to stdout; a WAGI handler must print CGI "
                    "headers, a blank line and the body (check the trigger's executor "
                    "setting: a component that is not a WAGI handler needs another executor)");
    const char *p = out, *end = out + len;
    int have_status = 0, have_location = 0, have_type = 0, blank = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        /* CR bytes in the header block are ignored: a line of CRs is blank */
        const char *c = p;
        while (c < le && *c == '\r')
            c++;
        if (c == le) {
            blank = 1;
            p = nl ? nl + 1 : end;
            break;
        }
        if (header_line(res, p, (size_t)(le - p), &have_status, &have_location, &have_type) < 0)
            return -1;
        p = nl ? nl + 1 : end;
    }
    res->body = blank ? p : end;
    res->body_len = blank ? (size_t)(end - p) : 0;
    if (res->failed) return 0;
    if (!blank && res->nheaders == 0 && !have_status)
        return fail(res, 500,
                    "the component's output has no CGI header block (Content-Type, Location or "
                    "Status, then a blank line)");
    if (!have_status && !have_location && !have_type)
        return fail(res, 500,
                    "the component's output has none of the headers Content-Type, Location or "
                    "Status");
    if (have_location && !have_status) res->status = 302;
    return 0;
}

void kiln_cgi_response_free(kiln_cgi_response *res)
{
    kiln_free(res->headers);
    res->headers = NULL;
    res->nheaders = 0;
    kiln_buf_free(&res->notes);
}
