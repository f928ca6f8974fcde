/* An auth middleware for tests/e2e/component_deps.sh (Kiln's WASI 0.2 middleware form):
 * exports wasi:http/incoming-handler@0.2.12 and imports the same interface, which is the
 * next component of the chain. A request without `authorization: Bearer let-me-in` gets
 * 401 from here; any other goes on, request and response-outparam both, to the next
 * handler. Written against the canonical ABI by hand (as sdk/c/kiln_http.c). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define TYPES "wasi:http/types@0.2.12"
#define IMPORT(module, name) __attribute__((import_module(module), import_name(name)))
typedef int32_t handle;

IMPORT(TYPES, "[method]incoming-request.headers") extern handle req_headers(handle self);
IMPORT(TYPES, "[resource-drop]incoming-request") extern void req_drop(handle self);
/* list<list<u8>>: pointer at 0, count at 4; items of 8 bytes (pointer, length) */
IMPORT(TYPES, "[method]fields.get")
extern void fields_get(handle self, const char *name, size_t len, uint32_t *ret);
IMPORT(TYPES, "[constructor]fields") extern handle fields_new(void);
IMPORT(TYPES, "[resource-drop]fields") extern void fields_drop(handle self);
IMPORT(TYPES, "[constructor]outgoing-response") extern handle resp_new(handle headers);
IMPORT(TYPES, "[method]outgoing-response.set-status-code")
extern int32_t resp_set_status(handle self, int32_t status);
IMPORT(TYPES, "[method]outgoing-response.body") extern void resp_body(handle self, uint32_t *ret);
IMPORT(TYPES, "[static]outgoing-body.finish")
extern void out_body_finish(handle self, int32_t has_trailers, handle trailers, uint64_t *ret);
IMPORT(TYPES, "[static]response-outparam.set")
extern void outparam_set(handle outparam, int32_t is_err, handle response, int32_t e1, int64_t e2,
                         void *e3, void *e4, size_t e5, int32_t e6);
IMPORT("wasi:http/incoming-handler@0.2.12", "handle")
extern void next_handle(handle request, handle outparam);

__attribute__((export_name("cabi_realloc"))) void *cabi_realloc(void *old, size_t old_size,
                                                                size_t align, size_t size)
{
    (void)old_size, (void)align;
    return realloc(old, size ? size : 1);
}

static int authorized(handle request)
{
    static const char want[] = "Bearer let-me-in";
    handle h = req_headers(request);
    uint32_t ret[2];
    fields_get(h, "authorization", 13, ret);
    const uint32_t *items = (const uint32_t *)(uintptr_t)ret[0];
    int ok = 0;
    for (uint32_t i = 0; i < ret[1]; i++)
        if (items[2 * i + 1] == sizeof want - 1 &&
            memcmp((const void *)(uintptr_t)items[2 * i], want, sizeof want - 1) == 0)
            ok = 1;
    fields_drop(h);
    return ok;
}

__attribute__((export_name("wasi:http/incoming-handler@0.2.12#handle"))) void
handle_request(handle request, handle outparam)
{
    if (authorized(request)) {
        next_handle(request, outparam);
        return;
    }
    req_drop(request);
    handle response = resp_new(fields_new());
    resp_set_status(response, 401);
    uint32_t r[2];
    resp_body(response, r);
    outparam_set(outparam, 0, response, 0, 0, NULL, NULL, 0, 0);
    uint64_t fin[6];
    if (r[0] == 0) out_body_finish((handle)r[1], 0, 0, fin);
}
