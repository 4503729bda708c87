"""Serves one recorded event stream for every GET, as fast as the socket takes it.

    python replay_server.py PORT FILE

Used by the stream benchmark so that both clients are measured against the same bytes with
the server out of the way (the emulator generates outputs on the fly and is slower than the
Rust client). Record FILE from the emulator with curl first (see benches/README.md).

A `last_event_id` query parameter is honoured as the API does: the stream restarts after the
event with that `event_id` (empty when it is the last one), so a client that reopens the
stream to check that it has ended gets what the API would send.
"""

import http.server
import sys
import urllib.parse


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 (the name http.server requires)
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        start = after(query.get("last_event_id", [""])[0])
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("content-length", str(len(BODY) - start))
        self.end_headers()
        self.wfile.flush()
        # sendfile: the kernel copies the file to the socket, so the server itself takes
        # almost no CPU away from the client measured on the same machine.
        with open(PATH, "rb") as body:
            self.connection.sendfile(body, offset=start)

    def log_message(self, *args) -> None:
        pass


def after(event_id: str) -> int:
    """The offset of the event after the one with this `event_id`: 0 for none or unknown."""
    return AFTER.get(event_id, 0)


def index(body: bytes) -> dict:
    """Each `event_id` of the recording with the offset just after its event, found once at
    start so that a resumed request is answered at once (as a server with an index would),
    not after a scan of the whole recording."""
    offsets = {}
    key = b'"event_id":"'
    at = body.find(key)
    while at >= 0:
        start = at + len(key)
        event_id = body[start : body.find(b'"', start)].decode()
        end = body.find(b"\n\n", start)
        offsets.setdefault(event_id, len(body) if end < 0 else end + 2)
        at = body.find(key, start if end < 0 else end)
    return offsets


if __name__ == "__main__":
    port, PATH = int(sys.argv[1]), sys.argv[2]
    with open(PATH, "rb") as f:
        BODY = f.read()
    AFTER = index(BODY)
    http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
