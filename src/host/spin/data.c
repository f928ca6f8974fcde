/* data.c — the data hosts' per-instance tables and shared helpers (data.h). */
#include "host/spin/data.h"
#include "host/spin/spin.h"
#include "util/alloc.h"

#include <stdio.h>

void spin_data_free(spin_data *d)
{
    if (!d) return;
    for (size_t i = 0; i < SPIN_MAX_CONNS; i++) {
        if (d->redis[i]) spin_redis_close(d->redis[i]);
        if (d->pg[i]) spin_pg_close(d->pg[i]);
    }
    kiln_free(d);
}

long spin_slot_free(void *const *table, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!table[i]) return (long)i;
    return -1;
}

void spin_log_denied(void *ctx, const char *what, const char *name, size_t len)
{
    const spin_component *c = spin_ctx_component(ctx);
    char shown[65];
    size_t n = len < 64 ? len : 64;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)name[i];
        shown[i] = ch < 0x20 || ch == 0x7f || ch == '"' ? '?' : (char)ch;
    }
    shown[n] = '\0';
    fprintf(stderr, "kiln: component %s: %s \"%s\"%s is not granted: access denied\n",
            c ? spin_component_id(c) : "?", what, shown, len > 64 ? "..." : "");
}

int spin_err_case(kiln_cabi_cx *cx, kiln_cval *r, uint32_t disc)
{
    kiln_cval *p = kiln_cabi_alloc(cx, sizeof *p);
    if (!p) return spin_oom(cx);
    p->var.disc = disc;
    p->var.payload = NULL;
    r->var.disc = 1;
    r->var.payload = p;
    return 0;
}
