/* dashboard.h — the admin listener's live dashboard: the page at / and the JSON it polls
 * at /stats.json, both computed from the metrics registry's per-worker shards
 * (server/metrics.h), nothing recorded twice.
 *
 * The admin thread calls kiln_dashboard_tick about once a second: it keeps the last
 * KILN_DASHBOARD_HISTORY one-second samples of every route's counters and duration
 * histogram in a ring, so that the JSON carries rates and latency quantiles over a recent
 * window (the last 10 s) and per-second series to plot, without the page having to poll
 * for a while first. Instance start quantiles, traps, memory and tier are cumulative per
 * component. The page (dashboard_page.c) is plain HTML and JavaScript drawing on canvases,
 * served from the binary: no CDN, no external script.
 *
 * With a bench file (`kiln bench` writes its last run's JSON under the state directory),
 * the JSON embeds it as "bench" and the page shows its comparison table.
 *
 * One thread: tick and json are called from the admin thread only. */
#ifndef KILN_SERVER_DASHBOARD_H
#define KILN_SERVER_DASHBOARD_H

#include <stddef.h>

#include "server/metrics.h"
#include "util/buf.h"

#define KILN_DASHBOARD_HISTORY 61 /* samples, one a second: 60 s of per-second series */
#define KILN_DASHBOARD_WINDOW 10  /* seconds of the rates and latency quantiles */

typedef struct kiln_dashboard kiln_dashboard;

/* A dashboard over m (borrowed; may be NULL: empty stats). bench_path: a file holding the
 * last `kiln bench` JSON (copied; NULL: none). NULL when out of memory. */
kiln_dashboard *kiln_dashboard_new(kiln_metrics *m, const char *bench_path);
void kiln_dashboard_free(kiln_dashboard *d);
/* Takes a sample when at least a second passed since the last (now_s: a monotonic clock
 * in seconds). Does nothing before the registry is sealed. */
void kiln_dashboard_tick(kiln_dashboard *d, double now_s);
/* Appends /stats.json. 0, or -1 when out of memory. */
int kiln_dashboard_json(kiln_dashboard *d, double now_s, kiln_buf *out);

/* The page (HTML, UTF-8) and its length. */
const char *kiln_dashboard_page(size_t *len);

#endif
