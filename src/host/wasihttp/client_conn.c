/* client_conn.c — what the outbound client's transfers share across the process
 * (client_conn.h): the pool of idle HTTP/1.1 connections, the TLS client context, and the
 * components' limits on concurrent outbound requests. */
#include "host/wasihttp/client_conn.h"
#include "host/wasihttp/client_h2.h"
#include "host/wasihttp/internal.h"
#include "util/alloc.h"

#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define POOL_MAX 64
#define POOL_IDLE_NS (30ull * 1000000000u)

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static wh_conn pool[POOL_MAX];
static size_t npool;

void wh_conn_close(wh_conn *c)
{
    if (c->ssl) SSL_free(c->ssl);
    c->ssl = NULL;
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
}

void wh_target_key(const wh_target *t, char *key, size_t cap)
{
    snprintf(key, cap, "%c://%s:%u", t->https ? 's' : 'h', t->host, (unsigned)t->port);
}

/* Takes an idle connection for key out of the pool into *out: 1, or 0 when none. Drops
 * connections idle too long or that the peer closed (readable while idle). */
int wh_pool_take(const char *key, wh_conn *out)
{
    uint64_t now = wh_mono_ns();
    int found = 0;
    pthread_mutex_lock(&pool_lock);
    for (size_t i = 0; i < npool && !found;) {
        wh_conn *c = &pool[i];
        int match = strcmp(c->key, key) == 0;
        int stale = now - c->idle_since > POOL_IDLE_NS;
        if (match && !stale) {
            struct pollfd p = {c->fd, POLLIN, 0};
            stale = poll(&p, 1, 0) != 0;
        }
        if (match || stale) {
            wh_conn taken = *c;
            pool[i] = pool[--npool];
            if (match && !stale) {
                *out = taken;
                found = 1;
            } else {
                wh_conn_close(&taken);
            }
            continue;
        }
        i++;
    }
    pthread_mutex_unlock(&pool_lock);
    return found;
}

/* Gives an idle connection to the pool (or closes it when the pool is full). */
void wh_pool_put(wh_conn *c)
{
    c->idle_since = wh_mono_ns();
    pthread_mutex_lock(&pool_lock);
    int kept = npool < POOL_MAX;
    if (kept) pool[npool++] = *c;
    pthread_mutex_unlock(&pool_lock);
    if (!kept) wh_conn_close(c);
    c->fd = -1;
    c->ssl = NULL;
}

static SSL_CTX *ctx;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;

/* The TLS client context: TLS 1.2+, peers verified against the system's CA store
 * (SSL_CERT_FILE / SSL_CERT_DIR when set). */
static void tls_init(void)
{
    SSL_CTX *c = SSL_CTX_new(TLS_client_method());
    if (!c) return;
    SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    /* h2 or http/1.1, as the server picks (client_h2.c takes over an h2 connection) */
    if (SSL_CTX_set_alpn_protos(c, wh_h2_alpn, wh_h2_alpn_len) != 0) {
        SSL_CTX_free(c);
        return;
    }
    if (SSL_CTX_set_default_verify_paths(c) != 1) {
        SSL_CTX_free(c);
        return;
    }
    ctx = c;
}

SSL_CTX *wh_tls_ctx(void)
{
    pthread_once(&tls_once, tls_init);
    return ctx;
}

/* ---- per-component limits on concurrent outbound requests ---- */

static wh_limit *limits;
static size_t nlimits;

int kiln_wasihttp_limit_outbound(const char *const *components, size_t n, unsigned max)
{
    for (size_t i = 0; i < nlimits; i++)
        kiln_free(limits[i].component);
    kiln_free(limits);
    limits = NULL;
    nlimits = 0;
    if (!n) return 0;
    if (!(limits = kiln_calloc(n, sizeof *limits))) return -1;
    for (; nlimits < n; nlimits++) {
        wh_limit *l = &limits[nlimits];
        if (!(l->component = kiln_strdup(components[nlimits]))) return -1;
        l->max = max;
        atomic_init(&l->inflight, 0);
    }
    return 0;
}

wh_limit *wh_limit_find(const char *component)
{
    for (size_t i = 0; component && i < nlimits; i++)
        if (strcmp(limits[i].component, component) == 0) return &limits[i];
    return NULL;
}

int wh_permit_take(wh_limit *l)
{
    unsigned cur = atomic_load(&l->inflight);
    while (cur < l->max)
        if (atomic_compare_exchange_weak(&l->inflight, &cur, cur + 1)) return 1;
    return 0;
}

void wh_permit_give(wh_limit *l)
{
    atomic_fetch_sub(&l->inflight, 1);
}
