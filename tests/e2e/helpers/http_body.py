"""A request body as an http.server handler reads it, shared by the test upstreams
(p3_upstream.py, p3_cmd_upstream.py)."""


def read_body(rfile, headers):
    """(body, chunks, trailers) of the request whose headers were read from rfile: chunked
    (chunks: how many; trailers: "name=value" with the name lower-cased) or Content-Length
    (one chunk when not empty, no trailers). Raises ConnectionError when the connection is
    cut inside a chunked body, ValueError on a malformed chunk size."""
    if headers.get("Transfer-Encoding", "").lower() != "chunked":
        n = int(headers.get("Content-Length", "0"))
        return rfile.read(n), 1 if n else 0, []
    body, chunks, trailers = b"", 0, []
    while True:
        line = rfile.readline()
        if not line:
            raise ConnectionError("cut")
        n = int(line.split(b";")[0], 16)
        if n == 0:
            break
        body += rfile.read(n)
        rfile.readline()
        chunks += 1
    while True:
        line = rfile.readline().decode().rstrip("\r\n")
        if not line:
            break
        name, _, value = line.partition(":")
        trailers.append("%s=%s" % (name.strip().lower(), value.strip()))
    return body, chunks, trailers
