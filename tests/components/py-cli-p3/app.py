"""A wasi:cli 0.3 (p3) command in Python (componentize-py's async bindings), for
tests/e2e/p3_diff.sh: its async `run` prints a line, awaits a wasi:clocks wait-for of
10 ms, prints two more and returns ok (exit code 0). print goes through componentize-py's
libc, that is WASI 0.2's stdout."""

from wit_world import exports
from wit_world.imports import monotonic_clock


class Run(exports.Run):
    async def run(self) -> None:
        print("hello from a Python p3 command", flush=True)
        await monotonic_clock.wait_for(10_000_000)
        print("after a wait", flush=True)
        print("done", flush=True)
