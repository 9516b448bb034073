"""The ``tracehound`` command: rules, headers, demo, exit codes."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tracehound.cli import main
from tracehound.rules import CATALOGUE

TID = "4bf92f3577b34da6a3ce929d0e0e4736"
SID = "00f067aa0ba902b7"


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), out), out.getvalue()


def test_rules_lists_the_catalogue() -> None:
    code, text = run("rules")
    assert code == 0
    assert "C003  broken-edge" in text
    assert "P001" in text and "K003" in text


def test_rules_code_explains_and_fixes() -> None:
    code, text = run("rules", "c005")
    assert code == 0
    assert "C005  context-lost-in-worker  [error]" in text
    assert "How to fix:" in text and "ContextExecutor" in text


def test_rules_unknown_code_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = run("rules", "X1")
    assert code == 2
    assert "unknown rule 'X1'" in capsys.readouterr().err


def test_rules_json() -> None:
    code, text = run("rules", "--json")
    assert code == 0
    assert {r["code"] for r in json.loads(text)} >= {"P001", "C003", "A005"}


def test_headers_explains_a_legacy_request() -> None:
    code, text = run("headers", "-H", f"uber-trace-id: {TID}%3A{SID}%3A0%3A1")
    assert code == 0  # P003 is a warning
    assert f"continues trace {TID}" in text
    assert "P003 legacy-propagation-only" in text


def test_headers_invalid_traceparent_exits_1_with_reason() -> None:
    code, text = run("headers", "-H", f"traceparent: 00-{TID}-{SID}-1", "--json")
    assert code == 1
    data = json.loads(text)
    assert data["continues"] is None
    assert data["findings"][0]["code"] == "P001"
    assert "trace-flags" in data["findings"][0]["message"]


def test_headers_from_curl_verbose_file(tmp_path: Path) -> None:
    dump = tmp_path / "curl.txt"
    dump.write_text(
        "> GET /pay HTTP/1.1\n> Host: payments\n> traceparent: 00-%s-%s-01\n"
        "> b3: %s-%s-1\n>\n" % (TID, SID, "a" * 32, SID)
    )
    code, text = run("headers", str(dump))
    assert code == 1
    assert "P002 propagation-conflict" in text


def test_headers_bad_line_names_the_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dump = tmp_path / "h.txt"
    dump.write_text("traceparent: 00-x\nthis is not a header\n")
    code, _ = run("headers", str(dump))
    assert code == 2
    assert f"{dump}:2: expected 'name: value'" in capsys.readouterr().err


def test_headers_missing_file_and_no_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("headers", "/nonexistent/file")[0] == 2
    assert "cannot read /nonexistent/file" in capsys.readouterr().err
    assert run("headers")[0] == 2


def test_propagation_demo_runs_over_loopback() -> None:
    code, text = run("demo", "--propagation", "--json")
    assert code == 0
    results = {r["scenario"]: r for r in json.loads(text)}
    jaeger = results["Jaeger client: uber-trace-id only"]
    assert jaeger["otel_default"]["continued"] is False
    assert jaeger["tracehound"]["continued"] is True
    assert jaeger["tracehound"]["trace_id"] == TID


def test_console_script_is_installed() -> None:
    exe = Path(sys.executable).with_name("tracehound")
    result = subprocess.run(
        [str(exe), "rules", "L001"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0
    assert "span-never-ended" in result.stdout


def test_unknown_command_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("frobnicate")[0] == 2
    assert run()[0] == 2


def test_rules_accepts_names_as_well_as_codes(capsys: pytest.CaptureFixture[str]) -> None:
    code, text = run("rules", "broken-edge")
    assert code == 0
    assert text.startswith("C003  broken-edge  [error]")
    assert "Detected by: doctor" in text
    assert run("rules", "Broken_Edge")[1] == text
    assert run("rules", "c003")[1] == text
    assert run("rules", "broken-egde")[0] == 2
    assert "did you mean broken-edge (C003)?" in capsys.readouterr().err


def test_rules_marks_what_nothing_detects_yet() -> None:
    _, text = run("rules")
    lines = {
        line[:4]: line for line in text.splitlines() if line[:1] in "PCLAKG" and line[4:6] == "  "
    }
    assert set(lines) == set(CATALOGUE)  # every rule, once
    undetected = {code for code, line in lines.items() if "(not detected yet)" in line}
    assert undetected == set()  # P005, the last one, is detected from HTTP evidence
    assert "Detected by: doctor" in run("rules", "P005")[1]
    assert "Detected by: doctor, k8s" in run("rules", "K001")[1]
    data = {r["code"]: r for r in json.loads(run("rules", "--json")[1])}
    assert data["P005"]["detected_by"] == ["doctor"]
    assert data["K002"]["detected_by"] == ["doctor", "k8s"]
    assert data["C005"]["detected_by"] == ["runtime"]


def test_a_crash_in_any_command_is_exit_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tracehound import cli

    def broken(args: object, out: object) -> int:
        raise KeyError("oops")

    monkeypatch.setattr(cli, "_cmd_rules", broken)
    monkeypatch.delenv("TRACEHOUND_DEBUG", raising=False)
    assert main(["rules"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tracehound rules: internal error (") and "KeyError" in err
    assert err.count("\n") == 1


def test_the_output_stream_acts_as_a_stream() -> None:
    from tracehound._cli_output import Output

    target = io.StringIO()
    stream = Output(target)
    stream.writelines(["a", "b\n"])
    stream.write("c")
    assert target.getvalue() == "ab\nc"
    assert stream.getvalue() == "ab\nc"  # what the stream has besides writing, it keeps
    assert stream.isatty() is False and stream.encoding == "utf-8"
