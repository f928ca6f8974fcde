"""A wasi:http 0.3 (p3) handler in Python (componentize-py's async bindings) for the
differential test against jco, tests/e2e/p3_jco_diff.sh:

POST /trailers  the x-* request headers copied to the response; the request body streamed
                back as it comes; then the request's trailers (consume-body's future) read
                and sent as the response's trailers, plus x-body-bytes: the count of bytes
POST|GET /proxy/REST
                an outbound request (wasi:http/client.send) to http://AUTHORITY/REST, the
                authority taken from the x-upstream request header, with the same method
                and the x-* request headers; the answer is the upstream's status, its x-*
                headers and content-type, body and trailers. The request's body and
                trailers (consume-body) and the upstream's are copied through the guest as
                they come (streamed; the trailers read, then written to a new future),
                unless x-pass names a side (request, response or both): that side's body
                stream and trailers future are passed on as they are. A send that fails
                answers 502 with "send failed: ERROR".
POST /readback  a middleware reading back what it built: the request's body and trailers
                (consume-body) passed into request.new with its x-* headers, that request's
                consume-body read back, and its stream and trailers future returned as the
                response's (tests/e2e/up_wasi_http_p3_readback.sh)
GET /slow/N     waits 200 ms (wasi:clocks wait-for), then answers "slow N" with x-n: N
else            404, "not found"
"""

import wit_world
from wit_world import exports
from wit_world.imports import client, monotonic_clock
from wit_world.imports import wasi_http_types as t
from componentize_py_types import Err, Ok
from componentize_py_async_support import spawn
from componentize_py_async_support.streams import ByteStreamReader, ByteStreamWriter


def ok_future():
    return wit_world.result_unit_wasi_http_types_error_code_future(lambda: Ok(None))


def trailers_future():
    return wit_world.result_option_wasi_http_types_fields_wasi_http_types_error_code_future(
        lambda: Ok(None))


def text_response(status, headers, text):
    tx, rx = wit_world.byte_stream()
    spawn(write_text(tx, text))
    _, trailers_rx = trailers_future()
    response, _ = t.Response.new(headers, rx, trailers_rx)
    response.set_status_code(status)
    return response


async def write_text(tx: ByteStreamWriter, text: bytes) -> None:
    with tx:
        await tx.write_all(text)


def x_headers(fields: t.Fields, also=()) -> t.Fields:
    out = t.Fields()
    for name, value in fields.copy_all():
        if name.startswith("x-") or name in also:
            out.append(name, value)
    return out


async def echo_with_trailers(rx: ByteStreamReader, tx: ByteStreamWriter, req_trailers,
                             trailers_tx) -> None:
    n = 0
    with rx, tx:
        while not rx.writer_dropped:
            data = await rx.read(16384)
            if data:
                n += len(data)
                await tx.write_all(data)
    got = await req_trailers.read()
    out = t.Fields()
    if isinstance(got, Ok) and got.value is not None:
        for name, value in got.value.copy_all():
            out.append(name, value)
    out.append("x-body-bytes", str(n).encode())
    await trailers_tx.write(Ok(out))


async def copy_body(rx: ByteStreamReader, tx: ByteStreamWriter, trailers_rx, trailers_tx) -> None:
    """Copies a body as it comes, then its trailers (read, then written to a new future)."""
    with rx, tx:
        while not rx.writer_dropped:
            data = await rx.read(16384)
            if data:
                await tx.write_all(data)
    await trailers_tx.write(await trailers_rx.read())


def pass_or_copy(body, trailers, passed):
    """The body stream and trailers future to hand on: these, or copies fed by a task."""
    if passed:
        return body, trailers
    tx, rx = wit_world.byte_stream()
    trailers_tx, trailers_rx = trailers_future()
    spawn(copy_body(body, tx, trailers, trailers_tx))
    return rx, trailers_rx


async def proxy(request: t.Request, method, path: str) -> t.Response:
    upstream, passed = None, ""
    for name, value in request.get_headers().copy_all():
        if name == "x-upstream":
            upstream = value.decode()
        elif name == "x-pass":
            passed = value.decode()
    headers = x_headers(request.get_headers())
    headers.delete("x-upstream")
    headers.delete("x-pass")
    _, res_rx = ok_future()
    body, req_trailers = t.Request.consume_body(request, res_rx)
    body, req_trailers = pass_or_copy(body, req_trailers, passed in ("request", "both"))
    out, _ = t.Request.new(headers, body, req_trailers, None)
    out.set_method(method)
    out.set_scheme(t.Scheme_Http())
    out.set_authority(upstream)
    out.set_path_with_query(path[len("/proxy"):])
    try:
        res = await client.send(out)
    except Err as e:
        return text_response(502, t.Fields(), b"send failed: %r\n" % (e.value,))
    status = res.get_status_code()
    rheaders = x_headers(res.get_headers(), ("content-type",))
    _, rres_rx = ok_future()
    rbody, rtrailers = t.Response.consume_body(res, rres_rx)
    rbody, rtrailers = pass_or_copy(rbody, rtrailers, passed in ("response", "both"))
    response, _ = t.Response.new(rheaders, rbody, rtrailers)
    response.set_status_code(status)
    return response


class Handler(exports.Handler):
    async def handle(self, request: t.Request) -> t.Response:
        method = request.get_method()
        path = request.get_path_with_query() or "/"
        if path.startswith("/trailers"):
            headers = x_headers(request.get_headers())
            _, res_rx = ok_future()
            body, req_trailers = t.Request.consume_body(request, res_rx)
            tx, rx = wit_world.byte_stream()
            trailers_tx, trailers_rx = trailers_future()
            spawn(echo_with_trailers(body, tx, req_trailers, trailers_tx))
            response, _ = t.Response.new(headers, rx, trailers_rx)
            return response
        if path.startswith("/readback"):
            headers = x_headers(request.get_headers())
            _, res_rx = ok_future()
            body, req_trailers = t.Request.consume_body(request, res_rx)
            built, _ = t.Request.new(headers, body, req_trailers, None)
            built.set_path_with_query("/built")
            headers = x_headers(built.get_headers())
            headers.append("x-built-path", built.get_path_with_query().encode())
            _, built_rx = ok_future()
            body, trailers = t.Request.consume_body(built, built_rx)
            response, _ = t.Response.new(headers, body, trailers)
            return response
        if path.startswith("/proxy/"):
            return await proxy(request, method, path)
        if path.startswith("/slow/"):
            n = path[len("/slow/"):]
            await monotonic_clock.wait_for(200_000_000)
            headers = t.Fields()
            headers.append("x-n", n.encode())
            return text_response(200, headers, b"slow %s\n" % n.encode())
        return text_response(404, t.Fields(), b"not found\n")
