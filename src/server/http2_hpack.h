/* http2_hpack.h — the HPACK functions libh2o-evloop exports, declared as h2o 2.2.5's
 * h2o/http2_internal.h declares them (that header cannot be included: it needs khash.h,
 * which Debian does not install). Used by server/http2.c and tests/fuzz/fuzz_http2.c. */
#ifndef KILN_SERVER_HTTP2_HPACK_H
#define KILN_SERVER_HTTP2_HPACK_H

#include <stddef.h>
#include <stdint.h>

#define H2O_USE_LIBUV 0
#include <h2o.h>
#include <h2o/cache_digests.h>
#include <h2o/http2.h>

typedef struct st_h2o_hpack_header_table_t {
    struct st_h2o_hpack_header_table_entry_t *entries; /* a ring buffer */
    size_t num_entries, entry_capacity, entry_start_index;
    size_t hpack_size, hpack_capacity, hpack_max_capacity;
} h2o_hpack_header_table_t;

#define H2O_HPACK_PARSE_HEADERS_METHOD_EXISTS 1
#define H2O_HPACK_PARSE_HEADERS_SCHEME_EXISTS 2
#define H2O_HPACK_PARSE_HEADERS_PATH_EXISTS 4
#define H2O_HPACK_PARSE_HEADERS_AUTHORITY_EXISTS 8

void h2o_hpack_dispose_header_table(h2o_hpack_header_table_t *header_table);
int h2o_hpack_parse_headers(h2o_req_t *req, h2o_hpack_header_table_t *header_table,
                            const uint8_t *src, size_t len, int *pseudo_header_exists_map,
                            size_t *content_length, h2o_cache_digests_t **digests,
                            const char **err_desc);
size_t h2o_hpack_encode_string(uint8_t *dst, const char *s, size_t len);
void h2o_hpack_flatten_response(h2o_buffer_t **buf, h2o_hpack_header_table_t *header_table,
                                uint32_t stream_id, size_t max_frame_size, h2o_res_t *res,
                                h2o_timestamp_t *ts, const h2o_iovec_t *server_name,
                                size_t content_length);
int h2o_http2_update_peer_settings(h2o_http2_settings_t *settings, const uint8_t *src, size_t len,
                                   const char **err_desc);

#endif
