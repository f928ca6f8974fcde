/* validate_internal.h — what the two halves of component validation share.
 *
 * validate.c replays a component's definitions into scopes (names, aliases, types,
 * imports/exports, external visibility); validate_inst.c owns instantiation: core module
 * types, core and component instance arguments, the subtyping of what is given against
 * what is imported, and the substitution of type imports and fresh resources. Both work on
 * the kc_scope of internal.h; nothing here is used outside the validator. */
#ifndef KILN_COMPONENT_VALIDATE_INTERNAL_H
#define KILN_COMPONENT_VALIDATE_INTERNAL_H

#include "component/internal.h"

/* Type replacements (type imports by what instantiation gives, ...): see kcv_subst_type. */
typedef kc_ptrmap subst;

/* ---- validate.c ---- */

/* Names t for messages (once: the first name given sticks). */
void kcv_set_name(const kiln_ctype *t, const char *name);
/* Canonicalized names of the n entries of `names` (at byte offsets offs, or NULL) are
 * distinct; otherwise fails the scope naming `what`. 0 or -1. */
int kcv_unique(kc_scope *s, const char *const *names, const size_t *offs, uint32_t n,
               const char *what);
/* qsort order of `const kiln_citem *` by name, the first of equal names first. */
int kcv_cmp_item_name(const void *a, const void *b);
/* The core module type t has no two imports of the same module and name, nor two exports
 * of one name. 0 or -1. */
int kcv_core_names(kc_scope *s, const kiln_ctype *t);

/* ---- validate_inst.c ---- */

/* Validates a core type (func types are complete; module types get imports/exports). */
int kcv_core_type(kc_scope *s, kiln_ctype *t);
/* The core module type of embedded module m (index idx), made once. NULL after failing. */
const kiln_ctype *kcv_embedded_module_type(kc_scope *s, const kiln_cmodule *m, uint32_t idx);
/* The first export of t named `name`, or NULL. */
const kiln_citem *kcv_find_export(kc_scope *s, const kiln_ctype *t, const char *name);
/* Validates a core instance definition and pushes its type. 0 or -1. */
int kcv_core_instance(kc_scope *s, const kiln_cinstance *in);
/* Validates a component instance definition (instantiate or inline exports) and pushes
 * its type, with type imports substituted and fresh resources made. 0 or -1. */
int kcv_instance(kc_scope *s, const kiln_cinstance *in);
/* Whether an item of sort `sort` and type `got` can be given where `want` is expected; 1,
 * or 0 with why (cap bytes) filled. */
int kcv_extern_matches(kc_scope *s, kiln_csort sort, const kiln_ctype *want, const kiln_ctype *got,
                       unsigned depth, char *why, size_t cap);
/* Adds from -> to to m. 0 or -1. */
int kcv_subst_put(kc_scope *s, subst *m, const kiln_ctype *from, const kiln_ctype *to);
/* t with the resources of m replaced (a copy when anything changes, t itself otherwise);
 * NULL after failing the scope. The copy of a named type (record, variant, enum, flags)
 * is added to m, so that it stays one type however often it is referred to. */
const kiln_ctype *kcv_subst_type(kc_scope *s, subst *m, const kiln_ctype *t, unsigned depth);

#endif
