/* fuzz_hpack.c — libFuzzer target for the HPACK decoder (util/hpack.c).
 * Input layout: byte 0 picks the dynamic table's limit (0..4080 by 16), byte 1 how many
 * header blocks the rest is cut into (1..4), decoded in order by one decoder. Checked:
 * the table never passes its limit; every field the decoder gives back, encoded again
 * (kiln_hpack_encode) and decoded by a fresh decoder, is the same field; a Huffman string
 * that decodes re-encodes and decodes to the same bytes. */
// fuzz-sources: src/util/hpack.c src/util/alloc.c src/util/buf.c
#include "util/hpack.h"
#include "util/alloc.h"
#include "util/buf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct seen {
    kiln_buf enc;  /* the fields, encoded again */
    kiln_buf flat; /* the fields as name\0value\0 */
} seen;

static int keep(void *ctx, const char *name, size_t nlen, const char *value, size_t vlen)
{
    seen *s = ctx; /* (a NUL inside a string is valid HPACK: only the lengths count) */
    if (kiln_hpack_encode(&s->enc, name, nlen, value, vlen) < 0) abort();
    if (kiln_buf_append(&s->flat, name, nlen) < 0 || kiln_buf_append(&s->flat, "", 1) < 0 ||
        kiln_buf_append(&s->flat, value, vlen) < 0 || kiln_buf_append(&s->flat, "", 1) < 0)
        abort();
    return 0;
}

static int flat(void *ctx, const char *name, size_t nlen, const char *value, size_t vlen)
{
    kiln_buf *b = ctx;
    if (kiln_buf_append(b, name, nlen) < 0 || kiln_buf_append(b, "", 1) < 0 ||
        kiln_buf_append(b, value, vlen) < 0 || kiln_buf_append(b, "", 1) < 0)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    size_t limit = (size_t)data[0] * 16;
    size_t blocks = (size_t)(data[1] % 4) + 1;
    data += 2;
    size -= 2;
    kiln_hpack_dec d;
    kiln_hpack_dec_init(&d, limit);
    size_t off = 0;
    for (size_t b = 0; b < blocks; b++) {
        size_t n = b + 1 == blocks ? size - off : size / blocks;
        seen s = {KILN_BUF_INIT, KILN_BUF_INIT};
        int rc = kiln_hpack_decode(&d, data + off, n, 1 << 20, keep, &s);
        off += n;
        if (d.size > d.max_size || d.max_size > limit) abort();
        if (rc == 0) { /* what was decoded survives an encode/decode round trip */
            kiln_hpack_dec d2;
            kiln_hpack_dec_init(&d2, 4096);
            kiln_buf again = KILN_BUF_INIT;
            if (kiln_hpack_decode(&d2, (const uint8_t *)s.enc.data, s.enc.len, (size_t)-1, flat,
                                  &again) != 0)
                abort();
            if (again.len != s.flat.len ||
                (again.len && memcmp(again.data, s.flat.data, again.len)))
                abort();
            kiln_buf_free(&again);
            kiln_hpack_dec_free(&d2);
        }
        kiln_buf_free(&s.enc);
        kiln_buf_free(&s.flat);
        if (rc != 0) break;
    }
    kiln_hpack_dec_free(&d);
    /* the whole input as one Huffman string */
    kiln_buf h = KILN_BUF_INIT, e = KILN_BUF_INIT, h2 = KILN_BUF_INIT;
    if (kiln_hpack_huffman_decode(&h, data, size) == 0) {
        if (kiln_hpack_huffman_encode(&e, (const uint8_t *)h.data, h.len) < 0) abort();
        if (kiln_hpack_huffman_decode(&h2, (const uint8_t *)e.data, e.len) != 0) abort();
        if (h2.len != h.len || (h.len && memcmp(h.data, h2.data, h.len))) abort();
    }
    kiln_buf_free(&h);
    kiln_buf_free(&e);
    kiln_buf_free(&h2);
    return 0;
}
