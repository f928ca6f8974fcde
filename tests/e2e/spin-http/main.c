/* The guest of tests/e2e/up_spin_http.sh: a wasi:http handler that makes one request
 * through fermyon:spin/http@2.0.0's send-request. The request's `x-target` header is the
 * uri, `x-method` (a digit: 0 get, 1 post, ...) the method, `x-body` the body (none when
 * absent); one header `x-from: kiln-test` is sent. It answers 200 with "status: S\nbody:
 * B\nheaders: N\n" (N: how many response headers came back), or "error: E\n" with E the
 * http-error case. Written against the canonical ABI by hand (send-request; the rest from
 * sdk/c/kiln_imports.h). */
#include <stdio.h>

#include "kiln_imports.h" /* the wasi:http and wasi:io imports, as the C SDK declares them */

IMPORT(HTTP_TYPES, "[method]fields.get")
extern void fields_get(handle self, const char *name, size_t len, uint32_t *ret);
/* send-request(request) -> result<response, http-error>, the request flattened (method,
 * uri, headers, params, option<body>), the result through a pointer:
 * 0 disc; ok: 4 status, 8 headers disc, 12/16 headers, 20 body disc, 24/28 body;
 * err: 4 the case */
IMPORT("fermyon:spin/http@2.0.0", "send-request")
extern void send_request(int32_t method, const char *uri, size_t ulen, const void *headers,
                         size_t nh, const void *params, size_t np, int32_t has_body,
                         const void *body, size_t blen, uint8_t *ret);

__attribute__((export_name("cabi_realloc"))) void *cabi_realloc(void *old, size_t old_size,
                                                                size_t align, size_t size)
{
    (void)old_size, (void)align;
    return realloc(old, size ? size : 1);
}

/* The first value of header name of the request (a malloc'd string), or NULL. */
static char *header(handle h, const char *name)
{
    uint32_t ret[2];
    fields_get(h, name, strlen(name), ret);
    const uint32_t *items = (const uint32_t *)(uintptr_t)ret[0];
    if (ret[1] == 0) return NULL;
    char *v = malloc(items[1] + 1);
    memcpy(v, (const void *)(uintptr_t)items[0], items[1]);
    v[items[1]] = '\0';
    return v;
}

static void answer(handle outparam, int status, const char *text, size_t n)
{
    handle response = resp_new(fields_new());
    resp_set_status(response, status);
    uint32_t r[2];
    resp_body(response, r);
    outparam_set(outparam, 0, response, 0, 0, NULL, NULL, 0, 0);
    handle out = (handle)r[1];
    uint32_t w[2];
    out_body_write(out, w);
    for (size_t off = 0; off < n;) { /* blocking-write-and-flush takes 4096 bytes at most */
        size_t k = n - off < 4096 ? n - off : 4096;
        uint32_t e[3];
        out_write_flush((handle)w[1], text + off, k, e);
        off += k;
    }
    out_drop((handle)w[1]);
    uint64_t fin[6];
    out_body_finish(out, 0, 0, fin);
}

__attribute__((export_name("wasi:http/incoming-handler@0.2.12#handle"))) void
handle_request(handle request, handle outparam)
{
    handle h = req_headers(request);
    char *uri = header(h, "x-target"), *method = header(h, "x-method"), *body = header(h, "x-body");
    fields_drop(h);
    req_drop(request);
    if (!uri) {
        answer(outparam, 400, "no x-target\n", 12);
        return;
    }
    static const char from[] = "x-from", val[] = "kiln-test";
    uint32_t hv[4] = {(uint32_t)(uintptr_t)from, 6, (uint32_t)(uintptr_t)val, 9}; /* a tuple */
    _Alignas(8) uint8_t ret[32];
    send_request(method ? atoi(method) : 0, uri, strlen(uri), hv, 1, NULL, 0, body != NULL, body,
                 body ? strlen(body) : 0, ret);
    size_t cap = 256, len;
    char *out;
    if (ret[0] != 0) {
        out = malloc(cap);
        len = (size_t)snprintf(out, cap, "error: %u\n", ret[4]);
    } else {
        uint16_t status;
        uint32_t hd[2] = {0, 0}, bd[2] = {0, 0};
        memcpy(&status, ret + 4, 2);
        if (ret[8]) memcpy(hd, ret + 12, 8);
        if (ret[20]) memcpy(bd, ret + 24, 8);
        cap += bd[1];
        out = malloc(cap);
        len = (size_t)snprintf(out, cap, "status: %u\nbody: %.*s\nheaders: %u\n", status,
                               (int)bd[1], (const char *)(uintptr_t)bd[0], hd[1]);
    }
    answer(outparam, 200, out, len);
}
