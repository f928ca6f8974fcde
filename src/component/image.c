/* image.c — component images (instance.h): a template instance made once, a snapshot of
 * each of its core instances, and per request a copy of them all.
 *
 * The template is an ordinary instantiation (link.c: every core instance initialized, start
 * functions run, fixup modules' tables filled). Its core instances are captured once all
 * are made (a later instance may write into an earlier one's table or memory), in creation
 * order, then the template is freed.
 *
 * A copy replays the component's definitions (link.c) with the image: the walk builds the
 * index spaces, trampolines, resource types and host contexts as a fresh instantiation
 * does, but each core instance is a copy of its snapshot (engine image: memcpy of the
 * native struct, its bindings those of the walk — so imported memories, tables and globals
 * are the new exporter's — memory slots reset to the image, tables copied). The walk is
 * deterministic, so the k-th core instance made is the k-th captured. Funcrefs in the
 * copied tables still hold the template's addresses (its core instances' blocks); they are
 * moved with the table of old ranges -> new bases, sorted once here. */
#include "component/inst_internal.h"
#include "engine/image.h"
#include "util/alloc.h"

#include <stdlib.h>
#include <string.h>

struct kiln_component_image {
    kiln_loaded_component *lc;
    size_t ncores;
    kiln_image **cores;
    kiln_module **modules; /* of each core instance */
    kiln_image_reloc *map; /* old ranges sorted by lo; `to` unused here */
    size_t *order;         /* map[i] is the range of core order[i] */
};

void kiln_component_image_free(kiln_component_image *img)
{
    if (!img) return;
    for (size_t i = 0; img->cores && i < img->ncores; i++)
        kiln_image_free(img->cores[i]);
    kiln_free(img->cores);
    kiln_free(img->modules);
    kiln_free(img->map);
    kiln_free(img->order);
    kiln_free(img);
}

static const kiln_image_reloc *sort_map;
static int by_lo(const void *a, const void *b)
{
    uintptr_t x = sort_map[*(const size_t *)a].lo, y = sort_map[*(const size_t *)b].lo;
    return x < y ? -1 : x > y;
}

kiln_component_image *kiln_component_image_new(kiln_loaded_component *lc, const kiln_grants *g,
                                               kiln_err *err)
{
    kiln_component_instance *ci = ki_instantiate(lc, NULL, g, err);
    if (!ci) return NULL;
    kiln_component_image *img = kiln_calloc(1, sizeof *img);
    size_t n = ci->ncores;
    kiln_image_reloc *ranges = kiln_calloc(n + 1, sizeof *ranges);
    if (!img || !ranges || !(img->cores = kiln_calloc(n + 1, sizeof *img->cores)) ||
        !(img->modules = kiln_calloc(n + 1, sizeof *img->modules)) ||
        !(img->map = kiln_calloc(n + 1, sizeof *img->map)) ||
        !(img->order = kiln_calloc(n + 1, sizeof *img->order))) {
        kiln_err_set(err, "%s: out of memory", ci->name);
        goto fail;
    }
    img->lc = lc;
    img->ncores = n;
    for (size_t i = 0; i < n; i++) {
        img->modules[i] = kiln_instance_module(ci->cores[i]);
        if (!(img->cores[i] = kiln_image_capture(ci->cores[i], err))) goto fail;
        kiln_image_range(img->cores[i], &ranges[i].lo, &ranges[i].hi);
        img->order[i] = i;
    }
    /* Single-threaded here: the comparison reads the ranges through a file-scope pointer. */
    sort_map = ranges;
    qsort(img->order, n, sizeof *img->order, by_lo);
    sort_map = NULL;
    for (size_t i = 0; i < n; i++)
        img->map[i] = ranges[img->order[i]];
    kiln_free(ranges);
    kiln_component_instance_free(ci);
    return img;
fail:
    kiln_free(ranges);
    kiln_component_instance_free(ci);
    kiln_component_image_free(img);
    return NULL;
}

int kiln_component_image_reserve(kiln_component_image *img, size_t n)
{
    for (size_t i = 0; i < img->ncores; i++)
        if (kiln_image_reserve(img->cores[i], n) < 0) return -1;
    return 0;
}

kiln_instance *ki_image_core(kiln_component_image *img, size_t k, kiln_module *m,
                             const kiln_binding *b)
{
    if (k >= img->ncores || img->modules[k] != m) return NULL;
    return kiln_image_instantiate_set(img->cores[k], b);
}

kiln_component_instance *kiln_component_image_instantiate(kiln_component_image *img,
                                                          const kiln_grants *g, kiln_err *err)
{
    kiln_component_instance *ci = ki_instantiate(img->lc, img, g, err);
    if (!ci) return NULL;
    if (ci->ncores != img->ncores) {
        kiln_err_set(err, "%s: the image has %zu core instances, the copy %zu", ci->name,
                     img->ncores, ci->ncores);
        kiln_component_instance_free(ci);
        return NULL;
    }
    kiln_image_reloc local[32], *map = local;
    size_t n = img->ncores;
    if (n > 32 && !(map = kiln_malloc(n * sizeof *map))) {
        kiln_err_set(err, "%s: out of memory", ci->name);
        kiln_component_instance_free(ci);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        map[i] = img->map[i];
        map[i].to = kiln_instance_base(ci->cores[img->order[i]]);
    }
    int ok = 1;
    for (size_t i = 0; i < n && ok; i++)
        ok = kiln_image_rebase(ci->cores[i], map, n) == 0;
    if (map != local) kiln_free(map);
    if (!ok) {
        kiln_err_set(err, "%s: out of memory", ci->name);
        kiln_component_instance_free(ci);
        return NULL;
    }
    return ci;
}
