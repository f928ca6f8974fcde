/* Unit tests of the executor: jobs run off the caller's thread, the queue is bounded,
 * jobs that wait too long expire, and stopping drains what was accepted. */
#include "exec/executor.h"
#include "util/test.h"

#include <stdatomic.h>
#include <unistd.h>

typedef struct tjob {
    kiln_job job;
    int sleep_ms;
    atomic_int *ran, *done, *expired;
} tjob;

static void run(kiln_job *j)
{
    tjob *t = (tjob *)j;
    if (t->sleep_ms) usleep((useconds_t)t->sleep_ms * 1000);
    atomic_fetch_add(t->ran, 1);
}

static void complete(kiln_job *j)
{
    atomic_fetch_add(((tjob *)j)->done, 1);
}

static void expired(kiln_job *j)
{
    atomic_fetch_add(((tjob *)j)->expired, 1);
}

int main(void)
{
    atomic_int ran = 0, done = 0, exp = 0;
    /* 2 threads, queue of 3, 200 ms queue timeout. */
    kiln_executor *e = kiln_executor_new(2, 3, 200, 0);
    CHECK(e != NULL);
    if (!e) return test_finish("executor");
    tjob jobs[8];
    for (int i = 0; i < 8; i++)
        jobs[i] = (tjob){{run, complete, expired, 0, NULL}, 0, &ran, &done, &exp};
    /* Two long jobs occupy both threads. */
    jobs[0].sleep_ms = jobs[1].sleep_ms = 600;
    CHECK_INT(kiln_executor_submit(e, &jobs[0].job), 0);
    CHECK_INT(kiln_executor_submit(e, &jobs[1].job), 0);
    /* Both threads have taken theirs (a loaded machine may take a while to run them). */
    kiln_executor_stats s;
    for (int i = 0; i < 500; i++) {
        kiln_executor_stats_get(e, &s);
        if (s.running == 2) break;
        usleep(10 * 1000);
    }
    /* Three wait; the fourth is refused (queue full). */
    CHECK_INT(kiln_executor_submit(e, &jobs[2].job), 0);
    CHECK_INT(kiln_executor_submit(e, &jobs[3].job), 0);
    CHECK_INT(kiln_executor_submit(e, &jobs[4].job), 0);
    CHECK_INT(kiln_executor_submit(e, &jobs[5].job), -1);
    kiln_executor_stats_get(e, &s);
    CHECK_INT(s.running, 2);
    CHECK_INT(s.queued, 3);
    CHECK_INT(s.rejected, 1);
    /* The queued ones wait past 200 ms while the long jobs run: expired, not run. */
    usleep(400 * 1000);
    CHECK_INT(atomic_load(&exp), 3);
    usleep(400 * 1000);
    CHECK_INT(atomic_load(&ran), 2);
    CHECK_INT(atomic_load(&done), 2);
    /* Quick jobs all run, then stopping drains. */
    for (int i = 5; i < 8; i++)
        CHECK_INT(kiln_executor_submit(e, &jobs[i].job), 0);
    kiln_executor_free(e);
    CHECK_INT(atomic_load(&ran), 5);
    CHECK_INT(atomic_load(&done), 5);
    return test_finish("executor");
}
