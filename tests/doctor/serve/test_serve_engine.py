"""The live diagnosis: a trace is checked once quiet and whole; waiting and table are capped."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest
from _bodies import body, broken_checkouts, sdk_spans, trace_id

from tracehound.doctor.serve import _reporting
from tracehound.doctor.serve._engine import Engine, Settings
from tracehound.doctor.serve._journal import JSON, PROTOBUF
from tracehound.doctor.serve._receiver import count_spans
from tracehound.doctor.serve._views import trace_detail, trace_list


@pytest.fixture
def engine_factory() -> Iterator[Callable[..., Engine]]:
    made: list[Engine] = []

    def make(**settings: Any) -> Engine:
        engine = Engine("test.journal", Settings(**{"check_every": 0.05, **settings}))
        engine.start()
        made.append(engine)
        return engine

    yield make
    for engine in made:
        engine.stop()


def feed(engine: Engine, number: int, data: bytes) -> None:
    assert engine.reserve(len(data))
    engine.submit(number, PROTOBUF, data)


def caught_up(engine: Engine, spans: int) -> bool:
    """Every span of ``spans`` was checked by a live run, and the report covers them all."""
    status = engine.status()
    return status["spans_checked_live"] == spans and status["report_covers_live"]


def wait_until(what: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := what()):
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.02)
    return found


def test_a_trace_arriving_in_two_requests_is_checked_whole(
    engine_factory: Callable[..., Engine],
) -> None:
    """The children come first, their parent a moment later (as two services export): no
    check may see the children without their parent (no C001 orphan, ever)."""
    engine = engine_factory(idle=2.0)
    spans = sdk_spans("svc", 1, 4)[0]
    children, root = spans[:-1], spans[-1:]
    seen: list[dict[str, Any]] = []
    feed(engine, 0, body(children))
    time.sleep(0.3)  # less than --idle: the trace still waits
    assert engine.snapshot.report.spans_analysed == 0
    assert engine.pending_traces == 1
    feed(engine, 1, body(root))
    deadline = time.monotonic() + 20
    while engine.snapshot.report.spans_analysed < 4:
        seen.append({f.code for f in engine.snapshot.report.findings})  # type: ignore[arg-type]
        assert time.monotonic() < deadline
        time.sleep(0.02)
    report = engine.snapshot.report
    assert report.spans_analysed == 4 and report.traces == 1
    assert not any("C001" in codes for codes in seen)
    assert [f.code for f in report.findings if f.code.startswith("C")] == []
    assert engine.status()["traces_pending"] == 0


def test_the_table_keeps_at_most_max_spans_dropping_the_oldest_traces(
    engine_factory: Callable[..., Engine],
) -> None:
    engine = engine_factory(idle=0.0, max_spans=1000)
    traces = sdk_spans("svc", 150, 10)  # 1,500 spans, in 15 requests
    for n in range(15):
        feed(engine, n, body([s for spans in traces[n * 10 : n * 10 + 10] for s in spans]))
        wait_until(lambda n=n: engine.requests == n + 1)
    wait_until(lambda: engine.snapshot.report.spans_analysed and engine.table.evicted)
    feed(engine, 15, body(sdk_spans("svc", 1, 10)[0]))  # one more run of the checks
    report = wait_until(lambda: engine.snapshot.report if caught_up(engine, 1510) else None)
    assert report.spans_analysed <= 1000
    assert engine.table.evicted >= 500
    # every span went through the live runs the report covers; not all of them are still
    # in the table
    assert engine.status()["spans_reported"] == 1510
    with engine.store.on_own_connection() as own:
        kept = {t for (t,) in own.query("SELECT DISTINCT TraceId FROM otel_traces")}
    assert trace_id(traces[0]) not in kept  # the first to arrive went first
    assert trace_id(traces[-1]) in kept


def test_the_requests_names_are_not_kept_once_their_spans_were_checked(
    engine_factory: Callable[..., Engine],
) -> None:
    """Each request is an input of the live store (``serve#N``, its findings' location);
    a server that runs for days must not keep every name it was given."""
    engine = engine_factory(idle=0.0)
    traces = sdk_spans("svc", 40, 3)
    for n, spans in enumerate(traces):
        feed(engine, n, body(spans))
        wait_until(lambda n=n: engine.requests == n + 1)
    wait_until(lambda: caught_up(engine, 120))
    assert engine.status()["live_checks"] >= 2
    remembered = engine.live.query("SELECT count(*) FROM th_sources")[0][0]
    assert len(engine.live._sources) < 40 and remembered < 40
    # the spans keep where they came from
    with engine.store.on_own_connection() as own:
        named = own.query("SELECT count(DISTINCT Source) FROM otel_traces")[0][0]
    assert named == 40


def test_over_max_pending_the_oldest_requests_are_checked_early(
    engine_factory: Callable[..., Engine],
) -> None:
    engine = engine_factory(idle=60.0, max_pending=50)
    for n, spans in enumerate(sdk_spans("svc", 3, 40)):
        feed(engine, n, body(spans))
    # the traces never go quiet within the test; the waiting is capped all the same
    wait_until(lambda: engine.status()["spans_checked_live"] >= 80)
    assert engine.pending_spans <= 50
    assert engine.released_early >= 80


def test_a_live_run_shows_its_findings_until_the_report_covers_them(
    engine_factory: Callable[..., Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each span is checked once, by the live run after its trace went quiet; the trace list
    and the trace view show what that run found while the whole-table report waits (it
    waits while spans keep coming), and the report's once it covers the trace."""
    monkeypatch.setattr(Engine, "_busy", lambda self: True)
    monkeypatch.setattr(_reporting, "REPORT_SHARE", -1.0)  # the report never due while busy
    engine = engine_factory(idle=0.1)
    whole, broken = sdk_spans("svc", 2, 4)
    feed(engine, 0, body(whole))
    wait_until(lambda: engine.status()["live_checks"] == 1)
    feed(engine, 1, body(broken[:-1]))  # its root never arrives: its children are orphans
    wait_until(lambda: engine.table.spans == 7)
    status = engine.status()
    assert status["live_checks"] == 2 and status["spans_checked_live"] == 7
    assert engine.snapshot.report.spans_analysed == 0  # no report yet
    codes = {t["trace_id"]: t["codes"] for t in trace_list(engine, None, 10)}
    assert codes == {trace_id(whole): [], trace_id(broken): ["C001"]}
    detail = trace_detail(engine, trace_id(broken))
    assert detail is not None and {f["code"] for f in detail["findings"]} == {"C001"}

    monkeypatch.setattr(Engine, "_busy", lambda self: False)  # the spans stopped coming
    wait_until(lambda: engine.snapshot.report.spans_analysed == 7)
    assert engine.live_findings.get(trace_id(broken)) is None  # the report's now
    codes = {t["trace_id"]: t["codes"] for t in trace_list(engine, None, 10)}
    assert codes == {trace_id(whole): [], trace_id(broken): ["C001"]}
    assert engine.status()["spans_checked_live"] == 7  # nothing was checked twice
    with engine.live.on_own_connection() as live:
        assert live.scalar("SELECT count(*) FROM otel_traces") == 0  # all moved to the table


def test_the_report_waits_while_the_backlog_is_half_full(
    engine_factory: Callable[..., Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server falling behind (its backlog of requests not yet parsed filling) gives the
    whole-table report's CPU to the parsing and the live checks; the report comes once
    the backlog drains, spans still arriving."""
    monkeypatch.setattr(Engine, "_busy", lambda self: True)  # spans keep coming
    engine = engine_factory(idle=0.0, max_backlog=100_000)
    engine._host_idle = lambda: 1.0  # the host has CPU to spare
    assert engine.report_share() == _reporting.REPORT_SHARE  # nothing waits
    assert engine.reserve(50_000)  # stands for requests not parsed yet: half full
    assert engine.report_share() == 0.0
    assert engine.status()["report_share"] == 0.0
    for n, spans in enumerate(sdk_spans("svc", 3, 4)):
        feed(engine, n, body(spans))
        wait_until(lambda n=n: engine.status()["live_checks"] == n + 1)
    wait_until(lambda: engine.table.spans == 12)
    assert engine.snapshot.report.spans_analysed == 0  # three runs moved spans: no report
    assert engine.status()["spans_reported"] == 0

    engine.unreserve(50_000)  # the backlog drained
    assert engine.report_share() == _reporting.REPORT_SHARE
    wait_until(lambda: engine.snapshot.report.spans_analysed == 12)
    assert engine.status()["spans_reported"] == 12


def test_the_parsing_waits_for_the_live_run_when_the_pending_limit_is_reached(
    engine_factory: Callable[..., Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Behind its load (a live run under way, as many spans waiting as allowed, requests
    in the inbox) the engine's thread has nothing to do until the run ends: it waits.
    It spun instead, taking a core's worth of CPU from the checks it waited for."""
    run = threading.Event()
    build_report = Engine.build_report

    def held_up(self: Engine, store: Any = None) -> Any:
        if store is self.live:
            run.wait(20)
        return build_report(self, store)

    monkeypatch.setattr(Engine, "build_report", held_up)
    engine = engine_factory(idle=60.0, max_pending=8)
    requests = [body(spans) for spans in sdk_spans("svc", 5, 4)]
    for n in range(3):  # 12 spans waiting, 8 allowed: the first request goes to a live run
        feed(engine, n, requests[n])
    wait_until(engine._checking.is_set)
    for n in range(3, 5):  # these wait in the inbox: as many spans wait as allowed
        feed(engine, n, requests[n])
    assert engine.requests == 1 and engine.pending_spans == 8
    calls = 0
    release = engine._release

    def counted(now: float, *, load: bool = True) -> None:
        nonlocal calls
        calls += 1
        release(now, load=load)

    monkeypatch.setattr(engine, "_release", counted)
    time.sleep(0.5)
    assert calls < 20  # the 0.1 s timeouts (spinning: 170,728 calls)
    assert engine.requests == 1 and engine.pending_spans == 8 and len(engine._inbox) == 2
    run.set()  # the run ends: the parsing goes on
    wait_until(lambda: engine.status()["live_checks"] >= 1 and not engine._inbox)


def test_requests_waiting_for_their_traces_to_go_quiet_do_not_take_the_reports_share(
    engine_factory: Callable[..., Engine],
) -> None:
    """They wait by design (``--idle``); only what the server is behind on counts."""
    engine = engine_factory(idle=60.0, max_backlog=800)
    data = body(sdk_spans("svc", 1, 4)[0])
    feed(engine, 0, data)
    wait_until(lambda: engine.pending_spans == 4)
    assert engine.backlog == len(data) > 400  # over half the backlog, all of it waiting
    assert engine.report_share() == _reporting.REPORT_SHARE


def test_the_calls_the_live_runs_counted_stand_until_the_report_covers_them(
    engine_factory: Callable[..., Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the report waits (spans keep coming, or the server is behind), the overview
    adds the live runs' calls to the report's (`/api/live`); once the report covers the
    runs, they are the report's and counted once."""
    monkeypatch.setattr(Engine, "_busy", lambda self: True)
    monkeypatch.setattr(_reporting, "REPORT_SHARE", -1.0)  # the report never due while busy
    engine = engine_factory(idle=0.1)
    feed(engine, 0, broken_checkouts(3))  # one request: both halves in one live run
    wait_until(lambda: engine.status()["spans_checked_live"] == 9)
    assert engine.snapshot.report.edges == []  # no report yet
    live = {(e.caller, e.callee): e for e in engine.live_edges.merged(engine.snapshot.covers)}
    assert (live["orders", "payments"].calls, live["orders", "payments"].broken) == (3, 3)
    assert engine.live_findings.counts(engine.snapshot.covers).get("C003") == 3

    monkeypatch.setattr(Engine, "_busy", lambda self: False)  # the spans stopped coming
    wait_until(lambda: engine.snapshot.report.spans_analysed == 9)
    assert engine.live_edges.merged(engine.snapshot.covers) == []
    assert engine.live_findings.counts(engine.snapshot.covers) == {}
    edges = {(e.caller, e.callee): e for e in engine.snapshot.report.edges}
    assert (edges["orders", "payments"].calls, edges["orders", "payments"].broken) == (3, 3)


def test_while_spans_arrive_a_report_starts_only_on_cpu_the_host_leaves_idle(
    engine_factory: Callable[..., Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a host with nothing to spare (its other tenants count), the live runs check every
    span and the whole-table report waits; once the host has CPU idle, it runs."""
    monkeypatch.setattr(Engine, "_busy", lambda self: True)  # spans keep coming
    idle = 0.0
    engine = engine_factory(idle=0.0)
    engine._host_idle = lambda: idle
    for n, spans in enumerate(sdk_spans("svc", 3, 4)):
        feed(engine, n, body(spans))
        wait_until(lambda n=n: engine.status()["live_checks"] == n + 1)
    wait_until(lambda: engine.table.spans == 12)
    time.sleep(0.3)  # the report's thread looked again
    assert engine.snapshot.report.spans_analysed == 0
    idle = _reporting.IDLE_FOR_REPORT
    wait_until(lambda: engine.snapshot.report.spans_analysed == 12)


@pytest.mark.parametrize(
    "request_body",
    [
        {"resourceSpans": [], "resource_spans": [{"scopeSpans": [{"spans": ["SPAN"]}]}]},
        {"resourceSpans": [{"scopeSpans": None, "scope_spans": [{"spans": ["SPAN"]}]}]},
    ],
    ids=["empty camelCase beside snake_case", "null beside snake_case"],
)
def test_a_json_request_written_both_ways_is_held_and_checked(
    engine_factory: Callable[..., Engine], request_body: dict[str, Any]
) -> None:
    """The receiver counts such a request's spans (an empty or null camelCase field beside
    a snake_case one); holding it found no trace in it, and the engine's thread died on
    it: every later request was refused until a restart."""
    span = {
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": "eee19b7ec3c1b174",
        "name": "work",
        "kind": 2,
        "startTimeUnixNano": "1700000000000000000",
        "endTimeUnixNano": "1700000000001000000",
    }
    data = orjson.dumps(request_body).replace(b'"SPAN"', orjson.dumps(span))
    assert count_spans(JSON, data) == 1
    engine = engine_factory(idle=0.0)
    assert engine.reserve(len(data))
    engine.submit(0, JSON, data)
    wait_until(lambda: engine.requests == 1)
    feed(engine, 1, body(sdk_spans("svc", 1, 2)[0]))  # and the next one is taken
    wait_until(lambda: engine.requests == 2 and engine.status()["live_checks"] >= 1)
    assert not engine.failed and engine.last_error is None
