/* head.h — checks of a raw HTTP/1.x request head that h2o 2.2.5 does not make.
 *
 * h2o parses HTTP/1 itself but (in Debian's 2.2.5) silently prefers Transfer-Encoding
 * when a request also has Content-Length, accepts header blocks up to ~400 KiB and closes
 * the connection without an answer beyond that. The server looks at the raw bytes of the
 * request head (still at the start of the connection's input buffer when the handler
 * runs) and answers 400 or 431 itself. Pure function: unit-tested and fuzzed. */
#ifndef KILN_SERVER_HEAD_H
#define KILN_SERVER_HEAD_H

#include <stddef.h>

/* Returns 0 when the head at buf is acceptable, 431 when the head (request line and
 * headers, up to the blank line; all of len when there is none) is longer than
 * max_head bytes, 400 when it has both Content-Length and Transfer-Encoding or
 * conflicting Content-Length values. */
int kiln_http1_head_check(const char *buf, size_t len, size_t max_head);

#endif
