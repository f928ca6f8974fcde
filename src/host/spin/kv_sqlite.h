/* kv_sqlite.h — a key-value database file in Spin's schema (design: spin.h). */
#ifndef KILN_HOST_SPIN_KV_SQLITE_H
#define KILN_HOST_SPIN_KV_SQLITE_H

#include <stddef.h>
#include <stdint.h>

/* Spin's documented limits. */
#define KILN_KV_MAX_KEY 256u
#define KILN_KV_MAX_VALUE (1024u * 1024u)
/* Open stores / cas handles per instance (Spin's DEFAULT_STORE_TABLE_CAPACITY). */
#define KILN_KV_MAX_OPEN 256u
/* The most key bytes one get-keys answers (list-keys pages by it). */
#define KILN_KV_MAX_LIST_BYTES (16u << 20)

/* ---- a key-value database file in Spin's schema (kv_sqlite.c) ---- */

/* One SQLite database (a file, or memory), serving every label mapped to it; safe to use
 * from any thread (one connection behind a mutex). Every call blocks: call it through
 * kiln_offload from a guest. */
typedef struct kiln_kvs kiln_kvs;

/* Opens (creating the file and the table if needed) the database at path; NULL: a new
 * database in memory. NULL with *err (kiln_free'd by the caller). */
kiln_kvs *kiln_kvs_open(const char *path, char **err);
void kiln_kvs_close(kiln_kvs *s);
/* A store on a Redis server (Spin's "redis" type; kv_redis.h): url "redis://...". The
 * operations below then act on its database (the store label is not part of the keys, as
 * in Spin). NULL with *err when url is not a Redis URL (nothing connects yet). */
kiln_kvs *kiln_kvs_open_redis(const char *url, char **err);
/* "host:port" of a Redis store (for logs), NULL for SQLite. */
const char *kiln_kvs_redis_where(const kiln_kvs *s);

/* A list of keys (kiln_kvs_keys) or of values (kiln_kvs_get_many: vals[i] NULL when the
 * key has no value); everything kiln_malloc'd, freed by kiln_kvs_list_free. */
typedef struct kiln_kvs_list {
    char **keys;
    size_t *key_lens;
    uint8_t **vals;
    size_t *val_lens;
    size_t n;
} kiln_kvs_list;
void kiln_kvs_list_free(kiln_kvs_list *l);

/* Operations on label `store`. Each returns 0, or -1 with *err (kiln_malloc'd message).
 * get: *val (kiln_malloc'd, may be empty) and *found. keys: the keys after `after` (NULL:
 * from the first) in byte order, as many as fit in max_bytes of key bytes (0: all; at least
 * one), *more set when more follow.
 * increment: the value is a little-endian i64 of 8 bytes (Spin's format), absent = 0.
 * swap: sets the value to new only if it is still old (old NULL: only if absent);
 * *swapped says whether it did. set_many / delete_many: one transaction. */
int kiln_kvs_get(kiln_kvs *s, const char *store, const char *key, size_t klen, uint8_t **val,
                 size_t *vlen, int *found, char **err);
int kiln_kvs_set(kiln_kvs *s, const char *store, const char *key, size_t klen, const uint8_t *val,
                 size_t vlen, char **err);
int kiln_kvs_delete(kiln_kvs *s, const char *store, const char *key, size_t klen, char **err);
int kiln_kvs_exists(kiln_kvs *s, const char *store, const char *key, size_t klen, int *exists,
                    char **err);
int kiln_kvs_keys(kiln_kvs *s, const char *store, const char *after, size_t after_len,
                  size_t max_bytes, kiln_kvs_list *out, int *more, char **err);
int kiln_kvs_increment(kiln_kvs *s, const char *store, const char *key, size_t klen, int64_t delta,
                       int64_t *out, char **err);
int kiln_kvs_swap(kiln_kvs *s, const char *store, const char *key, size_t klen, const uint8_t *old,
                  size_t oldlen, const uint8_t *val, size_t vlen, int *swapped, char **err);
/* keys[i] (klens[i]) with vals[i] (vlens[i]); for delete_many vals is NULL. */
int kiln_kvs_set_many(kiln_kvs *s, const char *store, size_t n, const char *const *keys,
                      const size_t *klens, const uint8_t *const *vals, const size_t *vlens,
                      char **err);
int kiln_kvs_delete_many(kiln_kvs *s, const char *store, size_t n, const char *const *keys,
                         const size_t *klens, char **err);
/* get_many: out->keys/vals in the order of keys (vals[i] NULL: absent). */
int kiln_kvs_get_many(kiln_kvs *s, const char *store, size_t n, const char *const *keys,
                      const size_t *klens, kiln_kvs_list *out, char **err);

#endif
