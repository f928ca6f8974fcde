/* router.h — maps a request path to the trigger that serves it (Spin's route syntax).
 *
 * Route syntax:
 *   /cart            exact: only /cart (a trailing slash on either side is ignored)
 *   /users/...       wildcard: /users and everything below it; a trailing "*" segment is a synonym
 *   /users/:id/edit  a named segment matches exactly one non-empty path segment
 *
 * Precedence: a route that consumes the whole path without a wildcard wins; otherwise
 * the wildcard route with the longest prefix (in segments); on a tie, literal segments
 * beat named ones. A duplicate route replaces the earlier one (kiln_router_add says so).
 *
 * The router is built once and then only read (lookups are thread-safe). Lookup walks a
 * segment trie whose literal children are found through one hash table, so its cost
 * depends on the number of path segments, not on the number of routes. Paths are
 * matched raw (percent-encoded), without the query string. */
#ifndef KILN_SERVER_ROUTER_H
#define KILN_SERVER_ROUTER_H

#include <stddef.h>

#include "exec/handler.h" /* kiln_route_match */

typedef struct kiln_router kiln_router;

kiln_router *kiln_router_new(void);
void kiln_router_free(kiln_router *r);

/* Adds a route. Returns 0 when added, 1 when it replaced an earlier identical route,
 * -1 on a malformed route or out of memory (*err: a static message). */
int kiln_router_add(kiln_router *r, const char *route, void *target, const char **err);

/* Finds the route for `path` (len bytes, no query). Returns 1 and fills *m (release with
 * kiln_route_match_free), 0 when nothing matches, -1 when out of memory. */
int kiln_router_lookup(const kiln_router *r, const char *path, size_t len, kiln_route_match *m);
void kiln_route_match_free(kiln_route_match *m);

/* Number of routes (after replacements). */
size_t kiln_router_count(const kiln_router *r);

#endif
