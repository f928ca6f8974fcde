/* unserved.c — the interfaces of Spin's platform world Kiln links but does not serve:
 * fermyon:spin/llm@2.0.0, fermyon:spin/mqtt@2.0.0 and fermyon:spin/mysql@2.0.0 (spin.h).
 *
 * Spin SDKs (componentize-py's spin-sdk, Spin's JS SDK) import the whole platform world,
 * so a component must link even when it never calls them. Each answers what Spin answers
 * when the capability is not granted or not configured, never a pretended success:
 *   llm     infer / generate-embeddings: invalid-input("The component does not have access
 *           to use 'MODEL'. ..."), Spin's answer for a model missing from the component's
 *           ai_models, which Kiln's manifest has no way to grant;
 *   mqtt    open: connection-failed("address A is not permitted") when allowed_outbound_hosts
 *           has no mqtt grant for it, else connection-failed naming that Kiln does not serve
 *           MQTT;
 *   mysql   open: the same with "mysql" grants and MySQL.
 * No connection is ever made, so the methods of a connection answer Spin's "no connection"
 * errors. Denials are logged with the component.
 * Also Spin 3's packages of the same (spin:mqtt@3.0.0, spin:mysql@3.0.0) and
 * spin:postgres@4.x, below. */
#include "host/spin/data.h"
#include "host/spin/spin.h"

#include <string.h>
#include <strings.h>

/* ---- llm ---- */

static int llm_denied(kiln_cabi_cx *cx, const kiln_cval *model, kiln_cval *r)
{
    int n = model->str.len > 4096 ? 4096 : (int)model->str.len; /* the guest's: bounded */
    return spin_err_str(cx, r, 2,
                        "The component does not have access to use '%.*s'. To give the component "
                        "access, add '%.*s' to the 'ai_models' key for the component in your "
                        "spin.toml manifest",
                        n, model->str.ptr, n, model->str.ptr);
}

static int llm_infer(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    return llm_denied(cx, &args[0], &res[0]);
}

static int llm_embed(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    return llm_denied(cx, &args[0], &res[0]);
}

#define LLM_ERR "variant{model-not-supported, runtime-error(string), invalid-input(string)}"
static const kiln_chost_func llm_funcs[] = {
    {"infer",
     "(string, string, option<record{max-tokens: u32, repeat-penalty: f32, "
     "repeat-penalty-last-n-token-count: u32, temperature: f32, top-k: u32, top-p: f32}>) -> "
     "result<record{text: string, usage: record{prompt-token-count: u32, generated-token-count: "
     "u32}}, " LLM_ERR ">",
     llm_infer},
    {"generate-embeddings",
     "(string, list<string>) -> result<record{embeddings: list<list<f32>>, usage: "
     "record{prompt-token-count: u32}}, " LLM_ERR ">",
     llm_embed},
};
const kiln_chost_iface kiln_spin_llm_iface = {"fermyon:spin/llm", "2.0.0", NULL, 0, llm_funcs, 2};

/* ---- mqtt and mysql: open refuses ---- */

/* results[0] = err(connection-failed(...)) (case `disc`) for an address of scheme (default
 * port dport): "not permitted" unless a grant allows it, else "Kiln does not serve". */
static int refuse(void *ctx, kiln_cabi_cx *cx, const kiln_cval *addr, kiln_cval *r,
                  const char *scheme, uint16_t dport, const char *what, uint32_t disc)
{
    const char *hp = NULL;
    size_t hl = 0;
    wh_target t;
    int allowed = spin_url_hostport(addr->str.ptr, addr->str.len, scheme, &hp, &hl) == 0
                      ? spin_outbound_allowed(ctx, scheme, dport, hp, hl, &t)
                      : -1;
    if (allowed != 1)
        return spin_err_str(cx, r, disc, "address %.*s is not permitted",
                            addr->str.len > 4096 ? 4096 : (int)addr->str.len, addr->str.ptr);
    return spin_err_str(cx, r, disc, "Kiln does not serve %s: no connection to %s:%u", what, t.host,
                        (unsigned)t.port);
}

static int mqtt_open(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    return refuse(ctx, cx, &args[0], &res[0], "mqtt", 1883, "MQTT", 2);
}

static int mqtt_publish(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    return spin_err_str(cx, &res[0], 3, "could not find connection for resource");
}

#define MQTT_ERR                                                                                   \
    "variant{invalid-address, too-many-connections, connection-failed(string), other(string)}"
static const kiln_chost_resource mqtt_res[] = {{"connection", NULL}};
static const kiln_chost_func mqtt_funcs[] = {
    {"[static]connection.open",
     "(string, string, string, u64) -> result<own<connection>, " MQTT_ERR ">", mqtt_open},
    {"[method]connection.publish",
     "(borrow<connection>, string, list<u8>, enum{at-most-once, at-least-once, exactly-once}) "
     "-> result<_, " MQTT_ERR ">",
     mqtt_publish},
};
const kiln_chost_iface kiln_spin_mqtt_iface = {"fermyon:spin/mqtt", "2.0.0", mqtt_res, 1,
                                               mqtt_funcs,          2};

static int mysql_open(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    return refuse(ctx, cx, &args[0], &res[0], "mysql", 3306, "MySQL", 0);
}

static int mysql_no_conn(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    return spin_err_str(cx, &res[0], 0, "no connection found");
}

static const kiln_chost_resource mysql_res[] = {{"connection", NULL}};
static const kiln_chost_func mysql_funcs[] = {
    {"[static]connection.open", "(string) -> result<own<connection>, " SPIN_RDBMS_ERR ">",
     mysql_open},
    {"[method]connection.query",
     "(borrow<connection>, string, list<" SPIN_RDBMS_PARAM ">) -> result<" SPIN_RDBMS_ROWSET
     ", " SPIN_RDBMS_ERR ">",
     mysql_no_conn},
    {"[method]connection.execute",
     "(borrow<connection>, string, list<" SPIN_RDBMS_PARAM ">) -> result<_, " SPIN_RDBMS_ERR ">",
     mysql_no_conn},
};
const kiln_chost_iface kiln_spin_mysql_iface = {"fermyon:spin/mysql", "2.0.0", mysql_res, 1,
                                                mysql_funcs,          3};

/* fermyon:spin/rdbms-types@2.0.0: types only (mysql and postgres@2.0.0 `use` them), imported
 * as an instance of its own. */
const kiln_chost_iface kiln_spin_rdbms_types_iface = {
    "fermyon:spin/rdbms-types", "2.0.0", NULL, 0, NULL, 0};

/* ---- Spin 3's packages: spin:mqtt@3.0.0, spin:mysql@3.0.0; spin:postgres@4.x ----
 * Spin's Python SDK 5 imports its whole platform world, these included. MQTT and MySQL are
 * refused as above. spin:postgres@4 (new value types, connection builders) is not served:
 * Kiln serves spin:postgres@3.0.0 and fermyon:spin/postgres@2.0.0; a 4.x open answers
 * connection-failed saying so (after the same grant check). Functions that only a
 * connection reaches (none is ever made) answer Spin's "no connection" errors; their
 * types are not checked. */

/* spin:mqtt@3.0.0: 2.0.0's functions and types, as `async func`s. */
const kiln_chost_iface kiln_spin_mqtt3_iface = {"spin:mqtt/mqtt", "3.0.0", mqtt_res, 1,
                                                mqtt_funcs,       2};

/* spin:mysql@3.0.0's error variant: connection-failed(string) first, like rdbms-types'. */
static const kiln_chost_func mysql3_funcs[] = {
    {"[static]connection.open", "(string) -> result<own<connection>, *>", mysql_open},
    {"[method]connection.query", NULL, mysql_no_conn},
    {"[method]connection.execute", NULL, mysql_no_conn},
};
const kiln_chost_iface kiln_spin_mysql3_iface = {"spin:mysql/mysql", "3.0.0", mysql_res, 1,
                                                 mysql3_funcs,       3};

#define PG4_NOT_SERVED "spin:postgres@4 (Kiln serves spin:postgres@3.0.0)"

static int pg4_open(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    return refuse(ctx, cx, &args[0], &res[0], "postgres", 5432, PG4_NOT_SERVED, 0);
}

static int pg4_no_conn(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    return spin_err_str(cx, &res[0], 0, "no connection found");
}

/* connection-builder: made (it holds nothing), build answers connection-failed. */
static int pg4_builder_new(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    res[0].res.rep = 1;
    return 0;
}

static int pg4_build(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    return spin_err_str(cx, &res[0], 0, "Kiln does not serve %s", PG4_NOT_SERVED);
}

static const kiln_chost_resource pg4_res[] = {{"connection", NULL}, {"connection-builder", NULL}};
static const kiln_chost_func pg4_funcs[] = {
    {"[static]connection.open", "(string) -> result<own<connection>, *>", pg4_open},
    {"[static]connection.open-async", "(string) -> result<own<connection>, *>", pg4_open},
    {"[method]connection.query", NULL, pg4_no_conn},
    {"[method]connection.query-async", NULL, pg4_no_conn},
    {"[method]connection.execute", NULL, pg4_no_conn},
    {"[method]connection.execute-async", NULL, pg4_no_conn},
    {"[constructor]connection-builder", "(string) -> own<connection-builder>", pg4_builder_new},
    {"[method]connection-builder.set-ca-root",
     "(borrow<connection-builder>, string) -> result<_, *>", pg4_build},
    {"[method]connection-builder.build",
     "(borrow<connection-builder>) -> result<own<connection>, *>", pg4_build},
    {"[method]connection-builder.build-async",
     "(borrow<connection-builder>) -> result<own<connection>, *>", pg4_build},
};
const kiln_chost_iface kiln_spin_postgres4_iface = {
    "spin:postgres/postgres", "4.2.0", pg4_res, 2, pg4_funcs, 10};
