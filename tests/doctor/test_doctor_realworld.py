"""The doctor on real instrumentation: stock OpenTelemetry apps across propagator pairings.

The committed snapshot (tests/doctor/data/realworld, see its README) was
captured by tests/doctor/realworld/capture.py from Flask, FastAPI, Starlette,
``requests``, ``httpx`` and Celery under ``opentelemetry-instrument``; whether
each call continued its trace is what the callee answered, not what the
doctor says.  The live test captures a few combinations again and checks the
same things, so the snapshot is shown to be reproducible.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from tracehound.doctor import Report

sys.path.insert(0, str(Path(__file__).resolve().parent / "realworld"))

from _judge import HEADER_FORMATS, Truth, combinations, diagnose, edge_problems, judge
from _processes import node_ready

SNAPSHOT = Path(__file__).resolve().parent / "data" / "realworld"
TRUTHS = {t.name: t for t in combinations(SNAPSHOT)}
BROKEN = sorted(n for n, t in TRUTHS.items() if not t.healthy)
HEADERS = sorted(n for n, t in TRUTHS.items() if t.data["captured_headers"])
STRUCTURAL = ("C001", "C002", "C004", "L004", "L005", "L006")

# Every broken call is found since C003 reads the callee's address from its own server
# spans (it was: no edge at all when services listen on 127.0.0.1:<port>) and pairs until
# no mutually-best pair is left (six calls answered in one burst needed six rounds).
C003_FAILING: dict[str, str] = {}
# Calls to an uninstrumented peer counted as calls to a traced callee (none now).
EDGE_COUNT_FAILING: dict[str, str] = {}
# FastAPI's server span ends after it sent the response, so after the client's span: an
# entry span ending after its parent is not L005 (only its early start is skew).
L005_FAILING: dict[str, str] = {}


@functools.cache
def report_of(name: str) -> Report:
    return diagnose(TRUTHS[name])


def _param(name: str, failing: Mapping[str, str], *rest: str) -> object:
    """``name`` as a test case, a strict xfail with its reason when ``failing`` names it."""
    marks = [pytest.mark.xfail(strict=True, reason=failing[name])] if name in failing else []
    return pytest.param(name, *rest, marks=marks, id="-".join((name, *rest)))


def test_snapshot_covers_the_matrix() -> None:
    pairs = {
        (t.data["caller_propagators"], t.data["callee_propagators"])
        for t in TRUTHS.values()
        if t.data["scenario"] == "matrix"
    }
    formats = ("tracecontext", "jaeger", "b3", "b3multi")
    assert pairs == {(a, b) for a in formats for b in formats}
    messages = [t for t in TRUTHS.values() if t.data["kind"] == "message"]
    assert any(t.healthy for t in messages)
    assert any(not t.healthy for t in messages)
    assert {t.data["scenario"] for t in TRUTHS.values()} >= {
        "headers", "mixed-edges", "rollout", "uninstrumented-peer", "semconv-http", "console",
        "concurrent", "health-checks", "grpc", "node",
    }  # fmt: skip
    for truth in TRUTHS.values():
        assert truth.traces, truth.name
        for edge in truth.edges:
            assert edge["callee"] not in edge["callee_address"]  # not addressed by its name


def test_console_output_holds_the_exported_spans() -> None:
    """The console exporter's files (an input users try first) hold the spans sent over OTLP."""
    from _spans import console_span_ids, read_spans

    consoles = [t for t in TRUTHS.values() if (t.directory / "console").is_dir()]
    assert consoles
    for truth in consoles:
        exported = read_spans(truth.directory / "traces")
        for path in sorted((truth.directory / "console").glob("*.txt")):
            service_ids = {sid for sid, s in exported.items() if s["service"] == path.stem}
            assert console_span_ids(path) == service_ids != set(), path


def test_snapshot_reads_completely() -> None:
    for name in TRUTHS:
        report = report_of(name)
        assert report.errors == [], name
        assert report.spans_rejected == 0, name
        assert report.spans_analysed > 0, name


@pytest.mark.parametrize("name", [_param(n, C003_FAILING) for n in BROKEN])
def test_every_broken_call_is_reported(name: str) -> None:
    truth = TRUTHS[name]
    verdict = judge(truth, report_of(name))
    missed = [what for code, what in verdict.missed if code == "C003"]
    assert missed == [], f"C003 missing on {len(missed)} broken calls"
    assert edge_problems(truth, report_of(name)) == []


@pytest.mark.parametrize("name", sorted(TRUTHS))
def test_no_broken_edge_where_none_broke(name: str) -> None:
    """No C003 on a call that continued, nor on a call to a peer with no tracing."""
    verdict = judge(TRUTHS[name], report_of(name))
    assert [why for code, why in verdict.false if code == "C003"] == []


@pytest.mark.parametrize(
    "name",
    [_param(n, EDGE_COUNT_FAILING) for n in sorted(TRUTHS) if TRUTHS[n].healthy],
)
def test_healthy_edges_counted(name: str) -> None:
    assert edge_problems(TRUTHS[name], report_of(name)) == []


@pytest.mark.parametrize(
    ("name", "code"),
    [
        _param(n, L005_FAILING if code == "L005" else {}, code)
        for n in sorted(TRUTHS)
        for code in STRUCTURAL
    ],
)
def test_no_false_structural_finding(name: str, code: str) -> None:
    """Stock instrumentation writes whole traces: no orphan, duplicate or bad time; C004 only
    on the callee root of a call that broke (never on a caller's genuine root)."""
    verdict = judge(TRUTHS[name], report_of(name))
    assert [why for c, why in verdict.false if c == code] == []


@pytest.mark.parametrize("name", [_param(n, C003_FAILING) for n in HEADERS])
def test_edge_names_the_format_that_arrived(name: str) -> None:
    """With trace headers captured on the callee, the edge says which format it received."""
    truth = TRUTHS[name]
    edges = {(e.caller, e.callee): e for e in report_of(name).edges}
    for want in truth.edges:
        pair = (want["caller"], want["callee"])
        assert pair in edges, f"{pair}: no edge"
        arrived = truth.arrived_formats(*pair)
        assert set(edges[pair].formats) == arrived
        if want["broken"]:  # the cause names what arrived: the format or its header
            names = arrived | {h for h, f in HEADER_FORMATS.items() if f in arrived}
            assert any(n in (edges[pair].cause or "").lower() for n in names), edges[pair].cause


def test_grpc_calls_to_a_server_with_no_spans_name_its_service() -> None:
    """gRPC's client spans name no address: without the server's spans the peer is the
    RPC service (``rpc.service``), not the word ``grpc``, and no call is called broken."""
    from tracehound.doctor import check_paths

    caller_only = TRUTHS["rpc-jaeger-to-tracecontext"].directory / "traces" / "checkout.otlp.pb"
    report = check_paths([str(caller_only)])
    rpc = [e for e in report.edges if e.kind == "request" and e.callee == "shop.Pricing"]
    seen = [(e.caller, e.calls, e.broken, e.callee_seen) for e in rpc]
    assert seen == [("checkout", 3, 0, False)]
    assert [f for f in report.findings if f.code == "C003"] == []


def test_numeric_strings_only_where_the_instrumentation_wrote_one() -> None:
    """``http.flavor`` is a string enum ("1.1"), not a number in a string.  The one A003
    is real: opentelemetry-instrumentation-grpc's server interceptor records the client's
    ``net.peer.port`` as the text it split from ``context.peer()`` (an int by the
    semantic conventions)."""
    found = {
        (f.service, f.details.get("key"))
        for name in TRUTHS
        for f in report_of(name).findings
        if f.code == "A003"
    }
    assert found == {("pricing", "net.peer.port")}
    # one finding per key, not per request (each call comes from another client port),
    # naming the instrumentation that wrote it
    (a003,) = [f for f in report_of("rpc-jaeger-to-tracecontext").findings if f.code == "A003"]
    assert (a003.details["spans"], a003.details["values"]) == (3, 3)
    assert "opentelemetry.instrumentation.grpc records it so" in a003.message


def test_older_semconv_keys_name_the_opt_in() -> None:
    """Older HTTP keys from OTel's own instrumentation are fixed by
    OTEL_SEMCONV_STABILITY_OPT_IN, not by renaming by hand, and none are OpenTracing's
    (Celery's ``messaging.destination`` has no opt-in in OpenTelemetry Python)."""
    a006 = [f for name in TRUTHS for f in report_of(name).findings if f.code == "A006"]
    assert a006
    assert {f.message for f in a006 if "OpenTracing" in f.message} == set()
    http = [f for f in a006 if "http." in f.message]
    assert http
    assert {f.message for f in http if "OTEL_SEMCONV_STABILITY_OPT_IN" not in f.message} == set()


# -- live: the real apps again, for a few combinations -------------------------------------

LIVE = (
    "req-tracecontext-to-tracecontext",
    "req-jaeger-to-tracecontext",
    "req-b3-to-tracecontext",
    "rpc-jaeger-to-tracecontext",
    "node-jaeger-to-jaeger",
)
NODE_MISSING = node_ready()
"""Why the Node.js apps cannot run here (``npm ci`` in their directory installs them)."""


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Truth]:
    from capture import run

    out = tmp_path_factory.mktemp("realworld-live")
    wanted = [n for n in LIVE if not (NODE_MISSING and n.startswith("node-"))]
    for _ in run(out, wanted):
        pass
    return {t.name: t for t in combinations(out)}


def _needs_node(name: str) -> None:
    if name.startswith("node-") and NODE_MISSING:
        pytest.skip(NODE_MISSING)


@pytest.mark.slow
@pytest.mark.parametrize("name", LIVE)
def test_live_capture_reproduces_the_snapshot(name: str, live: dict[str, Truth]) -> None:
    _needs_node(name)
    truth, snapshot = live[name], TRUTHS[name]
    counts = [(e["caller"], e["callee"], e["calls"], e["broken"]) for e in truth.edges]
    assert counts == [(e["caller"], e["callee"], e["calls"], e["broken"]) for e in snapshot.edges]
    verdict = judge(truth, diagnose(truth))
    wrong = [(c, why) for c, why in verdict.false if c[:1] in "CL"]
    assert wrong == []


@pytest.mark.slow
@pytest.mark.parametrize("name", [_param(n, C003_FAILING) for n in LIVE if n in BROKEN])
def test_live_broken_calls_are_reported(name: str, live: dict[str, Truth]) -> None:
    _needs_node(name)
    truth = live[name]
    report = diagnose(truth)
    assert [what for code, what in judge(truth, report).missed if code == "C003"] == []
    assert edge_problems(truth, report) == []
