/* The wasi:sockets 0.2 test component of tests/e2e/p2_sockets.sh (tests/components/build.sh,
 * entry c-sockets-p2), on the bindings `wit-bindgen c` generates for world.wit. One line
 * per step, the same in both builds:
 *   command (argv[1] = the port of the test's TCP echo server, which answers "echo: "
 *   and what it read up to the end): prints the lines;
 *   handler (-DKILN_HANDLER; GET /?port=N): returns them as the response body.
 * Steps: resolve localhost; connect to 127.0.0.1:PORT (start-connect, then finish-connect
 * polled on the socket's pollable while it would block), send a line, shut the sending
 * side, read the answer to its end; bind a TCP socket (and when that is allowed, listen,
 * connect to itself, accept and read); exchange a UDP datagram between two
 * sockets bound to 127.0.0.1; connect to 127.0.0.2:PORT; resolve example.com. A refused
 * step prints its error-code. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef KILN_HANDLER
#include "handler.h"
#define WL(x) handler_##x
#else
#include "command.h"
#define WL(x) command_##x
#endif

typedef struct buf {
    char *p;
    size_t len, cap;
} buf;

static void put(buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        if (!b->p) abort();
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void line(buf *b, const char *step, const char *what)
{
    put(b, step, strlen(step));
    put(b, ": ", 2);
    put(b, what, strlen(what));
    put(b, "\n", 1);
}

static const char *code_name(wasi_sockets_network_error_code_t e)
{
    switch (e) {
    case WASI_SOCKETS_NETWORK_ERROR_CODE_ACCESS_DENIED:
        return "access-denied";
    case WASI_SOCKETS_NETWORK_ERROR_CODE_INVALID_ARGUMENT:
        return "invalid-argument";
    case WASI_SOCKETS_NETWORK_ERROR_CODE_INVALID_STATE:
        return "invalid-state";
    case WASI_SOCKETS_NETWORK_ERROR_CODE_CONNECTION_REFUSED:
        return "connection-refused";
    case WASI_SOCKETS_NETWORK_ERROR_CODE_NAME_UNRESOLVABLE:
        return "name-unresolvable";
    case WASI_SOCKETS_NETWORK_ERROR_CODE_WOULD_BLOCK:
        return "would-block";
    default:
        return "other";
    }
}

static void block_on(wasi_io_poll_own_pollable_t p)
{
    wasi_io_poll_method_pollable_block(wasi_io_poll_borrow_pollable(p));
    wasi_io_poll_pollable_drop_own(p);
}

static wasi_sockets_network_ip_socket_address_t v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d,
                                                   uint16_t port)
{
    wasi_sockets_network_ip_socket_address_t s;
    memset(&s, 0, sizeof s);
    s.tag = WASI_SOCKETS_NETWORK_IP_SOCKET_ADDRESS_IPV4;
    s.val.ipv4.port = port;
    s.val.ipv4.address = (wasi_sockets_network_ipv4_address_t){a, b, c, d};
    return s;
}

/* Resolves name: "127.0.0.1 found" when one of its addresses is, else the error. */
static void resolve(buf *b, wasi_sockets_network_borrow_network_t net, const char *name)
{
    char step[64];
    snprintf(step, sizeof step, "resolve %s", name);
    WL(string_t) s = {(uint8_t *)name, strlen(name)};
    wasi_sockets_ip_name_lookup_own_resolve_address_stream_t rs;
    wasi_sockets_network_error_code_t e;
    if (!wasi_sockets_ip_name_lookup_resolve_addresses(net, &s, &rs, &e)) {
        line(b, step, code_name(e));
        return;
    }
    wasi_sockets_ip_name_lookup_borrow_resolve_address_stream_t br =
        wasi_sockets_ip_name_lookup_borrow_resolve_address_stream(rs);
    int found = 0;
    for (;;) {
        wasi_sockets_ip_name_lookup_option_ip_address_t a;
        if (!wasi_sockets_ip_name_lookup_method_resolve_address_stream_resolve_next_address(br, &a,
                                                                                            &e)) {
            if (e != WASI_SOCKETS_NETWORK_ERROR_CODE_WOULD_BLOCK) {
                line(b, step, code_name(e));
                break;
            }
            block_on(wasi_sockets_ip_name_lookup_method_resolve_address_stream_subscribe(br));
            continue;
        }
        if (!a.is_some) {
            line(b, step, found ? "127.0.0.1 found" : "127.0.0.1 missing");
            break;
        }
        if (a.val.tag == WASI_SOCKETS_NETWORK_IP_ADDRESS_IPV4 && a.val.val.ipv4.f0 == 127 &&
            a.val.val.ipv4.f1 == 0 && a.val.val.ipv4.f2 == 0 && a.val.val.ipv4.f3 == 1)
            found = 1;
    }
    wasi_sockets_ip_name_lookup_resolve_address_stream_drop_own(rs);
}

/* Connects a new TCP socket to addr: 1 with the socket and its streams, or 0 (the error
 * reported as step's line). */
static int tcp_connect(buf *b, const char *step, wasi_sockets_network_borrow_network_t net,
                       wasi_sockets_network_ip_socket_address_t addr,
                       wasi_sockets_tcp_own_tcp_socket_t *sock,
                       wasi_sockets_tcp_tuple2_own_input_stream_own_output_stream_t *io)
{
    wasi_sockets_network_error_code_t e;
    if (!wasi_sockets_tcp_create_socket_create_tcp_socket(
            WASI_SOCKETS_NETWORK_IP_ADDRESS_FAMILY_IPV4, sock, &e)) {
        line(b, step, code_name(e));
        return 0;
    }
    wasi_sockets_tcp_borrow_tcp_socket_t bs = wasi_sockets_tcp_borrow_tcp_socket(*sock);
    if (!wasi_sockets_tcp_method_tcp_socket_start_connect(bs, net, &addr, &e)) {
        line(b, step, code_name(e));
        wasi_sockets_tcp_tcp_socket_drop_own(*sock);
        return 0;
    }
    while (!wasi_sockets_tcp_method_tcp_socket_finish_connect(bs, io, &e)) {
        if (e != WASI_SOCKETS_NETWORK_ERROR_CODE_WOULD_BLOCK) {
            line(b, step, code_name(e));
            wasi_sockets_tcp_tcp_socket_drop_own(*sock);
            return 0;
        }
        block_on(wasi_sockets_tcp_method_tcp_socket_subscribe(bs));
    }
    line(b, step, "ok");
    return 1;
}

static void tcp_echo(buf *b, wasi_sockets_network_borrow_network_t net, uint16_t port)
{
    wasi_sockets_tcp_own_tcp_socket_t sock;
    wasi_sockets_tcp_tuple2_own_input_stream_own_output_stream_t io;
    if (!tcp_connect(b, "connect to the server", net, v4(127, 0, 0, 1, port), &sock, &io)) return;
    wasi_io_streams_stream_error_t se;
    const char *msg = "hello over p2 sockets";
    WL(list_u8_t) bytes = {(uint8_t *)msg, strlen(msg)};
    int ok = wasi_io_streams_method_output_stream_blocking_write_and_flush(
        wasi_io_streams_borrow_output_stream(io.f1), &bytes, &se);
    line(b, "send", ok ? "ok" : "failed");
    wasi_sockets_network_error_code_t e;
    ok = wasi_sockets_tcp_method_tcp_socket_shutdown(wasi_sockets_tcp_borrow_tcp_socket(sock),
                                                     WASI_SOCKETS_TCP_SHUTDOWN_TYPE_SEND, &e);
    line(b, "shutdown send", ok ? "ok" : code_name(e));
    buf got = {0};
    put(&got, "", 0);
    for (;;) {
        WL(list_u8_t) r;
        if (!wasi_io_streams_method_input_stream_blocking_read(
                wasi_io_streams_borrow_input_stream(io.f0), 4096, &r, &se))
            break; /* closed: the end */
        put(&got, (const char *)r.ptr, r.len);
        WL(list_u8_free)(&r);
    }
    line(b, "server said", got.p);
    free(got.p);
    wasi_io_streams_input_stream_drop_own(io.f0);
    wasi_io_streams_output_stream_drop_own(io.f1);
    wasi_sockets_tcp_tcp_socket_drop_own(sock);
}

/* Binds a TCP socket to 127.0.0.1 (any port); when that is allowed, listens, connects to
 * itself, accepts (polling the listener) and reads what the client sent. */
static void tcp_bind(buf *b, wasi_sockets_network_borrow_network_t net)
{
    wasi_sockets_tcp_own_tcp_socket_t sock;
    wasi_sockets_network_error_code_t e;
    if (!wasi_sockets_tcp_create_socket_create_tcp_socket(
            WASI_SOCKETS_NETWORK_IP_ADDRESS_FAMILY_IPV4, &sock, &e)) {
        line(b, "tcp bind", code_name(e));
        return;
    }
    wasi_sockets_tcp_borrow_tcp_socket_t bs = wasi_sockets_tcp_borrow_tcp_socket(sock);
    wasi_sockets_network_ip_socket_address_t at = v4(127, 0, 0, 1, 0);
    int ok = wasi_sockets_tcp_method_tcp_socket_start_bind(bs, net, &at, &e) &&
             wasi_sockets_tcp_method_tcp_socket_finish_bind(bs, &e);
    line(b, "tcp bind", ok ? "ok" : code_name(e));
    ok = ok && wasi_sockets_tcp_method_tcp_socket_start_listen(bs, &e) &&
         wasi_sockets_tcp_method_tcp_socket_finish_listen(bs, &e) &&
         wasi_sockets_tcp_method_tcp_socket_local_address(bs, &at, &e);
    if (ok) {
        line(b, "listen", wasi_sockets_tcp_method_tcp_socket_is_listening(bs) ? "ok" : "not");
        wasi_sockets_tcp_own_tcp_socket_t client;
        wasi_sockets_tcp_tuple2_own_input_stream_own_output_stream_t cio;
        if (tcp_connect(b, "connect to itself", net, at, &client, &cio)) {
            wasi_sockets_tcp_tuple3_own_tcp_socket_own_input_stream_own_output_stream_t acc;
            while (!wasi_sockets_tcp_method_tcp_socket_accept(bs, &acc, &e) &&
                   e == WASI_SOCKETS_NETWORK_ERROR_CODE_WOULD_BLOCK)
                block_on(wasi_sockets_tcp_method_tcp_socket_subscribe(bs));
            wasi_io_streams_stream_error_t se;
            WL(list_u8_t) ping = {(uint8_t *)"ping", 4}, r;
            if (wasi_io_streams_method_output_stream_blocking_write_and_flush(
                    wasi_io_streams_borrow_output_stream(cio.f1), &ping, &se) &&
                wasi_io_streams_method_input_stream_blocking_read(
                    wasi_io_streams_borrow_input_stream(acc.f1), 16, &r, &se)) {
                char txt[32];
                snprintf(txt, sizeof txt, "%.*s", (int)r.len, (const char *)r.ptr);
                line(b, "accepted, read", txt);
                WL(list_u8_free)(&r);
            } else {
                line(b, "accepted, read", "failed");
            }
            wasi_io_streams_input_stream_drop_own(acc.f1);
            wasi_io_streams_output_stream_drop_own(acc.f2);
            wasi_sockets_tcp_tcp_socket_drop_own(acc.f0);
            wasi_io_streams_input_stream_drop_own(cio.f0);
            wasi_io_streams_output_stream_drop_own(cio.f1);
            wasi_sockets_tcp_tcp_socket_drop_own(client);
        }
    }
    wasi_sockets_tcp_tcp_socket_drop_own(sock);
}

/* A UDP socket bound to 127.0.0.1 (any port) with its streams toward remote (NULL: none).
 * 1, or 0 with the error as step's line. */
static int
udp_open(buf *b, const char *step, wasi_sockets_network_borrow_network_t net,
         wasi_sockets_network_ip_socket_address_t *remote, wasi_sockets_udp_own_udp_socket_t *sock,
         wasi_sockets_udp_tuple2_own_incoming_datagram_stream_own_outgoing_datagram_stream_t *st)
{
    wasi_sockets_network_error_code_t e;
    if (!wasi_sockets_udp_create_socket_create_udp_socket(
            WASI_SOCKETS_NETWORK_IP_ADDRESS_FAMILY_IPV4, sock, &e)) {
        line(b, step, code_name(e));
        return 0;
    }
    wasi_sockets_udp_borrow_udp_socket_t bs = wasi_sockets_udp_borrow_udp_socket(*sock);
    wasi_sockets_network_ip_socket_address_t lo = v4(127, 0, 0, 1, 0);
    if (!wasi_sockets_udp_method_udp_socket_start_bind(bs, net, &lo, &e) ||
        !wasi_sockets_udp_method_udp_socket_finish_bind(bs, &e) ||
        !wasi_sockets_udp_method_udp_socket_stream(bs, remote, st, &e)) {
        line(b, step, code_name(e));
        wasi_sockets_udp_udp_socket_drop_own(*sock);
        return 0;
    }
    return 1;
}

static void udp(buf *b, wasi_sockets_network_borrow_network_t net)
{
    wasi_sockets_udp_own_udp_socket_t rx, tx;
    wasi_sockets_udp_tuple2_own_incoming_datagram_stream_own_outgoing_datagram_stream_t rs, ts;
    if (!udp_open(b, "udp bind", net, NULL, &rx, &rs)) return;
    wasi_sockets_network_ip_socket_address_t to;
    wasi_sockets_network_error_code_t e;
    if (!wasi_sockets_udp_method_udp_socket_local_address(wasi_sockets_udp_borrow_udp_socket(rx),
                                                          &to, &e))
        abort();
    if (udp_open(b, "udp bind", net, &to, &tx, &ts)) {
        wasi_sockets_udp_borrow_outgoing_datagram_stream_t out =
            wasi_sockets_udp_borrow_outgoing_datagram_stream(ts.f1);
        uint64_t permit = 0, sent = 0;
        while (wasi_sockets_udp_method_outgoing_datagram_stream_check_send(out, &permit, &e) &&
               permit == 0)
            block_on(wasi_sockets_udp_method_outgoing_datagram_stream_subscribe(out));
        wasi_sockets_udp_outgoing_datagram_t d;
        memset(&d, 0, sizeof d);
        d.data.ptr = (uint8_t *)"a datagram";
        d.data.len = 10;
        wasi_sockets_udp_list_outgoing_datagram_t l = {&d, 1};
        int ok = wasi_sockets_udp_method_outgoing_datagram_stream_send(out, &l, &sent, &e);
        line(b, "udp send", ok && sent == 1 ? "ok" : code_name(e));
        wasi_sockets_udp_borrow_incoming_datagram_stream_t in =
            wasi_sockets_udp_borrow_incoming_datagram_stream(rs.f0);
        for (int i = 0; ok && i < 100; i++) {
            wasi_sockets_udp_list_incoming_datagram_t r;
            if (!wasi_sockets_udp_method_incoming_datagram_stream_receive(in, 4, &r, &e)) {
                line(b, "udp got", code_name(e));
                break;
            }
            if (r.len) {
                char txt[64];
                snprintf(txt, sizeof txt, "%.*s", (int)r.ptr[0].data.len,
                         (const char *)r.ptr[0].data.ptr);
                line(b, "udp got", txt);
                wasi_sockets_udp_list_incoming_datagram_free(&r);
                break;
            }
            wasi_sockets_udp_list_incoming_datagram_free(&r);
            block_on(wasi_sockets_udp_method_incoming_datagram_stream_subscribe(in));
        }
        wasi_sockets_udp_incoming_datagram_stream_drop_own(ts.f0);
        wasi_sockets_udp_outgoing_datagram_stream_drop_own(ts.f1);
        wasi_sockets_udp_udp_socket_drop_own(tx);
    }
    wasi_sockets_udp_incoming_datagram_stream_drop_own(rs.f0);
    wasi_sockets_udp_outgoing_datagram_stream_drop_own(rs.f1);
    wasi_sockets_udp_udp_socket_drop_own(rx);
}

static void run_all(buf *b, uint16_t port)
{
    wasi_sockets_network_own_network_t net = wasi_sockets_instance_network_instance_network();
    wasi_sockets_network_borrow_network_t bn = wasi_sockets_network_borrow_network(net);
    resolve(b, bn, "localhost");
    tcp_echo(b, bn, port);
    tcp_bind(b, bn);
    udp(b, bn);
    wasi_sockets_tcp_own_tcp_socket_t s;
    wasi_sockets_tcp_tuple2_own_input_stream_own_output_stream_t io;
    if (tcp_connect(b, "connect to 127.0.0.2", bn, v4(127, 0, 0, 2, port), &s, &io)) {
        wasi_io_streams_input_stream_drop_own(io.f0);
        wasi_io_streams_output_stream_drop_own(io.f1);
        wasi_sockets_tcp_tcp_socket_drop_own(s);
    }
    resolve(b, bn, "example.com");
    wasi_sockets_network_network_drop_own(net);
}

#ifndef KILN_HANDLER
int main(int argc, char **argv)
{
    buf b = {0};
    put(&b, "", 0);
    run_all(&b, (uint16_t)(argc > 1 ? atoi(argv[1]) : 0));
    fputs(b.p, stdout);
    free(b.p);
    return 0;
}
#else
void exports_wasi_http_incoming_handler_handle(
    exports_wasi_http_incoming_handler_own_incoming_request_t req,
    exports_wasi_http_incoming_handler_own_response_outparam_t out)
{
    handler_string_t pq = {0};
    wasi_http_types_method_incoming_request_path_with_query(
        wasi_http_types_borrow_incoming_request(req), &pq);
    char q[64] = {0};
    snprintf(q, sizeof q, "%.*s", (int)pq.len, (const char *)pq.ptr);
    const char *p = strstr(q, "port=");
    buf b = {0};
    put(&b, "", 0);
    run_all(&b, (uint16_t)(p ? atoi(p + 5) : 0));
    wasi_http_types_incoming_request_drop_own(req);
    wasi_http_types_own_fields_t headers = wasi_http_types_constructor_fields();
    wasi_http_types_own_outgoing_response_t resp =
        wasi_http_types_constructor_outgoing_response(headers);
    wasi_http_types_own_outgoing_body_t body;
    if (!wasi_http_types_method_outgoing_response_body(
            wasi_http_types_borrow_outgoing_response(resp), &body))
        abort();
    wasi_http_types_own_output_stream_t s;
    if (!wasi_http_types_method_outgoing_body_write(wasi_http_types_borrow_outgoing_body(body), &s))
        abort();
    wasi_http_types_result_own_outgoing_response_error_code_t result = {.is_err = false};
    result.val.ok = resp;
    wasi_http_types_static_response_outparam_set(out, &result);
    wasi_io_streams_stream_error_t se;
    for (size_t off = 0; off < b.len;) { /* blocking-write-and-flush: 4096 at most */
        size_t k = b.len - off < 4096 ? b.len - off : 4096;
        handler_list_u8_t bytes = {(uint8_t *)b.p + off, k};
        if (!wasi_io_streams_method_output_stream_blocking_write_and_flush(
                wasi_io_streams_borrow_output_stream(s), &bytes, &se))
            abort();
        off += k;
    }
    wasi_io_streams_output_stream_drop_own(s);
    wasi_http_types_error_code_t ferr;
    if (!wasi_http_types_static_outgoing_body_finish(body, NULL, &ferr)) abort();
    free(b.p);
}
#endif
