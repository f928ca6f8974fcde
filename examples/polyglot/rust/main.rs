//! The Rust component of examples/polyglot (GET /rust), with the http-rust template's
//! request/response module (kiln.rs, standard library only), used from the template.
#[path = "../../../templates/http-rust/src/kiln.rs"]
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
    let name = req.query("name").filter(|n| !n.is_empty()).unwrap_or_else(|| "world".into());
    Response::text(200, format!("Hello from Rust, {}!\n", name))
        .header("X-Language", "Rust")
        .send();
}
