/* handler.h — the neutral interface between the HTTP server and what answers a request.
 *
 * The server (src/server/) knows only this header: it turns each routed request into a
 * kiln_request and a kiln_response and calls handler->handle(handler, req, res) on the
 * request's I/O (event-loop) thread. The handler answers now (start, write, finish
 * before returning) or later: it may hand the work to another thread, and from there
 * call res->ops->post to get a callback on the request's I/O thread, where it answers.
 * WAGI (src/exec/wagi/) is one handler; wasi:http will be another.
 *
 * Lifetimes and threads:
 *   - The request's borrowed fields (strings, headers, route, body source) are valid only
 *     during handle(), on the I/O thread. A handler that answers later copies what it
 *     needs, e.g. into req->arena; a streamed body source (wait_fd != NULL) may be kept
 *     and read until the response is finished.
 *   - req->arena (== res->arena) lives until the response is finished (and the server is
 *     done sending it): per-request memory, freed in one go.
 *   - Every kiln_response op except post must run on the request's I/O thread. The
 *     handler calls finish (or abort) exactly once, also when the client went away meanwhile
 *     (ops then do nothing and return -1; gone() says so); after finish, res is invalid.
 *   - post is thread-safe; at most one post per response may be pending at a time.
 *
 * The body is a stream: a source with read-into-buffer and end-of-body. On HTTP/1.x
 * (server/http1.c) the handler is called once the head is parsed and the body arrives
 * afterwards: read may then return KILN_BODY_AGAIN (nothing yet), and wait_fd gives a file
 * descriptor to poll until it would not (backpressure: the connection stops reading while
 * the source's bounded buffer is full). Kiln's HTTP/2 codec (server/http2.c) streams the
 * same way (flow control holds the client back). With h2o's codecs (KILN_H2O_HTTP1/2=1)
 * and in tests the source is a buffer and never says AGAIN. The response body is a sink:
 * write chunks, then finish with optional trailers (or abort: a broken response). Data written on
 * the I/O thread is coalesced and sent when the handler returns to the event loop or finishes; a
 * response whose whole body is written before it finishes gets a Content-Length, others are sent
 * chunked (HTTP/1.1) or as DATA frames (HTTP/2). */
#ifndef KILN_EXEC_HANDLER_H
#define KILN_EXEC_HANDLER_H

#include <stddef.h>
#include <stdint.h>

#include "util/arena.h"

typedef struct kiln_http_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} kiln_http_header;

/* One named segment of a route match: name from the route, value a slice of the path. */
typedef struct kiln_route_param {
    const char *name;
    const char *value;
    size_t value_len;
} kiln_route_param;

/* Which route matched a request (filled by the server's router). */
typedef struct kiln_route_match {
    void *target;             /* what the route was registered with */
    const char *route;        /* the route as written, e.g. "/api/..." */
    const char *base;         /* the route without its wildcard, e.g. "/api" ("" for "/...") */
    int wildcard;             /* 1 if the route ends in a wildcard */
    size_t prefix_len;        /* bytes of the path matched before the wildcard part */
    kiln_route_param *params; /* nparams entries, owned by the match */
    size_t nparams;
} kiln_route_match;

/* kiln_body_source.read: nothing has arrived yet (a streamed source; wait on wait_fd). */
#define KILN_BODY_AGAIN (-2L)

/* The request body as a stream. */
typedef struct kiln_body_source kiln_body_source;
struct kiln_body_source {
    /* Reads up to cap bytes into buf: returns how many (> 0), 0 at the end of the body,
     * -1 on an error (the body cannot be read any further: the client went away, sent a
     * malformed body, or more than --max-request-size), or KILN_BODY_AGAIN when nothing is
     * there yet. On the request's I/O thread only, while the response is not finished. */
    long (*read)(kiln_body_source *s, void *buf, size_t cap);
    /* NULL for a buffered source (never AGAIN). Else a file descriptor that polls
     * readable (POLLIN) whenever read would not return KILN_BODY_AGAIN; any thread may
     * poll it (it stays valid until the response is finished). -1: this body never says
     * AGAIN (it was complete before the handler ran). */
    int (*wait_fd)(kiln_body_source *s);
    /* NULL, or, once read returned 0: the body's trailer fields (an HTTP/1.1 chunked
     * body's trailer section), *n of them, valid until the response is finished. */
    const kiln_http_header *(*trailers)(kiln_body_source *s, size_t *n);
    size_t length_hint; /* the body's length when known in advance, else SIZE_MAX */
    /* private: the buffer-backed source */
    const uint8_t *data;
    size_t len, off;
};

/* A source that reads `len` bytes of `data` (borrowed). */
void kiln_body_source_buffer(kiln_body_source *s, const void *data, size_t len);

typedef struct kiln_request {
    const char *method;
    size_t method_len;
    const char *path; /* raw (percent-encoded), without the query */
    size_t path_len;
    const char *query; /* without the '?'; NULL when there is none */
    size_t query_len;
    const char *scheme;    /* "http" or "https" (NUL-terminated) */
    const char *authority; /* Host header or :authority; NULL when absent */
    size_t authority_len;
    const char *protocol; /* "HTTP/1.0", "HTTP/1.1", "HTTP/2.0" (NUL-terminated) */
    const kiln_http_header *headers;
    size_t nheaders;
    const char *client_ip; /* NUL-terminated, "" when unknown */
    int client_port;
    int server_port; /* the listening port when the authority names none (else 0) */
    const kiln_route_match *route;
    kiln_body_source *body;
    kiln_arena *arena;
    /* The W3C traceparent outbound requests made for this request send (server/trace.h),
     * NUL-terminated; NULL when the server does not trace. */
    const char *traceparent;
    /* The request's id for guest log lines (NUL-terminated hex): its trace id when the
     * server traces, else one the server numbers. NULL: none. */
    const char *request_id;
    /* How the request declared its body (the server takes Content-Length and
     * Transfer-Encoding out of `headers`; WAGI gives them back as HTTP_CONTENT_LENGTH and
     * HTTP_TRANSFER_ENCODING, as Spin and Wagi do): whether it had a Content-Length, and
     * its value; whether the body came chunked (HTTP/1.1 Transfer-Encoding: chunked, known
     * from Kiln's HTTP/1.x codec; h2o's HTTP/2 consumes the headers without saying: a body
     * then counts as declared by its length). */
    int has_declared_length;
    unsigned long long declared_length;
    int chunked;
    /* How deep in service chaining (exec/http/chain.h) the request is: 0 from a client. */
    unsigned chain_depth;
} kiln_request;

typedef struct kiln_response kiln_response;
typedef void (*kiln_response_cb)(kiln_response *res, void *arg);

typedef struct kiln_response_ops {
    /* Status and headers (copied). Once per response, before any write. 0 or -1. */
    int (*start)(kiln_response *res, int status, const kiln_http_header *headers, size_t n);
    /* Appends len bytes of body (copied). 0 or -1 (client gone, or out of memory). */
    int (*write)(kiln_response *res, const void *data, size_t len);
    /* Ends the response. Trailers (copied) follow the last chunk of a chunked HTTP/1.1
     * response, or come as a last HEADERS frame on HTTP/2; h2o's own codecs
     * (KILN_H2O_HTTP1/2=1) drop them. Starts a 500 when start was never
     * called. res is invalid afterwards. */
    void (*finish)(kiln_response *res, const kiln_http_header *trailers, size_t n);
    /* Any thread: runs cb(res, arg) on the request's I/O thread soon. 0 or -1. */
    int (*post)(kiln_response *res, kiln_response_cb cb, void *arg);
    /* 1 when the client went away (nothing more will be sent). */
    int (*gone)(kiln_response *res);
    /* Bytes written but not yet taken by the connection (may be NULL: unknown): a
     * handler that streams waits while it is large (backpressure). */
    size_t (*buffered)(kiln_response *res);
    /* Ends a started response as broken, instead of finish, when its body cannot be
     * completed (the guest trapped or ran out of time after start): what was written is
     * sent, then the client is told the response is incomplete: on HTTP/1.1 a chunked
     * body lacks its last chunk and the connection closes (likewise a body shorter than
     * its Content-Length); on HTTP/2 the stream is reset (RST_STREAM). A close-delimited
     * body (HTTP/1.0, or an HTTP/1.1 status other than 200 without a length) cannot show
     * the difference. Before start: a 500, as finish. res is invalid afterwards. */
    void (*abort)(kiln_response *res);
} kiln_response_ops;

struct kiln_response {
    const kiln_response_ops *ops;
    kiln_arena *arena;
    /* Set by the handler for the access log: its instance start time (-1: none). */
    double start_ms;
    /* Set by the handler before start when it knows the body's exact length (it then
     * writes exactly that much); SIZE_MAX: unknown. */
    size_t content_length;
    /* Set by the handler for the server's metrics when the guest failed or never ran:
     * KILN_FAULT_* (0: none) and, for a trap, its kind's name (a static string). */
    int fault;
    const char *trap_kind;
    /* Set by the handler with start_ms, for traces: when the instance start began
     * (CLOCK_REALTIME, ns; 0: unknown). */
    int64_t start_at_ns;
    /* Set by the handler for the metrics: the guest's linear memory when it ended (bytes;
     * 0: unknown). */
    uint64_t mem_bytes;
};

/* Why a request failed (kiln_response.fault); server/metrics.h counts each. */
enum {
    KILN_FAULT_NONE = 0,
    KILN_FAULT_TRAP,          /* the guest trapped (trap_kind says how) */
    KILN_FAULT_TIMEOUT,       /* it ran past the request timeout: 504 */
    KILN_FAULT_QUEUE_FULL,    /* no instance slot and the queue is full: 503 */
    KILN_FAULT_QUEUE_TIMEOUT, /* no instance slot within the queue timeout: 503 */
};

typedef struct kiln_handler kiln_handler;
struct kiln_handler {
    /* On the request's I/O thread; answers now or later (see above). */
    void (*handle)(kiln_handler *h, kiln_request *req, kiln_response *res);
    const char *name; /* for the access log: component id */
};

/* The wall clock (CLOCK_REALTIME) in ns since the Unix epoch: kiln_response.start_at_ns. */
int64_t kiln_realtime_ns(void);

/* A complete small answer: start(status, headers + Content-Type if ctype), body, finish. */
void kiln_response_simple(kiln_response *res, int status, const char *ctype,
                          const kiln_http_header *headers, size_t n, const void *body, size_t len);
/* "STATUS Reason\n" as text/plain; with Retry-After: 1 for 503. Finishes res. */
void kiln_response_error(kiln_response *res, int status);

/* The standard reason phrase of a status code ("OK", "Not Found"; "Unknown"). */
const char *kiln_http_reason(int status);

/* Logs one line about a request to stderr: "kiln: " + the formatted text, control
 * characters escaped (guest- and client-controlled text never forges log lines), any
 * length, one write(2). */
void kiln_log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
