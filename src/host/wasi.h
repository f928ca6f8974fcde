/* wasi.h — WASI preview1 (wasi_snapshot_preview1) as a host module, one context per
 * instance, no global state.
 *
 * The context owns the instance's fd table, preopens, args, environment and stdio. Output
 * is never buffered in the context: every fd_write reaches the host fd or the memory
 * buffer before it returns, so nothing is lost when the guest exits or traps. Every
 * guest pointer/length is checked against the instance's memory before use; a bad one is
 * answered with an errno (EFAULT-style), never a host crash. Paths never leave a preopen.
 *
 * Runners of guests do not use this API directly: the host registry (host/registry.h)
 * makes one context per instance from its grants (kiln_wasi_api below) and binds it. */
#ifndef KILN_HOST_WASI_H
#define KILN_HOST_WASI_H

#include <stddef.h>
#include <stdint.h>
#include <wasm-rt.h>

#include "engine/host.h"
#include "util/buf.h"

typedef struct kiln_wasi kiln_wasi;

typedef struct kiln_wasi_preopen {
    const char *host_path;  /* a directory on the host */
    const char *guest_path; /* the name the guest sees, e.g. "/" or "/data" */
    int readonly;           /* 1: no writes, creates, renames, removes below it */
} kiln_wasi_preopen;

/* A stdio stream: either a host file descriptor (not closed by kiln_wasi_free) or a
 * memory buffer (stdin: bytes to read; stdout/stderr: a kiln_buf that output is
 * appended to, up to `limit` bytes when limit > 0: then writes fail with EFBIG-style errno). */
typedef struct kiln_wasi_stdio {
    int fd;                 /* >= 0: use this host fd; -1: use the memory fields */
    const uint8_t *in_data; /* stdin from memory */
    size_t in_len;
    kiln_buf *out; /* stdout/stderr into memory; NULL and fd -1: closed (EBADF) */
    size_t limit;
} kiln_wasi_stdio;

/* Appends an owned copy of {host_path, guest_path, readonly} to the array *list of *n
 * preopens (grown with kiln_realloc). 0, or -1 when out of memory (nothing changed). */
int kiln_wasi_preopens_add(kiln_wasi_preopen **list, size_t *n, const char *host_path,
                           const char *guest_path, int readonly);
/* Frees what kiln_wasi_preopens_add made: the n entries' strings and the array. */
void kiln_wasi_preopens_free(kiln_wasi_preopen *list, size_t n);

typedef struct kiln_wasi_config {
    int argc;
    const char *const *argv; /* argv[0] is the program name */
    size_t nenv;
    const char *const *env; /* "KEY=VALUE" strings: the guest's whole environment */
    size_t npreopens;
    const kiln_wasi_preopen *preopens;
    kiln_wasi_stdio stdio[3];
} kiln_wasi_config;

/* Creates a context; copies everything it needs from cfg. NULL on error (message in
 * *err, owned by the caller: free with kiln_free). Preopen directories are opened here. */
kiln_wasi *kiln_wasi_new(const kiln_wasi_config *cfg, char **err);
/* The memory all guest pointers refer to (the instance's exported "memory"). */
void kiln_wasi_set_memory(kiln_wasi *w, wasm_rt_memory_t *mem);
void kiln_wasi_free(kiln_wasi *w);

/* The host module: every wasi_snapshot_preview1 function. ctx is a kiln_wasi*. */
extern const kiln_host_module kiln_wasi_module;
/* The same as a host API of the registry (host/registry.h): contexts from grants. */
struct kiln_host_api;
extern const struct kiln_host_api kiln_wasi_api;

#endif
