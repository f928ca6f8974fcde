/* types.h — the in-memory model of a WebAssembly component (component model, Binary.md).
 *
 * Design. A component is decoded in two steps:
 *   1. reader.c turns the bytes into a list of definitions (kiln_cdef), in binary order,
 *      each remembering its section and byte offset. Type definitions become kiln_ctype
 *      trees whose references to other types are still indices (kiln_cvalref.index).
 *   2. validate.c replays the definitions in order, building the twelve index spaces of
 *      the component (kiln_cscope) exactly as the specification builds them
 *      incrementally, checks every index at its point of use and resolves every type
 *      index to a pointer (kiln_cvalref.type, kiln_cextern.type, kiln_centry.type).
 * After step 2, the users — `kiln inspect`, the instantiation code and the canonical ABI —
 * follow pointers and never index arrays with untrusted numbers.
 *
 * Every index space entry carries a kiln_ctype describing it: a func's functype, an
 * instance's instance type (its exports), a core instance's exports (a synthesized
 * KILN_CT_CORE_INSTANCE), a core func's signature (KILN_CT_CORE_FUNC, "ii:i" as in the
 * engine, or NULL sig when unknown), a type itself. Types imported as (sub resource) are
 * fresh KILN_CT_RESOURCE types with `abstract` set.
 *
 * Ownership: everything lives in the arena of the outermost kiln_component and is freed by
 * kiln_component_free. Strings are NUL-terminated copies (names with NUL are rejected). */
#ifndef KILN_COMPONENT_TYPES_H
#define KILN_COMPONENT_TYPES_H

#include <stddef.h>
#include <stdint.h>

/* The index spaces (sorts). The order is Kiln's, not a binary encoding. */
typedef enum kiln_csort {
    KILN_CSORT_CORE_FUNC,
    KILN_CSORT_CORE_TABLE,
    KILN_CSORT_CORE_MEMORY,
    KILN_CSORT_CORE_GLOBAL,
    KILN_CSORT_CORE_TAG,
    KILN_CSORT_CORE_TYPE,
    KILN_CSORT_CORE_MODULE,
    KILN_CSORT_CORE_INSTANCE,
    KILN_CSORT_FUNC,
    KILN_CSORT_VALUE,
    KILN_CSORT_TYPE,
    KILN_CSORT_COMPONENT,
    KILN_CSORT_INSTANCE,
    KILN_CSORT_COUNT
} kiln_csort;

/* "core func", "type", …: the text-format name of a sort. */
const char *kiln_csort_name(kiln_csort s);

typedef enum kiln_ctype_kind {
    /* primitive value types (KILN_CT_BOOL..KILN_CT_ERROR_CONTEXT) */
    KILN_CT_BOOL,
    KILN_CT_S8,
    KILN_CT_U8,
    KILN_CT_S16,
    KILN_CT_U16,
    KILN_CT_S32,
    KILN_CT_U32,
    KILN_CT_S64,
    KILN_CT_U64,
    KILN_CT_F32,
    KILN_CT_F64,
    KILN_CT_CHAR,
    KILN_CT_STRING,
    KILN_CT_ERROR_CONTEXT,
    /* defined value types with children */
    KILN_CT_RECORD,     /* items: fields */
    KILN_CT_VARIANT,    /* items: cases (has_type) */
    KILN_CT_LIST,       /* elem */
    KILN_CT_FIXED_LIST, /* elem, len */
    KILN_CT_TUPLE,      /* items: types (names NULL) */
    KILN_CT_FLAGS,      /* items: names */
    KILN_CT_ENUM,       /* items: names */
    KILN_CT_OPTION,     /* elem */
    KILN_CT_RESULT,     /* elem (ok) if has_elem, elem2 (error) if has_elem2 */
    KILN_CT_OWN,        /* elem: the resource type */
    KILN_CT_BORROW,     /* elem: the resource type */
    KILN_CT_STREAM,     /* elem if has_elem */
    KILN_CT_FUTURE,     /* elem if has_elem */
    KILN_CT_MAP,        /* elem: key, elem2: value */
    /* other component types */
    KILN_CT_FUNC,      /* items: params; elem: result if has_elem; async */
    KILN_CT_COMPONENT, /* decls (as decoded); imports/exports (after validation) */
    KILN_CT_INSTANCE,  /* decls (as decoded); exports (after validation) */
    KILN_CT_RESOURCE,  /* rep, dtor; abstract for imported (sub resource) types */
    /* core types */
    KILN_CT_CORE_FUNC,     /* sig: "ii:i" (NULL when not known) */
    KILN_CT_CORE_MODULE,   /* decls (module type), or imports/exports of an embedded module */
    KILN_CT_CORE_INSTANCE, /* exports (after validation) */
    KILN_CT_CORE_OTHER,    /* a GC type (struct, array, rec group): kept opaque */
} kiln_ctype_kind;

#define KILN_CT_IS_PRIMITIVE(k) ((k) <= KILN_CT_ERROR_CONTEXT)
#define KILN_CT_IS_VALUE(k) ((k) <= KILN_CT_MAP)

typedef struct kiln_ctype kiln_ctype;
typedef struct kiln_cdecl kiln_cdecl;
typedef struct kiln_component kiln_component;

/* A valtype: a primitive, or a type index (prim == KILN_CVAL_INDEX). `type` is set by
 * validation (for primitives it points to a static primitive type). */
#define KILN_CVAL_INDEX 0xff
typedef struct kiln_cvalref {
    uint8_t prim; /* a kiln_ctype_kind <= KILN_CT_ERROR_CONTEXT, or KILN_CVAL_INDEX */
    uint32_t index;
    const kiln_ctype *type;
} kiln_cvalref;

/* A named or unnamed member: record field, variant case, tuple member, flag, enum case,
 * function parameter. */
typedef struct kiln_cfield {
    const char *name; /* NULL for tuple members */
    int has_type;     /* 0 for flags, enum cases and payload-less variant cases */
    kiln_cvalref type;
} kiln_cfield;

/* An import or export's name and type (externtype), or an inline export's item. */
typedef struct kiln_cextern {
    const char *name;
    kiln_csort sort;        /* CORE_MODULE, FUNC, VALUE, TYPE, COMPONENT, INSTANCE */
    uint32_t index;         /* type index (for VALUE with bound_eq: value index) */
    int bound_sub_resource; /* TYPE: 1 = (sub resource), 0 = (eq index) */
    int value_eq;           /* VALUE: 1 = (eq valueidx), 0 = the valtype in `value` */
    kiln_cvalref value;
    const kiln_ctype *type; /* after validation: the type of the item */
} kiln_cextern;

/* An item of an instance (or core instance, or component) after validation. */
typedef struct kiln_citem {
    const char *module; /* core module imports: the module name; NULL otherwise */
    const char *name;
    kiln_csort sort;
    const kiln_ctype *type; /* may be NULL for core tables/memories/globals/tags */
} kiln_citem;

struct kiln_ctype {
    kiln_ctype_kind kind;
    const char *name; /* the first name this type was imported/exported under, or NULL */
    size_t offset;    /* where it was defined in the file (0 for synthesized types) */
    kiln_cfield *items;
    uint32_t nitems;
    kiln_cvalref elem, elem2;
    int has_elem, has_elem2;
    uint32_t len;      /* fixed list length */
    int async;         /* func async */
    uint8_t rep;       /* resource: core valtype byte (0x7f = i32) */
    int has_dtor;      /* resource */
    uint32_t dtor;     /* resource: core func index */
    int abstract;      /* resource: imported or exported (sub resource), not defined here */
    const char *sig;   /* core func: "ii:i" */
    kiln_cdecl *decls; /* component/instance/core module types: as decoded */
    uint32_t ndecls;
    kiln_citem *imports, *exports; /* after validation */
    uint32_t nimports, nexports;
    const kiln_citem **exports_by_name; /* validation's lookup index (built on demand) */
    /* value types, computed by validation from the children (no recursion needed):
     * Canonical ABI size and alignment, flattened core value count (saturating at
     * 2^28), nesting depth, and whether it transitively holds a borrow, a string or list
     * (needs memory and realloc to pass), or a resource handle. */
    uint32_t size, align, flat, depth;
    uint8_t has_borrow, has_heap, has_handle;
    /* value types with flat <= 16: the flattened core types ("ij…", letters as in the
     * engine's signatures); "" otherwise. Effective size (nodes of the type tree, counted
     * through shared children; at most 1,000,000 as in wasmparser) bounds comparisons. */
    char flat_sig[17];
    uint32_t tsize;
};

/* The static type of a primitive kind (KILN_CT_BOOL..KILN_CT_ERROR_CONTEXT), NULL for other
 * kinds. canon.c. */
const kiln_ctype *kiln_ctype_prim(kiln_ctype_kind k);

/* Computes the Canonical ABI properties of value type t (size, align, flat, depth,
 * has_borrow/has_heap/has_handle) from its children, whose `type` pointers must be set and
 * whose properties must be computed (validation does this for every value type; tests and
 * instantiation use it for types they build). Returns 0, or -1 when a child is missing,
 * t is not a value type, or a fixed list is 2^28 bytes or more. canon.c. */
int kiln_ctype_layout(kiln_ctype *t);

/* Aliases (section 6 and declarators). */
typedef enum kiln_calias_kind {
    KILN_CALIAS_EXPORT,      /* export of a component instance */
    KILN_CALIAS_CORE_EXPORT, /* export of a core instance */
    KILN_CALIAS_OUTER,
} kiln_calias_kind;

typedef struct kiln_calias {
    kiln_calias_kind kind;
    kiln_csort sort;
    uint32_t instance;     /* EXPORT, CORE_EXPORT */
    const char *name;      /* EXPORT, CORE_EXPORT */
    uint32_t count, index; /* OUTER */
} kiln_calias;

/* Declarators of component types, instance types and core module types. */
typedef enum kiln_cdecl_kind {
    KILN_CDECL_CORE_TYPE,
    KILN_CDECL_TYPE,
    KILN_CDECL_ALIAS,
    KILN_CDECL_IMPORT,
    KILN_CDECL_EXPORT,
    /* core module type declarators */
    KILN_CDECL_CORE_IMPORT, /* core_module/core_name/core_kind/core_index */
    KILN_CDECL_CORE_EXPORT, /* core_name/core_kind/core_index */
} kiln_cdecl_kind;

struct kiln_cdecl {
    kiln_cdecl_kind kind;
    size_t offset;
    kiln_ctype *type;                    /* CORE_TYPE, TYPE */
    kiln_calias alias;                   /* ALIAS */
    kiln_cextern ext;                    /* IMPORT, EXPORT */
    const char *core_module, *core_name; /* CORE_IMPORT, CORE_EXPORT */
    uint8_t core_kind;                   /* 0 func, 1 table, 2 memory, 3 global, 4 tag */
    uint32_t core_index;                 /* func: core type index */
};

/* Instantiation argument or inline export: a name and a sorted index. */
typedef struct kiln_carg {
    const char *name;
    kiln_csort sort;
    uint32_t index;
} kiln_carg;

/* Canonical definitions (section 8). Opcode names follow Binary.md. */
typedef enum kiln_canon_op {
    KILN_CANON_LIFT = 0x00,
    KILN_CANON_LOWER = 0x01,
    KILN_CANON_RESOURCE_NEW = 0x02,
    KILN_CANON_RESOURCE_DROP = 0x03,
    KILN_CANON_RESOURCE_REP = 0x04,
    KILN_CANON_TASK_CANCEL = 0x05,
    KILN_CANON_SUBTASK_CANCEL = 0x06,
    KILN_CANON_TASK_RETURN = 0x09,
    KILN_CANON_CONTEXT_GET = 0x0a,
    KILN_CANON_CONTEXT_SET = 0x0b,
    KILN_CANON_THREAD_YIELD = 0x0c,
    KILN_CANON_SUBTASK_DROP = 0x0d,
    KILN_CANON_STREAM_NEW = 0x0e,
    KILN_CANON_STREAM_READ = 0x0f,
    KILN_CANON_STREAM_WRITE = 0x10,
    KILN_CANON_STREAM_CANCEL_READ = 0x11,
    KILN_CANON_STREAM_CANCEL_WRITE = 0x12,
    KILN_CANON_STREAM_DROP_READABLE = 0x13,
    KILN_CANON_STREAM_DROP_WRITABLE = 0x14,
    KILN_CANON_FUTURE_NEW = 0x15,
    KILN_CANON_FUTURE_READ = 0x16,
    KILN_CANON_FUTURE_WRITE = 0x17,
    KILN_CANON_FUTURE_CANCEL_READ = 0x18,
    KILN_CANON_FUTURE_CANCEL_WRITE = 0x19,
    KILN_CANON_FUTURE_DROP_READABLE = 0x1a,
    KILN_CANON_FUTURE_DROP_WRITABLE = 0x1b,
    KILN_CANON_ERROR_CONTEXT_NEW = 0x1c,
    KILN_CANON_ERROR_CONTEXT_DEBUG_MESSAGE = 0x1d,
    KILN_CANON_ERROR_CONTEXT_DROP = 0x1e,
    KILN_CANON_WAITABLE_SET_NEW = 0x1f,
    KILN_CANON_WAITABLE_SET_WAIT = 0x20,
    KILN_CANON_WAITABLE_SET_POLL = 0x21,
    KILN_CANON_WAITABLE_SET_DROP = 0x22,
    KILN_CANON_WAITABLE_JOIN = 0x23,
    KILN_CANON_BACKPRESSURE_INC = 0x24,
    KILN_CANON_BACKPRESSURE_DEC = 0x25,
    KILN_CANON_THREAD_INDEX = 0x26,
    KILN_CANON_THREAD_NEW_INDIRECT = 0x27,
    KILN_CANON_THREAD_RESUME_LATER = 0x28,
    KILN_CANON_THREAD_SUSPEND = 0x29,
    KILN_CANON_THREAD_SUSPEND_THEN_RESUME = 0x2a,
    KILN_CANON_THREAD_YIELD_THEN_RESUME = 0x2b,
    KILN_CANON_THREAD_SUSPEND_THEN_PROMOTE = 0x2c,
    KILN_CANON_THREAD_YIELD_THEN_PROMOTE = 0x2d,
    KILN_CANON_STREAM_FORWARD = 0x2e,
    KILN_CANON_FUTURE_FORWARD = 0x2f,
    KILN_CANON_THREAD_SPAWN_REF = 0x40,
    KILN_CANON_THREAD_SPAWN_INDIRECT = 0x41,
    KILN_CANON_THREAD_AVAILABLE_PARALLELISM = 0x42,
} kiln_canon_op;

/* "lift", "resource.drop", …, or NULL for an unknown opcode. */
const char *kiln_canon_op_name(unsigned op);

typedef enum kiln_string_encoding {
    KILN_STRENC_UTF8,
    KILN_STRENC_UTF16,
    KILN_STRENC_LATIN1_UTF16,
} kiln_string_encoding;

typedef struct kiln_canon_opts {
    kiln_string_encoding string_encoding; /* default utf8 */
    int has_string_encoding;
    int has_memory, has_realloc, has_post_return, has_callback, async;
    uint32_t memory, realloc, post_return, callback;
} kiln_canon_opts;

typedef struct kiln_canon {
    uint8_t op;      /* kiln_canon_op */
    uint32_t func;   /* LIFT: core func index; LOWER: func index */
    uint32_t type;   /* LIFT: functype; resource.*, stream.*, future.*: type index;
                        context.get/set: slot; thread.*: core type index */
    uint32_t table;  /* thread.new-indirect, thread.spawn-indirect */
    uint8_t valtype; /* context.get/set: core valtype byte */
    int flag;        /* async? / shared? immediate (cancel? must be 0) */
    int has_opts;
    kiln_canon_opts opts;
    int has_result; /* task.return */
    kiln_cvalref result;
} kiln_canon;

/* Definitions, in binary order. */
typedef enum kiln_cdef_kind {
    KILN_CDEF_CORE_MODULE,   /* module */
    KILN_CDEF_CORE_INSTANCE, /* instance */
    KILN_CDEF_CORE_TYPE,     /* type */
    KILN_CDEF_COMPONENT,     /* component */
    KILN_CDEF_INSTANCE,      /* instance */
    KILN_CDEF_ALIAS,         /* alias */
    KILN_CDEF_TYPE,          /* type */
    KILN_CDEF_CANON,         /* canon */
    KILN_CDEF_START,         /* start */
    KILN_CDEF_IMPORT,        /* ext */
    KILN_CDEF_EXPORT,        /* ext.name, sortidx in export_sort/export_index, ext typed if
                                has_export_type */
} kiln_cdef_kind;

/* An embedded core module: its bytes stay in the caller's buffer. */
typedef struct kiln_cmodule {
    size_t offset, len; /* absolute byte range of the module in the file */
    const uint8_t *bytes;
    const kiln_ctype *type; /* after validation: KILN_CT_CORE_MODULE with imports/exports */
} kiln_cmodule;

typedef struct kiln_cinstance {
    int from_exports; /* 1: inline exports in args; 0: instantiate `of` with args */
    uint32_t of;      /* module (core) or component index */
    kiln_carg *args;
    uint32_t nargs;
} kiln_cinstance;

typedef struct kiln_cstart {
    uint32_t func;
    uint32_t *args;
    uint32_t nargs;
    uint32_t nresults;
} kiln_cstart;

typedef struct kiln_cdef {
    kiln_cdef_kind kind;
    uint8_t section_id;
    size_t offset; /* absolute byte offset of this definition */
    kiln_cmodule module;
    kiln_cinstance instance;
    kiln_ctype *type;
    kiln_component *component;
    kiln_calias alias;
    kiln_canon canon;
    kiln_cstart start;
    kiln_cextern ext; /* IMPORT; EXPORT: name and optional ascribed type */
    kiln_csort export_sort;
    uint32_t export_index;
    int has_export_type;
} kiln_cdef;

/* One index space: entries in definition order. */
typedef struct kiln_cspace {
    const kiln_ctype **types; /* per entry: its type (see the header comment) */
    uint32_t n, cap;
} kiln_cspace;

struct kiln_component {
    size_t offset, len; /* absolute byte range (preamble included) */
    unsigned depth;     /* 0 for the outermost component */
    kiln_cdef *defs;
    uint32_t ndefs;
    uint32_t ncustom; /* custom sections (skipped) */
    /* after validation */
    kiln_cspace spaces[KILN_CSORT_COUNT];
    const kiln_ctype *type; /* KILN_CT_COMPONENT: imports and exports */
    void *arena;            /* outermost component only */
};

#endif
