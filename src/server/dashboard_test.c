/* dashboard_test.c — /stats.json: totals, the window's rate, the per-second series, the
 * bench file (embedded only when it is a JSON object), and the page itself. */
#include "server/dashboard.h"
#include "util/file.h"
#include "util/json.h"
#include "util/test.h"

#include <stdlib.h>
#include <unistd.h>

/* n GETs of route r, status st, 2 ms each, on this thread's shard. */
static void requests(kiln_metrics *m, size_t r, int n, int st)
{
    for (int i = 0; i < n; i++) {
        kiln_metrics_request q = {.route = r,
                                  .method = "GET",
                                  .method_len = 3,
                                  .status = st,
                                  .duration_ns = 2000000,
                                  .start_ns = 20000,
                                  .active = 0,
                                  .mem_bytes = 65536 * 2};
        kiln_metrics_record(m, &q);
    }
}

/* The JSON of d at now_s, parsed (NULL when invalid). */
static kiln_json *stats(kiln_dashboard *d, double now_s)
{
    kiln_buf b = KILN_BUF_INIT;
    kiln_json *j = NULL;
    char err[128];
    if (kiln_dashboard_json(d, now_s, &b) == 0) {
        j = kiln_json_parse(b.data, b.len, err, sizeof err);
        if (!j) fprintf(stderr, "  invalid JSON (%s): %.*s\n", err, (int)b.len, b.data);
    }
    kiln_buf_free(&b);
    return j;
}

static double num(const kiln_json *o, const char *k)
{
    const kiln_json *v = kiln_json_get(o, k);
    return v && v->type == KILN_JSON_NUMBER ? v->number : -1;
}

int main(void)
{
    char dir[] = "/tmp/kiln-dash-test.XXXXXX", path[64];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/bench.json", dir);
    kiln_metrics *m = kiln_metrics_new();
    int c = kiln_metrics_add_component(m, "he\"llo");
    int r = kiln_metrics_add_route(m, "/hello", c, NULL);
    kiln_metrics_seal(m);
    kiln_dashboard *d = kiln_dashboard_new(m, path);
    CHECK(d != NULL);

    requests(m, (size_t)r, 10, 200);
    kiln_dashboard_tick(d, 100.0);   /* the first sample */
    kiln_dashboard_tick(d, 100.5);   /* under a second later: no sample */
    requests(m, (size_t)r, 30, 200); /* 30 more, 2 of them 5xx below */
    requests(m, (size_t)r, 2, 503);
    kiln_json *j = stats(d, 102.0); /* a sample at 102 */
    CHECK(j != NULL);
    const kiln_json *routes = kiln_json_get(j, "routes"), *rt = kiln_json_at(routes, 0);
    CHECK_INT(routes ? routes->count : 0, 1); /* the no-route row only with traffic */
    CHECK_STR(kiln_json_get_str(rt, "route"), "/hello");
    CHECK_STR(kiln_json_get_str(rt, "component"), "he\"llo");
    CHECK(num(rt, "requests") == 42);
    CHECK(num(rt, "errors") == 2);
    /* 32 requests between the sample at 100 and now (102): 16/s */
    CHECK(num(rt, "rate") > 15.9 && num(rt, "rate") < 16.1);
    /* every request took 2 ms: in the (1 ms, 2.5 ms] bucket */
    CHECK(num(rt, "p50") > 0.001 && num(rt, "p50") <= 0.0025);
    const kiln_json *series = kiln_json_get(rt, "rate_series");
    CHECK_INT(series ? series->count : 0, 1);
    CHECK(series && series->count && kiln_json_at(series, 0)->number > 15.9);
    const kiln_json *comp = kiln_json_at(kiln_json_get(j, "components"), 0);
    CHECK(num(comp, "starts") == 42);
    CHECK(num(comp, "mem_hwm") == 131072);
    CHECK(num(comp, "mem_mean") == 131072);
    CHECK(num(comp, "start_p50") > 1e-5 && num(comp, "start_p50") <= 2.5e-5);
    CHECK(kiln_json_get(j, "bench") && kiln_json_get(j, "bench")->type == KILN_JSON_NULL);
    kiln_json_free(j);

    /* the bench file: not JSON -> null; an object -> embedded */
    CHECK_INT(kiln_write_file(path, "{not json", 9), 0);
    j = stats(d, 103.0);
    CHECK(j && kiln_json_get(j, "bench")->type == KILN_JSON_NULL);
    kiln_json_free(j);
    const char *run = "{\"rows\":[{\"name\":\"Kiln\"}]}\n";
    CHECK_INT(kiln_write_file(path, run, strlen(run)), 0);
    j = stats(d, 104.0);
    const kiln_json *bench = j ? kiln_json_get(j, "bench") : NULL;
    CHECK_STR(kiln_json_get_str(kiln_json_at(kiln_json_get(bench, "rows"), 0), "name"), "Kiln");
    kiln_json_free(j);

    /* the page: self-contained, polls stats.json */
    size_t len;
    const char *page = kiln_dashboard_page(&len);
    CHECK(len > 1000 && strlen(page) == len);
    CHECK(strstr(page, "fetch(\"stats.json\"") != NULL);
    CHECK(strstr(page, "http://") == NULL && strstr(page, "https://") == NULL);

    kiln_dashboard_free(d);
    kiln_metrics_free(m);
    unlink(path);
    rmdir(dir);
    return test_finish("dashboard");
}
