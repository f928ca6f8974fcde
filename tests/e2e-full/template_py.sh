#!/usr/bin/env bash
# The http-py template end to end (make test-full: the build takes ~15 s and the first
# compile of CPython ~20 s): kiln new http-py, kiln build (componentize-py), kiln up,
# then the handler class's routes, and an exception in the handler (or a response that
# cannot be sent) as a 500.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/template.inc"

if template_new_build http-py hello-py; then
    # Routes that fail: kiln_http.py answers 500 and names the exception.
    cat >>app.py <<'PY'

_base = IncomingHandler.handle_request


def _with_boom(self, request):
    if request.path == "/boom":
        raise ValueError("boom")
    if request.path == "/bad-header":
        return Response(200, {"x-arrow": "\u2192"}, "not sent")
    return _base(self, request)


IncomingHandler.handle_request = _with_boom
PY
    "$KILN" build >/dev/null 2>&1
    if template_up hello-py; then
        expect_contains "http-py: served as wasi:http" "component hello-py: wasi:http" "$(cat "$UP_ERR")"
        template_requests http-py
        r=$(curl -s -m 60 -i "$URL/boom")
        expect_contains "http-py: an exception in the handler is a 500" "HTTP/1.1 500" "$r"
        expect_contains "http-py: the 500 names the exception" "ValueError('boom')" "$r"
        expect_contains "http-py: the traceback goes to the log" "ValueError: boom" "$(cat "$UP_ERR")"
        r=$(curl -s -m 60 -i "$URL/bad-header")
        expect_contains "http-py: a response that cannot be sent is a 500" "HTTP/1.1 500" "$r"
        expect_contains "http-py: which names why" "UnicodeEncodeError" "$r"
        expect_not_contains "http-py: and sends nothing of it" "not sent" "$r"
    fi
fi
finish
