"""The subcommands that need an extra: the real ones when it is installed, else a
command that says which extra to install (a plain install has neither the doctor
nor the web stack) and exits 2."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from typing import Any

from tracehound._cli_output import EXIT_USAGE

__all__ = [
    "add_check_command",
    "add_k8s_command",
    "add_load_command",
    "add_logs_command",
    "add_serve_command",
]

_DOCTOR_EXTRA = ("orjson", "duckdb", "rich", "google", "opentelemetry.proto")


def _doctor_missing(module: str, command: str = "check", extra: str = "doctor") -> Any:
    """A ``check`` (or ``logs``, ``k8s``, ``load``) command that says which extra to
    install (a plain install has no doctor)."""
    what = {
        "check": "diagnose exported traces",
        "load": "write traces into ClickHouse",
        "logs": "read service logs",
    }.get(command, "check cluster manifests")

    def add_command(subparsers: Any) -> argparse.ArgumentParser:
        parser = subparsers.add_parser(
            command,
            help=f"{what} (needs tracehound[{extra}])",
            prefix_chars="\x1f",  # no options: every argument, --help too, gets the hint
            add_help=False,
        )
        parser.add_argument("args", nargs="*", help=argparse.SUPPRESS)
        parser.set_defaults(run=lambda args, out: _needs_doctor(module, command, extra))
        return parser

    return add_command


def _needs_doctor(module: str, command: str = "check", extra: str = "doctor") -> int:
    sys.stderr.write(
        f"tracehound {command}: the doctor is not installed (no module {module!r}); "
        f"install it with: pip install 'tracehound[{extra}]'\n"
    )
    return EXIT_USAGE


try:
    from tracehound.doctor import Store as _doctor  # noqa: F401 (its extra is installed)
    from tracehound.doctor.cli import add_check_command, add_load_command, add_logs_command
    from tracehound.doctor.k8s_cli import add_k8s_command
except ModuleNotFoundError as missing:  # a plain install: the doctor's extra is absent
    if not (missing.name or "").startswith(_DOCTOR_EXTRA):
        raise
    add_check_command = _doctor_missing(missing.name or "")
    add_logs_command = _doctor_missing(missing.name or "", "logs")
    add_k8s_command = _doctor_missing(missing.name or "", "k8s", "k8s")
    add_load_command = _doctor_missing(missing.name or "", "load", "clickhouse")

_SERVE_EXTRA = (*_DOCTOR_EXTRA, "starlette", "uvicorn")


def _serve_missing(module: str) -> Any:
    """A ``serve`` command that says which extra to install."""

    def add_serve_command(subparsers: Any) -> argparse.ArgumentParser:
        serve = subparsers.add_parser(
            "serve",
            help="a local OTLP endpoint that diagnoses traces live (needs tracehound[serve])",
            prefix_chars="\x1f",
            add_help=False,
        )
        serve.add_argument("args", nargs="*", help=argparse.SUPPRESS)
        serve.set_defaults(run=lambda args, out: _needs_serve(module))
        return serve

    return add_serve_command


def _needs_serve(module: str) -> int:
    sys.stderr.write(
        f"tracehound serve: not installed (no module {module!r}); "
        "install it with: pip install 'tracehound[serve]'\n"
    )
    return EXIT_USAGE


# found, not imported: the web stack loads only when `serve` runs
_SERVE_ABSENT = next(
    (m for m in ("starlette", "uvicorn") if importlib.util.find_spec(m) is None), None
)
if _SERVE_ABSENT is not None:
    add_serve_command = _serve_missing(_SERVE_ABSENT)
else:
    try:
        from tracehound.doctor.serve.cli import add_serve_command
    except ModuleNotFoundError as missing:  # the doctor's extra is absent
        if not (missing.name or "").startswith(_SERVE_EXTRA):
            raise
        add_serve_command = _serve_missing(missing.name or "")
