/* slots.h — the instance limit: how many guests may be alive at once (running on an
 * event loop's fiber, parked in a wait, or running on an executor thread).
 *
 * A counting semaphore. The inline path only tries (a loop never blocks): without a free
 * slot the request takes the executor path. An executor thread waits for a slot until
 * its job's queue deadline; past it the request is answered 503 like any request that
 * waited too long. Thread-safe. */
#ifndef KILN_EXEC_SLOTS_H
#define KILN_EXEC_SLOTS_H

#include <stddef.h>

typedef struct kiln_slots kiln_slots;

/* n slots (n >= 1). NULL when out of memory or the primitives cannot be made. */
kiln_slots *kiln_slots_new(size_t n);
void kiln_slots_free(kiln_slots *s);
/* Takes a slot if one is free: 1, else 0. Never blocks. */
int kiln_slots_try(kiln_slots *s);
/* Takes a slot, waiting until deadline_ms (CLOCK_MONOTONIC milliseconds; 0: no
 * deadline). 0, or -1 when the deadline passed first. */
int kiln_slots_acquire(kiln_slots *s, double deadline_ms);
void kiln_slots_release(kiln_slots *s);
/* Slots taken now. */
size_t kiln_slots_used(kiln_slots *s);

#endif
