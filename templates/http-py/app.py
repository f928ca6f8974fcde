"""An HTTP handler in Python: Kiln calls handle_request with each Request and sends the
Response it returns (kiln_http.py is the small layer over the wasi:http bindings).
Each request runs in a fresh instance, so module globals do not carry over."""
import json

from kiln_http import IncomingHandler as Handler
from kiln_http import Request, Response


class IncomingHandler(Handler):
    def handle_request(self, request: Request) -> Response:
        if request.path == "/":
            name = request.query.get("name")
            text = f"Hello, {name}, from Kiln!" if name else "Hello from Kiln!"
            return Response(200, {"content-type": "text/plain"}, text)

        if request.path == "/echo" and request.method == "POST":
            # The body back, with its content type.
            content_type = request.headers.get("content-type", "text/plain")
            return Response(200, {"content-type": content_type}, request.body)

        if request.path == "/headers":
            # The request's headers, as JSON.
            return Response(200, {"content-type": "application/json"}, json.dumps(request.headers))

        return Response(404, {"content-type": "text/plain"}, f"No route for {request.method} {request.path}\n")
