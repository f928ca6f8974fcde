"""A wasi:http handler in Python (componentize-py): answers every request with
"hello from Python METHOD PATH", an x-kiln-guest header and an x-kiln-count header, the
number of requests this instance has handled (a module global: 1 in a fresh instance)."""
from componentize_py_types import Ok
from wit_world import exports
from wit_world.imports.types import (
    Fields,
    IncomingRequest,
    Method_Other,
    OutgoingBody,
    OutgoingResponse,
    ResponseOutparam,
)


def method_name(method) -> str:
    if isinstance(method, Method_Other):
        return method.value
    return type(method).__name__.removeprefix("Method_").upper()


COUNT = 0


class IncomingHandler(exports.IncomingHandler):
    def handle(self, request: IncomingRequest, response_out: ResponseOutparam) -> None:
        global COUNT
        COUNT += 1
        text = f"hello from Python {method_name(request.method())} {request.path_with_query() or '/'}\n"
        headers = Fields.from_list(
            [
                ("content-type", b"text/plain"),
                ("x-kiln-guest", b"python"),
                ("x-kiln-count", str(COUNT).encode()),
            ]
        )
        response = OutgoingResponse(headers)
        response.set_status_code(200)
        body = response.body()
        ResponseOutparam.set(response_out, Ok(response))
        with body.write() as stream:
            stream.blocking_write_and_flush(text.encode())
        OutgoingBody.finish(body, None)
