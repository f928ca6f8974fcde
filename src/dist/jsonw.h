/* jsonw.h — writing JSON objects: keys and key/value pairs with their commas, for the
 * manifests, the locked app and the credentials file (strings: util/json.h). */
#ifndef KILN_DIST_JSONW_H
#define KILN_DIST_JSONW_H

#include <stddef.h>

#include "util/buf.h"

/* Appends `"key":` (a comma first when the last byte of b is not '{' or '['). */
int kiln_jsonw_key(kiln_buf *b, const char *key);
/* `"key":"value"` with the same comma rule; skipped when value is NULL. */
int kiln_jsonw_kv(kiln_buf *b, const char *key, const char *value);

#endif
