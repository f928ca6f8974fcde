/* The test component of tests/e2e/up_triggers.sh (tests/components/build.sh, entry c-triggers),
 * written against the bindings `wit-bindgen c` generates for world.wit. What it receives goes
 * to its stdout (kiln up's stderr), one line per event:
 *   a Redis message "trap"   traps (unreachable)
 *   a Redis message "fail"   returns the error case
 *   a Redis message "slow"   computes for about 0.5 s, then prints "redis-message: slow-done"
 *   a Redis message "loop"   loops forever (for the request timeout)
 *   any other message M      prints "redis-message: M"
 *   a cron firing at T       prints "cron-event: T", or returns the error "cron said no" when
 *                            the environment has CRON_FAIL */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "triggers.h"

bool exports_fermyon_spin_inbound_redis_handle_message(
    exports_fermyon_spin_inbound_redis_payload_t *message,
    exports_fermyon_spin_inbound_redis_error_t *err)
{
    size_t n = message->len;
    const char *p = (const char *)message->ptr;
    int is_trap = n == 4 && memcmp(p, "trap", 4) == 0;
    int is_fail = n == 4 && memcmp(p, "fail", 4) == 0;
    if (is_trap) __builtin_trap();
    if (n == 4 && memcmp(p, "loop", 4) == 0)
        for (volatile unsigned long i = 0;; i++) {
        }
    if (n == 4 && memcmp(p, "slow", 4) == 0) {
        struct timespec t0, t;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        do
            clock_gettime(CLOCK_MONOTONIC, &t);
        while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < 500);
        printf("redis-message: slow-done\n");
        fflush(stdout);
        exports_fermyon_spin_inbound_redis_payload_free(message);
        return true;
    }
    if (is_fail) {
        exports_fermyon_spin_inbound_redis_payload_free(message);
        *err = FERMYON_SPIN_REDIS_TYPES_ERROR_ERROR;
        return false;
    }
    printf("redis-message: %.*s\n", (int)n, p);
    fflush(stdout);
    exports_fermyon_spin_inbound_redis_payload_free(message);
    return true;
}

bool exports_triggers_handle_cron_event(triggers_tuple1_u64_t *metadata, triggers_string_t *err)
{
    if (getenv("CRON_FAIL")) {
        triggers_string_dup(err, "cron said no");
        return false;
    }
    printf("cron-event: %llu\n", (unsigned long long)metadata->f0);
    fflush(stdout);
    return true;
}
