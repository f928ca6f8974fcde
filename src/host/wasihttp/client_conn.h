/* client_conn.h — the process-wide parts of the outbound client (client_conn.c), used by
 * client.c only: idle HTTP/1.1 connections pooled per "s://host:port" key (64 at most,
 * dropped after 30 s idle or when the peer closed them), the TLS client context (TLS 1.2+,
 * peers verified against the system's CA store, ALPN h2 and http/1.1), and the
 * components' limits on concurrent outbound requests (outbound.h). */
#ifndef KILN_HOST_WASIHTTP_CLIENT_CONN_H
#define KILN_HOST_WASIHTTP_CLIENT_CONN_H

#include <openssl/ssl.h>
#include <stdatomic.h>
#include <stdint.h>

#include "host/wasihttp/outbound.h"

typedef struct wh_conn {
    int fd;
    SSL *ssl;                   /* NULL: plain TCP */
    char key[WH_HOST_MAX + 16]; /* "s://host:port" */
    uint64_t idle_since;
} wh_conn;

struct wh_limit {
    char *component;
    unsigned max;
    atomic_uint inflight;
};

/* Closes c's TLS state and socket (fd -1 after). */
void wh_conn_close(wh_conn *c);
/* The pool's key of target t ("s://host:port", "h://..." for plain HTTP) into key. */
void wh_target_key(const wh_target *t, char *key, size_t cap);
/* Takes an idle connection for key out of the pool into *out: 1, or 0 when none. */
int wh_pool_take(const char *key, wh_conn *out);
/* Gives an idle connection to the pool (or closes it when the pool is full); c is left
 * without it. */
void wh_pool_put(wh_conn *c);
/* The TLS client context (made once); NULL when it cannot be made. */
SSL_CTX *wh_tls_ctx(void);
/* Takes one of l's permits: 1, or 0 when all are taken; gives one back. */
int wh_permit_take(wh_limit *l);
void wh_permit_give(wh_limit *l);

#endif
