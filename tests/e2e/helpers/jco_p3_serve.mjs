// jco_p3_serve.mjs — serves a wasi:http 0.3 handler component transpiled by jco
// (`jco transpile --async-mode jspi`) on Node >= 24 (--experimental-wasm-jspi), with
// @bytecodealliance/preview3-shim's own HTTP server (HttpServer, node:http in a worker).
//
//     node --experimental-wasm-jspi jco_p3_serve.mjs TRANSPILED.js PORT
//
// Prints "Serving HTTP on PORT" once listening. One adapter is needed: preview3-shim
// 0.7.0's HttpServer expects handle() to give a result variant ({tag: 'ok', val}), while
// the code jco 1.35.0 generates returns the response itself and throws (ComponentError)
// for an error-code; handle is wrapped to turn one into the other (an error-code: 500).
import { HttpServer } from '@bytecodealliance/preview3-shim/http';

const [mod, port] = [await import(process.argv[2]), Number(process.argv[3])];
const handler = {
  async handle(req) {
    try {
      return { tag: 'ok', val: await mod.handler.handle(req) };
    } catch (e) {
      console.error('handle returned an error-code:', e?.payload ?? e);
      return { tag: 'err', val: e?.payload ?? e };
    }
  },
};
const server = new HttpServer(handler);
server.on('error', (e) => console.error('server error:', e));
await server.listen(port, '127.0.0.1');
console.log('Serving HTTP on', port);
