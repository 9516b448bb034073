"""A forwarding proxy that strips the W3C trace headers, as a misconfigured proxy does.

Uninstrumented stdlib ``http.server``: forwards ``GET`` to ``UPSTREAM`` with every
header except ``traceparent`` and ``tracestate`` (the fault). Listens on
127.0.0.1:``PORT``.
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

UPSTREAM = urlsplit(os.environ["UPSTREAM"])
STRIPPED = {"traceparent", "tracestate"}


class Forward(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        headers = {k: v for k, v in self.headers.items() if k.lower() not in STRIPPED}
        conn = http.client.HTTPConnection(UPSTREAM.hostname, UPSTREAM.port, timeout=5)
        try:
            conn.request("GET", UPSTREAM.path + self.path[self.path.find("?"):], headers=headers)
            answer = conn.getresponse()
            body = answer.read()
        finally:
            conn.close()
        self.send_response(answer.status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def _exit_with_the_test_bed() -> None:
    pid = int(os.environ.get("TESTBED_PARENT_PID") or 0)

    def watch() -> None:
        while True:
            time.sleep(1)
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                os._exit(0)

    if pid > 0:
        threading.Thread(target=watch, daemon=True).start()


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    _exit_with_the_test_bed()
    ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Forward).serve_forever()
