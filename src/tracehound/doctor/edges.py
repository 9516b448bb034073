"""The per-edge view: caller → callee, calls, continued, broken, formats, and the likely cause.

The cause is read from the evidence in order of strength: request headers the
callee recorded on the calls that broke (what arrived), a callee that kept the
caller's span ID but not its trace ID (a conflicting second format), then
the shape of the failures (every call or some; does the callee continue
other callers' traces).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

from tracehound.doctor._model import Edge, Evidence
from tracehound.doctor.checks._hops import Hops
from tracehound.doctor.checks.propagation import LONE_TRACEPARENT, HeaderEvidence
from tracehound.doctor.store import Store

__all__ = ["build_edges"]

HEADER = {
    "tracecontext": "traceparent",
    "jaeger": "uber-trace-id",
    "b3": "b3",
    "b3multi": "X-B3-TraceId",
}
_LEGACY = ("jaeger", "b3", "b3multi")
_SPOKEN = {"tracecontext": "W3C", "jaeger": "Jaeger", "b3": "B3", "b3multi": "B3 multi-header"}

# one row per distinct piece of evidence: a lone traceparent stands for all its spans
_EVIDENCE = """
SELECT DISTINCT t.caller, t.callee, false, h.lone, CASE WHEN NOT h.lone THEN h.rid END
FROM th_cont t JOIN th_work.headers h ON h.rid = t.answer
UNION ALL
SELECT DISTINCT p.caller, a.ServiceName, true, h.lone, CASE WHEN NOT h.lone THEN h.rid END
FROM th_match m JOIN th_open p ON p.rid = m.call JOIN th_answers a ON a.rid = m.answer
JOIN th_work.headers h ON h.rid = a.rid
"""


def build_edges(store: Store, hops: Hops, evidence: Mapping[int, HeaderEvidence]) -> list[Edge]:
    """Every caller → callee edge seen, with counts and, for broken ones, cause and fix.

    ``evidence`` is what `propagation.check` returned (it also made ``th_work.headers``).
    """
    seen: dict[tuple[str, str], list[HeaderEvidence]] = defaultdict(list)
    broken_seen: dict[tuple[str, str], list[HeaderEvidence]] = defaultdict(list)
    reads: dict[str, set[str]] = defaultdict(set)
    # formats a callee continued traces from (the preferred one of each request)
    for caller, callee, broken, lone, rid in store.query(_EVIDENCE):
        found = LONE_TRACEPARENT if lone else evidence.get(rid)
        if found is None:
            continue
        seen[(caller, callee)].append(found)
        if broken:
            broken_seen[(caller, callee)].append(found)
        elif found.formats:
            preferred = "tracecontext" if "tracecontext" in found.formats else found.formats[0]
            reads[callee].add(preferred)
    continues_for: dict[str, set[str]] = defaultdict(set)
    for caller, callee, _kind, _calls, continued, _broken, _trace, _seen in hops.edge_counts:
        if continued:
            continues_for[callee].add(caller)
    edges = []
    for caller, callee, kind, calls, continued, broken, trace, callee_seen in hops.edge_counts:
        key = (caller, callee)
        formats = tuple(sorted({f for item in seen.get(key, ()) for f in item.formats}))
        cause = fix = cause_kind = None
        found: tuple[Evidence, ...] = ()
        if broken:
            cause_kind, cause, fix = _diagnose(
                caller,
                callee,
                kind,
                calls,
                broken,
                broken_seen.get(key, []),
                hops.exact.get(key, 0),
                continues_for[callee] - {caller},
                reads[callee],
            )
            found = (_spans_evidence(broken, broken_seen.get(key, []), cause_kind),)
        edges.append(
            Edge(
                caller, callee, kind, calls, continued, broken, formats, cause, fix, trace,
                callee_seen, cause_kind, found,
            )
        )
    return edges


def _spans_evidence(broken: int, headers: list[HeaderEvidence], cause_kind: str) -> Evidence:
    if not headers:
        summary = (
            f"{broken} calls answered by a new trace; the callee recorded none of the request "
            "headers that arrived"
        )
    else:
        arrived = sorted({f for item in headers for f in item.formats})
        summary = (
            f"{broken} calls answered by a new trace; the request headers the callee recorded "
            f"carry {', '.join(arrived) if arrived else 'no trace context'}"
        )
    return Evidence("spans", "spans", summary, cause_kind)


def _diagnose(
    caller: str,
    callee: str,
    kind: str,
    calls: int,
    broken: int,
    headers: list[HeaderEvidence],
    exact: int,
    other_callers: set[str],
    callee_reads: Iterable[str],
) -> tuple[str, str, str]:
    """The cause (a key of `CAUSES`), the sentence naming it, and the fix."""
    unify = f"set OTEL_PROPAGATORS=tracehound on {callee} (it reads W3C, Jaeger and B3)"
    if headers:
        arrived = {f for item in headers for f in item.formats}
        codes = {c for item in headers for c in item.codes}
        if not arrived:
            return (
                "not-forwarded",
                f"{caller} sends no trace headers to {callee} (or a proxy between them strips "
                "them)",
                f"inject the context on {caller} (OpenTelemetry HTTP client instrumentation or "
                "`tracehound.inject(headers)`) and check the proxy forwards `traceparent`",
            )
        if "tracecontext" not in arrived:
            legacy = sorted(arrived & set(_LEGACY))
            names = " and ".join(HEADER[f] for f in legacy)
            reads = " and ".join(sorted(_SPOKEN.get(f, f) for f in callee_reads)) or "W3C"
            return (
                "propagator-mismatch",
                f"{caller} sends only {names}; {callee} reads only {reads}",
                f"set OTEL_PROPAGATORS=tracehound (or tracecontext,{legacy[0]}) on {callee}, "
                f"or make {caller} inject W3C too",
            )
        if "P001" in codes:
            return (
                "invalid-header",
                f"{caller} sends a `traceparent` that the W3C grammar rejects",
                f"fix the sender on {caller}: use an OpenTelemetry propagator instead of "
                "building the header by hand",
            )
        if "P002" in codes:
            return (
                "propagator-mismatch",
                f"the requests carry formats naming different traces and {callee} follows "
                "another one than the caller's",
                f"{unify}; find the hop that rewrites one header but forwards the others",
            )
        return (
            "not-extracted",
            f"{callee} receives a valid `traceparent` but starts a new trace: its server "
            "span is created without the extracted context",
            f"start the {'consumer' if kind == 'message' else 'server'} span on {callee} from "
            "the extracted context (`tracehound.continue_trace`), not from an empty one",
        )
    if exact:
        return (
            "propagator-mismatch",
            f"{callee} kept {caller}'s span ID but not its trace ID: it read a second, "
            "conflicting trace-context header",
            f"{unify}, which follows W3C and reports the conflict (P002)",
        )
    if broken < calls:
        return (
            "not-forwarded",
            f"{broken} of {calls} calls lose the context: some code path on {caller} does not "
            "inject it (a retry, a thread pool, a second client) or some instances run an older "
            "configuration",
            f"compare the headers of a continued and a broken call; carry the context into "
            f"workers on {caller} (`tracehound.ContextExecutor`)",
        )
    if other_callers:
        return (
            "undecided",
            f"{callee} continues traces from {', '.join(sorted(other_callers))} but never from "
            f"{caller}: {caller} sends no context or a format {callee} does not read",
            f"make {caller} inject W3C `traceparent`, or {unify}",
        )
    # nothing says what arrived: the callers may send a format the callee does not read,
    # or nothing at all (Node's SDK drops `jaeger` from OTEL_PROPAGATORS and sends none)
    see = (
        "look at the headers of a message on the queue"
        if kind == "message"
        else f"record the trace headers on the server spans of {callee} (OpenTelemetry "
        "Python: OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST, Java: "
        "OTEL_INSTRUMENTATION_HTTP_SERVER_CAPTURE_REQUEST_HEADERS, with "
        "traceparent,b3,uber-trace-id,x-b3-traceid) or give tracehound a capture of the hop"
    )
    return (
        "undecided",
        f"{callee} never continues an incoming trace: its callers send a format it does not "
        "read, or none at all, or a proxy strips the headers (nothing recorded says which)",
        f"{unify} and make its callers inject W3C `traceparent`; to see what arrives, {see}",
    )
