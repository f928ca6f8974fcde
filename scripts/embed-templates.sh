#!/usr/bin/env bash
# Embeds the project templates of `kiln new` into the kiln binary.
#
#   scripts/embed-templates.sh OUT.c     write the C source of the templates to OUT.c
#
# The Makefile runs it at build time (into $(BUILD)/gen/templates_data.c) whenever a file
# under templates/ or sdk/ changes, so the generated C is never committed and never stale.
#
# Every directory templates/NAME/ is a template. Its file .kiln-template holds the
# metadata ("description = ...", "sdk = c") and is not copied; every other file is
# copied into the new project with {{project-name}} replaced (by kiln new). A template
# with "sdk = NAME" also gets every file of sdk/NAME/ in sdk/: sdk/c/ is the C SDK with
# both backends and kiln-componentize.sh, sdk/lang/ the build script of the JavaScript,
# TypeScript and Python templates.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
[ $# = 1 ] || { echo "usage: $0 OUT.c" >&2; exit 2; }
OUT=$1

gen() {
    python3 - "$ROOT" <<'PY'
import os, sys
root = sys.argv[1]
tdir = os.path.join(root, "templates")

def c_string(data):
    """C string literal(s) for bytes, packed into source lines of about 96 columns (a
    line ends after a text newline once it is long enough); safe from trigraphs."""
    out, cur = [], ""
    for b in data:
        c = chr(b)
        if c == "\\": cur += "\\\\"
        elif c == '"': cur += '\\"'
        elif c == "?": cur += "\\?"
        elif c == "\n":
            cur += "\\n"
            if len(cur) > 60: out.append(cur); cur = ""
            continue
        elif c == "\t": cur += "\\t"
        elif 32 <= b < 127: cur += c
        else: cur += "\\%03o" % b
        if len(cur) >= 96: out.append(cur); cur = ""
    if cur or not out: out.append(cur)
    return "\n".join('    "%s"' % s for s in out)

templates = []
for name in sorted(os.listdir(tdir)):
    d = os.path.join(tdir, name)
    if not os.path.isdir(d): continue
    meta = {}
    with open(os.path.join(d, ".kiln-template")) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"): continue
            k, _, v = line.partition("=")
            meta[k.strip()] = v.strip()
    files = []
    for dp, dns, fns in os.walk(d):
        # what tools leave in a template directory is not part of it (python's bytecode,
        # a project's build output)
        dns[:] = sorted(x for x in dns if x not in ("__pycache__", "node_modules", "target"))
        for fn in sorted(fns):
            if fn.endswith(".pyc"): continue
            p = os.path.join(dp, fn)
            rel = os.path.relpath(p, d)
            if rel == ".kiln-template": continue
            files.append((rel, open(p, "rb").read()))
    if meta.get("sdk"):
        sdir = os.path.join(root, "sdk", meta["sdk"])
        for fn in sorted(os.listdir(sdir)):
            if os.path.isfile(os.path.join(sdir, fn)):
                files.append(("sdk/" + fn, open(os.path.join(sdir, fn), "rb").read()))
    files.sort()
    templates.append((name, meta.get("description", ""), files))

print("/* templates_data.c — GENERATED at build time by scripts/embed-templates.sh from templates/")
print(" * and sdk/. Do not edit: change the files there. */")
print('#include "cli/templates.h"')
print()
print("// clang-format off")
# A file that several templates share (the C SDK) is emitted once and pointed to.
uses = {}
for _, _, files in templates:
    for _, data in files:
        uses[data] = uses.get(data, 0) + 1
shared = {}
for _, _, files in templates:
    for rel, data in files:
        if uses[data] > 1 and data not in shared:
            shared[data] = "shared%d" % len(shared)
            print("/* %s (in %d templates) */" % (rel, uses[data]))
            print("static const char %s[] =\n%s;" % (shared[data], c_string(data)))
            print()
for ti, (name, desc, files) in enumerate(templates):
    print("static const kiln_template_file template%d_files[] = {" % ti)
    for rel, data in files:
        print("    {%s, %d,\n%s},"
              % ('"%s"' % rel, len(data), ("    " + shared[data]) if data in shared else c_string(data)))
    print("};")
    print()
print("const kiln_template kiln_templates[] = {")
for ti, (name, desc, files) in enumerate(templates):
    print('    {"%s", "%s", template%d_files, %d},' % (name, desc.replace('"', '\\"'), ti, len(files)))
print("};")
print("const size_t kiln_templates_len = %d;" % len(templates))
print("// clang-format on")
PY
}

mkdir -p "$(dirname "$OUT")"
gen >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
