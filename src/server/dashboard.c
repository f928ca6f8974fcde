/* dashboard.c — /stats.json from the metrics registry and a ring of samples (see
 * dashboard.h). */
#include "server/dashboard.h"
#include "util/alloc.h"

#include <math.h>
#include <string.h>

#include "util/file.h"
#include "util/json.h"

/* One route's counters at one sample. */
typedef struct route_sample {
    uint64_t requests, errors;
    uint64_t dur[KILN_METRICS_DUR_BUCKETS];
} route_sample;

struct kiln_dashboard {
    kiln_metrics *m;
    char *bench_path;
    size_t nroutes;     /* routes per sample (fixed at the first sample) */
    route_sample *ring; /* KILN_DASHBOARD_HISTORY * nroutes */
    double at[KILN_DASHBOARD_HISTORY];
    size_t head, count; /* the newest sample's slot; samples held */
    double last_tick;
};

kiln_dashboard *kiln_dashboard_new(kiln_metrics *m, const char *bench_path)
{
    kiln_dashboard *d = kiln_calloc(1, sizeof *d);
    if (!d) return NULL;
    d->m = m;
    if (bench_path && !(d->bench_path = kiln_strdup(bench_path))) {
        kiln_free(d);
        return NULL;
    }
    d->last_tick = -1e9;
    return d;
}

void kiln_dashboard_free(kiln_dashboard *d)
{
    if (!d) return;
    kiln_free(d->ring);
    kiln_free(d->bench_path);
    kiln_free(d);
}

void kiln_dashboard_tick(kiln_dashboard *d, double now_s)
{
    if (!d->m || now_s - d->last_tick < 1.0) return;
    kiln_metrics_route_stat st;
    if (kiln_metrics_get_route(d->m, 0, &st) < 0) return; /* not sealed yet */
    if (!d->ring) {
        d->nroutes = kiln_metrics_nroutes(d->m);
        d->ring = kiln_calloc(KILN_DASHBOARD_HISTORY * d->nroutes, sizeof *d->ring);
        if (!d->ring) return;
    }
    d->last_tick = now_s;
    d->head = d->count ? (d->head + 1) % KILN_DASHBOARD_HISTORY : 0;
    if (d->count < KILN_DASHBOARD_HISTORY) d->count++;
    d->at[d->head] = now_s;
    route_sample *row = &d->ring[d->head * d->nroutes];
    for (size_t r = 0; r < d->nroutes; r++) {
        if (kiln_metrics_get_route(d->m, r, &st) < 0) continue;
        row[r].requests = st.requests;
        row[r].errors = st.errors;
        memcpy(row[r].dur, st.dur, sizeof st.dur);
    }
}

/* The sample `back` seconds-ish before the newest (its slot), the oldest one held when
 * fewer exist. */
static size_t sample_back(const kiln_dashboard *d, size_t back)
{
    if (back >= d->count) back = d->count - 1;
    return (d->head + KILN_DASHBOARD_HISTORY - back) % KILN_DASHBOARD_HISTORY;
}

/* A finite number for JSON (NaN and infinities are not JSON). */
static double fin(double v)
{
    return isfinite(v) ? v : 0;
}

/* One route: totals, the window's rate and quantiles (from the sample about a window
 * ago to the counters now), and its per-second series. */
static int route_json(kiln_dashboard *d, size_t r, const kiln_metrics_route_stat *st, double now_s,
                      kiln_buf *b)
{
    size_t nb;
    const double *bounds = kiln_metrics_dur_bounds(&nb);
    double rate = 0, p50 = 0, p99 = 0;
    int rc = kiln_buf_puts(b, "{\"route\":") | kiln_json_write_str(b, st->route);
    rc |= kiln_buf_puts(b, ",\"component\":") | kiln_json_write_str(b, st->component);
    if (d->count >= 1) {
        size_t old = sample_back(d, KILN_DASHBOARD_WINDOW - 1);
        const route_sample *then = &d->ring[old * d->nroutes + r];
        double dt = now_s - d->at[old];
        uint64_t h[KILN_METRICS_DUR_BUCKETS];
        for (size_t k = 0; k <= nb; k++)
            h[k] = st->dur[k] - then->dur[k];
        rate = dt > 0.5 ? (double)(st->requests - then->requests) / dt : 0;
        p50 = kiln_metrics_quantile(h, bounds, nb, 0.5);
        p99 = kiln_metrics_quantile(h, bounds, nb, 0.99);
    } else {
        p50 = kiln_metrics_quantile(st->dur, bounds, nb, 0.5);
        p99 = kiln_metrics_quantile(st->dur, bounds, nb, 0.99);
    }
    rc |= kiln_buf_printf(b,
                          ",\"requests\":%llu,\"errors\":%llu,\"rate\":%.3f,\"p50\":%.6f,"
                          "\"p99\":%.6f,\"rate_series\":[",
                          (unsigned long long)st->requests, (unsigned long long)st->errors,
                          fin(rate), fin(p50), fin(p99));
    /* per-second series, oldest first: requests/s and p99 (ms) between samples */
    kiln_buf p99s = KILN_BUF_INIT;
    for (size_t back = d->count ? d->count - 1 : 0; back >= 1 && rc == 0; back--) {
        size_t a = sample_back(d, back), c = sample_back(d, back - 1);
        const route_sample *x = &d->ring[a * d->nroutes + r], *y = &d->ring[c * d->nroutes + r];
        double dt = d->at[c] - d->at[a];
        uint64_t h[KILN_METRICS_DUR_BUCKETS];
        for (size_t k = 0; k <= nb; k++)
            h[k] = y->dur[k] - x->dur[k];
        const char *sep = back + 1 == d->count ? "" : ",";
        rc |= kiln_buf_printf(b, "%s%.3f", sep,
                              fin(dt > 0 ? (double)(y->requests - x->requests) / dt : 0));
        rc |= kiln_buf_printf(&p99s, "%s%.3f", sep,
                              fin(kiln_metrics_quantile(h, bounds, nb, 0.99) * 1e3));
    }
    rc |= kiln_buf_puts(b, "],\"p99_ms_series\":[");
    if (p99s.len) rc |= kiln_buf_append(b, p99s.data, p99s.len);
    kiln_buf_free(&p99s);
    return rc | kiln_buf_puts(b, "]}");
}

static int comp_json(const kiln_metrics_comp_stat *c, kiln_buf *b)
{
    int rc = kiln_buf_puts(b, "{\"name\":") | kiln_json_write_str(b, c->name);
    rc |= kiln_buf_puts(b, ",\"tier\":") | kiln_json_write_str(b, c->tier);
    return rc | kiln_buf_printf(b,
                                ",\"compile_s\":%.6f,\"starts\":%llu,\"start_p50\":%.9f,"
                                "\"start_p99\":%.9f,\"traps\":%llu,\"timeouts\":%llu,"
                                "\"rejected\":%llu,\"mem_hwm\":%llu,\"mem_mean\":%llu,"
                                "\"outbound\":%llu,\"outbound_errors\":%llu,\"kv_ops\":%llu,"
                                "\"kv_errors\":%llu}",
                                fin(c->compile_s), (unsigned long long)c->starts, fin(c->start_p50),
                                fin(c->start_p99), (unsigned long long)c->traps,
                                (unsigned long long)c->timeouts, (unsigned long long)c->rejected,
                                (unsigned long long)c->mem_hwm,
                                (unsigned long long)(c->mem_count ? c->mem_sum / c->mem_count : 0),
                                (unsigned long long)c->outbound,
                                (unsigned long long)c->outbound_errors,
                                (unsigned long long)c->kv_ops, (unsigned long long)c->kv_errors);
}

/* The last bench run's JSON when the file holds a JSON object (of at most 1 MiB), else
 * null: whatever is in the file, the answer stays valid JSON. */
static int bench_json(const kiln_dashboard *d, kiln_buf *b)
{
    kiln_buf f = KILN_BUF_INIT;
    kiln_json *j = NULL;
    int rc;
    if (d->bench_path && kiln_read_file(d->bench_path, &f) == 0 && f.len <= (1u << 20))
        j = kiln_json_parse(f.data ? f.data : "", f.len, NULL, 0);
    if (j && j->type == KILN_JSON_OBJECT)
        rc = kiln_buf_append(b, f.data, f.len);
    else
        rc = kiln_buf_puts(b, "null");
    kiln_json_free(j);
    kiln_buf_free(&f);
    return rc;
}

int kiln_dashboard_json(kiln_dashboard *d, double now_s, kiln_buf *out)
{
    kiln_dashboard_tick(d, now_s);
    kiln_metrics_global g = {0};
    if (d->m) kiln_metrics_global_stat(d->m, &g);
    int rc = kiln_buf_printf(out,
                             "{\"live\":%zu,\"slots\":%zu,\"queued\":%zu,\"rss\":%llu,"
                             "\"window_s\":%d,\"routes\":[",
                             g.live, g.capacity, g.queued, (unsigned long long)g.rss,
                             KILN_DASHBOARD_WINDOW);
    kiln_metrics_route_stat st;
    int first = 1;
    size_t nr = d->m && d->ring ? d->nroutes : 0;
    for (size_t r = 0; r < nr && rc == 0; r++) {
        if (kiln_metrics_get_route(d->m, r, &st) < 0 || (r == 0 && st.requests == 0)) continue;
        if (r == 0) st.route = "(no route)";
        rc |= kiln_buf_puts(out, first ? "" : ",") | route_json(d, r, &st, now_s, out);
        first = 0;
    }
    rc |= kiln_buf_puts(out, "],\"components\":[");
    size_t nc = d->m ? kiln_metrics_ncomponents(d->m) : 0;
    kiln_metrics_comp_stat cs;
    for (size_t c = 0; c < nc && rc == 0; c++)
        if (kiln_metrics_get_comp(d->m, c, &cs) == 0)
            rc |= kiln_buf_puts(out, c ? "," : "") | comp_json(&cs, out);
    rc |= kiln_buf_puts(out, "],\"bench\":") | bench_json(d, out);
    return rc | kiln_buf_puts(out, "}\n") ? -1 : 0;
}
