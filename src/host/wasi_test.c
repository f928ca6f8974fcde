/* wasi_test.c — unit tests of the WASI host with a fake linear memory: bad pointers give
 * EFAULT, args/environ layout, stdio in memory buffers, fd table, path escapes (with
 * openat2 and with the component-wise fallback), read-only preopens, poll_oneoff. */
#include "engine/fiber.h"
#include "host/wasi_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/test.h"

#define MEMSZ 65536
static wasm_rt_memory_t mem;
static kiln_wasi *w;
static char root[256], outside[300];

/* Places a string at offset off in guest memory; returns its length. */
static uint32_t put(uint32_t off, const char *s)
{
    size_t n = strlen(s);
    memcpy(mem.data + off, s, n);
    return (uint32_t)n;
}

static uint32_t ld32(uint32_t off)
{
    return wasi_ld32(mem.data + off);
}

/* path_open of a guest path relative to dir fd; returns the errno, guest fd at 100. */
static uint32_t open_path(uint32_t dir, const char *p, uint32_t oflags, uint64_t rights,
                          uint32_t lookup)
{
    uint32_t n = put(1000, p);
    return wasi_path_open(w, dir, lookup, 1000, n, oflags, rights, rights, 0, 100);
}

/* Writes one iovec of s at 2000 and fd_writes it. */
static uint32_t write_str(uint32_t fd, const char *s)
{
    uint32_t n = put(2100, s);
    wasi_st32(mem.data + 2000, 2100);
    wasi_st32(mem.data + 2004, n);
    return wasi_fd_write(w, fd, 2000, 1, 2008);
}

static void run(const char *cmd)
{
    if (system(cmd) != 0) fprintf(stderr, "setup command failed: %s\n", cmd);
}

static void test_args_env(void)
{
    CHECK_INT(wasi_args_sizes_get(w, 0, 4), 0);
    CHECK_INT(ld32(0), 3);
    CHECK_INT(ld32(4), 5 + 2 + 4);
    CHECK_INT(wasi_args_get(w, 100, 200), 0);
    CHECK_INT(ld32(100), 200);
    CHECK_INT(ld32(104), 205);
    CHECK_INT(ld32(108), 207);
    CHECK_STR((char *)mem.data + 200, "prog");
    CHECK_STR((char *)mem.data + 205, "a");
    CHECK_STR((char *)mem.data + 207, "b c");
    CHECK_INT(wasi_environ_sizes_get(w, 0, 4), 0);
    CHECK_INT(ld32(0), 1);
    CHECK_INT(ld32(4), 4);
    CHECK_INT(wasi_environ_get(w, 100, 300), 0);
    CHECK_STR((char *)mem.data + ld32(100), "K=V");
    /* bad pointers */
    CHECK_INT(wasi_args_sizes_get(w, MEMSZ - 2, 4), WE_FAULT);
    CHECK_INT(wasi_args_get(w, MEMSZ - 4, 200), WE_FAULT);
    CHECK_INT(wasi_args_get(w, 100, MEMSZ - 3), WE_FAULT);
    CHECK_INT(wasi_environ_get(w, 0xFFFFFFFFu, 0), WE_FAULT);
    CHECK_INT(wasi_clock_time_get(w, 1, 0, MEMSZ - 7), WE_FAULT);
    CHECK_INT(wasi_clock_time_get(w, 9, 0, 0), WE_INVAL);
    CHECK_INT(wasi_clock_time_get(w, 0, 0, 0), 0);
    CHECK_INT(wasi_random_get(w, MEMSZ - 10, 11), WE_FAULT);
    CHECK_INT(wasi_random_get(w, 0, 64), 0);
}

static void test_stdio(kiln_buf *out)
{
    CHECK_INT(write_str(1, "hello"), 0);
    CHECK_INT(ld32(2008), 5);
    CHECK_INT(write_str(1, " world!"), 0);
    CHECK_INT(ld32(2008), 5); /* limit 10 */
    CHECK_INT(write_str(1, "x"), WE_FBIG);
    CHECK_INT(out->len, 10);
    CHECK_STR(out->data, "hello worl");
    /* iovec pointing outside memory, iovec array outside memory */
    wasi_st32(mem.data + 2000, MEMSZ - 2);
    wasi_st32(mem.data + 2004, 3);
    CHECK_INT(wasi_fd_write(w, 2, 2000, 1, 2008), WE_FAULT);
    CHECK_INT(wasi_fd_write(w, 2, MEMSZ - 4, 1, 2008), WE_FAULT);
    CHECK_INT(wasi_fd_write(w, 2, 2000, 0x20000000u, 2008), WE_FAULT);
    /* stdin from memory */
    wasi_st32(mem.data + 2000, 3000);
    wasi_st32(mem.data + 2004, 3);
    CHECK_INT(wasi_fd_read(w, 0, 2000, 1, 2008), 0);
    CHECK_INT(ld32(2008), 3);
    CHECK(memcmp(mem.data + 3000, "inp", 3) == 0);
    CHECK_INT(wasi_fd_read(w, 0, 2000, 1, 2008), 0);
    CHECK_INT(ld32(2008), 2);
    CHECK_INT(wasi_fd_read(w, 0, 2000, 1, 2008), 0);
    CHECK_INT(ld32(2008), 0);
    CHECK_INT(wasi_fd_write(w, 0, 2000, 1, 2008), WE_BADF);
    CHECK(wasi_fd_seek(w, 1, 0, 0, 2008) == WE_SPIPE ||
          wasi_fd_seek(w, 1, 0, 0, 2008) == WE_NOTCAPABLE);
    CHECK_INT(wasi_fd_fdstat_get(w, 1, 400), 0);
    CHECK_INT(wasi_fd_fdstat_get(w, 99, 400), WE_BADF);
    CHECK_INT(wasi_fd_fdstat_get(w, 1, MEMSZ - 8), WE_FAULT);
    CHECK_INT(wasi_sock_shutdown(w, 1, 0), WE_NOTSOCK);
    CHECK_INT(wasi_sock_shutdown(w, 77, 0), WE_BADF);
}

static void test_prestat(void)
{
    CHECK_INT(wasi_fd_prestat_get(w, 3, 400), 0);
    CHECK_INT(mem.data[400], 0);
    CHECK_INT(ld32(404), 1);
    CHECK_INT(wasi_fd_prestat_dir_name(w, 3, 500, 1), 0);
    CHECK_INT(mem.data[500], '/');
    CHECK_INT(wasi_fd_prestat_get(w, 4, 400), 0);
    CHECK_INT(ld32(404), 3);
    CHECK_INT(wasi_fd_prestat_dir_name(w, 4, 500, 2), WE_NAMETOOLONG);
    CHECK_INT(wasi_fd_prestat_dir_name(w, 4, MEMSZ - 1, 3), WE_FAULT);
    CHECK_INT(wasi_fd_prestat_get(w, 5, 400), WE_BADF);
    CHECK_INT(wasi_fd_prestat_get(w, 1, 400), WE_BADF);
}

/* Every way out of the preopen must fail, with and without openat2. */
static void test_escapes(void)
{
    uint64_t r = WR_FD_READ;
    CHECK_INT(open_path(3, "../outside.txt", 0, r, 1), WE_NOTCAPABLE);
    CHECK_INT(open_path(3, "sub/../../outside.txt", 0, r, 1), WE_NOTCAPABLE);
    CHECK_INT(open_path(3, "/etc/passwd", 0, r, 1), WE_NOTCAPABLE);
    CHECK_INT(open_path(3, "abs/passwd", 0, r, 1), WE_NOTCAPABLE);
    CHECK_INT(open_path(3, "up/outside.txt", 0, r, 1), WE_NOTCAPABLE);
    CHECK_INT(open_path(3, "sub/uplink", 0, r, 1), WE_NOTCAPABLE);
    uint32_t e = open_path(3, "loop1", 0, r, 1);
    CHECK(e == WE_LOOP);
    CHECK_INT(open_path(3, "loop1", 0, r, 0), WE_LOOP);
    CHECK_INT(open_path(3, "sub/inlink", 0, r, 1), 0); /* ../file.txt: inside */
    CHECK_INT(wasi_fd_close(w, ld32(100)), 0);
    CHECK_INT(open_path(3, "sub/../file.txt", 0, r, 1), 0);
    CHECK_INT(wasi_fd_close(w, ld32(100)), 0);
    CHECK_INT(open_path(3, "sub/inlink", 0, r, 0), WE_LOOP); /* nofollow */
    /* creating through a symlink pointing outside */
    CHECK_INT(open_path(3, "newout", WO_CREAT, r | WR_FD_WRITE, 1), WE_NOTCAPABLE);
    struct stat st;
    CHECK(stat(outside, &st) == 0 && st.st_size == 3);
    /* path operations on the last component */
    uint32_t n = put(1000, "../outside.txt");
    CHECK_INT(wasi_path_unlink_file(w, 3, 1000, n), WE_NOTCAPABLE);
    n = put(1000, "up/outside.txt");
    CHECK_INT(wasi_path_unlink_file(w, 3, 1000, n), WE_NOTCAPABLE);
    n = put(1000, "up/x");
    CHECK_INT(wasi_path_create_directory(w, 3, 1000, n), WE_NOTCAPABLE);
    n = put(1000, "file.txt");
    uint32_t m = put(1100, "../stolen");
    CHECK_INT(wasi_path_rename(w, 3, 1000, n, 3, 1100, m), WE_NOTCAPABLE);
    CHECK_INT(wasi_path_link(w, 3, 0, 1000, n, 3, 1100, m), WE_NOTCAPABLE);
    m = put(1100, "up/stolen");
    CHECK_INT(wasi_path_rename(w, 3, 1000, n, 3, 1100, m), WE_NOTCAPABLE);
    n = put(1000, "up/outside.txt");
    m = put(1100, "mine");
    CHECK_INT(wasi_path_link(w, 3, 0, 1000, n, 3, 1100, m), WE_NOTCAPABLE);
    CHECK_INT(wasi_path_rename(w, 3, 1000, n, 3, 1100, m), WE_NOTCAPABLE);
    n = put(1000, "abs/passwd");
    CHECK_INT(wasi_path_filestat_get(w, 3, 1, 1000, n, 400), WE_NOTCAPABLE);
    n = put(1000, "abs");
    CHECK_INT(wasi_path_filestat_get(w, 3, 0, 1000, n, 400), 0);
    CHECK_INT(mem.data[416], WF_SYMBOLIC_LINK);
    CHECK_INT(wasi_path_filestat_get(w, 3, 1, 1000, n, 400), WE_NOTCAPABLE);
    n = put(1000, "abs/");
    CHECK_INT(wasi_path_filestat_get(w, 3, 0, 1000, n, 400), WE_NOTCAPABLE);
    CHECK_INT(wasi_path_readlink(w, 3, 1000, n, 600, 100, 700), WE_NOTCAPABLE);
    n = put(1000, "abs");
    CHECK_INT(wasi_path_readlink(w, 3, 1000, n, 600, 100, 700), 0);
    CHECK_INT(ld32(700), 4);
    CHECK_INT(wasi_path_readlink(w, 3, 1000, n, 600, 2, 700), 0);
    CHECK_INT(ld32(700), 2);
    n = put(1000, "..");
    CHECK_INT(wasi_path_remove_directory(w, 3, 1000, n), WE_NOTCAPABLE);
    n = put(1000, "x");
    m = put(1100, "/etc");
    CHECK_INT(wasi_path_symlink(w, 1100, m, 3, 1000, n), WE_NOTCAPABLE);
    CHECK(stat(outside, &st) == 0 && st.st_size == 3);
}

static void test_files(void)
{
    uint64_t rw = WR_FD_READ | WR_FD_WRITE | WR_FD_SEEK | WR_FD_TELL | WR_FD_FILESTAT_GET;
    CHECK_INT(open_path(3, "new.txt", WO_CREAT | WO_EXCL, rw, 0), 0);
    uint32_t fd = ld32(100);
    CHECK(fd >= 5);
    CHECK_INT(write_str(fd, "abcdef"), 0);
    CHECK_INT(wasi_fd_tell(w, fd, 400), 0);
    CHECK_INT(wasi_ld64(mem.data + 400), 6);
    CHECK_INT(wasi_fd_seek(w, fd, (uint64_t)-2, 1, 400), 0);
    CHECK_INT(wasi_ld64(mem.data + 400), 4);
    wasi_st32(mem.data + 2000, 3000);
    wasi_st32(mem.data + 2004, 10);
    CHECK_INT(wasi_fd_pread(w, fd, 2000, 1, 1, 2008), 0);
    CHECK_INT(ld32(2008), 5);
    CHECK(memcmp(mem.data + 3000, "bcdef", 5) == 0);
    CHECK_INT(wasi_fd_filestat_get(w, fd, 400), 0);
    CHECK_INT(mem.data[416], WF_REGULAR_FILE);
    CHECK_INT(wasi_ld64(mem.data + 432), 6);
    /* drop rights: read now refused, regaining refused */
    CHECK_INT(wasi_fd_fdstat_set_rights(w, fd, WR_FD_WRITE, 0), 0);
    CHECK_INT(wasi_fd_read(w, fd, 2000, 1, 2008), WE_NOTCAPABLE);
    CHECK_INT(wasi_fd_fdstat_set_rights(w, fd, rw, 0), WE_NOTCAPABLE);
    CHECK_INT(wasi_fd_renumber(w, fd, 2), 0);
    CHECK_INT(wasi_fd_fdstat_get(w, fd, 400), WE_BADF);
    CHECK_INT(write_str(2, "!"), 0);
    CHECK_INT(wasi_fd_close(w, 2), 0);
    CHECK_INT(wasi_fd_close(w, 2), WE_BADF);
    /* directory listing */
    CHECK_INT(open_path(3, "sub", WO_DIRECTORY, WR_FD_READDIR, 0), 0);
    uint32_t d = ld32(100);
    CHECK_INT(wasi_fd_readdir(w, d, 4000, 4096, 0, 400), 0);
    uint32_t used = ld32(400), pos = 0;
    int names = 0;
    while (pos + 24 <= used) {
        uint32_t nl = ld32(4000 + pos + 16);
        names++;
        pos += 24 + nl;
    }
    CHECK_INT(names, 4); /* . .. uplink inlink */
    CHECK_INT(wasi_fd_readdir(w, d, 4000, 10, 0, 400), 0);
    CHECK_INT(ld32(400), 10);
    CHECK_INT(wasi_fd_readdir(w, d, MEMSZ - 4, 10, 0, 400), WE_FAULT);
    CHECK_INT(wasi_fd_close(w, d), 0);
    uint32_t n = put(1000, "new.txt");
    CHECK_INT(wasi_path_unlink_file(w, 3, 1000, n), 0);
    n = put(1000, "file.txt/");
    CHECK_INT(wasi_path_unlink_file(w, 3, 1000, n), WE_NOTDIR);
}

static void test_readonly(void)
{
    CHECK_INT(open_path(4, "ro.txt", 0, WR_FD_READ, 0), 0);
    uint32_t fd = ld32(100);
    wasi_st32(mem.data + 2000, 3000);
    wasi_st32(mem.data + 2004, 10);
    CHECK_INT(wasi_fd_read(w, fd, 2000, 1, 2008), 0);
    CHECK_INT(ld32(2008), 2);
    CHECK_INT(wasi_fd_filestat_set_times(w, fd, 0, 0, WT_ATIM_NOW), WE_NOTCAPABLE);
    CHECK_INT(wasi_fd_close(w, fd), 0);
    CHECK_INT(open_path(4, "ro.txt", 0, WR_FD_READ | WR_FD_WRITE, 0), WE_ROFS);
    CHECK_INT(open_path(4, "ro.txt", WO_TRUNC, WR_FD_READ, 0), WE_ROFS);
    CHECK_INT(open_path(4, "new", WO_CREAT, WR_FD_READ, 0), WE_ROFS);
    uint32_t n = put(1000, "ro.txt"), m = put(1100, "moved");
    CHECK_INT(wasi_path_unlink_file(w, 4, 1000, n), WE_ROFS);
    CHECK_INT(wasi_path_rename(w, 4, 1000, n, 3, 1100, m), WE_ROFS);
    CHECK_INT(wasi_path_rename(w, 3, 1100, m, 4, 1000, n), WE_ROFS);
    CHECK_INT(wasi_path_link(w, 4, 0, 1000, n, 3, 1100, m), WE_ROFS);
    CHECK_INT(wasi_path_create_directory(w, 4, 1100, m), WE_ROFS);
    CHECK_INT(wasi_path_symlink(w, 1000, n, 4, 1100, m), WE_ROFS);
    CHECK_INT(wasi_path_filestat_set_times(w, 4, 0, 1000, n, 0, 0, WT_MTIM_NOW), WE_ROFS);
    CHECK_INT(wasi_path_filestat_get(w, 4, 0, 1000, n, 400), 0);
    CHECK_INT(open_path(4, ".", WO_DIRECTORY, WR_ALL & ~WR_FD_WRITE, 0), 0);
    fd = ld32(100);
    CHECK_INT(wasi_path_unlink_file(w, fd, 1000, n), WE_ROFS);
    CHECK_INT(wasi_fd_close(w, fd), 0);
}

static void test_poll(void)
{
    uint8_t *s = mem.data + 5000;
    memset(s, 0, 96);
    wasi_st64(s, 42);
    s[8] = 0;
    wasi_st32(s + 16, 1);
    wasi_st64(s + 24, 1000000); /* 1 ms */
    CHECK_INT(wasi_poll_oneoff(w, 5000, 6000, 1, 400), 0);
    CHECK_INT(ld32(400), 1);
    CHECK_INT(wasi_ld64(mem.data + 6000), 42);
    wasi_st64(s + 48, 7); /* plus an fd_read on memory stdin: ready at once */
    s[56] = 1;
    wasi_st32(s + 64, 0);
    wasi_st64(s + 24, 10000000000ull);
    CHECK_INT(wasi_poll_oneoff(w, 5000, 6000, 2, 400), 0);
    CHECK_INT(ld32(400), 1);
    CHECK_INT(wasi_ld64(mem.data + 6000), 7);
    CHECK_INT(wasi_poll_oneoff(w, 5000, MEMSZ - 40, 2, 400), WE_FAULT);
    CHECK_INT(wasi_poll_oneoff(w, 5000, 6000, 0, 400), WE_INVAL);
}

/* On a fiber under an event loop, a poll_oneoff on a clock parks the fiber (the loop gets
 * the wait) and returns once the loop completes it. */
typedef struct poll_loop {
    kiln_sched base;
    kiln_fiber *waiting;
    kiln_wait_req req;
    int woken;
} poll_loop;

static void pl_wait(kiln_sched *s, kiln_fiber *f, const kiln_wait_req *req)
{
    poll_loop *l = (poll_loop *)s;
    l->waiting = f;
    l->req = *req;
}

static void pl_wake(kiln_sched *s, kiln_fiber *f)
{
    (void)f;
    ((poll_loop *)s)->woken++;
}

static uint32_t poll_rc;

static void poll_on_fiber(void *arg)
{
    (void)arg;
    poll_rc = wasi_poll_oneoff(w, 5000, 6000, 1, 400);
}

static void test_poll_fiber(void)
{
    uint8_t *s = mem.data + 5000;
    memset(s, 0, 48);
    wasi_st64(s, 43);
    wasi_st32(s + 16, 1);
    wasi_st64(s + 24, 1000000); /* 1 ms */
    poll_loop l = {{pl_wait, pl_wake}, NULL, {0}, 0};
    kiln_sched_bind(&l.base);
    kiln_fiber *f = kiln_fiber_new(poll_on_fiber, NULL);
    CHECK(f != NULL);
    if (!f) return;
    poll_rc = 99;
    CHECK_INT(kiln_fiber_resume(f), KILN_FIBER_PARKED);
    CHECK(l.waiting == f);
    CHECK_INT(l.req.kind, KILN_WAIT_SLEEP);
    CHECK_INT(poll_rc, 99); /* still waiting */
    struct timespec ts = {(time_t)(l.req.deadline_ns / 1000000000u),
                          (long)(l.req.deadline_ns % 1000000000u)};
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL); /* the loop's timer */
    kiln_sched_complete(f, 0);
    CHECK_INT(l.woken, 1);
    CHECK_INT(kiln_fiber_resume(f), KILN_FIBER_DONE);
    CHECK_INT(poll_rc, 0);
    CHECK_INT(ld32(400), 1);
    CHECK_INT(wasi_ld64(mem.data + 6000), 43);
    kiln_fiber_free(f);
    kiln_sched_bind(NULL);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(root, sizeof root, "%s/kiln-wasi-test.XXXXXX", tmp);
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(outside, sizeof outside, "%s/outside.txt", root);
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "cd %s && mkdir -p box/sub ro && printf abc > outside.txt && printf hi > ro/ro.txt "
             "&& printf data > box/file.txt && ln -s /etc box/abs && ln -s .. box/up "
             "&& ln -s ../../outside.txt box/sub/uplink && ln -s ../file.txt box/sub/inlink "
             "&& ln -s loop2 box/loop1 && ln -s loop1 box/loop2 && ln -s ../newout.txt box/newout",
             root);
    run(cmd);
    char box[300], ro[300];
    snprintf(box, sizeof box, "%s/box", root);
    snprintf(ro, sizeof ro, "%s/ro", root);

    mem.data = calloc(1, MEMSZ);
    mem.size = MEMSZ;
    mem.pages = 1;
    const char *argv[] = {"prog", "a", "b c"};
    const char *env[] = {"K=V"};
    kiln_wasi_preopen pre[] = {{box, "/", 0}, {ro, "/ro", 1}};
    kiln_buf out = KILN_BUF_INIT, err = KILN_BUF_INIT;
    kiln_wasi_config cfg = {
        .argc = 3, .argv = argv, .nenv = 1, .env = env, .npreopens = 2, .preopens = pre};
    cfg.stdio[0] = (kiln_wasi_stdio){.fd = -1, .in_data = (const uint8_t *)"input", .in_len = 5};
    cfg.stdio[1] = (kiln_wasi_stdio){.fd = -1, .out = &out, .limit = 10};
    cfg.stdio[2] = (kiln_wasi_stdio){.fd = -1, .out = &err};
    char *msg = NULL;
    w = kiln_wasi_new(&cfg, &msg);
    CHECK(w != NULL);
    if (!w) {
        fprintf(stderr, "kiln_wasi_new: %s\n", msg ? msg : "?");
        return test_finish("wasi");
    }
    kiln_wasi_set_memory(w, &mem);
    test_args_env();
    test_stdio(&out);
    test_prestat();
    test_escapes();
    w->no_openat2 = 1; /* the component-wise resolver must hold the same line */
    test_escapes();
    w->no_openat2 = 0;
    test_files();
    test_readonly();
    test_poll();
    test_poll_fiber();
    kiln_wasi_free(w);

    /* A bad preopen is an error with a message. */
    kiln_wasi_preopen bad[] = {{"/nonexistent/kiln", "/", 0}};
    cfg.preopens = bad;
    cfg.npreopens = 1;
    msg = NULL;
    CHECK(kiln_wasi_new(&cfg, &msg) == NULL);
    CHECK(msg != NULL && strstr(msg, "/nonexistent/kiln") != NULL);
    kiln_free(msg);

    kiln_buf_free(&out);
    kiln_buf_free(&err);
    free(mem.data);
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    run(cmd);
    return test_finish("wasi");
}
