/* A wasi:cli 0.3 (p3) command in C on wit-bindgen's async (callback) bindings, for
 * tests/e2e/p3_diff.sh (kiln run and wasmtime run give the same stdout and exit code):
 * `run` hands a stream to wasi:cli/stdout write-via-stream, writes three lines with a
 * wasi:clocks wait-for of 10 ms between them, drops the stream, awaits the future
 * write-via-stream returned (ok), then ends through wasi:cli/exit exit(err): exit code 1.
 * Every write, wait and read may block: `run` then returns WAIT on its waitable set and
 * the callback goes on where it stopped (a step counter). */
#include "command.h"
#include <string.h>

static const char *const lines[] = {"hello from a C p3 command\n", "after a wait\n",
                                    "after another wait\n"};

static struct {
    command_waitable_set_t set;
    wasi_cli_stdout_stream_u8_writer_t w;
    wasi_cli_stdout_future_result_void_error_code_t done;
    wasi_cli_stdout_result_void_error_code_t result;
    unsigned line; /* the line being written */
    size_t off;    /* bytes of it written */
    int waited;    /* the wait before lines[line] is over */
    int reading;   /* the future's read is under way */
} g;

/* Goes on until blocked (WAIT) or done (exit: does not return). */
static command_callback_code_t step(void)
{
    while (g.line < sizeof lines / sizeof *lines) {
        if (g.line > 0 && !g.waited) {
            command_subtask_status_t st = wasi_clocks_monotonic_clock_wait_for(10000000);
            if (COMMAND_SUBTASK_STATE(st) != COMMAND_SUBTASK_RETURNED) {
                command_waitable_join(COMMAND_SUBTASK_HANDLE(st), g.set);
                return COMMAND_CALLBACK_CODE_WAIT(g.set);
            }
            g.waited = 1;
        }
        const char *s = lines[g.line];
        size_t n = strlen(s);
        if (g.off < n) {
            command_waitable_status_t st =
                wasi_cli_stdout_stream_u8_write(g.w, (const uint8_t *)s + g.off, n - g.off);
            if (st == COMMAND_WAITABLE_STATUS_BLOCKED) {
                command_waitable_join(g.w, g.set);
                return COMMAND_CALLBACK_CODE_WAIT(g.set);
            }
            if (COMMAND_WAITABLE_STATE(st) == COMMAND_WAITABLE_DROPPED) __builtin_trap();
            g.off += COMMAND_WAITABLE_COUNT(st);
            continue;
        }
        g.line++;
        g.off = 0;
        g.waited = 0;
    }
    if (!g.reading) {
        wasi_cli_stdout_stream_u8_drop_writable(g.w);
        g.reading = 1;
        command_waitable_status_t st =
            wasi_cli_stdout_future_result_void_error_code_read(g.done, &g.result);
        if (st == COMMAND_WAITABLE_STATUS_BLOCKED) {
            command_waitable_join(g.done, g.set);
            return COMMAND_CALLBACK_CODE_WAIT(g.set);
        }
    }
    if (g.result.is_err) __builtin_trap();
    wasi_cli_stdout_future_result_void_error_code_drop_readable(g.done);
    wasi_cli_exit_result_void_void_t err = {.is_err = true};
    wasi_cli_exit_exit(&err);
    __builtin_trap(); /* exit does not return */
}

command_callback_code_t exports_wasi_cli_run_run(void)
{
    g.set = command_waitable_set_new();
    wasi_cli_stdout_stream_u8_t r = wasi_cli_stdout_stream_u8_new(&g.w);
    g.done = wasi_cli_stdout_write_via_stream(r);
    return step();
}

command_callback_code_t exports_wasi_cli_run_run_callback(command_event_t *event)
{
    switch (event->event) {
    case COMMAND_EVENT_SUBTASK:
        if (event->code != COMMAND_SUBTASK_RETURNED) return COMMAND_CALLBACK_CODE_WAIT(g.set);
        command_subtask_drop(event->waitable);
        g.waited = 1;
        break;
    case COMMAND_EVENT_STREAM_WRITE:
        if (COMMAND_WAITABLE_STATE(event->code) == COMMAND_WAITABLE_DROPPED) __builtin_trap();
        g.off += COMMAND_WAITABLE_COUNT(event->code);
        break;
    case COMMAND_EVENT_FUTURE_READ:
        break;
    default:
        return COMMAND_CALLBACK_CODE_WAIT(g.set);
    }
    return step();
}
