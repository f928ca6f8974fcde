// Runs the jco CLI (installed by scripts/install-tools.sh in $KILN_TOOLS/npm) with the host
// root preopened for the WASI preview2 shim that jco's own wasm-based tools run on. Plain
// `jco componentize` fails with "failed to get path metadata (os error 44)" because its WIT
// parser, a component run under @bytecodealliance/preview2-shim, sees no preopened directory.
// Usage: node jco.mjs JCO-ARGS...   (KILN_TOOLS_NPM: the npm prefix, default beside this file)
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const prefix = process.env.KILN_TOOLS_NPM || dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(prefix, 'package.json'));
const shim = await import(pathToFileURL(require.resolve('@bytecodealliance/preview2-shim/filesystem')));
shim._setPreopens({ '/': '/' });
const jco = join(prefix, 'node_modules/@bytecodealliance/jco/dist/jco.js');
process.argv = [process.argv[0], jco, ...process.argv.slice(2)];
await import(pathToFileURL(jco));
