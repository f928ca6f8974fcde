/* cli.c — wasi:cli 0.2: environment, exit, stdio and terminals (wasip2.h). */
#include "host/wasip2/wasip2.h"
#include "engine/runtime.h"

#include <string.h>
#include <unistd.h>

static int set_str(kiln_cabi_cx *cx, kiln_cval *v, const char *s, size_t n)
{
    char *p = kiln_cabi_alloc(cx, n ? n : 1);
    if (!p) return p2_fail(cx, "out of memory");
    memcpy(p, s, n);
    v->str.ptr = p;
    v->str.len = n;
    return 0;
}

static int get_environment(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    kiln_wasip2 *w = ctx;
    kiln_cval *items = kiln_cabi_alloc(cx, (w->nenv ? w->nenv : 1) * sizeof *items);
    kiln_cval *pairs = kiln_cabi_alloc(cx, (w->nenv ? w->nenv : 1) * 2 * sizeof *pairs);
    if (!items || !pairs) return p2_fail(cx, "out of memory");
    for (size_t i = 0; i < w->nenv; i++) {
        const char *e = w->env[i], *eq = strchr(e, '=');
        size_t kn = eq ? (size_t)(eq - e) : strlen(e);
        if (set_str(cx, &pairs[2 * i], e, kn) < 0) return -1;
        const char *val = eq ? eq + 1 : "";
        if (set_str(cx, &pairs[2 * i + 1], val, strlen(val)) < 0) return -1;
        items[i].agg.items = &pairs[2 * i];
        items[i].agg.n = 2;
    }
    res[0].agg.items = items;
    res[0].agg.n = (uint32_t)w->nenv;
    return 0;
}

static int get_arguments(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    kiln_wasip2 *w = ctx;
    size_t n = (size_t)w->argc;
    kiln_cval *items = kiln_cabi_alloc(cx, (n ? n : 1) * sizeof *items);
    if (!items) return p2_fail(cx, "out of memory");
    for (size_t i = 0; i < n; i++)
        if (set_str(cx, &items[i], w->argv[i], strlen(w->argv[i])) < 0) return -1;
    res[0].agg.items = items;
    res[0].agg.n = (uint32_t)n;
    return 0;
}

static int initial_cwd(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    res[0].var.disc = 0; /* none */
    res[0].var.payload = NULL;
    return 0;
}

static const kiln_chost_func env_funcs[] = {
    {"get-environment", "() -> list<tuple<string, string>>", get_environment},
    {"get-arguments", "() -> list<string>", get_arguments},
    {"initial-cwd", "() -> option<string>", initial_cwd},
};
const kiln_chost_iface kiln_wasip2_cli_environment = {
    "wasi:cli/environment", KILN_WASIP2_VERSION, NULL, 0, env_funcs, 3};

static int exit_(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    kiln_rt_exit(args[0].var.disc == 0 ? 0 : 1);
}

static int exit_with_code(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    kiln_rt_exit((int)(args[0].u & 0xff));
}

static const kiln_chost_func exit_funcs[] = {
    {"exit", "(result)", exit_},
    {"exit-with-code", "(u8)", exit_with_code},
};
const kiln_chost_iface kiln_wasip2_cli_exit = {
    "wasi:cli/exit", KILN_WASIP2_VERSION, NULL, 0, exit_funcs, 2};

static int get_std(kiln_cabi_cx *cx, void *ctx, int which, kiln_cval *res)
{
    uint32_t rep = p2_stream_new(ctx, which);
    if (!rep) return p2_fail(cx, "out of memory");
    res[0].res.rep = rep;
    res[0].res.type = NULL;
    return 0;
}

static int get_stdin(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    return get_std(cx, ctx, 0, res);
}
static int get_stdout(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    return get_std(cx, ctx, 1, res);
}
static int get_stderr(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    return get_std(cx, ctx, 2, res);
}

static const kiln_chost_func stdin_funcs[] = {{"get-stdin", "() -> own<input-stream>", get_stdin}};
static const kiln_chost_func stdout_funcs[] = {
    {"get-stdout", "() -> own<output-stream>", get_stdout}};
static const kiln_chost_func stderr_funcs[] = {
    {"get-stderr", "() -> own<output-stream>", get_stderr}};
const kiln_chost_iface kiln_wasip2_cli_stdin = {
    "wasi:cli/stdin", KILN_WASIP2_VERSION, NULL, 0, stdin_funcs, 1};
const kiln_chost_iface kiln_wasip2_cli_stdout = {
    "wasi:cli/stdout", KILN_WASIP2_VERSION, NULL, 0, stdout_funcs, 1};
const kiln_chost_iface kiln_wasip2_cli_stderr = {
    "wasi:cli/stderr", KILN_WASIP2_VERSION, NULL, 0, stderr_funcs, 1};

/* Terminals: Kiln's guests never run on one (every get-terminal-* is none). */
static const kiln_chost_resource term_in[] = {{"terminal-input", NULL}};
static const kiln_chost_resource term_out[] = {{"terminal-output", NULL}};
const kiln_chost_iface kiln_wasip2_cli_terminal_input = {
    "wasi:cli/terminal-input", KILN_WASIP2_VERSION, term_in, 1, NULL, 0};
const kiln_chost_iface kiln_wasip2_cli_terminal_output = {
    "wasi:cli/terminal-output", KILN_WASIP2_VERSION, term_out, 1, NULL, 0};

static int none(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    res[0].var.disc = 0;
    res[0].var.payload = NULL;
    return 0;
}

static const kiln_chost_func tstdin[] = {
    {"get-terminal-stdin", "() -> option<own<terminal-input>>", none}};
static const kiln_chost_func tstdout[] = {
    {"get-terminal-stdout", "() -> option<own<terminal-output>>", none}};
static const kiln_chost_func tstderr[] = {
    {"get-terminal-stderr", "() -> option<own<terminal-output>>", none}};
const kiln_chost_iface kiln_wasip2_cli_terminal_stdin = {
    "wasi:cli/terminal-stdin", KILN_WASIP2_VERSION, NULL, 0, tstdin, 1};
const kiln_chost_iface kiln_wasip2_cli_terminal_stdout = {
    "wasi:cli/terminal-stdout", KILN_WASIP2_VERSION, NULL, 0, tstdout, 1};
const kiln_chost_iface kiln_wasip2_cli_terminal_stderr = {
    "wasi:cli/terminal-stderr", KILN_WASIP2_VERSION, NULL, 0, tstderr, 1};
