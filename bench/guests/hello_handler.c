/* The hello WAGI handler used by the benchmarks, plus an empty export ("noop") so that
 * the instantiation benchmark can time instance creation without the handler's work. */
#include <stdio.h>

__attribute__((export_name("noop"))) void noop(void)
{
}

int main(void)
{
    printf("Content-Type: text/plain\n\nHello, world!\n");
    return 0;
}
