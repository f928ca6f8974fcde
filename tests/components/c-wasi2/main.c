/* c-wasi2: a C WASI command that exercises, through the preview1 command adapter, the
 * WASI 0.2 host: files, directories, environment, arguments, clocks, random, sleep and
 * confinement. It prints one line per check; tests/e2e/wasip2_component.sh compares them. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--stdin") == 0) { /* count stdin's bytes and lines */
        char buf[4096];
        size_t n, total = 0, lines = 0;
        while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) {
            total += n;
            for (size_t i = 0; i < n; i++)
                lines += buf[i] == '\n';
        }
        printf("stdin: %zu bytes, %zu lines\n", total, lines);
        return 0;
    }
    const char *dir = argc > 1 ? argv[1] : "/data";
    char path[512];
    printf("args: %d %s\n", argc, argc > 2 ? argv[2] : "-");
    const char *v = getenv("KILN_TEST");
    printf("env: %s\n", v ? v : "(unset)");

    /* Write, append, read back. */
    snprintf(path, sizeof path, "%s/out.txt", dir);
    FILE *f = fopen(path, "w");
    if (!f) {
        printf("write: %s\n", strerror(errno));
    } else {
        fputs("hello ", f);
        fclose(f);
        f = fopen(path, "a");
        fputs("world\n", f);
        fclose(f);
        char buf[64] = {0};
        f = fopen(path, "r");
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        printf("read: %zu %s", n, buf);
    }
    snprintf(path, sizeof path, "%s/in.txt", dir);
    f = fopen(path, "r");
    if (f) {
        char buf[64] = {0};
        if (fgets(buf, sizeof buf, f)) printf("in: %s", buf);
        fclose(f);
    } else {
        printf("in: %s\n", strerror(errno));
    }
    snprintf(path, sizeof path, "%s/sub", dir);
    printf("mkdir: %s\n", mkdir(path, 0755) == 0 ? "ok" : strerror(errno));
    struct stat st;
    printf("stat: %s\n", stat(path, &st) == 0 && S_ISDIR(st.st_mode) ? "dir" : strerror(errno));

    /* Directory listing, sorted. */
    DIR *d = opendir(dir);
    if (d) {
        char *names[64];
        int n = 0;
        struct dirent *e;
        while ((e = readdir(d)) && n < 64)
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) names[n++] = strdup(e->d_name);
        closedir(d);
        qsort(names, (size_t)n, sizeof names[0], cmp);
        printf("ls:");
        for (int i = 0; i < n; i++)
            printf(" %s", names[i]);
        printf("\n");
    } else {
        printf("ls: %s\n", strerror(errno));
    }

    /* Confinement: `..` and a symlink pointing out. */
    snprintf(path, sizeof path, "%s/../etc/passwd", dir);
    printf("dotdot: %s\n", open(path, O_RDONLY) >= 0 ? "OPENED" : "denied");
    snprintf(path, sizeof path, "%s/escape/passwd", dir);
    printf("symlink-escape: %s\n", open(path, O_RDONLY) >= 0 ? "OPENED" : "denied");

    /* Clocks, random, sleep. */
    struct timespec a, b, w;
    clock_gettime(CLOCK_MONOTONIC, &a);
    usleep(20000);
    clock_gettime(CLOCK_MONOTONIC, &b);
    long ms = (long)((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000);
    printf("sleep: %s\n", ms >= 20 ? "ok" : "too short");
    clock_gettime(CLOCK_REALTIME, &w);
    printf("wall: %s\n", w.tv_sec > 1600000000 ? "ok" : "bad");
    unsigned char r1[16], r2[16];
    arc4random_buf(r1, sizeof r1);
    arc4random_buf(r2, sizeof r2);
    printf("random: %s\n", memcmp(r1, r2, sizeof r1) ? "ok" : "same");

    snprintf(path, sizeof path, "%s/out.txt", dir);
    printf("unlink: %s\n", unlink(path) == 0 ? "ok" : strerror(errno));
    snprintf(path, sizeof path, "%s/sub", dir);
    printf("rmdir: %s\n", rmdir(path) == 0 ? "ok" : strerror(errno));
    fprintf(stderr, "to stderr\n");
    return 3;
}
