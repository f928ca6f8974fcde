// Runs a WASI command under Node.js's WASI (V8): the baseline of `make bench`.
// usage: node bench/node-wasi.mjs FILE.wasm [ARGS...]   (stdin/stdout/stderr inherited)
import { readFile } from 'node:fs/promises';
import { WASI } from 'node:wasi';
import { argv, exit } from 'node:process';

const [file, ...args] = argv.slice(2);
const wasi = new WASI({ version: 'preview1', args: [file, ...args], env: {}, preopens: { '/': '.' } });
const module = await WebAssembly.compile(await readFile(file));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
exit(wasi.start(instance) ?? 0);
