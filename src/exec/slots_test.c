/* Unit tests of the instance limit (slots.c): try never blocks, acquire waits until a
 * slot is released or its deadline passes. */
#include "exec/slots.h"
#include "util/test.h"

#include <pthread.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void *release_later(void *arg)
{
    usleep(100000);
    kiln_slots_release(arg);
    return NULL;
}

int main(void)
{
    kiln_slots *s = kiln_slots_new(2);
    CHECK(s != NULL);
    CHECK_INT(kiln_slots_try(s), 1);
    CHECK_INT(kiln_slots_try(s), 1);
    CHECK_INT(kiln_slots_try(s), 0); /* full: never blocks */
    CHECK_INT(kiln_slots_used(s), 2);
    /* a deadline that passes */
    double t0 = now_ms();
    CHECK_INT(kiln_slots_acquire(s, t0 + 150), -1);
    CHECK(now_ms() - t0 >= 140);
    CHECK_INT(kiln_slots_used(s), 2);
    /* a release from another thread wakes a waiter before its deadline */
    pthread_t th;
    CHECK(pthread_create(&th, NULL, release_later, s) == 0);
    t0 = now_ms();
    CHECK_INT(kiln_slots_acquire(s, t0 + 5000), 0);
    CHECK(now_ms() - t0 < 4000);
    pthread_join(th, NULL);
    CHECK_INT(kiln_slots_used(s), 2);
    kiln_slots_release(s);
    kiln_slots_release(s);
    CHECK_INT(kiln_slots_used(s), 0);
    kiln_slots_release(s); /* one too many: stays at 0 */
    CHECK_INT(kiln_slots_used(s), 0);
    CHECK_INT(kiln_slots_acquire(s, 0), 0);
    kiln_slots_free(s);
    return test_finish("slots");
}
