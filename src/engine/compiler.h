/* compiler.h — C to native: the two tiers.
 *
 *  fast: libtcc, in process (serialized: libtcc keeps global state), ~10x faster to
 *        build than cc -O0 and small in memory; code several times slower.
 *  opt:  the system C compiler in child processes, `cc -O2` (-O1 for big modules);
 *        near-native code. C over KILN_OPT_PART_MB is cut into parts (engine/split.h)
 *        compiled in parallel and linked into one object; the whole build is bounded in
 *        size, time and memory (compiler.c), past which the fast tier keeps serving.
 * Both write a shared object to `so_path` (which the cache renames into place). */
#ifndef KILN_ENGINE_COMPILER_H
#define KILN_ENGINE_COMPILER_H

#include "engine/engine.h"
#include "util/buf.h"

/* Compiles C source to a shared object. Returns 0, or -1 with a message in *err. */
int kiln_compile_c(kiln_tier tier, const char *c_source, size_t c_len, const char *so_path,
                   kiln_buf *err);

/* A string naming the compiler and flags of a tier (part of the cache key). */
const char *kiln_compiler_identity(kiln_tier tier);

#endif
