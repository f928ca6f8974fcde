/* wasip2.h — the WASI 0.2 host for components (component/host.h): one provider, "wasi 0.2",
 * serving wasi:cli, wasi:io, wasi:clocks, wasi:random, wasi:filesystem and wasi:sockets (one
 * file per package) with one context per component instance made from its kiln_grants.
 *
 * Confinement. Files are reached only through descriptors that get-directories makes from
 * the granted preopens (kiln_grants.wasi.preopens); every path is resolved beneath one by
 * host/beneath.h, the same resolver as preview1's: absolute paths, ".." above the
 * descriptor and symlinks leading out fail with not-permitted; anything that would modify
 * the file system below a read-only preopen fails with read-only.
 *
 * Sockets (sockets.c). wasi:sockets reaches what the instance's allowed_outbound_hosts
 * allow, by the rules it shares with wasi:sockets 0.3 (host/sockets_common.h): TCP connect by
 * a tcp:// grant, UDP bind/connect/send by a udp:// grant, resolve-addresses by a grant
 * naming the host; an explicit TCP bind (and so listen) only under `kiln run`
 * (kiln_grants.allow_tcp_bind), never for apps under `kiln up` (as in Spin). Everything
 * else is access-denied with a log line.
 *
 * Waiting. blocking-* calls and poll on clock or stdin pollables wait with p2_wait (the
 * engine's waiting API), so that a guest on a fiber parks instead of blocking its loop.
 *
 * State. The context keeps the granted arguments, environment, stdio and opened preopens,
 * and tables of the host resources it handed out: streams (input-stream / output-stream,
 * over stdio or a file), I/O errors, pollables, descriptors and directory-entry-streams.
 * A resource's rep is its index + 1 in its table (0 is never a valid rep); a freed slot is
 * reused; the handle tables of the guest (component/resources.h) check a handle's type
 * before a host function sees its rep. Streams of stdio write to the granted fd or memory
 * buffer exactly like preview1's fd_write (host/wasi.h kiln_wasi_stdio); file streams
 * hold their own dup of the descriptor's fd, so dropping the descriptor first is harmless.
 * Everything still open is closed by ctx_free.
 *
 * Copies (component images: host.h ctx_clone). A context left by an instance's
 * initialization can be copied when it holds only get-directories' descriptors (what
 * wasi-libc's preopen scan takes at start) and stdio streams (what the adapter takes
 * when the initialization prints). The copy's preopen k is the template's directory fd,
 * borrowed (no system call per copy: the template outlives its copies, and a directory fd
 * is only used through *-at calls and fstat, as a dup of it would be), when the copy's
 * grant k names the same host directory, guest path and access as the template's; else
 * it is opened from the copy's grant. The template's descriptor of preopen k becomes the
 * copy's descriptor of its preopen k at the same rep (the borrowed fd, or a dup of the
 * opened one), and the template's stream of stdio slot k a stream over the copy's slot k.
 * Any other state (files opened at start, host-backed streams, errors, pollables) refuses
 * the copy (the component then instantiates per request). */
#ifndef KILN_HOST_WASIP2_H
#define KILN_HOST_WASIP2_H

#include <stddef.h>
#include <stdint.h>

#include "component/host.h"
#include "host/wasi.h"

extern const kiln_chost_provider kiln_wasip2_provider;

/* The interfaces, one object each (defined in the package's file). */
extern const kiln_chost_iface kiln_wasip2_sockets_network, kiln_wasip2_sockets_instance_network,
    kiln_wasip2_sockets_tcp, kiln_wasip2_sockets_tcp_create, kiln_wasip2_sockets_udp,
    kiln_wasip2_sockets_udp_create, kiln_wasip2_sockets_ip_name_lookup;
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

/* How much one check-write permits (the guest splits larger writes), and the most that
 * blocking-write-and-flush / blocking-write-zeroes-and-flush accept (the spec's 4096:
 * more traps, as in wasmtime). */
#define P2_WRITE_BUDGET 65536u
#define P2_BLOCKING_MAX 4096u

/* A stream backed by another host (wasi:http bodies): its reads and writes go to ops.
 * read: up to cap bytes into buf; the count (> 0), 0 with *eof = 1 at the end, or -1 with
 * an errno in *err. write: all n bytes; 0, or an errno (EPIPE: the sink is gone, the
 * stream reports closed). close: the guest dropped the stream (may be NULL). */
typedef struct p2_stream_ops {
    long (*read)(void *arg, void *buf, size_t cap, int *eof, int *err);
    int (*write)(void *arg, const void *data, size_t n);
    void (*close)(void *arg);
} p2_stream_ops;

/* A readiness source of another host (wasi:http's futures and response bodies). check
 * makes what progress it can without blocking and returns 1 when ready; else 0 with what
 * to wait for before checking again: *fd (-1: none) and *events, and *deadline (monotonic
 * ns; UINT64_MAX: none). retain / release count the references pollables hold on arg. */
typedef struct p2_ready_ops {
    int (*check)(void *arg, int *fd, short *events, uint64_t *deadline);
    void (*retain)(void *arg);
    void (*release)(void *arg);
} p2_ready_ops;

/* A stream: over a granted stdio slot (io), or over a file (fd >= 0: a dup of the
 * descriptor's fd, read/written at `off`, or at the end for append), or over host ops. */
typedef struct p2_stream {
    int kind;
    const p2_stream_ops *ops; /* non-NULL: a host-backed stream (ops_arg its argument) */
    void *ops_arg;
    const p2_ready_ops *ready; /* host-backed input that may have nothing yet (else NULL) */
    kiln_wasi_stdio io;        /* a copy of the granted stdio (fd or memory); unused for files */
    size_t in_pos;             /* memory stdin: bytes read so far */
    int file_fd;               /* >= 0: a file stream (owned) */
    uint64_t off;              /* file streams: the next offset */
    int append;                /* file output stream: always at the end */
    int closed;                /* reads hit EOF / writes failed for good */
    int stdio;                 /* a stream of granted stdio slot stdio - 1; 0: not stdio */
    uint64_t permit;           /* output: bytes the last check-write allows still */
} p2_stream;

typedef struct p2_table {
    void **items; /* NULL: a free slot */
    uint32_t n, cap;
} p2_table;

/* A preopened directory of the grants (opened once in ctx_new). */
typedef struct p2_preopen {
    int fd; /* O_DIRECTORY */
    char *guest_path;
    char *host_path;
    int readonly;
    int borrowed; /* fd and paths are the template's (a copy's: see "Copies"); else owned */
} p2_preopen;

/* A filesystem descriptor (wasi:filesystem/types descriptor). */
typedef struct p2_desc {
    int fd;         /* owned */
    int readonly;   /* below a read-only preopen */
    uint32_t flags; /* descriptor-flags as opened (P2_DF_*) */
    int is_dir;
    size_t preopen; /* get-directories' descriptor of preopen number preopen - 1; 0: other */
    int borrowed;   /* fd is the template's preopen directory (a copy's); else owned */
} p2_desc;

/* descriptor-flags bits */
#define P2_DF_READ 1u
#define P2_DF_WRITE 2u
#define P2_DF_FILE_SYNC 4u
#define P2_DF_DATA_SYNC 8u
#define P2_DF_REQ_SYNC 16u
#define P2_DF_MUTATE_DIR 32u

/* A directory-entry-stream: the open directory and the entries left. */
typedef struct p2_dirstream {
    void *dir; /* DIR* (owned) */
} p2_dirstream;

typedef struct kiln_wasip2 {
    int argc;
    char **argv;
    size_t nenv;
    char **env;
    kiln_wasi_stdio stdio[3];
    p2_stream *streams; /* rep = index + 1 */
    uint32_t nstreams, capstreams;
    p2_table errors;    /* items: p2_error */
    p2_table pollables; /* items: p2_pollable */
    p2_table descs;     /* items: p2_desc */
    p2_table dirs;      /* items: p2_dirstream */
    p2_preopen *preopens;
    size_t npreopens;
    int no_openat2;     /* for beneath.h: 1 resolves component-wise (tests set it) */
    int network;        /* instance-network handed out (rep 1) */
    struct p2_net *net; /* wasi:sockets state (sockets.c) */
} kiln_wasip2;

/* wasi:sockets (sockets.c): the state of w made from the grants (0, or -1 out of memory),
 * whether it holds nothing the guest opened (a template may be copied), and its free. */
int p2_net_new(kiln_wasip2 *w, const kiln_grants *g);
int p2_net_idle(const kiln_wasip2 *w);
void p2_net_free(kiln_wasip2 *w);

/* An I/O error (wasi:io/error): a message and, for file errors, the errno behind it. */
typedef struct p2_error {
    int host_errno; /* 0: not a file error */
    char msg[];
} p2_error;

/* Pollable kinds: ready at a monotonic time (0: at once), when a host fd is ready, or
 * when another host's readiness source says so. */
enum { P2_POLL_CLOCK = 0, P2_POLL_FD, P2_POLL_HOST };

typedef struct p2_pollable {
    int kind;
    uint64_t deadline;         /* P2_POLL_CLOCK: monotonic ns */
    int fd;                    /* P2_POLL_FD: not owned (the stdio fd of the grants) */
    short events;              /* POLLIN / POLLOUT */
    const p2_ready_ops *ready; /* P2_POLL_HOST: with arg (a reference held) */
    void *arg;
} p2_pollable;

/* Tables (ctx.c): put returns the rep (index + 1), or 0 when out of memory. */
uint32_t p2_table_put(p2_table *t, void *item);
void *p2_table_get(const p2_table *t, uint32_t rep);
void *p2_table_take(p2_table *t, uint32_t rep);
/* A new host-backed input stream whose reads may find nothing yet: blocking reads and
 * its pollables wait on ready(arg). Its rep, 0 on OOM. */
uint32_t p2_stream_new_ready(kiln_wasip2 *w, const p2_stream_ops *ops, void *arg,
                             const p2_ready_ops *ready);
/* A new pollable over ready(arg) (takes a reference with ready->retain); its rep or 0. */
uint32_t p2_pollable_new_host(kiln_wasip2 *w, const p2_ready_ops *ready, void *arg);
/* A new stream over stdio slot `which` (0 stdin, 1 stdout, 2 stderr): its rep, 0 on OOM. */
uint32_t p2_stream_new(kiln_wasip2 *w, int which);
p2_stream *p2_stream_get(kiln_wasip2 *w, uint32_t rep, int kind);
/* A new host-backed stream (kind P2_STREAM_IN / _OUT) over ops(arg): its rep, 0 on OOM. */
uint32_t p2_stream_new_ops(kiln_wasip2 *w, int kind, const p2_stream_ops *ops, void *arg);
/* A new file stream over a dup of fd (kind P2_STREAM_IN / _OUT): its rep, 0 on failure. */
uint32_t p2_stream_new_file(kiln_wasip2 *w, int kind, int fd, uint64_t off, int append);
/* A new pollable ready at monotonic time `deadline` (0: now); its rep or 0. */
uint32_t p2_pollable_new(kiln_wasip2 *w, uint64_t deadline);
/* A new pollable ready when host fd is ready for events; its rep or 0. */
uint32_t p2_pollable_new_fd(kiln_wasip2 *w, int fd, short events);
/* A new wasi:io/error with message msg (and errno e, 0 if none); its rep or 0. */
uint32_t p2_error_new(kiln_wasip2 *w, const char *msg, int e);
uint64_t p2_monotonic_now(void);

/* Fails a host call: writes the reason into cx->err and returns -1. */
int p2_fail(kiln_cabi_cx *cx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Sets v to a list<u8> (compact: str) holding a copy of bytes[0..n); 0, or -1 (out of memory) with
 * cx->err. */
int p2_bytes_list(kiln_cabi_cx *cx, kiln_cval *v, const uint8_t *bytes, size_t n);

/* Sets results[0] to a result ok with no payload / err with no payload. */
void p2_ok(kiln_cval *r);

/* Waits (engine/fiber.h: parks a fiber, else blocks) until monotonic time t, or until
 * fd (>= 0) is ready for events; returns the revents (> 0), 0 at time t, or -1 when
 * the guest's time limit ended the wait (the host function then just returns). One
 * function so that the waiting mechanism can be swapped in one place (io.c). */
int p2_wait(int fd, short events, uint64_t t);

/* The filesystem's error-code (enum index) for a host errno (filesystem.c). */
uint32_t p2_fs_error_code(int e);

#endif
