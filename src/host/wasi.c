/* wasi.c — the WASI preview1 context (creation, preopens, stdio), args/environ, clocks,
 * random, proc_*, sched_yield, the sock_* stubs and the host module table.
 * The fd operations live in wasi_fd.c, path operations in wasi_path.c, poll_oneoff in
 * wasi_poll.c. */
#include "host/registry.h"
#include "host/wasi_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine/runtime.h"
#include "util/alloc.h"

/* Maps a host errno to the WASI errno. */
uint32_t wasi_errno(int e)
{
    switch (e) {
    case 0:
        return WE_SUCCESS;
    case E2BIG:
        return WE_2BIG;
    case EACCES:
        return WE_ACCES;
    case EADDRINUSE:
        return WE_ADDRINUSE;
    case EADDRNOTAVAIL:
        return WE_ADDRNOTAVAIL;
    case EAFNOSUPPORT:
        return WE_AFNOSUPPORT;
    case EAGAIN:
        return WE_AGAIN;
    case EALREADY:
        return WE_ALREADY;
    case EBADF:
        return WE_BADF;
    case EBADMSG:
        return WE_BADMSG;
    case EBUSY:
        return WE_BUSY;
    case ECANCELED:
        return WE_CANCELED;
    case ECHILD:
        return WE_CHILD;
    case ECONNABORTED:
        return WE_CONNABORTED;
    case ECONNREFUSED:
        return WE_CONNREFUSED;
    case ECONNRESET:
        return WE_CONNRESET;
    case EDEADLK:
        return WE_DEADLK;
    case EDESTADDRREQ:
        return WE_DESTADDRREQ;
    case EDOM:
        return WE_DOM;
    case EDQUOT:
        return WE_DQUOT;
    case EEXIST:
        return WE_EXIST;
    case EFAULT:
        return WE_FAULT;
    case EFBIG:
        return WE_FBIG;
    case EHOSTUNREACH:
        return WE_HOSTUNREACH;
    case EIDRM:
        return WE_IDRM;
    case EILSEQ:
        return WE_ILSEQ;
    case EINPROGRESS:
        return WE_INPROGRESS;
    case EINTR:
        return WE_INTR;
    case EINVAL:
        return WE_INVAL;
    case EIO:
        return WE_IO;
    case EISCONN:
        return WE_ISCONN;
    case EISDIR:
        return WE_ISDIR;
    case ELOOP:
        return WE_LOOP;
    case EMFILE:
        return WE_MFILE;
    case EMLINK:
        return WE_MLINK;
    case EMSGSIZE:
        return WE_MSGSIZE;
    case EMULTIHOP:
        return WE_MULTIHOP;
    case ENAMETOOLONG:
        return WE_NAMETOOLONG;
    case ENETDOWN:
        return WE_NETDOWN;
    case ENETRESET:
        return WE_NETRESET;
    case ENETUNREACH:
        return WE_NETUNREACH;
    case ENFILE:
        return WE_NFILE;
    case ENOBUFS:
        return WE_NOBUFS;
    case ENODEV:
        return WE_NODEV;
    case ENOENT:
        return WE_NOENT;
    case ENOEXEC:
        return WE_NOEXEC;
    case ENOLCK:
        return WE_NOLCK;
    case ENOLINK:
        return WE_NOLINK;
    case ENOMEM:
        return WE_NOMEM;
    case ENOMSG:
        return WE_NOMSG;
    case ENOPROTOOPT:
        return WE_NOPROTOOPT;
    case ENOSPC:
        return WE_NOSPC;
    case ENOSYS:
        return WE_NOSYS;
    case ENOTCONN:
        return WE_NOTCONN;
    case ENOTDIR:
        return WE_NOTDIR;
    case ENOTEMPTY:
        return WE_NOTEMPTY;
    case ENOTRECOVERABLE:
        return WE_NOTRECOVERABLE;
    case ENOTSOCK:
        return WE_NOTSOCK;
    case EOPNOTSUPP:
        return WE_NOTSUP;
    case ENOTTY:
        return WE_NOTTY;
    case ENXIO:
        return WE_NXIO;
    case EOVERFLOW:
        return WE_OVERFLOW;
    case EOWNERDEAD:
        return WE_OWNERDEAD;
    case EPERM:
        return WE_PERM;
    case EPIPE:
        return WE_PIPE;
    case EPROTO:
        return WE_PROTO;
    case EPROTONOSUPPORT:
        return WE_PROTONOSUPPORT;
    case EPROTOTYPE:
        return WE_PROTOTYPE;
    case ERANGE:
        return WE_RANGE;
    case EROFS:
        return WE_ROFS;
    case ESPIPE:
        return WE_SPIPE;
    case ESRCH:
        return WE_SRCH;
    case ESTALE:
        return WE_STALE;
    case ETIMEDOUT:
        return WE_TIMEDOUT;
    case ETXTBSY:
        return WE_TXTBSY;
    case EXDEV:
        return WE_XDEV;
    default:
        return WE_IO;
    }
}

/* Copies n strings into one block: the pointer array, then the strings back to back
 * (one allocation per list; args/environ_get copy the bytes out in one go). *size is
 * what *_sizes_get reports: the bytes with their NULs. */
static int copy_strings(char ***out, size_t *size, const char *const *src, size_t n)
{
    *out = NULL;
    *size = 0;
    if (n == 0) return 0;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(src[i] ? src[i] : "") + 1;
        if (total > UINT32_MAX - l) return -1;
        total += l;
    }
    char **a = kiln_malloc(n * sizeof *a + total);
    if (!a) return -1;
    char *p = (char *)(a + n);
    for (size_t i = 0; i < n; i++) {
        const char *s = src[i] ? src[i] : "";
        size_t l = strlen(s) + 1;
        memcpy(p, s, l);
        a[i] = p;
        p += l;
    }
    *out = a;
    *size = total;
    return 0;
}

/* Sets *err to a formatted message (kiln_free'd by the caller). */
static void set_err(char **err, const char *what, const char *arg, int e)
{
    if (!err) return;
    kiln_buf b = KILN_BUF_INIT;
    if (kiln_buf_printf(&b, "%s%s%s%s%s", what, arg ? " " : "", arg ? arg : "", e ? ": " : "",
                        e ? strerror(e) : "") == 0)
        *err = kiln_buf_steal(&b);
    else
        *err = NULL;
    kiln_buf_free(&b);
}

/* Fills fd slot i from a stdio configuration. */
static int setup_stdio(wasi_fd *f, const kiln_wasi_stdio *s, int is_in)
{
    if (s->fd >= 0) {
        struct stat st;
        f->kind = WFK_STDIO;
        f->hostfd = s->fd;
        f->filetype = WF_UNKNOWN;
        if (fstat(s->fd, &st) == 0)
            f->filetype = wasi_filetype_of_mode(st.st_mode);
        else if (errno == EBADF)
            return -1;
        f->rights_base = WR_STREAM_BASE;
        if (f->filetype == WF_REGULAR_FILE)
            f->rights_base = WR_FILE_BASE;
        else if (f->filetype == WF_CHARACTER_DEVICE && !isatty(s->fd))
            f->rights_base |= WR_FD_SEEK | WR_FD_TELL; /* e.g. /dev/null */
        f->rights_inheriting = 0;
        return 0;
    }
    if (is_in) {
        f->kind = WFK_MEM_IN;
        f->in = s->in_data;
        f->in_len = s->in_data ? s->in_len : 0;
    } else {
        if (!s->out) return 0; /* closed */
        f->kind = WFK_MEM_OUT;
        f->out = s->out;
        f->limit = s->limit;
    }
    f->hostfd = -1;
    f->filetype = WF_UNKNOWN;
    f->rights_base = WR_STREAM_BASE;
    f->rights_inheriting = 0;
    return 0;
}

/* Creates a context: copies args and environment, opens the preopened directories and
 * sets up stdio. */
kiln_wasi *kiln_wasi_new(const kiln_wasi_config *cfg, char **err)
{
    if (err) *err = NULL;
    kiln_wasi *w = kiln_calloc(1, sizeof *w);
    if (!w) {
        set_err(err, "out of memory", NULL, 0);
        return NULL;
    }
    size_t argc = cfg->argc > 0 ? (size_t)cfg->argc : 0;
    if (copy_strings(&w->argv, &w->argv_size, cfg->argv, argc) < 0) {
        w->argc = argc;
        set_err(err, "out of memory", NULL, 0);
        goto fail;
    }
    w->argc = argc;
    if (copy_strings(&w->env, &w->env_size, cfg->env, cfg->nenv) < 0) {
        w->nenv = cfg->nenv;
        set_err(err, "out of memory", NULL, 0);
        goto fail;
    }
    w->nenv = cfg->nenv;
    w->nfds = 3 + cfg->npreopens + 8;
    w->fds = kiln_calloc(w->nfds, sizeof *w->fds);
    if (!w->fds) {
        w->nfds = 0;
        set_err(err, "out of memory", NULL, 0);
        goto fail;
    }
    for (size_t i = 0; i < w->nfds; i++)
        w->fds[i].hostfd = -1;
    for (int i = 0; i < 3; i++) {
        if (setup_stdio(&w->fds[i], &cfg->stdio[i], i == 0) < 0) {
            set_err(err, "stdio: bad file descriptor", NULL, 0);
            goto fail;
        }
    }
    for (size_t i = 0; i < cfg->npreopens; i++) {
        const kiln_wasi_preopen *p = &cfg->preopens[i];
        wasi_fd *f = &w->fds[3 + i];
        int fd = open(p->host_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
            set_err(err, "cannot open directory", p->host_path, errno);
            goto fail;
        }
        f->kind = WFK_HOST;
        f->hostfd = fd;
        f->filetype = WF_DIRECTORY;
        f->readonly = p->readonly != 0;
        f->rights_base = WR_DIR_BASE;
        f->rights_inheriting = WR_ALL;
        f->preopen_name = kiln_strdup(p->guest_path ? p->guest_path : "/");
        if (!f->preopen_name) {
            set_err(err, "out of memory", NULL, 0);
            goto fail;
        }
    }
    return w;
fail:
    kiln_wasi_free(w);
    return NULL;
}

void kiln_wasi_set_memory(kiln_wasi *w, wasm_rt_memory_t *mem)
{
    w->mem = mem;
}

void kiln_wasi_free(kiln_wasi *w)
{
    if (!w) return;
    for (size_t i = 0; i < w->nfds; i++)
        wasi_fd_release(&w->fds[i]);
    kiln_free(w->fds);
    kiln_free(w->argv);
    kiln_free(w->env);
    kiln_free(w);
}

/* Writes n strings (a copy_strings block) as a pointer array at ptrs and their bytes at
 * buf (args/environ_get). */
static uint32_t put_strings(kiln_wasi *w, char **a, size_t n, size_t size, uint32_t ptrs,
                            uint32_t buf)
{
    uint8_t *pp = wasi_mem(w, ptrs, (uint64_t)n * 4);
    uint8_t *bp = wasi_mem(w, buf, size);
    if (!pp || !bp) return WE_FAULT;
    if (n) memcpy(bp, a[0], size); /* the strings are contiguous from a[0] */
    for (size_t i = 0; i < n; i++)
        wasi_st32(pp + 4 * i, buf + (uint32_t)(a[i] - a[0]));
    return WE_SUCCESS;
}

uint32_t wasi_args_get(void *ctx, uint32_t argv, uint32_t buf)
{
    kiln_wasi *w = ctx;
    return put_strings(w, w->argv, w->argc, w->argv_size, argv, buf);
}

uint32_t wasi_args_sizes_get(void *ctx, uint32_t argc, uint32_t size)
{
    kiln_wasi *w = ctx;
    if (!wasi_mem(w, argc, 4) || !wasi_mem(w, size, 4)) return WE_FAULT;
    wasi_put32(w, argc, (uint32_t)w->argc);
    return wasi_put32(w, size, (uint32_t)w->argv_size);
}

uint32_t wasi_environ_get(void *ctx, uint32_t env, uint32_t buf)
{
    kiln_wasi *w = ctx;
    return put_strings(w, w->env, w->nenv, w->env_size, env, buf);
}

uint32_t wasi_environ_sizes_get(void *ctx, uint32_t count, uint32_t size)
{
    kiln_wasi *w = ctx;
    if (!wasi_mem(w, count, 4) || !wasi_mem(w, size, 4)) return WE_FAULT;
    wasi_put32(w, count, (uint32_t)w->nenv);
    return wasi_put32(w, size, (uint32_t)w->env_size);
}

/* Maps a WASI clock id to a host clock; -1 when unknown. */
static int host_clock(uint32_t id, clockid_t *out)
{
    switch (id) {
    case 0:
        *out = CLOCK_REALTIME;
        return 0;
    case 1:
        *out = CLOCK_MONOTONIC;
        return 0;
    case 2:
        *out = CLOCK_PROCESS_CPUTIME_ID;
        return 0;
    case 3:
        *out = CLOCK_THREAD_CPUTIME_ID;
        return 0;
    default:
        return -1;
    }
}

uint32_t wasi_clock_res_get(void *ctx, uint32_t id, uint32_t res)
{
    kiln_wasi *w = ctx;
    clockid_t c;
    struct timespec ts;
    if (host_clock(id, &c) < 0) return WE_INVAL;
    if (!wasi_mem(w, res, 8)) return WE_FAULT;
    if (clock_getres(c, &ts) < 0) return wasi_errno(errno);
    uint64_t ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    return wasi_put64(w, res, ns ? ns : 1);
}

uint32_t wasi_clock_time_get(void *ctx, uint32_t id, uint64_t precision, uint32_t time)
{
    kiln_wasi *w = ctx;
    clockid_t c;
    struct timespec ts;
    (void)precision;
    if (host_clock(id, &c) < 0) return WE_INVAL;
    if (!wasi_mem(w, time, 8)) return WE_FAULT;
    if (clock_gettime(c, &ts) < 0) return wasi_errno(errno);
    return wasi_put64(w, time, (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
}

uint32_t wasi_random_get(void *ctx, uint32_t buf, uint32_t len)
{
    kiln_wasi *w = ctx;
    uint8_t *p = wasi_mem(w, buf, len);
    if (!p) return WE_FAULT;
    size_t done = 0;
    while (done < len) {
        ssize_t n = getrandom(p + done, len - done, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            return wasi_errno(errno);
        }
        done += (size_t)n;
    }
    return WE_SUCCESS;
}

/* proc_exit: unwinds the guest with the exit code. (Output is never buffered inside the
 * context: every fd_write reaches the host fd or the kiln_buf before it returns, so
 * nothing is lost at exit or on a trap.) */
void wasi_proc_exit(void *ctx, uint32_t code)
{
    (void)ctx;
    kiln_rt_exit((int)code);
}

/* proc_raise: a guest raising a signal ends as a trap, as in wasmtime (there is no
 * handler to run in a WASI guest). Output written so far is flushed first. */
uint32_t wasi_proc_raise(void *ctx, uint32_t sig)
{
    char msg[64];
    snprintf(msg, sizeof msg, "the guest raised signal %u (proc_raise)", sig);
    (void)ctx;
    kiln_rt_trap_host(msg);
}

uint32_t wasi_sched_yield(void *ctx)
{
    (void)ctx;
    if (sched_yield() < 0) return wasi_errno(errno);
    return WE_SUCCESS;
}

/* Sockets: Kiln never hands a socket to a guest, so every open fd is "not a socket". */
static uint32_t not_socket(kiln_wasi *w, uint32_t fd)
{
    return wasi_fd_get(w, fd) ? WE_NOTSOCK : WE_BADF;
}

uint32_t wasi_sock_accept(void *ctx, uint32_t fd, uint32_t flags, uint32_t out)
{
    (void)flags;
    (void)out;
    return not_socket(ctx, fd);
}

uint32_t wasi_sock_recv(void *ctx, uint32_t fd, uint32_t iovs, uint32_t n, uint32_t flags,
                        uint32_t nread, uint32_t oflags)
{
    (void)iovs, (void)n, (void)flags, (void)nread, (void)oflags;
    return not_socket(ctx, fd);
}

uint32_t wasi_sock_send(void *ctx, uint32_t fd, uint32_t iovs, uint32_t n, uint32_t flags,
                        uint32_t nwritten)
{
    (void)iovs, (void)n, (void)flags, (void)nwritten;
    return not_socket(ctx, fd);
}

uint32_t wasi_sock_shutdown(void *ctx, uint32_t fd, uint32_t how)
{
    (void)how;
    return not_socket(ctx, fd);
}

#define F(name, sig)                                                                               \
    {                                                                                              \
#name, sig, (kiln_fnptr)wasi_##name                                                        \
    }
static const kiln_host_func wasi_funcs[] = {
    F(args_get, "ii:i"),
    F(args_sizes_get, "ii:i"),
    F(environ_get, "ii:i"),
    F(environ_sizes_get, "ii:i"),
    F(clock_res_get, "ii:i"),
    F(clock_time_get, "iji:i"),
    F(fd_advise, "ijji:i"),
    F(fd_allocate, "ijj:i"),
    F(fd_close, "i:i"),
    F(fd_datasync, "i:i"),
    F(fd_fdstat_get, "ii:i"),
    F(fd_fdstat_set_flags, "ii:i"),
    F(fd_fdstat_set_rights, "ijj:i"),
    F(fd_filestat_get, "ii:i"),
    F(fd_filestat_set_size, "ij:i"),
    F(fd_filestat_set_times, "ijji:i"),
    F(fd_pread, "iiiji:i"),
    F(fd_prestat_get, "ii:i"),
    F(fd_prestat_dir_name, "iii:i"),
    F(fd_pwrite, "iiiji:i"),
    F(fd_read, "iiii:i"),
    F(fd_readdir, "iiiji:i"),
    F(fd_renumber, "ii:i"),
    F(fd_seek, "ijii:i"),
    F(fd_sync, "i:i"),
    F(fd_tell, "ii:i"),
    F(fd_write, "iiii:i"),
    F(path_create_directory, "iii:i"),
    F(path_filestat_get, "iiiii:i"),
    F(path_filestat_set_times, "iiiijji:i"),
    F(path_link, "iiiiiii:i"),
    F(path_open, "iiiiijjii:i"),
    F(path_readlink, "iiiiii:i"),
    F(path_remove_directory, "iii:i"),
    F(path_rename, "iiiiii:i"),
    F(path_symlink, "iiiii:i"),
    F(path_unlink_file, "iii:i"),
    F(poll_oneoff, "iiii:i"),
    F(proc_exit, "i:"),
    F(proc_raise, "i:i"),
    F(sched_yield, ":i"),
    F(random_get, "ii:i"),
    F(sock_accept, "iii:i"),
    F(sock_recv, "iiiiii:i"),
    F(sock_send, "iiiii:i"),
    F(sock_shutdown, "ii:i"),
};
#undef F

const kiln_host_module kiln_wasi_module = {
    "wasi_snapshot_preview1",
    wasi_funcs,
    sizeof wasi_funcs / sizeof wasi_funcs[0],
};

int kiln_wasi_preopens_add(kiln_wasi_preopen **list, size_t *n, const char *host_path,
                           const char *guest_path, int readonly)
{
    kiln_wasi_preopen *p = kiln_realloc(*list, (*n + 1) * sizeof *p);
    if (!p) return -1;
    *list = p;
    char *h = kiln_strdup(host_path), *g = kiln_strdup(guest_path);
    if (!h || !g) {
        kiln_free(h);
        kiln_free(g);
        return -1;
    }
    p[(*n)++] = (kiln_wasi_preopen){h, g, readonly};
    return 0;
}

void kiln_wasi_preopens_free(kiln_wasi_preopen *list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        kiln_free((char *)list[i].host_path);
        kiln_free((char *)list[i].guest_path);
    }
    kiln_free(list);
}

/* ---- the registry's view (host/registry.h) ---- */

static void *api_ctx_new(const kiln_grants *g, char **err)
{
    return kiln_wasi_new(&g->wasi, err);
}

static void api_ctx_free(void *ctx)
{
    kiln_wasi_free(ctx);
}

static void api_set_memory(void *ctx, wasm_rt_memory_t *mem)
{
    kiln_wasi_set_memory(ctx, mem);
}

const kiln_host_api kiln_wasi_api = {&kiln_wasi_module, api_ctx_new, api_ctx_free, api_set_memory};
