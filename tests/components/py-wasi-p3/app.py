"""A WASI 0.3 (p3) command in Python (componentize-py's async bindings), for
tests/e2e/component_p3_wasi.sh: it prints what it gets from wasi:cli/environment (the
KILN_P3_* variables and the arguments after the program name), checks wasi:clocks
system-clock and wasi:random insecure / insecure-seed, then works in its first preopened
directory through wasi:filesystem 0.3 (files written and read through streams, stat,
directory listing through a stream<directory-entry>, rename, remove) and tries to leave
it ("../", an absolute path, a symlink pointing outside: each refused with
not-permitted). Every line is deterministic, so that kiln run and wasmtime run print the
same; it ends with wasi:cli/exit exit-with-code(7)."""

import wit_world
from wit_world import exports
from wit_world.imports import environment, exit, insecure, insecure_seed, preopens, system_clock
from wit_world.imports import wasi_filesystem_types as fs
from componentize_py_types import Err

NOFOLLOW = fs.PathFlags(0)
FOLLOW = fs.PathFlags.SYMLINK_FOLLOW
RW = fs.DescriptorFlags.READ | fs.DescriptorFlags.WRITE


def say(line):
    print(line, flush=True)


def name(v):
    """A variant case's name; for a result, Ok or the error-code's case."""
    if isinstance(v, Err):
        return "Err " + name(v.value)
    return type(v).__name__.split("_", 1)[-1]


async def attempt(what, coro):
    """Awaits coro; prints ok or the error-code's case."""
    try:
        await coro
        say(f"{what}: ok")
    except Err as e:
        say(f"{what}: {name(e.value)}")


async def write(f, data, append=False):
    tx, rx = wit_world.byte_stream()
    fut = f.append_via_stream(rx) if append else f.write_via_stream(rx, 0)
    with tx:
        await tx.write_all(data)
    return await fut.read()


async def read(f, offset=0):
    rx, fut = f.read_via_stream(offset)
    data = b""
    with rx:
        while not rx.writer_dropped:
            data += await rx.read(4096)
    return data, await fut.read()


async def listing(d):
    rx, fut = d.read_directory()
    entries = []
    with rx:
        while not rx.writer_dropped:
            entries += [(e.name, name(e.type)) for e in await rx.read(2)]
    return sorted(entries), await fut.read()


async def filesystem():
    dirs = preopens.get_directories()
    say("preopens: " + " ".join(p for _, p in dirs))
    d = dirs[0][0]
    await attempt("mkdir sub", d.create_directory_at("sub"))
    await attempt("mkdir sub again", d.create_directory_at("sub"))
    f = await d.open_at(NOFOLLOW, "sub/a.txt", fs.OpenFlags.CREATE, RW)
    say(f"write: {name(await write(f, b'hello p3 file'))}")
    say(f"append: {name(await write(f, b' appended', append=True))}")
    data, res = await read(f)
    say(f"read: {data!r} {name(res)}")
    data, res = await read(f, 6)
    say(f"read at 6: {data!r} {name(res)}")
    total = 0
    for _ in range(300):  # each stream's host state goes with it (no fd held per stream)
        data, res = await read(f, 6)
        total += len(data)
    say(f"300 reads: {total} bytes {name(res)}")
    data, res = await read(f, 1000)
    say(f"read past the end: {data!r} {name(res)}")
    ro = await d.open_at(NOFOLLOW, "sub/a.txt", fs.OpenFlags(0), fs.DescriptorFlags.READ)
    say(f"write a file opened to read: {name(await write(ro, b'x'))}")
    say(f"append to it: {name(await write(ro, b'x', append=True))}")
    await attempt("set-size of it", ro.set_size(0))
    st = await f.stat()
    say(f"stat: {name(st.type)} size {st.size} links {st.link_count} "
        f"mtime recent {st.data_modification_timestamp.seconds > 1_600_000_000}")
    say(f"flags: {await f.get_flags()!r}")
    sub = await d.open_at(NOFOLLOW, "sub", fs.OpenFlags.DIRECTORY, fs.DescriptorFlags.READ)
    say(f"type of sub: {name(await sub.get_type())}")
    say(f"same object: {await sub.is_same_object(sub)} {await sub.is_same_object(f)}")
    await attempt("mkdir sub/inner", sub.create_directory_at("inner"))
    entries, res = await listing(sub)
    say(f"list sub: {entries} {name(res)}")
    data, res = await read(sub)
    say(f"read a directory: {data!r} {name(res)}")
    say(f"write a directory: {name(await write(sub, b'x'))}")
    await attempt("rename", d.rename_at("sub/a.txt", d, "sub/b.txt"))
    await attempt("stat old name", d.stat_at(NOFOLLOW, "sub/a.txt"))
    st = await d.stat_at(NOFOLLOW, "sub/b.txt")
    say(f"stat new name: {name(st.type)} size {st.size}")
    await attempt("rmdir non-empty", d.remove_directory_at("sub"))
    # leaving the preopen
    await attempt("open ../", d.open_at(NOFOLLOW, "../outside.txt", fs.OpenFlags(0), fs.DescriptorFlags.READ))
    await attempt("open sub/../../", d.open_at(NOFOLLOW, "sub/../../outside.txt", fs.OpenFlags(0), fs.DescriptorFlags.READ))
    await attempt("open absolute", d.open_at(NOFOLLOW, "/etc/passwd", fs.OpenFlags(0), fs.DescriptorFlags.READ))
    await attempt("mkdir ../", d.create_directory_at("../escaped"))
    await attempt("symlink out", d.symlink_at("../outside.txt", "esc"))
    say(f"readlink: {await d.readlink_at('esc')}")
    await attempt("open via symlink", d.open_at(FOLLOW, "esc", fs.OpenFlags(0), fs.DescriptorFlags.READ))
    await attempt("stat via symlink", d.stat_at(FOLLOW, "esc"))
    await attempt("unlink symlink", d.unlink_file_at("esc"))
    # cleaning up
    await attempt("unlink", d.unlink_file_at("sub/b.txt"))
    await attempt("rmdir inner", d.remove_directory_at("sub/inner"))
    await attempt("rmdir", d.remove_directory_at("sub"))
    entries, res = await listing(d)
    say(f"list: {entries} {name(res)}")


class Run(exports.Run):
    async def run(self) -> None:
        env = sorted((k, v) for k, v in environment.get_environment() if k.startswith("KILN_P3_"))
        say(f"env: {env}")
        say(f"args: {environment.get_arguments()[1:]}")
        now = system_clock.now()
        say(f"system clock: {now.seconds > 1_600_000_000} {0 <= now.nanoseconds < 1_000_000_000} "
            f"resolution {system_clock.get_resolution() > 0}")
        say(f"insecure: {len(insecure.get_insecure_random_bytes(12))} bytes, "
            f"u64 {0 <= insecure.get_insecure_random_u64() < 2**64}, "
            f"seed {len(insecure_seed.get_insecure_seed())}")
        await filesystem()
        exit.exit_with_code(7)
