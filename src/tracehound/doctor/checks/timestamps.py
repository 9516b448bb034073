"""L011 implausible timestamps: spans whose times are no plausible Unix time.

The store keeps such spans (their IDs and parents are sound) and notes each
one in the ``normalised`` table; this family turns the notes into one finding
per input and kind of time, with how many spans and the first of them.
Relative times (a few microseconds after 1970) and a unit mix-up (microseconds
written where nanoseconds belong) look alike; the finding shows the value.
"""

from __future__ import annotations

from tracehound.doctor._load_sql import IMPLAUSIBLE_END, IMPLAUSIBLE_START
from tracehound.doctor.checks._sql import finding
from tracehound.doctor.store import Store
from tracehound.rules import Finding

__all__ = ["check"]

_NOTED = """
SELECT n.Source, n.Reason, count(*) AS spans,
       arg_min(n.Source || ':' || n."Offset", n.rowid) AS loc,
       arg_min(n.TraceId, n.rowid) AS trace_id, arg_min(n.SpanId, n.rowid) AS span_id
FROM normalised n WHERE n.Reason IN (?, ?)
GROUP BY n.Source, n.Reason ORDER BY min(n.rowid)
"""

_EXAMPLE = """
SELECT ServiceName, SpanName, "Timestamp", Duration FROM otel_traces
WHERE TraceId = ? AND SpanId = ? LIMIT 1
"""


def check(store: Store) -> list[Finding]:
    """Run L011 over the notes the load left."""
    findings: list[Finding] = []
    for source, reason, count, loc, trace_id, span_id in store.query(
        _NOTED, [IMPLAUSIBLE_START, IMPLAUSIBLE_END]
    ):
        which = "start" if reason == IMPLAUSIBLE_START else "end"
        example = store.query(_EXAMPLE, [trace_id, span_id])
        service, name, start, _ = example[0] if example else (None, None, None, None)
        when = f"; the first, '{name}', starts at {start}" if start is not None else ""
        findings.append(
            finding(
                "L011",
                f"{count} spans of {source} have {which} times outside 1990-2200{when} "
                "(relative times or a unit mix-up?): their structure is analysed, their "
                "times cannot be compared with other inputs",
                trace_id=trace_id,
                span_id=span_id,
                service=service,
                loc=loc,
                details={"spans": int(count), "which": which},
            )
        )
    return findings
