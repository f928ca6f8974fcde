/* http2_frame.h — the pure part of the HTTP/2 codec (http2.c): RFC 9113 framing read
 * from a connection's input bytes. No sockets, no event loop, no streams: the codec
 * feeds it the connection's input buffer, and the fuzz target (tests/fuzz/fuzz_http2.c)
 * and the unit test (http2_test.c) feed it arbitrary bytes split anywhere.
 *
 * The reader checks the client connection preface, then cuts frames (h2o's exported
 * h2o_http2_decode_frame and payload decoders), checks what can be checked without
 * stream state (frame sizes, stream 0 or not, padding, the first frame being SETTINGS,
 * CONTINUATION following its HEADERS with nothing in between) and joins a header block
 * split over HEADERS + CONTINUATION into one event. Each call yields at most one event;
 * an error is a connection error (RFC 9113 §5.4.1) with the code to send in GOAWAY.
 * A header block is gathered up to max_block bytes; beyond, the reader fails with
 * ENHANCE_YOUR_CALM (HPACK's table could not be kept in step without decoding it). */
#ifndef KILN_SERVER_HTTP2_FRAME_H
#define KILN_SERVER_HTTP2_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* RFC 9113 error codes (GOAWAY and RST_STREAM). */
enum {
    KILN_H2_NO_ERROR = 0,
    KILN_H2_PROTOCOL_ERROR = 1,
    KILN_H2_INTERNAL_ERROR = 2,
    KILN_H2_FLOW_CONTROL_ERROR = 3,
    KILN_H2_STREAM_CLOSED = 5,
    KILN_H2_FRAME_SIZE_ERROR = 6,
    KILN_H2_REFUSED_STREAM = 7,
    KILN_H2_CANCEL = 8,
    KILN_H2_COMPRESSION_ERROR = 9,
    KILN_H2_ENHANCE_YOUR_CALM = 11,
};

/* Frame types (RFC 9113 §6). */
enum {
    KILN_H2_DATA = 0,
    KILN_H2_HEADERS = 1,
    KILN_H2_PRIORITY = 2,
    KILN_H2_RST_STREAM = 3,
    KILN_H2_SETTINGS = 4,
    KILN_H2_PUSH_PROMISE = 5,
    KILN_H2_PING = 6,
    KILN_H2_GOAWAY = 7,
    KILN_H2_WINDOW_UPDATE = 8,
    KILN_H2_CONTINUATION = 9,
};

#define KILN_H2_FLAG_END_STREAM 0x1
#define KILN_H2_FLAG_ACK 0x1
#define KILN_H2_FLAG_END_HEADERS 0x4
#define KILN_H2_FLAG_PADDED 0x8
#define KILN_H2_FLAG_PRIORITY 0x20

#define KILN_H2_PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define KILN_H2_PREFACE_LEN 24
#define KILN_H2_MAX_FRAME 16384 /* our SETTINGS_MAX_FRAME_SIZE (the default) */

typedef struct kiln_h2_reader {
    int stage;          /* 0: preface, 1: the first frame (SETTINGS), 2: frames */
    size_t max_block;   /* a header block's limit */
    uint32_t cont_id;   /* a header block under way on this stream (0: none) */
    uint8_t cont_flags; /* ... its HEADERS frame's END_STREAM */
    kiln_buf block;     /* ... its bytes so far */
} kiln_h2_reader;

/* One thing the reader found. For KILN_H2_HEADERS: a whole header block (payload, len),
 * flags has END_STREAM as the HEADERS frame had it, and END_HEADERS. For KILN_H2_DATA:
 * the data without padding in payload/len, flow the frame's whole length (flow control
 * counts padding). Other types: the frame's payload as sent (sizes checked). Pointers
 * stay valid until the next call. */
typedef struct kiln_h2_event {
    uint8_t type, flags;
    uint32_t stream_id;
    const uint8_t *payload;
    size_t len;
    size_t flow; /* DATA: bytes counted against the windows */
} kiln_h2_event;

void kiln_h2_reader_init(kiln_h2_reader *r, size_t max_block);
void kiln_h2_reader_free(kiln_h2_reader *r);

/* Reads at most one event from buf[0, len): returns 1 (an event in *ev; *used bytes of buf
 * were consumed), 0 (more bytes needed; *used may be > 0: the preface, or a frame joined
 * into a header block), or -code, a connection error (code a KILN_H2_* error). Frames of
 * unknown types are consumed and skipped (0 with *used > 0 then). */
int kiln_h2_read(kiln_h2_reader *r, const uint8_t *buf, size_t len, size_t *used,
                 kiln_h2_event *ev);

/* Writes a frame header for a payload of len bytes at dst (9 bytes). */
void kiln_h2_frame_header(uint8_t *dst, size_t len, uint8_t type, uint8_t flags, uint32_t id);

#endif
