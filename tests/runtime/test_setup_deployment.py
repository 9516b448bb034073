"""configure() inside a real OpenTelemetry deployment: the real ``opentelemetry-instrument``.

Each test runs `deployment_app.py` in a subprocess under the distro, with the
console exporter (its stdout parsed) or the OTLP/HTTP exporter sending to a
receiver on 127.0.0.1 (the protobuf decoded with opentelemetry-proto).  The
span carries an ``api_token`` and a Bearer value: every exporter, the
distro's and those added before and after ``configure()``, must receive it
exactly once, redacted.
"""

from __future__ import annotations

import gzip
import http.server
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
APP = HERE / "deployment_app.py"
BIN = Path(sys.executable).parent
INSTRUMENT = BIN / "opentelemetry-instrument"
SECRETS = ("tok-4c9e1a7f3b2d8e60", "eyJzdWIiOiJ0ZXN0LXVzZXIifQ")

pytestmark = pytest.mark.skipif(not INSTRUMENT.exists(), reason="opentelemetry-instrument")


def run_app(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        # The distro still configures the SDK (what is under test); loading every
        # installed library instrumentor would only add ~2 s per run.
        "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "*",
        **env,
    }
    return subprocess.run(
        [str(INSTRUMENT), sys.executable, str(APP), *args],
        capture_output=True, text=True, env=environ, cwd=tmp_path, timeout=60, check=False,
    )


def console_spans(text: str) -> list[dict[str, Any]]:
    """The span objects ConsoleSpanExporter wrote (indented JSON, one after another)."""
    decoder, spans, at = json.JSONDecoder(), [], 0
    while True:
        start = text.find("{", at)
        if start < 0:
            return spans
        value, at = decoder.raw_decode(text, start)
        spans.append(value)


def assert_one_redacted_login(spans: list[dict[str, Any]], raw: str, where: str) -> None:
    assert [s["name"] for s in spans] == ["login"], f"{where}: {[s['name'] for s in spans]}"
    attributes = spans[0]["attributes"]
    assert attributes["api_token"] == "[REDACTED]", where
    assert attributes["retry.reason"] == "upstream refused Bearer [REDACTED]", where
    for secret in SECRETS:
        assert secret not in raw, f"{where} received {secret!r} in clear text"


def test_console_distro_and_exporters_added_before_and_after(tmp_path: Path) -> None:
    before, after = tmp_path / "before.jsonl", tmp_path / "after.jsonl"
    result = run_app(
        tmp_path, str(before), str(after), "--twice", OTEL_TRACES_EXPORTER="console"
    )
    assert result.returncode == 0, result.stderr
    assert_one_redacted_login(console_spans(result.stdout), result.stdout, "the distro's console")
    for path in (before, after):
        text = path.read_text()
        assert_one_redacted_login(console_spans(text), text, path.name)
    assert '{"unguarded": []}' in result.stderr
    assert "OTEL_TRACES_EXPORTER is not applied again" in result.stderr


class Receiver(http.server.BaseHTTPRequestHandler):
    bodies: list[bytes]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.bodies.append(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def otlp_receiver() -> Iterator[tuple[str, list[bytes]]]:
    bodies: list[bytes] = []
    handler = type("Handler", (Receiver,), {"bodies": bodies})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1/traces", bodies
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_otlp_http_receives_each_span_once_redacted(
    tmp_path: Path, otlp_receiver: tuple[str, list[bytes]]
) -> None:
    from google.protobuf.json_format import MessageToDict
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    endpoint, bodies = otlp_receiver
    result = run_app(  # every installed instrumentor on, requests' among them
        tmp_path, "-", "-", OTEL_TRACES_EXPORTER="otlp", OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="",
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=endpoint, OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
    )
    assert result.returncode == 0, result.stderr
    spans = []
    for body in bodies:
        request = ExportTraceServiceRequest.FromString(body)
        for resource in request.resource_spans:
            for scope in resource.scope_spans:
                for span in scope.spans:
                    as_dict = MessageToDict(span)
                    as_dict["attributes"] = {
                        a["key"]: a["value"].get("stringValue") for a in as_dict["attributes"]
                    }
                    spans.append(as_dict)
    raw = b"".join(bodies).decode("latin-1")
    assert_one_redacted_login(spans, raw, "the OTLP receiver")


def test_a_processor_exporting_in_on_start_fails_strict_mode(tmp_path: Path) -> None:
    feed = tmp_path / "started.json"
    result = run_app(
        tmp_path, "-", "-", "--mode", "strict", "--on-start-exporter", str(feed),
        OTEL_TRACES_EXPORTER="none",
    )
    assert result.returncode == 3, result.stderr
    assert "ConfigurationError: tracehound cannot keep secrets from: " in result.stderr
    assert "__main__.OnStartExporter holds an exporter and its on_start" in result.stderr


def test_a_processor_exporting_in_on_start_is_named_loudly(tmp_path: Path) -> None:
    feed = tmp_path / "started.json"
    result = run_app(
        tmp_path, "-", "-", "--on-start-exporter", str(feed), OTEL_TRACES_EXPORTER="none"
    )
    assert result.returncode == 0, result.stderr
    assert "WARNING:tracehound:tracehound: the attribute policy cannot protect this: " \
        "__main__.OnStartExporter holds an exporter" in result.stderr
    assert '"unguarded": ["__main__.OnStartExporter holds an exporter' in result.stderr
