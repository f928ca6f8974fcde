/* A WASI command for the engine tests: prints its arguments and one variable, counts
 * calls in a static (1 in a fresh instance), and ends as its first argument says. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int counter;

int main(int argc, char **argv)
{
    counter++;
    printf("hello from wasm, argc=%d counter=%d\n", argc, counter);
    for (int i = 0; i < argc; i++) printf("arg[%d]=%s\n", i, argv[i]);
    const char *e = getenv("FOO");
    printf("FOO=%s\n", e ? e : "(unset)");
    if (argc > 1 && strcmp(argv[1], "exit3") == 0) {
        printf("unflushed line without newline");
        exit(3);
    }
    return 0;
}
