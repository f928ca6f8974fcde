// An HTTP handler in TypeScript: the module's default export has a fetch(request) method,
// as in Cloudflare Workers, Deno and Bun. It gets a standard Request and returns a Response
// (or a promise of one); the service-worker form, addEventListener('fetch', ...), works too.
// The build strips the types and bundles what it imports. Kiln runs it in a fresh
// instance per request, so globals do not carry over from one request to the next.

export default {
  async fetch(request: Request): Promise<Response> {
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
  },
};
