/* wagi.h — the WAGI executor: runs one component for one HTTP request.
 *
 * At startup each component's module is loaded once (kiln_wagi_component_new). Per
 * request, kiln_wagi_run creates a fresh WASI context (stdin = the body in memory,
 * stdout into a bounded buffer, stderr into a bounded buffer logged with the
 * component's name), a fresh instance, runs its entry point (`_start`) and parses the
 * CGI response from stdout. Nothing survives a request: a guest that counts in a static
 * variable answers 1 every time.
 *
 * The guest sees only what it is granted: the CGI variables of the request, the
 * component's environment (plus `kiln up -e`), and its files as read-only preopens;
 * never the host's environment. */
#ifndef KILN_HOST_WAGI_H
#define KILN_HOST_WAGI_H

#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"
#include "host/wasi.h"
#include "server/cgi.h"

typedef struct kiln_wagi_component {
    char *id;
    kiln_module *module;
    int owns_module;  /* 0 for a component made by kiln_wagi_component_share */
    long entry_index; /* export index of the entry point */
    char *argv_tmpl;  /* NULL: "${SCRIPT_NAME} ${ARGS}" */
    kiln_strv env;    /* "KEY=VALUE": component environment, then -e overrides */
    kiln_wasi_preopen *preopens;
    size_t npreopens;
    int pass_authorization; /* the trigger opted in to HTTP_AUTHORIZATION */
    size_t stdout_limit;    /* bytes; 0: unlimited */
    size_t stderr_limit;
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

/* 1 if the module is a WASI command (exports `_start`): what Kiln runs as WAGI when a
 * trigger names no executor. */
int kiln_wagi_is_command(const kiln_module *m);

typedef struct kiln_wagi_result {
    kiln_buf out;          /* the guest's stdout */
    kiln_cgi_response res; /* parsed from out (status, headers, body slices of out) */
    double instantiate_ms; /* fresh instance ready (alloc + init) */
    double run_ms;         /* entry point */
    kiln_buf log;          /* why a request failed, for the server's log ("" if fine) */
} kiln_wagi_result;

/* Runs the component for one request. Always fills r (status 500 on any failure, with
 * the reason in r->log); returns -1 only when memory ran out before anything ran. */
int kiln_wagi_run(const kiln_wagi_component *c, const kiln_cgi_request *req, const uint8_t *body,
                  size_t body_len, kiln_wagi_result *r);
void kiln_wagi_result_free(kiln_wagi_result *r);

#endif
