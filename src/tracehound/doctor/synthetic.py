"""Realistic multi-service traffic with injected faults and the ground truth of each.

One model, seeded, written out as OTLP/JSON lines, OTLP protobuf, Jaeger JSON
or Zipkin v2 JSON.  Each request runs gateway → orders → payments (HTTP,
with a database and an external API that are not traced), orders → shipping
over a queue, and gateway → inventory; payments also takes webhooks and
shipping consumes returns, which start traces legitimately.  `Faults` sets
how often each fault is injected; `GroundTruth` says which spans carry it.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Faults", "GroundTruth", "Span", "Traffic", "generate", "iter_requests"]

BASE_NS = 1_767_225_600 * 10**9  # 2026-01-01T00:00:00Z
MS = 1_000_000


@dataclass
class Span:
    """One span of the model; IDs are hex, times nanoseconds, ``end_ns`` may be missing."""

    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    kind: str
    service: str
    start_ns: int
    end_ns: int | None
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Faults:
    """How often each fault is injected (per request, or per webhook/returns message)."""

    broken_http: float = 0.10
    """orders → payments loses the context (orders sends only uber-trace-id): C003, P003."""
    broken_queue: float = 0.05
    """orders → shipping over the queue loses the context: C003."""
    orphan: float = 0.03
    """orders' 'validate cart' span is never exported, its child is an orphan: C001."""
    extra_root: float = 0.03
    """inventory keeps the trace ID but loses the parent: C002."""
    worker_root: float = 0.03
    """shipping's 'allocate' runs in a worker without context, a new INTERNAL root: C004."""
    bad_duration: float = 0.02
    """payments' 'fraud-check' exported without an end, or ending before it starts: L004."""
    skew: float = 0.03
    """inventory's clock is 150 ms behind for this request: L005."""
    duplicate_id: float = 0.01
    """payments' 'fraud-check' reuses its server span's ID: L006."""
    conflict: float = 0.02
    """a proxy rewrote traceparent but forwarded a stale uber-trace-id into orders: P002."""
    bad_attributes: float = 0.02
    """orders records attributes breaking A001-A007."""
    webhooks: float = 0.05
    """payments receives a webhook (a legitimate root) per request."""
    returns: float = 0.05
    """shipping consumes a returns message nobody traced (a legitimate root) per request."""


NONE = Faults(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
"""No faults and no legitimate extra roots."""


@dataclass
class GroundTruth:
    """Which spans carry which injected fault (span IDs in lowercase hex)."""

    orphans: set[str] = field(default_factory=set)
    extra_roots: set[str] = field(default_factory=set)
    broken: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Callee root span ID → (caller, callee)."""
    suspicious_roots: set[str] = field(default_factory=set)
    bad_durations: set[str] = field(default_factory=set)
    outside_parent: set[str] = field(default_factory=set)
    duplicate_ids: set[str] = field(default_factory=set)
    conflicts: set[str] = field(default_factory=set)
    legacy_only: set[str] = field(default_factory=set)
    attribute_codes: set[str] = field(default_factory=set)


@dataclass
class Traffic:
    """Spans and the truth about them."""

    spans: list[Span]
    truth: GroundTruth


class _Ids:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def trace(self) -> str:
        return f"{self.rng.getrandbits(128) | 1 << 100:032x}"

    def span(self) -> str:
        return f"{self.rng.getrandbits(64) | 1 << 60:016x}"


def generate(requests: int = 1000, *, seed: int = 0, faults: Faults = Faults()) -> Traffic:
    """``requests`` requests of traffic (about 13 spans each) with ``faults`` injected."""
    spans: list[Span] = []
    truth = GroundTruth()
    for batch in iter_requests(requests, seed=seed, faults=faults, truth=truth):
        spans.extend(batch)
    return Traffic(spans, truth)


def iter_requests(
    requests: int, *, seed: int = 0, faults: Faults = Faults(), truth: GroundTruth | None = None
) -> Iterator[list[Span]]:
    """The spans of each request in turn (for streaming large files); fills ``truth``."""
    rng = random.Random(seed)
    ids = _Ids(rng)
    truth = truth if truth is not None else GroundTruth()
    t = BASE_NS
    for index in range(requests):
        t += int(rng.expovariate(1 / (4 * MS)))
        yield _request(index, t, rng, ids, faults, truth)


def _headers(**values: str) -> dict[str, list[str]]:
    return {f"http.request.header.{k.replace('_', '-')}": [v] for k, v in values.items()}


def _traceparent(trace_id: str, span_id: str) -> str:
    return f"00-{trace_id}-{span_id}-01"


def _request(
    index: int, t0: int, rng: random.Random, ids: _Ids, f: Faults, truth: GroundTruth
) -> list[Span]:
    out: list[Span] = []
    hit = rng.random
    tid = ids.trace()

    def span(
        trace: str,
        parent: str | None,
        name: str,
        kind: str,
        service: str,
        start: int,
        dur: int,
        **attrs: Any,
    ) -> Span:
        s = Span(trace, ids.span(), parent, name, kind, service, start, start + dur, attrs)
        out.append(s)
        return s

    total = int(rng.uniform(60, 160) * MS)
    gw = span(
        tid,
        None,
        "GET /checkout",
        "SERVER",
        "gateway",
        t0,
        total,
        **{
            "http.request.method": "GET",
            "http.route": "/checkout",
            "http.response.status_code": 200,
        },
    )
    # gateway -> orders
    c1s = t0 + int(rng.uniform(1, 3) * MS)
    c1 = span(
        tid,
        gw.span_id,
        "POST",
        "CLIENT",
        "gateway",
        c1s,
        total - 6 * MS,
        **{
            "http.request.method": "POST",
            "server.address": "orders.shop.svc.cluster.local",
            "server.port": 8080,
            "url.full": "http://orders.shop.svc.cluster.local:8080/orders",
        },
    )
    os_ = c1s + int(rng.uniform(0.3, 1) * MS)
    odur = c1.end_ns - os_ - MS  # type: ignore[operator]
    headers = _headers(traceparent=_traceparent(tid, c1.span_id))
    conflict = hit() < f.conflict
    if conflict:
        headers.update(_headers(uber_trace_id=f"{ids.trace()[16:]}:{ids.span()}:0:1"))
    orders = span(
        tid,
        c1.span_id,
        "POST /orders",
        "SERVER",
        "orders",
        os_,
        odur,
        **{"http.request.method": "POST", "http.route": "/orders", **headers},
    )
    if conflict:
        truth.conflicts.add(orders.span_id)
    if hit() < f.bad_attributes:
        orders.attributes.update(
            {
                "User ID": "u-1",
                "error": "timeout",
                "http.status_code": "200",
                "user.token": "s3cr3t-t0ken",
                "http.method": "POST",
                "note": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
            }
        )
        orders.name = f"POST /orders/{rng.randrange(10**5, 10**6)}"
        truth.attribute_codes.update({"A001", "A002", "A003", "A004", "A005", "A006", "A007"})
    v = span(tid, orders.span_id, "validate cart", "INTERNAL", "orders", os_ + MS, 4 * MS)
    load = span(tid, v.span_id, "load cart", "INTERNAL", "orders", os_ + 2 * MS, 2 * MS)
    if hit() < f.orphan:
        out.remove(v)
        truth.orphans.add(load.span_id)
    span(
        tid,
        orders.span_id,
        "SELECT orders",
        "CLIENT",
        "orders",
        os_ + 6 * MS,
        3 * MS,
        **{"db.system": "postgresql", "server.address": "postgres", "db.operation.name": "SELECT"},
    )
    # orders -> payments
    ps = os_ + 10 * MS
    pdur = int(rng.uniform(20, 40) * MS)
    call = span(
        tid,
        orders.span_id,
        "POST",
        "CLIENT",
        "orders",
        ps,
        pdur,
        **{"http.request.method": "POST", "server.address": "payments", "server.port": 8443},
    )
    broken = hit() < f.broken_http
    ptrace = ids.trace() if broken else tid
    srv_start = ps + int(rng.uniform(0.2, 1.5) * MS)
    hdr = (
        _headers(uber_trace_id=f"{tid}:{call.span_id}:0:1")
        if broken
        else _headers(traceparent=_traceparent(tid, call.span_id))
    )
    pay = span(
        ptrace,
        None if broken else call.span_id,
        "POST /charge",
        "SERVER",
        "payments",
        srv_start,
        pdur - 2 * MS,
        **{"http.request.method": "POST", "http.route": "/charge", **hdr},
    )
    if broken:
        truth.broken[pay.span_id] = ("orders", "payments")
        truth.legacy_only.add(pay.span_id)
    fraud = span(ptrace, pay.span_id, "fraud-check", "INTERNAL", "payments", srv_start + MS, 5 * MS)
    if hit() < f.bad_duration:
        fraud.end_ns = None if hit() < 0.5 else fraud.start_ns - MS
        truth.bad_durations.add(fraud.span_id)
    elif hit() < f.duplicate_id:
        fraud.span_id = pay.span_id
        truth.duplicate_ids.add(pay.span_id)
    span(
        ptrace,
        pay.span_id,
        "POST",
        "CLIENT",
        "payments",
        srv_start + 8 * MS,
        10 * MS,
        **{
            "http.request.method": "POST",
            "server.address": "api.stripe.com",
            "url.full": "https://api.stripe.com/v1/charges",
        },
    )
    # orders -> shipping over the queue
    qs = ps + pdur + MS
    prod = span(
        tid,
        orders.span_id,
        "orders.created publish",
        "PRODUCER",
        "orders",
        qs,
        MS,
        **{
            "messaging.system": "rabbitmq",
            "messaging.destination.name": "orders.created",
            "messaging.operation.type": "publish",
        },
    )
    lost = hit() < f.broken_queue
    qtrace = ids.trace() if lost else tid
    cs = qs + int(rng.uniform(2, 30) * MS)
    cons = span(
        qtrace,
        None if lost else prod.span_id,
        "orders.created process",
        "CONSUMER",
        "shipping",
        cs,
        12 * MS,
        **{
            "messaging.system": "rabbitmq",
            "messaging.destination.name": "orders.created",
            "messaging.operation.type": "process",
        },
    )
    if lost:
        truth.broken[cons.span_id] = ("orders", "shipping")
    worker = hit() < f.worker_root
    alloc = span(
        ids.trace() if worker else qtrace,
        None if worker else cons.span_id,
        "allocate",
        "INTERNAL",
        "shipping",
        cs + 2 * MS,
        6 * MS,
    )
    if worker:
        truth.suspicious_roots.add(alloc.span_id)
    # gateway -> inventory
    is_ = t0 + int(rng.uniform(3, 8) * MS)
    inv_call = span(
        tid,
        gw.span_id,
        "GET",
        "CLIENT",
        "gateway",
        is_,
        15 * MS,
        **{"http.request.method": "GET", "peer.service": "inventory"},
    )
    root_lost = hit() < f.extra_root
    skew = -150 * MS if hit() < f.skew and not root_lost else 0
    inv = span(
        tid,
        None if root_lost else inv_call.span_id,
        "GET /stock",
        "SERVER",
        "inventory",
        is_ + MS + skew,
        12 * MS,
        **{"http.request.method": "GET", "http.route": "/stock"},
    )
    span(
        tid,
        inv.span_id,
        "SELECT stock",
        "CLIENT",
        "inventory",
        is_ + 3 * MS + skew,
        4 * MS,
        **{"db.system": "postgresql", "server.address": "postgres"},
    )
    if root_lost:
        truth.extra_roots.add(inv.span_id)
    elif skew:
        truth.outside_parent.add(inv.span_id)
    # legitimate new traces
    if hit() < f.webhooks:
        span(
            ids.trace(),
            None,
            "POST /webhooks/stripe",
            "SERVER",
            "payments",
            t0 + int(rng.uniform(0, 100) * MS),
            8 * MS,
            **{"http.request.method": "POST"},
        )
    if hit() < f.returns:
        span(
            ids.trace(),
            None,
            "returns process",
            "CONSUMER",
            "shipping",
            t0 + int(rng.uniform(0, 100) * MS),
            5 * MS,
            **{"messaging.system": "rabbitmq", "messaging.destination.name": "returns"},
        )
    return out
