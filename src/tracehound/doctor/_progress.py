"""A progress bar on stderr while the inputs are read: one large file, or many.

Only on a terminal (a log or a CI job gets no bar codes), only when the read
is long enough to want one, and never mixed into a report on stdout.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Sequence
from typing import Any

from tracehound.doctor.sources import Input, Progress

__all__ = ["MIN_BYTES", "MIN_FILES", "Bar", "progress_bar"]

MIN_BYTES = 8 << 20
"""Input bytes from which a bar is drawn (smaller inputs are read in about a second)."""

MIN_FILES = 20
"""Inputs from which a bar is drawn whatever their size."""


@contextlib.contextmanager
def progress_bar(
    inputs: Sequence[Input], *, enabled: bool = True, stream: Any = None
) -> Iterator[Progress | None]:
    """A `Progress` callback drawing one bar over all ``inputs`` on ``stream`` (stderr),
    or ``None`` when no bar is wanted."""
    stream = stream if stream is not None else sys.stderr
    sizes = {inp.name: inp.size for inp in inputs}
    total = sum(size or 0 for size in sizes.values())
    try:
        terminal = bool(stream is not None and stream.isatty())
    except (OSError, ValueError):
        terminal = False
    if not enabled or not terminal or (total < MIN_BYTES and len(inputs) < MIN_FILES):
        yield None
        return
    bar = Bar(sizes, stream)
    with bar.progress:
        yield bar.update


class Bar:
    """Bytes read over the whole run; the input being read and how many are done."""

    def __init__(self, sizes: dict[str, int | None], stream: Any) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

        self.sizes = sizes
        self.done_bytes = 0  # of the inputs finished
        self.done_files = 0
        self.current: str | None = None
        self.progress = Progress(
            TextColumn("reading {task.fields[files]} {task.description}", markup=False),
            BarColumn(),
            DownloadColumn(),
            console=Console(file=stream, highlight=False, emoji=False),
            transient=True,
        )
        total = sum(size or 0 for size in sizes.values())
        self.task = self.progress.add_task("", total=total or None, files=self._files())

    def _files(self) -> str:
        return f"{self.done_files}/{len(self.sizes)}" if len(self.sizes) > 1 else ""

    def update(self, name: str, done: int, total: int | None) -> None:
        """The `Progress` callback: ``done`` bytes of input ``name`` read."""
        if name != self.current:
            if self.current is not None:
                self.done_files += 1
                self.done_bytes += self.sizes.get(self.current) or 0
            self.current = name
        size = self.sizes.get(name) or total or 0
        self.progress.update(
            self.task,
            completed=self.done_bytes + min(done, size),
            description=name,
            files=self._files(),
        )
