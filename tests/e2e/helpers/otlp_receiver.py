#!/usr/bin/env python3
"""otlp_receiver.py — a small OTLP/HTTP trace receiver for the tests (up_otel.sh).

  otlp_receiver.py serve PORT DIR [--delay SECONDS] [--status CODE]
      accepts POST /v1/traces, saves each body as DIR/N.json or DIR/N.pb (by its
      Content-Type), answers CODE (200) after SECONDS (0).
  otlp_receiver.py spans DIR
      decodes every saved body (the OTLP JSON mapping, or protobuf decoded here by hand)
      and prints one JSON span per line: traceId, spanId, parentSpanId (hex), name, kind,
      start, end (int ns), status code, attributes {key: value}, service (service.name).
"""
import http.server
import json
import os
import sys
import time


def serve(port, outdir, delay, status):
    count = [0]

    class H(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(n)
            if delay:
                time.sleep(delay)
            if self.path == "/v1/traces":
                count[0] += 1
                ext = "pb" if "protobuf" in self.headers.get("Content-Type", "") else "json"
                with open(os.path.join(outdir, "%06d.%s" % (count[0], ext)), "wb") as f:
                    f.write(body)
                code = status
            else:
                code = 404
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
    srv.serve_forever()


# ---- protobuf, the subset of opentelemetry/proto/{collector/trace,trace,common}/v1 ----
def fields(b):
    i, out = 0, []
    while i < len(b):
        key, i = varint(b, i)
        f, wt = key >> 3, key & 7
        if wt == 0:
            v, i = varint(b, i)
        elif wt == 1:
            v, i = int.from_bytes(b[i:i + 8], "little"), i + 8
        elif wt == 2:
            n, i = varint(b, i)
            v, i = b[i:i + n], i + n
        elif wt == 5:
            v, i = int.from_bytes(b[i:i + 4], "little"), i + 4
        else:
            raise ValueError("wire type %d" % wt)
        out.append((f, v))
    return out


def varint(b, i):
    v = s = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << s
        s += 7
        if not c & 0x80:
            return v, i


def pb_kv(b):
    key, val = None, None
    for f, v in fields(b):
        if f == 1:
            key = v.decode()
        elif f == 2:
            for g, w in fields(v):
                val = w.decode() if g == 1 else w if g == 3 else val
    return key, val


def pb_spans(data):
    for f, rs in fields(data):
        service = None
        for g, v in fields(rs):
            if g == 1:
                for h, kv in fields(v):
                    if h == 1:
                        k, val = pb_kv(kv)
                        if k == "service.name":
                            service = val
            elif g == 2:
                for h, s in fields(v):
                    if h != 2:
                        continue
                    sp = {"service": service, "attributes": {}, "parentSpanId": "", "status": 0}
                    for k, w in fields(s):
                        if k == 1:
                            sp["traceId"] = w.hex()
                        elif k == 2:
                            sp["spanId"] = w.hex()
                        elif k == 4:
                            sp["parentSpanId"] = w.hex()
                        elif k == 5:
                            sp["name"] = w.decode()
                        elif k == 6:
                            sp["kind"] = w
                        elif k == 7:
                            sp["start"] = w
                        elif k == 8:
                            sp["end"] = w
                        elif k == 9:
                            a, val = pb_kv(w)
                            sp["attributes"][a] = val
                        elif k == 15:
                            sp["status"] = dict(fields(w)).get(3, 0)
                    yield sp


def json_spans(doc):
    for rs in doc["resourceSpans"]:
        service = None
        for kv in rs.get("resource", {}).get("attributes", []):
            if kv["key"] == "service.name":
                service = kv["value"]["stringValue"]
        for ss in rs["scopeSpans"]:
            for s in ss["spans"]:
                attrs = {}
                for kv in s.get("attributes", []):
                    v = kv["value"]
                    attrs[kv["key"]] = v["stringValue"] if "stringValue" in v else int(v["intValue"])
                yield {"service": service, "traceId": s["traceId"], "spanId": s["spanId"],
                       "parentSpanId": s.get("parentSpanId", ""), "name": s["name"],
                       "kind": s["kind"], "start": int(s["startTimeUnixNano"]),
                       "end": int(s["endTimeUnixNano"]),
                       "status": s.get("status", {}).get("code", 0), "attributes": attrs}


def spans(outdir):
    for name in sorted(os.listdir(outdir)):
        with open(os.path.join(outdir, name), "rb") as f:
            data = f.read()
        it = pb_spans(data) if name.endswith(".pb") else json_spans(json.loads(data))
        for s in it:
            print(json.dumps(s, sort_keys=True))


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        delay = float(sys.argv[sys.argv.index("--delay") + 1]) if "--delay" in sys.argv else 0
        status = int(sys.argv[sys.argv.index("--status") + 1]) if "--status" in sys.argv else 200
        serve(int(sys.argv[2]), sys.argv[3], delay, status)
    else:
        spans(sys.argv[2])
