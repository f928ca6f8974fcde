/* executor.h — the pool of threads that run guests, apart from the I/O event loops.
 *
 * A guest that runs long (or forever, until its time limit) holds one executor thread,
 * never an event loop: other requests keep being read, queued and answered. The number
 * of threads is the maximum of live instances; requests beyond it wait in a bounded
 * queue, and a request that cannot be queued, or waits longer than the queue timeout,
 * is answered by its `expired` callback (the server sends 503 with Retry-After).
 *
 * Jobs are owned by the submitter; the executor calls exactly one of run+complete or
 * expired for every job it accepted, from one of its threads. */
#ifndef KILN_EXEC_EXECUTOR_H
#define KILN_EXEC_EXECUTOR_H

#include <stddef.h>

typedef struct kiln_job kiln_job;
struct kiln_job {
    void (*run)(kiln_job *job);      /* on an executor thread: the guest runs here */
    void (*complete)(kiln_job *job); /* right after run, same thread: hand the result back */
    void (*expired)(kiln_job *job);  /* instead of both: waited too long in the queue */
    /* executor's bookkeeping */
    double queued_at_ms;
    kiln_job *next;
};

typedef struct kiln_executor kiln_executor;

typedef struct kiln_executor_stats {
    size_t threads, running, queued;
    unsigned long completed, expired, rejected;
} kiln_executor_stats;

/* Starts `threads` executor threads (each with a stack of `stack_size` bytes, 0: 8 MiB)
 * with a queue of at most `max_queue` jobs, each waiting at most `queue_timeout_ms`.
 * NULL on failure. */
kiln_executor *kiln_executor_new(unsigned threads, size_t max_queue, unsigned queue_timeout_ms,
                                 size_t stack_size);
/* Queues a job. 0, or -1 when the queue is full or the executor is stopping (the job is
 * untouched: the caller answers it). Thread-safe. */
int kiln_executor_submit(kiln_executor *e, kiln_job *job);
void kiln_executor_stats_get(kiln_executor *e, kiln_executor_stats *out);
/* Runs what is queued, waits for running jobs, joins the threads and frees. */
void kiln_executor_free(kiln_executor *e);

#endif
