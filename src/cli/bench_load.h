/* bench_load.h — `kiln bench`'s load generator: plain HTTP/1.1 over TCP sockets from its
 * own threads, in the bench process (no external tool).
 *
 * Each thread holds one keep-alive connection to 127.0.0.1:port and sends GETs of the
 * given paths in turn, one at a time, for the given duration; it reads each response
 * whole (Content-Length, chunked, or until close) and notes its status and latency in its
 * own counters and histogram (no lock, no shared write): the threads' results are added
 * up after they are joined. A connection the server closes is opened again. */
#ifndef KILN_CLI_BENCH_LOAD_H
#define KILN_CLI_BENCH_LOAD_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* Latency histogram: bucket i holds latencies in [2^(i/4) us ...), 4 per doubling. */
#define KILN_BENCH_LAT_BUCKETS 128

typedef struct kiln_bench_load {
    uint64_t ok, failed; /* responses 2xx/3xx; others and broken exchanges */
    uint64_t lat[KILN_BENCH_LAT_BUCKETS];
    double seconds; /* the measured run's wall time */
} kiln_bench_load;

/* Drives paths[0..npaths) round robin from `threads` connections for `seconds`. 0, or -1
 * when no thread could start (said on stderr). */
int kiln_bench_load_run(uint16_t port, const char *const *paths, size_t npaths, unsigned threads,
                        double seconds, kiln_bench_load *out);
/* The q-quantile (0..1) of the latency histogram in seconds (0 with no samples). */
double kiln_bench_load_quantile(const kiln_bench_load *l, double q);

/* One GET with "Connection: close": the status (or -1 when the exchange failed) and the
 * body appended to body (may be NULL). timeout_ms bounds each socket wait. */
int kiln_bench_get(uint16_t port, const char *path, kiln_buf *body, int timeout_ms);

#endif
