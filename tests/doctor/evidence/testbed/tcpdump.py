"""Capture loopback traffic with Debian's ``tcpdump`` while a block runs.

`Tcpdump` starts ``tcpdump -i lo -U -w FILE 'tcp and (port P or ...)'`` and
waits (bounded) until it listens; `can_capture` says whether this machine lets
it (the binary present, the right to open a raw socket: root or CAP_NET_RAW)
and why not.  Stopping sends SIGTERM, so tcpdump writes what it holds.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

START_TIMEOUT = 10.0


def _command(out: Path, ports: Iterable[int], interface: str) -> list[str]:
    binary = shutil.which("tcpdump") or "/usr/bin/tcpdump"
    filt = "tcp and (" + " or ".join(f"port {p}" for p in ports) + ")"
    # as root tcpdump drops to its own user before writing: keep root so it may write FILE
    keep = ["-Z", "root"] if os.geteuid() == 0 else []
    # --immediate-mode: packets reach the file at once, not when the kernel's buffer fills;
    # -B: a ring of 32 MB (the default 2 MB holds 8 loopback-sized frames and dropped packets)
    return [binary, "-i", interface, "--immediate-mode", "-B", "32768", "-U", "-s", "0", *keep,
            "-w", str(out), filt]  # fmt: skip


@functools.cache
def can_capture() -> str | None:
    """``None`` when tcpdump can capture on ``lo`` here, else the reason it cannot."""
    if not (shutil.which("tcpdump") or Path("/usr/bin/tcpdump").exists()):
        return "tcpdump is not installed (apt-get install tcpdump)"
    with tempfile.TemporaryDirectory() as tmp:
        try:
            with Tcpdump(Path(tmp) / "probe.pcap", [9]):
                pass
        except CaptureFailed as exc:
            return str(exc)
    return None


class CaptureFailed(RuntimeError):
    """tcpdump exited or never listened; the message holds what it printed."""


class Tcpdump:
    """``with Tcpdump(path, ports): ...`` captures those TCP ports on ``interface``."""

    def __init__(self, out: Path, ports: Iterable[int], interface: str = "lo") -> None:
        self.out = out
        self.command = _command(out, list(ports), interface)
        self._err = out.with_suffix(".tcpdump.txt")
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Tcpdump:
        with self._err.open("wb") as err:
            self._process = subprocess.Popen(
                self.command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err
            )
        deadline = time.monotonic() + START_TIMEOUT
        while b"listening on" not in self._err.read_bytes():
            if self._process.poll() is not None:
                raise CaptureFailed(f"tcpdump cannot capture: {self._said()}")
            if time.monotonic() >= deadline:
                self.stop()
                raise CaptureFailed(f"tcpdump did not start in {START_TIMEOUT:.0f} s")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """SIGTERM (tcpdump writes what it holds), SIGKILL if it has not ended in 10 s."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        # let the kernel hand over the last packets before tcpdump stops reading
        time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            process.wait(timeout=5)

    def _said(self) -> str:
        text = self._err.read_text(errors="replace").strip()
        return text.splitlines()[-1] if text else "no message"
