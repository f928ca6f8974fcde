/* A WAGI guest that computes for QUERY_STRING milliseconds (busy loop on the monotonic
 * clock; with "cpu" in the query, on the thread's CPU-time clock, so that it really uses
 * that much CPU however loaded the machine is), writes one stderr line and answers 200:
 * for the inline-budget and shutdown tests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int main(void)
{
    const char *q = getenv("QUERY_STRING");
    long ms = q ? atol(q) : 0;
    clockid_t clock = q && strstr(q, "cpu") ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC;
    struct timespec t0, t;
    clock_gettime(clock, &t0);
    unsigned long spins = 0;
    do {
        clock_gettime(clock, &t);
        spins++;
    } while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < ms);
    fprintf(stderr, "busy attempt for %ld ms\n", ms);
    printf("Content-Type: text/plain\n\nbusy %ld ms done\n", ms);
    return 0;
}
