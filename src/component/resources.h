/* resources.h — resource types and per-instance handle tables (CanonicalABI.md "Table
 * State", "Resource State", canon resource.new/drop/rep, lift/lower of own and borrow).
 *
 * Resource types (kiln_resource_type) are generative: each instantiation of a component
 * that defines a resource makes a new one, and handles are checked against the type by
 * pointer identity. A type is host-defined (impl NULL; its destructor is a host function
 * called with the rep) or guest-defined (impl = the handle table of the instance whose
 * `canon resource.new` creates it; its destructor, if any, is that instance's core
 * function `(func (param i32))`, called as guest code: fn(native, rep)). The owner of a
 * type (the host, or the instantiation) keeps it alive as long as any table refers to it.
 *
 * Handle tables (kiln_resources): one per component instance. Index 0 is never used;
 * freed indices are reused last-freed-first (the spec's free list); at most 2^28-1
 * entries. Each handle is own or borrow, with the rep, its type, and a lend count.
 *
 * Calls and borrows. Borrows live for one call, tracked by call scopes on the table of
 * the instance concerned (kiln_resources_call_begin / _end, strictly nested):
 *  - a guest calls out (canon lower): lifting a borrow<T> argument from the guest's
 *    table lends the handle (it cannot be dropped nor passed as own while lent); ending
 *    the call releases the lends (the spec's Subtask lenders);
 *  - a guest is called (canon lift): lowering a borrow<T> argument into the guest's
 *    table makes a borrow handle that the guest must drop (resource.drop) before it
 *    returns; ending the call with such a handle left is a trap (the spec's Task
 *    num_borrows) — the handles are removed all the same. Lowering a borrow into the
 *    instance that implements the resource passes the rep itself (no handle).
 * Lifting or lowering a borrow outside any call scope is an error.
 *
 * Errors: every function returns 0, or -1 with a one-line reason in err (size errlen):
 * the spec's traps (unknown or forged index, wrong type, own expected, dropping a lent
 * handle, table full, …). Nothing here crashes on guest-supplied indices. Not
 * thread-safe: a table belongs to one instance, used by one thread at a time. */
#ifndef KILN_COMPONENT_RESOURCES_H
#define KILN_COMPONENT_RESOURCES_H

#include <stddef.h>
#include <stdint.h>

typedef struct kiln_resources kiln_resources;

typedef void (*kiln_resource_host_dtor_fn)(void *ctx, uint32_t rep);
typedef void (*kiln_resource_guest_dtor_fn)(void *native, uint32_t rep);

typedef struct kiln_resource_type {
    const char *name;                       /* for messages (not owned) */
    kiln_resources *impl;                   /* the defining instance's table; NULL: host-defined */
    kiln_resource_host_dtor_fn host_dtor;   /* host-defined: may be NULL */
    void *host_ctx;                         /* host_dtor's first argument */
    kiln_resource_guest_dtor_fn guest_dtor; /* guest-defined: may be NULL */
    void *guest_native;                     /* the defining instance's native struct */
} kiln_resource_type;

#define KILN_RESOURCES_MAX_LENGTH ((1u << 28) - 1)

/* Fills *t as a host-defined type (dtor may be NULL). */
void kiln_resource_type_init_host(kiln_resource_type *t, const char *name,
                                  kiln_resource_host_dtor_fn dtor, void *ctx);
/* Fills *t as a type defined by the instance whose handle table is impl (dtor, the
 * core function of the definition's (dtor ...), may be NULL). */
void kiln_resource_type_init_guest(kiln_resource_type *t, const char *name, kiln_resources *impl,
                                   kiln_resource_guest_dtor_fn dtor, void *native);
/* Runs t's destructor, if any, on rep (what dropping an own handle does; hosts call it
 * when they drop an own<T> value they lifted). A guest destructor runs as guest code:
 * it may trap (the caller's trap handler catches it). */
void kiln_resource_destroy(const kiln_resource_type *t, uint32_t rep);

/* A new empty table, or NULL (out of memory). */
kiln_resources *kiln_resources_new(void);
/* Frees a table (NULL is fine). Runs no destructors. */
void kiln_resources_free(kiln_resources *r);
/* A copy of table r for another instance (component images, image.c): the same handles
 * at the same indices, each type t replaced by map(arg, t) (NULL refuses the copy), the
 * same free list. Only a table at rest can be copied: no call scope open, own handles only,
 * none lent. NULL with a reason in err. */
typedef const kiln_resource_type *(*kiln_resource_type_map)(void *arg, const kiln_resource_type *t);
kiln_resources *kiln_resources_clone(const kiln_resources *r, kiln_resource_type_map map, void *arg,
                                     char *err, size_t errlen);
/* The number of live handles (own and borrow). */
uint32_t kiln_resources_count(const kiln_resources *r);

/* canon resource.new: a new own handle of type t for rep in *handle. */
int kiln_resource_new(kiln_resources *r, const kiln_resource_type *t, uint32_t rep,
                      uint32_t *handle, char *err, size_t errlen);
/* canon resource.rep: the rep of handle (own or borrow) of type t. */
int kiln_resource_rep(kiln_resources *r, const kiln_resource_type *t, uint32_t handle,
                      uint32_t *rep, char *err, size_t errlen);
/* Any live handle: its type and rep (the async ABI keeps its waitables, waitable sets
 * and subtasks in the same table, under types of its own: async.c). */
int kiln_resources_lookup(kiln_resources *r, uint32_t handle, const kiln_resource_type **t,
                          uint32_t *rep, char *err, size_t errlen);
/* canon resource.drop: removes handle of type t (trap when lent). An own handle's
 * destructor runs (after the handle is gone: a trapping destructor leaves the table
 * consistent); a borrow handle ends its borrow. */
int kiln_resource_drop(kiln_resources *r, const kiln_resource_type *t, uint32_t handle, char *err,
                       size_t errlen);

/* Lifting and lowering handles (cabi.c). lift_own removes an own handle of type t and
 * gives its rep (trap if lent, borrowed or of another type); lift_borrow gives the rep
 * of any handle of type t and lends it for the current call; lower_own makes a new own
 * handle; lower_borrow a borrow handle for the current call (or the rep itself when r is
 * t's implementation). */
int kiln_resources_lift_own(kiln_resources *r, const kiln_resource_type *t, uint32_t handle,
                            uint32_t *rep, char *err, size_t errlen);
int kiln_resources_lift_borrow(kiln_resources *r, const kiln_resource_type *t, uint32_t handle,
                               uint32_t *rep, char *err, size_t errlen);
int kiln_resources_lower_own(kiln_resources *r, const kiln_resource_type *t, uint32_t rep,
                             uint32_t *handle, char *err, size_t errlen);
int kiln_resources_lower_borrow(kiln_resources *r, const kiln_resource_type *t, uint32_t rep,
                                uint32_t *handle, char *err, size_t errlen);

/* Call scopes (see above). begin: 0, or -1 (out of memory / nested too deep). end:
 * releases the lends of the innermost scope and fails when borrow handles lowered in it
 * are still in the table (removing them); it always pops the scope. */
int kiln_resources_call_begin(kiln_resources *r, char *err, size_t errlen);
int kiln_resources_call_end(kiln_resources *r, char *err, size_t errlen);
/* The number of open call scopes. */
uint32_t kiln_resources_call_depth(const kiln_resources *r);

#endif
