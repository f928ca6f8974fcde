/* runtime_internal.h — what runtime.c (traps, threads) and linear_memory.c (memories,
 * reservations, images) share; not for use outside the runtime. */
#ifndef KILN_ENGINE_RUNTIME_INTERNAL_H
#define KILN_ENGINE_RUNTIME_INTERNAL_H

#include <stdint.h>

/* 1 if addr lies in the data part of a linear-memory reservation (so a fault there is a
 * guest's out-of-bounds access). Async-signal-safe: the signal handler calls it. */
int kiln_rt_addr_in_reservation(uintptr_t addr);

/* The calling thread's memory limit in wasm pages (0: none), set by
 * kiln_rt_set_memory_limit_pages. */
uint32_t kiln_rt_memory_limit_pages(void);

#endif
