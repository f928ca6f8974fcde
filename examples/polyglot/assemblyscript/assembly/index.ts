// The AssemblyScript component of examples/polyglot (GET /assemblyscript), with the
// http-assemblyscript template's request/response module (kiln.ts).
import { Request, Response } from "./kiln";

const req = Request.fromEnv();
if (req.method != "GET" && req.method != "HEAD") {
  Response.error(405, "method " + req.method + " is not allowed").header("Allow", "GET, HEAD").send();
} else {
  const name = req.query("name");
  new Response(200)
    .header("Content-Type", "text/plain; charset=utf-8")
    .header("X-Language", "AssemblyScript")
    .write("Hello from AssemblyScript, " + (name != null && name.length > 0 ? name : "world") + "!\n")
    .send();
}
