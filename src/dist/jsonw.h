/* jsonw.h — writing JSON text: what the distribution code needs to emit manifests, the
 * locked app and the credentials file (util/json.h only parses). */
#ifndef KILN_DIST_JSONW_H
#define KILN_DIST_JSONW_H

#include <stddef.h>

#include "util/buf.h"

/* Appends s as a quoted JSON string (", \\, control characters escaped; bytes >= 0x80
 * copied as they are, so valid UTF-8 stays valid). 0 or -1 (out of memory). */
int kiln_jsonw_str(kiln_buf *b, const char *s);
int kiln_jsonw_strn(kiln_buf *b, const char *s, size_t n);
/* Appends `"key":` (a comma first when the last byte of b is not '{' or '['). */
int kiln_jsonw_key(kiln_buf *b, const char *key);
/* `"key":"value"` with the same comma rule; skipped when value is NULL. */
int kiln_jsonw_kv(kiln_buf *b, const char *key, const char *value);

#endif
