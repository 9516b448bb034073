"""``tracehound serve``: a local OTLP endpoint that says where traces break, as spans arrive.

Point an exporter at it (OTLP/HTTP on 127.0.0.1:4318 by default, OTLP/gRPC
on 4317 with the ``grpc`` extra): every request is appended to a journal file and synced
before it is acknowledged (`_journal`), parsed by the doctor's readers and
checked by the doctor's checks once its trace has gone quiet (`_engine`).
``GET /api/report`` gives the ``tracehound check --json`` report of what has
arrived; ``/`` is a web UI over the same data (`_app`, ``static/``).  A restart
with the same journal (``--db``) reads every acknowledged span back.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import signal
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from tracehound.doctor.serve._engine import Engine, Settings
from tracehound.doctor.serve._forward import Forwarder
from tracehound.doctor.serve._journal import Journal, JournalError
from tracehound.doctor.serve._receiver import Receiver

__all__ = [
    "DEFAULT_MAX_BODY",
    "JournalError",
    "ListenError",
    "ServeConfig",
    "Settings",
    "default_db",
    "serve",
]

GRPC_PORT = 4317
"""OTLP/gRPC's port, where the SDKs' gRPC exporters send by default."""

DEFAULT_MAX_BODY = 16 << 20
"""Largest request body, on the wire and decompressed (the Collector's OTLP receiver
has no default limit; 16 MiB holds ~30,000 typical spans)."""


class ListenError(OSError):
    """An address or port that cannot be listened on (in use, not this machine's)."""


@dataclass
class ServeConfig:
    """Everything ``tracehound serve`` is told on its command line."""

    host: str = "127.0.0.1"
    port: int = 4318
    grpc_port: int | None = None
    grpc_default: bool = False
    """Listen for OTLP/gRPC on `GRPC_PORT` if it is free (a warning if not)."""
    db: Path | None = None
    forward: str | None = None
    token: str | None = None
    fsync: bool = True
    max_body: int = DEFAULT_MAX_BODY
    settings: Settings = field(default_factory=Settings)


def default_db() -> Path:
    """The journal used without ``--db``: under ``$XDG_STATE_HOME`` (``~/.local/state``)."""
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "tracehound" / "serve.journal"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve(config: ServeConfig, out: TextIO) -> int:
    """Run until interrupted (SIGINT, SIGTERM); returns the exit status."""
    import uvicorn

    from tracehound.doctor.serve._app import build_app

    loopback = is_loopback(config.host)
    token = config.token
    if not loopback and token is None:
        token = secrets.token_urlsafe(24)
        out.write(
            f"tracehound serve: {config.host} is not loopback, so every request needs a "
            f"token; this run's: {token}\n"
            f"  exporters: OTEL_EXPORTER_OTLP_HEADERS='authorization=Bearer {token}'\n"
        )
    db = (config.db or default_db()).resolve()
    engine = Engine(str(db), config.settings)
    forwarder = Forwarder(config.forward) if config.forward else None
    receiver = Receiver(Journal(db, fsync=config.fsync), engine, forwarder)
    grpc_server = None
    try:
        replayed = 0
        for number, kind, body in receiver.journal.open():
            engine.replay(number, kind, body)
            replayed += 1
        engine.start()
        if forwarder is not None:
            forwarder.start()
        sock = _listen(config.host, config.port)
        port = sock.getsockname()[1]
        grpc_port = None
        if config.grpc_port is not None or config.grpc_default:
            from tracehound.doctor.serve._grpc import start_grpc

            wanted = GRPC_PORT if config.grpc_port is None else config.grpc_port
            try:
                grpc_server, grpc_port = start_grpc(
                    receiver, config.host, wanted, max_body=config.max_body, token=token
                )
            except ListenError:
                if config.grpc_port is not None:
                    raise
                out.write(f"tracehound serve: port {wanted} is taken; no OTLP/gRPC receiver\n")
        app = build_app(receiver, max_body=config.max_body, token=token, loopback=loopback)
        base = f"http://{_url_host(config.host)}:{port}"
        lines = [
            f"tracehound serve: journal {db} ({replayed} requests read back"
            + (
                f"; {receiver.journal.dropped_tail} bytes of an unacknowledged request dropped"
                if receiver.journal.dropped_tail
                else ""
            )
            + ")",
            f"  OTLP/HTTP  {base}/v1/traces",
        ]
        if grpc_port is not None:
            lines.append(f"  OTLP/gRPC  {_url_host(config.host)}:{grpc_port}")
        lines.append(f"  web UI     {base}/")
        if config.forward:
            lines.append(f"  forwarding every request to {config.forward}")
        out.write("\n".join(lines) + "\n")
        out.flush()
        server = uvicorn.Server(
            uvicorn.Config(
                app,
                log_level="warning",
                access_log=False,
                timeout_graceful_shutdown=3,
                lifespan="off",
            )
        )
        # uvicorn raises SIGTERM again once it stopped serving, which would end the process
        # here: as an exception instead, the engine stops (and its parsing process with it)
        main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, _terminated) if main else None
        try:
            server.run(sockets=[sock])
        except _Terminated:
            pass
        finally:
            if main:
                signal.signal(signal.SIGTERM, previous)
    finally:
        if grpc_server is not None:
            grpc_server.stop(grace=2).wait(5)
        receiver.journal.close()
        if forwarder is not None:
            forwarder.stop()
        engine.stop()
    return 0


class _Terminated(Exception):
    """SIGTERM, raised again by uvicorn once it stopped serving."""


def _terminated(signum: int, frame: object) -> None:
    raise _Terminated


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise ListenError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
