/* up_metrics.h — `kiln up --admin`: the metrics registry of an application (its
 * components, routes, trap kinds, instance slots and tiers) and the admin listener's
 * start, kept out of up.c. */
#ifndef KILN_CLI_UP_METRICS_H
#define KILN_CLI_UP_METRICS_H

#include <stddef.h>

#include "exec/executor.h"
#include "exec/http/serve.h"
#include "exec/slots.h"
#include "exec/trigger/trigger.h"
#include "exec/wagi/wagi.h"
#include "server/admin.h"
#include "server/metrics.h"

/* A registry with the engine's trap kinds (the caller adds the components, in the
 * manifest's order), then the admin listener on addr. 0 with *metrics and *admin set, or
 * -1 (said on stderr; nothing left to free). */
int kiln_up_admin_start(const char *addr, int allow_public, const char *bench_path,
                        kiln_metrics **metrics, kiln_admin **admin);
/* Where `kiln bench` keeps its last run's JSON and the dashboard reads it: bench.json in
 * the state directory (state_dir, else .kiln beside the manifest in manifest_dir; a
 * relative state_dir is taken from the working directory). Allocated; NULL when state_dir
 * is "" (state in memory) or out of memory. */
char *kiln_up_bench_path(const char *manifest_dir, const char *state_dir);
/* Once every route is added: the instance slots, the executor's queue depth, the seal,
 * and the tier and compile time of each of the ncomp components (loaded[i] or http[i],
 * either may be NULL). */
void kiln_up_metrics_seal(kiln_metrics *mt, size_t ncomp, kiln_wagi_component **loaded,
                          kiln_http_component **http, kiln_slots *slots, size_t capacity,
                          kiln_executor *executor);
/* The seal also makes the wasi:http host count outbound requests and the Spin host count
 * key-value operations into mt; this stops them (before mt is freed, no guest running). */
void kiln_up_metrics_detach(void);

/* The triggers' view of mt (exec/trigger/trigger.h): each trigger is a route of its
 * component, whose events count as requests without an HTTP method (traps, timeouts, drops,
 * instance start). NULL when mt is. */
const kiln_trigger_observer *kiln_up_metrics_triggers(kiln_metrics *mt);

#endif
