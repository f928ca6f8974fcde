/* wasi_internal.h — shared internals of the WASI preview1 host (wasi*.c): the context,
 * the fd table, the witx constants and guest-memory helpers. Not a public header. */
#ifndef KILN_HOST_WASI_INTERNAL_H
#define KILN_HOST_WASI_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <wasm-rt.h>

#include "engine/runtime.h"
#include "host/wasi.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the WASI host assumes a little-endian host (guest memory is little-endian)"
#endif

/* errno (witx) */
enum {
    WE_SUCCESS = 0,
    WE_2BIG = 1,
    WE_ACCES = 2,
    WE_ADDRINUSE = 3,
    WE_ADDRNOTAVAIL = 4,
    WE_AFNOSUPPORT = 5,
    WE_AGAIN = 6,
    WE_ALREADY = 7,
    WE_BADF = 8,
    WE_BADMSG = 9,
    WE_BUSY = 10,
    WE_CANCELED = 11,
    WE_CHILD = 12,
    WE_CONNABORTED = 13,
    WE_CONNREFUSED = 14,
    WE_CONNRESET = 15,
    WE_DEADLK = 16,
    WE_DESTADDRREQ = 17,
    WE_DOM = 18,
    WE_DQUOT = 19,
    WE_EXIST = 20,
    WE_FAULT = 21,
    WE_FBIG = 22,
    WE_HOSTUNREACH = 23,
    WE_IDRM = 24,
    WE_ILSEQ = 25,
    WE_INPROGRESS = 26,
    WE_INTR = 27,
    WE_INVAL = 28,
    WE_IO = 29,
    WE_ISCONN = 30,
    WE_ISDIR = 31,
    WE_LOOP = 32,
    WE_MFILE = 33,
    WE_MLINK = 34,
    WE_MSGSIZE = 35,
    WE_MULTIHOP = 36,
    WE_NAMETOOLONG = 37,
    WE_NETDOWN = 38,
    WE_NETRESET = 39,
    WE_NETUNREACH = 40,
    WE_NFILE = 41,
    WE_NOBUFS = 42,
    WE_NODEV = 43,
    WE_NOENT = 44,
    WE_NOEXEC = 45,
    WE_NOLCK = 46,
    WE_NOLINK = 47,
    WE_NOMEM = 48,
    WE_NOMSG = 49,
    WE_NOPROTOOPT = 50,
    WE_NOSPC = 51,
    WE_NOSYS = 52,
    WE_NOTCONN = 53,
    WE_NOTDIR = 54,
    WE_NOTEMPTY = 55,
    WE_NOTRECOVERABLE = 56,
    WE_NOTSOCK = 57,
    WE_NOTSUP = 58,
    WE_NOTTY = 59,
    WE_NXIO = 60,
    WE_OVERFLOW = 61,
    WE_OWNERDEAD = 62,
    WE_PERM = 63,
    WE_PIPE = 64,
    WE_PROTO = 65,
    WE_PROTONOSUPPORT = 66,
    WE_PROTOTYPE = 67,
    WE_RANGE = 68,
    WE_ROFS = 69,
    WE_SPIPE = 70,
    WE_SRCH = 71,
    WE_STALE = 72,
    WE_TIMEDOUT = 73,
    WE_TXTBSY = 74,
    WE_XDEV = 75,
    WE_NOTCAPABLE = 76,
};

/* rights */
#define WR_FD_DATASYNC (1ull << 0)
#define WR_FD_READ (1ull << 1)
#define WR_FD_SEEK (1ull << 2)
#define WR_FD_FDSTAT_SET_FLAGS (1ull << 3)
#define WR_FD_SYNC (1ull << 4)
#define WR_FD_TELL (1ull << 5)
#define WR_FD_WRITE (1ull << 6)
#define WR_FD_ADVISE (1ull << 7)
#define WR_FD_ALLOCATE (1ull << 8)
#define WR_PATH_CREATE_DIRECTORY (1ull << 9)
#define WR_PATH_CREATE_FILE (1ull << 10)
#define WR_PATH_LINK_SOURCE (1ull << 11)
#define WR_PATH_LINK_TARGET (1ull << 12)
#define WR_PATH_OPEN (1ull << 13)
#define WR_FD_READDIR (1ull << 14)
#define WR_PATH_READLINK (1ull << 15)
#define WR_PATH_RENAME_SOURCE (1ull << 16)
#define WR_PATH_RENAME_TARGET (1ull << 17)
#define WR_PATH_FILESTAT_GET (1ull << 18)
#define WR_PATH_FILESTAT_SET_SIZE (1ull << 19)
#define WR_PATH_FILESTAT_SET_TIMES (1ull << 20)
#define WR_FD_FILESTAT_GET (1ull << 21)
#define WR_FD_FILESTAT_SET_SIZE (1ull << 22)
#define WR_FD_FILESTAT_SET_TIMES (1ull << 23)
#define WR_PATH_SYMLINK (1ull << 24)
#define WR_PATH_REMOVE_DIRECTORY (1ull << 25)
#define WR_PATH_UNLINK_FILE (1ull << 26)
#define WR_POLL_FD_READWRITE (1ull << 27)
#define WR_SOCK_SHUTDOWN (1ull << 28)
#define WR_SOCK_ACCEPT (1ull << 29)
#define WR_ALL ((1ull << 30) - 1)

/* Rights that make sense on a directory / on a regular file / on a stream. */
#define WR_DIR_BASE                                                                                \
    (WR_FD_FDSTAT_SET_FLAGS | WR_FD_SYNC | WR_FD_ADVISE | WR_PATH_CREATE_DIRECTORY |               \
     WR_PATH_CREATE_FILE | WR_PATH_LINK_SOURCE | WR_PATH_LINK_TARGET | WR_PATH_OPEN |              \
     WR_FD_READDIR | WR_PATH_READLINK | WR_PATH_RENAME_SOURCE | WR_PATH_RENAME_TARGET |            \
     WR_PATH_FILESTAT_GET | WR_PATH_FILESTAT_SET_SIZE | WR_PATH_FILESTAT_SET_TIMES |               \
     WR_FD_FILESTAT_GET | WR_FD_FILESTAT_SET_TIMES | WR_PATH_SYMLINK | WR_PATH_REMOVE_DIRECTORY |  \
     WR_PATH_UNLINK_FILE | WR_POLL_FD_READWRITE)
#define WR_FILE_BASE                                                                               \
    (WR_FD_DATASYNC | WR_FD_READ | WR_FD_SEEK | WR_FD_FDSTAT_SET_FLAGS | WR_FD_SYNC | WR_FD_TELL | \
     WR_FD_WRITE | WR_FD_ADVISE | WR_FD_ALLOCATE | WR_FD_FILESTAT_GET | WR_FD_FILESTAT_SET_SIZE |  \
     WR_FD_FILESTAT_SET_TIMES | WR_POLL_FD_READWRITE)
#define WR_STREAM_BASE                                                                             \
    (WR_FD_READ | WR_FD_WRITE | WR_FD_FDSTAT_SET_FLAGS | WR_FD_FILESTAT_GET | WR_POLL_FD_READWRITE)
/* Rights that modify the file system (refused below a read-only preopen). */
#define WR_WRITING (WR_FD_WRITE | WR_FD_ALLOCATE | WR_FD_FILESTAT_SET_SIZE | WR_FD_DATASYNC)

/* filetype */
enum {
    WF_UNKNOWN = 0,
    WF_BLOCK_DEVICE = 1,
    WF_CHARACTER_DEVICE = 2,
    WF_DIRECTORY = 3,
    WF_REGULAR_FILE = 4,
    WF_SOCKET_DGRAM = 5,
    WF_SOCKET_STREAM = 6,
    WF_SYMBOLIC_LINK = 7,
};

/* fdflags, oflags, lookupflags, fstflags */
#define WFD_APPEND 1
#define WFD_DSYNC 2
#define WFD_NONBLOCK 4
#define WFD_RSYNC 8
#define WFD_SYNC 16
#define WO_CREAT 1
#define WO_DIRECTORY 2
#define WO_EXCL 4
#define WO_TRUNC 8
#define WL_SYMLINK_FOLLOW 1
#define WT_ATIM 1
#define WT_ATIM_NOW 2
#define WT_MTIM 4
#define WT_MTIM_NOW 8

/* What a guest fd refers to. */
typedef enum wasi_fd_kind {
    WFK_FREE = 0,
    WFK_HOST,    /* a host fd we own (files, directories, preopens) */
    WFK_STDIO,   /* a host fd given in the config: never closed by us */
    WFK_MEM_IN,  /* stdin from memory */
    WFK_MEM_OUT, /* stdout/stderr into a kiln_buf */
} wasi_fd_kind;

typedef struct wasi_fd {
    wasi_fd_kind kind;
    int hostfd;       /* WFK_HOST / WFK_STDIO */
    uint8_t filetype; /* WF_* */
    uint16_t fdflags; /* WFD_* as last set (memory streams) */
    uint64_t rights_base, rights_inheriting;
    int readonly;       /* below a read-only preopen */
    char *preopen_name; /* non-NULL for a preopened directory */
    const uint8_t *in;  /* WFK_MEM_IN */
    size_t in_len, in_pos;
    kiln_buf *out; /* WFK_MEM_OUT */
    size_t limit;
} wasi_fd;

struct kiln_wasi {
    wasm_rt_memory_t *mem;
    size_t argc, argv_size; /* argv_size: bytes of all NUL-terminated strings */
    char **argv;
    size_t nenv, env_size;
    char **env;
    wasi_fd *fds;
    size_t nfds;    /* capacity of fds */
    int no_openat2; /* 1: resolve paths component-wise (openat2 missing, or tests) */
};

/* Guest memory: a host pointer to [off, off+len), NULL when out of bounds. */
static inline uint8_t *wasi_mem(kiln_wasi *w, uint64_t off, uint64_t len)
{
    if (!w->mem || !w->mem->data || !kiln_mem_ok(w->mem, off, len)) return NULL;
    return w->mem->data + off;
}

static inline void wasi_st32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}
static inline void wasi_st64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}
static inline void wasi_st16(uint8_t *p, uint16_t v)
{
    memcpy(p, &v, 2);
}
static inline uint32_t wasi_ld32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static inline uint64_t wasi_ld64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}
static inline uint16_t wasi_ld16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

/* Stores a u32 result into guest memory; WE_FAULT when out of bounds. */
static inline uint32_t wasi_put32(kiln_wasi *w, uint32_t ptr, uint32_t v)
{
    uint8_t *p = wasi_mem(w, ptr, 4);
    if (!p) return WE_FAULT;
    wasi_st32(p, v);
    return WE_SUCCESS;
}
static inline uint32_t wasi_put64(kiln_wasi *w, uint32_t ptr, uint64_t v)
{
    uint8_t *p = wasi_mem(w, ptr, 8);
    if (!p) return WE_FAULT;
    wasi_st64(p, v);
    return WE_SUCCESS;
}

/* wasi.c */
uint32_t wasi_errno(int host_errno);

/* wasi_fd.c */
wasi_fd *wasi_fd_get(kiln_wasi *w, uint32_t fd);
/* Allocates the lowest free guest fd; returns it or -1 (out of memory / too many). */
int64_t wasi_fd_alloc(kiln_wasi *w);
void wasi_fd_release(wasi_fd *f);
uint8_t wasi_filetype_of_mode(unsigned mode);
/* Writes a 64-byte filestat for a host struct stat. */
void wasi_write_filestat(uint8_t *p, const void *host_stat);
/* Builds a timespec pair for utimensat from WASI times and fstflags; WE_INVAL if bad. */
uint32_t wasi_times(uint64_t atim, uint64_t mtim, uint32_t fst, void *ts_pair);
/* Length-limited write to a stream entry (memory or host fd): bytes written or -errno. */
uint32_t wasi_stream_write(wasi_fd *f, const uint8_t *data, size_t len, size_t *written);

/* wasi_path.c */
/* Copies a guest path into a NUL-terminated host string (kiln_free it). */
uint32_t wasi_path_copy(kiln_wasi *w, uint32_t ptr, uint32_t len, char **out);

/* The host functions (ctx is the kiln_wasi*). */
uint32_t wasi_args_get(void *ctx, uint32_t argv, uint32_t buf);
uint32_t wasi_args_sizes_get(void *ctx, uint32_t argc, uint32_t size);
uint32_t wasi_environ_get(void *ctx, uint32_t env, uint32_t buf);
uint32_t wasi_environ_sizes_get(void *ctx, uint32_t count, uint32_t size);
uint32_t wasi_clock_res_get(void *ctx, uint32_t id, uint32_t res);
uint32_t wasi_clock_time_get(void *ctx, uint32_t id, uint64_t precision, uint32_t time);
uint32_t wasi_fd_advise(void *ctx, uint32_t fd, uint64_t off, uint64_t len, uint32_t advice);
uint32_t wasi_fd_allocate(void *ctx, uint32_t fd, uint64_t off, uint64_t len);
uint32_t wasi_fd_close(void *ctx, uint32_t fd);
uint32_t wasi_fd_datasync(void *ctx, uint32_t fd);
uint32_t wasi_fd_fdstat_get(void *ctx, uint32_t fd, uint32_t out);
uint32_t wasi_fd_fdstat_set_flags(void *ctx, uint32_t fd, uint32_t flags);
uint32_t wasi_fd_fdstat_set_rights(void *ctx, uint32_t fd, uint64_t base, uint64_t inh);
uint32_t wasi_fd_filestat_get(void *ctx, uint32_t fd, uint32_t out);
uint32_t wasi_fd_filestat_set_size(void *ctx, uint32_t fd, uint64_t size);
uint32_t wasi_fd_filestat_set_times(void *ctx, uint32_t fd, uint64_t atim, uint64_t mtim,
                                    uint32_t fst);
uint32_t wasi_fd_pread(void *ctx, uint32_t fd, uint32_t iovs, uint32_t n, uint64_t off,
                       uint32_t nread);
uint32_t wasi_fd_prestat_get(void *ctx, uint32_t fd, uint32_t out);
uint32_t wasi_fd_prestat_dir_name(void *ctx, uint32_t fd, uint32_t path, uint32_t len);
uint32_t wasi_fd_pwrite(void *ctx, uint32_t fd, uint32_t iovs, uint32_t n, uint64_t off,
                        uint32_t nwritten);
uint32_t wasi_fd_read(void *ctx, uint32_t fd, uint32_t iovs, uint32_t n, uint32_t nread);
uint32_t wasi_fd_readdir(void *ctx, uint32_t fd, uint32_t buf, uint32_t len, uint64_t cookie,
                         uint32_t used);
uint32_t wasi_fd_renumber(void *ctx, uint32_t fd, uint32_t to);
uint32_t wasi_fd_seek(void *ctx, uint32_t fd, uint64_t off, uint32_t whence, uint32_t out);
uint32_t wasi_fd_sync(void *ctx, uint32_t fd);
uint32_t wasi_fd_tell(void *ctx, uint32_t fd, uint32_t out);
uint32_t wasi_fd_write(void *ctx, uint32_t fd, uint32_t iovs, uint32_t n, uint32_t nwritten);
uint32_t wasi_path_create_directory(void *ctx, uint32_t fd, uint32_t path, uint32_t len);
uint32_t wasi_path_filestat_get(void *ctx, uint32_t fd, uint32_t flags, uint32_t path, uint32_t len,
                                uint32_t out);
uint32_t wasi_path_filestat_set_times(void *ctx, uint32_t fd, uint32_t flags, uint32_t path,
                                      uint32_t len, uint64_t atim, uint64_t mtim, uint32_t fst);
uint32_t wasi_path_link(void *ctx, uint32_t ofd, uint32_t oflags, uint32_t opath, uint32_t olen,
                        uint32_t nfd, uint32_t npath, uint32_t nlen);
uint32_t wasi_path_open(void *ctx, uint32_t fd, uint32_t dirflags, uint32_t path, uint32_t len,
                        uint32_t oflags, uint64_t base, uint64_t inh, uint32_t fdflags,
                        uint32_t out);
uint32_t wasi_path_readlink(void *ctx, uint32_t fd, uint32_t path, uint32_t len, uint32_t buf,
                            uint32_t buf_len, uint32_t used);
uint32_t wasi_path_remove_directory(void *ctx, uint32_t fd, uint32_t path, uint32_t len);
uint32_t wasi_path_rename(void *ctx, uint32_t ofd, uint32_t opath, uint32_t olen, uint32_t nfd,
                          uint32_t npath, uint32_t nlen);
uint32_t wasi_path_symlink(void *ctx, uint32_t opath, uint32_t olen, uint32_t fd, uint32_t npath,
                           uint32_t nlen);
uint32_t wasi_path_unlink_file(void *ctx, uint32_t fd, uint32_t path, uint32_t len);
uint32_t wasi_poll_oneoff(void *ctx, uint32_t in, uint32_t out, uint32_t nsubs, uint32_t nevents);
void wasi_proc_exit(void *ctx, uint32_t code);
uint32_t wasi_proc_raise(void *ctx, uint32_t sig);
uint32_t wasi_sched_yield(void *ctx);
uint32_t wasi_random_get(void *ctx, uint32_t buf, uint32_t len);
uint32_t wasi_sock_accept(void *ctx, uint32_t fd, uint32_t flags, uint32_t out);
uint32_t wasi_sock_recv(void *ctx, uint32_t fd, uint32_t iovs, uint32_t n, uint32_t flags,
                        uint32_t nread, uint32_t oflags);
uint32_t wasi_sock_send(void *ctx, uint32_t fd, uint32_t iovs, uint32_t n, uint32_t flags,
                        uint32_t nwritten);
uint32_t wasi_sock_shutdown(void *ctx, uint32_t fd, uint32_t how);

#endif
