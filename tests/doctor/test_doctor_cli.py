"""``tracehound check``: exit codes, output choices, files written, what it refuses."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from doctor_data import DATA, SAMPLES, corpus

from tracehound.cli import main

BROKEN = str(DATA / "checkout-broken.jaeger.json")  # C003 (error), P003, A006
EXE = str(Path(sys.executable).with_name("tracehound"))


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main(["check", *args])
    out, err = capsys.readouterr()
    return status, out, err


def otlp(service: str, name: str, *, attributes: str = "[]", span_id: str = "00f067aa0ba902b7",
         parent: str = "", kind: int = 2) -> str:  # fmt: skip
    """One OTLP/JSON request holding one span."""
    resource = orjson.dumps([{"key": "service.name", "value": {"stringValue": service}}]).decode()
    span = (
        f'{{"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"{span_id}",'
        f'"parentSpanId":"{parent}","name":{orjson.dumps(name).decode()},"kind":{kind},'
        f'"startTimeUnixNano":"1767225600000000000","endTimeUnixNano":"1767225600001000000",'
        f'"attributes":{attributes}}}'
    )
    return (
        f'{{"resourceSpans":[{{"resource":{{"attributes":{resource}}},'
        f'"scopeSpans":[{{"spans":[{span}]}}]}}]}}'
    )


def test_exit_codes_follow_fail_on(capsys: pytest.CaptureFixture[str]) -> None:
    clean = corpus("zipkin/skew.json")  # one info finding (L005, clock skew), nothing worse
    status, out, _ = run([clean], capsys)
    assert status == 0, out
    assert run([clean, "--fail-on", "info"], capsys)[0] == 1
    assert run([BROKEN], capsys)[0] == 1
    assert run([BROKEN, "--fail-on", "ERROR"], capsys)[0] == 1


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert run([], capsys)[0] == 2
    assert run([*SAMPLES, "--fail-on", "loud"], capsys)[0] == 2
    assert run([*SAMPLES, "--json", "--sarif", "-"], capsys)[0] == 2
    status, _, err = run([*SAMPLES, "--ignore", "C003,no-such-rule"], capsys)
    assert status == 2 and "--ignore: unknown rule 'no-such-rule'" in err
    # a PATH that names nothing is a typo in the command, even next to good input
    missing = tmp_path / "typo.json"
    status, out, err = run([BROKEN, str(missing)], capsys)
    assert status == 2
    assert f"{missing}: no such file or directory" in err
    assert "C003 broken-edge" in out  # the rest was still analysed and reported


def test_input_problems_beside_analysed_spans_do_not_force_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('[{"traceId": "1", "id": "2", "timestamp": 1767225600000000')
    status, _, err = run([str(bad), BROKEN], capsys)
    assert status == 1  # the verdict on what was read: C003 is an error
    assert f"{bad}:1:" in err
    status, out, err = run([str(bad), BROKEN, "--ignore", "C003"], capsys)
    assert status == 0, out
    assert f"{bad}:1:" in err and "Input problems" in out
    # a rejected span is reported with its reason; the others are judged
    rejected = tmp_path / "rejected.jsonl"
    rejected.write_text(otlp("shop", "GET /", span_id="zz") + "\n" + otlp("shop", "GET /") + "\n")
    status, out, err = run([str(rejected)], capsys)
    assert status == 0, err
    assert "1 spans rejected:" in err and "2 read = 1 analysed + 1 rejected" in out


def test_nothing_analysed_exits_2_and_says_so(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"data": [{"spans": [{"traceID": "abc", "spanID": "zz", "startTime": 1}]}]}')
    code, out, err = run([str(bad)], capsys)
    assert code == 2
    assert "Nothing was analysed" in out
    assert "hold together" not in out
    assert "nothing could be analysed" in err


def test_json_sarif_html_and_db(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    sarif_file, html_file, db = tmp_path / "r.sarif", tmp_path / "r.html", tmp_path / "s.duckdb"
    args = [*SAMPLES, "--json", "--sarif", str(sarif_file), "--html", str(html_file)]
    status, out, _ = run([*args, "--db", str(db)], capsys)
    assert status == 1
    data = orjson.loads(out)
    assert data["spans"]["read"] == 13
    assert orjson.loads(sarif_file.read_bytes())["version"] == "2.1.0"
    assert html_file.read_text().startswith("<!DOCTYPE html>")
    assert db.exists()
    # the span table tracehound wrote may be replaced by the next run
    assert run([*args, "--db", str(db)], capsys)[0] == 1
    status, out, _ = run([*SAMPLES, "--sarif", "-"], capsys)
    assert orjson.loads(out)["runs"][0]["tool"]["driver"]["name"] == "tracehound"


def test_reports_never_replace_an_input_or_a_foreign_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    trace = tmp_path / "spans.json"
    trace.write_bytes(Path(BROKEN).read_bytes())
    notes = tmp_path / "notes.duckdb"
    notes.write_text("my notes\n")
    for target, reason in (
        (trace, "is one of the inputs"),
        (notes, "is not a span table tracehound wrote"),
        (tmp_path, "not a regular file"),
    ):
        status, _, err = run([str(trace), "--db", str(target)], capsys)
        assert status == 2, target
        assert reason in err and "Traceback" not in err
    for option in ("--sarif", "--html"):
        status, _, err = run([str(tmp_path), option, str(trace)], capsys)
        assert status == 2 and f"{option} {trace} is one of the inputs" in err
    assert trace.read_bytes() == Path(BROKEN).read_bytes()
    assert notes.read_text() == "my notes\n"


def test_ignore_takes_codes_and_names(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(
        [BROKEN, "--json", "--ignore", "broken-edge", "--ignore", "P003,a006"], capsys
    )
    data = orjson.loads(out)
    assert status == 0
    assert data["findings"] == []
    assert data["ignored"] == {"A006": 1, "C003": 1, "P003": 1}
    status, out, _ = run([BROKEN, "--ignore", "C003"], capsys)
    assert status == 0
    assert "C003 broken-edge" not in out and "P003 legacy-propagation-only" in out
    assert "ignored on request (findings left out): C003 (1)" in out


def test_all_lists_every_occurrence(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    many = tmp_path / "many.jsonl"
    lines = [
        otlp("shop", "x", span_id=f"{i + 1:016x}", parent="ffffffffffffffff", kind=1)
        for i in range(8)
    ]
    many.write_text("\n".join(lines) + "\n")  # 8 orphans (C001)
    _, out, _ = run([str(many)], capsys)
    assert "C001 orphan-span (error) × 8" in out
    assert sum(f"many.jsonl:{i + 1}:" in out for i in range(8)) == 5
    assert "… and 3 more (--all lists them)" in out
    page = tmp_path / "all.html"
    _, out, _ = run([str(many), "--all", "--html", str(page)], capsys)
    assert "more (--all" not in out
    for i in range(8):
        assert f"many.jsonl:{i + 1}:" in out
        assert f"many.jsonl:{i + 1}:" in page.read_text()


def test_help_has_exit_codes_and_examples(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--help"]) == 0
    text = capsys.readouterr().out
    assert "exit status:" in text and "examples:" in text
    assert "1  findings at or above --fail-on" in text
    assert "--ignore" in text and "--all" in text


def test_outside_strings_are_never_markup(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    spans = tmp_path / "markup.jsonl"
    spans.write_text(
        otlp(
            "payments[eu]",
            "charge [/]",
            span_id="0000000000000001",
            parent="00000000000000ff",
            kind=1,
        )
        + "\n"
        + otlp(
            "[bold]x[/bold]\x1b[31m",
            "[/]",
            span_id="0000000000000002",
            parent="0000000000000fff",
            kind=1,
        )
        + "\n"
    )
    status, out, err = run([str(spans)], capsys)
    assert status == 1, err
    assert "payments[eu]" in out and "charge [/]" in out
    assert "[bold]x[/bold]\\x1b[31m" in out and "\x1b" not in out


def test_malformed_attribute_entries_do_not_stop_the_checks(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    header = "http.request.header.traceparent"
    for attributes in (
        "[5]",
        '[{"key": "a", "value": 5}, null, "x", {"key": 7, "value": {"stringValue": "v"}}]',
        f'[{{"key": "{header}", "value": 5}}, {{"key": "http.request.header.b3", '
        f'"value": {{"intValue": "7"}}}}]',
        f'[{{"key": "{header}", "value": {{"arrayValue": 5}}}}, '
        '{"key": "k", "value": {"kvlistValue": [1]}}, '
        '{"key": "l", "value": {"arrayValue": {"values": 3}}}]',
    ):
        path = tmp_path / "attrs.json"
        path.write_text(otlp("shop", "GET /", attributes=attributes))
        status, _, err = run([str(path)], capsys)
        assert status in (0, 1), (attributes, err)
        assert "internal error" not in err


def test_many_spans_sharing_an_id_stay_linear(tmp_path: Path) -> None:
    """n spans with one ID, each naming it as parent, once made n² join rows."""
    from tracehound.doctor import load
    from tracehound.doctor.checks import _hops, _sql

    n = 3000
    lines = [
        otlp("shop", "x", span_id="00f067aa0ba902b7", parent="00f067aa0ba902b7", kind=2 + i % 2)
        for i in range(n)
    ]
    path = tmp_path / "dups.jsonl"
    path.write_text("\n".join(lines) + "\n")
    store, report = load([str(path)])
    try:
        assert report.spans_analysed == n
        _sql.install(store)
        # the join to parents: a bounded number per child, not n
        assert store.scalar("SELECT count(*) FROM th_link") <= (_sql.MAX_SHARED_PARENTS + 1) * n
        _hops.match_hops(store)
        assert store.scalar("SELECT count(*) FROM th_cont") <= n  # calls and their answers
    finally:
        store.close()


def test_file_names_that_are_not_utf8(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    name = os.fsdecode(b"spans\xff.json")
    (tmp_path / name).write_bytes(Path(BROKEN).read_bytes())
    status, out, err = run([str(tmp_path / name)], capsys)
    assert status == 1, err
    assert "spans\\xff.json" in out
    status, out, err = run([str(tmp_path), "--json"], capsys)
    assert status == 1, err
    assert orjson.loads(out)["inputs"][0]["source"].endswith("spans\\xff.json")


def test_a_directory_that_cannot_be_searched_is_named(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "ok.json").write_bytes(Path(BROKEN).read_bytes())
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "lost.json").write_bytes(Path(BROKEN).read_bytes())
    scandir = os.scandir

    def refusing(path: object = ".") -> object:
        if isinstance(path, (str, os.PathLike)) and Path(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return scandir(path)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "scandir", refusing)
    status, out, err = run([str(tmp_path)], capsys)
    assert status == 1, err
    assert f"{locked}: cannot search: Permission denied" in err
    assert "lost.json" not in out


def test_a_crash_is_exit_2_with_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tracehound.doctor import checks

    def failing(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(checks, "run_checks", failing)
    monkeypatch.delenv("TRACEHOUND_DEBUG", raising=False)
    status, _, err = run([BROKEN], capsys)
    assert status == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "internal error while reading and checking the inputs" in err
    assert "ZeroDivisionError: boom" in err and "--debug" in err
    status, _, err = run([BROKEN, "--debug"], capsys)
    assert status == 2 and "Traceback" in err
    monkeypatch.setenv("TRACEHOUND_DEBUG", "1")
    status, _, err = run([BROKEN], capsys)
    assert status == 2 and "Traceback" in err


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


class _Failing(io.StringIO):
    def __init__(self, error: OSError) -> None:
        super().__init__()
        self.error = error

    def write(self, text: str) -> int:
        raise self.error


def test_an_unwritable_output_is_exit_2_and_a_closed_pipe_keeps_the_verdict(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["check", BROKEN], _Failing(OSError(28, "No space left on device"))) == 2
    assert "cannot write the output: No space left on device" in capsys.readouterr().err
    assert main(["check", BROKEN], _Failing(BrokenPipeError(32, "Broken pipe"))) == 1
    assert capsys.readouterr().err.count("Traceback") == 0


@pytest.mark.parametrize(
    ("shell", "expected"),
    [
        (f"'{EXE}' check '{BROKEN}' > /dev/full", "cannot write the output"),
        (f"'{EXE}' check - <&-", "standard input is closed"),
        (f"'{EXE}' check '{BROKEN}' >&-", "cannot write the output"),
    ],
)
def test_closed_and_full_standard_streams(shell: str, expected: str) -> None:
    if not Path("/dev/full").exists() and "/dev/full" in shell:
        pytest.skip("no /dev/full here")
    result = subprocess.run(
        ["sh", "-c", shell], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr


def test_progress_bar_for_many_files_only_on_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tracehound.doctor import _progress

    for i in range(_progress.MIN_FILES):
        (tmp_path / f"part{i:02}.json").write_bytes(Path(BROKEN).read_bytes())

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    drawn: list[tuple[str, int, int | None]] = []
    real = _progress.Bar.update

    def update(self: _progress.Bar, name: str, done: int, total: int | None) -> None:
        drawn.append((name, done, total))
        real(self, name, done, total)

    monkeypatch.setattr(_progress.Bar, "update", update)
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["check", str(tmp_path)], io.StringIO()) == 1
    assert {Path(name).name for name, _, _ in drawn} == {
        f"part{i:02}.json" for i in range(_progress.MIN_FILES)
    }
    bar = drawn[-1]
    assert bar[1] == bar[2] == Path(BROKEN).stat().st_size
    drawn.clear()
    out = io.StringIO()
    assert main(["check", str(tmp_path), "--json"], out) == 1
    assert drawn == []  # never a bar beside JSON
    orjson.loads(out.getvalue())
    drawn.clear()
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # not a terminal
    assert main(["check", str(tmp_path)], io.StringIO()) == 1
    assert drawn == []
