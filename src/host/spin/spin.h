/* spin.h — Spin's key-value and variables host APIs for components (component/host.h), so
 * that Spin SDK apps run unchanged and their data moves between Spin and Kiln.
 *
 * One provider, "spin", serves
 *   fermyon:spin/key-value@2.0.0         resource store: open, get, set, delete, exists, get-keys
 *   wasi:keyvalue/store@0.2.0-draft2     open, resource bucket (list-keys with a cursor)
 *   wasi:keyvalue/atomics@0.2.0-draft2   increment, resource cas (new, current), swap
 *   wasi:keyvalue/batch@0.2.0-draft2     get-many, set-many, delete-many
 *   fermyon:spin/variables@2.0.0         get
 *   wasi:config/store@0.2.0-draft-2024-09-27  get, get-all
 *   fermyon:spin/sqlite@2.0.0            connection: open, execute   (sqlite.c, sqlite_db.c)
 *   fermyon:spin/redis@2.0.0             connection: open, get, set, ... (redis.c, hiredis)
 *   spin:postgres/postgres@3.0.0, fermyon:spin/postgres@2.0.0  (postgres.c, libpq)
 *   fermyon:spin/http@2.0.0              send-request, on the wasi:http client (http.c)
 *   fermyon:spin/llm, mqtt, mysql, rdbms-types @2.0.0: linked, answering Spin's errors for
 *                                        what is not granted or configured (unserved.c)
 * with one context per component instance (kv.c; the data hosts' tables: data.h).
 * SQLite databases are granted by `sqlite_databases` ("default": STATE_DIR/sqlite_db.db,
 * others from [sqlite_database.LABEL] of the runtime config); Redis and PostgreSQL
 * addresses by allowed_outbound_hosts ("redis://host:port", "postgres://host:port"),
 * checked with the outbound HTTP matcher before anything connects (data.h). Every blocking
 * call (SQLite, hiredis, libpq) runs through kiln_offload.
 *
 * The application (app.c). What a component may use comes from the manifest and is fixed
 * when `kiln up` starts: kiln_spin_app_new resolves it (stores opened, variables
 * resolved), kiln_spin_app_install makes it the process's application, and each instance
 * context finds its component by kiln_grants.component (the component id). Contexts made
 * for components the application does not know (kiln run, tests) get nothing: every
 * store label is access-denied and every variable undefined.
 *
 * Key-value (kv_sqlite.c, kv.c). A store label is granted by the component's
 * `key_value_stores`; open(label) answers access-denied for a label not granted and
 * no-such-store for one granted but not configured (kiln up refuses to start in that
 * case, as Spin does, so only other runners see it). "default" is the SQLite file
 * STATE_DIR/sqlite_key_value.db; other labels come from the runtime config file
 * ([key_value_store.LABEL] type = "spin", path = "..."). The file has Spin's schema
 * (crates/key-value-spin): table spin_key_value (store TEXT, key TEXT, value BLOB,
 * PRIMARY KEY (store, key)), `store` being the label, so the same file serves Spin and
 * Kiln. Every SQLite call runs through kiln_offload (engine/fiber.h): the guest's fiber
 * parks while a pool thread works, so a slow disk never holds an event loop. A write is
 * acknowledged after its transaction committed with synchronous=FULL in WAL mode (fsync of
 * the WAL): it survives a SIGKILL of kiln and a power cut. Limits, Spin's documented ones:
 * keys up to 256 bytes, values up to 1 MiB (other("...") beyond); at most 256 stores and
 * 256 cas handles open per instance (store-table-full).
 *
 * Variables (template.c, variables.c). [variables] of the manifest declare application
 * variables (default, required, secret); [component.X.variables] map the names a
 * component may ask for to templates ("{{ app_var }}/v1"). Each application variable is
 * resolved once at start by the first provider that has it: the runtime config's
 * [[variables_provider]] / [[config_provider]] entries (type "static" with values, type
 * "env" with a prefix) in order, then the environment (SPIN_VARIABLE_<NAME upper case>),
 * then its default; a required variable with no value stops kiln up with its name. Values
 * are never logged. */
#ifndef KILN_HOST_SPIN_H
#define KILN_HOST_SPIN_H

#include <stddef.h>
#include <stdint.h>

#include "component/host.h"
#include "host/spin/grants.h"

extern const kiln_chost_provider kiln_spin_provider;

/* The component of an instance context (NULL: none known). (kv.c) */
const spin_component *spin_ctx_component(void *ctx);
/* results[0] = err(case `disc` with a string payload printed by fmt into the call's arena);
 * 0, or -1 out of memory (cx->err set). (variables.c) */
int spin_err_str(kiln_cabi_cx *cx, kiln_cval *r, uint32_t disc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* variables.c */
extern const kiln_chost_iface kiln_spin_variables_iface, kiln_spin_variables3_iface,
    kiln_wasi_config_store_iface;
extern const kiln_chost_iface kiln_spin_sqlite_iface, kiln_spin_sqlite3_iface;     /* sqlite.c */
extern const kiln_chost_iface kiln_spin_redis_iface, kiln_spin_redis3_iface;       /* redis.c */
extern const kiln_chost_iface kiln_spin_http_iface, kiln_spin_http_types_iface;    /* http.c */
extern const kiln_chost_iface kiln_spin_postgres_iface, kiln_spin_postgres2_iface; /* postgres.c */
/* unserved.c */
extern const kiln_chost_iface kiln_spin_llm_iface, kiln_spin_mqtt_iface, kiln_spin_mysql_iface,
    kiln_spin_rdbms_types_iface, kiln_spin_mqtt3_iface, kiln_spin_mysql3_iface,
    kiln_spin_postgres4_iface;

#endif
