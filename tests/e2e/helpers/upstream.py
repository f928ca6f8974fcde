#!/usr/bin/env python3
"""A local upstream for the examples' tests and bench/run.sh (one thread per connection).

    python3 upstream.py PORT [DELAY_MS]

GET /item/I      "item I" (text/plain) after DELAY_MS (default 0)
GET /stats       {"requests": N, "max_inflight": M}: how many /item requests were in
                 flight at once at most (a fan-out that is concurrent shows M > 1)
GET /users       a small JSON "database": {"users": [{"id", "name", "email", "active",
                 "age"}, ...]}; ?active=true|false filters it (the db-http example)
anything else    404
Prints "ready" on stdout once listening."""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

PORT = int(sys.argv[1])
DELAY = (int(sys.argv[2]) if len(sys.argv) > 2 else 0) / 1000.0
USERS = [
    {"id": 1, "name": "Ada Lovelace", "email": "ada@example.com", "active": True, "age": 36},
    {"id": 2, "name": "Alan Turing", "email": "alan@example.com", "active": False, "age": 41},
    {"id": 3, "name": "Grace Hopper", "email": "grace@example.com", "active": True, "age": 85},
    {"id": 4, "name": "Edsger Dijkstra", "email": "edsger@example.com", "active": True, "age": 72},
]
lock = threading.Lock()
state = {"requests": 0, "inflight": 0, "max_inflight": 0}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, ctype, body):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urlsplit(self.path)
        if url.path.startswith("/item/"):
            with lock:
                state["requests"] += 1
                state["inflight"] += 1
                state["max_inflight"] = max(state["max_inflight"], state["inflight"])
            time.sleep(DELAY)
            with lock:
                state["inflight"] -= 1
            self.reply(200, "text/plain", "item " + url.path[len("/item/"):])
        elif url.path == "/stats":
            with lock:
                body = json.dumps({"requests": state["requests"], "max_inflight": state["max_inflight"]})
            self.reply(200, "application/json", body)
        elif url.path == "/users":
            rows = USERS
            active = parse_qs(url.query).get("active")
            if active:
                rows = [u for u in USERS if u["active"] == (active[0] == "true")]
            self.reply(200, "application/json", json.dumps({"users": rows}))
        else:
            self.reply(404, "text/plain", "not found")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # listen()'s backlog (5 by default): set before the bind


server = Server(("127.0.0.1", PORT), Handler)
print("ready", flush=True)
server.serve_forever()
