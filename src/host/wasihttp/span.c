/* span.c — the trace context of outbound requests (wasihttp.h: kiln_wasihttp_span): a
 * child span of the request being served, whose id the request carries in its W3C
 * traceparent header, reported to the span sink when the response head (or a failure)
 * comes. */
#include "host/wasihttp/internal.h"
#include "util/alloc.h"
#include "util/buf.h"

#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

static void (*span_sink)(void *ctx, const kiln_wasihttp_span *s);
static void *span_ctx;

void kiln_wasihttp_set_span_sink(void (*sink)(void *ctx, const kiln_wasihttp_span *s), void *ctx)
{
    span_sink = sink;
    span_ctx = ctx;
}

static int64_t unix_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* 1 if tp is "00-" 32 hex "-" 16 hex "-" 2 hex (what the server puts in requests). */
static int tp_ok(const char *tp)
{
    if (!tp || strlen(tp) != 55 || strncmp(tp, "00-", 3) != 0 || tp[35] != '-' || tp[52] != '-')
        return 0;
    for (size_t i = 3; i < 55; i++)
        if (i != 35 && i != 52 && !strchr("0123456789abcdef", tp[i])) return 0;
    return 1;
}

int wh_span_begin(wh_span *s, const wh_origin *o, const char *method, const char *url,
                  const char *host)
{
    memset(s, 0, sizeof *s);
    const kiln_wasihttp_request *in = o->req;
    if (!span_sink || !in || !tp_ok(in->traceparent)) return 0;
    uint8_t id[8];
    if (getrandom(id, sizeof id, 0) != (ssize_t)sizeof id) {
        uint64_t v = (uint64_t)unix_ns() ^ (uint64_t)(uintptr_t)s; /* never all zero */
        memcpy(id, &v, sizeof id);
        id[0] |= 1;
    }
    memcpy(s->parent, in->traceparent, 56);
    memcpy(s->tp, in->traceparent, 56);
    for (int i = 0; i < 8; i++)
        snprintf(s->tp + 36 + 2 * i, 3, "%02x", id[i]);
    s->tp[52] = '-'; /* (snprintf wrote a NUL there) */
    memcpy(s->id, id, sizeof id);
    s->start_ns = unix_ns();
    s->method = kiln_strdup(method);
    s->url = kiln_strdup(url);
    s->host = kiln_strdup(host);
    const char *c = o->component;
    s->component = c ? kiln_strdup(c) : NULL;
    if (!s->method || !s->url || !s->host || (c && !s->component)) {
        wh_span_free(s);
        return -1;
    }
    s->on = 1;
    return 1;
}

void wh_span_end(wh_span *s, int status, uint32_t ecode)
{
    if (!s->on) return;
    kiln_wasihttp_span e = {s->parent,   {0},       s->start_ns,
                            unix_ns(),   s->method, s->url,
                            s->host,     status,    status ? NULL : kiln_wasihttp_error_name(ecode),
                            s->component};
    memcpy(e.span_id, s->id, sizeof e.span_id);
    if (span_sink) span_sink(span_ctx, &e);
    wh_span_free(s);
}

void wh_span_free(wh_span *s)
{
    kiln_free(s->method);
    kiln_free(s->url);
    kiln_free(s->host);
    kiln_free(s->component);
    memset(s, 0, sizeof *s);
}
