/* serve.h — wasi:http components (the wasi:http/proxy world) behind the handler interface
 * (exec/handler.h), the way Spin and `wasmtime serve` run them: a fresh instance per
 * request, whose export wasi:http/incoming-handler@0.2.x `handle` gets the request.
 *
 * Per request, on the I/O thread: the request's parts are copied into its arena (with
 * Spin's spin-* headers added, host/wasihttp/ keeps hop-by-hop headers out) and its body
 * read from the body source (h2o 2.2.5 has it whole already). Then, when an instance slot
 * is free (slots.h; none free: the request waits on its fiber, at most --max-queue of them
 * per trigger and at most --queue-timeout, then 503 with Retry-After, as WAGI's), the guest
 * runs on a fiber of the I/O thread: instantiate (a copy of the component's image), bind the
 * wasi:http context to the request and to the response, call handle with the request timeout and
 * the memory limit. A guest that waits (a WASI sleep, a poll) parks its fiber and the loop serves
 * others meanwhile.
 *
 * A wasi:http response streams (response-outparam.set starts it, outgoing-body writes go
 * to the client as they are made, finish ends it), so a guest cannot be re-run elsewhere
 * as WAGI's are. Instead a guest that computes past the inline budget in one running
 * slice is preempted and its fiber moves to an executor thread, where it goes on without
 * a budget (serve.c, "moving"); its response ops still run on the loop. The request
 * timeout bounds it everywhere (504 when nothing was sent yet). The guest yields its loop
 * every 256 KiB written so that a large body is sent while it is made.
 *
 * Failures: the outparam never set, set with an error-code, or a trap: 500 and a log line
 * naming the component. When the response had already started (headers sent), a trap, a
 * timeout, a body never finished or shorter than its Content-Length abort it
 * (handler.h): the client sees a broken response, never a normal end.
 *
 * Tier-up: the component starts on the tier it could load at once; kiln up's tier-up
 * thread switches new requests to the optimized tier when it is built
 * (kiln_http_component_tier_up). */
#ifndef KILN_EXEC_HTTP_SERVE_H
#define KILN_EXEC_HTTP_SERVE_H

#include <stdatomic.h>
#include <stdint.h>

#include "engine/engine.h"
#include "exec/executor.h"
#include "exec/handler.h"
#include "host/wasi.h"
#include "exec/slots.h"

/* (component/instance.h; not included here: its kiln_component is not the manifest's) */
typedef struct kiln_loaded_component kiln_loaded_component;
typedef struct kiln_component_image kiln_component_image;

/* What a component runs: its compiled core modules at one tier, and the image made from
 * them. A component starts on the tier it could load at once and may switch to the
 * optimized one (tier-up); codes are kept until the component is freed, so a request
 * keeps the code it started with, without locking, while new requests take the new one. */
typedef struct kiln_http_code {
    kiln_loaded_component *lc;   /* owned */
    kiln_component_image *image; /* owned; NULL: each request instantiates from lc */
    struct kiln_http_code *next; /* the code current before this one */
} kiln_http_code;

/* A loaded wasi:http component and what each of its instances is granted. */
typedef struct kiln_http_component {
    char *id;
    kiln_http_code *_Atomic current; /* what new requests run (never NULL once loaded) */
    char *path;                      /* the component file (for tier-up) */
    kiln_compile_opts opts;          /* how it was loaded (cache_dir borrowed) */
    size_t pool;                     /* instance slots made ahead per image */
    int images;                      /* 1 once prepare made an image: tier-up makes one too */
    char **env;                      /* "KEY=VALUE" (owned), nenv of them */
    size_t nenv;
    kiln_wasi_preopen *preopens; /* read-only directories (paths owned) */
    size_t npreopens;
    uint64_t timeout_ns;       /* per request (0: none) */
    uint32_t max_memory_pages; /* 0: the module's own maximum */
    int any_export;            /* loaded for another trigger: need not be a wasi:http handler */
    int p3;                    /* exports wasi:http/handler@0.3 (serve_p3.c) */
    /* p3 instance reuse (reuse_p3.h): requests per instance (0, 1: a fresh one each),
     * requests at once on one (share_p3.h), the idle instances */
    size_t reuse_max, reuse_concurrent;
    uint64_t reuse_idle_ns; /* an idle instance older than this is freed (0: kept) */
    struct kiln_p3_reuse *_Atomic reuse;
    /* Where the guest's wasi:cli stdout and stderr go: kiln's stderr (2), or with
     * --log-dir the component's files (exec/guest_log.h; set before prepare). */
    int stdout_fd, stderr_fd;
    struct kiln_compose_spec *deps; /* its component dependencies (owned), or NULL */
    /* allowed_outbound_hosts, templates resolved (borrowed: kiln up's Spin application) */
    const char *const *outbound;
    size_t noutbound;
} kiln_http_component;

/* Loads a component file (compiled or from the cache) and checks that it exports
 * wasi:http/incoming-handler@0.2.x handle. NULL with *err (kiln_free'd by the caller). */
kiln_http_component *kiln_http_component_load(const char *id, const char *path,
                                              const kiln_compile_opts *opts, char **err);
/* The same for any component (any_export: it need not export wasi:http; the other triggers,
 * exec/trigger/, run their own export with the same grants). */
kiln_http_component *kiln_http_component_load_any(const char *id, const char *path,
                                                  const kiln_compile_opts *opts, int any_export,
                                                  char **err);
/* A fresh instance of the component's current code, with its grants (environment, files,
 * the Spin stores of its id) and its memory limit. NULL with *err. */
typedef struct kiln_component_instance kiln_component_instance;
kiln_component_instance *kiln_http_component_instantiate(kiln_http_component *c, kiln_err *err);
/* Adds "KEY=VALUE" to the component's environment (replacing KEY). 0 or -1. */
int kiln_http_component_putenv(kiln_http_component *c, const char *kv);
/* kiln_http_component_load_any of a component with dependencies (component/compose.h;
 * deps copied, NULL: none). */
kiln_http_component *kiln_http_component_load_deps(const char *id, const char *path,
                                                   const struct kiln_compose_spec *deps,
                                                   const kiln_compile_opts *opts, int any_export,
                                                   char **err);

/* wasi:http 0.3 (serve_p3.c). A component exporting wasi:http/handler@0.3.0 (or the rc
 * Spin 4 targets) is served by kiln_http_p3_serve instead (job_run calls it holding the
 * instance slot, on the request's fiber): a fresh instance per request (no image: images
 * of async components are refused), handle called with the async ABI, its response's
 * status and headers sent when the task returns and its body stream written to res as
 * the guest writes it (the instance is driven on until the body ends). A request body
 * streamed from the connection (body, or NULL: it is in req) is fed to the guest as it
 * arrives and as the guest reads it. An error-code, a trap or no response: 500; a
 * timeout: 504. */
#define KILN_P3_HANDLER_RC "wasi:http/handler@0.3.0-rc-2026-03-15"
#define KILN_P3_HANDLER "wasi:http/handler@0.3.0"
struct kiln_wasihttp_request;
void kiln_http_p3_serve(kiln_http_component *c, const struct kiln_wasihttp_request *req,
                        kiln_body_source *body, kiln_response *res);

/* Grants the host directory host_path, read-only, as guest_path. 0 or -1. */
int kiln_http_component_preopen(kiln_http_component *c, const char *host_path,
                                const char *guest_path);
void kiln_http_component_free(kiln_http_component *c);

/* Makes the component's image (component/instance.h: each request's instance is a copy of
 * it) with `pool` instance memories made ahead, once its environment and files are
 * granted. 0, or -1 with *err (the component then instantiates per request; so do
 * components granted files, see serve.c). */
int kiln_http_component_prepare(kiln_http_component *c, size_t pool, char **err);

/* One line for the startup log: core module count, tier, cache or compile time. */
void kiln_http_component_describe(const kiln_http_component *c, char *out, size_t cap);

/* The tier new requests run on (of the current code's first core module). */
kiln_tier kiln_http_component_tier(const kiln_http_component *c);

/* Tier-up: loads the component's optimized tier (cc -O2 in child processes at lower
 * priority, or the cache), makes its image (with the pool of instance slots) when the
 * component runs from one, then switches new requests to it; requests in flight finish on
 * the code they started with. Blocking: for a background thread (never concurrently for
 * one component). 1 if it switched, 0 if already optimized, -1 with *err (kiln_free'd by
 * the caller) when it failed and the component stays where it is. */
int kiln_http_component_tier_up(kiln_http_component *c, char **err);

typedef struct kiln_http_handler {
    kiln_handler base; /* first */
    kiln_http_component *component;
    kiln_slots *slots;
    size_t max_waiting;        /* requests that may wait for a slot at once (--max-queue) */
    unsigned queue_timeout_ms; /* the longest wait for a slot (0: none) */
    atomic_size_t waiting;
    kiln_executor *executor; /* where a guest past its budget goes on (NULL: stays) */
    uint64_t budget_ns;      /* running-slice budget on the loop (0: none) */
} kiln_http_handler;

/* Fills h (borrowing c, slots and executor). A guest that computes longer than
 * inline_budget_ms (0: no limit) in one running slice moves to an executor thread. */
void kiln_http_handler_init(kiln_http_handler *h, kiln_http_component *c, kiln_slots *slots,
                            size_t max_waiting, unsigned queue_timeout_ms, kiln_executor *executor,
                            unsigned inline_budget_ms);

#endif
