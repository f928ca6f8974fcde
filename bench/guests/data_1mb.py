# Writes a WebAssembly text module with 1 MiB of (non-zero) data and an empty export:
# the "module with 1 MB of data" of the instantiation benchmark.
import sys
chunk = "".join("\\%02x" % ((i * 7 + 1) & 0xff) for i in range(4096))
segs = "\n".join('  (data (i32.const %d) "%s")' % (i * 4096, chunk) for i in range(256))
sys.stdout.write("(module\n  (memory (export \"memory\") 17)\n%s\n  (func (export \"noop\"))\n)\n" % segs)
