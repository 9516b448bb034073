"""``tracehound serve`` on the command line: forwarding, and clear errors for bad options."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from _servers import clean_env, send_system, serving

from tracehound.cli import main


def test_forward_passes_every_request_on_to_the_next_collector(tmp_path: Path) -> None:
    with (
        serving(tmp_path / "collector.journal") as collector,
        serving(tmp_path / "tee.journal", "--forward", collector.traces_url) as tee,
    ):
        send_system("http-proto", tee.traces_url, "--checkouts", "2")
        send_system("http-json", tee.traces_url, "--checkouts", "1")
        here = tee.report_when(lambda r: r["spans"]["read"] == 15)
        there = collector.report_when(lambda r: r["spans"]["read"] == 15)
        assert tee.get("/api/status")["forward"]["failed"] == 0
    assert here["counts"]["by_code"]["C003"] == 3
    found = [
        sorted((f["code"], f["trace_id"], f["span_id"]) for f in r["findings"])
        for r in (here, there)
    ]
    assert found[0] == found[1]


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tracehound.cli", "serve", "--no-grpc", *args],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=timeout,
        check=False,
    )


def test_a_file_that_is_not_a_journal_is_refused_by_name(tmp_path: Path) -> None:
    spans = tmp_path / "spans.duckdb"
    spans.write_bytes(b"DUCK" * 100)
    done = run_cli("--port", "0", "--db", str(spans))
    assert done.returncode == 2
    assert f"{spans}: not a tracehound journal" in done.stderr
    assert "Traceback" not in done.stderr
    assert spans.read_bytes() == b"DUCK" * 100


def test_bad_options_are_usage_errors(capsys: object) -> None:
    assert main(["serve", "--forward", "ftp://collector:4318"]) == 2
    assert main(["serve", "--port", "70000"]) == 2
    assert main(["serve", "--max-body", "12x"]) == 2


def test_a_port_in_use_is_named(tmp_path: Path) -> None:
    with serving(tmp_path / "a.journal") as first:
        done = run_cli("--port", str(first.port), "--db", str(tmp_path / "b.journal"))
    assert done.returncode == 2
    assert f"cannot listen on 127.0.0.1:{first.port}" in done.stderr
