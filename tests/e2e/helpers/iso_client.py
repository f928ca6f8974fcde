#!/usr/bin/env python3
"""iso_client.py — small HTTP/1.1 clients for tests/e2e/isolation_*.sh.

Everything talks to 127.0.0.1 only and is bounded in count and time.

  burst PORT PATH N [TIMEOUT]
      opens N connections, then (all at once) sends one GET on each; prints one line per
      connection: "STATUS RETRY_AFTER SECONDS" (STATUS is a number, or dropped:WHY when
      the connection ended without an HTTP status; RETRY_AFTER is the header's value or -).
  hammer PORT PATH TOTAL THREADS MAXSECS
      TOTAL GETs over THREADS keep-alive connections, stopping after MAXSECS; prints
      "sent=N connects=N seconds=S" and then one "STATUS COUNT" line per status
      (dropped:WHY for a request that got no status).
  raw PORT [TIMEOUT]
      sends stdin as is, reads until the server closes (or TIMEOUT, default 5 s); prints
      the response head (status line and headers, CRs shown as \\r, other controls as
      \\xNN), one per line, then "BODY <len>" and "RESPONSES <number of status lines>";
      or "closed" when nothing came back.
  slowloris PORT INTERVAL MAXSECS
      sends a request head one byte every INTERVAL seconds; prints what happened first:
      "closed SECONDS", "answered STATUS SECONDS", or "open SECONDS" after MAXSECS.
"""
import http.client
import socket
import sys
import threading
import time

HOST = "127.0.0.1"


def burst(port, path, n, timeout=15.0):
    results = [None] * n
    conns = [None] * n
    for i in range(n):
        try:
            c = http.client.HTTPConnection(HOST, port, timeout=timeout)
            c.connect()
            conns[i] = c
        except OSError as e:
            results[i] = ("dropped:connect-%s" % type(e).__name__, "-", 0.0)
    go = threading.Barrier(n + 1)

    def one(i):
        try:
            go.wait(timeout=30)
        except threading.BrokenBarrierError:
            pass
        c = conns[i]
        if c is None:
            return
        t = time.monotonic()
        try:
            c.request("GET", path, headers={"Connection": "close"})
            r = c.getresponse()
            r.read()
            results[i] = (str(r.status), r.getheader("Retry-After") or "-", time.monotonic() - t)
        except Exception as e:  # noqa: BLE001 - any failure is a dropped request
            results[i] = ("dropped:%s" % type(e).__name__, "-", time.monotonic() - t)
        finally:
            c.close()

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(n)]
    for th in threads:
        th.start()
    try:
        go.wait(timeout=30)
    except threading.BrokenBarrierError:
        pass
    deadline = time.monotonic() + timeout + 5
    for th in threads:
        th.join(max(0.0, deadline - time.monotonic()))
    for r in results:
        if r is None:
            r = ("dropped:hung", "-", timeout)
        print("%s %s %.3f" % (r[0], r[1], r[2]))


def hammer(port, path, total, nthreads, maxsecs):
    lock = threading.Lock()
    counts = {}
    state = {"sent": 0, "connects": 0}
    stop_at = time.monotonic() + maxsecs

    def take():
        with lock:
            if state["sent"] >= total or time.monotonic() > stop_at:
                return False
            state["sent"] += 1
            return True

    def note(key):
        with lock:
            counts[key] = counts.get(key, 0) + 1

    def worker():
        c = None
        while take():
            try:
                if c is None:
                    c = http.client.HTTPConnection(HOST, port, timeout=10)
                    c.connect()
                    with lock:
                        state["connects"] += 1
                c.request("GET", path)
                r = c.getresponse()
                r.read()
                note(str(r.status))
                if r.will_close:
                    c.close()
                    c = None
            except Exception as e:  # noqa: BLE001
                note("dropped:%s" % type(e).__name__)
                if c is not None:
                    c.close()
                c = None
        if c is not None:
            c.close()

    t = time.monotonic()
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(nthreads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(maxsecs + 15)
    print("sent=%d connects=%d seconds=%.1f" % (state["sent"], state["connects"], time.monotonic() - t))
    for k in sorted(counts):
        print("%s %d" % (k, counts[k]))


def show(b):
    out = []
    for ch in b:
        if ch == 13:
            out.append("\\r")
        elif ch < 0x20 or ch >= 0x7F:
            out.append("\\x%02x" % ch)
        else:
            out.append(chr(ch))
    return "".join(out)


def raw(port, timeout=5.0):
    data = sys.stdin.buffer.read()
    s = socket.create_connection((HOST, port), timeout=timeout)
    try:
        s.sendall(data)
    except OSError:
        pass
    out = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            d = s.recv(65536)
            if not d:
                break
            out += d
    except OSError:
        pass
    s.close()
    if not out:
        print("closed")
        return
    head, sep, body = out.partition(b"\r\n\r\n")
    # split on LF only, so that a bare CR inside a line stays visible as \r
    for line in head.split(b"\n"):
        print(show(line[:-1] if line.endswith(b"\r") else line))
    print("BODY %d" % len(body))
    n = (1 if out.startswith(b"HTTP/") else 0) + out.count(b"\r\nHTTP/1.")
    print("RESPONSES %d" % n)


def slowloris(port, interval, maxsecs):
    head = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 200 + b"\r\n\r\n"
    s = socket.create_connection((HOST, port), timeout=maxsecs)
    t = time.monotonic()
    s.settimeout(interval)
    for i in range(len(head)):
        el = time.monotonic() - t
        if el > maxsecs:
            print("open %.2f" % el)
            return
        try:
            s.sendall(head[i:i + 1])
        except OSError:
            print("closed %.2f" % (time.monotonic() - t))
            return
        try:
            d = s.recv(4096)
        except socket.timeout:
            continue
        except OSError:
            print("closed %.2f" % (time.monotonic() - t))
            return
        el = time.monotonic() - t
        if not d:
            print("closed %.2f" % el)
        else:
            parts = d.split(b" ")
            print("answered %s %.2f" % (parts[1].decode(errors="replace") if len(parts) > 1 else "?", el))
        return
    print("open %.2f" % (time.monotonic() - t))


def main(a):
    cmd = a[0]
    if cmd == "burst":
        burst(int(a[1]), a[2], int(a[3]), float(a[4]) if len(a) > 4 else 15.0)
    elif cmd == "hammer":
        hammer(int(a[1]), a[2], int(a[3]), int(a[4]), float(a[5]))
    elif cmd == "raw":
        raw(int(a[1]), float(a[2]) if len(a) > 2 else 5.0)
    elif cmd == "slowloris":
        slowloris(int(a[1]), float(a[2]), float(a[3]))
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main(sys.argv[1:])
