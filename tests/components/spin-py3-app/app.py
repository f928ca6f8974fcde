# A Spin app on Spin's Python SDK 3 (spin-sdk 3.4.1, componentize-py 0.17.2, world
# spin-http: wasi:http/incoming-handler@0.2.0), written as the SDK's README and examples
# write one: the key-value store (spin_sdk.key_value: fermyon:spin/key-value@2.0.0),
# variables (spin_sdk.variables) and outbound HTTP (spin_sdk.http.send), for
# tests/e2e/spin_sdk_py.sh. The same routes as spin-py5-app:
#   GET/PUT/DELETE /kv/KEY   the default store: the value, 201 stored, 200 deleted, 404 absent
#   GET /kv-keys             every key of the default store, one a line (sorted)
#   GET /var/NAME            the component variable NAME (500 when undefined)
#   GET /fetch?url=URL       sends GET URL; answers the upstream's status and body, and its
#                            content-type as x-fetched-type
from urllib.parse import parse_qs, urlparse

from spin_sdk import http, key_value, variables
from spin_sdk.http import Request, Response


def text(status: int, body: str, headers: dict[str, str] | None = None) -> Response:
    h = {"content-type": "text/plain"}
    h.update(headers or {})
    return Response(status, h, bytes(body, "utf-8"))


class IncomingHandler(http.IncomingHandler):
    def handle_request(self, request: Request) -> Response:
        url = urlparse(request.uri)
        path = url.path
        if path.startswith("/kv/"):
            key = path[len("/kv/"):]
            with key_value.open_default() as store:
                if request.method == "PUT":
                    store.set(key, request.body or b"")
                    return text(201, "stored " + key)
                if request.method == "DELETE":
                    store.delete(key)
                    return text(200, "deleted " + key)
                if not store.exists(key):
                    return text(404, "no " + key)
                value = store.get(key)
                return Response(200, {"content-type": "application/octet-stream"}, value)
        if path == "/kv-keys":
            with key_value.open_default() as store:
                return text(200, "".join(k + "\n" for k in sorted(store.get_keys())))
        if path.startswith("/var/"):
            return text(200, variables.get(path[len("/var/"):]))
        if path == "/fetch":
            target = parse_qs(url.query)["url"][0]
            got = http.send(Request("GET", target, {}, None))
            return text(got.status, str(got.body, "utf-8"),
                        {"x-fetched-type": got.headers.get("content-type", "")})
        return text(404, "no route " + path)
