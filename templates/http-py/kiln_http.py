"""A small request/response layer over componentize-py's wasi:http bindings, shaped like
Spin's Python SDK: subclass IncomingHandler, implement handle_request(request) and return a
Response. The wasi:http export itself (handle(request, response_out)) is implemented here:
it reads the whole request, calls handle_request, and writes the response; an exception in
the handler becomes a 500 whose body names it (and its traceback goes to stderr)."""
import sys
import traceback
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Union
from urllib.parse import parse_qs, urlsplit

from componentize_py_types import Err, Ok
from wit_world import exports
from wit_world.imports.streams import StreamError_Closed
from wit_world.imports.types import (
    Fields,
    IncomingRequest,
    Method_Other,
    OutgoingBody,
    OutgoingResponse,
    ResponseOutparam,
)

# wasi:io output streams take at most 4096 bytes per blocking_write_and_flush.
_WRITE_CHUNK = 4096
_READ_CHUNK = 65536


@dataclass
class Request:
    """An incoming request: method ("GET"), uri (the path with its query, "/a?b=c"),
    headers (lower-case names; repeated ones joined with ", ") and the whole body."""

    method: str
    uri: str
    headers: Dict[str, str]
    body: bytes = b""

    @property
    def path(self) -> str:
        """The path without the query: "/a"."""
        return urlsplit(self.uri).path or "/"

    @property
    def query(self) -> Dict[str, str]:
        """The query parameters, decoded; the first value of a repeated one."""
        return {k: v[0] for k, v in parse_qs(urlsplit(self.uri).query).items()}

    def text(self) -> str:
        """The body as UTF-8 text."""
        return self.body.decode("utf-8", errors="replace")


@dataclass
class Response:
    """An outgoing response. body may be bytes or str (sent as UTF-8)."""

    status: int = 200
    headers: Dict[str, str] = field(default_factory=dict)
    body: Union[bytes, str, None] = None


class IncomingHandler(exports.IncomingHandler):
    """Subclass it as `class IncomingHandler(kiln_http.IncomingHandler)` in your app module
    (componentize-py looks for that name) and implement handle_request."""

    def handle_request(self, request: Request) -> Response:
        raise NotImplementedError("implement handle_request(self, request) -> Response")

    def handle(self, request: IncomingRequest, response_out: ResponseOutparam) -> None:
        try:
            response = self.handle_request(_read_request(request))
            if not isinstance(response, Response):
                raise TypeError(f"handle_request returned {type(response).__name__}, not a Response")
            outgoing, body = _outgoing(response)
        except Exception as e:  # the handler's fault (or its response's): a 500 that says which
            traceback.print_exc(file=sys.stderr)
            error = Response(500, {"content-type": "text/plain"}, f"handler error: {e!r}\n")
            outgoing, body = _outgoing(error)
        _send(outgoing, body, response_out)


def _method_name(method) -> str:
    if isinstance(method, Method_Other):
        return method.value
    return type(method).__name__.removeprefix("Method_").upper()


def _read_request(request: IncomingRequest) -> Request:
    headers: Dict[str, str] = {}
    for name, value in request.headers().entries():
        text = value.decode("latin-1")
        headers[name] = headers[name] + ", " + text if name in headers else text
    chunks: List[bytes] = []
    # The stream is a child of the body: dropped first (leaving the with blocks).
    with request.consume() as body, body.stream() as stream:
        while True:
            try:
                chunks.append(stream.blocking_read(_READ_CHUNK))
            except Err as e:
                if isinstance(e.value, StreamError_Closed):
                    break
                raise
    return Request(_method_name(request.method()), request.path_with_query() or "/", headers, b"".join(chunks))


def _outgoing(response: Response):
    """The wasi:http response and the body bytes; raises on a bad status or header."""
    body = response.body or b""
    if isinstance(body, str):
        body = body.encode("utf-8")
    fields = Fields.from_list([(k.lower(), str(v).encode("latin-1")) for k, v in response.headers.items()])
    outgoing = OutgoingResponse(fields)
    try:
        outgoing.set_status_code(response.status)
    except Err:
        raise ValueError(f"bad status code {response.status!r}") from None
    return outgoing, bytes(body)


def _send(outgoing: OutgoingResponse, body: bytes, response_out: ResponseOutparam) -> None:
    out_body = outgoing.body()
    ResponseOutparam.set(response_out, Ok(outgoing))
    with out_body.write() as stream:
        for i in range(0, len(body), _WRITE_CHUNK):
            stream.blocking_write_and_flush(body[i : i + _WRITE_CHUNK])
    OutgoingBody.finish(out_body, None)
