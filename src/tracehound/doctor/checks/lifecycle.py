"""Lifecycle checks: L004 bad durations, L005 child outside parent, L006 duplicate span IDs.

L004 reports a missing end time, and a missing start time as what it is (not
as a span that never ended), except in Zipkin data, where timestamp and
duration are "if known": one-way spans (a CLIENT's send, the SERVER that
received it) have no duration by design, a record reported late no timestamp
(the load notes it); a span Brave reported unfinished (``brave.flush``) is one.

L005 compares a span with its parent (when Zipkin shared spans make the ID
ambiguous, with every span of that ID in the child's service): across
services it is clock skew, within a service a parent that ended before its
child.  A child that *starts* before its parent is always reported: nothing
is caused before its cause.  A child that only *ends* after its parent is
reported unless that is how the work is built:

- the parent is a PRODUCER (the send it started, or the consumer of the
  message, goes on after it returned) or a CONSUMER (a short receive span
  hands the message to a longer processing child);
- the child is a PRODUCER (an asynchronous send ends when the broker
  acknowledges it, after the code that sent it moved on);
- the child is an entry span (SERVER/CONSUMER): a request or message of its
  own that carried the context, not work of its parent; it may end after
  its caller's span (ASGI servers end theirs after the response has left)
  or start after its parent ended (SmartThings carries the context across
  web redirects);
- the child links to its parent (OpenTracing's ``FOLLOWS_FROM``, a background
  job that says it follows the request);
- the child is a CLIENT in its parent's service ending less than
  `END_TOGETHER_NS` after it: the instrumentation ends a call's span in a
  callback of its response, and the callbacks of one event run in turn (Node's
  HTTP instrumentation ends it in the response's last callback, after the
  handler that answered its own caller with that response ended its server span).

L006 leaves alone a CLIENT and the SERVER spans sharing its ID in other
services or marked ``shared``: that is how Zipkin models one RPC (several
servers: retries, fan-out consumers; shared servers whose client reported
nothing).  A SERVER that is not shared, in the CLIENT's own service, or any
other kind of span under the ID, is an ID reused (``_sql.ONE_RPC``).
"""

from __future__ import annotations

import base64
import binascii
from collections import Counter
from collections.abc import Mapping

import orjson

from tracehound.doctor.checks._sql import ONE_RPC, finding, ms, spans
from tracehound.doctor.store import Store
from tracehound.rules import Finding

__all__ = ["check"]

# the load's note on a span's start time says why it has none (missing, not a number,
# beyond 64-bit nanoseconds)
_DURATIONS = """
SELECT t.TraceId, t.SpanId, t.SpanName, t.ServiceName, t.Source || ':' || t."Offset" AS loc,
       t.Duration, t.Source,
       t.Duration IS NULL AND contains(coalesce(t.Events::VARCHAR, ''), '"brave.flush"'),
       t."Timestamp" IS NULL,
       (SELECT min(n.Reason) FROM normalised n
        WHERE (t."Timestamp" IS NULL OR t.Duration IS NULL) AND n.Source = t.Source
          AND n."Offset" = t."Offset" AND n.SpanId = t.SpanId
          AND (n.Reason LIKE '%start time%' OR n.Reason LIKE 'implausible end time%'))
FROM otel_traces t WHERE t.Duration IS NULL OR t.Duration <= 0 ORDER BY loc
"""

# A parent ID several spans share (Zipkin: a CLIENT and the SERVERs that joined it) is
# ambiguous: the child is compared with all of them in its own service (else all),
# and is outside its parent only when it is outside every one.
_OUTSIDE = """
CREATE OR REPLACE TEMP TABLE th_outside AS
WITH candidates AS (
    SELECT child, parent, kind, service, s, e, pkind, pservice, ps, pe
    FROM th_link WHERE parent IS NOT NULL AND NOT amb
    UNION ALL
    SELECT child, arg_min(parent, ps), any_value(kind), any_value(service), any_value(s),
           any_value(e), arg_min(pkind, ps), arg_min(pservice, ps), min(ps), max(pe)
    FROM (SELECT * FROM th_link WHERE parent IS NOT NULL AND amb
          QUALIFY (pservice = service) = max(pservice = service) OVER (PARTITION BY child))
    GROUP BY child
)
SELECT child, parent, ps - s AS early, e - pe AS late FROM candidates
WHERE s < ps OR e > pe AND pkind NOT IN ('Producer', 'Consumer')
    AND kind NOT IN ('Producer', 'Server', 'Consumer')
    AND NOT (kind = 'Client' AND service = pservice AND e - pe < {together})
"""

# the links of children that only end late (few), to find the ones that follow from
# their parent
_LATE_LINKS = """
SELECT o.child, c.Links, p.SpanId
FROM th_outside o
JOIN (SELECT rowid AS rid, Links FROM otel_traces WHERE Links IS NOT NULL AND rowid IN (
          SELECT child FROM th_outside WHERE early <= 0)) c ON c.rid = o.child
JOIN (SELECT rowid AS rid, SpanId FROM otel_traces WHERE rowid IN (
          SELECT parent FROM th_outside WHERE early <= 0)) p ON p.rid = o.parent
"""

_DUPLICATES = f"""
SELECT TraceId, SpanId, count(*) AS n, list(SpanKind ORDER BY SpanKind) AS kinds,
       list(DISTINCT ServiceName ORDER BY ServiceName) AS services,
       list(loc ORDER BY loc) AS locs, min(SpanName) AS name
FROM th_dups GROUP BY TraceId, SpanId HAVING NOT {ONE_RPC.format(over="")} ORDER BY min(loc)
"""


END_TOGETHER_NS = 1_000_000
"""How much later (1 ms) a CLIENT child may end than its parent in the same service and
still have ended with it (see L005 above)."""

MAX_LOCATIONS = 20
"""Places of the spans sharing an ID listed in an L006 finding (``count`` has them all)."""


def _some(names: list[str]) -> str:
    """``names`` for a message: each once with its count when repeated (``Client ×3``)."""
    counts = Counter(names)
    if len(counts) == len(names):
        return ", ".join(names)
    return ", ".join(f"{name} ×{k}" if k > 1 else name for name, k in counts.items())


def check(store: Store, formats: Mapping[str, str | None] | None = None) -> list[Finding]:
    """Run L004-L006 over the span table (after `_sql.install`); ``formats`` maps each
    input (the Source column) to the export format it was read as."""
    formats = formats or {}
    findings: list[Finding] = []
    for row in store.query(_DURATIONS):
        trace_id, span_id, name, service, loc, duration, source, flushed, no_start, note = row
        if duration is None and formats.get(source) == "zipkin" and not flushed:
            continue  # Zipkin's timestamp and duration are "if known": one-way spans, late parts
        if duration is None and not no_start and note and note.startswith("implausible end"):
            continue  # an end past 2262: no duration is kept, and L011 names the time
        if flushed:
            what = "was never finished: Brave reported it unfinished (brave.flush)"
        elif duration is None and no_start:
            # the start is what is missing: whether the span ended is not known
            why = note.split(" (")[0] if note else "missing start time"
            start = "no start time" if why.startswith("missing") else f"no usable start ({why})"
            what = f"has {start}, so its duration is unknown"
        elif duration is None:
            what = "has no end time: it was exported before it ended"
        elif duration == 0:
            what = "has a zero duration"
        else:
            what = f"ends {ms(-duration)} before it starts"
        findings.append(
            finding(
                "L004",
                f"span '{name}' of {service} {what}",
                trace_id=trace_id,
                span_id=span_id,
                service=service,
                loc=loc,
                details={"duration_ns": duration},
            )
        )
    store.con.execute(_OUTSIDE.format(together=END_TOGETHER_NS))
    following = [
        child for child, links, parent_id in store.query(_LATE_LINKS) if _links_to(links, parent_id)
    ]
    if following:
        store.con.execute(
            "DELETE FROM th_outside WHERE child IN (SELECT unnest(?::BIGINT[]))", [following]
        )
    known = spans(store, "SELECT child FROM th_outside UNION ALL SELECT parent FROM th_outside")
    for child, parent, early, late in store.query("SELECT * FROM th_outside"):
        trace_id, span_id, name, service, _, loc = known[child]
        parent_id, parent_name, parent_service = known[parent][1:4]
        if early is not None and early > 0:
            what = f"starts {ms(early)} before its parent '{parent_name}'"
        else:
            what = f"ends {ms(late)} after its parent '{parent_name}' ended"
        if parent_service != service:
            why = f"clock skew between {parent_service} and {service}?"
        elif early is not None and early > 0:
            why = "one clock: the parent was started after its child, or with a wrong time"
        else:
            why = "the parent ended before its child: work escaped the span"
        findings.append(
            finding(
                "L005",
                f"span '{name}' of {service} {what} ({why})",
                trace_id=trace_id,
                span_id=span_id,
                service=service,
                loc=loc,
                details={
                    "parent_span_id": parent_id,
                    "parent_service": parent_service,
                    "early_ns": max(int(early or 0), 0),
                    "late_ns": max(int(late or 0), 0),
                },
            )
        )
    for trace_id, span_id, n, kinds, services, locs, name in store.query(_DUPLICATES):
        findings.append(
            finding(
                "L006",
                f"{n} spans of this trace share span ID {span_id} ('{name}'; kinds "
                f"{_some(kinds)}; services {_some(services)})",
                trace_id=trace_id,
                span_id=span_id,
                service=services[0] if len(services) == 1 else None,
                loc=locs[0],
                # the first locations only: thousands of copies of an ID made megabytes
                details={"count": n, "locations": list(locs[:MAX_LOCATIONS])},
            )
        )
    return findings


def _links_to(links: str | None, span_id: str) -> bool:
    """Whether a span's links (OTLP/JSON text) name ``span_id`` (lower-case hex)."""
    try:
        items = orjson.loads(links) if links else []
    except orjson.JSONDecodeError:
        return False
    if not isinstance(items, list):
        return False
    return any(isinstance(link, dict) and _hex(link.get("spanId")) == span_id for link in items)


def _hex(raw: object) -> str | None:
    """A span ID as the table spells it, from hex of any case or width, or base64."""
    if not isinstance(raw, str) or not raw:
        return None
    try:
        return format(int(raw, 16), "016x")
    except ValueError:
        pass
    try:
        return base64.b64decode(raw, validate=True).hex().rjust(16, "0")
    except (binascii.Error, ValueError):
        return None
