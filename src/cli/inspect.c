/* inspect.c — `kiln inspect FILE.wasm`: what a core module or a component imports and
 * exports, and which imports Kiln provides.
 *
 * A core module: its imports and exports with their types, each import marked provided
 * (by the WASI preview1 host module, with a matching signature) or not.
 * A component: its world in WIT-like text (close to `wasm-tools component wit`), every
 * imported interface marked (Kiln provides no component interface yet), the interfaces'
 * resources, types and functions, the embedded core modules and counts of definitions.
 * Exit status 1 with the reader's error for a malformed file. */
#include "cli/cli.h"
#include "component/host.h"
#include "component/reader.h"
#include "engine/wasm_reader.h"
#include "host/spin/grants.h"
#include "host/wasi.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/file.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* ---- core modules ---- */

/* "func(i32, i32) -> i32" of a signature string "ii:i". */
static void print_sig(FILE *f, const char *sig)
{
    const char *colon = strchr(sig, ':');
    if (!colon) colon = sig + strlen(sig);
    fputs("func(", f);
    for (const char *q = sig; q < colon; q++)
        fprintf(f, "%s%s", q > sig ? ", " : "", kiln_valtype_name(*q));
    fputs(")", f);
    if (*colon && colon[1]) {
        fputs(" -> ", f);
        for (const char *q = colon + 1; *q; q++)
            fprintf(f, "%s%s", q > colon + 1 ? ", " : "", kiln_valtype_name(*q));
    }
}

static int inspect_module(const char *path, const uint8_t *bytes, size_t len)
{
    char err[512];
    kiln_wasm *w = kiln_wasm_read(bytes, len, err, sizeof err);
    if (!w) {
        fprintf(stderr, "error: %s: %s\n", path, err);
        return 1;
    }
    printf("core module %s (%zu bytes)\n\nimports (%u):\n", path, len, w->nimports);
    uint32_t provided = 0;
    for (uint32_t i = 0; i < w->nimports; i++) {
        const kiln_wasm_import *im = &w->imports[i];
        printf("  %s.%s: ", im->module, im->name);
        const char *status = "not provided by Kiln";
        if (im->kind == KILN_EXTERN_FUNC) {
            print_sig(stdout, im->type);
            if (strcmp(im->module, kiln_wasi_module.name) == 0) {
                const kiln_host_func *hf = kiln_host_find(&kiln_wasi_module, im->name);
                if (hf && strcmp(hf->signature, im->type) == 0)
                    status = "provided (WASI preview1)", provided++;
                else if (hf)
                    status = "NOT provided: Kiln's has another signature";
            }
        } else {
            printf("%s %s", kiln_extern_kind_name(im->kind), im->type);
        }
        printf("  [%s]\n", status);
    }
    printf("  %u of %u imports provided by Kiln\n\nexports (%u):\n", provided, w->nimports,
           w->nexports);
    for (uint32_t i = 0; i < w->nexports; i++) {
        const kiln_wasm_export *ex = &w->exports[i];
        printf("  %.*s: ", (int)ex->name_len, ex->name);
        if (ex->kind == KILN_EXTERN_FUNC)
            print_sig(stdout, ex->type);
        else
            printf("%s %s", kiln_extern_kind_name(ex->kind), ex->type);
        putchar('\n');
    }
    kiln_wasm_free(w);
    return 0;
}

/* ---- components: WIT-like printing ---- */

typedef struct owner {
    const kiln_ctype *type;
    const char *iface;
} owner;

typedef struct printer {
    FILE *f;
    long budget; /* type nodes left to print: shared anonymous types can expand a lot */
    owner *owners;
    size_t nowners, capowners;
} printer;

static const char *owner_of(printer *p, const kiln_ctype *t)
{
    for (size_t i = 0; i < p->nowners; i++)
        if (p->owners[i].type == t) return p->owners[i].iface;
    return NULL;
}

static void add_owner(printer *p, const kiln_ctype *t, const char *iface)
{
    if (owner_of(p, t)) return;
    if (p->nowners == p->capowners) {
        size_t ncap = p->capowners ? p->capowners * 2 : 32;
        owner *no = kiln_realloc(p->owners, ncap * sizeof *no);
        if (!no) return; /* only costs a `use` line */
        p->owners = no;
        p->capowners = ncap;
    }
    p->owners[p->nowners++] = (owner){t, iface};
}

static void print_val(printer *p, const kiln_ctype *t);

static void print_ref(printer *p, const kiln_cvalref *v)
{
    print_val(p, v->type);
}

static void print_val_as(printer *p, const kiln_ctype *t, int use_name);

static void print_val(printer *p, const kiln_ctype *t)
{
    print_val_as(p, t, 1);
}

/* A value type: its name when it has one (and use_name), else its structure. */
static void print_val_as(printer *p, const kiln_ctype *t, int use_name)
{
    static const char *const prim[] = {"bool", "s8",   "u8",     "s16",          "u16",
                                       "s32",  "u32",  "s64",    "u64",          "f32",
                                       "f64",  "char", "string", "error-context"};
    FILE *f = p->f;
    if (!t) {
        fputs("?", f);
        return;
    }
    if (--p->budget < 0) {
        fputs("…", f);
        return;
    }
    if (KILN_CT_IS_PRIMITIVE(t->kind) && (!t->name || !use_name)) {
        fputs(prim[t->kind], f);
        return;
    }
    if (use_name && t->name && t->kind != KILN_CT_OWN && t->kind != KILN_CT_BORROW) {
        fputs(t->name, f);
        return;
    }
    switch (t->kind) {
    case KILN_CT_LIST:
        fputs("list<", f);
        print_ref(p, &t->elem);
        fputs(">", f);
        break;
    case KILN_CT_FIXED_LIST:
        fputs("list<", f);
        print_ref(p, &t->elem);
        fprintf(f, ", %u>", t->len);
        break;
    case KILN_CT_OPTION:
        fputs("option<", f);
        print_ref(p, &t->elem);
        fputs(">", f);
        break;
    case KILN_CT_RESULT:
        fputs("result", f);
        if (t->has_elem || t->has_elem2) {
            fputs("<", f);
            if (t->has_elem)
                print_ref(p, &t->elem);
            else
                fputs("_", f);
            if (t->has_elem2) {
                fputs(", ", f);
                print_ref(p, &t->elem2);
            }
            fputs(">", f);
        }
        break;
    case KILN_CT_TUPLE:
        fputs("tuple<", f);
        for (uint32_t i = 0; i < t->nitems; i++) {
            if (i) fputs(", ", f);
            print_ref(p, &t->items[i].type);
        }
        fputs(">", f);
        break;
    case KILN_CT_OWN:
        print_val(p, t->elem.type);
        break;
    case KILN_CT_BORROW:
        fputs("borrow<", f);
        print_val(p, t->elem.type);
        fputs(">", f);
        break;
    case KILN_CT_STREAM:
    case KILN_CT_FUTURE:
        fputs(t->kind == KILN_CT_STREAM ? "stream" : "future", f);
        if (t->has_elem) {
            fputs("<", f);
            print_ref(p, &t->elem);
            fputs(">", f);
        }
        break;
    case KILN_CT_MAP:
        fputs("map<", f);
        print_ref(p, &t->elem);
        fputs(", ", f);
        print_ref(p, &t->elem2);
        fputs(">", f);
        break;
    case KILN_CT_RESOURCE:
        fputs(t->name ? t->name : "resource", f);
        break;
    case KILN_CT_RECORD:
        fputs("record { … }", f);
        break;
    case KILN_CT_VARIANT:
        fputs("variant { … }", f);
        break;
    case KILN_CT_ENUM:
        fputs("enum { … }", f);
        break;
    case KILN_CT_FLAGS:
        fputs("flags { … }", f);
        break;
    default:
        if (KILN_CT_IS_PRIMITIVE(t->kind))
            fputs(prim[t->kind], f);
        else
            fputs("?", f);
        break;
    }
}

/* "(a: T, b: U) -> R" of a func type, skipping the first `skip` parameters. */
static void print_func(printer *p, const kiln_ctype *ft, uint32_t skip, int results)
{
    fputs("(", p->f);
    for (uint32_t i = skip; i < ft->nitems; i++) {
        fprintf(p->f, "%s%s: ", i > skip ? ", " : "", ft->items[i].name);
        print_ref(p, &ft->items[i].type);
    }
    fputs(")", p->f);
    if (results && ft->has_elem) {
        fputs(" -> ", p->f);
        print_ref(p, &ft->elem);
    }
}

/* A type definition named `name` (records etc. in full, resources with their functions). */
static void print_typedef(printer *p, const kiln_citem *items, uint32_t n, const char *name,
                          const kiln_ctype *t, const char *ind)
{
    FILE *f = p->f;
    switch (t->kind) {
    case KILN_CT_RECORD:
    case KILN_CT_VARIANT:
        fprintf(f, "%s%s %s {\n", ind, t->kind == KILN_CT_RECORD ? "record" : "variant", name);
        for (uint32_t i = 0; i < t->nitems; i++) {
            fprintf(f, "%s  %s", ind, t->items[i].name);
            if (t->kind == KILN_CT_RECORD) {
                fputs(": ", f);
                print_ref(p, &t->items[i].type);
            } else if (t->items[i].has_type) {
                fputs("(", f);
                print_ref(p, &t->items[i].type);
                fputs(")", f);
            }
            fputs(",\n", f);
        }
        fprintf(f, "%s}\n", ind);
        return;
    case KILN_CT_ENUM:
    case KILN_CT_FLAGS:
        fprintf(f, "%s%s %s {\n", ind, t->kind == KILN_CT_ENUM ? "enum" : "flags", name);
        for (uint32_t i = 0; i < t->nitems; i++)
            fprintf(f, "%s  %s,\n", ind, t->items[i].name);
        fprintf(f, "%s}\n", ind);
        return;
    case KILN_CT_RESOURCE: {
        size_t nl = strlen(name);
        int any = 0;
        for (uint32_t i = 0; i < n; i++) {
            const char *fn = items[i].name;
            const char *rest = NULL;
            int kind = 0; /* 1 constructor, 2 method, 3 static */
            if (strncmp(fn, "[constructor]", 13) == 0 && strcmp(fn + 13, name) == 0)
                kind = 1;
            else if (strncmp(fn, "[method]", 8) == 0 && strncmp(fn + 8, name, nl) == 0 &&
                     fn[8 + nl] == '.')
                kind = 2, rest = fn + 9 + nl;
            else if (strncmp(fn, "[static]", 8) == 0 && strncmp(fn + 8, name, nl) == 0 &&
                     fn[8 + nl] == '.')
                kind = 3, rest = fn + 9 + nl;
            if (!kind || !items[i].type) continue;
            if (!any) fprintf(f, "%sresource %s {\n", ind, name);
            any = 1;
            const kiln_ctype *ft = items[i].type;
            if (kind == 1) {
                fprintf(f, "%s  constructor", ind);
                print_func(p, ft, 0, 0);
            } else {
                fprintf(f, "%s  %s: %s%sfunc", ind, rest, kind == 3 ? "static " : "",
                        ft->async ? "async " : "");
                print_func(p, ft, kind == 2 ? 1 : 0, 1);
            }
            fputs(";\n", f);
        }
        if (any)
            fprintf(f, "%s}\n", ind);
        else
            fprintf(f, "%sresource %s;\n", ind, name);
        return;
    }
    default:
        fprintf(f, "%stype %s = ", ind, name);
        print_val_as(p, t, 0);
        fputs(";\n", f);
        return;
    }
}

/* The body of an interface (an instance's exports). */
static void print_interface(printer *p, const char *iface, const kiln_ctype *it, const char *ind)
{
    FILE *f = p->f;
    for (uint32_t i = 0; i < it->nexports; i++) {
        const kiln_citem *e = &it->exports[i];
        if (e->sort != KILN_CSORT_TYPE || !e->type) continue;
        const char *own = owner_of(p, e->type);
        if (own && strcmp(own, iface) != 0) {
            fprintf(f, "%suse %s.{%s", ind, own, e->type->name ? e->type->name : "?");
            if (e->type->name && strcmp(e->type->name, e->name) != 0) fprintf(f, " as %s", e->name);
            fputs("};\n", f);
            continue;
        }
        if (own && e->type->name && strcmp(e->type->name, e->name) != 0) {
            fprintf(f, "%stype %s = %s;\n", ind, e->name, e->type->name);
            continue;
        }
        add_owner(p, e->type, iface);
        print_typedef(p, it->exports, it->nexports, e->name, e->type, ind);
    }
    for (uint32_t i = 0; i < it->nexports; i++) {
        const kiln_citem *e = &it->exports[i];
        if (e->sort != KILN_CSORT_FUNC || e->name[0] == '[' || !e->type) continue;
        fprintf(f, "%s%s: %sfunc", ind, e->name, e->type->async ? "async " : "");
        print_func(p, e->type, 0, 1);
        fputs(";\n", f);
    }
}

typedef struct counts {
    uint32_t modules, core_instances, instances, aliases, types, core_types, canons, components,
        imports, exports;
    uint32_t canon_ops[0x43];
} counts;

static void count_defs(const kiln_component *c, counts *n)
{
    for (uint32_t i = 0; i < c->ndefs; i++) {
        const kiln_cdef *d = &c->defs[i];
        switch (d->kind) {
        case KILN_CDEF_CORE_MODULE:
            n->modules++;
            break;
        case KILN_CDEF_CORE_INSTANCE:
            n->core_instances++;
            break;
        case KILN_CDEF_CORE_TYPE:
            n->core_types++;
            break;
        case KILN_CDEF_COMPONENT:
            n->components++;
            count_defs(d->component, n);
            break;
        case KILN_CDEF_INSTANCE:
            n->instances++;
            break;
        case KILN_CDEF_ALIAS:
            n->aliases++;
            break;
        case KILN_CDEF_TYPE:
            n->types++;
            break;
        case KILN_CDEF_CANON:
            n->canons++;
            if (d->canon.op < 0x43) n->canon_ops[d->canon.op]++;
            break;
        case KILN_CDEF_IMPORT:
            n->imports++;
            break;
        case KILN_CDEF_EXPORT:
            n->exports++;
            break;
        default:
            break;
        }
    }
}

static void print_modules(const kiln_component *c, const char *prefix)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < c->ndefs; i++) {
        const kiln_cdef *d = &c->defs[i];
        if (d->kind == KILN_CDEF_CORE_MODULE) {
            const kiln_ctype *mt = d->module.type;
            printf("  %smodule %u: %zu bytes at offset 0x%zx, %u imports, %u exports\n", prefix,
                   k++, d->module.len, d->module.offset, mt ? mt->nimports : 0,
                   mt ? mt->nexports : 0);
        } else if (d->kind == KILN_CDEF_COMPONENT) {
            char sub[64];
            snprintf(sub, sizeof sub, "%scomponent@0x%zx/", prefix, d->component->offset);
            print_modules(d->component, sub);
        }
    }
}

/* 1 if a component host (component/host.h) serves this import with this type. */
static int host_provides(const kiln_citem *it)
{
    char *msg = NULL;
    int r = it->sort == KILN_CSORT_INSTANCE ? kiln_chost_check_import(it->name, it->type, &msg) : 1;
    kiln_free(msg);
    return r == 0;
}

/* One world item (import or export). */
static void print_world_item(printer *p, const kiln_citem *it, const char *dir, int is_import)
{
    FILE *f = p->f;
    kiln_cname nm;
    int iface = kiln_component_parse_name(it->name, &nm, NULL, 0) == 0 && nm.is_interface;
    const char *note = !is_import          ? ""
                       : host_provides(it) ? "  // Kiln: provided"
                                           : "  // Kiln: not provided yet";
    switch (it->sort) {
    case KILN_CSORT_INSTANCE:
        if (iface)
            fprintf(f, "  %s %s;%s\n", dir, it->name, note);
        else {
            fprintf(f, "  %s %s: interface {%s\n", dir, it->name, note);
            if (it->type) print_interface(p, it->name, it->type, "    ");
            fprintf(f, "  }\n");
        }
        break;
    case KILN_CSORT_FUNC:
        fprintf(f, "  %s %s: %sfunc", dir, it->name, it->type && it->type->async ? "async " : "");
        if (it->type) print_func(p, it->type, 0, 1);
        fprintf(f, ";%s\n", note);
        break;
    case KILN_CSORT_TYPE:
        if (it->type && owner_of(p, it->type)) {
            fprintf(f, "  use %s.{%s};\n", owner_of(p, it->type), it->name);
        } else if (it->type) {
            print_typedef(p, NULL, 0, it->name, it->type, "  ");
        }
        break;
    default:
        fprintf(f, "  %s %s: %s;%s\n", dir, it->name, kiln_csort_name(it->sort), note);
        break;
    }
}

static int inspect_component(const char *path, const uint8_t *bytes, size_t len)
{
    char err[1024];
    kiln_component *c = kiln_component_read(bytes, len, path, err, sizeof err);
    if (!c) {
        fprintf(stderr, "error: %s\n", err);
        return 1;
    }
    printer p = {.f = stdout, .budget = 1000000};
    const kiln_ctype *ct = c->type;
    printf("component %s (%zu bytes)\n\npackage root:component;\n\nworld root {\n", path, len);
    for (uint32_t i = 0; i < ct->nimports; i++)
        print_world_item(&p, &ct->imports[i], "import", 1);
    for (uint32_t i = 0; i < ct->nexports; i++)
        print_world_item(&p, &ct->exports[i], "export", 0);
    printf("}\n");
    for (int pass = 0; pass < 2; pass++) {
        const kiln_citem *items = pass ? ct->exports : ct->imports;
        uint32_t n = pass ? ct->nexports : ct->nimports;
        for (uint32_t i = 0; i < n; i++) {
            kiln_cname nm;
            if (items[i].sort != KILN_CSORT_INSTANCE || !items[i].type) continue;
            if (kiln_component_parse_name(items[i].name, &nm, NULL, 0) < 0 || !nm.is_interface)
                continue;
            printf("\n// %s%s\ninterface %s {\n", pass ? "exported" : "imported",
                   pass                       ? ""
                   : host_provides(&items[i]) ? "; Kiln provides it"
                                              : "; Kiln does not provide this interface yet",
                   items[i].name);
            print_interface(&p, items[i].name, items[i].type, "  ");
            printf("}\n");
        }
    }
    counts n;
    memset(&n, 0, sizeof n);
    count_defs(c, &n);
    printf("\ncore modules (%u):\n", n.modules);
    print_modules(c, "");
    printf("\ndefinitions: %u core instances, %u instances, %u aliases, %u types, %u core types, "
           "%u nested components, %u imports, %u exports\n",
           n.core_instances, n.instances, n.aliases, n.types, n.core_types, n.components, n.imports,
           n.exports);
    printf("canon (%u):", n.canons);
    int first = 1;
    for (unsigned op = 0; op < 0x43; op++)
        if (n.canon_ops[op]) {
            printf("%s %s %u", first ? "" : ",", kiln_canon_op_name(op), n.canon_ops[op]);
            first = 0;
        }
    printf("\n");
    kiln_free(p.owners);
    kiln_component_free(c);
    return 0;
}

int kiln_cmd_inspect(int argc, char **argv)
{
    if (argc != 2 || argv[1][0] == '-') {
        FILE *f = argc == 2 && strcmp(argv[1], "--help") == 0 ? stdout : stderr;
        fprintf(f, "usage: kiln inspect FILE.wasm\n"
                   "  shows a core module's or a component's imports and exports, and which\n"
                   "  imports Kiln provides\n");
        return f == stdout ? 0 : 2;
    }
    const char *path = argv[1];
    kiln_spin_register(); /* Spin's APIs are Kiln's too (kiln up serves them) */
    kiln_buf b = KILN_BUF_INIT;
    if (kiln_read_file(path, &b) < 0) {
        fprintf(stderr, "error: %s: %s\n", path, strerror(errno));
        kiln_buf_free(&b);
        return 1;
    }
    const uint8_t *bytes = (const uint8_t *)b.data;
    int rc;
    if (b.len >= 8 && memcmp(bytes, "\0asm\1\0\0\0", 8) == 0)
        rc = inspect_module(path, bytes, b.len);
    else
        rc = inspect_component(path, bytes ? bytes : (const uint8_t *)"", b.len);
    kiln_buf_free(&b);
    return rc;
}
