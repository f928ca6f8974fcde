/* kv_sink.h — where the key-value hosts (kv.c) report their operations, apart from the
 * Spin headers so that kiln up's metrics need none of the component model's or the
 * manifest's headers. */
#ifndef KILN_HOST_SPIN_KV_SINK_H
#define KILN_HOST_SPIN_KV_SINK_H

#include <stdint.h>

/* Sets where key-value operations are reported (kiln up: the metrics; NULL: nowhere): each
 * store operation's component id (NULL: unknown), store label, operation name (get, set,
 * delete, exists, get-keys, increment, cas-current, cas-swap, get-many, set-many,
 * delete-many), success (1, or 0: an error) and duration, on the guest's thread after
 * the operation. Set it while no instance runs. */
void kiln_spin_set_kv_sink(void (*sink)(void *ctx, const char *component, const char *store,
                                        const char *op, int ok, uint64_t duration_ns),
                           void *ctx);

#endif
