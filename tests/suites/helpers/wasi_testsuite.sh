# wasi_testsuite.sh — what tests/suites/wasi.sh and wasi_components.sh share (sourced):
# reading a wasi-testsuite program's expectations and comparing output prefixes.

# describe WASM DIR: writes the expectations of one test into DIR: args/env
# (NUL-separated), exit code and root (meta), expected stdout/stderr (files present only
# when given).
describe() {
    python3 - "$1" "$2" <<'PY'
import json, os, sys
wasm, out = sys.argv[1], sys.argv[2]
spec = {}
js = wasm[:-5] + ".json"
if os.path.exists(js):
    with open(js) as f:
        spec = json.load(f)
with open(os.path.join(out, "args"), "wb") as f:
    f.write(b"".join(a.encode() + b"\0" for a in spec.get("args", []) or []))
with open(os.path.join(out, "env"), "wb") as f:
    env = spec.get("env", {}) or {}
    f.write(b"".join(("%s=%s" % (k, v)).encode() + b"\0" for k, v in env.items()))
with open(os.path.join(out, "meta"), "w") as f:
    f.write("%d\n%s\n" % (spec.get("exit_code", 0) or 0, spec.get("root") or ""))
for k in ("stdout", "stderr"):
    if spec.get(k) is not None:
        with open(os.path.join(out, k + ".exp"), "wb") as f:
            f.write(spec[k].encode())
PY
}

# starts_with FILE PREFIXFILE: FILE begins with the bytes of PREFIXFILE.
starts_with() {
    local n
    n=$(stat -c %s "$2")
    [ "$(head -c "$n" "$1" | od -An -tx1)" = "$(od -An -tx1 <"$2")" ]
}
