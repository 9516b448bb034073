"""One demo service as a process: ``python -m tracehound.demo._process NAME --fd FD ...``.

The orchestrator hands over a listening socket (``--fd``), so ports are
picked without races and requests queue until the service is up.  The
process configures tracehound (warn mode) to export its spans to
``OUT/spans-NAME.jsonl`` and what its runtime reports to the runtime findings
file ``OUT/findings-NAME.jsonl`` (as a user would, see
``docs/findings-file.md``), prints ``ready`` on stdout, serves until ``POST
/shutdown``, SIGTERM or the death of its parent, then flushes both.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any

__all__ = ["findings_path", "main", "spans_path"]

_log = logging.getLogger("tracehound.demo")
_PARENT_CHECK_SECONDS = 0.2


def spans_path(out: Path, service: str) -> Path:
    """Where ``service`` exports its spans."""
    return out / f"spans-{service}.jsonl"


def findings_path(out: Path, service: str) -> Path:
    """Where ``service``'s runtime writes its findings (a runtime findings file)."""
    return out / f"findings-{service}.jsonl"


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close() waits for requests in flight

    def __init__(self, fd: int, routes: dict[str, Any], stop: threading.Event) -> None:
        super().__init__(("127.0.0.1", 0), _Handler, bind_and_activate=False)
        self.socket.close()
        self.socket = socket.socket(fileno=fd)
        self.server_address = self.socket.getsockname()
        self.routes = routes
        self.stop = stop


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        from tracehound.demo._apps import Request

        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.path == "/shutdown":
            self._reply(202, {"stopping": True})
            self.server.stop.set()
            return
        handler = self.server.routes.get(f"{self.command} {self.path}")
        if handler is None:
            self._reply(404, {"error": f"no route {self.command} {self.path}"})
            return
        headers = {name.lower(): value for name, value in self.headers.items()}
        try:
            status, payload = handler(
                Request(self.command, self.path, headers, json.loads(raw or b"null"))
            )
        except Exception as exc:
            _log.exception("%s %s failed", self.command, self.path)
            status, payload = 500, {"error": f"{type(exc).__name__}: {exc}"}
        self._reply(status, payload)

    def _reply(self, status: int, payload: Any) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tracehound.demo._process")
    parser.add_argument("name")
    parser.add_argument("--fd", type=int, required=True, help="a listening socket to serve on")
    parser.add_argument("--out", type=Path, required=True, help="where spans and findings go")
    parser.add_argument("--fault", action="append", default=[], help="a fault to switch on")
    parser.add_argument("--peer", action="append", default=[], metavar="NAME=PORT")
    parser.add_argument("--parent", type=int, help="stop when this process is gone")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one service until told to stop; returns the exit status."""
    args = _arguments(argv)
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format=f"%(asctime)s {args.name} %(levelname)s trace_id=%(trace_id)s %(message)s",
    )
    import tracehound
    from tracehound.demo._apps import SERVICES, attribute_policy
    from tracehound.runtime.export import OtlpJsonFileExporter

    tracehound.configure(
        service_name=args.name,
        span_exporter=OtlpJsonFileExporter(spans_path(args.out, args.name)),
        mode="warn",
        attribute_policy=attribute_policy(args.fault),
        findings_file=findings_path(args.out, args.name),
    )
    peers = {name: int(port) for name, _, port in (p.partition("=") for p in args.peer)}
    service = SERVICES[args.name](args.fault, peers)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server = _Server(args.fd, service.routes(), stop)
    serving = threading.Thread(target=server.serve_forever, args=(0.1,), name="http", daemon=True)
    serving.start()
    _log.info(
        "listening on %s:%s, faults: %s", *server.server_address, ", ".join(args.fault) or "none"
    )
    print("ready", flush=True)
    while not stop.wait(_PARENT_CHECK_SECONDS):
        if args.parent is not None and os.getppid() != args.parent:
            _log.warning("the demo (pid %d) is gone; stopping", args.parent)
            break
    server.shutdown()
    server.server_close()
    service.close()
    summary = tracehound.shutdown()  # writes the counts to the findings file
    _log.info("stopped; runtime findings: %s", summary.by_code or "none")
    return 0


if __name__ == "__main__":
    sys.exit(main())
