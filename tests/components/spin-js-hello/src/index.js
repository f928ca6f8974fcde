// The http-js template's handler (no router): a plain-text greeting for every request.
addEventListener('fetch', (event) => {
    event.respondWith(new Response('Hello, Spin!', {
        status: 200,
        headers: { 'content-type': 'text/plain' },
    }));
});
