// An HTTP handler in JavaScript: the fetch event of Service Workers (the API of Cloudflare
// Workers and Spin's JavaScript SDK). It gets a standard Request and answers with a Response
// (or a promise of one): headers, url, method, await request.text() / .json() all work as in
// a browser. Kiln runs it in a fresh instance per request, so globals do not carry over.

async function handle(request) {
  const url = new URL(request.url);

  if (url.pathname === '/') {
    const name = url.searchParams.get('name');
    return new Response(name ? `Hello, ${name}, from Kiln!` : 'Hello from Kiln!', {
      headers: { 'content-type': 'text/plain' },
    });
  }

  if (url.pathname === '/echo' && request.method === 'POST') {
    // The body back, with its content type.
    const body = await request.text();
    return new Response(body, {
      headers: { 'content-type': request.headers.get('content-type') ?? 'text/plain' },
    });
  }

  if (url.pathname === '/headers') {
    // The request's headers, as JSON.
    return Response.json(Object.fromEntries(request.headers.entries()));
  }

  return new Response(`No route for ${request.method} ${url.pathname}\n`, {
    status: 404,
    headers: { 'content-type': 'text/plain' },
  });
}

addEventListener('fetch', (event) => event.respondWith(handle(event.request)));
