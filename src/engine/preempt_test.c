/* Unit tests of preemption (kiln_rt_call_preempt): a guest past its running-slice budget is
 * not stopped but handed to a hook on its own stack, which moves its fiber to another
 * thread; the guest then goes on exactly where it was. Real wasm2c code preempted at any
 * instruction (an integer and floating-point loop whose result must come out as computed
 * in C), a "guest" preempted at the return of a host function, a time limit that still
 * stops a moved guest, and a hook that keeps the guest where it is (a new slice). */
#include "engine/engine.h"
#include "engine/fiber.h"
#include "engine/runtime.h"
#include "util/test.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* mix(n): a loop with an i64 and an f64 accumulator, all in locals (registers). */
static const char *wat =
    "(module\n"
    "  (func (export \"mix\") (param $n i64) (result i64)\n"
    "    (local $i i64) (local $acc i64) (local $f f64)\n"
    "    (block $done (loop $l\n"
    "      (br_if $done (i64.ge_u (local.get $i) (local.get $n)))\n"
    "      (local.set $acc (i64.add (i64.mul (local.get $acc) (i64.const 6364136223846793005))\n"
    "                               (local.get $i)))\n"
    "      (local.set $f (f64.add (f64.mul (local.get $f) (f64.const 0.5))\n"
    "                             (f64.convert_i64_u (i64.and (local.get $i) (i64.const 1023)))))\n"
    "      (local.set $i (i64.add (local.get $i) (i64.const 1)))\n"
    "      (br $l)))\n"
    "    (i64.add (local.get $acc) (i64.trunc_f64_s (f64.mul (local.get $f) (f64.const 1000)))))\n"
    "  (func (export \"loop\") (loop $l (br $l))))\n";

static uint64_t mix_in_c(uint64_t n)
{
    uint64_t acc = 0;
    double f = 0;
    for (uint64_t i = 0; i < n; i++) {
        acc = acc * 6364136223846793005ull + i;
        f = f * 0.5 + (double)(i & 1023);
    }
    return acc + (uint64_t)(int64_t)(f * 1000);
}

static kiln_module *module;

static kiln_module *load(const char *dir)
{
    char path[256], cmd[600];
    snprintf(path, sizeof path, "%s/p.wat", dir);
    FILE *f = fopen(path, "w");
    if (!f) return NULL;
    fputs(wat, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "wat2wasm %s/p.wat -o %s/p.wasm", dir, dir);
    if (system(cmd) != 0) return NULL;
    snprintf(path, sizeof path, "%s/p.wasm", dir);
    kiln_compile_opts o = {.tier = KILN_TIER_FAST, .cache_dir = dir};
    kiln_err err;
    kiln_module *m = kiln_module_load_file(path, &o, NULL, &err);
    if (!m) fprintf(stderr, "%s\n", err.msg);
    return m;
}

/* ---- a second thread that resumes fibers handed to it ---- */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static kiln_fiber *mailbox;
static int other_done;

static void *other_main(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&lock);
        while (!mailbox && !other_done)
            pthread_cond_wait(&cond, &lock);
        kiln_fiber *f = mailbox;
        mailbox = NULL;
        int done = other_done;
        pthread_mutex_unlock(&lock);
        if (f && kiln_fiber_resume(f) == KILN_FIBER_DONE) kiln_fiber_free(f);
        if (done && !f) return NULL;
    }
}

static void hand_over(kiln_fiber *f, void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    mailbox = f;
    pthread_cond_signal(&cond);
    pthread_mutex_unlock(&lock);
}

/* ---- the guests ---- */

typedef struct run {
    const char *export_name;
    uint64_t n, timeout_ns, slice_ns;
    int move; /* the hook moves the fiber to the other thread (else: stays, new slice) */
    atomic_int hooks;
    long started_on, ended_on, hooked_on; /* thread ids */
    int rc, inner_rc;
    kiln_trap trap, inner_trap;
    uint64_t result;
    int host_calls; /* for the host-section guest */
} run;

/* The calling thread's id (pthread_self() is a const function: the compiler may reuse its
 * value across a fiber's move to another thread). */
static long tid(void)
{
    return syscall(SYS_gettid);
}

static void hook(void *arg)
{
    run *r = arg;
    if (atomic_fetch_add(&r->hooks, 1) == 0) r->hooked_on = tid();
    if (r->move && kiln_fiber_current()) {
        kiln_fiber_park_then(hand_over, NULL);
        kiln_rt_slice_budget(0); /* on the other thread: no budget any more */
    }
}

static void call_export(void *arg)
{
    run *r = arg;
    kiln_instance *inst = kiln_instance_alloc(module);
    kiln_trap t;
    if (!inst || kiln_instance_init(inst, NULL, &t) < 0) {
        r->inner_rc = -2;
        return;
    }
    kiln_val v[2] = {{0}};
    v[0].i64 = (int64_t)r->n;
    long i = kiln_module_export_index(module, r->export_name);
    r->inner_rc = kiln_instance_call_timeout(inst, i, v, &r->inner_trap, 0); /* nested */
    r->result = (uint64_t)v[0].i64;
    kiln_instance_free(inst);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A "guest" that is all host calls (C code here: preempted only where a host function
 * returns): spins 300 ms in short host sections. */
static void host_calls(void *arg)
{
    run *r = arg;
    uint64_t end = now_ns() + 300000000;
    while (now_ns() < end) {
        kiln_rt_host_enter();
        r->host_calls++;
        kiln_rt_host_leave();
    }
}

static void fiber_main(void *arg)
{
    run *r = arg;
    r->started_on = tid();
    r->rc = kiln_rt_call_preempt(r->export_name ? call_export : host_calls, r, &r->trap,
                                 r->timeout_ns, r->slice_ns, hook, r);
    r->ended_on = tid();
}

/* Runs r on a fiber of this thread; a hook that moves it hands it to the other thread. */
static void run_on_fiber(run *r)
{
    pthread_t th;
    other_done = 0;
    CHECK_INT(pthread_create(&th, NULL, other_main, NULL), 0);
    kiln_fiber *f = kiln_fiber_new(fiber_main, r);
    CHECK(f != NULL);
    if (f && kiln_fiber_resume(f) == KILN_FIBER_DONE) kiln_fiber_free(f);
    pthread_mutex_lock(&lock);
    other_done = 1;
    pthread_cond_signal(&cond);
    pthread_mutex_unlock(&lock);
    pthread_join(th, NULL);
}

static void test_wasm_moves(void)
{
    uint64_t n = 60000000; /* a few hundred ms on the fast tier */
    run r = {
        .export_name = "mix", .n = n, .timeout_ns = 30000000000ull, .slice_ns = 5000000, .move = 1};
    run_on_fiber(&r);
    CHECK_INT(r.rc, 0);
    CHECK_INT(r.inner_rc, 0);
    CHECK(atomic_load(&r.hooks) >= 1);
    CHECK(r.hooked_on == r.started_on);
    CHECK(r.ended_on != r.started_on); /* it went on on the other thread */
    CHECK(r.result == mix_in_c(n));    /* every register came back */
    if (r.result != mix_in_c(n))
        fprintf(stderr, "  mix: %llu, want %llu\n", (unsigned long long)r.result,
                (unsigned long long)mix_in_c(n));
}

static void test_wasm_stays(void)
{
    /* A hook that does not move the guest: it runs on with new slices, hooked again. */
    uint64_t n = 60000000;
    run r = {.export_name = "mix", .n = n, .timeout_ns = 30000000000ull, .slice_ns = 5000000};
    run_on_fiber(&r);
    CHECK_INT(r.rc, 0);
    CHECK(atomic_load(&r.hooks) >= 2);
    CHECK(r.ended_on == r.started_on);
    CHECK(r.result == mix_in_c(n));
}

static void test_timeout_after_move(void)
{
    /* The slice is CPU time and the timeout wall-clock time: on a loaded machine the thread
     * may get little CPU, so the timeout leaves room for a 5 ms slice to be used up first. */
    run r = {.export_name = "loop", .timeout_ns = 1500000000, .slice_ns = 5000000, .move = 1};
    uint64_t t0 = now_ns();
    run_on_fiber(&r);
    CHECK_INT(r.inner_rc, -1);
    CHECK_INT(r.inner_trap.kind, KILN_TRAP_INTERRUPTED);
    CHECK_INT(atomic_load(&r.hooks), 1);
    CHECK(r.ended_on != r.started_on);
    CHECK(now_ns() - t0 < 10000000000ull);
}

static void test_host_return(void)
{
    run r = {.timeout_ns = 30000000000ull, .slice_ns = 5000000, .move = 1};
    run_on_fiber(&r);
    CHECK_INT(r.rc, 0);
    CHECK_INT(atomic_load(&r.hooks), 1);
    CHECK(r.ended_on != r.started_on);
    CHECK(r.host_calls > 0);
}

static void test_no_hook_still_traps(void)
{
    run r = {.export_name = "loop", .timeout_ns = 30000000000ull, .slice_ns = 5000000};
    r.rc = kiln_rt_call_budget(call_export, &r, &r.trap, r.timeout_ns, r.slice_ns);
    CHECK_INT(r.inner_rc, -1);
    CHECK_INT(r.inner_trap.kind, KILN_TRAP_BUDGET);
}

int main(void)
{
    CHECK_INT(kiln_rt_init(), 0); /* before the module: its code is guest code */
    char dir[] = "/tmp/kiln-preempt-test.XXXXXX";
    if (!mkdtemp(dir)) return 1;
    module = load(dir);
    CHECK(module != NULL);
    if (module) {
        test_wasm_moves();
        test_wasm_stays();
        test_timeout_after_move();
        test_no_hook_still_traps();
    }
    test_host_return();
    if (module) kiln_module_free(module);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) return 1;
    return test_finish("preempt");
}
