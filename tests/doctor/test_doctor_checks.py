"""Every check on the shared corpora (as they are), hand-written files and generated traffic."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from doctor_data import DATA, codes, corpus

from tracehound.doctor import Report, check_paths
from tracehound.doctor._synthetic_writers import to_jaeger, to_otlp_json_lines, to_zipkin
from tracehound.doctor.synthetic import Traffic


def test_entry_span_with_remote_parent_is_not_an_orphan() -> None:
    report = check_paths([corpus("opentelemetry-proto/trace.json")])
    assert codes(report, "C001") == []
    assert report.remote_entries == 1
    jaeger = check_paths([corpus("jaeger/trace_success.json")])
    assert codes(jaeger, "C001") == []


def test_orphans_inside_services_are_reported() -> None:
    report = check_paths([corpus("zipkin/messaging2.json")])
    orphans = {f.span_id for f in codes(report, "C001")}
    assert orphans == {
        "939e2fdc360a1201",
        "dfdfa6bdfc538d3e",
        "c779d4ff1adfc8f9",
        "693fb64c3cf75cf3",
        "3df9ceef91bbc631",
        "3df9ceef91bbc777",  # a CONSUMER hanging off the same missing local parent
    }
    lone = check_paths([corpus("jaeger/otel_traces_01.json")])
    assert [f.span_id for f in codes(lone, "C001")] == ["0000000000000002"]


def test_zipkin_shared_spans_are_not_duplicates_but_real_duplicates_are() -> None:
    for name in ("zipkin/ascend.json", "zipkin/skew.json", "zipkin/messaging2.json"):
        assert codes(check_paths([corpus(name)]), "L006") == [], name
    (dup,) = codes(check_paths([corpus("jaeger-ui/otlp2jaeger-in.json")]), "L006")
    assert dup.span_id == "e127af99e3b3e074"
    (mine,) = codes(check_paths([str(DATA / "zipkin-duplicates.json")]), "L006")
    assert mine.span_id == "6b221d5bc9e6496c"


def test_clock_skew_is_child_outside_parent() -> None:
    (skew,) = codes(check_paths([corpus("zipkin/skew.json")]), "L005")
    assert skew.span_id == "74280ae0c10d8062"
    assert "clock skew between servicea and serviceb" in skew.message
    assert skew.details["early_ns"] > 60_000_000


def test_handwritten_files_cover_lifecycle_and_propagation() -> None:
    report = check_paths([str(DATA / "collector.otlp.jsonl")])
    assert {f.message.split(" has ")[1] for f in codes(report, "L004")} == {
        "no end time: it was exported before it ended",
        "a zero duration",
    }
    (conflict,) = codes(report, "P002")
    assert conflict.span_id == "b7ad6b7169203331"
    (legacy,) = codes(report, "P003")
    assert legacy.service == "orders" and "b3" in legacy.message


def test_handwritten_broken_edge_with_cause() -> None:
    report = check_paths([str(DATA / "checkout-broken.jaeger.json")])
    (broken,) = codes(report, "C003")
    assert broken.service == "checkout"
    assert broken.details["callee"] == "payments"
    assert broken.details["callee_trace_id"] == "7f3a9c2e5b1d4e8fa0c6b2d9e4f1a3b5"
    assert broken.details["confidence"] >= 0.9
    (edge,) = report.edges
    assert (edge.caller, edge.callee, edge.calls, edge.broken) == ("checkout", "payments", 1, 1)
    assert edge.cause == "checkout sends only uber-trace-id; payments reads only W3C"
    assert edge.fix is not None and "OTEL_PROPAGATORS=tracehound" in edge.fix


def _precision_recall(found: set[str], truth: set[str]) -> tuple[float, float]:
    hit = len(found & truth)
    return hit / max(len(found), 1), hit / max(len(truth), 1)


def test_precision_and_recall_on_generated_faults(traffic: Traffic, traffic_report: Report) -> None:
    truth = traffic.truth
    measured = {
        "C001": _precision_recall(
            {f.span_id for f in codes(traffic_report, "C001")}, truth.orphans
        ),
        "C002": _precision_recall(
            {f.span_id for f in codes(traffic_report, "C002")}, truth.extra_roots
        ),
        "C003": _precision_recall(
            {f.details["callee_span_id"] for f in codes(traffic_report, "C003")},
            set(truth.broken),
        ),
    }
    print("\nprecision / recall on generated faults:")
    for code, (precision, recall) in measured.items():
        print(f"  {code}: precision {precision:.3f}, recall {recall:.3f}")
    for code, (precision, recall) in measured.items():
        assert precision >= 0.95, code
        assert recall >= 0.95, code
    assert len(truth.orphans) > 30 and len(truth.extra_roots) > 30 and len(truth.broken) > 100


def test_broken_edges_name_caller_callee_and_cause(
    traffic: Traffic, traffic_report: Report
) -> None:
    for f in codes(traffic_report, "C003"):
        expected = traffic.truth.broken.get(f.details["callee_span_id"])
        if expected:
            assert (f.details["caller"], f.details["callee"]) == expected
    edges = {(e.caller, e.callee): e for e in traffic_report.edges}
    payments = edges[("orders", "payments")]
    assert payments.broken == sum(1 for c in traffic.truth.broken.values() if c[1] == "payments")
    assert payments.calls == 2000 and payments.continued + payments.broken == 2000
    assert payments.cause == "orders sends only uber-trace-id; payments reads only W3C"
    assert set(payments.formats) == {"jaeger", "tracecontext"}
    assert edges[("orders", "shipping")].kind == "message"
    assert edges[("gateway", "orders")].broken == 0


def test_the_other_checks_on_generated_faults(traffic: Traffic, traffic_report: Report) -> None:
    truth = traffic.truth

    def ids(code: str) -> set[str]:
        return {f.span_id for f in codes(traffic_report, code)}

    assert ids("C004") == truth.suspicious_roots
    assert ids("L004") == truth.bad_durations
    assert ids("L005") == truth.outside_parent
    assert ids("L006") == truth.duplicate_ids
    assert ids("P002") == truth.conflicts
    assert ids("P003") == truth.legacy_only
    if not traffic_report.skipped:
        found = {f.code for f in traffic_report.findings if f.code.startswith("A")}
        assert {"A001", "A002", "A004", "A005", "A006", "A007"} <= found


def test_jaeger_and_zipkin_exports_of_the_same_traffic(traffic: Traffic, tmp_path: Path) -> None:
    spans = [s for s in traffic.spans if s.start_ns < traffic.spans[0].start_ns + 2 * 10**9]
    (tmp_path / "t.otlp.jsonl").write_bytes(b"".join(to_otlp_json_lines(spans)))
    (tmp_path / "t.jaeger.json").write_bytes(to_jaeger(spans))
    (tmp_path / "t.zipkin.json").write_bytes(to_zipkin(spans, shared=True))
    otlp, jaeger, zipkin = (
        check_paths([str(tmp_path / name)])
        for name in ("t.otlp.jsonl", "t.jaeger.json", "t.zipkin.json")
    )

    def answers(report: Report) -> set[str]:
        return {f.details["callee_span_id"] for f in codes(report, "C003")}

    assert len(answers(otlp)) > 10
    assert answers(jaeger) == answers(otlp)
    assert answers(zipkin) == answers(otlp)
    in_window = {s.span_id for s in spans}
    # shared client/server IDs are not duplicates; a reused ID still is (under the shared ID)
    assert len(codes(zipkin, "L006")) == len(traffic.truth.duplicate_ids & in_window)


def _otlp_spans(tmp_path: Path, service: str, spans: list[dict[str, object]]) -> Path:
    import orjson

    request = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": service}}]
                },
                "scopeSpans": [{"spans": spans}],
            }
        ]
    }
    path = tmp_path / "spans.jsonl"
    path.write_bytes(orjson.dumps(request) + b"\n")
    return path


def _span(
    trace: str, name: str, kind: int = 1, start_ms: int = 0, end_ms: int = 100, **extra: object
) -> dict[str, object]:
    return {
        "traceId": trace * 32,
        "spanId": trace * 16,
        "name": name,
        "kind": kind,
        "startTimeUnixNano": str(1_700_000_000_000_000_000 + start_ms * 1_000_000),
        "endTimeUnixNano": str(1_700_000_000_000_000_000 + end_ms * 1_000_000),
        **extra,
    }


def test_c004_needs_evidence_of_a_lost_parent(tmp_path: Path) -> None:
    # Roots during a request the same process served: a lost context (a thread, a pool)
    # unless tracehound.new_trace made it on purpose.  Roots outside any request (a cron
    # job, a script's main) are genuine.
    new_trace = [{"key": "tracehound.new_trace", "value": {"boolValue": True}}]
    spans = [
        _span("a", "POST /refunds", kind=2, start_ms=0, end_ms=500),
        _span("b", "refund job", start_ms=10, end_ms=50, attributes=new_trace),
        _span("c", "lost helper", start_ms=20, end_ms=60),
        _span("d", "nightly cleanup", start_ms=900, end_ms=950),
    ]
    report = check_paths([str(_otlp_spans(tmp_path, "jobs", spans))])
    c004 = [f for f in report.findings if f.code == "C004"]
    assert [f.message for f in c004] == [
        "the trace starts at Internal span 'lost helper' of jobs, but it started while jobs "
        f"was serving 'POST /refunds' (trace {'a' * 32}) in the same process: whatever called "
        "it did not hand over its context"
    ]


def test_c004_a_span_that_has_a_parent_elsewhere(tmp_path: Path) -> None:
    child = _span("f", "charge card", kind=3, start_ms=10, end_ms=20)
    child["spanId"] = "e" * 16
    child["parentSpanId"] = "f" * 16
    spans = [
        _span("f", "POST /orders", kind=2, start_ms=0, end_ms=50),
        child,
        _span("d", "charge card", kind=3, start_ms=900, end_ms=950),
    ]
    report = check_paths([str(_otlp_spans(tmp_path, "orders", spans))])
    assert [
        (f.code, f.span_id, f.details["with_parent_elsewhere"])
        for f in report.findings
        if f.code == "C004"
    ] == [("C004", "d" * 16, 1)]


def test_c004_genuine_roots_are_not_findings(tmp_path: Path) -> None:
    # a load generator: only CLIENT roots, no entry span; a script's main with children
    main = _span("1", "main", start_ms=0, end_ms=900)
    call = _span("1", "GET", kind=3, start_ms=5, end_ms=30)
    call["spanId"] = "2" * 16
    call["parentSpanId"] = "1" * 16
    spans = [main, call, _span("3", "GET", kind=3, start_ms=950, end_ms=990)]
    spans[2]["name"] = "GET /health"
    report = check_paths([str(_otlp_spans(tmp_path, "loadgen", spans))])
    assert [f for f in report.findings if f.code == "C004"] == []


def test_c003_reads_service_peer_name_as_well_as_peer_service(tmp_path: Path) -> None:
    """``service.peer.name`` replaced ``peer.service``: a call naming its callee either way
    is matched to the callee's new trace with full confidence."""
    import orjson

    def request(service: str, *spans: dict[str, object]) -> dict[str, object]:
        resource = {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]}
        return {"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": list(spans)}]}]}

    def span(trace: str, span_id: str, name: str, kind: int, start: int, **extra: object):  # type: ignore[no-untyped-def]
        return {
            "traceId": trace * 32,
            "spanId": span_id * 16,
            "name": name,
            "kind": kind,
            "startTimeUnixNano": str(1_700_000_000_000_000_000 + start * 1_000_000),
            "endTimeUnixNano": str(1_700_000_000_000_000_000 + (start + 50) * 1_000_000),
            **extra,
        }

    for key in ("service.peer.name", "peer.service"):
        target = [{"key": key, "value": {"stringValue": "billing"}}]
        lines = [
            request(
                "shop",
                span("a", "1", "GET /cart", 2, 0),
                span("a", "2", "POST", 3, 5, parentSpanId="1" * 16, attributes=target),
            ),
            request("billing", span("b", "3", "POST /bill", 2, 10)),
        ]
        path = tmp_path / f"{key}.jsonl"
        path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
        (broken,) = codes(check_paths([str(path)]), "C003")
        assert broken.details["matched_by"] == key, broken.details
        assert "shop" in broken.message and "billing" in broken.message


def test_a_failing_check_reports_its_own_error_while_the_attributes_run_beside_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The attribute family runs on a second connection; a failure elsewhere must not turn
    into "connection is busy" when that connection closes."""
    from tracehound.doctor import load
    from tracehound.doctor.checks import attributes, context, run_checks

    check = attributes.check

    def slow_attributes(store: Any) -> Any:
        store.query("SELECT count(*) FROM range(30000000) t, range(3) u")  # keeps it busy
        return check(store)

    def broken_context(store: Any, *args: Any, **kwargs: Any) -> Any:
        raise KeyError("context check failed")

    monkeypatch.setattr(attributes, "check", slow_attributes)
    monkeypatch.setattr(context, "check", broken_context)
    store, _ = load([str(DATA / "collector.otlp.jsonl")])
    try:
        with pytest.raises(KeyError, match="context check failed"):
            run_checks(store)
    finally:
        store.close()


def test_the_checks_give_back_the_connections_settings(tmp_path: Path) -> None:
    """They hold DuckDB's automatic checkpoints and lend threads while they run; a caller's
    database (``--db``) keeps its own settings afterwards."""
    from tracehound.doctor import load
    from tracehound.doctor.checks import run_checks

    store, _ = load([str(DATA / "collector.otlp.jsonl")], db=tmp_path / "spans.duckdb")
    try:
        store.con.execute("SET checkpoint_threshold = '64MiB'")
        store.con.execute("SET threads = 3")
        before = store.query(
            "SELECT current_setting('checkpoint_threshold'), current_setting('threads')"
        )
        assert run_checks(store).findings
        after = store.query(
            "SELECT current_setting('checkpoint_threshold'), current_setting('threads')"
        )
        assert after == before
        store.con.execute("RESET checkpoint_threshold")  # the default, exactly (16 MB)
        default = store.scalar("SELECT current_setting('checkpoint_threshold')")
        run_checks(store)
        assert store.scalar("SELECT current_setting('checkpoint_threshold')") == default
        store.con.execute("SET checkpoint_threshold = '16MB'")  # not the default: 15.2 MiB
        set_ = store.scalar("SELECT current_setting('checkpoint_threshold')")
        run_checks(store)
        assert store.scalar("SELECT current_setting('checkpoint_threshold')") == set_
    finally:
        store.close()


def test_c004_a_span_named_again_under_its_own_root_is_no_evidence(tmp_path: Path) -> None:
    # a batch job whose root calls itself (recursion, a retry wrapper): a genuine root
    child = _span("a", "process batch", start_ms=10, end_ms=20)
    child["spanId"] = "b" * 16
    child["parentSpanId"] = "a" * 16
    spans = [_span("a", "process batch", start_ms=0, end_ms=50), child]
    report = check_paths([str(_otlp_spans(tmp_path, "jobs", spans))])
    assert [f for f in report.findings if f.code == "C004"] == []
