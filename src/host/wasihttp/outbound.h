/* outbound.h — outbound HTTP for wasi:http/outgoing-handler: which targets a component may
 * reach (allow.c) and the HTTP/1.1 and HTTP/2 client that reaches them (client.c,
 * client_h2.c; its pool, TLS context and limits in client_conn.c, the chunked framing of
 * request bodies in client_chunk.c).
 *
 * Grants. allowed_outbound_hosts entries use Spin's syntax: "scheme://host[:port]" where
 * the scheme may be "*", the host "*" or "*.domain" (subdomains of domain, not domain
 * itself), the port "*", a number or a range "a..b"; without a port the scheme's default
 * (http 80, https 443; for "*" the default of the request's scheme). Deny by default. A
 * request's target is checked as it will be connected: the scheme, the host of the
 * authority and the port (explicit or default). Hosts compare lowercased, one trailing dot
 * ignored on both sides. IP literals match only a grant naming that address (or host
 * "*"), compared as addresses ([::1] == [0:0::1]); legacy IPv4 spellings (127.1,
 * 0x7f.0.0.1, 2130706433) are refused, so that no name-shaped string reaches an address.
 * Names are matched before DNS, so what a name resolves to cannot widen a grant.
 * Userinfo ("user@host") is refused. "{{ variable }}" templates are resolved by kiln up
 * before any instance sees the grants (host/spin/app.c); one left unresolved grants
 * nothing. Service chaining ("http://NAME.spin.internal", "http://" "*.spin.internal") and
 * self requests ("http://self", "http://self.alt": a relative URL, or host self.alt) go to
 * the application in process (chain.c, exec/http/chain.c), never to the network.
 *
 * Client. One transfer per outgoing request: DNS (getaddrinfo on kiln_offload: the
 * guest's fiber parks), a non-blocking connect, TLS (OpenSSL, the system's CA store,
 * SNI and hostname check), the request sent, the response head parsed (bounded), the body
 * decoded as it arrives (Content-Length, chunked, or until close). A request body comes
 * whole (wh_xfer_body: buffered, a Content-Length is added) or streamed (spec.stream:
 * wh_xfer_write as the guest writes, wh_xfer_end): the head goes as soon as the
 * connection is up, the bytes follow as they come through a bounded buffer
 * (WH_XFER_BUFFER; a full buffer makes the writer wait, wh_xfer_check_send), framed as
 * the guest's Content-Length says (exactly that many bytes, else HTTP-request-body-size)
 * or chunked (RFC 9112 7.1, with the guest's trailers in the trailer section; a body
 * that ended before the head could go is sent with a Content-Length instead, unless it
 * has trailers); over HTTP/2 as DATA frames within the peer's windows and trailers as a
 * last HEADERS frame. The response may come before the request body ended (its head is
 * read meanwhile); one that ends first leaves the connection unpooled. Nothing blocks: the transfer
 * makes what progress it can when checked or read, and otherwise says which fd, events and deadline
 * to wait for; wasi:io pollables (wasip2.h p2_ready_ops) and blocking reads park the guest's fiber
 * on that. Timeouts: connect (with TLS), first byte (sending the request, then from the request
 * sent to the response head), between bytes of the body; a phase times out only when it has to wait
 * past its deadline. Idle keep-alive connections are kept in a process-wide pool per (scheme, host,
 * port) and reused; a reused connection that fails before any response byte is replaced once.
 * Redirects are never followed. Over TLS the client offers h2 and http/1.1 by ALPN; an h2
 * connection is handed to client_h2.c (design in client_h2.h) and the transfer becomes a stream on
 * it, behind the same functions below (the transfer then waits on an eventfd of its own).
 *
 * At most half the process's descriptor limit of transfers are alive at once (more:
 * connection-limit-reached), so guests cannot take the server's descriptors. A component
 * may be limited further (runtime config [outbound_http] max_connections): a transfer past
 * its limit waits, before connecting, until one of the component's requests ends (its
 * response body read to the end, failed or dropped), as Spin's permits do; the guest's
 * request timeout bounds the wait. A limit of 0 refuses every request
 * (connection-limit-reached). In-process (chained) requests do not count.
 *
 * A transfer is reference-counted (the future, the response, its body and their
 * pollables each hold one) and refers to no instance state, so the two host contexts of
 * an instance may be freed in any order. */
#ifndef KILN_HOST_WASIHTTP_OUTBOUND_H
#define KILN_HOST_WASIHTTP_OUTBOUND_H

#include <stddef.h>
#include <stdint.h>

#include "host/wasihttp/wasihttp.h"
#include "util/buf.h"

/* ---- targets and grants (allow.c) ---- */

#define WH_HOST_MAX 253

typedef struct wh_target {
    int https;                  /* the scheme: 0 http, 1 https */
    char scheme[16];            /* its name ("http", "https", "redis", ...), lowercase */
    uint16_t dport;             /* the scheme's default port */
    char host[WH_HOST_MAX + 3]; /* lowercased, no trailing dot; IPv6 as "[canonical]" */
    int ip;                     /* 4 or 6: an IP literal; 0: a name */
    uint16_t port;              /* explicit, else the scheme's default */
} wh_target;

/* Parses an authority "host[:port]" ("[v6]:port" for IPv6) for the scheme into t. 0, or
 * -1 when it is not a valid target (userinfo, empty or malformed host, legacy IPv4 form,
 * port 0 or past 65535). */
int wh_target_parse(wh_target *t, int https, const char *authority, size_t n);
/* The same for any scheme (lowercase, under 16 bytes) whose default port is dport
 * ("redis", 6379): Spin's grants name Redis and PostgreSQL hosts the same way. */
int wh_target_parse_scheme(wh_target *t, const char *scheme, uint16_t dport, const char *authority,
                           size_t n);

/* Writes the authority t connects to as a metrics label: the normalised host (lowercase, no
 * trailing dot, IPv6 canonical in brackets) and ":port" unless it is the scheme's default,
 * so that "API.example.com.:443" and "api.example.com" are one series. 0, or -1 when cap
 * is too small (WH_LABEL_MAX is enough). */
#define WH_LABEL_MAX (WH_HOST_MAX + 10)
int wh_target_label(const wh_target *t, char *buf, size_t cap);

/* 1 if one of grants[0..n) allows t, else 0. A target naming the application itself
 * (wh_chain_target) is never allowed: it is not reached over the network. */
int wh_allow(const char *const *grants, size_t n, const wh_target *t);
/* 1 if the host part of one of grants[0..n) allows t's host, whatever the grant's scheme
 * and port (wasi:sockets' name lookups). Chaining targets never match. */
int wh_allow_host(const char *const *grants, size_t n, const wh_target *t);
/* Service chaining (Spin's rules): 1 if t is "NAME.spin.internal" (*name_len: the bytes
 * of NAME, 0 for "spin.internal" itself), 2 if it is "self" or "self.alt" (a self
 * request), else 0. */
int wh_chain_target(const wh_target *t, size_t *name_len);
/* 1 if a grant allows the chaining target t (as wh_allow, without its refusal):
 * "http://NAME.spin.internal", the wildcard over NAME, or any host. */
int wh_allow_chained(const char *const *grants, size_t n, const wh_target *t);
/* 1 if a grant allows self requests (a relative URL, or host "self.alt"): scheme http,
 * https or "*" with host "self", "self.alt" or "*", any port (Spin's allows_relative). */
int wh_allow_self(const char *const *grants, size_t n);

/* ---- transfers (client.c) ---- */

/* error-code cases of wasi:http/types (types.c names them). */
enum {
    WH_E_DNS_ERROR = 1,
    WH_E_DESTINATION_NOT_FOUND = 2,
    WH_E_DESTINATION_UNAVAILABLE = 3,
    WH_E_CONNECTION_REFUSED = 6,
    WH_E_CONNECTION_TERMINATED = 7,
    WH_E_CONNECTION_TIMEOUT = 8,
    WH_E_CONNECTION_READ_TIMEOUT = 9,
    WH_E_CONNECTION_WRITE_TIMEOUT = 10,
    WH_E_CONNECTION_LIMIT_REACHED = 11,
    WH_E_TLS_PROTOCOL_ERROR = 12,
    WH_E_TLS_CERTIFICATE_ERROR = 13,
    WH_E_HTTP_REQUEST_DENIED = 15,
    WH_E_HTTP_REQUEST_BODY_SIZE = 17,
    WH_E_HTTP_REQUEST_METHOD_INVALID = 18,
    WH_E_HTTP_REQUEST_URI_INVALID = 19,
    WH_E_HTTP_RESPONSE_INCOMPLETE = 25,
    WH_E_HTTP_RESPONSE_HEADER_SECTION_SIZE = 26,
    WH_E_HTTP_RESPONSE_TRAILER_SECTION_SIZE = 29,
    WH_E_HTTP_RESPONSE_TRANSFER_CODING = 31,
    WH_E_HTTP_PROTOCOL_ERROR = 35,
    WH_E_LOOP_DETECTED = 36,
    WH_E_INTERNAL = 38,
};

/* Defaults of request-options (nanoseconds). */
#define WH_CONNECT_TIMEOUT_NS (10ull * 1000000000u)
#define WH_FIRST_BYTE_TIMEOUT_NS (60ull * 1000000000u)
#define WH_BETWEEN_BYTES_TIMEOUT_NS (60ull * 1000000000u)

/* The largest request body kept for sending whole, and response head accepted. */
#define WH_REQUEST_BODY_MAX (64u << 20)
#define WH_RESPONSE_HEAD_MAX (64u << 10)
/* What a streamed request body buffers at most before its writer waits. */
#define WH_XFER_BUFFER (256u << 10)

typedef struct wh_xfer wh_xfer;

/* A component's limit on concurrent outbound requests (kiln_wasihttp_limit_outbound): the
 * instance's context finds it by component id; NULL: none. */
typedef struct wh_limit wh_limit;
wh_limit *wh_limit_find(const char *component);

typedef struct wh_xfer_spec {
    const wh_target *target;
    const char *head; /* "METHOD TARGET HTTP/1.1\r\n" + header lines, no blank line */
    size_t head_len;
    int head_only; /* a HEAD request: the response has no body */
    int body;      /* a body follows (wh_xfer_body, or streamed); 0: none */
    long long cl;  /* the guest's content-length header (-1: none; the host adds one) */
    uint64_t connect_ns, first_byte_ns, between_bytes_ns; /* 0: the defaults */
    wh_limit *limit; /* the caller's component's limit (NULL: none) */
    int stream;      /* the body streams (wh_xfer_write, wh_xfer_end); only with body */
} wh_xfer_spec;

/* Starts a transfer: resolves the host (the fiber parks meanwhile) unless an idle
 * connection to the target is pooled, and starts connecting. The caller holds one
 * reference. NULL with *ecode (an error-code case) on failure. */
wh_xfer *wh_xfer_start(const wh_xfer_spec *spec, uint32_t *ecode);
void wh_xfer_retain(wh_xfer *x);
/* Drops a reference; the last one closes the connection (or pools it when the response
 * was read to its end). */
void wh_xfer_release(wh_xfer *x);

/* The request body is complete (data[0..n), copied) or, with data NULL, abandoned (the
 * transfer fails). Only for spec.body without spec.stream. trailers (borrowed; NULL or
 * empty: none) go after it: the body is then sent chunked (unless the guest gave a
 * content-length, which has no room for trailers: they are left out). */
void wh_xfer_body(wh_xfer *x, const void *data, size_t n);
void wh_xfer_body_trailers(wh_xfer *x, const void *data, size_t n, const wh_fields *trailers);

/* A streamed request body (spec.stream): takes what fits of data[0..n) (WH_XFER_BUFFER
 * pending at most) and sends what the connection takes without blocking. The count taken
 * (0: the buffer is full, wait as wh_xfer_check_send says), or -1 with *ecode when the
 * transfer failed, the response already ended, or the bytes pass the content-length
 * (HTTP-request-body-size, the transfer fails). An in-process transfer takes up to
 * WH_REQUEST_BODY_MAX in all. */
long wh_xfer_write(wh_xfer *x, const void *data, size_t n, uint32_t *ecode);
/* The streamed body ended: with trailers (taken; NULL: none), or (ecode != 0) aborted
 * with that error-code (the transfer fails). A body shorter than its content-length
 * fails with HTTP-request-body-size. Later calls do nothing. */
void wh_xfer_end(wh_xfer *x, wh_fields *trailers, uint32_t ecode);
/* Makes progress on a streamed body: 1 when wh_xfer_write would take bytes (or the
 * transfer failed, or the body ended), else 0 with what to wait for (as check_head). */
int wh_xfer_check_send(void *x, int *fd, short *events, uint64_t *deadline);
/* 1 when all of a streamed body (its end included) has gone to the connection, or the
 * transfer failed or has no streamed body. */
int wh_xfer_sent(const wh_xfer *x);
/* The error-code x failed with, or 0 while it has not failed. */
uint32_t wh_xfer_failed(const wh_xfer *x);

/* HTTP/1.1 chunked framing (client_chunk.c): appends data[0..n) as one chunk ("HEX\r\n"
 * data "\r\n"; nothing when n is 0); or the last chunk and the trailer section ("0\r\n",
 * a line per trailer field, "\r\n"; fields that frame or route a message, and the
 * hop-by-hop ones, are left out). 0, or -1 out of memory. */
int wh_chunk_append(kiln_buf *b, const void *data, size_t n);
int wh_chunk_end(kiln_buf *b, const wh_fields *trailers);
/* 1 if a trailer field named name (lowercase) is left out of a request's trailers. */
int wh_trailer_skipped(const char *name, size_t n);
/* A response's hex chunk-size line at p[0..n): 1 with *used (the line and its "\n") and
 * *size (extensions ignored), 0 incomplete, -1 malformed (or a line past 4 KiB). */
int wh_chunk_size_parse(const char *p, size_t n, size_t *used, uint64_t *size);
/* One line p[0..ln) (its "\n" excluded) of a response's trailer section: the field added
 * to *into (made on first use) unless it may not be a trailer (wh_trailer_skipped: dropped;
 * an invalid value: dropped). 0, or the error-code that fails the transfer. */
uint32_t wh_trailer_parse(wh_fields **into, const char *p, size_t ln);

/* Makes progress; 1 when the response head is there or the transfer failed, else 0 with
 * what to wait for: *fd (-1: nothing but time), *events, *deadline (monotonic ns,
 * UINT64_MAX: none). (p2_ready_ops.check of the future's pollable.) */
int wh_xfer_check_head(void *x, int *fd, short *events, uint64_t *deadline);
/* After check_head said 1: 0 with the status and headers (owned by the transfer, lowercased
 * names, hop-by-hop headers left out), or -1 with *ecode. */
int wh_xfer_response(wh_xfer *x, uint16_t *status, const wh_fields **headers, uint32_t *ecode);

/* The same for the response body: 1 when a read will return bytes, the end or an error. */
int wh_xfer_check_body(void *x, int *fd, short *events, uint64_t *deadline);
/* Reads body bytes without blocking (p2_stream_ops.read): the count (> 0), 0 with *eof at
 * the end or 0 without when nothing is there yet, or -1 with *err (an errno). */
long wh_xfer_read(void *x, void *buf, size_t cap, int *eof, int *err);
/* The response's trailers (owned by the transfer; immutable, lowercased names, fields that
 * frame or route a message left out), once a read returned the end: NULL when the upstream
 * sent none (or the body has not ended). A chunked trailer section (HTTP/1.1) or a last
 * HEADERS frame (HTTP/2) larger than WH_RESPONSE_HEAD_MAX fails the read with
 * HTTP-response-trailer-section-size. */
const wh_fields *wh_xfer_trailers(const wh_xfer *x);

/* Reports an outbound request to the outbound sink (kiln_wasihttp_set_outbound_sink) for
 * another interface on this client (fermyon:spin/http): the calling component's id (NULL:
 * unknown), the host label (wh_target_label), the answer's status or 0 and the failure's
 * error-code case, and when it started (CLOCK_MONOTONIC ns; 0: unknown). (outgoing.c) */
void wh_outbound_count(const char *component, const char *host, int status, uint32_t ecode,
                       uint64_t t0);

/* ---- in-process transfers (service chaining: chain.c produces them) ----
 *
 * A local transfer has no connection: once its request body is complete and the guest
 * first checks it, dispatch(x, arg, body, n) is called (on the guest's thread, from its
 * check) to start the response; the producer then feeds it with local_head, local_data and
 * local_end (on the same thread), each waking the waiter through an eventfd. arg_free(arg)
 * runs when the transfer is freed. The guest
 * reads it as any transfer, with the same first-byte and between-bytes timeouts. */
typedef void (*wh_local_dispatch)(wh_xfer *x, void *arg, const void *body, size_t n);
wh_xfer *wh_xfer_local(const wh_xfer_spec *spec, wh_local_dispatch dispatch, void *arg,
                       void (*arg_free)(void *), uint32_t *ecode);
/* The response head (headers taken: freed on failure). 0, or -1 when the transfer has
 * already failed or has a head. */
int wh_xfer_local_head(wh_xfer *x, uint16_t status, wh_fields *headers);
/* Body bytes (copied). 0, or -1 when the transfer failed. */
int wh_xfer_local_data(wh_xfer *x, const void *data, size_t n);
/* The end of the response: complete (ecode 0) or failed with error-code ecode. */
void wh_xfer_local_end(wh_xfer *x, uint32_t ecode);
/* 1 when nobody but the producer holds x any more, or it failed (nothing will be read). */
int wh_xfer_is_gone(const wh_xfer *x);
/* Body bytes fed but not yet read. */
size_t wh_xfer_local_buffered(const wh_xfer *x);

#endif
