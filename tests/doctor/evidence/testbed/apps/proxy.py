"""A small forwarding proxy with no tracing that drops some request headers.

Every ``GET`` is sent on to ``UPSTREAM`` (``http://127.0.0.1:<port>``) with the
same path and headers, except hop-by-hop headers and those named in
``STRIP_HEADERS`` (comma-separated, case-insensitive): what a misconfigured
ingress or sidecar does to ``traceparent``.  Standard library only.
"""

from __future__ import annotations

import http.client
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te"}
STRIP = {h.strip().lower() for h in os.environ.get("STRIP_HEADERS", "").split(",") if h.strip()}
UPSTREAM = urlsplit(os.environ["UPSTREAM"])


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        headers = {
            k: v
            for k, v in self.headers.items()
            if k.lower() not in HOP_BY_HOP and k.lower() not in STRIP
        }
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


def _exit_with_the_test_bed() -> None:
    pid = int(os.environ.get("TESTBED_PARENT_PID") or 0)
    while pid > 0:
        time.sleep(1)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            os._exit(0)
        except PermissionError:
            pass


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    threading.Thread(target=_exit_with_the_test_bed, daemon=True).start()
    ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
