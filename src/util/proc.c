/* proc.c — child processes with captured output (see proc.h). */
#include "util/proc.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static atomic_int cancel_flag;

void kiln_proc_cancel_all(void)
{
    atomic_store(&cancel_flag, 1);
}

int kiln_proc_cancelled(void)
{
    return atomic_load(&cancel_flag);
}

/* Waits for pid, killing its process group once a cancel is requested. The exit status
 * as for kiln_proc_run, -2 when cancelled, -1 on a waitpid error. */
static int wait_child(pid_t pid)
{
    int status, cancelled = 0;
    for (;;) {
        pid_t r = waitpid(pid, &status, cancelled ? 0 : WNOHANG);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        if (r == pid) break;
        if (atomic_load(&cancel_flag)) {
            kill(-pid, SIGKILL); /* the group: a driver's cc1/as go too */
            cancelled = 1;
            continue;
        }
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (cancelled) return -2;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int kiln_proc_run(const char *const *argv, kiln_buf *output, int nice_incr)
{
    int pipefd[2] = {-1, -1};
    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa) != 0) return -1;
    int rc = -1;
    pid_t pid = -1;
    posix_spawnattr_t attr;
    int have_attr = 0;
    if (atomic_load(&cancel_flag)) {
        if (output) kiln_buf_puts(output, "cancelled\n");
        posix_spawn_file_actions_destroy(&fa);
        return -1;
    }
    /* a process group of its own, so that a cancel reaches the child's children */
    if (posix_spawnattr_init(&attr) != 0) goto out;
    have_attr = 1;
    if (posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP) != 0 ||
        posix_spawnattr_setpgroup(&attr, 0) != 0)
        goto out;
    if (posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0) != 0) goto out;
    if (output) {
        if (pipe2(pipefd, O_CLOEXEC) < 0) goto out;
        if (posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1) != 0 ||
            posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2) != 0)
            goto out;
    }
    int err = posix_spawnp(&pid, argv[0], &fa, &attr, (char *const *)argv, environ);
    if (err != 0) {
        if (output) kiln_buf_printf(output, "cannot run %s: %s\n", argv[0], strerror(err));
        pid = -1;
        goto out;
    }
    if (nice_incr > 0) setpriority(PRIO_PROCESS, (id_t)pid, nice_incr);
    if (output) {
        close(pipefd[1]);
        pipefd[1] = -1;
        char chunk[4096];
        for (;;) {
            /* wake up now and then to see a cancel (the wait below kills the child) */
            struct pollfd pfd = {pipefd[0], POLLIN, 0};
            int pr = poll(&pfd, 1, 20);
            if (pr < 0 && errno == EINTR) continue;
            if (pr < 0) break;
            if (pr == 0) {
                if (atomic_load(&cancel_flag)) break;
                continue;
            }
            ssize_t n = read(pipefd[0], chunk, sizeof chunk);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            kiln_buf_append(output, chunk, (size_t)n);
        }
    }
    rc = wait_child(pid);
    if (rc == -2) {
        if (output) kiln_buf_puts(output, "cancelled\n");
        rc = -1;
    }
out:
    if (have_attr) posix_spawnattr_destroy(&attr);
    if (pipefd[0] >= 0) close(pipefd[0]);
    if (pipefd[1] >= 0) close(pipefd[1]);
    posix_spawn_file_actions_destroy(&fa);
    return rc;
}
