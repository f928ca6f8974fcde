/* linear_memory.c — linear memories: reservations, growth, and images.
 *
 * Each linear memory is a reservation of one metadata page + data, of one of two kinds
 * (the module's compile variant, kiln_mem_checks):
 *   - guard: 8 GiB + 64 KiB of data, PROT_NONE except the accessible pages. A wasm
 *     address is a u32 plus a u32 offset (< 8 GiB), so no access from generated code can
 *     leave the reservation: the MMU does the bounds checks. 128 TiB of address space
 *     holds ~16,000 of them.
 *   - bounds: the memory's limit (module maximum capped by the thread's limit), all of it
 *     readable and writable (MAP_NORESERVE: untouched pages cost nothing). The generated
 *     code checks each access against mem->size. No PROT_NONE guard: it would split the
 *     mapping, and Linux allows a process 65,530 mappings (vm.max_map_count); without one,
 *     adjacent reservations merge into one mapping. 100,000 memories of 128 MiB take
 *     12.5 TiB of address space.
 * Memories never move (growth opens pages in place), which the fast tier relies on.
 * Reservations are never unmapped: a freed memory's pages are dropped
 * (MADV_DONTNEED) and, in guard ones, protected again, and the reservation goes to its
 * kind's free list for the next memory of its size. The list of all reservations is append-only and
 * lock-free to read, which is what the signal handler needs (kiln_rt_addr_in_reservation).
 *
 * Images (kiln_rt_mem_image) are the memories of an initialized instance, kept so that a
 * request's instance starts from them without running any guest code. Each image keeps
 * its own slots: reservations already set up for it and reused from one instance to the
 * next, so the request path makes no mmap/munmap. Two ways to keep a slot equal to the
 * image:
 *   - copy mode (images whose non-zero bytes are few, the common case for handlers): the
 *     slot is plain anonymous memory. Attach copies the image's non-zero pages in; release
 *     asks the kernel which of the other pages are backed (present or swapped, from
 *     /proc/self/pagemap: one read, no page-table change) and zeroes just those. No
 *     madvise on the request path: in a threaded server each one is a TLB shootdown on
 *     every other core. A live instance holds only the non-zero pages and what its guest
 *     touched.
 *   - copy-on-write mode (images with much data): the slot maps a memfd holding the image
 *     MAP_PRIVATE. Release keeps the slot's pages: the ones the guest wrote (private
 *     copies, which pagemap tells from the memfd's own pages: no PM_FILE bit) get the
 *     image's bytes back from a read-only view of the memfd, so that the next instance
 *     finds them present and writable instead of faulting them in again (a JS request
 *     wrote the same 94 pages every time: 115 faults, then a madvise). A slot whose
 *     private pages exceed KILN_COW_RESTORE_MAX is dropped with one madvise instead.
 * Invariant of a free copy-mode slot: every host page outside the image's non-zero runs
 * is zero; the pages of the runs are rewritten by the next attach. */
#include "engine/runtime.h"
#include "engine/runtime_internal.h"
#include "util/alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE_SIZE_WASM 65536u
#define META_SIZE 4096u
#define GUARD_DATA (((size_t)8 << 30) + PAGE_SIZE_WASM) /* data part of a guard reservation */
#define MAX_PAGES 65535u /* wasm_rt_memory_t.size is a u32: 4 GiB itself does not fit */
/* Images with at most this many non-zero bytes use copy mode (see above); larger ones are
 * mapped copy-on-write, where attach costs no copy at all. Measured on the WAGI hello
 * (128 KiB image, one non-zero 4 KiB page): copy mode doubles HTTP throughput over CoW.
 * KILN_IMAGE_COPY_MAX (bytes) overrides it; 0 makes every slot copy-on-write. */
#define KILN_IMAGE_COPY_MAX ((size_t)256 * 1024)
/* Copy-on-write slots: at most this many bytes of the guest's private pages are copied
 * back from the image at release; more, and the slot's pages are dropped (madvise).
 * KILN_COW_RESTORE_MAX (bytes, read when the image is made) overrides it. */
#define KILN_COW_RESTORE_MAX ((size_t)2 << 20)
/* pagemap entries read per pread (8 bytes each: 512 = 4 KiB of stack). */
#define PAGEMAP_BATCH 512

/* ---- reservations ---- */

typedef struct reservation {
    uint8_t *base;                 /* metadata page; data starts at base + META_SIZE */
    size_t data_size;              /* bytes after the metadata page (GUARD_DATA: guard) */
    struct reservation *next_all;  /* the append-only list of all reservations */
    struct reservation *next_free; /* the free list (under pool_lock) */
} reservation;

/* The metadata page at the start of each reservation (before the guest's byte 0). */
typedef struct memory_meta {
    reservation *res;
    uint32_t limit_pages; /* hard cap: min(module max, per-thread limit) */
    uint32_t mapped_pages;
    kiln_rt_mem_image *image; /* set when the first image_pages come from an image */
} memory_meta;

/* A run of non-zero host pages of an image: bytes [off, off + len) of the memory, stored
 * at copy + src in copy mode. */
typedef struct image_run {
    size_t off, len, src;
} image_run;

struct kiln_rt_mem_image {
    int fd;             /* copy-on-write mode: the memfd slots map; -1 in copy mode */
    uint8_t *view;      /* copy-on-write mode: the memfd mapped read-only and shared, what
                         * release copies written pages back from */
    size_t restore_max; /* copy-on-write mode: KILN_COW_RESTORE_MAX */
    uint8_t *copy;      /* copy mode: the non-zero runs' bytes, packed */
    image_run *runs;    /* copy mode: the non-zero runs, by offset */
    size_t nruns;
    uint32_t pages;        /* image size in wasm pages */
    int bounds;            /* slots are bounds reservations (as the memory imaged) */
    uint32_t source_limit; /* bounds: the imaged memory's limit (caps slot sizes) */
    pthread_mutex_t lock;
    reservation *free_slots;
    size_t nslots; /* slots ever made for this image */
};

static _Atomic(reservation *) all_reservations;
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static reservation *free_guard, *free_bounds; /* free lists of the two kinds */
static size_t n_reservations, n_free, n_bounds;

int kiln_rt_addr_in_reservation(uintptr_t addr)
{
    for (reservation *r = atomic_load_explicit(&all_reservations, memory_order_acquire); r;
         r = r->next_all) {
        uintptr_t lo = (uintptr_t)r->base + META_SIZE;
        if (addr >= lo && addr < lo + r->data_size) return 1;
    }
    return 0;
}

/* Takes a reservation of data_size bytes of data from the pool (the first of that size on
 * its kind's free list), or maps a new one (guard: all PROT_NONE but its metadata page;
 * bounds: all read-write).
 * Transparent huge pages are refused for it: a slot's resident memory must stay the
 * pages its guest touched, not 2 MiB around each. */
static reservation *reservation_get(size_t data_size)
{
    pthread_mutex_lock(&pool_lock);
    reservation **list = data_size == GUARD_DATA ? &free_guard : &free_bounds;
    while (*list && (*list)->data_size != data_size)
        list = &(*list)->next_free;
    reservation *r = *list;
    if (r) {
        *list = r->next_free;
        n_free--;
    }
    pthread_mutex_unlock(&pool_lock);
    if (r) return r;
    r = kiln_calloc(1, sizeof *r);
    if (!r) return NULL;
    size_t total = META_SIZE + data_size;
    int bounds = data_size != GUARD_DATA;
    void *base = mmap(NULL, total, bounds ? PROT_READ | PROT_WRITE : PROT_NONE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED) {
        kiln_free(r);
        return NULL;
    }
    if ((!bounds && mprotect(base, META_SIZE, PROT_READ | PROT_WRITE) < 0) ||
        (madvise(base, total, MADV_NOHUGEPAGE) < 0 && errno != EINVAL)) {
        munmap(base, total);
        kiln_free(r);
        return NULL;
    }
    r->base = base;
    r->data_size = data_size;
    /* Publish on the append-only list read by the signal handler. */
    reservation *head = atomic_load(&all_reservations);
    do {
        r->next_all = head;
    } while (!atomic_compare_exchange_weak(&all_reservations, &head, r));
    pthread_mutex_lock(&pool_lock);
    n_reservations++;
    if (data_size != GUARD_DATA) n_bounds++;
    pthread_mutex_unlock(&pool_lock);
    return r;
}

static void reservation_put(reservation *r)
{
    pthread_mutex_lock(&pool_lock);
    reservation **list = r->data_size == GUARD_DATA ? &free_guard : &free_bounds;
    r->next_free = *list;
    *list = r;
    n_free++;
    pthread_mutex_unlock(&pool_lock);
}

void kiln_rt_pool_stats_get(kiln_rt_pool_stats *out)
{
    pthread_mutex_lock(&pool_lock);
    out->reservations = n_reservations;
    out->free = n_free;
    out->bounds = n_bounds;
    pthread_mutex_unlock(&pool_lock);
}

static memory_meta *meta_of(const wasm_rt_memory_t *m)
{
    return (memory_meta *)(m->data - META_SIZE);
}

/* ---- memories ---- */

/* The hard cap on a memory's pages: the module's maximum and the thread's limit. */
static uint32_t limit_for(uint32_t max_pages)
{
    uint32_t limit = max_pages > MAX_PAGES ? MAX_PAGES : max_pages;
    uint32_t thread_limit = kiln_rt_memory_limit_pages();
    if (thread_limit && thread_limit < limit) limit = thread_limit;
    return limit;
}

/* The data size of a bounds reservation for a memory limited to `limit` pages. */
static size_t bounds_data_size(uint32_t limit)
{
    return (size_t)limit * PAGE_SIZE_WASM;
}

/* 1 for a bounds reservation (all read-write: no mprotect on growth or release). */
static int is_bounds(const reservation *r)
{
    return r->data_size != GUARD_DATA;
}

/* The pages a reservation can hold. */
static uint32_t capacity_pages(const reservation *r)
{
    return is_bounds(r) ? (uint32_t)(r->data_size / PAGE_SIZE_WASM) : MAX_PAGES;
}

/* A new memory of the given kind (bounds: reserved for its limit only). */
static void allocate_memory(wasm_rt_memory_t *mem, uint32_t initial_pages, uint32_t max_pages,
                            int bounds)
{
    uint32_t limit = limit_for(max_pages);
    if (initial_pages > limit) kiln_rt_trap_host("memory limit exceeded: initial memory too large");
    reservation *r = reservation_get(bounds ? bounds_data_size(limit) : GUARD_DATA);
    if (!r) kiln_rt_trap_host("out of memory: cannot reserve linear memory");
    uint8_t *data = r->base + META_SIZE;
    size_t bytes = (size_t)initial_pages * PAGE_SIZE_WASM;
    if (bytes && !is_bounds(r) && mprotect(data, bytes, PROT_READ | PROT_WRITE) < 0) {
        reservation_put(r);
        kiln_rt_trap_host("out of memory: cannot map linear memory");
    }
    memory_meta *meta = (memory_meta *)r->base;
    meta->res = r;
    meta->limit_pages = limit;
    meta->mapped_pages = initial_pages;
    meta->image = NULL;
    mem->data = data;
    mem->pages = initial_pages;
    mem->max_pages = max_pages;
    mem->size = (uint32_t)bytes;
}

void wasm_rt_allocate_memory(wasm_rt_memory_t *mem, uint32_t initial_pages, uint32_t max_pages)
{
    allocate_memory(mem, initial_pages, max_pages, 0);
}

void kiln_rt_allocate_memory_bounds(wasm_rt_memory_t *mem, uint32_t initial_pages,
                                    uint32_t max_pages)
{
    allocate_memory(mem, initial_pages, max_pages, 1);
}

const char *kiln_mem_checks_name(kiln_mem_checks c)
{
    return c == KILN_MEM_CHECKS_BOUNDS ? "bounds" : c == KILN_MEM_CHECKS_GUARD ? "guard" : "auto";
}

int kiln_mem_checks_parse(const char *s, kiln_mem_checks *out)
{
    if (strcmp(s, "guard") == 0)
        *out = KILN_MEM_CHECKS_GUARD;
    else if (strcmp(s, "bounds") == 0)
        *out = KILN_MEM_CHECKS_BOUNDS;
    else if (strcmp(s, "auto") == 0)
        *out = KILN_MEM_CHECKS_AUTO;
    else
        return -1;
    return 0;
}

kiln_mem_checks kiln_mem_checks_resolve(kiln_mem_checks c)
{
    if (c != KILN_MEM_CHECKS_AUTO) return c;
    const char *e = getenv("KILN_MEMORY_CHECKS");
    kiln_mem_checks v;
    if (e && kiln_mem_checks_parse(e, &v) == 0 && v != KILN_MEM_CHECKS_AUTO) return v;
    return KILN_MEM_CHECKS_GUARD;
}

static uint32_t grow_memory(wasm_rt_memory_t *mem, uint32_t delta);

/* Called from guest code: a host section, so an interrupt cannot cut it midway (the
 * memory's bookkeeping must match its page protections). */
uint32_t wasm_rt_grow_memory(wasm_rt_memory_t *mem, uint32_t delta)
{
    kiln_rt_host_enter();
    uint32_t r = grow_memory(mem, delta);
    kiln_rt_host_leave();
    return r;
}

static uint32_t grow_memory(wasm_rt_memory_t *mem, uint32_t delta)
{
    memory_meta *meta = meta_of(mem);
    uint32_t old = mem->pages;
    uint64_t want = (uint64_t)old + delta;
    if (want > meta->limit_pages) return UINT32_MAX;
    if (delta == 0) return old;
    if (want > meta->mapped_pages) {
        uint8_t *from = mem->data + (size_t)meta->mapped_pages * PAGE_SIZE_WASM;
        size_t len = (size_t)(want - meta->mapped_pages) * PAGE_SIZE_WASM;
        if (!is_bounds(meta->res) && mprotect(from, len, PROT_READ | PROT_WRITE) < 0)
            return UINT32_MAX;
        meta->mapped_pages = (uint32_t)want;
    }
    mem->pages = (uint32_t)want;
    mem->size = (uint32_t)(want * PAGE_SIZE_WASM);
    return old;
}

/* ---- images ---- */

static pthread_once_t host_once = PTHREAD_ONCE_INIT;
static size_t host_page = 4096; /* the kernel's page size */
static int pagemap_fd = -1;     /* /proc/self/pagemap, or -1: zero every page on release */

static void host_init(void)
{
    long ps = sysconf(_SC_PAGESIZE);
    if (ps > 0 && ps <= (long)PAGE_SIZE_WASM && PAGE_SIZE_WASM % (size_t)ps == 0)
        host_page = (size_t)ps;
    pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
}

/* 1 if the n bytes at p are all zero. */
static int all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 8 <= n; i += 8) {
        uint64_t v;
        memcpy(&v, p + i, 8);
        if (v) return 0;
    }
    return 1;
}

/* Fills img->runs with the runs of non-zero host pages of data (bytes long); returns the
 * number of non-zero bytes, or SIZE_MAX when out of memory. */
static size_t find_runs(kiln_rt_mem_image *img, const uint8_t *data, size_t bytes)
{
    size_t cap = 0, nonzero = 0;
    for (size_t off = 0; off < bytes; off += host_page) {
        if (all_zero(data + off, host_page)) continue;
        nonzero += host_page;
        image_run *last = img->nruns ? &img->runs[img->nruns - 1] : NULL;
        if (last && last->off + last->len == off) {
            last->len += host_page;
            continue;
        }
        if (img->nruns == cap) {
            cap = cap ? cap * 2 : 8;
            image_run *r = kiln_realloc(img->runs, cap * sizeof *r);
            if (!r) return SIZE_MAX;
            img->runs = r;
        }
        img->runs[img->nruns++] = (image_run){off, host_page, nonzero - host_page};
    }
    return nonzero;
}

/* The copy-mode threshold: KILN_IMAGE_COPY_MAX (bytes) overrides the default. */
/* A size limit from the environment variable `name`, else `dflt`. */
static size_t env_size(const char *name, size_t dflt)
{
    const char *e = getenv(name);
    return e && *e ? (size_t)strtoull(e, NULL, 10) : dflt;
}

/* Writes the image's non-zero pages into a new memfd (the rest stays a sparse hole). */
static int make_memfd(kiln_rt_mem_image *img, const uint8_t *data, size_t bytes)
{
    img->fd = memfd_create("kiln-image", MFD_CLOEXEC);
    if (img->fd < 0 || ftruncate(img->fd, (off_t)bytes) < 0) return -1;
    for (size_t i = 0; i < img->nruns; i++) {
        const image_run *r = &img->runs[i];
        size_t done = 0;
        while (done < r->len) {
            ssize_t n =
                pwrite(img->fd, data + r->off + done, r->len - done, (off_t)(r->off + done));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return -1;
            done += (size_t)n;
        }
    }
    void *v = mmap(NULL, bytes, PROT_READ, MAP_SHARED, img->fd, 0);
    if (v == MAP_FAILED) return -1;
    img->view = v;
    return 0;
}

kiln_rt_mem_image *kiln_rt_mem_image_new(const uint8_t *data, uint32_t pages)
{
    pthread_once(&host_once, host_init);
    kiln_rt_mem_image *img = kiln_calloc(1, sizeof *img);
    if (!img) return NULL;
    if (pthread_mutex_init(&img->lock, NULL) != 0) {
        kiln_free(img);
        return NULL;
    }
    img->fd = -1;
    img->pages = pages;
    const memory_meta *src = (const memory_meta *)(data - META_SIZE);
    img->bounds = is_bounds(src->res);
    img->source_limit = src->limit_pages;
    size_t bytes = (size_t)pages * PAGE_SIZE_WASM;
    size_t nonzero = find_runs(img, data, bytes);
    if (nonzero == SIZE_MAX) goto fail;
    img->restore_max = env_size("KILN_COW_RESTORE_MAX", KILN_COW_RESTORE_MAX);
    if (nonzero <= env_size("KILN_IMAGE_COPY_MAX", KILN_IMAGE_COPY_MAX)) {
        img->copy = kiln_malloc(nonzero ? nonzero : 1);
        if (!img->copy) goto fail;
        for (size_t i = 0; i < img->nruns; i++)
            memcpy(img->copy + img->runs[i].src, data + img->runs[i].off, img->runs[i].len);
    } else if (make_memfd(img, data, bytes) < 0) {
        goto fail;
    }
    return img;
fail:
    if (img->view) munmap(img->view, bytes);
    if (img->fd >= 0) close(img->fd);
    kiln_free(img->copy);
    kiln_free(img->runs);
    pthread_mutex_destroy(&img->lock);
    kiln_free(img);
    return NULL;
}

/* pagemap bits: present, swapped, exclusively mapped (a private page of this process). */
#define PM_PRESENT ((uint64_t)1 << 63)
#define PM_SWAPPED ((uint64_t)1 << 62)
#define PM_EXCLUSIVE ((uint64_t)1 << 56)
#define PM_FILE ((uint64_t)1 << 61) /* a page of a file (the memfd), not a private copy */

/* 1 if the page at p (pagemap entry e) may hold non-zero bytes and must be zeroed. A
 * page neither present nor swapped reads as zero. A present page that is not exclusively
 * mapped is the shared zero page (the guest only read it), or, rarely, a page shared
 * with a forked child or merged by KSM: it is zeroed only if it reads non-zero, so that
 * reading a page costs no private page on release. */
static int needs_zero(uint64_t e, const uint8_t *p)
{
    if (!(e & (PM_PRESENT | PM_SWAPPED))) return 0;
    if ((e & PM_SWAPPED) || (e & PM_EXCLUSIVE)) return 1;
    return !all_zero(p, host_page);
}

/* Zeroes the pages of [from, to) (host-page offsets into the slot's data) that pagemap
 * reports a guest may have written (see needs_zero). */
static void zero_backed(uint8_t *data, size_t from, size_t to)
{
    uint64_t ent[PAGEMAP_BATCH];
    while (from < to) {
        size_t n = (to - from) / host_page;
        if (n > PAGEMAP_BATCH) n = PAGEMAP_BATCH;
        off_t at = (off_t)(((uintptr_t)data + from) / host_page * sizeof ent[0]);
        ssize_t got = pagemap_fd >= 0 ? pread(pagemap_fd, ent, n * sizeof ent[0], at) : -1;
        if (got != (ssize_t)(n * sizeof ent[0])) {
            memset(data + from, 0, n * host_page); /* no answer: zero all of them */
        } else {
            for (size_t i = 0; i < n; i++) {
                uint8_t *page = data + from + i * host_page;
                if (!needs_zero(ent[i], page)) continue;
                size_t k = i + 1;
                while (k < n && needs_zero(ent[k], data + from + k * host_page))
                    k++;
                memset(data + from + i * host_page, 0, (k - i) * host_page);
                i = k;
            }
        }
        from += n * host_page;
    }
}

/* Copy mode: restores the slot's invariant (all pages outside the runs zero). */
static void reset_copy_slot(const kiln_rt_mem_image *img, uint8_t *data)
{
    size_t at = 0;
    for (size_t i = 0; i < img->nruns; i++) {
        zero_backed(data, at, img->runs[i].off);
        at = img->runs[i].off + img->runs[i].len;
    }
    zero_backed(data, at, (size_t)img->pages * PAGE_SIZE_WASM);
}

/* 1 if the page of a copy-on-write slot with pagemap entry e may differ from the image: a
 * private copy (present without PM_FILE, or swapped out). Absent pages read the memfd;
 * present file pages are the memfd's own, which guests cannot write. */
static int cow_written(uint64_t e)
{
    return (e & PM_SWAPPED) || ((e & PM_PRESENT) && !(e & PM_FILE));
}

/* PAGEMAP_SCAN (Linux 6.7; Debian's headers predate it, so its ABI is spelled here): the
 * ranges of pages in given categories, holes skipped whole. Walking every pagemap entry
 * of a 10 MiB image took 12 µs per release; the scan returns the written runs only. */
typedef struct kiln_page_region {
    uint64_t start, end, categories;
} kiln_page_region;
typedef struct kiln_pm_scan_arg {
    uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
    uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
} kiln_pm_scan_arg;
#define KILN_PAGEMAP_SCAN _IOWR('f', 16, kiln_pm_scan_arg)
#define KILN_PAGE_IS_FILE ((uint64_t)1 << 2)
#define KILN_PAGE_IS_PRESENT ((uint64_t)1 << 3)
#define KILN_PAGE_IS_SWAPPED ((uint64_t)1 << 4)
static atomic_int scan_missing; /* PAGEMAP_SCAN failed once: read pagemap instead */

void kiln_rt_pagemap_scan_disable(int off)
{
    atomic_store(&scan_missing, off ? 1 : 0);
}

/* Copies the image's bytes [off, off + len) back over the slot's, counting them in
 * *written: -1 past img->restore_max (nothing copied). */
static int restore_run(const kiln_rt_mem_image *img, uint8_t *data, size_t off, size_t len,
                       size_t *written)
{
    *written += len;
    if (*written > img->restore_max) return -1;
    memcpy(data + off, img->view + off, len);
    return 0;
}

/* restore_cow_slot through PAGEMAP_SCAN: 0, -1 past the limit, -2 when the kernel has no
 * such ioctl (or refuses it). */
static int restore_cow_scan(const kiln_rt_mem_image *img, uint8_t *data, size_t bytes)
{
    kiln_page_region reg[32];
    uint64_t end = (uintptr_t)data + bytes;
    kiln_pm_scan_arg a = {
        .size = sizeof a,
        .start = (uintptr_t)data,
        .end = end,
        .vec = (uintptr_t)reg,
        .vec_len = sizeof reg / sizeof reg[0],
        .category_inverted = KILN_PAGE_IS_FILE,
        .category_mask = KILN_PAGE_IS_FILE,
        .category_anyof_mask = KILN_PAGE_IS_PRESENT | KILN_PAGE_IS_SWAPPED,
        .return_mask = KILN_PAGE_IS_PRESENT | KILN_PAGE_IS_SWAPPED,
    };
    size_t written = 0;
    while (a.start < end) {
        int n = ioctl(pagemap_fd, KILN_PAGEMAP_SCAN, &a);
        if (n < 0) return -2;
        for (int k = 0; k < n; k++) {
            if (reg[k].start < (uintptr_t)data || reg[k].end > end || reg[k].end < reg[k].start)
                return -2;
            if (restore_run(img, data, reg[k].start - (uintptr_t)data, reg[k].end - reg[k].start,
                            &written) < 0)
                return -1;
        }
        if (a.walk_end <= a.start) return -2; /* no progress: do not trust it */
        a.start = a.walk_end;
    }
    return 0;
}

/* Copy-on-write mode: gives the slot's written pages (cow_written) the image's bytes back
 * from its view, the pages staying mapped for the next instance; through PAGEMAP_SCAN
 * where the kernel has it, else one pass over pagemap. 0; -1 when pagemap cannot be
 * read or the written pages exceed img->restore_max (the caller then drops all the
 * pages, those already restored included). */
static int restore_cow_slot(const kiln_rt_mem_image *img, uint8_t *data)
{
    size_t bytes = (size_t)img->pages * PAGE_SIZE_WASM, written = 0;
    uint64_t ent[PAGEMAP_BATCH];
    if (pagemap_fd < 0) return -1;
    if (!atomic_load_explicit(&scan_missing, memory_order_relaxed)) {
        int r = restore_cow_scan(img, data, bytes);
        if (r != -2) return r;
        atomic_store_explicit(&scan_missing, 1, memory_order_relaxed);
    }
    for (size_t from = 0; from < bytes;) {
        size_t n = (bytes - from) / host_page;
        if (n > PAGEMAP_BATCH) n = PAGEMAP_BATCH;
        off_t at = (off_t)(((uintptr_t)data + from) / host_page * sizeof ent[0]);
        if (pread(pagemap_fd, ent, n * sizeof ent[0], at) != (ssize_t)(n * sizeof ent[0]))
            return -1;
        for (size_t i = 0; i < n; i++) {
            if (!cow_written(ent[i])) continue;
            size_t k = i + 1;
            while (k < n && cow_written(ent[k]))
                k++;
            if (restore_run(img, data, from + i * host_page, (k - i) * host_page, &written) < 0)
                return -1;
            i = k;
        }
        from += n * host_page;
    }
    return 0;
}

/* Resets an image slot and returns it to the image. */
static void image_slot_release(wasm_rt_memory_t *mem, memory_meta *meta)
{
    kiln_rt_mem_image *img = meta->image;
    reservation *r = meta->res;
    size_t image_bytes = (size_t)img->pages * PAGE_SIZE_WASM;
    size_t mapped = (size_t)meta->mapped_pages * PAGE_SIZE_WASM;
    if (img->copy) reset_copy_slot(img, mem->data);
    /* Growth beyond the image is dropped and closed again in both modes, so that the
     * guard still starts at the next instance's size. */
    if ((!img->copy && restore_cow_slot(img, mem->data) < 0 &&
         madvise(mem->data, image_bytes, MADV_DONTNEED) < 0) ||
        (mapped > image_bytes &&
         (madvise(mem->data + image_bytes, mapped - image_bytes, MADV_DONTNEED) < 0 ||
          (!is_bounds(r) &&
           mprotect(mem->data + image_bytes, mapped - image_bytes, PROT_NONE) < 0)))) {
        mem->data = NULL; /* leak the slot rather than reuse it in an unknown state */
        return;
    }
    meta->mapped_pages = img->pages;
    mem->data = NULL;
    mem->size = 0;
    mem->pages = 0;
    pthread_mutex_lock(&img->lock);
    r->next_free = img->free_slots;
    img->free_slots = r;
    pthread_mutex_unlock(&img->lock);
}

/* Gives a new slot the image: its pages opened (copy mode) or the memfd mapped over them
 * (copy-on-write mode). */
static int slot_setup(kiln_rt_mem_image *img, reservation *r)
{
    size_t bytes = (size_t)img->pages * PAGE_SIZE_WASM;
    if (!bytes) return 0;
    if (img->copy)
        return is_bounds(r) ? 0 : mprotect(r->base + META_SIZE, bytes, PROT_READ | PROT_WRITE);
    return mmap(r->base + META_SIZE, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED,
                img->fd, 0) == MAP_FAILED
               ? -1
               : 0;
}

/* The pages a bounds slot made now must hold for a memory of max_pages: the calling
 * thread's limit (kiln up sets it per request, not where images are made). */
static uint32_t slot_pages(const kiln_rt_mem_image *img, uint32_t max_pages)
{
    uint32_t limit = limit_for(max_pages);
    return limit < img->pages ? img->pages : limit;
}

/* A new slot for the image (a pooled reservation set up by slot_setup) holding `pages`
 * (bounds images; guard slots hold anything), counted in nslots; NULL when none can be
 * mapped. */
static reservation *slot_new(kiln_rt_mem_image *img, uint32_t pages)
{
    reservation *r = reservation_get(img->bounds ? bounds_data_size(pages) : GUARD_DATA);
    if (!r) return NULL;
    if (slot_setup(img, r) < 0) {
        reservation_put(r);
        return NULL;
    }
    pthread_mutex_lock(&img->lock);
    img->nslots++;
    pthread_mutex_unlock(&img->lock);
    return r;
}

int kiln_rt_mem_image_reserve(kiln_rt_mem_image *img, size_t n)
{
    while (kiln_rt_mem_image_slots(img) < n) {
        reservation *r = slot_new(img, slot_pages(img, img->source_limit));
        if (!r) return -1;
        pthread_mutex_lock(&img->lock);
        r->next_free = img->free_slots;
        img->free_slots = r;
        pthread_mutex_unlock(&img->lock);
    }
    return 0;
}

int kiln_rt_mem_image_attach(kiln_rt_mem_image *img, wasm_rt_memory_t *mem, uint32_t max_pages)
{
    uint32_t limit = slot_pages(img, max_pages);
    /* The first free slot that holds the limit (all of them, unless threads differ in
     * their limits). */
    pthread_mutex_lock(&img->lock);
    reservation **at = &img->free_slots;
    while (*at && capacity_pages(*at) < limit)
        at = &(*at)->next_free;
    reservation *r = *at;
    if (r) *at = r->next_free;
    pthread_mutex_unlock(&img->lock);
    if (!r && !(r = slot_new(img, limit))) return -1;
    memory_meta *meta = (memory_meta *)r->base;
    uint8_t *data = r->base + META_SIZE;
    for (size_t i = 0; img->copy && i < img->nruns; i++)
        memcpy(data + img->runs[i].off, img->copy + img->runs[i].src, img->runs[i].len);
    meta->res = r;
    meta->limit_pages = limit;
    meta->mapped_pages = img->pages;
    meta->image = img;
    mem->data = data;
    mem->pages = img->pages;
    mem->max_pages = max_pages;
    mem->size = (uint32_t)((size_t)img->pages * PAGE_SIZE_WASM);
    return 0;
}

void kiln_rt_mem_image_free(kiln_rt_mem_image *img)
{
    if (!img) return;
    /* Slots go back to the common pool as plain anonymous reservations (PROT_NONE for
     * guard ones). */
    for (reservation *r = img->free_slots, *next; r; r = next) {
        next = r->next_free;
        int prot = is_bounds(r) ? PROT_READ | PROT_WRITE : PROT_NONE;
        if (r->data_size &&
            (mmap(r->base + META_SIZE, r->data_size, prot,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0) == MAP_FAILED ||
             (madvise(r->base + META_SIZE, r->data_size, MADV_NOHUGEPAGE) < 0 && errno != EINVAL)))
            continue; /* leaked rather than reused with the image mapped */
        ((memory_meta *)r->base)->image = NULL;
        reservation_put(r);
    }
    if (img->view) munmap(img->view, (size_t)img->pages * PAGE_SIZE_WASM);
    if (img->fd >= 0) close(img->fd);
    kiln_free(img->copy);
    kiln_free(img->runs);
    pthread_mutex_destroy(&img->lock);
    kiln_free(img);
}

size_t kiln_rt_mem_image_slots(kiln_rt_mem_image *img)
{
    pthread_mutex_lock(&img->lock);
    size_t n = img->nslots;
    pthread_mutex_unlock(&img->lock);
    return n;
}

void wasm_rt_free_memory(wasm_rt_memory_t *mem)
{
    if (!mem->data) return;
    memory_meta *meta = meta_of(mem);
    if (meta->image) {
        image_slot_release(mem, meta);
        return;
    }
    reservation *r = meta->res;
    size_t mapped = (size_t)meta->mapped_pages * PAGE_SIZE_WASM;
    if (mapped) {
        /* Drop the pages (they read as zero next time) and close them again. If either
         * call fails the reservation is leaked rather than reused in an unknown state. */
        if (madvise(mem->data, mapped, MADV_DONTNEED) < 0 ||
            (!is_bounds(r) && mprotect(mem->data, mapped, PROT_NONE) < 0)) {
            mem->data = NULL;
            return;
        }
    }
    meta->mapped_pages = 0;
    mem->data = NULL;
    mem->size = 0;
    mem->pages = 0;
    reservation_put(r);
}
