/* A wasi:http handler in C (tests/components/build.sh, corpus entry c-http), written against
 * the bindings that `wit-bindgen c` generates for world.wit: answers every request with
 * "hello from C METHOD PATH-WITH-QUERY" and the header x-kiln-guest: c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hello.h"

static const char *const method_names[] = {"GET",     "HEAD",    "POST",  "PUT",  "DELETE",
                                           "CONNECT", "OPTIONS", "TRACE", "PATCH"};

/* Appends NAME: VALUE to FIELDS; aborts (a trap) if the host refuses it. */
static void append_header(wasi_http_types_own_fields_t fields, const char *name, const char *value)
{
    wasi_http_types_field_name_t n;
    wasi_http_types_field_value_t v = {(uint8_t *)value, strlen(value)};
    wasi_http_types_header_error_t err;
    hello_string_set(&n, name);
    if (!wasi_http_types_method_fields_append(wasi_http_types_borrow_fields(fields), &n, &v, &err))
        abort();
}

void exports_wasi_http_incoming_handler_handle(
    exports_wasi_http_incoming_handler_own_incoming_request_t request,
    exports_wasi_http_incoming_handler_own_response_outparam_t response_out)
{
    wasi_http_types_borrow_incoming_request_t req =
        wasi_http_types_borrow_incoming_request(request);
    wasi_http_types_method_t method;
    wasi_http_types_method_incoming_request_method(req, &method);
    const char *mname = "?";
    int mlen = 1;
    if (method.tag < sizeof method_names / sizeof method_names[0]) {
        mname = method_names[method.tag];
        mlen = (int)strlen(mname);
    } else if (method.tag == WASI_HTTP_TYPES_METHOD_OTHER) {
        mname = (const char *)method.val.other.ptr;
        mlen = (int)method.val.other.len;
    }
    hello_string_t path = {(uint8_t *)"/", 1};
    bool has_path = wasi_http_types_method_incoming_request_path_with_query(req, &path);

    int n = snprintf(NULL, 0, "hello from C %.*s %.*s\n", mlen, mname, (int)path.len,
                     (const char *)path.ptr);
    char *text = malloc((size_t)n + 1);
    if (!text) abort();
    snprintf(text, (size_t)n + 1, "hello from C %.*s %.*s\n", mlen, mname, (int)path.len,
             (const char *)path.ptr);
    wasi_http_types_method_free(&method);
    if (has_path) hello_string_free(&path);
    wasi_http_types_incoming_request_drop_own(request);

    wasi_http_types_own_fields_t headers = wasi_http_types_constructor_fields();
    append_header(headers, "content-type", "text/plain");
    append_header(headers, "x-kiln-guest", "c");
    wasi_http_types_own_outgoing_response_t response =
        wasi_http_types_constructor_outgoing_response(headers);
    if (!wasi_http_types_method_outgoing_response_set_status_code(
            wasi_http_types_borrow_outgoing_response(response), 200))
        abort();
    wasi_http_types_own_outgoing_body_t body;
    if (!wasi_http_types_method_outgoing_response_body(
            wasi_http_types_borrow_outgoing_response(response), &body))
        abort();
    wasi_http_types_result_own_outgoing_response_error_code_t result = {.is_err = false};
    result.val.ok = response;
    wasi_http_types_static_response_outparam_set(response_out, &result);

    wasi_http_types_own_output_stream_t stream;
    if (!wasi_http_types_method_outgoing_body_write(wasi_http_types_borrow_outgoing_body(body),
                                                    &stream))
        abort();
    /* blocking-write-and-flush takes at most 4096 bytes: the text is far shorter. */
    hello_list_u8_t bytes = {(uint8_t *)text, (size_t)n};
    wasi_io_streams_stream_error_t serr;
    if (!wasi_io_streams_method_output_stream_blocking_write_and_flush(
            wasi_io_streams_borrow_output_stream(stream), &bytes, &serr))
        abort();
    wasi_io_streams_output_stream_drop_own(stream);
    wasi_http_types_error_code_t ferr;
    if (!wasi_http_types_static_outgoing_body_finish(body, NULL, &ferr)) abort();
    free(text);
}
