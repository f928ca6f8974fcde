#!/usr/bin/env python3
"""The upstream of tests/e2e/p3_jco_diff.sh's outbound requests (one thread per connection).

    p3_upstream.py PORT

Any method: reads the request body (chunked, with its trailers, or Content-Length) and answers
203 with x-upstream-method, x-upstream-path, x-upstream-fwd (the request's x-fwd),
x-upstream-trailers (the request trailers it got, "name=value;..."), x-upstream-chunks (how
many chunks the body came in), the body echoed as one chunk and a trailer
x-upstream-trailer: done. Prints "ready" once listening."""
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from http_body import read_body


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self):
        body, chunks, trailers = read_body(self.rfile, self.headers)
        self.send_response(203)
        self.send_header("x-upstream-method", self.command)
        self.send_header("x-upstream-path", self.path)
        self.send_header("x-upstream-fwd", self.headers.get("x-fwd", "none"))
        self.send_header("x-upstream-trailers", ";".join(sorted(trailers)) or "none")
        self.send_header("x-upstream-chunks", str(chunks))
        self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Trailer", "x-upstream-trailer")
        self.end_headers()
        if body:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(body), body))
        self.wfile.write(b"0\r\nx-upstream-trailer: done\r\n\r\n")

    do_GET = do_POST = do_PUT = answer


s = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H)
s.daemon_threads = True
print("ready", flush=True)
s.serve_forever()
