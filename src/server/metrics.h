/* metrics.h — Kiln's Prometheus metrics: a registry with fixed label sets, per-thread
 * shards, and the text exposition format 0.0.4.
 *
 * Names and units follow the OpenTelemetry HTTP semantic conventions as Prometheus
 * spells them (http.server.request.duration -> http_server_request_duration_seconds;
 * attribute http.route -> label http_route); Kiln's own metrics start with kiln_.
 * docs/observability.md lists them all.
 *
 * Setup, once, on one thread: kiln_metrics_new, then add the components, the routes (each
 * with its component's label) and the trap kinds, then kiln_metrics_seal. Every label
 * value is known then: nothing a request carries becomes a label except through a
 * bounded normalisation (the method: one of the nine standard ones or "_OTHER"; the
 * status: its class, "1xx" to "9xx"). Route 0 always exists: requests no route served
 * (404s, the reserved /.well-known paths), with empty component and route labels.
 *
 * Recording (any thread, after the seal): each thread writes only its own shard, found
 * through a thread-local pointer (a shard is made on a thread's first record, under a
 * mutex, once per thread and registry). A counter is a relaxed atomic load and store by
 * its only writer: no lock and no read-modify-write on the hot path. The per-route HTTP
 * histograms of a (route, method, status class) are allocated by the shard's thread the
 * first time it sees that combination, so memory follows the traffic, not the product of
 * the label sets. A scrape sums the shards (relaxed loads: a scrape may see a request's
 * count without its sum, never a torn value).
 *
 * Gauges (tier, compile time, live instances) are set rarely, from any thread; live
 * instances, the queue depth, the memory pool's slots and the process's resident memory
 * are read at scrape time (callbacks, /proc/self/statm). Guest
 * memory is observed per request (the linear memory's size when the guest ended): a
 * histogram and a high-water mark per component (each shard keeps its own maximum; a
 * scrape takes the largest).
 *
 * Outbound HTTP requests and key-value operations (kiln_metrics_outbound, kiln_metrics_kv)
 * come from host functions on any thread, named by their component's id; the host and the
 * store are labels too, so each component keeps a table of the first
 * KILN_METRICS_MAX_HOSTS hosts and KILN_METRICS_MAX_STORES stores it used (a new name is
 * added under the mutex, once; lookups read the table without a lock) and counts the rest
 * as "other". Their counters are a block per (shard, component) made on first use.
 *
 * The dashboard (server/dashboard.h) reads the same shards through kiln_metrics_get_route
 * and kiln_metrics_get_comp. */
#ifndef KILN_SERVER_METRICS_H
#define KILN_SERVER_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "exec/handler.h" /* KILN_FAULT_* */
#include "util/buf.h"

typedef struct kiln_metrics kiln_metrics;

/* An empty registry. NULL when out of memory. */
kiln_metrics *kiln_metrics_new(void);
/* Frees the registry and every shard; no thread may record into it any more. */
void kiln_metrics_free(kiln_metrics *m);

/* Registration (before the seal). Names are copied. Each returns the new index (a
 * component from 0, a route from 1: 0 is "no route") or -1 when out of memory or sealed.
 * comp is the route's component index, or -1 for a route with no component (a static
 * response), whose component label is then comp_label. */
int kiln_metrics_add_component(kiln_metrics *m, const char *name);
int kiln_metrics_add_route(kiln_metrics *m, const char *route, int comp, const char *comp_label);
/* The trap kinds counted by name (e.g. "unreachable"); others count as "other". */
int kiln_metrics_add_trap_kind(kiln_metrics *m, const char *kind);
/* The number of instance slots and a function that says how many are taken (called at
 * every scrape, any thread; NULL: not exported). */
void kiln_metrics_set_instances(kiln_metrics *m, size_t capacity, size_t (*live)(void *ctx),
                                void *ctx);
/* Requests waiting for an instance slot now (called at every scrape; NULL: not exported). */
void kiln_metrics_set_queue(kiln_metrics *m, size_t (*depth)(void *ctx), void *ctx);
/* The engine's memory pool: reservations in use and free (called at every scrape; NULL:
 * not exported). */
void kiln_metrics_set_pool(kiln_metrics *m, void (*pool)(size_t *in_use, size_t *free_slots));
/* Metrics another module keeps (e.g. the tracer's span counters): render(ctx, out) appends
 * their exposition at the end of every scrape (0 or -1). Before the seal. */
void kiln_metrics_set_extra(kiln_metrics *m, int (*render)(void *ctx, kiln_buf *out), void *ctx);
/* Ends the registration: recording and scraping may start. */
void kiln_metrics_seal(kiln_metrics *m);

/* One finished request (the thread's shard; never blocks after the thread's first call).
 * route: the route index (0: none; out of range: 0). method: the request's method
 * (len bytes; NULL: none, then no HTTP histograms are recorded, e.g. the client went away
 * before the answer). duration_ns, req_bytes, resp_bytes: the HTTP histograms. start_ns:
 * the guest instance's start (< 0: none). fault and trap_kind: exec/handler.h's
 * KILN_FAULT_* and the trap's kind name (one not registered counts as "other"). */
typedef struct kiln_metrics_request {
    size_t route;
    const char *method;
    size_t method_len;
    int status;
    uint64_t duration_ns, req_bytes, resp_bytes;
    int64_t start_ns;
    int fault;
    const char *trap_kind;
    int active;         /* 1: this request was counted by kiln_metrics_begin */
    uint64_t mem_bytes; /* the guest's linear memory when it ended (0: unknown) */
} kiln_metrics_request;
void kiln_metrics_record(kiln_metrics *m, const kiln_metrics_request *r);
/* A request reached its component's handler (http_server_active_requests + 1); the
 * kiln_metrics_record of its end, with active = 1, takes it back. */
void kiln_metrics_begin(kiln_metrics *m, size_t route);

/* A component's code is ready on a tier ("fast" or "opt"): compile time in seconds (0
 * when it came from the cache) and the tier new requests use. Any thread. */
void kiln_metrics_set_tier(kiln_metrics *m, int comp, const char *tier, double compile_seconds);

/* An outbound HTTP request of component's guest ended (any thread; an unknown component is
 * not counted): to host (the authority asked for; bytes outside [A-Za-z0-9.:_[]-] become
 * '_'), answered with status (100..999), or failed (status 0) with error, a wasi:http
 * error-code name (e.g. "HTTP-request-denied", "DNS-error", "connection-refused"), counted
 * by its class (denied, dns_error, connection_error, timeout, error). duration_ns: from
 * the request's handle to its answer or failure. */
#define KILN_METRICS_MAX_HOSTS 64
void kiln_metrics_outbound(kiln_metrics *m, const char *component, const char *host, int status,
                           const char *error, uint64_t duration_ns);
/* A key-value operation of component's guest on store (a label of its manifest) ended:
 * op one of get, set, delete, exists, get-keys, increment, cas-current, cas-swap,
 * get-many, set-many, delete-many (others count as "other"); ok 1 or 0 (an error). */
#define KILN_METRICS_MAX_STORES 16
void kiln_metrics_kv(kiln_metrics *m, const char *component, const char *store, const char *op,
                     int ok, uint64_t duration_ns);

/* What the dashboard shows, summed over the shards at the call (any thread, after the
 * seal). Durations in seconds; the duration histogram's buckets as in the exposition
 * (not cumulative, [nbounds] is +Inf), bounds in seconds. */
#define KILN_METRICS_DUR_BUCKETS 20
typedef struct kiln_metrics_route_stat {
    const char *route, *component; /* the labels (borrowed from the registry) */
    uint64_t requests, errors;     /* answered; of them 5xx */
    uint64_t dur[KILN_METRICS_DUR_BUCKETS];
} kiln_metrics_route_stat;
typedef struct kiln_metrics_comp_stat {
    const char *name, *tier; /* tier: "fast", "opt" or "" (not known) */
    double compile_s;
    uint64_t starts, traps, timeouts, rejected;
    double start_p50, start_p99;          /* 0 without starts */
    uint64_t mem_hwm, mem_sum, mem_count; /* guest memory: high-water mark, sum and count */
    uint64_t outbound, outbound_errors;   /* outbound HTTP requests; of them failed or 5xx */
    uint64_t kv_ops, kv_errors;           /* key-value operations; of them failed */
} kiln_metrics_comp_stat;
size_t kiln_metrics_nroutes(const kiln_metrics *m);
size_t kiln_metrics_ncomponents(const kiln_metrics *m);
/* 0, or -1 when i is out of range or the registry not sealed. */
int kiln_metrics_get_route(kiln_metrics *m, size_t i, kiln_metrics_route_stat *out);
int kiln_metrics_get_comp(kiln_metrics *m, size_t i, kiln_metrics_comp_stat *out);
/* The duration buckets' upper bounds in seconds (n of them: KILN_METRICS_DUR_BUCKETS - 1). */
const double *kiln_metrics_dur_bounds(size_t *n);
/* The q-quantile (0..1) of a non-cumulative histogram h of n bounds (+Inf at h[n]) with
 * linear interpolation inside its bucket; 0 when h is empty. */
double kiln_metrics_quantile(const uint64_t *h, const double *bounds, size_t n, double q);
/* Live instances and slots, the queue depth, the process's resident bytes (0: unknown). */
typedef struct kiln_metrics_global {
    size_t live, capacity, queued;
    uint64_t rss;
} kiln_metrics_global;
void kiln_metrics_global_stat(kiln_metrics *m, kiln_metrics_global *out);

/* Appends the exposition (text format 0.0.4) to out. 0, or -1 when out of memory.
 * Before the seal, an empty exposition. */
int kiln_metrics_render(kiln_metrics *m, kiln_buf *out);

/* The content type of the exposition. */
#define KILN_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
