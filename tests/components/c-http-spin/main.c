/* The wasi:http test handler of tests/e2e/up_wasi_http.sh (tests/components/build.sh, entry
 * c-http-spin), written against the bindings `wit-bindgen c` generates for world.wit. What it
 * does depends on the path's last segment (the query is ignored):
 *   .../echo     200: "METHOD PATH-WITH-QUERY\n", one "name: value\n" per request header
 *                whose name starts with "spin-" (in the host's order), then the request body
 *   .../big      200, streamed: 64 MiB of 'x' (N MiB with ?mib=N) in 64 KiB writes
 *   .../count    200: "N\n", the request body's length, read in pieces of at most 64 KiB
 *                (blocking-read; with ?poll=1: read, and subscribe + block when nothing
 *                is there yet) and not kept
 *   .../cpu-count  as .../count (blocking reads), after computing for a while without a
 *                host call (300 million iterations): past --inline-budget the guest
 *                reads its body from an executor thread
 *   .../trailers 200, no Content-Length: "one\n" and "two\n" in two writes, then the
 *                trailers x-trailer-a: alpha and x-trailer-b: beta
 *   .../req-trailers  200: the request's trailer fields after its body was read to the
 *                end ("name: value\n" each, from incoming-body.finish's future-trailers),
 *                or "no trailers\n"
 *   .../trap     traps (abort) before setting the response
 *   .../partial  200, streamed: 320 KiB of 'x' (enough that the headers and some of it are
 *                sent before the guest goes on), then traps (abort) before finishing
 *   .../partial-spin  the same, then never returns (a loop) instead of trapping
 *   .../cpu      200: "start\n", then computes for a while without a host call (N million
 *                iterations with ?m=N, default 200), then "done N\n"
 *   .../noset    returns without setting the response
 *   .../spin     never returns (a loop)
 *   .../error    sets the response to error-code internal-error
 *   .../file     200: the contents of /data/hello.txt (a granted file; 404 when it cannot
 *                be opened) and, for .../file?write, "write refused" when opening it for
 *                writing fails (files are read-only)
 *   .../headers  200: "forbidden immutable\n" when appending connection to a new fields
 *                fails with forbidden and appending to the request's headers with immutable
 *   anything else 404 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hello.h"

static const char *const method_names[] = {"GET",     "HEAD",    "POST",  "PUT",  "DELETE",
                                           "CONNECT", "OPTIONS", "TRACE", "PATCH"};

/* A growable byte buffer. */
typedef struct buf {
    char *p;
    size_t len, cap;
} buf;

static void put(buf *b, const void *d, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        if (!b->p) abort();
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
}

static void puts_(buf *b, const char *s)
{
    put(b, s, strlen(s));
}

static int ends_with(const hello_string_t *s, size_t len, const char *suffix)
{
    size_t n = strlen(suffix);
    return len >= n && memcmp(s->ptr + len - n, suffix, n) == 0;
}

/* The number after "?KEY=" in the path (its digits only: the path is not NUL-terminated),
 * or def when the query does not start with KEY. */
static unsigned long query_num(const hello_string_t *path, const char *key, unsigned long def)
{
    const char *q = memchr(path->ptr, '?', path->len);
    size_t kl = strlen(key);
    if (!q) return def;
    size_t at = (size_t)(q - (const char *)path->ptr) + 1;
    if (path->len - at <= kl || memcmp(path->ptr + at, key, kl) != 0 || path->ptr[at + kl] != '=')
        return def;
    unsigned long v = 0;
    for (at += kl + 1; at < path->len && path->ptr[at] >= '0' && path->ptr[at] <= '9'; at++)
        v = v * 10 + (unsigned long)(path->ptr[at] - '0');
    return v;
}

/* Starts a response with status and content-type text/plain; returns its body. */
static wasi_http_types_own_outgoing_body_t
start(exports_wasi_http_incoming_handler_own_response_outparam_t out, int status)
{
    wasi_http_types_own_fields_t headers = wasi_http_types_constructor_fields();
    wasi_http_types_field_name_t n;
    wasi_http_types_field_value_t v = {(uint8_t *)"text/plain", 10};
    wasi_http_types_header_error_t err;
    hello_string_set(&n, "content-type");
    if (!wasi_http_types_method_fields_append(wasi_http_types_borrow_fields(headers), &n, &v, &err))
        abort();
    wasi_http_types_own_outgoing_response_t response =
        wasi_http_types_constructor_outgoing_response(headers);
    if (!wasi_http_types_method_outgoing_response_set_status_code(
            wasi_http_types_borrow_outgoing_response(response), (uint16_t)status))
        abort();
    wasi_http_types_own_outgoing_body_t body;
    if (!wasi_http_types_method_outgoing_response_body(
            wasi_http_types_borrow_outgoing_response(response), &body))
        abort();
    wasi_http_types_result_own_outgoing_response_error_code_t result = {.is_err = false};
    result.val.ok = response;
    wasi_http_types_static_response_outparam_set(out, &result);
    return body;
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

static void finish(wasi_http_types_own_outgoing_body_t body, const char *data, size_t n,
                   size_t repeat)
{
    wasi_http_types_own_output_stream_t stream;
    if (!wasi_http_types_method_outgoing_body_write(wasi_http_types_borrow_outgoing_body(body),
                                                    &stream))
        abort();
    for (size_t i = 0; i < repeat; i++)
        write_all(wasi_io_streams_borrow_output_stream(stream), data, n);
    wasi_io_streams_output_stream_drop_own(stream);
    wasi_http_types_error_code_t ferr;
    if (!wasi_http_types_static_outgoing_body_finish(body, NULL, &ferr)) abort();
}

/* Reads the whole request body into b (NULL: dropped); returns the incoming-body, its
 * stream dropped. */
static wasi_http_types_own_incoming_body_t
read_to_end(wasi_http_types_borrow_incoming_request_t req, buf *b)
{
    wasi_http_types_own_incoming_body_t body;
    if (!wasi_http_types_method_incoming_request_consume(req, &body)) abort();
    wasi_http_types_own_input_stream_t in;
    if (!wasi_http_types_method_incoming_body_stream(wasi_http_types_borrow_incoming_body(body),
                                                     &in))
        abort();
    for (;;) {
        hello_list_u8_t chunk;
        wasi_io_streams_stream_error_t err;
        if (!wasi_io_streams_method_input_stream_blocking_read(
                wasi_io_streams_borrow_input_stream(in), 65536, &chunk, &err)) {
            if (err.tag != WASI_IO_STREAMS_STREAM_ERROR_CLOSED) abort();
            break;
        }
        if (b) put(b, chunk.ptr, chunk.len);
        hello_list_u8_free(&chunk);
    }
    wasi_io_streams_input_stream_drop_own(in);
    return body;
}

/* Reads the whole request body into b. */
static void read_body(wasi_http_types_borrow_incoming_request_t req, buf *b)
{
    wasi_http_types_incoming_body_drop_own(read_to_end(req, b));
}

/* Appends "name: value\n" for each entry of f to b. */
static void put_entries(buf *b, wasi_http_types_borrow_fields_t f)
{
    wasi_http_types_list_tuple2_field_name_field_value_t es;
    wasi_http_types_method_fields_entries(f, &es);
    for (size_t i = 0; i < es.len; i++) {
        put(b, es.ptr[i].f0.ptr, es.ptr[i].f0.len);
        puts_(b, ": ");
        put(b, es.ptr[i].f1.ptr, es.ptr[i].f1.len);
        puts_(b, "\n");
    }
    wasi_http_types_list_tuple2_field_name_field_value_free(&es);
}

/* The request body's length, read in pieces without keeping them (poll: non-blocking
 * reads, waiting on the stream's pollable when one returns nothing). */
static unsigned long long count_body(wasi_http_types_borrow_incoming_request_t req, int poll)
{
    wasi_http_types_own_incoming_body_t body;
    if (!wasi_http_types_method_incoming_request_consume(req, &body)) abort();
    wasi_http_types_own_input_stream_t in;
    if (!wasi_http_types_method_incoming_body_stream(wasi_http_types_borrow_incoming_body(body),
                                                     &in))
        abort();
    wasi_io_streams_borrow_input_stream_t bin = wasi_io_streams_borrow_input_stream(in);
    unsigned long long total = 0;
    for (;;) {
        hello_list_u8_t chunk;
        wasi_io_streams_stream_error_t err;
        bool ok = poll
                      ? wasi_io_streams_method_input_stream_read(bin, 65536, &chunk, &err)
                      : wasi_io_streams_method_input_stream_blocking_read(bin, 65536, &chunk, &err);
        if (!ok) {
            if (err.tag != WASI_IO_STREAMS_STREAM_ERROR_CLOSED) abort();
            break;
        }
        total += chunk.len;
        if (poll && chunk.len == 0) {
            wasi_io_poll_own_pollable_t p = wasi_io_streams_method_input_stream_subscribe(bin);
            wasi_io_poll_method_pollable_block(wasi_io_poll_borrow_pollable(p));
            wasi_io_poll_pollable_drop_own(p);
        }
        hello_list_u8_free(&chunk);
    }
    wasi_io_streams_input_stream_drop_own(in);
    wasi_http_types_incoming_body_drop_own(body);
    return total;
}

/* Appends name: value to fields f. */
static void add_field(wasi_http_types_own_fields_t f, const char *name, const char *value)
{
    wasi_http_types_field_name_t n;
    wasi_http_types_field_value_t v = {(uint8_t *)value, strlen(value)};
    wasi_http_types_header_error_t err;
    hello_string_set(&n, name);
    if (!wasi_http_types_method_fields_append(wasi_http_types_borrow_fields(f), &n, &v, &err))
        abort();
}

void exports_wasi_http_incoming_handler_handle(
    exports_wasi_http_incoming_handler_own_incoming_request_t request,
    exports_wasi_http_incoming_handler_own_response_outparam_t out)
{
    wasi_http_types_borrow_incoming_request_t req =
        wasi_http_types_borrow_incoming_request(request);
    hello_string_t path = {(uint8_t *)"/", 1};
    if (!wasi_http_types_method_incoming_request_path_with_query(req, &path)) abort();
    size_t plen = path.len;
    for (size_t i = 0; i < path.len; i++)
        if (path.ptr[i] == '?') {
            plen = i;
            break;
        }
    if (ends_with(&path, plen, "/echo")) {
        buf b = {0};
        wasi_http_types_method_t method;
        wasi_http_types_method_incoming_request_method(req, &method);
        if (method.tag < 9)
            puts_(&b, method_names[method.tag]);
        else
            put(&b, method.val.other.ptr, method.val.other.len);
        puts_(&b, " ");
        put(&b, path.ptr, path.len);
        puts_(&b, "\n");
        wasi_http_types_own_headers_t hs = wasi_http_types_method_incoming_request_headers(req);
        wasi_http_types_list_tuple2_field_name_field_value_t es;
        wasi_http_types_method_fields_entries(wasi_http_types_borrow_fields(hs), &es);
        for (size_t i = 0; i < es.len; i++) {
            if (es.ptr[i].f0.len < 5 || memcmp(es.ptr[i].f0.ptr, "spin-", 5) != 0) continue;
            put(&b, es.ptr[i].f0.ptr, es.ptr[i].f0.len);
            puts_(&b, ": ");
            put(&b, es.ptr[i].f1.ptr, es.ptr[i].f1.len);
            puts_(&b, "\n");
        }
        wasi_http_types_list_tuple2_field_name_field_value_free(&es);
        wasi_http_types_fields_drop_own(hs);
        read_body(req, &b);
        finish(start(out, 200), b.p, b.len, 1);
        free(b.p);
    } else if (ends_with(&path, plen, "/req-trailers")) {
        /* the body read to its end, then incoming-body.finish's future-trailers */
        wasi_http_types_own_future_trailers_t ft =
            wasi_http_types_static_incoming_body_finish(read_to_end(req, NULL));
        wasi_http_types_borrow_future_trailers_t bft = wasi_http_types_borrow_future_trailers(ft);
        wasi_io_poll_own_pollable_t p = wasi_http_types_method_future_trailers_subscribe(bft);
        wasi_io_poll_method_pollable_block(wasi_io_poll_borrow_pollable(p));
        wasi_io_poll_pollable_drop_own(p);
        wasi_http_types_result_result_option_own_trailers_error_code_void_t r;
        if (!wasi_http_types_method_future_trailers_get(bft, &r) || r.is_err || r.val.ok.is_err)
            abort();
        buf b = {0};
        if (r.val.ok.val.ok.is_some) {
            wasi_http_types_own_trailers_t t = r.val.ok.val.ok.val;
            put_entries(&b, wasi_http_types_borrow_fields(t));
            wasi_http_types_fields_drop_own(t);
        } else {
            puts_(&b, "no trailers\n");
        }
        wasi_http_types_future_trailers_drop_own(ft);
        finish(start(out, 200), b.p, b.len, 1);
        free(b.p);
    } else if (ends_with(&path, plen, "/big")) {
        size_t mib = (size_t)query_num(&path, "mib", 64);
        static char chunk[65536];
        memset(chunk, 'x', sizeof chunk);
        finish(start(out, 200), chunk, sizeof chunk, mib * 16);
    } else if (ends_with(&path, plen, "/count")) {
        char line[32];
        int n = snprintf(line, sizeof line, "%llu\n",
                         count_body(req, query_num(&path, "poll", 0) != 0));
        finish(start(out, 200), line, (size_t)n, 1);
    } else if (ends_with(&path, plen, "/cpu-count")) {
        volatile unsigned long acc = 0;
        for (unsigned long i = 0; i < 300000000ul; i++)
            acc += i;
        if (acc == 1) abort(); /* (uses acc: never true) */
        char line[32];
        int n = snprintf(line, sizeof line, "%llu\n", count_body(req, 0));
        finish(start(out, 200), line, (size_t)n, 1);
    } else if (ends_with(&path, plen, "/trailers")) {
        wasi_http_types_own_outgoing_body_t body = start(out, 200);
        wasi_http_types_own_output_stream_t stream;
        if (!wasi_http_types_method_outgoing_body_write(wasi_http_types_borrow_outgoing_body(body),
                                                        &stream))
            abort();
        write_all(wasi_io_streams_borrow_output_stream(stream), "one\n", 4);
        write_all(wasi_io_streams_borrow_output_stream(stream), "two\n", 4);
        wasi_io_streams_output_stream_drop_own(stream);
        wasi_http_types_own_fields_t t = wasi_http_types_constructor_fields();
        add_field(t, "x-trailer-a", "alpha");
        add_field(t, "x-trailer-b", "beta");
        wasi_http_types_error_code_t ferr;
        if (!wasi_http_types_static_outgoing_body_finish(body, &t, &ferr)) abort();
    } else if (ends_with(&path, plen, "/trap")) {
        abort();
    } else if (ends_with(&path, plen, "/partial") || ends_with(&path, plen, "/partial-spin")) {
        static char chunk[65536];
        memset(chunk, 'x', sizeof chunk);
        wasi_http_types_own_outgoing_body_t body = start(out, 200);
        wasi_http_types_own_output_stream_t stream;
        if (!wasi_http_types_method_outgoing_body_write(wasi_http_types_borrow_outgoing_body(body),
                                                        &stream))
            abort();
        for (int i = 0; i < 5; i++)
            write_all(wasi_io_streams_borrow_output_stream(stream), chunk, sizeof chunk);
        if (ends_with(&path, plen, "/partial")) abort();
        for (volatile unsigned long i = 0;; i++) {
        }
    } else if (ends_with(&path, plen, "/cpu")) {
        unsigned long m = query_num(&path, "m", 200);
        wasi_http_types_own_outgoing_body_t body = start(out, 200);
        wasi_http_types_own_output_stream_t stream;
        if (!wasi_http_types_method_outgoing_body_write(wasi_http_types_borrow_outgoing_body(body),
                                                        &stream))
            abort();
        write_all(wasi_io_streams_borrow_output_stream(stream), "start\n", 6);
        volatile unsigned long acc = 0;
        for (unsigned long i = 0; i < m * 1000000ul; i++)
            acc += i;
        if (acc == 1) abort(); /* (uses acc: never true) */
        char line[64];
        int n = snprintf(line, sizeof line, "done %lu\n", m);
        write_all(wasi_io_streams_borrow_output_stream(stream), line, (size_t)n);
        wasi_io_streams_output_stream_drop_own(stream);
        wasi_http_types_error_code_t ferr;
        if (!wasi_http_types_static_outgoing_body_finish(body, NULL, &ferr)) abort();
    } else if (ends_with(&path, plen, "/noset")) {
        /* nothing */
    } else if (ends_with(&path, plen, "/spin")) {
        for (volatile unsigned long i = 0;; i++) {
        }
    } else if (ends_with(&path, plen, "/error")) {
        wasi_http_types_result_own_outgoing_response_error_code_t result = {.is_err = true};
        result.val.err.tag = WASI_HTTP_TYPES_ERROR_CODE_INTERNAL_ERROR;
        result.val.err.val.internal_error.is_some = false;
        wasi_http_types_static_response_outparam_set(out, &result);
    } else if (ends_with(&path, plen, "/file")) {
        buf b = {0};
        FILE *f = fopen("/data/hello.txt", "r");
        if (!f) {
            finish(start(out, 404), "no file\n", 8, 1);
        } else {
            char chunk[4096];
            size_t n;
            while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
                put(&b, chunk, n);
            fclose(f);
            if (memchr(path.ptr, '?', path.len)) {
                FILE *w = fopen("/data/hello.txt", "a");
                puts_(&b, w ? "write allowed\n" : "write refused\n");
                if (w) fclose(w);
            }
            finish(start(out, 200), b.p, b.len, 1);
        }
        free(b.p);
    } else if (ends_with(&path, plen, "/headers")) {
        buf b = {0};
        wasi_http_types_field_name_t n;
        wasi_http_types_field_value_t v = {(uint8_t *)"close", 5};
        wasi_http_types_header_error_t err;
        hello_string_set(&n, "connection");
        wasi_http_types_own_fields_t f = wasi_http_types_constructor_fields();
        if (!wasi_http_types_method_fields_append(wasi_http_types_borrow_fields(f), &n, &v, &err) &&
            err.tag == WASI_HTTP_TYPES_HEADER_ERROR_FORBIDDEN)
            puts_(&b, "forbidden ");
        wasi_http_types_fields_drop_own(f);
        hello_string_set(&n, "x-added");
        wasi_http_types_own_headers_t hs = wasi_http_types_method_incoming_request_headers(req);
        if (!wasi_http_types_method_fields_append(wasi_http_types_borrow_fields(hs), &n, &v,
                                                  &err) &&
            err.tag == WASI_HTTP_TYPES_HEADER_ERROR_IMMUTABLE)
            puts_(&b, "immutable");
        wasi_http_types_fields_drop_own(hs);
        puts_(&b, "\n");
        finish(start(out, 200), b.p, b.len, 1);
        free(b.p);
    } else {
        finish(start(out, 404), "not found\n", 10, 1);
    }
    hello_string_free(&path);
    wasi_http_types_incoming_request_drop_own(request);
}
