/* http.h — wasi:http/types 0.3 for components serving wasi:http/handler@0.3 (provider
 * "wasi:http 0.3", registered under 0.3.0 and 0.3.0-rc-2026-03-15).
 *
 * Requests are bound to the context (kiln_p3http_bind: its parts, borrowed until
 * kiln_p3http_release; the body whole in memory, or streamed: fed by the executor as the
 * connection brings it): one at a time on a fresh or serially reused instance, up to
 * KILN_P3HTTP_MAX_REQS at once on an instance that serves several requests concurrently
 * (exec/http/reuse_p3.h). Each bound request is a slot of its own (kiln_p3http_req: its
 * rep, body feed, the response it returned, its trailers); the executor passes
 * kiln_p3http_request_rep as handle's own<request> and gets back the rep of the guest's
 * own<response>. Fields and responses are the context's (one table: the guest may make
 * a response in one request's task and return it from another's).
 *
 * Resources: `fields` (the 0.2 rules: host/wasihttp's wh_fields, names lowercased,
 * hop-by-hop names forbidden; the request's and a response's headers are immutable),
 * `request` (the incoming one: get-method, get-path-with-query, get-scheme,
 * get-authority, get-headers, consume-body) and `response` (new, get/set-status-code,
 * get-headers).
 * Bodies are host-owned streams (component/host.h). request.consume-body returns a
 * stream<u8> the host writes from the request's bytes: a streamed body goes through a
 * buffer of at most KILN_P3HTTP_HIGH bytes that the executor fills from the connection
 * while the guest waits for it (kiln_p3http_body_wants / _put / _end, the executor's
 * kiln_component_idle), so the guest may read it before or after it responds; its
 * trailers future resolves once the body ended, with its trailer fields (HTTP/1.1
 * chunked trailers; ok(none) when there are none), and the guest's future passed to consume-body is
 * read: an error-code there stops the body. response.new makes the host the reader of the guest's
 * contents stream, taking bytes into a buffer of at most KILN_P3HTTP_HIGH bytes (a fuller buffer
 * keeps the guest's write pending) that the executor empties into the client's response
 * (kiln_p3http_body_take), then wakes the stream; when the guest drops its writable end
 * the body ends and the future response.new returned resolves with ok. The guest's
 * trailers future (response.new's third argument) is read too: its fields become the
 * response's trailers (kiln_p3http_trailers), an error-code aborts the response.
 * response.consume-body (a middleware forwarding the next handler's answer, in one
 * instance graph with it) gives that buffer's bytes to a stream the host writes (its
 * trailers future: ok(none) at once).
 * Outgoing requests, request-options, wasi:http/client and the consume-body of a response
 * client.send returned: client.h.
 * On a reused instance (kiln_p3http_release) futures of an earlier request that the
 * guest writes late are ignored. */
#ifndef KILN_HOST_WASIP3_HTTP_H
#define KILN_HOST_WASIP3_HTTP_H

#include "component/host.h"
#include "component/instance.h"
#include "host/wasihttp/wasihttp.h"

#define KILN_P3HTTP_PROVIDER "wasi:http 0.3"
#define KILN_P3HTTP_HIGH (256u * 1024u)
/* Requests bound to one context at once. */
#define KILN_P3HTTP_MAX_REQS 64

extern const kiln_chost_provider kiln_p3http_provider;

typedef struct kiln_p3http kiln_p3http;
typedef struct kiln_p3http_req kiln_p3http_req;

/* Binds a request to the context (req borrowed until kiln_p3http_release). Its body
 * is req->body whole, or, when streamed, what the executor feeds with
 * kiln_p3http_body_put / _end as the connection brings it. The request's slot, or NULL
 * (KILN_P3HTTP_MAX_REQS bound already). */
kiln_p3http_req *kiln_p3http_bind(kiln_p3http *h, const kiln_wasihttp_request *req, int streamed);
/* Request q's streamed body: 1 when the guest took it (consume-body), still holds its stream,
 * the connection's body has not ended and the host's buffer has room — the host should
 * read more from the connection (kiln_component_idle's wants). */
int kiln_p3http_body_wants(const kiln_p3http_req *q);
/* How many more bytes the buffer takes (at most KILN_P3HTTP_HIGH are held). */
size_t kiln_p3http_body_room(const kiln_p3http_req *q);
/* Adds n bytes from the connection (n <= body_room) and retries the guest's pending
 * read. Bytes for a body the guest did not take, or dropped, are discarded. 0 or -1
 * (out of memory). */
int kiln_p3http_body_put(kiln_p3http_req *q, const void *data, size_t n);
/* A trailer field of the streamed body, before kiln_p3http_body_end (forbidden or
 * malformed names are left out). 0 or -1 (out of memory). */
int kiln_p3http_body_trailer(kiln_p3http_req *q, const char *name, size_t nlen, const char *value,
                             size_t vlen);
/* The connection's body ended (failed: it broke off; the guest's stream then ends
 * early and the trailers future stays unresolved): once the buffer is read, the
 * guest's stream ends, and consume-body's trailers future resolves with the trailer
 * fields given (ok(some(fields))), or ok(none). */
void kiln_p3http_body_end(kiln_p3http_req *q, int failed);
/* The rep of the incoming request, for handle's own<request> argument. */
uint32_t kiln_p3http_request_rep(const kiln_p3http_req *q);
/* The response rep the guest returned for request q: its status and headers (NULL when
 * rep is not a live response of this context); q's response from now on. */
const wh_fields *kiln_p3http_response(kiln_p3http_req *q, uint32_t rep, int *status);
/* The response body's bytes taken so far (*n of them, valid until the next take),
 * handed out and emptied by the call; *ended once the guest dropped the stream (or gave
 * none). The guest's pending write is retried (into the emptied buffer). */
const uint8_t *kiln_p3http_body_take(kiln_p3http_req *q, uint32_t rep, size_t *n, int *ended);
/* 1 when the response body has bytes to take, or has ended and the guest wrote its
 * trailers future (kiln_component_drive's condition; q is the request, the response the
 * one kiln_p3http_response looked up for it). */
int kiln_p3http_body_ready(void *q);
/* After the body ended: the trailers the guest wrote (*trailers NULL: none, or the
 * future was never written). 0, or -1 when the guest wrote an error-code (the response
 * must be aborted) or rep is unknown. */
int kiln_p3http_trailers(kiln_p3http_req *q, uint32_t rep, const wh_fields **trailers);

/* After request q whose response `rep` ended (0: none): the response's slot freed, the
 * request unbound and its slot reset (futures given out for them and written later
 * change nothing). -1 when the instance must not serve on: the guest still holds the
 * request body's stream, which would read the next request's body (the slot is then
 * never bound again, and that stream ends failed). */
int kiln_p3http_release(kiln_p3http_req *q, uint32_t rep);
/* For client.c (outgoing requests and the responses send returns). */
struct kiln_p3client;
/* The instance's client state (made with the context). */
struct kiln_p3client *kiln_p3http_client(kiln_p3http *h);
/* The instance serves concurrent requests, each a call of handle started with its
 * kiln_p3http_req as the call's tag (kiln_component_call_start): kiln_p3http_served
 * then names the request whose guest code runs. */
void kiln_p3http_share(kiln_p3http *h, kiln_component_instance *ci);
/* The request the instance serves (for what outbound requests inherit: its trace
 * context, its depth in service chaining): on a shared instance the one whose guest code
 * runs, else the first bound; NULL when none is. */
const kiln_wasihttp_request *kiln_p3http_served(kiln_p3http *h);
/* A new fields handle's rep for f (taken); 0 with cx->err. */
uint32_t kiln_p3http_fields_put(kiln_p3http *h, kiln_cabi_cx *cx, wh_fields *f);
/* Takes an own<fields> argument out of the table; NULL with cx->err when unknown. */
wh_fields *kiln_p3http_fields_take(kiln_p3http *h, kiln_cabi_cx *cx, uint32_t rep);
/* A new response (status, headers taken and made immutable) with no guest body: its rep,
 * or 0 with cx->err (the headers freed; NULL headers: out of memory). */
uint32_t kiln_p3http_response_add(kiln_p3http *h, kiln_cabi_cx *cx, int status, wh_fields *headers);

#endif
