/* trace_otlp.c — queued request records as an OTLP ExportTraceServiceRequest, in the JSON
 * mapping and in protobuf (see trace.h). Both encoders walk the same list of spans and
 * attributes (span_of), so they say the same thing. */
#include "server/trace.h"

#include <stdio.h>
#include <string.h>

enum { KIND_INTERNAL = 1, KIND_SERVER = 2, KIND_CLIENT = 3 };
enum { STATUS_UNSET = 0, STATUS_ERROR = 2 };

/* One attribute: a string (s, NUL-terminated) or, when s is NULL, an integer. */
typedef struct attr {
    const char *key, *s;
    int64_t i;
} attr;

/* One span of a record, with its attributes. */
typedef struct span {
    const uint8_t *trace_id, *span_id, *parent_id; /* parent_id NULL: a root span */
    char name[160];
    char code[12]; /* error.type of a client span: its status code */
    int kind, status;
    int64_t start_ns, end_ns;
    attr attrs[12];
    size_t nattrs;
} span;

static void add_s(span *s, const char *key, const char *v)
{
    if (v && *v) s->attrs[s->nattrs++] = (attr){key, v, 0};
}

static void add_i(span *s, const char *key, int64_t v)
{
    s->attrs[s->nattrs++] = (attr){key, NULL, v};
}

/* The host part of an authority ("host:port", "[v6]:port") into out; its port or 0. */
static int64_t split_host(const char *a, char *out, size_t outlen)
{
    const char *colon = NULL;
    size_t n = strlen(a);
    if (a[0] == '[') {
        const char *rb = strchr(a, ']');
        if (rb) {
            n = (size_t)(rb - a + 1);
            if (rb[1] == ':') colon = rb + 1;
        }
    } else if ((colon = strrchr(a, ':'))) {
        n = (size_t)(colon - a);
    }
    if (n >= outlen) n = outlen - 1;
    memcpy(out, a, n);
    out[n] = '\0';
    int64_t port = 0;
    for (const char *p = colon ? colon + 1 : ""; *p >= '0' && *p <= '9' && port < 65536; p++)
        port = port * 10 + (*p - '0');
    return port < 65536 ? port : 0;
}

/* Span k (0 server, 1 instantiate, 2 execute) of rec; 0, or -1 when the record has no
 * such span (no instance was started). host is the caller's buffer for server.address. */
static int span_of(const kiln_trace_record *rec, int k, span *s, char *host, size_t hostlen)
{
    memset(s, 0, sizeof *s);
    s->trace_id = rec->trace_id;
    if (k > 0 && (!rec->inst_start_ns || rec->client)) return -1;
    if (rec->client) { /* an outbound call (Spin: spin_outbound_http.send_request) */
        s->span_id = rec->span_id;
        s->parent_id = rec->has_parent ? rec->parent_id : NULL;
        s->kind = KIND_CLIENT;
        s->start_ns = rec->start_ns;
        s->end_ns = rec->end_ns;
        snprintf(s->name, sizeof s->name, "%s", rec->method[0] ? rec->method : "HTTP");
        s->status = rec->status == 0 || rec->status >= 400 ? STATUS_ERROR : STATUS_UNSET;
        add_s(s, "http.request.method", rec->method);
        add_s(s, "url.full", rec->path);
        int64_t port = split_host(rec->host, host, hostlen);
        add_s(s, "server.address", host);
        if (port) add_i(s, "server.port", port);
        if (rec->status) add_i(s, "http.response.status_code", rec->status);
        if (rec->status >= 400) snprintf(s->code, sizeof s->code, "%d", rec->status);
        add_s(s, "error.type", rec->status ? s->code : rec->trap_kind);
        add_s(s, "kiln.component", rec->component);
        return 0;
    }
    if (k == 0) {
        s->span_id = rec->span_id;
        s->parent_id = rec->has_parent ? rec->parent_id : NULL;
        s->kind = KIND_SERVER;
        s->start_ns = rec->start_ns;
        s->end_ns = rec->end_ns;
        /* "HTTP" when the method is unknown (the client went away before the end) */
        snprintf(s->name, sizeof s->name, "%s%s%s", rec->method[0] ? rec->method : "HTTP",
                 rec->route[0] ? " " : "", rec->route);
        s->status = rec->status >= 500 || rec->status == 0 ? STATUS_ERROR : STATUS_UNSET;
        add_s(s, "http.request.method", rec->method);
        add_s(s, "url.path", rec->path);
        add_s(s, "http.route", rec->route);
        if (rec->status) add_i(s, "http.response.status_code", rec->status);
        int64_t port = split_host(rec->host, host, hostlen);
        add_s(s, "server.address", host);
        if (port) add_i(s, "server.port", port);
        add_s(s, "network.protocol.version", rec->protocol_version);
        add_s(s, "user_agent.original", rec->user_agent);
        add_s(s, "kiln.component", rec->component);
        if (rec->fault == KILN_FAULT_TRAP)
            add_s(s, "error.type", "trap");
        else if (rec->fault == KILN_FAULT_TIMEOUT)
            add_s(s, "error.type", "timeout");
        else if (rec->status >= 500)
            add_s(s, "error.type", "http_server_error");
        return 0;
    }
    s->parent_id = rec->span_id;
    s->kind = KIND_INTERNAL;
    add_s(s, "kiln.component", rec->component);
    if (k == 1) {
        s->span_id = rec->inst_id;
        snprintf(s->name, sizeof s->name, "instantiate %s", rec->component);
        s->start_ns = rec->inst_start_ns;
        s->end_ns = rec->inst_start_ns + rec->inst_dur_ns;
        return 0;
    }
    s->span_id = rec->exec_id;
    snprintf(s->name, sizeof s->name, "execute %s", rec->component);
    s->start_ns = rec->inst_start_ns + rec->inst_dur_ns;
    s->end_ns = rec->end_ns > s->start_ns ? rec->end_ns : s->start_ns;
    if (rec->fault == KILN_FAULT_TRAP || rec->fault == KILN_FAULT_TIMEOUT) {
        s->status = STATUS_ERROR;
        add_s(s, "error.type", rec->fault == KILN_FAULT_TRAP ? "trap" : "timeout");
        add_s(s, "kiln.trap_kind", rec->trap_kind);
    }
    return 0;
}

/* ---- JSON ---- */

static int json_str(kiln_buf *b, const char *s)
{
    int rc = kiln_buf_putc(b, '"');
    for (const unsigned char *p = (const unsigned char *)s; rc == 0 && *p; p++) {
        if (*p == '"' || *p == '\\')
            rc = kiln_buf_putc(b, '\\') | kiln_buf_putc(b, (char)*p);
        else if (*p < 0x20 || *p >= 0x7f)
            rc = kiln_buf_printf(b, "\\u%04x", *p); /* bytes, not UTF-8 */
        else
            rc = kiln_buf_putc(b, (char)*p);
    }
    return rc | kiln_buf_putc(b, '"');
}

static int json_hex(kiln_buf *b, const uint8_t *id, size_t n)
{
    int rc = kiln_buf_putc(b, '"');
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = kiln_buf_printf(b, "%02x", id[i]);
    return rc | kiln_buf_putc(b, '"');
}

static int json_attr(kiln_buf *b, const attr *a)
{
    int rc = kiln_buf_puts(b, "{\"key\":") | json_str(b, a->key);
    if (a->s)
        rc |= kiln_buf_puts(b, ",\"value\":{\"stringValue\":") | json_str(b, a->s) |
              kiln_buf_puts(b, "}}");
    else
        rc |= kiln_buf_printf(b, ",\"value\":{\"intValue\":\"%lld\"}}", (long long)a->i);
    return rc;
}

static int json_span(kiln_buf *b, const span *s)
{
    int rc = kiln_buf_puts(b, "{\"traceId\":") | json_hex(b, s->trace_id, 16);
    rc |= kiln_buf_puts(b, ",\"spanId\":") | json_hex(b, s->span_id, 8);
    if (s->parent_id) rc |= kiln_buf_puts(b, ",\"parentSpanId\":") | json_hex(b, s->parent_id, 8);
    rc |= kiln_buf_puts(b, ",\"name\":") | json_str(b, s->name);
    rc |= kiln_buf_printf(b,
                          ",\"kind\":%d,\"startTimeUnixNano\":\"%lld\",\"endTimeUnixNano\":"
                          "\"%lld\",\"attributes\":[",
                          s->kind, (long long)s->start_ns, (long long)s->end_ns);
    for (size_t i = 0; rc == 0 && i < s->nattrs; i++)
        rc = (i ? kiln_buf_putc(b, ',') : 0) | json_attr(b, &s->attrs[i]);
    rc |= kiln_buf_printf(b, "],\"status\":{\"code\":%d}}", s->status);
    return rc;
}

int kiln_trace_encode_json(const kiln_trace_record *rec, size_t n, const char *service,
                           kiln_buf *out)
{
    attr svc = {"service.name", service, 0};
    int rc = kiln_buf_puts(out, "{\"resourceSpans\":[{\"resource\":{\"attributes\":[") |
             json_attr(out, &svc) |
             kiln_buf_puts(out, "]},\"scopeSpans\":[{\"scope\":{\"name\":\"kiln\"},\"spans\":[");
    int first = 1;
    for (size_t i = 0; rc == 0 && i < n; i++)
        for (int k = 0; rc == 0 && k < 3; k++) {
            span s;
            char host[128];
            if (span_of(&rec[i], k, &s, host, sizeof host) < 0) continue;
            rc = (first ? 0 : kiln_buf_putc(out, ',')) | json_span(out, &s);
            first = 0;
        }
    rc |= kiln_buf_puts(out, "]}]}]}");
    return rc ? -1 : 0;
}

/* ---- protobuf (opentelemetry/proto/collector/trace/v1) ---- */

static int pb_varint(kiln_buf *b, uint64_t v)
{
    char t[10];
    size_t n = 0;
    do {
        t[n++] = (char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    return kiln_buf_append(b, t, n);
}

/* A length-delimited field (wire type 2). */
static int pb_bytes(kiln_buf *b, unsigned field, const void *p, size_t n)
{
    return pb_varint(b, (uint64_t)field << 3 | 2) | pb_varint(b, n) | kiln_buf_append(b, p, n);
}

static int pb_str(kiln_buf *b, unsigned field, const char *s)
{
    return pb_bytes(b, field, s, strlen(s));
}

static int pb_uint(kiln_buf *b, unsigned field, uint64_t v)
{
    return pb_varint(b, (uint64_t)field << 3) | pb_varint(b, v);
}

static int pb_fixed64(kiln_buf *b, unsigned field, uint64_t v)
{
    char t[8];
    for (int i = 0; i < 8; i++)
        t[i] = (char)(v >> (8 * i));
    return pb_varint(b, (uint64_t)field << 3 | 1) | kiln_buf_append(b, t, 8);
}

/* KeyValue{key = 1, value = 2: AnyValue{string_value = 1 | int_value = 3}} as field f of b. */
static int pb_attr(kiln_buf *b, unsigned f, const attr *a, kiln_buf *tmp, kiln_buf *tmp2)
{
    kiln_buf_reset(tmp);
    kiln_buf_reset(tmp2);
    int rc = a->s ? pb_str(tmp2, 1, a->s) : pb_uint(tmp2, 3, (uint64_t)a->i);
    rc |= pb_str(tmp, 1, a->key) | pb_bytes(tmp, 2, tmp2->data, tmp2->len);
    return rc | pb_bytes(b, f, tmp->data, tmp->len);
}

/* Span: trace_id 1, span_id 2, parent_span_id 4, name 5, kind 6, start 7, end 8,
 * attributes 9, status 15 (Status.code 3). */
static int pb_span(kiln_buf *b, const span *s, kiln_buf *t1, kiln_buf *t2)
{
    int rc = pb_bytes(b, 1, s->trace_id, 16) | pb_bytes(b, 2, s->span_id, 8);
    if (s->parent_id) rc |= pb_bytes(b, 4, s->parent_id, 8);
    rc |= pb_str(b, 5, s->name) | pb_uint(b, 6, (uint64_t)s->kind) |
          pb_fixed64(b, 7, (uint64_t)s->start_ns) | pb_fixed64(b, 8, (uint64_t)s->end_ns);
    for (size_t i = 0; rc == 0 && i < s->nattrs; i++)
        rc = pb_attr(b, 9, &s->attrs[i], t1, t2);
    kiln_buf_reset(t1);
    if (s->status) rc |= pb_uint(t1, 3, (uint64_t)s->status);
    return rc | pb_bytes(b, 15, t1->data ? t1->data : "", t1->len);
}

int kiln_trace_encode_protobuf(const kiln_trace_record *rec, size_t n, const char *service,
                               kiln_buf *out)
{
    kiln_buf one = KILN_BUF_INIT, t1 = KILN_BUF_INIT, t2 = KILN_BUF_INIT;
    kiln_buf res = KILN_BUF_INIT, scope = KILN_BUF_INIT, rs = KILN_BUF_INIT;
    int rc = 0;
    /* ScopeSpans{scope = 1: InstrumentationScope{name = 1}, spans = 2} */
    rc |= pb_str(&t1, 1, "kiln") | pb_bytes(&scope, 1, t1.data, t1.len);
    for (size_t i = 0; rc == 0 && i < n; i++)
        for (int k = 0; rc == 0 && k < 3; k++) {
            span s;
            char host[128];
            if (span_of(&rec[i], k, &s, host, sizeof host) < 0) continue;
            kiln_buf_reset(&one);
            rc = pb_span(&one, &s, &t1, &t2) | pb_bytes(&scope, 2, one.data, one.len);
        }
    /* Resource{attributes = 1}; ResourceSpans{resource = 1, scope_spans = 2};
     * ExportTraceServiceRequest{resource_spans = 1} */
    attr svc = {"service.name", service, 0};
    rc |= pb_attr(&res, 1, &svc, &t1, &t2);
    rc |= pb_bytes(&rs, 1, res.data, res.len) | pb_bytes(&rs, 2, scope.data, scope.len);
    rc |= pb_bytes(out, 1, rs.data, rs.len);
    kiln_buf_free(&one);
    kiln_buf_free(&t1);
    kiln_buf_free(&t2);
    kiln_buf_free(&res);
    kiln_buf_free(&scope);
    kiln_buf_free(&rs);
    return rc ? -1 : 0;
}
