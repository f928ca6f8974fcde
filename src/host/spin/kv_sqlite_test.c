/* kv_sqlite_test.c — the SQLite key-value database in Spin's schema: every operation, the
 * file read back by a second connection (as sqlite3 or Spin would), a file made in the
 * schema by hand, paging, increments from several threads. */
#include "host/spin/kv_sqlite.h"
#include "util/alloc.h"
#include "util/test.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/kiln-kvs-test-XXXXXX";

static char *path_of(const char *name)
{
    static char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return p;
}

/* get as a NUL-terminated string (static; "(absent)" / "(error)"). */
static const char *get(kiln_kvs *s, const char *store, const char *key)
{
    static char out[4096];
    uint8_t *v = NULL;
    size_t n = 0;
    int found = 0;
    char *err = NULL;
    if (kiln_kvs_get(s, store, key, strlen(key), &v, &n, &found, &err) < 0) {
        kiln_free(err);
        return "(error)";
    }
    if (!found) return "(absent)";
    snprintf(out, sizeof out, "%.*s", (int)n, (const char *)v);
    kiln_free(v);
    return out;
}

static int set(kiln_kvs *s, const char *store, const char *key, const char *val)
{
    char *err = NULL;
    int rc = kiln_kvs_set(s, store, key, strlen(key), (const uint8_t *)val, strlen(val), &err);
    kiln_free(err);
    return rc;
}

static void test_basic(void)
{
    char *err = NULL;
    kiln_kvs *s = kiln_kvs_open(path_of("a.db"), &err);
    CHECK(s != NULL);
    if (!s) return;
    CHECK_STR(get(s, "default", "k"), "(absent)");
    CHECK_INT(set(s, "default", "k", "v1"), 0);
    CHECK_STR(get(s, "default", "k"), "v1");
    CHECK_INT(set(s, "default", "k", "v2"), 0);
    CHECK_STR(get(s, "default", "k"), "v2");
    CHECK_STR(get(s, "other", "k"), "(absent)"); /* labels are separate */
    CHECK_INT(set(s, "default", "empty", ""), 0);
    CHECK_STR(get(s, "default", "empty"), ""); /* an empty value is a value, not NULL */
    int e = -1;
    CHECK_INT(kiln_kvs_exists(s, "default", "k", 1, &e, &err), 0);
    CHECK_INT(e, 1);
    CHECK_INT(kiln_kvs_delete(s, "default", "k", 1, &err), 0);
    CHECK_INT(kiln_kvs_exists(s, "default", "k", 1, &e, &err), 0);
    CHECK_INT(e, 0);
    CHECK_INT(kiln_kvs_delete(s, "default", "k", 1, &err), 0); /* absent: fine */

    /* binary values with NUL bytes survive */
    const uint8_t bin[] = {0, 1, 2, 0, 255};
    CHECK_INT(kiln_kvs_set(s, "default", "bin", 3, bin, sizeof bin, &err), 0);
    uint8_t *v = NULL;
    size_t n = 0;
    int found = 0;
    CHECK_INT(kiln_kvs_get(s, "default", "bin", 3, &v, &n, &found, &err), 0);
    CHECK(found && n == sizeof bin && memcmp(v, bin, n) == 0);
    kiln_free(v);

    /* increments: absent = 0, little-endian i64 of 8 bytes, a wrong length is an error */
    int64_t out = 0;
    CHECK_INT(kiln_kvs_increment(s, "default", "n", 1, 5, &out, &err), 0);
    CHECK_INT(out, 5);
    CHECK_INT(kiln_kvs_increment(s, "default", "n", 1, -7, &out, &err), 0);
    CHECK_INT(out, -2);
    CHECK_INT(kiln_kvs_get(s, "default", "n", 1, &v, &n, &found, &err), 0);
    CHECK(n == 8 && v[0] == 0xfe && v[7] == 0xff);
    kiln_free(v);
    CHECK_INT(kiln_kvs_increment(s, "default", "bin", 3, 1, &out, &err), -1);
    CHECK(err && strstr(err, "64-bit"));
    kiln_free(err);
    err = NULL;

    /* compare and swap */
    int swapped = -1;
    CHECK_INT(kiln_kvs_swap(s, "default", "c", 1, NULL, 0, (const uint8_t *)"x", 1, &swapped, &err),
              0);
    CHECK_INT(swapped, 1); /* absent -> inserted */
    CHECK_INT(kiln_kvs_swap(s, "default", "c", 1, NULL, 0, (const uint8_t *)"y", 1, &swapped, &err),
              0);
    CHECK_INT(swapped, 0); /* present now: no insert */
    CHECK_INT(kiln_kvs_swap(s, "default", "c", 1, (const uint8_t *)"z", 1, (const uint8_t *)"y", 1,
                            &swapped, &err),
              0);
    CHECK_INT(swapped, 0); /* not "z" */
    CHECK_INT(kiln_kvs_swap(s, "default", "c", 1, (const uint8_t *)"x", 1, (const uint8_t *)"y", 1,
                            &swapped, &err),
              0);
    CHECK_INT(swapped, 1);
    CHECK_STR(get(s, "default", "c"), "y");

    /* batches */
    const char *keys[] = {"b1", "b2", "b3"};
    size_t klens[] = {2, 2, 2};
    const uint8_t *vals[] = {(const uint8_t *)"1", (const uint8_t *)"2"};
    size_t vlens[] = {1, 1};
    CHECK_INT(kiln_kvs_set_many(s, "default", 2, keys, klens, vals, vlens, &err), 0);
    kiln_kvs_list l;
    CHECK_INT(kiln_kvs_get_many(s, "default", 3, keys, klens, &l, &err), 0);
    CHECK_INT(l.n, 3);
    CHECK(l.n == 3 && l.vals[0] && l.vals[0][0] == '1' && l.vals[1] && !l.vals[2]);
    kiln_kvs_list_free(&l);
    CHECK_INT(kiln_kvs_delete_many(s, "default", 2, keys, klens, &err), 0);
    CHECK_STR(get(s, "default", "b1"), "(absent)");
    kiln_kvs_close(s);
}

/* Keys in order, paged by bytes after a cursor. */
static void test_keys(void)
{
    char *err = NULL;
    kiln_kvs *s = kiln_kvs_open(NULL, &err);
    CHECK(s != NULL);
    if (!s) return;
    const char *ks[] = {"d", "a", "c", "b", "e"};
    for (int i = 0; i < 5; i++)
        set(s, "st", ks[i], "v");
    set(s, "other", "zzz", "v");
    kiln_kvs_list l;
    int more = -1;
    CHECK_INT(kiln_kvs_keys(s, "st", NULL, 0, 0, &l, &more, &err), 0);
    CHECK_INT(l.n, 5);
    CHECK_INT(more, 0);
    CHECK(l.n == 5 && strcmp(l.keys[0], "a") == 0 && strcmp(l.keys[4], "e") == 0);
    kiln_kvs_list_free(&l);
    CHECK_INT(kiln_kvs_keys(s, "st", NULL, 0, 2, &l, &more, &err), 0);
    CHECK_INT(l.n, 2);
    CHECK_INT(more, 1);
    kiln_kvs_list_free(&l);
    CHECK_INT(kiln_kvs_keys(s, "st", "b", 1, 2, &l, &more, &err), 0);
    CHECK(l.n == 2 && strcmp(l.keys[0], "c") == 0 && strcmp(l.keys[1], "d") == 0);
    CHECK_INT(more, 1);
    kiln_kvs_list_free(&l);
    CHECK_INT(kiln_kvs_keys(s, "st", "d", 1, 2, &l, &more, &err), 0);
    CHECK(l.n == 1 && strcmp(l.keys[0], "e") == 0);
    CHECK_INT(more, 0);
    kiln_kvs_list_free(&l);
    kiln_kvs_close(s);
}

/* The file is Spin's: a second connection sees the rows in spin_key_value, and a file made
 * by hand in that schema (text values, as sqlite3's shell writes them) is read. */
static void test_spin_schema(void)
{
    char *err = NULL;
    kiln_kvs *s = kiln_kvs_open(path_of("b.db"), &err);
    CHECK(s != NULL);
    if (!s) return;
    CHECK_INT(set(s, "default", "mine", "written by kiln"), 0);
    sqlite3 *db = NULL;
    CHECK_INT(sqlite3_open(path_of("b.db"), &db), SQLITE_OK);
    sqlite3_stmt *q = NULL;
    CHECK_INT(sqlite3_prepare_v2(db,
                                 "SELECT value, typeof(value) FROM spin_key_value WHERE "
                                 "store='default' AND key='mine'",
                                 -1, &q, NULL),
              SQLITE_OK);
    CHECK_INT(sqlite3_step(q), SQLITE_ROW);
    CHECK_STR((const char *)sqlite3_column_text(q, 0), "written by kiln");
    CHECK_STR((const char *)sqlite3_column_text(q, 1), "blob");
    sqlite3_finalize(q);
    CHECK_INT(sqlite3_exec(db,
                           "INSERT INTO spin_key_value (store, key, value) VALUES "
                           "('default', 'theirs', 'written by hand')",
                           NULL, NULL, NULL),
              SQLITE_OK);
    sqlite3_close(db);
    CHECK_STR(get(s, "default", "theirs"), "written by hand");
    kiln_kvs_close(s);

    /* a file created by another program with Spin's table */
    CHECK_INT(sqlite3_open(path_of("c.db"), &db), SQLITE_OK);
    CHECK_INT(sqlite3_exec(db,
                           "CREATE TABLE spin_key_value (store TEXT NOT NULL, key TEXT NOT NULL, "
                           "value BLOB NOT NULL, PRIMARY KEY (store, key)); INSERT INTO "
                           "spin_key_value VALUES ('default', 'k', X'68690a')",
                           NULL, NULL, NULL),
              SQLITE_OK);
    sqlite3_close(db);
    s = kiln_kvs_open(path_of("c.db"), &err);
    CHECK(s != NULL);
    if (s) {
        CHECK_STR(get(s, "default", "k"), "hi\n");
        kiln_kvs_close(s);
    }

    /* a path that cannot be opened: an error, not a crash */
    CHECK(kiln_kvs_open("/nonexistent-dir/x/y.db", &err) == NULL);
    CHECK(err != NULL);
    kiln_free(err);
}

typedef struct incr_arg {
    kiln_kvs *s;
    int n;
} incr_arg;

static void *incr_main(void *arg)
{
    incr_arg *a = arg;
    for (int i = 0; i < a->n; i++) {
        int64_t out;
        char *err = NULL;
        if (kiln_kvs_increment(a->s, "default", "ctr", 3, 1, &out, &err) < 0) kiln_free(err);
    }
    return NULL;
}

/* Increments from 4 threads, over two connections to one file: none is lost. */
static void test_concurrent(void)
{
    char *err = NULL;
    kiln_kvs *s1 = kiln_kvs_open(path_of("d.db"), &err), *s2 = kiln_kvs_open(path_of("d.db"), &err);
    CHECK(s1 && s2);
    if (!s1 || !s2) return;
    pthread_t th[4];
    incr_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (incr_arg){i % 2 ? s2 : s1, 50};
        pthread_create(&th[i], NULL, incr_main, &args[i]);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    int64_t out = 0;
    CHECK_INT(kiln_kvs_increment(s1, "default", "ctr", 3, 0, &out, &err), 0);
    CHECK_INT(out, 200);
    kiln_kvs_close(s1);
    kiln_kvs_close(s2);
}

int main(void)
{
    if (!mkdtemp(dir)) return 1;
    test_basic();
    test_keys();
    test_spin_schema();
    test_concurrent();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return test_finish("kv_sqlite");
}
