/* kv_redis.h — a key-value store on a Redis server, Spin's "redis" key-value type
 * ([key_value_store.LABEL] type = "redis", url = "redis://..."), behind the kiln_kvs
 * operations (kv_sqlite.h dispatches to it; design: spin.h).
 *
 * As Spin's crates/key-value-redis: one Redis database per store, keys as they are (the
 * label is not part of them), values as Redis strings; increment is INCRBY (Redis'
 * decimal integers), swap a WATCH / GET / MULTI / SET / EXEC transaction, get-keys KEYS *.
 * One connection behind a mutex, made on first use and remade once when it broke; connect
 * timeout 5 s, command timeout 30 s. Every call blocks: call it through kiln_offload. */
#ifndef KILN_HOST_SPIN_KV_REDIS_H
#define KILN_HOST_SPIN_KV_REDIS_H

#include "host/spin/kv_sqlite.h"

typedef struct kiln_kvr kiln_kvr;

/* Parses url ("redis://[user][:password@]host[:port][/db]"); connects on first use. NULL
 * with *err (kiln_malloc'd) when the URL is not one. */
kiln_kvr *kiln_kvr_open(const char *url, char **err);
void kiln_kvr_close(kiln_kvr *r);
/* "host:port" of the server (for logs: never the password). */
const char *kiln_kvr_where(const kiln_kvr *r);

/* The kiln_kvs operations (same contracts, without the label). */
int kiln_kvr_get(kiln_kvr *r, const char *key, size_t klen, uint8_t **val, size_t *vlen, int *found,
                 char **err);
int kiln_kvr_set(kiln_kvr *r, const char *key, size_t klen, const uint8_t *val, size_t vlen,
                 char **err);
int kiln_kvr_delete(kiln_kvr *r, const char *key, size_t klen, char **err);
int kiln_kvr_exists(kiln_kvr *r, const char *key, size_t klen, int *exists, char **err);
int kiln_kvr_keys(kiln_kvr *r, const char *after, size_t after_len, size_t max_bytes,
                  kiln_kvs_list *out, int *more, char **err);
int kiln_kvr_increment(kiln_kvr *r, const char *key, size_t klen, int64_t delta, int64_t *out,
                       char **err);
int kiln_kvr_swap(kiln_kvr *r, const char *key, size_t klen, const uint8_t *old, size_t oldlen,
                  const uint8_t *val, size_t vlen, int *swapped, char **err);
int kiln_kvr_set_many(kiln_kvr *r, size_t n, const char *const *keys, const size_t *klens,
                      const uint8_t *const *vals, const size_t *vlens, char **err);
int kiln_kvr_delete_many(kiln_kvr *r, size_t n, const char *const *keys, const size_t *klens,
                         char **err);
int kiln_kvr_get_many(kiln_kvr *r, size_t n, const char *const *keys, const size_t *klens,
                      kiln_kvs_list *out, char **err);

#endif
