/* body_buf.h — a request body as its handler reads it (a kiln_body_source, exec/handler.h)
 * over a buffer that a connection codec fills: shared by server/http1.c and http2.c.
 *
 * The codec appends the bytes it received and sets the end or an error; the handler reads
 * on the loop's thread and may poll wait_fd (an eventfd, readable while a read would not
 * say AGAIN) from any thread. After each read the codec is told (on_read: the bytes taken,
 * 0 when a read found nothing), so that it can let more come (read its socket again, give
 * back flow-control window). The body is shared: the codec holds one reference until it is
 * done with the request (kiln_body_buf_detach: a body still open then fails for its
 * reader), the server's exchange another. */
#ifndef KILN_SERVER_BODY_BUF_H
#define KILN_SERVER_BODY_BUF_H

#include <stddef.h>

#include "exec/handler.h"
#include "util/buf.h"

enum { KILN_BODY_OPEN = 0, KILN_BODY_END, KILN_BODY_ERROR };

typedef struct kiln_body_buf {
    kiln_body_source src; /* first: the handler's view */
    int refs;
    void *owner; /* the codec's side of the request (NULL once it is done) */
    void (*on_read)(void *owner, size_t n);
    kiln_buf buf; /* received bytes; [off, buf.len) unread */
    size_t off;
    size_t burst;         /* an empty buffer larger than this is given back */
    int state;            /* KILN_BODY_* (after the bytes in buf) */
    int efd;              /* eventfd (-1: none, reads never say AGAIN: the body came whole) */
    int signalled;        /* efd holds a count */
    kiln_http_header *tr; /* the body's trailer fields (one allocation), ntr of them */
    size_t ntr;
} kiln_body_buf;

/* A new body (one reference, the codec's; no eventfd yet). NULL when out of memory. */
kiln_body_buf *kiln_body_buf_new(size_t length_hint, size_t burst, void *owner,
                                 void (*on_read)(void *owner, size_t n));

/* Makes the body's readiness visible to pollers (after bytes, the end or an error came),
 * and wakes a reader parked on this loop at once. */
void kiln_body_buf_signal(kiln_body_buf *b);

/* Appends n received bytes (what was read goes first: the buffer stays small). 0, or -1
 * when out of memory. */
int kiln_body_buf_append(kiln_body_buf *b, const void *p, size_t n);

/* Keeps the body's trailer fields (copied) for the source's `trailers`, which hands
 * them out once the body ended. 0, or -1 when out of memory (none kept). */
int kiln_body_buf_set_trailers(kiln_body_buf *b, const kiln_http_header *hs, size_t n);
/* The bytes received and not yet read. */
size_t kiln_body_buf_unread(const kiln_body_buf *b);

/* The codec is done with the request: a body still open fails for its reader; the
 * codec's reference goes. */
void kiln_body_buf_detach(kiln_body_buf *b);

/* Drops a reference (the last frees the body). */
void kiln_body_buf_unref(kiln_body_buf *b);

#endif
