/* clocks.c — wasi:clocks 0.2: wall-clock and monotonic-clock (wasip2.h). */
#include "host/wasip2/wasip2.h"

#include <time.h>

static int datetime(kiln_cabi_cx *cx, kiln_cval *r, uint64_t s, uint32_t ns)
{
    kiln_cval *f = kiln_cabi_alloc(cx, 2 * sizeof *f);
    if (!f) return p2_fail(cx, "out of memory");
    f[0].u = s;
    f[1].u = ns;
    r->agg.items = f;
    r->agg.n = 2;
    return 0;
}

static int wall_now(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return datetime(cx, &res[0], (uint64_t)ts.tv_sec, (uint32_t)ts.tv_nsec);
}

static int wall_resolution(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    struct timespec ts;
    clock_getres(CLOCK_REALTIME, &ts);
    return datetime(cx, &res[0], (uint64_t)ts.tv_sec, (uint32_t)ts.tv_nsec);
}

#define DT "record{seconds: u64, nanoseconds: u32}"
static const kiln_chost_func wall_funcs[] = {
    {"now", "() -> " DT, wall_now},
    {"resolution", "() -> " DT, wall_resolution},
};
const kiln_chost_iface kiln_wasip2_clocks_wall = {
    "wasi:clocks/wall-clock", KILN_WASIP2_VERSION, NULL, 0, wall_funcs, 2};

static int mono_now(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    res[0].u = p2_monotonic_now();
    return 0;
}

static int mono_resolution(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    struct timespec ts;
    clock_getres(CLOCK_MONOTONIC, &ts);
    res[0].u = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    return 0;
}

static int subscribe(kiln_cabi_cx *cx, void *ctx, uint64_t deadline, kiln_cval *res)
{
    uint32_t rep = p2_pollable_new(ctx, deadline);
    if (!rep) return p2_fail(cx, "out of memory");
    res[0].res.rep = rep;
    res[0].res.type = NULL;
    return 0;
}

static int subscribe_instant(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    return subscribe(cx, ctx, args[0].u ? args[0].u : 1, res);
}

static int subscribe_duration(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    uint64_t now = p2_monotonic_now(), d = args[0].u;
    return subscribe(cx, ctx, d > UINT64_MAX - now ? UINT64_MAX : now + d, res);
}

static const kiln_chost_func mono_funcs[] = {
    {"now", "() -> u64", mono_now},
    {"resolution", "() -> u64", mono_resolution},
    {"subscribe-instant", "(u64) -> own<pollable>", subscribe_instant},
    {"subscribe-duration", "(u64) -> own<pollable>", subscribe_duration},
};
const kiln_chost_iface kiln_wasip2_clocks_monotonic = {
    "wasi:clocks/monotonic-clock", KILN_WASIP2_VERSION, NULL, 0, mono_funcs, 4};
