"""One input to read, and what reading it gave."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tracehound.doctor._model import DuplicateInput, InputError

__all__ = ["MAX_ERRORS_PER_INPUT", "Input", "Progress", "ReadResult", "without_duplicates"]

MAX_ERRORS_PER_INPUT = 20
"""Input errors kept per input; the rest are counted in one last error."""

Progress = Callable[[str, int, int | None], None]
"""``progress(input name, bytes read, total bytes or None)``."""


@dataclass(frozen=True)
class Input:
    """One thing to read: a file, or standard input when ``path`` is ``None``."""

    name: str
    path: Path | None

    @property
    def size(self) -> int | None:
        try:
            return self.path.stat().st_size if self.path else None
        except OSError:
            return None


@dataclass
class ReadResult:
    """What reading one input gave."""

    format: str | None = None
    spans: int = 0
    findings: int = 0
    """Runtime findings read (a runtime findings file)."""
    exchanges: int = 0
    """HTTP requests read (a capture, HAR file, ``curl -v`` transcript or access log)."""
    log_lines: int = 0
    """Service log lines read into ``otel_logs`` (an input of logs)."""
    errors: list[InputError] = field(default_factory=list)
    _dropped: int = 0
    _pending: Callable[[], None] | None = field(default=None, repr=False, compare=False)

    def complete(self) -> None:
        """Wait for what DuckDB still loads of this input (`read_input` with
        ``wait=False``); the counts and errors are whole afterwards."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending()

    def error(self, source: str, position: str | None, message: str) -> None:
        if len(self.errors) < MAX_ERRORS_PER_INPUT:
            self.errors.append(InputError(source, position, message))
        else:
            self._dropped += 1

    def finish(self, source: str) -> None:
        if self._dropped:
            self.errors.append(
                InputError(source, None, f"{self._dropped} more errors in this input not shown")
            )
            self._dropped = 0


def without_duplicates(inputs: Sequence[Input]) -> tuple[list[Input], list[DuplicateInput]]:
    """``inputs`` with each file once (the same file named twice, or a file and a
    directory holding it, standard input given twice), and the names dropped."""
    kept: list[Input] = []
    seen: dict[tuple[int, int] | None, str] = {}
    duplicates: list[DuplicateInput] = []
    for inp in inputs:
        try:
            st = os.stat(inp.path) if inp.path is not None else None
        except OSError:
            st = None
        # standard input (no path) can be read once: its key is None
        key = (st.st_dev, st.st_ino) if st is not None else None
        if (st is not None or inp.path is None) and key in seen:
            duplicates.append(DuplicateInput(inp.name, seen[key]))
            continue
        if st is not None or inp.path is None:
            seen[key] = inp.name
        kept.append(inp)
    return kept, duplicates
