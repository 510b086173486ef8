"""A registry token service for the push tests (the Docker / CNCF distribution token flow).

usage: token_server.py PORT KEY CERT ISSUER SERVICE USER PASSWORD LOG

`GET /token?service=S&scope=repository:NAME:ACTIONS` with Basic credentials: for USER and
PASSWORD, an RS256 JWT signed with KEY (by `openssl dgst`), its certificate CERT in the
`x5c` header (the registry checks it against its `rootcertbundle`), granting the actions
asked for; anything else is refused with 401. Each request is logged to LOG as one JSON
line: the service and scopes asked for, the user, and whether it was granted (never a
password or a token).
"""

import base64
import json
import os
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlparse

port, key, cert, issuer, service, user, password, log = sys.argv[1:9]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def certificate_der() -> str:
    der = subprocess.run(
        ["openssl", "x509", "-in", cert, "-outform", "DER"],
        check=True,
        capture_output=True,
    ).stdout
    return base64.b64encode(der).decode()


X5C = certificate_der()


def token(subject: str, scopes: list) -> str:
    access = []
    for scope in scopes:
        parts = scope.split(":")
        if len(parts) == 3:
            kind, name, actions = parts
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
    now = int(time.time())
    header = {"typ": "JWT", "alg": "RS256", "x5c": [X5C]}
    claims = {
        "iss": issuer,
        "sub": subject,
        "aud": service,
        "exp": now + 300,
        "nbf": now - 10,
        "iat": now,
        "jti": b64url(os.urandom(12)),
        "access": access,
    }
    signed = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    signature = subprocess.run(
        ["openssl", "dgst", "-sha256", "-sign", key, "-binary"],
        input=signed.encode(),
        check=True,
        capture_output=True,
    ).stdout
    return signed + "." + b64url(signature)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        url = urlparse(self.path)
        query = parse_qs(url.query)
        scopes = [s for value in query.get("scope", []) for s in value.split(" ")]
        given = None
        authorization = self.headers.get("Authorization", "")
        if authorization.startswith("Basic "):
            given = base64.b64decode(authorization[6:]).decode(errors="replace")
        granted = url.path == "/token" and given == f"{user}:{password}"
        asker = given.split(":", 1)[0] if given else None
        with open(log, "a") as out:
            entry = {"service": query.get("service"), "scopes": scopes, "user": asker,
                     "granted": granted}
            out.write(json.dumps(entry) + "\n")
        if not granted:
            body = json.dumps({"errors": [{"code": "UNAUTHORIZED",
                                           "message": "authentication required"}]}).encode()
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        issued = token(user, scopes)
        body = json.dumps({"token": issued, "access_token": issued, "expires_in": 300}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


HTTPServer(("127.0.0.1", int(port)), Handler).serve_forever()
