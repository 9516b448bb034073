"""Start ``tracehound serve`` and the SDK senders as processes, and always stop them.

Every server binds 127.0.0.1 on a port the system picks (``--port 0``);
every wait is bounded.  `Served.stop` ends the process it started.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
SENDER = HERE / "send_system.py"
START_TIMEOUT = 30.0


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without the caller's ``OTEL_*`` settings (the tests choose theirs)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


@dataclass
class Served:
    proc: subprocess.Popen[str]
    port: int
    grpc_port: int | None
    lines: list[str] = field(default_factory=list)
    token: str | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def traces_url(self) -> str:
        return f"{self.base}/v1/traces"

    def client(self) -> httpx.Client:
        headers = {"authorization": f"Bearer {self.token}"} if self.token else {}
        return httpx.Client(base_url=self.base, headers=headers, timeout=30)

    def get(self, path: str, **params: Any) -> Any:
        with self.client() as client:
            answer = client.get(path, params=params)
            answer.raise_for_status()
            return answer.json()

    def wait_for(
        self, what: Callable[[], Any], timeout: float = 30.0, message: str = "condition"
    ) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            found = what()
            if found:
                return found
            if self.proc.poll() is not None:
                raise AssertionError(f"tracehound serve exited: {self.output()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{message} not met in {timeout} s: {self.output()}")
            time.sleep(0.1)

    def report_when(self, check: Callable[[dict[str, Any]], bool], timeout: float = 30.0) -> Any:
        """The report once ``check`` holds for it."""

        def ready() -> Any:
            report = self.get("/api/report")
            return report if check(report) else None

        return self.wait_for(ready, timeout, "the report")

    def output(self) -> str:
        return "\n".join(self.lines[-30:])

    def stop(self, *, kill: bool = False) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from ``/proc``)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state == "Z"


def start_serve(db: Path, *args: str, grpc: bool = False, token: str | None = None) -> Served:
    """``tracehound serve --port 0 --db DB ARGS`` running, its ports read from its output."""
    command = [sys.executable, "-m", "tracehound.cli", "serve", "--port", "0", "--db", str(db)]
    # never the fixed 4317: other test runs share this machine
    command += ["--grpc-port", "0"] if grpc else ["--no-grpc"]
    if token:
        command += ["--token", token]
    command += ["--idle", "0.3", *args]
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=clean_env(),
        start_new_session=True,
    )
    lines: list[str] = []
    found = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if "web UI" in line:
                found.set()
        found.set()

    threading.Thread(target=read, daemon=True).start()
    if not found.wait(START_TIMEOUT) or proc.poll() is not None:
        proc.kill()
        proc.wait(5)
        raise AssertionError("tracehound serve did not start:\n" + "\n".join(lines))
    text = "\n".join(lines)
    port = int(re.search(r"OTLP/HTTP\s+http://127\.0\.0\.1:(\d+)/", text).group(1))  # type: ignore[union-attr]
    grpc_match = re.search(r"OTLP/gRPC\s+127\.0\.0\.1:(\d+)", text)
    return Served(proc, port, int(grpc_match.group(1)) if grpc_match else None, lines, token)


@contextlib.contextmanager
def serving(db: Path, *args: str, grpc: bool = False, token: str | None = None) -> Iterator[Served]:
    served = start_serve(db, *args, grpc=grpc, token=token)
    try:
        yield served
    finally:
        served.stop()


def send_system(
    exporter: str, endpoint: str, *args: str, timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    """Run the SDK sender (send_system.py) to the end; its exit status must be 0."""
    done = subprocess.run(
        [sys.executable, str(SENDER), exporter, endpoint, *args],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done
