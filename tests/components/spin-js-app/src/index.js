// An http-js app (Spin's JS SDK: the fetch event of @spinframework/wasi-http-proxy) that
// makes an outbound request with fetch(), for tests/e2e/spin_sdk_js.sh:
//   GET /fetch?url=URL   fetches URL: the upstream's status and body, its content-type as
//                        x-fetched-type; a failed fetch answers 502 with the error
//   anything else        echoes the method, the path and the request body
async function handle(request) {
    const url = new URL(request.url);
    if (url.pathname === '/fetch') {
        try {
            const got = await fetch(url.searchParams.get('url'));
            return new Response(await got.text(), {
                status: got.status,
                headers: {
                    'content-type': 'text/plain',
                    'x-fetched-type': got.headers.get('content-type') || '',
                },
            });
        } catch (e) {
            return new Response(`fetch failed: ${e}`, { status: 502 });
        }
    }
    const body = await request.text();
    return new Response(`${request.method} ${url.pathname} ${body}`, {
        headers: { 'content-type': 'text/plain', 'x-js': 'spin-js-sdk' },
    });
}

addEventListener('fetch', (event) => {
    event.respondWith(handle(event.request));
});
