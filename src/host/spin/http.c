/* http.c — fermyon:spin/http@2.0.0, Spin's older outbound HTTP interface (spin.h):
 * send-request(request) -> result<response, http-error>, served by the same client as
 * wasi:http/outgoing-handler (host/wasihttp/outbound.h: HTTP/1.1 or HTTP/2, the pool, the
 * timeouts and the component's max_connections) and checked against the same
 * allowed_outbound_hosts grants, on the authority as it will be connected.
 *
 * The call blocks the guest (its fiber parks on the transfer's descriptor) until the whole
 * response body is in, as Spin's does; bodies past WH_REQUEST_BODY_MAX are a
 * runtime-error. The uri must be absolute (http or https); service chaining and self
 * requests (relative URIs, *.spin.internal) are not reached through this interface
 * (destination-not-allowed / invalid-url). Each request counts in the outbound metrics as a
 * wasi:http one does (wh_outbound_count: the host as connected, the status class or the
 * failure); no trace span is made. Errors map as Spin's: a target not granted is
 * destination-not-allowed, a uri that does not parse invalid-url, the component's limit
 * with max_connections = 0 too-many-requests, a transport failure request-error, anything
 * else runtime-error. */
#include "engine/fiber.h"
#include "host/spin/data.h"
#include "host/spin/spin.h"
#include "host/wasihttp/outbound.h"
#include "util/alloc.h"
#include "util/buf.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* http-error cases */
enum { HE_SUCCESS, HE_NOT_ALLOWED, HE_INVALID_URL, HE_REQUEST, HE_RUNTIME, HE_TOO_MANY };

static const char *const method_names[] = {"GET",   "POST", "PUT",    "DELETE",
                                           "PATCH", "HEAD", "OPTIONS"};

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* results[0] = err(code): an enum case, no payload allocation. 0. */
static int err(kiln_cabi_cx *cx, kiln_cval *r, uint32_t code)
{
    kiln_cval *e = kiln_cabi_alloc(cx, sizeof *e);
    if (!e) {
        snprintf(cx->err, sizeof cx->err, "out of memory");
        return -1;
    }
    e->var.disc = code;
    e->var.payload = NULL;
    r->var.disc = 1;
    r->var.payload = e;
    return 0;
}

/* Waits for what the transfer asked (fd, events, deadline). 0, or -1 when the guest's time
 * limit ended the wait. */
static int wait_for(int fd, short events, uint64_t deadline)
{
    uint64_t now = mono_ns();
    uint64_t ns = deadline == UINT64_MAX ? UINT64_MAX : deadline > now ? deadline - now : 0;
    if (fd < 0 && ns == UINT64_MAX) ns = 1000000; /* nothing to wait for: look again soon */
    int r = fd >= 0 ? kiln_wait_fd(fd, events, ns) : kiln_wait_sleep(ns);
    return r == KILN_WAIT_INTERRUPTED ? -1 : 0;
}

/* The error-code case of a failed transfer as an http-error case. */
static uint32_t map_error(uint32_t ecode)
{
    if (ecode == WH_E_HTTP_REQUEST_DENIED) return HE_NOT_ALLOWED;
    if (ecode == WH_E_HTTP_REQUEST_URI_INVALID) return HE_INVALID_URL;
    if (ecode == WH_E_CONNECTION_LIMIT_REACHED) return HE_TOO_MANY;
    if (ecode == WH_E_INTERNAL) return HE_RUNTIME;
    return HE_REQUEST;
}

/* Builds the HTTP/1.1 head of the request (method, path, host, the guest's valid headers
 * but content-length and the hop-by-hop ones) into b. 0, or -1 (a header is invalid:
 * *why HE_REQUEST, or out of memory: HE_RUNTIME). */
static int build_head(kiln_buf *b, const char *method, const char *path, size_t plen,
                      const char *auth, size_t alen, const kiln_cval *headers, uint32_t *why)
{
    *why = HE_RUNTIME;
    if (kiln_buf_printf(b, "%s %.*s HTTP/1.1\r\nhost: %.*s\r\n", method, (int)plen, path, (int)alen,
                        auth) < 0)
        return -1;
    for (uint32_t i = 0; i < headers->agg.n; i++) {
        const kiln_cval *kv = headers->agg.items[i].agg.items;
        const char *n = kv[0].str.ptr, *v = kv[1].str.ptr;
        size_t nl = kv[0].str.len, vl = kv[1].str.len;
        if (!wh_name_valid(n, nl) || !wh_value_valid((const uint8_t *)v, vl)) {
            *why = HE_REQUEST;
            return -1;
        }
        if (wh_name_forbidden(n, nl) || (nl == 14 && strncasecmp(n, "content-length", 14) == 0))
            continue;
        if (kiln_buf_printf(b, "%.*s: %.*s\r\n", (int)nl, n, (int)vl, v) < 0) return -1;
    }
    return 0;
}

/* Makes the ok(response) result from a transfer whose head is in: status, headers, the
 * body read to its end. 0, -1 out of memory (cx->err), or an http-error case + 1. */
static int response(kiln_cabi_cx *cx, kiln_cval *r, wh_xfer *x)
{
    uint16_t status = 0;
    const wh_fields *hdrs = NULL;
    uint32_t ecode = 0;
    if (wh_xfer_response(x, &status, &hdrs, &ecode) < 0) return (int)map_error(ecode) + 1;
    kiln_buf body = KILN_BUF_INIT;
    char chunk[16384];
    for (;;) {
        int fd, e2 = 0, eof = 0;
        short ev;
        uint64_t deadline;
        if (!wh_xfer_check_body(x, &fd, &ev, &deadline)) {
            if (wait_for(fd, ev, deadline) < 0) {
                kiln_buf_free(&body);
                return HE_RUNTIME + 1;
            }
            continue;
        }
        long n = wh_xfer_read(x, chunk, sizeof chunk, &eof, &e2);
        if (n < 0) {
            kiln_buf_free(&body);
            return HE_REQUEST + 1;
        }
        if (eof) break;
        if (body.len + (size_t)n > WH_REQUEST_BODY_MAX ||
            kiln_buf_append(&body, chunk, (size_t)n) < 0) {
            kiln_buf_free(&body);
            return HE_RUNTIME + 1;
        }
    }
    /* record{status, headers: option<list<tuple<string, string>>>, body: option<list<u8>>}:
     * rec, its 3 fields, the headers' list, the body, a pair of strings per header */
    size_t nh = hdrs ? hdrs->n : 0;
    kiln_cval *v = kiln_cabi_alloc(cx, (6 + 3 * nh) * sizeof *v);
    char *bytes = kiln_cabi_alloc(cx, body.len ? body.len : 1);
    if (!v || !bytes) {
        kiln_buf_free(&body);
        snprintf(cx->err, sizeof cx->err, "out of memory");
        return -1;
    }
    if (body.len) memcpy(bytes, body.data, body.len);
    kiln_cval *rec = v, *fields = v + 1, *list = v + 4, *bv = v + 5, *pairs = v + 6,
              *strs = v + 6 + nh;
    for (size_t i = 0; i < nh; i++) { /* copied: the transfer ends before the lowering */
        const wh_field *f = &hdrs->items[i];
        char *nv = kiln_cabi_alloc(cx, f->name_len + f->value_len + 1);
        if (!nv) {
            snprintf(cx->err, sizeof cx->err, "out of memory");
            return -1;
        }
        memcpy(nv, f->name, f->name_len);
        memcpy(nv + f->name_len, f->value, f->value_len);
        strs[2 * i].str.ptr = nv;
        strs[2 * i].str.len = f->name_len;
        strs[2 * i + 1].str.ptr = nv + f->name_len;
        strs[2 * i + 1].str.len = f->value_len;
        pairs[i].agg.items = &strs[2 * i];
        pairs[i].agg.n = 2;
    }
    list->agg.items = pairs;
    list->agg.n = (uint32_t)nh;
    bv->str.ptr = bytes;
    bv->str.len = body.len;
    kiln_buf_free(&body);
    fields[0].u = status;
    fields[1].var.disc = 1;
    fields[1].var.payload = list;
    fields[2].var.disc = 1;
    fields[2].var.payload = bv;
    rec->agg.items = fields;
    rec->agg.n = 3;
    r->var.disc = 0;
    r->var.payload = rec;
    return 0;
}

/* send-request(request) -> result<response, http-error>. */
static int send_request(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    const kiln_cval *req = args[0].agg.items;
    uint32_t m = req[0].var.disc;
    const char *uri = req[1].str.ptr;
    size_t ulen = req[1].str.len;
    const kiln_cval *headers = &req[2], *body = &req[4];
    if (m >= sizeof method_names / sizeof method_names[0]) return err(cx, &res[0], HE_REQUEST);
    /* scheme://authority[/path][?query] */
    int https;
    size_t skip;
    if (ulen >= 8 && strncasecmp(uri, "https://", 8) == 0)
        https = 1, skip = 8;
    else if (ulen >= 7 && strncasecmp(uri, "http://", 7) == 0)
        https = 0, skip = 7;
    else
        return err(cx, &res[0], HE_INVALID_URL);
    const char *auth = uri + skip, *end = uri + ulen, *p = auth;
    while (p < end && *p != '/' && *p != '?' && *p != '#')
        p++;
    size_t alen = (size_t)(p - auth);
    const char *path = p, *pend = p;
    while (pend < end && *pend != '#')
        pend++;
    wh_target t;
    const spin_component *c = spin_ctx_component(ctx);
    const char *cid = c ? spin_component_id(c) : NULL;
    uint64_t t0 = mono_ns();
    if (alen == 0 || wh_target_parse(&t, https, auth, alen) < 0) {
        char raw[WH_LABEL_MAX];
        snprintf(raw, sizeof raw, "%.*s", (int)(alen < sizeof raw ? alen : sizeof raw - 1), auth);
        wh_outbound_count(cid, raw, 0, WH_E_HTTP_REQUEST_URI_INVALID, t0);
        return err(cx, &res[0], HE_INVALID_URL);
    }
    char label[WH_LABEL_MAX];
    if (wh_target_label(&t, label, sizeof label) < 0) snprintf(label, sizeof label, "%s", t.host);
    size_t ng = 0;
    const char *const *grants = spin_ctx_outbound(ctx, &ng);
    if (!wh_allow(grants, ng, &t)) {
        wh_outbound_count(cid, label, 0, WH_E_HTTP_REQUEST_DENIED, t0);
        fprintf(stderr,
                "kiln: component %s: outbound request to %s://%s:%u denied (not in "
                "allowed_outbound_hosts)\n",
                cid ? cid : "?", https ? "https" : "http", t.host, (unsigned)t.port);
        return err(cx, &res[0], HE_NOT_ALLOWED);
    }
    kiln_buf head = KILN_BUF_INIT;
    uint32_t why;
    int has_path = pend > path && *path == '/';
    if (build_head(&head, method_names[m], has_path ? path : "/",
                   has_path ? (size_t)(pend - path) : 1, auth, alen, headers, &why) < 0) {
        kiln_buf_free(&head);
        return err(cx, &res[0], why);
    }
    int has_body = body->var.disc == 1;
    wh_xfer_spec spec = {
        .target = &t,
        .head = head.data,
        .head_len = head.len,
        .head_only = m == 5,
        .body = has_body,
        .cl = -1,
        .limit = wh_limit_find(cid),
    };
    uint32_t ecode = 0;
    wh_xfer *x = wh_xfer_start(&spec, &ecode);
    kiln_buf_free(&head);
    if (!x) {
        wh_outbound_count(cid, label, 0, ecode, t0);
        return err(cx, &res[0], map_error(ecode));
    }
    if (has_body)
        wh_xfer_body(x, body->var.payload->str.ptr ? body->var.payload->str.ptr : "",
                     body->var.payload->str.len);
    int fd;
    short ev;
    uint64_t deadline;
    while (!wh_xfer_check_head(x, &fd, &ev, &deadline))
        if (wait_for(fd, ev, deadline) < 0) {
            wh_xfer_release(x);
            wh_outbound_count(cid, label, 0, WH_E_INTERNAL, t0);
            return err(cx, &res[0], HE_RUNTIME);
        }
    uint16_t status = 0;
    const wh_fields *hdrs;
    ecode = 0;
    int got = wh_xfer_response(x, &status, &hdrs, &ecode);
    wh_outbound_count(cid, label, got < 0 ? 0 : status, ecode, t0);
    int rc = response(cx, &res[0], x);
    wh_xfer_release(x);
    if (rc > 0) return err(cx, &res[0], (uint32_t)rc - 1);
    return rc;
}

#define SPIN_HEADERS "list<tuple<string, string>>"
static const kiln_chost_func http_funcs[] = {
    {"send-request",
     "(record{method: enum{get, post, put, delete, patch, head, options}, uri: string, "
     "headers: " SPIN_HEADERS ", params: " SPIN_HEADERS ", body: option<list<u8>>}) -> "
     "result<record{status: u16, headers: option<" SPIN_HEADERS ">, body: option<list<u8>>}, "
     "enum{success, destination-not-allowed, invalid-url, request-error, runtime-error, "
     "too-many-requests}>",
     send_request},
};
const kiln_chost_iface kiln_spin_http_iface = {"fermyon:spin/http", "2.0.0", NULL, 0,
                                               http_funcs,          1};
/* fermyon:spin/http-types@2.0.0: types only (http `use`s them). */
const kiln_chost_iface kiln_spin_http_types_iface = {
    "fermyon:spin/http-types", "2.0.0", NULL, 0, NULL, 0};
