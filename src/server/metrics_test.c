/* metrics_test.c — the registry: text format, histogram buckets, labels, sharding. */
#include "server/metrics.h"
#include "util/test.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

/* 1 when the exposition has this exact line. */
static int has_line(const kiln_buf *b, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = b->data; p && (p = strstr(p, line)); p++)
        if ((p == b->data || p[-1] == '\n') && p[n] == '\n') return 1;
    return 0;
}

#define CHECK_LINE(b, line)                                                                        \
    do {                                                                                           \
        if (has_line(b, line)) {                                                                   \
            test_passed++;                                                                         \
        } else {                                                                                   \
            test_failed++;                                                                         \
            fprintf(stderr, "  FAIL %s:%d: no line: %s\n", __FILE__, __LINE__, line);              \
        }                                                                                          \
    } while (0)

static size_t live_now(void *ctx)
{
    return *(size_t *)ctx;
}

typedef struct worker_arg {
    kiln_metrics *m;
    size_t route;
    int n;
} worker_arg;

/* A worker thread: n GET 200s of 2 ms, begun and ended (its own shard). */
static void *worker(void *p)
{
    worker_arg *a = p;
    for (int i = 0; i < a->n; i++) {
        kiln_metrics_begin(a->m, a->route);
        kiln_metrics_request r = {a->route, "GET", 3, 200,  2000000, 0,
                                  100,      50000, 0, NULL, 1,       131072};
        kiln_metrics_record(a->m, &r);
    }
    return NULL;
}

static void fake_pool(size_t *in_use, size_t *free_slots)
{
    *in_use = 5;
    *free_slots = 2;
}

typedef struct io_arg {
    kiln_metrics *m;
    int n;
} io_arg;

/* A thread's outbound requests and key-value operations (its own shard; the host table is
 * shared with the other threads). */
static void *io_worker(void *p)
{
    io_arg *a = p;
    for (int i = 0; i < a->n; i++) {
        kiln_metrics_outbound(a->m, "c", "api.example.com:443", 200, NULL, 3000000);
        kiln_metrics_kv(a->m, "c", "default", "get", 1, 40000);
    }
    return NULL;
}

/* Outbound requests by host and outcome, key-value operations, the host cap, hostile
 * hosts, unknown components, the dashboard's totals. */
static void test_io(void)
{
    kiln_metrics *m = kiln_metrics_new();
    kiln_metrics_add_component(m, "c");
    kiln_metrics_add_component(m, "quiet");
    kiln_metrics_add_route(m, "/", 0, NULL);
    kiln_metrics_seal(m);
    pthread_t th[3];
    io_arg a = {m, 100};
    for (int i = 0; i < 3; i++)
        CHECK_INT(pthread_create(&th[i], NULL, io_worker, &a), 0);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    kiln_metrics_outbound(m, "c", "api.example.com:443", 503, NULL, 1000);
    kiln_metrics_outbound(m, "c", "evil.example", 0, "HTTP-request-denied", 1000);
    kiln_metrics_outbound(m, "c", "nx.example", 0, "DNS-error", 1000);
    kiln_metrics_outbound(m, "c", "down.example", 0, "connection-refused", 1000);
    kiln_metrics_outbound(m, "c", "slow.example", 0, "HTTP-response-timeout", 1000);
    kiln_metrics_outbound(m, "c", "odd.example", 0, "internal-error", 1000);
    kiln_metrics_outbound(m, "c", "a\"b\n{c}", 200, NULL, 1000);
    kiln_metrics_outbound(m, "nobody", "x", 200, NULL, 1000); /* not a component: dropped */
    for (int i = 0; i < KILN_METRICS_MAX_HOSTS + 5; i++) {
        char host[32];
        snprintf(host, sizeof host, "h%d.example", i);
        kiln_metrics_outbound(m, "c", host, 204, NULL, 1000);
    }
    kiln_metrics_kv(m, "c", "default", "set", 0, 1000);
    kiln_metrics_kv(m, "c", "default", "frobnicate", 1, 1000);
    kiln_metrics_kv(m, "c", "cache", "cas-swap", 1, 1000);
    kiln_buf b = KILN_BUF_INIT;
    CHECK_INT(kiln_metrics_render(m, &b), 0);
    CHECK_LINE(&b, "kiln_outbound_requests_total{component=\"c\",host=\"api.example.com:443\","
                   "status_class=\"2xx\"} 300");
    CHECK_LINE(&b, "kiln_outbound_requests_total{component=\"c\",host=\"api.example.com:443\","
                   "status_class=\"5xx\"} 1");
    CHECK_LINE(&b, "kiln_outbound_requests_total{component=\"c\",host=\"evil.example\","
                   "status_class=\"denied\"} 1");
    CHECK_LINE(&b, "kiln_outbound_requests_total{component=\"c\",host=\"nx.example\","
                   "status_class=\"dns_error\"} 1");
    CHECK_LINE(&b, "kiln_outbound_requests_total{component=\"c\",host=\"down.example\","
                   "status_class=\"connection_error\"} 1");
    CHECK_LINE(&b, "kiln_outbound_requests_total{component=\"c\",host=\"slow.example\","
                   "status_class=\"timeout\"} 1");
    CHECK_LINE(&b, "kiln_outbound_requests_total{component=\"c\",host=\"odd.example\","
                   "status_class=\"error\"} 1");
    CHECK_LINE(&b, "kiln_outbound_requests_total{component=\"c\",host=\"a_b__c_\","
                   "status_class=\"2xx\"} 1");
    /* 7 hosts above took slots: 57 of the h* hosts fit, the other 12 are "other" */
    CHECK_LINE(&b, "kiln_outbound_requests_total{component=\"c\",host=\"h56.example\","
                   "status_class=\"2xx\"} 1");
    CHECK(!has_line(&b, "kiln_outbound_requests_total{component=\"c\",host=\"h57.example\","
                        "status_class=\"2xx\"} 1"));
    CHECK_LINE(&b, "kiln_outbound_requests_total{component=\"c\",host=\"other\","
                   "status_class=\"2xx\"} 12");
    CHECK(strstr(b.data, "nobody") == NULL);
    CHECK(strstr(b.data, "component=\"quiet\"") == NULL ||
          strstr(b.data, "kiln_outbound_requests_total{component=\"quiet\"") == NULL);
    CHECK_LINE(&b, "http_client_request_duration_seconds_count{component=\"c\"} 376");
    CHECK_LINE(&b, "http_client_request_duration_seconds_bucket{component=\"c\",le=\"0.0025\"} 76");
    CHECK_LINE(&b, "kiln_key_value_operations_total{component=\"c\",store=\"default\","
                   "operation=\"get\",outcome=\"ok\"} 300");
    CHECK_LINE(&b, "kiln_key_value_operations_total{component=\"c\",store=\"default\","
                   "operation=\"set\",outcome=\"error\"} 1");
    CHECK_LINE(&b, "kiln_key_value_operations_total{component=\"c\",store=\"default\","
                   "operation=\"other\",outcome=\"ok\"} 1");
    CHECK_LINE(&b, "kiln_key_value_operations_total{component=\"c\",store=\"cache\","
                   "operation=\"cas-swap\",outcome=\"ok\"} 1");
    CHECK_LINE(&b, "kiln_key_value_operation_duration_seconds_count{component=\"c\"} 303");
    kiln_metrics_comp_stat cs;
    CHECK_INT(kiln_metrics_get_comp(m, 0, &cs), 0);
    CHECK_INT((int)cs.outbound, 376);
    CHECK_INT((int)cs.outbound_errors, 6); /* the 5xx and the five failures */
    CHECK_INT((int)cs.kv_ops, 303);
    CHECK_INT((int)cs.kv_errors, 1);
    CHECK_INT(kiln_metrics_get_comp(m, 1, &cs), 0);
    CHECK_INT((int)cs.outbound, 0);
    kiln_buf_free(&b);
    kiln_metrics_free(m);
}

int main(void)
{
    test_io();
    kiln_metrics *m = kiln_metrics_new();
    CHECK(m != NULL);
    int hello = kiln_metrics_add_component(m, "hello");
    int weird = kiln_metrics_add_component(m, "we\"ird\\\n");
    CHECK_INT(hello, 0);
    CHECK_INT(weird, 1);
    int r_hello = kiln_metrics_add_route(m, "/hello", hello, NULL);
    int r_api = kiln_metrics_add_route(m, "/api/...", weird, NULL);
    int r_static = kiln_metrics_add_route(m, "/static", -1, "static");
    CHECK_INT(r_hello, 1);
    CHECK_INT(r_api, 2);
    CHECK_INT(r_static, 3);
    CHECK_INT(kiln_metrics_add_trap_kind(m, "unreachable"), 0);
    size_t live = 3, queued = 7;
    kiln_metrics_set_instances(m, 64, live_now, &live);
    kiln_metrics_set_queue(m, live_now, &queued);
    kiln_metrics_set_pool(m, fake_pool);

    /* before the seal: nothing is recorded or shown */
    kiln_buf b = KILN_BUF_INIT;
    kiln_metrics_request early = {1, "GET", 3, 200, 1, 0, 0, -1, 0, NULL, 0, 0};
    kiln_metrics_record(m, &early);
    CHECK_INT(kiln_metrics_render(m, &b), 0);
    CHECK_INT(b.len, 0);
    kiln_metrics_seal(m);
    CHECK_INT(kiln_metrics_add_component(m, "late"), -1);
    kiln_metrics_set_tier(m, hello, "fast", 0.25);

    /* bucket edges: a value equal to a bound is in that bound's bucket (le is <=) */
    kiln_metrics_request rq = {1, "GET", 3, 200, 1000000, 0, 64, 10000, 0, NULL, 0, 0};
    rq.mem_bytes = 3 * 1048576;
    kiln_metrics_record(m, &rq); /* 1 ms, 0 bytes in, 64 out, start 10 us, 3 MiB */
    rq.mem_bytes = 0;            /* unknown: not observed */
    rq.duration_ns = 1000001;    /* just above 1 ms: the 2.5 ms bucket */
    rq.resp_bytes = 65;
    rq.start_ns = -1;
    kiln_metrics_record(m, &rq);
    rq.duration_ns = 20000000000ull; /* 20 s: only +Inf */
    kiln_metrics_record(m, &rq);
    /* methods and status classes */
    kiln_metrics_request other = {1, "BREW", 4, 418, 5, 3, 0, -1, 0, NULL, 0, 0};
    kiln_metrics_record(m, &other);
    kiln_metrics_request get_lower = {1, "get", 3, 999, 5, 0, 0, -1, 0, NULL, 0, 0};
    kiln_metrics_record(m, &get_lower);
    /* no route, out-of-range route */
    kiln_metrics_request none = {0, "GET", 3, 404, 5, 0, 10, -1, 0, NULL, 0, 0};
    kiln_metrics_record(m, &none);
    none.route = 99;
    kiln_metrics_record(m, &none);
    /* faults: a named trap kind, an unknown one, a timeout, both rejections; a request
     * whose client went away (no method): faults counted, no HTTP series */
    kiln_metrics_request f = {2, NULL, 0, 500, 0, 0, 0, 300000, KILN_FAULT_TRAP, "unreachable",
                              0, 0};
    kiln_metrics_record(m, &f);
    f.trap_kind = "memory-oob";
    kiln_metrics_record(m, &f);
    f.trap_kind = NULL;
    kiln_metrics_record(m, &f);
    f.fault = KILN_FAULT_TIMEOUT;
    kiln_metrics_record(m, &f);
    f.fault = KILN_FAULT_QUEUE_FULL;
    kiln_metrics_record(m, &f);
    f.fault = KILN_FAULT_QUEUE_TIMEOUT;
    kiln_metrics_record(m, &f);
    /* a static route: its component label, no per-component counters */
    kiln_metrics_request st = {3, "HEAD", 4, 200, 5, 0, 0, -1, KILN_FAULT_TRAP, "x", 0, 0};
    kiln_metrics_record(m, &st);

    /* sharding: 4 threads x 1000 requests, plus one begun request still active here */
    pthread_t th[4];
    worker_arg wa = {m, 2, 1000};
    for (int i = 0; i < 4; i++)
        CHECK(pthread_create(&th[i], NULL, worker, &wa) == 0);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    kiln_metrics_begin(m, 2);

    CHECK_INT(kiln_metrics_render(m, &b), 0);
    if (getenv("METRICS_TEST_DUMP")) fwrite(b.data, 1, b.len, stdout);
    const char *hl = "component=\"hello\",http_route=\"/hello\",http_request_method=\"GET\","
                     "http_response_status_class=\"2xx\"";
    char line[512];
#define L(...) (snprintf(line, sizeof line, __VA_ARGS__), line)
    CHECK_LINE(&b, "# HELP http_server_request_duration_seconds Duration of HTTP server requests.");
    CHECK_LINE(&b, "# TYPE http_server_request_duration_seconds histogram");
    CHECK_LINE(&b, L("http_server_request_duration_seconds_bucket{%s,le=\"0.0005\"} 0", hl));
    CHECK_LINE(&b, L("http_server_request_duration_seconds_bucket{%s,le=\"0.001\"} 1", hl));
    CHECK_LINE(&b, L("http_server_request_duration_seconds_bucket{%s,le=\"0.0025\"} 2", hl));
    CHECK_LINE(&b, L("http_server_request_duration_seconds_bucket{%s,le=\"10\"} 2", hl));
    CHECK_LINE(&b, L("http_server_request_duration_seconds_bucket{%s,le=\"+Inf\"} 3", hl));
    CHECK_LINE(&b, L("http_server_request_duration_seconds_sum{%s} 20.002000001", hl));
    CHECK_LINE(&b, L("http_server_request_duration_seconds_count{%s} 3", hl));
    CHECK_LINE(&b, L("http_server_request_body_size_bytes_bucket{%s,le=\"0\"} 3", hl));
    CHECK_LINE(&b, L("http_server_response_body_size_bytes_bucket{%s,le=\"64\"} 1", hl));
    CHECK_LINE(&b, L("http_server_response_body_size_bytes_bucket{%s,le=\"256\"} 3", hl));
    CHECK_LINE(&b, L("http_server_response_body_size_bytes_sum{%s} 194", hl));
    CHECK_LINE(&b, "http_server_request_body_size_bytes_sum{component=\"hello\",http_route=\"/"
                   "hello\",http_request_method=\"_OTHER\",http_response_status_class=\"4xx\"} 3");
    CHECK_LINE(&b, "http_server_request_duration_seconds_count{component=\"hello\",http_route=\"/"
                   "hello\",http_request_method=\"_OTHER\",http_response_status_class=\"9xx\"} 1");
    CHECK_LINE(&b, "http_server_request_duration_seconds_count{component=\"\",http_route=\"\","
                   "http_request_method=\"GET\",http_response_status_class=\"4xx\"} 2");
    CHECK_LINE(&b, "http_server_request_duration_seconds_count{component=\"static\",http_route=\"/"
                   "static\",http_request_method=\"HEAD\",http_response_status_class=\"2xx\"} 1");
    /* the workers' shards add up; label values escaped */
    const char *wl = "component=\"we\\\"ird\\\\\\n\",http_route=\"/api/...\","
                     "http_request_method=\"GET\",http_response_status_class=\"2xx\"";
    CHECK_LINE(&b, L("http_server_request_duration_seconds_count{%s} 4000", wl));
    CHECK_LINE(&b, L("http_server_request_duration_seconds_bucket{%s,le=\"0.001\"} 0", wl));
    CHECK_LINE(&b, L("http_server_request_duration_seconds_bucket{%s,le=\"0.0025\"} 4000", wl));
    CHECK_LINE(&b, L("http_server_request_duration_seconds_sum{%s} 8.000000000", wl));
    CHECK_LINE(&b, "http_server_active_requests{component=\"we\\\"ird\\\\\\n\"} 1");
    CHECK_LINE(&b, "http_server_active_requests{component=\"hello\"} 0");
    /* no HTTP series for the request whose client went away (no 5xx on /api) */
    CHECK(strstr(b.data, "http_route=\"/api/...\",http_request_method=\"GET\","
                         "http_response_status_class=\"5xx\"") == NULL);
    /* instance start */
    CHECK_LINE(&b,
               "kiln_instance_start_duration_seconds_bucket{component=\"hello\",le=\"1e-05\"} 1");
    CHECK_LINE(&b, "kiln_instance_start_duration_seconds_count{component=\"hello\"} 1");
    CHECK_LINE(&b, "kiln_instance_start_duration_seconds_bucket{component=\"we\\\"ird\\\\\\n\","
                   "le=\"5e-05\"} 4000");
    CHECK_LINE(&b,
               "kiln_instance_start_duration_seconds_count{component=\"we\\\"ird\\\\\\n\"} 4006");
    /* faults */
    CHECK_LINE(&b, "kiln_traps_total{component=\"we\\\"ird\\\\\\n\",kind=\"unreachable\"} 1");
    CHECK_LINE(&b, "kiln_traps_total{component=\"we\\\"ird\\\\\\n\",kind=\"other\"} 2");
    CHECK_LINE(&b, "kiln_traps_total{component=\"hello\",kind=\"unreachable\"} 0");
    CHECK_LINE(&b, "kiln_request_timeouts_total{component=\"we\\\"ird\\\\\\n\"} 1");
    CHECK_LINE(
        &b, "kiln_queue_rejections_total{component=\"we\\\"ird\\\\\\n\",reason=\"queue_full\"} 1");
    CHECK_LINE(
        &b,
        "kiln_queue_rejections_total{component=\"we\\\"ird\\\\\\n\",reason=\"queue_timeout\"} 1");
    CHECK_LINE(&b, "# TYPE kiln_traps_total counter");
    /* gauges */
    CHECK_LINE(&b, "kiln_compile_duration_seconds{component=\"hello\",tier=\"fast\"} 0.250000");
    CHECK_LINE(&b, "kiln_component_tier{component=\"hello\",tier=\"fast\"} 1");
    CHECK_LINE(&b, "kiln_component_tier{component=\"hello\",tier=\"opt\"} 0");
    CHECK(strstr(b.data, "kiln_component_tier{component=\"we") == NULL);
    CHECK_LINE(&b, "kiln_instances_live 3");
    CHECK_LINE(&b, "kiln_instance_slots 64");
    CHECK_LINE(&b, "kiln_queue_depth 7");
    /* guest memory: a histogram and the largest over the shards */
    CHECK_LINE(&b, "kiln_guest_memory_high_water_bytes{component=\"hello\"} 3145728");
    CHECK_LINE(&b, "kiln_guest_memory_bytes_count{component=\"hello\"} 1");
    CHECK_LINE(&b, "kiln_guest_memory_bytes_bucket{component=\"hello\",le=\"2097152\"} 0");
    CHECK_LINE(&b, "kiln_guest_memory_bytes_bucket{component=\"hello\",le=\"4194304\"} 1");
    CHECK_LINE(&b, "kiln_guest_memory_high_water_bytes{component=\"we\\\"ird\\\\\\n\"} 131072");
    CHECK_LINE(&b, "kiln_guest_memory_bytes_count{component=\"we\\\"ird\\\\\\n\"} 4000");
    CHECK_LINE(&b, "kiln_memory_pool_slots{state=\"in_use\"} 5");
    CHECK_LINE(&b, "kiln_memory_pool_slots{state=\"free\"} 2");
    CHECK(strstr(b.data, "\nprocess_resident_memory_bytes ") != NULL);
    /* the dashboard's view of the same shards */
    kiln_metrics_route_stat rs;
    CHECK_INT(kiln_metrics_get_route(m, (size_t)r_hello, &rs), 0);
    CHECK(strcmp(rs.route, "/hello") == 0 && strcmp(rs.component, "hello") == 0);
    CHECK_INT(rs.requests, 5);
    CHECK_INT(rs.errors, 0);
    CHECK_INT(kiln_metrics_get_route(m, (size_t)r_api, &rs), 0);
    CHECK_INT(rs.requests, 4000);
    CHECK_INT(kiln_metrics_get_route(m, 99, &rs), -1);
    size_t nb;
    const double *bounds = kiln_metrics_dur_bounds(&nb);
    CHECK_INT(nb, KILN_METRICS_DUR_BUCKETS - 1);
    /* every request in the (1 ms, 2.5 ms] bucket: the median halfway through it */
    double p50 = kiln_metrics_quantile(rs.dur, bounds, nb, 0.5);
    CHECK(p50 > 0.00174 && p50 < 0.00176);
    uint64_t empty[KILN_METRICS_DUR_BUCKETS] = {0};
    CHECK(kiln_metrics_quantile(empty, bounds, nb, 0.99) == 0);
    kiln_metrics_comp_stat cs;
    CHECK_INT(kiln_metrics_get_comp(m, (size_t)weird, &cs), 0);
    CHECK_INT(cs.traps, 3);
    CHECK_INT(cs.timeouts, 1);
    CHECK_INT(cs.rejected, 2);
    CHECK_INT(cs.mem_hwm, 131072);
    CHECK_INT(cs.mem_count, 4000);
    CHECK(cs.start_p50 > 25e-6 && cs.start_p50 <= 50e-6);
    CHECK_INT(kiln_metrics_get_comp(m, (size_t)hello, &cs), 0);
    CHECK(strcmp(cs.tier, "fast") == 0);
    kiln_metrics_set_tier(m, hello, "opt", 1.5);
    live = 0;
    b.len = 0;
    CHECK_INT(kiln_metrics_render(m, &b), 0);
    CHECK_LINE(&b, "kiln_component_tier{component=\"hello\",tier=\"opt\"} 1");
    CHECK_LINE(&b, "kiln_compile_duration_seconds{component=\"hello\",tier=\"opt\"} 1.500000");
    CHECK_LINE(&b, "kiln_instances_live 0");
    /* every line is a comment or ends in a number */
    int bad = 0;
    for (char *p = b.data, *nl; p < b.data + b.len; p = nl + 1) {
        nl = memchr(p, '\n', (size_t)(b.data + b.len - p));
        if (!nl) {
            bad++;
            break;
        }
        if (*p != '#' && !(nl[-1] >= '0' && nl[-1] <= '9')) bad++;
    }
    CHECK_INT(bad, 0);
    kiln_buf_free(&b);
    kiln_metrics_free(m);

    /* a second registry in the same threads gets its own shards */
    kiln_metrics *m2 = kiln_metrics_new();
    kiln_metrics_add_component(m2, "c");
    kiln_metrics_add_route(m2, "/", 0, NULL);
    kiln_metrics_seal(m2);
    kiln_metrics_request one = {1, "POST", 4, 201, 1, 0, 0, -1, 0, NULL, 0, 0};
    kiln_metrics_record(m2, &one);
    kiln_buf b2 = KILN_BUF_INIT;
    CHECK_INT(kiln_metrics_render(m2, &b2), 0);
    CHECK_LINE(&b2, "http_server_request_duration_seconds_count{component=\"c\",http_route=\"/\","
                    "http_request_method=\"POST\",http_response_status_class=\"2xx\"} 1");
    kiln_buf_free(&b2);
    kiln_metrics_free(m2);
    return test_finish("metrics");
}
