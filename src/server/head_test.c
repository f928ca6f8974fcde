/* head_test.c — unit tests of the raw HTTP/1 request head checks. */
#include "server/head.h"
#include "util/test.h"

#include <string.h>

static int check(const char *s, size_t max)
{
    return kiln_http1_head_check(s, strlen(s), max);
}

int main(void)
{
    CHECK_INT(check("GET / HTTP/1.1\r\nHost: x\r\n\r\n", 1024), 0);
    CHECK_INT(check("GET / HTTP/1.1\nHost: x\n\n", 1024), 0);
    CHECK_INT(check("POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", 1024), 0);
    CHECK_INT(
        check("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 1024),
        0);
    /* both framing headers, in either order and any case */
    CHECK_INT(
        check("POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 1024),
        400);
    CHECK_INT(
        check("POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\ncontent-length: 3\r\n\r\n", 1024),
        400);
    /* conflicting and repeated Content-Length */
    CHECK_INT(check("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", 1024),
              400);
    CHECK_INT(check("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length:  3 \r\n\r\n", 1024),
              0);
    /* the framing headers in the body do not count */
    CHECK_INT(
        check("POST / HTTP/1.1\r\nContent-Length: 30\r\n\r\nTransfer-Encoding: chunked\r\n", 1024),
        0);
    /* header names that merely start alike do not count */
    CHECK_INT(
        check("GET / HTTP/1.1\r\nContent-Lengthy: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 1024),
        0);
    /* size limit: the head only, not the body */
    CHECK_INT(check("GET / HTTP/1.1\r\nX: aaaaaaaaaaaaaaaaaaaa\r\n\r\n", 20), 431);
    CHECK_INT(check("POST / HTTP/1.1\r\n\r\nbodybodybodybodybodybody", 20), 0);
    /* incomplete head longer than the limit */
    CHECK_INT(check("GET / HTTP/1.1\r\nX: aaaaaaaaaaaaaaaaaaaaaaaaaaaa", 20), 431);
    CHECK_INT(kiln_http1_head_check("", 0, 10), 0);
    CHECK_INT(kiln_http1_head_check("\n", 1, 10), 0);
    return test_finish("head_test");
}
