// A wasi:http handler in JavaScript (componentize-js: StarlingMonkey's fetch event).
addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  event.respondWith(
    new Response(`hello from JavaScript ${event.request.method} ${url.pathname}\n`, {
      status: 200,
      headers: { 'content-type': 'text/plain', 'x-kiln-guest': 'js' },
    }),
  );
});
