/* data.h — what the data hosts (fermyon:spin/sqlite, redis, postgres; sqlite.c, redis.c,
 * postgres.c) keep per component instance, and helpers they share (design: spin.h).
 *
 * A connection handle's rep is its index + 1 in the instance's table of its interface (the
 * guest's handle tables keep the types apart); at most SPIN_MAX_CONNS per interface, as
 * Spin's resource tables (256). The tables live in the "spin" provider's instance context
 * (kv.c), made on first use, freed with the context (connections closed). */
#ifndef KILN_HOST_SPIN_DATA_H
#define KILN_HOST_SPIN_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "component/host.h"
#include "host/spin/sqlite_db.h"
#include "host/wasihttp/outbound.h"

#define SPIN_MAX_CONNS 256u

typedef struct spin_redis spin_redis; /* redis.c */
typedef struct spin_pg spin_pg;       /* postgres.c */
typedef struct spin_rows spin_rows;   /* sqlite.c: spin:sqlite@3.1.0 execute-async's rows */

typedef struct spin_data {
    kiln_sqldb *sql[SPIN_MAX_CONNS]; /* kiln_sqldb_connect's (disconnected when dropped) */
    spin_redis *redis[SPIN_MAX_CONNS];
    spin_pg *pg[SPIN_MAX_CONNS];
    spin_rows *rows; /* row streams the guest has not read to their end */
} spin_data;

/* The instance's tables (made on first use); NULL out of memory. (kv.c) */
spin_data *spin_ctx_data(void *ctx);
/* Closes every connection of d and frees it. (data.c) */
void spin_data_free(spin_data *d);
void spin_redis_close(spin_redis *r); /* redis.c */
void spin_pg_close(spin_pg *p);       /* postgres.c */
void spin_rows_free(spin_rows *r);    /* sqlite.c: unlinks r from its list too */

/* The instance's allowed_outbound_hosts (kiln_grants_outbound); *n of them. (kv.c) */
const char *const *spin_ctx_outbound(void *ctx, size_t *n);
/* 1 if the component may connect to hostport (len bytes: "host", "host:port", "[v6]:port";
 * no userinfo) with scheme (e.g. "redis", default port dport): a grant of that scheme or
 * "*" whose host and port allow it (host/wasihttp/allow.c, wh_allow); the target in *t. 0 when
 * denied (one line logged naming the component and the target), -1 when hostport is not a valid
 * target. (data.c) */
int spin_outbound_allowed(void *ctx, const char *scheme, uint16_t dport, const char *hostport,
                          size_t len, wh_target *t);

/* The host[:port] of "SCHEME://[userinfo@]host[:port][/path][?query]" (scheme compared
 * without case) in *hp, *hl. 0, or -1 when url is not of that form. (data.c) */
int spin_url_hostport(const char *url, size_t n, const char *scheme, const char **hp, size_t *hl);

/* fermyon:spin/rdbms-types@2.0.0 (mysql, postgres@2.0.0) in the shape notation. */
#define SPIN_RDBMS_ERR                                                                             \
    "variant{connection-failed(string), bad-parameter(string), query-failed(string), "             \
    "value-conversion-failed(string), other(string)}"
#define SPIN_RDBMS_SCALARS                                                                         \
    "boolean(bool), int8(s8), int16(s16), int32(s32), int64(s64), uint8(u8), uint16(u16), "        \
    "uint32(u32), uint64(u64), floating32(f32), floating64(f64), str(string), binary(list<u8>), "  \
    "db-null"
#define SPIN_RDBMS_PARAM "variant{" SPIN_RDBMS_SCALARS "}"
#define SPIN_RDBMS_ROWSET                                                                          \
    "record{columns: list<record{name: string, data-type: enum{boolean, int8, int16, int32, "      \
    "int64, uint8, uint16, uint32, uint64, floating32, floating64, str, binary, other}}>, rows: "  \
    "list<list<variant{" SPIN_RDBMS_SCALARS ", unsupported}>>}"

/* The first free slot of a table of n pointers, or -1 when it is full. (data.c) */
long spin_slot_free(void *const *table, size_t n);

/* A string / byte list copied into the call's arena (NULL out of memory). (kv.c) */
kiln_cval *spin_bytes_val(kiln_cabi_cx *cx, const void *p, size_t n);
/* cx->err = "out of memory"; returns -1 (trap). (kv.c) */
int spin_oom(kiln_cabi_cx *cx);
/* Logs that component ctx was denied `what` NAME (the guest's bytes, at most 64 of them,
 * controls and quotes shown as '?'). (data.c) */
void spin_log_denied(void *ctx, const char *what, const char *name, size_t len);
/* results[0] = err(case disc) without payload. 0, or -1 out of memory. (data.c) */
int spin_err_case(kiln_cabi_cx *cx, kiln_cval *r, uint32_t disc);

#endif
