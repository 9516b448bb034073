"""``tracehound demo`` end to end: real processes, the exact findings, nothing left behind."""

from __future__ import annotations

import glob
import io
import json
import queue
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tracehound.cli import main
from tracehound.demo import EXIT_OK, _orchestrator
from tracehound.demo._faults import FAULTS
from tracehound.demo._orchestrator import DemoError, System

REQUESTS = 8
"""Checkouts per run: every fault fires on each, every fourth payment times out."""

BROKEN_DOCTOR = {
    ("C001", "orders"),
    ("C003", "orders"),
    ("C004", "gateway"),
    ("P003", "payments"),
    ("A002", "payments"),
    ("A005", "payments"),
}
BROKEN_RUNTIME = {
    ("C005", "gateway"): REQUESTS,
    ("L001", "orders"): REQUESTS,
    ("A005", "payments"): REQUESTS,
    ("A002", "payments"): REQUESTS // 4,
}


def demo(out_dir: Path, *args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(["demo", "--out", str(out_dir), "--requests", str(REQUESTS), *args], out)
    return code, out.getvalue()


def by_reporter(report: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    runtime = [f for f in report["findings"] if f["details"].get("reported_by") == "runtime"]
    doctor = [f for f in report["findings"] if f not in runtime]
    return doctor, runtime


def edge(report: dict[str, Any], caller: str, callee: str) -> dict[str, Any]:
    (found,) = [e for e in report["edges"] if (e["caller"], e["callee"]) == (caller, callee)]
    return found


def source_line(location: str) -> str:
    path, _, line = location.rpartition(":")
    return Path(path).read_text().splitlines()[int(line) - 1]


def assert_no_process_left(out_dir: Path, started: int = 4) -> None:
    """No process started for this run is alive: by PID file, and by command line."""
    pids = [int(p) for p in (out_dir / "pids").read_text().split()]
    assert len(pids) == started
    left = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "tracehound.demo._process" in cmdline and str(out_dir) in cmdline:
            left.append((entry.name, cmdline))
    assert left == []


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict[str, Any], Path]:
    out_dir = tmp_path_factory.mktemp("broken")
    code, text = demo(out_dir, "--json")
    return code, json.loads(text), out_dir


@pytest.fixture(scope="module")
def fixed(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict[str, Any], Path]:
    out_dir = tmp_path_factory.mktemp("fixed")
    code, text = demo(out_dir, "--fixed", "--json")
    return code, json.loads(text), out_dir


def test_broken_run_reports_exactly_the_planted_faults(broken: Any) -> None:
    code, report, _ = broken
    assert code == EXIT_OK
    assert report["schema"] == "tracehound.doctor/1"
    assert report["services"] == ["gateway", "orders", "payments", "shipping"]
    assert report["spans"]["rejected"] == 0 and not report["errors"]
    doctor, runtime = by_reporter(report)
    assert {(f["code"], f["service"]) for f in doctor} == BROKEN_DOCTOR
    assert {(f["code"], f["service"]): f["details"]["occurrences"] for f in runtime} == (
        BROKEN_RUNTIME
    )
    counts = report["counts"]["by_code"]
    for code_ in ("C001", "C003", "C004", "P003"):  # one per request
        assert counts[code_] == REQUESTS, code_


def test_broken_edge_is_orders_to_payments(broken: Any) -> None:
    _, report, _ = broken
    payments = edge(report, "orders", "payments")
    assert (payments["calls"], payments["broken"], payments["formats"]) == (
        REQUESTS,
        REQUESTS,
        ["jaeger"],
    )
    assert payments["cause"] == "orders sends only uber-trace-id; payments reads only W3C"
    assert edge(report, "gateway", "orders")["continued"] == REQUESTS
    shipping = edge(report, "orders", "shipping")
    assert (shipping["kind"], shipping["continued"]) == ("message", REQUESTS)
    c003 = [f for f in report["findings"] if f["code"] == "C003"]
    assert {f["details"]["callee"] for f in c003} == {"payments"}


def test_runtime_findings_point_at_the_faulty_lines(broken: Any) -> None:
    _, report, _ = broken
    _, runtime = by_reporter(report)
    where = {f["code"]: f["location"] for f in runtime}
    assert "start_span(" in source_line(where["L001"])
    assert 'tracehound.span("price cart"' in source_line(where["C005"])
    assert all(
        f["message"].startswith(f"reported by the runtime in {f['service']}") for f in runtime
    )


def run_command(command: str) -> tuple[int, dict[str, Any]]:
    """``command`` as a shell runs it: globs expanded, then ``tracehound check``."""
    words = shlex.split(command)
    assert words[:2] == ["tracehound", "check"]
    paths = [match for word in words[2:] for match in sorted(glob.glob(word))]
    out = io.StringIO()
    code = main(["check", *paths, "--json"], out)
    return code, json.loads(out.getvalue())


@pytest.mark.parametrize("run", ["broken", "fixed"])
def test_the_printed_command_gives_the_same_diagnosis(run: str, request: Any) -> None:
    _, report, out_dir = request.getfixturevalue(run)
    command = report["demo"]["command"]
    assert command == (
        f"tracehound check {out_dir}/spans-*.jsonl {out_dir}/findings-*.jsonl"
    )
    code, again = run_command(command)
    assert code == (1 if run == "broken" else 0)
    for key in ("findings", "counts", "edges", "inputs", "spans", "services", "errors"):
        assert again[key] == report[key], key
    formats = {i["format"] for i in again["inputs"]}
    assert formats == {"otlp-json", "tracehound-findings"}
    if run == "broken":
        _, runtime = by_reporter(again)
        assert {(f["code"], f["service"]) for f in runtime} == set(BROKEN_RUNTIME)


def test_broken_run_says_each_fault_was_caught(broken: Any) -> None:
    _, report, out_dir = broken
    faults = report["demo"]["faults"]
    assert [f["key"] for f in faults] == [f.key for f in FAULTS]
    assert all(f["on"] and f["as_expected"] for f in faults)
    assert report["demo"]["requests"] == {"sent": REQUESTS, "ok": REQUESTS, "failures": []}
    html = (out_dir / "report.html").read_text()
    assert "C003" in html and "orders → payments" in html
    for service in ("gateway", "orders", "payments", "shipping"):
        assert (out_dir / f"spans-{service}.jsonl").stat().st_size > 0
    assert_no_process_left(out_dir)


def test_fixed_run_is_clean(fixed: Any) -> None:
    code, report, out_dir = fixed
    assert code == EXIT_OK
    assert not [f for f in report["findings"] if f["severity"] == "error"]
    assert report["findings"] == []
    seen = [e for e in report["edges"] if e["callee_seen"]]
    assert all(e["broken"] == 0 and e["continued"] == REQUESTS for e in seen)
    assert len(seen) == 3
    # orders' SQLite and payments' card processor export no spans: peers, not breaks
    peers = {(e["caller"], e["callee"]) for e in report["edges"] if not e["callee_seen"]}
    assert peers == {("orders", "sqlite"), ("payments", "cards.example.com:443")}
    assert all(e["broken"] == 0 for e in report["edges"])
    assert report["traces"] == REQUESTS  # one trace per checkout, across all four services
    assert all(not f["on"] and f["as_expected"] for f in report["demo"]["faults"])
    assert_no_process_left(out_dir)


def test_one_fault_fixed_terminal_report(tmp_path: Path) -> None:
    code, text = demo(tmp_path, "--fix", "legacy-header")
    assert code == EXIT_OK
    assert re.search(r"orders → payments +│", text) and "broken-edge" not in text
    assert "✓ legacy-header [fixed]" in text
    assert "✓ thread-pool [on]" in text and "caught by C004 (doctor), C005 (runtime)" in text
    assert f"Open the HTML report (edges, findings, waterfalls): {tmp_path}/report.html" in text
    assert "Next: tracehound demo --fixed" in text
    command = f"tracehound check {tmp_path}/spans-*.jsonl {tmp_path}/findings-*.jsonl"
    assert f"The same diagnosis again: {command}" in text
    assert_no_process_left(tmp_path)


def test_unknown_fault_is_a_usage_error(tmp_path: Path) -> None:
    assert demo(tmp_path, "--fix", "no-such-fault")[0] == 2


def test_a_service_that_fails_to_start_is_reported_and_all_are_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_orchestrator, "SERVICE_ORDER", ("payments", "billing"))
    monkeypatch.setattr(_orchestrator, "PEERS", {"payments": (), "billing": ()})
    with (
        pytest.raises(DemoError, match=r"billing failed to start") as raised,
        System(tmp_path, ()) as system,
    ):
        system.start()
    assert "KeyError: 'billing'" in str(raised.value)  # the tail of its log
    assert_no_process_left(tmp_path, started=2)


def _start_demo(out_dir: Path) -> tuple[subprocess.Popen[str], queue.Queue[str]]:
    """The demo as a user runs it, sending checkouts long enough to be interrupted."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            # Ctrl-C as in a user's terminal: a test run in the background of a shell
            # without job control inherits SIGINT ignored, and Python (so the demo) keeps it
            "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler);"
            " sys.argv[0] = 'tracehound'; runpy.run_module('tracehound.cli', run_name='__main__')",
            "demo",
            "--out",
            str(out_dir),
            "--requests",
            "10000",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for line in process.stderr:  # type: ignore[union-attr]
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            continue
        if "ready in" in line:
            return process, lines
    process.kill()
    pytest.fail("the demo did not report its services ready")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_demo_leaves_no_process(tmp_path: Path, signum: int) -> None:
    process, lines = _start_demo(tmp_path)
    time.sleep(0.5)  # traffic is flowing
    process.send_signal(signum)
    try:
        assert process.wait(60) == 130  # a bound, generous for a loaded machine
    finally:
        process.kill()
    assert "interrupted" in "".join(iter_lines(lines))
    assert_no_process_left(tmp_path)


def test_services_stop_when_the_demo_is_killed(tmp_path: Path) -> None:
    process, _ = _start_demo(tmp_path)
    process.kill()  # SIGKILL: no cleanup runs in the demo
    process.wait(5)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            assert_no_process_left(tmp_path)
            return
        except AssertionError:
            time.sleep(0.2)
    assert_no_process_left(tmp_path)


def iter_lines(lines: queue.Queue[str]) -> list[str]:
    found = []
    while True:
        try:
            found.append(lines.get(timeout=1))
        except queue.Empty:
            return found


def test_missing_extras_are_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import tracehound.demo

    monkeypatch.setattr(tracehound.demo, "_NEEDS", ("duckdb", "no_such_module_for_the_demo"))
    err = io.StringIO()
    code = tracehound.demo.run_demo(io.StringIO(), out_dir=tmp_path, err=err)
    assert code == 2
    assert "needs no_such_module_for_the_demo: pip install 'tracehound[doctor,otlp]'" in (
        err.getvalue()
    )
    assert not (tmp_path / "pids").exists()
