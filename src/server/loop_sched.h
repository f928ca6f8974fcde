/* loop_sched.h — the fiber scheduler of one h2o event loop (engine/fiber.h: kiln_sched).
 *
 * Guests run on fibers on the worker's own thread. When a host function waits (a WASI
 * sleep today; outbound HTTP, key-value, SQLite next) the fiber parks and the loop goes on
 * serving other connections; when the wait ends the fiber is resumed here, on the loop.
 *
 * Timers: a min-heap of deadlines behind one timerfd that the loop watches. Waits on a host
 * fd (outbound sockets, body eventfds) are armed one-shot in an epoll set that the loop
 * watches too, so a wait ends as soon as its fd is ready; an fd that epoll refuses is
 * checked with poll(2) on a 1 ms tick. kiln_loop_sched_poke (whoever makes an fd ready on
 * the loop's own thread says so) checks the waits on an fd without a trip through epoll. Wake-ups
 * (completions from other threads, e.g. the offload pool, and completions on this thread) go
 * through a queue and an eventfd, so a fiber is only ever resumed from the loop itself, never from
 * inside another fiber's resume.
 *
 * Use (on the loop's thread):
 *   s = kiln_loop_sched_new(loop);  (binds itself to the thread: kiln_sched_bind)
 *   kiln_loop_sched_run(s, kiln_fiber_new(fn, arg));   // runs until done or parked
 *   ... the loop resumes parked fibers by itself; a fiber that finishes is freed ...
 *   kiln_loop_sched_free(s);  (after kiln_loop_sched_parked(s) == 0)
 * A fiber's fn does its whole job, including answering its request: it runs on the loop
 * thread, so it may call the response ops directly. */
#ifndef KILN_SERVER_LOOP_SCHED_H
#define KILN_SERVER_LOOP_SCHED_H

#include <stddef.h>

#include "engine/fiber.h"

#define H2O_USE_LIBUV 0
#include <h2o.h>

typedef struct kiln_loop_sched kiln_loop_sched;

/* Makes the scheduler of `loop` and binds it to the calling thread. NULL on failure. */
kiln_loop_sched *kiln_loop_sched_new(h2o_evloop_t *loop);
/* Resumes f until it finishes (then frees it) or parks (the scheduler resumes it later). */
void kiln_loop_sched_run(kiln_loop_sched *s, kiln_fiber *f);
/* Fibers parked or queued to run (not yet finished). */
size_t kiln_loop_sched_parked(const kiln_loop_sched *s);
/* Parked fd waits checked on the 1 ms tick because epoll refused their fd (regular
 * files); every other fd wait ends as soon as its fd is ready. */
size_t kiln_loop_sched_ticked(const kiln_loop_sched *s);
/* Ends every parked timer/fd wait now with KILN_WAIT_INTERRUPTED (shutdown): their guests
 * unwind as if their time limit had passed. */
void kiln_loop_sched_interrupt_all(kiln_loop_sched *s);
/* fd, which fibers parked by the calling thread's scheduler may wait on, has become ready
 * on this thread (e.g. the HTTP/1 codec signalled a body's eventfd): the waits on fd are
 * checked from the loop at once (the others are not polled). A no-op when the thread has no loop
 * scheduler or nothing waits on fd. */
void kiln_loop_sched_poke(int fd);
/* Unbinds and frees; every fiber must be done. */
void kiln_loop_sched_free(kiln_loop_sched *s);

#endif
