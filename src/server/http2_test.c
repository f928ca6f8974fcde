/* Unit tests of the HTTP/2 codec's framing (http2_frame.c): the preface, the first frame
 * being SETTINGS, frames fed in pieces of every size giving the same events, padding
 * stripped from DATA and HEADERS (flow control still counting it), PRIORITY inside
 * HEADERS skipped, HEADERS + CONTINUATION joined into one block, and the connection
 * errors: a bad preface, a frame over the size limit, CONTINUATION out of place, a frame
 * between HEADERS and its CONTINUATION, stream-0 rules, bad sizes of control frames,
 * bad padding, PUSH_PROMISE from a client, a header block over its limit. */
#include "server/http2_frame.h"
#include "util/buf.h"
#include "util/test.h"

#include <stdio.h>
#include <string.h>

static kiln_buf wire;

static void put_frame(uint8_t type, uint8_t flags, uint32_t id, const void *p, size_t n)
{
    uint8_t h[9];
    kiln_h2_frame_header(h, n, type, flags, id);
    kiln_buf_append(&wire, h, 9);
    if (n) kiln_buf_append(&wire, p, n);
}

static void start(void)
{
    wire.len = 0;
    kiln_buf_append(&wire, KILN_H2_PREFACE, KILN_H2_PREFACE_LEN);
    put_frame(KILN_H2_SETTINGS, 0, 0, NULL, 0);
}

/* Feeds wire to a reader `piece` bytes at a time; the events, one "type/flags/id/len/flow:
 * payload" line each, then "E<code>" for a connection error, go to out. */
static void run(size_t piece, size_t max_block, char *out, size_t cap)
{
    kiln_h2_reader r;
    kiln_h2_reader_init(&r, max_block);
    kiln_buf in = KILN_BUF_INIT;
    size_t pos = 0, o = 0;
    out[0] = '\0';
    while (pos < wire.len || in.len) {
        size_t n = wire.len - pos < piece ? wire.len - pos : piece;
        kiln_buf_append(&in, wire.data + pos, n);
        pos += n;
        for (;;) {
            size_t used;
            kiln_h2_event ev;
            int rc = kiln_h2_read(&r, (const uint8_t *)in.data, in.len, &used, &ev);
            if (rc < 0) {
                o += (size_t)snprintf(out + o, cap - o, "E%d\n", -rc);
                goto done;
            }
            if (rc == 1)
                o += (size_t)snprintf(out + o, cap - o, "%u/%u/%u/%zu/%zu:%.*s\n", ev.type,
                                      ev.flags, ev.stream_id, ev.len, ev.flow,
                                      ev.type == KILN_H2_PING ? 0 : (int)ev.len,
                                      (const char *)ev.payload);
            memmove(in.data, in.data + used, in.len - used);
            in.len -= used;
            if (!rc && !used) break;
        }
        if (n == 0) break;
    }
done:
    kiln_buf_free(&in);
    kiln_h2_reader_free(&r);
}

/* The events of wire are the same for every piece size; returns them. */
static const char *events(size_t max_block)
{
    static char whole[4096], split[4096];
    run(SIZE_MAX, max_block, whole, sizeof whole);
    for (size_t piece = 1; piece < 40; piece++) {
        run(piece, max_block, split, sizeof split);
        if (strcmp(whole, split) != 0) {
            fprintf(stderr, "  piece %zu:\n%s  whole:\n%s", piece, split, whole);
            return "(depends on the split)";
        }
    }
    return whole;
}

int main(void)
{
    /* the preface and SETTINGS */
    start();
    CHECK_STR(events(1024), "4/0/0/0/0:\n");
    wire.len = 0;
    kiln_buf_append(&wire, "PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n", 24);
    CHECK_STR(events(1024), "E1\n");
    wire.len = 0;
    kiln_buf_append(&wire, "GET / HTTP/1.1\r\n", 16);
    CHECK_STR(events(1024), "E1\n");
    wire.len = 0; /* the first frame must be SETTINGS */
    kiln_buf_append(&wire, KILN_H2_PREFACE, KILN_H2_PREFACE_LEN);
    put_frame(KILN_H2_PING, 0, 0, "12345678", 8);
    CHECK_STR(events(1024), "E1\n");

    /* HEADERS, DATA with padding, PRIORITY in HEADERS */
    start();
    put_frame(KILN_H2_HEADERS, KILN_H2_FLAG_END_HEADERS, 1, "abc", 3);
    put_frame(KILN_H2_DATA, KILN_H2_FLAG_PADDED | KILN_H2_FLAG_END_STREAM, 1, "\003hey\0\0\0", 7);
    put_frame(KILN_H2_HEADERS,
              KILN_H2_FLAG_END_HEADERS | KILN_H2_FLAG_PRIORITY | KILN_H2_FLAG_PADDED |
                  KILN_H2_FLAG_END_STREAM,
              3, "\002\0\0\0\001\020xy\0\0", 10);
    CHECK_STR(events(1024), "4/0/0/0/0:\n1/4/1/3/0:abc\n0/9/1/3/7:hey\n1/5/3/2/0:xy\n");

    /* HEADERS + CONTINUATION joined; END_STREAM kept from HEADERS */
    start();
    put_frame(KILN_H2_HEADERS, KILN_H2_FLAG_END_STREAM, 5, "one-", 4);
    put_frame(KILN_H2_CONTINUATION, 0, 5, "two-", 4);
    put_frame(KILN_H2_CONTINUATION, KILN_H2_FLAG_END_HEADERS, 5, "three", 5);
    put_frame(KILN_H2_PING, 0, 0, "12345678", 8);
    CHECK_STR(events(1024), "4/0/0/0/0:\n1/5/5/13/0:one-two-three\n6/0/0/8/0:\n");
    CHECK_STR(events(10), "4/0/0/0/0:\nE11\n"); /* over the block limit */

    /* CONTINUATION out of place */
    start();
    put_frame(KILN_H2_CONTINUATION, KILN_H2_FLAG_END_HEADERS, 1, "x", 1);
    CHECK_STR(events(1024), "4/0/0/0/0:\nE1\n");
    start(); /* a frame between HEADERS and its CONTINUATION */
    put_frame(KILN_H2_HEADERS, 0, 1, "x", 1);
    put_frame(KILN_H2_PING, 0, 0, "12345678", 8);
    CHECK_STR(events(1024), "4/0/0/0/0:\nE1\n");
    start(); /* CONTINUATION of another stream */
    put_frame(KILN_H2_HEADERS, 0, 1, "x", 1);
    put_frame(KILN_H2_CONTINUATION, KILN_H2_FLAG_END_HEADERS, 3, "y", 1);
    CHECK_STR(events(1024), "4/0/0/0/0:\nE1\n");

    /* frame size, stream 0, control frame sizes, padding, PUSH_PROMISE */
    start();
    {
        uint8_t h[9];
        kiln_h2_frame_header(h, KILN_H2_MAX_FRAME + 1, KILN_H2_DATA, 0, 1);
        kiln_buf_append(&wire, h, 9);
    }
    CHECK_STR(events(1024), "4/0/0/0/0:\nE6\n");
    start();
    put_frame(KILN_H2_DATA, 0, 0, "x", 1);
    CHECK_STR(events(1024), "4/0/0/0/0:\nE1\n");
    start();
    put_frame(KILN_H2_HEADERS, KILN_H2_FLAG_END_HEADERS, 0, "x", 1);
    CHECK_STR(events(1024), "4/0/0/0/0:\nE1\n");
    start();
    put_frame(KILN_H2_PING, 0, 0, "1234567", 7);
    CHECK_STR(events(1024), "4/0/0/0/0:\nE6\n");
    start();
    put_frame(KILN_H2_PING, 0, 1, "12345678", 8);
    CHECK_STR(events(1024), "4/0/0/0/0:\nE1\n");
    start();
    put_frame(KILN_H2_SETTINGS, KILN_H2_FLAG_ACK, 0, "x", 1);
    CHECK_STR(events(1024), "4/0/0/0/0:\nE6\n");
    start();
    put_frame(KILN_H2_SETTINGS, 0, 0, "12345", 5);
    CHECK_STR(events(1024), "4/0/0/0/0:\nE6\n");
    start();
    put_frame(KILN_H2_RST_STREAM, 0, 0, "1234", 4);
    CHECK_STR(events(1024), "4/0/0/0/0:\nE1\n");
    start();
    put_frame(KILN_H2_WINDOW_UPDATE, 0, 0, "123", 3);
    CHECK_STR(events(1024), "4/0/0/0/0:\nE6\n");
    start();
    put_frame(KILN_H2_GOAWAY, 0, 0, "1234567", 7);
    CHECK_STR(events(1024), "4/0/0/0/0:\nE6\n");
    start();
    put_frame(KILN_H2_PRIORITY, 0, 1, "1234", 4);
    CHECK_STR(events(1024), "4/0/0/0/0:\nE6\n");
    start();
    put_frame(KILN_H2_DATA, KILN_H2_FLAG_PADDED, 1, "\005abc", 4);
    CHECK_STR(events(1024), "4/0/0/0/0:\nE1\n");
    start();
    put_frame(KILN_H2_PUSH_PROMISE, KILN_H2_FLAG_END_HEADERS, 1, "1234", 4);
    CHECK_STR(events(1024), "4/0/0/0/0:\nE1\n");

    /* unknown frame types are skipped */
    start();
    put_frame(0x42, 0, 7, "ignored", 7);
    put_frame(KILN_H2_DATA, 0, 1, "ok", 2);
    CHECK_STR(events(1024), "4/0/0/0/0:\n0/0/1/2/2:ok\n");

    kiln_buf_free(&wire);
    return test_finish("http2_test");
}
