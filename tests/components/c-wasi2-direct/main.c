/* c-wasi2-direct: a C command built with wit-bindgen c against wasi:cli/command@0.2.12 that
 * calls the WASI 0.2 interfaces directly, without the preview1 adapter: preopens, open-at,
 * streams over a file (check-write/write, write-zeroes, blocking-read, skip, splice to
 * stdout), confinement, poll on clock pollables, and (unless given "nosockets") the denied
 * sockets (a socket is made, its connect refused). tests/e2e/wasip2_component.sh checks its
 * output. */
#include <stdio.h>
#include <string.h>

#include "p2direct.h"

static wasi_io_streams_own_output_stream_t out;

/* Writes s to stdout with the check-write protocol. */
static void say(const char *s)
{
    wasi_io_streams_borrow_output_stream_t o = wasi_io_streams_borrow_output_stream(out);
    wasi_io_streams_stream_error_t e;
    uint64_t permit = 0;
    size_t n = strlen(s);
    if (!wasi_io_streams_method_output_stream_check_write(o, &permit, &e) || permit < n) return;
    p2direct_list_u8_t l = {(uint8_t *)s, n};
    wasi_io_streams_method_output_stream_write(o, &l, &e);
    wasi_io_streams_method_output_stream_blocking_flush(o, &e);
}

static const char *code_name(wasi_filesystem_types_error_code_t c)
{
    switch (c) {
    case WASI_FILESYSTEM_TYPES_ERROR_CODE_NOT_PERMITTED:
        return "not-permitted";
    case WASI_FILESYSTEM_TYPES_ERROR_CODE_NO_ENTRY:
        return "no-entry";
    case WASI_FILESYSTEM_TYPES_ERROR_CODE_READ_ONLY:
        return "read-only";
    case WASI_FILESYSTEM_TYPES_ERROR_CODE_ACCESS:
        return "access";
    default:
        return "other";
    }
}

static bool has_arg(const char *a)
{
    p2direct_list_string_t args;
    wasi_cli_environment_get_arguments(&args);
    for (size_t i = 0; i < args.len; i++)
        if (args.ptr[i].len == strlen(a) && memcmp(args.ptr[i].ptr, a, args.ptr[i].len) == 0)
            return true;
    return false;
}

bool exports_wasi_cli_run_run(void)
{
    char line[160];
    out = wasi_cli_stdout_get_stdout();
    wasi_filesystem_preopens_list_tuple2_own_descriptor_string_t dirs;
    wasi_filesystem_preopens_get_directories(&dirs);
    snprintf(line, sizeof line, "preopens: %zu %.*s\n", dirs.len,
             dirs.len ? (int)dirs.ptr[0].f1.len : 0, dirs.len ? (char *)dirs.ptr[0].f1.ptr : "");
    say(line);
    if (!dirs.len) return false;
    wasi_filesystem_types_borrow_descriptor_t d =
        wasi_filesystem_types_borrow_descriptor(dirs.ptr[0].f0);
    wasi_filesystem_types_error_code_t ec;

    /* a file: "ABC", three zero bytes, "tail\n" through an output stream */
    wasi_filesystem_types_own_descriptor_t f;
    p2direct_string_t name = {(uint8_t *)"direct.txt", 10};
    if (!wasi_filesystem_types_method_descriptor_open_at(
            d, 0, &name,
            WASI_FILESYSTEM_TYPES_OPEN_FLAGS_CREATE | WASI_FILESYSTEM_TYPES_OPEN_FLAGS_TRUNCATE,
            WASI_FILESYSTEM_TYPES_DESCRIPTOR_FLAGS_READ |
                WASI_FILESYSTEM_TYPES_DESCRIPTOR_FLAGS_WRITE,
            &f, &ec)) {
        snprintf(line, sizeof line, "open-at: %s\n", code_name(ec));
        say(line);
        return false;
    }
    wasi_filesystem_types_borrow_descriptor_t fb = wasi_filesystem_types_borrow_descriptor(f);
    wasi_io_streams_own_output_stream_t os;
    wasi_io_streams_stream_error_t se;
    if (wasi_filesystem_types_method_descriptor_write_via_stream(fb, 0, &os, &ec)) {
        wasi_io_streams_borrow_output_stream_t o = wasi_io_streams_borrow_output_stream(os);
        uint64_t permit = 0;
        wasi_io_streams_method_output_stream_check_write(o, &permit, &se);
        snprintf(line, sizeof line, "permit: %s\n", permit >= 11 ? "ok" : "small");
        say(line);
        p2direct_list_u8_t l = {(uint8_t *)"ABC", 3};
        wasi_io_streams_method_output_stream_write(o, &l, &se);
        wasi_io_streams_method_output_stream_write_zeroes(o, 3, &se);
        l = (p2direct_list_u8_t){(uint8_t *)"tail\n", 5};
        bool ok = wasi_io_streams_method_output_stream_write(o, &l, &se);
        ok = wasi_io_streams_method_output_stream_blocking_flush(o, &se) && ok;
        say(ok ? "write: ok\n" : "write: failed\n");
        wasi_io_streams_output_stream_drop_own(os);
    }
    wasi_io_streams_own_input_stream_t is;
    if (wasi_filesystem_types_method_descriptor_read_via_stream(fb, 0, &is, &ec)) {
        wasi_io_streams_borrow_input_stream_t i = wasi_io_streams_borrow_input_stream(is);
        p2direct_list_u8_t got;
        if (wasi_io_streams_method_input_stream_blocking_read(i, 3, &got, &se)) {
            snprintf(line, sizeof line, "read: %.*s\n", (int)got.len, (char *)got.ptr);
            say(line);
            p2direct_list_u8_free(&got);
        }
        uint64_t skipped = 0;
        wasi_io_streams_method_input_stream_skip(i, 3, &skipped, &se);
        snprintf(line, sizeof line, "skip: %llu\n", (unsigned long long)skipped);
        say(line);
        say("splice: ");
        uint64_t moved = 0;
        wasi_io_streams_method_output_stream_splice(wasi_io_streams_borrow_output_stream(out), i,
                                                    100, &moved, &se);
        snprintf(line, sizeof line, "spliced: %llu\n", (unsigned long long)moved);
        say(line);
        bool more = wasi_io_streams_method_input_stream_blocking_read(i, 10, &got, &se);
        say(!more && se.tag == WASI_IO_STREAMS_STREAM_ERROR_CLOSED ? "end: closed\n"
                                                                   : "end: more\n");
        wasi_io_streams_input_stream_drop_own(is);
    }
    wasi_filesystem_types_descriptor_drop_own(f);

    /* confinement */
    p2direct_string_t up = {(uint8_t *)"../etc/passwd", 13};
    wasi_filesystem_types_own_descriptor_t g;
    bool opened = wasi_filesystem_types_method_descriptor_open_at(
        d, WASI_FILESYSTEM_TYPES_PATH_FLAGS_SYMLINK_FOLLOW, &up, 0,
        WASI_FILESYSTEM_TYPES_DESCRIPTOR_FLAGS_READ, &g, &ec);
    snprintf(line, sizeof line, "dotdot: %s\n", opened ? "OPENED" : code_name(ec));
    say(line);

    /* poll: a 10 ms and a 1 h clock; only the first is ready */
    wasi_io_poll_own_pollable_t p[2] = {
        wasi_clocks_monotonic_clock_subscribe_duration(3600ull * 1000000000u),
        wasi_clocks_monotonic_clock_subscribe_duration(10 * 1000000u)};
    wasi_io_poll_borrow_pollable_t pb[2] = {wasi_io_poll_borrow_pollable(p[0]),
                                            wasi_io_poll_borrow_pollable(p[1])};
    wasi_io_poll_list_borrow_pollable_t pl = {pb, 2};
    p2direct_list_u32_t ready;
    wasi_io_poll_poll(&pl, &ready);
    snprintf(line, sizeof line, "poll: %zu ready, index %u\n", ready.len,
             ready.len ? ready.ptr[0] : 99);
    say(line);
    p2direct_list_u32_free(&ready);
    wasi_io_poll_pollable_drop_own(p[0]);
    wasi_io_poll_pollable_drop_own(p[1]);

    if (!has_arg("nosockets")) {
        /* a socket can be made; reaching an address needs a grant */
        wasi_sockets_tcp_create_socket_own_tcp_socket_t t;
        wasi_sockets_tcp_create_socket_error_code_t sec;
        wasi_sockets_instance_network_own_network_t net =
            wasi_sockets_instance_network_instance_network();
        bool made = wasi_sockets_tcp_create_socket_create_tcp_socket(
            WASI_SOCKETS_NETWORK_IP_ADDRESS_FAMILY_IPV4, &t, &sec);
        if (made) {
            wasi_sockets_tcp_ip_socket_address_t to = {
                .tag = WASI_SOCKETS_NETWORK_IP_SOCKET_ADDRESS_IPV4};
            to.val.ipv4.port = 9;
            to.val.ipv4.address = (wasi_sockets_network_ipv4_address_t){127, 0, 0, 1};
            made = wasi_sockets_tcp_method_tcp_socket_start_connect(
                wasi_sockets_tcp_borrow_tcp_socket(t), wasi_sockets_network_borrow_network(net),
                &to, &sec);
            wasi_sockets_tcp_tcp_socket_drop_own(t);
        }
        say(!made && sec == WASI_SOCKETS_NETWORK_ERROR_CODE_ACCESS_DENIED ? "tcp: access-denied\n"
                                                                          : "tcp: allowed\n");
        wasi_sockets_ip_name_lookup_own_resolve_address_stream_t rs;
        p2direct_string_t host = {(uint8_t *)"localhost", 9};
        made = wasi_sockets_ip_name_lookup_resolve_addresses(
            wasi_sockets_network_borrow_network(net), &host, &rs, &sec);
        say(!made && sec == WASI_SOCKETS_NETWORK_ERROR_CODE_ACCESS_DENIED
                ? "lookup: access-denied\n"
                : "lookup: allowed\n");
        wasi_sockets_network_network_drop_own(net);
    }
    return true;
}
