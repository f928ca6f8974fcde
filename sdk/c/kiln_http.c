/* kiln_http.c — the wasi:http backend of the Kiln C SDK (kiln_backend.h): the handler
 * becomes a WebAssembly component of the wasi:http/proxy world, exporting
 * wasi:http/incoming-handler.handle, which Kiln, Spin, `wasmtime serve` and `jco serve`
 * run. For each request handle():
 *   1. reads the method, the path with its query and the headers of the incoming-request
 *      into the request model (the body only when the handler asks, kiln_body(): read
 *      whole from the body's input-stream with blocking-read until it is closed);
 *   2. calls the handler's main(), exactly as a WAGI host would run it;
 *   3. kiln_send() (kiln__emit) builds an outgoing-response (headers, status), hands it to
 *      the response-outparam, writes the body with blocking-write-and-flush in pieces of
 *      at most 4096 bytes (the most that call accepts) and finishes the body. A handler
 *      that returns without sending gets what it built (status 0) or a 500 (other status).
 *
 * The imports are declared by hand in kiln_imports.h (shared with kiln_host.c, the host
 * APIs: outbound HTTP, key-value, variables). The component's type (the WIT world) is not in this
 * file: kiln-componentize.sh embeds the wasi:http/proxy world at WASI_VERSION (from jco's
 * WIT) and adapts the preview1 reactor into a component.
 *
 * Build: clang --target=wasm32-wasi --sysroot=/usr -mexec-model=reactor -O2 \
 *            -o core.wasm main.c kiln.c kiln_http.c && sh kiln-componentize.sh core.wasm app.wasm
 *
 * Request headers: all of them, Authorization included (a WAGI host hides it); repeated
 * ones are joined with ", ". kiln_param(name) and kiln_path_info() come from Spin's
 * spin-path-match-NAME and spin-path-info headers (which Kiln and Spin set), decoded; a
 * host without them (jco serve, wasmtime serve) serves the component at "/...", so the path
 * info is then the whole decoded path and there are no route parameters. */
#include "kiln.h"
#include "kiln_backend.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kiln_imports.h"

/* The allocator of the canonical ABI: the host calls it to place the lists and strings it
 * returns. A failed allocation cannot be reported to the host: it traps. */
__attribute__((export_name("cabi_realloc"))) void *cabi_realloc(void *old, size_t old_size,
                                                                size_t align, size_t new_size)
{
    (void)old_size;
    if (new_size == 0) return (void *)align;
    void *p = realloc(old, new_size);
    if (!p) abort();
    return p;
}

/* ---- the request model ---- */

static struct {
    handle request, outparam;
    int emitted;
    char *method, *path, *query;
    const char *path_info; /* decoded, once asked for (owned by kept) */
    size_t nheaders;
    char **hnames, **hvalues;
    size_t nkept; /* strings handed out later (decoded path info, parameters) */
    char **kept;
} rq;

/* Frees the previous request's model (its handles are gone with that call). */
static void request_reset(void)
{
    free(rq.method);
    free(rq.path);
    free(rq.query);
    for (size_t i = 0; i < rq.nheaders; i++) {
        free(rq.hnames[i]);
        free(rq.hvalues[i]);
    }
    free(rq.hnames);
    free(rq.hvalues);
    for (size_t i = 0; i < rq.nkept; i++)
        free(rq.kept[i]);
    free(rq.kept);
    memset(&rq, 0, sizeof rq);
}

/* Remembers s until the request ends and returns it. */
static const char *keep(char *s)
{
    if (rq.nkept == SIZE_MAX / sizeof(char *)) kiln__oom();
    rq.kept = kiln__xrealloc(rq.kept, (rq.nkept + 1) * sizeof(char *));
    rq.kept[rq.nkept++] = s;
    return s;
}

/* Adds one request header, joining a repeated one to the earlier value with ", ". */
static void add_request_header(const char *name, size_t nlen, const char *value, size_t vlen)
{
    char *n = kiln__xstrndup(name, nlen);
    for (size_t i = 0; i < rq.nheaders; i++)
        if (strcasecmp(rq.hnames[i], n) == 0) {
            kiln__sbuf b = {rq.hvalues[i], strlen(rq.hvalues[i]), strlen(rq.hvalues[i]) + 1};
            kiln__sb_append(&b, ", ", 2);
            kiln__sb_append(&b, value, vlen);
            rq.hvalues[i] = b.data;
            free(n);
            return;
        }
    if (rq.nheaders == SIZE_MAX / sizeof(char *)) kiln__oom();
    rq.hnames = kiln__xrealloc(rq.hnames, (rq.nheaders + 1) * sizeof(char *));
    rq.hvalues = kiln__xrealloc(rq.hvalues, (rq.nheaders + 1) * sizeof(char *));
    rq.hnames[rq.nheaders] = n;
    rq.hvalues[rq.nheaders] = kiln__xstrndup(value, vlen);
    rq.nheaders++;
}

/* Reads method, path, query and headers of the incoming-request into rq. */
static void load_request(handle request)
{
    static const char *const methods[] = {"GET",     "HEAD",    "POST",  "PUT",  "DELETE",
                                          "CONNECT", "OPTIONS", "TRACE", "PATCH"};
    ret_area r;
    req_method(request, &r);
    if (r.b[0] < sizeof methods / sizeof methods[0]) {
        rq.method = kiln__xstrndup(methods[r.b[0]], strlen(methods[r.b[0]]));
    } else { /* other(string) */
        char *s = (char *)(uintptr_t)word_at(&r, 4);
        rq.method = kiln__xstrndup(s, word_at(&r, 8));
        free_lowered(s, word_at(&r, 8));
    }

    req_path_with_query(request, &r);
    if (r.b[0] == 1) {
        char *s = (char *)(uintptr_t)word_at(&r, 4);
        size_t len = word_at(&r, 8);
        const char *q = memchr(s, '?', len);
        size_t plen = q ? (size_t)(q - s) : len;
        rq.path = plen ? kiln__xstrndup(s, plen) : kiln__xstrndup("/", 1);
        rq.query = q ? kiln__xstrndup(q + 1, len - plen - 1) : kiln__xstrndup("", 0);
        free_lowered(s, len);
    } else {
        rq.path = kiln__xstrndup("/", 1);
        rq.query = kiln__xstrndup("", 0);
    }

    handle headers = req_headers(request); /* a child of the request: dropped first */
    fields_entries(headers, &r);
    uint8_t *items = (uint8_t *)(uintptr_t)word_at(&r, 0);
    size_t count = word_at(&r, 4);
    for (size_t i = 0; i < count; i++) {
        uint32_t w[4];
        memcpy(w, items + 16 * i, sizeof w);
        char *name = (char *)(uintptr_t)w[0], *value = (char *)(uintptr_t)w[2];
        add_request_header(name, w[1], value, w[3]);
        free_lowered(name, w[1]);
        free_lowered(value, w[3]);
    }
    free_lowered(items, count);
    fields_drop(headers);
}

const char *kiln_method(void)
{
    return rq.method ? rq.method : "GET";
}

const char *kiln_path(void)
{
    return rq.path ? rq.path : "/";
}

const char *kiln__query_string(void)
{
    return rq.query ? rq.query : "";
}

const char *kiln_header(const char *name)
{
    for (size_t i = 0; i < rq.nheaders; i++)
        if (strcasecmp(rq.hnames[i], name) == 0) return rq.hvalues[i];
    return NULL;
}

const char *kiln_path_info(void)
{
    if (rq.path_info) return rq.path_info;
    const char *raw = kiln_header("spin-path-info");
    if (!raw) raw = kiln_path();
    rq.path_info = keep(kiln__url_decode(raw, strlen(raw), 0));
    return rq.path_info;
}

const char *kiln_param(const char *name)
{
    kiln__sbuf h = {0};
    kiln__sb_append(&h, "spin-path-match-", 16);
    kiln__sb_append(&h, name, strlen(name));
    const char *raw = kiln_header(h.data);
    free(h.data);
    return raw ? keep(kiln__url_decode(raw, strlen(raw), 0)) : NULL;
}

/* Drops the error resource that a stream-error may carry (at offsets 4 and 8). */
static void drop_stream_error(const ret_area *r)
{
    if (r->b[4] == 0) error_drop((handle)word_at(r, 8));
}

int kiln__read_incoming(handle in_body, kiln__sbuf *out, size_t max)
{
    ret_area r;
    in_body_stream(in_body, &r);
    if (r.b[0] != 0) {
        in_body_drop(in_body);
        return -1;
    }
    handle stream = (handle)word_at(&r, 4);
    int rc = 0;
    for (;;) {
        in_read(stream, 65536, &r);
        if (r.b[0] != 0) { /* closed is the end; last-operation-failed an error */
            if (r.b[4] == 0) rc = -1;
            drop_stream_error(&r);
            break;
        }
        char *data = (char *)(uintptr_t)word_at(&r, 4);
        size_t len = word_at(&r, 8);
        if (len > max - out->len) {
            free_lowered(data, len);
            rc = -1;
            break;
        }
        kiln__sb_append(out, data, len);
        free_lowered(data, len);
    }
    in_drop(stream); /* the stream is a child of the body */
    in_body_drop(in_body);
    return rc;
}

int kiln__write_outgoing(handle out_body, const void *data, size_t len)
{
    ret_area r;
    out_body_write(out_body, &r);
    handle stream = r.b[0] == 0 ? (handle)word_at(&r, 4) : 0;
    int rc = stream ? 0 : -1;
    for (size_t off = 0; stream && off < len;) {
        size_t piece = len - off < 4096 ? len - off : 4096;
        out_write_flush(stream, (const char *)data + off, piece, &r);
        if (r.b[0] != 0) { /* the peer went away: nothing more to do */
            drop_stream_error(&r);
            rc = -1;
            break;
        }
        off += piece;
    }
    if (stream) out_drop(stream); /* the stream is a child of the body */
    out_body_finish(out_body, 0, 0, &r);
    return rc == 0 && r.b[0] == 0 ? 0 : -1;
}

int kiln__read_body(kiln__sbuf *body)
{
    ret_area r;
    if (!rq.request) return -1;
    req_consume(rq.request, &r);
    if (r.b[0] != 0) return -1;
    return kiln__read_incoming((handle)word_at(&r, 4), body, KILN_MAX_BODY);
}

int kiln__emit(int status, size_t n, char *const *names, char *const *values, const char *body,
               size_t len)
{
    ret_area r;
    if (!rq.outparam) return -1;
    rq.emitted = 1;
    handle headers = fields_new();
    for (size_t i = 0; i < n; i++) {
        fields_append(headers, names[i], strlen(names[i]), values[i], strlen(values[i]), &r);
        if (r.b[0] != 0) /* forbidden (e.g. Connection) or invalid: left out, as hosts do */
            fprintf(stderr, "kiln sdk: the host refused the response header %s\n", names[i]);
    }
    handle response = resp_new(headers); /* takes the fields */
    if (resp_set_status(response, status) != 0) resp_set_status(response, 500);
    resp_body(response, &r);
    if (r.b[0] != 0) {
        resp_drop(response);
        return -1;
    }
    handle out_body = (handle)word_at(&r, 4);
    outparam_set(rq.outparam, 0, response, 0, 0, NULL, NULL, 0, 0);
    rq.outparam = 0;
    return kiln__write_outgoing(out_body, body, len);
}

/* ---- the export ---- */

int main(void); /* the handler's (with (int, char **) too: wasi-libc adapts it) */

__attribute__((export_name("wasi:http/incoming-handler@" WASI_VERSION "#handle"))) void
kiln__handle(handle request, handle outparam)
{
    request_reset();
    kiln__reset();
    rq.request = request;
    rq.outparam = outparam;
    load_request(request);
    int rc = main();
    fflush(stdout);
    fflush(stderr);
    if (!rq.emitted) {
        if (rc == 0)
            kiln_send();
        else
            kiln_respond_error(500, "the handler exited with status %d without answering", rc);
    }
    req_drop(request);
    rq.request = 0;
}
