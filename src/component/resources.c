/* resources.c — resource types and handle tables (see resources.h). */
#include "component/resources.h"
#include "util/alloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct kiln_handle {
    const kiln_resource_type *type; /* NULL: free slot */
    uint32_t rep;
    uint32_t lends;     /* live lends (borrows of this handle passed to callees) */
    uint32_t scope;     /* borrow handles: 1 + index of their call scope */
    uint64_t serial;    /* borrow handles: serial of that scope */
    uint32_t next_free; /* free slots: the next free index (0: none) */
    uint8_t own;
} kiln_handle;

typedef struct kiln_call_scope {
    uint64_t serial;
    uint32_t nborrows; /* borrow handles lowered in this scope, not yet dropped */
    uint32_t *lent;    /* handle indices lent in this scope (one entry per lend) */
    uint32_t nlent, caplent;
} kiln_call_scope;

struct kiln_resources {
    kiln_handle *h; /* h[0] unused */
    uint32_t n, cap;
    uint32_t free_head; /* 0: none */
    uint32_t live;
    kiln_call_scope *scopes;
    uint32_t nscopes, capscopes;
    uint64_t next_serial;
};

#define MAX_CALL_DEPTH 4096

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static const char *tname(const kiln_resource_type *t)
{
    return t && t->name ? t->name : "resource";
}

void kiln_resource_type_init_host(kiln_resource_type *t, const char *name,
                                  kiln_resource_host_dtor_fn dtor, void *ctx)
{
    memset(t, 0, sizeof *t);
    t->name = name;
    t->host_dtor = dtor;
    t->host_ctx = ctx;
}

void kiln_resource_type_init_guest(kiln_resource_type *t, const char *name, kiln_resources *impl,
                                   kiln_resource_guest_dtor_fn dtor, void *native)
{
    memset(t, 0, sizeof *t);
    t->name = name;
    t->impl = impl;
    t->guest_dtor = dtor;
    t->guest_native = native;
}

void kiln_resource_destroy(const kiln_resource_type *t, uint32_t rep)
{
    if (t->impl) {
        if (t->guest_dtor) t->guest_dtor(t->guest_native, rep);
    } else if (t->host_dtor) {
        t->host_dtor(t->host_ctx, rep);
    }
}

kiln_resources *kiln_resources_new(void)
{
    kiln_resources *r = kiln_calloc(1, sizeof *r);
    if (!r) return NULL;
    r->n = 1; /* index 0 is never handed out */
    r->next_serial = 1;
    return r;
}

void kiln_resources_free(kiln_resources *r)
{
    if (!r) return;
    for (uint32_t i = 0; i < r->capscopes; i++)
        kiln_free(r->scopes[i].lent);
    kiln_free(r->scopes);
    kiln_free(r->h);
    kiln_free(r);
}

kiln_resources *kiln_resources_clone(const kiln_resources *r, kiln_resource_type_map map, void *arg,
                                     char *err, size_t errlen)
{
    if (r->nscopes) {
        fail(err, errlen, "a call is in progress");
        return NULL;
    }
    kiln_resources *c = kiln_calloc(1, sizeof *c);
    if (!c || (r->cap && !(c->h = kiln_malloc((size_t)r->cap * sizeof *c->h)))) {
        kiln_free(c);
        fail(err, errlen, "out of memory");
        return NULL;
    }
    c->n = r->n;
    c->cap = r->cap;
    c->free_head = r->free_head;
    c->live = r->live;
    c->next_serial = 1;
    if (c->h) memset(&c->h[0], 0, sizeof c->h[0]); /* index 0 is never used */
    for (uint32_t i = 1; r->h && i < r->n; i++) {
        kiln_handle e = r->h[i];
        if (e.type && (!e.own || e.lends)) {
            fail(err, errlen, "handle %u of %s is %s", i, tname(e.type),
                 e.own ? "lent" : "a borrow");
            kiln_resources_free(c);
            return NULL;
        }
        if (e.type && !(e.type = map(arg, e.type))) {
            fail(err, errlen, "handle %u: its type cannot be copied", i);
            kiln_resources_free(c);
            return NULL;
        }
        c->h[i] = e;
    }
    return c;
}

uint32_t kiln_resources_count(const kiln_resources *r)
{
    return r->live;
}

uint32_t kiln_resources_call_depth(const kiln_resources *r)
{
    return r->nscopes;
}

/* Adds an entry; its index in *idx. The spec's Table.add: a freed index first (the most
 * recently freed), else a new one, trapping past MAX_LENGTH. */
static int table_add(kiln_resources *r, const kiln_handle *e, uint32_t *idx, char *err,
                     size_t errlen)
{
    uint32_t i;
    if (r->free_head) {
        i = r->free_head;
        r->free_head = r->h[i].next_free;
    } else {
        if (r->n > KILN_RESOURCES_MAX_LENGTH)
            return fail(err, errlen, "handle table full (%u handles)", KILN_RESOURCES_MAX_LENGTH);
        if (r->n >= r->cap) {
            uint32_t ncap = r->cap ? r->cap * 2 : 16;
            kiln_handle *nh = kiln_realloc(r->h, (size_t)ncap * sizeof *nh);
            if (!nh) return fail(err, errlen, "out of memory for the handle table");
            r->h = nh;
            r->cap = ncap;
        }
        i = r->n++;
    }
    r->h[i] = *e;
    r->h[i].next_free = 0;
    r->live++;
    *idx = i;
    return 0;
}

/* The live entry at index i (any u32), or NULL after an error message. */
static kiln_handle *table_get(kiln_resources *r, uint32_t i, char *err, size_t errlen)
{
    if (i == 0 || i >= r->n || !r->h[i].type) {
        fail(err, errlen, "unknown handle index %u", i);
        return NULL;
    }
    return &r->h[i];
}

static void table_remove(kiln_resources *r, uint32_t i)
{
    r->h[i].type = NULL;
    r->h[i].next_free = r->free_head;
    r->free_head = i;
    r->live--;
}

/* The live entry at index i of type t, or NULL after an error message. */
static kiln_handle *get_typed(kiln_resources *r, const kiln_resource_type *t, uint32_t i, char *err,
                              size_t errlen)
{
    kiln_handle *h = table_get(r, i, err, errlen);
    if (!h) return NULL;
    if (h->type != t) {
        fail(err, errlen, "handle %u is a %s, not a %s", i, tname(h->type), tname(t));
        return NULL;
    }
    return h;
}

int kiln_resource_new(kiln_resources *r, const kiln_resource_type *t, uint32_t rep,
                      uint32_t *handle, char *err, size_t errlen)
{
    kiln_handle e = {.type = t, .rep = rep, .own = 1};
    return table_add(r, &e, handle, err, errlen);
}

int kiln_resources_lookup(kiln_resources *r, uint32_t handle, const kiln_resource_type **t,
                          uint32_t *rep, char *err, size_t errlen)
{
    kiln_handle *h = table_get(r, handle, err, errlen);
    if (!h) return -1;
    *t = h->type;
    *rep = h->rep;
    return 0;
}

int kiln_resource_rep(kiln_resources *r, const kiln_resource_type *t, uint32_t handle,
                      uint32_t *rep, char *err, size_t errlen)
{
    kiln_handle *h = get_typed(r, t, handle, err, errlen);
    if (!h) return -1;
    *rep = h->rep;
    return 0;
}

/* The live call scope a borrow handle belongs to, or NULL. */
static kiln_call_scope *scope_of(kiln_resources *r, const kiln_handle *h)
{
    if (h->scope == 0 || h->scope > r->nscopes) return NULL;
    kiln_call_scope *s = &r->scopes[h->scope - 1];
    return s->serial == h->serial ? s : NULL;
}

int kiln_resource_drop(kiln_resources *r, const kiln_resource_type *t, uint32_t handle, char *err,
                       size_t errlen)
{
    kiln_handle *h = get_typed(r, t, handle, err, errlen);
    if (!h) return -1;
    if (h->lends)
        return fail(err, errlen, "resource.drop of handle %u while it is lent to %u call(s)",
                    handle, h->lends);
    kiln_handle e = *h;
    table_remove(r, handle);
    if (e.own) {
        kiln_resource_destroy(t, e.rep);
    } else {
        kiln_call_scope *s = scope_of(r, &e);
        if (s && s->nborrows) s->nborrows--;
    }
    return 0;
}

int kiln_resources_lift_own(kiln_resources *r, const kiln_resource_type *t, uint32_t handle,
                            uint32_t *rep, char *err, size_t errlen)
{
    kiln_handle *h = get_typed(r, t, handle, err, errlen);
    if (!h) return -1;
    if (h->lends)
        return fail(err, errlen, "own handle %u passed while it is lent to %u call(s)", handle,
                    h->lends);
    if (!h->own) return fail(err, errlen, "handle %u is a borrow, an own was expected", handle);
    *rep = h->rep;
    table_remove(r, handle);
    return 0;
}

int kiln_resources_lift_borrow(kiln_resources *r, const kiln_resource_type *t, uint32_t handle,
                               uint32_t *rep, char *err, size_t errlen)
{
    if (!r->nscopes) return fail(err, errlen, "borrow<%s> lifted outside a call", tname(t));
    kiln_handle *h = get_typed(r, t, handle, err, errlen);
    if (!h) return -1;
    kiln_call_scope *s = &r->scopes[r->nscopes - 1];
    if (s->nlent == s->caplent) {
        uint32_t ncap = s->caplent ? s->caplent * 2 : 8;
        uint32_t *nl = kiln_realloc(s->lent, (size_t)ncap * sizeof *nl);
        if (!nl) return fail(err, errlen, "out of memory for lends");
        s->lent = nl;
        s->caplent = ncap;
    }
    s->lent[s->nlent++] = handle;
    h->lends++;
    *rep = h->rep;
    return 0;
}

int kiln_resources_lower_own(kiln_resources *r, const kiln_resource_type *t, uint32_t rep,
                             uint32_t *handle, char *err, size_t errlen)
{
    return kiln_resource_new(r, t, rep, handle, err, errlen);
}

int kiln_resources_lower_borrow(kiln_resources *r, const kiln_resource_type *t, uint32_t rep,
                                uint32_t *handle, char *err, size_t errlen)
{
    if (t->impl == r) {
        *handle = rep;
        return 0;
    }
    if (!r->nscopes) return fail(err, errlen, "borrow<%s> lowered outside a call", tname(t));
    kiln_call_scope *s = &r->scopes[r->nscopes - 1];
    kiln_handle e = {.type = t, .rep = rep, .scope = r->nscopes, .serial = s->serial};
    if (table_add(r, &e, handle, err, errlen) < 0) return -1;
    s->nborrows++;
    return 0;
}

int kiln_resources_call_begin(kiln_resources *r, char *err, size_t errlen)
{
    if (r->nscopes >= MAX_CALL_DEPTH)
        return fail(err, errlen, "calls nested more than %d deep", MAX_CALL_DEPTH);
    if (r->nscopes == r->capscopes) {
        uint32_t ncap = r->capscopes ? r->capscopes * 2 : 4;
        kiln_call_scope *ns = kiln_realloc(r->scopes, (size_t)ncap * sizeof *ns);
        if (!ns) return fail(err, errlen, "out of memory for call scopes");
        memset(ns + r->capscopes, 0, (size_t)(ncap - r->capscopes) * sizeof *ns);
        r->scopes = ns;
        r->capscopes = ncap;
    }
    /* A scope's array of lends is kept for the next call at this depth. */
    kiln_call_scope *s = &r->scopes[r->nscopes++];
    s->nlent = 0;
    s->nborrows = 0;
    s->serial = r->next_serial++;
    return 0;
}

int kiln_resources_call_end(kiln_resources *r, char *err, size_t errlen)
{
    if (!r->nscopes) return fail(err, errlen, "no call to end");
    kiln_call_scope *s = &r->scopes[r->nscopes - 1];
    for (uint32_t i = 0; i < s->nlent; i++) {
        uint32_t idx = s->lent[i];
        /* a lent handle cannot be removed while lent, so it is still there */
        if (idx < r->n && r->h[idx].type && r->h[idx].lends) r->h[idx].lends--;
    }
    uint32_t left = s->nborrows;
    if (left) {
        uint32_t scope = r->nscopes;
        for (uint32_t i = 1; i < r->n; i++) {
            kiln_handle *h = &r->h[i];
            if (h->type && !h->own && h->scope == scope && h->serial == s->serial)
                table_remove(r, i);
        }
    }
    r->nscopes--;
    if (left)
        return fail(err, errlen, "%u borrow handle(s) not dropped before the call returned", left);
    return 0;
}
