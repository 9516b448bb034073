"""Where a test's marked line is, so assertions on reported source lines stay true when
the file is edited."""

from __future__ import annotations


def line_of_mark(path: str, marker: str) -> int:
    """The 1-based number of the first line of ``path`` holding ``marker`` (a line that
    asks for the marker's number does not count)."""
    with open(path) as source:
        for number, text in enumerate(source, 1):
            if marker in text and "line_of(" not in text:
                return number
    raise AssertionError(f"no line marked {marker!r} in {path}")
