/* kv_sqlite.c — a key-value database in Spin's schema on SQLite (spin.h).
 *
 * One connection per database behind a mutex (SQLite serialises writers anyway), its
 * statements prepared once. WAL mode with synchronous=FULL: a commit returns after the
 * WAL is fsync'd, and a reader never waits for a writer of another connection (a second
 * process such as sqlite3 or Spin). busy_timeout covers a writer of another process. */
#include "host/spin/kv_sqlite.h"
#include "host/spin/kv_redis.h"
#include "util/alloc.h"
#include "util/buf.h"

#include <pthread.h>
#include <sqlite3.h>
#include <string.h>

enum {
    ST_GET,
    ST_SET,
    ST_DELETE,
    ST_EXISTS,
    ST_KEYS,
    ST_KEYS_AFTER,
    ST_SWAP,
    ST_INSERT_NEW,
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_COUNT
};

static const char *const sql[ST_COUNT] = {
    [ST_GET] = "SELECT value FROM spin_key_value WHERE store=?1 AND key=?2",
    [ST_SET] = "INSERT INTO spin_key_value (store, key, value) VALUES (?1, ?2, ?3) "
               "ON CONFLICT(store, key) DO UPDATE SET value=?3",
    [ST_DELETE] = "DELETE FROM spin_key_value WHERE store=?1 AND key=?2",
    [ST_EXISTS] = "SELECT 1 FROM spin_key_value WHERE store=?1 AND key=?2 LIMIT 1",
    [ST_KEYS] = "SELECT key FROM spin_key_value WHERE store=?1 ORDER BY key",
    [ST_KEYS_AFTER] = "SELECT key FROM spin_key_value WHERE store=?1 AND key>?2 ORDER BY key",
    [ST_SWAP] = "UPDATE spin_key_value SET value=?4 WHERE store=?1 AND key=?2 AND value=?3",
    [ST_INSERT_NEW] = "INSERT INTO spin_key_value (store, key, value) VALUES (?1, ?2, ?3) "
                      "ON CONFLICT(store, key) DO NOTHING",
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
};

struct kiln_kvs {
    kiln_kvr *redis; /* set: a Redis store (kv_redis.h), the rest unused */
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
    pthread_mutex_t lock;
};

/* Sets *err to "what: SQLite's message"; returns -1. */
static int fail(kiln_kvs *s, const char *what, char **err)
{
    kiln_buf b = KILN_BUF_INIT;
    if (kiln_buf_printf(&b, "%s: %s", what, s && s->db ? sqlite3_errmsg(s->db) : "failed") < 0) {
        kiln_buf_free(&b);
        *err = kiln_strdup("out of memory");
    } else {
        *err = kiln_buf_steal(&b);
    }
    return -1;
}

kiln_kvs *kiln_kvs_open(const char *path, char **err)
{
    kiln_kvs *s = kiln_calloc(1, sizeof *s);
    if (!s) {
        *err = kiln_strdup("out of memory");
        return NULL;
    }
    if (pthread_mutex_init(&s->lock, NULL) != 0) {
        kiln_free(s);
        *err = kiln_strdup("cannot create a mutex");
        return NULL;
    }
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path ? path : ":memory:", &s->db, flags, NULL) != SQLITE_OK) {
        fail(s, path ? path : ":memory:", err);
        kiln_kvs_close(s);
        return NULL;
    }
    sqlite3_busy_timeout(s->db, 5000);
    /* journal_mode answers a row; the others none. */
    const char *setup[] = {
        "PRAGMA journal_mode=WAL",
        "PRAGMA synchronous=FULL",
        "CREATE TABLE IF NOT EXISTS spin_key_value (store TEXT NOT NULL, key TEXT NOT NULL, "
        "value BLOB NOT NULL, PRIMARY KEY (store, key))",
    };
    for (size_t i = 0; i < sizeof setup / sizeof setup[0]; i++) {
        if (sqlite3_exec(s->db, setup[i], NULL, NULL, NULL) != SQLITE_OK) {
            fail(s, path ? path : ":memory:", err);
            kiln_kvs_close(s);
            return NULL;
        }
    }
    for (int i = 0; i < ST_COUNT; i++) {
        if (sqlite3_prepare_v3(s->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL) !=
            SQLITE_OK) {
            fail(s, "prepare", err);
            kiln_kvs_close(s);
            return NULL;
        }
    }
    return s;
}

kiln_kvs *kiln_kvs_open_redis(const char *url, char **err)
{
    kiln_kvs *s = kiln_calloc(1, sizeof *s);
    if (!s) {
        *err = kiln_strdup("out of memory");
        return NULL;
    }
    if (!(s->redis = kiln_kvr_open(url, err))) {
        kiln_free(s);
        return NULL;
    }
    return s;
}

const char *kiln_kvs_redis_where(const kiln_kvs *s)
{
    return s->redis ? kiln_kvr_where(s->redis) : NULL;
}

void kiln_kvs_close(kiln_kvs *s)
{
    if (!s) return;
    if (s->redis) {
        kiln_kvr_close(s->redis);
        kiln_free(s);
        return;
    }
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(s->st[i]);
    if (s->db) sqlite3_close(s->db);
    pthread_mutex_destroy(&s->lock);
    kiln_free(s);
}

void kiln_kvs_list_free(kiln_kvs_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        if (l->keys) kiln_free(l->keys[i]);
        if (l->vals) kiln_free(l->vals[i]);
    }
    kiln_free(l->keys);
    kiln_free(l->key_lens);
    kiln_free(l->vals);
    kiln_free(l->val_lens);
    memset(l, 0, sizeof *l);
}

/* A statement bound to (store, key): reset, bindings cleared. */
static sqlite3_stmt *stmt(kiln_kvs *s, int which, const char *store, const char *key, size_t klen)
{
    sqlite3_stmt *q = s->st[which];
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    if (sqlite3_bind_text(q, 1, store, -1, SQLITE_STATIC) != SQLITE_OK) return NULL;
    if (key && sqlite3_bind_text64(q, 2, key, klen, SQLITE_STATIC, SQLITE_UTF8) != SQLITE_OK)
        return NULL;
    return q;
}

/* Binds a blob; an empty one is bound as a zero-length blob, never as NULL. */
static int bind_blob(sqlite3_stmt *q, int i, const uint8_t *v, size_t n)
{
    return sqlite3_bind_blob64(q, i, n ? (const void *)v : (const void *)"", n, SQLITE_STATIC);
}

/* A kiln_malloc'd copy of column 0 of q's current row (blob or text bytes). */
static uint8_t *column_copy(sqlite3_stmt *q, size_t *len)
{
    const void *p = sqlite3_column_blob(q, 0);
    size_t n = (size_t)sqlite3_column_bytes(q, 0);
    uint8_t *out = kiln_malloc(n + 1);
    if (!out) return NULL;
    if (n) memcpy(out, p, n);
    out[n] = 0;
    *len = n;
    return out;
}

static int get_locked(kiln_kvs *s, const char *store, const char *key, size_t klen, uint8_t **val,
                      size_t *vlen, int *found, char **err)
{
    sqlite3_stmt *q = stmt(s, ST_GET, store, key, klen);
    if (!q) return fail(s, "get", err);
    int rc = sqlite3_step(q);
    *found = 0;
    *val = NULL;
    *vlen = 0;
    if (rc == SQLITE_ROW) {
        *val = column_copy(q, vlen);
        if (!*val) {
            sqlite3_reset(q);
            *err = kiln_strdup("out of memory");
            return -1;
        }
        *found = 1;
        rc = SQLITE_DONE;
    }
    sqlite3_reset(q);
    return rc == SQLITE_DONE ? 0 : fail(s, "get", err);
}

int kiln_kvs_get(kiln_kvs *s, const char *store, const char *key, size_t klen, uint8_t **val,
                 size_t *vlen, int *found, char **err)
{
    if (s->redis) return kiln_kvr_get(s->redis, key, klen, val, vlen, found, err);
    pthread_mutex_lock(&s->lock);
    int rc = get_locked(s, store, key, klen, val, vlen, found, err);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* Runs a statement that answers no row. */
static int exec_done(kiln_kvs *s, sqlite3_stmt *q, const char *what, char **err)
{
    int rc = q ? sqlite3_step(q) : SQLITE_ERROR;
    if (q) sqlite3_reset(q);
    return rc == SQLITE_DONE ? 0 : fail(s, what, err);
}

static int set_locked(kiln_kvs *s, const char *store, const char *key, size_t klen,
                      const uint8_t *val, size_t vlen, char **err)
{
    sqlite3_stmt *q = stmt(s, ST_SET, store, key, klen);
    if (q && bind_blob(q, 3, val, vlen) != SQLITE_OK) q = NULL;
    return exec_done(s, q, "set", err);
}

int kiln_kvs_set(kiln_kvs *s, const char *store, const char *key, size_t klen, const uint8_t *val,
                 size_t vlen, char **err)
{
    if (s->redis) return kiln_kvr_set(s->redis, key, klen, val, vlen, err);
    pthread_mutex_lock(&s->lock);
    int rc = set_locked(s, store, key, klen, val, vlen, err);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int kiln_kvs_delete(kiln_kvs *s, const char *store, const char *key, size_t klen, char **err)
{
    if (s->redis) return kiln_kvr_delete(s->redis, key, klen, err);
    pthread_mutex_lock(&s->lock);
    int rc = exec_done(s, stmt(s, ST_DELETE, store, key, klen), "delete", err);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int kiln_kvs_exists(kiln_kvs *s, const char *store, const char *key, size_t klen, int *exists,
                    char **err)
{
    if (s->redis) return kiln_kvr_exists(s->redis, key, klen, exists, err);
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *q = stmt(s, ST_EXISTS, store, key, klen);
    int rc = q ? sqlite3_step(q) : SQLITE_ERROR;
    *exists = rc == SQLITE_ROW;
    if (q) sqlite3_reset(q);
    rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : fail(s, "exists", err);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* Appends key (and val, when want_vals) to l, growing it; 0 or -1. */
static int list_push(kiln_kvs_list *l, size_t *cap, int want_vals, char *key, size_t klen,
                     uint8_t *val, size_t vlen)
{
    if (l->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        char **k = kiln_realloc(l->keys, nc * sizeof *k);
        if (k) l->keys = k;
        size_t *kl = k ? kiln_realloc(l->key_lens, nc * sizeof *kl) : NULL;
        if (kl) l->key_lens = kl;
        if (!k || !kl) return -1;
        if (want_vals) {
            uint8_t **v = kiln_realloc(l->vals, nc * sizeof *v);
            if (v) l->vals = v;
            size_t *vl = v ? kiln_realloc(l->val_lens, nc * sizeof *vl) : NULL;
            if (vl) l->val_lens = vl;
            if (!v || !vl) return -1;
        }
        *cap = nc;
    }
    l->keys[l->n] = key;
    l->key_lens[l->n] = klen;
    if (want_vals) {
        l->vals[l->n] = val;
        l->val_lens[l->n] = vlen;
    }
    l->n++;
    return 0;
}

int kiln_kvs_keys(kiln_kvs *s, const char *store, const char *after, size_t after_len,
                  size_t max_bytes, kiln_kvs_list *out, int *more, char **err)
{
    if (s->redis) return kiln_kvr_keys(s->redis, after, after_len, max_bytes, out, more, err);
    memset(out, 0, sizeof *out);
    *more = 0;
    size_t cap = 0;
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *q = stmt(s, after ? ST_KEYS_AFTER : ST_KEYS, store, after, after_len);
    int rc = q ? SQLITE_ROW : SQLITE_ERROR;
    size_t bytes = 0;
    while (q && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        size_t n = (size_t)sqlite3_column_bytes(q, 0);
        if (max_bytes && out->n && bytes + n > max_bytes) {
            *more = 1;
            rc = SQLITE_DONE;
            break;
        }
        bytes += n;
        char *k = (char *)column_copy(q, &n);
        if (!k || list_push(out, &cap, 0, k, n, NULL, 0) < 0) {
            kiln_free(k);
            rc = SQLITE_NOMEM;
            break;
        }
    }
    if (q) sqlite3_reset(q);
    int ret = 0;
    if (rc == SQLITE_NOMEM) {
        *err = kiln_strdup("out of memory");
        ret = -1;
    } else if (rc != SQLITE_DONE) {
        ret = fail(s, "get-keys", err);
    }
    pthread_mutex_unlock(&s->lock);
    if (ret < 0) kiln_kvs_list_free(out);
    return ret;
}

/* Transactions (under the lock). */
static int begin(kiln_kvs *s, char **err)
{
    return exec_done(s, s->st[ST_BEGIN], "begin", err);
}

static int end(kiln_kvs *s, int ok, char **err)
{
    if (ok == 0) return exec_done(s, s->st[ST_COMMIT], "commit", err);
    char *ignored = NULL;
    exec_done(s, s->st[ST_ROLLBACK], "rollback", &ignored);
    kiln_free(ignored);
    return -1;
}

int kiln_kvs_increment(kiln_kvs *s, const char *store, const char *key, size_t klen, int64_t delta,
                       int64_t *out, char **err)
{
    if (s->redis) return kiln_kvr_increment(s->redis, key, klen, delta, out, err);
    pthread_mutex_lock(&s->lock);
    int rc = begin(s, err);
    if (rc == 0) {
        uint8_t *v = NULL;
        size_t vlen = 0;
        int found = 0;
        rc = get_locked(s, store, key, klen, &v, &vlen, &found, err);
        uint64_t cur = 0;
        if (rc == 0 && found && vlen != 8) {
            *err = kiln_strdup("increment: the value is not a 64-bit little-endian integer");
            rc = -1;
        } else if (rc == 0 && found) {
            for (int i = 7; i >= 0; i--)
                cur = cur << 8 | v[i];
        }
        kiln_free(v);
        if (rc == 0) {
            uint64_t next = cur + (uint64_t)delta; /* wraps like two's complement */
            uint8_t le[8];
            for (int i = 0; i < 8; i++)
                le[i] = (uint8_t)(next >> (8 * i));
            rc = set_locked(s, store, key, klen, le, 8, err);
            *out = (int64_t)next;
        }
        rc = end(s, rc, err);
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int kiln_kvs_swap(kiln_kvs *s, const char *store, const char *key, size_t klen, const uint8_t *old,
                  size_t oldlen, const uint8_t *val, size_t vlen, int *swapped, char **err)
{
    if (s->redis) return kiln_kvr_swap(s->redis, key, klen, old, oldlen, val, vlen, swapped, err);
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *q = stmt(s, old ? ST_SWAP : ST_INSERT_NEW, store, key, klen);
    if (q && old && bind_blob(q, 3, old, oldlen) != SQLITE_OK) q = NULL;
    if (q && bind_blob(q, old ? 4 : 3, val, vlen) != SQLITE_OK) q = NULL;
    int rc = exec_done(s, q, "swap", err);
    *swapped = rc == 0 && sqlite3_changes(s->db) > 0;
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int kiln_kvs_set_many(kiln_kvs *s, const char *store, size_t n, const char *const *keys,
                      const size_t *klens, const uint8_t *const *vals, const size_t *vlens,
                      char **err)
{
    if (s->redis) return kiln_kvr_set_many(s->redis, n, keys, klens, vals, vlens, err);
    pthread_mutex_lock(&s->lock);
    int rc = begin(s, err);
    if (rc == 0) {
        for (size_t i = 0; i < n && rc == 0; i++)
            rc = set_locked(s, store, keys[i], klens[i], vals[i], vlens[i], err);
        rc = end(s, rc, err);
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int kiln_kvs_delete_many(kiln_kvs *s, const char *store, size_t n, const char *const *keys,
                         const size_t *klens, char **err)
{
    if (s->redis) return kiln_kvr_delete_many(s->redis, n, keys, klens, err);
    pthread_mutex_lock(&s->lock);
    int rc = begin(s, err);
    if (rc == 0) {
        for (size_t i = 0; i < n && rc == 0; i++)
            rc = exec_done(s, stmt(s, ST_DELETE, store, keys[i], klens[i]), "delete", err);
        rc = end(s, rc, err);
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int kiln_kvs_get_many(kiln_kvs *s, const char *store, size_t n, const char *const *keys,
                      const size_t *klens, kiln_kvs_list *out, char **err)
{
    if (s->redis) return kiln_kvr_get_many(s->redis, n, keys, klens, out, err);
    memset(out, 0, sizeof *out);
    size_t cap = 0;
    int rc = 0;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < n && rc == 0; i++) {
        uint8_t *v = NULL;
        size_t vlen = 0;
        int found = 0;
        rc = get_locked(s, store, keys[i], klens[i], &v, &vlen, &found, err);
        if (rc < 0) break;
        char *k = kiln_malloc(klens[i] + 1);
        if (k) {
            memcpy(k, keys[i], klens[i]);
            k[klens[i]] = 0;
        }
        if (!k || list_push(out, &cap, 1, k, klens[i], found ? v : NULL, vlen) < 0) {
            kiln_free(k);
            kiln_free(v);
            *err = kiln_strdup("out of memory");
            rc = -1;
        } else if (!found) {
            kiln_free(v);
        }
    }
    pthread_mutex_unlock(&s->lock);
    if (rc < 0) kiln_kvs_list_free(out);
    return rc;
}
