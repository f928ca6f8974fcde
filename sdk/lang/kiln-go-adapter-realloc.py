#!/usr/bin/env python3
"""kiln-go-adapter-realloc.py: gives a Go (GOOS=wasip1, -buildmode=c-shared) core module the
allocator that the WASI preview1 adapter uses for its own state, before the component is
made (sh sdk/kiln-build.sh go runs it between `go build` and `jco new`).

    python3 kiln-go-adapter-realloc.py CORE.wasm OUT.wasm

Why: wit-component links the adapter's allocations (its 64 KiB state and its stack) to the
main module's `cabi_realloc_adapter` export, else to its `cabi_realloc`. Go's cabi_realloc
is Go code, which cannot run before the Go runtime is initialised, and the runtime's
initialisation (_initialize) is what makes the first WASI calls. The alternative, the
adapter taking pages with memory.grow, breaks too: Go's heap grows from the end of its
data with no regard for pages someone else grew, and overwrites the adapter's state.

What: the Go program reserves a region in its data, `kiln.adapterArena`, whose first bytes
are the marker below (the rest are zeros; Go never touches the array). This script finds
the marker in the active data segments, and appends to the module a mutable i32 global
(the bump pointer, starting after the marker), a function of cabi_realloc's type that
bump-allocates from the region (aligned; a trap when it is exhausted or asked to grow an
old block), and the export `cabi_realloc_adapter` of that function. Appending keeps every
existing index. Exit 1 with a message when the module lacks the marker or cabi_realloc.
"""
import sys

MARKER = b"kiln-adapter-arena:v1"
ARENA_SIZE = 256 * 1024  # the size of kiln.adapterArena, marker included


def leb(data, pos, signed=False):
    """The LEB128 number at data[pos]: (value, position after it)."""
    result = shift = 0
    while True:
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            if signed and b & 0x40:
                result -= 1 << shift
            return result, pos


def uleb(data, pos):
    return leb(data, pos)


def sleb(data, pos):
    return leb(data, pos, True)


def enc_uleb(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def enc_sleb(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if (v == 0 and not b & 0x40) or (v == -1 and b & 0x40):
            out.append(b)
            return bytes(out)
        out.append(b | 0x80)


def name(data, pos):
    n, pos = uleb(data, pos)
    return data[pos:pos + n], pos + n


def skip_limits(data, pos):
    flags = data[pos]
    _, pos = uleb(data, pos + 1)
    if flags & 1:
        _, pos = uleb(data, pos)
    return pos


def skip_const_expr(data, pos):
    while data[pos] != 0x0B:
        op = data[pos]
        pos += 1
        if op in (0x41, 0x42):
            _, pos = sleb(data, pos)
        elif op == 0x23 or op == 0xD2:
            _, pos = uleb(data, pos)
        elif op == 0x44:
            pos += 8
        elif op == 0x43:
            pos += 4
        elif op == 0xD0:
            pos += 1
        else:
            raise ValueError("unsupported constant expression opcode 0x%02x" % op)
    return pos + 1


def fail(msg):
    sys.stderr.write("kiln-go-adapter-realloc: %s\n" % msg)
    sys.exit(1)


def main():
    if len(sys.argv) != 3:
        sys.stderr.write("usage: kiln-go-adapter-realloc.py CORE.wasm OUT.wasm\n")
        sys.exit(2)
    data = open(sys.argv[1], "rb").read()
    if data[:8] != b"\x00asm\x01\x00\x00\x00":
        fail("%s is not a core WebAssembly module" % sys.argv[1])
    sections = []  # [id, bytes]
    pos = 8
    while pos < len(data):
        sid = data[pos]
        size, p = uleb(data, pos + 1)
        sections.append([sid, data[p:p + size]])
        pos = p + size

    def section(sid):
        for s in sections:
            if s[0] == sid:
                return s
        return None

    imported_funcs = imported_globals = 0
    imp = section(2)
    if imp:
        d = imp[1]
        count, p = uleb(d, 0)
        for _ in range(count):
            _, p = name(d, p)
            _, p = name(d, p)
            kind = d[p]
            p += 1
            if kind == 0:
                _, p = uleb(d, p)
                imported_funcs += 1
            elif kind == 1:
                p = skip_limits(d, p + 1)
            elif kind == 2:
                p = skip_limits(d, p)
            elif kind == 3:
                p += 2
                imported_globals += 1
            else:
                fail("unknown import kind %d" % kind)

    exports = section(7)
    realloc_index = None
    d = exports[1] if exports else b"\x00"
    count, p = uleb(d, 0)
    for _ in range(count):
        n, p = name(d, p)
        kind = d[p]
        idx, p = uleb(d, p + 1)
        if n == b"cabi_realloc_adapter":
            fail("the module already exports cabi_realloc_adapter")
        if n == b"cabi_realloc" and kind == 0:
            realloc_index = idx
    if realloc_index is None or realloc_index < imported_funcs:
        fail("the module exports no cabi_realloc function (is the kiln package linked?)")

    funcs = section(3)
    count, p = uleb(funcs[1], 0)
    types = []
    for _ in range(count):
        t, p = uleb(funcs[1], p)
        types.append(t)
    realloc_type = types[realloc_index - imported_funcs]

    arena = None
    dsec = section(11)
    if dsec:
        d = dsec[1]
        count, p = uleb(d, 0)
        for _ in range(count):
            flag, p = uleb(d, p)
            offset = None
            if flag in (0, 2):
                if flag == 2:
                    _, p = uleb(d, p)
                if d[p] == 0x41:
                    offset, _ = sleb(d, p + 1)
                p = skip_const_expr(d, p)
            n, p = uleb(d, p)
            seg = d[p:p + n]
            p += n
            at = seg.find(MARKER)
            if offset is not None and at >= 0:
                if arena is not None:
                    fail("the arena marker is there twice")
                arena = offset + at
    if arena is None:
        fail("no kiln.adapterArena in the module's data (is the kiln package linked?)")
    start = (arena + len(MARKER) + 15) & ~15
    end = arena + ARENA_SIZE

    gsec = section(6)
    if gsec is None:
        gsec = [6, b"\x00"]
        sections.append(gsec)  # order fixed below
    count, p = uleb(gsec[1], 0)
    global_index = imported_globals + count
    gsec[1] = enc_uleb(count + 1) + gsec[1][p:] + b"\x7f\x01\x41" + enc_sleb(start) + b"\x0b"

    count, p = uleb(funcs[1], 0)
    func_index = imported_funcs + count
    funcs[1] = enc_uleb(count + 1) + funcs[1][p:] + enc_uleb(realloc_type)

    count, p = uleb(d := exports[1], 0)
    exports[1] = enc_uleb(count + 1) + d[p:] + enc_uleb(20) + b"cabi_realloc_adapter" + b"\x00" + enc_uleb(func_index)

    g = enc_uleb(global_index)
    # (param old old_size align new_size) (local result): traps unless old == 0; result =
    # (ptr + align - 1) & -align; ptr = result + new_size; traps when ptr > end.
    body = (
        b"\x01\x01\x7f"  # one local i32 (index 4)
        + b"\x20\x00\x04\x40\x00\x0b"  # if old != 0: unreachable
        + b"\x23" + g + b"\x20\x02\x6a\x41\x01\x6b"  # ptr + align - 1
        + b"\x41\x00\x20\x02\x6b\x71"  # & -align
        + b"\x22\x04"  # local.tee 4
        + b"\x20\x03\x6a"  # + new_size
        + b"\x24" + g  # global.set
        + b"\x23" + g + b"\x41" + enc_sleb(end) + b"\x4b\x04\x40\x00\x0b"  # if ptr > end (u): unreachable
        + b"\x20\x04\x0b"  # local.get 4; end
    )
    code = section(10)
    count, p = uleb(code[1], 0)
    code[1] = enc_uleb(count + 1) + code[1][p:] + enc_uleb(len(body)) + body

    order = {1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 13: 6, 6: 7, 7: 8, 8: 9, 9: 10, 12: 11, 10: 12, 11: 13}
    known = [s for s in sections if s[0] != 0]
    known.sort(key=lambda s: order.get(s[0], 0))
    out = bytearray(data[:8])
    it = iter(known)
    for s in sections:  # custom sections stay where they were relative to the others
        if s[0] == 0:
            out += bytes([0]) + enc_uleb(len(s[1])) + s[1]
        else:
            s = next(it)
            out += bytes([s[0]]) + enc_uleb(len(s[1])) + s[1]
    open(sys.argv[2], "wb").write(out)


main()
