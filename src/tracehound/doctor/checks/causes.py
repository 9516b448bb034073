"""The likely cause of a break inside a trace (C001, C002), from the stated set.

C003 and the hop findings name theirs per edge (`tracehound.doctor.edges`,
`tracehound.doctor.evidence`).  A span whose parent is missing (C001) or a trace
with a second root (C002) gets one here, in ``details["cause"]`` (a key of
`CAUSES`) with ``details["cause_evidence"]``.  A second root has no parent that
could be missing: the trace ID reached it without the parent's span ID, and the
spans do not say how (``undecided``).  For a missing parent, strongest first:

- the parent was in the input but rejected (its IDs unreadable): ``spans-dropped``;
- the runtime of that service reported spans dropped (L007) or never ended (L001):
  ``spans-dropped``;
- the span starts, or ends, within a long request's duration (the 99th percentile
  of the input's entry spans, at least a second) of the input's first or last span,
  in an input at least ten such requests long: its parent may have started before
  the window, or not yet ended (and so not been exported) when it closed:
  ``outside-window``;
- otherwise ``undecided``: the spans alone do not say why the parent is missing.
"""

from __future__ import annotations

from collections.abc import Iterable

from tracehound.doctor._model import CAUSES
from tracehound.doctor.checks._sql import ms
from tracehound.doctor.store import Store
from tracehound.rules import Finding

__all__ = ["name_causes"]

_MIN_WINDOW_NS = 1_000_000_000
_SPANS = 10
"""An input must cover this many long requests for its edges to explain a missing parent."""

_PLACES = """
WITH b AS (SELECT unnest($traces) AS TraceId, unnest($spans) AS SpanId, unnest($parents) AS p),
windows AS (
    SELECT Source, min(epoch_ns("Timestamp")) AS first,
           max(epoch_ns("Timestamp") + coalesce(Duration, 0)) AS last,
           greatest(coalesce(quantile_cont(Duration, 0.99)
                             FILTER (WHERE SpanKind IN ('Server', 'Consumer')), 0), $min) AS w
    FROM otel_traces GROUP BY Source
)
SELECT b.TraceId, b.SpanId, epoch_ns(o."Timestamp") - w.first,
       w.last - (epoch_ns(o."Timestamp") + coalesce(o.Duration, 0)),
       -- a window only a few long requests wide says nothing about its edges
       CASE WHEN w.last - w.first > {spans} * w.w THEN w.w END, r.Reason,
       r.Source || ':' || r."Offset"
FROM b JOIN otel_traces o ON o.TraceId = b.TraceId AND o.SpanId = b.SpanId
JOIN windows w ON w.Source = o.Source
LEFT JOIN (SELECT * FROM rejected WHERE SpanId IS NOT NULL
           QUALIFY row_number() OVER (PARTITION BY TraceId, SpanId) = 1) r
  ON r.TraceId = b.TraceId AND r.SpanId = b.p AND b.p <> ''
"""

_INSIDE = ("C001", "C002")
_LOST = ("L007", "L001")
_SECOND_ROOT = (
    "the trace ID reached this span without its parent span ID (a header that carries only "
    "the trace ID, or a span started with the trace ID copied by hand); the spans alone do "
    "not say which"
)


def name_causes(store: Store, findings: Iterable[Finding]) -> list[Finding]:
    """``findings`` with the likely cause named on each C001 and C002."""
    findings = list(findings)
    # one pass over every finding (tens of thousands on a large input): the rule's code read
    # once each, the few to change picked out
    breaks: list[Finding] = []
    lost: dict[str | None, str] = {}
    for f in findings:
        code = f.rule.code
        if code in _INSIDE:
            if f.trace_id and f.span_id:
                breaks.append(f)
        elif code in _LOST and f.details.get("reported_by") == "runtime":
            lost[f.service] = code
    if not breaks:
        return findings
    sql = (
        _PLACES.replace("$traces", "?").replace("$spans", "?").replace("$parents", "?")
        .replace("$min", str(_MIN_WINDOW_NS)).replace("{spans}", str(_SPANS))
    )
    places = {
        (trace, span): rest
        for trace, span, *rest in store.query(
            sql,
            [
                [f.trace_id for f in breaks],
                [f.span_id for f in breaks],
                [str(f.details.get("parent_span_id") or "") for f in breaks],
            ],
        )
    }
    named: dict[int, Finding] = {}
    for f in breaks:
        place = places.get((f.trace_id, f.span_id))
        if place is None:
            continue
        cause, evidence = _cause(f, place, lost)
        details = {**f.details, "cause": cause, "cause_evidence": evidence}
        message = f.message if cause == "undecided" else f"{f.message}; likely: {evidence}"
        # (not `dataclasses.replace`, which costs three times as much per finding)
        named[id(f)] = Finding(
            f.rule, message, f.trace_id, f.span_id, f.service, f.location, details
        )
    return [named.get(id(f), f) for f in findings]


def _cause(
    f: Finding, place: list[object], lost: dict[str | None, str]
) -> tuple[str, str]:
    after_first, before_last, window, reason, rejected_at = place
    if f.code == "C002":  # a root has no parent that could be missing
        return "undecided", _SECOND_ROOT
    if reason:
        return "spans-dropped", f"the parent was in the input, rejected at {rejected_at}: {reason}"
    if f.service in lost:
        what = "dropped spans (L007)" if lost[f.service] == "L007" else "left spans open (L001)"
        return "spans-dropped", f"the runtime of {f.service} reported it {what}"
    if isinstance(window, int | float) and isinstance(after_first, int | float) and (
        after_first < window
    ):
        return (
            "outside-window",
            f"it starts {ms(after_first)} after the input's first span: its parent may have "
            "started before the input's window",
        )
    if isinstance(window, int | float) and isinstance(before_last, int | float) and (
        before_last < window
    ):
        return (
            "outside-window",
            f"it ends {ms(before_last)} before the input's last span: its parent may not have "
            "ended (and been exported) when the input was cut",
        )
    return "undecided", CAUSES["undecided"]
