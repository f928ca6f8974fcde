/* resources_test.c — handle tables: resource.new/rep/drop, destructors (host and guest),
 * index reuse, wrong types and forged indices, own/borrow life cycles across call scopes
 * (lends, borrows that must be dropped before the call ends), copies of a table at rest
 * (kiln_resources_clone: same handles and free list, types mapped; refused mid-call). */
#include "component/resources.h"
#include "util/test.h"

#include <stdint.h>

static uint32_t dtor_reps[16];
static int ndtor;
static void *dtor_seen;

static void host_dtor(void *ctx, uint32_t rep)
{
    dtor_seen = ctx;
    if (ndtor < 16) dtor_reps[ndtor] = rep;
    ndtor++;
}

static void guest_dtor(void *native, uint32_t rep)
{
    host_dtor(native, rep);
}

static char err[256];

static void test_new_rep_drop(void)
{
    kiln_resources *r = kiln_resources_new();
    CHECK(r != NULL);
    int ctx;
    kiln_resource_type file, sock;
    kiln_resource_type_init_host(&file, "file", host_dtor, &ctx);
    kiln_resource_type_init_host(&sock, "socket", NULL, NULL);
    uint32_t h1, h2, h3, rep;
    CHECK_INT(kiln_resource_new(r, &file, 100, &h1, err, sizeof err), 0);
    CHECK_INT(kiln_resource_new(r, &file, 200, &h2, err, sizeof err), 0);
    CHECK_INT(kiln_resource_new(r, &sock, 300, &h3, err, sizeof err), 0);
    CHECK_INT(h1, 1); /* index 0 is never used */
    CHECK_INT(h2, 2);
    CHECK_INT(h3, 3);
    CHECK_INT(kiln_resources_count(r), 3);
    CHECK_INT(kiln_resource_rep(r, &file, h2, &rep, err, sizeof err), 0);
    CHECK_INT(rep, 200);
    /* wrong type, forged indices */
    CHECK_INT(kiln_resource_rep(r, &sock, h2, &rep, err, sizeof err), -1);
    CHECK(strstr(err, "not a socket") != NULL);
    CHECK_INT(kiln_resource_drop(r, &sock, h1, err, sizeof err), -1);
    const uint32_t forged[] = {0, 4, 1000, 0x7fffffff, 0xffffffffu};
    int all = 1;
    for (size_t i = 0; i < sizeof forged / sizeof forged[0]; i++) {
        all &= kiln_resource_rep(r, &file, forged[i], &rep, err, sizeof err) == -1;
        all &= kiln_resource_drop(r, &file, forged[i], err, sizeof err) == -1;
        all &= kiln_resources_lift_own(r, &file, forged[i], &rep, err, sizeof err) == -1;
    }
    CHECK(all);
    CHECK(strstr(err, "unknown handle") != NULL);
    /* drop runs the destructor with the rep and the host context */
    CHECK_INT(kiln_resource_drop(r, &file, h1, err, sizeof err), 0);
    CHECK_INT(ndtor, 1);
    CHECK_INT(dtor_reps[0], 100);
    CHECK(dtor_seen == &ctx);
    CHECK_INT(kiln_resource_drop(r, &file, h1, err, sizeof err), -1); /* twice */
    CHECK_INT(kiln_resource_rep(r, &file, h1, &rep, err, sizeof err), -1);
    CHECK_INT(ndtor, 1);
    /* index reuse: the most recently freed first */
    CHECK_INT(kiln_resource_drop(r, &file, h2, err, sizeof err), 0);
    CHECK_INT(kiln_resource_drop(r, &sock, h3, err, sizeof err), 0); /* no destructor */
    CHECK_INT(ndtor, 2);
    uint32_t a, b, c, d;
    CHECK_INT(kiln_resource_new(r, &file, 1, &a, err, sizeof err), 0);
    CHECK_INT(kiln_resource_new(r, &file, 2, &b, err, sizeof err), 0);
    CHECK_INT(kiln_resource_new(r, &file, 3, &c, err, sizeof err), 0);
    CHECK_INT(kiln_resource_new(r, &file, 4, &d, err, sizeof err), 0);
    CHECK_INT(a, 3);
    CHECK_INT(b, 2);
    CHECK_INT(c, 1);
    CHECK_INT(d, 4);
    CHECK_INT(kiln_resources_count(r), 4);
    kiln_resources_free(r);
}

static void test_guest_dtor(void)
{
    kiln_resources *impl = kiln_resources_new(), *user = kiln_resources_new();
    CHECK(impl && user);
    int native;
    kiln_resource_type t;
    kiln_resource_type_init_guest(&t, "blob", impl, guest_dtor, &native);
    ndtor = 0;
    uint32_t h, rep, h2;
    CHECK_INT(kiln_resource_new(impl, &t, 77, &h, err, sizeof err), 0);
    /* passed as own to another instance: the handle moves */
    CHECK_INT(kiln_resources_lift_own(impl, &t, h, &rep, err, sizeof err), 0);
    CHECK_INT(rep, 77);
    CHECK_INT(kiln_resources_count(impl), 0);
    CHECK_INT(kiln_resources_lower_own(user, &t, rep, &h2, err, sizeof err), 0);
    /* dropped there: the defining instance's destructor runs with its native */
    CHECK_INT(kiln_resource_drop(user, &t, h2, err, sizeof err), 0);
    CHECK_INT(ndtor, 1);
    CHECK_INT(dtor_reps[0], 77);
    CHECK(dtor_seen == &native);
    /* kiln_resource_destroy for hosts dropping a lifted own */
    kiln_resource_destroy(&t, 5);
    CHECK_INT(ndtor, 2);
    /* lowering a borrow into the implementing instance passes the rep itself */
    CHECK_INT(kiln_resources_lower_borrow(impl, &t, 1234, &h, err, sizeof err), 0);
    CHECK_INT(h, 1234);
    CHECK_INT(kiln_resources_count(impl), 0);
    kiln_resources_free(impl);
    kiln_resources_free(user);
}

/* A guest calls out with borrow<T> arguments (canon lower): its handles are lent. */
static void test_lends(void)
{
    kiln_resources *r = kiln_resources_new();
    kiln_resource_type t;
    kiln_resource_type_init_host(&t, "file", host_dtor, NULL);
    ndtor = 0;
    uint32_t h, rep, h2;
    CHECK_INT(kiln_resource_new(r, &t, 9, &h, err, sizeof err), 0);
    /* outside a call a borrow cannot be lifted */
    CHECK_INT(kiln_resources_lift_borrow(r, &t, h, &rep, err, sizeof err), -1);
    CHECK_INT(kiln_resources_call_begin(r, err, sizeof err), 0);
    CHECK_INT(kiln_resources_lift_borrow(r, &t, h, &rep, err, sizeof err), 0);
    CHECK_INT(rep, 9);
    CHECK_INT(kiln_resources_lift_borrow(r, &t, h, &rep, err, sizeof err), 0); /* twice */
    /* while lent: no drop, no move */
    CHECK_INT(kiln_resource_drop(r, &t, h, err, sizeof err), -1);
    CHECK(strstr(err, "lent") != NULL);
    CHECK_INT(kiln_resources_lift_own(r, &t, h, &rep, err, sizeof err), -1);
    CHECK(strstr(err, "lent") != NULL);
    CHECK_INT(ndtor, 0);
    CHECK_INT(kiln_resource_rep(r, &t, h, &rep, err, sizeof err), 0); /* still usable */
    /* wrong type or forged: trap, nothing lent */
    kiln_resource_type u;
    kiln_resource_type_init_host(&u, "other", NULL, NULL);
    CHECK_INT(kiln_resources_lift_borrow(r, &u, h, &rep, err, sizeof err), -1);
    CHECK_INT(kiln_resources_lift_borrow(r, &t, 0xdeadbeef, &rep, err, sizeof err), -1);
    /* the call ends: both lends released */
    CHECK_INT(kiln_resources_call_end(r, err, sizeof err), 0);
    CHECK_INT(kiln_resources_call_depth(r), 0);
    CHECK_INT(kiln_resources_lift_own(r, &t, h, &rep, err, sizeof err), 0);
    CHECK_INT(rep, 9);
    CHECK_INT(kiln_resources_lower_own(r, &t, rep, &h2, err, sizeof err), 0);
    CHECK_INT(kiln_resource_drop(r, &t, h2, err, sizeof err), 0);
    CHECK_INT(ndtor, 1);
    CHECK_INT(kiln_resources_call_end(r, err, sizeof err), -1); /* no call to end */
    kiln_resources_free(r);
}

/* A guest is called with borrow<T> arguments (canon lift): borrow handles for the call. */
static void test_borrows(void)
{
    kiln_resources *r = kiln_resources_new();
    kiln_resource_type t;
    kiln_resource_type_init_host(&t, "file", host_dtor, NULL);
    ndtor = 0;
    uint32_t b, rep, h;
    /* outside a call: refused */
    CHECK_INT(kiln_resources_lower_borrow(r, &t, 5, &b, err, sizeof err), -1);
    /* dropped in time: fine, no destructor */
    CHECK_INT(kiln_resources_call_begin(r, err, sizeof err), 0);
    CHECK_INT(kiln_resources_lower_borrow(r, &t, 5, &b, err, sizeof err), 0);
    CHECK_INT(kiln_resource_rep(r, &t, b, &rep, err, sizeof err), 0);
    CHECK_INT(rep, 5);
    CHECK_INT(kiln_resources_lift_own(r, &t, b, &rep, err, sizeof err), -1); /* not an own */
    CHECK(strstr(err, "borrow") != NULL);
    CHECK_INT(kiln_resource_drop(r, &t, b, err, sizeof err), 0);
    CHECK_INT(ndtor, 0);
    CHECK_INT(kiln_resources_call_end(r, err, sizeof err), 0);
    /* a borrow outliving its call: trap at the end, and the handle is gone */
    CHECK_INT(kiln_resources_call_begin(r, err, sizeof err), 0);
    CHECK_INT(kiln_resources_lower_borrow(r, &t, 6, &b, err, sizeof err), 0);
    CHECK_INT(kiln_resources_lower_borrow(r, &t, 7, &h, err, sizeof err), 0);
    CHECK_INT(kiln_resource_drop(r, &t, h, err, sizeof err), 0);
    CHECK_INT(kiln_resources_call_end(r, err, sizeof err), -1);
    CHECK(strstr(err, "not dropped") != NULL);
    CHECK_INT(kiln_resources_count(r), 0);
    CHECK_INT(kiln_resource_drop(r, &t, b, err, sizeof err), -1); /* stale after the call */
    CHECK_INT(kiln_resources_call_depth(r), 0);
    CHECK_INT(ndtor, 0);
    /* nested calls: a borrow of the outer call dropped inside an inner one, and a
     * borrow handle lent onwards (it cannot be dropped while lent) */
    CHECK_INT(kiln_resources_call_begin(r, err, sizeof err), 0);
    CHECK_INT(kiln_resources_lower_borrow(r, &t, 8, &b, err, sizeof err), 0);
    CHECK_INT(kiln_resources_call_begin(r, err, sizeof err), 0);
    CHECK_INT(kiln_resources_lift_borrow(r, &t, b, &rep, err, sizeof err), 0);
    CHECK_INT(kiln_resource_drop(r, &t, b, err, sizeof err), -1);
    CHECK_INT(kiln_resources_call_end(r, err, sizeof err), 0);
    CHECK_INT(kiln_resource_drop(r, &t, b, err, sizeof err), 0);
    CHECK_INT(kiln_resources_call_end(r, err, sizeof err), 0);
    /* an outer-scope borrow left over does not fail an inner call's end */
    CHECK_INT(kiln_resources_call_begin(r, err, sizeof err), 0);
    CHECK_INT(kiln_resources_lower_borrow(r, &t, 9, &b, err, sizeof err), 0);
    CHECK_INT(kiln_resources_call_begin(r, err, sizeof err), 0);
    CHECK_INT(kiln_resources_call_end(r, err, sizeof err), 0);
    CHECK_INT(kiln_resources_call_end(r, err, sizeof err), -1);
    kiln_resources_free(r);
}

static void test_many(void)
{
    kiln_resources *r = kiln_resources_new();
    kiln_resource_type t;
    kiln_resource_type_init_host(&t, "x", NULL, NULL);
    uint32_t h = 0, rep;
    int ok = 1;
    for (uint32_t i = 0; i < 10000; i++)
        ok &= kiln_resource_new(r, &t, i, &h, err, sizeof err) == 0 && h == i + 1;
    CHECK(ok);
    for (uint32_t i = 1; i <= 10000; i += 2)
        ok &= kiln_resource_drop(r, &t, i, err, sizeof err) == 0;
    CHECK(ok);
    CHECK_INT(kiln_resources_count(r), 5000);
    CHECK_INT(kiln_resource_rep(r, &t, 10000, &rep, err, sizeof err), 0);
    CHECK_INT(rep, 9999);
    CHECK_INT(kiln_resource_rep(r, &t, 9999, &rep, err, sizeof err), -1);
    kiln_resources_free(r);
}

/* The clone's map: type a -> b (arg), anything else refused. */
static const kiln_resource_type *map_to(void *arg, const kiln_resource_type *t)
{
    const kiln_resource_type **ab = arg;
    return t == ab[0] ? ab[1] : NULL;
}

static void test_clone(void)
{
    kiln_resources *r = kiln_resources_new();
    kiln_resource_type a, b, other;
    kiln_resource_type_init_host(&a, "a", NULL, NULL);
    kiln_resource_type_init_host(&b, "b", NULL, NULL);
    kiln_resource_type_init_host(&other, "other", NULL, NULL);
    const kiln_resource_type *ab[2] = {&a, &b};
    /* an empty table copies */
    kiln_resources *c = kiln_resources_clone(r, map_to, ab, err, sizeof err);
    CHECK(c != NULL && kiln_resources_count(c) == 0);
    kiln_resources_free(c);
    uint32_t h1, h2, h3, rep;
    CHECK_INT(kiln_resource_new(r, &a, 10, &h1, err, sizeof err), 0);
    CHECK_INT(kiln_resource_new(r, &a, 20, &h2, err, sizeof err), 0);
    CHECK_INT(kiln_resource_drop(r, &a, h1, err, sizeof err), 0); /* index 1 free */
    c = kiln_resources_clone(r, map_to, ab, err, sizeof err);
    CHECK(c != NULL);
    if (c) {
        CHECK_INT(kiln_resources_count(c), 1);
        CHECK_INT(kiln_resource_rep(c, &b, h2, &rep, err, sizeof err), 0); /* mapped type */
        CHECK_INT(rep, 20);
        CHECK_INT(kiln_resource_rep(c, &a, h2, &rep, err, sizeof err), -1);
        CHECK_INT(kiln_resource_new(c, &b, 30, &h3, err, sizeof err), 0);
        CHECK_INT(h3, h1); /* the free list came along */
        CHECK_INT(kiln_resource_drop(c, &b, h2, err, sizeof err), 0);
        CHECK_INT(kiln_resource_rep(r, &a, h2, &rep, err, sizeof err), 0); /* r untouched */
        kiln_resources_free(c);
    }
    /* a type the map refuses, a call in progress (with a lent handle): no copy */
    CHECK_INT(kiln_resource_new(r, &other, 1, &h3, err, sizeof err), 0);
    CHECK(kiln_resources_clone(r, map_to, ab, err, sizeof err) == NULL);
    CHECK_INT(kiln_resource_drop(r, &other, h3, err, sizeof err), 0);
    CHECK_INT(kiln_resources_call_begin(r, err, sizeof err), 0);
    CHECK(kiln_resources_clone(r, map_to, ab, err, sizeof err) == NULL);
    CHECK(strstr(err, "call") != NULL);
    CHECK_INT(kiln_resources_lift_borrow(r, &a, h2, &rep, err, sizeof err), 0);
    CHECK_INT(kiln_resources_call_end(r, err, sizeof err), 0);
    c = kiln_resources_clone(r, map_to, ab, err, sizeof err); /* at rest again: copies */
    CHECK(c != NULL);
    kiln_resources_free(c);
    kiln_resources_free(r);
}

int main(void)
{
    test_new_rep_drop();
    test_guest_dtor();
    test_lends();
    test_borrows();
    test_many();
    test_clone();
    return test_finish("resources_test");
}
