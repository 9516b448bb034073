"""The runtime findings file: what the runtime reported, as JSON lines ``tracehound check`` reads.

Switched on by ``configure(findings_file=...)`` or ``TRACEHOUND_FINDINGS_FILE``
(off by default).  ``{pid}`` in the path becomes the process ID and
``{service}`` the service name; a directory gets ``findings-{service}-{pid}.jsonl``.
Each finding the sink logs (the first of each code and location, within the
rate limit) is written and flushed when it is reported, so a crash loses
none; the others are counted, and `FindingsFile.close` writes the counts
(``tracehound.shutdown()``, else at exit, a ``multiprocessing`` child's too).
Findings are rare and written in the reporting thread; nothing here runs per
span.  A write that fails is logged once and the file
given up: the application never sees the error.  Format: `tracehound._findings_format`.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import re
import threading
import time
from collections import Counter
from typing import IO, Any

from tracehound import __version__, findings
from tracehound._findings_format import HEADER, SUMMARY, VERSION, finding_record, timestamp
from tracehound.rules import Finding
from tracehound.runtime._errors import ConfigurationError

__all__ = ["FINDINGS_FILE_ENV", "FindingsFile", "active", "findings_path", "install", "uninstall"]

FINDINGS_FILE_ENV = "TRACEHOUND_FINDINGS_FILE"
MAX_COUNTED = 10_000
"""Distinct (code, location) pairs counted one by one; beyond, counts are per code only."""

_log = logging.getLogger("tracehound")
_active: FindingsFile | None = None
_install_lock = threading.Lock()


def findings_path(given: str | os.PathLike[str] | None) -> str | None:
    """The path template: ``given``, else ``TRACEHOUND_FINDINGS_FILE``; ``None``: no file."""
    path = os.fspath(given) if given is not None else os.environ.get(FINDINGS_FILE_ENV, "")
    path = path.strip()
    if not path:
        return None
    if os.path.isdir(path) or path.endswith(("/", os.sep)):
        path = os.path.join(path, "findings-{service}-{pid}.jsonl")
    return path


def _expand(template: str, service: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", service) or "unknown_service"
    return template.replace("{pid}", str(os.getpid())).replace("{service}", safe)


class FindingsFile:
    """Writes the findings one process reports to one file (a recorder on the sink)."""

    def __init__(self, template: str, service: str) -> None:
        self.template = template
        self.service = service
        self.path = ""
        self._lock = threading.Lock()
        self._file: IO[str] | None = None
        self._pid = 0
        self._counts: Counter[tuple[str, str | None]] = Counter()
        self._other: Counter[str] = Counter()
        self._suppressed = 0
        self._failed = False
        self._open()

    def _open(self) -> None:
        """Open the file for this process and write the header (raises `OSError`)."""
        self.path = _expand(self.template, self.service)
        self._pid = os.getpid()
        self._counts.clear()
        self._other.clear()
        self._suppressed = 0
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self._write(
            {
                "kind": HEADER,
                "version": VERSION,
                "time": timestamp(time.time()),
                "service": self.service,
                "pid": self._pid,
                "tool": {"name": "tracehound", "version": __version__},
            }
        )

    def record(self, finding: Finding, logged: bool) -> None:
        """Count ``finding``; write it when the sink logged it.  Never raises."""
        try:
            with self._lock:
                if self._failed or self._file is None:
                    return
                if os.getpid() != self._pid:  # a forked child writes its own file
                    self._file = None
                    self._open()
                key = (finding.rule.code, finding.location)
                if key in self._counts or len(self._counts) < MAX_COUNTED:
                    self._counts[key] += 1
                else:
                    self._other[finding.rule.code] += 1
                if logged:
                    self._write(finding_record(finding, self.service, self._pid, time.time()))
                else:
                    self._suppressed += 1
        except Exception as exc:
            self._give_up(exc)

    def close(self) -> None:
        """Write the counts and close; later findings are not written."""
        try:
            with self._lock:
                if self._file is None or self._failed or os.getpid() != self._pid:
                    return
                self._write(
                    {
                        "kind": SUMMARY,
                        "version": VERSION,
                        "time": timestamp(time.time()),
                        "service": self.service,
                        "pid": self._pid,
                        "counts": [
                            {"code": code, "location": location, "count": count}
                            for (code, location), count in self._counts.items()
                        ],
                        "other": dict(self._other),
                        "suppressed": self._suppressed,
                    }
                )
                self._file.close()
                self._file = None
        except Exception as exc:
            self._give_up(exc)

    def _write(self, record: dict[str, Any]) -> None:
        assert self._file is not None
        try:
            line = json.dumps(record, ensure_ascii=False, default=repr)
        except (TypeError, ValueError):  # details with odd keys or a cycle
            record["details"] = {str(k): repr(v) for k, v in record.get("details", {}).items()}
            line = json.dumps(record, ensure_ascii=False, default=repr)
        self._file.write(line + "\n")
        self._file.flush()

    def _give_up(self, exc: Exception) -> None:
        if self._failed:
            return
        self._failed = True
        _log.warning(
            "tracehound: cannot write runtime findings to %s (%s); stopped", self.path, exc
        )
        with contextlib.suppress(Exception):  # the file is given up either way
            if self._file is not None:
                self._file.close()


def active() -> FindingsFile | None:
    """The findings file in use, or ``None``."""
    return _active


def install(given: str | os.PathLike[str] | None, service: str) -> FindingsFile | None:
    """Write findings to ``given`` (else ``TRACEHOUND_FINDINGS_FILE``) from now on.

    The file in use is kept when the path and service are the same, else
    closed (with its counts) and replaced.  A path that cannot be opened is a
    `ConfigurationError` naming where it came from.
    """
    global _active
    template = findings_path(given)
    with _install_lock:
        current = _active
        if current is not None and (current.template, current.service) == (template, service):
            return current
        if template is None:
            _stop(current)
            return None
        try:
            writer = FindingsFile(template, service)
        except OSError as exc:
            source = "findings_file" if given is not None else FINDINGS_FILE_ENV
            raise ConfigurationError(
                f"{source}: cannot write runtime findings to {_expand(template, service)}: "
                f"{exc.strerror or exc}"
            ) from None
        _stop(current)
        findings.get_sink().add_recorder(writer.record)
        _active = writer
        _watch_multiprocessing()
        return writer


_mp_registered = False


def _watch_multiprocessing() -> None:
    global _mp_registered
    if not _mp_registered:
        import multiprocessing.util

        multiprocessing.util.register_after_fork(_anchor, _counts_at_multiprocessing_exit)
        _mp_registered = True


def uninstall() -> None:
    """Close the findings file in use, writing its counts (`tracehound.shutdown`)."""
    with _install_lock:
        _stop(_active)


def _stop(writer: FindingsFile | None) -> None:
    global _active
    if writer is None:
        return
    findings.get_sink().remove_recorder(writer.record)
    writer.close()
    _active = None


def _after_fork_in_child() -> None:
    global _install_lock
    _install_lock = threading.Lock()
    if _active is not None:
        _active._lock = threading.Lock()


def _counts_at_multiprocessing_exit(_owner: object = None) -> None:
    """In a ``multiprocessing`` child: write the counts when it exits (through
    ``os._exit``, which skips ``atexit``; its ``Finalize`` callbacks run first)."""
    from multiprocessing.util import Finalize

    Finalize(None, _close_in_this_process, exitpriority=0)


def _close_in_this_process() -> None:
    writer = _active
    if writer is not None and writer._pid == os.getpid():
        uninstall()


class _Anchor:
    """What multiprocessing's after-fork registry holds on to (it keeps weak references)."""


_anchor = _Anchor()

if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
# A process that exits without tracehound.shutdown() writes its counts all the same.
atexit.register(_close_in_this_process)
