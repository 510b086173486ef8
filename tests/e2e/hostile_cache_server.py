"""A Bazel HTTP cache for pybuild's tests (tests/e2e/hostile_cache.rs), on a loopback port:
stores what is PUT under ROOT/data, answers GET and HEAD from it, except that a GET of a
path named in ROOT/rules.json gets the hostile answer its rule says, and is logged to
ROOT/answers.log with how many bytes of its body were sent before the client hung up.
The port is written to ROOT/port. Usage: python3 server.py ROOT
"""

import http.server, json, os, sys, time

root = sys.argv[1]
data = os.path.join(root, "data")
GB = 10 ** 9
MB = 1 << 20


class Cache(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def stored(self):
        return os.path.join(data, self.path.lstrip("/"))

    def rule(self):
        try:
            with open(os.path.join(root, "rules.json")) as f:
                return json.load(f).get(self.path)
        except FileNotFoundError:
            return None

    def answer(self, status, body=b""):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_PUT(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        path = self.stored()
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path + ".part", "wb") as f:
            f.write(body)
        os.rename(path + ".part", path)
        self.answer(201)

    def do_HEAD(self):
        path = self.stored()
        exists = os.path.isfile(path)
        self.send_response(200 if exists else 404)
        self.send_header("Content-Length", str(os.path.getsize(path) if exists else 0))
        self.end_headers()

    def do_GET(self):
        path = self.stored()
        if not os.path.isfile(path):
            return self.answer(404)
        with open(path, "rb") as f:
            body = f.read()
        rule = self.rule()
        if rule is None:
            return self.answer(200, body)
        self.close_connection = True
        self.sent, hung_up = 0, False
        try:
            self.hostile(rule, body)
        except (BrokenPipeError, ConnectionResetError):
            hung_up = True
        line = {"path": self.path, "sent": self.sent, "hung_up": hung_up}
        with open(os.path.join(root, "answers.log"), "a") as log:
            log.write(json.dumps(line) + "\n")

    def hostile(self, rule, body):
        # The honest body, then zeros up to `total` bytes; `length` is the Content-Length
        # declared (None: chunked, no length).
        total = len(body)
        if rule == "huge-length":
            total = length = 10 * GB
        elif rule == "longer-length":
            total = length = len(body) + 256 * MB
        elif rule == "longer-chunked":
            total, length = 10 * GB, None
        elif rule == "padded-entry":
            # An unknown protobuf field (15, bytes) of 1 MiB: still a well-formed entry.
            body += field(MB)
            total = length = len(body) + MB
        elif rule == "endless-entry":
            body += field(10 * GB)
            total, length = len(body) + 10 * GB, None
        else:
            length = len(body)
        self.send_response(200)
        if length is None:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(length))
        self.end_headers()
        chunked = length is None
        if rule == "slow":
            for i in range(len(body)):
                self.send(body[i : i + 1], chunked)
                time.sleep(1)
            return
        self.send(body, chunked)
        while self.sent < total:
            self.send(bytes(min(MB, total - self.sent)), chunked)
        if chunked:
            self.wfile.write(b"0\r\n\r\n")

    def send(self, data, chunked):
        if chunked:
            self.wfile.write(b"%x\r\n" % len(data) + data + b"\r\n")
        else:
            self.wfile.write(data)
        self.sent += len(data)


def field(length):
    """The tag and length of field 15 (bytes) of a protobuf message."""
    out = b"\x7a"
    while length >= 0x80:
        out += bytes([length & 0x7F | 0x80])
        length >>= 7
    return out + bytes([length])


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Cache)
server.daemon_threads = True
with open(os.path.join(root, "port.part"), "w") as f:
    f.write(str(server.server_address[1]))
os.rename(os.path.join(root, "port.part"), os.path.join(root, "port"))
server.serve_forever()
