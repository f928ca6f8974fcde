/* client.h — wasi:http 0.3's outbound half (client.c), part of the "wasi:http 0.3" provider
 * (http.h): wasi:http/client `send` (registered under 0.3.0 and 0.3.0-rc-2026-03-15) and
 * the pieces of wasi:http/types it needs: request.new and its setters, request-options,
 * and the responses send returns (their body as a stream for the guest, their trailers
 * as a future).
 *
 * The rules are 0.2's (host/wasihttp/outbound.h, through outgoing.c's wh_send): the
 * target actually connected is checked against the component's allowed_outbound_hosts
 * (denied: error-code.HTTP-request-denied and a log line), NAME.spin.internal and self
 * requests run in process (exec/http/chain.c), the outbound metrics and CLIENT span are
 * 0.2's, and the component's max_connections limit applies. One HTTP client: 0.2's.
 *
 * Reps. The incoming request is rep 1 of the `request` type and the guest's responses are
 * http.c's; requests made by request.new are KILN_P3C_BASE + i, so http.c hands their
 * getters here (kiln_p3c_owns). Responses send returns are http.c responses
 * (kiln_p3http_response_add) whose body this file keeps.
 *
 * Waits. send is a host call left pending (component/host.h): its `fire` waits on the
 * transfer a slice at a time (at most P3C_SLICE_MS) and gives the driver back until the
 * head comes, so guest threads (writing the request body) and other host calls run in
 * between; the whole stays within the call's time limit. The request body (contents
 * stream<u8>) streams out as the guest writes it: before send at most WH_XFER_BUFFER is
 * kept (a guest writing more waits for send), then each write goes to the transfer
 * (outbound.h: chunked, or as the guest's content-length says; DATA frames on HTTP/2),
 * whose bounded buffer gives backpressure: a write it cannot take stays pending while
 * send is (send's fire drives the connection and wakes it), and once send answered it
 * waits on the connection inside the guest's copy. The head goes as soon as the
 * connection is up, and send answers as soon as the response head comes, even while
 * the body still goes (full duplex). The body ends when the guest dropped its writable
 * end and wrote request.new's trailers future (its trailers are sent after the body),
 * or yields to the host without writing it (no trailers then); an error-code in that
 * future aborts the request, as does a body shorter or longer than its content-length
 * (HTTP-request-body-size). request.new's future resolves with the body's outcome as it
 * is handed on.
 * The response body is a stream the host writes from the connection as the guest reads
 * it (the guest's read size bounds what is buffered); a read with nothing there waits on
 * the connection inside the guest's copy (the driver's thread, never the event loop), so
 * the guest's time limit ends it. Its trailers future resolves at the end with
 * ok(some(fields)) (immutable; a copy of the upstream's, wh_xfer_trailers) or ok(none)
 * when none came, or err(error-code) when the body failed (a trailer section past the
 * head's limit included).
 *
 * A response from send that the handler returns as its own streams its body from the
 * connection to the client (kiln_p3c_body_take, on the request's fiber), then the
 * upstream's trailers as the response's (kiln_p3c_trailers).
 *
 * request.consume-body of a request made by request.new hands the body the guest writes
 * to request.new's stream back through a host-written stream (buffered up to
 * WH_XFER_BUFFER, the writer waiting beyond), and its trailers future's value through a
 * new future; the consumer's future resolves request.new's (wasmtime's semantics).
 * HTTP-request-body-size carries the bytes the guest wrote; a body short of its
 * content-length fails send with HTTP-protocol-error, as wasmtime 48's hyper does.
 *
 * Not yet: the DNS-error payload's rcode. */
#ifndef KILN_HOST_WASIP3_CLIENT_H
#define KILN_HOST_WASIP3_CLIENT_H

#include "component/host.h"
#include "host/wasihttp/wasihttp.h"
#include "util/buf.h"

#define KILN_P3C_BASE 0x40000000u

typedef struct kiln_p3client kiln_p3client;

/* The client state of an instance with grants g (borrowed for the instance's life);
 * NULL out of memory. */
kiln_p3client *kiln_p3c_new(const kiln_grants *g);
void kiln_p3c_free(kiln_p3client *c);
/* 1 if rep is a request made by request.new (a rep of this file). */
int kiln_p3c_owns(uint32_t rep);

/* wasi:http/client, under both versions. */
extern const kiln_chost_iface kiln_p3c_client_rc, kiln_p3c_client_rel;

/* Host functions of wasi:http/types (ctx: the provider's kiln_p3http). */
int kiln_p3c_request_new(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res);
int kiln_p3c_get_method(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res);
int kiln_p3c_set_method(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res);
int kiln_p3c_get_path(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res);
int kiln_p3c_set_path(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res);
int kiln_p3c_get_scheme(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res);
int kiln_p3c_set_scheme(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res);
int kiln_p3c_get_authority(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res);
int kiln_p3c_set_authority(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res);
int kiln_p3c_get_headers(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res);
int kiln_p3c_get_options(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res);
int kiln_p3c_request_consume(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res);
void kiln_p3c_request_dtor(void *ctx, uint32_t rep);
int kiln_p3c_options_new(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res);
int kiln_p3c_get_connect(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res);
int kiln_p3c_set_connect(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res);
int kiln_p3c_get_first_byte(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res);
int kiln_p3c_set_first_byte(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res);
int kiln_p3c_get_between(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res);
int kiln_p3c_set_between(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res);
int kiln_p3c_options_clone(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res);
void kiln_p3c_options_dtor(void *ctx, uint32_t rep);
int kiln_p3c_response_consume(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res);

/* A response from send returned as the handler's own (http.h's kiln_p3http_body_take):
 * the next bytes of its body read into out (waiting for some on the connection: a fiber
 * parks), *n of them; *ended at its end (the transfer goes then). */
const uint8_t *kiln_p3c_body_take(void *ctx, uint32_t rep, kiln_buf *out, size_t *n, int *ended);
/* 1 when that body failed before its end (never *ended: the executor aborts the
 * response, as for a guest that stops writing). */
int kiln_p3c_body_failed(void *ctx, uint32_t rep);
/* That body's trailers from the upstream (owned by the client) once it ended whole: NULL
 * when none came (or before the end, or after a failure). */
const wh_fields *kiln_p3c_trailers(void *ctx, uint32_t rep);

#endif
