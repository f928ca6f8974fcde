/* image.h — images of sets of instances (a component's core instances), on top of the
 * per-module images of engine.h (image.c).
 *
 * An image of one instance rebases the funcrefs of its tables that point into its own
 * block (tables it shares between its instances need none: image.c). In a component, a
 * table of one core instance may hold funcrefs into another's block (a fixup module fills
 * a shim's table with the adapter's functions), so a set of instances is copied in two
 * steps: every instance with kiln_image_instantiate_set (its copied tables empty), then
 * kiln_image_rebase on each with the table of every image's old range -> its new
 * instance's base, which copies those tables' elements and moves them.
 *
 * A set's instances are laid out in one block at offsets the caller fixes once
 * (kiln_image_share_set). Then a funcref table whose elements all name instances of the
 * set is shared by every copy, even when other instances of the set import it: its
 * elements are stored relative to the table's own struct (runtime.h), whose distance to
 * every instance of the block is the same in each copy. Only generated code and hosts
 * that resolve elements with kiln_rt_funcref_self may read such a table. */
#ifndef KILN_ENGINE_IMAGE_H
#define KILN_ENGINE_IMAGE_H

#include "engine/engine.h"

/* A snapshot of an initialized instance as it is now (nothing runs; the instance is left
 * unchanged and may be freed afterwards). NULL with *err filled. */
kiln_image *kiln_image_capture(kiln_instance *inst, kiln_err *err);

/* As kiln_image_instantiate, but built at `at` (kiln_image_block_size bytes, 16-aligned),
 * bound to `bindings` or, when NULL, to the bindings the caller wrote at
 * kiln_image_set_bindings(img, at) (one copy fewer), and the funcref tables it does not
 * share are left empty
 * (size 0): call kiln_image_rebase, which fills them, before running guest code.
 * `bindings` must be the image's own (kiln_image_bindings) with contexts moved to their
 * copies, never a context made NULL: they passed kiln_bindings_check when the image was
 * made and are not checked again (a component's copy has thousands of them). */
kiln_instance *kiln_image_instantiate_set(kiln_image *img, const kiln_binding *bindings, void *at);

/* A set's block used again (the caller keeps blocks of freed copies, image.c of
 * components): kiln_image_instantiate_kept builds an instance as kiln_image_instantiate_set
 * with the bindings written in place (NULL), and also copies its native struct, as it is
 * before its memories and tables are attached, to `keep` (kiln_image_native_size bytes).
 * Once that instance is freed, kiln_image_instantiate_again builds another at the same
 * `at` from the kept struct, its bindings as they are (the caller rewrites those whose
 * targets moved), and attaches memories and tables as kiln_image_instantiate_set does
 * (copied tables empty until kiln_image_rebase). That is a fresh copy only when no word of
 * the struct comes from a moved binding: kiln_image_rebind_reads says whether one does
 * (moved: one byte per import, non-zero for a binding whose target moves between copies;
 * the bindings array's own address moves with the block and is not asked about). It is 1
 * as well when the image runs the rebind glue, whose reads are not known. */
kiln_instance *kiln_image_instantiate_kept(kiln_image *img, void *at, void *keep);
kiln_instance *kiln_image_instantiate_again(kiln_image *img, void *at, const void *kept);
size_t kiln_image_native_size(const kiln_image *img);
int kiln_image_rebind_reads(const kiln_image *img, const unsigned char *moved);

/* The bytes an instance of img takes in a set's block (a multiple of 16): instance k of a
 * set is built at block + at[k] (kiln_image_instantiate_set's `at`), the block's owner
 * freeing it after every instance of it (kiln_instance_free leaves the memory). */
size_t kiln_image_block_size(const kiln_image *img);
kiln_binding *kiln_image_set_bindings(const kiln_image *img, void *at);

/* Makes every funcref table of the n images shared between copies of the set laid out
 * as at[] says (offsets in the block, distinct, 16-aligned) when all its elements name
 * instances of the set (or are null): stored relative to the table's own struct in that
 * layout. Such an image is then only copied in a set laid out that way
 * (kiln_image_instantiate refuses it). The number of tables shared, or -1 out of memory
 * (tables shared until then stay shared). */
int kiln_image_share_set(kiln_image **imgs, size_t n, const size_t *at);

/* [lo, hi): the block of the instance the image was captured from (what its funcrefs
 * may point into); the base of an instance's block (where those addresses move to). */
void kiln_image_range(const kiln_image *img, uintptr_t *lo, uintptr_t *hi);
uintptr_t kiln_instance_base(const kiln_instance *inst);

/* The bindings of the instance the image was captured from (n of them, one per import;
 * valid while the image lives): a set of instances copied together rebinds each copy to
 * the others by moving these (image.c of components). */
const kiln_binding *kiln_image_bindings(const kiln_image *img, size_t *n);

/* How many words of the native struct a copy sets from its bindings by the image's
 * learnt table instead of running the module's rebind glue (image.c: learn_rebind), or
 * (size_t)-1 when the image runs the glue (what it writes could not be learnt). */
size_t kiln_image_rebind_words(const kiln_image *img);

/* One old range and where it moved. */
typedef struct kiln_image_reloc {
    uintptr_t lo, hi, to;
} kiln_image_reloc;

/* qsort's comparison of two kiln_image_reloc by lo. */
int kiln_image_reloc_by_lo(const void *a, const void *b);

/* Fills inst's copied funcref tables (inst made from img by kiln_image_instantiate_set,
 * whose copied tables stay empty until this call; shared ones need nothing) with img's
 * elements, each funcref whose module
 * instance lies in one of the n old ranges (sorted by lo, disjoint) moved by that range's
 * offset; others are copied as they are. One pass per table. 0 (it allocates nothing: the
 * arrays are the instantiation's). */
int kiln_image_rebase(kiln_instance *inst, const kiln_image *img, const kiln_image_reloc *map,
                      size_t n);

#endif
