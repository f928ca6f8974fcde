/* serve.h — WAGI behind the handler interface (exec/handler.h).
 *
 * Per request, on the I/O thread: the CGI view of the request is built (environment,
 * argv) and the body is read from the request's body source, all into the request's
 * arena (the client may go away while the guest runs). Then:
 *   - inline: a component whose grants have no side effects (kiln_wagi_component.
 *     rerunnable) first runs on a fiber of the I/O thread, when an instance slot is free
 *     (slots.h: --max-instances guests alive at once). A guest that waits (a WASI sleep)
 *     parks its fiber and the loop serves others meanwhile; each running slice may take
 *     the inline budget of CPU time. Most guests end well within it and this saves the
 *     hand-off to another thread. One still running at the budget is stopped and the
 *     request runs again from a fresh instance on an executor thread (a re-run is
 *     invisible only because the guest had no effect but its output); the component
 *     then stays off the inline path for 10 s.
 *   - otherwise, and for every component that is not rerunnable: the request goes to
 *     the executor (a bounded, timed queue; full or too late: 503 with Retry-After) and
 *     its answer comes back to the I/O thread through the response's post.
 * The guest's CGI output becomes the response: status, headers, and the body with a
 * Content-Length. */
#ifndef KILN_EXEC_WAGI_SERVE_H
#define KILN_EXEC_WAGI_SERVE_H

#include "exec/executor.h"
#include "exec/handler.h"
#include "exec/slots.h"
#include "exec/wagi/wagi.h"

typedef struct kiln_wagi_handler {
    kiln_handler base; /* first: a kiln_wagi_handler * is a kiln_handler * */
    kiln_wagi_component *component;
    kiln_executor *executor;
    kiln_slots *slots;         /* guests alive at once (--max-instances), shared by handlers */
    unsigned inline_budget_ms; /* 0: always on executor threads */
    unsigned queue_timeout_ms; /* longest wait for an instance slot (0: none) */
} kiln_wagi_handler;

/* Fills h (borrowing c, e and slots, which must outlive it). */
void kiln_wagi_handler_init(kiln_wagi_handler *h, kiln_wagi_component *c, kiln_executor *e,
                            kiln_slots *slots, unsigned inline_budget_ms,
                            unsigned queue_timeout_ms);

#endif
