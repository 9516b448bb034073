"""``tracehound load --clickhouse`` and ``tracehound check --clickhouse``: the same reports
and exit codes as for files, clear errors for a bad target or a missing extra."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tracehound.cli import main

DATA = Path(__file__).resolve().parents[1] / "data"
BROKEN = str(DATA / "checkout-broken.jaeger.json")


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main(args)
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def loaded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    target = f"chdb:{tmp_path / 'chdb'}"
    status, out, err = run(["load", BROKEN, "--clickhouse", target], capsys)
    assert status == 0, err
    assert out == "4 spans written to otel_traces\n"
    return target


def test_check_reports_as_for_files(loaded: str, capsys: pytest.CaptureFixture[str]) -> None:
    files_status, files_out, _ = run(["check", BROKEN, "--json"], capsys)
    status, out, err = run(["check", "--clickhouse", loaded, "--json"], capsys)
    assert (status, files_status) == (1, 1), err
    report, from_files = json.loads(out), json.loads(files_out)
    assert report["counts"]["by_code"].get("C003") == from_files["counts"]["by_code"]["C003"]
    assert report["edges"] == from_files["edges"]
    assert report["inputs"][0]["format"] == "clickhouse"
    assert any("ran inside ClickHouse" in n for n in report["notes"])
    skipped = {s["family"] for s in report["skipped"]}
    assert {"A002 (attributes)", "A003 (attributes)"} <= skipped
    status, out, _ = run(["check", "--clickhouse", loaded, "--no-progress"], capsys)
    assert status == 1
    assert "ran inside ClickHouse: C001 C002 C003 C004 C007 L004 L005 L006" in out


def test_in_clickhouse_only_on_the_exporters_table_runs_everything_there(
    loaded: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The exporter's table is a MergeTree: nothing is pulled, so the flag changes nothing."""
    _, files_out, _ = run(["check", BROKEN, "--json"], capsys)
    status, out, _ = run(
        ["check", "--clickhouse", loaded, "--json", "--in-clickhouse-only"], capsys
    )
    report, from_files = json.loads(out), json.loads(files_out)
    assert report["counts"]["by_code"]["C003"] == from_files["counts"]["by_code"]["C003"]
    assert report["edges"] == from_files["edges"]
    skipped = {s["family"] for s in report["skipped"]}
    assert "attributes (A001-A007)" not in skipped
    assert any("the attribute and propagation families" in n for n in report["notes"])
    assert status == 1


def test_usage_errors_exit_2(
    loaded: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    cases = {
        ("check", "--since", "1h", BROKEN): "needs --clickhouse",
        ("check", "--clickhouse", loaded, BROKEN): "give no PATH",
        ("check", "--clickhouse", loaded, "--db", str(tmp_path / "x.db")): "--db is for files",
        ("check", "--clickhouse", loaded, "--since", "soon"): "--since soon",
        ("check", "--clickhouse", loaded, "--from", "yesterday"): "not an ISO 8601 time",
        ("check", "--clickhouse", loaded, "--since", "1h", "--to", "2026-01-01"): "not both",
        ("check", "--clickhouse", loaded, "--from", "2026-02-01", "--to", "2026-01-01"): "before",
        ("check", "--clickhouse", loaded, "--table", "nope"): "no table nope",
        ("check", "--clickhouse", f"chdb:{tmp_path / 'absent'}"): "no chDB data directory",
        ("check", "--clickhouse", "mysql://h/db"): "expected chdb:PATH or clickhouse://",
        ("check", "--clickhouse", "clickhouse://127.0.0.1:1/db"): "clickhouse http://127.0.0.1:1",
    }
    for args, said in cases.items():
        status, _, err = run(list(args), capsys)
        assert status == 2, args
        assert said in err, (args, err)
        assert "Traceback" not in err
    assert not (tmp_path / "absent").exists()


@pytest.mark.parametrize("module", ["sqlglot", "chdb"])
def test_without_the_extra_it_says_how_to_install_it(
    module: str, loaded: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # as if not installed
    for name in ("_engine", "_dialect"):
        monkeypatch.delitem(sys.modules, f"tracehound.doctor.clickhouse.{name}", raising=False)
    status, _, err = run(["check", "--clickhouse", loaded], capsys)
    assert status == 2
    assert "pip install 'tracehound[clickhouse]'" in err
    assert "Traceback" not in err
