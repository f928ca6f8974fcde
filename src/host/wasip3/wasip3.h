/* wasip3.h — the first WASI 0.3 (p3) host interfaces for components (component/host.h):
 * one provider, "wasi 0.3", serving
 *   wasi:clocks/monotonic-clock  now, get-resolution, wait-for and wait-until (async:
 *                                a pending host call the driver completes when due)
 *   wasi:clocks/types            (types only)
 *   wasi:random/random           get-random-bytes, get-random-u64
 *   wasi:cli/stdout, stderr      write-via-stream: the host reads the guest's stream<u8>
 *                                and writes it to the granted stdout/stderr (fd or
 *                                buffer), resolving the returned future when the guest
 *                                drops its writable end
 *   wasi:cli/stdin               read-via-stream: a stream whose writer the host keeps,
 *                                fed from the granted stdin (a blocking read of its fd,
 *                                or its bytes), and a future resolved at its end
 *   wasi:cli/exit                exit
 *   wasi:cli/types               (types only)
 * each under the 0.3.0 release and the rc Spin 4 targets (0.3.0-rc-2026-03-15): a
 * pre-release links only to itself, so both are registered, sharing the functions.
 *
 * Not yet: wasi:cli environment/exit-with-code/terminal-*, wasi:clocks/system-clock,
 * wasi:random insecure*, wasi:filesystem (wasi:http 0.3: http.h; wasi:sockets 0.3, a
 * provider of its own: sockets.h). */
#ifndef KILN_HOST_WASIP3_H
#define KILN_HOST_WASIP3_H

#include "component/host.h"

extern const kiln_chost_provider kiln_wasip3_provider;

#endif
