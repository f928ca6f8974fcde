/* host.h — the host side of component interfaces (WASI 0.2, wasi:http, Kiln's own APIs).
 *
 * Design. A component imports instances by interface name ("wasi:io/streams@0.2.3");
 * the host serves them from a registry of *providers*. A provider (e.g. "wasi 0.2") serves
 * several interfaces with ONE context per component instance, made from the instance's
 * kiln_grants (host/registry.h), so that state is shared between its interfaces: a stream
 * made by wasi:cli/stdout.get-stdout is written through wasi:io/streams.
 *
 *   provider  { name, ctx_new(grants), ctx_free, interfaces[] }
 *   interface { "wasi:io/streams", version "0.2.6", resources[], functions[] }
 *   function  { "[method]output-stream.blocking-write-and-flush", shape, fn }
 *   resource  { "output-stream", dtor }
 *
 * Linking (at load, before anything is compiled: kiln_chost_check_import). An import
 * named "ns:pkg/iface@V" links to the registered interface "ns:pkg/iface" whose version is
 * semver-compatible with V (kiln_component_version_compatible: 0.2.0 .. 0.2.x all link to a
 * 0.2.y host). Every function the component imports from it must exist and have the
 * declared shape; every resource type it imports must be one of the interface's resources.
 * Each problem is one line ("wasi:io/streams@0.2.0: function 'foo' is not provided by
 * the host (wasi 0.2, wasi:io/streams@0.2.6)").
 *
 * Shapes. A function's type is written in a small WIT-like notation; the import's
 * kiln_ctype is printed the same way (kiln_chost_shape) and the two are compared, with "*"
 * in the pattern matching any one type:
 *   func      (T, T) -> T         or (T, T) without a result; no parameter names
 *   primitive bool s8 u8 s16 u16 s32 u32 s64 u64 f32 f64 char string error-context
 *   list<T>  list<T, N> (fixed)  option<T>  tuple<A, B>  map<K, V>
 *   result   result  result<T>  result<_, E>  result<T, E>
 *   record{a: T, b: T}  variant{a(T), b}  enum{a, b}  flags{a, b}
 *   own<R>  borrow<R>   (R: the resource's name, e.g. output-stream)
 *   stream  stream<T>  future  future<T>
 * Separators are exactly ", " and ": " as above. Example, output-stream.write:
 *   "(borrow<output-stream>, list<u8>) -> result<_, variant{last-operation-failed(own<error>),
 * closed}>" A NULL shape accepts any type (for functions whose check is left to the function).
 *
 * Calls. A host function gets the lifted arguments and writes its results as kiln_cval
 * (component/cabi.h) — args[i] per parameter, results[0] for the result if any; byte
 * lists (list<u8>, list<s8>) are always in the compact form, str (cx->compact_bytes is set
 * on every call), both ways:
 *   int fn(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *results);
 * ctx is the provider's context of the calling component instance. Memory for result
 * values (strings, lists, payloads) comes from kiln_cabi_alloc(cx, n) and lives until the
 * call's results are lowered. Return 0, or -1 to trap the guest with a one-line reason in
 * cx->err (the trap names the component and the function). A host function may leave the
 * guest the way preview1's proc_exit does: kiln_rt_exit(code) (wasi:cli/exit).
 *
 * Resources. A host resource value is a 32-bit `rep` chosen by the host (e.g. an index
 * in its context's table of streams):
 *   - results of type own<R>: set results[k].res.rep (and nothing else): the trampoline
 *     puts a new handle for (R, rep) into the guest's handle table;
 *   - arguments of type borrow<R> / own<R>: args[i].res.rep is the host's rep (the handle
 *     was checked to be of type R); for own<R> the host now owns the resource;
 *   - when the guest drops its last own handle (canon resource.drop of the imported type,
 *     the core import "[resource-drop]R"), the resource's dtor(ctx, rep) is called.
 * Resources still alive when the instance is freed are the provider's to free in ctx_free.
 * Resource names are per interface: "output-stream" of wasi:io/streams is a different type
 * from an "output-stream" of another interface.
 *
 * Calls that complete later (the async ABI, WASI 0.3). When the guest lowered the import
 * with `canon lower async`, a host function may leave the call pending: it calls
 * kiln_chost_defer(cx, &later) (non-NULL only for such a call) and returns
 * KILN_CHOST_PENDING; the guest gets a STARTED subtask. Later, on the thread driving the
 * instance (from a `fire` hook, or from another host function of the same instance), the
 * host writes the results into kiln_chost_pending_results(p) (memory from
 * kiln_chost_pending_cx(p)) and calls kiln_chost_complete(p): the results are lowered
 * into the guest's return area and the subtask becomes RETURNED, waking the waitable set
 * it is in. When no guest thread can run, the driver sleeps until the earliest `due_ns`
 * of the pending calls and calls its `fire`. A call the guest cancels (subtask.cancel), or
 * that is pending when the instance is freed, is abandoned: `abandon(arg)` is called and
 * p must not be used again. A guest dropping a pending subtask traps (the spec's rule). */
#ifndef KILN_COMPONENT_HOST_H
#define KILN_COMPONENT_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "component/cabi.h"
#include "component/types.h"
#include "host/registry.h"

typedef int (*kiln_chost_fn)(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args,
                             kiln_cval *results);

typedef struct kiln_chost_func {
    const char *name;  /* the import's name: "get-environment", "[method]r.f", "[static]r.f",
                          "[constructor]r" */
    const char *shape; /* the function type's pattern (above), or NULL: any */
    kiln_chost_fn fn;
} kiln_chost_func;

typedef struct kiln_chost_resource {
    const char *name;                      /* "output-stream" */
    void (*dtor)(void *ctx, uint32_t rep); /* may be NULL */
} kiln_chost_resource;

typedef struct kiln_chost_iface {
    const char *name;    /* "wasi:io/streams" (no version) */
    const char *version; /* the version implemented: "0.2.6" */
    const kiln_chost_resource *resources;
    size_t nresources;
    const kiln_chost_func *funcs;
    size_t nfuncs;
} kiln_chost_iface;

typedef struct kiln_chost_provider {
    const char *name; /* "wasi 0.2", for messages */
    const kiln_chost_iface *const *ifaces;
    size_t nifaces;
    /* The context of one component instance (called only when the component imports at
     * least one of the provider's interfaces); NULL with *err (kiln_free'd by the caller). */
    void *(*ctx_new)(const kiln_grants *g, char **err);
    void (*ctx_free)(void *ctx);
    /* Optional (component images, instance.h): a context for a copy of an instance whose
     * context was tmpl (the image's template, after its initialization), holding the same
     * resources under the same reps, their host objects made again from the copy's
     * grants g (a descriptor of a preopen reopened from g's preopen). Called from several
     * threads at once with the same tmpl, which it must only read. NULL with *err when
     * tmpl holds something it cannot copy (the image is then refused). Without it, a copy
     * gets ctx_new(g), and a template holding handles of the provider has no image. */
    void *(*ctx_clone)(const void *tmpl, const kiln_grants *g, char **err);
} kiln_chost_provider;

/* What a host function returns for a call it completes later. */
#define KILN_CHOST_PENDING 1

typedef struct kiln_chost_pending kiln_chost_pending;

typedef struct kiln_chost_later {
    /* CLOCK_MONOTONIC nanoseconds after which fire(p, arg) completes the call (the driver
     * calls it when no guest thread can run); 0: only completed by the host elsewhere */
    uint64_t due_ns;
    void (*fire)(kiln_chost_pending *p, void *arg);
    /* the call is dropped (cancelled, or the instance freed): free arg; may be NULL */
    void (*abandon)(void *arg);
    void *arg;
} kiln_chost_later;

/* Inside a host function called with cx: the handle of this call when it may complete
 * later (the import was lowered async), the function then returning KILN_CHOST_PENDING;
 * NULL when it must complete now (a synchronous call). *later is copied. */
kiln_chost_pending *kiln_chost_defer(kiln_cabi_cx *cx, const kiln_chost_later *later);
/* The pending call's result slot (results[0]) and the context its memory comes from. */
kiln_cval *kiln_chost_pending_results(kiln_chost_pending *p);
kiln_cabi_cx *kiln_chost_pending_cx(kiln_chost_pending *p);
/* Completes the call with the results written: the subtask is RETURNED. 0, or -1 when
 * the results cannot be lowered (the instance then traps). p is no longer valid. */
int kiln_chost_complete(kiln_chost_pending *p);
/* From the call's fire: not complete yet, fire it again at due_ns (later than the due it
 * was fired for, e.g. the current time: a fire that waits a while for its event and then
 * gives the driver back, so that guest threads and other host calls run meanwhile). Also
 * from elsewhere on the driver's thread (a stream hook of the instance): the call's
 * event came, fire it at due_ns (now) rather than at its old due time. */
void kiln_chost_pending_again(kiln_chost_pending *p, uint64_t due_ns);
/* Fails the call: the instance traps with msg. p is no longer valid. */
void kiln_chost_pending_fail(kiln_chost_pending *p, const char *msg);

/* Host-owned stream ends (stream<u8>, WASI 0.3's bodies and stdio). The host keeps one
 * end of a stream whose other end a guest holds; a guest's copy meets the host's ops at
 * once: `consume` takes bytes the guest writes, `produce` gives bytes the guest reads.
 * Either may return 0 ("not now"): the guest's copy stays pending (BLOCKED for an async
 * copy) until the host calls kiln_chost_stream_wake. The handle stays valid until the
 * host closes its end, or `dropped` runs (the guest dropped its end: the host forgets the
 * handle, which is freed), or the instance is freed (not to be used from ctx_free). */
typedef struct kiln_chost_stream kiln_chost_stream;
typedef struct kiln_chost_stream_ops {
    /* the host reads: the guest wrote n >= 1 bytes; how many the host took */
    size_t (*consume)(void *arg, const uint8_t *data, size_t n);
    /* the host writes: up to n >= 1 bytes into buf; how many; 0 with *end set: no more
     * (the host's end is dropped, the guest's read ends DROPPED) */
    size_t (*produce)(void *arg, uint8_t *buf, size_t n, int *end);
    /* the guest dropped its end (may be NULL); the host's end is closed and freed with
     * it: the handle is no longer valid */
    void (*dropped)(void *arg);
    void *arg;
} kiln_chost_stream_ops;

/* In a host function called with cx: the host becomes the reader of the stream<u8>
 * (or stream<s8>) that the guest passed as value v (its readable end, lifted). NULL with
 * cx->err when v is not such a stream. ops is copied.
 * When the stream's writer is a host end too (a stream a host function gave the guest,
 * passed on unread: a proxy forwarding a body), the runtime moves the bytes between the
 * two hosts' ops itself, fired by the driver like a pending call whenever either side may
 * go on: the writer's produce, then the reader's consume, at most 64 KiB held between;
 * a side that returns 0 is asked again after its kiln_chost_stream_wake. The writer's
 * end (produce's end, or its close) reaches the reader's dropped after the bytes held;
 * the reader's close reaches the writer's dropped at once. */
kiln_chost_stream *kiln_chost_stream_reader(kiln_cabi_cx *cx, const kiln_cval *v,
                                            const kiln_chost_stream_ops *ops);
/* A new stream<u8> whose writable end the host keeps: *v (a result value) is set to it,
 * so that the guest receives the readable end. NULL with cx->err. */
kiln_chost_stream *kiln_chost_stream_writer(kiln_cabi_cx *cx, kiln_cval *v,
                                            const kiln_chost_stream_ops *ops);
/* A host's stream of values of any type T (e.g. wasi:filesystem 0.3's
 * stream<directory-entry>): like kiln_chost_stream_writer, but the guest's read gets
 * values from values(arg, cx, vals, n, end): up to n >= 1 values written into vals
 * (zeroed; their strings and lists from kiln_cabi_alloc(cx, ..), valid during the call),
 * how many; 0 with *end set: no more (the host's end is dropped). T is the type the
 * stream is lowered with. ops->dropped and ops->arg as above (produce/consume unused). */
typedef size_t (*kiln_chost_values_fn)(void *arg, kiln_cabi_cx *cx, kiln_cval *vals, size_t n,
                                       int *end);
kiln_chost_stream *kiln_chost_stream_values(kiln_cabi_cx *cx, kiln_cval *v,
                                            kiln_chost_values_fn values,
                                            const kiln_chost_stream_ops *ops);
/* The host can take or give bytes again: the guest's pending copy is retried. */
void kiln_chost_stream_wake(kiln_chost_stream *hs);
/* From consume/produce that returned 0 (or right after): the host can go on once fd is
 * ready for events (POLLIN/POLLOUT). When no guest thread can run, the driver polls the
 * fds its host streams wait for, together with its pending calls' due times and the
 * call's time limit, and wakes (kiln_chost_stream_wake) each stream whose fd is ready;
 * the wait is then over (one wait per stream; a new one replaces it; closing the stream
 * or the guest dropping its end ends it). */
void kiln_chost_stream_wait_fd(kiln_chost_stream *hs, int fd, short events);
/* The host drops its end: the guest's copy (pending or next) ends DROPPED. hs is no
 * longer valid. */
void kiln_chost_stream_close(kiln_chost_stream *hs);

/* Host-owned future ends: a future<T> whose writable end the host keeps (e.g. the
 * result of wasi:cli/stdout's write-via-stream). T comes from the type the value is
 * lowered with. The guest's read completes once the host resolved it, at once or when
 * it does. */
typedef struct kiln_chost_future kiln_chost_future;
/* A new future whose readable end *v (a result value) gets. NULL with cx->err. */
kiln_chost_future *kiln_chost_future_writer(kiln_cabi_cx *cx, kiln_cval *v);
/* Resolves it with *value (a value holding no strings, lists or handles). Only *value
 * itself is copied: the guest may read the future long after this call, so the nested
 * parts a variant's payload or a record's items point to must outlive it — build them in
 * kiln_chost_future_values(hf, n), or in static or context storage. 0, or -1 when the
 * value cannot be lowered (the instance then traps). hf is no longer valid. Harmless
 * after the guest dropped its end. */
int kiln_chost_future_resolve(kiln_chost_future *hf, const kiln_cval *value);
/* n zeroed values owned by hf's end (freed with it; a second call replaces the first),
 * for the nested parts of the value kiln_chost_future_resolve is given. NULL when out of
 * memory. */
kiln_cval *kiln_chost_future_values(kiln_chost_future *hf, size_t n);
/* The value ok(none) (of a result<option<T>, E>) in static storage: what a trailers
 * future resolves with when kiln_chost_future_values has no memory. */
extern const kiln_cval kiln_chost_ok_none;
/* The host reads a future the guest writes (e.g. wasi:http 0.3's response trailers), or
 * that a host writes (kiln_chost_future_writer's, passed on unread by the guest: got runs
 * with the value kiln_chost_future_resolve is given, at once if it was resolved already):
 * in a host function called with cx, the host becomes the reader of the future the
 * guest passed as value v (its readable end, lifted). When the guest writes it, got(arg,
 * value) runs at once with the value lifted from the guest (valid during the call only:
 * copy what is kept; own handles in it are the host's from then on). NULL with cx->err
 * when v is not such a future. ops is copied; the handle needs no closing and is not
 * to be kept (it is freed once the value passed). */
typedef struct kiln_chost_future_ops {
    void (*got)(void *arg, const kiln_cval *value);
    void *arg;
} kiln_chost_future_ops;
kiln_chost_future *kiln_chost_future_reader(kiln_cabi_cx *cx, const kiln_cval *v,
                                            const kiln_chost_future_ops *ops);

/* Adds a provider (at startup, before components load; not thread-safe with loads). The
 * built-in providers (WASI 0.2: host/wasip2/wasip2.h) are always there. 0, or -1 when an
 * interface of the same name and a compatible version is already registered, or the
 * registry is full. */
int kiln_chost_register(const kiln_chost_provider *p);

/* The interface serving an import name ("wasi:io/streams@0.2.3"), and its provider in
 * *provider (may be NULL); NULL when no registered interface serves it. */
const kiln_chost_iface *kiln_chost_find(const char *import_name,
                                        const kiln_chost_provider **provider);
const kiln_chost_func *kiln_chost_find_func(const kiln_chost_iface *i, const char *name);
/* The index of a resource of the interface by name, or -1. */
long kiln_chost_find_resource(const kiln_chost_iface *i, const char *name);

/* Checks an instance import (name, its validated KILN_CT_INSTANCE type) against the
 * registry. Appends one line per problem ("NAME: reason\n") to *msg (kiln_realloc'd; the
 * caller frees it) and returns the number of problems (0: it links), or -1 out of memory. */
int kiln_chost_check_import(const char *name, const kiln_ctype *instance_type, char **msg);

/* Prints type t in the shape notation into out (size cap, NUL-terminated). Returns 0, or
 * -1 when it does not fit (out then holds a truncated prefix). */
int kiln_chost_shape(const kiln_ctype *t, char *out, size_t cap);
/* 1 if the printed shape `have` matches the pattern `pattern` ("*" = any one type). */
int kiln_chost_shape_match(const char *pattern, const char *have);

#endif
