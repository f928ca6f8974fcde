/* sockets.c — wasi:sockets 0.2, denying (wasip2.h): Kiln grants no network yet, so every
 * interface links but creating a socket or resolving a name answers access-denied. The
 * socket resources' methods exist so that components importing them link; no socket can
 * ever be created, so calling one means a forged handle and traps. instance-network hands
 * out the one (inert) network resource. */
#include "host/wasip2/wasip2.h"

/* error-code (wasi:sockets/network) */
#define SE_ACCESS_DENIED 1u

/* The network resource holds nothing. */
static void network_dtor(void *ctx, uint32_t rep)
{
    (void)ctx, (void)rep;
}

static int instance_network(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    ((kiln_wasip2 *)ctx)->network = 1;
    res[0].res.rep = 1;
    res[0].res.type = NULL;
    return 0;
}

static int denied(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    kiln_cval *c = kiln_cabi_alloc(cx, sizeof *c);
    if (!c) return p2_fail(cx, "out of memory");
    c->var.disc = SE_ACCESS_DENIED;
    c->var.payload = NULL;
    res[0].var.disc = 1;
    res[0].var.payload = c;
    return 0;
}

static int network_error_code(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    res[0].var.disc = 0; /* none: no error comes from a socket */
    res[0].var.payload = NULL;
    return 0;
}

static int no_socket(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    return p2_fail(cx, "wasi:sockets: no such socket (sockets are not granted)");
}

static const kiln_chost_resource network_res[] = {{"network", network_dtor}};
static const kiln_chost_func network_funcs[] = {
    {"network-error-code", "(borrow<error>) -> option<*>", network_error_code}};
const kiln_chost_iface kiln_wasip2_sockets_network = {
    "wasi:sockets/network", KILN_WASIP2_VERSION, network_res, 1, network_funcs, 1};

static const kiln_chost_func instance_funcs[] = {
    {"instance-network", "() -> own<network>", instance_network}};
const kiln_chost_iface kiln_wasip2_sockets_instance_network = {
    "wasi:sockets/instance-network", KILN_WASIP2_VERSION, NULL, 0, instance_funcs, 1};

static const kiln_chost_func tcp_create_funcs[] = {
    {"create-tcp-socket", "(*) -> result<own<tcp-socket>, *>", denied}};
const kiln_chost_iface kiln_wasip2_sockets_tcp_create = {
    "wasi:sockets/tcp-create-socket", KILN_WASIP2_VERSION, NULL, 0, tcp_create_funcs, 1};

static const kiln_chost_func udp_create_funcs[] = {
    {"create-udp-socket", "(*) -> result<own<udp-socket>, *>", denied}};
const kiln_chost_iface kiln_wasip2_sockets_udp_create = {
    "wasi:sockets/udp-create-socket", KILN_WASIP2_VERSION, NULL, 0, udp_create_funcs, 1};

static const kiln_chost_resource lookup_res[] = {{"resolve-address-stream", NULL}};
static const kiln_chost_func lookup_funcs[] = {
    {"resolve-addresses", "(borrow<network>, string) -> result<own<resolve-address-stream>, *>",
     denied},
    {"[method]resolve-address-stream.resolve-next-address", NULL, no_socket},
    {"[method]resolve-address-stream.subscribe", NULL, no_socket},
};
const kiln_chost_iface kiln_wasip2_sockets_ip_name_lookup = {
    "wasi:sockets/ip-name-lookup", KILN_WASIP2_VERSION, lookup_res, 1, lookup_funcs, 3};

#define M(r, f)                                                                                    \
    {                                                                                              \
        "[method]" r "." f, NULL, no_socket                                                        \
    }
static const kiln_chost_resource tcp_res[] = {{"tcp-socket", NULL}};
static const kiln_chost_func tcp_funcs[] = {
    M("tcp-socket", "start-bind"),
    M("tcp-socket", "finish-bind"),
    M("tcp-socket", "start-connect"),
    M("tcp-socket", "finish-connect"),
    M("tcp-socket", "start-listen"),
    M("tcp-socket", "finish-listen"),
    M("tcp-socket", "accept"),
    M("tcp-socket", "local-address"),
    M("tcp-socket", "remote-address"),
    M("tcp-socket", "is-listening"),
    M("tcp-socket", "address-family"),
    M("tcp-socket", "set-listen-backlog-size"),
    M("tcp-socket", "keep-alive-enabled"),
    M("tcp-socket", "set-keep-alive-enabled"),
    M("tcp-socket", "keep-alive-idle-time"),
    M("tcp-socket", "set-keep-alive-idle-time"),
    M("tcp-socket", "keep-alive-interval"),
    M("tcp-socket", "set-keep-alive-interval"),
    M("tcp-socket", "keep-alive-count"),
    M("tcp-socket", "set-keep-alive-count"),
    M("tcp-socket", "hop-limit"),
    M("tcp-socket", "set-hop-limit"),
    M("tcp-socket", "receive-buffer-size"),
    M("tcp-socket", "set-receive-buffer-size"),
    M("tcp-socket", "send-buffer-size"),
    M("tcp-socket", "set-send-buffer-size"),
    M("tcp-socket", "subscribe"),
    M("tcp-socket", "shutdown"),
};
const kiln_chost_iface kiln_wasip2_sockets_tcp = {"wasi:sockets/tcp",
                                                  KILN_WASIP2_VERSION,
                                                  tcp_res,
                                                  1,
                                                  tcp_funcs,
                                                  sizeof tcp_funcs / sizeof tcp_funcs[0]};

static const kiln_chost_resource udp_res[] = {
    {"udp-socket", NULL}, {"incoming-datagram-stream", NULL}, {"outgoing-datagram-stream", NULL}};
static const kiln_chost_func udp_funcs[] = {
    M("udp-socket", "start-bind"),
    M("udp-socket", "finish-bind"),
    M("udp-socket", "stream"),
    M("udp-socket", "local-address"),
    M("udp-socket", "remote-address"),
    M("udp-socket", "address-family"),
    M("udp-socket", "unicast-hop-limit"),
    M("udp-socket", "set-unicast-hop-limit"),
    M("udp-socket", "receive-buffer-size"),
    M("udp-socket", "set-receive-buffer-size"),
    M("udp-socket", "send-buffer-size"),
    M("udp-socket", "set-send-buffer-size"),
    M("udp-socket", "subscribe"),
    M("incoming-datagram-stream", "receive"),
    M("incoming-datagram-stream", "subscribe"),
    M("outgoing-datagram-stream", "check-send"),
    M("outgoing-datagram-stream", "send"),
    M("outgoing-datagram-stream", "subscribe"),
};
const kiln_chost_iface kiln_wasip2_sockets_udp = {"wasi:sockets/udp",
                                                  KILN_WASIP2_VERSION,
                                                  udp_res,
                                                  3,
                                                  udp_funcs,
                                                  sizeof udp_funcs / sizeof udp_funcs[0]};
