/* waitable.c — waitable sets (async_internal.h): joining a set, its pending events, and a
 * thread waiting on one waitable or a whole set (the names follow definitions.py). */
#include "component/async_internal.h"
#include "util/alloc.h"

#include <string.h>

int ka_wset_has_event(ka_wset *w)
{
    for (uint32_t i = 0; i < w->n; i++)
        if (w->elems[i]->pending) return 1;
    return 0;
}

/* WaitableSet.get_pending_event: of the first element with one (EV_NONE if none). */
void ka_wset_take_event(ka_wset *w, uint32_t ev[3])
{
    for (uint32_t i = 0; i < w->n; i++) {
        ka_waitable *x = w->elems[i];
        if (!x->pending) continue;
        x->pending = 0;
        x->take(x, ev);
        return;
    }
    ev[0] = EV_NONE, ev[1] = ev[2] = 0;
}

int ka_join(ka_waitable *x, ka_wset *w)
{
    if (x->wset) {
        ka_wset *o = x->wset;
        for (uint32_t i = 0; i < o->n; i++)
            if (o->elems[i] == x) {
                memmove(&o->elems[i], &o->elems[i + 1], (o->n - i - 1) * sizeof o->elems[0]);
                o->n--;
                break;
            }
    }
    x->wset = NULL;
    if (!w) return 0;
    if (w->n == w->cap) {
        uint32_t cap = w->cap ? w->cap * 2 : 4;
        ka_waitable **n = kiln_realloc(w->elems, cap * sizeof *n);
        if (!n) return -1;
        w->elems = n;
        w->cap = cap;
    }
    w->elems[w->n++] = x;
    x->wset = w;
    return 0;
}

static int has_pending(ka_thread *t)
{
    return ((ka_waitable *)t->rarg)->pending;
}

int ka_wait_pending(ka_thread *me, ka_waitable *w)
{
    w->sync_waiter = 1;
    int rc = ka_wait_until(me, has_pending, w);
    w->sync_waiter = 0;
    return rc;
}

/* Subtask's event: (SUBTASK, handle, state), delivering the resolution. */
void ka_sub_take(ka_waitable *w, uint32_t ev[3])
{
    ka_subtask *sub = (ka_subtask *)w;
    if (sub->state >= ST_RETURNED) sub->resolve_delivered = 1;
    ev[0] = EV_SUBTASK, ev[1] = w->handle, ev[2] = (uint32_t)sub->state;
}

int ka_wset_ready_stackful(ka_thread *t)
{
    return ka_wset_has_event(t->rarg);
}
