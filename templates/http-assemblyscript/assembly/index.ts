// The HTTP handler of {{project-name}}: Kiln runs this file's top-level code once per
// request. Request.fromEnv() reads the request (method, path, query, headers, body);
// Response builds the answer and send() writes it. See assembly/kiln.ts.
import { Request, Response } from "./kiln";

const req = Request.fromEnv();
if (req.method != "GET" && req.method != "HEAD") {
  Response.error(405, "method " + req.method + " is not allowed").header("Allow", "GET, HEAD").send();
} else {
  const name = req.query("name");
  const res = new Response(200);
  res.header("Content-Type", "text/plain; charset=utf-8");
  if (name != null && name.length > 0) res.write("Hello, " + name + ", from Kiln!\n");
  else res.write("Hello from Kiln!\n");
  res.send();
}
