// A JavaScript wasi:http handler that calls other services with fetch (componentize-js:
// StarlingMonkey's fetch over wasi:http/outgoing-handler), for tests/e2e-full/up_outbound_js.sh.
//   .../fetch?url=URL[&method=POST&body=TEXT]  200: "status: S\nx-upstream: V\nbody: BODY\n"
//                                              (502: "error: MESSAGE\n")
//   .../fanout?n=N&url=URL                     N fetches at once: "done N: S S ...\n"
addEventListener('fetch', (event) => event.respondWith(handle(event.request)));

async function handle(req) {
  const u = new URL(req.url);
  const target = u.searchParams.get('url');
  try {
    if (u.pathname.endsWith('/fanout')) {
      const n = Number(u.searchParams.get('n') || '1');
      const rs = await Promise.all(Array.from({ length: n }, () => fetch(target)));
      await Promise.all(rs.map((r) => r.text()));
      return new Response(`done ${n}: ${rs.map((r) => r.status).join(' ')}\n`);
    }
    const method = u.searchParams.get('method') || 'GET';
    const init = { method };
    if (method === 'POST') init.body = u.searchParams.get('body') || '';
    const r = await fetch(target, init);
    const text = await r.text();
    return new Response(
      `status: ${r.status}\nx-upstream: ${r.headers.get('x-upstream')}\nbody: ${text}\n`,
    );
  } catch (e) {
    return new Response(`error: ${e}\n`, { status: 502 });
  }
}
