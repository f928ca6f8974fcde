/* auth — a bearer-token HTTP middleware (examples/auth-middleware). The component exports
 * wasi:http/incoming-handler@0.2.12 and imports the same interface, which Kiln (as Spin's
 * dependencies.middleware) links to the next handler of the chain. A request whose
 * `Authorization` header is `Bearer <API_TOKEN>` is passed on, request and
 * response-outparam both, to the next handler; any other gets a 401 with
 * `WWW-Authenticate: Bearer` from here and never reaches the protected component.
 *
 * API_TOKEN comes from the environment, which the middleware sees because the manifest
 * gives it the component's configuration (inherit_configuration = true). No token
 * configured: every request is refused. The comparison takes the same time whatever
 * bytes differ. The imports are written against the canonical ABI by hand (the middleware
 * needs none of the C SDK). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define TYPES "wasi:http/types@0.2.12"
#define STREAMS "wasi:io/streams@0.2.12"
#define IMPORT(module, name) __attribute__((import_module(module), import_name(name)))
typedef int32_t handle;

IMPORT(TYPES, "[method]incoming-request.headers") extern handle req_headers(handle self);
IMPORT(TYPES, "[resource-drop]incoming-request") extern void req_drop(handle self);
/* list<list<u8>>: (pointer, count); items of 8 bytes (pointer, length) */
IMPORT(TYPES, "[method]fields.get")
extern void fields_get(handle self, const char *name, size_t len, uint32_t *ret);
IMPORT(TYPES, "[method]fields.append")
extern void fields_append(handle self, const char *name, size_t nlen, const char *value,
                          size_t vlen, uint8_t *ret);
IMPORT(TYPES, "[constructor]fields") extern handle fields_new(void);
IMPORT(TYPES, "[resource-drop]fields") extern void fields_drop(handle self);
IMPORT(TYPES, "[constructor]outgoing-response") extern handle resp_new(handle headers);
IMPORT(TYPES, "[method]outgoing-response.set-status-code")
extern int32_t resp_set_status(handle self, int32_t status);
IMPORT(TYPES, "[method]outgoing-response.body") extern void resp_body(handle self, uint32_t *ret);
IMPORT(TYPES, "[method]outgoing-body.write") extern void body_write(handle self, uint32_t *ret);
IMPORT(TYPES, "[static]outgoing-body.finish")
extern void body_finish(handle self, int32_t has_trailers, handle trailers, uint64_t *ret);
IMPORT(TYPES, "[static]response-outparam.set")
extern void outparam_set(handle outparam, int32_t is_err, handle response, int32_t e1, int64_t e2,
                         void *e3, void *e4, size_t e5, int32_t e6);
IMPORT(STREAMS, "[method]output-stream.blocking-write-and-flush")
extern void stream_write(handle self, const void *data, size_t len, uint32_t *ret);
IMPORT(STREAMS, "[resource-drop]output-stream") extern void stream_drop(handle self);
IMPORT("wasi:http/incoming-handler@0.2.12", "handle")
extern void next_handle(handle request, handle outparam);

__attribute__((export_name("cabi_realloc"))) void *cabi_realloc(void *old, size_t old_size,
                                                                size_t align, size_t size)
{
    (void)old_size, (void)align;
    return realloc(old, size ? size : 1);
}

/* 1 if a[0..n) equals b[0..m), in time that depends only on n. */
static int same(const char *a, size_t n, const char *b, size_t m)
{
    unsigned diff = n != m;
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)a[i] ^ (unsigned char)(i < m ? b[i] : 0);
    return diff == 0;
}

/* 1 if the request has exactly one Authorization header and it is "Bearer API_TOKEN". */
static int authorized(handle request)
{
    const char *token = getenv("API_TOKEN");
    if (!token || !*token) return 0;
    size_t tn = strlen(token);
    handle h = req_headers(request);
    uint32_t ret[2];
    fields_get(h, "authorization", 13, ret);
    const uint32_t *items = (const uint32_t *)(uintptr_t)ret[0];
    int ok = 0;
    if (ret[1] == 1) {
        const char *v = (const char *)(uintptr_t)items[0];
        size_t vn = items[1];
        ok = vn > 7 && (v[0] | 0x20) == 'b' && strncmp(v + 1, "earer ", 6) == 0 &&
             same(v + 7, vn - 7, token, tn);
    }
    for (uint32_t i = 0; i < ret[1]; i++)
        free((void *)(uintptr_t)items[2 * i]);
    free((void *)items);
    fields_drop(h);
    return ok;
}

/* Answers 401 with a WWW-Authenticate challenge and a short body. */
static void refuse(handle outparam)
{
    static const char body[] = "{\"error\": \"a valid bearer token is required\"}\n";
    handle hdrs = fields_new();
    uint8_t r8[2];
    fields_append(hdrs, "www-authenticate", 16, "Bearer realm=\"api\"", 18, r8);
    fields_append(hdrs, "content-type", 12, "application/json", 16, r8);
    handle response = resp_new(hdrs);
    resp_set_status(response, 401);
    uint32_t r[2];
    resp_body(response, r);
    outparam_set(outparam, 0, response, 0, 0, NULL, NULL, 0, 0);
    if (r[0] != 0) return;
    handle out = (handle)r[1];
    uint32_t w[2];
    body_write(out, w);
    if (w[0] == 0) {
        uint32_t e[3];
        stream_write((handle)w[1], body, sizeof body - 1, e);
        stream_drop((handle)w[1]);
    }
    uint64_t fin[6];
    body_finish(out, 0, 0, fin);
}

__attribute__((export_name("wasi:http/incoming-handler@0.2.12#handle"))) void
handle_request(handle request, handle outparam)
{
    if (authorized(request)) {
        next_handle(request, outparam);
        return;
    }
    req_drop(request);
    refuse(outparam);
}
