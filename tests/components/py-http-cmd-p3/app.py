"""A wasi:cli 0.3 (p3) command in Python (componentize-py's async bindings) making outbound
requests with wasi:http/client, as wasmtime's p3_http_outbound_request_* test programs do,
for tests/e2e/p3_http_cmd.sh. The upstream is the UPSTREAM environment variable
(host:port); SKIP (comma-separated) leaves cases out. One line per case: send's outcome (status and body, or the error-code) and,
for requests with a body, request.new's future:

get, post, large-post (1 MiB), cl-short / cl-long (a content-length the body does not
match), bad-port, bad-dns, bad-scheme, other-method, no-path, timeout (request-options'
first-byte-timeout against a slow answer), response-readback (response.new then
response.consume-body), request-readback (request.new then request.consume-body: the body
and trailers the guest wrote come back; request.new's future gets consume-body's)."""

import hashlib
import os

import wit_world
from wit_world import exports
from wit_world.imports import client
from wit_world.imports import wasi_http_types as t
from componentize_py_types import Err, Ok
from componentize_py_async_support import spawn
from componentize_py_async_support.streams import ByteStreamReader, ByteStreamWriter

UP = ""  # set by run: os.environ at build time is the builder's
SKIP = []  # SKIP: comma-separated cases left out


def ok_future():
    return wit_world.result_unit_wasi_http_types_error_code_future(lambda: Ok(None))


def trailers_future():
    return wit_world.result_option_wasi_http_types_fields_wasi_http_types_error_code_future(
        lambda: Ok(None))


async def write_all(tx: ByteStreamWriter, data: bytes) -> None:
    with tx:
        await tx.write_all(data)


async def read_all(rx: ByteStreamReader) -> bytes:
    out = b""
    with rx:
        while not rx.writer_dropped:
            out += await rx.read(65536)
    return out


def show(data: bytes) -> str:
    if len(data) > 64:
        return "%d bytes sha256 %s" % (len(data), hashlib.sha256(data).hexdigest()[:16])
    return repr(data)


def fields(pairs):
    f = t.Fields()
    for name, value in pairs:
        f.append(name, value)
    return f


def outcome(r):
    if isinstance(r, Err):
        return "err %r" % (r.value,)
    return "ok"


async def case(name, method=None, scheme=None, authority=None, path="/get", headers=(),
               body=None, options=None):
    if name in SKIP:
        return
    parts = []
    if body is not None:
        tx, rx = wit_world.byte_stream()
        spawn(write_all(tx, body))
        contents = rx
    else:
        contents = None
    trailers_tx, trailers_rx = trailers_future()
    spawn(write_trailers(trailers_tx, None))
    req, fut = t.Request.new(fields(headers), contents, trailers_rx, options)
    if method is not None:
        req.set_method(method)
    parts.append("scheme %s" % outcome(req.set_scheme(scheme or t.Scheme_Http())))
    parts.append("authority %s" % outcome(req.set_authority(authority or UP)))
    parts.append("path %s" % outcome(req.set_path_with_query(path)))
    try:
        res = await client.send(req)
        status = res.get_status_code()
        _, res_rx = ok_future()
        rbody, rtrailers = t.Response.consume_body(res, res_rx)
        data = await read_all(rbody)
        tr = await rtrailers.read()
        parts.append("status %d body %s trailers %s" % (status, show(data), outcome(tr)))
    except Err as e:
        parts.append("send err %r" % (e.value,))
    if body is not None:
        parts.append("request %s" % outcome(await fut.read()))
    print("%s: %s" % (name, "; ".join(parts)), flush=True)


async def response_readback():
    tx, rx = wit_world.byte_stream()
    spawn(write_all(tx, b"built body"))
    trailers_tx, trailers_rx = trailers_future()
    res, fut = t.Response.new(fields([("x-a", b"1")]), rx, trailers_rx)
    res.set_status_code(201)
    spawn(write_trailers(trailers_tx, [("x-tr", b"end")]))
    status = res.get_status_code()
    hdrs = res.get_headers().copy_all()
    _, res_rx = ok_future()
    body, tr = t.Response.consume_body(res, res_rx)
    data = await read_all(body)
    got = await tr.read()
    print("response-readback: status %d headers %r body %r trailers %s" %
          (status, hdrs, data, show_trailers(got)), flush=True)


async def write_trailers(trailers_tx, pairs):
    await trailers_tx.write(Ok(fields(pairs) if pairs is not None else None))


def show_trailers(got):
    if isinstance(got, Err):
        return "err %r" % (got.value,)
    if got.value is None:
        return "none"
    return repr(got.value.copy_all())


async def request_readback():
    tx, rx = wit_world.byte_stream()
    spawn(write_all(tx, b"x" * 100000 + b"end"))
    trailers_tx, trailers_rx = trailers_future()
    req, fut = t.Request.new(fields([("x-a", b"1")]), rx, trailers_rx, None)
    req.set_method(t.Method_Post())
    req.set_path_with_query("/built")
    spawn(write_trailers(trailers_tx, [("x-tr", b"req-end")]))
    method = req.get_method()
    path = req.get_path_with_query()
    hdrs = req.get_headers().copy_all()
    res_tx, res_rx = ok_future()
    body, tr = t.Request.consume_body(req, res_rx)
    data = await read_all(body)
    got = await tr.read()
    await res_tx.write(Ok(None))
    done = await fut.read()
    print("request-readback: method %r path %r headers %r body %s trailers %s request %s" %
          (method, path, hdrs, show(data), show_trailers(got), outcome(done)), flush=True)


class Run(exports.Run):
    async def run(self) -> None:
        global UP, SKIP
        UP = os.environ.get("UPSTREAM", "127.0.0.1:1")
        SKIP = os.environ.get("SKIP", "").split(",")
        await case("get")
        await case("post", method=t.Method_Post(), path="/echo", body=b"hello p3")
        big = bytes(range(256)) * 4096
        await case("large-post", method=t.Method_Post(), path="/echo", body=big)
        await case("cl-short", method=t.Method_Post(), path="/echo", body=b"abc",
                   headers=[("content-length", b"10")])
        await case("cl-long", method=t.Method_Post(), path="/echo", body=b"abcdefghij",
                   headers=[("content-length", b"3")])
        await case("bad-port", authority="127.0.0.1:99999")
        await case("bad-dns", authority="some.invalid.dnsname.invalid:3000")
        await case("bad-scheme", scheme=t.Scheme_Other("WS"))
        await case("other-method", method=t.Method_Other("OTHER"))
        await case("no-path", path=None)
        opts = t.RequestOptions()
        opts.set_first_byte_timeout(200_000_000)
        await case("timeout", path="/slow", options=opts)
        if "response-readback" not in SKIP:
            await response_readback()
        if "request-readback" not in SKIP:
            await request_readback()
        print("done", flush=True)
