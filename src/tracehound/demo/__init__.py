"""``tracehound demo``: four real services, planted faults, one diagnosis.

`run_demo` starts gateway → orders → payments and a message hop orders ⇢
shipping, each its own process on 127.0.0.1 instrumented with OpenTelemetry
and tracehound and exporting OTLP/JSON to a file.  It sends a bounded number
of checkouts through them, stops every process it started, runs the doctor
on the exported spans (adding what each service's runtime reported), prints
the report, writes ``report.html`` and says what to open.  The faults are in
`tracehound.demo._apps`, listed in `tracehound.demo._faults.FAULTS`; with
``fixed=True`` the same system runs with tracehound's fixes switched on.
"""

from __future__ import annotations

import importlib.util
import signal
import sys
import tempfile
import time
from collections.abc import Collection
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from tracehound.rules import Severity

__all__ = ["DEFAULT_REQUESTS", "EXIT_FAILED", "EXIT_OK", "EXIT_UNEXPECTED", "run_demo"]

DEFAULT_REQUESTS = 20
"""Checkouts sent through the system."""

EXIT_OK, EXIT_UNEXPECTED, EXIT_FAILED = 0, 1, 2
"""Ran and showed what it should; ran but a fault was missed (or a fix left an error); failed."""


def run_demo(
    out: TextIO,
    *,
    fixed: bool = False,
    fix: Collection[str] = (),
    as_json: bool = False,
    out_dir: str | Path | None = None,
    requests: int = DEFAULT_REQUESTS,
    err: TextIO | None = None,
) -> int:
    """Run the demo; the report goes to ``out``, progress to ``err``; returns the exit status.

    ``fixed`` switches every fault off, ``fix`` the ones named.  ``out_dir``
    receives the span files, service logs and ``report.html`` (a new
    temporary directory by default).  Ctrl-C or SIGTERM stops every process
    the demo started, then raises `KeyboardInterrupt`.
    """
    progress = err if err is not None else sys.stderr
    missing = _missing_modules()  # before importing the doctor, which needs them
    if missing:
        progress.write(
            f"tracehound demo: needs {', '.join(missing)}: pip install 'tracehound[doctor,otlp]'\n"
        )
        return EXIT_FAILED
    from tracehound.demo._diagnosis import diagnose, planted, reproduce_command
    from tracehound.demo._faults import fault_keys
    from tracehound.demo._orchestrator import (
        SERVICE_ORDER,
        DemoError,
        System,
        drive,
        signal_handled,
    )
    from tracehound.doctor.report import html

    unknown = sorted(set(fix) - set(fault_keys()))
    if unknown:
        progress.write(f"tracehound demo: unknown fault {', '.join(unknown)}\n")
        return EXIT_FAILED
    faults_on = () if fixed else tuple(k for k in fault_keys() if k not in fix)
    directory = _output_directory(out_dir)
    timings: dict[str, float] = {}
    began = time.monotonic()

    def say(text: str, end: str = "\n") -> None:
        progress.write(text + end)
        progress.flush()

    say(
        f"tracehound demo: gateway → orders → payments, orders ⇢ shipping (a queue); "
        f"each a process on 127.0.0.1 exporting its spans to {directory}"
    )
    say(
        f"  faults on: {', '.join(faults_on)}  (`tracehound demo --fixed` switches on the fixes)"
        if faults_on
        else "  faults off: tracehound's fixes are switched on"
    )
    try:
        # SIGTERM raises KeyboardInterrupt, so every started process is stopped.
        with (
            signal_handled(signal.SIGTERM, _interrupt),
            System(directory, faults_on, say=say) as system,
        ):
            step = time.monotonic()
            say(f"starting {', '.join(SERVICE_ORDER)} ...", end=" ")
            system.start()
            timings["start"] = _since(step)
            say(f"ready in {timings['start']:.1f} s")
            step = time.monotonic()
            say(f"sending {requests} checkouts to gateway ...", end=" ")
            traffic = drive(system.port("gateway"), requests)
            timings["traffic"] = _since(step)
            say(f"{traffic.ok} answered in {timings['traffic']:.1f} s")
            for failure in traffic.failures[:3]:
                say(f"  failed: {failure}")
            step = time.monotonic()
            say("stopping the services (each flushes its spans) ...", end=" ")
            system.stop()
            timings["stop"] = _since(step)
            killed = f" ({', '.join(system.killed)} killed)" if system.killed else ""
            say(f"done in {timings['stop']:.1f} s{killed}")
    except DemoError as exc:
        say(f"\ntracehound demo: {exc}")
        return EXIT_FAILED
    except KeyboardInterrupt:
        say(f"\ntracehound demo: every service it started is stopped; their files: {directory}")
        raise
    step = time.monotonic()
    report = diagnose(directory)
    html_path = directory / "report.html"
    html_path.write_text(html.render(report), encoding="utf-8")
    timings["doctor"] = _since(step)
    timings["total"] = _since(began)
    results = planted(report, faults_on)
    as_expected = (
        all(r.as_expected for r in results)
        and not (fixed and report.failed(Severity.ERROR))
        and not traffic.failures
    )
    if as_json:
        _write_json(out, report, results, directory, html_path, traffic, timings, fixed)
        _epilogue(progress, directory, html_path, fixed, timings, reproduce_command(directory))
    else:
        from tracehound.doctor.report import terminal

        color = None if out.isatty() else False
        out.write("\n")
        terminal.render(report, out, color=color)
        _lesson(out, results, report)
        _epilogue(out, directory, html_path, fixed, timings, reproduce_command(directory))
    return EXIT_OK if as_expected else EXIT_UNEXPECTED


_NEEDS = (
    "duckdb",
    "orjson",
    "rich",
    "google.protobuf",
    "opentelemetry.exporter.otlp.proto.common",
)


def _missing_modules() -> list[str]:
    """The modules the demo needs (the doctor and OTLP extras) that are not installed."""
    missing = []
    for name in _NEEDS:
        try:
            found = importlib.util.find_spec(name) is not None
        except ImportError:  # a parent package is missing
            found = False
        if not found:
            missing.append(name)
    return missing


def _since(start: float) -> float:
    return round(time.monotonic() - start, 3)


def _output_directory(given: str | Path | None) -> Path:
    if given is None:
        return Path(tempfile.mkdtemp(prefix="tracehound-demo-"))
    from tracehound.demo._orchestrator import SERVICE_ORDER, log_path_of, pids_path
    from tracehound.demo._process import findings_path, spans_path

    directory = Path(given).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    stale = [pids_path(directory), directory / "report.html"]
    for name in SERVICE_ORDER:  # a previous run's files would mix with this one's
        stale += [spans_path(directory, name), findings_path(directory, name)]
        stale.append(log_path_of(directory, name))
    for path in stale:
        path.unlink(missing_ok=True)
    return directory


def _lesson(out: TextIO, results: list[Any], report: Any) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    tty = out.isatty()
    console = Console(
        file=out,
        force_terminal=None if tty else False,
        no_color=not tty,
        highlight=False,
        emoji=False,
        width=None if tty else 120,
    )
    if not report.findings:
        console.print()
    console.print(Text("What the demo planted, and what caught it", style="bold"))
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column()
    for result in results:
        fault = result.fault
        mark = Text("✓", style="green") if result.as_expected else Text("✗", style="bold red")
        body = Text()
        body.append(f"{fault.key} [{'on' if result.on else 'fixed'}]: ", style="bold")
        body.append(fault.broken if result.on else fault.fixed)
        body.append("\n" + _verdict(result), style="dim" if result.as_expected else "bold red")
        grid.add_row(mark, body)
    with console.capture() as captured:
        console.print(grid)
    out.writelines(line.rstrip() + "\n" for line in captured.get().splitlines())
    out.write("\n")


def _verdict(result: Any) -> str:
    def label(caught: tuple[str, str]) -> str:
        code, by = caught
        return f"{code} ({by})"

    if result.on:
        text = "caught by " + ", ".join(label(c) for c in result.found or result.expected)
        if result.missing:
            text += "; NOT FOUND: " + ", ".join(label(c) for c in result.missing)
        return text
    if result.found:
        return "still reported: " + ", ".join(label(c) for c in result.found)
    return "no " + ", ".join(dict.fromkeys(code for code, _ in result.expected))


def _epilogue(
    out: TextIO,
    directory: Path,
    html_path: Path,
    fixed: bool,
    timings: dict[str, float],
    command: str,
) -> None:
    out.write(f"Open the HTML report (edges, findings, waterfalls): {html_path}\n")
    out.write(f"Spans, runtime findings and service logs: {directory}\n")
    out.write(f"The same diagnosis again: {command}\n")
    out.write(
        "Follow one order through the logs (each line carries its trace ID): "
        f"grep -h o-1001 {directory}/*.log | sort\n"
    )
    if fixed:
        out.write("Compare: tracehound demo  (the same system with the faults on)\n")
    else:
        out.write("Next: tracehound demo --fixed  (the same system with tracehound's fixes)\n")
    out.write(f"Done in {timings['total']:.1f} s.\n")
    out.flush()


def _write_json(
    out: TextIO,
    report: Any,
    results: list[Any],
    directory: Path,
    html_path: Path,
    traffic: Any,
    timings: dict[str, float],
    fixed: bool,
) -> None:
    import orjson

    from tracehound.demo._diagnosis import reproduce_command
    from tracehound.doctor.report import json as json_report

    data = json_report.to_dict(report)
    data["demo"] = {
        "mode": "fixed" if fixed else "faults",
        "out_dir": str(directory),
        "html": str(html_path),
        "requests": {"sent": traffic.sent, "ok": traffic.ok, "failures": traffic.failures},
        "command": reproduce_command(directory),
        "faults": [r.to_dict() for r in results],
        "seconds": timings,
    }
    out.write(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode())
    out.write("\n")
    out.flush()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")
