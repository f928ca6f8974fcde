/* A wasi:sockets 0.3 (p3) command in C on wit-bindgen's async bindings, for
 * tests/e2e/p3_sockets.sh. Written straight down: every call that blocks is waited for
 * with waitable-set.wait. It reads a port from stdin (a TCP echo server the test runs),
 * then prints one line per step: resolve localhost; connect to the server, send a line
 * through a stream, read the answer to its end; listen on 127.0.0.1, connect to itself,
 * accept (the listen stream), start the server side's read before the client sends (it
 * must be BLOCKED, not hold up the host), send and receive both ways, bind the
 * listener's port again once it is dropped (closed then); two UDP sockets
 * exchanging a
 * datagram; and what the host answers for a connect and a lookup outside the grant. */
#include "command.h"
#include <stdarg.h>
#include <string.h>

static command_waitable_set_t set;
static char out[4096];
static size_t outlen;

static void put(const char *s, size_t n)
{
    for (size_t i = 0; i < n && outlen < sizeof out; i++)
        out[outlen++] = s[i];
}

/* A small printf into out[] (no WASI 0.1 stdio here): %s, %.*s, %d, %u, %ld. */
static void SAY(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    for (const char *p = fmt; *p; p++) {
        if (*p != '%') {
            put(p, 1);
            continue;
        }
        p++;
        if (*p == 's') {
            const char *s = va_arg(ap, const char *);
            put(s, strlen(s));
        } else if (p[0] == '.' && p[1] == '*' && p[2] == 's') {
            int n = va_arg(ap, int);
            put(va_arg(ap, const char *), (size_t)n);
            p += 2;
        } else {
            long v = *p == 'l'   ? (p++, va_arg(ap, long))
                     : *p == 'u' ? (long)va_arg(ap, unsigned)
                                 : va_arg(ap, int);
            char d[24];
            int k = 0;
            unsigned long u = v < 0 ? (put("-", 1), (unsigned long)-v) : (unsigned long)v;
            do
                d[k++] = (char)('0' + u % 10);
            while ((u /= 10) && k < 24);
            while (k)
                put(&d[--k], 1);
        }
    }
    va_end(ap);
}

/* Waits for waitable w's event; its code. */
static uint32_t wait_on(uint32_t w)
{
    command_event_t ev;
    command_waitable_join(w, set);
    do
        command_waitable_set_wait(set, &ev);
    while (ev.waitable != w);
    command_waitable_join(w, 0);
    return ev.code;
}

/* A subtask's status: waits until it returned. */
static void await_sub(command_subtask_status_t st)
{
    if (COMMAND_SUBTASK_STATE(st) == COMMAND_SUBTASK_RETURNED) return;
    command_subtask_t t = COMMAND_SUBTASK_HANDLE(st);
    wait_on(t);
    command_subtask_drop(t);
}

/* A stream/future op's status on w: the count, or -1 when dropped with nothing. */
static long done(uint32_t w, command_waitable_status_t st)
{
    if (st == COMMAND_WAITABLE_STATUS_BLOCKED) st = wait_on(w);
    if (COMMAND_WAITABLE_STATE(st) == COMMAND_WAITABLE_DROPPED && COMMAND_WAITABLE_COUNT(st) == 0)
        return -1;
    return (long)COMMAND_WAITABLE_COUNT(st);
}

static wasi_sockets_types_ip_socket_address_t v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d,
                                                 uint16_t port)
{
    wasi_sockets_types_ip_socket_address_t s;
    memset(&s, 0, sizeof s);
    s.tag = WASI_SOCKETS_TYPES_IP_SOCKET_ADDRESS_IPV4;
    s.val.ipv4.port = port;
    s.val.ipv4.address.f0 = a;
    s.val.ipv4.address.f1 = b;
    s.val.ipv4.address.f2 = c;
    s.val.ipv4.address.f3 = d;
    return s;
}

/* connect: 0 ok, else the error-code case + 1. */
static int connect_to(wasi_sockets_types_own_tcp_socket_t s,
                      wasi_sockets_types_ip_socket_address_t to)
{
    wasi_sockets_types_method_tcp_socket_connect_args_t a = {
        wasi_sockets_types_borrow_tcp_socket(s), to};
    wasi_sockets_types_result_void_error_code_t r;
    await_sub(wasi_sockets_types_method_tcp_socket_connect(&a, &r));
    return r.is_err ? r.val.err.tag + 1 : 0;
}

static wasi_sockets_types_own_tcp_socket_t tcp_new(void)
{
    wasi_sockets_types_own_tcp_socket_t s;
    wasi_sockets_types_error_code_t e;
    if (!wasi_sockets_types_static_tcp_socket_create(WASI_SOCKETS_TYPES_IP_ADDRESS_FAMILY_IPV4, &s,
                                                     &e))
        __builtin_trap();
    return s;
}

/* Sends data on s through a stream, then ends it; the send future's result (0 ok). */
static int send_all(wasi_sockets_types_own_tcp_socket_t s, const char *data)
{
    wasi_sockets_types_stream_u8_writer_t w;
    wasi_sockets_types_stream_u8_t r = wasi_sockets_types_stream_u8_new(&w);
    wasi_sockets_types_future_result_void_error_code_t f =
        wasi_sockets_types_method_tcp_socket_send(wasi_sockets_types_borrow_tcp_socket(s), r);
    size_t n = strlen(data), off = 0;
    while (off < n) {
        long k =
            done(w, wasi_sockets_types_stream_u8_write(w, (const uint8_t *)data + off, n - off));
        if (k < 0) break;
        off += (size_t)k;
    }
    wasi_sockets_types_stream_u8_drop_writable(w);
    wasi_sockets_types_result_void_error_code_t res;
    done(f, wasi_sockets_types_future_result_void_error_code_read(f, &res));
    wasi_sockets_types_future_result_void_error_code_drop_readable(f);
    return res.is_err ? res.val.err.tag + 1 : 0;
}

/* Reads s's receive stream: until its end (want 0) or want bytes, into buf. */
static size_t recv_some(wasi_sockets_types_own_tcp_socket_t s, char *buf, size_t cap, size_t want)
{
    wasi_sockets_types_tuple2_stream_u8_future_result_void_error_code_t t;
    wasi_sockets_types_method_tcp_socket_receive(wasi_sockets_types_borrow_tcp_socket(s), &t);
    size_t got = 0;
    while (got < cap - 1 && (!want || got < want)) {
        long k = done(t.f0,
                      wasi_sockets_types_stream_u8_read(t.f0, (uint8_t *)buf + got, cap - 1 - got));
        if (k < 0) break;
        got += (size_t)k;
    }
    buf[got] = '\0';
    wasi_sockets_types_stream_u8_drop_readable(t.f0);
    wasi_sockets_types_future_result_void_error_code_drop_readable(t.f1);
    return got;
}

static uint16_t read_port(void)
{
    wasi_cli_stdin_tuple2_stream_u8_future_result_void_error_code_t in;
    wasi_cli_stdin_read_via_stream(&in);
    char buf[16];
    size_t got = 0;
    while (got < sizeof buf - 1) {
        long k = done(in.f0, wasi_cli_stdout_stream_u8_read(in.f0, (uint8_t *)buf + got, 1));
        if (k <= 0 || buf[got] == '\n') break;
        got += (size_t)k;
    }
    unsigned port = 0;
    for (size_t i = 0; i < got && buf[i] >= '0' && buf[i] <= '9'; i++)
        port = port * 10 + (unsigned)(buf[i] - '0');
    wasi_cli_stdout_stream_u8_drop_readable(in.f0);
    wasi_cli_stdin_future_result_void_error_code_drop_readable(in.f1);
    return (uint16_t)port;
}

static void resolve(const char *name)
{
    wasi_sockets_ip_name_lookup_result_list_ip_address_error_code_t r;
    command_string_t s = {(uint8_t *)name, strlen(name)};
    await_sub(wasi_sockets_ip_name_lookup_resolve_addresses(s, &r));
    if (r.is_err) {
        SAY("resolve %s: error %u\n", name, (unsigned)r.val.err.tag);
        return;
    }
    int lo = 0;
    for (size_t i = 0; i < r.val.ok.len; i++) {
        wasi_sockets_ip_name_lookup_ip_address_t *a = &r.val.ok.ptr[i];
        if (a->tag == WASI_SOCKETS_TYPES_IP_ADDRESS_IPV4 && a->val.ipv4.f0 == 127 &&
            a->val.ipv4.f3 == 1)
            lo = 1;
    }
    SAY("resolve %s: 127.0.0.1 %s\n", name, lo ? "found" : "missing");
}

static void tcp_echo(uint16_t port)
{
    wasi_sockets_types_own_tcp_socket_t s = tcp_new();
    int e = connect_to(s, v4(127, 0, 0, 1, port));
    SAY("connect to the server: %d\n", e);
    if (e) return;
    SAY("send: %d\n", send_all(s, "hello over p3 sockets\n"));
    char buf[256];
    recv_some(s, buf, sizeof buf, 0);
    SAY("server said: %s", buf);
    wasi_sockets_types_tcp_socket_drop_own(s);
}

static void tcp_self(void)
{
    wasi_sockets_types_own_tcp_socket_t l = tcp_new();
    wasi_sockets_types_error_code_t e;
    wasi_sockets_types_ip_socket_address_t a = v4(127, 0, 0, 1, 0);
    if (!wasi_sockets_types_method_tcp_socket_bind(wasi_sockets_types_borrow_tcp_socket(l), &a,
                                                   &e)) {
        SAY("bind: error %u\n", (unsigned)e.tag);
        return;
    }
    wasi_sockets_types_stream_own_tcp_socket_t accepts;
    if (!wasi_sockets_types_method_tcp_socket_listen(wasi_sockets_types_borrow_tcp_socket(l),
                                                     &accepts, &e)) {
        SAY("listen: error %u\n", (unsigned)e.tag);
        return;
    }
    SAY("listening: %d\n", wasi_sockets_types_method_tcp_socket_get_is_listening(
                               wasi_sockets_types_borrow_tcp_socket(l)));
    wasi_sockets_types_ip_socket_address_t local;
    wasi_sockets_types_method_tcp_socket_get_local_address(wasi_sockets_types_borrow_tcp_socket(l),
                                                           &local, &e);
    wasi_sockets_types_own_tcp_socket_t c = tcp_new();
    SAY("connect to itself: %d\n", connect_to(c, local));
    wasi_sockets_types_own_tcp_socket_t srv;
    long k = done(accepts, wasi_sockets_types_stream_own_tcp_socket_read(accepts, &srv, 1));
    SAY("accepted: %ld\n", k);
    if (k != 1) return;
    wasi_sockets_types_ip_socket_address_t peer, mine;
    wasi_sockets_types_method_tcp_socket_get_remote_address(
        wasi_sockets_types_borrow_tcp_socket(srv), &peer, &e);
    wasi_sockets_types_method_tcp_socket_get_local_address(wasi_sockets_types_borrow_tcp_socket(c),
                                                           &mine, &e);
    SAY("peer is the client: %d\n", peer.val.ipv4.port == mine.val.ipv4.port);
    /* the server's read starts before the client sends: it must stay pending (BLOCKED)
     * while this task goes on and sends, not hold up the host */
    wasi_sockets_types_tuple2_stream_u8_future_result_void_error_code_t t;
    wasi_sockets_types_method_tcp_socket_receive(wasi_sockets_types_borrow_tcp_socket(srv), &t);
    char buf[64];
    command_waitable_status_t st = wasi_sockets_types_stream_u8_read(t.f0, (uint8_t *)buf, 4);
    SAY("server read before the client sent: %s\n",
        st == COMMAND_WAITABLE_STATUS_BLOCKED ? "blocked" : "not blocked");
    SAY("client send: %d\n", send_all(c, "ping"));
    long got = done(t.f0, st);
    buf[got > 0 ? got : 0] = '\0';
    wasi_sockets_types_stream_u8_drop_readable(t.f0);
    wasi_sockets_types_future_result_void_error_code_drop_readable(t.f1);
    SAY("server got: %s\n", buf);
    SAY("server send: %d\n", send_all(srv, "pong"));
    recv_some(c, buf, sizeof buf, 0);
    SAY("client got: %s\n", buf);
    wasi_sockets_types_stream_own_tcp_socket_drop_readable(accepts);
    wasi_sockets_types_tcp_socket_drop_own(srv);
    wasi_sockets_types_tcp_socket_drop_own(c);
    wasi_sockets_types_tcp_socket_drop_own(l);
    /* the listener and its stream dropped: the OS socket is closed, its port free again */
    wasi_sockets_types_own_tcp_socket_t again = tcp_new();
    int ok = wasi_sockets_types_method_tcp_socket_bind(wasi_sockets_types_borrow_tcp_socket(again),
                                                       &local, &e);
    SAY("the listener's port after its drop: %s\n", ok ? "free" : "in use");
    wasi_sockets_types_tcp_socket_drop_own(again);
}

static wasi_sockets_types_own_udp_socket_t udp_bound(wasi_sockets_types_ip_socket_address_t *at)
{
    wasi_sockets_types_own_udp_socket_t u;
    wasi_sockets_types_error_code_t e;
    if (!wasi_sockets_types_static_udp_socket_create(WASI_SOCKETS_TYPES_IP_ADDRESS_FAMILY_IPV4, &u,
                                                     &e))
        __builtin_trap();
    wasi_sockets_types_ip_socket_address_t a = v4(127, 0, 0, 1, 0);
    if (!wasi_sockets_types_method_udp_socket_bind(wasi_sockets_types_borrow_udp_socket(u), &a, &e))
        SAY("udp bind: error %u\n", (unsigned)e.tag);
    wasi_sockets_types_method_udp_socket_get_local_address(wasi_sockets_types_borrow_udp_socket(u),
                                                           at, &e);
    return u;
}

static void udp(void)
{
    wasi_sockets_types_ip_socket_address_t aa, ba;
    wasi_sockets_types_own_udp_socket_t a = udp_bound(&aa), b = udp_bound(&ba);
    wasi_sockets_types_method_udp_socket_send_args_t sa = {
        wasi_sockets_types_borrow_udp_socket(a), {(uint8_t *)"a datagram", 10}, {true, ba}};
    wasi_sockets_types_result_void_error_code_t sr;
    await_sub(wasi_sockets_types_method_udp_socket_send(&sa, &sr));
    SAY("udp send: %d\n", sr.is_err ? sr.val.err.tag + 1 : 0);
    wasi_sockets_types_result_tuple2_list_u8_ip_socket_address_error_code_t rr;
    await_sub(
        wasi_sockets_types_method_udp_socket_receive(wasi_sockets_types_borrow_udp_socket(b), &rr));
    if (rr.is_err) {
        SAY("udp receive: error %u\n", (unsigned)rr.val.err.tag);
    } else {
        SAY("udp got: %.*s from the sender: %d\n", (int)rr.val.ok.f0.len,
            (const char *)rr.val.ok.f0.ptr, rr.val.ok.f1.val.ipv4.port == aa.val.ipv4.port);
    }
    wasi_sockets_types_udp_socket_drop_own(a);
    wasi_sockets_types_udp_socket_drop_own(b);
}

static void denied(uint16_t port)
{
    wasi_sockets_types_own_tcp_socket_t s = tcp_new();
    SAY("connect outside the grant: %d\n", connect_to(s, v4(127, 0, 0, 2, port)));
    wasi_sockets_types_tcp_socket_drop_own(s);
    resolve("example.com");
}

/* Writes out[] to stdout and waits for the write to finish. */
static void flush(void)
{
    wasi_cli_stdout_stream_u8_writer_t w;
    wasi_cli_stdout_stream_u8_t r = wasi_cli_stdout_stream_u8_new(&w);
    wasi_cli_stdout_future_result_void_error_code_t f = wasi_cli_stdout_write_via_stream(r);
    size_t off = 0;
    while (off < outlen) {
        long k =
            done(w, wasi_cli_stdout_stream_u8_write(w, (const uint8_t *)out + off, outlen - off));
        if (k < 0) break;
        off += (size_t)k;
    }
    wasi_cli_stdout_stream_u8_drop_writable(w);
    wasi_cli_stdout_result_void_error_code_t res;
    done(f, wasi_cli_stdout_future_result_void_error_code_read(f, &res));
}

command_callback_code_t exports_wasi_cli_run_run(void)
{
    set = command_waitable_set_new();
    uint16_t port = read_port();
    resolve("localhost");
    tcp_echo(port);
    tcp_self();
    udp();
    denied(port);
    flush();
    exports_wasi_cli_run_result_void_void_t ok = {.is_err = false};
    exports_wasi_cli_run_run_return(ok);
    return COMMAND_CALLBACK_CODE_EXIT;
}

command_callback_code_t exports_wasi_cli_run_run_callback(command_event_t *event)
{
    return COMMAND_CALLBACK_CODE_EXIT;
}
