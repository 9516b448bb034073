"""The runtime findings file: written by a real process as findings happen, read by the doctor."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tracehound import findings
from tracehound.cli import main
from tracehound.rules import Finding, get_rule
from tracehound.runtime._errors import ConfigurationError
from tracehound.runtime._findings_file import FindingsFile, findings_path, install, uninstall

APP = """\
import os, sys
from concurrent.futures import ThreadPoolExecutor
from opentelemetry import trace
from opentelemetry.trace import SpanKind
import tracehound

tracehound.configure(service_name="orders", batch=False)
tracer = trace.get_tracer("app")
leaked = tracer.start_span("reserve stock")  # LEAK
pool = ThreadPoolExecutor(1)

def price():
    with tracehound.span("price cart"):  # WORKER
        pass

for _ in range(3):
    with tracehound.span("POST /checkout", kind=SpanKind.SERVER):
        pool.submit(price).result()
if sys.argv[1] == "crash":
    os._exit(3)  # no shutdown: nothing flushed, nothing counted
tracehound.shutdown()
"""


def line_of(marker: str) -> int:
    return next(n for n, text in enumerate(APP.splitlines(), 1) if marker in text)


def run_app(tmp_path: Path, how: str) -> subprocess.CompletedProcess[str]:
    app = tmp_path / "app.py"
    app.write_text(APP)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TRACEHOUND_"))},
        "OTEL_TRACES_EXPORTER": "tracehound_file",
        "TRACEHOUND_EXPORT_FILE": str(tmp_path / "spans-{pid}.jsonl"),
        "TRACEHOUND_FINDINGS_FILE": str(tmp_path),  # a directory: a file per process
    }
    return subprocess.run(
        [sys.executable, str(app), how],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60, check=False,
    )


def check(*paths: Path | str, options: tuple[str, ...] = ()) -> tuple[int, dict[str, Any]]:
    out = io.StringIO()
    code = main(["check", *map(str, paths), "--json", *options], out=out)
    return code, json.loads(out.getvalue())


def runtime(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        f["code"]: f for f in report["findings"] if f["details"].get("reported_by") == "runtime"
    }


def test_a_process_writes_its_findings_and_tracehound_check_reports_them(tmp_path: Path) -> None:
    run = run_app(tmp_path, "shutdown")
    assert run.returncode == 0, run.stderr
    (written,) = tmp_path.glob("findings-orders-*.jsonl")
    lines = [json.loads(line) for line in written.read_text().splitlines()]
    kinds = [line["kind"] for line in lines]
    assert kinds[0] == "tracehound.findings" and kinds[-1] == "tracehound.findings.summary"
    # C005 happened three times: one line (the sink logs the first), three counted
    assert sorted(line["code"] for line in lines if line["kind"] == "tracehound.finding") == [
        "C004", "C005", "L001"
    ]
    assert lines[-1]["suppressed"] == 2
    assert str(lines[0]["pid"]) in written.name

    code, report = check(*tmp_path.glob("spans-*.jsonl"), written)
    assert code == 1  # errors found
    found = runtime(report)
    app = str(tmp_path / "app.py")
    assert found["L001"]["location"] == f"{app}:{line_of('# LEAK')}"
    assert found["C005"]["location"] == f"{app}:{line_of('# WORKER')}"
    assert found["C005"]["details"]["occurrences"] == 3
    assert found["C005"]["details"]["counted"] is True
    assert found["C005"]["message"].startswith("reported by the runtime in orders (3 times): ")
    assert found["L001"]["service"] == "orders"
    l001_line = next(n for n, line in enumerate(lines, 1) if line.get("code") == "L001")
    assert found["L001"]["details"]["read_from"] == f"{written}:{l001_line}"
    assert len(found["C005"]["trace_id"]) == 32 and len(found["C005"]["span_id"]) == 16
    inputs = {Path(i["source"]).name: i for i in report["inputs"]}
    assert inputs[written.name] == {
        "source": str(written), "format": "tracehound-findings", "spans": 0, "errors": 0,
        "findings": 3, "exchanges": 0, "log_lines": 0,
    }
    assert report["spans"]["rejected"] == 0 and not report["errors"]
    # the doctor's own view of the same run: a root in the worker, beside the runtime's C005
    assert any(
        f["code"] == "C004" and "reported_by" not in f["details"] for f in report["findings"]
    )


def test_a_crash_loses_no_finding_already_reported(tmp_path: Path) -> None:
    run = run_app(tmp_path, "crash")
    assert run.returncode == 3, run.stderr
    (written,) = tmp_path.glob("findings-orders-*.jsonl")
    kinds = [json.loads(line)["kind"] for line in written.read_text().splitlines()]
    assert "tracehound.findings.summary" not in kinds
    code, report = check(written)
    assert code == 1  # a findings file alone is something to analyse, not a usage error
    c005 = runtime(report)["C005"]
    # without the counts written at shutdown, the lines are all that is known
    assert (c005["details"]["occurrences"], c005["details"]["counted"]) == (1, False)
    assert "L001" not in runtime(report)  # never reported: the process died with it open


def test_processes_of_one_service_are_merged(tmp_path: Path) -> None:
    for _ in range(2):
        assert run_app(tmp_path, "shutdown").returncode == 0
    files = sorted(tmp_path.glob("findings-orders-*.jsonl"))
    assert len(files) == 2
    _, report = check(*files)
    c005 = runtime(report)["C005"]
    assert (c005["details"]["occurrences"], c005["details"]["processes"]) == (6, 2)
    assert report["counts"]["by_code"]["C005"] == 1
    _, ignored = check(*files, options=("--ignore", "C005"))
    assert "C005" not in runtime(ignored) and ignored["ignored"] == {"C005": 1}


def test_only_the_first_of_each_kind_is_written_and_every_one_is_counted(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    writer = FindingsFile(str(path), "orders")
    finding = Finding(get_rule("L003"), "ended twice", location="app.py:7")
    writer.record(finding, True)
    for _ in range(99):
        writer.record(finding, False)
    writer.close()
    writer.record(finding, True)  # after close: ignored, never raises
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["kind"] for line in lines] == [
        "tracehound.findings", "tracehound.finding", "tracehound.findings.summary"
    ]
    assert lines[-1]["counts"] == [{"code": "L003", "location": "app.py:7", "count": 100}]
    assert lines[-1]["suppressed"] == 99


def test_the_sink_hands_findings_to_the_file_once_installed(tmp_path: Path) -> None:
    template = str(tmp_path / "findings-{service}-{pid}.jsonl")
    writer = install(template, "pay/ments")
    try:
        assert writer is not None
        assert Path(writer.path).name == f"findings-pay_ments-{os.getpid()}.jsonl"
        assert install(template, "pay/ments") is writer  # configure() again: kept
        findings.report(Finding(get_rule("L003"), "ended twice", location="x.py:1"))
    finally:
        uninstall()
    text = Path(writer.path).read_text()
    assert '"code": "L003"' in text and "tracehound.findings.summary" in text


def test_a_path_that_cannot_be_written_is_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigurationError, match=r"^findings_file: cannot write runtime findings"):
        install(str(tmp_path / "missing" / "f.jsonl"), "orders")
    monkeypatch.setenv("TRACEHOUND_FINDINGS_FILE", str(tmp_path / "missing" / "f.jsonl"))
    with pytest.raises(ConfigurationError, match=r"^TRACEHOUND_FINDINGS_FILE: cannot write"):
        install(None, "orders")
    monkeypatch.setenv("TRACEHOUND_FINDINGS_FILE", " ")
    assert findings_path(None) is None  # unset or blank: no file


def test_a_write_that_fails_later_never_reaches_the_application(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    writer = FindingsFile(str(tmp_path / "f.jsonl"), "orders")
    assert writer._file is not None
    writer._file.close()  # the disk went away
    writer.record(Finding(get_rule("L003"), "ended twice"), True)
    writer.record(Finding(get_rule("L003"), "ended twice"), True)
    writer.close()
    warnings = [r.getMessage() for r in caplog.records if "runtime findings" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].endswith("; stopped")


FORKING = """\
import multiprocessing, sys
import tracehound
from tracehound import findings
from tracehound.rules import Finding, get_rule

def child():
    for _ in range(4):
        findings.report(Finding(get_rule("L003"), "ended twice", location="child.py:3"))

tracehound.configure(service_name="worker", batch=False)
findings.report(Finding(get_rule("L003"), "ended twice", location="parent.py:1"))
process = multiprocessing.get_context("fork").Process(target=child)
process.start()
process.join()
if sys.argv[1] == "shutdown":
    tracehound.shutdown()
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.parametrize("how", ["shutdown", "exit"])
def test_each_process_writes_its_own_file_with_its_counts(tmp_path: Path, how: str) -> None:
    """A forked child (multiprocessing leaves through os._exit) and a process that never
    called shutdown() still write their counts."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TRACEHOUND_"))},
        "OTEL_TRACES_EXPORTER": "none",
        "TRACEHOUND_FINDINGS_FILE": str(tmp_path / "findings-{pid}.jsonl"),
    }
    run = subprocess.run(
        [sys.executable, "-c", FORKING, how],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60, check=False,
    )
    assert run.returncode == 0, run.stderr
    files = list(tmp_path.glob("findings-*.jsonl"))
    assert len(files) == 2
    summaries = {}
    for path in files:
        lines = [json.loads(line) for line in path.read_text().splitlines()]
        assert str(lines[0]["pid"]) in path.name
        assert lines[-1]["kind"] == "tracehound.findings.summary"
        (count,) = lines[-1]["counts"]
        summaries[count["location"]] = count["count"]
    assert summaries == {"parent.py:1": 1, "child.py:3": 4}
    _, report = check(*files)
    assert {f["location"]: f["details"]["occurrences"] for f in report["findings"]} == summaries
