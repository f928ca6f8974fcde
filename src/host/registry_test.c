/* Unit tests of the host-API registry: one linker for every runner, per-instance contexts
 * made from grants, bindings per import, missing imports listed at load, and the
 * side-effect classification of grants. */
#include "host/registry.h"
#include "util/alloc.h"
#include "util/test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A test API "kiln:test": its context remembers the component it was made for. */
typedef struct test_ctx {
    const char *component;
    wasm_rt_memory_t *mem;
} test_ctx;

static int live_ctxs;

static uint32_t t_id(void *ctx)
{
    return (uint32_t)strlen(((test_ctx *)ctx)->component);
}

static const kiln_host_func test_funcs[] = {{"id", ":i", (kiln_fnptr)t_id}};
static const kiln_host_module test_module = {"kiln:test", test_funcs, 1};

static void *t_new(const kiln_grants *g, char **err)
{
    if (g->component && strcmp(g->component, "refused") == 0) {
        *err = kiln_strdup("refused by the test API");
        return NULL;
    }
    test_ctx *c = kiln_calloc(1, sizeof *c);
    if (c) c->component = g->component ? g->component : "";
    live_ctxs++;
    return c;
}

static void t_free(void *ctx)
{
    live_ctxs--;
    kiln_free(ctx);
}

static void t_mem(void *ctx, wasm_rt_memory_t *mem)
{
    ((test_ctx *)ctx)->mem = mem;
}

static const kiln_host_api test_api = {&test_module, t_new, t_free, t_mem};
static const kiln_host_api dup_api = {&kiln_wasi_module, t_new, t_free, t_mem};

static const char *wat =
    "(module\n"
    "  (import \"kiln:test\" \"id\" (func $id (result i32)))\n"
    "  (import \"wasi_snapshot_preview1\" \"sched_yield\" (func (result i32)))\n"
    "  (memory (export \"memory\") 1)\n"
    "  (func (export \"run\") (result i32) (call $id)))\n";

static const char *wat_missing = "(module\n"
                                 "  (import \"kiln:test\" \"nope\" (func))\n"
                                 "  (import \"kiln:test\" \"id\" (func (param i32)))\n"
                                 "  (import \"other\" \"x\" (func)))\n";

static char dir[] = "/tmp/kiln-registry-test.XXXXXX";

static const char *compile(const char *name, const char *text)
{
    static char path[256];
    char cmd[700];
    snprintf(path, sizeof path, "%s/%s.wat", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) return NULL;
    fputs(text, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "wat2wasm %s/%s.wat -o %s/%s.wasm", dir, name, dir, name);
    if (system(cmd) != 0) return NULL;
    snprintf(path, sizeof path, "%s/%s.wasm", dir, name);
    return path;
}

int main(void)
{
    if (!mkdtemp(dir)) return 1;
    CHECK(kiln_host_find_api("wasi_snapshot_preview1") == &kiln_wasi_api);
    CHECK(kiln_host_find_api("kiln:test") == NULL);
    CHECK_INT(kiln_host_register(&test_api), 0);
    CHECK_INT(kiln_host_register(&test_api), -1); /* name taken */
    CHECK_INT(kiln_host_register(&dup_api), -1);
    CHECK(kiln_host_find_api("kiln:test") == &test_api);

    kiln_compile_opts o = {.tier = KILN_TIER_FAST, .cache_dir = dir};
    kiln_err err;
    /* Missing imports: one line each, nothing compiled. */
    const char *p = compile("missing", wat_missing);
    CHECK(p && kiln_module_load_file(p, &o, kiln_hosts_linker(), &err) == NULL);
    CHECK(strstr(err.msg, "\"kiln:test\" \"nope\"") != NULL);
    CHECK(strstr(err.msg, "\"kiln:test\" \"id\" func (i32) -> ()") != NULL);
    CHECK(strstr(err.msg, "\"other\" \"x\"") != NULL);

    p = compile("ok", wat);
    kiln_module *m = p ? kiln_module_load_file(p, &o, kiln_hosts_linker(), &err) : NULL;
    CHECK(m != NULL);
    kiln_host_plan *plan = m ? kiln_host_plan_new(m, &err) : NULL;
    CHECK(plan != NULL);
    if (plan) {
        /* Two instances, two components: each gets its own context. */
        kiln_grants ga = {.component = "alpha"}, gb = {.component = "be"};
        for (int i = 0; i < 3; i++)
            ga.wasi.stdio[i].fd = gb.wasi.stdio[i].fd = -1;
        char *e = NULL;
        kiln_hosts *ha = kiln_hosts_new(plan, &ga, &e), *hb = kiln_hosts_new(plan, &gb, &e);
        CHECK(ha && hb);
        CHECK_INT(live_ctxs, 2);
        kiln_binding ba[2], bb[2];
        kiln_hosts_bind(ha, ba);
        kiln_hosts_bind(hb, bb);
        CHECK(ba[0].fn == (kiln_fnptr)t_id && ba[0].ctx == kiln_hosts_ctx(ha, "kiln:test"));
        CHECK(ba[1].ctx == kiln_hosts_ctx(ha, "wasi_snapshot_preview1"));
        CHECK(ba[0].kind == KILN_BIND_HOST);
        kiln_instance *ia = kiln_instance_alloc(m), *ib = kiln_instance_alloc(m);
        kiln_trap t;
        CHECK(kiln_instance_init(ia, ba, &t) == 0 && kiln_instance_init(ib, bb, &t) == 0);
        kiln_hosts_set_memory(ha, kiln_instance_memory(ia, "memory"));
        CHECK(((test_ctx *)kiln_hosts_ctx(ha, "kiln:test"))->mem ==
              kiln_instance_memory(ia, "memory"));
        long run = kiln_module_export_index(m, "run");
        kiln_val v[1];
        CHECK(kiln_instance_call(ia, run, v, &t) == 0 && v[0].i32 == 5);
        CHECK(kiln_instance_call(ib, run, v, &t) == 0 && v[0].i32 == 2);
        kiln_instance_free(ia);
        kiln_instance_free(ib);
        kiln_hosts_free(ha);
        kiln_hosts_free(hb);
        CHECK_INT(live_ctxs, 0);
        /* A context that cannot be made: the error comes back, nothing leaks. */
        kiln_grants gr = {.component = "refused"};
        CHECK(kiln_hosts_new(plan, &gr, &e) == NULL);
        CHECK(e && strcmp(e, "refused by the test API") == 0);
        kiln_free(e);
        CHECK_INT(live_ctxs, 0);
    }
    kiln_host_plan_free(plan);
    kiln_module_free(m);

    /* Grants with effects outside the instance. */
    kiln_grants g = {0};
    CHECK_INT(kiln_grants_side_effects(&g), 0);
    kiln_wasi_preopen ro = {"/tmp", "/", 1}, rw = {"/tmp", "/", 0};
    g.wasi.npreopens = 1;
    g.wasi.preopens = &ro;
    CHECK_INT(kiln_grants_side_effects(&g), 0);
    g.wasi.preopens = &rw;
    CHECK_INT(kiln_grants_side_effects(&g), 1);
    g.wasi.npreopens = 0;
    g.nkey_value_stores = 1;
    CHECK_INT(kiln_grants_side_effects(&g), 1);
    g.nkey_value_stores = 0;
    g.nallowed_outbound_hosts = 1;
    CHECK_INT(kiln_grants_side_effects(&g), 1);

    /* allowed_outbound_hosts: the grants' own list, none without one */
    {
        const char *hosts[] = {"https://a.test", "http://b.test:8080"};
        size_t n = 9;
        kiln_grants go = {.component = "outbound"};
        CHECK(kiln_grants_outbound(&go, &n) == NULL && n == 0);
        go.allowed_outbound_hosts = hosts;
        go.nallowed_outbound_hosts = 2;
        CHECK(kiln_grants_outbound(&go, &n) == hosts && n == 2);
        go.nallowed_outbound_hosts = 0;
        CHECK(kiln_grants_outbound(&go, &n) == NULL && n == 0);
    }

    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) return 1;
    return test_finish("registry");
}
