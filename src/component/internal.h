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

/* Validates component c (decoded, not yet validated) whose enclosing scopes are given by
 * `outer` (NULL for the outermost component). Returns 0 or -1 (x failed). validate.c. */
struct kc_scope;
int kc_validate_component(kc_ctx *x, kiln_component *c, struct kc_scope *outer);

#endif
