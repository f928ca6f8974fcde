/* random.c — wasi:random 0.2: random, insecure, insecure-seed (wasip2.h). */
#include "host/wasip2/wasip2.h"

#include <errno.h>
#include <sys/random.h>

/* Fills buf from the kernel's CSPRNG; 0, or -1 with cx->err. */
static int fill(kiln_cabi_cx *cx, void *buf, size_t n)
{
    size_t done = 0;
    while (done < n) {
        ssize_t k = getrandom((char *)buf + done, n - done, 0);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return p2_fail(cx, "getrandom failed");
        done += (size_t)k;
    }
    return 0;
}

/* At most this many random bytes per call (the guest asks again for more). */
#define MAX_BYTES (1u << 20)

static int random_bytes(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    if (args[0].u > MAX_BYTES)
        return p2_fail(cx, "get-random-bytes: %llu bytes is too many",
                       (unsigned long long)args[0].u);
    size_t n = (size_t)args[0].u;
    char *p = kiln_cabi_alloc(cx, n ? n : 1);
    if (!p) return p2_fail(cx, "out of memory");
    if (fill(cx, p, n) < 0) return -1;
    return p2_bytes_list(cx, &res[0], (const uint8_t *)p, n);
}

static int random_u64(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    return fill(cx, &res[0].u, sizeof res[0].u);
}

static int seed(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    kiln_cval *t = kiln_cabi_alloc(cx, 2 * sizeof *t);
    if (!t) return p2_fail(cx, "out of memory");
    if (fill(cx, &t[0].u, 8) < 0 || fill(cx, &t[1].u, 8) < 0) return -1;
    res[0].agg.items = t;
    res[0].agg.n = 2;
    return 0;
}

static const kiln_chost_func random_funcs[] = {
    {"get-random-bytes", "(u64) -> list<u8>", random_bytes},
    {"get-random-u64", "() -> u64", random_u64},
};
const kiln_chost_iface kiln_wasip2_random_random = {
    "wasi:random/random", KILN_WASIP2_VERSION, NULL, 0, random_funcs, 2};
static const kiln_chost_func insecure_funcs[] = {
    {"get-insecure-random-bytes", "(u64) -> list<u8>", random_bytes},
    {"get-insecure-random-u64", "() -> u64", random_u64},
};
const kiln_chost_iface kiln_wasip2_random_insecure = {
    "wasi:random/insecure", KILN_WASIP2_VERSION, NULL, 0, insecure_funcs, 2};
static const kiln_chost_func seed_funcs[] = {{"insecure-seed", "() -> tuple<u64, u64>", seed}};
const kiln_chost_iface kiln_wasip2_random_insecure_seed = {
    "wasi:random/insecure-seed", KILN_WASIP2_VERSION, NULL, 0, seed_funcs, 1};
