/* Unit tests of the HTTP/1.x codec's pure parsing (http1_parse.c): heads and their
 * framing decisions (Content-Length, chunked, Expect, Connection, the limits, the HTTP/2
 * preface), and bodies decoded from pieces of every size with a body buffer of every
 * room: chunk extensions and trailers, pipelined bytes left after the body, a malformed
 * chunk (400) and a body over max_body (413). */
#include "server/http1_parse.h"
#include "util/test.h"

#include <stdio.h>
#include <string.h>

static kiln_h1_head head;
static kiln_h1_body body; /* the last decode's (its trailers) */

static int parse(const char *s, size_t max_head, size_t max_body)
{
    return kiln_h1_parse_head(s, strlen(s), max_head, max_body, &head);
}

/* Decodes the body of the head at the start of s, fed `piece` bytes at a time through a
 * buffer of `room`; the decoded bytes go to out, the bytes after the body to rest.
 * Returns the decoder's final answer. */
static int decode(const char *s, size_t piece, size_t room, size_t max_body, char *out, char *rest)
{
    char buf[512];
    size_t len = 0, pos, total = strlen(s), outn = 0;
    kiln_h1_body *b = &body;
    if (kiln_h1_parse_head(s, total, 8192, max_body, &head) != KILN_H1_OK) return -100;
    kiln_h1_body_init(b, &head, max_body);
    pos = head.head_len;
    int r = KILN_H1_MORE;
    while (r == KILN_H1_MORE) {
        size_t n = total - pos < piece ? total - pos : piece;
        memcpy(buf + len, s + pos, n);
        len += n;
        pos += n;
        for (;;) { /* decode until no progress */
            size_t before = len, data;
            r = kiln_h1_body_decode(b, buf, &len, room, &data);
            memcpy(out + outn, buf, data);
            outn += data;
            memmove(buf, buf + data, len - data);
            len -= data;
            if (r != KILN_H1_MORE || (!data && len == before)) break;
        }
        if (r == KILN_H1_MORE && pos == total) break;
    }
    out[outn] = 0;
    memcpy(rest, buf, len); /* what follows the body: in buf, then not yet fed */
    memcpy(rest + len, s + pos, total - pos);
    rest[len + total - pos] = 0;
    return r;
}

int main(void)
{
    /* heads */
    CHECK_INT(parse("GET /a?b HTTP/1.1\r\nHost: x\r\n\r\n", 8192, 100), KILN_H1_OK);
    CHECK(head.method_len == 3 && head.path_len == 4 && head.minor == 1 && head.persistent);
    CHECK(!head.has_length && !head.chunked && head.nheaders == 1);
    CHECK_INT(parse("GET /a HTTP/1.1\r\nHost: x\r\n", 8192, 100), KILN_H1_MORE);
    CHECK_INT(parse("GET / HTTP/1.0\r\n\r\n", 8192, 100), KILN_H1_OK);
    CHECK(!head.persistent);
    CHECK_INT(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", 8192, 100), KILN_H1_OK);
    CHECK(head.persistent);
    CHECK_INT(parse("GET / HTTP/1.1\r\nConnection: upgrade, close\r\n\r\n", 8192, 100), 0);
    CHECK(!head.persistent);
    CHECK_INT(parse("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", 8192, 100),
              KILN_H1_OK);
    CHECK(head.has_length && head.length == 5);
    CHECK_INT(parse("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 8192, 100),
              400);
    CHECK_INT(parse("POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n", 8192, 100), 400);
    CHECK_INT(parse("POST / HTTP/1.1\r\nContent-Length: 12345678901234567890\r\n\r\n", 8192, 100),
              400);
    CHECK_INT(parse("POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
                    8192, 100),
              400);
    CHECK_INT(parse("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 8192, 100), 400);
    CHECK_INT(parse("POST / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n", 8192, 100), 0);
    CHECK(head.chunked);
    CHECK_INT(parse("POST / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", 8192, 100), 400); /* folding */
    CHECK_INT(parse("POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n", 8192, 100), 413);
    CHECK(head.head_len > 0); /* (the access log gets the method and path) */
    CHECK_INT(
        parse("POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n", 8192, 100),
        KILN_H1_OK);
    CHECK(head.expect_continue);
    CHECK_INT(parse("POST / HTTP/1.1\r\nExpect: teapot\r\n\r\n", 8192, 100), 417);
    CHECK_INT(parse("GET / HTTP/1.1\r\nX: 0123456789012345678901234567890123456789\r\n", 40, 100),
              431);
    CHECK_INT(parse("GET / HTTP/1.1\r\nX: y\r\n\r\n", 20, 100), 431);
    CHECK_INT(parse("GET /\x01 HTTP/1.1\r\n\r\n", 8192, 100), 400);
    CHECK_INT(parse("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 8192, 100), KILN_H1_HTTP2);
    char many[8192] = "GET / HTTP/1.1\r\n";
    for (int i = 0; i < KILN_H1_MAX_HEADERS + 1; i++)
        strcat(many, "X: y\r\n");
    strcat(many, "\r\n");
    CHECK_INT(parse(many, 8192, 100), 431);
    CHECK(kiln_h1_has_token(" a ,keep-alive", 14, "Keep-Alive"));
    CHECK(!kiln_h1_has_token("keep-alive2", 11, "keep-alive"));

    /* bodies, every piece size and room */
    static const char chunked[] = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                                  "5;a=b;c=\"d\"\r\nhello\r\nA \t; x\r\n0123456789\r\n"
                                  "0;last\r\nX-Sum: 15\r\nx-b:\t two words \r\nbad line\r\n"
                                  "\r\nGET /next HTTP/1.1\r\n\r\n";
    struct phr_header tr[4];
    static const char length[] = "POST / HTTP/1.1\r\nContent-Length: 7\r\n\r\nabcdefgGET /";
    int ok = 1;
    char out[512], rest[512];
    for (size_t piece = 1; piece < sizeof chunked; piece++)
        for (size_t room = 1; room < 40; room += 3) {
            int r = decode(chunked, piece, room, 100, out, rest);
            if (r != KILN_H1_OK || strcmp(out, "hello0123456789") != 0 ||
                strcmp(rest, "GET /next HTTP/1.1\r\n\r\n") != 0)
                ok = 0;
            /* the trailer fields, whatever the pieces (the malformed line skipped) */
            if (kiln_h1_trailers(&body, tr, 4) != 2 || tr[0].name_len != 5 ||
                memcmp(tr[0].name, "X-Sum", 5) != 0 || tr[0].value_len != 2 ||
                memcmp(tr[0].value, "15", 2) != 0 || tr[1].value_len != 9 ||
                memcmp(tr[1].value, "two words", 9) != 0)
                ok = 0;
            r = decode(length, piece, room, 100, out, rest);
            if (r != KILN_H1_OK || strcmp(out, "abcdefg") != 0 || strcmp(rest, "GET /") != 0)
                ok = 0;
        }
    CHECK(ok);
    CHECK_INT(decode(chunked, 7, 9, 14, out, rest), 413); /* 15 bytes over a 14 limit */
    CHECK_INT(decode(chunked, 7, 9, 15, out, rest), KILN_H1_OK);
    CHECK_INT(decode("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloX\r\n", 3, 100,
                     100, out, rest),
              400);
    CHECK_INT(decode("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 3, 100, 100,
                     out, rest),
              400);
    /* no trailers; a trailer section over KILN_H1_MAX_TRAILERS: 431 */
    CHECK_INT(decode("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\nX", 2,
                     100, 100, out, rest),
              KILN_H1_OK);
    CHECK(strcmp(out, "a") == 0 && strcmp(rest, "X") == 0 && kiln_h1_trailers(&body, tr, 4) == 0);
    static char big[KILN_H1_MAX_TRAILERS + 200];
    snprintf(big, sizeof big, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nx: ");
    size_t at = strlen(big);
    memset(big + at, 'v', KILN_H1_MAX_TRAILERS);
    memcpy(big + at + KILN_H1_MAX_TRAILERS, "\r\n\r\n", 5);
    char out2[KILN_H1_MAX_TRAILERS + 200], rest2[KILN_H1_MAX_TRAILERS + 200];
    CHECK_INT(decode(big, 300, 100, 100, out2, rest2), 431);
    return test_finish("http1_parse");
}
