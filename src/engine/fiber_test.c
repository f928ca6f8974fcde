/* Unit tests of fibers and the waiting API: park/resume, many parked fibers, guest calls
 * on fibers (traps, stack overflow and time limits stay the fiber's own, also when a fiber
 * moves to another thread), and waits through a reference scheduler (a poll loop over
 * waiting fibers) or blocking where there is none.
 *
 * KILN_FIBER_BENCH=1 also prints the cost of a switch, of new+resume+free, and the memory
 * of a parked fiber (measurements only, never checked). */
#include "engine/engine.h"
#include "engine/fiber.h"
#include "engine/runtime.h"
#include "util/alloc.h"
#include "util/test.h"

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- a reference scheduler: what an event loop does, in ~100 lines ---- */

typedef struct waiter {
    kiln_fiber *f;
    kiln_wait_req req;
} waiter;

typedef struct ref_sched {
    kiln_sched base;
    int efd; /* wakes the loop from other threads */
    pthread_mutex_t lock;
    kiln_fiber **ready; /* under lock */
    size_t nready, cap_ready;
    waiter *waits; /* loop thread only */
    size_t nwaits, cap_waits;
    int live;       /* fibers not done */
    int max_parked; /* most fibers parked at once */
} ref_sched;

static void rs_wait(kiln_sched *s, kiln_fiber *f, const kiln_wait_req *req)
{
    ref_sched *rs = (ref_sched *)s;
    if (rs->nwaits == rs->cap_waits) {
        rs->cap_waits = rs->cap_waits ? 2 * rs->cap_waits : 64;
        rs->waits = kiln_realloc(rs->waits, rs->cap_waits * sizeof *rs->waits);
        if (!rs->waits) abort();
    }
    rs->waits[rs->nwaits++] = (waiter){f, *req};
}

static void rs_push(ref_sched *rs, kiln_fiber *f)
{
    pthread_mutex_lock(&rs->lock);
    if (rs->nready == rs->cap_ready) {
        rs->cap_ready = rs->cap_ready ? 2 * rs->cap_ready : 64;
        rs->ready = kiln_realloc(rs->ready, rs->cap_ready * sizeof *rs->ready);
        if (!rs->ready) abort();
    }
    rs->ready[rs->nready++] = f;
    pthread_mutex_unlock(&rs->lock);
}

static void rs_wake(kiln_sched *s, kiln_fiber *f)
{
    ref_sched *rs = (ref_sched *)s;
    rs_push(rs, f);
    uint64_t one = 1;
    if (write(rs->efd, &one, sizeof one) != sizeof one) abort();
}

static void rs_init(ref_sched *rs)
{
    memset(rs, 0, sizeof *rs);
    rs->base.wait = rs_wait;
    rs->base.wake = rs_wake;
    rs->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (rs->efd < 0) abort();
    pthread_mutex_init(&rs->lock, NULL);
}

static void rs_spawn(ref_sched *rs, void (*fn)(void *), void *arg)
{
    kiln_fiber *f = kiln_fiber_new(fn, arg);
    if (!f) abort();
    rs->live++;
    rs_push(rs, f);
}

/* Runs until every spawned fiber is done. */
static void rs_run(ref_sched *rs)
{
    kiln_sched_bind(&rs->base);
    struct pollfd *pfds = NULL;
    size_t cap_pfds = 0;
    while (rs->live > 0) {
        pthread_mutex_lock(&rs->lock);
        kiln_fiber **batch = rs->ready;
        size_t n = rs->nready;
        rs->ready = NULL;
        rs->nready = rs->cap_ready = 0;
        pthread_mutex_unlock(&rs->lock);
        for (size_t i = 0; i < n; i++) {
            if (kiln_fiber_resume(batch[i]) == KILN_FIBER_DONE) {
                kiln_fiber_free(batch[i]);
                rs->live--;
            }
        }
        kiln_free(batch);
        if (rs->live == 0) break;
        pthread_mutex_lock(&rs->lock);
        int runnable = rs->nready > 0;
        pthread_mutex_unlock(&rs->lock);
        if (!runnable && rs->live > rs->max_parked) rs->max_parked = rs->live;
        /* Poll the eventfd and the fds waited on, until the earliest deadline. */
        if (cap_pfds < rs->nwaits + 1) {
            cap_pfds = rs->nwaits + 1;
            pfds = kiln_realloc(pfds, cap_pfds * sizeof *pfds);
            if (!pfds) abort();
        }
        pfds[0] = (struct pollfd){.fd = rs->efd, .events = POLLIN};
        uint64_t first = UINT64_MAX;
        for (size_t i = 0; i < rs->nwaits; i++) {
            waiter *w = &rs->waits[i];
            pfds[i + 1] = (struct pollfd){.fd = w->req.kind == KILN_WAIT_FD ? w->req.fd : -1,
                                          .events = w->req.events};
            if (w->req.deadline_ns < first) first = w->req.deadline_ns;
        }
        uint64_t now = now_ns();
        struct timespec ts, *tsp = NULL;
        if (runnable) first = now;
        if (first != UINT64_MAX) {
            uint64_t left = first > now ? first - now : 0;
            ts = (struct timespec){(time_t)(left / 1000000000u), (long)(left % 1000000000u)};
            tsp = &ts;
        }
        int r = ppoll(pfds, rs->nwaits + 1, tsp, NULL);
        if (r < 0) continue; /* EINTR */
        uint64_t drain;
        if (pfds[0].revents && read(rs->efd, &drain, sizeof drain) < 0) {
        }
        now = now_ns();
        size_t keep = 0, nw = rs->nwaits;
        for (size_t i = 0; i < nw; i++) {
            waiter w = rs->waits[i];
            int result = -1;
            if (pfds[i + 1].revents)
                result = pfds[i + 1].revents;
            else if (now >= w.req.deadline_ns)
                result = 0;
            if (result < 0)
                rs->waits[keep++] = w;
            else
                kiln_sched_complete(w.f, result);
        }
        rs->nwaits = keep;
    }
    kiln_free(pfds);
    kiln_free(rs->waits);
    kiln_free(rs->ready);
    kiln_sched_bind(NULL);
    close(rs->efd);
    pthread_mutex_destroy(&rs->lock);
}

/* ---- basic fibers ---- */

typedef struct counter {
    kiln_fiber *self;
    int steps;
    int saw_self;
} counter;

static void count_three(void *arg)
{
    counter *c = arg;
    for (int i = 0; i < 3; i++) {
        int local = 1000 + i; /* lives on the fiber's stack across the park */
        c->saw_self += kiln_fiber_current() == c->self;
        kiln_fiber_park();
        c->steps += local - 1000 + 1;
    }
}

static void test_basic(void)
{
    counter c = {0};
    kiln_fiber *f = kiln_fiber_new(count_three, &c);
    CHECK(f != NULL);
    if (!f) return;
    c.self = f;
    kiln_fiber_set_data(f, &c);
    CHECK(kiln_fiber_data(f) == &c);
    CHECK(kiln_fiber_current() == NULL);
    CHECK_INT(kiln_fiber_resume(f), KILN_FIBER_PARKED);
    CHECK_INT(kiln_fiber_resume(f), KILN_FIBER_PARKED);
    CHECK_INT(kiln_fiber_resume(f), KILN_FIBER_PARKED);
    CHECK_INT(kiln_fiber_resume(f), KILN_FIBER_DONE);
    CHECK_INT(c.steps, 1 + 2 + 3);
    CHECK_INT(c.saw_self, 3);
    CHECK(kiln_fiber_current() == NULL);
    kiln_fiber_free(f);
    /* A fiber never resumed can be freed; stacks come back from the pool. */
    kiln_fiber_stats s0, s1;
    kiln_fiber_free(kiln_fiber_new(count_three, &c));
    kiln_fiber_stats_get(&s0);
    for (int i = 0; i < 100; i++) {
        counter d = {0};
        kiln_fiber *g = kiln_fiber_new(count_three, &d);
        while (kiln_fiber_resume(g) == KILN_FIBER_PARKED) {
        }
        kiln_fiber_free(g);
    }
    kiln_fiber_stats_get(&s1);
    CHECK_INT(s1.stacks_mapped, s0.stacks_mapped);
}

#define MANY 1000

typedef struct many_arg {
    int id, out;
} many_arg;

static void park_once(void *arg)
{
    many_arg *a = arg;
    volatile int mine[16]; /* some stack that must survive 999 other fibers */
    for (int i = 0; i < 16; i++)
        mine[i] = a->id * 16 + i;
    kiln_fiber_park();
    int ok = 1;
    for (int i = 0; i < 16; i++)
        ok &= mine[i] == a->id * 16 + i;
    a->out = ok ? a->id : -1;
}

static void test_many_parked(void)
{
    static kiln_fiber *f[MANY];
    static many_arg a[MANY];
    int parked = 0, done = 0, right = 0;
    for (int i = 0; i < MANY; i++) {
        a[i] = (many_arg){i, -2};
        f[i] = kiln_fiber_new(park_once, &a[i]);
        if (f[i]) parked += kiln_fiber_resume(f[i]) == KILN_FIBER_PARKED;
    }
    CHECK_INT(parked, MANY);
    for (int i = MANY - 1; i >= 0; i--) { /* in another order than they parked */
        if (!f[i]) continue;
        done += kiln_fiber_resume(f[i]) == KILN_FIBER_DONE;
        right += a[i].out == i;
        kiln_fiber_free(f[i]);
    }
    CHECK_INT(done, MANY);
    CHECK_INT(right, MANY);
}

/* ---- guest calls on fibers (C functions as guests, as in runtime_test.c) ---- */

typedef struct guest_arg {
    int trap_after_park; /* 1: trap when resumed; 0: return */
    int resumed;
} guest_arg;

static void park_in_host_then(void *arg)
{
    guest_arg *g = arg;
    kiln_rt_host_enter();
    kiln_fiber_park();
    kiln_rt_host_leave();
    g->resumed = 1;
    if (g->trap_after_park) wasm_rt_trap(WASM_RT_TRAP_UNREACHABLE);
}

typedef struct call_arg {
    guest_arg g;
    int rc;
    kiln_trap trap;
} call_arg;

static void call_on_fiber(void *arg)
{
    call_arg *c = arg;
    c->rc = kiln_rt_call(park_in_host_then, &c->g, &c->trap);
}

static void trap_now(void *arg)
{
    (void)arg;
    wasm_rt_trap(WASM_RT_TRAP_DIV_BY_ZERO);
}

static void *resume_elsewhere(void *arg)
{
    kiln_fiber *f = arg;
    return (void *)(intptr_t)kiln_fiber_resume(f);
}

/* Two guests parked inside their calls: each trap unwinds to its own call. */
static void test_guest_state_per_fiber(void)
{
    call_arg a = {.g = {.trap_after_park = 1}}, b = {.g = {.trap_after_park = 0}};
    kiln_fiber *fa = kiln_fiber_new(call_on_fiber, &a);
    kiln_fiber *fb = kiln_fiber_new(call_on_fiber, &b);
    CHECK_INT(kiln_fiber_resume(fa), KILN_FIBER_PARKED);
    CHECK_INT(kiln_fiber_resume(fb), KILN_FIBER_PARKED);
    CHECK_INT(kiln_fiber_resume(fa), KILN_FIBER_DONE); /* traps to a's call */
    CHECK_INT(a.rc, -1);
    CHECK_INT(a.trap.kind, KILN_TRAP_UNREACHABLE);
    CHECK_INT(kiln_fiber_resume(fb), KILN_FIBER_DONE);
    CHECK_INT(b.rc, 0);
    CHECK_INT(b.g.resumed, 1);
    kiln_fiber_free(fa);
    kiln_fiber_free(fb);

    /* Parked on one thread, resumed (and trapping) on another. */
    call_arg c = {.g = {.trap_after_park = 1}};
    kiln_fiber *fc = kiln_fiber_new(call_on_fiber, &c);
    pthread_t th;
    void *ret = NULL;
    CHECK_INT(kiln_fiber_resume(fc), KILN_FIBER_PARKED);
    CHECK_INT(pthread_create(&th, NULL, resume_elsewhere, fc), 0);
    pthread_join(th, &ret);
    CHECK_INT((intptr_t)ret, KILN_FIBER_DONE);
    CHECK_INT(c.rc, -1);
    CHECK_INT(c.trap.kind, KILN_TRAP_UNREACHABLE);
    kiln_fiber_free(fc);
    /* And this thread's own guest calls are unaffected. */
    kiln_trap t;
    CHECK_INT(kiln_rt_call(trap_now, NULL, &t), -1);
    CHECK_INT(t.kind, KILN_TRAP_DIV_BY_ZERO);
}

/* ---- real guests (wasm2c code) on fibers ---- */

static const char *wat = "(module\n"
                         "  (global $n (mut i32) (i32.const 0))\n"
                         "  (func (export \"inc\") (result i32)\n"
                         "    (global.set $n (i32.add (global.get $n) (i32.const 1)))\n"
                         "    (global.get $n))\n"
                         "  (func (export \"trap\") unreachable)\n"
                         "  (func $rec (export \"rec\") (param i32) (result i32)\n"
                         "    (i32.add (call $rec (i32.add (local.get 0) (i32.const 1)))\n"
                         "             (local.get 0)))\n"
                         "  (func (export \"loop\") (loop $l (br $l)))\n";

/* Frames larger than the guard (BIG_LOCALS i64 locals: 160 KiB) must not skip it. */
#define BIG_LOCALS 20000
static const char *wat_big_body =
    "    (local.set %d (i64.extend_i32_u (local.get 0)))\n"
    "    (i64.add (call $big (i32.add (local.get 0) (i32.const 1))) (local.get %d))))\n";

static kiln_module *module;

static kiln_module *load(const char *dir)
{
    char path[256], cmd[600];
    snprintf(path, sizeof path, "%s/m.wat", dir);
    FILE *f = fopen(path, "w");
    if (!f) return NULL;
    fputs(wat, f);
    fputs("  (func $big (export \"big\") (param i32) (result i64) (local", f);
    for (int i = 0; i < BIG_LOCALS; i++)
        fputs(" i64", f);
    fputs(")\n", f);
    fprintf(f, wat_big_body, BIG_LOCALS, BIG_LOCALS);
    fclose(f);
    snprintf(cmd, sizeof cmd, "wat2wasm %s/m.wat -o %s/m.wasm", dir, dir);
    if (system(cmd) != 0) return NULL;
    snprintf(path, sizeof path, "%s/m.wasm", dir);
    kiln_compile_opts o = {.tier = KILN_TIER_FAST, .cache_dir = dir};
    kiln_err err;
    kiln_module *m = kiln_module_load_file(path, &o, NULL, &err);
    if (!m) fprintf(stderr, "%s\n", err.msg);
    return m;
}

/* Calls export name; the result, or -1000 - trap kind. */
static int call_export(kiln_instance *inst, const char *name, uint64_t timeout_ns)
{
    kiln_val v[2] = {{0}};
    kiln_trap t;
    long i = kiln_module_export_index(module, name);
    if (kiln_instance_call_timeout(inst, i, v, &t, timeout_ns) < 0) return -1000 - (int)t.kind;
    return (int)v[0].i32;
}

typedef struct wasm_job {
    const char *script; /* one letter per step: i inc, t trap, r rec, l loop; p park */
    int results[8];
    int n;
} wasm_job;

static void run_script(void *arg)
{
    wasm_job *j = arg;
    kiln_instance *inst = kiln_instance_alloc(module);
    kiln_trap t;
    if (!inst || kiln_instance_init(inst, NULL, &t) < 0) {
        j->n = -1;
        return;
    }
    for (const char *s = j->script; *s && j->n < 8; s++) {
        switch (*s) {
        case 'p':
            kiln_fiber_park();
            break;
        case 'i':
            j->results[j->n++] = call_export(inst, "inc", 0);
            break;
        case 't':
            j->results[j->n++] = call_export(inst, "trap", 0);
            break;
        case 'r':
            j->results[j->n++] = call_export(inst, "rec", 0);
            break;
        case 'l':
            j->results[j->n++] = call_export(inst, "loop", 50000000); /* 50 ms */
            break;
        case 'b':
            j->results[j->n++] = call_export(inst, "big", 0);
            break;
        }
    }
    kiln_instance_free(inst);
}

#define TRAPPED(kind) (-1000 - (int)(kind))

static void test_wasm_on_fibers(void)
{
    if (!module) return;
    /* Two fibers interleaving guest calls; traps in one never touch the other. */
    wasm_job a = {.script = "ipipipi"}, b = {.script = "tpipr"};
    kiln_fiber *fa = kiln_fiber_new(run_script, &a);
    kiln_fiber *fb = kiln_fiber_new(run_script, &b);
    int ra = KILN_FIBER_PARKED, rb = KILN_FIBER_PARKED;
    while (ra == KILN_FIBER_PARKED || rb == KILN_FIBER_PARKED) {
        if (ra == KILN_FIBER_PARKED) ra = kiln_fiber_resume(fa);
        if (rb == KILN_FIBER_PARKED) rb = kiln_fiber_resume(fb);
    }
    CHECK_INT(a.n, 4);
    for (int i = 0; i < 4; i++)
        CHECK_INT(a.results[i], i + 1);
    CHECK_INT(b.n, 3);
    CHECK_INT(b.results[0], TRAPPED(KILN_TRAP_UNREACHABLE));
    CHECK_INT(b.results[1], 1);
    CHECK_INT(b.results[2], TRAPPED(KILN_TRAP_STACK_EXHAUSTED)); /* on the fiber's guard */
    kiln_fiber_free(fa);
    kiln_fiber_free(fb);

    /* A time limit inside a fiber; then the same fiber goes on with guest calls. */
    wasm_job c = {.script = "lpi"};
    kiln_fiber *fc = kiln_fiber_new(run_script, &c);
    while (kiln_fiber_resume(fc) == KILN_FIBER_PARKED) {
    }
    CHECK_INT(c.n, 2);
    CHECK_INT(c.results[0], TRAPPED(KILN_TRAP_INTERRUPTED));
    CHECK_INT(c.results[1], 1);
    kiln_fiber_free(fc);

    /* Frames bigger than the guard still end on it. */
    wasm_job e = {.script = "bi"};
    kiln_fiber *fe = kiln_fiber_new(run_script, &e);
    CHECK_INT(kiln_fiber_resume(fe), KILN_FIBER_DONE);
    CHECK_INT(e.results[0], TRAPPED(KILN_TRAP_STACK_EXHAUSTED));
    CHECK_INT(e.results[1], 1);
    kiln_fiber_free(fe);

    /* The thread's own stack is still guarded as before. */
    wasm_job d = {.script = "ri"};
    run_script(&d);
    CHECK_INT(d.results[0], TRAPPED(KILN_TRAP_STACK_EXHAUSTED));
    CHECK_INT(d.results[1], 1);
}

/* ---- waiting through the reference scheduler ---- */

typedef struct sleeper {
    uint64_t ns;
    int rc;
} sleeper;

static void do_sleep(void *arg)
{
    sleeper *s = arg;
    s->rc = kiln_wait_sleep(s->ns);
}

static void test_sched_sleep(void)
{
    ref_sched rs;
    rs_init(&rs);
    static sleeper s[100];
    for (int i = 0; i < 100; i++) {
        s[i] = (sleeper){1000000 + (uint64_t)(i % 7) * 1000000, 99};
        rs_spawn(&rs, do_sleep, &s[i]);
    }
    rs_run(&rs);
    int ok = 0;
    for (int i = 0; i < 100; i++)
        ok += s[i].rc == KILN_WAIT_OK;
    CHECK_INT(ok, 100);
    CHECK_INT(rs.max_parked, 100); /* all slept at once on this one thread */
}

typedef struct limited {
    uint64_t sleep_ns, limit_ns;
    int wait_rc, call_rc;
    kiln_trap trap;
} limited;

static void sleep_in_host(void *arg)
{
    limited *l = arg;
    kiln_rt_host_enter();
    l->wait_rc = kiln_wait_sleep(l->sleep_ns);
    kiln_rt_host_leave();
}

static void limited_call(void *arg)
{
    limited *l = arg;
    l->call_rc = kiln_rt_call_timeout(sleep_in_host, l, &l->trap, l->limit_ns);
}

/* A parked sleep past the guest's time limit ends at the limit: the wait says
 * interrupted and the guest unwinds with KILN_TRAP_INTERRUPTED; a neighbour is not
 * affected. Without a scheduler the same holds for the blocking sleep. */
static void test_sleep_deadline(void)
{
    ref_sched rs;
    rs_init(&rs);
    limited l = {.sleep_ns = 20ull * 1000000000u, .limit_ns = 50000000, .wait_rc = 99};
    limited m = {.sleep_ns = 1000000, .limit_ns = 20ull * 1000000000u, .wait_rc = 99};
    rs_spawn(&rs, limited_call, &l);
    rs_spawn(&rs, limited_call, &m);
    rs_run(&rs);
    CHECK_INT(l.wait_rc, KILN_WAIT_INTERRUPTED);
    CHECK_INT(l.call_rc, -1);
    CHECK_INT(l.trap.kind, KILN_TRAP_INTERRUPTED);
    CHECK_INT(m.wait_rc, KILN_WAIT_OK);
    CHECK_INT(m.call_rc, 0);

    limited b = {.sleep_ns = 20ull * 1000000000u, .limit_ns = 50000000, .wait_rc = 99};
    limited_call(&b); /* no fiber, no scheduler: a blocking sleep */
    CHECK_INT(b.wait_rc, KILN_WAIT_INTERRUPTED);
    CHECK_INT(b.trap.kind, KILN_TRAP_INTERRUPTED);
}

typedef struct budgeted {
    uint64_t sleep_ns, spin_ns, timeout_ns, slice_ns;
    int wait_rc, call_rc;
    kiln_trap trap;
} budgeted;

static void sleep_then_spin(void *arg)
{
    budgeted *b = arg;
    if (b->sleep_ns) {
        kiln_rt_host_enter();
        b->wait_rc = kiln_wait_sleep(b->sleep_ns);
        kiln_rt_host_leave();
    }
    uint64_t end = now_ns() + b->spin_ns;
    while (now_ns() < end) {
    }
}

static void budgeted_call(void *arg)
{
    budgeted *b = arg;
    b->call_rc = kiln_rt_call_budget(sleep_then_spin, b, &b->trap, b->timeout_ns, b->slice_ns);
}

/* A running-slice budget (the server's inline path): time parked does not count against
 * it, a slice that runs past it stops with KILN_TRAP_BUDGET, and the time limit still
 * counts parked time (KILN_TRAP_INTERRUPTED). */
static void test_slice_budget(void)
{
    ref_sched rs;
    rs_init(&rs);
    budgeted napper = {
        .sleep_ns = 300000000, .timeout_ns = 5000000000ull, .slice_ns = 20000000, .wait_rc = 99};
    budgeted spinner = {
        .spin_ns = 3000000000ull, .timeout_ns = 5000000000ull, .slice_ns = 20000000};
    budgeted late = {.sleep_ns = 20000000,
                     .spin_ns = 3000000000ull,
                     .timeout_ns = 5000000000ull,
                     .slice_ns = 20000000,
                     .wait_rc = 99};
    budgeted timed = {
        .sleep_ns = 3000000000ull, .timeout_ns = 100000000, .slice_ns = 20000000, .wait_rc = 99};
    rs_spawn(&rs, budgeted_call, &napper);
    rs_spawn(&rs, budgeted_call, &spinner);
    rs_spawn(&rs, budgeted_call, &late);
    rs_spawn(&rs, budgeted_call, &timed);
    uint64_t t0 = now_ns();
    rs_run(&rs);
    CHECK_INT(napper.wait_rc, KILN_WAIT_OK);
    CHECK_INT(napper.call_rc, 0);
    CHECK_INT(spinner.call_rc, -1);
    CHECK_INT(spinner.trap.kind, KILN_TRAP_BUDGET);
    CHECK_INT(late.wait_rc, KILN_WAIT_OK); /* the sleep was fine, the slice after it was not */
    CHECK_INT(late.trap.kind, KILN_TRAP_BUDGET);
    CHECK_INT(timed.wait_rc, KILN_WAIT_INTERRUPTED);
    CHECK_INT(timed.trap.kind, KILN_TRAP_INTERRUPTED);
    CHECK(now_ns() - t0 < 2500000000ull); /* nobody spun for its whole 3 s */
    CHECK_STR(kiln_trap_kind_name(KILN_TRAP_BUDGET), "budget");
}

typedef struct job {
    pthread_t loop;
    int ran_elsewhere, rc;
} job;

static void job_work(void *arg)
{
    job *j = arg;
    struct timespec ts = {0, 2000000};
    nanosleep(&ts, NULL); /* blocking work */
    j->ran_elsewhere = !pthread_equal(pthread_self(), j->loop);
}

static void do_offload(void *arg)
{
    job *j = arg;
    j->rc = kiln_offload(job_work, j);
}

static void slow_job(void *arg)
{
    limited *l = arg;
    struct timespec ts = {0, 100000000}; /* 100 ms, past the 20 ms limit */
    nanosleep(&ts, NULL);
    l->sleep_ns = 1;
}

static void offload_in_host(void *arg)
{
    limited *l = arg;
    kiln_rt_host_enter();
    l->wait_rc = kiln_offload(slow_job, l);
    kiln_rt_host_leave();
}

static void offload_limited_call(void *arg)
{
    limited *l = arg;
    l->call_rc = kiln_rt_call_timeout(offload_in_host, l, &l->trap, l->limit_ns);
}

static void test_offload(void)
{
    ref_sched rs;
    rs_init(&rs);
    static job j[8];
    for (int i = 0; i < 8; i++) {
        j[i] = (job){pthread_self(), 0, 99};
        rs_spawn(&rs, do_offload, &j[i]);
    }
    rs_run(&rs);
    int ok = 0;
    for (int i = 0; i < 8; i++)
        ok += j[i].rc == KILN_WAIT_OK && j[i].ran_elsewhere;
    CHECK_INT(ok, 8);
    CHECK_INT(rs.max_parked, 8);
    /* A job outliving the time limit runs in full; then the guest is interrupted. */
    ref_sched rs2;
    rs_init(&rs2);
    limited l = {.limit_ns = 20000000, .wait_rc = 99};
    rs_spawn(&rs2, offload_limited_call, &l);
    rs_run(&rs2);
    CHECK_INT(l.wait_rc, KILN_WAIT_INTERRUPTED);
    CHECK_INT(l.call_rc, -1);
    CHECK_INT(l.trap.kind, KILN_TRAP_INTERRUPTED);
    CHECK_INT(l.sleep_ns, 1); /* the job's mark */
    /* Without a scheduler it runs right here. */
    job k = {pthread_self(), 1, 99};
    k.rc = kiln_offload(job_work, &k);
    CHECK_INT(k.rc, KILN_WAIT_OK);
    CHECK_INT(k.ran_elsewhere, 0);
}

typedef struct fd_waiter {
    int fd;
    uint64_t timeout_ns;
    int rc;
} fd_waiter;

static void do_wait_fd(void *arg)
{
    fd_waiter *w = arg;
    w->rc = kiln_wait_fd(w->fd, POLLIN, w->timeout_ns);
}

static void write_later(void *arg)
{
    int *fd = arg;
    kiln_wait_sleep(2000000);
    if (write(*fd, "x", 1) != 1) abort();
}

static void test_wait_fd(void)
{
    int p[2];
    CHECK_INT(pipe(p), 0);
    ref_sched rs;
    rs_init(&rs);
    fd_waiter ready = {p[0], UINT64_MAX, 99}, idle = {p[0], 1000000, 99};
    int q[2];
    CHECK_INT(pipe(q), 0);
    idle.fd = q[0];
    rs_spawn(&rs, do_wait_fd, &ready);
    rs_spawn(&rs, do_wait_fd, &idle);
    rs_spawn(&rs, write_later, &p[1]);
    rs_run(&rs);
    CHECK(ready.rc > 0 && (ready.rc & POLLIN));
    CHECK_INT(idle.rc, 0); /* timed out */
    /* Blocking: ready at once, and a timeout. */
    fd_waiter b = {p[0], UINT64_MAX, 99}, c = {q[0], 1000000, 99};
    do_wait_fd(&b);
    do_wait_fd(&c);
    CHECK(b.rc > 0 && (b.rc & POLLIN));
    CHECK_INT(c.rc, 0);
    /* A fiber with no scheduler bound blocks instead of parking. */
    sleeper s = {1000000, 99};
    kiln_fiber *f = kiln_fiber_new(do_sleep, &s);
    CHECK_INT(kiln_fiber_resume(f), KILN_FIBER_DONE);
    CHECK_INT(s.rc, KILN_WAIT_OK);
    kiln_fiber_free(f);
    close(p[0]);
    close(p[1]);
    close(q[0]);
    close(q[1]);
}

/* A loop that cancels every wait instead of waiting (what a server does with a guest
 * whose client has gone away). */
static void cancel_wait(kiln_sched *s, kiln_fiber *f, const kiln_wait_req *req)
{
    (void)s, (void)req;
    kiln_sched_complete(f, KILN_WAIT_INTERRUPTED); /* wakes f through s */
}

static void test_cancel(void)
{
    ref_sched rs;
    rs_init(&rs);
    rs.base.wait = cancel_wait;
    limited l = {.sleep_ns = 20ull * 1000000000u, .limit_ns = 20ull * 1000000000u, .wait_rc = 99};
    fd_waiter w = {-1, UINT64_MAX, 99};
    int p[2];
    CHECK_INT(pipe(p), 0);
    w.fd = p[0];
    rs_spawn(&rs, limited_call, &l);
    rs_spawn(&rs, do_wait_fd, &w);
    rs_run(&rs);
    CHECK_INT(l.wait_rc, KILN_WAIT_INTERRUPTED);
    CHECK_INT(l.call_rc, -1);
    CHECK_INT(l.trap.kind, KILN_TRAP_INTERRUPTED);
    CHECK_INT(w.rc, KILN_WAIT_INTERRUPTED);
    close(p[0]);
    close(p[1]);
}

/* ---- measurements (KILN_FIBER_BENCH=1) ---- */

static void ping(void *arg)
{
    long n = *(long *)arg;
    for (long i = 0; i < n; i++)
        kiln_fiber_park();
}

static void nothing(void *arg)
{
    (void)arg;
}

static long rss_pages(void)
{
    long size = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return 0;
    if (fscanf(f, "%ld %ld", &size, &rss) != 2) rss = 0;
    fclose(f);
    return rss;
}

/* CPU time of this thread: the machine may be shared, wall time would count others. */
static uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void bench(void)
{
    long n = 2000000;
    kiln_fiber *f = kiln_fiber_new(ping, &n);
    uint64_t t0 = cpu_ns();
    while (kiln_fiber_resume(f) == KILN_FIBER_PARKED) {
    }
    uint64_t t1 = cpu_ns();
    kiln_fiber_free(f);
    printf("bench: switch (park or resume, incl. runtime state swap): %.1f ns CPU\n",
           (double)(t1 - t0) / (2.0 * (double)n));
    long m = 200000;
    t0 = cpu_ns();
    for (long i = 0; i < m; i++) {
        kiln_fiber *g = kiln_fiber_new(nothing, NULL);
        kiln_fiber_resume(g);
        kiln_fiber_free(g);
    }
    t1 = cpu_ns();
    printf("bench: new+resume+free (empty fn, pooled stack): %.1f ns CPU\n",
           (double)(t1 - t0) / (double)m);
    enum { P = 10000 };
    static kiln_fiber *parked[P];
    /* Fresh stacks (a size change drops the pooled ones the tests have touched). */
    kiln_fiber_set_stack_size(KILN_FIBER_DEFAULT_STACK + 65536);
    kiln_fiber_set_stack_size(KILN_FIBER_DEFAULT_STACK);
    long before = rss_pages();
    for (int i = 0; i < P; i++) {
        parked[i] = kiln_fiber_new(park_once, &(many_arg){0, 0});
        kiln_fiber_resume(parked[i]);
    }
    long after = rss_pages();
    printf("bench: memory per parked fiber: %.0f bytes (RSS of %d parked fibers / %d)\n",
           (double)(after - before) * (double)sysconf(_SC_PAGESIZE) / P, P, P);
    for (int i = 0; i < P; i++) {
        kiln_fiber_resume(parked[i]);
        kiln_fiber_free(parked[i]);
    }
}

int main(void)
{
    CHECK_INT(kiln_rt_init(), 0);
    char dir[] = "/tmp/kiln-fiber-test.XXXXXX";
    if (!mkdtemp(dir)) return 1;
    module = load(dir);
    CHECK(module != NULL);
    test_basic();
    test_many_parked();
    test_guest_state_per_fiber();
    test_wasm_on_fibers();
    test_sched_sleep();
    test_sleep_deadline();
    test_slice_budget();
    test_offload();
    test_wait_fd();
    test_cancel();
    if (getenv("KILN_FIBER_BENCH")) bench();
    if (module) kiln_module_free(module);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) return 1;
    return test_finish("fiber");
}
