"""Checks over the HTTP exchanges (``http_exchanges``): P001-P004/P006 per request, P005
and P007 per hop, and the evidence they give the caller → callee edges.

Per request, what `tracehound.formats` says of its trace headers (read while
loading) is reported once per server, header and rule, with the count.  Per
hop (`evidence.http._hops`): a server that received a context and sent a
request in another trace or none did not forward it (P005); one that passed
the request on as it came but without its trace headers stripped them (P007).
With spans in the same run, addresses are named by the services the trace
IDs in the headers lead to, and every broken hop and every broken edge gets
the HTTP evidence that proves its cause (`WireResults.evidence`).  The
requests are streamed from DuckDB in time order: memory holds the requests
open at one moment and the tallies, not the table.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from tracehound.doctor._model import Edge, Evidence
from tracehound.doctor.checks._sql import finding
from tracehound.doctor.evidence import FIXES
from tracehound.doctor.evidence.http import TABLE
from tracehound.doctor.evidence.http._hops import Hop, Request, hops
from tracehound.doctor.store import Store
from tracehound.rules import Finding

__all__ = ["WireResults", "check"]

_LEGACY_HEADER = {"jaeger": "uber-trace-id", "b3": "b3", "b3multi": "X-B3-TraceId"}
_FETCH = 8192

_PROBLEMS = f"""
SELECT p[1] AS code, p[2] AS header, ServerAddress, count(*),
       arg_min(p[3], Seq), arg_min(Source || ':' || "Offset", Seq),
       arg_min(TraceId, Seq), count(DISTINCT Source)
FROM (SELECT unnest(Problems) AS p, ServerAddress, Seq, Source, "Offset", TraceId
      FROM {TABLE} WHERE len(Problems) > 0)
GROUP BY ALL ORDER BY code, ServerAddress, header
"""
_TOTALS = f"SELECT ServerAddress, count(*) FROM {TABLE} GROUP BY ALL"
# the service that sent a request: the exported span its parent ID names
_REQUESTS = f"""
SELECT row_number() OVER (ORDER BY x.TimeUnixNano, x.Source, x.Seq) AS k, x.TimeUnixNano,
       x.EndTimeUnixNano, x.ClientAddress, x.ServerAddress, x.Method, x.Target,
       [(h.Name, h.Value) FOR h IN x.Headers] AS hs, x.Formats, x.TraceId, x.ParentSpanId,
       x.Source || ':' || x."Offset", t.ServiceName, a.TraceId IS NOT NULL
FROM {TABLE} x LEFT JOIN (
    SELECT TraceId, SpanId, any_value(ServiceName) AS ServiceName FROM otel_traces
    WHERE TraceId IN (SELECT TraceId FROM {TABLE}) GROUP BY ALL
) t ON t.TraceId = x.TraceId AND t.SpanId = x.ParentSpanId
LEFT JOIN (
    SELECT DISTINCT TraceId, ParentSpanId FROM otel_traces
    WHERE SpanKind IN ('Server', 'Consumer') AND TraceId IN (SELECT TraceId FROM {TABLE})
) a ON a.TraceId = x.TraceId AND a.ParentSpanId = x.ParentSpanId
WHERE x.TimeUnixNano IS NOT NULL ORDER BY k
"""
# the service that answered a request in its trace: a server span whose parent is its ID
_ANSWERED_BY = f"""
SELECT x.ServerAddress, t.ServiceName, count(*)
FROM {TABLE} x JOIN otel_traces t
  ON t.TraceId = x.TraceId AND t.ParentSpanId = x.ParentSpanId
 AND t.SpanKind IN ('Server', 'Consumer')
GROUP BY ALL
"""


@dataclass
class WireResults:
    findings: list[Finding] = field(default_factory=list)
    evidence: list[tuple[str, str, Evidence]] = field(default_factory=list)
    """``(caller, callee, evidence)`` for `tracehound.doctor.evidence.attach_evidence`."""


@dataclass
class _Group:
    """Hops broken the same way, by address; the first one kept as the example."""

    first: Hop
    count: int = 0


@dataclass
class _Sent:
    """What one caller's requests to one server carried (for the edges the spans broke)."""

    where: str
    count: int = 0
    formats: Counter[tuple[str, ...]] = field(default_factory=Counter)
    named: int = 0
    """Requests whose parent ID names an exported span."""


@dataclass
class _Break:
    """Hops broken the same way, named: caller → callee (via a proxy), and why."""

    caller: str
    callee: str
    via: str | None
    handler: str
    cause: str
    code: str
    first: Hop
    count: int = 0
    of: int = 0
    """Hops of the same handler → callee that carried a context in."""


class _Tally:
    """One pass over the requests in time order."""

    def __init__(self, store: Store) -> None:
        self.votes: dict[str, Counter[str]] = defaultdict(Counter)
        self.forwarded: dict[str, Counter[str]] = defaultdict(Counter)
        """Per proxy address (a handler that passed requests on as they came): who sent
        them, so that a hop past the proxy is named from its real caller."""
        self.spans = bool(store.scalar("SELECT count(*) FROM otel_traces"))
        if self.spans:
            for address, service, count in store.query(_ANSWERED_BY):
                self.votes[address][service] += count
        self.carried: Counter[tuple[str | None, str | None]] = Counter()
        self.groups: dict[tuple[str, str | None, str | None, str | None], _Group] = {}
        self.sent: dict[tuple[str, str | None], _Sent] = {}

    def add(self, req: Request, hop: Hop | None) -> None:
        if hop is not None and hop.handler:
            # the handler is the service whose span sent this -- unless it passed the
            # request on as it came (a proxy: that span is its caller's)
            if req.sent_by and not hop.passed_through:
                self.votes[hop.handler][req.sent_by] += 1
            if hop.passed_through and hop.sender:
                self.forwarded[hop.handler][hop.sender] += 1
            self._hop(hop)
        caller = None  # the service (s:) or the address (a:) that sent it, where known
        if req.sent_by:
            caller = "s:" + req.sent_by
        elif hop is not None and hop.handler:
            caller = "a:" + hop.handler
        if caller is not None:
            sent = self.sent.get((caller, req.server))
            if sent is None:
                sent = self.sent[(caller, req.server)] = _Sent(req.where)
            sent.count += 1
            sent.formats[req.formats] += 1
            sent.named += req.sent_by is not None

    def _hop(self, hop: Hop) -> None:
        outcome = hop.outcome
        if outcome == "no-context":
            return
        self.carried[(hop.handler, hop.outbound.server)] += 1
        if outcome == "continued":
            return
        if outcome == "stripped":
            key = ("header-stripped", hop.sender, hop.outbound.server, hop.handler)
        elif outcome == "new-trace" and hop.unread:
            key = ("propagator-mismatch", hop.sender, hop.handler, None)
        elif self.spans and not hop.inbound.answered and self.votes.get(hop.handler or ""):
            # the handler's spans are exported, yet none continued the context that arrived:
            # its server span started a trace of its own (which its calls then carry)
            key = ("not-extracted", hop.sender, hop.handler, None)
        else:
            key = ("not-forwarded", hop.handler, hop.outbound.server, None)
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = _Group(hop)
        group.count += 1

    def name(self, address: str | None) -> str:
        if address is None:
            return "an unknown client"
        found = self.votes.get(address)
        return found.most_common(1)[0][0] if found else address

    def breaks(self) -> list[_Break]:
        """The broken hops, named, the same named hop counted once."""
        named: dict[tuple[str, str, str | None, str], _Break] = {}
        for (cause, sender, b, through), group in self.groups.items():
            first = group.first
            a, via = sender, through
            if via is None and a in self.forwarded:  # the hop came through a proxy
                a, via = self.forwarded[a].most_common(1)[0][0], a
            key = (self.name(a), self.name(b), self.name(via) if via else None, cause)
            item = named.get(key)
            if item is None:
                code = "P007" if cause == "header-stripped" else "P005"
                caller, callee, proxy, _ = key
                item = named[key] = _Break(caller, callee, proxy, self.name(first.handler),
                                           cause, code, first)  # fmt: skip
            item.count += group.count
            item.of += self.carried[(first.handler, first.outbound.server)]
        return sorted(named.values(), key=lambda b: (-b.count, b.caller, b.callee))


def _stream(store: Store) -> Iterator[Request]:
    cursor = store.cursor()
    cursor.execute(_REQUESTS)
    while rows := cursor.fetchmany(_FETCH):
        for k, start, end, client, server, method, target, hs, formats, trace, parent, where, \
                by, answered in rows:  # fmt: skip
            yield Request(k, start, end, client, server, method, target, tuple(map(tuple, hs)),
                          tuple(formats or ()), trace, parent, where, by, answered)  # fmt: skip


def check(store: Store, edges: Sequence[Edge] = ()) -> WireResults:
    """Findings and edge evidence from ``http_exchanges`` (nothing when it is empty)."""
    results = WireResults()
    if not store.scalar(f"SELECT count(*) FROM {TABLE}"):
        return results
    tally = _Tally(store)
    for req, hop in hops(_stream(store)):
        tally.add(req, hop)
    totals = dict(store.query(_TOTALS))
    for code, header, server, count, message, where, trace, sources in store.query(_PROBLEMS):
        to = tally.name(server)
        total = totals.get(server, count)
        results.findings.append(finding(
            code,
            f"{count} of {total} requests to {to} seen on the wire"
            + (f"; the first: {header}: {message}" if count > 1 else f": {header}: {message}"),
            trace_id=trace, service=to, loc=where,
            details={"header": header, "server": server, "requests": count, "of": total,
                     "inputs": sources},
        ))  # fmt: skip
    breaks = tally.breaks()
    for item in breaks:
        results.findings.append(_finding(item))
        results.evidence.extend(_hop_evidence(item))
    results.evidence.extend(_edge_evidence(tally, edges, breaks))
    return results


def _what(item: _Break) -> str:
    first = item.first
    n = f"{item.count} of {item.of}"
    arrived = ", ".join(first.inbound.formats)
    if item.cause == "header-stripped":
        return (
            f"{item.via} passed {n} requests from {item.caller} on to {item.callee} without "
            f"their trace headers ({arrived} arrived, none left)"
        )
    if item.cause == "not-extracted":
        return (
            f"{item.callee} received a valid context ({arrived}) from {item.caller} on {n} "
            f"requests, yet none of its exported spans continued it and its own calls carry "
            f"another trace: its server span does not start from the extracted context"
        )
    if item.cause == "propagator-mismatch":
        sent = ", ".join(first.outbound.formats)
        return (
            f"{item.callee} received only {_headers(first.inbound.formats)} from {item.caller} "
            f"on {n} requests and its own calls carry another trace in {sent}: it does not "
            f"read what {item.caller} sends"
        )
    other = "another trace" if first.outbound.formats else "no trace header"
    return (
        f"{item.caller} received a context ({arrived}) on {n} requests and its calls to "
        f"{item.callee} while handling them carry {other}"
    )


def _headers(formats: Sequence[str]) -> str:
    return " and ".join(_LEGACY_HEADER.get(f, "traceparent") for f in formats) or "nothing"


def _finding(item: _Break) -> Finding:
    first = item.first
    via = f" via {item.via}" if item.via else ""
    return finding(
        item.code,
        f"{item.caller} → {item.callee}{via}: {_what(item)}"
        + ("" if item.code == "P007" else f" (cause: {item.cause}; fix: {FIXES[item.cause]})"),
        trace_id=first.inbound.trace_id, service=item.handler, loc=first.outbound.where,
        details={
            "caller": item.caller, "callee": item.callee, "via": item.via,
            "cause": item.cause, "requests": item.count, "of": item.of,
            "inbound_trace_id": first.inbound.trace_id,
            "outbound_trace_id": first.outbound.trace_id,
            "handler_address": first.handler, "callee_address": first.outbound.server,
        },
    )  # fmt: skip


def _hop_evidence(item: _Break) -> Iterator[tuple[str, str, Evidence]]:
    seen = Evidence("http", item.first.outbound.where, _what(item), item.cause)
    yield item.caller, item.callee, seen
    if item.cause in ("not-extracted", "propagator-mismatch") and item.first.handler:
        # the caller's spans may name the callee by the address they called
        yield item.caller, item.first.handler, seen
    if item.via:
        # the caller's spans name the proxy by its address
        for proxy in {item.via, item.first.handler or item.via}:
            yield item.caller, proxy, seen


def _edge_evidence(
    tally: _Tally, edges: Sequence[Edge], breaks: list[_Break]
) -> Iterator[tuple[str, str, Evidence]]:
    """What the wire shows on the edges the spans found broken and no hop finding explains:
    the formats the caller's requests carried, and whether they contradict the callee's
    spans."""
    broken = {(e.caller, e.callee) for e in edges if e.broken}
    explained = {(b.caller, b.callee) for b in breaks}
    merged: dict[tuple[str, str], _Sent] = {}
    for (caller, server), sent in tally.sent.items():
        key = (caller[2:] if caller.startswith("s:") else tally.name(caller[2:]),
               tally.name(server))  # fmt: skip
        if key not in broken or key in explained:
            continue
        into = merged.setdefault(key, _Sent(sent.where))
        into.count += sent.count
        into.formats.update(sent.formats)
        into.named += sent.named
    for (caller, callee), sent in merged.items():
        n, formats, where = sent.count, sent.formats, sent.where
        on = f"on {n} of {n} requests to {callee} on the wire"
        if all(not f for f in formats):
            yield caller, callee, Evidence(
                "http", where, f"{caller} sent no trace header {on}", "not-forwarded"
            )
        elif all(f and "tracecontext" not in f for f in formats):
            legacy = sorted({x for f in formats for x in f})
            yield caller, callee, Evidence(
                "http", where, f"{caller} sent only {_headers(legacy)} {on}",
                "propagator-mismatch",
            )  # fmt: skip
        elif all("tracecontext" in f for f in formats) and sent.named == n:
            yield caller, callee, Evidence(
                "http", where, f"a valid `traceparent` naming {caller}'s exported span arrived "
                f"{on}, yet {callee}'s spans start new traces: its extraction is at fault, not "
                "the wire", "not-extracted",
            )  # fmt: skip
        elif all("tracecontext" in f for f in formats) and sent.named == 0:
            yield caller, callee, Evidence(
                "http", where, f"the `traceparent` {on} names a parent span no exported span "
                f"has: something between {caller} and {callee} rewrote it", "header-stripped",
            )  # fmt: skip
