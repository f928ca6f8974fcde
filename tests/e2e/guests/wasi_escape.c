/* wasi_escape.c — a WASI guest that tries to leave its sandbox (run by wasi_sandbox.sh).
 *
 * Expects "/" preopened on a box directory prepared by the script (symlinks abs -> /etc,
 * up -> .., sub/uplink -> ../../outside.txt, loop1 <-> loop2, newout -> ../newout.txt)
 * and "/ro" preopened read-only. Every attempt must fail; it prints one line per check:
 * "ok NAME errno=N" or "ESCAPED NAME", then the environment as "env NAME=VALUE". */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

static void expect_fail(const char *name, int rc)
{
    if (rc < 0)
        printf("ok %s errno=%d\n", name, errno);
    else
        printf("ESCAPED %s\n", name);
}

static int open_close(const char *path, int flags)
{
    int fd = open(path, flags, 0644);
    if (fd >= 0) close(fd);
    return fd;
}

static int escape_checks(void)
{
    struct stat st;
    expect_fail("dotdot", open_close("../outside.txt", O_RDONLY));
    expect_fail("sub-dotdot", open_close("sub/../../outside.txt", O_RDONLY));
    expect_fail("abs-symlink", open_close("abs/passwd", O_RDONLY));
    expect_fail("abs-symlink-stat", stat("abs/passwd", &st));
    expect_fail("rel-symlink-dir", open_close("up/outside.txt", O_RDONLY));
    expect_fail("rel-symlink-file", open_close("sub/uplink", O_RDONLY));
    expect_fail("symlink-loop", open_close("loop1", O_RDONLY));
    expect_fail("create-through-symlink", open_close("newout", O_CREAT | O_WRONLY));
    expect_fail("rename-out", rename("file.txt", "../stolen.txt"));
    expect_fail("rename-out-symlink", rename("file.txt", "up/stolen.txt"));
    expect_fail("rename-in", rename("up/outside.txt", "mine"));
    expect_fail("link-out", link("file.txt", "../linked.txt"));
    expect_fail("link-in", link("up/outside.txt", "mine2"));
    expect_fail("unlink-out", unlink("up/outside.txt"));
    expect_fail("mkdir-out", mkdir("up/newdir", 0755));
    expect_fail("rmdir-dotdot", rmdir(".."));
    int rc = symlink("/etc/passwd", "abs2");
    expect_fail("abs-symlink-new", rc < 0 ? rc : open_close("abs2", O_RDONLY));
    rc = symlink("../outside.txt", "rel2");
    expect_fail("rel-symlink-new", rc < 0 ? rc : open_close("rel2", O_RDONLY));
    /* read-only mount */
    int fd = open("/ro/ro.txt", O_RDONLY);
    char buf[8] = {0};
    if (fd >= 0 && read(fd, buf, sizeof buf - 1) == 2 && strcmp(buf, "hi") == 0)
        printf("ok ro-read errno=0\n");
    else
        printf("ESCAPED ro-read (cannot read)\n");
    if (fd >= 0) close(fd);
    expect_fail("ro-write", open_close("/ro/ro.txt", O_WRONLY));
    expect_fail("ro-trunc", open_close("/ro/ro.txt", O_RDONLY | O_TRUNC));
    expect_fail("ro-create", open_close("/ro/new.txt", O_CREAT | O_WRONLY));
    expect_fail("ro-unlink", unlink("/ro/ro.txt"));
    expect_fail("ro-rename", rename("/ro/ro.txt", "/moved.txt"));
    expect_fail("ro-rename-into", rename("file.txt", "/ro/file.txt"));
    expect_fail("ro-link", link("/ro/ro.txt", "/ro/l2"));
    expect_fail("ro-mkdir", mkdir("/ro/d", 0755));
    expect_fail("ro-symlink", symlink("ro.txt", "/ro/l"));
    expect_fail("ro-truncate", truncate("/ro/ro.txt", 0));
    expect_fail("ro-utimes", utimensat(AT_FDCWD, "/ro/ro.txt", NULL, 0));
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "env") == 0) {
        for (char **e = environ; *e; e++)
            printf("env %s\n", *e);
        return 0;
    }
    return escape_checks();
}
