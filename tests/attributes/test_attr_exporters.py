"""What instrumentation and exporters write is judged as its authors mean it.

OpenTelemetry's own instrumentation still records the older HTTP keys (the
A006 finding names the opt-in switch, not a rename); version strings are no
numbers (A003); what an export format's translation wrote is not the
sender's fault (Zipkin's string tags, its remote endpoint, Jaeger's otel.*).
"""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tracehound import findings
from tracehound.attributes import AttributePolicy, check_span_row
from tracehound.attributes._legacy import LEGACY_KEYS, is_otel_instrumentation
from tracehound.rules import Finding

POLICY = AttributePolicy()


def row(attributes: dict, **extra: object) -> list[Finding]:
    return check_span_row(
        {"SpanName": "GET /x", "ServiceName": "svc", "SpanAttributes": attributes, **extra},
        policy=POLICY,
    )


def by_code(found: list[Finding]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for f in found:
        out.setdefault(f.code, []).append(f.message)
    return out


@pytest.mark.parametrize(
    "scope",
    [
        "opentelemetry.instrumentation.requests",  # Python
        "io.opentelemetry.okhttp-3.0",  # Java agent
        "@opentelemetry/instrumentation-http",  # JavaScript
        "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp",  # Go
        "OpenTelemetry.Instrumentation.Http",  # .NET
    ],
)
def test_older_http_keys_from_otel_instrumentation_name_the_opt_in(scope: str) -> None:
    assert is_otel_instrumentation(scope)
    (message,) = by_code(row({"http.method": "GET"}, ScopeName=scope))["A006"]
    assert "HTTP semantic conventions before v1.23" in message
    assert "OTEL_SEMCONV_STABILITY_OPT_IN=http " in message
    assert "http/dup" in message
    assert "`http.request.method`" in message
    assert "OpenTracing" not in message


def test_older_keys_say_where_they_come_from_without_a_known_scope() -> None:
    found = by_code(row({"net.peer.ip": "10.0.0.1", "peer.ipv4": "10.0.0.1", "http.url": "u"}))
    http_url, net_peer_ip, peer_ipv4 = sorted(found["A006"])
    assert "'http.url' is a key of OpenTracing and of OpenTelemetry's older" in http_url
    assert "OTEL_SEMCONV_STABILITY_OPT_IN=http is set" in http_url
    assert "'net.peer.ip' is a key of OpenTelemetry's older semantic conventions" in net_peer_ip
    assert "'peer.ipv4' is an OpenTracing-era key" in peer_ipv4
    assert "OTEL_SEMCONV_STABILITY_OPT_IN" not in peer_ipv4


def test_database_keys_name_the_database_opt_in() -> None:
    (message,) = by_code(
        row({"db.statement": "SELECT 1"}, ScopeName="opentelemetry.instrumentation.psycopg2")
    )["A006"]
    assert "OTEL_SEMCONV_STABILITY_OPT_IN=database" in message


def test_every_otel_key_with_an_opt_in_is_an_http_network_or_database_key() -> None:
    for key, legacy in LEGACY_KEYS.items():
        if legacy.opt_in == "http":
            assert key.startswith(("http.", "net.")), key
        elif legacy.opt_in == "database":
            assert key.startswith("db."), key


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("http.flavor", "1.1"),
        ("http.flavor", "2.0"),
        ("net.protocol.version", "1.1"),
        ("network.protocol.version", "2"),
        ("rpc.jsonrpc.version", "2.0"),
        ("tls.protocol.version", "1.3"),
    ],
)
def test_versions_and_version_enums_are_not_numeric_strings(key: str, value: str) -> None:
    assert "A003" not in by_code(row({key: value}))


def test_a_zipkin_row_is_read_as_strings_and_its_translation_is_not_reported() -> None:
    tags = {
        "http.status_code": "200",  # Zipkin tags are strings by specification
        "kafka.partition": "56",
        "http.method": "GET",  # Zipkin's own tag name (Brave HttpTags)
        "peer.service": "billing",  # the reader's translation of remoteEndpoint
        "otel.library.name": "x",  # an OTel SDK's Zipkin exporter
        "user.password": "hunter22",  # still a secret, whoever wrote it
    }
    as_zipkin = by_code(row(tags, Format="zipkin"))
    assert set(as_zipkin) == {"A004"}
    as_otlp = by_code(row(tags))
    assert {"A002", "A003", "A004", "A006"} <= set(as_otlp)


def test_zipkin_native_http_keys_from_otel_instrumentation_are_older_conventions() -> None:
    found = by_code(
        row({"http.method": "GET"}, Format="zipkin", ScopeName="io.opentelemetry.tomcat-10.0")
    )
    assert "OTEL_SEMCONV_STABILITY_OPT_IN=http" in found["A006"][0]


def test_jaeger_translation_keys_are_not_reported_but_the_senders_are() -> None:
    tags = {
        "internal.span.format": "proto",
        "w3c.tracestate": "vendor=1",
        "otel.library.name": "demo",
        "http.status_code": "200",  # typed in Jaeger: the sender wrote a string
    }
    found = by_code(row(tags, Format="jaeger"))
    assert set(found) == {"A002", "A006"}
    assert all("http.status_code" in m for m in found["A002"] + found["A006"])


def test_the_runtime_words_a006_for_the_instrumentation_scope() -> None:
    seen: list[Finding] = []
    findings.reset()
    findings.add_listener(seen.append)
    try:
        policy = AttributePolicy.from_config(mode="warn", env={})
        provider = TracerProvider(active_span_processor=policy.processor(), shutdown_on_exit=False)
        exporter = InMemorySpanExporter()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        stock = provider.get_tracer("opentelemetry.instrumentation.requests", "0.48b0")
        with stock.start_as_current_span("GET", attributes={"http.method": "GET"}):
            pass
        mine = provider.get_tracer("shop.checkout")
        with mine.start_as_current_span("GET", attributes={"http.method": "GET"}):
            pass
    finally:
        findings.remove_listener(seen.append)
        findings.reset()
    messages = [f.message for f in seen if f.code == "A006"]
    assert len(messages) == 2
    assert "opentelemetry.instrumentation.requests still emits" in messages[0]
    assert "still emits" not in messages[1]
