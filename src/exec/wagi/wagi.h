/* wagi.h — the WAGI executor: runs one component for one HTTP request.
 *
 * At startup each component's module is loaded once and instantiated once into an image
 * (kiln_wagi_component_new). Per request, kiln_wagi_prepare builds the CGI view on the
 * I/O thread and kiln_wagi_execute creates a fresh WASI context
 * (stdin = the body in memory, stdout into a bounded buffer, stderr into a bounded buffer
 * logged with the component's name), a fresh instance copied from the image (no guest
 * code runs for that), runs its entry point (`_start`) with the request's time limit and
 * memory cap, and parses the CGI response from stdout. Nothing survives a request: a
 * guest that counts in a static variable answers 1 every time.
 *
 * The guest sees only what it is granted: the CGI variables of the request, the
 * component's environment (plus `kiln up -e`), and its files as read-only preopens;
 * never the host's environment. */
#ifndef KILN_EXEC_WAGI_H
#define KILN_EXEC_WAGI_H

#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"
#include "host/wasi.h"
#include "exec/wagi/cgi.h"

/* What a component runs: a loaded module and its image. A component starts with the tier
 * it could load at once and may switch to the optimized one later (tier-up); codes are
 * kept until the component is freed, so a request can use one without locking. */
typedef struct kiln_wagi_code {
    kiln_module *module;
    struct kiln_host_plan *plan; /* which host API serves each import */
    kiln_image *image;           /* NULL: instantiate from the module per request */
    struct kiln_wagi_code *next;
} kiln_wagi_code;

/* What the triggers of one component share: the code, and how to load a better one. */
typedef struct kiln_wagi_unit {
    kiln_wagi_code *_Atomic current;
    kiln_wagi_code *codes; /* every code ever current (freed with the unit) */
    char *wasm_path;
    kiln_compile_opts opts;
    size_t pool_size; /* memory slots made ready per code (kiln_wagi_component_reserve) */
} kiln_wagi_unit;

typedef struct kiln_wagi_component {
    char *id;
    kiln_module *module;  /* the module loaded first (for startup checks) */
    kiln_wagi_unit *unit; /* shared by the triggers of one component */
    int owns_module;      /* 1 for the component that owns `unit` */
    long entry_index;     /* export index of the entry point (same on every tier) */
    char *argv_tmpl;      /* NULL: "${SCRIPT_NAME} ${ARGS}" */
    kiln_strv env;        /* "KEY=VALUE": component environment, then -e overrides */
    kiln_wasi_preopen *preopens;
    size_t npreopens;
    int pass_authorization; /* the trigger opted in to HTTP_AUTHORIZATION */
    size_t stdout_limit;    /* bytes; 0: unlimited. Beyond it: 500, nothing of it sent */
    size_t stderr_limit;
    const struct kiln_guest_log *log;  /* --log-dir: the stderr file (NULL: kiln's stderr) */
    uint64_t timeout_ns;               /* per request; 0: none. Past it: 504 */
    uint32_t max_memory_pages;         /* per instance; 0: the module's own maximum */
    _Atomic long long inline_after_ms; /* no inline attempts before this (monotonic ms) */
    int rerunnable; /* 1: the grants have no side effects, so a request may run twice (the
                     * inline path, serve.h); set by whoever grants (kiln up) */
} kiln_wagi_component;

/* Loads `wasm_path` and prepares a component. `entry` NULL means "_start". Returns NULL
 * with a message in err->msg when the module cannot be loaded or lacks the entry. */
kiln_wagi_component *kiln_wagi_component_new(const char *id, const char *wasm_path,
                                             const kiln_compile_opts *opts, const char *entry,
                                             kiln_err *err);
/* Adds a read-only preopen (copied). 0 or -1. */
int kiln_wagi_component_preopen(kiln_wagi_component *c, const char *host_path,
                                const char *guest_path);
/* A second executor over the same loaded module (another trigger of one component) with
 * its own argv template; env and preopens are copied. `base` must outlive it. */
kiln_wagi_component *kiln_wagi_component_share(const kiln_wagi_component *base,
                                               const char *argv_tmpl);
void kiln_wagi_component_free(kiln_wagi_component *c);
/* Makes n instance slots ready now (and for the optimized tier when it comes), so that
 * the first n requests at once find them made. 0, or -1 when they cannot be mapped. */
int kiln_wagi_component_reserve(kiln_wagi_component *c, size_t n);

/* Tier-up: builds the optimized tier of the component's module (cc -O2, in a child
 * process at lower priority) and an image of it, then switches new requests to it.
 * Blocking; meant for a background thread. 1 if it switched, 0 if the component already
 * runs the optimized tier, -1 on failure (message in err). */
int kiln_wagi_component_tier_up(kiln_wagi_component *c, kiln_err *err);
kiln_tier kiln_wagi_component_tier(const kiln_wagi_component *c);

/* A request prepared on the I/O thread (owned copies), run later on an executor thread. */
typedef struct kiln_wagi_prepared {
    kiln_strv argv, env;
    const char *request_id; /* for the log file's lines (borrowed; NULL: "-") */
} kiln_wagi_prepared;
/* Builds argv and env; their memory comes from `arena` (the request's; NULL: the heap).
 * 0 or -1 (memory). */
int kiln_wagi_prepare(const kiln_wagi_component *c, const kiln_cgi_request *req, kiln_arena *arena,
                      kiln_wagi_prepared *p);
void kiln_wagi_prepared_free(kiln_wagi_prepared *p);

/* 1 if the module is a WASI command (exports `_start`): what Kiln runs as WAGI when a
 * trigger names no executor. */
int kiln_wagi_is_command(const kiln_module *m);

typedef struct kiln_wagi_result {
    kiln_buf out;          /* the guest's stdout */
    kiln_cgi_response res; /* parsed from out (status, headers, body slices of out) */
    double instantiate_ms; /* fresh instance ready (alloc + init) */
    double run_ms;         /* entry point */
    kiln_buf log;          /* why a request failed, for the server's log ("" if fine) */
    int over_budget;       /* kiln_wagi_execute_inline: stopped at the inline budget */
    int fault;             /* for the metrics: KILN_FAULT_TRAP or _TIMEOUT (handler.h), or 0 */
    const char *trap_kind; /* the trap's kind name (static) */
    uint64_t mem_bytes;    /* the guest's linear memory when it ended (0: none) */
} kiln_wagi_result;

/* Runs a prepared request (any thread). Always fills r (status 500 on any failure, with
 * the reason in r->log; 504 past the request timeout). Returns 0. */
int kiln_wagi_execute(const kiln_wagi_component *c, const kiln_wagi_prepared *p,
                      const uint8_t *body, size_t body_len, kiln_wagi_result *r);

/* The inline fast path (see serve.h): runs a prepared request on the calling I/O thread
 * with a short time budget instead of the request timeout. When the guest is still
 * running at the budget it is stopped, r->over_budget is set and nothing of the attempt
 * (output, stderr) is kept: the caller runs the request again from a fresh instance on
 * an executor thread, and the component is kept off the inline path for a while.
 * A re-run is invisible because a WAGI guest's only effects are its output: it has no
 * writable files (mounts are read-only) and no outbound I/O. */
int kiln_wagi_execute_inline(kiln_wagi_component *c, const kiln_wagi_prepared *p,
                             const uint8_t *body, size_t body_len, uint64_t budget_ns,
                             kiln_wagi_result *r);
/* 1 if the component may try the inline path now. */
int kiln_wagi_inline_allowed(const kiln_wagi_component *c);
void kiln_wagi_result_free(kiln_wagi_result *r);

#endif
