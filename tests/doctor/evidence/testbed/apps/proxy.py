"""A small forwarding proxy with no tracing that drops some request headers.

Every ``GET`` is sent on to ``UPSTREAM`` (``http://127.0.0.1:<port>``) with the
same path and headers, except hop-by-hop headers and those named in
``STRIP_HEADERS`` (comma-separated, case-insensitive): what a misconfigured
ingress or sidecar does to ``traceparent``.  ``Host`` names the upstream, as
nginx sets it by default; ``PRESERVE_HOST=1`` passes the client's on, as Envoy
does.  Standard library HTTP, no tracing.
"""

from __future__ import annotations

import http.client
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from _common import exit_with_the_test_bed  # realworld/apps, on PYTHONPATH or beside

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te"}
STRIP = {h.strip().lower() for h in os.environ.get("STRIP_HEADERS", "").split(",") if h.strip()}
UPSTREAM = urlsplit(os.environ["UPSTREAM"])
PRESERVE_HOST = os.environ.get("PRESERVE_HOST") == "1"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        headers = {
            k: v
            for k, v in self.headers.items()
            if k.lower() not in HOP_BY_HOP and k.lower() not in STRIP
        }
        if not PRESERVE_HOST:  # nginx's default; Envoy and `proxy_set_header Host $host` keep it
            headers["Host"] = UPSTREAM.netloc
        upstream = http.client.HTTPConnection(UPSTREAM.hostname, UPSTREAM.port, timeout=20)
        try:
            upstream.request("GET", self.path, headers=headers)
            answer = upstream.getresponse()
            body = answer.read()
        finally:
            upstream.close()
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.getheader("Content-Type", "text/plain"))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    exit_with_the_test_bed()
    ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
