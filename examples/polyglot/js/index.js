// The JavaScript front end of examples/polyglot (componentize-js, a wasi:http component):
// GET /?text=... asks the C component /process to analyse the text, with fetch() through
// Spin's service chaining (http://process.spin.internal: the call is answered in process,
// by the component named "process", without a socket; allowed_outbound_hosts grants it),
// and renders the JSON it gets back as an HTML page. When /process cannot be reached, the
// page says so with a 502.

const escape = (s) =>
  String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

const page = (title, body) =>
  `<!doctype html>\n<html><head><meta charset="utf-8"><title>${escape(title)}</title></head>\n` +
  `<body><h1>${escape(title)}</h1>\n${body}\n</body></html>\n`;

export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      return new Response(`method ${request.method} is not allowed\n`, {
        status: 405,
        headers: { allow: 'GET, HEAD', 'content-type': 'text/plain' },
      });
    }
    const text = url.searchParams.get('text') ?? 'Hello from JavaScript and C';
    let result;
    try {
      const r = await fetch('http://process.spin.internal/process?text=' + encodeURIComponent(text));
      if (!r.ok) throw new Error(`/process answered ${r.status}`);
      result = await r.json();
    } catch (e) {
      return new Response(page('Polyglot: /process failed', `<p>${escape(e.message)}</p>`), {
        status: 502,
        headers: { 'content-type': 'text/html; charset=utf-8' },
      });
    }
    const rows = ['text', 'chars', 'words', 'upper']
      .map((k) => `<tr><th>${k}</th><td id="${k}">${escape(result[k])}</td></tr>`)
      .join('\n');
    return new Response(
      page('Polyglot: JavaScript front end, C back end', `<table>\n${rows}\n</table>`),
      { headers: { 'content-type': 'text/html; charset=utf-8', 'x-language': 'javascript' } },
    );
  },
};
