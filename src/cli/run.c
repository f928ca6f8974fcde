/* run.c — `kiln run`: run a WASI command module, like `wasmtime run`.
 *
 *   kiln run [--dir HOST[::GUEST][:ro]]... [--env K[=V]]... [--allow-outbound URL]... [--tier T]
 *            [-v] FILE.wasm [ARGS]...
 *   kiln run --invoke NAME [OPTIONS] FILE.wasm [ARGS]...
 *
 * Exit status: the guest's proc_exit code (0 when _start returns); a trap prints
 * "error: trap: <message>" on stderr and exits 134; a module that cannot be loaded
 * prints the reason and exits 1. With --invoke, the export NAME is called instead of
 * _start with ARGS as its numeric arguments and its results are printed one per line
 * (as `wasmtime run --invoke`); a reactor's _initialize runs first. */
#include "cli/cli.h"
#include "engine/engine.h"
#include "host/registry.h"
#include "host/wasi.h"
#include "manifest/manifest.h"
#include "util/alloc.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void run_usage(FILE *f)
{
    fprintf(f, "usage: kiln run [OPTIONS] FILE.wasm [ARGS]...\n\n"
               "  --dir HOST[::GUEST][:ro]  preopen directory HOST as GUEST (default: HOST);\n"
               "                            :ro mounts it read-only\n"
               "  --env K=V                 set a guest environment variable (--env K: copy the\n"
               "                            host's K); the guest sees no other variable\n"
               "  --allow-outbound URL      a component may reach URL (allowed_outbound_hosts:\n"
               "                            tcp://127.0.0.1:80, udp://*:53, https://x.io)\n"
               "  --tier fast|opt|auto      compiler tier (default auto: opt if cached)\n"
               "  --max-memory SIZE         cap on the guest's linear memory (e.g. 256M)\n"
               "  --timeout DURATION        stop the guest after DURATION (e.g. 10s, 500ms)\n"
               "  --cache-dir DIR           compiled-module cache (default $KILN_CACHE_DIR,\n"
               "                            $XDG_CACHE_HOME/kiln, ~/.cache/kiln)\n"
               "  --invoke NAME             call the exported function NAME with ARGS (numbers)\n"
               "                            instead of _start and print its results\n"
               "  -v, --verbose             log compile steps and timings\n");
}

/* Splits HOST[::GUEST][:ro] in place. */
static int parse_dir(char *spec, kiln_wasi_preopen *p)
{
    size_t n = strlen(spec);
    p->readonly = 0;
    if (n > 3 && strcmp(spec + n - 3, ":ro") == 0) {
        spec[n - 3] = '\0';
        p->readonly = 1;
    } else if (n > 3 && strcmp(spec + n - 3, ":rw") == 0) {
        spec[n - 3] = '\0';
    }
    char *sep = strstr(spec, "::");
    p->host_path = spec;
    p->guest_path = spec;
    if (sep) {
        *sep = '\0';
        p->guest_path = sep + 2;
    }
    return *p->host_path && *p->guest_path ? 0 : -1;
}

typedef struct run_state {
    kiln_wasi_preopen *dirs;
    size_t ndirs;
    const char **env;
    size_t nenv;
    char **owned; /* strings built here (env copies) */
    size_t nowned;
    const char **outbound; /* --allow-outbound (a component's allowed_outbound_hosts) */
    size_t noutbound;
} run_state;

static void run_state_free(run_state *s)
{
    for (size_t i = 0; i < s->nowned; i++)
        kiln_free(s->owned[i]);
    kiln_free(s->owned);
    kiln_free(s->dirs);
    kiln_free(s->env);
    kiln_free(s->outbound);
}

static int push(void **arr, size_t *n, size_t elem, const void *v)
{
    void *p = kiln_realloc(*arr, (*n + 1) * elem);
    if (!p) return -1;
    memcpy((char *)p + *n * elem, v, elem);
    *arr = p;
    (*n)++;
    return 0;
}

/* Parses one --invoke argument of wasm type t (i, j, f, d) into v. */
static int parse_arg(char t, const char *s, kiln_val *v)
{
    char *end;
    errno = 0;
    if (t == 'i' || t == 'j') {
        long long n = strtoll(s, &end, 0);
        if (errno == ERANGE && s[0] != '-') { /* unsigned spellings: 0xffffffff */
            errno = 0;
            n = (long long)strtoull(s, &end, 0);
        }
        if (errno || *end || !*s) return -1;
        if (t == 'i') {
            if (n < INT32_MIN || n > (long long)UINT32_MAX) return -1;
            v->i32 = (uint32_t)n;
        } else {
            v->i64 = (uint64_t)n;
        }
        return 0;
    }
    double d = strtod(s, &end);
    if (*end || !*s) return -1;
    if (t == 'f')
        v->f32 = (float)d;
    else
        v->f64 = d;
    return 0;
}

/* Prints one result like wasmtime: integers signed, floats in their shortest form that
 * reads back to the same value. */
static void print_result(char t, const kiln_val *v)
{
    if (t == 'i') {
        printf("%d\n", (int32_t)v->i32);
    } else if (t == 'j') {
        printf("%lld\n", (long long)(int64_t)v->i64);
    } else {
        double d = t == 'f' ? (double)v->f32 : v->f64;
        char buf[64];
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(buf, sizeof buf, "%.*g", prec, d);
            if (t == 'f' ? strtof(buf, NULL) == v->f32 : strtod(buf, NULL) == d) break;
        }
        printf("%s\n", buf);
    }
}

int kiln_cli_trap_status(const kiln_trap *t)
{
    if (t->kind == KILN_TRAP_EXIT) return t->exit_code;
    fflush(stdout);
    fprintf(stderr, "error: trap: %s\n", kiln_trap_message(t));
    return 134;
}

int kiln_cmd_run(int argc, char **argv)
{
    kiln_compile_opts opts = {.tier = KILN_TIER_AUTO};
    run_state st = {0};
    unsigned long long max_memory = 0, timeout_ms = 0;
    const char *invoke = NULL;
    kiln_val *vals = NULL; /* --invoke's arguments, then its results */
    int i = 1, rc = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        } else if (strcmp(a, "--dir") == 0 && val) {
            kiln_wasi_preopen p;
            if (parse_dir(argv[++i], &p) < 0) {
                fprintf(stderr, "error: bad --dir '%s' (HOST[::GUEST][:ro])\n", val);
                goto out;
            }
            if (push((void **)&st.dirs, &st.ndirs, sizeof p, &p) < 0) goto oom;
        } else if (strcmp(a, "--env") == 0 && val) {
            i++;
            const char *kv = val;
            if (!strchr(val, '=')) {
                const char *hv = getenv(val);
                if (!hv) continue;
                size_t n = strlen(val) + strlen(hv) + 2;
                char *s = kiln_malloc(n);
                if (!s || push((void **)&st.owned, &st.nowned, sizeof s, &s) < 0) {
                    kiln_free(s);
                    goto oom;
                }
                snprintf(s, n, "%s=%s", val, hv);
                kv = s;
            }
            if (push((void **)&st.env, &st.nenv, sizeof kv, &kv) < 0) goto oom;
        } else if (strcmp(a, "--allow-outbound") == 0 && val) {
            const char *why = NULL;
            if (!kiln_outbound_host_valid(val, &why) || strstr(val, "{{")) {
                fprintf(stderr, "error: bad --allow-outbound '%s' (%s)\n", val,
                        why ? why : "no templates here");
                goto out;
            }
            i++;
            if (push((void **)&st.outbound, &st.noutbound, sizeof val, &val) < 0) goto oom;
        } else if (strcmp(a, "--tier") == 0 && val) {
            if (kiln_tier_parse(argv[++i], &opts.tier) < 0) {
                fprintf(stderr, "error: unknown tier '%s' (fast, opt or auto)\n", val);
                goto out;
            }
        } else if (strcmp(a, "--max-memory") == 0 && val) {
            if (kiln_parse_size(argv[++i], &max_memory) < 0) {
                fprintf(stderr, "error: bad size '%s'\n", val);
                goto out;
            }
        } else if (strcmp(a, "--timeout") == 0 && val) {
            if (kiln_parse_duration_ms(argv[++i], &timeout_ms) < 0) {
                fprintf(stderr, "error: bad duration '%s' (e.g. 10s, 500ms)\n", val);
                goto out;
            }
        } else if (strcmp(a, "--invoke") == 0 && val) {
            invoke = argv[++i];
        } else if (strcmp(a, "--cache-dir") == 0 && val) {
            opts.cache_dir = argv[++i];
        } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
            opts.verbose = 1;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            run_usage(stdout);
            rc = 0;
            goto out;
        } else {
            fprintf(stderr, "error: unknown option '%s'\n", a);
            run_usage(stderr);
            rc = 2;
            goto out;
        }
    }
    if (i >= argc) {
        run_usage(stderr);
        rc = 2;
        goto out;
    }
    const char *path = argv[i];
    if (kiln_cli_is_component_file(path)) {
        if (invoke) {
            fprintf(stderr, "error: %s: --invoke is for core modules, not components\n", path);
            goto out;
        }
        kiln_grants cg = {
            .wasi = {.argc = argc - i,
                     .argv = (const char *const *)(argv + i),
                     .nenv = st.nenv,
                     .env = st.env,
                     .npreopens = st.ndirs,
                     .preopens = st.dirs,
                     .stdio = {{.fd = 0}, {.fd = 1}, {.fd = 2}}},
            .nallowed_outbound_hosts = st.noutbound,
            .allowed_outbound_hosts = st.outbound,
            .allow_tcp_bind = 1,
        };
        if (max_memory) kiln_rt_set_memory_limit_pages((uint32_t)((max_memory + 65535) / 65536));
        rc = kiln_run_component(path, &opts, &cg, timeout_ms);
        goto out;
    }
    kiln_err err;
    kiln_module *m = kiln_module_load_file(path, &opts, kiln_hosts_linker(), &err);
    if (!m) {
        fprintf(stderr, "error: %s\n", err.msg);
        goto out;
    }
    long start = kiln_module_export_index(m, invoke ? invoke : "_start");
    const kiln_export_info *ex = start >= 0 ? kiln_module_export(m, (size_t)start) : NULL;
    const char *type = ex && ex->kind == KILN_EXTERN_FUNC ? ex->type : NULL;
    const char *colon = type ? strchr(type, ':') : NULL;
    size_t nparams = colon ? (size_t)(colon - type) : 0, nresults = colon ? strlen(colon + 1) : 0;
    if (!invoke && (!type || strcmp(type, ":") != 0)) {
        fprintf(stderr, "error: %s: not a WASI command (no exported _start function)%s\n", path,
                kiln_module_reactor_init(m) >= 0 ? "; it is a reactor: call an export with --invoke"
                                                 : "");
        kiln_module_free(m);
        goto out;
    }
    if (invoke && !colon) {
        fprintf(stderr, "error: %s: no exported function '%s'\n", path, invoke);
        kiln_module_free(m);
        goto out;
    }
    if (invoke && strpbrk(type, "re")) {
        fprintf(stderr, "error: %s: '%s' takes or returns references, which --invoke cannot pass\n",
                path, invoke);
        kiln_module_free(m);
        goto out;
    }
    if (invoke && (size_t)(argc - i - 1) != nparams) {
        fprintf(stderr, "error: '%s' takes %zu argument%s, %d given\n", invoke, nparams,
                nparams == 1 ? "" : "s", argc - i - 1);
        kiln_module_free(m);
        rc = 2;
        goto out;
    }
    vals = kiln_calloc(nparams > nresults ? nparams + 1 : nresults + 1, sizeof *vals);
    if (!vals) {
        kiln_module_free(m);
        goto oom;
    }
    for (size_t k = 0; k < nparams; k++) {
        if (parse_arg(type[k], argv[i + 1 + k], &vals[k]) < 0) {
            fprintf(stderr, "error: argument %zu of '%s': '%s' is not a valid %s\n", k + 1, invoke,
                    argv[i + 1 + k],
                    type[k] == 'i'   ? "i32"
                    : type[k] == 'j' ? "i64"
                    : type[k] == 'f' ? "f32"
                                     : "f64");
            kiln_module_free(m);
            rc = 2;
            goto out;
        }
    }
    kiln_grants g = {
        .wasi =
            {
                .argc = argc - i,
                .argv = (const char *const *)(argv + i),
                .nenv = st.nenv,
                .env = st.env,
                .npreopens = st.ndirs,
                .preopens = st.dirs,
                .stdio = {{.fd = 0}, {.fd = 1}, {.fd = 2}},
            },
    };
    char *herr = NULL;
    kiln_host_plan *plan = kiln_host_plan_new(m, &err);
    kiln_hosts *h = plan ? kiln_hosts_new(plan, &g, &herr) : NULL;
    size_t nimp = kiln_module_import_count(m);
    kiln_binding *b = h ? kiln_calloc(nimp ? nimp : 1, sizeof *b) : NULL;
    kiln_instance *inst = b ? kiln_instance_alloc(m) : NULL;
    if (!inst) {
        fprintf(stderr, "error: %s\n", !plan ? err.msg : herr ? herr : "out of memory");
        kiln_free(herr);
        kiln_free(b);
        kiln_hosts_free(h);
        kiln_host_plan_free(plan);
        kiln_module_free(m);
        goto out;
    }
    if (max_memory) kiln_rt_set_memory_limit_pages((uint32_t)((max_memory + 65535) / 65536));
    kiln_hosts_set_memory(h, kiln_instance_memory(inst, "memory"));
    kiln_hosts_bind(h, b);
    kiln_trap trap;
    int r = kiln_instance_init(inst, b, &trap);
    if (r == 0 && invoke) r = kiln_instance_reactor_initialize(inst, &trap);
    if (r == 0) r = kiln_instance_call_timeout(inst, start, vals, &trap, timeout_ms * 1000000ull);
    if (r == 0 && invoke) {
        fflush(stdout); /* the guest's own output first */
        for (size_t k = 0; k < nresults; k++)
            print_result(colon[1 + k], &vals[k]);
    }
    rc = r == 0 ? 0 : kiln_cli_trap_status(&trap);
    kiln_free(b);
    kiln_instance_free(inst);
    kiln_hosts_free(h);
    kiln_host_plan_free(plan);
    kiln_module_free(m);
    goto out;
oom:
    fprintf(stderr, "error: out of memory\n");
    rc = 1;
out:
    kiln_free(vals);
    run_state_free(&st);
    return rc;
}
