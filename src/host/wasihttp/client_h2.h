/* client_h2.h — the HTTP/2 side of the outbound client (client_h2.c), used by client.c only.
 *
 * When TLS negotiates "h2" by ALPN, client.c hands the connection over (wh_h2_adopt) and
 * the request becomes a stream on it; later transfers to the same origin (the same
 * "s://host:port" key, so the grant checks made on that target still hold) open streams
 * on that connection while it has room (the peer's SETTINGS_MAX_CONCURRENT_STREAMS; past
 * it a new connection is dialled). While the first connection to an origin is being
 * dialled, other transfers to it wait for it (wh_h2_dial_begin) unless the origin is known
 * to answer HTTP/1.1, so that a fan-out of N requests shares one connection.
 *
 * One thread (started on the first adoption) owns every HTTP/2 connection's socket and TLS
 * state: it reads and parses frames, answers SETTINGS and PING, sends request bodies as
 * the flow-control windows allow, and signals each stream's eventfd (the transfer's) when
 * its state changes; guests' threads only queue frames and take what arrived, under one
 * lock. Received data is given back to the peer (WINDOW_UPDATE) as the guest reads it,
 * so a stream buffers at most its window. Streams the server did not process (beyond a
 * GOAWAY's last stream id, or refused with REFUSED_STREAM) are reported as retryable;
 * any other failure is final. Response trailers are decoded (HPACK state) and dropped, as
 * on HTTP/1.1. A streamed request body is written into a bounded buffer of its stream
 * (the writer is signalled as it drains) and ends with an empty END_STREAM DATA frame or
 * with the request's trailers as a last HEADERS frame. Idle connections close after 30 s. */
#ifndef KILN_HOST_WASIHTTP_CLIENT_H2_H
#define KILN_HOST_WASIHTTP_CLIENT_H2_H

#include <openssl/ssl.h>
#include <stddef.h>
#include <stdint.h>

#include "host/wasihttp/wasihttp.h"

typedef struct h2_stream h2_stream;

/* The ALPN protocol list the client offers (wire format), and its length. */
extern const unsigned char wh_h2_alpn[];
extern const unsigned wh_h2_alpn_len;

/* Dialling an origin (key): 1 the caller dials it and must call wh_h2_dial_end; 0 another
 * transfer is dialling it and the caller should wait (poll wh_h2_has_room / again);
 * 2 the origin speaks HTTP/1.1: dial without coordination (no dial_end). */
int wh_h2_dial_begin(const char *key);
/* The dial of key ended: h2 1 it speaks HTTP/2 (adopted), 0 HTTP/1.1, -1 it failed. */
void wh_h2_dial_end(const char *key, int h2);
/* 1 if an HTTP/2 connection to key may take another stream. */
int wh_h2_has_room(const char *key);

/* Takes over a connected TLS connection (fd, ssl) that negotiated h2, for key. 0 (fd and
 * ssl are the HTTP/2 side's now), or -1 (they stay the caller's). */
int wh_h2_adopt(const char *key, int fd, SSL *ssl);

/* Opens a stream for a request on a connection to key with room: head is the HTTP/1.1
 * head client.c builds ("METHOD TARGET HTTP/1.1\r\n" + header lines, up to the blank
 * line), body[0..n) the body (copied): complete, or (more) its start, the rest coming by
 * wh_h2_write and wh_h2_end; efd the transfer's eventfd, signalled on every change. NULL
 * when no connection has room (or out of memory: *oom set). */
h2_stream *wh_h2_open(const char *key, int https, const char *head, size_t head_len,
                      const void *body, size_t n, int more, int head_only, int efd, int *oom);
/* More of a body opened with more: what its buffer took of data[0..n) (0: full, wait for
 * the eventfd), or -1 when the stream failed or ended. */
long wh_h2_write(h2_stream *s, const void *data, size_t n);
/* The end of such a body, trailers (borrowed; NULL: none) after it. 0, or -1 (failed, or
 * out of memory). */
int wh_h2_end(h2_stream *s, const wh_fields *trailers);

/* The response head: 1 there (*status; *headers taken: the caller owns it), 0 not yet,
 * -1 failed (*ecode), -2 the server did not process the request (it may be sent again on
 * another connection). */
int wh_h2_head(h2_stream *s, uint16_t *status, wh_fields **headers, uint32_t *ecode);
/* 1 if wh_h2_read would return bytes, the end or an error. */
int wh_h2_readable(h2_stream *s);
/* Reads body bytes: the count (> 0), 0 with *eof at the end or 0 without when nothing is
 * there yet, or -1 with *ecode. */
long wh_h2_read(h2_stream *s, void *buf, size_t cap, int *eof, uint32_t *ecode);
/* The response's trailers (taken: the caller owns them) once the stream ended: NULL when
 * none came. A trailer block over WH_RESPONSE_HEAD_MAX fails the stream (reads return
 * HTTP-response-trailer-section-size). */
wh_fields *wh_h2_trailers(h2_stream *s);
/* Ends the stream (RST_STREAM CANCEL if it is still open) and frees it. */
void wh_h2_close(h2_stream *s);

#endif
