/* data.c — the data hosts' per-instance tables and shared helpers (data.h). */
#include "host/spin/data.h"
#include "host/spin/spin.h"
#include "util/alloc.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

void spin_data_free(spin_data *d)
{
    if (!d) return;
    while (d->rows)
        spin_rows_free(d->rows);
    for (size_t i = 0; i < SPIN_MAX_CONNS; i++) {
        kiln_sqldb_disconnect(d->sql[i]);
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

int spin_outbound_allowed(void *ctx, const char *scheme, uint16_t dport, const char *hostport,
                          size_t len, wh_target *t)
{
    if (len > 1024) return -1; /* no host and port is that long */
    if (wh_target_parse_scheme(t, scheme, dport, hostport, len) < 0) return -1;
    size_t n = 0;
    const char *const *grants = spin_ctx_outbound(ctx, &n);
    int allowed = wh_allow(grants, n, t);
    if (!allowed) {
        const spin_component *c = spin_ctx_component(ctx);
        fprintf(stderr, "kiln: component %s: %s://%s:%u is not in allowed_outbound_hosts: denied\n",
                c ? spin_component_id(c) : "?", scheme, t->host, (unsigned)t->port);
    }
    return allowed;
}

int spin_url_hostport(const char *url, size_t n, const char *scheme, const char **hp, size_t *hl)
{
    size_t sl = strlen(scheme);
    if (n < sl + 3 || strncasecmp(url, scheme, sl) != 0 || memcmp(url + sl, "://", 3) != 0)
        return -1;
    const char *p = url + sl + 3, *end = url + n, *e = p;
    while (e < end && *e != '/' && *e != '?' && *e != '#')
        e++;
    for (const char *q = p; q < e; q++)
        if (*q == '@') p = q + 1; /* userinfo: credentials, not the target */
    *hp = p;
    *hl = (size_t)(e - p);
    return *hl ? 0 : -1;
}
