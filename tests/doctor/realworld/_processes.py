"""Start the test-bed apps under ``opentelemetry-instrument`` and always stop them.

Every process gets a clean environment: the caller's ``OTEL_*`` variables are
dropped, then the ones the test bed means are set.  Every wait is bounded;
`Fleet.stop` ends each process it started (SIGTERM, so the SDK flushes, then
SIGKILL after a timeout), by its own process group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

APPS = Path(__file__).resolve().parent / "apps"
BIN = Path(sys.executable).parent


class AppFailed(RuntimeError):
    """An app exited or never listened; the message holds the end of its log."""


def free_port() -> int:
    """A port on 127.0.0.1 nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def instrument_command() -> list[str]:
    """``opentelemetry-instrument`` of this environment."""
    path = BIN / "opentelemetry-instrument"
    if not path.exists():
        raise AppFailed(f"{path} not found: install the dev extra (pip install -e '.[dev]')")
    return [str(path)]


NODE_APPS = APPS / "node"
"""The Node.js apps and their ``node_modules`` (``npm ci`` there installs them)."""


def node_command(script: str) -> list[str]:
    """``node`` with OpenTelemetry's zero-code instrumentation, as its documentation runs it:
    ``--require @opentelemetry/auto-instrumentations-node/register``."""
    if not (NODE_APPS / "node_modules" / "@opentelemetry" / "auto-instrumentations-node").is_dir():
        raise AppFailed(f"the Node.js apps' packages are missing: npm ci --prefix {NODE_APPS}")
    return ["node", "--require", "@opentelemetry/auto-instrumentations-node/register",
            str(NODE_APPS / script)]  # fmt: skip


def node_ready() -> str | None:
    """Why the Node.js apps cannot run here, or None: the register script itself is loaded
    (the packages want a recent Node; an older one fails there, not at `node --version`)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update(NODE_PATH=str(NODE_APPS / "node_modules"), OTEL_TRACES_EXPORTER="none",
               OTEL_METRICS_EXPORTER="none", OTEL_LOGS_EXPORTER="none",
               OTEL_NODE_RESOURCE_DETECTORS="none")  # fmt: skip
    try:
        argv = [*node_command("callee.js")[:-1], "-e", "0"]
        subprocess.run(argv, capture_output=True, check=True, timeout=60, env=env)
    except subprocess.CalledProcessError as exc:
        tail = exc.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
        return f"Node.js test bed unavailable: the register script fails: {tail[0]}"
    except (AppFailed, OSError, subprocess.SubprocessError) as exc:
        return f"Node.js test bed unavailable: {exc}"
    return None


def otel_env(service: str, propagators: str, endpoint: str, **extra: str) -> dict[str, str]:
    """The environment of one instrumented app: stock SDK, OTLP/HTTP to ``endpoint``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update(
        OTEL_SERVICE_NAME=service,
        OTEL_PROPAGATORS=propagators,
        OTEL_TRACES_EXPORTER="otlp",
        OTEL_METRICS_EXPORTER="none",
        OTEL_LOGS_EXPORTER="none",
        OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=endpoint,
        OTEL_BSP_SCHEDULE_DELAY="200",
        PYTHONUNBUFFERED="1",
        # Node: the register script resolves from here; no cloud metadata look-ups (the
        # default detectors ask GCP's and AWS's metadata servers, out of reach here)
        NODE_PATH=str(NODE_APPS / "node_modules"),
        OTEL_NODE_RESOURCE_DETECTORS="env,host,os,process",
        TESTBED_PARENT_PID=str(os.getpid()),  # the apps end themselves if this one dies
    )
    env.update(extra)
    return env


@dataclass
class App:
    """One started process and where its output goes (stderr: ``log``)."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path
    stdout: Path
    port: int | None = None

    def tail(self, lines: int = 30) -> str:
        """The end of its stdout and stderr, for an error message."""
        parts = []
        for path in (self.stdout, self.log):
            try:
                text = path.read_text(errors="replace")
            except OSError:
                continue
            parts.append("\n".join(text.splitlines()[-lines:]))
        return "\n".join(parts)


@dataclass
class Fleet:
    """The processes of one capture run."""

    logs: Path
    apps: list[App] = field(default_factory=list)
    stdouts: dict[str, Path] = field(default_factory=dict)
    """Every started process's stdout file, by name (kept after `stop`)."""

    def start(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str],
        port: int | None,
        *,
        instrumented: bool = True,
    ) -> App:
        """Start ``argv`` in the apps' directory, under ``opentelemetry-instrument`` by default."""
        self.logs.mkdir(parents=True, exist_ok=True)
        log, stdout = self.logs / f"{name}.log", self.logs / f"{name}.stdout"
        with log.open("wb") as err, stdout.open("wb") as out:
            process = subprocess.Popen(
                (instrument_command() if instrumented else []) + argv,
                cwd=APPS,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
        app = App(name, process, log, stdout, port)
        self.stdouts[name] = stdout
        self.apps.append(app)
        return app

    def wait_listening(self, timeout: float) -> None:
        """Wait until every app with a port accepts connections."""
        deadline = time.monotonic() + timeout
        for app in self.apps:
            if app.port is None:
                continue
            while True:
                if app.process.poll() is not None:
                    raise AppFailed(f"{app.name} exited ({app.process.returncode}):\n{app.tail()}")
                with (
                    contextlib.suppress(OSError),
                    socket.create_connection(("127.0.0.1", app.port), timeout=0.5),
                ):
                    break
                if time.monotonic() >= deadline:
                    raise AppFailed(
                        f"{app.name} not listening after {timeout:.0f} s:\n{app.tail()}"
                    )
                time.sleep(0.1)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM every app (the SDK flushes on exit), SIGKILL what is left after ``timeout``."""
        for app in self.apps:
            _signal(app, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for app in self.apps:
            try:
                app.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal(app, signal.SIGKILL)
                app.process.wait(timeout=5)
        self.apps.clear()


def _signal(app: App, sig: int) -> None:
    if app.process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(app.process.pid, sig)
