/* The depending component of tests/e2e/component_deps.sh: a wasi:http handler (C SDK)
 * that imports kiln:test/greet@0.1.0, kiln:test/env@0.1.0 and kiln:test/counter@0.1.0 (a
 * resource), which no host provides:
 * the manifest's dependencies satisfy them. Its imports are declared by hand with the
 * canonical ABI's flattening (a string argument is pointer + length; a string result
 * goes to a return area passed last). */
#include "kiln.h"

#include <stdint.h>
#include <string.h>

__attribute__((import_module("kiln:test/greet@0.1.0"), import_name("greet"))) extern void
greet_greet(const char *name, size_t len, uint32_t *ret);
__attribute__((import_module("kiln:test/greet@0.1.0"), import_name("count"))) extern uint32_t
greet_count(void);
__attribute__((import_module("kiln:test/env@0.1.0"), import_name("count"))) extern uint32_t
env_count(void);
/* a resource the dependency defines: own handles in this component's table */
__attribute__((import_module("kiln:test/counter@0.1.0"),
               import_name("[constructor]counter"))) extern int32_t
counter_new(void);
__attribute__((import_module("kiln:test/counter@0.1.0"),
               import_name("[method]counter.inc"))) extern uint32_t
counter_inc(int32_t self);
__attribute__((import_module("kiln:test/counter@0.1.0"),
               import_name("[resource-drop]counter"))) extern void
counter_drop(int32_t self);

int main(void)
{
    const char *path = kiln_path();
    if (strcmp(path, "/env") == 0) {
        kiln_printf("dependency sees %u environment variables\n", (unsigned)env_count());
        return kiln_send();
    }
    if (strcmp(path, "/count") == 0) {
        /* two calls: the second shows the same dependency instance served the first */
        unsigned a = greet_count(), b = greet_count();
        kiln_printf("count %u %u\n", a, b);
        return kiln_send();
    }
    if (strcmp(path, "/counter") == 0) {
        int32_t a = counter_new(), b = counter_new();
        unsigned a1 = counter_inc(a), a2 = counter_inc(a), b1 = counter_inc(b);
        counter_drop(a);
        counter_drop(b);
        kiln_printf("counters %u %u %u\n", a1, a2, b1);
        return kiln_send();
    }
    const char *name = kiln_query("name");
    if (!name) name = "world";
    uint32_t ret[2];
    greet_greet(name, strlen(name), ret);
    kiln_write((const char *)(uintptr_t)ret[0], ret[1]);
    kiln_puts("\n");
    return kiln_send();
}
