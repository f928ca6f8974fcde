/* types.c — the types-only interfaces trigger components import (trigger.h).
 *
 * A component exporting a handler whose types live in another interface imports that
 * interface as an instance with type exports only: Spin's SDKs' Redis components import
 * fermyon:spin/redis-types (payload, error) and cron components fermyon:spin-cron/cron-types.
 * Nothing is called through them; this provider only makes the imports known, with no
 * functions and a context that holds nothing. */
#include "component/host.h"
#include "exec/trigger/internal.h"

static const kiln_chost_iface redis_types = {"fermyon:spin/redis-types", "", NULL, 0, NULL, 0};
static const kiln_chost_iface cron_types = {
    "fermyon:spin-cron/cron-types", "2.0.0", NULL, 0, NULL, 0};
static const kiln_chost_iface *const ifaces[] = {&redis_types, &cron_types};

static char no_state; /* what each instance's context points at: nothing to keep */

static void *ctx_new(const kiln_grants *g, char **err)
{
    (void)g;
    (void)err;
    return &no_state;
}

static void ctx_free(void *ctx)
{
    (void)ctx;
}

static void *ctx_clone(const void *tmpl, const kiln_grants *g, char **err)
{
    (void)tmpl;
    return ctx_new(g, err);
}

static const kiln_chost_provider provider = {
    "spin trigger types", ifaces, sizeof ifaces / sizeof ifaces[0], ctx_new, ctx_free, ctx_clone,
};

int kiln_triggers_register_types(void)
{
    static int done;
    if (done) return 0;
    if (kiln_chost_register(&provider) < 0) return -1;
    done = 1;
    return 0;
}
