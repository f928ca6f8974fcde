/* http1_parse.h — the pure part of the HTTP/1.x codec (http1.c): a request head's parse
 * and framing decisions, and the request body's decoding with its size limit. No sockets,
 * no event loop: the codec feeds it the connection's input buffer, and the fuzz target
 * (tests/fuzz/fuzz_http1.c) and the unit test (http1_parse_test.c) feed it arbitrary
 * bytes split anywhere.
 *
 * Head: picohttpparser (exported by libh2o-evloop) splits the head; the framing is then
 * decided here — Content-Length (digits only; repeated values must agree), Transfer-
 * Encoding (only a single `chunked`; both together are 400), Expect (only 100-continue,
 * else 417), obsolete line folding (400), a head over max_head (431), a Content-Length
 * over max_body (413), persistence from the version and Connection.
 * Body: Content-Length or chunked (extensions accepted and dropped; the trailer section
 * kept, at most KILN_H1_MAX_TRAILERS bytes, else 431, and its fields split by
 * kiln_h1_trailers), decoded in place, never more than the body's announced or max_body
 * bytes (413 beyond). */
#ifndef KILN_SERVER_HTTP1_PARSE_H
#define KILN_SERVER_HTTP1_PARSE_H

#include <stddef.h>
#include <sys/types.h>

/* picohttpparser as exported by libh2o-evloop (its header is not installed): the
 * declarations of h2o 2.2.5's copy. */
struct phr_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};
int phr_parse_request(const char *buf, size_t len, const char **method, size_t *method_len,
                      const char **path, size_t *path_len, int *minor_version,
                      struct phr_header *headers, size_t *num_headers, size_t last_len);
struct phr_chunked_decoder {
    size_t bytes_left_in_chunk;
    char consume_trailer;
    char _hex_count;
    char _state;
};
ssize_t phr_decode_chunked(struct phr_chunked_decoder *decoder, char *buf, size_t *bufsz);

#define KILN_H1_MAX_HEADERS 128

enum {
    KILN_H1_OK = 0,     /* a complete head / the body's end */
    KILN_H1_MORE = -2,  /* more bytes needed */
    KILN_H1_HTTP2 = -3, /* the head is HTTP/2's cleartext prior-knowledge preface */
};

/* A parsed head; the pointers point into the parsed buffer. */
typedef struct kiln_h1_head {
    size_t head_len; /* bytes of the head (0: not parsed) */
    const char *method, *path;
    size_t method_len, path_len;
    int minor; /* HTTP/1.minor */
    struct phr_header headers[KILN_H1_MAX_HEADERS];
    size_t nheaders;
    int has_length;      /* Content-Length given */
    size_t length;       /* ... its value */
    int chunked;         /* Transfer-Encoding: chunked */
    int expect_continue; /* Expect: 100-continue */
    int persistent;      /* keep-alive after this exchange (as the client asks) */
} kiln_h1_head;

/* Parses the request head at buf[0, len). Returns KILN_H1_OK, KILN_H1_MORE, KILN_H1_HTTP2,
 * or the status the codec answers itself: 400, 413, 417, 431. With OK, 413 and 417 (and
 * 400 for a bad framing header), h->head_len > 0 and h describes the head. */
int kiln_h1_parse_head(const char *buf, size_t len, size_t max_head, size_t max_body,
                       kiln_h1_head *h);

/* 1 when the comma-separated list v[0, n) holds token tok (case-insensitive). */
int kiln_h1_has_token(const char *v, size_t n, const char *tok);

#define KILN_H1_MAX_TRAILERS 8192

/* The decoding state of one request body. */
typedef struct kiln_h1_body {
    int chunked;
    size_t left; /* Content-Length bytes still to come */
    size_t seen; /* decoded bytes so far */
    size_t max;  /* max_body */
    struct phr_chunked_decoder dec;
    int in_trailers;     /* past the last chunk: reading the trailer section */
    size_t line;         /* bytes of the trailer line being read (CR not counted) */
    size_t trailers_len; /* the trailer section's bytes kept (its closing empty line not) */
    char trailers[KILN_H1_MAX_TRAILERS];
} kiln_h1_body;

/* The body of head h (which must have one: chunked or a Content-Length > 0). */
void kiln_h1_body_init(kiln_h1_body *b, const kiln_h1_head *h, size_t max_body);

/* Decodes the body's bytes at the front of buf[0, *size), reading at most `room` of them.
 * On return the decoded data is at buf[0, *data) and buf[*data, *size) holds the bytes not
 * yet decoded (after KILN_H1_OK: what follows the body). Returns KILN_H1_MORE, KILN_H1_OK
 * (the body ended), 400 (a malformed chunk) or 413 (over max_body; *data is 0). */
int kiln_h1_body_decode(kiln_h1_body *b, char *buf, size_t *size, size_t room, size_t *data);

/* After a chunked body ended: its trailer fields, at most max of them, into out (the
 * pointers point into b; names checked as tokens, values trimmed; malformed lines are
 * skipped). Returns how many. */
size_t kiln_h1_trailers(const kiln_h1_body *b, struct phr_header *out, size_t max);

#endif
