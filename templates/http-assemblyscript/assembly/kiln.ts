// kiln.ts — a small request/response module for Kiln (and Spin/WAGI) HTTP handlers in
// AssemblyScript, on top of @assemblyscript/wasi-shim (which provides `process`).
//
// A handler is an ordinary WASI command: the top-level code of index.ts runs once per
// request, in a fresh instance. The request arrives as CGI environment variables plus
// the body on stdin; what the program prints on stdout (a header block, a blank line,
// the body) becomes the response. This module hides that protocol:
//
//   const req = Request.fromEnv();
//   const name = req.query("name");
//   const res = new Response(200);
//   res.header("Content-Type", "text/plain; charset=utf-8");
//   res.write("Hello, " + (name != null ? name : "world") + "!\n");
//   res.send();

// The largest body Request.fromEnv reads (bytes); a larger one is cut off.
export const MAX_BODY: i32 = 64 << 20;

function env(name: string): string | null {
  return process.env.has(name) ? process.env.get(name) : null;
}

function envOr(name: string, dflt: string): string {
  return process.env.has(name) ? process.env.get(name) : dflt;
}

/** PREFIX + NAME with letters uppercased and everything but letters/digits as '_'. */
function cgiName(prefix: string, name: string): string {
  let s = prefix;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if ((c >= 48 && c <= 57) || (c >= 65 && c <= 90)) s += String.fromCharCode(c);
    else if (c >= 97 && c <= 122) s += String.fromCharCode(c - 32);
    else s += "_";
  }
  return s;
}

function hexVal(c: i32): i32 {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/** Decodes a query component: '+' is a space, %XX escapes are bytes of UTF-8. */
export function urlDecode(s: string): string {
  const src = String.UTF8.encode(s);
  const b = Uint8Array.wrap(src);
  const out = new Uint8Array(b.length);
  let n = 0;
  for (let i = 0; i < b.length; i++) {
    const c = <i32>b[i];
    if (c == 43) {
      out[n++] = 32;
    } else if (c == 37 && i + 2 < b.length && hexVal(b[i + 1]) >= 0 && hexVal(b[i + 2]) >= 0) {
      out[n++] = <u8>(hexVal(b[i + 1]) * 16 + hexVal(b[i + 2]));
      i += 2;
    } else {
      out[n++] = <u8>c;
    }
  }
  return String.UTF8.decode(out.buffer.slice(0, n));
}

/** A JSON string literal for s (quotes and escapes included). */
export function jsonString(s: string): string {
  let o = "\"";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c == 34) o += "\\\"";
    else if (c == 92) o += "\\\\";
    else if (c == 10) o += "\\n";
    else if (c == 13) o += "\\r";
    else if (c == 9) o += "\\t";
    else if (c < 32) o += "\\u00" + (c < 16 ? "0" : "") + c.toString(16);
    else o += String.fromCharCode(c);
  }
  return o + "\"";
}

/** One HTTP request, read from the CGI environment and stdin. */
export class Request {
  /** The HTTP method ("GET", "POST", ...). */
  method: string = "GET";
  /** The raw request path ("/users/a%20b"), without the query string. */
  path: string = "/";
  /** The path below the matched route's "/..." (decoded; "" for an exact route). */
  pathInfo: string = "";
  /** The raw query string ("a=1&b=x%20y"). */
  queryString: string = "";
  /** The request body as sent. */
  body: Uint8Array = new Uint8Array(0);
  private queryNames: string[] = [];
  private queryValues: string[] = [];

  /** Reads the request: the environment, and CONTENT_LENGTH bytes of stdin. */
  static fromEnv(): Request {
    const r = new Request();
    r.method = envOr("REQUEST_METHOD", "GET");
    r.pathInfo = envOr("PATH_INFO", "");
    r.queryString = envOr("QUERY_STRING", "");
    // X_FULL_URL is scheme://authority/path?query; without it SCRIPT_NAME + PATH_INFO.
    const url = env("X_FULL_URL");
    if (url != null && url.indexOf("://") >= 0) {
      const rest = url.substring(url.indexOf("://") + 3);
      const slash = rest.indexOf("/");
      let p = slash >= 0 ? rest.substring(slash) : "/";
      const q = p.indexOf("?");
      if (q >= 0) p = p.substring(0, q);
      const h = p.indexOf("#");
      if (h >= 0) p = p.substring(0, h);
      r.path = p;
    } else {
      const p = envOr("SCRIPT_NAME", "") + r.pathInfo;
      r.path = p.length > 0 ? p : "/";
    }
    const parts = r.queryString.split("&");
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i];
      if (part.length == 0) continue;
      const eq = part.indexOf("=");
      r.queryNames.push(urlDecode(eq >= 0 ? part.substring(0, eq) : part));
      r.queryValues.push(eq >= 0 ? urlDecode(part.substring(eq + 1)) : "");
    }
    let len = I32.parseInt(envOr("CONTENT_LENGTH", "0"));
    if (isNaN(len) || len < 0) len = 0;
    if (len > MAX_BODY) len = MAX_BODY;
    const len32 = <i32>len;
    if (len32 > 0) {
      const buf = new ArrayBuffer(len32);
      let got = 0;
      while (got < len32) {
        const n = process.stdin.read(buf, got);
        if (n <= 0) break;
        got += n;
      }
      r.body = Uint8Array.wrap(buf, 0, got);
    }
    return r;
  }

  /** The first query parameter called `name`, decoded; "" for `?flag`; null if absent. */
  query(name: string): string | null {
    for (let i = 0; i < this.queryNames.length; i++)
      if (this.queryNames[i] == name) return this.queryValues[i];
    return null;
  }

  /** The number of query parameters; queryName(i)/queryValue(i) give each. */
  get queryCount(): i32 { return this.queryNames.length; }
  queryName(i: i32): string { return this.queryNames[i]; }
  queryValue(i: i32): string { return this.queryValues[i]; }

  /** A route segment `:name` (from X_PATH_MATCH_<NAME>), or null. */
  param(name: string): string | null {
    return env(cgiName("X_PATH_MATCH_", name));
  }

  /** A request header by its HTTP name ("User-Agent"), or null. Like WAGI, Kiln does not
   *  pass Authorization and Connection to handlers. */
  header(name: string): string | null {
    const lower = name.toLowerCase();
    if (lower == "content-type") return env("CONTENT_TYPE");
    if (lower == "content-length") return env("CONTENT_LENGTH");
    return env(cgiName("HTTP_", name));
  }

  /** The body as text (UTF-8). */
  bodyText(): string {
    return String.UTF8.decode(this.body.buffer.slice(this.body.byteOffset, this.body.byteOffset + this.body.byteLength));
  }
}

function reason(status: i32): string {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    default: return "Unknown";
  }
}

function stripCrLf(s: string): string {
  return s.replaceAll("\r", "").replaceAll("\n", "");
}

/** An HTTP response, buffered until send(). */
export class Response {
  status: i32;
  private names: string[] = [];
  private values: string[] = [];
  private body: string = "";

  constructor(status: i32 = 200) {
    this.status = status;
  }

  /** `{"error": "<message>", "status": <status>}` as application/json. */
  static error(status: i32, message: string): Response {
    const r = new Response(status);
    r.header("Content-Type", "application/json");
    r.write("{\"error\": " + jsonString(message) + ", \"status\": " + status.toString() + "}\n");
    return r;
  }

  /** Adds a header (CR and LF are dropped: no header injection). Returns this. */
  header(name: string, value: string): Response {
    this.names.push(stripCrLf(name));
    this.values.push(stripCrLf(value));
    return this;
  }

  /** Appends text to the body. Returns this. */
  write(text: string): Response {
    this.body += text;
    return this;
  }

  /** Writes the response to stdout (Status, headers, blank line, body). */
  send(): void {
    const status = this.status >= 100 && this.status <= 999 ? this.status : 500;
    let head = "Status: " + status.toString() + " " + reason(status) + "\n";
    let hasType = false;
    for (let i = 0; i < this.names.length; i++)
      if (this.names[i].toLowerCase() == "content-type") hasType = true;
    if (!hasType) head += "Content-Type: text/plain; charset=utf-8\n";
    for (let i = 0; i < this.names.length; i++) head += this.names[i] + ": " + this.values[i] + "\n";
    process.stdout.write(head + "\n" + this.body);
  }
}
