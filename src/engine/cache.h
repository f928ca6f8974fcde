/* cache.h — the on-disk, content-addressed cache of compiled modules.
 *
 * Key: SHA-256 over Kiln's ABI version, the tier, the memory-check variant (guard or
 * bounds), the compiler's identity and flags, wasm2c's version and the bytes wasm2c
 * translates: the module's copy (wasm_rewrite.h) without its data segments, global initial
 * values and custom sections, so that modules differing only in those share an entry. Entry:
 * <dir>/<key>.so, a shared object followed by a trailer (SHA-256 of the object + "KILNSUM1"),
 * written to a temp file and renamed into place, so readers see a complete entry or none, and two
 * processes building the same module both succeed. A corrupt entry (bad trailer) is removed and
 * rebuilt. */
#ifndef KILN_ENGINE_CACHE_H
#define KILN_ENGINE_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"
#include "util/buf.h"

#define KILN_CACHE_KEY_HEX 65

/* Computes the hex key of (bytes: the module's copy, tier, checks); checks AUTO is taken as GUARD
 * (the caller resolves it first, kiln_mem_checks_resolve). */
void kiln_cache_key(const uint8_t *bytes, size_t len, kiln_tier tier, kiln_mem_checks checks,
                    char key[KILN_CACHE_KEY_HEX]);

/* Resolves and creates the cache directory. Returns 0 or -1 with *err. */
int kiln_cache_prepare(const kiln_compile_opts *opts, char *dir, size_t dirlen, kiln_buf *err);

/* Opens a verified entry: returns a read-only fd of the entry file, or -1 when there is
 * none. A corrupt entry is deleted (and reported in *note when non-NULL). */
int kiln_cache_open(const char *dir, const char *key, kiln_buf *note);

/* A unique temporary path in dir for building the entry `key`. Caller frees. */
char *kiln_cache_temp_path(const char *dir, const char *key);

/* Appends the trailer to the object at tmp_path and renames it to the entry path.
 * Returns 0 or -1 with *err. */
int kiln_cache_commit(const char *dir, const char *key, const char *tmp_path, kiln_buf *err);

#endif
