#!/usr/bin/env python3
"""A registry token server for tests/e2e/registry_auth.sh: the distribution token flow
(https://distribution.github.io/distribution/spec/auth/token/) that a registry with
`auth: token:` sends clients to. GET /token?service=S&scope=repository:R:pull,push
answers {"token": JWT}: RS256, signed with openssl, the signing certificate in the
JWT's x5c header (the registry checks it against its rootcertbundle).

Usage: token_server.py PORT KEY.pem CERT.pem ISSUER USER:PASSWORD
Anonymous requests get pull access only; USER:PASSWORD (Basic) gets what it asks for;
other credentials get 401. Every request is logged to stderr."""
import base64, json, subprocess, sys, time, uuid
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import urlparse, parse_qs

port, key, cert, issuer, userpass = sys.argv[1:6]


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def cert_der():
    return subprocess.run(["openssl", "x509", "-in", cert, "-outform", "DER"],
                          check=True, capture_output=True).stdout


DER = cert_der()


def sign(data):
    return subprocess.run(["openssl", "dgst", "-sha256", "-sign", key], input=data,
                          check=True, capture_output=True).stdout


class H(BaseHTTPRequestHandler):
    def do_GET(self):
        u = urlparse(self.path)
        q = parse_qs(u.query)
        auth = self.headers.get("Authorization", "")
        user = None
        if auth.startswith("Basic "):
            if base64.b64decode(auth[6:]).decode() != userpass:
                self.send_response(401)
                self.end_headers()
                return
            user = userpass.split(":")[0]
        access = []
        for scope in q.get("scope", []):
            parts = scope.split(":")
            if len(parts) != 3:
                continue
            actions = parts[2].split(",")
            if user is None:
                actions = [a for a in actions if a == "pull"]
            access.append({"type": parts[0], "name": parts[1], "actions": actions})
        now = int(time.time())
        header = {"alg": "RS256", "typ": "JWT", "x5c": [base64.b64encode(DER).decode()]}
        claims = {"iss": issuer, "sub": user or "", "aud": q.get("service", [""])[0],
                  "exp": now + 300, "nbf": now - 10, "iat": now, "jti": str(uuid.uuid4()),
                  "access": access}
        signing_input = (b64url(json.dumps(header).encode()) + "." +
                         b64url(json.dumps(claims).encode())).encode()
        token = signing_input.decode() + "." + b64url(sign(signing_input))
        body = json.dumps({"token": token, "expires_in": 300}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        sys.stderr.write("token: " + (fmt % args) + "\n")


HTTPServer(("127.0.0.1", int(port)), H).serve_forever()
