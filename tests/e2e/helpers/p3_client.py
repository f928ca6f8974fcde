#!/usr/bin/env python3
"""A raw HTTP/1.1 client for tests/e2e/p3_jco_diff.sh: it can send a chunked request body in
pieces with pauses and request trailers (curl cannot), and prints trailers it receives.

    p3_client.py HOST:PORT METHOD PATH [-H 'name: value']... [-p PIECE]... [-f FILE]
                 [-d MS] [-t 'name: value']... [-s 1]

-p pieces (and FILE, in pieces of 64 KiB) are sent as one chunk each (Transfer-Encoding:
chunked), -d MS apart, then -t trailers; without -p or -f no body. -s 1 sorts the lines
of the body it prints (hosts may list a name's fields together). Prints the status code, the response's header fields
(lower-cased, sorted, without date, server, connection, keep-alive, transfer-encoding,
content-length, trailer), "--", the body, "-- trailers" and the trailer fields (sorted)."""
import socket
import sys
import time

SKIP = {"date", "server", "connection", "keep-alive", "transfer-encoding", "content-length",
        "trailer"}


def fields(lines):
    out = []
    for line in lines:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name not in SKIP:
            out.append("%s: %s" % (name, value.strip()))
    return sorted(out)


def main():
    addr, method, path = sys.argv[1:4]
    headers, pieces, trailers, delay, sort = [], [], [], 0.0, False
    args = sys.argv[4:]
    for flag, value in zip(args[::2], args[1::2]):
        {"-H": headers, "-p": pieces, "-t": trailers}.get(flag, []).append(value)
        if flag == "-d":
            delay = int(value) / 1000.0
        elif flag == "-s":
            sort = value == "1"
        elif flag == "-f":
            with open(value, "rb") as f:
                data = f.read()
            pieces += [data[i:i + 65536] for i in range(0, len(data), 65536)]
    host, port = addr.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=20)
    head = "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\nTE: trailers\r\n" % (
        method, path, addr)
    for h in headers:
        head += h + "\r\n"
    if pieces:
        head += "Transfer-Encoding: chunked\r\n"
    s.sendall((head + "\r\n").encode())
    for i, piece in enumerate(pieces):
        if i and delay:
            time.sleep(delay)
        data = piece if isinstance(piece, bytes) else piece.encode()
        s.sendall(b"%x\r\n%s\r\n" % (len(data), data))
    if pieces:
        s.sendall(("0\r\n" + "".join(t + "\r\n" for t in trailers) + "\r\n").encode())
    f = s.makefile("rb")
    status = f.readline().decode().split()[1]
    hdrs = []
    while True:
        line = f.readline().decode().rstrip("\r\n")
        if not line:
            break
        hdrs.append(line)
    lower = {h.split(":", 1)[0].strip().lower(): h.split(":", 1)[1].strip() for h in hdrs}
    body, tlines = b"", []
    if lower.get("transfer-encoding", "").lower() == "chunked":
        while True:
            n = int(f.readline().split(b";")[0], 16)
            if n == 0:
                break
            body += f.read(n)
            f.readline()
        while True:
            line = f.readline().decode().rstrip("\r\n")
            if not line:
                break
            tlines.append(line)
    elif "content-length" in lower:
        body = f.read(int(lower["content-length"]))
    else:
        body = f.read()
    print(status)
    print("\n".join(fields(hdrs)))
    print("--")
    text = body.decode(errors="replace")
    if sort:
        text = "".join(sorted(text.splitlines(keepends=True)))
    sys.stdout.write(text)
    print("-- trailers")
    print("\n".join(fields(tlines)))


main()
