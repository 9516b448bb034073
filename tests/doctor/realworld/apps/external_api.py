"""``fraud-check``: a third-party API with no tracing at all (run without instrumentation).

Standard library HTTP, no tracing; ``GET /score`` answers ``{"score": 0.1}``.  Calls to it
are not broken edges: nothing on this side could continue a trace.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from _common import exit_with_the_test_bed  # realworld/apps, on PYTHONPATH or beside


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"score": 0.1}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    exit_with_the_test_bed()
    ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
