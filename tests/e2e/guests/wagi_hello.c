/* wagi_hello.c — the smallest WAGI handler: a greeting and a static counter that a fresh
 * instance per request keeps at 1. Built by tests/e2e/up_*.sh with clang (wasm32-wasi). */
#include <stdio.h>

static int counter;

int main(void)
{
    counter++;
    printf("Content-Type: text/plain\n\nhello %d\n", counter);
    return 0;
}
