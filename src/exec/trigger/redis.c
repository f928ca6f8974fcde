/* redis.c — the Redis trigger's subscriber thread: SUBSCRIBE, messages to handlers,
 * reconnection with backoff (trigger.h). */
#include "exec/handler.h"
#include "exec/trigger/internal.h"
#include "util/alloc.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define POLL_MS 100          /* how often a quiet connection looks at the stop flag */
#define BACKOFF_FIRST_MS 100 /* the first reconnection delay, doubled up to: */
#define BACKOFF_MAX_MS 5000

/* The parts of "redis://[user][:password@]host[:port][/db]" a subscription uses (the
 * database number does not matter to Pub/Sub). */
typedef struct redis_addr {
    char *host, *user, *pass; /* kiln_malloc'd; user and pass may be NULL */
    int port;
} redis_addr;

static void addr_free(redis_addr *a)
{
    kiln_free(a->host);
    kiln_free(a->user);
    kiln_free(a->pass);
    memset(a, 0, sizeof *a);
}

/* Parses url into *a. 0, or -1 (nothing to free). */
static int addr_parse(const char *url, redis_addr *a)
{
    memset(a, 0, sizeof *a);
    if (strncasecmp(url, "redis://", 8) != 0) return -1;
    const char *p = url + 8, *end = p + strcspn(p, "/?#");
    const char *at = NULL;
    for (const char *q = p; q < end; q++)
        if (*q == '@') at = q;
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (colon && !(a->pass = kiln_strndup(colon + 1, (size_t)(at - colon - 1)))) goto bad;
        if ((colon ? colon : at) > p &&
            !(a->user = kiln_strndup(p, (size_t)((colon ? colon : at) - p))))
            goto bad;
        p = at + 1;
    }
    const char *host_end = end, *port = NULL;
    if (*p == '[') { /* [IPv6] */
        const char *close = memchr(p, ']', (size_t)(end - p));
        if (!close) goto bad;
        a->host = kiln_strndup(p + 1, (size_t)(close - p - 1));
        if (close + 1 < end && close[1] == ':') port = close + 2;
    } else {
        const char *colon = memchr(p, ':', (size_t)(end - p));
        if (colon) host_end = colon, port = colon + 1;
        a->host = kiln_strndup(p, (size_t)(host_end - p));
    }
    a->port = 6379;
    if (port) {
        char *e;
        long v = strtol(port, &e, 10);
        if (e != end || v <= 0 || v > 65535) goto bad;
        a->port = (int)v;
    }
    if (!a->host || !*a->host) goto bad;
    return 0;
bad:
    addr_free(a);
    return -1;
}

/* Sleeps ms milliseconds, or less when a stop is asked for. */
static void nap(kiln_triggers *T, unsigned ms)
{
    for (unsigned slept = 0; slept < ms && !atomic_load(&T->stopping); slept += 50) {
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* Connects and subscribes. The context, or NULL with *why (static or c->errstr copy). */
static redisContext *subscribe(const redis_addr *a, const char *channel, char *why, size_t cap)
{
    struct timeval tv = {5, 0};
    redisContext *c = redisConnectWithTimeout(a->host, a->port, tv);
    if (!c || c->err) {
        snprintf(why, cap, "%s", c ? c->errstr : "out of memory");
        if (c) redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv); /* for the AUTH and SUBSCRIBE replies; messages are polled */
    redisReply *r = NULL;
    if (a->pass) {
        r = a->user ? redisCommand(c, "AUTH %s %s", a->user, a->pass)
                    : redisCommand(c, "AUTH %s", a->pass);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            snprintf(why, cap, "AUTH: %s", r ? r->str : c->errstr);
            goto fail;
        }
        freeReplyObject(r);
    }
    r = redisCommand(c, "SUBSCRIBE %s", channel);
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        snprintf(why, cap, "SUBSCRIBE: %s",
                 r && r->type == REDIS_REPLY_ERROR ? r->str : (c->err ? c->errstr : "bad reply"));
        goto fail;
    }
    freeReplyObject(r);
    return c;
fail:
    if (r) freeReplyObject(r);
    redisFree(c);
    return NULL;
}

/* Handles one reply of a subscribed connection: a "message" goes to the handler. */
static void on_reply(trig_target *t, redisReply *r)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 || !r->element[0]->str ||
        strcmp(r->element[0]->str, "message") != 0 || r->element[2]->type != REDIS_REPLY_STRING)
        return;
    trig_dispatch(t->owner, t, r->element[2]->str, r->element[2]->len, 0);
}

/* Reads and handles messages until the connection breaks (-1, *why) or a stop (0). */
static int listen_on(trig_target *t, redisContext *c, char *why, size_t cap)
{
    kiln_triggers *T = t->owner;
    while (!atomic_load(&T->stopping)) {
        void *reply = NULL;
        if (redisGetReplyFromReader(c, &reply) != REDIS_OK) {
            snprintf(why, cap, "%s", c->errstr);
            return -1;
        }
        if (reply) {
            on_reply(t, reply);
            freeReplyObject(reply);
            continue;
        }
        struct pollfd pfd = {c->fd, POLLIN, 0};
        int n = poll(&pfd, 1, POLL_MS);
        if (n < 0 && errno != EINTR) {
            snprintf(why, cap, "poll: %s", strerror(errno));
            return -1;
        }
        if (n > 0 && redisBufferRead(c) != REDIS_OK) {
            snprintf(why, cap, "%s", c->errstr[0] ? c->errstr : "connection closed");
            return -1;
        }
    }
    return 0;
}

void *trig_redis_main(void *arg)
{
    trig_target *t = arg;
    kiln_triggers *T = t->owner;
    trig_block_signals();
    redis_addr a;
    if (addr_parse(t->address, &a) < 0) return NULL; /* checked at start */
    unsigned backoff = BACKOFF_FIRST_MS;
    int connected_once = 0, failing = 0;
    char why[256];
    while (!atomic_load(&T->stopping)) {
        redisContext *c = subscribe(&a, t->channel, why, sizeof why);
        if (c) {
            fprintf(stderr, "kiln: trigger %s: %s to channel %s on %s:%d\n", t->id,
                    connected_once ? "subscribed again" : "subscribed", t->channel, a.host, a.port);
            connected_once = 1;
            failing = 0;
            backoff = BACKOFF_FIRST_MS;
            int rc = listen_on(t, c, why, sizeof why);
            redisFree(c);
            if (rc == 0) break;
            kiln_log_error("trigger %s: the connection to %s:%d broke (%s): reconnecting", t->id,
                           a.host, a.port, why);
        } else if (!failing) {
            failing = 1; /* said once per outage, not at every retry */
            kiln_log_error("trigger %s: cannot subscribe to %s on %s:%d (%s): retrying", t->id,
                           t->channel, a.host, a.port, why);
        }
        nap(T, backoff);
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
    addr_free(&a);
    return NULL;
}

/* Exposed to trigger.c: whether url is a Redis address this file can use. */
int trig_redis_address_ok(const char *url)
{
    redis_addr a;
    if (addr_parse(url, &a) < 0) return 0;
    addr_free(&a);
    return 1;
}
