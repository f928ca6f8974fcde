"""A wasi:http 0.3 (p3) handler in Python (componentize-py's async bindings), for the
differential test tests/e2e/p3_diff.sh; it answers as tests/components/c-http-p3 does:
GET /headers echoes the x-* request headers (as headers and as "name: value" lines; x-drop
is taken out again with get-and-delete and its values listed as "removed value"),
POST /echo streams the request body back, GET /stream writes five "piece N" lines with a
wasi:clocks wait-for of 20 ms between them, GET /status/N answers status N, GET /error
returns an error-code, anything else a fixed body with an x-kiln-p3 header."""

import wit_world
from wit_world import exports
from wit_world.imports import monotonic_clock
from wit_world.imports import wasi_http_types as t
from componentize_py_types import Err, Ok
from componentize_py_async_support import spawn
from componentize_py_async_support.streams import ByteStreamReader, ByteStreamWriter


async def write_text(tx: ByteStreamWriter, text: bytes) -> None:
    with tx:
        await tx.write_all(text)


async def copy(rx: ByteStreamReader, tx: ByteStreamWriter) -> None:
    with rx, tx:
        while not rx.writer_dropped:
            data = await rx.read(16384)
            if data:
                await tx.write_all(data)


async def pieces(tx: ByteStreamWriter) -> None:
    with tx:
        for i in range(1, 6):
            if i > 1:
                await monotonic_clock.wait_for(20_000_000)
            await tx.write_all(b"piece %d\n" % i)


class Handler(exports.Handler):
    async def handle(self, request: t.Request) -> t.Response:
        method = request.get_method()
        path = request.get_path_with_query() or "/"
        if path.startswith("/error"):
            raise Err(t.ErrorCode_InternalError(None))
        headers = t.Fields()
        status = 200
        tx, rx = wit_world.byte_stream()
        if isinstance(method, t.Method_Post) and path.startswith("/echo"):
            res_tx, res_rx = wit_world.result_unit_wasi_http_types_error_code_future(lambda: Ok(None))
            body, _trailers = t.Request.consume_body(request, res_rx)
            spawn(copy(body, tx))
        elif path.startswith("/stream"):
            headers.append("content-type", b"text/plain")
            spawn(pieces(tx))
        elif path.startswith("/headers"):
            lines = b""
            for name, value in request.get_headers().copy_all():
                if name.startswith("x-"):
                    headers.append(name, value)
                    lines += name.encode() + b": " + value + b"\n"
            for value in headers.get_and_delete("x-drop"):
                lines += b"removed " + value + b"\n"
            spawn(write_text(tx, lines))
        elif path.startswith("/status/"):
            status = int(path[8:11])
            spawn(write_text(tx, b"status %d\n" % status))
        else:
            headers.append("x-kiln-p3", b"python")
            spawn(write_text(tx, b"hello from a Python p3 handler\n"))
        trailers_tx, trailers_rx = wit_world.result_option_wasi_http_types_fields_wasi_http_types_error_code_future(
            lambda: Ok(None))
        response, _ = t.Response.new(headers, rx, trailers_rx)
        if status != 200:
            response.set_status_code(status)
        return response
