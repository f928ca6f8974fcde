/* The outbound HTTP test handler of tests/e2e/up_outbound.sh (tests/components/build.sh,
 * entry c-outbound), written against the bindings `wit-bindgen c` generates for world.wit.
 * Parameters come in the query, url= last (everything after it is the URL):
 *   /fetch?[method=post&][body=TEXT&][bodyn=N&][fbt=MS&][bbt=MS&]url=URL   (URL "/path":
 *        relative; bodyn: a body of N bytes "abcd...", instead of body)
 *        one request (fbt, bbt: first-byte and between-bytes timeouts); 200: "status: S\n
 *        x-upstream: V\nbody: BODY\n", BODY ending in "<read-error>" when reading it
 *        failed, then "trailers: NAME=VALUE;...\n" when the upstream sent trailers
 *        ("trailers: error NAME\n" when they failed) (502: "error: NAME\n")
 *   /stream?url=URL
 *        the upstream's status, its body streamed through as it is read (blocking-read)
 *   /fanout?n=N&url=URL
 *        N requests at once, the futures polled together; 200: "done N:" and each status
 *   anything else 404 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hello.h"

/* A growable byte buffer. */
typedef struct buf {
    char *p;
    size_t len, cap;
} buf;

static void put(buf *b, const void *d, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        if (!b->p) abort();
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void puts_(buf *b, const char *s)
{
    put(b, s, strlen(s));
}

/* The value of query parameter name (before url=), or NULL; *n its length. */
static const char *param(const char *q, const char *name, size_t *n)
{
    size_t k = strlen(name);
    for (const char *p = q; p && *p;) {
        if (strncmp(p, name, k) == 0 && p[k] == '=') {
            const char *v = p + k + 1;
            if (strcmp(name, "url") == 0) {
                *n = strlen(v);
                return v;
            }
            const char *e = strchr(v, '&');
            *n = e ? (size_t)(e - v) : strlen(v);
            return v;
        }
        if (strncmp(p, "url=", 4) == 0) return NULL;
        p = strchr(p, '&');
        if (p) p++;
    }
    return NULL;
}

static const char *error_name(const wasi_http_types_error_code_t *e)
{
    switch (e->tag) {
    case WASI_HTTP_TYPES_ERROR_CODE_DNS_ERROR:
        return "DNS-error";
    case WASI_HTTP_TYPES_ERROR_CODE_DESTINATION_NOT_FOUND:
        return "destination-not-found";
    case WASI_HTTP_TYPES_ERROR_CODE_CONNECTION_REFUSED:
        return "connection-refused";
    case WASI_HTTP_TYPES_ERROR_CODE_CONNECTION_TIMEOUT:
        return "connection-timeout";
    case WASI_HTTP_TYPES_ERROR_CODE_CONNECTION_READ_TIMEOUT:
        return "connection-read-timeout";
    case WASI_HTTP_TYPES_ERROR_CODE_HTTP_REQUEST_DENIED:
        return "HTTP-request-denied";
    case WASI_HTTP_TYPES_ERROR_CODE_HTTP_REQUEST_URI_INVALID:
        return "HTTP-request-URI-invalid";
    case WASI_HTTP_TYPES_ERROR_CODE_TLS_CERTIFICATE_ERROR:
        return "TLS-certificate-error";
    case WASI_HTTP_TYPES_ERROR_CODE_HTTP_PROTOCOL_ERROR:
        return "HTTP-protocol-error";
    case WASI_HTTP_TYPES_ERROR_CODE_HTTP_RESPONSE_TRAILER_SECTION_SIZE:
        return "HTTP-response-trailer-section-size";
    case WASI_HTTP_TYPES_ERROR_CODE_LOOP_DETECTED:
        return "loop-detected";
    case WASI_HTTP_TYPES_ERROR_CODE_CONNECTION_LIMIT_REACHED:
        return "connection-limit-reached";
    default:
        return "other";
    }
}

/* Sends a response: status, text/plain, body. */
static void respond(exports_wasi_http_incoming_handler_own_response_outparam_t out, int status,
                    const char *data, size_t n);

/* Starts a response with status and returns its body's output stream (and the body). */
static wasi_http_types_own_output_stream_t
start(exports_wasi_http_incoming_handler_own_response_outparam_t out, int status,
      wasi_http_types_own_outgoing_body_t *body)
{
    wasi_http_types_own_fields_t headers = wasi_http_types_constructor_fields();
    wasi_http_types_own_outgoing_response_t response =
        wasi_http_types_constructor_outgoing_response(headers);
    if (!wasi_http_types_method_outgoing_response_set_status_code(
            wasi_http_types_borrow_outgoing_response(response), (uint16_t)status))
        abort();
    if (!wasi_http_types_method_outgoing_response_body(
            wasi_http_types_borrow_outgoing_response(response), body))
        abort();
    wasi_http_types_own_output_stream_t stream;
    if (!wasi_http_types_method_outgoing_body_write(wasi_http_types_borrow_outgoing_body(*body),
                                                    &stream))
        abort();
    wasi_http_types_result_own_outgoing_response_error_code_t result = {.is_err = false};
    result.val.ok = response;
    wasi_http_types_static_response_outparam_set(out, &result);
    return stream;
}

/* Writes all of data through check-write and write. */
static void write_all(wasi_io_streams_borrow_output_stream_t s, const char *data, size_t n)
{
    while (n) {
        uint64_t permit;
        wasi_io_streams_stream_error_t err;
        if (!wasi_io_streams_method_output_stream_check_write(s, &permit, &err)) abort();
        size_t k = n < permit ? n : (size_t)permit;
        if (k == 0) continue;
        hello_list_u8_t bytes = {(uint8_t *)data, k};
        if (!wasi_io_streams_method_output_stream_write(s, &bytes, &err)) abort();
        data += k;
        n -= k;
    }
}

static void end(wasi_http_types_own_output_stream_t stream,
                wasi_http_types_own_outgoing_body_t body)
{
    wasi_io_streams_output_stream_drop_own(stream);
    wasi_http_types_error_code_t ferr;
    if (!wasi_http_types_static_outgoing_body_finish(body, NULL, &ferr)) abort();
}

static void respond(exports_wasi_http_incoming_handler_own_response_outparam_t out, int status,
                    const char *data, size_t n)
{
    wasi_http_types_own_outgoing_body_t body;
    wasi_http_types_own_output_stream_t s = start(out, status, &body);
    write_all(wasi_io_streams_borrow_output_stream(s), data, n);
    end(s, body);
}

/* Makes a request for url ("http://host:port/path?q") with method (NULL: GET) and body
 * (NULL: none), first-byte timeout fbt_ms (0: default), and hands it to the outgoing
 * handler. Returns 1 with *fut, or 0 with *err. */
static int send_request(const char *url, size_t url_len, const char *method, const char *body,
                        size_t body_len, unsigned long fbt_ms, unsigned long bbt_ms,
                        wasi_http_types_own_future_incoming_response_t *fut,
                        wasi_http_types_error_code_t *err)
{
    wasi_http_types_own_outgoing_request_t req =
        wasi_http_types_constructor_outgoing_request(wasi_http_types_constructor_fields());
    wasi_http_types_borrow_outgoing_request_t b = wasi_http_types_borrow_outgoing_request(req);
    const char *sep = strstr(url, "://"), *end_ = url + url_len, *path = url;
    if (sep) { /* else a relative URL ("/path"): no scheme, no authority (a self request) */
        wasi_http_types_scheme_t scheme = {.tag = strncmp(url, "https", 5) == 0
                                                      ? WASI_HTTP_TYPES_SCHEME_HTTPS
                                                      : WASI_HTTP_TYPES_SCHEME_HTTP};
        if (!wasi_http_types_method_outgoing_request_set_scheme(b, &scheme)) abort();
        const char *auth = sep + 3;
        path = memchr(auth, '/', (size_t)(end_ - auth));
        if (!path) path = end_;
        hello_string_t a = {(uint8_t *)auth, (size_t)(path - auth)};
        if (!wasi_http_types_method_outgoing_request_set_authority(b, &a)) abort();
    }
    hello_string_t p = {(uint8_t *)(path < end_ ? path : "/"),
                        path < end_ ? (size_t)(end_ - path) : 1};
    if (!wasi_http_types_method_outgoing_request_set_path_with_query(b, &p)) abort();
    if (method && strcmp(method, "post") == 0) {
        wasi_http_types_method_t m = {.tag = WASI_HTTP_TYPES_METHOD_POST};
        if (!wasi_http_types_method_outgoing_request_set_method(b, &m)) abort();
    }
    wasi_http_types_own_outgoing_body_t obody;
    int has_body = body != NULL;
    if (has_body && !wasi_http_types_method_outgoing_request_body(b, &obody)) abort();
    wasi_http_types_own_request_options_t opts = wasi_http_types_constructor_request_options();
    if (fbt_ms) {
        wasi_http_types_duration_t d = (wasi_http_types_duration_t)fbt_ms * 1000000u;
        if (!wasi_http_types_method_request_options_set_first_byte_timeout(
                wasi_http_types_borrow_request_options(opts), &d))
            abort();
    }
    if (bbt_ms) {
        wasi_http_types_duration_t d = (wasi_http_types_duration_t)bbt_ms * 1000000u;
        if (!wasi_http_types_method_request_options_set_between_bytes_timeout(
                wasi_http_types_borrow_request_options(opts), &d))
            abort();
    }
    int ok = wasi_http_outgoing_handler_handle(req, &opts, fut, err);
    if (has_body) { /* the body after handle, as Spin's SDKs write it */
        wasi_http_types_own_output_stream_t s;
        if (!wasi_http_types_method_outgoing_body_write(wasi_http_types_borrow_outgoing_body(obody),
                                                        &s))
            abort();
        write_all(wasi_io_streams_borrow_output_stream(s), body, body_len);
        end(s, obody);
    }
    return ok;
}

/* Waits for a future: 1 with *resp, or 0 with *err. */
static int await_response(wasi_http_types_own_future_incoming_response_t fut,
                          wasi_http_types_own_incoming_response_t *resp,
                          wasi_http_types_error_code_t *err)
{
    wasi_http_types_borrow_future_incoming_response_t bf =
        wasi_http_types_borrow_future_incoming_response(fut);
    wasi_http_types_result_result_own_incoming_response_error_code_void_t r;
    while (!wasi_http_types_method_future_incoming_response_get(bf, &r)) {
        wasi_io_poll_own_pollable_t p =
            wasi_http_types_method_future_incoming_response_subscribe(bf);
        wasi_io_poll_method_pollable_block(wasi_io_poll_borrow_pollable(p));
        wasi_io_poll_pollable_drop_own(p);
    }
    wasi_http_types_future_incoming_response_drop_own(fut);
    if (r.is_err) abort();
    if (r.val.ok.is_err) {
        *err = r.val.ok.val.err;
        return 0;
    }
    *resp = r.val.ok.val.ok;
    return 1;
}

/* The trailers of the last body read_response_body read into a buffer: "trailers:
 * NAME=VALUE;...\n" when the upstream sent some, "trailers: error NAME\n" when they failed,
 * empty otherwise (future-trailers after the body's end). */
static buf trailers_seen;

static void read_trailers(wasi_http_types_own_future_trailers_t ft)
{
    trailers_seen.len = 0;
    wasi_http_types_option_result_result_option_own_trailers_error_code_void_t r;
    r.is_some = wasi_http_types_method_future_trailers_get(
        wasi_http_types_borrow_future_trailers(ft), &r.val);
    wasi_http_types_future_trailers_drop_own(ft);
    if (!r.is_some || r.val.is_err) return;
    if (r.val.val.ok.is_err) {
        puts_(&trailers_seen, "trailers: error ");
        puts_(&trailers_seen, error_name(&r.val.val.ok.val.err));
        puts_(&trailers_seen, "\n");
        wasi_http_types_error_code_free(&r.val.val.ok.val.err);
        return;
    }
    if (!r.val.val.ok.val.ok.is_some) return;
    wasi_http_types_own_fields_t f = r.val.val.ok.val.ok.val;
    wasi_http_types_list_tuple2_field_name_field_value_t all;
    wasi_http_types_method_fields_entries(wasi_http_types_borrow_fields(f), &all);
    puts_(&trailers_seen, "trailers: ");
    for (size_t i = 0; i < all.len; i++) {
        put(&trailers_seen, all.ptr[i].f0.ptr, all.ptr[i].f0.len);
        puts_(&trailers_seen, "=");
        put(&trailers_seen, all.ptr[i].f1.ptr, all.ptr[i].f1.len);
        puts_(&trailers_seen, ";");
    }
    puts_(&trailers_seen, "\n");
    wasi_http_types_list_tuple2_field_name_field_value_free(&all);
    wasi_http_types_fields_drop_own(f);
}

/* Reads a response's body; into b when not NULL, else to the stream out. */
static void read_response_body(wasi_http_types_own_incoming_response_t resp, buf *b,
                               wasi_io_streams_borrow_output_stream_t out)
{
    wasi_http_types_own_incoming_body_t body;
    if (!wasi_http_types_method_incoming_response_consume(
            wasi_http_types_borrow_incoming_response(resp), &body))
        abort();
    wasi_http_types_own_input_stream_t in;
    if (!wasi_http_types_method_incoming_body_stream(wasi_http_types_borrow_incoming_body(body),
                                                     &in))
        abort();
    for (;;) {
        hello_list_u8_t chunk;
        wasi_io_streams_stream_error_t err;
        if (!wasi_io_streams_method_input_stream_blocking_read(
                wasi_io_streams_borrow_input_stream(in), 65536, &chunk, &err)) {
            if (err.tag == WASI_IO_STREAMS_STREAM_ERROR_LAST_OPERATION_FAILED) {
                if (b) puts_(b, "<read-error>");
                wasi_io_error_error_drop_own(err.val.last_operation_failed);
            }
            break;
        }
        if (b)
            put(b, chunk.ptr, chunk.len);
        else
            write_all(out, (const char *)chunk.ptr, chunk.len);
        hello_list_u8_free(&chunk);
    }
    wasi_io_streams_input_stream_drop_own(in);
    wasi_http_types_own_future_trailers_t ft = wasi_http_types_static_incoming_body_finish(body);
    if (b)
        read_trailers(ft);
    else
        wasi_http_types_future_trailers_drop_own(ft);
}

static void do_fetch(const char *q, exports_wasi_http_incoming_handler_own_response_outparam_t out)
{
    size_t ulen = 0, mlen = 0, blen = 0, tlen = 0, t2len = 0;
    const char *url = param(q, "url", &ulen), *m = param(q, "method", &mlen),
               *body = param(q, "body", &blen), *fbt = param(q, "fbt", &tlen),
               *bbt = param(q, "bbt", &t2len);
    char method[16] = "";
    if (m && mlen < sizeof method) memcpy(method, m, mlen), method[mlen] = '\0';
    size_t nlen = 0;
    const char *bodyn = param(q, "bodyn", &nlen);
    char *big = NULL;
    if (bodyn) { /* a body of N bytes "abc...zabc..." (large bodies without a long URL) */
        blen = strtoul(bodyn, NULL, 10);
        big = malloc(blen ? blen : 1);
        if (!big) abort();
        for (size_t i = 0; i < blen; i++)
            big[i] = (char)('a' + i % 26);
        body = big;
    }
    if (!url) {
        respond(out, 400, "no url\n", 7);
        return;
    }
    wasi_http_types_own_future_incoming_response_t fut;
    wasi_http_types_own_incoming_response_t resp;
    wasi_http_types_error_code_t err;
    buf b = {0};
    if (!send_request(url, ulen, m ? method : NULL, body, blen, fbt ? strtoul(fbt, NULL, 10) : 0,
                      bbt ? strtoul(bbt, NULL, 10) : 0, &fut, &err) ||
        !await_response(fut, &resp, &err)) {
        puts_(&b, "error: ");
        puts_(&b, error_name(&err));
        puts_(&b, "\n");
        respond(out, 502, b.p, b.len);
        return;
    }
    char line[64];
    snprintf(line, sizeof line, "status: %u\n",
             (unsigned)wasi_http_types_method_incoming_response_status(
                 wasi_http_types_borrow_incoming_response(resp)));
    puts_(&b, line);
    wasi_http_types_own_fields_t h = wasi_http_types_method_incoming_response_headers(
        wasi_http_types_borrow_incoming_response(resp));
    hello_string_t name;
    hello_string_set(&name, "x-upstream");
    wasi_http_types_list_field_value_t vals;
    wasi_http_types_method_fields_get(wasi_http_types_borrow_fields(h), &name, &vals);
    puts_(&b, "x-upstream: ");
    if (vals.len) put(&b, vals.ptr[0].ptr, vals.ptr[0].len);
    puts_(&b, "\nbody: ");
    wasi_http_types_list_field_value_free(&vals);
    wasi_http_types_fields_drop_own(h);
    read_response_body(resp, &b, (wasi_io_streams_borrow_output_stream_t){0});
    wasi_http_types_incoming_response_drop_own(resp);
    puts_(&b, "\n");
    if (trailers_seen.len) put(&b, trailers_seen.p, trailers_seen.len);
    respond(out, 200, b.p, b.len);
}

static void do_stream(const char *q, exports_wasi_http_incoming_handler_own_response_outparam_t out)
{
    size_t ulen = 0;
    const char *url = param(q, "url", &ulen);
    wasi_http_types_own_future_incoming_response_t fut;
    wasi_http_types_own_incoming_response_t resp;
    wasi_http_types_error_code_t err;
    if (!url || !send_request(url, ulen, NULL, NULL, 0, 0, 0, &fut, &err) ||
        !await_response(fut, &resp, &err)) {
        respond(out, 502, "error\n", 6);
        return;
    }
    wasi_http_types_own_outgoing_body_t body;
    wasi_http_types_own_output_stream_t s =
        start(out,
              wasi_http_types_method_incoming_response_status(
                  wasi_http_types_borrow_incoming_response(resp)),
              &body);
    read_response_body(resp, NULL, wasi_io_streams_borrow_output_stream(s));
    wasi_http_types_incoming_response_drop_own(resp);
    end(s, body);
}

#define FAN_MAX 64

static void do_fanout(const char *q, exports_wasi_http_incoming_handler_own_response_outparam_t out)
{
    size_t ulen = 0, nlen = 0;
    const char *url = param(q, "url", &ulen), *ns = param(q, "n", &nlen);
    unsigned n = ns ? (unsigned)strtoul(ns, NULL, 10) : 0;
    if (!url || n == 0 || n > FAN_MAX) {
        respond(out, 400, "bad request\n", 12);
        return;
    }
    wasi_http_types_own_future_incoming_response_t futs[FAN_MAX];
    wasi_io_poll_own_pollable_t polls[FAN_MAX];
    unsigned status[FAN_MAX], idx[FAN_MAX], pending = 0;
    for (unsigned i = 0; i < n; i++) {
        wasi_http_types_error_code_t err;
        status[i] = 0;
        if (!send_request(url, ulen, NULL, NULL, 0, 0, 0, &futs[i], &err)) {
            respond(out, 502, "handle failed\n", 14);
            return;
        }
        polls[i] = wasi_http_types_method_future_incoming_response_subscribe(
            wasi_http_types_borrow_future_incoming_response(futs[i]));
        pending++;
    }
    while (pending) {
        wasi_io_poll_borrow_pollable_t list[FAN_MAX];
        unsigned k = 0;
        for (unsigned i = 0; i < n; i++)
            if (!status[i]) {
                idx[k] = i;
                list[k++] = wasi_io_poll_borrow_pollable(polls[i]);
            }
        wasi_io_poll_list_borrow_pollable_t in = {list, k};
        hello_list_u32_t ready;
        wasi_io_poll_poll(&in, &ready);
        for (size_t r = 0; r < ready.len; r++) {
            unsigned i = idx[ready.ptr[r]];
            wasi_http_types_result_result_own_incoming_response_error_code_void_t res;
            if (!wasi_http_types_method_future_incoming_response_get(
                    wasi_http_types_borrow_future_incoming_response(futs[i]), &res))
                continue; /* not ready after all */
            wasi_io_poll_pollable_drop_own(polls[i]);
            wasi_http_types_future_incoming_response_drop_own(futs[i]);
            pending--;
            if (res.is_err || res.val.ok.is_err) {
                status[i] = 1;
                continue;
            }
            wasi_http_types_own_incoming_response_t resp = res.val.ok.val.ok;
            status[i] = wasi_http_types_method_incoming_response_status(
                wasi_http_types_borrow_incoming_response(resp));
            buf ignore = {0};
            read_response_body(resp, &ignore, (wasi_io_streams_borrow_output_stream_t){0});
            free(ignore.p);
            wasi_http_types_incoming_response_drop_own(resp);
        }
        hello_list_u32_free(&ready);
    }
    buf b = {0};
    char line[32];
    snprintf(line, sizeof line, "done %u:", n);
    puts_(&b, line);
    for (unsigned i = 0; i < n; i++) {
        snprintf(line, sizeof line, " %u", status[i]);
        puts_(&b, line);
    }
    puts_(&b, "\n");
    respond(out, 200, b.p, b.len);
}

void exports_wasi_http_incoming_handler_handle(
    exports_wasi_http_incoming_handler_own_incoming_request_t request,
    exports_wasi_http_incoming_handler_own_response_outparam_t out)
{
    wasi_http_types_borrow_incoming_request_t req =
        wasi_http_types_borrow_incoming_request(request);
    hello_string_t pq;
    char *path = strdup("/");
    if (wasi_http_types_method_incoming_request_path_with_query(req, &pq)) {
        free(path);
        path = malloc(pq.len + 1);
        if (!path) abort();
        memcpy(path, pq.ptr, pq.len);
        path[pq.len] = '\0';
        hello_string_free(&pq);
    }
    char *q = strchr(path, '?');
    if (q) *q++ = '\0';
    const char *last = strrchr(path, '/');
    last = last ? last + 1 : path;
    if (strcmp(last, "fetch") == 0)
        do_fetch(q ? q : "", out);
    else if (strcmp(last, "stream") == 0)
        do_stream(q ? q : "", out);
    else if (strcmp(last, "fanout") == 0)
        do_fanout(q ? q : "", out);
    else
        respond(out, 404, "not found\n", 10);
    free(path);
    wasi_http_types_incoming_request_drop_own(request);
}
