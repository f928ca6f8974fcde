// Preopens directories for a component run by `jco run` / `jco serve`, which by default give
// the guest no filesystem. Use: jco run --jco-import $KILN_TOOLS/npm/preopens.mjs C.wasm, with
// JCO_PREOPENS="GUEST=HOST[,GUEST=HOST...]" in the environment (e.g. "/data=/tmp/x").
import { _setPreopens } from '@bytecodealliance/preview2-shim/filesystem';

const map = {};
for (const entry of (process.env.JCO_PREOPENS || '').split(',')) {
  const eq = entry.indexOf('=');
  if (eq > 0) map[entry.slice(0, eq)] = entry.slice(eq + 1);
}
_setPreopens(map);
