"""Command-line arguments (files, directories, globs, ``-``) as the inputs to read.

Every argument yields inputs or an `InputError` naming it: a directory that
cannot be searched, a name the file system rejects and a pattern that matches
nothing are said, never skipped in silence.  Input names are for people: a
file name that is not UTF-8 is shown with its odd bytes escaped (``\\xff``)
while the file itself is still opened by its real name.
"""

from __future__ import annotations

import glob
import gzip
import os
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tracehound.doctor._model import InputError

if TYPE_CHECKING:
    from tracehound.doctor.sources import Input

__all__ = ["MANIFEST_SUFFIXES", "TRACE_SUFFIXES", "display_name", "expand_inputs"]

TRACE_SUFFIXES = (
    ".json", ".jsonl", ".ndjson", ".pb", ".binpb", ".protobuf", ".otlp", ".log", ".har",
    ".pcap", ".pcapng", ".cap",
)  # fmt: skip
"""File name endings a directory is searched for (each also with ``.gz``); ``.log``
for service logs and access logs, ``.har`` for HTTP archives, ``.pcap``/``.pcapng``/
``.cap`` for packet captures (what tcpdump, Wireshark and tshark write).  The content
decides the format; the name only says which files of a directory to open."""
MANIFEST_SUFFIXES = (".yaml", ".yml")
"""Kubernetes manifests found in a directory: taken when their first bytes are one."""
OUTPUT_SUFFIXES = (".txt", ".out")
"""A program's saved output found in a directory: taken when it holds printed span
objects (a console exporter's stdout: `_text_output`, `_js_literals`)."""


def display_name(name: str) -> str:
    """``name`` as printable UTF-8: bytes the file system gave undecoded become ``\\xNN``."""
    try:
        raw = name.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that no file system byte produced
        return name.encode("utf-8", "backslashreplace").decode("utf-8")
    return raw.decode("utf-8", "backslashreplace")


def expand_inputs(args: Sequence[str]) -> tuple[list[Input], list[InputError]]:
    """Files, directories (searched for trace files and Kubernetes manifests), globs and
    ``-`` (stdin) as inputs."""
    from tracehound.doctor.sources import Input

    make = Input
    inputs: list[Input] = []
    errors: list[InputError] = []
    for arg in args:
        shown = display_name(arg)
        if arg == "-":
            inputs.append(make("<stdin>", None))
            continue
        try:
            path = Path(arg)
            is_dir, exists = path.is_dir(), path.exists()
        except (OSError, ValueError) as exc:  # an embedded NUL, an unencodable name
            errors.append(InputError(shown, None, f"not a usable file name: {exc}"))
            continue
        if is_dir:
            found = _search(path, arg, errors)
            if not found and not any(e.source.startswith(shown) for e in errors):
                errors.append(
                    InputError(
                        shown, None, "directory holds no trace files nor Kubernetes manifests"
                    )
                )
            inputs.extend(make(display_name(str(p)), p) for p in found)
        elif exists:
            inputs.append(make(shown, path))
        elif any(c in arg for c in "*?["):
            files = [Path(m) for m in sorted(glob.glob(arg, recursive=True)) if _is_file(m)]
            if not files:
                errors.append(InputError(shown, None, "no file matches this pattern"))
            inputs.extend(make(display_name(str(p)), p) for p in files)
        else:
            errors.append(InputError(shown, None, "no such file or directory"))
    return inputs, errors


def _search(top: Path, arg: str, errors: list[InputError]) -> list[Path]:
    """Trace files under ``top`` (hidden entries skipped); directories it cannot open
    are named in ``errors``."""

    def unsearchable(exc: OSError) -> None:
        where = display_name(str(exc.filename or arg))
        errors.append(InputError(where, None, f"cannot search: {exc.strerror or exc}"))

    found: list[Path] = []
    seen: set[tuple[int, int]] = set()
    # symbolic links to directories are followed (as before), each directory once
    for folder, dirs, files in os.walk(top, onerror=unsearchable, followlinks=True):
        try:
            info = os.stat(folder)
        except OSError as exc:
            unsearchable(exc)
            dirs[:] = []
            continue
        if (info.st_dev, info.st_ino) in seen:
            dirs[:] = []
            continue
        seen.add((info.st_dev, info.st_ino))
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            if name.startswith("."):
                continue
            path = Path(folder, name)
            if name.lower().endswith(MANIFEST_SUFFIXES):
                if _is_manifest(path):  # other YAML (a compose file, CI) is not ours
                    found.append(path)
                continue
            if name.lower().removesuffix(".gz").endswith(OUTPUT_SUFFIXES):
                if _holds_span_objects(path):  # other text (a README, notes) is not ours
                    found.append(path)
                continue
            if not name.lower().removesuffix(".gz").endswith(TRACE_SUFFIXES):
                continue
            if _is_file(path):
                found.append(path)
    return sorted(found)


def _is_manifest(path: Path) -> bool:
    from tracehound.doctor.evidence.k8s import looks_like_manifest

    try:
        with path.open("rb") as file:
            return path.is_file() and looks_like_manifest(file.read(8192))
    except OSError:
        return False


def _holds_span_objects(path: Path) -> bool:
    from tracehound.doctor.sources._js_literals import looks_like_js_objects
    from tracehound.doctor.sources._text_output import SNIFF, holds_span_objects

    try:
        if not path.is_file():
            return False
        with gzip.open(path) if path.name.lower().endswith(".gz") else path.open("rb") as file:
            head = file.read(SNIFF)
            return holds_span_objects(head) or looks_like_js_objects(head)
    except (OSError, EOFError, zlib.error):
        return False  # read as an input, it is named with what is wrong


def _is_file(path: str | Path) -> bool:
    try:
        return Path(path).is_file()
    except (OSError, ValueError):
        return False
