//! kiln.rs — a small request/response module for Kiln (and Spin/WAGI) HTTP handlers in
//! Rust, with the standard library only.
//!
//! A handler is an ordinary WASI command (`fn main`). Kiln runs one fresh instance per
//! request: the request arrives as CGI environment variables plus the body on stdin, and
//! what the program prints on stdout (a header block, a blank line, the body) becomes
//! the response. This module hides that protocol:
//!
//! ```ignore
//! let req = Request::from_env();
//! let who = req.query("name").unwrap_or_else(|| "world".into());
//! Response::new(200).header("Content-Type", "text/plain").body(format!("Hi {}\n", who)).send();
//! ```
#![allow(dead_code)]

use std::env;
use std::io::{self, Read, Write};

/// The largest body `Request::from_env` reads (bytes); a larger one is cut off.
pub const MAX_BODY: usize = 64 << 20;

/// One HTTP request, read from the CGI environment and stdin.
pub struct Request {
    method: String,
    path: String,
    path_info: String,
    query_string: String,
    query: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    /// Reads the request: the environment, and the body (CONTENT_LENGTH bytes of stdin).
    pub fn from_env() -> Request {
        let method = env::var("REQUEST_METHOD").unwrap_or_else(|_| "GET".into());
        let path_info = env::var("PATH_INFO").unwrap_or_default();
        let query_string = env::var("QUERY_STRING").unwrap_or_default();
        // X_FULL_URL is scheme://authority/path?query; without it SCRIPT_NAME + PATH_INFO.
        let path = match env::var("X_FULL_URL") {
            Ok(url) => match url.find("://") {
                Some(i) => {
                    let rest = &url[i + 3..];
                    let p = rest.find('/').map(|j| &rest[j..]).unwrap_or("/");
                    p.split(|c| c == '?' || c == '#').next().unwrap_or("/").to_string()
                }
                None => "/".into(),
            },
            Err(_) => {
                let p = env::var("SCRIPT_NAME").unwrap_or_default() + &path_info;
                if p.is_empty() { "/".into() } else { p }
            }
        };
        let query = parse_query(&query_string);
        let len = env::var("CONTENT_LENGTH")
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(0)
            .min(MAX_BODY);
        let mut body = Vec::new();
        if len > 0 {
            let _ = io::stdin().take(len as u64).read_to_end(&mut body);
        }
        Request { method, path, path_info, query_string, query, body }
    }

    /// The HTTP method ("GET", "POST", ...).
    pub fn method(&self) -> &str { &self.method }
    /// The raw request path ("/users/a%20b"), without the query string.
    pub fn path(&self) -> &str { &self.path }
    /// The path below the matched route's "/..." (decoded; "" for an exact route).
    pub fn path_info(&self) -> &str { &self.path_info }
    /// The raw query string ("a=1&b=x%20y").
    pub fn query_string(&self) -> &str { &self.query_string }
    /// The first query parameter called `name`, decoded; "" for `?flag`; None if absent.
    pub fn query(&self, name: &str) -> Option<String> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }
    /// Every query parameter (decoded), in order.
    pub fn query_pairs(&self) -> &[(String, String)] { &self.query }
    /// A route segment `:name` (from X_PATH_MATCH_<NAME>), or None.
    pub fn param(&self, name: &str) -> Option<String> {
        env::var(cgi_name("X_PATH_MATCH_", name)).ok()
    }
    /// A request header by its HTTP name ("User-Agent"), or None. Like WAGI, Kiln does
    /// not pass Authorization and Connection to handlers.
    pub fn header(&self, name: &str) -> Option<String> {
        let lower = name.to_ascii_lowercase();
        let var = match lower.as_str() {
            "content-type" => "CONTENT_TYPE".to_string(),
            "content-length" => "CONTENT_LENGTH".to_string(),
            _ => cgi_name("HTTP_", name),
        };
        env::var(var).ok()
    }
    /// The request body as sent.
    pub fn body(&self) -> &[u8] { &self.body }
    /// The request body as text (invalid UTF-8 replaced by U+FFFD).
    pub fn body_text(&self) -> String { String::from_utf8_lossy(&self.body).into_owned() }
}

/// An HTTP response, buffered until `send`.
pub struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    /// An empty response with this status.
    pub fn new(status: u16) -> Response {
        Response { status, headers: Vec::new(), body: Vec::new() }
    }
    /// A text/plain response.
    pub fn text(status: u16, body: impl Into<String>) -> Response {
        Response::new(status).header("Content-Type", "text/plain; charset=utf-8").body(body.into())
    }
    /// `{"error": "<message>", "status": <status>}` as application/json.
    pub fn error(status: u16, message: &str) -> Response {
        let body = format!("{{\"error\": {}, \"status\": {}}}\n", json_string(message), status);
        Response::new(status).header("Content-Type", "application/json").body(body)
    }
    /// Adds a header (CR and LF in name or value are dropped: no header injection).
    pub fn header(mut self, name: &str, value: &str) -> Response {
        let clean = |s: &str| s.chars().filter(|c| *c != '\r' && *c != '\n').collect::<String>();
        self.headers.push((clean(name), clean(value)));
        self
    }
    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Response {
        self.body = body.into();
        self
    }
    /// Appends to the body.
    pub fn write(&mut self, data: impl AsRef<[u8]>) {
        self.body.extend_from_slice(data.as_ref());
    }
    /// Writes the response to stdout (Status, headers, blank line, body).
    pub fn send(self) {
        let status = if (100..=999).contains(&self.status) { self.status } else { 500 };
        let mut out = Vec::with_capacity(self.body.len() + 128);
        let _ = write!(out, "Status: {} {}\n", status, reason(status));
        if !self.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type")) {
            out.extend_from_slice(b"Content-Type: text/plain; charset=utf-8\n");
        }
        for (k, v) in &self.headers {
            let _ = write!(out, "{}: {}\n", k, v);
        }
        out.push(b'\n');
        out.extend_from_slice(&self.body);
        let mut stdout = io::stdout().lock();
        let _ = stdout.write_all(&out);
        let _ = stdout.flush();
    }
}

/// A JSON string literal for s (quotes and escapes included).
pub fn json_string(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// Decodes a query component: '+' is a space, %XX escapes (invalid UTF-8 replaced).
pub fn url_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() && hex(b[i + 1]).is_some() && hex(b[i + 2]).is_some() => {
                out.push(hex(b[i + 1]).unwrap() * 16 + hex(b[i + 2]).unwrap());
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.find('=') {
            Some(i) => (url_decode(&p[..i]), url_decode(&p[i + 1..])),
            None => (url_decode(p), String::new()),
        })
        .collect()
}

/// PREFIX + NAME with letters uppercased and everything else but digits turned into '_'.
fn cgi_name(prefix: &str, name: &str) -> String {
    let mut s = String::from(prefix);
    s.extend(name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }));
    s
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}
