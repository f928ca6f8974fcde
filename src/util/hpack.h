/* hpack.h — HPACK (RFC 7541), the header compression of HTTP/2: a decoder with the static
 * and dynamic tables and Huffman decoding, and a small encoder.
 *
 * Decoder. One per connection direction (the peer's encoder state): header blocks are
 * decoded in the order they arrive, each one whole (the caller joins HEADERS and
 * CONTINUATION frames first). Every size is bounded: the dynamic table by the size the
 * caller advertised (SETTINGS_HEADER_TABLE_SIZE; the peer's size updates may not pass
 * it), integers to 32 bits, string lengths by the bytes left in the block, and the
 * decoded header list by list_max (name + value + 32 per field, as
 * SETTINGS_MAX_HEADER_LIST_SIZE counts). Any violation is a COMPRESSION_ERROR for the
 * caller (-1), after which the decoder's state is unusable (the connection must end).
 *
 * Huffman. The code of Appendix B is canonical (codes assigned in order of length, then
 * of symbol), so the table is its 257 code lengths; codes are derived from them once.
 * Decoding walks one bit at a time through the lengths; padding longer than 7 bits, not
 * all ones, or an EOS symbol in the string is an error (5.2).
 *
 * Encoder. Stateless: every field is a literal without indexing (6.2.2), its name as an
 * index into the static table when there is one, strings not Huffman-coded. The peer's
 * dynamic table is then never used, which is always allowed. */
#ifndef KILN_UTIL_HPACK_H
#define KILN_UTIL_HPACK_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* The size of a table entry: name and value octets plus 32 (4.1). */
#define KILN_HPACK_ENTRY_OVERHEAD 32

typedef struct kiln_hpack_entry {
    char *name; /* one allocation: name, NUL, value, NUL */
    char *value;
    uint32_t nlen, vlen;
} kiln_hpack_entry;

typedef struct kiln_hpack_dec {
    kiln_hpack_entry *ring; /* the dynamic table, newest at ring[(head + n - 1) % cap] */
    size_t cap, head, n;
    size_t size;       /* octets in the table (4.1) */
    size_t max_size;   /* the current maximum (the peer's last size update) */
    size_t limit;      /* what the caller advertised: updates may not pass it */
    kiln_buf scratch;  /* a Huffman-decoded string */
    kiln_buf scratch2; /* the other string of a field */
} kiln_hpack_dec;

/* Called once per decoded field, in order; name and value are NUL-terminated and valid
 * only during the call. Returns 0, or -1 to stop decoding (kiln_hpack_decode returns -2). */
typedef int (*kiln_hpack_emit)(void *ctx, const char *name, size_t nlen, const char *value,
                               size_t vlen);

/* A decoder whose dynamic table may hold up to limit octets (4096 is HTTP/2's default). */
void kiln_hpack_dec_init(kiln_hpack_dec *d, size_t limit);
void kiln_hpack_dec_free(kiln_hpack_dec *d);

/* Decodes the header block p[0..n), calling emit for each field. 0; -1 a compression
 * error (malformed, past a bound, or out of memory); -2 emit said stop. Fields past
 * list_max octets in total (name + value + 32 each) are a compression error too. */
int kiln_hpack_decode(kiln_hpack_dec *d, const uint8_t *p, size_t n, size_t list_max,
                      kiln_hpack_emit emit, void *ctx);

/* Appends the field name: value to out as a literal without indexing. Names should be
 * lowercase (HTTP/2 requires it; the encoder does not change them). 0, or -1 out of
 * memory. */
int kiln_hpack_encode(kiln_buf *out, const char *name, size_t nlen, const char *value, size_t vlen);

/* Huffman-decodes s[0..n) into out (appended). 0, or -1 when it is not a valid encoding
 * or out of memory. */
int kiln_hpack_huffman_decode(kiln_buf *out, const uint8_t *s, size_t n);
/* Huffman-encodes s[0..n) into out (appended; for tests and seeds). 0, or -1 out of
 * memory. */
int kiln_hpack_huffman_encode(kiln_buf *out, const uint8_t *s, size_t n);

#endif
