/* wagi_edge.c — a WAGI handler whose behaviour is chosen by PATH_INFO, to drive the
 * executor's edge cases from tests/e2e/up_*.sh:
 *   /env        every environment variable, one per line, then argv
 *   /echo       the request body back
 *   /count      a static counter (a fresh instance answers 1)
 *   /trap       a Wasm trap              /exit3     exit status 3
 *   /location   a redirect               /status    Status: 404 with a body
 *   /badstatus  an unparsable Status     /noheaders text without a header block
 *   /empty      no output at all         /badheader invalid headers among valid ones
 *   /file       the contents of a granted file (argument: its path after ?)
 *   /stderr     writes to stderr, then answers
 *   /big        a 1 MiB body
 *   otherwise   "hello N" with N a static counter (1 in a fresh instance)
 * With DUMP_ENV set in its environment it always answers like /env. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;
static int counter;

int main(int argc, char **argv)
{
    const char *p = getenv("PATH_INFO");
    if (!p) p = "";
    if (getenv("DUMP_ENV")) p = "/env";
    counter++;
    if (strcmp(p, "/env") == 0) {
        printf("Content-Type: text/plain\n\n");
        for (char **e = environ; *e; e++)
            printf("%s\n", *e);
        for (int i = 0; i < argc; i++)
            printf("argv[%d]=%s\n", i, argv[i]);
    } else if (strcmp(p, "/echo") == 0) {
        printf("Content-Type: application/octet-stream\n\n");
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, stdin)) > 0)
            fwrite(buf, 1, n, stdout);
    } else if (strcmp(p, "/count") == 0) {
        printf("Content-Type: text/plain\n\n%d\n", counter);
    } else if (strcmp(p, "/trap") == 0) {
        printf("Content-Type: text/plain\n\nabout to trap\n");
        fflush(stdout);
        __builtin_trap();
    } else if (strcmp(p, "/exit3") == 0) {
        printf("Content-Type: text/plain\n\nexiting\n");
        exit(3);
    } else if (strcmp(p, "/location") == 0) {
        printf("Location: /somewhere/else\n\n");
    } else if (strcmp(p, "/status") == 0) {
        printf("Status: 404 Not Found\nContent-Type: text/plain\nX-Custom: yes\n\nmissing\n");
    } else if (strcmp(p, "/badstatus") == 0) {
        printf("Status: abc\nContent-Type: text/plain\n\nx\n");
    } else if (strcmp(p, "/noheaders") == 0) {
        printf("just some text\n");
    } else if (strcmp(p, "/empty") == 0) {
        /* nothing */
    } else if (strcmp(p, "/badheader") == 0) {
        printf("Content-Type: text/plain\nBad Name: x\nX-Ctl: a\x01z\nContent-Length: 999\n"
               "X-Good: fine\n\nok\n");
    } else if (strcmp(p, "/file") == 0) {
        const char *q = getenv("QUERY_STRING");
        FILE *f = q ? fopen(q, "r") : NULL;
        if (!f) {
            printf("Status: 404\nContent-Type: text/plain\n\nno file %s\n", q ? q : "");
            return 0;
        }
        printf("Content-Type: text/plain\n\n");
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, f)) > 0)
            fwrite(buf, 1, n, stdout);
        fclose(f);
        FILE *w = fopen(q, "w");
        printf("%s\n", w ? "WRITABLE" : "read-only");
        if (w) fclose(w);
    } else if (strcmp(p, "/stderr") == 0) {
        fprintf(stderr, "guest says hi\n");
        printf("Content-Type: text/plain\n\nok\n");
    } else if (strcmp(p, "/big") == 0) {
        printf("Content-Type: text/plain\n\n");
        for (int i = 0; i < 1024 * 1024 / 64; i++)
            printf("%063d\n", i);
    } else {
        printf("Content-Type: text/plain\n\nhello %d\n", counter);
    }
    return 0;
}
