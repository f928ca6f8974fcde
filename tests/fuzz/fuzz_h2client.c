/* fuzz_h2client.c — libFuzzer target for the HTTP/2 client's frame handling
 * (host/wasihttp/client_h2.c, included so that its static parser is reachable): what a
 * hostile upstream sends, after the connection is set up. No socket: the connection has
 * no descriptor (ending it only marks it), three streams (ids 1, 3, 5; one a HEAD, one
 * with a request body) are open on it, and the input is fed in pieces whose sizes come
 * from byte 0. Checked by the sanitizers, and: a stream's buffered body never passes its
 * window, what the guest would read comes out in order, and everything is freed. */
// fuzz-sources: src/host/wasihttp/fields.c src/host/wasihttp/client_chunk.c src/util/hpack.c src/util/alloc.c src/util/buf.c
#include "host/wasihttp/client_h2.c"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    unsigned split = data[0];
    data++;
    size--;
    h2conn *c = kiln_calloc(1, sizeof *c);
    if (!c) return 0;
    c->fd = -1;
    c->out = (kiln_buf)KILN_BUF_INIT;
    c->in = (kiln_buf)KILN_BUF_INIT;
    c->hblock = (kiln_buf)KILN_BUF_INIT;
    kiln_hpack_dec_init(&c->dec, 4096);
    c->next_id = 7;
    c->peer_max_streams = 100;
    c->peer_init_win = 65535;
    c->peer_max_frame = 16384;
    c->send_win = 65535;
    h2_stream *s[3];
    for (int i = 0; i < 3; i++) {
        s[i] = kiln_calloc(1, sizeof *s[i]);
        if (!s[i]) abort();
        s[i]->id = (uint32_t)(2 * i + 1);
        s[i]->c = c;
        s[i]->efd = -1;
        s[i]->recv_win = STREAM_WINDOW;
        s[i]->send_win = 65535;
        s[i]->head_only = i == 1;
        s[i]->req_done = i != 2;
        if (i == 2 && kiln_buf_append(&s[i]->req, "request body", 12) < 0) abort();
        s[i]->next = c->streams;
        c->streams = s[i];
        c->active++;
    }
    size_t off = 0;
    while (off < size && !c->dead) {
        size_t n = 1 + (split ? (off * 131 + split) % 4096 : size);
        if (n > size - off) n = size - off;
        if (kiln_buf_append(&c->in, data + off, n) < 0) abort();
        off += n;
        if (parse(c) < 0) break;
        send_bodies(c);
        for (int i = 0; i < 3; i++) { /* the guest reads some */
            if (s[i]->data.len - s[i]->data_off > STREAM_WINDOW) abort();
            char buf[700];
            int eof;
            uint32_t ecode;
            uint16_t status;
            wh_fields *h = NULL;
            if (wh_h2_head(s[i], &status, &h, &ecode) == 1) wh_fields_free(h);
            (void)wh_h2_read(s[i], buf, sizeof buf, &eof, &ecode);
        }
    }
    for (int i = 0; i < 3; i++)
        wh_h2_close(s[i]);
    conn_free(c);
    return 0;
}
