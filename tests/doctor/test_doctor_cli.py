"""``tracehound check``: exit codes, output choices, files written."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from conftest import DATA, SAMPLES, corpus
from tracehound.cli import main


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main(["check", *args])
    out, err = capsys.readouterr()
    return status, out, err


def test_exit_codes_follow_fail_on(capsys: pytest.CaptureFixture[str]) -> None:
    clean = corpus("zipkin/skew.json")  # one info finding (L005, clock skew), nothing worse
    status, out, _ = run([clean], capsys)
    assert status == 0, out
    assert run([clean, "--fail-on", "info"], capsys)[0] == 1
    assert run([str(DATA / "checkout-broken.jaeger.json")], capsys)[0] == 1
    assert run([str(DATA / "checkout-broken.jaeger.json"), "--fail-on", "ERROR"], capsys)[0] == 1


def test_usage_and_input_errors_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert run([], capsys)[0] == 2
    assert run([*SAMPLES, "--fail-on", "loud"], capsys)[0] == 2
    assert run([*SAMPLES, "--json", "--sarif", "-"], capsys)[0] == 2
    bad = tmp_path / "bad.json"
    bad.write_text('[{"traceId": "1", "id": "2", "timestamp": 1767225600000000')
    status, _, err = run([str(bad), str(DATA / "checkout-broken.jaeger.json")], capsys)
    assert status == 2
    assert f"{bad}:1:" in err


def test_json_sarif_html_and_db(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    sarif_file, html_file, db = tmp_path / "r.sarif", tmp_path / "r.html", tmp_path / "s.duckdb"
    status, out, _ = run(
        [
            *SAMPLES,
            "--json",
            "--sarif",
            str(sarif_file),
            "--html",
            str(html_file),
            "--db",
            str(db),
        ],
        capsys,
    )
    assert status == 1
    data = orjson.loads(out)
    assert data["spans"]["read"] == 13
    assert orjson.loads(sarif_file.read_bytes())["version"] == "2.1.0"
    assert html_file.read_text().startswith("<!DOCTYPE html>")
    assert db.exists()
    status, out, _ = run([*SAMPLES, "--sarif", "-"], capsys)
    assert orjson.loads(out)["runs"][0]["tool"]["driver"]["name"] == "tracehound"


def test_no_findings_says_whether_anything_was_analysed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"data": [{"spans": [{"traceID": "abc", "spanID": "zz", "startTime": 1}]}]}')
    code, out, _ = run([str(bad)], capsys)
    assert code == 2
    assert "Nothing was analysed" in out
    assert "hold together" not in out


def test_a_load_that_fails_says_why_and_exits_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tracehound import doctor

    def failing(*args: object, **kwargs: object) -> None:
        raise doctor.LoadError("cannot write /tmp/x (the temporary directory): disk full")

    monkeypatch.setattr(doctor, "check_paths", failing)
    status, _out, err = run([str(DATA / "collector.otlp.jsonl")], capsys)
    assert status == 2
    assert "tracehound check: cannot write /tmp/x (the temporary directory): disk full" in err
    assert "Traceback" not in err
