/* router.c — segment-trie router with one hash table for literal children (router.h). */
#include "server/router.h"
#include "util/alloc.h"

#include <stdint.h>
#include <string.h>

typedef struct route {
    char *text; /* as written */
    char *base; /* without the wildcard */
    void *target;
    int wildcard;
    size_t nparams;
    char **param_names;
} route;

typedef struct rnode {
    struct rnode *param_child; /* the ":name" child, if any */
    route *terminal;           /* route ending here without a wildcard */
    route *wildcard;           /* route ending here with /... */
} rnode;

/* One literal edge parent --segment--> child in the open-addressing table. */
typedef struct edge {
    const rnode *parent;
    char *seg;
    size_t seg_len;
    rnode *child;
} edge;

struct kiln_router {
    rnode *root;
    edge *edges; /* capacity is a power of two; empty slots have parent == NULL */
    size_t nedges, cap;
    rnode **nodes; /* every node, for freeing */
    size_t nnodes, nodes_cap;
    route **routes; /* every live route */
    size_t nroutes, routes_cap;
};

/* FNV-1a over the parent pointer and the segment bytes. */
static uint64_t edge_hash(const rnode *parent, const char *seg, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    uintptr_t p = (uintptr_t)parent;
    for (size_t i = 0; i < sizeof p; i++) {
        h ^= (p >> (8 * i)) & 0xff;
        h *= 1099511628211ull;
    }
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)seg[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* Finds the slot of an edge, or the empty slot where it would go. */
static edge *edge_slot(edge *tab, size_t cap, const rnode *parent, const char *seg, size_t len)
{
    size_t i = (size_t)edge_hash(parent, seg, len) & (cap - 1);
    for (;;) {
        edge *e = &tab[i];
        if (!e->parent) return e;
        if (e->parent == parent && e->seg_len == len && memcmp(e->seg, seg, len) == 0) return e;
        i = (i + 1) & (cap - 1);
    }
}

/* Doubles the edge table when it is more than half full. */
static int edges_grow(kiln_router *r)
{
    if ((r->nedges + 1) * 2 <= r->cap) return 0;
    size_t ncap = r->cap ? r->cap * 2 : 64;
    edge *tab = kiln_calloc(ncap, sizeof *tab);
    if (!tab) return -1;
    for (size_t i = 0; i < r->cap; i++) {
        edge *e = &r->edges[i];
        if (e->parent) *edge_slot(tab, ncap, e->parent, e->seg, e->seg_len) = *e;
    }
    kiln_free(r->edges);
    r->edges = tab;
    r->cap = ncap;
    return 0;
}

/* Appends p to a growable pointer array. */
static int ptr_push(void ***arr, size_t *n, size_t *cap, void *p)
{
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        void **a = kiln_realloc(*arr, ncap * sizeof *a);
        if (!a) return -1;
        *arr = a;
        *cap = ncap;
    }
    (*arr)[(*n)++] = p;
    return 0;
}

static rnode *node_new(kiln_router *r)
{
    rnode *n = kiln_calloc(1, sizeof *n);
    if (!n) return NULL;
    if (ptr_push((void ***)&r->nodes, &r->nnodes, &r->nodes_cap, n) < 0) {
        kiln_free(n);
        return NULL;
    }
    return n;
}

kiln_router *kiln_router_new(void)
{
    kiln_router *r = kiln_calloc(1, sizeof *r);
    if (!r) return NULL;
    r->root = node_new(r);
    if (!r->root) {
        kiln_free(r);
        return NULL;
    }
    return r;
}

static void route_free(route *rt)
{
    if (!rt) return;
    for (size_t i = 0; i < rt->nparams; i++)
        kiln_free(rt->param_names[i]);
    kiln_free(rt->param_names);
    kiln_free(rt->text);
    kiln_free(rt->base);
    kiln_free(rt);
}

void kiln_router_free(kiln_router *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->cap; i++)
        kiln_free(r->edges[i].seg);
    kiln_free(r->edges);
    for (size_t i = 0; i < r->nnodes; i++)
        kiln_free(r->nodes[i]);
    kiln_free(r->nodes);
    for (size_t i = 0; i < r->nroutes; i++)
        route_free(r->routes[i]);
    kiln_free(r->routes);
    kiln_free(r);
}

size_t kiln_router_count(const kiln_router *r)
{
    return r->nroutes;
}

/* Returns the literal child of `parent` for a segment, creating it when `create`. */
static rnode *literal_child(kiln_router *r, rnode *parent, const char *seg, size_t len, int create)
{
    if (r->cap) {
        edge *e = edge_slot(r->edges, r->cap, parent, seg, len);
        if (e->parent) return e->child;
    }
    if (!create) return NULL;
    if (edges_grow(r) < 0) return NULL;
    char *copy = kiln_strndup(seg, len);
    rnode *child = copy ? node_new(r) : NULL;
    if (!child) {
        kiln_free(copy);
        return NULL;
    }
    edge *e = edge_slot(r->edges, r->cap, parent, seg, len);
    e->parent = parent;
    e->seg = copy;
    e->seg_len = len;
    e->child = child;
    r->nedges++;
    return child;
}

/* Removes a replaced route from the live list and frees it. */
static void route_drop(kiln_router *r, route *old)
{
    for (size_t i = 0; i < r->nroutes; i++) {
        if (r->routes[i] == old) {
            r->routes[i] = r->routes[--r->nroutes];
            break;
        }
    }
    route_free(old);
}

/* Parses `text` and walks/creates its trie path. On success *out_node is the node where
 * the route ends, and rt has its wildcard flag, base and parameter names. */
static int route_build(kiln_router *r, const char *text, route *rt, rnode **out_node,
                       const char **err)
{
    if (text[0] != '/') {
        *err = "a route must start with '/'";
        return -1;
    }
    size_t tlen = strlen(text);
    /* Wildcard suffix: "/..." or its synonym, slash-star. */
    size_t body_len = tlen;
    if (tlen >= 4 && strcmp(text + tlen - 4, "/...") == 0) {
        rt->wildcard = 1;
        body_len = tlen - 4;
    } else if (tlen >= 2 && strcmp(text + tlen - 2, "/*") == 0) {
        rt->wildcard = 1;
        body_len = tlen - 2;
    }
    while (body_len > 0 && text[body_len - 1] == '/')
        body_len--;
    rt->base = kiln_strndup(text, body_len);
    if (!rt->base) goto oom;
    rnode *node = r->root;
    const char *p = text, *end = text + body_len;
    while (p < end) {
        while (p < end && *p == '/')
            p++;
        if (p == end) break;
        const char *q = p;
        while (q < end && *q != '/')
            q++;
        size_t len = (size_t)(q - p);
        if ((len == 3 && memcmp(p, "...", 3) == 0) || (len == 1 && *p == '*')) {
            *err = "a wildcard ('...' or '*') may only be the last segment of a route";
            return -1;
        }
        if (*p == ':') {
            if (len == 1) {
                *err = "a named segment needs a name after ':'";
                return -1;
            }
            char **names = kiln_realloc(rt->param_names, (rt->nparams + 1) * sizeof *names);
            if (!names) goto oom;
            rt->param_names = names;
            if (!(names[rt->nparams] = kiln_strndup(p + 1, len - 1))) goto oom;
            rt->nparams++;
            if (!node->param_child && !(node->param_child = node_new(r))) goto oom;
            node = node->param_child;
        } else {
            if (!(node = literal_child(r, node, p, len, 1))) goto oom;
        }
        p = q;
    }
    *out_node = node;
    return 0;
oom:
    *err = "out of memory";
    return -1;
}

int kiln_router_add(kiln_router *r, const char *text, void *target, const char **err)
{
    const char *dummy;
    if (!err) err = &dummy;
    route *rt = kiln_calloc(1, sizeof *rt);
    if (!rt || !(rt->text = kiln_strdup(text))) {
        kiln_free(rt);
        *err = "out of memory";
        return -1;
    }
    rt->target = target;
    rnode *node = NULL;
    if (route_build(r, text, rt, &node, err) < 0) {
        route_free(rt);
        return -1;
    }
    if (ptr_push((void ***)&r->routes, &r->nroutes, &r->routes_cap, rt) < 0) {
        route_free(rt);
        *err = "out of memory";
        return -1;
    }
    route **slot = rt->wildcard ? &node->wildcard : &node->terminal;
    int replaced = 0;
    if (*slot) {
        route_drop(r, *slot);
        replaced = 1;
    }
    *slot = rt;
    return replaced;
}

/* The state of one lookup: the best candidate so far and the parameter values. */
typedef struct search {
    const kiln_router *r;
    const char *path;
    const char **vals; /* current parameter values (pointer, length pairs) */
    size_t *lens;
    const route *best;
    int best_terminal;
    size_t best_depth, best_prefix;
    const char **best_vals;
    size_t *best_lens;
} search;

/* Records a candidate if it beats the best so far (see the precedence in router.h). */
static void consider(search *s, const route *rt, int terminal, size_t depth, size_t prefix)
{
    if (s->best) {
        if (s->best_terminal != terminal) {
            if (s->best_terminal) return;
        } else if (!terminal && depth != s->best_depth) {
            if (depth < s->best_depth) return;
        } else if (rt->nparams >= s->best->nparams) {
            return; /* equal or worse: the earlier (more literal) one stays */
        }
    }
    s->best = rt;
    s->best_terminal = terminal;
    s->best_depth = depth;
    s->best_prefix = prefix;
    memcpy(s->best_vals, s->vals, rt->nparams * sizeof *s->vals);
    memcpy(s->best_lens, s->lens, rt->nparams * sizeof *s->lens);
}

/* Depth-first walk: literal child first, then the named-segment child. */
static void walk(search *s, const rnode *node, const char *p, const char *end, size_t depth,
                 size_t nvals)
{
    if (node->wildcard) consider(s, node->wildcard, 0, depth, (size_t)(p - s->path));
    while (p < end && *p == '/')
        p++;
    if (p == end) {
        if (node->terminal) consider(s, node->terminal, 1, depth, (size_t)(end - s->path));
        return;
    }
    const char *q = memchr(p, '/', (size_t)(end - p));
    if (!q) q = end;
    size_t len = (size_t)(q - p);
    if (s->r->cap) {
        const edge *e = edge_slot(s->r->edges, s->r->cap, node, p, len);
        if (e->parent) walk(s, e->child, q, end, depth + 1, nvals);
    }
    if (node->param_child) {
        s->vals[nvals] = p;
        s->lens[nvals] = len;
        walk(s, node->param_child, q, end, depth + 1, nvals + 1);
    }
}

int kiln_router_lookup(const kiln_router *r, const char *path, size_t len, kiln_route_match *m)
{
    memset(m, 0, sizeof *m);
    size_t maxsegs = 1;
    for (size_t i = 0; i < len; i++)
        maxsegs += path[i] == '/';
    search s = {.r = r, .path = path};
    /* scratch for the segment values: on the stack for ordinary paths (no allocation on
     * the request path), from the heap for paths with many segments */
    const char *vals_local[2 * 16];
    size_t lens_local[2 * 16];
    if (maxsegs <= 16) {
        memset(vals_local, 0, sizeof vals_local);
        memset(lens_local, 0, sizeof lens_local);
        s.vals = vals_local;
        s.lens = lens_local;
    } else {
        s.vals = kiln_calloc(maxsegs * 2, sizeof *s.vals);
        s.lens = kiln_calloc(maxsegs * 2, sizeof *s.lens);
        if (!s.vals || !s.lens) {
            kiln_free(s.vals);
            kiln_free(s.lens);
            return -1;
        }
    }
    s.best_vals = s.vals + maxsegs;
    s.best_lens = s.lens + maxsegs;
    walk(&s, r->root, path, path + len, 0, 0);
    int rc = 0;
    if (s.best) {
        rc = 1;
        m->target = s.best->target;
        m->route = s.best->text;
        m->base = s.best->base;
        m->wildcard = s.best->wildcard;
        m->prefix_len = s.best_prefix;
        if (s.best->nparams) {
            m->params = kiln_calloc(s.best->nparams, sizeof *m->params);
            if (!m->params) {
                rc = -1;
            } else {
                m->nparams = s.best->nparams;
                for (size_t i = 0; i < m->nparams; i++) {
                    m->params[i].name = s.best->param_names[i];
                    m->params[i].value = s.best_vals[i];
                    m->params[i].value_len = s.best_lens[i];
                }
            }
        }
    }
    if (s.vals != vals_local) {
        kiln_free(s.vals);
        kiln_free(s.lens);
    }
    return rc;
}

void kiln_route_match_free(kiln_route_match *m)
{
    kiln_free(m->params);
    m->params = NULL;
    m->nparams = 0;
}
