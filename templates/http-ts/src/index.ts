// An HTTP handler in TypeScript: the fetch event of Service Workers (the API of Cloudflare
// Workers and Spin's JavaScript SDK). It gets a standard Request and answers with a Response
// (or a promise of one). jco strips the types and bundles this file with what it imports;
// Kiln runs it in a fresh instance per request, so globals do not carry over.

async function handle(request: Request): Promise<Response> {
  const url = new URL(request.url);

  if (url.pathname === '/') {
    const name: string | null = url.searchParams.get('name');
    return new Response(name ? `Hello, ${name}, from Kiln!` : 'Hello from Kiln!', {
      headers: { 'content-type': 'text/plain' },
    });
  }

  if (url.pathname === '/echo' && request.method === 'POST') {
    // The body back, with its content type.
    const body: string = await request.text();
    return new Response(body, {
      headers: { 'content-type': request.headers.get('content-type') ?? 'text/plain' },
    });
  }

  if (url.pathname === '/headers') {
    // The request's headers, as JSON.
    const headers: Record<string, string> = {};
    request.headers.forEach((value, name) => {
      headers[name] = value;
    });
    return Response.json(headers);
  }

  return new Response(`No route for ${request.method} ${url.pathname}\n`, {
    status: 404,
    headers: { 'content-type': 'text/plain' },
  });
}

addEventListener('fetch', (event: FetchEvent) => event.respondWith(handle(event.request)));
