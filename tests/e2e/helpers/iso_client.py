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
  sleepers PORT PATH N PROBE_PATH [TIMEOUT]
      N connections send one GET PATH each at once (asyncio, one thread), while one more
      connection sends GET PROBE_PATH one after the other (keep-alive) until the N are
      answered; prints "ok=N failed=N seconds=S" (S: from the first send to the last
      answer of the N) and "probe n=N failed=N p50=MS p99=MS max=MS".
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


def sleepers(port, path, n, probe_path, timeout=30.0):
    import asyncio

    async def get(reader, writer, p, close):
        writer.write(("GET %s HTTP/1.1\r\nHost: x\r\n%s\r\n" %
                      (p, "Connection: close\r\n" if close else "")).encode())
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        await reader.readexactly(length)
        return status

    async def one(start):
        try:
            r, w = await asyncio.open_connection(HOST, port, limit=1 << 20)
        except OSError:
            return None
        await start.wait()
        try:
            st = await asyncio.wait_for(get(r, w, path, True), timeout)
            return time.monotonic() if st == 200 else None
        except Exception:  # noqa: BLE001 - any failure counts as failed
            return None
        finally:
            w.close()

    async def probe(done, lat):
        failed = 0
        r, w = await asyncio.open_connection(HOST, port)
        while not done.is_set():
            t = time.monotonic()
            try:
                st = await asyncio.wait_for(get(r, w, probe_path, False), 10)
                lat.append((time.monotonic() - t) * 1000)
                if st != 200:
                    failed += 1
            except Exception:  # noqa: BLE001
                failed += 1
                w.close()
                r, w = await asyncio.open_connection(HOST, port)
        w.close()
        return failed

    async def run():
        start = asyncio.Event()
        done = asyncio.Event()
        lat = []
        tasks = [asyncio.ensure_future(one(start)) for _ in range(n)]
        await asyncio.sleep(0.5)  # let the connections open
        p = asyncio.ensure_future(probe(done, lat))
        t0 = time.monotonic()
        start.set()
        ends = await asyncio.gather(*tasks)
        done.set()
        pfailed = await p
        ok = [e for e in ends if e is not None]
        secs = (max(ok) - t0) if ok else 0.0
        print("ok=%d failed=%d seconds=%.3f" % (len(ok), n - len(ok), secs))
        lat.sort()
        if lat:
            q = lambda f: lat[min(len(lat) - 1, int(f * len(lat)))]  # noqa: E731
            print("probe n=%d failed=%d p50=%.2f p99=%.2f max=%.2f" %
                  (len(lat), pfailed, q(0.5), q(0.99), lat[-1]))
        else:
            print("probe n=0 failed=%d p50=0 p99=0 max=0" % pfailed)

    asyncio.run(run())


def main(a):
    cmd = a[0]
    if cmd == "burst":
        burst(int(a[1]), a[2], int(a[3]), float(a[4]) if len(a) > 4 else 15.0)
    elif cmd == "hammer":
        hammer(int(a[1]), a[2], int(a[3]), int(a[4]), float(a[5]))
    elif cmd == "raw":
        raw(int(a[1]), float(a[2]) if len(a) > 2 else 5.0)
    elif cmd == "sleepers":
        sleepers(int(a[1]), a[2], int(a[3]), a[4], float(a[5]) if len(a) > 5 else 30.0)
    elif cmd == "slowloris":
        slowloris(int(a[1]), float(a[2]), float(a[3]))
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main(sys.argv[1:])
