"""What the ``tracehound`` command does when writing its output or a command fails:
one line naming what failed, exit 2 (1 means "findings"), the traceback on request."""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import sys
import traceback
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

__all__ = [
    "EXIT_FINDINGS",
    "EXIT_OK",
    "EXIT_USAGE",
    "Output",
    "OutputFailed",
    "crashed",
    "debug_asked",
    "output_failed",
]

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


class OutputFailed(Exception):
    """Writing the report to the output stream failed (a closed pipe, a full disk)."""

    def __init__(self, error: OSError | ValueError) -> None:
        super().__init__(error)
        self.error = error


class Output:
    """The output stream, with its write failures told apart from the command's own."""

    def __init__(self, target: TextIO | None) -> None:
        self.target = target  # None: Python started with stdout closed

    def write(self, text: str) -> int:
        try:
            if self.target is None:
                raise OSError(errno.EBADF, "standard output is closed")
            return self.target.write(text)
        except (OSError, ValueError) as exc:  # ValueError: the stream is closed
            raise OutputFailed(exc) from exc

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:  # anything else a stream has (fileno, ...)
        return getattr(self.target, name)

    def flush(self) -> None:
        try:
            if self.target is not None:
                self.target.flush()
        except (OSError, ValueError) as exc:
            raise OutputFailed(exc) from exc

    def isatty(self) -> bool:
        try:
            return self.target is not None and self.target.isatty()
        except (OSError, ValueError):
            return False

    @property
    def encoding(self) -> str:
        return getattr(self.target, "encoding", None) or "utf-8"


def output_failed(command: str, exc: OutputFailed, console: bool, status: int | None) -> int:
    if console:
        # Python flushes stdout again at exit and would print its own traceback
        with contextlib.suppress(OSError, ValueError, AttributeError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
    if isinstance(exc.error, BrokenPipeError):
        # the reader stopped reading (`| head`): the verdict stands if there was one
        return status if status is not None else EXIT_OK
    reason = exc.error.strerror if isinstance(exc.error, OSError) else str(exc.error)
    _stderr(f"{command}: cannot write the output: {reason or exc.error}\n")
    return EXIT_USAGE


def debug_asked(args: argparse.Namespace | None) -> bool:
    return bool(getattr(args, "debug", False)) or os.environ.get("TRACEHOUND_DEBUG", "") not in (
        "",
        "0",
    )


def crashed(command: str, stage: str | None, exc: BaseException, *, debug: bool) -> int:
    """Report an unexpected exception in one line (the traceback with ``debug``); exit 2."""
    missing = exc.name if isinstance(exc, ModuleNotFoundError) else None
    if missing in ("duckdb", "rich", "orjson", "google"):
        _stderr(
            f"{command}: the doctor needs its extra ({missing} is missing): "
            "pip install 'tracehound[doctor]'\n"
        )
        return EXIT_USAGE
    where = _where(exc)
    what = f" while {stage}" if stage else ""
    text = " ".join(str(exc).split())[:300] or "no message"
    hint = "" if debug else "; --debug or TRACEHOUND_DEBUG=1 shows the traceback"
    _stderr(
        f"{command}: internal error{what} ({where}{type(exc).__name__}: {text}); "
        f"this is a bug in tracehound, please report it{hint}\n"
    )
    if debug:
        _stderr("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
    return EXIT_USAGE


def _where(exc: BaseException) -> str:
    """The innermost tracehound source line the exception passed through, as ``mod.py:N, ``."""
    found = ""
    for frame in traceback.extract_tb(exc.__traceback__):
        parts = Path(frame.filename).parts
        if "tracehound" in parts:
            found = "/".join(parts[parts.index("tracehound") :]) + f":{frame.lineno}, "
    return found


def _stderr(text: str) -> None:
    with contextlib.suppress(OSError, ValueError, AttributeError):  # stderr closed or full
        sys.stderr.write(text)
        sys.stderr.flush()
