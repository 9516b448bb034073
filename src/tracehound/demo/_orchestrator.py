"""Start the demo's services as processes, drive traffic through them, always stop them.

Each service is its own process (same interpreter, its own session so a
terminal's Ctrl-C reaches only the demo), serving on a listening socket the
orchestrator bound on 127.0.0.1 and handed over.  `System` is a context
manager: leaving it by any path (an error, Ctrl-C, SIGTERM turned into
`KeyboardInterrupt`) terminates every process it started, and kills the
process group of any that does not stop in time.  The services also stop by
themselves when the demo process disappears.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from tracehound.demo._http import post

__all__ = [
    "PEERS",
    "SERVICE_ORDER",
    "DemoError",
    "Running",
    "System",
    "Traffic",
    "drive",
    "log_path_of",
    "pids_path",
]

SERVICE_ORDER = ("gateway", "orders", "payments", "shipping")
"""Callers before callees: the order of shutdown."""

PEERS: dict[str, tuple[str, ...]] = {
    "gateway": ("orders",),
    "orders": ("payments", "shipping"),
    "payments": (),
    "shipping": (),
}
"""The services each one calls."""

START_TIMEOUT = 30.0
"""Seconds for every service to say it is ready (imports are slow on a busy machine)."""
STOP_TIMEOUT = 10.0
"""Seconds for every service to flush its spans and exit after ``POST /shutdown``."""
TRAFFIC_TIMEOUT = 30.0
"""Seconds of traffic at most, whatever the number of requests."""
TERM_GRACE = 2.0
"""Seconds between SIGTERM and SIGKILL when the demo is interrupted."""


class DemoError(RuntimeError):
    """The demo could not run: a service did not start, or its traffic failed."""


@dataclass
class Running:
    """One started service."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path


@dataclass
class Traffic:
    """What `drive` sent and how it went."""

    sent: int = 0
    ok: int = 0
    failures: list[str] = field(default_factory=list)


def log_path_of(out: Path, service: str) -> Path:
    """Where ``service`` writes its log (its stderr)."""
    return out / f"{service}.log"


def pids_path(out: Path) -> Path:
    """The file listing the PID of every process the demo started, one per line."""
    return out / "pids"


class System:
    """The demo's running services; leaving the ``with`` block stops every one of them."""

    def __init__(
        self, out: Path, faults: Collection[str], *, say: Callable[[str], None] = print
    ) -> None:
        self.out = out
        self.faults = tuple(faults)
        self.say = say
        self.running: dict[str, Running] = {}
        self.killed: list[str] = []
        self._logs: list[IO[bytes]] = []

    def __enter__(self) -> System:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with signal_handled(signal.SIGINT, signal.SIG_IGN):  # let cleanup finish
            self.terminate()

    def port(self, name: str) -> int:
        return self.running[name].port

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start every service and wait until each says ``ready``."""
        sockets = {name: _listen() for name in SERVICE_ORDER}
        ports = {name: sock.getsockname()[1] for name, sock in sockets.items()}
        env = _child_environment()
        try:
            for name in SERVICE_ORDER:
                fd = sockets[name].fileno()
                command = [
                    sys.executable,
                    "-m",
                    "tracehound.demo._process",
                    name,
                    "--fd",
                    str(fd),
                    "--out",
                    str(self.out),
                    "--parent",
                    str(os.getpid()),
                ]
                command += [f"--fault={key}" for key in self.faults]
                command += [f"--peer={peer}={ports[peer]}" for peer in PEERS[name]]
                log_path = log_path_of(self.out, name)
                log = log_path.open("wb")
                self._logs.append(log)
                process = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=log,
                    pass_fds=(fd,),
                    env=env,
                    cwd=self.out,  # no tracehound.toml of the caller's project applies
                    start_new_session=True,
                )
                self.running[name] = Running(name, ports[name], process, log_path)
                with pids_path(self.out).open("a", encoding="ascii") as pids:
                    pids.write(f"{process.pid}\n")
        finally:
            for sock in sockets.values():
                sock.close()  # the children hold their own copies
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        waiting = {r.process.stdout: r for r in self.running.values() if r.process.stdout}
        with selectors.DefaultSelector() as selector:
            for pipe in waiting:
                selector.register(pipe, selectors.EVENT_READ)
            while waiting:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    names = ", ".join(sorted(r.name for r in waiting.values()))
                    raise DemoError(f"{names} did not start within {timeout:.0f} s")
                for key, _ in selector.select(remaining):
                    service = waiting.pop(key.fileobj)  # type: ignore[call-overload]
                    selector.unregister(key.fileobj)
                    line = service.process.stdout.readline()  # type: ignore[union-attr]
                    if line.strip() != b"ready":
                        service.process.wait(TERM_GRACE)
                        raise DemoError(
                            f"{service.name} failed to start (exit status "
                            f"{service.process.returncode}); its log:\n" + _tail(service.log)
                        )

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Ask every service to flush and exit, callers first; kill what does not."""
        for service in self.running.values():
            try:
                post(service.name, service.port, "/shutdown", None, timeout=2.0)
            except OSError:
                service.process.terminate()
        deadline = time.monotonic() + timeout
        for service in self.running.values():
            try:
                service.process.wait(max(deadline - time.monotonic(), 0.01))
            except subprocess.TimeoutExpired:
                self._kill(service)

    def terminate(self) -> None:
        """SIGTERM every service still running, SIGKILL its group after a grace period."""
        alive = [s for s in self.running.values() if s.process.poll() is None]
        for service in alive:
            _signal_group(service.process, signal.SIGTERM)
        deadline = time.monotonic() + TERM_GRACE
        for service in alive:
            try:
                service.process.wait(max(deadline - time.monotonic(), 0.01))
            except subprocess.TimeoutExpired:
                self._kill(service)
        for service in self.running.values():
            if service.process.stdout is not None:
                service.process.stdout.close()
        for log in self._logs:
            log.close()

    def _kill(self, service: Running) -> None:
        self.killed.append(service.name)
        _signal_group(service.process, signal.SIGKILL)
        service.process.wait()


def drive(port: int, requests: int, *, deadline: float = TRAFFIC_TIMEOUT) -> Traffic:
    """Send ``requests`` checkouts to the gateway, each starting a trace of its own.

    Stops early, with a failure noted, after ``deadline`` seconds.
    """
    traffic = Traffic()
    give_up = time.monotonic() + deadline
    for number in range(1, requests + 1):
        if time.monotonic() > give_up:
            traffic.failures.append(f"stopped after {deadline:.0f} s: the services are too slow")
            break
        traceparent = f"00-{os.urandom(16).hex()}-{os.urandom(8).hex()}-01"
        body = {
            "customer": f"c-{number}",
            "items": [
                {"sku": "tea", "price": 4.5, "quantity": 1 + number % 3},
                {"sku": "cup", "price": 12.0, "quantity": 1},
            ],
        }
        traffic.sent += 1
        try:
            status, reply = post("gateway", port, "/checkout", body, {"traceparent": traceparent})
        except OSError as exc:
            traffic.failures.append(f"request {number}: {exc}")
        else:
            if status == 200:
                traffic.ok += 1
            else:
                traffic.failures.append(f"request {number}: HTTP {status} {reply}")
    return traffic


def _listen() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    return sock


def _child_environment() -> dict[str, str]:
    """This environment without OTEL_*/TRACEHOUND_* settings, with tracehound importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TRACEHOUND_"))}
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (package_root, env.get("PYTHONPATH"))))
    return env


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    if process.poll() is not None:
        return  # reaped: its PID may belong to someone else by now
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)  # start_new_session: its group ID is its PID


def _tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


@contextmanager
def signal_handled(signum: int, handler: Any) -> Iterator[None]:
    """``handler`` for ``signum`` inside the block (main thread only; elsewhere a no-op)."""
    try:
        previous = signal.signal(signum, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signum, previous)
