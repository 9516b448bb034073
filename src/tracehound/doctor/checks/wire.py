"""Checks over the HTTP exchanges (``http_exchanges``): P001-P004/P006 per request, P005
and P007 per hop, and the evidence they give the caller → callee edges.

Per request, what `tracehound.formats` says of its trace headers (read while
loading) is reported once per server, header and rule, with the count.  Per
hop (`evidence.http._hops`): a server that received a context and sent a
request in another trace or none did not forward it (P005); one that passed
the request on as it came but without its trace headers stripped them (P007).
With spans in the same run, addresses are named by the services the trace
IDs in the headers lead to, and every broken hop and every broken edge gets
the HTTP evidence that proves its cause (`WireResults.evidence`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from tracehound.doctor._model import Edge, Evidence
from tracehound.doctor.checks._sql import finding
from tracehound.doctor.evidence.http import TABLE
from tracehound.doctor.evidence.http._hops import Hop, Request, hops
from tracehound.doctor.store import Store
from tracehound.rules import Finding

__all__ = ["WireResults", "check"]

_LEGACY_HEADER = {"jaeger": "uber-trace-id", "b3": "b3", "b3multi": "X-B3-TraceId"}

_PROBLEMS = f"""
SELECT p[1] AS code, p[2] AS header, ServerAddress, count(*),
       arg_min(p[3], Seq), arg_min(Source || ':' || "Offset", Seq),
       arg_min(TraceId, Seq), count(DISTINCT Source)
FROM (SELECT unnest(Problems) AS p, ServerAddress, Seq, Source, "Offset", TraceId
      FROM {TABLE} WHERE len(Problems) > 0)
GROUP BY ALL ORDER BY code, ServerAddress, header
"""
_TOTALS = f"SELECT ServerAddress, count(*) FROM {TABLE} GROUP BY ALL"
_REQUESTS = f"""
SELECT row_number() OVER (ORDER BY TimeUnixNano, Source, Seq) AS k, TimeUnixNano,
       EndTimeUnixNano, ClientAddress, ServerAddress, Method, Target,
       [(h.Name, h.Value) FOR h IN Headers] AS hs, Formats, TraceId, ParentSpanId,
       Source || ':' || "Offset"
FROM {TABLE} WHERE TimeUnixNano IS NOT NULL ORDER BY k
"""
# which service sent a request (the span its parent ID names) and which one answered it
# in the same trace (a server span whose parent is that ID)
_SENT_BY = f"""
SELECT x.TraceId, x.ParentSpanId, any_value(t.ServiceName), any_value(t.SpanKind)
FROM {TABLE} x JOIN otel_traces t ON t.TraceId = x.TraceId AND t.SpanId = x.ParentSpanId
GROUP BY ALL
"""
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
class _Break:
    """Hops of one kind broken the same way: caller → callee (via a proxy), and why."""

    caller: str
    callee: str
    via: str | None
    handler: str
    cause: str
    code: str
    hops: list[Hop] = field(default_factory=list)
    of: int = 0
    """Hops of the same handler → callee that carried a context in."""


def check(store: Store, edges: Sequence[Edge] = ()) -> WireResults:
    """Findings and edge evidence from ``http_exchanges`` (nothing when it is empty)."""
    results = WireResults()
    if not store.scalar(f"SELECT count(*) FROM {TABLE}"):
        return results
    names = _Names(store)
    requests = _requests(store)
    found = list(hops(requests))
    breaks = _breaks(found, names)  # (which also names the addresses it can)
    totals = dict(store.query(_TOTALS))
    for code, header, server, count, message, where, trace, sources in store.query(_PROBLEMS):
        to = names.of(server)
        total = totals.get(server, count)
        results.findings.append(finding(
            code,
            f"{count} of {total} requests to {to} seen on the wire: {header}: {message}"
            + (" (the first)" if count > 1 else ""),
            trace_id=trace, service=to, loc=where,
            details={"header": header, "server": server, "requests": count, "of": total,
                     "inputs": sources},
        ))  # fmt: skip
    for item in breaks:
        results.findings.append(_finding(item, names))
        results.evidence.extend(_hop_evidence(item))
    results.evidence.extend(_edge_evidence(requests, found, edges, names, breaks))
    return results


class _Names:
    """Service names of addresses, learnt from the spans the headers' IDs lead to."""

    def __init__(self, store: Store) -> None:
        self.sent_by: dict[tuple[str, str], tuple[str, str]] = {}
        votes: dict[str, Counter[str]] = defaultdict(Counter)
        if store.scalar("SELECT count(*) FROM otel_traces"):
            for trace, parent, service, kind in store.query(_SENT_BY):
                self.sent_by[(trace, parent)] = (service, kind)
            for address, service, count in store.query(_ANSWERED_BY):
                votes[address][service] += count
        self.votes = votes

    def learn(self, hop: Hop) -> None:
        """The handler of a hop whose outbound request names a span is that span's service."""
        out = hop.outbound
        sent = self.sent_by.get((out.trace_id or "", out.parent_id or ""))
        if sent is not None and hop.handler:
            self.votes[hop.handler][sent[0]] += 1

    def of(self, address: str | None) -> str:
        if address is None:
            return "an unknown client"
        found = self.votes.get(address)
        return found.most_common(1)[0][0] if found else address


def _requests(store: Store) -> list[Request]:
    return [
        Request(k, start, end, client, server, method, target, tuple(map(tuple, hs)),
                tuple(formats or ()), trace, parent, where)
        for k, start, end, client, server, method, target, hs, formats, trace, parent, where
        in store.query(_REQUESTS)
    ]  # fmt: skip


def _breaks(found: list[Hop], names: _Names) -> list[_Break]:
    for hop in found:
        names.learn(hop)
    groups: dict[tuple[str, str, str | None, str, str], _Break] = {}
    carried: Counter[tuple[str | None, str | None]] = Counter()
    for hop in found:
        outcome = hop.outcome
        if outcome == "no-context":
            continue
        carried[(hop.handler, hop.outbound.server)] += 1
        if outcome == "continued":
            continue
        handler = names.of(hop.handler)
        if outcome == "stripped":
            key = (names.of(hop.sender), names.of(hop.outbound.server), handler,
                   "header-stripped", "P007")  # fmt: skip
        elif outcome == "new-trace" and hop.unread:
            key = (names.of(hop.sender), handler, None, "propagator-mismatch", "P005")
        else:
            key = (handler, names.of(hop.outbound.server), None, "not-forwarded", "P005")
        item = groups.get(key)
        if item is None:
            item = groups[key] = _Break(*key[:3], handler=handler, cause=key[3], code=key[4])
        item.hops.append(hop)
    for item in groups.values():
        first = item.hops[0]
        item.of = carried[(first.handler, first.outbound.server)]
    return sorted(groups.values(), key=lambda b: (-len(b.hops), b.caller, b.callee))


def _what(item: _Break) -> str:
    first = item.hops[0]
    n = f"{len(item.hops)} of {item.of}"
    arrived = ", ".join(first.inbound.formats)
    if item.cause == "header-stripped":
        return (
            f"{item.via} passed {n} requests from {item.caller} on to {item.callee} without "
            f"their trace headers ({arrived} arrived, none left)"
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


def _finding(item: _Break, names: _Names) -> Finding:
    first = item.hops[0]
    via = f" via {item.via}" if item.via else ""
    return finding(
        item.code,
        f"{item.caller} → {item.callee}{via}: {_what(item)} (first at {first.outbound.where})",
        trace_id=first.inbound.trace_id, service=item.handler, loc=first.outbound.where,
        details={
            "caller": item.caller, "callee": item.callee, "via": item.via,
            "cause": item.cause, "requests": len(item.hops), "of": item.of,
            "inbound_trace_id": first.inbound.trace_id,
            "outbound_trace_id": first.outbound.trace_id,
            "handler_address": first.handler, "callee_address": first.outbound.server,
        },
    )  # fmt: skip


def _hop_evidence(item: _Break) -> Iterator[tuple[str, str, Evidence]]:
    first = item.hops[0]
    seen = Evidence("http", first.outbound.where, _what(item), item.cause)
    yield item.caller, item.callee, seen
    if item.via:
        # the caller's spans name the proxy by its address
        for proxy in {item.via, first.handler or item.via}:
            yield item.caller, proxy, seen


def _edge_evidence(
    requests: list[Request], found: list[Hop], edges: Sequence[Edge], names: _Names,
    breaks: list[_Break],
) -> Iterator[tuple[str, str, Evidence]]:
    """What the wire shows on the edges the spans found broken: the formats the caller's
    requests carried, and whether they contradict the callee's spans."""
    broken = {(e.caller, e.callee) for e in edges if e.broken}
    if not broken:
        return
    explained = {(b.caller, b.callee) for b in breaks}
    handler = {hop.outbound.key: hop.handler for hop in found}
    seen: dict[tuple[str, str], list[Request]] = defaultdict(list)
    for req in requests:
        sent = names.sent_by.get((req.trace_id or "", req.parent_id or ""))
        caller = sent[0] if sent else names.of(handler.get(req.key)) if req.key in handler else None
        key = (caller or "", names.of(req.server))
        if key in broken:
            seen[key].append(req)
    for key, sent in seen.items():
        if key in explained:
            continue
        caller, callee = key
        formats = Counter(tuple(r.formats) for r in sent)
        where = sent[0].where
        n = len(sent)
        if all(not f for f in formats):
            yield caller, callee, Evidence(
                "http", where, f"{caller} sent no trace header on {n} of {n} requests to "
                f"{callee} on the wire", "not-forwarded",
            )  # fmt: skip
        elif all("tracecontext" not in f and f for f in formats):
            legacy = sorted({x for f in formats for x in f})
            yield caller, callee, Evidence(
                "http", where, f"{caller} sent only {_headers(legacy)} on {n} of {n} requests "
                f"to {callee} on the wire", "propagator-mismatch",
            )  # fmt: skip
        elif all("tracecontext" in f for f in formats):
            known = sum(
                1 for r in sent if (r.trace_id or "", r.parent_id or "") in names.sent_by
            )
            if known == n:
                yield caller, callee, Evidence(
                    "http", where, f"a valid `traceparent` naming {caller}'s exported client "
                    f"span arrived on {n} of {n} requests to {callee}, yet {callee}'s spans "
                    "start new traces: its extraction is at fault, not the wire",
                    "not-extracted",
                )  # fmt: skip
            elif known == 0:
                yield caller, callee, Evidence(
                    "http", where, f"the `traceparent` on {n} requests to {callee} names a "
                    f"parent span no exported span has: something between {caller} and "
                    f"{callee} rewrote it", "header-stripped",
                )  # fmt: skip
