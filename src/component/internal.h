/* internal.h — what reader.c, validate.c and names.c share: the arena that owns the model
 * and the error context that formats "FILE: section 'NAME' (id N) at offset 0xOFF: …". */
#ifndef KILN_COMPONENT_INTERNAL_H
#define KILN_COMPONENT_INTERNAL_H

#include "component/reader.h"

#include <stdarg.h>

typedef struct kc_block kc_block;

typedef struct kc_ctx {
    const char *file;
    const uint8_t *bytes;
    size_t len;
    char *err;
    size_t errlen;
    int failed;
    kc_block *arena;   /* every allocation of the model */
    long match_budget; /* validate.c: steps of structural type comparison left */
} kc_ctx;

/* Zeroed memory from the arena, or NULL (then the context has failed "out of memory"). */
void *kc_alloc(kc_ctx *x, size_t n);
/* kc_alloc of count*size with an overflow check. */
void *kc_alloc_array(kc_ctx *x, size_t count, size_t size);
char *kc_strndup(kc_ctx *x, const char *s, size_t n);
void kc_arena_free(kc_block *b);

/* Records the first error: "FILE: section 'NAME' (id N) at offset 0xOFF: MESSAGE"
 * (section_id 0xff: "FILE: at offset 0xOFF: MESSAGE"). Later errors are ignored. */
void kc_fail(kc_ctx *x, uint8_t section_id, size_t offset, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void kc_vfail(kc_ctx *x, uint8_t section_id, size_t offset, const char *fmt, va_list ap);

/* "custom", "core module", … for a section id. */
const char *kc_section_name(uint8_t id);

/* ---- validation (validate.c, canon.c) ---- */

#define MAX_FLAT_PARAMS 16
#define MAX_FLAT_RESULTS 1
#define FLAT_LIMIT (1u << 28)

struct res_slot {
    const char *name;
    const kiln_ctype *type;
    int is_import; /* imported under name (else exported): annotations look in their own kind */
};

/* A map of types by pointer: from[i] -> to[i] (small; searched linearly). */
typedef struct kc_ptrmap {
    const kiln_ctype **from, **to;
    uint32_t n, cap;
} kc_ptrmap;

/* A set of types by pointer (open addressing; cap a power of two). */
typedef struct kc_ptrset {
    const kiln_ctype **v;
    uint32_t n, cap;
} kc_ptrset;

/* A scope of index spaces: a component definition, or a component, instance or module
 * type (with its own initially empty spaces and `outer` for outer aliases). */
typedef struct kc_scope {
    struct kc_scope *outer;
    int is_component; /* a component definition (not a type) */
    kiln_cspace *spaces;
    kc_ctx *x;
    uint8_t sec;   /* for messages */
    size_t offset; /* for messages */
    kiln_citem *imports, *exports;
    size_t *import_offs, *export_offs; /* where each was declared, for messages */
    struct res_slot *res;              /* resources imported/exported so far, by name */
    uint32_t nres, capres;             /* (open addressing; capres a power of two) */
    uint32_t nimports, nexports, capimports, capexports;
    /* External visibility (validate.c), checked in component definitions and component
     * types (visible): the types and instance types this scope imported, exported or
     * aliased out of an imported or exported instance (named), and of those the ones that
     * came from imports (imported: what an import may refer to). */
    kc_ptrset named, imported;
    int visible;
    kc_ptrmap exported; /* resources defined here -> their exported (abstract) type */
    kc_ptrset claimed;  /* resources an imported instance type declared (sub resource) */
} kc_scope;

/* Validates component c (decoded, not yet validated) whose enclosing scopes are given by
 * `outer` (NULL for the outermost component). Returns 0 or -1 (x failed). validate.c. */
int kc_validate_component(kc_ctx *x, kiln_component *c, kc_scope *outer);

/* Fails at the scope's current section and offset (validate.c). */
void kc_sfail(kc_scope *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "record", "func type", …: what a type is, for messages. */
const char *kc_kind_name(const kiln_ctype *t);
/* Appends an entry of type t to the space of `sort`. 0 or -1. */
int kc_push(kc_scope *s, kiln_csort sort, const kiln_ctype *t);
/* Entry idx of a space; NULL with *ok = 0 after "WHAT SORT IDX: no such SORT (N SORTs)". */
const kiln_ctype *kc_lookup(kc_scope *s, kiln_csort sort, uint32_t idx, const char *what, int *ok);
/* Entry idx of a space, which must be a type of `kind`; NULL after an error. */
const kiln_ctype *kc_lookup_kind(kc_scope *s, kiln_csort sort, uint32_t idx, kiln_ctype_kind kind,
                                 const char *what);

/* canon.c: the static primitive types (indexed by kind), value types, canon definitions. */
extern const kiln_ctype kc_prims[];
/* Resolves a valtype (primitive or type index of a value type). 0 or -1. */
int kc_resolve_val(kc_scope *s, kiln_cvalref *v, const char *what);
/* Validates a defined value type and computes its ABI properties. 0 or -1. */
int kc_check_valtype_def(kc_scope *s, kiln_ctype *t);
/* Computes flat_sig and the effective size of t from its children. 0 or -1. */
int kc_finish_valtype(kc_scope *s, kiln_ctype *t);
/* Validates a canon definition and appends what it defines to its space. 0 or -1. */
int kc_check_canon(kc_scope *s, kiln_canon *k);

#endif
