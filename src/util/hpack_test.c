/* hpack_test.c — HPACK against RFC 7541's Appendix C examples (C.2 single fields, C.3/C.4
 * requests without and with Huffman, C.5/C.6 responses with a 256-octet table and
 * eviction), Huffman round trips, the encoder, and malformed blocks refused. */
#include "util/hpack.h"

#include "util/alloc.h"
#include "util/test.h"

#include <stdio.h>
#include <string.h>

/* Parses hex (spaces ignored) into out; returns the length. */
static size_t unhex(const char *hex, uint8_t *out)
{
    size_t n = 0;
    for (const char *p = hex; *p;) {
        if (*p == ' ') {
            p++;
            continue;
        }
        unsigned v;
        sscanf(p, "%2x", &v);
        out[n++] = (uint8_t)v;
        p += 2;
    }
    return n;
}

/* Collects decoded fields as "name: value\n" lines. */
static int collect(void *ctx, const char *name, size_t nlen, const char *value, size_t vlen)
{
    kiln_buf *b = ctx;
    CHECK_INT((int)strlen(name), (int)nlen);
    CHECK_INT((int)strlen(value), (int)vlen);
    return kiln_buf_printf(b, "%s: %s\n", name, value);
}

/* Decodes hex with d; checks the fields and the table size after it. */
static void block(kiln_hpack_dec *d, const char *hex, const char *want, size_t table_size)
{
    uint8_t bytes[1024];
    size_t n = unhex(hex, bytes);
    kiln_buf got = KILN_BUF_INIT;
    CHECK_INT(kiln_hpack_decode(d, bytes, n, 1 << 16, collect, &got), 0);
    CHECK_STR(got.data ? got.data : "", want);
    CHECK_INT((int)d->size, (int)table_size);
    kiln_buf_free(&got);
}

/* 1 if decoding hex with a fresh decoder (table limit 4096) is a compression error. */
static int refused(const char *hex)
{
    uint8_t bytes[256];
    size_t n = unhex(hex, bytes);
    kiln_hpack_dec d;
    kiln_hpack_dec_init(&d, 4096);
    int rc = kiln_hpack_decode(&d, bytes, n, 1 << 16, NULL, NULL);
    kiln_hpack_dec_free(&d);
    return rc == -1;
}

static const char REQ1[] = ":method: GET\n:scheme: http\n:path: /\n:authority: www.example.com\n";
static const char REQ2[] = ":method: GET\n:scheme: http\n:path: /\n:authority: www.example.com\n"
                           "cache-control: no-cache\n";
static const char REQ3[] = ":method: GET\n:scheme: https\n:path: /index.html\n"
                           ":authority: www.example.com\ncustom-key: custom-value\n";
static const char RESP1[] = ":status: 302\ncache-control: private\n"
                            "date: Mon, 21 Oct 2013 20:13:21 GMT\n"
                            "location: https://www.example.com\n";
static const char RESP2[] = ":status: 307\ncache-control: private\n"
                            "date: Mon, 21 Oct 2013 20:13:21 GMT\n"
                            "location: https://www.example.com\n";
static const char RESP3[] =
    ":status: 200\ncache-control: private\n"
    "date: Mon, 21 Oct 2013 20:13:22 GMT\n"
    "location: https://www.example.com\ncontent-encoding: gzip\n"
    "set-cookie: foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1\n";

int main(void)
{
    kiln_hpack_dec d;
    /* C.2: single fields */
    kiln_hpack_dec_init(&d, 4096);
    block(&d, "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572",
          "custom-key: custom-header\n", 55);
    kiln_hpack_dec_free(&d);
    kiln_hpack_dec_init(&d, 4096);
    block(&d, "040c 2f73 616d 706c 652f 7061 7468", ":path: /sample/path\n", 0);
    block(&d, "1008 7061 7373 776f 7264 0673 6563 7265 74", "password: secret\n", 0);
    block(&d, "82", ":method: GET\n", 0);
    kiln_hpack_dec_free(&d);

    /* C.3: requests, no Huffman, one decoder for the three */
    kiln_hpack_dec_init(&d, 4096);
    block(&d, "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d", REQ1, 57);
    block(&d, "8286 84be 5808 6e6f 2d63 6163 6865", REQ2, 110);
    block(&d, "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65", REQ3,
          164);
    kiln_hpack_dec_free(&d);

    /* C.4: the same with Huffman */
    kiln_hpack_dec_init(&d, 4096);
    block(&d, "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff", REQ1, 57);
    block(&d, "8286 84be 5886 a8eb 1064 9cbf", REQ2, 110);
    block(&d, "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf", REQ3, 164);
    kiln_hpack_dec_free(&d);

    /* C.5: responses, a 256-octet table: entries evicted */
    kiln_hpack_dec_init(&d, 256);
    block(&d,
          "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133"
          " 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70"
          " 6c65 2e63 6f6d",
          RESP1, 222);
    block(&d, "4803 3330 37c1 c0bf", RESP2, 222);
    block(&d,
          "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d"
          " 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049"
          " 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e"
          " 3d31",
          RESP3, 215);
    CHECK_INT((int)d.n, 3);
    kiln_hpack_dec_free(&d);

    /* C.6: the same with Huffman */
    kiln_hpack_dec_init(&d, 256);
    block(&d,
          "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6"
          " 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
          RESP1, 222);
    block(&d, "4883 640e ffc1 c0bf", RESP2, 222);
    block(&d,
          "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab"
          " 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f"
          " 9587 3160 65c0 03ed 4ee5 b106 3d50 07",
          RESP3, 215);
    kiln_hpack_dec_free(&d);

    /* Huffman: every byte value round-trips; C.4.1's string encodes as the RFC's */
    {
        uint8_t all[256];
        for (int i = 0; i < 256; i++)
            all[i] = (uint8_t)i;
        kiln_buf enc = KILN_BUF_INIT, dec = KILN_BUF_INIT;
        CHECK_INT(kiln_hpack_huffman_encode(&enc, all, 256), 0);
        CHECK_INT(kiln_hpack_huffman_decode(&dec, (const uint8_t *)enc.data, enc.len), 0);
        CHECK_INT((int)dec.len, 256);
        CHECK(dec.len == 256 && memcmp(dec.data, all, 256) == 0);
        enc.len = 0;
        CHECK_INT(kiln_hpack_huffman_encode(&enc, (const uint8_t *)"www.example.com", 15), 0);
        uint8_t want[16];
        size_t wn = unhex("f1e3 c2e5 f23a 6ba0 ab90 f4ff", want);
        CHECK(enc.len == wn && memcmp(enc.data, want, wn) == 0);
        kiln_buf_free(&enc);
        kiln_buf_free(&dec);
        /* padding longer than 7 bits, padding not all ones, an EOS in the string */
        dec = (kiln_buf)KILN_BUF_INIT;
        CHECK_INT(kiln_hpack_huffman_decode(&dec, (const uint8_t *)"\x1f\xff", 2), -1);
        CHECK_INT(kiln_hpack_huffman_decode(&dec, (const uint8_t *)"\x18", 1), -1);
        CHECK_INT(kiln_hpack_huffman_decode(&dec, (const uint8_t *)"\xff\xff\xff\xff", 4), -1);
        kiln_buf_free(&dec);
    }

    /* the encoder: C.2.2's bytes exactly, a new name, a long value; it decodes back */
    {
        kiln_buf out = KILN_BUF_INIT;
        CHECK_INT(kiln_hpack_encode(&out, ":path", 5, "/sample/path", 12), 0);
        uint8_t want[32];
        size_t wn = unhex("040c 2f73 616d 706c 652f 7061 7468", want);
        CHECK(out.len == wn && memcmp(out.data, want, wn) == 0);
        char big[300];
        memset(big, 'v', sizeof big - 1);
        big[sizeof big - 1] = '\0';
        CHECK_INT(kiln_hpack_encode(&out, "x-custom", 8, big, strlen(big)), 0);
        CHECK_INT(kiln_hpack_encode(&out, "user-agent", 10, "", 0), 0);
        kiln_hpack_dec_init(&d, 4096);
        kiln_buf got = KILN_BUF_INIT;
        CHECK_INT(kiln_hpack_decode(&d, (const uint8_t *)out.data, out.len, 1 << 16, collect, &got),
                  0);
        kiln_buf want_s = KILN_BUF_INIT;
        kiln_buf_printf(&want_s, ":path: /sample/path\nx-custom: %s\nuser-agent: \n", big);
        CHECK_STR(got.data, want_s.data);
        CHECK_INT((int)d.size, 0);
        kiln_hpack_dec_free(&d);
        kiln_buf_free(&got);
        kiln_buf_free(&want_s);
        kiln_buf_free(&out);
    }

    /* malformed blocks */
    CHECK(refused("80"));                   /* index 0 */
    CHECK(refused("be"));                   /* index 62: the dynamic table is empty */
    CHECK(refused("ff ff ff ff ff 0f"));    /* an integer past 32 bits */
    CHECK(refused("ff 80"));                /* an integer cut short */
    CHECK(refused("400a 6375"));            /* a string longer than the block */
    CHECK(refused("3fe1 ff"));              /* a size update past the limit (4096) */
    CHECK(refused("82 20"));                /* a size update after a field */
    CHECK(refused("0085 ffff ffff ff 00")); /* a Huffman name of EOS bits */
    CHECK(!refused("3fe1 1f 82"));          /* an update to 4096 at the start is fine */
    CHECK(!refused("20 400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572"));
    /* the header list bound */
    {
        uint8_t bytes[8];
        size_t n = unhex("8282", bytes); /* :method GET twice: 2 x (7 + 3 + 32) = 84 */
        kiln_hpack_dec_init(&d, 4096);
        CHECK_INT(kiln_hpack_decode(&d, bytes, n, 84, NULL, NULL), 0);
        CHECK_INT(kiln_hpack_decode(&d, bytes, n, 83, NULL, NULL), -1);
        kiln_hpack_dec_free(&d);
    }
    /* a size update to 0 evicts everything; a smaller one evicts the oldest */
    {
        uint8_t bytes[64];
        kiln_hpack_dec_init(&d, 4096);
        block(&d, "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d", REQ1, 57);
        size_t n = unhex("20", bytes);
        CHECK_INT(kiln_hpack_decode(&d, bytes, n, 1 << 16, NULL, NULL), 0);
        CHECK_INT((int)d.size, 0);
        CHECK_INT((int)d.n, 0);
        kiln_hpack_dec_free(&d);
    }
    /* out of memory while adding an entry: a compression error, no leak */
    {
        uint8_t bytes[64];
        size_t n = unhex("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572", bytes);
        for (long k = 0; k < 8; k++) {
            kiln_hpack_dec_init(&d, 4096);
            kiln_alloc_fail_after(k);
            int rc = kiln_hpack_decode(&d, bytes, n, 1 << 16, NULL, NULL);
            kiln_alloc_fail_after(-1);
            CHECK(rc == 0 || rc == -1);
            kiln_hpack_dec_free(&d);
        }
    }
    return test_finish("hpack_test");
}
