/* The key-value and variables test handler of tests/e2e/up_spin_kv.sh (tests/components/build.sh,
 * entry c-spin-kv), written against the bindings `wit-bindgen c` generates for world.wit. The
 * path below the route (Spin's spin-path-info header) says what to do (S a store label, K a
 * key; the query is ignored):
 *   GET /kv/S/K        fermyon:spin/key-value get: 200 the value, 404 "absent"
 *   PUT /kv/S/K        set to the request body: "ok"
 *   DELETE /kv/S/K     delete: "ok"
 *   GET /exists/S/K    "true" or "false"
 *   GET /keys/S        get-keys: one key per line
 *   GET /open-many/S   opens S 300 times without dropping: the first error
 *   GET /var/NAME      fermyon:spin/variables get: the value
 *   GET /config/NAME   wasi:config/store get: the value or "none"
 *   GET /config-all    get-all: "name=value" lines
 *   GET|PUT /wkv/S/K   wasi:keyvalue/store bucket get / set
 *   GET /list/S        list-keys pages: one key per line, then "pages: N"
 *   POST /incr/S/K     wasi:keyvalue/atomics increment by 1: the new value
 *   POST /cas/S/K      cas new, current, swap to the body: "swapped" or "conflict"
 *   POST /batch/S      set-many a=1 b=2, get-many a b zz, delete-many a: what get-many saw
 * Errors answer 500 "error: CASE[: message]". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spinkv.h"

typedef struct buf {
    char *p;
    size_t len, cap;
} buf;

static void put(buf *b, const void *d, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        if (!b->p) abort();
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void puts_(buf *b, const char *s)
{
    put(b, s, strlen(s));
}

/* Sends status and body (text/plain) as the whole response. */
static void respond(exports_wasi_http_incoming_handler_own_response_outparam_t out, int status,
                    const char *data, size_t n)
{
    wasi_http_types_own_fields_t headers = wasi_http_types_constructor_fields();
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
    wasi_http_types_own_output_stream_t stream;
    if (!wasi_http_types_method_outgoing_body_write(wasi_http_types_borrow_outgoing_body(body),
                                                    &stream))
        abort();
    while (n) {
        uint64_t permit;
        wasi_io_streams_stream_error_t err;
        wasi_io_streams_borrow_output_stream_t s = wasi_io_streams_borrow_output_stream(stream);
        if (!wasi_io_streams_method_output_stream_check_write(s, &permit, &err)) abort();
        size_t k = n < permit ? n : (size_t)permit;
        spinkv_list_u8_t bytes = {(uint8_t *)data, k};
        if (k && !wasi_io_streams_method_output_stream_write(s, &bytes, &err)) abort();
        data += k;
        n -= k;
    }
    wasi_io_streams_output_stream_drop_own(stream);
    wasi_http_types_error_code_t ferr;
    if (!wasi_http_types_static_outgoing_body_finish(body, NULL, &ferr)) abort();
}

static void respond_buf(exports_wasi_http_incoming_handler_own_response_outparam_t out, int status,
                        buf *b)
{
    respond(out, status, b->p ? b->p : "", b->len);
    free(b->p);
}

/* Reads the whole request body into b. */
static void read_body(wasi_http_types_borrow_incoming_request_t req, buf *b)
{
    wasi_http_types_own_incoming_body_t body;
    if (!wasi_http_types_method_incoming_request_consume(req, &body)) abort();
    wasi_http_types_own_input_stream_t in;
    if (!wasi_http_types_method_incoming_body_stream(wasi_http_types_borrow_incoming_body(body),
                                                     &in))
        abort();
    for (;;) {
        spinkv_list_u8_t chunk;
        wasi_io_streams_stream_error_t err;
        if (!wasi_io_streams_method_input_stream_blocking_read(
                wasi_io_streams_borrow_input_stream(in), 65536, &chunk, &err)) {
            if (err.tag != WASI_IO_STREAMS_STREAM_ERROR_CLOSED) abort();
            break;
        }
        put(b, chunk.ptr, chunk.len);
        spinkv_list_u8_free(&chunk);
    }
    wasi_io_streams_input_stream_drop_own(in);
    wasi_http_types_incoming_body_drop_own(body);
}

/* "error: CASE[: message]" of each error type, into b. */
static void spin_error(buf *b, const fermyon_spin_key_value_error_t *e)
{
    static const char *const names[] = {"store-table-full", "no-such-store", "access-denied",
                                        "other"};
    puts_(b, "error: ");
    puts_(b, names[e->tag]);
    if (e->tag == FERMYON_SPIN_KEY_VALUE_ERROR_OTHER) {
        puts_(b, ": ");
        put(b, e->val.other.ptr, e->val.other.len);
    }
    puts_(b, "\n");
}

static void wasi_error(buf *b, const wasi_keyvalue_store_error_t *e)
{
    static const char *const names[] = {"no-such-store", "access-denied", "other"};
    puts_(b, "error: ");
    puts_(b, names[e->tag]);
    if (e->tag == WASI_KEYVALUE_STORE_ERROR_OTHER) {
        puts_(b, ": ");
        put(b, e->val.other.ptr, e->val.other.len);
    }
    puts_(b, "\n");
}

/* The n-th '/'-separated segment of path[0..len) (0: the first after the leading '/'). */
static spinkv_string_t segment(const uint8_t *path, size_t len, int n)
{
    size_t i = 1;
    for (int k = 0; k < n && i < len; i++)
        if (path[i] == '/') k++;
    size_t e = i;
    while (e < len && path[e] != '/')
        e++;
    spinkv_string_t s = {(uint8_t *)path + i, i < len ? e - i : 0};
    return s;
}

static int is(spinkv_string_t s, const char *word)
{
    return s.len == strlen(word) && memcmp(s.ptr, word, s.len) == 0;
}

/* fermyon:spin/key-value routes. */
static int spin_kv(spinkv_string_t op, spinkv_string_t label, spinkv_string_t key, int method,
                   wasi_http_types_borrow_incoming_request_t req, buf *b)
{
    fermyon_spin_key_value_own_store_t store;
    fermyon_spin_key_value_error_t err;
    if (is(op, "open-many")) {
        for (int i = 0; i < 300; i++) {
            if (!fermyon_spin_key_value_static_store_open(&label, &store, &err)) {
                spin_error(b, &err);
                return 200;
            }
        }
        puts_(b, "no error\n");
        return 200;
    }
    if (!fermyon_spin_key_value_static_store_open(&label, &store, &err)) {
        spin_error(b, &err);
        return 500;
    }
    fermyon_spin_key_value_borrow_store_t s = fermyon_spin_key_value_borrow_store(store);
    int status = 200;
    if (is(op, "kv") && method == WASI_HTTP_TYPES_METHOD_GET) {
        spinkv_option_list_u8_t v;
        if (!fermyon_spin_key_value_method_store_get(s, &key, &v, &err)) {
            spin_error(b, &err);
            status = 500;
        } else if (!v.is_some) {
            puts_(b, "absent\n");
            status = 404;
        } else {
            put(b, v.val.ptr, v.val.len);
        }
    } else if (is(op, "kv") && method == WASI_HTTP_TYPES_METHOD_PUT) {
        buf body = {0};
        read_body(req, &body);
        spinkv_list_u8_t v = {(uint8_t *)body.p, body.len};
        if (!fermyon_spin_key_value_method_store_set(s, &key, &v, &err)) {
            spin_error(b, &err);
            status = 500;
        } else {
            puts_(b, "ok\n");
        }
        free(body.p);
    } else if (is(op, "kv") && method == WASI_HTTP_TYPES_METHOD_DELETE) {
        if (!fermyon_spin_key_value_method_store_delete(s, &key, &err)) {
            spin_error(b, &err);
            status = 500;
        } else {
            puts_(b, "ok\n");
        }
    } else if (is(op, "exists")) {
        bool e;
        if (!fermyon_spin_key_value_method_store_exists(s, &key, &e, &err)) {
            spin_error(b, &err);
            status = 500;
        } else {
            puts_(b, e ? "true\n" : "false\n");
        }
    } else if (is(op, "keys")) {
        spinkv_list_string_t keys;
        if (!fermyon_spin_key_value_method_store_get_keys(s, &keys, &err)) {
            spin_error(b, &err);
            status = 500;
        } else {
            for (size_t i = 0; i < keys.len; i++) {
                put(b, keys.ptr[i].ptr, keys.ptr[i].len);
                puts_(b, "\n");
            }
            spinkv_list_string_free(&keys);
        }
    } else {
        status = 404;
    }
    fermyon_spin_key_value_store_drop_own(store);
    return status;
}

/* wasi:keyvalue routes. */
static int wasi_kv(spinkv_string_t op, spinkv_string_t label, spinkv_string_t key, int method,
                   wasi_http_types_borrow_incoming_request_t req, buf *b)
{
    wasi_keyvalue_store_own_bucket_t bucket;
    wasi_keyvalue_store_error_t err;
    if (!wasi_keyvalue_store_open(&label, &bucket, &err)) {
        wasi_error(b, &err);
        return 500;
    }
    wasi_keyvalue_store_borrow_bucket_t bk = wasi_keyvalue_store_borrow_bucket(bucket);
    int status = 200;
    if (is(op, "wkv") && method == WASI_HTTP_TYPES_METHOD_GET) {
        spinkv_option_list_u8_t v;
        if (!wasi_keyvalue_store_method_bucket_get(bk, &key, &v, &err)) {
            wasi_error(b, &err);
            status = 500;
        } else if (!v.is_some) {
            puts_(b, "absent\n");
            status = 404;
        } else {
            put(b, v.val.ptr, v.val.len);
        }
    } else if (is(op, "wkv")) {
        buf body = {0};
        read_body(req, &body);
        spinkv_list_u8_t v = {(uint8_t *)body.p, body.len};
        if (!wasi_keyvalue_store_method_bucket_set(bk, &key, &v, &err)) {
            wasi_error(b, &err);
            status = 500;
        } else {
            puts_(b, "ok\n");
        }
        free(body.p);
    } else if (is(op, "list")) {
        spinkv_string_t cursor = {0};
        int has_cursor = 0, pages = 0;
        char pbuf[32];
        for (;;) {
            wasi_keyvalue_store_key_response_t r;
            if (!wasi_keyvalue_store_method_bucket_list_keys(bk, has_cursor ? &cursor : NULL, &r,
                                                             &err)) {
                wasi_error(b, &err);
                status = 500;
                break;
            }
            pages++;
            for (size_t i = 0; i < r.keys.len; i++) {
                put(b, r.keys.ptr[i].ptr, r.keys.ptr[i].len);
                puts_(b, "\n");
            }
            spinkv_list_string_free(&r.keys);
            if (has_cursor) spinkv_string_free(&cursor);
            has_cursor = r.cursor.is_some;
            if (!has_cursor) break;
            cursor = r.cursor.val;
        }
        snprintf(pbuf, sizeof pbuf, "pages: %d\n", pages);
        puts_(b, pbuf);
    } else if (is(op, "incr")) {
        int64_t n;
        char nbuf[32];
        if (!wasi_keyvalue_atomics_increment(bk, &key, 1, &n, &err)) {
            wasi_error(b, &err);
            status = 500;
        } else {
            snprintf(nbuf, sizeof nbuf, "%lld\n", (long long)n);
            puts_(b, nbuf);
        }
    } else if (is(op, "cas")) {
        buf body = {0};
        read_body(req, &body);
        wasi_keyvalue_atomics_own_cas_t cas;
        wasi_keyvalue_atomics_cas_error_t cerr;
        spinkv_option_list_u8_t cur;
        spinkv_list_u8_t v = {(uint8_t *)body.p, body.len};
        if (!wasi_keyvalue_atomics_static_cas_new(bk, &key, &cas, &err) ||
            !wasi_keyvalue_atomics_method_cas_current(wasi_keyvalue_atomics_borrow_cas(cas), &cur,
                                                      &err)) {
            wasi_error(b, &err);
            status = 500;
        } else if (wasi_keyvalue_atomics_swap(cas, &v, &cerr)) {
            puts_(b, "swapped\n");
        } else if (cerr.tag == WASI_KEYVALUE_ATOMICS_CAS_ERROR_CAS_FAILED) {
            puts_(b, "conflict\n");
            wasi_keyvalue_atomics_cas_drop_own(cerr.val.cas_failed);
        } else {
            wasi_error(b, &cerr.val.store_error);
            status = 500;
        }
        free(body.p);
    } else if (is(op, "batch")) {
        spinkv_tuple2_string_list_u8_t kvs[2];
        spinkv_string_set(&kvs[0].f0, "a");
        kvs[0].f1 = (spinkv_list_u8_t){(uint8_t *)"1", 1};
        spinkv_string_set(&kvs[1].f0, "b");
        kvs[1].f1 = (spinkv_list_u8_t){(uint8_t *)"2", 1};
        spinkv_list_tuple2_string_list_u8_t list = {kvs, 2};
        spinkv_string_t names[3];
        spinkv_string_set(&names[0], "a");
        spinkv_string_set(&names[1], "b");
        spinkv_string_set(&names[2], "zz");
        spinkv_list_string_t keys = {names, 3}, first = {names, 1};
        spinkv_list_tuple2_string_option_list_u8_t got;
        if (!wasi_keyvalue_batch_set_many(bk, &list, &err) ||
            !wasi_keyvalue_batch_get_many(bk, &keys, &got, &err) ||
            !wasi_keyvalue_batch_delete_many(bk, &first, &err)) {
            wasi_error(b, &err);
            status = 500;
        } else {
            for (size_t i = 0; i < got.len; i++) {
                put(b, got.ptr[i].f0.ptr, got.ptr[i].f0.len);
                puts_(b, "=");
                if (got.ptr[i].f1.is_some)
                    put(b, got.ptr[i].f1.val.ptr, got.ptr[i].f1.val.len);
                else
                    puts_(b, "(none)");
                puts_(b, "\n");
            }
            spinkv_list_tuple2_string_option_list_u8_free(&got);
        }
    } else {
        status = 404;
    }
    wasi_keyvalue_store_bucket_drop_own(bucket);
    return status;
}

/* Variables routes. */
static int variables(spinkv_string_t op, spinkv_string_t name, buf *b)
{
    if (is(op, "var")) {
        spinkv_string_t v;
        fermyon_spin_variables_error_t err;
        if (!fermyon_spin_variables_get(&name, &v, &err)) {
            static const char *const names[] = {"invalid-name", "undefined", "provider", "other"};
            puts_(b, "error: ");
            puts_(b, names[err.tag]);
            puts_(b, ": ");
            put(b, err.val.other.ptr, err.val.other.len);
            puts_(b, "\n");
            return 500;
        }
        put(b, v.ptr, v.len);
        spinkv_string_free(&v);
        return 200;
    }
    wasi_config_store_error_t err;
    if (is(op, "config")) {
        spinkv_option_string_t v;
        if (!wasi_config_store_get(&name, &v, &err)) return 500;
        if (v.is_some)
            put(b, v.val.ptr, v.val.len);
        else
            puts_(b, "none");
        return 200;
    }
    spinkv_list_tuple2_string_string_t all;
    if (!wasi_config_store_get_all(&all, &err)) return 500;
    for (size_t i = 0; i < all.len; i++) {
        put(b, all.ptr[i].f0.ptr, all.ptr[i].f0.len);
        puts_(b, "=");
        put(b, all.ptr[i].f1.ptr, all.ptr[i].f1.len);
        puts_(b, "\n");
    }
    spinkv_list_tuple2_string_string_free(&all);
    return 200;
}

void exports_wasi_http_incoming_handler_handle(
    exports_wasi_http_incoming_handler_own_incoming_request_t request,
    exports_wasi_http_incoming_handler_own_response_outparam_t out)
{
    wasi_http_types_borrow_incoming_request_t req =
        wasi_http_types_borrow_incoming_request(request);
    /* the path below the route: Spin's spin-path-info header */
    spinkv_string_t path = {(uint8_t *)"/", 1};
    wasi_http_types_own_headers_t hs = wasi_http_types_method_incoming_request_headers(req);
    wasi_http_types_field_name_t name;
    spinkv_string_set(&name, "spin-path-info");
    wasi_http_types_list_field_value_t vals;
    wasi_http_types_method_fields_get(wasi_http_types_borrow_fields(hs), &name, &vals);
    if (vals.len) {
        path.ptr = vals.ptr[0].ptr;
        path.len = vals.ptr[0].len;
    }
    size_t plen = path.len;
    for (size_t i = 0; i < path.len; i++)
        if (path.ptr[i] == '?') {
            plen = i;
            break;
        }
    wasi_http_types_method_t method;
    wasi_http_types_method_incoming_request_method(req, &method);
    spinkv_string_t op = segment(path.ptr, plen, 0), a = segment(path.ptr, plen, 1),
                    k = segment(path.ptr, plen, 2);
    buf b = {0};
    int status = 404;
    if (is(op, "kv") || is(op, "exists") || is(op, "keys") || is(op, "open-many"))
        status = spin_kv(op, a, k, method.tag, req, &b);
    else if (is(op, "wkv") || is(op, "list") || is(op, "incr") || is(op, "cas") || is(op, "batch"))
        status = wasi_kv(op, a, k, method.tag, req, &b);
    else if (is(op, "var") || is(op, "config") || is(op, "config-all"))
        status = variables(op, a, &b);
    respond_buf(out, status, &b);
}
