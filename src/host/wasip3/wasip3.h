/* wasip3.h — the WASI 0.3 (p3) host interfaces for components (component/host.h): one
 * provider, "wasi 0.3", serving
 *   wasi:clocks/monotonic-clock  now, get-resolution, wait-for and wait-until (async:
 *                                a pending host call the driver completes when due)
 *   wasi:clocks/system-clock     now, get-resolution (instant: seconds s64, nanoseconds)
 *   wasi:clocks/timezone         (unstable) UTC: Kiln's guests see no host time zone
 *   wasi:clocks/types            (types only)
 *   wasi:random/random, insecure, insecure-seed
 *   wasi:cli/environment         the granted arguments and environment; no initial cwd
 *   wasi:cli/stdout, stderr      write-via-stream: the host reads the guest's stream<u8>
 *                                and writes it to the granted stdout/stderr (fd or
 *                                buffer), resolving the returned future when the guest
 *                                drops its writable end
 *   wasi:cli/stdin               read-via-stream: a stream whose writer the host keeps,
 *                                fed from the granted stdin (a blocking read of its fd,
 *                                or its bytes), and a future resolved at its end
 *   wasi:cli/exit                exit, exit-with-code (the code is the run's exit status)
 *   wasi:cli/terminal-*          no terminal: every get-terminal-* is none
 *   wasi:cli/types               (types only)
 *   wasi:filesystem/types, preopens  (filesystem.c: descriptors over the granted preopens)
 * each under the 0.3.0 release and the rc Spin 4 targets (0.3.0-rc-2026-03-15): a
 * pre-release links only to itself, so both are registered, sharing the functions.
 *
 * Reuse of WASI 0.2. Where 0.3 only renames or retypes a 0.2 function (environment,
 * random, the wall clock, every filesystem call that is not a stream), the 0.3 function
 * calls the 0.2 host's (host/wasip2/wasip2.h) with a WASI 0.2 context the 0.3 context
 * holds (made from the same kiln_grants: the same preopens, arguments, environment), and
 * converts what differs (filesystem error-code and descriptor-type cases). So path
 * confinement is the one of preview1 and 0.2 (host/beneath.h) and descriptors are 0.2
 * descriptors under the same reps. A copy of a context (ctx_clone, component images) is
 * the 0.2 host's copy of the template's 0.2 context (its preopen fds borrowed: no system
 * call per copy); a template with file streams open, or files it opened, has none.
 *
 * wasi:http 0.3: http.h; wasi:sockets 0.3, a provider of its own: sockets.h. */
#ifndef KILN_HOST_WASIP3_H
#define KILN_HOST_WASIP3_H

#include "component/host.h"
#include "host/wasi.h"

extern const kiln_chost_provider kiln_wasip3_provider;

/* The context of one instance (the provider's ctx), shared with filesystem.c. */
typedef struct kiln_wasip3 {
    void *p2;               /* the WASI 0.2 context (kiln_wasip2) of the same grants */
    kiln_wasi_stdio out[3]; /* the granted stdio */
    size_t in_off;          /* stdin from memory: bytes already read */
    struct p3_pipe *pipes;  /* write-via-stream / read-via-stream in progress (wasip3.c) */
    struct p3_file *files;  /* file streams in progress (filesystem.c) */
} kiln_wasip3;

/* Calls function `name` of the WASI 0.2 interface i with c's 0.2 context (the 0.3
 * function's arguments and results have the 0.2 function's values). */
int kiln_wasip3_p2_call(kiln_wasip3 *c, const kiln_chost_iface *i, const char *name,
                        kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res);
/* Frees c's file streams (filesystem.c; from the context's free). */
void kiln_wasip3_files_free(kiln_wasip3 *c);

/* wasi:filesystem 0.3 (filesystem.c), under both versions. */
extern const kiln_chost_iface kiln_wasip3_fs_types_rc, kiln_wasip3_fs_types_rel,
    kiln_wasip3_fs_preopens_rc, kiln_wasip3_fs_preopens_rel;

#endif
