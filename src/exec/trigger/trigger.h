/* trigger.h — the triggers beyond HTTP, as Spin runs them: Redis channel messages
 * ([[trigger.redis]]) and cron schedules ([[trigger.cron]], Spin's cron plugin).
 *
 * `kiln up` starts them after the HTTP triggers are built and stops them after the server
 * drained. Each trigger's component is the one the HTTP triggers use (exec/http/serve.h:
 * loaded once by kiln up, with the same grants: environment, files, Spin stores and
 * variables, outbound hosts, memory limit and request timeout), so a component can serve
 * HTTP and Redis at once and its key-value store is shared.
 *
 * Each event runs in a fresh instance of the component on an executor thread (exec/executor.h:
 * the threads of the HTTP guests), holding an instance slot (exec/slots.h: the same
 * --max-instances limit as HTTP). Events that cannot be queued, or wait longer than the queue
 * timeout, are dropped with a log line, as HTTP answers 503.
 *
 *  - Redis (redis.c): one thread per trigger holds a blocking SUBSCRIBE connection to the
 *    trigger's `address` (else [application.trigger.redis] address), and reconnects with
 *    a backoff (0.1 s doubling to 5 s) when the server goes away. Each message on the
 *    channel calls the export fermyon:spin/inbound-redis#handle-message(payload: list<u8>)
 *    -> result<_, error> (unversioned, as Spin's SDKs export it; a versioned export,
 *    @1.0.0 or @2.0.0, is taken too).
 *  - Cron (cron.c, cronexpr.h): one thread sleeps until the next firing of any cron trigger
 *    (UTC, at whole seconds) and calls the export handle-cron-event(metadata { timestamp })
 *    -> result<_, error> of fermyon:spin-cron@2.0.0 with the Unix time of the firing (in
 *    seconds). A firing missed while the process was not scheduled is not replayed.
 *
 * Failures (an error result, a trap, the request timeout) are logged with the trigger, the
 * component and the message (its first bytes) or firing time; the trigger goes on.
 * Stopping (SIGTERM/SIGINT): the subscriptions and the schedule stop first, then the
 * handlers already running finish (within their timeout). */
#ifndef KILN_EXEC_TRIGGER_TRIGGER_H
#define KILN_EXEC_TRIGGER_TRIGGER_H

#include <stddef.h>
#include <stdint.h>

#include "exec/executor.h"
#include "exec/http/serve.h"
#include "exec/slots.h"

/* (manifest/manifest.h; not included here: its kiln_component is not the component model's) */
typedef struct kiln_manifest kiln_manifest;

typedef struct kiln_triggers kiln_triggers;

/* kiln up's component loader: component ci of the manifest, loaded with its grants (any
 * export allowed), or NULL when it cannot be (said on stderr). */
typedef kiln_http_component *(*kiln_trigger_load_fn)(void *ctx, size_t ci);

/* What the metrics see of the triggers (exec/ knows no server/ header: kiln up adapts its
 * registry, cli/up_metrics.c). */
typedef struct kiln_trigger_observer {
    /* A trigger named `name` ("redis:CHANNEL", "cron:EXPR") of component index ci (id): its
     * index for `done`, or 0 (not counted). At start, before the registry is sealed. */
    size_t (*add)(void *ctx, const char *name, size_t ci, const char *id);
    /* One event's end: exec/handler.h's KILN_FAULT_*, the trap kind's name (or NULL), the
     * instance's start time (ns, < 0: none). Any thread. */
    void (*done)(void *ctx, size_t ix, int fault, const char *trap_kind, int64_t start_ns);
    void *ctx;
} kiln_trigger_observer;

typedef struct kiln_triggers_config {
    const kiln_manifest *manifest; /* borrowed until kiln_triggers_stop */
    kiln_trigger_load_fn load;
    void *load_ctx;
    kiln_slots *slots;       /* the instance limit shared with HTTP */
    kiln_executor *executor; /* where handlers run */
    int quiet;               /* no line per handled event */
    /* metrics (kiln up --admin; both NULL: none), called before and after its seal */
    const struct kiln_trigger_observer *observer;
    /* for variables in the settings ("{{ name }}"): kiln up's --runtime-config-file (NULL:
     * none) and --variable NAME=VALUE|NAME=@FILE values (vars.c) */
    const char *runtime_config_file;
    const char *const *variables;
    size_t nvariables;
} kiln_triggers_config;

/* Makes the types-only interfaces of trigger components known to the component host (types.c:
 * fermyon:spin/redis-types, fermyon:spin-cron/cron-types), before any component loads; once
 * per process. 0 or -1. */
int kiln_triggers_register_types(void);

/* Checks and starts every Redis and cron trigger of the manifest (other types are named
 * once on stderr and not served). *out is NULL when there is none. 0, or -1 with the reason
 * on stderr (a component that cannot load or lacks the export, a bad cron expression, a
 * Redis trigger without an address, threads that cannot start). */
int kiln_triggers_start(const kiln_triggers_config *cfg, kiln_triggers **out);

/* Number of triggers started (for the startup log). */
size_t kiln_triggers_count(const kiln_triggers *t);

/* Stops the subscriptions and the schedule, waits for the running handlers, frees. NULL:
 * nothing. */
void kiln_triggers_stop(kiln_triggers *t);

#endif
