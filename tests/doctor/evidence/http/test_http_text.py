"""Text evidence: real ``curl -v`` transcripts, HAR files other projects wrote, proxy access
logs; and ``tracehound headers`` reading them the same from a file and from stdin."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tracehound.cli import main
from tracehound.doctor import check_paths
from tracehound.doctor.evidence.http import (
    Bad,
    Exchange,
    HttpFormat,
    LogFormatError,
    detect,
    parse_log_format,
    read_exchanges,
)

REAL = Path(__file__).resolve().parents[2] / "real" / "har"
TP = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


class _Echo(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(404 if "missing" in self.path else 200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def transcript(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What ``curl -v`` prints (stderr and the bodies on stdout, mixed) for two requests."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        run = subprocess.run(
            ["curl", "-v", "-H", f"traceparent: {TP}", "-H", "tracestate: congo=t61rcWkgMzE",
             f"{base}/pay", f"{base}/missing"],
            capture_output=True, timeout=30, check=True,
        )  # fmt: skip
    finally:
        server.shutdown()
        server.server_close()
    path = tmp_path_factory.mktemp("curl") / "curl.txt"
    path.write_bytes(run.stderr + run.stdout)
    return path


def _read(kind: HttpFormat, data: bytes, **kw: object) -> list[Exchange | Bad]:
    return list(read_exchanges(kind, io.BufferedReader(io.BytesIO(data)), **kw))  # type: ignore[arg-type]


def test_curl_verbose_gives_the_request_headers_only(transcript: Path) -> None:
    data = transcript.read_bytes()
    assert detect(data[:4096]) is HttpFormat.CURL
    found = _read(HttpFormat.CURL, data)
    assert not [x for x in found if isinstance(x, Bad)]
    assert [(x.target, x.status) for x in found] == [("/pay", 200), ("/missing", 404)]  # type: ignore[union-attr]
    first = found[0]
    assert isinstance(first, Exchange)
    assert [n for n, _ in first.headers] == ["Host", "User-Agent", "Accept", "traceparent",
                                             "tracestate"]  # fmt: skip
    assert first.server == first.headers[0][1]  # "Connected to 127.0.0.1 (127.0.0.1) port N"


def _headers(capsys: pytest.CaptureFixture[str], *args: str, stdin: bytes | None = None) -> tuple:
    if stdin is not None:
        sys.stdin = io.TextIOWrapper(io.BytesIO(stdin))
    try:
        code = main(["headers", *args])
    finally:
        sys.stdin = sys.__stdin__
    out, err = capsys.readouterr()
    return code, out, err


def test_headers_reads_a_transcript_from_a_file_and_from_stdin_the_same(
    transcript: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, from_file, err = _headers(capsys, str(transcript), "--json")
    assert (code, err) == (0, "")
    code, from_stdin, err = _headers(capsys, "-", "--json", stdin=transcript.read_bytes())
    assert (code, err) == (0, "")
    a, b = json.loads(from_file), json.loads(from_stdin)
    for doc in (a, b):
        for item in (*doc["inputs"], *doc["requests"]):
            item.pop("source")
    assert a == b
    assert [r["continues"]["trace_id"] for r in a["requests"]] == [TP[3:35]] * 2
    assert a["requests"][0]["tracestate"] == ["congo=t61rcWkgMzE"]


def test_headers_typed_in_still_reads_one_request(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _headers(capsys, "-H", f"traceparent: {TP}")
    assert code == 0 and "continues trace 0af7651916cd43dd8448eb211c80319c" in out
    # a transcript cut to its header lines, with curl's notes and the answer's headers
    cut = f"* Trying 127.0.0.1:80...\n> traceparent: {TP}\n>\n< HTTP/1.1 200 OK\n< b3: 0\n"
    code, out, err = _headers(capsys, "-", stdin=cut.encode())
    assert code == 0, err
    assert "formats on the request: tracecontext\n" in out  # `< b3: 0` is not a request header


def test_real_har_files_read_with_http2_names_and_a_byte_order_mark() -> None:
    found = {p.name: _read(HttpFormat.HAR, p.read_bytes()) for p in sorted(REAL.glob("*.har"))}
    assert {name: len(items) for name, items in found.items()} == {
        "mitmproxy-charles.har": 1, "mitmproxy-chrome.har": 3,
        "mitmproxy-successful_log.har": 2, "mitmproxy-with-bom.har": 1,
    }  # fmt: skip
    assert not [x for items in found.values() for x in items if isinstance(x, Bad)]
    post = found["mitmproxy-successful_log.har"][1]
    assert isinstance(post, Exchange)
    # the address it was sent to (serverIPAddress), with the port of the URL's scheme
    expected = ("POST", "/post", 200, "54.211.216.104:443")
    assert (post.method, post.target, post.status, post.server) == expected
    entry = json.loads((REAL / "mitmproxy-successful_log.har").read_text())["log"]["entries"][1]
    # mitmproxy connected (and did TLS) before the request came: its answer ended send + wait
    # + receive after the request started, not `time` (which adds connect and ssl)
    answered = sum(entry["timings"][k] for k in ("send", "wait", "receive"))
    assert post.end_ns - post.time_ns == int(answered * 1e6)  # type: ignore[operator]
    assert answered < entry["time"] - 400
    report = check_paths([str(p) for p in sorted(REAL.glob("*.har"))])
    assert report.exchanges_read == 7 and not report.errors and not report.findings
    # no span was given: "no findings" says what was looked at, not that traces hold together
    assert report.no_findings_text().startswith("No findings in 7 HTTP requests: no span was")


def test_a_har_entry_without_a_request_is_named_and_the_rest_read(tmp_path: Path) -> None:
    har = {"log": {"version": "1.2", "entries": [
        {"request": {"method": "GET", "url": "http://shop/pay", "headers": [
            {"name": ":authority", "value": "shop"}, {"name": "traceparent", "value": "00-x"}]},
         "startedDateTime": "2024-05-01T10:00:00.5+02:00", "time": 5},
        {"response": {"status": 200}},
    ]}}  # fmt: skip
    path = tmp_path / "a.har"
    path.write_text(json.dumps(har))
    report = check_paths([str(path)])
    assert [(e.position, e.message) for e in report.errors] == [
        ("entry 2", "an entry without a request object")
    ]
    assert [f.code for f in report.findings] == ["P001"]
    assert report.findings[0].location == f"{path}:entry 1"


NGINX = (
    '127.0.0.1 - - [05/Dec/2026:11:33:15 +0000] "GET /pay?order_id=o-1 HTTP/1.1" 200 12 "-" '
    f'"python-requests/2.32.3" "{TP}" "-"\n'
    '127.0.0.1 - - [05/Dec/2026:11:33:16 +0000] "GET /pay?order_id=o-2 HTTP/1.1" 200 12 "-" '
    '"python-requests/2.32.3" "-" "80f198ee56343ba864fe8b2a57d3eff7:e457b5a2e4d86bd1:0:1"\n'
)
ENVOY = (
    '[2026-12-05T11:33:15.258Z] "GET /pay HTTP/1.1" 200 - 0 12 5 4 "-" "curl/7.88.1" '
    f'"5d1a0b3c-1b4e-4b7e-9a53-1f0f2a8c9e11" "payments:8080" "10.0.0.7:8080" "{TP}"\n'
)


def test_access_logs_are_recognised_with_their_trace_fields(tmp_path: Path) -> None:
    assert detect(NGINX.encode()) is HttpFormat.ACCESS_LOG
    assert detect(ENVOY.encode()) is HttpFormat.ACCESS_LOG
    first, second = _read(HttpFormat.ACCESS_LOG, NGINX.encode())
    assert isinstance(first, Exchange) and isinstance(second, Exchange)
    assert dict(first.headers) == {"user-agent": "python-requests/2.32.3", "traceparent": TP}
    assert dict(second.headers) == {
        "user-agent": "python-requests/2.32.3",
        "uber-trace-id": "80f198ee56343ba864fe8b2a57d3eff7:e457b5a2e4d86bd1:0:1",
    }
    assert (first.client, first.target, first.status) == ("127.0.0.1", "/pay?order_id=o-1", 200)
    [envoy] = _read(HttpFormat.ACCESS_LOG, ENVOY.encode())
    assert isinstance(envoy, Exchange)
    assert (envoy.server, envoy.upstream, dict(envoy.headers)["traceparent"]) == (
        "payments:8080", "10.0.0.7:8080", TP
    )
    assert dict(envoy.headers)["x-request-id"] == "5d1a0b3c-1b4e-4b7e-9a53-1f0f2a8c9e11"
    assert envoy.end_ns - envoy.time_ns == 5_000_000  # type: ignore[operator]
    path = tmp_path / "access.log"
    path.write_text(NGINX + "garbage line\n")
    report = check_paths([str(path)])
    assert report.exchanges_read == 2
    assert [(e.position, e.message[:15]) for e in report.errors] == [("line 3", "not a line of t")]
    assert [f.code for f in report.findings] == ["P003"]


def test_a_given_format_names_its_fields() -> None:
    fmt = parse_log_format(
        'envoy:[%START_TIME%] %REQ(:METHOD)% %REQ(:PATH)% %RESPONSE_CODE% '
        '%REQ(TRACEPARENT)% %REQ(B3)%'
    )
    [row] = _read(HttpFormat.ACCESS_LOG, f"[2026-12-05T11:33:15Z] GET /a 503 {TP} -\n".encode(),
                  log_format=fmt)  # fmt: skip
    assert isinstance(row, Exchange)
    assert (row.method, row.status, dict(row.headers)) == ("GET", 503, {"traceparent": TP})
    with pytest.raises(LogFormatError, match="expected nginx:<log_format> or envoy:"):
        parse_log_format("apache:%h %l")


def test_check_reads_an_access_log_in_the_format_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "edge.log"
    path.write_text(f"10.0.0.2 GET /pay 200 {TP[:-2]}zz\n")  # a bad traceparent: P001
    given = "nginx:$remote_addr $request_method $request_uri $status $http_traceparent"
    code = main(["check", str(path), "--log-format", given, "--json"])
    document = json.loads(capsys.readouterr().out)
    assert code == 1
    assert document["inputs"][0]["exchanges"] == 1
    assert [f["code"] for f in document["findings"]] == ["P001"]
    assert main(["check", str(path), "--log-format", "apache:%h"]) == 2
    assert "--log-format: access-log format 'apache:%h'" in capsys.readouterr().err


def test_headers_reads_an_access_log_in_the_format_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "edge.log"
    path.write_text(f"10.0.0.2 GET /pay 200 {TP}\n")
    given = "nginx:$remote_addr $request_method $request_uri $status $http_traceparent"
    code, out, err = _headers(capsys, str(path), "--log-format", given, "--json")
    assert (code, err) == (0, "")
    [request] = json.loads(out)["requests"]
    assert (request["client"], request["continues"]["trace_id"]) == ("10.0.0.2", TP[3:35])
