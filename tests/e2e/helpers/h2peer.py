"""h2peer.py CERT KEY PORT -- a scripted HTTP/2 server over TLS (ALPN h2) for
tests/e2e/up_outbound_h2_peer.sh: each request path picks how it answers, some of them
wrong on purpose, to check Kiln's HTTP/2 client (host/wasihttp/client_h2.c) against a
peer it cannot trust. Requests' headers are decoded only as Kiln encodes them (literals
without indexing, no Huffman)."""
import socket, ssl, struct, sys, threading

CERT, KEY, PORT = sys.argv[1], sys.argv[2], int(sys.argv[3])
state = {"refused": 0, "conns": 0}
lock = threading.Lock()


def frame(t, flags, sid, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([t, flags]) + struct.pack(">I", sid) + payload


def lit(name_idx, value, name=None, index=False):
    """A literal field: with incremental indexing (index) or without, name by index or new."""
    out = bytearray()
    if index:
        out.append(0x40 | name_idx)
    else:
        out.append(name_idx)
    if name_idx == 0:
        out.append(len(name))
        out += name
    out.append(len(value))
    out += value
    return bytes(out)


def read_int(b, i, prefix):
    mask = (1 << prefix) - 1
    v = b[i] & mask
    i += 1
    if v < mask:
        return v, i
    m = 0
    while True:
        c = b[i]
        i += 1
        v += (c & 0x7F) << m
        m += 7
        if not c & 0x80:
            return v, i


def path_of(block):
    i = 0
    while i < len(block):
        idx, i = read_int(block, i, 4)
        if idx == 0:
            n, i = read_int(block, i, 7)
            i += n
        n, i = read_int(block, i, 7)
        v = block[i:i + n]
        i += n
        if idx == 4:
            return v.decode()
    return ""


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError
        b += c
    return b


def serve(s):
    with lock:
        state["conns"] += 1
    recv_exact(s, 24)  # the preface
    s.sendall(frame(4, 0, 0))  # our SETTINGS (defaults)
    block = b""
    while True:
        h = recv_exact(s, 9)
        n = struct.unpack(">I", b"\0" + h[:3])[0]
        t, flags, sid = h[3], h[4], struct.unpack(">I", h[5:])[0] & 0x7FFFFFFF
        p = recv_exact(s, n)
        if t == 4 and not flags & 1:
            s.sendall(frame(4, 1, 0))
        if t not in (1, 9):
            continue
        block += p
        if not flags & 4:
            continue
        path, block = path_of(block), b""
        answer(s, sid, path)


def answer(s, sid, path):
    ok = bytes([0x88])  # :status 200 (static index 8)
    if path == "/trailers":
        s.sendall(frame(1, 4, sid, ok) + frame(0, 0, sid, b"body then trailers")
                  + frame(1, 5, sid, lit(0, b"yes", b"x-trailer")))
    elif path == "/dyn1":  # x-upstream: dynamic, added to the table
        s.sendall(frame(1, 5, sid, ok + lit(0, b"dynamic", b"x-upstream", index=True)))
    elif path == "/dyn2":  # the same field by its dynamic index (62)
        s.sendall(frame(1, 5, sid, ok + bytes([0xBE])))
    elif path == "/huffman":  # x-upstream: "www.example.com", Huffman-coded (RFC 7541 C.4.1)
        v = bytes.fromhex("f1e3c2e5f23a6ba0ab90f4ff")
        s.sendall(frame(1, 5, sid, ok + bytes([0, 10]) + b"x-upstream" + bytes([0x80 | len(v)]) + v))
    elif path == "/padded":  # padded HEADERS and DATA
        s.sendall(frame(1, 4 | 8, sid, bytes([3]) + ok + b"\0\0\0")
                  + frame(0, 1 | 8, sid, bytes([2]) + b"padded body" + b"\0\0"))
    elif path == "/refused":  # the first try refused: sent again on a new connection
        with lock:
            state["refused"] += 1
            first = state["refused"] == 1
        if first:
            s.sendall(frame(3, 0, sid, struct.pack(">I", 7)))
        else:
            s.sendall(frame(1, 4, sid, ok) + frame(0, 1, sid, b"after a refusal"))
    elif path == "/ping":  # a PING first: answered before the response comes
        s.sendall(frame(6, 0, 0, b"12345678"))
        s.sendall(frame(1, 4, sid, ok) + frame(0, 1, sid, b"pinged"))
    elif path == "/rst":  # the stream reset after the head: the body fails
        s.sendall(frame(1, 4, sid, ok) + frame(0, 0, sid, b"partial") + frame(3, 0, sid, struct.pack(">I", 2)))
    elif path == "/badhpack":  # index 0: a compression error, the connection ends
        s.sendall(frame(1, 5, sid, bytes([0x80])))
    elif path == "/bigframe":  # longer than SETTINGS_MAX_FRAME_SIZE
        s.sendall(frame(1, 4, sid, ok) + frame(0, 0, sid, b"x" * 20000))
    elif path == "/dataearly":  # DATA before any HEADERS
        s.sendall(frame(0, 1, sid, b"too early"))
    elif path == "/nostatus":  # a head without :status
        s.sendall(frame(1, 5, sid, lit(0, b"v", b"x-a")))
    elif path == "/upper":  # an uppercase field name: malformed
        s.sendall(frame(1, 5, sid, ok + lit(0, b"v", b"X-Upper")))
    elif path == "/push":  # PUSH_PROMISE although push is off
        s.sendall(frame(5, 4, sid, struct.pack(">I", 2) + ok))
    elif path == "/window":  # a window overflow: WINDOW_UPDATE past 2^31-1
        s.sendall(frame(8, 0, 0, struct.pack(">I", 0x7FFFFFFF)))
    else:
        s.sendall(frame(1, 4, sid, ok) + frame(0, 1, sid, b"conns %d" % state["conns"]))


ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(CERT, KEY)
ctx.set_alpn_protocols(["h2"])
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", PORT))
ls.listen(64)


def handle(c):
    try:
        s = ctx.wrap_socket(c, server_side=True)
        serve(s)
    except Exception:
        pass
    finally:
        c.close()


while True:
    c, _ = ls.accept()
    threading.Thread(target=handle, args=(c,), daemon=True).start()
