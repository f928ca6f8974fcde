/* internal.h — what the trigger files share (design: trigger.h). */
#ifndef KILN_EXEC_TRIGGER_INTERNAL_H
#define KILN_EXEC_TRIGGER_INTERNAL_H

#include "exec/trigger/cronexpr.h"
#include "exec/trigger/trigger.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

typedef enum trig_kind { TRIG_REDIS, TRIG_CRON } trig_kind;

/* How a handler's error case reads: an enum or anything else (named "error"), a string, or a
 * variant whose cases all carry a string (the cron plugin's error { other(string) }). */
enum { TRIG_ERR_OTHER, TRIG_ERR_STRING, TRIG_ERR_VARIANT_STRING };

/* One trigger of the manifest and what it calls. */
typedef struct trig_target {
    trig_kind kind;
    kiln_triggers *owner;
    const char *id;         /* the trigger's id (borrowed from the manifest) */
    kiln_http_component *c; /* borrowed from kiln up */
    char *func;             /* the export to call ("IFACE#handle-message" / "handle-cron-event") */
    int err_shape;          /* TRIG_ERR_* */
    size_t metrics_ix;      /* the trigger's index for the observer (0: none) */
    /* redis */
    char *address, *channel;
    pthread_t thread;
    int started;
    /* cron */
    kiln_cron cron;
    char *expr;
    int64_t next; /* next firing (UTC seconds) */
} trig_target;

struct kiln_triggers {
    kiln_slots *slots;
    kiln_executor *executor;
    const kiln_trigger_observer *observer; /* NULL: none */
    int quiet;
    trig_target *targets;
    size_t ntargets;
    atomic_int stopping;
    pthread_mutex_t mu;
    pthread_cond_t cond; /* signalled when inflight drops, and to wake the cron thread */
    size_t inflight;     /* events queued or running */
    pthread_t cron_thread;
    int cron_started;
};

/* Queues one event of target t on the executor: a Redis message (payload, len bytes, copied)
 * or a cron firing (timestamp). Logged and dropped when the queue refuses it. 0 or -1. */
int trig_dispatch(kiln_triggers *T, trig_target *t, const void *payload, size_t len,
                  uint64_t timestamp);

/* The export component c runs for kind, as a kiln_component_find_func name (kiln_malloc'd),
 * with *err_shape (TRIG_ERR_*); NULL when it has none of the handler's type. */
char *trig_find_export(kiln_http_component *c, trig_kind kind, int *err_shape);

/* Renders the application variables ("{{ name }}") in the n settings *values[i] (owned,
 * replaced), resolved as kiln up resolves them for components (vars.c). 0, or -1 with the
 * reason on stderr. */
int trig_render_settings(const kiln_triggers_config *cfg, char **values[], size_t n);

/* Blocks SIGINT/SIGTERM in the calling thread (they are for kiln up's main thread). */
void trig_block_signals(void);

/* Redis (redis.c): the subscriber thread of t. */
void *trig_redis_main(void *arg);
/* Whether url is an address the Redis trigger can use ("redis://[user][:pass@]host[:port]"). */
int trig_redis_address_ok(const char *url);
/* Cron (cron.c): the schedule thread of every cron target of T. */
void *trig_cron_main(void *arg);

#endif
