//! The HTTP handler of {{project-name}}: Kiln runs main() once per request.
//! `kiln::Request::from_env()` reads the request (method, path, query, headers, body);
//! `kiln::Response` builds the answer and `send()` writes it. See src/kiln.rs.
mod kiln;

use kiln::{Request, Response};

fn main() {
    let req = Request::from_env();
    if req.method() != "GET" && req.method() != "HEAD" {
        Response::error(405, &format!("method {} is not allowed", req.method()))
            .header("Allow", "GET, HEAD")
            .send();
        return;
    }
    let body = match req.query("name") {
        Some(name) if !name.is_empty() => format!("Hello, {}, from Kiln!\n", name),
        _ => "Hello from Kiln!\n".to_string(),
    };
    Response::new(200)
        .header("Content-Type", "text/plain; charset=utf-8")
        .body(body)
        .send();
}
