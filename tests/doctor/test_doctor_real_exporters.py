"""The doctor on what real instrumentation and exporters write (tests/doctor/real).

Attributes a format's translation wrote are not the sender's fault; the
messaging and request patterns that end a child after its parent by design
are not L005 (clock skew and escaped work still are); a span that is its own
parent is named so (C007); roots sharing an ID are roots each, unless they
are one Zipkin RPC.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from doctor_data import codes, corpus

from tracehound.doctor import Report, check_paths

REAL = Path(__file__).resolve().parent / "real"
ZIPKIN = REAL / "zipkin"


def check(path: Path | str) -> Report:
    return check_paths([str(path)])


def keys(report: Report, code: str) -> set[str]:
    return {f.details.get("key") for f in codes(report, code)}


# -- attributes -----------------------------------------------------------------------


def test_zipkin_string_tags_and_the_remote_endpoint_are_not_the_senders_fault() -> None:
    report = check(ZIPKIN / "smartthings-oauth-authorization.json")
    # `http.status_code: "200"`, `kafka.partition: "56"`: Zipkin tags are strings by
    # specification; Brave's `http.method`/`http.url` are Zipkin's own names;
    # `peer.service` is the reader's name for remoteEndpoint.serviceName
    assert codes(report, "A002") == []
    assert codes(report, "A003") == []
    assert codes(report, "A006") == []
    # what the sender did choose is still reported: camelCase keys; its Cassandra batch
    # (`INSERT ... (oauth_token, access_token, ...) VALUES (?, ?, ...)`) holds no secret
    assert keys(report, "A001") == {"pusher.eventType", "pusher.timeInKafka"}
    assert codes(report, "A005") == []


def test_envoys_zipkin_strings_are_not_numeric_strings() -> None:
    report = check(ZIPKIN / "envoy.json")
    assert codes(report, "A002") == codes(report, "A003") == codes(report, "A006") == []


def test_the_same_strings_sent_as_otlp_are_reported(tmp_path: Path) -> None:
    """The exemption is the format's, not the key's: an OTLP sender chose its types."""
    zipkin = json.loads((ZIPKIN / "envoy.json").read_text())[0]
    attributes = [{"key": k, "value": {"stringValue": v}} for k, v in zipkin["tags"].items()]
    span = {
        "traceId": zipkin["traceId"].rjust(32, "0"),
        "spanId": zipkin["id"],
        "name": zipkin["name"],
        "kind": 2,
        "startTimeUnixNano": str(zipkin["timestamp"] * 1000),
        "endTimeUnixNano": str((zipkin["timestamp"] + zipkin["duration"]) * 1000),
        "attributes": attributes,
    }
    path = tmp_path / "envoy.otlp.json"
    path.write_text(json.dumps(_otlp("front-proxy", [span])))
    report = check(path)
    assert keys(report, "A002") == {"http.status_code"}
    assert {"request_size", "response_size"} <= keys(report, "A003")


def test_jaeger_spans_translated_from_zipkin_are_judged_as_zipkin(tmp_path: Path) -> None:
    def doc(span_format: str) -> dict[str, Any]:
        tags = [
            {"key": "http.status_code", "type": "string", "value": "200"},
            {"key": "peer.port", "type": "int64", "value": 8080},
            {"key": "internal.span.format", "type": "string", "value": span_format},
        ]
        span = {
            "traceID": "ab" * 8,
            "spanID": "cd" * 8,
            "operationName": "GET",
            "tags": tags,
            "startTime": 1_700_000_000_000_000,
            "duration": 5,
            "processID": "p1",
        }
        return {"data": [{"traceID": "ab" * 8, "spans": [span],
                          "processes": {"p1": {"serviceName": "proxy"}}}]}  # fmt: skip

    (tmp_path / "zipkin.json").write_text(json.dumps(doc("zipkin")))
    (tmp_path / "proto.json").write_text(json.dumps(doc("proto")))
    assert codes(check(tmp_path / "zipkin.json"), "A002") == []
    assert keys(check(tmp_path / "proto.json"), "A002") == {"http.status_code"}


# -- L005 -------------------------------------------------------------------------------


def test_receive_then_process_and_async_sends_are_not_late_ends() -> None:
    report = check(ZIPKIN / "messaging-kafka.json")
    late = [f for f in codes(report, "L005") if f.details["early_ns"] == 0]
    assert late == []  # was 9: `on-message` after `poll`, `send` after `on-message`/`handle`
    # what stays: processing spans that start a few µs before their `poll` parent
    early = codes(report, "L005")
    assert {f.details["parent_service"] for f in early} == {"servicea", "serviceb"}
    assert all(0 < f.details["early_ns"] < 100_000 for f in early)
    assert codes(check(corpus("zipkin/messaging2.json")), "L005") == []


def test_requests_that_carried_the_context_across_a_redirect_are_no_late_ends() -> None:
    """SmartThings carries the trace across web redirects: each request's SERVER span is
    the child of the one that redirected, which ended first (was 12 L005)."""
    assert codes(check(ZIPKIN / "smartthings-oauth-authorization.json"), "L005") == []


def test_zipkin_one_way_spans_have_no_duration_by_design(tmp_path: Path) -> None:
    """Zipkin's duration is "if known": the redirect and Kafka one-way spans (a CLIENT's
    send, the shared SERVER that received it) have none (was 19 L004).  A span Brave
    reported unfinished (the `brave.flush` annotation) is L004."""
    assert codes(check(ZIPKIN / "smartthings-oauth-authorization.json"), "L004") == []
    spans = json.loads((ZIPKIN / "smartthings-oauth-authorization.json").read_text())
    one_way = next(s for s in spans if s.get("name") == "redirect" and "duration" not in s)
    orphan = {
        **one_way,
        "annotations": [{"timestamp": one_way["timestamp"], "value": "brave.flush"}],
    }
    (tmp_path / "one-way.json").write_text(json.dumps([one_way]))
    (tmp_path / "orphan.json").write_text(json.dumps([orphan]))
    assert codes(check(tmp_path / "one-way.json"), "L004") == []
    (never,) = codes(check(tmp_path / "orphan.json"), "L004")
    assert "never finished" in never.message


def test_l004_says_which_time_is_missing(tmp_path: Path) -> None:
    """A span without a start time is not "exported before it ended": its end may be
    there; what is missing is the start (Jaeger's API v3 leaves zero times out)."""
    (untimed,) = codes(check(Path(__file__).parent / "real/jaeger/api_v3_GetTrace.json"), "L004")
    assert untimed.message == "span 'foobar' of unknown_service has no start time, so its " \
        "duration is unknown"  # fmt: skip
    no_number = _span("01", None, "GET /", 2, 0, 10)
    no_number["startTimeUnixNano"] = "soon"
    no_end = _span("02", "01", "SELECT", 3, 1, 5)
    del no_end["endTimeUnixNano"]
    path = tmp_path / "times.json"
    path.write_text(json.dumps(_otlp("shop", [no_number, no_end])))
    messages = sorted(f.message for f in codes(check(path), "L004"))
    assert messages == [
        "span 'GET /' of shop has no usable start (start time is not a number), so its "
        "duration is unknown",
        "span 'SELECT' of shop has no end time: it was exported before it ended",
    ]
    # in Zipkin a record without timestamp is legal (reported late); the load notes it
    spans = json.loads((ZIPKIN / "envoy.json").read_text())
    for span in spans:
        del span["timestamp"]
    (tmp_path / "late.json").write_text(json.dumps(spans))
    assert codes(check(tmp_path / "late.json"), "L004") == []


def test_clock_skew_between_services_is_still_reported() -> None:
    (skew,) = codes(check(corpus("zipkin/skew.json")), "L005")
    assert "clock skew between servicea and serviceb" in skew.message


def test_a_server_span_ending_after_its_clients_is_not_skew(tmp_path: Path) -> None:
    """An ASGI server ends its span after the response has left, so after its client."""
    client = _span("01", None, "GET", 3, 0, 10_000_000)
    server = _span("02", "01", "GET /items", 2, 1_000_000, 10_400_000)
    work = _span("03", "02", "render", 1, 2_000_000, 11_000_000)  # escaped its server span
    path = tmp_path / "asgi.json"
    path.write_text(json.dumps(_otlp("front", [client], ("back", [server, work]))))
    (late,) = codes(check(path), "L005")
    assert late.span_id == "03".rjust(16, "0")
    assert "work escaped the span" in late.message


def test_a_call_ending_with_its_handler_is_not_escaped_work(tmp_path: Path) -> None:
    """Node's HTTP instrumentation ends a call's span in its response's last callback,
    after the handler that answered with that response ended its server span (0.4 ms
    later in the Node test bed); a call that goes on for longer did escape its span."""
    for late_ns, reported in ((400_000, False), (5_000_000, True)):
        server = _span("01", None, "GET /route", 2, 0, 10_000_000)
        call = _span("02", "01", "GET", 3, 1_000_000, 10_000_000 + late_ns)
        path = tmp_path / f"gateway-{late_ns}.json"
        path.write_text(json.dumps(_otlp("gateway", [server, call])))
        assert [f.span_id for f in codes(check(path), "L005")] == (
            ["02".rjust(16, "0")] if reported else []
        )


def test_a_follows_from_child_may_outlive_its_parent(tmp_path: Path) -> None:
    def doc(ref_type: str) -> dict[str, Any]:
        server = {
            "traceID": "ab" * 8,
            "spanID": "01" * 8,
            "operationName": "POST /orders",
            "tags": [{"key": "span.kind", "type": "string", "value": "server"}],
            "startTime": 1_700_000_000_000_000,
            "duration": 1000,
            "processID": "p1",
        }
        job = {
            "traceID": "ab" * 8,
            "spanID": "02" * 8,
            "operationName": "send receipt",
            "references": [{"refType": ref_type, "traceID": "ab" * 8, "spanID": "01" * 8}],
            "startTime": 1_700_000_000_000_500,
            "duration": 50_000,
            "processID": "p1",
        }
        return {"data": [{"traceID": "ab" * 8, "spans": [server, job],
                          "processes": {"p1": {"serviceName": "orders"}}}]}  # fmt: skip

    (tmp_path / "follows.json").write_text(json.dumps(doc("FOLLOWS_FROM")))
    (tmp_path / "child.json").write_text(json.dumps(doc("CHILD_OF")))
    assert codes(check(tmp_path / "follows.json"), "L005") == []
    assert len(codes(check(tmp_path / "child.json"), "L005")) == 1


# -- structure --------------------------------------------------------------------------


def test_a_span_that_is_its_own_parent_is_named_so(tmp_path: Path) -> None:
    root = _span("01", None, "GET /", 2, 0, 10)
    loop = _span("02", "02", "POST /pay", 2, 1, 5)  # an entry span: was silently "remote"
    inner = _span("03", "03", "validate", 1, 2, 4)  # was C001 "names a parent not in the trace"
    path = tmp_path / "self.json"
    path.write_text(json.dumps(_otlp("shop", [root, loop, inner])))
    report = check(path)
    assert sorted(f.span_id for f in codes(report, "C007")) == ["02".rjust(16, "0"),
                                                                "03".rjust(16, "0")]  # fmt: skip
    assert "names itself" in codes(report, "C007")[0].message
    assert codes(report, "C001") == []
    assert report.remote_entries == 0


def test_two_roots_sharing_an_id_are_two_roots_and_a_duplicate(tmp_path: Path) -> None:
    first = _span("01", None, "GET /a", 2, 0, 10)
    second = _span("01", None, "GET /b", 2, 20, 30)
    path = tmp_path / "roots.json"
    path.write_text(json.dumps(_otlp("shop", [first, second])))
    report = check(path)
    assert len(codes(report, "C002")) == 1
    assert len(codes(report, "L006")) == 1


def test_zipkin_rpcs_sharing_an_id_are_one_root_and_no_duplicate() -> None:
    for name in ("zipkin/ascend.json", "zipkin/skew.json"):
        report = check(corpus(name))
        assert codes(report, "C002") == codes(report, "L006") == [], name
    # a Kafka fan-out: one CLIENT and the shared SERVER spans of its consumers
    report = check(ZIPKIN / "smartthings-oauth-authorization.json")
    assert codes(report, "L006") == codes(report, "C002") == []


def _zipkin(kind: str | None, service: str, ip: str, start: int, **more: Any) -> dict[str, Any]:
    span = {"traceId": "ab" * 8, "id": "cd" * 8, "parentId": "ef" * 8, "name": "send",
            "timestamp": 1_700_000_000_000_000 + start, "duration": 50,
            "localEndpoint": {"serviceName": service, "ipv4": ip}, **more}  # fmt: skip
    if kind:
        span["kind"] = kind
    return span


def test_one_client_and_any_number_of_servers_that_joined_it_are_one_rpc(
    tmp_path: Path,
) -> None:
    cases = {
        # a message consumed on three hosts; a retry answered by two
        "fan-out": [_zipkin("CLIENT", "bouncer", "10.0.0.1", 0)]
        + [_zipkin("SERVER", "pusher", f"10.0.1.{n}", 10 * n, shared=True) for n in (1, 2, 3)],
        # servers of a client that reported nothing (an uninstrumented proxy sent B3)
        "no client": [_zipkin("SERVER", "pusher", f"10.0.1.{n}", n, shared=True) for n in (1, 2)],
    }
    for name, spans in cases.items():
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(spans))
        report = check(path)
        assert codes(report, "L006") == codes(report, "C002") == [], name


def test_a_server_reusing_its_clients_id_in_the_clients_own_service_is_l006(
    tmp_path: Path,
) -> None:
    """Beside a SERVER in another service, a second SERVER, not shared, in the CLIENT's
    own service is no part of the RPC: an ID reused (OTLP never shares IDs)."""
    client = _span("02", "01", "GET /pay", 3, 0, 50)
    mine = _span("02", "01", "GET /pay", 2, 1, 40)
    theirs = _span("02", "01", "GET /pay", 2, 5, 45)
    path = tmp_path / "reused.json"
    path.write_text(json.dumps(_otlp("shop", [client, mine], ("pay", [theirs]))))
    (dup,) = codes(check(path), "L006")
    assert dup.span_id == "02".rjust(16, "0")
    # without the one in the CLIENT's service: one RPC across two services
    path.write_text(json.dumps(_otlp("shop", [client], ("pay", [theirs]))))
    assert codes(check(path), "L006") == []


# -- helpers ----------------------------------------------------------------------------

T0 = 1_700_000_000_000_000_000


def _span(
    span_id: str, parent: str | None, name: str, kind: int, start: int, end: int
) -> dict[str, Any]:
    span = {
        "traceId": "ab" * 16,
        "spanId": span_id.rjust(16, "0"),
        "name": name,
        "kind": kind,
        "startTimeUnixNano": str(T0 + start),
        "endTimeUnixNano": str(T0 + end),
    }
    if parent:
        span["parentSpanId"] = parent.rjust(16, "0")
    return span


def _otlp(service: str, spans: list[dict[str, Any]], *more: tuple[str, list]) -> dict[str, Any]:
    return {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": name}}]
                },
                "scopeSpans": [{"scope": {"name": "test"}, "spans": group}],
            }
            for name, group in ((service, spans), *more)
        ]
    }


def test_older_keys_of_one_otel_instrumentation_are_one_finding(tmp_path: Path) -> None:
    """One switch fixes them all: one finding per service and instrumentation, not per key."""

    def attrs(**values: Any) -> list[dict[str, Any]]:
        return [
            {"key": k.replace("_", "."), "value": {"stringValue": v}} for k, v in values.items()
        ]

    server = _span("01", None, "GET /", 2, 0, 10)
    server["attributes"] = attrs(http_method="GET", http_flavor="1.1", net_host_name="shop")
    mine = _span("02", "01", "charge", 1, 1, 5)
    mine["attributes"] = attrs(http_method="POST")  # set by the service's own code
    doc = _otlp("shop", [server])
    doc["resourceSpans"][0]["scopeSpans"][0]["scope"]["name"] = (
        "opentelemetry.instrumentation.flask"
    )
    doc["resourceSpans"][0]["scopeSpans"].append(
        {"scope": {"name": "shop.billing"}, "spans": [mine]}
    )
    path = tmp_path / "flask.json"
    path.write_text(json.dumps(doc))
    switch, rename = sorted(codes(check(path), "A006"), key=lambda f: "keys" in f.details)[::-1]
    assert switch.details["keys"] == ["http.flavor", "http.method", "net.host.name"]
    assert switch.message.startswith("opentelemetry.instrumentation.flask records 3 keys")
    assert "OTEL_SEMCONV_STABILITY_OPT_IN=http " in switch.message
    assert codes(check(path), "A003") == []  # http.flavor "1.1" is a version, not a number
    assert "its successor is `http.request.method`" in rename.message
