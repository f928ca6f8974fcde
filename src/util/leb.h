/* leb.h — LEB128, the variable-length integers of the WebAssembly binary formats (core
 * modules, components), decoded in one place for every reader. */
#ifndef KILN_UTIL_LEB_H
#define KILN_UTIL_LEB_H

#include <stddef.h>
#include <stdint.h>

enum {
    KILN_LEB_OK = 0,
    KILN_LEB_TRUNCATED = -1, /* the bytes ran out: *pos is left at end */
    KILN_LEB_TOO_LONG = -2,  /* longer than `bits` allows, or bits set beyond them: *pos is
                              * just after the offending byte */
};

/* Decodes an unsigned LEB128 of at most `bits` bits (1..64) from p[*pos..end): on
 * KILN_LEB_OK, *out is the value and *pos just after it. */
int kiln_leb_u(const uint8_t *p, size_t end, size_t *pos, unsigned bits, uint64_t *out);

/* A u32 (kiln_leb_u with 32 bits) into *out: 0, or -1 when truncated or too long. */
int kiln_leb_u32(const uint8_t *p, size_t end, size_t *pos, uint32_t *out);

#endif
