"""Serves one recorded event stream for every GET, as fast as the socket takes it.

    python replay_server.py PORT FILE

Used by the stream benchmark so that both clients are measured against the same bytes with
the server out of the way (the emulator generates outputs on the fly and is slower than the
Rust client). Record FILE from the emulator with curl first (see benches/README.md).
"""

import http.server
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 (the name http.server requires)
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("content-length", str(len(BODY)))
        self.end_headers()
        self.wfile.flush()
        # sendfile: the kernel copies the file to the socket, so the server itself takes
        # almost no CPU away from the client measured on the same machine.
        with open(PATH, "rb") as body:
            self.connection.sendfile(body)

    def log_message(self, *args) -> None:
        pass


if __name__ == "__main__":
    port, PATH = int(sys.argv[1]), sys.argv[2]
    with open(PATH, "rb") as f:
        BODY = f.read()
    http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
