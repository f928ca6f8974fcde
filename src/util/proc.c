/* proc.c — child processes with captured output (see proc.h). */
#include "util/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int kiln_proc_run(const char *const *argv, kiln_buf *output, int nice_incr)
{
    int pipefd[2] = {-1, -1};
    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa) != 0) return -1;
    int rc = -1;
    pid_t pid = -1;
    if (posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0) != 0) goto out;
    if (output) {
        if (pipe2(pipefd, O_CLOEXEC) < 0) goto out;
        if (posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1) != 0 ||
            posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2) != 0)
            goto out;
    }
    int err = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
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
            ssize_t n = read(pipefd[0], chunk, sizeof chunk);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            kiln_buf_append(output, chunk, (size_t)n);
        }
    }
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) goto out;
    }
    rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
out:
    if (pipefd[0] >= 0) close(pipefd[0]);
    if (pipefd[1] >= 0) close(pipefd[1]);
    posix_spawn_file_actions_destroy(&fa);
    return rc;
}
