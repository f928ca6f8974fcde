/* metrics.c — the metrics registry, its per-thread shards and the exposition (see
 * metrics.h). */
#include "server/metrics.h"
#include "util/alloc.h"

#include <pthread.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef _Atomic uint64_t counter;

/* A histogram's upper bounds: in the recorded unit (ns or bytes) and as printed (le). */
typedef struct bound {
    uint64_t v;
    const char *le;
} bound;

/* http.server.request.duration: OpenTelemetry's advice (5 ms .. 10 s) below which Kiln's
 * sub-millisecond requests need their own buckets. */
static const bound dur_bounds[] = {
    {100000, "0.0001"},  {250000, "0.00025"}, {500000, "0.0005"},  {1000000, "0.001"},
    {2500000, "0.0025"}, {5000000, "0.005"},  {10000000, "0.01"},  {25000000, "0.025"},
    {50000000, "0.05"},  {75000000, "0.075"}, {100000000, "0.1"},  {250000000, "0.25"},
    {500000000, "0.5"},  {750000000, "0.75"}, {1000000000, "1"},   {2500000000, "2.5"},
    {5000000000, "5"},   {7500000000, "7.5"}, {10000000000, "10"},
};
/* Body sizes: powers of four from 64 bytes to 64 MiB, and 0 for empty bodies. */
static const bound size_bounds[] = {
    {0, "0"},
    {64, "64"},
    {256, "256"},
    {1024, "1024"},
    {4096, "4096"},
    {16384, "16384"},
    {65536, "65536"},
    {262144, "262144"},
    {1048576, "1048576"},
    {4194304, "4194304"},
    {16777216, "16777216"},
    {67108864, "67108864"},
};
/* Instance start: 1 µs .. 1 s (an image copy takes microseconds, a cold instantiation of a
 * big module up to a second); the dashboard and `kiln bench` take quantiles from them. */
static const bound start_bounds[] = {
    {1000, "1e-06"},     {2500, "2.5e-06"},   {5000, "5e-06"},     {10000, "1e-05"},
    {25000, "2.5e-05"},  {50000, "5e-05"},    {100000, "0.0001"},  {250000, "0.00025"},
    {500000, "0.0005"},  {1000000, "0.001"},  {2500000, "0.0025"}, {5000000, "0.005"},
    {10000000, "0.01"},  {25000000, "0.025"}, {50000000, "0.05"},  {100000000, "0.1"},
    {250000000, "0.25"}, {500000000, "0.5"},  {1000000000, "1"},
};
/* Guest linear memory at the end of a request: 64 KiB (one page) .. 4 GiB. */
static const bound mem_bounds[] = {
    {65536, "65536"},         {131072, "131072"},         {262144, "262144"},
    {524288, "524288"},       {1048576, "1048576"},       {2097152, "2097152"},
    {4194304, "4194304"},     {8388608, "8388608"},       {16777216, "16777216"},
    {33554432, "33554432"},   {67108864, "67108864"},     {134217728, "134217728"},
    {268435456, "268435456"}, {1073741824, "1073741824"}, {4294967296, "4294967296"},
};
#define NBOUNDS(a) (sizeof(a) / sizeof(a)[0])
#define NDUR NBOUNDS(dur_bounds)
#define NSIZE NBOUNDS(size_bounds)
#define NSTART NBOUNDS(start_bounds)
#define NMEM NBOUNDS(mem_bounds)
_Static_assert(KILN_METRICS_DUR_BUCKETS == NDUR + 1, "the dashboard's copy of the buckets");
/* A histogram's counters: one per bucket (not cumulative; the last one is +Inf), then
 * the sum of the observed values. */
#define HIST_LEN(n) ((n) + 2)

/* The methods of RFC 9110 and RFC 5789 that OpenTelemetry knows; any other is _OTHER. */
static const char *const methods[] = {"CONNECT", "DELETE", "GET", "HEAD",  "OPTIONS",
                                      "PATCH",   "POST",   "PUT", "TRACE", "_OTHER"};
#define NMETHODS (sizeof methods / sizeof methods[0])
#define NCLASSES 9 /* 1xx .. 9xx (a guest may send a status up to 999) */
#define NREASONS 2
static const char *const reasons[NREASONS] = {"queue_full", "queue_timeout"};

/* Outbound requests' outcomes: the status classes 1xx..5xx (a status above 599 counts as
 * 5xx), then the failures' classes. */
static const char *const out_classes[] = {"1xx",     "2xx",    "3xx",       "4xx",
                                          "5xx",     "denied", "dns_error", "connection_error",
                                          "timeout", "error"};
#define NOUT (sizeof out_classes / sizeof out_classes[0])
static const char *const kv_ops[] = {"get",      "set",       "delete",      "exists",
                                     "get-keys", "increment", "cas-current", "cas-swap",
                                     "get-many", "set-many",  "delete-many", "other"};
#define NKVOPS (sizeof kv_ops / sizeof kv_ops[0])
#define NHOSTS (KILN_METRICS_MAX_HOSTS + 1)   /* + "other" */
#define NSTORES (KILN_METRICS_MAX_STORES + 1) /* + "other" */

/* Counters (64 bytes) of padding around a thread's counters, so that no cache line holds
 * counters of two threads (no false sharing whatever the allocator puts next to them). */
#define PAD 8

/* The HTTP histograms of one (route, method, status class) in one shard. */
typedef struct series_block {
    counter pad0[PAD];
    counter dur[HIST_LEN(NDUR)];
    counter req[HIST_LEN(NSIZE)];
    counter resp[HIST_LEN(NSIZE)];
    counter pad1[PAD];
} series_block;

/* A component's outbound and key-value counters in a shard, made on its first use. */
typedef struct io_block {
    counter pad0[PAD];
    counter out[NHOSTS][NOUT];
    counter out_dur[HIST_LEN(NDUR)];
    counter kv[NSTORES][NKVOPS][2]; /* [.][.][0]: ok, [1]: error */
    counter kv_dur[HIST_LEN(NDUR)];
    counter pad1[PAD];
} io_block;

/* A component's counters in a shard: at these offsets, then the traps by kind. */
enum {
    C_BEGUN = 0,
    C_ENDED,
    C_TIMEOUTS,
    C_REJECTED, /* NREASONS of them */
    C_START = C_REJECTED + NREASONS,
    C_MEM_HWM = C_START + HIST_LEN(NSTART), /* the largest guest memory seen (a maximum) */
    C_MEM = C_MEM_HWM + 1,                  /* the guest memory histogram */
    C_TRAPS = C_MEM + HIST_LEN(NMEM),       /* nkinds + 1 ("other") */
};

typedef struct shard {
    struct shard *next;
    pthread_t owner;
    _Atomic(series_block *) *series; /* nroutes * NMETHODS * NCLASSES, made on first use */
    counter *comp;                   /* ncomp * comp_stride, PAD into comp_mem */
    counter *comp_mem;
    _Atomic(io_block *) *io; /* ncomp, made on first use */
} shard;

typedef struct route_info {
    char *route, *label;
    int comp;
} route_info;

typedef struct comp_gauges {
    atomic_int tier;             /* 0: not known, 1: fast, 2: opt */
    atomic_int have[2];          /* compile seconds known (fast, opt) */
    _Atomic double compile_s[2]; /* fast, opt */
} comp_gauges;

struct kiln_metrics {
    uint64_t gen; /* tells registries apart in the threads' shard caches */
    atomic_int sealed;
    char **comps;
    size_t ncomp;
    route_info *routes; /* [0]: no route */
    size_t nroutes;
    char **kinds;
    size_t nkinds;
    size_t comp_stride;
    comp_gauges *gauges;
    size_t capacity;
    size_t (*live)(void *ctx);
    void *live_ctx;
    size_t (*queued)(void *ctx); /* kiln_metrics_set_queue */
    void *queued_ctx;
    void (*pool)(size_t *in_use, size_t *free_slots); /* kiln_metrics_set_pool */
    uint64_t rss_at_seal; /* the process's resident bytes with no instance alive */
    int (*extra)(void *ctx, kiln_buf *out); /* kiln_metrics_set_extra */
    void *extra_ctx;
    _Atomic(char *) *hosts;  /* ncomp * KILN_METRICS_MAX_HOSTS names, filled in order */
    _Atomic(char *) *stores; /* ncomp * KILN_METRICS_MAX_STORES names, filled in order */
    pthread_mutex_t lock;    /* the shard list, the host and store tables' additions */
    shard *_Atomic shards;
};

static atomic_uint_fast64_t next_gen = 1;
/* The duration and start bounds in seconds, for the dashboard's quantiles. */
static double dur_secs[NDUR], start_secs[NSTART];
static pthread_once_t secs_once = PTHREAD_ONCE_INIT;

static void secs_init(void)
{
    for (size_t i = 0; i < NDUR; i++)
        dur_secs[i] = (double)dur_bounds[i].v / 1e9;
    for (size_t i = 0; i < NSTART; i++)
        start_secs[i] = (double)start_bounds[i].v / 1e9;
}
static __thread struct {
    uint64_t gen;
    shard *s;
} tls_shard;

/* Adds d to a counter that only this thread writes: no read-modify-write needed. */
static inline void bump(counter *c, uint64_t d)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + d,
                          memory_order_relaxed);
}

static inline uint64_t get(counter *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

kiln_metrics *kiln_metrics_new(void)
{
    if (pthread_once(&secs_once, secs_init) != 0) return NULL;
    kiln_metrics *m = kiln_calloc(1, sizeof *m);
    if (!m) return NULL;
    m->routes = kiln_calloc(1, sizeof *m->routes);
    if (!m->routes || pthread_mutex_init(&m->lock, NULL) != 0) {
        kiln_free(m->routes);
        kiln_free(m);
        return NULL;
    }
    m->routes[0] = (route_info){NULL, NULL, -1};
    m->nroutes = 1;
    m->gen = atomic_fetch_add(&next_gen, 1);
    return m;
}

static void free_names(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        kiln_free(v[i]);
    kiln_free(v);
}

void kiln_metrics_free(kiln_metrics *m)
{
    if (!m) return;
    size_t nseries = m->nroutes * NMETHODS * NCLASSES;
    for (shard *s = atomic_load(&m->shards), *next; s; s = next) {
        next = s->next;
        for (size_t i = 0; s->series && i < nseries; i++)
            kiln_free(atomic_load(&s->series[i]));
        kiln_free(s->series);
        kiln_free(s->comp_mem);
        for (size_t c = 0; s->io && c < m->ncomp; c++)
            kiln_free(atomic_load(&s->io[c]));
        kiln_free(s->io);
        kiln_free(s);
    }
    for (size_t i = 0; m->hosts && i < m->ncomp * KILN_METRICS_MAX_HOSTS; i++)
        kiln_free(atomic_load(&m->hosts[i]));
    for (size_t i = 0; m->stores && i < m->ncomp * KILN_METRICS_MAX_STORES; i++)
        kiln_free(atomic_load(&m->stores[i]));
    kiln_free(m->hosts);
    kiln_free(m->stores);
    free_names(m->comps, m->ncomp);
    free_names(m->kinds, m->nkinds);
    for (size_t i = 1; i < m->nroutes; i++) {
        kiln_free(m->routes[i].route);
        kiln_free(m->routes[i].label);
    }
    kiln_free(m->routes);
    kiln_free(m->gauges);
    pthread_mutex_destroy(&m->lock);
    kiln_free(m);
}

/* Appends a copy of s to a string array. The new index, or -1. */
static int push_name(char ***v, size_t *n, const char *s)
{
    char *copy = kiln_strdup(s ? s : "");
    char **nv = copy ? kiln_realloc(*v, (*n + 1) * sizeof *nv) : NULL;
    if (!nv) {
        kiln_free(copy);
        return -1;
    }
    nv[*n] = copy;
    *v = nv;
    return (int)(*n)++;
}

int kiln_metrics_add_component(kiln_metrics *m, const char *name)
{
    if (atomic_load(&m->sealed)) return -1;
    return push_name(&m->comps, &m->ncomp, name);
}

int kiln_metrics_add_trap_kind(kiln_metrics *m, const char *kind)
{
    if (atomic_load(&m->sealed)) return -1;
    return push_name(&m->kinds, &m->nkinds, kind);
}

int kiln_metrics_add_route(kiln_metrics *m, const char *route, int comp, const char *comp_label)
{
    if (atomic_load(&m->sealed) || comp >= (int)m->ncomp) return -1;
    if (comp >= 0) comp_label = m->comps[comp];
    route_info r = {kiln_strdup(route ? route : ""), kiln_strdup(comp_label ? comp_label : ""),
                    comp < 0 ? -1 : comp};
    route_info *nr =
        r.route && r.label ? kiln_realloc(m->routes, (m->nroutes + 1) * sizeof *nr) : NULL;
    if (!nr) {
        kiln_free(r.route);
        kiln_free(r.label);
        return -1;
    }
    nr[m->nroutes] = r;
    m->routes = nr;
    return (int)m->nroutes++;
}

void kiln_metrics_set_instances(kiln_metrics *m, size_t capacity, size_t (*live)(void *ctx),
                                void *ctx)
{
    m->capacity = capacity;
    m->live = live;
    m->live_ctx = ctx;
}

void kiln_metrics_set_queue(kiln_metrics *m, size_t (*depth)(void *ctx), void *ctx)
{
    m->queued = depth;
    m->queued_ctx = ctx;
}

void kiln_metrics_set_pool(kiln_metrics *m, void (*pool)(size_t *in_use, size_t *free_slots))
{
    m->pool = pool;
}

/* The process's resident bytes (/proc/self/statm), 0 when it cannot be read. */
static uint64_t resident_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "re");
    unsigned long long size = 0, rss = 0;
    int n = f ? fscanf(f, "%llu %llu", &size, &rss) : 0;
    if (f) fclose(f);
    long page = sysconf(_SC_PAGESIZE);
    return n == 2 && page > 0 ? rss * (uint64_t)page : 0;
}

void kiln_metrics_set_extra(kiln_metrics *m, int (*render)(void *ctx, kiln_buf *out), void *ctx)
{
    m->extra = render;
    m->extra_ctx = ctx;
}

void kiln_metrics_seal(kiln_metrics *m)
{
    m->comp_stride = C_TRAPS + m->nkinds + 1;
    m->gauges = kiln_calloc(m->ncomp + 1, sizeof *m->gauges);
    m->hosts = kiln_calloc(m->ncomp * KILN_METRICS_MAX_HOSTS + 1, sizeof *m->hosts);
    m->stores = kiln_calloc(m->ncomp * KILN_METRICS_MAX_STORES + 1, sizeof *m->stores);
    m->rss_at_seal = resident_bytes();
    /* without this memory the registry records nothing (never sealed) */
    if (m->gauges && m->hosts && m->stores) atomic_store(&m->sealed, 1);
}

/* The calling thread's shard: its cache, else one it made before, else a new one. NULL
 * when out of memory (the observation is dropped). */
static shard *my_shard(kiln_metrics *m)
{
    if (tls_shard.gen == m->gen) return tls_shard.s;
    pthread_t self = pthread_self();
    shard *s;
    pthread_mutex_lock(&m->lock);
    for (s = atomic_load(&m->shards); s && !pthread_equal(s->owner, self); s = s->next) {
    }
    if (!s && (s = kiln_calloc(1, sizeof *s))) {
        s->owner = self;
        s->series = kiln_calloc(m->nroutes * NMETHODS * NCLASSES, sizeof *s->series);
        s->comp_mem = kiln_calloc(m->ncomp * m->comp_stride + 2 * PAD, sizeof *s->comp_mem);
        s->comp = s->comp_mem ? s->comp_mem + PAD : NULL;
        s->io = kiln_calloc(m->ncomp + 1, sizeof *s->io);
        if (!s->series || !s->comp || !s->io) {
            kiln_free(s->io);
            kiln_free(s->series);
            kiln_free(s->comp_mem);
            kiln_free(s);
            s = NULL;
        } else {
            s->next = atomic_load(&m->shards);
            atomic_store(&m->shards, s); /* published complete (seq_cst) */
        }
    }
    pthread_mutex_unlock(&m->lock);
    if (s) {
        tls_shard.gen = m->gen;
        tls_shard.s = s;
    }
    return s;
}

/* The method's index in methods[]. */
static size_t method_index(const char *p, size_t n)
{
    for (size_t i = 0; i + 1 < NMETHODS; i++)
        if (strlen(methods[i]) == n && memcmp(methods[i], p, n) == 0) return i;
    return NMETHODS - 1;
}

static void observe(counter *h, const bound *b, size_t n, uint64_t v)
{
    size_t i = 0;
    while (i < n && v > b[i].v)
        i++;
    bump(&h[i], 1);
    bump(&h[n + 1], v);
}

void kiln_metrics_begin(kiln_metrics *m, size_t route)
{
    if (!m || !atomic_load_explicit(&m->sealed, memory_order_acquire) || route >= m->nroutes)
        return;
    int comp = m->routes[route].comp;
    shard *s = comp >= 0 ? my_shard(m) : NULL;
    if (s) bump(&s->comp[(size_t)comp * m->comp_stride + C_BEGUN], 1);
}

void kiln_metrics_record(kiln_metrics *m, const kiln_metrics_request *r)
{
    if (!m || !atomic_load_explicit(&m->sealed, memory_order_acquire)) return;
    shard *s = my_shard(m);
    if (!s) return;
    size_t route = r->route < m->nroutes ? r->route : 0;
    if (r->method) {
        int st = r->status;
        size_t cls = (size_t)(st < 100 ? 1 : st > 999 ? 9 : st / 100) - 1;
        size_t ix = (route * NMETHODS + method_index(r->method, r->method_len)) * NCLASSES + cls;
        series_block *b = atomic_load_explicit(&s->series[ix], memory_order_relaxed);
        if (!b && (b = kiln_calloc(1, sizeof *b)))
            atomic_store_explicit(&s->series[ix], b, memory_order_release);
        if (b) {
            observe(b->dur, dur_bounds, NDUR, r->duration_ns);
            observe(b->req, size_bounds, NSIZE, r->req_bytes);
            observe(b->resp, size_bounds, NSIZE, r->resp_bytes);
        }
    }
    int comp = m->routes[route].comp;
    if (comp < 0) return;
    counter *c = &s->comp[(size_t)comp * m->comp_stride];
    if (r->active) bump(&c[C_ENDED], 1);
    if (r->start_ns >= 0) observe(&c[C_START], start_bounds, NSTART, (uint64_t)r->start_ns);
    if (r->mem_bytes) {
        observe(&c[C_MEM], mem_bounds, NMEM, r->mem_bytes);
        if (r->mem_bytes > get(&c[C_MEM_HWM]))
            atomic_store_explicit(&c[C_MEM_HWM], r->mem_bytes, memory_order_relaxed);
    }
    switch (r->fault) {
    case KILN_FAULT_TRAP: {
        size_t k = 0;
        while (k < m->nkinds && !(r->trap_kind && strcmp(m->kinds[k], r->trap_kind) == 0))
            k++;
        bump(&c[C_TRAPS + k], 1);
        break;
    }
    case KILN_FAULT_TIMEOUT:
        bump(&c[C_TIMEOUTS], 1);
        break;
    case KILN_FAULT_QUEUE_FULL:
        bump(&c[C_REJECTED], 1);
        break;
    case KILN_FAULT_QUEUE_TIMEOUT:
        bump(&c[C_REJECTED + 1], 1);
        break;
    default:
        break;
    }
}

/* ---- outbound requests and key-value operations ---- */

/* The index of the component named name, or -1. */
static int comp_index(const kiln_metrics *m, const char *name)
{
    for (size_t i = 0; name && i < m->ncomp; i++)
        if (strcmp(m->comps[i], name) == 0) return (int)i;
    return -1;
}

/* A byte of a host or store name as a label value keeps it: [A-Za-z0-9.:_[]-] (a guest's
 * authority may hold anything; other bytes become '_'). Names are cut at LABEL_MAX. */
#define LABEL_MAX 255
static char label_ch(unsigned char ch)
{
    int keep = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
               (ch && strchr(".:_[]-", ch));
    return keep ? (char)ch : '_';
}

/* 1 if the label value v is name's. */
static int label_eq(const char *v, const char *name)
{
    size_t i = 0;
    for (; i < LABEL_MAX && name[i]; i++)
        if (v[i] != label_ch((unsigned char)name[i])) return 0;
    return v[i] == '\0';
}

/* name's index in tab (cap slots filled in order), else SIZE_MAX with *free_at the first
 * empty slot (cap: full). */
static size_t find_name(_Atomic(char *) *tab, size_t cap, const char *name, size_t *free_at)
{
    size_t i = 0;
    for (; i < cap; i++) {
        char *p = atomic_load_explicit(&tab[i], memory_order_acquire);
        if (!p) break;
        if (label_eq(p, name)) return i;
    }
    *free_at = i;
    return SIZE_MAX;
}

/* name's slot in a component's table tab of cap names (filled in order under the lock,
 * never emptied), added when there is room: its index, or cap ("other": the table is
 * full, or out of memory). Lock-free once the name is in. */
static size_t name_slot(kiln_metrics *m, _Atomic(char *) *tab, size_t cap, const char *name)
{
    size_t at, i = find_name(tab, cap, name, &at);
    if (i != SIZE_MAX || at == cap) return i != SIZE_MAX ? i : cap;
    pthread_mutex_lock(&m->lock);
    i = find_name(tab, cap, name, &at);
    if (i == SIZE_MAX && at < cap) {
        size_t n = strnlen(name, LABEL_MAX);
        char *v = kiln_malloc(n + 1);
        if (v) {
            for (size_t k = 0; k < n; k++)
                v[k] = label_ch((unsigned char)name[k]);
            v[n] = '\0';
            atomic_store_explicit(&tab[at], v, memory_order_release);
            i = at;
        }
    }
    pthread_mutex_unlock(&m->lock);
    return i != SIZE_MAX ? i : cap;
}

/* The calling thread's io block of component name (made on first use) and its index in
 * *comp; NULL when not sealed, the component is unknown or out of memory. */
static io_block *io_of(kiln_metrics *m, const char *component, int *comp)
{
    if (!m || !atomic_load_explicit(&m->sealed, memory_order_acquire)) return NULL;
    *comp = comp_index(m, component);
    shard *s = *comp >= 0 ? my_shard(m) : NULL;
    if (!s) return NULL;
    io_block *b = atomic_load_explicit(&s->io[*comp], memory_order_relaxed);
    if (!b && (b = kiln_calloc(1, sizeof *b)))
        atomic_store_explicit(&s->io[*comp], b, memory_order_release);
    return b;
}

/* The outcome class of an outbound request (out_classes). */
static size_t out_class(int status, const char *error)
{
    if (status >= 100) return status >= 500 ? 4 : (size_t)(status / 100 - 1);
    if (!error) return NOUT - 1;
    if (strcmp(error, "HTTP-request-denied") == 0 ||
        strcmp(error, "destination-IP-prohibited") == 0)
        return 5;
    if (strncmp(error, "DNS-", 4) == 0 || strcmp(error, "destination-not-found") == 0) return 6;
    if (strstr(error, "timeout")) return 8;
    if (strncmp(error, "connection-", 11) == 0 || strncmp(error, "destination-", 12) == 0) return 7;
    return NOUT - 1;
}

void kiln_metrics_outbound(kiln_metrics *m, const char *component, const char *host, int status,
                           const char *error, uint64_t duration_ns)
{
    int c;
    io_block *b = io_of(m, component, &c);
    if (!b) return;
    size_t h = name_slot(m, &m->hosts[(size_t)c * KILN_METRICS_MAX_HOSTS], KILN_METRICS_MAX_HOSTS,
                         host ? host : "");
    bump(&b->out[h][out_class(status, error)], 1);
    observe(b->out_dur, dur_bounds, NDUR, duration_ns);
}

void kiln_metrics_kv(kiln_metrics *m, const char *component, const char *store, const char *op,
                     int ok, uint64_t duration_ns)
{
    int c;
    io_block *b = io_of(m, component, &c);
    if (!b) return;
    size_t st = name_slot(m, &m->stores[(size_t)c * KILN_METRICS_MAX_STORES],
                          KILN_METRICS_MAX_STORES, store ? store : "");
    size_t o = 0;
    while (o + 1 < NKVOPS && !(op && strcmp(kv_ops[o], op) == 0))
        o++;
    bump(&b->kv[st][o][ok ? 0 : 1], 1);
    observe(b->kv_dur, dur_bounds, NDUR, duration_ns);
}

void kiln_metrics_set_tier(kiln_metrics *m, int comp, const char *tier, double compile_seconds)
{
    if (!m || !atomic_load(&m->sealed) || comp < 0 || (size_t)comp >= m->ncomp || !tier) return;
    int t = strcmp(tier, "opt") == 0 ? 1 : 0;
    comp_gauges *g = &m->gauges[comp];
    atomic_store(&g->compile_s[t], compile_seconds);
    atomic_store(&g->have[t], 1);
    atomic_store(&g->tier, t + 1);
}

/* ---- the exposition ---- */

/* Appends a label value with the format's escapes (backslash, quote, newline). */
static int put_value(kiln_buf *b, const char *s)
{
    int rc = 0;
    for (; *s && rc == 0; s++)
        rc = *s == '\\'   ? kiln_buf_puts(b, "\\\\")
             : *s == '"'  ? kiln_buf_puts(b, "\\\"")
             : *s == '\n' ? kiln_buf_puts(b, "\\n")
                          : kiln_buf_putc(b, *s);
    return rc;
}

/* Appends `,name="value"` (without the comma when first). */
static int put_label(kiln_buf *b, const char *name, const char *value, int first)
{
    int rc = kiln_buf_printf(b, "%s%s=\"", first ? "" : ",", name);
    rc |= put_value(b, value ? value : "");
    return rc | kiln_buf_putc(b, '"');
}

static int family(kiln_buf *b, const char *name, const char *type, const char *help)
{
    return kiln_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One histogram: cumulative buckets, +Inf, sum (scaled to the base unit), count. labels
 * is the rendered label set ("" for none). */
static int put_hist(kiln_buf *b, const char *name, const char *labels, const uint64_t *h,
                    const bound *bd, size_t n, int seconds)
{
    const char *sep = *labels ? "," : "";
    uint64_t cum = 0;
    int rc = 0;
    for (size_t i = 0; i <= n && rc == 0; i++) {
        cum += h[i];
        rc = kiln_buf_printf(b, "%s_bucket{%s%sle=\"%s\"} %llu\n", name, labels, sep,
                             i < n ? bd[i].le : "+Inf", (unsigned long long)cum);
    }
    if (seconds)
        rc |= kiln_buf_printf(b, "%s_sum{%s} %.9f\n", name, labels, (double)h[n + 1] / 1e9);
    else
        rc |= kiln_buf_printf(b, "%s_sum{%s} %llu\n", name, labels, (unsigned long long)h[n + 1]);
    return rc | kiln_buf_printf(b, "%s_count{%s} %llu\n", name, labels, (unsigned long long)cum);
}

/* The largest value of one component counter (offset off) over the shards. */
static uint64_t comp_max(kiln_metrics *m, int comp, size_t off)
{
    uint64_t v = 0;
    for (shard *s = atomic_load(&m->shards); s; s = s->next) {
        uint64_t x = get(&s->comp[(size_t)comp * m->comp_stride + off]);
        if (x > v) v = x;
    }
    return v;
}

/* Sums one component counter (offset off) over the shards. */
static uint64_t comp_sum(kiln_metrics *m, int comp, size_t off)
{
    uint64_t v = 0;
    for (shard *s = atomic_load(&m->shards); s; s = s->next)
        v += get(&s->comp[(size_t)comp * m->comp_stride + off]);
    return v;
}

/* The three HTTP histograms over every (route, method, class) some shard saw. */
static int render_http(kiln_metrics *m, kiln_buf *b, kiln_buf *lb)
{
    static const struct {
        const char *name, *help;
        int which;
    } fams[] = {
        {"http_server_request_duration_seconds", "Duration of HTTP server requests.", 0},
        {"http_server_request_body_size_bytes", "Size of HTTP server request bodies.", 1},
        {"http_server_response_body_size_bytes", "Size of HTTP server response bodies.", 2},
    };
    size_t nseries = m->nroutes * NMETHODS * NCLASSES;
    int rc = 0;
    for (size_t f = 0; f < 3 && rc == 0; f++) {
        rc = family(b, fams[f].name, "histogram", fams[f].help);
        for (size_t ix = 0; ix < nseries && rc == 0; ix++) {
            uint64_t h[HIST_LEN(NDUR)] = {0};
            size_t n = fams[f].which == 0 ? NDUR : NSIZE;
            int seen = 0;
            for (shard *s = atomic_load(&m->shards); s; s = s->next) {
                series_block *blk = atomic_load_explicit(&s->series[ix], memory_order_acquire);
                if (!blk) continue;
                seen = 1;
                counter *c = fams[f].which == 0   ? blk->dur
                             : fams[f].which == 1 ? blk->req
                                                  : blk->resp;
                for (size_t i = 0; i < HIST_LEN(n); i++)
                    h[i] += get(&c[i]);
            }
            if (!seen) continue;
            const route_info *r = &m->routes[ix / (NMETHODS * NCLASSES)];
            char cls[4] = {(char)('1' + ix % NCLASSES), 'x', 'x', 0};
            lb->len = 0;
            rc = put_label(lb, "component", r->label, 1);
            rc |= put_label(lb, "http_route", r->route, 0);
            rc |= put_label(lb, "http_request_method", methods[ix / NCLASSES % NMETHODS], 0);
            rc |= put_label(lb, "http_response_status_class", cls, 0);
            if (rc == 0)
                rc = put_hist(b, fams[f].name, lb->data, h,
                              fams[f].which == 0 ? dur_bounds : size_bounds, n, fams[f].which == 0);
        }
    }
    return rc;
}

/* Kiln's per-component metrics. */
static int render_components(kiln_metrics *m, kiln_buf *b, kiln_buf *lb)
{
    int rc = family(b, "http_server_active_requests", "gauge",
                    "Number of HTTP server requests a component is handling.");
    for (size_t c = 0; c < m->ncomp && rc == 0; c++) {
        uint64_t ended = comp_sum(m, (int)c, C_ENDED), begun = comp_sum(m, (int)c, C_BEGUN);
        lb->len = 0;
        rc = put_label(lb, "component", m->comps[c], 1);
        rc |= kiln_buf_printf(b, "http_server_active_requests{%s} %llu\n", lb->data,
                              (unsigned long long)(begun > ended ? begun - ended : 0));
    }
    rc |= family(b, "kiln_instance_start_duration_seconds", "histogram",
                 "Time to make a fresh guest instance ready for a request.");
    for (size_t c = 0; c < m->ncomp && rc == 0; c++) {
        uint64_t h[HIST_LEN(NSTART)];
        for (size_t i = 0; i < HIST_LEN(NSTART); i++)
            h[i] = comp_sum(m, (int)c, C_START + i);
        lb->len = 0;
        rc = put_label(lb, "component", m->comps[c], 1);
        rc |= put_hist(b, "kiln_instance_start_duration_seconds", lb->data, h, start_bounds, NSTART,
                       1);
    }
    rc |= family(b, "kiln_guest_memory_bytes", "histogram",
                 "A guest's linear memory when its request ended (WAGI components).");
    for (size_t c = 0; c < m->ncomp && rc == 0; c++) {
        uint64_t h[HIST_LEN(NMEM)];
        for (size_t i = 0; i < HIST_LEN(NMEM); i++)
            h[i] = comp_sum(m, (int)c, C_MEM + i);
        lb->len = 0;
        rc = put_label(lb, "component", m->comps[c], 1);
        rc |= put_hist(b, "kiln_guest_memory_bytes", lb->data, h, mem_bounds, NMEM, 0);
    }
    rc |= family(b, "kiln_guest_memory_high_water_bytes", "gauge",
                 "The largest linear memory a component's guest has ended a request with.");
    for (size_t c = 0; c < m->ncomp && rc == 0; c++) {
        lb->len = 0;
        rc = put_label(lb, "component", m->comps[c], 1);
        rc |= kiln_buf_printf(b, "kiln_guest_memory_high_water_bytes{%s} %llu\n", lb->data,
                              (unsigned long long)comp_max(m, (int)c, C_MEM_HWM));
    }
    rc |= family(b, "kiln_traps_total", "counter", "Guest traps, by component and trap kind.");
    for (size_t c = 0; c < m->ncomp && rc == 0; c++)
        for (size_t k = 0; k <= m->nkinds && rc == 0; k++) {
            lb->len = 0;
            rc = put_label(lb, "component", m->comps[c], 1);
            rc |= put_label(lb, "kind", k < m->nkinds ? m->kinds[k] : "other", 0);
            rc |= kiln_buf_printf(b, "kiln_traps_total{%s} %llu\n", lb->data,
                                  (unsigned long long)comp_sum(m, (int)c, C_TRAPS + k));
        }
    rc |= family(b, "kiln_request_timeouts_total", "counter",
                 "Requests whose guest ran past the request timeout (answered 504).");
    for (size_t c = 0; c < m->ncomp && rc == 0; c++) {
        lb->len = 0;
        rc = put_label(lb, "component", m->comps[c], 1);
        rc |= kiln_buf_printf(b, "kiln_request_timeouts_total{%s} %llu\n", lb->data,
                              (unsigned long long)comp_sum(m, (int)c, C_TIMEOUTS));
    }
    rc |= family(b, "kiln_queue_rejections_total", "counter",
                 "Requests answered 503 for want of an instance slot, by reason.");
    for (size_t c = 0; c < m->ncomp && rc == 0; c++)
        for (size_t k = 0; k < NREASONS && rc == 0; k++) {
            lb->len = 0;
            rc = put_label(lb, "component", m->comps[c], 1);
            rc |= put_label(lb, "reason", reasons[k], 0);
            rc |= kiln_buf_printf(b, "kiln_queue_rejections_total{%s} %llu\n", lb->data,
                                  (unsigned long long)comp_sum(m, (int)c, C_REJECTED + k));
        }
    return rc;
}

/* Sums the counter at byte offset off of component c's io blocks over the shards. */
static uint64_t io_sum(kiln_metrics *m, size_t c, size_t off)
{
    uint64_t v = 0;
    for (shard *s = atomic_load(&m->shards); s; s = s->next) {
        io_block *b = atomic_load_explicit(&s->io[c], memory_order_acquire);
        if (b) v += get((counter *)((char *)b + off));
    }
    return v;
}
#define IO_OFF(field) offsetof(io_block, field)

/* A name of a component's host or store table (slot cap: "other"). */
static const char *slot_name(_Atomic(char *) *tab, size_t cap, size_t i)
{
    return i < cap ? atomic_load_explicit(&tab[i], memory_order_acquire) : "other";
}

/* A component's duration histogram of its io blocks (off: out_dur or kv_dur), if any. */
static int io_hist(kiln_metrics *m, kiln_buf *b, kiln_buf *lb, const char *name, size_t c,
                   size_t off)
{
    uint64_t h[HIST_LEN(NDUR)], n = 0;
    for (size_t i = 0; i < HIST_LEN(NDUR); i++) {
        h[i] = io_sum(m, c, off + i * sizeof(counter));
        n += i <= NDUR ? h[i] : 0;
    }
    if (!n) return 0;
    lb->len = 0;
    int rc = put_label(lb, "component", m->comps[c], 1);
    return rc | put_hist(b, name, lb->data, h, dur_bounds, NDUR, 1);
}

/* The labels of column k of an io counter table. */
static int out_col(kiln_buf *lb, size_t k)
{
    return put_label(lb, "status_class", out_classes[k], 0);
}

static int kv_col(kiln_buf *lb, size_t k)
{
    return put_label(lb, "operation", kv_ops[k / 2], 0) |
           put_label(lb, "outcome", k % 2 ? "error" : "ok", 0);
}

/* Component c's counters of a table in its io blocks at byte offset off: cap + 1 rows (the
 * names of tab, then "other") by ncols columns; each non-zero one a series of name with
 * the labels component, slot_label (the row's name) and col(k)'s. */
static int io_table(kiln_metrics *m, kiln_buf *b, kiln_buf *lb, const char *name, size_t c,
                    _Atomic(char *) *tab, size_t cap, const char *slot_label, size_t off,
                    size_t ncols, int (*col)(kiln_buf *lb, size_t k))
{
    int rc = 0;
    for (size_t i = 0; i <= cap && rc == 0; i++)
        for (size_t k = 0; k < ncols && rc == 0; k++) {
            uint64_t v = io_sum(m, c, off + (i * ncols + k) * sizeof(counter));
            const char *row = slot_name(tab, cap, i);
            if (!v || !row) continue;
            lb->len = 0;
            rc = put_label(lb, "component", m->comps[c], 1);
            rc |= put_label(lb, slot_label, row, 0);
            rc |= col(lb, k);
            rc |= kiln_buf_printf(b, "%s{%s} %llu\n", name, lb->data, (unsigned long long)v);
        }
    return rc;
}

/* Outbound requests and key-value operations: the series some shard counted. */
static int render_io(kiln_metrics *m, kiln_buf *b, kiln_buf *lb)
{
    int rc = family(b, "kiln_outbound_requests_total", "counter",
                    "Outbound HTTP requests of a component, by host and status class or failure.");
    for (size_t c = 0; c < m->ncomp && rc == 0; c++)
        rc = io_table(m, b, lb, "kiln_outbound_requests_total", c,
                      &m->hosts[c * KILN_METRICS_MAX_HOSTS], KILN_METRICS_MAX_HOSTS, "host",
                      IO_OFF(out), NOUT, out_col);
    rc |= family(b, "http_client_request_duration_seconds", "histogram",
                 "Duration of a component's outbound HTTP requests (to the response head).");
    for (size_t c = 0; c < m->ncomp && rc == 0; c++)
        rc = io_hist(m, b, lb, "http_client_request_duration_seconds", c, IO_OFF(out_dur));
    rc |= family(b, "kiln_key_value_operations_total", "counter",
                 "Key-value operations of a component, by store, operation and outcome.");
    for (size_t c = 0; c < m->ncomp && rc == 0; c++)
        rc = io_table(m, b, lb, "kiln_key_value_operations_total", c,
                      &m->stores[c * KILN_METRICS_MAX_STORES], KILN_METRICS_MAX_STORES, "store",
                      IO_OFF(kv), NKVOPS * 2, kv_col);
    rc |= family(b, "kiln_key_value_operation_duration_seconds", "histogram",
                 "Duration of a component's key-value operations.");
    for (size_t c = 0; c < m->ncomp && rc == 0; c++)
        rc = io_hist(m, b, lb, "kiln_key_value_operation_duration_seconds", c, IO_OFF(kv_dur));
    return rc;
}

/* Tier and compile time per component, live instances and slots. */
static int render_gauges(kiln_metrics *m, kiln_buf *b, kiln_buf *lb)
{
    static const char *const tiers[2] = {"fast", "opt"};
    int rc = family(b, "kiln_compile_duration_seconds", "gauge",
                    "Time this process spent compiling a component's tier (0: from the cache).");
    for (size_t c = 0; c < m->ncomp && rc == 0; c++)
        for (int t = 0; t < 2 && rc == 0; t++) {
            if (!atomic_load(&m->gauges[c].have[t])) continue;
            lb->len = 0;
            rc = put_label(lb, "component", m->comps[c], 1);
            rc |= put_label(lb, "tier", tiers[t], 0);
            rc |= kiln_buf_printf(b, "kiln_compile_duration_seconds{%s} %.6f\n", lb->data,
                                  atomic_load(&m->gauges[c].compile_s[t]));
        }
    rc |= family(b, "kiln_component_tier", "gauge",
                 "The compiler tier a component's new requests run on (1: this tier).");
    for (size_t c = 0; c < m->ncomp && rc == 0; c++) {
        int cur = atomic_load(&m->gauges[c].tier);
        for (int t = 0; t < 2 && rc == 0 && cur; t++) {
            lb->len = 0;
            rc = put_label(lb, "component", m->comps[c], 1);
            rc |= put_label(lb, "tier", tiers[t], 0);
            rc |= kiln_buf_printf(b, "kiln_component_tier{%s} %d\n", lb->data, cur == t + 1);
        }
    }
    if (m->live) {
        rc |= family(b, "kiln_instances_live", "gauge",
                     "Guest instances alive now (running, or waiting in a host call).");
        rc |= kiln_buf_printf(b, "kiln_instances_live %zu\n", m->live(m->live_ctx));
        rc |= family(b, "kiln_instance_slots", "gauge",
                     "Guest instances that may be alive at once (--max-instances).");
        rc |= kiln_buf_printf(b, "kiln_instance_slots %zu\n", m->capacity);
    }
    if (m->queued) {
        rc |= family(b, "kiln_queue_depth", "gauge",
                     "Requests waiting for an instance slot (the executor's queue).");
        rc |= kiln_buf_printf(b, "kiln_queue_depth %zu\n", m->queued(m->queued_ctx));
    }
    if (m->pool) {
        size_t in_use = 0, free_slots = 0;
        m->pool(&in_use, &free_slots);
        rc |= family(b, "kiln_memory_pool_slots", "gauge",
                     "Linear-memory reservations of the pool: held by an instance, or free for "
                     "reuse.");
        rc |= kiln_buf_printf(b, "kiln_memory_pool_slots{state=\"in_use\"} %zu\n", in_use);
        rc |= kiln_buf_printf(b, "kiln_memory_pool_slots{state=\"free\"} %zu\n", free_slots);
    }
    kiln_metrics_global g;
    kiln_metrics_global_stat(m, &g);
    rc |= family(b, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
    rc |= kiln_buf_printf(b, "process_resident_memory_bytes %llu\n", (unsigned long long)g.rss);
    rc |= family(b, "kiln_instance_host_memory_bytes", "gauge",
                 "Host memory per live instance: resident memory above the idle process's, "
                 "divided by the live instances (0: none alive).");
    uint64_t above = g.rss > m->rss_at_seal ? g.rss - m->rss_at_seal : 0;
    rc |= kiln_buf_printf(b, "kiln_instance_host_memory_bytes %llu\n",
                          (unsigned long long)(g.live ? above / g.live : 0));
    return rc;
}

int kiln_metrics_render(kiln_metrics *m, kiln_buf *out)
{
    if (!atomic_load_explicit(&m->sealed, memory_order_acquire)) return 0;
    kiln_buf lb = KILN_BUF_INIT;
    int rc = render_http(m, out, &lb);
    if (rc == 0) rc = render_components(m, out, &lb);
    if (rc == 0) rc = render_io(m, out, &lb);
    if (rc == 0) rc = render_gauges(m, out, &lb);
    if (rc == 0 && m->extra) rc = m->extra(m->extra_ctx, out);
    kiln_buf_free(&lb);
    return rc ? -1 : 0;
}

/* ---- the dashboard's view ---- */

size_t kiln_metrics_nroutes(const kiln_metrics *m)
{
    return m->nroutes;
}

size_t kiln_metrics_ncomponents(const kiln_metrics *m)
{
    return m->ncomp;
}

int kiln_metrics_get_route(kiln_metrics *m, size_t i, kiln_metrics_route_stat *out)
{
    if (!atomic_load_explicit(&m->sealed, memory_order_acquire) || i >= m->nroutes) return -1;
    memset(out, 0, sizeof *out);
    out->route = m->routes[i].route ? m->routes[i].route : "";
    out->component = m->routes[i].label ? m->routes[i].label : "";
    size_t first = i * NMETHODS * NCLASSES;
    for (shard *s = atomic_load(&m->shards); s; s = s->next)
        for (size_t ix = first; ix < first + NMETHODS * NCLASSES; ix++) {
            series_block *blk = atomic_load_explicit(&s->series[ix], memory_order_acquire);
            if (!blk) continue;
            uint64_t n = 0;
            for (size_t k = 0; k <= NDUR; k++) {
                uint64_t v = get(&blk->dur[k]);
                out->dur[k] += v;
                n += v;
            }
            out->requests += n;
            if (ix % NCLASSES == 4) out->errors += n; /* 5xx */
        }
    return 0;
}

const double *kiln_metrics_dur_bounds(size_t *n)
{
    *n = NDUR;
    return dur_secs;
}

double kiln_metrics_quantile(const uint64_t *h, const double *bounds, size_t n, double q)
{
    uint64_t total = 0;
    for (size_t i = 0; i <= n; i++)
        total += h[i];
    if (!total) return 0;
    double rank = q * (double)total, cum = 0;
    for (size_t i = 0; i <= n; i++) {
        if (h[i] && cum + (double)h[i] >= rank) {
            if (i == n) return bounds[n - 1]; /* +Inf: the largest finite bound */
            double lo = i ? bounds[i - 1] : 0;
            return lo + (bounds[i] - lo) * ((rank - cum) / (double)h[i]);
        }
        cum += (double)h[i];
    }
    return bounds[n - 1];
}

int kiln_metrics_get_comp(kiln_metrics *m, size_t i, kiln_metrics_comp_stat *out)
{
    if (!atomic_load_explicit(&m->sealed, memory_order_acquire) || i >= m->ncomp) return -1;
    memset(out, 0, sizeof *out);
    int c = (int)i, tier = atomic_load(&m->gauges[i].tier);
    out->name = m->comps[i];
    out->tier = tier == 1 ? "fast" : tier == 2 ? "opt" : "";
    if (tier) out->compile_s = atomic_load(&m->gauges[i].compile_s[tier - 1]);
    uint64_t h[NSTART + 1];
    for (size_t k = 0; k <= NSTART; k++) {
        h[k] = comp_sum(m, c, C_START + k);
        out->starts += h[k];
    }
    const double *b = start_secs;
    out->start_p50 = kiln_metrics_quantile(h, b, NSTART, 0.5);
    out->start_p99 = kiln_metrics_quantile(h, b, NSTART, 0.99);
    for (size_t k = 0; k <= m->nkinds; k++)
        out->traps += comp_sum(m, c, C_TRAPS + k);
    out->timeouts = comp_sum(m, c, C_TIMEOUTS);
    out->rejected = comp_sum(m, c, C_REJECTED) + comp_sum(m, c, C_REJECTED + 1);
    out->mem_hwm = comp_max(m, c, C_MEM_HWM);
    for (size_t k = 0; k <= NMEM; k++)
        out->mem_count += comp_sum(m, c, C_MEM + k);
    out->mem_sum = comp_sum(m, c, C_MEM + NMEM + 1);
    for (size_t hs = 0; hs < NHOSTS; hs++)
        for (size_t k = 0; k < NOUT; k++) {
            uint64_t v = io_sum(m, i, IO_OFF(out) + (hs * NOUT + k) * sizeof(counter));
            out->outbound += v;
            if (k >= 4) out->outbound_errors += v; /* 5xx and failures */
        }
    for (size_t k = 0; k < NSTORES * NKVOPS * 2; k++) {
        uint64_t v = io_sum(m, i, IO_OFF(kv) + k * sizeof(counter));
        out->kv_ops += v;
        if (k % 2) out->kv_errors += v;
    }
    return 0;
}

void kiln_metrics_global_stat(kiln_metrics *m, kiln_metrics_global *out)
{
    out->live = m->live ? m->live(m->live_ctx) : 0;
    out->capacity = m->capacity;
    out->queued = m->queued ? m->queued(m->queued_ctx) : 0;
    out->rss = resident_bytes();
}
