// jco_p3_serve.mjs — serves a wasi:http 0.3 handler component transpiled by jco
// (`jco transpile --async-mode jspi`) on Node >= 24 (--experimental-wasm-jspi).
//
//     node --experimental-wasm-jspi jco_p3_serve.mjs TRANSPILED.js PORT [concurrent]
//
// Prints "Serving HTTP on PORT" once listening. By default with
// @bytecodealliance/preview3-shim's own HTTP server (HttpServer: node:http in a worker),
// which takes the next request only once the previous response ended. One adapter is
// needed there: preview3-shim 0.7.0's HttpServer expects handle() to give a result variant
// ({tag: 'ok', val}), while the code jco 1.35.0 generates returns the response itself and
// throws (ComponentError) for an error-code; handle is wrapped to turn one into the other.
// With `concurrent`, a node:http server in this thread does what HttpServer does (the
// request made with request.new from the node request, its body and trailers streamed in;
// the response's status, headers, body and trailers streamed out) for every request as it
// comes, so that the component's one instance serves several requests at once.
import { createServer } from 'node:http';
import {
  HttpServer,
  types,
  _fieldsFromEntriesChecked,
  _readTrailersForTransport,
  _trailerResultFromEntries,
} from '@bytecodealliance/preview3-shim/http';
import { StreamReader, readableByteStreamFromReader } from '@bytecodealliance/preview3-shim/stream';
import { FutureReader, future } from '@bytecodealliance/preview3-shim/future';

const [mod, port, mode] = [await import(process.argv[2]), Number(process.argv[3]), process.argv[4]];
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

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const entries = (obj) =>
  Object.entries(obj ?? {}).flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x) => [k, encoder.encode(x)]));
const object = (list) => {
  const o = {};
  for (const [k, v] of list) (o[k] ??= []).push(decoder.decode(v));
  return o;
};

// One request of the concurrent server, as HttpServer's serve loop and worker do it.
async function serveOne(nreq, nres) {
  const trailers = new Promise((resolve) => nreq.on('end', () => resolve(entries(nreq.trailersDistinct))));
  const body = new StreamReader(nreq);
  const [req] = types.Request.new(
    _fieldsFromEntriesChecked(entries(nreq.headersDistinct)),
    body,
    new FutureReader(trailers.then(_trailerResultFromEntries)),
    null,
  );
  req.setMethod({ tag: nreq.method.toLowerCase() });
  req.setPathWithQuery(nreq.url);
  const outcome = await handler.handle(req);
  if (outcome.tag !== 'ok') {
    nres.writeHead(500).end();
    return;
  }
  const res = outcome.val;
  const { rx } = future();
  const [rbody, rtrailers] = types.Response.consumeBody(res, rx);
  nres.writeHead(res.getStatusCode(), object(res.getHeaders().copyAll()));
  for await (const chunk of readableByteStreamFromReader(rbody, { name: 'response body' })) nres.write(chunk);
  const t = await _readTrailersForTransport(rtrailers);
  if (t) nres.addTrailers(object(t));
  nres.end();
}

if (mode === 'concurrent') {
  const server = createServer((nreq, nres) =>
    serveOne(nreq, nres).catch((e) => {
      console.error('server error:', e);
      nres.destroy(e);
    }),
  );
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
} else {
  const server = new HttpServer(handler);
  server.on('error', (e) => console.error('server error:', e));
  await server.listen(port, '127.0.0.1');
}
console.log('Serving HTTP on', port);
