/* kiln_imports.h — inside the Kiln C SDK's wasi:http backend: the imports of the
 * component (wasi:http, wasi:io) declared by hand, shared by kiln_http.c (the request and
 * the response) and kiln_host.c (outbound HTTP, key-value, variables). Not for handlers.
 *
 * The declarations follow the canonical ABI's flattening of their WIT signatures at
 * WASI_VERSION: results that do not fit in one core value are written to a return area
 * passed as the last argument, laid out as records of 32-bit words (wasm32: pointers and
 * lengths are 4 bytes; a variant with a 64-bit case is aligned to 8); lists and strings the
 * host returns are allocated through cabi_realloc (malloc), so the SDK frees them
 * (free_lowered). */
#ifndef KILN_SDK_IMPORTS_H
#define KILN_SDK_IMPORTS_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kiln_backend.h"

#define WASI_VERSION "0.2.12"
#define HTTP_TYPES "wasi:http/types@" WASI_VERSION
#define IO_STREAMS "wasi:io/streams@" WASI_VERSION
#define IO_ERROR "wasi:io/error@" WASI_VERSION
#define IMPORT(module, name) __attribute__((import_module(module), import_name(name)))

/* A resource handle (own or borrow); 0 is never a valid one. */
typedef int32_t handle;

/* ---- the imports (wasi:http/types, wasi:io) ---- */

/* method: variant (tag u8 at 0; `other` string at 4, 8) */
IMPORT(HTTP_TYPES, "[method]incoming-request.method")
extern void req_method(handle self, void *ret);
/* option<string>: tag at 0, string at 4, 8 */
IMPORT(HTTP_TYPES, "[method]incoming-request.path-with-query")
extern void req_path_with_query(handle self, void *ret);
IMPORT(HTTP_TYPES, "[method]incoming-request.headers")
extern handle req_headers(handle self);
/* result<own<incoming-body>>: tag at 0, handle at 4 */
IMPORT(HTTP_TYPES, "[method]incoming-request.consume")
extern void req_consume(handle self, void *ret);
IMPORT(HTTP_TYPES, "[resource-drop]incoming-request")
extern void req_drop(handle self);
/* result<own<input-stream>>: tag at 0, handle at 4 */
IMPORT(HTTP_TYPES, "[method]incoming-body.stream")
extern void in_body_stream(handle self, void *ret);
IMPORT(HTTP_TYPES, "[resource-drop]incoming-body")
extern void in_body_drop(handle self);

IMPORT(HTTP_TYPES, "[constructor]fields")
extern handle fields_new(void);
/* list<tuple<string, list<u8>>>: pointer at 0, count at 4; items of 16 bytes */
IMPORT(HTTP_TYPES, "[method]fields.entries")
extern void fields_entries(handle self, void *ret);
/* result<_, header-error>: tag at 0, error case (u8) at 1 */
IMPORT(HTTP_TYPES, "[method]fields.append")
extern void fields_append(handle self, const char *name, size_t name_len, const char *value,
                          size_t value_len, void *ret);
IMPORT(HTTP_TYPES, "[resource-drop]fields")
extern void fields_drop(handle self);

IMPORT(HTTP_TYPES, "[constructor]outgoing-response")
extern handle resp_new(handle headers);
/* result<_, _> as 0 / 1 */
IMPORT(HTTP_TYPES, "[method]outgoing-response.set-status-code")
extern int32_t resp_set_status(handle self, int32_t status);
/* result<own<outgoing-body>>: tag at 0, handle at 4 */
IMPORT(HTTP_TYPES, "[method]outgoing-response.body")
extern void resp_body(handle self, void *ret);
IMPORT(HTTP_TYPES, "[resource-drop]outgoing-response")
extern void resp_drop(handle self);
/* result<own<output-stream>>: tag at 0, handle at 4 */
IMPORT(HTTP_TYPES, "[method]outgoing-body.write")
extern void out_body_write(handle self, void *ret);
/* (body, option<own<trailers>> as tag + handle) -> result<_, error-code> (40-byte area) */
IMPORT(HTTP_TYPES, "[static]outgoing-body.finish")
extern void out_body_finish(handle self, int32_t has_trailers, handle trailers, void *ret);
/* (outparam, result<own<outgoing-response>, error-code> flattened): the ok case is the
 * tag 0 and the handle; the other seven values belong to error-code and are zero. */
IMPORT(HTTP_TYPES, "[static]response-outparam.set")
extern void outparam_set(handle outparam, int32_t is_err, handle response, int32_t e1, int64_t e2,
                         void *e3, void *e4, size_t e5, int32_t e6);

/* result<list<u8>, stream-error>: tag at 0; ok: list at 4, 8; err: stream-error tag at 4
 * (0 last-operation-failed with own<error> at 8, 1 closed) */
IMPORT(IO_STREAMS, "[method]input-stream.blocking-read")
extern void in_read(handle self, int64_t len, void *ret);
IMPORT(IO_STREAMS, "[resource-drop]input-stream")
extern void in_drop(handle self);
/* result<_, stream-error>: tag at 0, stream-error as above at 4 and 8 */
IMPORT(IO_STREAMS, "[method]output-stream.blocking-write-and-flush")
extern void out_write_flush(handle self, const void *data, size_t len, void *ret);
IMPORT(IO_STREAMS, "[resource-drop]output-stream")
extern void out_drop(handle self);
IMPORT(IO_ERROR, "[resource-drop]error")
extern void error_drop(handle self);

/* The return area of an import: large enough and aligned for every result above. */
typedef struct ret_area {
    _Alignas(8) uint8_t b[64];
} ret_area;

static inline uint32_t word_at(const ret_area *r, size_t off)
{
    uint32_t v;
    memcpy(&v, r->b + off, sizeof v);
    return v;
}

/* Frees a list or string of len elements that the host placed with cabi_realloc: an empty
 * one was never allocated (cabi_realloc answered its alignment). */
static inline void free_lowered(void *p, size_t len)
{
    if (len) free(p);
}

/* Reads an incoming-body (taken: dropped after) whole into out, at most max bytes in all.
 * 0, or -1 (unreadable, or longer). (kiln_http.c) */
int kiln__read_incoming(handle in_body, kiln__sbuf *out, size_t max);
/* Writes len bytes to an outgoing-body (taken: finished after). 0 or -1. (kiln_http.c) */
int kiln__write_outgoing(handle out_body, const void *data, size_t len);

#endif
