"""``--forward URL``: every accepted request passed on to the real collector.

The forwarder sends from a thread of its own, after the request is durable
here, so a slow or absent collector never slows the exporters down.  It holds
at most `MAX_QUEUED` requests; past that the oldest is dropped, and every drop
and every failed send is counted (``/api/status``).
"""

from __future__ import annotations

import collections
import threading
import urllib.error
import urllib.request

from tracehound.doctor.serve._journal import PROTOBUF

__all__ = ["MAX_QUEUED", "Forwarder"]

MAX_QUEUED = 256
TIMEOUT = 10.0


class Forwarder:
    """POSTs each body to ``url`` (an OTLP/HTTP traces endpoint) in order."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self.url = url
        self.headers = dict(headers or {})
        self.sent = 0
        self.failed = 0
        self.dropped = 0
        self.last_error: str | None = None
        self._queue: collections.deque[tuple[bytes, bytes]] = collections.deque()
        self._wake = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="tracehound-forward", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def submit(self, kind: bytes, body: bytes) -> None:
        with self._wake:
            if len(self._queue) >= MAX_QUEUED:
                self._queue.popleft()
                self.dropped += 1
            self._queue.append((kind, body))
            self._wake.notify()

    def stop(self, drain: float = 5.0) -> None:
        """Send what is queued (for at most ``drain`` seconds), then stop."""
        with self._wake:
            self._stop = True
            self._wake.notify()
        if self._thread.is_alive():
            self._thread.join(drain)

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._queue and not self._stop:
                    self._wake.wait()
                if not self._queue:
                    return
                kind, body = self._queue.popleft()
            self._send(kind, body)

    def _send(self, kind: bytes, body: bytes) -> None:
        ctype = "application/x-protobuf" if kind == PROTOBUF else "application/json"
        request = urllib.request.Request(
            self.url, data=body, method="POST", headers={**self.headers, "Content-Type": ctype}
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
                answer.read()
            self.sent += 1
        except (urllib.error.URLError, OSError, ValueError) as exc:
            self.failed += 1
            self.last_error = str(exc)

    def status(self) -> dict[str, object]:
        return {
            "url": self.url,
            "sent": self.sent,
            "failed": self.failed,
            "dropped": self.dropped,
            "queued": len(self._queue),
            "last_error": self.last_error,
        }
