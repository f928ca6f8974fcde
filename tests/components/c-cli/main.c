/* A WASI command made a component (tests/components/build.sh, corpus entry c-cli): prints its
 * arguments and the environment variables starting with KILN_, prints the file named by
 * KILN_FILE if set, copies stdin to stdout when the first argument is "cat", and exits with
 * the status given as "exit=N" (default 0). Every output line is prefixed so tests can match
 * it exactly. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

int main(int argc, char **argv)
{
    int status = 0;
    printf("hello from C\n");
    printf("argc=%d\n", argc);
    for (int i = 0; i < argc; i++) {
        printf("arg[%d]=%s\n", i, argv[i]);
        if (strncmp(argv[i], "exit=", 5) == 0) status = atoi(argv[i] + 5);
    }
    for (char **e = environ; *e; e++)
        if (strncmp(*e, "KILN_", 5) == 0) printf("env %s\n", *e);
    const char *path = getenv("KILN_FILE");
    if (path) {
        FILE *f = fopen(path, "r");
        if (!f) {
            printf("file %s: cannot open\n", path);
            return 2;
        }
        char buf[256];
        size_t n;
        printf("file %s:\n", path);
        while ((n = fread(buf, 1, sizeof buf, f)) > 0)
            fwrite(buf, 1, n, stdout);
        fclose(f);
    }
    if (argc > 1 && strcmp(argv[1], "cat") == 0) {
        int c;
        while ((c = getchar()) != EOF)
            putchar(c);
    }
    fflush(stdout);
    return status;
}
