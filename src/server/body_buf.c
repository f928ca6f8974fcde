/* body_buf.c — a request body over a codec-filled buffer (see body_buf.h). */
#include "server/body_buf.h"
#include "server/loop_sched.h"
#include "util/alloc.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

void kiln_body_buf_signal(kiln_body_buf *b)
{
    if (b->signalled || b->efd < 0) return;
    uint64_t one = 1;
    if (write(b->efd, &one, sizeof one) == (ssize_t)sizeof one) b->signalled = 1;
    kiln_loop_sched_poke(b->efd); /* a reader parked on this loop wakes now, not at its tick */
}

void kiln_body_buf_unref(kiln_body_buf *b)
{
    if (--b->refs > 0) return;
    kiln_buf_free(&b->buf);
    if (b->efd >= 0) close(b->efd);
    kiln_free(b->tr);
    kiln_free(b);
}

static long body_read(kiln_body_source *s, void *buf, size_t cap)
{
    kiln_body_buf *b = (kiln_body_buf *)s;
    size_t avail = b->buf.len - b->off;
    if (avail) {
        size_t n = avail < cap ? avail : cap;
        if (n > (size_t)LONG_MAX) n = (size_t)LONG_MAX;
        memcpy(buf, b->buf.data + b->off, n);
        b->off += n;
        if (b->off == b->buf.len) b->off = b->buf.len = 0;
        if (!b->buf.len && b->buf.cap > b->burst) kiln_buf_free(&b->buf);
        if (b->owner) b->on_read(b->owner, n);
        return (long)n;
    }
    if (b->state == KILN_BODY_END) return 0;
    if (b->state == KILN_BODY_ERROR) return -1;
    if (b->signalled) { /* not ready after all: pollers wait again */
        uint64_t v;
        if (read(b->efd, &v, sizeof v) == (ssize_t)sizeof v) b->signalled = 0;
    }
    if (b->owner) b->on_read(b->owner, 0);
    return KILN_BODY_AGAIN;
}

static int body_wait_fd(kiln_body_source *s)
{
    return ((kiln_body_buf *)s)->efd;
}

static const kiln_http_header *body_trailers(kiln_body_source *s, size_t *n)
{
    kiln_body_buf *b = (kiln_body_buf *)s;
    *n = b->state == KILN_BODY_END ? b->ntr : 0;
    return *n ? b->tr : NULL;
}

int kiln_body_buf_set_trailers(kiln_body_buf *b, const kiln_http_header *hs, size_t n)
{
    size_t bytes = n * sizeof *b->tr;
    for (size_t i = 0; i < n; i++)
        bytes += hs[i].name_len + hs[i].value_len + 2;
    kiln_free(b->tr);
    b->tr = NULL;
    b->ntr = 0;
    if (!n) return 0;
    if (!(b->tr = kiln_malloc(bytes))) return -1;
    char *p = (char *)(b->tr + n); /* the names and values after the array */
    for (size_t i = 0; i < n; i++) {
        kiln_http_header *h = &b->tr[i];
        memcpy(p, hs[i].name, hs[i].name_len);
        p[hs[i].name_len] = '\0';
        h->name = p;
        p += hs[i].name_len + 1;
        if (hs[i].value_len) memcpy(p, hs[i].value, hs[i].value_len);
        p[hs[i].value_len] = '\0';
        h->value = p;
        p += hs[i].value_len + 1;
        h->name_len = hs[i].name_len;
        h->value_len = hs[i].value_len;
    }
    b->ntr = n;
    return 0;
}

kiln_body_buf *kiln_body_buf_new(size_t length_hint, size_t burst, void *owner,
                                 void (*on_read)(void *owner, size_t n))
{
    kiln_body_buf *b = kiln_calloc(1, sizeof *b);
    if (!b) return NULL;
    b->efd = -1;
    b->src.read = body_read;
    b->src.wait_fd = body_wait_fd;
    b->src.trailers = body_trailers;
    b->src.length_hint = length_hint;
    b->refs = 1;
    b->owner = owner;
    b->on_read = on_read;
    b->burst = burst;
    return b;
}

int kiln_body_buf_append(kiln_body_buf *b, const void *p, size_t n)
{
    if (b->off && b->off >= b->buf.len / 2) { /* what was read goes: the buffer stays small */
        memmove(b->buf.data, b->buf.data + b->off, b->buf.len - b->off);
        b->buf.len -= b->off;
        b->off = 0;
    }
    return kiln_buf_append(&b->buf, p, n);
}

size_t kiln_body_buf_unread(const kiln_body_buf *b)
{
    return b->buf.len - b->off;
}

void kiln_body_buf_detach(kiln_body_buf *b)
{
    b->owner = NULL;
    if (b->state == KILN_BODY_OPEN) b->state = KILN_BODY_ERROR;
    kiln_body_buf_signal(b);
    kiln_body_buf_unref(b);
}
