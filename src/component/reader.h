/* reader.h — reads and validates a WebAssembly component binary (see types.h for the model).
 *
 * kiln_component_read decodes every section of the binary (reader.c), then validates it
 * (validate.c): indices in range at their point of use, aliases, canon options, names.
 * Errors name the file, the section and the byte offset:
 *   "c.wasm: section 'canon' (id 8) at offset 0x1a3: lower of func 7: no such func (3 funcs)"
 * Every read is bounds-checked, every count is checked against the bytes left before
 * anything is allocated for it, and components nest at most KILN_COMPONENT_MAX_DEPTH deep.
 * The embedded core modules are not copied: the model points into `bytes`, which must
 * outlive the component. */
#ifndef KILN_COMPONENT_READER_H
#define KILN_COMPONENT_READER_H

#include <stddef.h>
#include <stdint.h>

#include "component/types.h"

#define KILN_COMPONENT_MAX_DEPTH 32
/* Type nesting (a list of a list of …) and component/instance type nesting. */
#define KILN_COMPONENT_MAX_TYPE_DEPTH 100

/* 1 if the 8-byte preamble is a component's (version 0x0d, layer 1), 0 otherwise. */
int kiln_component_is_component(const uint8_t *bytes, size_t len);

/* Reads and validates the component in bytes[0..len). `file` names it in messages.
 * Returns NULL with a message in err (size errlen) on any error. */
kiln_component *kiln_component_read(const uint8_t *bytes, size_t len, const char *file, char *err,
                                    size_t errlen);

/* Frees everything of a component returned by kiln_component_read (NULL is fine). */
void kiln_component_free(kiln_component *c);

/* ---- names (names.c) ---- */

/* A parsed import/export name. Pointers point into `storage` (owned by the struct). */
typedef struct kiln_cname {
    int is_interface;     /* "ns:pkg/iface@ver" */
    char ns[64], pkg[64]; /* interface names: namespace and package (nested: joined) */
    char iface[128];      /* interface (projection) */
    char version[64];     /* without '@', "" if none */
} kiln_cname;

/* Checks that `s` is a well-formed extern name (plain name, [constructor]/[method]/[static]
 * annotated name, or interface name with an optional semver version) and fills out
 * (may be NULL). Returns 0, or -1 with a reason in why (size whylen). */
int kiln_component_parse_name(const char *s, kiln_cname *out, char *why, size_t whylen);

/* 1 if `s` is a kebab-case label (Explainer.md `label`). */
int kiln_component_is_label(const char *s);

/* Writes the strongly-unique canonical form of an extern name into out (size outlen):
 * lowercased; plain names without their hyphens ("foo-bar", "FOOBAR" and "foob-ar" are
 * the same name); [method]/[static] prefixes stripped, and "[method]l.m" is "l" when l
 * and m are the same label by that rule. Returns 0, -1 if too long. */
int kiln_component_canonical_name(const char *s, char *out, size_t outlen);

/* Semver compatibility as wasmtime links imports: an import of version `want` is satisfied
 * by a host item of version `have` when the strings are equal, or both are semver without a
 * pre-release and they are on the same line: same major for >= 1.0.0, same major.minor for
 * 0.x (x > 0), the same version for 0.0.x. Build metadata is ignored. Returns 1 or 0. */
int kiln_component_version_compatible(const char *want, const char *have);

#endif
