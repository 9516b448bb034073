"""A tiny OTLP/HTTP trace receiver on 127.0.0.1, for the test bed.

Each exporting process is given its own endpoint,
``http://127.0.0.1:<port>/<run>/<service>/v1/traces``; every POSTed body (an
``ExportTraceServiceRequest``) is appended to ``<root>/<run>/traces/<service>.otlp.pb``
as a 4-byte big-endian length and the message, the framing the Collector's
file exporter writes with ``format: proto``.  The span IDs received are kept
so the driver can wait (bounded) until the spans it expects have arrived.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

MAX_BODY = 16 * 1024 * 1024


class Receiver:
    """Started with `start`, stopped with `stop` (or as a context manager)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._seen: dict[str, set[str]] = {}
        self.rejected: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                status = receiver._receive(self.path, self.headers, self.rfile)
                body = ExportTraceServiceResponse().SerializeToString()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:  # quiet: the driver reports
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def endpoint(self, run: str, service: str) -> str:
        """The OTLP/HTTP traces URL one process of ``run`` exports to."""
        return f"http://127.0.0.1:{self.port}/{run}/{service}/v1/traces"

    def start(self) -> Receiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_for(self, run: str, span_ids: Iterable[str], timeout: float) -> set[str]:
        """Wait until every span ID has arrived for ``run``; returns those still missing."""
        wanted = set(span_ids)
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                missing = wanted - self._seen.get(run, set())
            if not missing or time.monotonic() >= deadline:
                return missing
            time.sleep(0.05)

    def _receive(self, path: str, headers: object, rfile: object) -> int:
        parts = path.strip("/").split("/")
        if len(parts) != 4 or parts[2:] != ["v1", "traces"]:
            self.rejected.append(f"unexpected path {path}")
            return 404
        run, service = parts[0], parts[1]
        if (headers.get("Transfer-Encoding") or "").lower() == "chunked":  # type: ignore[attr-defined]
            body = _chunked(rfile)  # Node's exporter sends its body so
        else:
            length = int(headers.get("Content-Length") or 0)  # type: ignore[attr-defined]
            body = rfile.read(length) if 0 < length <= MAX_BODY else b""  # type: ignore[attr-defined]
        if not 0 < len(body) <= MAX_BODY:
            self.rejected.append(f"{path}: body of {len(body)} bytes")
            return 400
        if (headers.get("Content-Encoding") or "").lower() == "gzip":  # type: ignore[attr-defined]
            body = gzip.decompress(body)
        try:
            request = ExportTraceServiceRequest.FromString(body)
        except Exception as exc:
            self.rejected.append(f"{path}: not an ExportTraceServiceRequest ({exc})")
            return 400
        ids = {
            span.span_id.hex()
            for rs in request.resource_spans
            for ss in rs.scope_spans
            for span in ss.spans
        }
        target = self.root / run / "traces" / f"{service}.otlp.pb"
        with self._lock:
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("ab") as out:
                out.write(len(body).to_bytes(4, "big") + body)
            self._seen.setdefault(run, set()).update(ids)
        return 200


def _chunked(rfile: Any) -> bytes:
    """A chunked request body; read to its end either way (the connection may carry the
    next request), empty when it is over `MAX_BODY` bytes (refused)."""
    body, size_read = bytearray(), 0
    while size := int(rfile.readline().split(b";")[0].strip() or b"0", 16):
        chunk = rfile.read(size)
        size_read += len(chunk)
        if size_read <= MAX_BODY:
            body += chunk
        rfile.readline()
    while rfile.readline().strip():  # trailers, then the blank line
        pass
    return bytes(body) if size_read <= MAX_BODY else b""
