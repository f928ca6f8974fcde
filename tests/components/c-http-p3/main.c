/* A wasi:http 0.3 (p3) handler in C on wit-bindgen's async (callback) bindings, for the
 * differential test tests/e2e/p3_diff.sh (the same requests to kiln up and wasmtime serve):
 *   GET  /headers   200; every request header named x-* copied to the response, and
 *                   listed in the body as "name: value" lines; x-drop then taken out
 *                   of the response's fields again (get-and-delete), its values listed
 *                   as "removed value"
 *   POST /echo      200; the request body streamed back (read, write, until DROPPED)
 *   GET  /stream    200; five "piece N" lines, a wasi:clocks wait-for of 20 ms between
 *                   writes
 *   GET  /status/N  status N (set-status-code), body "status N"
 *   GET  /error     the handler returns an error-code (internal-error)
 *   else            200, x-kiln-p3: c, "hello from a C p3 handler"
 * Every write and read may block: the task then returns WAIT on its waitable set and the
 * callback resumes it. After the body, the trailers future is written ok(none) (and for
 * /echo consume-body's result future ok, which wasmtime requires). One task's
 * state is a heap block kept with context.set (one instance may run several tasks). */
#include "handler.h"
#include <stdlib.h>
#include <string.h>

enum kind { FIXED, ECHO, STREAM };

struct task {
    enum kind kind;
    handler_waitable_set_t set;
    wasi_http_types_stream_u8_writer_t w;
    wasi_http_types_stream_u8_t in; /* ECHO: the request body, 0 once dropped */
    wasi_http_types_future_result_option_own_trailers_error_code_writer_t tw;
    wasi_http_types_future_result_void_error_code_writer_t rw; /* ECHO: consume-body's res */
    int writes; /* future writes under way at the end */
    wasi_http_types_result_option_own_trailers_error_code_t trailers; /* ok(none) */
    wasi_http_types_result_void_error_code_t ok;
    const uint8_t *buf; /* what is left to write: buf[off..len) */
    size_t len, off;
    uint8_t *text; /* FIXED: the body (heap) */
    int fixed_done, pieces, waited;
    handler_subtask_t sub;
    char piece[32];
    uint8_t rbuf[16384];
};

static void task_free(struct task *t)
{
    handler_waitable_set_drop(t->set);
    free(t->text);
    free(t);
    handler_context_set_0(NULL);
}

/* Writes prefix, decimal n and "\n" to out (at least 32 bytes); no stdio (no WASI imports). */
static void format_line(char *out, const char *prefix, unsigned n)
{
    char digits[12];
    int k = 0;
    do
        digits[k++] = (char)('0' + n % 10);
    while ((n /= 10) && k < 10);
    size_t len = strlen(prefix);
    memcpy(out, prefix, len);
    while (k)
        out[len++] = digits[--k];
    out[len++] = '\n';
    out[len] = 0;
}

static int starts_with(const uint8_t *p, size_t n, const char *s)
{
    size_t k = strlen(s);
    return n >= k && memcmp(p, s, k) == 0;
}

/* Drops the writer of the future that waitable w is (its value written). */
static void drop_future_writer(struct task *t, uint32_t w)
{
    if (w == t->tw)
        wasi_http_types_future_result_option_own_trailers_error_code_drop_writable(w);
    else
        wasi_http_types_future_result_void_error_code_drop_writable(w);
}

/* Ends the body, writes the trailers (ok(none)) and, for ECHO, consume-body's result
 * future (ok: a future's writer may not be dropped unwritten); EXIT, or WAIT for them. */
static handler_callback_code_t finish(struct task *t)
{
    if (t->in) wasi_http_types_stream_u8_drop_readable(t->in);
    t->in = 0;
    wasi_http_types_stream_u8_drop_writable(t->w);
    uint32_t writers[2] = {t->tw, t->rw};
    for (int i = 0; i < 2; i++) {
        if (!writers[i]) continue;
        handler_waitable_status_t st =
            i == 0 ? wasi_http_types_future_result_option_own_trailers_error_code_write(
                         t->tw, &t->trailers)
                   : wasi_http_types_future_result_void_error_code_write(t->rw, &t->ok);
        if (st == HANDLER_WAITABLE_STATUS_BLOCKED) {
            handler_waitable_join(writers[i], t->set);
            t->writes++;
        } else {
            drop_future_writer(t, writers[i]);
        }
    }
    if (t->writes) return HANDLER_CALLBACK_CODE_WAIT(t->set);
    task_free(t);
    return HANDLER_CALLBACK_CODE_EXIT;
}

/* Runs the task until it blocks (WAIT) or ends (EXIT). */
static handler_callback_code_t step(struct task *t)
{
    for (;;) {
        if (t->off < t->len) {
            handler_waitable_status_t st =
                wasi_http_types_stream_u8_write(t->w, t->buf + t->off, t->len - t->off);
            if (st == HANDLER_WAITABLE_STATUS_BLOCKED) {
                handler_waitable_join(t->w, t->set);
                return HANDLER_CALLBACK_CODE_WAIT(t->set);
            }
            t->off += HANDLER_WAITABLE_COUNT(st);
            if (HANDLER_WAITABLE_STATE(st) == HANDLER_WAITABLE_DROPPED) return finish(t);
            continue;
        }
        switch (t->kind) {
        case FIXED:
            if (t->fixed_done) return finish(t);
            t->fixed_done = 1;
            t->buf = t->text;
            t->len = strlen((const char *)t->text);
            t->off = 0;
            continue;
        case ECHO: {
            if (!t->in) return finish(t);
            handler_waitable_status_t st =
                wasi_http_types_stream_u8_read(t->in, t->rbuf, sizeof t->rbuf);
            if (st == HANDLER_WAITABLE_STATUS_BLOCKED) {
                handler_waitable_join(t->in, t->set);
                return HANDLER_CALLBACK_CODE_WAIT(t->set);
            }
            t->buf = t->rbuf;
            t->len = HANDLER_WAITABLE_COUNT(st);
            t->off = 0;
            if (HANDLER_WAITABLE_STATE(st) == HANDLER_WAITABLE_DROPPED) {
                wasi_http_types_stream_u8_drop_readable(t->in);
                t->in = 0;
            }
            continue;
        }
        case STREAM:
            if (t->pieces == 5) return finish(t);
            if (t->pieces > 0 && !t->waited) {
                handler_subtask_status_t st = wasi_clocks_monotonic_clock_wait_for(20000000);
                if (HANDLER_SUBTASK_STATE(st) != HANDLER_SUBTASK_RETURNED) {
                    t->sub = HANDLER_SUBTASK_HANDLE(st);
                    handler_waitable_join(t->sub, t->set);
                    return HANDLER_CALLBACK_CODE_WAIT(t->set);
                }
            }
            t->pieces++;
            t->waited = 0;
            format_line(t->piece, "piece ", (unsigned)t->pieces);
            t->buf = (const uint8_t *)t->piece;
            t->len = strlen(t->piece);
            t->off = 0;
            continue;
        }
    }
}

handler_callback_code_t exports_wasi_http_handler_handle_callback(handler_event_t *event)
{
    struct task *t = handler_context_get_0();
    if (!t) __builtin_trap();
    switch (event->event) {
    case HANDLER_EVENT_STREAM_WRITE:
        t->off += HANDLER_WAITABLE_COUNT(event->code);
        if (HANDLER_WAITABLE_STATE(event->code) == HANDLER_WAITABLE_DROPPED) return finish(t);
        break;
    case HANDLER_EVENT_STREAM_READ:
        t->buf = t->rbuf;
        t->len = HANDLER_WAITABLE_COUNT(event->code);
        t->off = 0;
        if (HANDLER_WAITABLE_STATE(event->code) == HANDLER_WAITABLE_DROPPED) {
            wasi_http_types_stream_u8_drop_readable(t->in);
            t->in = 0;
        }
        break;
    case HANDLER_EVENT_SUBTASK:
        if (event->code != HANDLER_SUBTASK_RETURNED) return HANDLER_CALLBACK_CODE_WAIT(t->set);
        handler_subtask_drop(t->sub);
        t->waited = 1;
        break;
    case HANDLER_EVENT_FUTURE_WRITE:
        drop_future_writer(t, event->waitable);
        if (--t->writes) return HANDLER_CALLBACK_CODE_WAIT(t->set);
        task_free(t);
        return HANDLER_CALLBACK_CODE_EXIT;
    default:
        return HANDLER_CALLBACK_CODE_WAIT(t->set);
    }
    return step(t);
}

/* Appends "name: value\n" of every x-* header of req to fields h and returns the text. */
static uint8_t *copy_x_headers(wasi_http_types_borrow_request_t req, wasi_http_types_own_fields_t h)
{
    wasi_http_types_own_headers_t rh = wasi_http_types_method_request_get_headers(req);
    wasi_http_types_list_tuple2_field_name_field_value_t all;
    wasi_http_types_method_fields_copy_all(wasi_http_types_borrow_fields(rh), &all);
    size_t cap = 1;
    for (size_t i = 0; i < all.len; i++)
        cap += all.ptr[i].f0.len + all.ptr[i].f1.len + 11; /* twice for x-drop (below) */
    uint8_t *text = malloc(cap);
    if (!text) __builtin_trap();
    size_t n = 0;
    for (size_t i = 0; i < all.len; i++) {
        wasi_http_types_tuple2_field_name_field_value_t *e = &all.ptr[i];
        if (!starts_with(e->f0.ptr, e->f0.len, "x-")) continue;
        wasi_http_types_header_error_t err;
        if (!wasi_http_types_method_fields_append(wasi_http_types_borrow_fields(h), &e->f0, &e->f1,
                                                  &err))
            __builtin_trap();
        memcpy(text + n, e->f0.ptr, e->f0.len);
        n += e->f0.len;
        memcpy(text + n, ": ", 2);
        n += 2;
        memcpy(text + n, e->f1.ptr, e->f1.len);
        n += e->f1.len;
        text[n++] = '\n';
    }
    /* x-drop is taken out again with get-and-delete, its values listed as removed */
    wasi_http_types_field_name_t drop = {(uint8_t *)"x-drop", 6};
    wasi_http_types_list_field_value_t got;
    wasi_http_types_header_error_t err;
    if (!wasi_http_types_method_fields_get_and_delete(wasi_http_types_borrow_fields(h), &drop, &got,
                                                      &err))
        __builtin_trap();
    for (size_t i = 0; i < got.len; i++) {
        memcpy(text + n, "removed ", 8);
        n += 8;
        memcpy(text + n, got.ptr[i].ptr, got.ptr[i].len);
        n += got.ptr[i].len;
        text[n++] = '\n';
    }
    wasi_http_types_list_field_value_free(&got);
    text[n] = 0;
    wasi_http_types_list_tuple2_field_name_field_value_free(&all);
    wasi_http_types_fields_drop_own(rh);
    return text;
}

static void add_header(wasi_http_types_own_fields_t h, const char *name, const char *value)
{
    wasi_http_types_field_name_t n = {(uint8_t *)name, strlen(name)};
    wasi_http_types_field_value_t v = {(uint8_t *)value, strlen(value)};
    wasi_http_types_header_error_t err;
    if (!wasi_http_types_method_fields_append(wasi_http_types_borrow_fields(h), &n, &v, &err))
        __builtin_trap();
}

handler_callback_code_t
exports_wasi_http_handler_handle(exports_wasi_http_handler_own_request_t request)
{
    wasi_http_types_borrow_request_t req = wasi_http_types_borrow_request(request);
    wasi_http_types_method_t method;
    wasi_http_types_method_request_get_method(req, &method);
    handler_string_t path = {0};
    if (!wasi_http_types_method_request_get_path_with_query(req, &path)) path.len = 0;
    exports_wasi_http_handler_result_own_response_error_code_t res;
    if (starts_with(path.ptr, path.len, "/error")) {
        wasi_http_types_request_drop_own(request);
        handler_string_free(&path);
        memset(&res, 0, sizeof res);
        res.is_err = true;
        res.val.err.tag = WASI_HTTP_TYPES_ERROR_CODE_INTERNAL_ERROR;
        exports_wasi_http_handler_handle_return(res);
        return HANDLER_CALLBACK_CODE_EXIT;
    }
    struct task *t = calloc(1, sizeof *t);
    if (!t) __builtin_trap();
    t->set = handler_waitable_set_new();
    handler_context_set_0(t);
    wasi_http_types_own_fields_t h = wasi_http_types_constructor_fields();
    unsigned status = 200;
    if (method.tag == WASI_HTTP_TYPES_METHOD_POST && starts_with(path.ptr, path.len, "/echo")) {
        t->kind = ECHO;
        wasi_http_types_future_result_void_error_code_t rf =
            wasi_http_types_future_result_void_error_code_new(&t->rw);
        wasi_http_types_tuple2_stream_u8_future_result_option_own_trailers_error_code_t body;
        wasi_http_types_static_request_consume_body(request, rf, &body);
        t->in = body.f0;
        wasi_http_types_future_result_option_own_trailers_error_code_drop_readable(body.f1);
    } else {
        if (starts_with(path.ptr, path.len, "/stream")) {
            t->kind = STREAM;
            add_header(h, "content-type", "text/plain");
        } else if (starts_with(path.ptr, path.len, "/headers")) {
            t->text = copy_x_headers(req, h);
        } else if (starts_with(path.ptr, path.len, "/status/")) {
            status = 0;
            for (size_t i = 8; i < path.len && i < 11 && path.ptr[i] >= '0' && path.ptr[i] <= '9';
                 i++)
                status = status * 10 + (unsigned)(path.ptr[i] - '0');
            t->text = malloc(32);
            if (!t->text) __builtin_trap();
            format_line((char *)t->text, "status ", status);
        } else {
            add_header(h, "x-kiln-p3", "c");
            t->text = (uint8_t *)strdup("hello from a C p3 handler\n");
            if (!t->text) __builtin_trap();
        }
        wasi_http_types_request_drop_own(request);
    }
    handler_string_free(&path);
    wasi_http_types_stream_u8_t r = wasi_http_types_stream_u8_new(&t->w);
    wasi_http_types_future_result_option_own_trailers_error_code_t tr =
        wasi_http_types_future_result_option_own_trailers_error_code_new(&t->tw);
    wasi_http_types_tuple2_own_response_future_result_void_error_code_t ret;
    wasi_http_types_static_response_new(h, &r, tr, &ret);
    wasi_http_types_future_result_void_error_code_drop_readable(ret.f1);
    if (status != 200 && !wasi_http_types_method_response_set_status_code(
                             wasi_http_types_borrow_response(ret.f0), (uint16_t)status))
        __builtin_trap();
    res.is_err = false;
    res.val.ok = ret.f0;
    exports_wasi_http_handler_handle_return(res);
    return step(t);
}
