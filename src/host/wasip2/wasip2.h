/* wasip2.h — the WASI 0.2 host for components (component/host.h): one provider, "wasi 0.2",
 * serving wasi:cli, wasi:io, wasi:clocks, wasi:random and wasi:filesystem (one file per
 * package) with one context per component instance made from its kiln_grants.
 *
 * State. The context keeps the granted arguments, environment and stdio, and tables of
 * the host resources it handed out: streams (input-stream / output-stream), I/O errors and
 * pollables. A resource's rep is its index + 1 in its table (0 is never a valid rep); a
 * freed slot is reused. Streams of stdio write to the granted fd or memory buffer exactly
 * like preview1's fd_write (host/wasi.h kiln_wasi_stdio). */
#ifndef KILN_HOST_WASIP2_H
#define KILN_HOST_WASIP2_H

#include <stddef.h>
#include <stdint.h>

#include "component/host.h"

extern const kiln_chost_provider kiln_wasip2_provider;

/* The interfaces, one object each (defined in the package's file). */
extern const kiln_chost_iface kiln_wasip2_cli_environment, kiln_wasip2_cli_exit,
    kiln_wasip2_cli_stdin, kiln_wasip2_cli_stdout, kiln_wasip2_cli_stderr,
    kiln_wasip2_cli_terminal_input, kiln_wasip2_cli_terminal_output, kiln_wasip2_cli_terminal_stdin,
    kiln_wasip2_cli_terminal_stdout, kiln_wasip2_cli_terminal_stderr, kiln_wasip2_io_error,
    kiln_wasip2_io_streams, kiln_wasip2_io_poll, kiln_wasip2_clocks_wall,
    kiln_wasip2_clocks_monotonic, kiln_wasip2_random_random, kiln_wasip2_random_insecure,
    kiln_wasip2_random_insecure_seed, kiln_wasip2_fs_types, kiln_wasip2_fs_preopens;

/* The version every interface implements. */
#define KILN_WASIP2_VERSION "0.2.12"

/* Stream kinds. */
enum { P2_STREAM_FREE = 0, P2_STREAM_IN, P2_STREAM_OUT };

typedef struct p2_stream {
    int kind;
    kiln_wasi_stdio io; /* a copy of the granted stdio (fd or memory) */
    size_t in_pos;      /* memory stdin: bytes read so far */
    int closed;         /* reads hit EOF / writes failed for good */
} p2_stream;

typedef struct p2_table {
    void **items; /* NULL: a free slot */
    uint32_t n, cap;
} p2_table;

typedef struct kiln_wasip2 {
    int argc;
    char **argv;
    size_t nenv;
    char **env;
    kiln_wasi_stdio stdio[3];
    p2_stream *streams; /* rep = index + 1 */
    uint32_t nstreams, capstreams;
    p2_table errors;    /* items: kiln_malloc'd messages */
    p2_table pollables; /* items: p2_pollable */
} kiln_wasip2;

typedef struct p2_pollable {
    uint64_t deadline; /* monotonic ns; 0: ready at once */
} p2_pollable;

/* Tables (ctx.c): put returns the rep (index + 1), or 0 when out of memory. */
uint32_t p2_table_put(p2_table *t, void *item);
void *p2_table_get(const p2_table *t, uint32_t rep);
void *p2_table_take(p2_table *t, uint32_t rep);
/* A new stream over stdio slot `which` (0 stdin, 1 stdout, 2 stderr): its rep, 0 on OOM. */
uint32_t p2_stream_new(kiln_wasip2 *w, int which);
p2_stream *p2_stream_get(kiln_wasip2 *w, uint32_t rep, int kind);
/* A new pollable ready at monotonic time `deadline` (0: now); its rep or 0. */
uint32_t p2_pollable_new(kiln_wasip2 *w, uint64_t deadline);
uint64_t p2_monotonic_now(void);

/* Fails a host call: writes the reason into cx->err and returns -1. */
int p2_fail(kiln_cabi_cx *cx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Sets v to a list<u8> (compact: str) holding a copy of bytes[0..n); 0, or -1 (out of memory) with
 * cx->err. */
int p2_bytes_list(kiln_cabi_cx *cx, kiln_cval *v, const uint8_t *bytes, size_t n);

/* Sets results[0] to a result ok with no payload / err with no payload. */
void p2_ok(kiln_cval *r);

#endif
