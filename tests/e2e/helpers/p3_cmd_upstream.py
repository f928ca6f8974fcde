#!/usr/bin/env python3
"""The upstream of tests/e2e/p3_http_cmd.sh (one thread per connection).

    p3_cmd_upstream.py PORT

GET /get: 200 "hello from upstream"; POST /echo: 200 with the request body (chunked or
Content-Length) echoed; /slow: 200 "slow" after 2 s; any other method: 200 "method M".
Prints "ready" once listening."""
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from http_body import read_body


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def serve(self):
        try:
            body = read_body(self.rfile, self.headers)[0]
        except (ConnectionError, ValueError):
            self.close_connection = True
            return
        if self.path.startswith("/slow"):
            time.sleep(2)
            out = b"slow"
        elif self.path.startswith("/echo"):
            out = body
        elif self.command == "GET":
            out = b"hello from upstream"
        else:
            out = b"method " + self.command.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        try:
            self.wfile.write(out)
        except OSError:
            pass

    do_GET = do_POST = do_PUT = do_OTHER = serve


srv = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H)
srv.daemon_threads = True
print("ready", flush=True)
srv.serve_forever()
