/* The depending component of tests/e2e/component_deps.sh: a wasi:http handler (C SDK)
 * that imports kiln:test/greet@0.1.0 and kiln:test/env@0.1.0, which no host provides:
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
    const char *name = kiln_query("name");
    if (!name) name = "world";
    uint32_t ret[2];
    greet_greet(name, strlen(name), ret);
    kiln_write((const char *)(uintptr_t)ret[0], ret[1]);
    kiln_puts("\n");
    return kiln_send();
}
