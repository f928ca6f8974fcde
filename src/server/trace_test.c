/* trace_test.c — the traceparent parser, the trace context, the OTLP encoders (JSON and
 * protobuf) and the bounded queue's drop counting. */
#include "server/trace.h"
#include "util/test.h"

#include <stdlib.h>

static const char *TP = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

static int parses(const char *s)
{
    uint8_t t[16], sp[8], fl = 0xee;
    return kiln_trace_parse_traceparent(s, strlen(s), t, sp, &fl);
}

static void test_parse(void)
{
    uint8_t t[16], sp[8], fl = 0;
    CHECK_INT(kiln_trace_parse_traceparent(TP, strlen(TP), t, sp, &fl), 0);
    CHECK_INT(t[0], 0x0a);
    CHECK_INT(t[15], 0x9c);
    CHECK_INT(sp[0], 0xb7);
    CHECK_INT(sp[7], 0x31);
    CHECK_INT(fl, 1);
    /* malformed: each is ignored (-1), none crashes */
    CHECK_INT(parses(""), -1);
    CHECK_INT(parses("00"), -1);
    CHECK_INT(parses("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0"), -1);
    CHECK_INT(parses("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-"), -1);
    CHECK_INT(parses("00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01"), -1);
    CHECK_INT(parses("00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333g-01"), -1);
    CHECK_INT(parses("00_0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"), -1);
    CHECK_INT(parses("00-0af7651916cd43dd8448eb211c80319c_b7ad6b7169203331-01"), -1);
    CHECK_INT(parses("00-00000000000000000000000000000000-b7ad6b7169203331-01"), -1);
    CHECK_INT(parses("00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01"), -1);
    CHECK_INT(parses("ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"), -1);
    CHECK_INT(parses("0x-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"), -1);
    /* a later version: longer values with '-' after the known part */
    CHECK_INT(parses("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-what"), 0);
    CHECK_INT(parses("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01x"), -1);
    CHECK_INT(kiln_trace_parse_traceparent(NULL, 55, t, sp, &fl), -1);
    /* a value cut short is never read past its length */
    CHECK_INT(kiln_trace_parse_traceparent(TP, 54, t, sp, &fl), -1);
    char *big = malloc(100000);
    memset(big, 'a', 100000);
    CHECK_INT(kiln_trace_parse_traceparent(big, 100000, t, sp, &fl), -1);
    free(big);
}

static void test_begin(void)
{
    kiln_trace_ctx c, d;
    kiln_trace_begin(&c, TP, strlen(TP), 5);
    CHECK_INT(c.has_parent, 1);
    CHECK_INT(c.sampled, 1);
    CHECK_INT(c.start_ns, 5);
    CHECK(memcmp(c.traceparent, "00-0af7651916cd43dd8448eb211c80319c-", 36) == 0);
    CHECK(memcmp(c.traceparent + 36, "b7ad6b7169203331", 16) != 0); /* the server span's id */
    CHECK_STR(c.traceparent + 52, "-01");
    CHECK_INT(strlen(c.traceparent), 55);
    uint8_t t[16], sp[8], fl;
    CHECK_INT(kiln_trace_parse_traceparent(c.traceparent, 55, t, sp, &fl), 0);
    CHECK(memcmp(sp, c.span_id, 8) == 0);
    /* malformed: a new root; two roots never share ids */
    kiln_trace_begin(&c, "00-zz", 5, 0);
    kiln_trace_begin(&d, NULL, 0, 0);
    CHECK_INT(c.has_parent, 0);
    CHECK_INT(c.sampled, 1);
    CHECK(memcmp(c.trace_id, d.trace_id, 16) != 0);
    CHECK(memcmp(c.span_id, d.span_id, 8) != 0);
    const char *unsampled = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00";
    kiln_trace_begin(&c, unsampled, 55, 0);
    CHECK_INT(c.sampled, 0);
    CHECK_STR(c.traceparent + 52, "-00");
}

/* A record with fixed ids, for exact encodings. */
static void fixed_record(kiln_trace_record *rec, int with_instance)
{
    kiln_trace_ctx c;
    kiln_trace_begin(&c, TP, strlen(TP), 1000);
    memset(c.span_id, 0x11, 8);
    c.route = "/api/...";
    const char *ua = "curl/8 \"q\"\n";
    kiln_trace_request r = {.method = "GET",
                            .method_len = 3,
                            .path = "/api/x?y",
                            .path_len = 6,
                            .route = c.route,
                            .route_len = strlen(c.route),
                            .host = "localhost:3000",
                            .host_len = 14,
                            .user_agent = ua,
                            .user_agent_len = strlen(ua),
                            .component = "api",
                            .protocol_version = "1.1",
                            .status = 502,
                            .end_ns = 9000,
                            .inst_start_ns = with_instance ? 2000 : 0,
                            .inst_dur_ns = 500,
                            .fault = KILN_FAULT_TRAP,
                            .trap_kind = "unreachable"};
    kiln_trace_record_of(rec, &c, &r);
    memset(rec->inst_id, 0x22, 8);
    memset(rec->exec_id, 0x33, 8);
}

static void test_json(void)
{
    kiln_trace_record rec;
    fixed_record(&rec, 0);
    kiln_buf b = KILN_BUF_INIT;
    CHECK_INT(kiln_trace_encode_json(&rec, 1, "my-app", &b), 0);
    CHECK_STR(
        b.data,
        "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":"
        "{\"stringValue\":\"my-app\"}}]},\"scopeSpans\":[{\"scope\":{\"name\":\"kiln\"},"
        "\"spans\":[{\"traceId\":\"0af7651916cd43dd8448eb211c80319c\",\"spanId\":"
        "\"1111111111111111\",\"parentSpanId\":\"b7ad6b7169203331\",\"name\":\"GET /api/...\","
        "\"kind\":2,\"startTimeUnixNano\":\"1000\",\"endTimeUnixNano\":\"9000\",\"attributes\":"
        "[{\"key\":\"http.request.method\",\"value\":{\"stringValue\":\"GET\"}},{\"key\":"
        "\"url.path\",\"value\":{\"stringValue\":\"/api/x\"}},{\"key\":\"http.route\",\"value\":"
        "{\"stringValue\":\"/api/...\"}},{\"key\":\"http.response.status_code\",\"value\":"
        "{\"intValue\":\"502\"}},{\"key\":\"server.address\",\"value\":{\"stringValue\":"
        "\"localhost\"}},{\"key\":\"server.port\",\"value\":{\"intValue\":\"3000\"}},{\"key\":"
        "\"network.protocol.version\",\"value\":{\"stringValue\":\"1.1\"}},{\"key\":"
        "\"user_agent.original\",\"value\":{\"stringValue\":\"curl/8 \\\"q\\\"\\u000a\"}},"
        "{\"key\":\"kiln.component\",\"value\":{\"stringValue\":\"api\"}},{\"key\":"
        "\"error.type\",\"value\":{\"stringValue\":\"trap\"}}],\"status\":{\"code\":2}}]}]}]}");
    /* with an instance: two children, parented to the server span */
    fixed_record(&rec, 1);
    kiln_buf_reset(&b);
    CHECK_INT(kiln_trace_encode_json(&rec, 1, "my-app", &b), 0);
    CHECK(strstr(b.data, "{\"traceId\":\"0af7651916cd43dd8448eb211c80319c\",\"spanId\":"
                         "\"2222222222222222\",\"parentSpanId\":\"1111111111111111\",\"name\":"
                         "\"instantiate api\",\"kind\":1,\"startTimeUnixNano\":\"2000\","
                         "\"endTimeUnixNano\":\"2500\"") != NULL);
    CHECK(strstr(b.data, "\"spanId\":\"3333333333333333\",\"parentSpanId\":\"1111111111111111\","
                         "\"name\":\"execute api\",\"kind\":1,\"startTimeUnixNano\":\"2500\","
                         "\"endTimeUnixNano\":\"9000\"") != NULL);
    CHECK(strstr(b.data, "{\"key\":\"kiln.trap_kind\",\"value\":{\"stringValue\":"
                         "\"unreachable\"}}],\"status\":{\"code\":2}}") != NULL);
    /* a root span has no parentSpanId; fields longer than the record's are truncated */
    kiln_trace_ctx c;
    kiln_trace_begin(&c, NULL, 0, 1);
    char longpath[1000];
    memset(longpath, 'p', sizeof longpath);
    kiln_trace_request r = {.method = "POST",
                            .method_len = 4,
                            .path = longpath,
                            .path_len = sizeof longpath,
                            .status = 200,
                            .end_ns = 2};
    kiln_trace_record_of(&rec, &c, &r);
    CHECK_INT(strlen(rec.path), sizeof rec.path - 1);
    kiln_buf_reset(&b);
    CHECK_INT(kiln_trace_encode_json(&rec, 1, "s", &b), 0);
    CHECK(strstr(b.data, "parentSpanId") == NULL);
    CHECK(strstr(b.data, "\"name\":\"POST\",") != NULL);
    CHECK(strstr(b.data, "\"status\":{\"code\":0}") != NULL);
    /* the client went away: no method known, the span is "HTTP" */
    kiln_trace_request gone = {.status = 200, .end_ns = 2};
    kiln_trace_record_of(&rec, &c, &gone);
    kiln_buf_reset(&b);
    CHECK_INT(kiln_trace_encode_json(&rec, 1, "s", &b), 0);
    CHECK(strstr(b.data, "\"name\":\"HTTP\",") != NULL);
    /* a client record: one CLIENT span, child of the server span, even with instance times */
    kiln_trace_ctx cc;
    kiln_trace_begin(&cc, TP, strlen(TP), 100);
    memset(cc.span_id, 0x44, 8);
    kiln_trace_request cr = {.method = "PUT",
                             .method_len = 3,
                             .path = "https://api.test:8443/v1",
                             .path_len = 24,
                             .host = "api.test:8443",
                             .host_len = 13,
                             .component = "front",
                             .status = 404,
                             .end_ns = 200,
                             .inst_start_ns = 150,
                             .client = 1};
    kiln_trace_record_of(&rec, &cc, &cr);
    kiln_buf_reset(&b);
    CHECK_INT(kiln_trace_encode_json(&rec, 1, "s", &b), 0);
    CHECK(strstr(b.data, "\"spanId\":\"4444444444444444\",\"parentSpanId\":\"b7ad6b7169203331\","
                         "\"name\":\"PUT\",\"kind\":3,") != NULL);
    CHECK(strstr(b.data, "{\"key\":\"url.full\",\"value\":{\"stringValue\":"
                         "\"https://api.test:8443/v1\"}}") != NULL);
    CHECK(strstr(b.data, "{\"key\":\"server.port\",\"value\":{\"intValue\":\"8443\"}}") != NULL);
    CHECK(strstr(b.data, "{\"key\":\"error.type\",\"value\":{\"stringValue\":\"404\"}}") != NULL);
    CHECK(strstr(b.data, "\"kind\":1") == NULL); /* no instantiate/execute children */
    cr.status = 0;
    cr.trap_kind = "connection-refused";
    kiln_trace_record_of(&rec, &cc, &cr);
    kiln_buf_reset(&b);
    CHECK_INT(kiln_trace_encode_json(&rec, 1, "s", &b), 0);
    CHECK(strstr(b.data,
                 "{\"key\":\"error.type\",\"value\":{\"stringValue\":\"connection-refused\"}}") !=
          NULL);
    CHECK(strstr(b.data, "\"status\":{\"code\":2}") != NULL);
    kiln_buf_free(&b);
}

/* The protobuf encoding starts as the schema says: ExportTraceServiceRequest.resource_spans
 * (field 1), ResourceSpans.resource (1) with service.name, then the span's fixed fields. */
static void test_protobuf(void)
{
    kiln_trace_record rec;
    fixed_record(&rec, 1);
    kiln_buf b = KILN_BUF_INIT;
    CHECK_INT(kiln_trace_encode_protobuf(&rec, 1, "my-app", &b), 0);
    const unsigned char *p = (const unsigned char *)b.data;
    CHECK_INT(p[0], 0x0a); /* field 1, length-delimited */
    /* Resource{attributes: KeyValue{key "service.name", value {string_value "my-app"}}} */
    static const unsigned char res[] = {0x0a, 0x1a, 0x0a, 0x18, 0x0a, 0x0c, 's', 'e', 'r',  'v',
                                        'i',  'c',  'e',  '.',  'n',  'a',  'm', 'e', 0x12, 0x08,
                                        0x0a, 0x06, 'm',  'y',  '-',  'a',  'p', 'p'};
    CHECK(b.len > 40 && memcmp(p + 3, res, sizeof res) == 0);
    /* the server span: trace_id (field 1, 16 bytes), span_id (2, 8 bytes) */
    static const unsigned char ids[] = {0x0a, 0x10, 0x0a, 0xf7, 0x65, 0x19, 0x16, 0xcd,
                                        0x43, 0xdd, 0x84, 0x48, 0xeb, 0x21, 0x1c, 0x80,
                                        0x31, 0x9c, 0x12, 0x08, 0x11, 0x11, 0x11, 0x11,
                                        0x11, 0x11, 0x11, 0x11, 0x22, 0x08, 0xb7};
    CHECK(memmem(b.data, b.len, ids, sizeof ids) != NULL);
    /* start_time_unix_nano (7, fixed64) 1000 and end (8) 9000 */
    static const unsigned char times[] = {0x39, 0xe8, 0x03, 0, 0, 0, 0, 0, 0,
                                          0x41, 0x28, 0x23, 0, 0, 0, 0, 0, 0};
    CHECK(memmem(b.data, b.len, times, sizeof times) != NULL);
    /* http.response.status_code as int_value (AnyValue field 3, varint 502) */
    static const unsigned char st[] = {'c', 'o', 'd', 'e', 0x12, 0x03, 0x18, 0xf6, 0x03};
    CHECK(memmem(b.data, b.len, st, sizeof st) != NULL);
    /* Status{code: ERROR} (field 15 -> tag 0x7a) */
    static const unsigned char status[] = {0x7a, 0x02, 0x18, 0x02};
    CHECK(memmem(b.data, b.len, status, sizeof status) != NULL);
    kiln_buf_free(&b);
}

/* A queue of 2 that nobody drains (a schedule delay of 10 min): the third record on is
 * dropped and counted; the exporter's flush to a closed port gives up quickly. */
static void test_queue(void)
{
    setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9/", 1);
    setenv("OTEL_BSP_MAX_QUEUE_SIZE", "2", 1);
    setenv("OTEL_BSP_SCHEDULE_DELAY", "600000", 1);
    kiln_tracer *t = NULL;
    char err[256] = "";
    CHECK_INT(kiln_tracer_from_env("app", &t, err, sizeof err), 0);
    CHECK(t != NULL);
    if (!t) return;
    kiln_trace_ctx c;
    kiln_trace_request r = {.status = 200, .end_ns = 2, .inst_start_ns = 1};
    for (int i = 0; i < 5; i++) {
        kiln_trace_begin(&c, NULL, 0, 1);
        kiln_trace_end(t, &c, &r);
    }
    CHECK_INT(kiln_tracer_dropped_spans(t), 9); /* 3 records of 3 spans */
    kiln_buf b = KILN_BUF_INIT;
    CHECK_INT(kiln_tracer_render_metrics(t, &b), 0);
    CHECK(strstr(b.data, "\nkiln_trace_spans_dropped_total 9\n") != NULL);
    kiln_buf_free(&b);
    kiln_tracer_free(t);
    /* configuration refusals */
    setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc", 1);
    CHECK_INT(kiln_tracer_from_env("app", &t, err, sizeof err), -1);
    CHECK(strstr(err, "grpc") != NULL);
    unsetenv("OTEL_EXPORTER_OTLP_PROTOCOL");
    setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://[::1", 1);
    CHECK_INT(kiln_tracer_from_env("app", &t, err, sizeof err), -1);
    setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://host:12x", 1);
    CHECK_INT(kiln_tracer_from_env("app", &t, err, sizeof err), -1);
    setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://host", 1);
    CHECK_INT(kiln_tracer_from_env("app", &t, err, sizeof err), -1);
    unsetenv("OTEL_EXPORTER_OTLP_ENDPOINT");
    CHECK_INT(kiln_tracer_from_env("app", &t, err, sizeof err), 0);
    CHECK(t == NULL);
}

int main(void)
{
    test_parse();
    test_begin();
    test_json();
    test_protobuf();
    test_queue();
    return test_finish("trace");
}
