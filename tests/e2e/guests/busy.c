/* A WAGI guest that computes for QUERY_STRING milliseconds (busy loop on the monotonic
 * clock), writes one stderr line and answers 200: for the inline-budget tests. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(void)
{
    const char *q = getenv("QUERY_STRING");
    long ms = q ? atol(q) : 0;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    unsigned long spins = 0;
    do {
        clock_gettime(CLOCK_MONOTONIC, &t);
        spins++;
    } while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < ms);
    fprintf(stderr, "busy attempt for %ld ms\n", ms);
    printf("Content-Type: text/plain\n\nbusy %ld ms done\n", ms);
    return 0;
}
