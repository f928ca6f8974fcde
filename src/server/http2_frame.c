/* http2_frame.c — RFC 9113 framing read from a connection's bytes (see http2_frame.h). */
#include "server/http2_frame.h"

#include <string.h>

void kiln_h2_reader_init(kiln_h2_reader *r, size_t max_block)
{
    memset(r, 0, sizeof *r);
    r->max_block = max_block;
}

void kiln_h2_reader_free(kiln_h2_reader *r)
{
    kiln_buf_free(&r->block);
}

void kiln_h2_frame_header(uint8_t *dst, size_t len, uint8_t type, uint8_t flags, uint32_t id)
{
    dst[0] = (uint8_t)(len >> 16);
    dst[1] = (uint8_t)(len >> 8);
    dst[2] = (uint8_t)len;
    dst[3] = type;
    dst[4] = flags;
    dst[5] = (uint8_t)((id >> 24) & 0x7f);
    dst[6] = (uint8_t)(id >> 16);
    dst[7] = (uint8_t)(id >> 8);
    dst[8] = (uint8_t)id;
}

static uint32_t u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The size and stream rules of the control frames. 0 or a connection error code. */
static int check_control(uint8_t type, uint8_t flags, uint32_t id, size_t len)
{
    switch (type) {
    case KILN_H2_PRIORITY:
        if (!id) return KILN_H2_PROTOCOL_ERROR;
        return len == 5 ? 0 : KILN_H2_FRAME_SIZE_ERROR;
    case KILN_H2_RST_STREAM:
        if (!id) return KILN_H2_PROTOCOL_ERROR;
        return len == 4 ? 0 : KILN_H2_FRAME_SIZE_ERROR;
    case KILN_H2_SETTINGS:
        if (id) return KILN_H2_PROTOCOL_ERROR;
        if ((flags & KILN_H2_FLAG_ACK) ? len != 0 : len % 6 != 0) return KILN_H2_FRAME_SIZE_ERROR;
        return 0;
    case KILN_H2_PUSH_PROMISE: /* a client never sends one (we announce ENABLE_PUSH 0) */
        return KILN_H2_PROTOCOL_ERROR;
    case KILN_H2_PING:
        if (id) return KILN_H2_PROTOCOL_ERROR;
        return len == 8 ? 0 : KILN_H2_FRAME_SIZE_ERROR;
    case KILN_H2_GOAWAY:
        if (id) return KILN_H2_PROTOCOL_ERROR;
        return len >= 8 ? 0 : KILN_H2_FRAME_SIZE_ERROR;
    case KILN_H2_WINDOW_UPDATE:
        return len == 4 ? 0 : KILN_H2_FRAME_SIZE_ERROR;
    }
    return 0;
}

int kiln_h2_read(kiln_h2_reader *r, const uint8_t *buf, size_t len, size_t *used, kiln_h2_event *ev)
{
    *used = 0;
    if (!r->cont_id) r->block.len = 0; /* the last event's block is no longer needed */
    if (r->stage == 0) {
        size_t n = len < KILN_H2_PREFACE_LEN ? len : KILN_H2_PREFACE_LEN;
        if (memcmp(buf, KILN_H2_PREFACE, n) != 0) return -KILN_H2_PROTOCOL_ERROR;
        if (n < KILN_H2_PREFACE_LEN) return 0;
        *used = KILN_H2_PREFACE_LEN;
        r->stage = 1;
        return 0;
    }
    if (len < 9) return 0;
    size_t flen = (size_t)buf[0] << 16 | (size_t)buf[1] << 8 | buf[2];
    uint8_t type = buf[3], flags = buf[4];
    uint32_t id = u32(buf + 5) & 0x7fffffffu;
    if (flen > KILN_H2_MAX_FRAME) return -KILN_H2_FRAME_SIZE_ERROR;
    if (len < 9 + flen) return 0;
    const uint8_t *p = buf + 9;
    *used = 9 + flen;
    if (r->stage == 1) {
        if (type != KILN_H2_SETTINGS || (flags & KILN_H2_FLAG_ACK)) return -KILN_H2_PROTOCOL_ERROR;
        r->stage = 2;
    }
    if (r->cont_id) { /* only this block's CONTINUATION frames may come now */
        if (type != KILN_H2_CONTINUATION || id != r->cont_id) return -KILN_H2_PROTOCOL_ERROR;
        if (r->block.len + flen > r->max_block) return -KILN_H2_ENHANCE_YOUR_CALM;
        if (kiln_buf_append(&r->block, p, flen) < 0) return -KILN_H2_INTERNAL_ERROR;
        if (!(flags & KILN_H2_FLAG_END_HEADERS)) return 0;
        *ev = (kiln_h2_event){KILN_H2_HEADERS, (uint8_t)(r->cont_flags | KILN_H2_FLAG_END_HEADERS),
                              r->cont_id,      (const uint8_t *)r->block.data,
                              r->block.len,    0};
        r->cont_id = 0;
        return 1;
    }
    *ev = (kiln_h2_event){type, flags, id, p, flen, 0};
    switch (type) {
    case KILN_H2_DATA:
        if (!id) return -KILN_H2_PROTOCOL_ERROR;
        ev->flow = flen;
        if (flags & KILN_H2_FLAG_PADDED) {
            if (flen < 1 || (size_t)p[0] > flen - 1) return -KILN_H2_PROTOCOL_ERROR;
            ev->payload = p + 1;
            ev->len = flen - 1 - p[0];
        }
        return 1;
    case KILN_H2_HEADERS: {
        if (!id) return -KILN_H2_PROTOCOL_ERROR;
        size_t off = 0, end = flen;
        if (flags & KILN_H2_FLAG_PADDED) {
            if (flen < 1 || (size_t)p[0] > flen - 1) return -KILN_H2_PROTOCOL_ERROR;
            off = 1;
            end = flen - p[0];
        }
        if (flags & KILN_H2_FLAG_PRIORITY) { /* parsed, ignored */
            if (end - off < 5) return -KILN_H2_PROTOCOL_ERROR;
            off += 5;
        }
        if (end - off > r->max_block) return -KILN_H2_ENHANCE_YOUR_CALM;
        ev->payload = p + off;
        ev->len = end - off;
        ev->flags = flags & (KILN_H2_FLAG_END_STREAM | KILN_H2_FLAG_END_HEADERS);
        if (flags & KILN_H2_FLAG_END_HEADERS) return 1;
        r->cont_id = id;
        r->cont_flags = flags & KILN_H2_FLAG_END_STREAM;
        r->block.len = 0;
        if (kiln_buf_append(&r->block, p + off, end - off) < 0) return -KILN_H2_INTERNAL_ERROR;
        return 0;
    }
    case KILN_H2_CONTINUATION: /* none expected */
        return -KILN_H2_PROTOCOL_ERROR;
    case KILN_H2_PRIORITY:
    case KILN_H2_RST_STREAM:
    case KILN_H2_SETTINGS:
    case KILN_H2_PUSH_PROMISE:
    case KILN_H2_PING:
    case KILN_H2_GOAWAY:
    case KILN_H2_WINDOW_UPDATE: {
        int e = check_control(type, flags, id, flen);
        return e ? -e : 1;
    }
    }
    return 0; /* an unknown type: skipped (RFC 9113 §4.1) */
}
