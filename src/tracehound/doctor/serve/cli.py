"""``tracehound serve``: its options, and the run."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, TextIO

__all__ = ["add_serve_command"]

EXIT_OK, EXIT_USAGE = 0, 2

_DESCRIPTION = """\
A local OTLP endpoint that diagnoses traces as they arrive. Point your services'
OTLP exporter at it (the SDKs' defaults already do: OTLP/HTTP on 127.0.0.1:4318);
each trace is checked with the same checks as `tracehound check` once it has been
quiet for --idle seconds. The web UI is on the same port; GET /api/report gives
the `tracehound check --json` report of what has arrived."""

_EPILOG = """\
Every request is written to the journal (--db) and synced to disk before it is
acknowledged; a restart with the same --db reads every acknowledged span back.

examples:
  tracehound serve                               OTLP/HTTP and the UI on 127.0.0.1:4318,
                                                 OTLP/gRPC on 4317 (with tracehound[grpc])
  tracehound serve --port 4319 --forward http://collector:4318/v1/traces
  tracehound serve --host 0.0.0.0 --token "$TOKEN"   reachable from elsewhere
  curl -s localhost:4318/api/report?service=orders"""


def add_serve_command(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``serve`` on the ``tracehound`` sub-command parser."""
    from tracehound.doctor.serve import DEFAULT_MAX_BODY
    from tracehound.doctor.serve._engine import Settings

    defaults = Settings()
    serve = subparsers.add_parser(
        "serve",
        help="a local OTLP endpoint that diagnoses traces as they arrive, with a web UI",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument(
        "--port", type=_port, default=4318, help="OTLP/HTTP and web UI port (default 4318)"
    )
    grpc = serve.add_mutually_exclusive_group()
    grpc.add_argument(
        "--grpc-port",
        type=_port,
        metavar="PORT",
        help="receive OTLP/gRPC here (default 4317 when tracehound[grpc] is installed)",
    )
    grpc.add_argument("--no-grpc", action="store_true", help="no OTLP/gRPC receiver")
    serve.add_argument(
        "--db",
        metavar="FILE",
        help="the journal of received spans, read back at start (default: "
        "$XDG_STATE_HOME/tracehound/serve.journal, printed at start)",
    )
    serve.add_argument(
        "--forward", metavar="URL", help="pass every request on to this OTLP/HTTP traces endpoint"
    )
    serve.add_argument(
        "--token",
        default=os.environ.get("TRACEHOUND_SERVE_TOKEN") or None,
        help="require this bearer token on every request (also TRACEHOUND_SERVE_TOKEN); "
        "on an address other than loopback one is made up and printed when none is given",
    )
    serve.add_argument(
        "--idle",
        type=_seconds,
        default=defaults.idle,
        metavar="SECONDS",
        help=f"check a trace once no span of it arrived for this long (default {defaults.idle})",
    )
    serve.add_argument(
        "--check-every",
        type=_seconds,
        default=defaults.check_every,
        metavar="SECONDS",
        help=f"least time between two live runs of the checks (default "
        f"{defaults.check_every}; a run also waits at least as long as the last one took)",
    )
    serve.add_argument(
        "--max-body",
        type=_size,
        default=DEFAULT_MAX_BODY,
        metavar="BYTES",
        help=f"largest request, on the wire and decompressed (default {DEFAULT_MAX_BODY >> 20}M)",
    )
    serve.add_argument(
        "--max-spans",
        type=_count,
        default=defaults.max_spans,
        metavar="N",
        help="spans kept for the report; the oldest traces go first "
        f"(default {defaults.max_spans})",
    )
    serve.add_argument(
        "--no-fsync",
        action="store_true",
        help="acknowledge once written, not synced: faster; a crash of tracehound loses "
        "nothing, a crash of the machine may lose the last requests",
    )
    serve.set_defaults(run=_run, stage="serving")
    return serve


def _run(args: argparse.Namespace, out: TextIO) -> int:
    from tracehound.doctor.serve import JournalError, ListenError, ServeConfig, serve
    from tracehound.doctor.serve._engine import Settings

    config = ServeConfig(
        host=args.host,
        port=args.port,
        grpc_port=None if args.no_grpc else args.grpc_port,
        grpc_default=not args.no_grpc and args.grpc_port is None and _has_grpc(),
        db=Path(args.db) if args.db else None,
        forward=args.forward,
        token=args.token,
        fsync=not args.no_fsync,
        max_body=args.max_body,
        settings=Settings(idle=args.idle, check_every=args.check_every, max_spans=args.max_spans),
    )
    if args.forward and not args.forward.startswith(("http://", "https://")):
        sys.stderr.write(f"tracehound serve: --forward {args.forward!r} is not an http(s) URL\n")
        return EXIT_USAGE
    if args.grpc_port is not None and not _has_grpc():
        sys.stderr.write(
            "tracehound serve: --grpc-port needs grpcio: pip install 'tracehound[grpc]'\n"
        )
        return EXIT_USAGE
    try:
        return serve(config, out)
    except (JournalError, ListenError) as exc:
        sys.stderr.write(f"tracehound serve: {exc}\n")
        return EXIT_USAGE


def _has_grpc() -> bool:
    import importlib.util

    return importlib.util.find_spec("grpc") is not None


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text}: a port is 0 to 65535")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"{text}: choose 0 to 3600 seconds")
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 1000:
        raise argparse.ArgumentTypeError(f"{text}: keep at least 1000 spans")
    return value


def _size(text: str) -> int:
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    scale = units.get(text[-1:].lower(), 1)
    number = text[:-1] if scale != 1 else text
    try:
        value = int(float(number) * scale)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text}: a size in bytes (or 512k, 16M)") from None
    if value < 1024:
        raise argparse.ArgumentTypeError(f"{text}: at least 1024 bytes")
    return value
