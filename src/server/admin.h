/* admin.h — the admin listener of `kiln up --admin ADDR`: /metrics (server/metrics.h),
 * /healthz and /readyz, served by one h2o event loop on its own thread and socket —
 * never on the application's listener, and the application's routes never here.
 *
 *   /healthz  200 while the process runs (the loop answers).
 *   /readyz   200 once the application is loaded and its listeners are up, until a stop
 *             is asked for; 503 before and after (during the drain).
 *   /metrics  the Prometheus exposition, text format 0.0.4.
 *   /         the live dashboard (server/dashboard.h), and /stats.json, what it plots.
 *   anything else 404; methods other than GET and HEAD 405.
 *
 * The address must be a loopback one (127.0.0.0/8, ::1) unless allow_public is set
 * (`--admin-public`): metrics tell an outsider the routes, the load and the failures. */
#ifndef KILN_SERVER_ADMIN_H
#define KILN_SERVER_ADMIN_H

#include <stddef.h>

#include "server/metrics.h"

typedef struct kiln_admin kiln_admin;

/* Binds addr ("HOST:PORT"; port 0 picks one) and starts serving (not ready yet). The
 * URL it serves goes to url (cap bytes). NULL on failure, the reason on stderr. metrics
 * (borrowed, may be NULL: an empty exposition) must outlive the admin. bench_path: the
 * last `kiln bench` JSON the dashboard shows (NULL: none). Call it with SIGINT and
 * SIGTERM blocked (its thread inherits the mask). */
kiln_admin *kiln_admin_start(const char *addr, int allow_public, kiln_metrics *metrics,
                             const char *bench_path, char *url, size_t cap);
/* Readiness for /readyz (any thread). */
void kiln_admin_set_ready(kiln_admin *a, int ready);
/* Stops the loop (open connections get up to a second to finish) and frees a. NULL: no-op. */
void kiln_admin_stop(kiln_admin *a);

#endif
