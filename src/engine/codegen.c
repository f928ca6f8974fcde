/* codegen.c — wasm2c output + Kiln glue = one C file (see codegen.h). */
#include "engine/codegen.h"
#include "engine/engine.h"
#include "engine/runtime.h"
#include "engine/wasm_rewrite.h"
#include "util/alloc.h"
#include "util/file.h"
#include "util/proc.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *ctype(char letter)
{
    switch (letter) {
    case 'i':
        return "u32";
    case 'j':
        return "u64";
    case 'f':
        return "f32";
    case 'd':
        return "f64";
    case 'r':
        return "wasm_rt_funcref_t";
    case 'e':
        return "wasm_rt_externref_t";
    default:
        return NULL;
    }
}

static const char *val_member(char letter)
{
    switch (letter) {
    case 'i':
        return "i32";
    case 'j':
        return "i64";
    case 'f':
        return "f32";
    case 'd':
        return "f64";
    case 'r':
        return "funcref";
    default:
        return "externref";
    }
}

/* The C return type of a signature's results: void, a scalar, or wasm2c's
 * struct wasm_multi_<letters>. */
static void result_type(kiln_buf *b, const char *results)
{
    size_t n = strlen(results);
    if (n == 0)
        kiln_buf_puts(b, "void");
    else if (n == 1)
        kiln_buf_puts(b, ctype(results[0]));
    else
        kiln_buf_printf(b, "struct wasm_multi_%s", results);
}

/* Replaces the first occurrence of `from` in *text by `to`. 0, REPLACE_ABSENT when
 * `from` does not occur (wasm2c's output changed shape), -1 when out of memory. */
#define REPLACE_ABSENT (-2)
static int replace_once(kiln_buf *text, const char *from, const char *to)
{
    char *at = strstr(text->data, from);
    if (!at) return REPLACE_ABSENT;
    size_t pre = (size_t)(at - text->data), flen = strlen(from);
    kiln_buf out = KILN_BUF_INIT;
    if (kiln_buf_append(&out, text->data, pre) < 0 || kiln_buf_puts(&out, to) < 0 ||
        kiln_buf_puts(&out, at + flen) < 0) {
        kiln_buf_free(&out);
        return -1;
    }
    kiln_buf_free(text);
    *text = out;
    return 0;
}

/* Trap-precision overrides, inserted after wasm2c's own macro definitions. The bounds
 * variant also turns wasm2c's MEMCHECK (empty: guard pages) into RANGE_CHECK on every
 * load and store, and allocates its memories with kiln_rt_allocate_memory_bounds. */
static int trap_overrides(kiln_buf *b, kiln_mem_checks checks)
{
    if (checks == KILN_MEM_CHECKS_BOUNDS &&
        kiln_buf_puts(b,
                      "/* Kiln: the bounds variant (see src/engine/codegen.c). */\n"
                      "#undef MEMCHECK\n"
                      "#define MEMCHECK(mem, a, t) RANGE_CHECK(mem, a, sizeof(t))\n"
                      "void kiln_rt_allocate_memory_bounds(wasm_rt_memory_t *, uint32_t, "
                      "uint32_t);\n"
                      "#define wasm_rt_allocate_memory kiln_rt_allocate_memory_bounds\n"
                      "#define DEFINE_LOAD_C(name, t1, t2, t3) \\\n"
                      "  static inline t3 name##_c(u8 *base, u64 size, u64 addr) { \\\n"
                      "    if (UNLIKELY(addr + sizeof(t1) > size)) TRAP(MEMORY_OOB); \\\n"
                      "    t1 result; wasm_rt_memcpy(&result, base + addr, sizeof(t1)); \\\n"
                      "    wasm_asm(\"\" ::\"r\"(result)); return (t3)(t2)result; }\n"
                      "#define DEFINE_STORE_C(name, t1, t2) \\\n"
                      "  static inline void name##_c(u8 *base, u64 size, u64 addr, t2 value) { \\\n"
                      "    if (UNLIKELY(addr + sizeof(t1) > size)) TRAP(MEMORY_OOB); \\\n"
                      "    t1 wrapped = (t1)value; \\\n"
                      "    wasm_rt_memcpy(base + addr, &wrapped, sizeof(t1)); }\n") < 0)
        return -1;
    return kiln_buf_printf(
        b,
        "/* Kiln: precise trap kinds (see src/engine/codegen.c). */\n"
        "#define WASM_RT_TRAP_MEMORY_OOB ((wasm_rt_trap_t)(100 + %d))\n"
        "#define WASM_RT_TRAP_TABLE_OOB ((wasm_rt_trap_t)(100 + %d))\n"
        "#define WASM_RT_TRAP_NULL_ELEM ((wasm_rt_trap_t)(100 + %d))\n"
        "#define WASM_RT_TRAP_TYPE_MISMATCH ((wasm_rt_trap_t)(100 + %d))\n"
        "static f32 kiln_negf(f32 x) { union { f32 f; u32 u; } v; v.f = x; v.u ^= 0x80000000u; "
        "return v.f; }\n"
        "static f64 kiln_neg(f64 x) { union { f64 f; u64 u; } v; v.f = x; "
        "v.u ^= 0x8000000000000000ull; return v.f; }\n"
        "#undef RANGE_CHECK\n"
        "#define RANGE_CHECK(mem, offset, len) \\\n"
        "  if (UNLIKELY(offset + (uint64_t)len > mem->size)) TRAP(MEMORY_OOB);\n"
        "#define KILN_SELF(inst, mi) ((uintptr_t)(mi) & 1 \\\n"
        "  ? (void *)((char *)(inst) + ((uintptr_t)(mi) - 1)) : (void *)(mi))\n"
        "#undef CALL_INDIRECT\n"
        "#define CALL_INDIRECT(table, t, ft, x, ...) KILN_CALL_INDIRECT(table, t, ft, x, "
        "__VA_ARGS__)\n"
        "#define KILN_CALL_INDIRECT(table, t, ft, x, mi, ...) \\\n"
        "  ((LIKELY((x) < table.size) || TRAP(TABLE_OOB)), \\\n"
        "   (LIKELY(table.data[x].func != 0) || TRAP(NULL_ELEM)), \\\n"
        "   (LIKELY(table.data[x].func_type == func_types[ft]) || TRAP(TYPE_MISMATCH)), \\\n"
        "   ((t)table.data[x].func)(KILN_SELF(&(table), mi), ##__VA_ARGS__))\n",
        KILN_TRAP_MEMORY_OOB, KILN_TRAP_TABLE_OOB, KILN_TRAP_NULL_ELEMENT,
        KILN_TRAP_INDIRECT_CALL_TYPE);
}

/* Funcref tables an image shares between instances (src/engine/funcref_table.c): after
 * wasm2c's table helpers, every write to a funcref table first gives the table its own
 * copy of a shared array (KILN_FT_OWN, the array's header word), and every funcref read
 * out of a table (table.get, table.copy into another table) gets its module instance
 * resolved against the table's own struct (KILN_SELF; call_indirect's in
 * trap_overrides), so that a relative element never leaves its table. The definer and
 * every importer reach the same struct, so they resolve alike. Only an image makes
 * relative elements: in tables no other module reaches, or in a set's tables that only
 * the set's instances, all in one block, reach (image.h). */
static const char table_overrides[] =
    "DEFINE_TABLE_FILL(externref)\n"
    "/* Kiln: shared funcref tables (see src/engine/codegen.c). */\n"
    "void kiln_rt_funcref_table_own(wasm_rt_funcref_table_t *);\n"
    "#define KILN_FT_OWN(t) (UNLIKELY(((const u64 *)(const void *)(t)->data)[-2]) \\\n"
    "  ? kiln_rt_funcref_table_own((wasm_rt_funcref_table_t *)(t)) : (void)0)\n"
    "static inline wasm_rt_funcref_t kiln_ft_get(const wasm_rt_funcref_table_t *t, u32 i) {\n"
    "  wasm_rt_funcref_t r = funcref_table_get(t, i);\n"
    "  r.module_instance = KILN_SELF(t, r.module_instance);\n"
    "  return r;\n"
    "}\n"
    "static inline void kiln_ft_copy(wasm_rt_funcref_table_t *d,\n"
    "    const wasm_rt_funcref_table_t *s, u32 da, u32 sa, u32 n) {\n"
    "  KILN_FT_OWN(d);\n"
    "  funcref_table_copy(d, s, da, sa, n);\n"
    "  if (d != s)\n"
    "    for (u32 i = 0; i < n; i++)\n"
    "      d->data[da + i].module_instance = KILN_SELF(s, "
    "d->data[da + i].module_instance);\n"
    "}\n"
    "#define funcref_table_get(t, i) kiln_ft_get(t, i)\n"
    "#define funcref_table_copy(d, s, da, sa, n) kiln_ft_copy(d, s, da, sa, n)\n"
    "#define funcref_table_set(t, i, v) (KILN_FT_OWN(t), funcref_table_set(t, i, v))\n"
    "#define funcref_table_fill(t, d, v, n) (KILN_FT_OWN(t), funcref_table_fill(t, d, v, n))\n"
    "#define funcref_table_init(t, ...) (KILN_FT_OWN(t), funcref_table_init(t, __VA_ARGS__))\n";

/* The bounds variant of direct_memory_rewrite: kiln_oob() traps (it "returns" a u64 so
 * that it fits in the address expression). */
static int direct_memory_rewrite_bounds(kiln_buf *text)
{
    kiln_buf out = KILN_BUF_INIT;
    const char *p = text->data;
    int rc = 0, first = 1;
    while (*p && rc == 0) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) + 1 : strlen(p);
        char name[64], t1[16], t2[16], t3[16];
        int is_load =
            strncmp(p, "DEFINE_LOAD(", 12) == 0 &&
            sscanf(p, "DEFINE_LOAD(%63[^,], %15[^,], %15[^,], %15[^)])", name, t1, t2, t3) == 4;
        int is_store = !is_load && strncmp(p, "DEFINE_STORE(", 13) == 0 &&
                       sscanf(p, "DEFINE_STORE(%63[^,], %15[^,], %15[^)])", name, t1, t2) == 3;
        if ((is_load || is_store) && first) {
            first = 0;
            rc = kiln_buf_puts(&out,
                               "static u64 kiln_oob(void) { TRAP(MEMORY_OOB); return 0; }\n"
                               "#define KILN_CHK(mem, addr, n) \\\n"
                               "  ((u64)(addr) + (n) > (mem)->size ? kiln_oob() : (u64)(addr))\n");
        }
        if (rc) break;
        if (is_load) {
            rc = kiln_buf_printf(
                &out,
                "#define %s(mem, addr) "
                "((%s)(%s)(*(%s *)((mem)->data + KILN_CHK(mem, addr, sizeof(%s)))))\n"
                "#define %s_b(base, mem, addr) "
                "((%s)(%s)(*(%s *)((base) + KILN_CHK(mem, addr, sizeof(%s)))))\n",
                name, t3, t2, t1, t1, name, t3, t2, t1, t1);
        } else if (is_store) {
            rc = kiln_buf_printf(&out,
                                 "#define %s(mem, addr, value) "
                                 "((void)(*(%s *)((mem)->data + KILN_CHK(mem, addr, sizeof(%s))) = "
                                 "(%s)(value)))\n"
                                 "#define %s_b(base, mem, addr, value) "
                                 "((void)(*(%s *)((base) + KILN_CHK(mem, addr, sizeof(%s))) = "
                                 "(%s)(value)))\n",
                                 name, t1, t1, t1, name, t1, t1, t1);
        } else {
            rc = kiln_buf_append(&out, p, len);
        }
        p += len;
    }
    if (rc == 0) {
        kiln_buf_free(text);
        *text = out;
    } else {
        kiln_buf_free(&out);
    }
    return rc;
}

/* For tcc: DEFINE_LOAD(name, t1, t2, t3) / DEFINE_STORE(name, t1, t2) lines become macros
 * that access memory directly: name(mem, addr) and name_b(base, addr) (base: the cached
 * data pointer, see cache_memory_bases). In the bounds variant the address is checked
 * first, name_b(base, mem, addr) taking the memory for its size: `addr` is evaluated
 * twice, which is safe because wasm2c passes a local plus a constant. */
static int direct_memory_rewrite(kiln_buf *text, kiln_mem_checks checks)
{
    if (checks == KILN_MEM_CHECKS_BOUNDS) return direct_memory_rewrite_bounds(text);
    kiln_buf out = KILN_BUF_INIT;
    const char *p = text->data;
    int rc = 0;
    while (*p && rc == 0) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) + 1 : strlen(p);
        char name[64], t1[16], t2[16], t3[16];
        if (strncmp(p, "DEFINE_LOAD(", 12) == 0 &&
            sscanf(p, "DEFINE_LOAD(%63[^,], %15[^,], %15[^,], %15[^)])", name, t1, t2, t3) == 4) {
            rc = kiln_buf_printf(&out,
                                 "#define %s(mem, addr) ((%s)(%s)(*(%s *)((mem)->data + (addr))))\n"
                                 "#define %s_b(base, addr) ((%s)(%s)(*(%s *)((base) + (addr))))\n",
                                 name, t3, t2, t1, name, t3, t2, t1);
        } else if (strncmp(p, "DEFINE_STORE(", 13) == 0 &&
                   sscanf(p, "DEFINE_STORE(%63[^,], %15[^,], %15[^)])", name, t1, t2) == 3) {
            rc = kiln_buf_printf(&out,
                                 "#define %s(mem, addr, value) "
                                 "((void)(*(%s *)((mem)->data + (addr)) = (%s)(value)))\n"
                                 "#define %s_b(base, addr, value) "
                                 "((void)(*(%s *)((base) + (addr)) = (%s)(value)))\n",
                                 name, t1, t1, name, t1, t1);
        } else {
            rc = kiln_buf_append(&out, p, len);
        }
        p += len;
    }
    if (rc == 0) {
        kiln_buf_free(text);
        *text = out;
    } else {
        kiln_buf_free(&out);
    }
    return rc;
}

/* For tcc: `-x` on a float does not flip a NaN's sign bit (tcc computes it as 0 - x), but
 * wasm's f32.neg / f64.neg must. wasm2c emits negation as `w2c_fN = -(w2c_fN);` and
 * `w2c_dN = -(w2c_dN);`; those become sign-bit flips. */
static int tcc_float_neg(kiln_buf *text)
{
    kiln_buf out = KILN_BUF_INIT;
    const char *p = text->data;
    int rc = 0;
    while (*p && rc == 0) {
        const char *f = strstr(p, "= -(w2c_f"), *d = strstr(p, "= -(w2c_d");
        const char *next = f && (!d || f < d) ? f : d;
        if (!next) {
            rc = kiln_buf_puts(&out, p);
            break;
        }
        rc = kiln_buf_append(&out, p, (size_t)(next - p));
        if (rc == 0) rc = kiln_buf_puts(&out, next == f ? "= kiln_negf(w2c_f" : "= kiln_neg(w2c_d");
        p = next + strlen("= -(w2c_f");
    }
    if (rc == 0) {
        kiln_buf_free(text);
        *text = out;
    } else {
        kiln_buf_free(&out);
    }
    return rc;
}

/* For tcc: a linear memory never moves in Kiln (its reservation is fixed for the
 * instance's life, growth included), so each function can load the base of the
 * instance's own memories once: every `i32_load(&instance->w2c_M, a)` becomes
 * `i32_load_b(kiln_mb_w2c_M, a)` with `u8 *const kiln_mb_w2c_M` declared after the
 * function's FUNC_PROLOGUE. tcc keeps no values in registers across statements, so
 * this saves two dependent loads per access. In the bounds variant the access becomes
 * `i32_load_b(kiln_mb_w2c_M, &instance->w2c_M, a)`: the size is read at each access
 * (memory.grow changes it), the base is not. */
static int cache_memory_bases(kiln_buf *text, const char *header, kiln_mem_checks checks)
{
    kiln_buf decls = KILN_BUF_INIT;
    const char *start = strstr(header, "typedef struct Z_" KILN_CODEGEN_MODULE "_instance_t {");
    const char *end = start ? strstr(start, "} Z_" KILN_CODEGEN_MODULE "_instance_t;") : NULL;
    for (const char *p = start; p && p < end; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        while (*p == ' ')
            p++;
        if (strncmp(p, "wasm_rt_memory_t w2c_", 21) != 0) continue;
        const char *name = p + 17, *semi = strchr(name, ';');
        if (!semi) break;
        kiln_buf_printf(&decls, "  u8 *const kiln_mb_%.*s = instance->%.*s.data;\n",
                        (int)(semi - name), name, (int)(semi - name), name);
    }
    if (!decls.data) return 0; /* no memory of its own */
    kiln_buf out = KILN_BUF_INIT;
    const char *p = text->data;
    const char *const prologue = "  FUNC_PROLOGUE;\n", *const needle = "(&instance->w2c_";
    int rc = 0;
    while (*p && rc == 0) {
        const char *pro = strstr(p, prologue), *use = strstr(p, needle);
        const char *next = pro && (!use || pro < use) ? pro : use;
        if (!next) {
            rc = kiln_buf_puts(&out, p);
            break;
        }
        if (next == pro) {
            rc = kiln_buf_append(&out, p, (size_t)(pro - p) + strlen(prologue));
            if (rc == 0) rc = kiln_buf_puts(&out, decls.data);
            p = pro + strlen(prologue);
            continue;
        }
        /* Is it the first argument of a load/store? Look at the identifier before it. */
        const char *id = use;
        while (id > text->data && (isalnum((unsigned char)id[-1]) || id[-1] == '_'))
            id--;
        size_t idlen = (size_t)(use - id);
        int is_access = idlen > 6 && (id[0] == 'i' || id[0] == 'f') &&
                        (strncmp(id + 3, "_load", 5) == 0 || strncmp(id + 3, "_store", 6) == 0);
        const char *field = use + strlen("(&instance->");
        const char *comma = strchr(field, ',');
        if (!is_access || !comma) {
            rc = kiln_buf_append(&out, p, (size_t)(use - p) + 1);
            p = use + 1;
            continue;
        }
        rc = kiln_buf_append(&out, p, (size_t)(use - p));
        int flen = (int)(comma - field);
        if (rc == 0)
            rc = checks == KILN_MEM_CHECKS_BOUNDS
                     ? kiln_buf_printf(&out, "_b(kiln_mb_%.*s, &instance->%.*s", flen, field, flen,
                                       field)
                     : kiln_buf_printf(&out, "_b(kiln_mb_%.*s", flen, field);
        p = comma;
    }
    kiln_buf_free(&decls);
    if (rc == 0) {
        kiln_buf_free(text);
        *text = out;
    } else {
        kiln_buf_free(&out);
    }
    return rc;
}

/* The own memories of the module: "w2c_M" names from the instance struct in header. */
static size_t own_memories(const char *header, kiln_buf *names)
{
    const char *start = strstr(header, "typedef struct Z_" KILN_CODEGEN_MODULE "_instance_t {");
    const char *end = start ? strstr(start, "} Z_" KILN_CODEGEN_MODULE "_instance_t;") : NULL;
    size_t n = 0;
    for (const char *p = start; p && p < end; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        while (*p == ' ')
            p++;
        if (strncmp(p, "wasm_rt_memory_t w2c_", 21) != 0) continue;
        const char *name = p + 17, *semi = strchr(name, ';');
        if (!semi) break;
        kiln_buf_append(names, name, (size_t)(semi - name));
        kiln_buf_putc(names, '\n');
        n++;
    }
    return n;
}

/* For cc, bounds variant: each function keeps its own memories' base and size in locals
 * (`kiln_mb_w2c_M`, `kiln_ms_w2c_M`, set after FUNC_PROLOGUE), and accesses become
 * `i32_load_c(kiln_mb_w2c_M, kiln_ms_w2c_M, a)` (DEFINE_LOAD_C / DEFINE_STORE_C forms,
 * added next to wasm2c's DEFINE_LOAD / DEFINE_STORE lines). Without this, every check
 * reloads mem->size, which any store to guest memory may alias. The base never changes
 * (memories do not move); the size is re-read after every line that still mentions
 * `instance` once the accesses are rewritten: calls (direct, indirect, imports,
 * memory.grow) all pass it, so the size is current after anything that can grow a
 * memory. A stale size could only be smaller than the real one (memories do not
 * shrink): never an access outside the memory, at worst a wrong trap. */
static int cache_memory_sizes(kiln_buf *text, const char *header)
{
    kiln_buf names = KILN_BUF_INIT, decls = KILN_BUF_INIT, refresh = KILN_BUF_INIT;
    size_t nmem = own_memories(header, &names);
    for (const char *n = names.data; nmem && n && *n;) {
        const char *nl = strchr(n, '\n');
        int len = (int)(nl - n);
        kiln_buf_printf(&decls,
                        "  u8 *const kiln_mb_%.*s = instance->%.*s.data; (void)kiln_mb_%.*s;\n"
                        "  u64 kiln_ms_%.*s = instance->%.*s.size; (void)kiln_ms_%.*s;\n",
                        len, n, len, n, len, n, len, n, len, n, len, n);
        kiln_buf_printf(&refresh, "  kiln_ms_%.*s = instance->%.*s.size;\n", len, n, len, n);
        n = nl + 1;
    }
    kiln_buf out = KILN_BUF_INIT;
    int rc = 0, in_func = 0;
    for (const char *p = text->data; *p && rc == 0;) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) + 1 : strlen(p);
        char name[64], t1[16], t2[16], t3[16];
        if (strncmp(p, "DEFINE_LOAD(", 12) == 0 &&
            sscanf(p, "DEFINE_LOAD(%63[^,], %15[^,], %15[^,], %15[^)])", name, t1, t2, t3) == 4) {
            rc = kiln_buf_append(&out, p, len);
            if (rc == 0)
                rc = kiln_buf_printf(&out, "DEFINE_LOAD_C(%s, %s, %s, %s)\n", name, t1, t2, t3);
            p += len;
            continue;
        }
        if (strncmp(p, "DEFINE_STORE(", 13) == 0 &&
            sscanf(p, "DEFINE_STORE(%63[^,], %15[^,], %15[^)])", name, t1, t2) == 3) {
            rc = kiln_buf_append(&out, p, len);
            if (rc == 0) rc = kiln_buf_printf(&out, "DEFINE_STORE_C(%s, %s, %s)\n", name, t1, t2);
            p += len;
            continue;
        }
        if (!nmem) {
            rc = kiln_buf_append(&out, p, len);
            p += len;
            continue;
        }
        if (len == 17 && strncmp(p, "  FUNC_PROLOGUE;\n", 17) == 0) {
            rc = kiln_buf_append(&out, p, len);
            if (rc == 0) rc = kiln_buf_puts(&out, decls.data);
            in_func = 1;
            p += len;
            continue;
        }
        if (p[0] == '}') in_func = 0; /* a function's closing brace is in column 0 */
        if (!in_func) {
            rc = kiln_buf_append(&out, p, len);
            p += len;
            continue;
        }
        /* Rewrite the line's accesses to own memories, then refresh after it if it still
         * mentions the instance. */
        kiln_buf line = KILN_BUF_INIT;
        const char *q = p, *lend = p + len;
        while (rc == 0) {
            const char *use = strstr(q, "(&instance->w2c_");
            if (!use || use >= lend) {
                rc = kiln_buf_append(&line, q, (size_t)(lend - q));
                break;
            }
            const char *id = use;
            while (id > p && (isalnum((unsigned char)id[-1]) || id[-1] == '_'))
                id--;
            size_t idlen = (size_t)(use - id);
            int is_access = idlen > 6 && (id[0] == 'i' || id[0] == 'f') &&
                            (strncmp(id + 3, "_load", 5) == 0 || strncmp(id + 3, "_store", 6) == 0);
            const char *field = use + strlen("(&instance->");
            const char *comma = strchr(field, ',');
            if (!is_access || !comma || comma >= lend) {
                rc = kiln_buf_append(&line, q, (size_t)(use - q) + 1);
                q = use + 1;
                continue;
            }
            int flen = (int)(comma - field);
            rc = kiln_buf_append(&line, q, (size_t)(use - q));
            if (rc == 0)
                rc = kiln_buf_printf(&line, "_c(kiln_mb_%.*s, kiln_ms_%.*s", flen, field, flen,
                                     field);
            q = comma;
        }
        if (rc == 0 && line.data) {
            rc = kiln_buf_append(&out, line.data, line.len);
            if (rc == 0 && strstr(line.data, "instance")) rc = kiln_buf_puts(&out, refresh.data);
        }
        kiln_buf_free(&line);
        p += len;
    }
    kiln_buf_free(&names);
    kiln_buf_free(&decls);
    kiln_buf_free(&refresh);
    if (rc == 0) {
        kiln_buf_free(text);
        *text = out;
    } else {
        kiln_buf_free(&out);
    }
    return rc;
}

/* tcc has no __builtin_clz & co.: wasm2c's bit-count macros get portable versions. */
static int tcc_builtins(kiln_buf *text)
{
    static const char *const from[] = {
        "#define I32_CLZ(x) ((x) ? __builtin_clz(x) : 32)\n",
        "#define I64_CLZ(x) ((x) ? __builtin_clzll(x) : 64)\n",
        "#define I32_CTZ(x) ((x) ? __builtin_ctz(x) : 32)\n",
        "#define I64_CTZ(x) ((x) ? __builtin_ctzll(x) : 64)\n",
        "#define I32_POPCNT(x) (__builtin_popcount(x))\n",
        "#define I64_POPCNT(x) (__builtin_popcountll(x))\n",
    };
    static const char *const to[] = {
        "static u32 kiln_clz64(u64 x) { u32 n = 0; if (!x) return 64; "
        "while (!(x & 0x8000000000000000ull)) { x <<= 1; n++; } return n; }\n"
        "#define I32_CLZ(x) (kiln_clz64((u64)(u32)(x)) - 32)\n",
        "#define I64_CLZ(x) kiln_clz64(x)\n",
        "static u32 kiln_ctz64(u64 x) { u32 n = 0; if (!x) return 64; "
        "while (!(x & 1)) { x >>= 1; n++; } return n; }\n"
        "#define I32_CTZ(x) ((u32)(x) ? kiln_ctz64((u32)(x)) : 32)\n",
        "#define I64_CTZ(x) kiln_ctz64(x)\n",
        "static u32 kiln_popcnt64(u64 x) { u32 n = 0; while (x) { x &= x - 1; n++; } return n; }\n"
        "#define I32_POPCNT(x) kiln_popcnt64((u32)(x))\n",
        "#define I64_POPCNT(x) kiln_popcnt64(x)\n",
    };
    for (size_t i = 0; i < sizeof from / sizeof from[0]; i++) {
        int rc = replace_once(text, from[i], to[i]);
        if (rc < 0) return rc;
    }
    return 0;
}

/* wasm2c 1.0.32 bug: an element segment that names an imported function records the
 * funcref's module instance as `offsetof(Z_kmod_instance_t, Z_mJ_instance)`, so
 * funcref_table_init computes the *address* of the instance's import pointer instead of
 * its value (ref.func and global initializers use the value, correctly). The trampoline
 * called through such a table entry would then read its binding from the wrong place.
 * Fix: mark those offsets odd (+1: real offsets of pointer fields are even) and make
 * funcref_table_init load the pointer for odd offsets. */
static int elem_import_fix(kiln_buf *text)
{
    const char *needle = ", offsetof(Z_" KILN_CODEGEN_MODULE "_instance_t, Z_m";
    if (!strstr(text->data, needle)) return 0;
    int rc = replace_once(
        text, "        (char*)module_instance + src_expr->module_offset};",
        "        (src_expr->module_offset & 1)\n"
        "            ? *(void**)((char*)module_instance + src_expr->module_offset - 1)\n"
        "            : (char*)module_instance + src_expr->module_offset};");
    if (rc < 0) return rc;
    kiln_buf out = KILN_BUF_INIT;
    const char *p = text->data;
    while (rc == 0) {
        const char *at = strstr(p, needle);
        if (!at) {
            rc = kiln_buf_puts(&out, p);
            break;
        }
        const char *close = strstr(at, "_instance)}");
        if (!close) {
            rc = REPLACE_ABSENT;
            break;
        }
        close += strlen("_instance)");
        rc = kiln_buf_append(&out, p, (size_t)(close - p));
        if (rc == 0) rc = kiln_buf_puts(&out, " + 1");
        p = close;
    }
    if (rc == 0) {
        kiln_buf_free(text);
        *text = out;
    } else {
        kiln_buf_free(&out);
    }
    return rc;
}

/* Parses "void Z_kmod_instantiate(Z_kmod_instance_t*, struct Z_m<j>_instance_t*, ...);"
 * in the header into the import module numbers j in wasm2c's parameter order. */
static int instantiate_order(const char *header, const kiln_wasm *w, uint32_t **order_out,
                             size_t *n_out, kiln_buf *err)
{
    const char *proto = strstr(header, "void Z_" KILN_CODEGEN_MODULE "_instantiate(");
    if (!proto) {
        kiln_buf_puts(err, "internal error: wasm2c output lacks the instantiate function");
        return -1;
    }
    const char *end = strchr(proto, ')');
    size_t cap = w->nimports + 1, n = 0;
    uint32_t *order = kiln_calloc(cap, sizeof *order);
    if (!order) {
        kiln_buf_puts(err, "out of memory");
        return -1;
    }
    const char *p = proto;
    while ((p = strstr(p, "struct Z_m")) && p < end) {
        p += strlen("struct Z_m");
        char *q;
        unsigned long j = strtoul(p, &q, 10);
        if (strncmp(q, "_instance_t*", 12) != 0 || n + 1 >= cap || j >= w->nimports) {
            kiln_buf_puts(err, "internal error: unexpected wasm2c instantiate parameters");
            kiln_free(order);
            return -1;
        }
        order[n++] = (uint32_t)j;
        p = q;
    }
    *order_out = order;
    *n_out = n;
    return 0;
}

/* The glue appended to wasm2c's output. */
/* Appends, for each field of the instance struct declared as `decl <name>;` (not a
 * pointer: imported memories/tables are pointers and belong to their exporter),
 * "  out[k++] = &in->NAME;" to b, and to `priv` (when not NULL) "1," when the field is a
 * table no other module reaches, else "0,": the copy's exported tables are named after
 * their export (w2c_e<i>, wasm_rewrite.h), the others w2c_T<index>. Returns the count. */
static size_t struct_fields(kiln_buf *b, kiln_buf *priv, const char *header, const char *decl)
{
    const char *start = strstr(header, "typedef struct Z_" KILN_CODEGEN_MODULE "_instance_t {");
    const char *end = start ? strstr(start, "} Z_" KILN_CODEGEN_MODULE "_instance_t;") : NULL;
    size_t n = 0, dlen = strlen(decl);
    for (const char *p = start; p && p < end; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        while (*p == ' ')
            p++;
        if (strncmp(p, decl, dlen) != 0 || p[dlen] != ' ' || p[dlen + 1] == '*') continue;
        const char *name = p + dlen + 1, *semi = strchr(name, ';');
        if (!semi) break;
        kiln_buf_printf(b, "  out[%zu] = &in->%.*s;\n", n++, (int)(semi - name), name);
        if (priv) {
            size_t k = 5;
            while (name + k < semi && isdigit((unsigned char)name[k]))
                k++;
            int own = strncmp(name, "w2c_T", 5) == 0 && k > 5 && name + k == semi;
            kiln_buf_puts(priv, own ? "1," : "0,");
        }
    }
    return n;
}

/* Glue for instances made from an image (image.c): the instance's own memories and
 * tables, and rebinding of import contexts. */
static int append_image_glue(kiln_buf *b, const kiln_wasm *w, const char *header, size_t nmods)
{
    const char *M = KILN_CODEGEN_MODULE;
    static const char *const kinds[][2] = {{"memories", "wasm_rt_memory_t"},
                                           {"funcref_tables", "wasm_rt_funcref_table_t"},
                                           {"externref_tables", "wasm_rt_externref_table_t"}};
    kiln_buf priv = KILN_BUF_INIT;
    for (size_t k = 0; k < 3; k++) {
        kiln_buf body = KILN_BUF_INIT;
        size_t n = struct_fields(&body, k == 1 ? &priv : NULL, header, kinds[k][1]);
        if (k == 1)
            kiln_buf_printf(b, "const unsigned char kiln_glue_funcref_private[%zu] = {%s};\n",
                            n ? n : 1, priv.data ? priv.data : "0");
        kiln_buf_printf(
            b,
            "const unsigned kiln_glue_n%s = %zu;\n"
            "void kiln_glue_%s(void *inst, %s **out) {\n"
            "  Z_%s_instance_t *in = (Z_%s_instance_t*)inst; (void)in; (void)out;\n%s}\n",
            kinds[k][0], n, kinds[k][0], kinds[k][1], M, M, body.data ? body.data : "");
        kiln_buf_free(&body);
    }
    kiln_buf_free(&priv);
    kiln_buf_puts(b, "void kiln_glue_rebind(void *inst, void *bs) {\n  (void)bs;\n");
    if (w->nimports) {
        kiln_buf_printf(b, "  init_instance_import((Z_%s_instance_t*)inst", M);
        for (size_t i = 0; i < nmods; i++)
            kiln_buf_puts(b, ", bs");
        kiln_buf_puts(b, ");\n");
    }
    kiln_buf_puts(b, "}\n");
    return b->data ? 0 : -1;
}

/* wasm2c's instantiate ends with the start function's call (after its init_* calls,
 * each present only when the module has what it initializes); Kiln applies its plan
 * first (consts.h), so the call's line moves to the glue's kiln_glue_start: it is cut
 * out of *text into *call. 0, -1 when out of memory, REPLACE_ABSENT when the function
 * does not have that shape. */
static int take_start_call(kiln_buf *text, const kiln_wasm *w, kiln_buf *call)
{
    const char *fn = strstr(text->data, "\nvoid Z_" KILN_CODEGEN_MODULE "_instantiate(");
    const char *close = fn ? strstr(fn, "\n}\n") : NULL;
    if (!close) return REPLACE_ABSENT;
    if (!w->has_start) return 0;
    const char *last = close;
    while (last > fn && last[-1] != '\n')
        last--;
    if (last <= fn || strncmp(last, "  init_", 7) == 0 || strncmp(last, "  assert(", 9) == 0)
        return REPLACE_ABSENT;
    size_t from = (size_t)(last - text->data), n = (size_t)(close + 1 - last);
    if (kiln_buf_append(call, last, n) < 0) return -1;
    memmove(text->data + from, text->data + from + n, text->len - from - n + 1);
    text->len -= n;
    return 0;
}

/* The instance struct's field of each defined global, in index order ("name\n" each),
 * from wasm2c's init_globals (one `  instance->NAME = ...;` line per defined global:
 * the field is named after an export when the global has one, so it is read, not
 * guessed). 0, -1 when out of memory, REPLACE_ABSENT when the count does not match. */
static int global_fields(const char *text, const kiln_wasm *w, kiln_buf *names)
{
    uint32_t ndefined = w->nglobals, n = 0;
    for (uint32_t k = 0; k < w->nimports; k++)
        if (w->imports[k].kind == KILN_EXTERN_GLOBAL) ndefined--;
    const char *fn = strstr(text, "\nstatic void init_globals(Z_" KILN_CODEGEN_MODULE
                                  "_instance_t* instance) {\n");
    const char *end = fn ? strstr(fn, "\n}\n") : NULL;
    for (const char *p = fn ? strchr(fn + 1, '\n') + 1 : NULL; p && p < end;) {
        const char *eol = strchr(p, '\n');
        if (strncmp(p, "  instance->", 12) == 0) {
            const char *name = p + 12, *eq = strstr(name, " = ");
            if (!eq || eq > eol) return REPLACE_ABSENT;
            if (kiln_buf_append(names, name, (size_t)(eq - name)) < 0 ||
                kiln_buf_putc(names, '\n') < 0)
                return -1;
            n++;
        }
        p = eol + 1;
    }
    return n == ndefined ? 0 : REPLACE_ABSENT;
}

/* Glue for Kiln's part of instantiation (consts.h, instance.c): where each defined global
 * lives in the instance struct (imported ones: SIZE_MAX), the start function's call (cut
 * out of wasm2c's instantiate) and the element init functions (exports "i<k>" of the
 * copy, wasm_rewrite.h). 0, -1 when out of memory. */
static int append_init_glue(kiln_buf *b, const kiln_wasm *w, const kiln_rewrite_info *info,
                            const char *fields, const char *start_call)
{
    const char *M = KILN_CODEGEN_MODULE;
    uint32_t nimported = 0;
    for (uint32_t k = 0; k < w->nimports; k++)
        if (w->imports[k].kind == KILN_EXTERN_GLOBAL) nimported++;
    kiln_buf_printf(b,
                    "const unsigned kiln_glue_nglobals = %u;\n"
                    "const size_t kiln_glue_global_offsets[%u] = {\n",
                    w->nglobals, w->nglobals ? w->nglobals : 1);
    for (uint32_t g = 0; g < nimported; g++)
        kiln_buf_puts(b, "  (size_t)-1,\n");
    for (const char *f = fields; f && *f;) {
        const char *nl = strchr(f, '\n');
        kiln_buf_printf(b, "  offsetof(Z_%s_instance_t, %.*s),\n", M, (int)(nl - f), f);
        f = nl + 1;
    }
    kiln_buf_printf(b,
                    "%s};\nvoid kiln_glue_start(void *inst) {\n"
                    "  Z_%s_instance_t *instance = (Z_%s_instance_t*)inst; (void)instance;\n%s}\n",
                    w->nglobals ? "" : "  0,\n", M, M, start_call ? start_call : "");
    kiln_buf_printf(b,
                    "const unsigned kiln_glue_nelem_inits = %u;\n"
                    "void kiln_glue_elem_init(void *inst, unsigned k, u32 dest) {\n"
                    "  switch (k) {\n",
                    info->nelem_inits);
    for (uint32_t k = 0; k < info->nelem_inits; k++)
        kiln_buf_printf(b, "  case %u: Z_%sZ_i%u((Z_%s_instance_t*)inst, dest); break;\n", k, M, k,
                        M);
    kiln_buf_puts(b, "  default: (void)inst; (void)dest; break;\n  }\n}\n");
    return b->data ? 0 : -1;
}

static int append_glue(kiln_buf *b, const kiln_wasm *w, const uint32_t *order, size_t nmods)
{
    const char *M = KILN_CODEGEN_MODULE;
    uint32_t *mod_of = kiln_calloc(w->nimports + 1, sizeof *mod_of);
    if (!mod_of) return -1;
    kiln_wasm_import_modules(w, mod_of);
    /* Every import module pointer of the instance points at the instance's bindings
     * (engine.h: kiln_binding); import k is binding k. */
    kiln_buf_printf(b,
                    "\n/* ---- Kiln glue (src/engine/codegen.c) ---- */\n"
                    "typedef union { u32 i32; u64 i64; f32 f32; f64 f64; "
                    "wasm_rt_funcref_t funcref; wasm_rt_externref_t externref; } kiln_glue_val;\n"
                    "typedef struct { void (*fn)(void); void *ctx; uintptr_t kind; } "
                    "kiln_glue_binding;\n"
                    "const unsigned kiln_glue_abi = %d;\n"
                    "const size_t kiln_glue_instance_size = sizeof(Z_%s_instance_t);\n"
                    "const unsigned kiln_glue_nimports = %u;\n"
                    "void kiln_rt_host_enter(void);\nvoid kiln_rt_host_leave(void);\n",
                    KILN_ABI_VERSION, M, w->nimports);
    /* Import trampolines: a guest-to-guest call goes straight through; a host call is a
     * host section (interrupts wait for it to return). */
    for (uint32_t k = 0; k < w->nimports; k++) {
        const kiln_wasm_import *im = &w->imports[k];
        /* Names as wasm2c saw them (wasm_rewrite.h): Z_m<j>Z_f<k>. */
        char sym[48], ctx[48];
        snprintf(sym, sizeof sym, "Z_m%uZ_f%u", mod_of[k], k);
        snprintf(ctx, sizeof ctx, "struct Z_m%u_instance_t*", mod_of[k]);
        kiln_buf_printf(b, "/* import %u */\n", k);
        if (im->kind == KILN_EXTERN_FUNC) {
            const char *sig = w->types[im->type_index];
            const char *colon = strchr(sig, ':');
            kiln_buf ret = KILN_BUF_INIT, fnt = KILN_BUF_INIT, args = KILN_BUF_INIT;
            result_type(&ret, colon + 1);
            kiln_buf_printf(&fnt, "%s (*)(void *", ret.data);
            for (const char *a = sig; a < colon; a++) {
                kiln_buf_printf(&fnt, ", %s", ctype(*a));
                kiln_buf_printf(&args, ", a%d", (int)(a - sig));
            }
            kiln_buf_putc(&fnt, ')');
            const char *res = colon + 1;
            size_t nparams = (size_t)(colon - sig), nres = strlen(res);
            int has_result = nres > 0;
            kiln_buf_printf(b, "%s %s(%s bs", ret.data, sym, ctx);
            for (const char *a = sig; a < colon; a++)
                kiln_buf_printf(b, ", %s a%d", ctype(*a), (int)(a - sig));
            /* kind 1 (KILN_BIND_GUEST): straight through; 0 (KILN_BIND_HOST): a typed host
             * call in a host section; 2 (KILN_BIND_HOST_VALS): a host call with the
             * arguments in an array of values, results written back into it. */
            kiln_buf_printf(b,
                            ") {\n  const kiln_glue_binding *bd = (const kiln_glue_binding *)bs + "
                            "%u;\n  if (bd->kind == %d) {\n    %s((%s)bd->fn)(bd->ctx%s);%s\n  }\n"
                            "  kiln_rt_host_enter();\n",
                            k, KILN_BIND_GUEST, has_result ? "return " : "", fnt.data,
                            args.data ? args.data : "", has_result ? "" : "\n    return;");
            kiln_buf_printf(b, "  if (bd->kind == %d) {\n    kiln_glue_val v[%zu];\n",
                            KILN_BIND_HOST_VALS, (nparams > nres ? nparams : nres) + 1);
            for (const char *a = sig; a < colon; a++)
                kiln_buf_printf(b, "    v[%d].%s = a%d;\n", (int)(a - sig), val_member(*a),
                                (int)(a - sig));
            kiln_buf_puts(b, "    ((void (*)(void *, kiln_glue_val *))bd->fn)(bd->ctx, v);\n"
                             "    kiln_rt_host_leave();\n");
            if (nres == 1) {
                kiln_buf_printf(b, "    return v[0].%s;\n", val_member(res[0]));
            } else if (nres > 1) {
                kiln_buf_printf(b, "    %s m;\n", ret.data);
                for (size_t r = 0; r < nres; r++)
                    kiln_buf_printf(b, "    m.%c%zu = v[%zu].%s;\n", res[r], r, r,
                                    val_member(res[r]));
                kiln_buf_puts(b, "    return m;\n");
            } else {
                kiln_buf_puts(b, "    return;\n");
            }
            kiln_buf_puts(b, "  }\n  ");
            if (has_result) kiln_buf_printf(b, "%s r = ", ret.data);
            kiln_buf_printf(b, "((%s)bd->fn)(bd->ctx%s);\n  kiln_rt_host_leave();\n%s}\n", fnt.data,
                            args.data ? args.data : "", has_result ? "  return r;\n" : "");
            int oom = !ret.data || !fnt.data;
            kiln_buf_free(&ret);
            kiln_buf_free(&fnt);
            kiln_buf_free(&args);
            if (oom) {
                kiln_free(mod_of);
                return -1;
            }
        } else {
            const char *t =
                im->kind == KILN_EXTERN_MEMORY ? "wasm_rt_memory_t"
                : im->kind == KILN_EXTERN_TABLE
                    ? (im->reftype == 'r' ? "wasm_rt_funcref_table_t" : "wasm_rt_externref_table_t")
                    : ctype(im->valtype);
            kiln_buf_printf(
                b,
                "%s* %s(%s bs) {\n  return (%s*)((const kiln_glue_binding *)bs)[%u].ctx;\n"
                "}\n",
                t, sym, ctx, t, k);
        }
    }
    kiln_free(mod_of);
    /* Life cycle. */
    kiln_buf_printf(b,
                    "void kiln_glue_init_module(void) { Z_%s_init_module(); }\n"
                    "void kiln_glue_free(void *inst) { Z_%s_free((Z_%s_instance_t*)inst); }\n"
                    "void kiln_glue_instantiate(void *inst, kiln_glue_binding *bs) {\n"
                    "  (void)bs;\n  Z_%s_instantiate((Z_%s_instance_t*)inst",
                    M, M, M, M, M);
    for (size_t i = 0; i < nmods; i++)
        kiln_buf_printf(b, ", (struct Z_m%u_instance_t*)bs", order[i]);
    kiln_buf_puts(b, ");\n}\n");
    /* Exports. */
    for (uint32_t i = 0; i < w->nexports; i++) {
        const kiln_wasm_export *e = &w->exports[i];
        if (e->kind != KILN_EXTERN_FUNC) continue;
        const char *sig = e->type, *colon = strchr(sig, ':');
        const char *res = colon + 1;
        size_t nres = strlen(res);
        kiln_buf_printf(b, "static void kiln_call_%u(void *inst, kiln_glue_val *v) {\n  ", i);
        if (nres) {
            kiln_buf ret = KILN_BUF_INIT;
            result_type(&ret, res);
            kiln_buf_printf(b, "%s r = ", ret.data);
            kiln_buf_free(&ret);
        }
        kiln_buf_printf(b, "Z_%sZ_e%u((Z_%s_instance_t*)inst", M, i, M);
        for (const char *a = sig; a < colon; a++)
            kiln_buf_printf(b, ", v[%d].%s", (int)(a - sig), val_member(*a));
        kiln_buf_puts(b, ");\n");
        if (nres == 1) kiln_buf_printf(b, "  v[0].%s = r;\n", val_member(res[0]));
        for (size_t r = 0; nres > 1 && r < nres; r++)
            kiln_buf_printf(b, "  v[%zu].%s = r.%c%zu;\n", r, val_member(res[r]), res[r], r);
        kiln_buf_puts(b, "}\n");
    }
    kiln_buf_printf(b, "void (*const kiln_glue_calls[%u])(void *, kiln_glue_val *) = {\n",
                    w->nexports ? w->nexports : 1);
    for (uint32_t i = 0; i < w->nexports; i++)
        if (w->exports[i].kind == KILN_EXTERN_FUNC)
            kiln_buf_printf(b, "  kiln_call_%u,\n", i);
        else
            kiln_buf_puts(b, "  0,\n");
    kiln_buf_printf(b, "};\nvoid (*const kiln_glue_export_fns[%u])(void) = {\n",
                    w->nexports ? w->nexports : 1);
    for (uint32_t i = 0; i < w->nexports; i++) {
        kiln_buf_printf(b, "  (void (*)(void))Z_%sZ_e%u,\n", M, i);
    }
    kiln_buf_puts(b, "};\n");
    return b->data ? 0 : -1;
}

int kiln_codegen(const uint8_t *wasm, size_t len, const kiln_wasm *w, const kiln_rewrite_info *info,
                 int direct_memory, kiln_mem_checks checks, kiln_buf *out, kiln_buf *err)
{
    char dir[] = "/tmp/kiln-wasm2c.XXXXXX";
    if (!mkdtemp(dir)) {
        kiln_buf_printf(err, "cannot create a temporary directory: %s", strerror(errno));
        return -1;
    }
    char cpath[sizeof dir + 16], hpath[sizeof dir + 16];
    snprintf(cpath, sizeof cpath, "%s/%s.c", dir, KILN_CODEGEN_MODULE);
    snprintf(hpath, sizeof hpath, "%s/%s.h", dir, KILN_CODEGEN_MODULE);
    char wpath[sizeof dir + 16];
    snprintf(wpath, sizeof wpath, "%s/in.wasm", dir);
    int rc = -1;
    uint32_t *order = NULL;
    size_t norder = 0;
    kiln_buf log = KILN_BUF_INIT, header = KILN_BUF_INIT;
    kiln_buf start_call = KILN_BUF_INIT, fields = KILN_BUF_INIT;
    if (w->uses_simd_types) {
        kiln_buf_puts(err, "module uses SIMD (v128 values), which Kiln does not support yet");
        goto out;
    }
    if (kiln_write_file(wpath, wasm, len) < 0) {
        kiln_buf_printf(err, "cannot write the module for wasm2c: %s", strerror(errno));
        goto out;
    }
    const char *argv[] = {
        "wasm2c", "--no-debug-names", "-n", KILN_CODEGEN_MODULE, "-o", cpath, wpath, NULL};
    int st = kiln_proc_run(argv, &log, 0);
    if (st != 0) {
        /* wasm2c names the file and offset; strip trailing newlines. */
        while (log.len && (log.data[log.len - 1] == '\n'))
            log.data[--log.len] = '\0';
        if (st < 0)
            kiln_buf_printf(err, "cannot run wasm2c (is wabt installed?): %s",
                            log.data ? log.data : "");
        else {
            /* wasm2c names its input (our temp copy): keep only "offset: error: ...". */
            const char *msg = log.data ? log.data : "wasm2c failed";
            size_t wl = strlen(wpath);
            if (strncmp(msg, wpath, wl) == 0 && msg[wl] == ':') msg += wl + 1;
            kiln_buf_printf(err, "invalid module: %s", msg);
        }
        goto out;
    }
    if (kiln_read_file(cpath, out) < 0 || kiln_read_file(hpath, &header) < 0) {
        kiln_buf_printf(err, "cannot read wasm2c output: %s", strerror(errno));
        goto out;
    }
    if (instantiate_order(header.data, w, &order, &norder, err) < 0) goto out;
    int r = take_start_call(out, w, &start_call);
    if (r == 0) r = global_fields(out->data, w, &fields);
    if (r == REPLACE_ABSENT) {
        kiln_buf_puts(err, "internal error: unexpected wasm2c output (instantiate, globals)");
        goto out;
    }
    if (r < 0) goto oom;
    /* Inline the header so that the C file stands alone. */
    r = replace_once(out, "#include \"" KILN_CODEGEN_MODULE ".h\"\n", header.data);
    if (r == REPLACE_ABSENT) {
        kiln_buf_puts(err, "internal error: unexpected wasm2c output (no header include)");
        goto out;
    }
    if (r < 0) goto oom;
    kiln_buf ov = KILN_BUF_INIT;
    r = trap_overrides(&ov, checks) < 0 || kiln_buf_puts(&ov, "#if WABT_BIG_ENDIAN\n") < 0 ? -1 : 0;
    if (r == 0) r = replace_once(out, "#if WABT_BIG_ENDIAN\n", ov.data);
    if (r == 0)
        r = replace_once(out, "    TRAP(OOB);\n  LOAD_DATA((*dest)",
                         "    TRAP(MEMORY_OOB);\n  LOAD_DATA((*dest)");
    kiln_buf_free(&ov);
    if (r == 0) r = replace_once(out, "DEFINE_TABLE_FILL(externref)\n", table_overrides);
    if (r == 0) r = elem_import_fix(out);
    if (direct_memory && r == 0) r = tcc_builtins(out);
    if (r == REPLACE_ABSENT) {
        kiln_buf_puts(err, "internal error: unexpected wasm2c output (runtime macros)");
        goto out;
    }
    if (r < 0) goto oom;
    if (direct_memory &&
        (direct_memory_rewrite(out, checks) < 0 ||
         cache_memory_bases(out, header.data, checks) < 0 || tcc_float_neg(out) < 0))
        goto oom;
    if (!direct_memory && checks == KILN_MEM_CHECKS_BOUNDS &&
        cache_memory_sizes(out, header.data) < 0)
        goto oom;
    if (append_glue(out, w, order, norder) < 0 ||
        append_image_glue(out, w, header.data, norder) < 0)
        goto oom;
    if (append_init_glue(out, w, info, fields.data, start_call.data) < 0) goto oom;
    rc = 0;
    goto out;
oom:
    kiln_buf_puts(err, "out of memory generating C");
out:
    kiln_free(order);
    unlink(cpath);
    unlink(hpath);
    unlink(wpath);
    rmdir(dir);
    kiln_buf_free(&log);
    kiln_buf_free(&header);
    kiln_buf_free(&start_call);
    kiln_buf_free(&fields);
    return rc;
}
