"""C003: find the calls whose callee started a new trace, and pair each with that trace.

A CLIENT/PRODUCER span is *continued* when a span of its own trace names it
as parent (or, Zipkin-style, shares its ID as the SERVER side).  The others
are open calls.  Each open call gets its candidate callees (`th_callees`)
from the strongest evidence that names anyone: its ``service.peer.name``
(or the older ``peer.service``); the service that continued other calls with
the same peer, host or destination; the service whose own SERVER spans say
they were called at the call's ``host:port`` (`_endpoints`: this needs no
continued call, so it holds when every call on an edge broke); the services
seen at that host; a service or workload named by the host's first label;
the service that continued other calls of the same caller and span name; last,
for a call to an address no span serves (or an RPC that names none: gRPC's
client spans), the services whose new traces start with its method and path
(an untraced proxy that rewrote ``Host``, as nginx does by default, hides the
callee's address; an RPC's path is ``/service/method``; such a call pairs only
with an answer of its own path starting inside it, to a millisecond).  A call
no candidate is found for goes to a peer with no span in the data (a database,
an external API): shown in the edge view, never a break.  An
*answer* is a SERVER/CONSUMER span with no parent in its own trace.  Calls
and answers are paired when the answer belongs to a candidate (or consumes
the producer's destination), lives in another trace, starts inside the call's
window (a little clock skew allowed; messages may wait in a queue) and has
the same HTTP method; an answer whose parent span ID is the call's own span ID
is paired first.  An answer that fits an open call of its own trace is that
trace's second root (C002), not a broken edge, and neither it nor that call
takes part.  Pairs are chosen one to one: the parent-ID pairs, then those
whose paths agree (equal, or one a suffix of the other: a proxy strips
prefixes), then starts inside the call, closest first (an answer starting
before its call counts twenty times as far).  Confidence = how the callee
was resolved × whether the start fell inside the call × whether the paths
agree × 1/number of callers competing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tracehound.doctor.checks._endpoints import ENDPOINTS
from tracehound.doctor.checks._sql import finding, locations, ms
from tracehound.doctor.store import Store
from tracehound.rules import Finding

__all__ = ["CLOCK_GRAIN_NS", "SKEW_TOLERANCE_NS", "Hops", "match_hops"]

SKEW_TOLERANCE_NS = 100_000_000
"""How far (100 ms) an answer may start before its call, or after it ended (clock skew)."""

CLOCK_GRAIN_NS = 1_000_000
"""How far (1 ms) an answer known by its route alone may start outside its call: Node's
SDK starts spans on a millisecond and measures their durations finer, so a call's span can
end up to a millisecond before the answer it waited for started (seen in the test bed)."""

MAX_ROUNDS = 64
"""Rounds of mutually-best pairing (each pairs at least one call; calls that overlap an
answer burst need one round per call)."""

DEFAULT_QUEUE_LAG_NS = 30_000_000_000
"""How long a message may wait in a queue when no continued message shows it (30 s)."""

BUCKET_GROUP = 32
"""Time buckets per join key in the window join (which pairs it finds does not depend on it:
16-64 measured fastest on 1M spans, 30 % less CPU than a key per bucket)."""

_CALLS = """
CREATE OR REPLACE TEMP TABLE th_cont AS
WITH links AS (
    SELECT parent AS call, pservice AS caller, pkind AS kind, ps AS cs, pe AS ce,
           child AS answer, service AS callee, s AS xs
    FROM th_link
    WHERE pkind IN ('Client', 'Producer')
      AND (kind IN ('Server', 'Consumer') OR service <> pservice)
    UNION ALL  -- Zipkin: the server shares the client's span ID
    -- (only the first server of an ID can answer: n clients × n servers made n² rows)
    SELECT c.rid, c.ServiceName, c.SpanKind, c.s, c.e, x.rid, x.ServiceName, x.s
    FROM th_dups c JOIN (
        SELECT * FROM th_dups WHERE SpanKind IN ('Server', 'Consumer')
        QUALIFY row_number() OVER (PARTITION BY TraceId, SpanId ORDER BY s, rid) = 1
    ) x ON x.TraceId = c.TraceId AND x.SpanId = c.SpanId
    WHERE c.SpanKind IN ('Client', 'Producer')
)
SELECT * FROM links QUALIFY row_number() OVER (PARTITION BY call ORDER BY xs, answer) = 1;
CREATE OR REPLACE TEMP TABLE th_learn AS
WITH calls AS (  -- continued calls repeat their caller, name, attributes and callee
    SELECT o.ServiceName AS caller, o.SpanName, o.SpanAttributes AS a, k.callee, count(*) AS n
    FROM otel_traces o JOIN th_cont k ON k.call = o.rowid
    GROUP BY ALL
), v AS (
    SELECT unnest([t.peer, t.dest, 'hp:' || t.host || ':' || t.port,
                   CASE WHEN t.port IS NULL THEN 'h:' || t.host END,
                   c.caller || ' ' || c.SpanName]) AS value, c.callee, c.n
    FROM calls c LEFT JOIN th_targets t ON t.a = c.a
)
SELECT value, callee FROM v WHERE value IS NOT NULL GROUP BY value, callee
QUALIFY row_number() OVER (PARTITION BY value ORDER BY sum(n) DESC, callee) = 1;
CREATE OR REPLACE TEMP TABLE th_services AS SELECT DISTINCT ServiceName AS name FROM otel_traces;
CREATE OR REPLACE TEMP TABLE th_open AS
SELECT o.rowid AS rid, o.TraceId, o.SpanId, o.ServiceName AS caller, o.SpanKind, o.SpanName,
       epoch_ns(o."Timestamp") AS s, epoch_ns(o."Timestamp") + o.Duration AS e,
       t.peer, t.peer_key, t.host, t.port, t.path, t.method, t.dest, t.system, t.rpc,
       t.message_id,
       hash(o.ServiceName, o.SpanName, t.peer, t.host, t.port, t.dest) AS target
FROM otel_traces o LEFT JOIN th_targets t ON t.a = o.SpanAttributes
WHERE o.SpanKind IN ('Client', 'Producer') AND o.rowid NOT IN (SELECT call FROM th_cont);
CREATE OR REPLACE TEMP TABLE th_answers AS
-- what a server was asked (th_served) and what a consumer received (th_targets): each
-- kind is joined to its own table only (the keys are whole attribute lists); th_entries is
-- read twice rather than through a common table, which copied every attribute list
SELECT a.rid, a.TraceId, a.SpanId, a.ParentSpanId, a.ServiceName, a.SpanKind, a.SpanName, a.s,
       NULL AS dest, NULL AS message_id, v.path, v.method
FROM th_entries a LEFT JOIN th_served v ON v.a = a.a WHERE a.answer AND a.SpanKind = 'Server'
UNION ALL
SELECT a.rid, a.TraceId, a.SpanId, a.ParentSpanId, a.ServiceName, a.SpanKind, a.SpanName, a.s,
       t.dest, t.message_id, t.path, t.method
FROM th_entries a LEFT JOIN th_targets t ON t.a = a.a WHERE a.answer AND a.SpanKind = 'Consumer';
-- Calls to an address no span of the data serves, and the services whose new traces start
-- with the same method and path (a proxy may strip a prefix): an untraced proxy that
-- rewrote Host (nginx does by default) or a load balancer hides who answered.  An RPC
-- whose span names no address at all (gRPC's client spans) is known by its method alone.
CREATE OR REPLACE TEMP TABLE th_routes AS
WITH calls AS (
    SELECT DISTINCT target, path, method, host || coalesce(':' || port, '') AS addr,
           rpc IS NOT NULL AS rpc
    FROM th_open
    WHERE SpanKind = 'Client' AND (host IS NOT NULL OR rpc IS NOT NULL) AND peer IS NULL
      AND length(path) > 1
), served AS (
    SELECT DISTINCT ServiceName AS callee, path, method FROM th_answers
    WHERE SpanKind = 'Server' AND length(path) > 1
)
SELECT c.target, s.callee, min(c.addr) AS addr, min(c.path) AS path, bool_or(c.rpc) AS rpc
FROM calls c JOIN served s  -- an RPC's method is whole; a proxy may strip an HTTP prefix
  ON (s.path = c.path OR NOT c.rpc AND (ends_with(c.path, s.path) OR ends_with(s.path, c.path)))
 AND coalesce(s.method = c.method, true)
GROUP BY c.target, s.callee;
-- Who the calls to each target may have reached (calls repeat their targets: each is
-- resolved once, and kept per target: the calls join it by `target`), strongest evidence
-- first; only the first level that names anyone counts, and each service it names is a
-- candidate (a shared host).
CREATE OR REPLACE TEMP TABLE th_callees AS
WITH c AS (  -- a target is a hash of the caller, span name, peer, host, port and destination:
                -- grouped by it, the calls' strings are read, not hashed (peer_key is not in it)
    SELECT *, 'hp:' || host || ':' || port AS hp, 'h:' || host AS h FROM (
        SELECT target, peer_key, any_value(caller) AS caller, any_value(SpanName) AS SpanName,
               any_value(peer) AS peer, any_value(host) AS host, any_value(port) AS port,
               any_value(dest) AS dest
        FROM th_open GROUP BY target, peer_key)
), levels AS (
    SELECT c.target, c.peer AS callee, 1 AS level, 1.0 AS base, c.peer_key AS resolution, 1 AS n
    FROM c JOIN th_services s ON s.name = c.peer
    UNION ALL
    SELECT c.target, l.callee, 2, 0.95, 'target seen continued', 1
    FROM c JOIN th_learn l ON l.value = c.peer
    UNION ALL
    SELECT c.target, l.callee, 2, 0.95, 'target seen continued', 1
    FROM c JOIN th_learn l ON l.value = c.dest
    UNION ALL
    SELECT c.target, l.callee, 2, 0.95, 'target seen continued', 1
    FROM c JOIN th_learn l ON l.value = c.hp
    UNION ALL
    SELECT c.target, a.service, 3, 0.95, 'server address ' || c.host || ':' || c.port, a.n
    FROM c JOIN th_addr a ON a.key = c.hp
    UNION ALL
    SELECT c.target, a.service, 4, 0.85, 'server host ' || c.host, a.n
    FROM c JOIN th_addr a ON a.key = c.h AND (c.port IS NULL OR NOT a.ported)
    UNION ALL
    SELECT c.target, l.callee, 4, 0.85, 'host seen continued', 1
    FROM c JOIN th_learn l ON l.value = c.h
    UNION ALL
    SELECT c.target, s.name, 5, 0.8, 'host name', 1
    FROM c JOIN th_services s ON s.name = split_part(split_part(c.host, ':', 1), '.', 1)
    UNION ALL
    SELECT c.target, a.service, 5, 0.8, 'host name', a.n
    FROM c JOIN th_addr a ON a.key = 'h:' || split_part(c.host, '.', 1)
    WHERE c.host NOT SIMILAR TO '[0-9.]+'
    UNION ALL
    SELECT c.target, l.callee, 6, 0.7, 'span name', 1
    FROM c JOIN th_learn l ON l.value = c.caller || ' ' || c.SpanName
    WHERE c.host IS NULL AND c.peer IS NULL  -- a call that says where it went is judged by that
    UNION ALL  -- weakest: each call must then agree on the path and start the answer (th_cand)
    SELECT r.target, r.callee, 7, 0.6,
           CASE WHEN r.addr IS NULL THEN 'method ' || r.path || ' (the call names no address)'
                -- gRPC servers record no address of their own: not a sign of a proxy
                WHEN r.rpc THEN 'method ' || r.path || ' (no server span records ' || r.addr
                     || ')'
                ELSE 'method and path ' || r.path || ' (' || r.addr
                     || ' is no service''s: a proxy?)' END, 1
    FROM th_routes r
), best AS (
    SELECT target, callee, min(level) AS level, arg_min(base, level) AS base,
           arg_min(resolution, level) AS resolution, sum(n) AS n
    FROM levels GROUP BY target, callee
)
SELECT target, callee, base, resolution, n, level FROM best
QUALIFY level = min(level) OVER (PARTITION BY target);
"""

# Only what depends on the pair is aggregated; what depends on the call alone (caller, base,
# resolution: a call with no callee can only be matched by parent span ID) is joined after.
_CANDIDATES = """
CREATE OR REPLACE TEMP TABLE th_cand AS
WITH keyed_calls AS (
    SELECT o.rid, o.TraceId, o.SpanKind, o.s, o.e, o.dest, o.path, o.method,
           's:' || k.callee AS k, k.level = 7 AS by_route
    FROM th_open o JOIN th_callees k ON k.target = o.target
    UNION ALL
    SELECT rid, TraceId, SpanKind, s, e, dest, path, method, 'd:' || dest, false
    FROM th_open WHERE dest IS NOT NULL AND SpanKind = 'Producer'
), windows AS (
    SELECT *, s - {tol} AS lo,
        coalesce(e, s) + {tol} + CASE WHEN SpanKind = 'Producer' THEN {lag} ELSE 0 END
            + CASE WHEN e IS NULL THEN {open_call} ELSE 0 END AS hi
    FROM keyed_calls
), expanded AS (
    -- messages wait in queues: their windows are wider, so their buckets are too.  A call
    -- meets the answers whose bucket is in [b_lo, b_hi]; it is joined by groups of {group}
    -- buckets (`bb`), then filtered by bucket: a window is tens to hundreds of buckets wide,
    -- and a row per bucket made millions of rows
    SELECT *, unnest(range(b_lo // {group}, b_hi // {group} + 1)) AS bb FROM (
        SELECT *, lo // w AS b_lo, least(hi // w, lo // w + 512) AS b_hi
        FROM (SELECT *, CASE WHEN SpanKind = 'Producer' THEN {mwidth} ELSE {width} END AS w
              FROM windows))
), keyed_answers AS (
    SELECT *, b // {group} AS bb FROM (
        SELECT *, s // CASE WHEN SpanKind = 'Consumer' THEN {mwidth} ELSE {width} END AS b
        FROM (SELECT rid, TraceId, SpanKind, s, dest, path, method, 's:' || ServiceName AS k
              FROM th_answers
              UNION ALL
              SELECT rid, TraceId, SpanKind, s, dest, path, method, 'd:' || dest FROM th_answers
              WHERE dest IS NOT NULL))
), timed AS (
    SELECT c.rid AS call, a.rid AS answer, false AS exact, a.s - c.s AS gap,
           a.s BETWEEN c.s AND coalesce(c.e, a.s) OR c.SpanKind = 'Producer' AND a.s >= c.s
               AS inside,
           a.TraceId = c.TraceId AS same_trace,
           -- a proxy may strip a path prefix, never change the method
           coalesce(a.path = c.path OR ends_with(c.path, a.path) OR ends_with(a.path, c.path),
                    true) AS agree
    FROM expanded c JOIN keyed_answers a
      ON a.k = c.k AND a.bb = c.bb AND a.b BETWEEN c.b_lo AND c.b_hi
    WHERE a.s BETWEEN c.lo AND c.hi AND coalesce(a.dest = c.dest, true)
      AND coalesce(a.method = c.method, true)
      -- a callee known by its route alone: the route must be this call's, inside it (to
      -- the grain of the caller's clock)
      AND (NOT c.by_route OR a.s BETWEEN c.s - {grain} AND coalesce(c.e, a.s) + {grain}
           AND (a.path = c.path OR ends_with(c.path, a.path) OR ends_with(a.path, c.path)))
), claimed AS (
    SELECT answer, call FROM timed WHERE same_trace
), exact AS (
    SELECT c.rid, a.rid, true, a.s - c.s, true, false, true
    FROM th_open c JOIN th_answers a ON a.ParentSpanId = c.SpanId AND a.TraceId <> c.TraceId
    UNION ALL  -- the message the producer sent is the one the consumer received
    SELECT c.rid, a.rid, true, a.s - c.s, true, false, true
    FROM th_open c JOIN th_answers a
      ON a.message_id = c.message_id AND a.TraceId <> c.TraceId AND c.SpanKind = 'Producer'
), pairs AS (
    SELECT call, answer, bool_or(exact) AS exact, any_value(gap) AS gap, bool_or(inside) AS inside,
           bool_or(agree) AS agree
    FROM (SELECT * FROM timed UNION ALL SELECT * FROM exact)
    WHERE NOT same_trace AND (exact OR answer NOT IN (SELECT answer FROM claimed)
                               AND call NOT IN (SELECT call FROM claimed))
    GROUP BY call, answer
)
SELECT p.*, o.caller FROM pairs p JOIN th_open o ON o.rid = p.call
"""

_ROUND = """
INSERT INTO th_match
WITH avail AS (
    SELECT call, answer, exact, gap, inside, agree FROM th_cand
    WHERE call NOT IN (SELECT call FROM th_match) AND answer NOT IN (SELECT answer FROM th_match)
), best_a AS (
    SELECT * FROM avail
    QUALIFY row_number() OVER (PARTITION BY answer ORDER BY exact DESC, agree DESC, inside DESC,
                               CASE WHEN gap >= 0 THEN gap ELSE -20 * gap END, call) = 1
)
SELECT * FROM best_a
QUALIFY row_number() OVER (PARTITION BY call ORDER BY exact DESC, agree DESC, inside DESC,
                           CASE WHEN gap >= 0 THEN gap ELSE -20 * gap END, answer) = 1
"""

_PAIRS = """
WITH rivals AS (
    SELECT answer, count(DISTINCT caller) AS callers FROM th_cand GROUP BY answer
)
SELECT c.TraceId, c.SpanId, c.caller, c.SpanName, c.SpanKind, c.rid,
       a.TraceId, a.SpanId, a.ServiceName, a.SpanName, a.rid, m.gap,
       m.exact AND a.ParentSpanId = c.SpanId,
       -- in DOUBLE, as always: 0.95 * 0.7 rounds to 0.66, not to DECIMAL's 0.67
       round(coalesce(k.base, CASE WHEN c.dest IS NOT NULL THEN 0.9 END, 1.0)::DOUBLE
             * CASE WHEN m.inside THEN 1.0 ELSE 0.7 END
             * CASE WHEN m.agree THEN 1.0 ELSE 0.8 END / r.callers, 2),
       CASE WHEN m.exact AND a.ParentSpanId = c.SpanId THEN 'parent span ID'
            WHEN m.exact THEN 'message ID' ELSE coalesce(k.resolution, 'destination') END
FROM th_match m JOIN th_open c ON c.rid = m.call JOIN th_answers a ON a.rid = m.answer
JOIN rivals r ON r.answer = m.answer
LEFT JOIN th_callees k ON k.target = c.target AND k.callee = a.ServiceName
"""

_EDGES = """
WITH first AS (  -- a route alone names no callee for the calls nobody answered
    SELECT target, arg_max(callee, n) AS callee FROM th_callees WHERE level < 7 GROUP BY target
), rows AS (
    SELECT caller, callee, kind AS SpanKind, 1 AS continued, 0 AS broken, NULL AS trace
    FROM th_cont
    UNION ALL
    -- a call nobody answered in the data names its peer as the caller recorded it
    SELECT o.caller,
           coalesce(a.ServiceName, f.callee, o.peer, o.host || coalesce(':' || o.port, ''),
                    o.dest, o.rpc, o.system),
           o.SpanKind, 0, CASE WHEN m.call IS NULL THEN 0 ELSE 1 END,
           CASE WHEN m.call IS NOT NULL THEN o.TraceId END
    FROM th_open o LEFT JOIN first f ON f.target = o.target
    LEFT JOIN th_match m ON m.call = o.rid LEFT JOIN th_answers a ON a.rid = m.answer
)
SELECT caller, callee, CASE WHEN SpanKind = 'Producer' THEN 'message' ELSE 'request' END AS kind,
       count(*), sum(continued), sum(broken), min(trace),
       callee IN (SELECT name FROM th_services) AS seen
FROM rows WHERE callee IS NOT NULL
GROUP BY ALL ORDER BY sum(broken) DESC, seen DESC, count(*) DESC, caller, callee
"""


@dataclass
class Hops:
    """What C003 found: findings, per-edge counts, and the callee-side spans of each edge."""

    findings: list[Finding] = field(default_factory=list)
    edge_counts: list[tuple[str, str, str, int, int, int, str | None, bool]] = field(
        default_factory=list
    )
    """``(caller, callee, kind, calls, continued, broken, example caller trace, seen)``.

    ``seen`` is false for a peer with no span in the data (a database, an external API, a
    service that exported nothing): its calls are neither continued nor broken."""
    exact: dict[tuple[str, str], int] = field(default_factory=dict)
    """Broken calls per edge whose callee kept the caller's span ID but not its trace ID."""


def match_hops(store: Store) -> Hops:
    """Pair open calls with the new traces their callees started (needs `_sql.install`)."""
    con = store.con
    con.execute(ENDPOINTS)
    con.execute(_CALLS)
    width = store.scalar(
        "SELECT coalesce(median(e - s), 0) FROM th_open WHERE e IS NOT NULL AND e > s"
    )
    width = int(min(max(width or 0, 1_000_000), 10_000_000_000))
    lag = store.scalar(
        "SELECT quantile_cont(xs - coalesce(ce, cs), 0.99) FROM th_cont WHERE kind = 'Producer'"
    )
    lag = int(max(2 * (lag or 0), 1_000_000_000)) if lag is not None else DEFAULT_QUEUE_LAG_NS
    con.execute(
        _CANDIDATES.format(
            tol=SKEW_TOLERANCE_NS,
            lag=lag,
            width=width,
            mwidth=max(width, lag // 256),
            open_call=DEFAULT_QUEUE_LAG_NS,
            group=BUCKET_GROUP,
            grain=CLOCK_GRAIN_NS,
        )
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE th_match "
        "(call BIGINT, answer BIGINT, exact BOOLEAN, gap BIGINT, inside BOOLEAN, agree BOOLEAN)"
    )
    for _ in range(MAX_ROUNDS):
        before = store.scalar("SELECT count(*) FROM th_match")
        con.execute(_ROUND)
        if store.scalar("SELECT count(*) FROM th_match") == before:
            break
    hops = Hops()
    known = locations(store, "SELECT call FROM th_match UNION ALL SELECT answer FROM th_match")
    for row in store.query(_PAIRS):
        hops.findings.append(_finding(row, known))
        if row[12]:
            key = (row[2], row[8])
            hops.exact[key] = hops.exact.get(key, 0) + 1
    hops.edge_counts = [
        (caller, callee, kind, int(calls), int(cont), int(broken), trace, bool(seen))
        for caller, callee, kind, calls, cont, broken, trace, seen in store.query(_EDGES)
    ]
    return hops


def _finding(row: tuple[Any, ...], known: dict[int, str | None]) -> Finding:
    (
        trace_id,
        span_id,
        caller,
        name,
        kind,
        call,
        callee_trace,
        callee_span,
        callee,
        callee_name,
        answer,
        gap,
        exact,
        confidence,
        resolution,
    ) = row
    loc, callee_loc = known[call], known[answer]
    when = f"{ms(gap)} {'after' if gap >= 0 else 'before'} the call started"
    how = (
        "it kept the caller's span ID as parent but not its trace ID"
        if exact
        else f"its root span '{callee_name}' started {when}"
    )
    return finding(
        "C003",
        f"{caller} → {callee}: {kind.lower()} '{name}' was answered in another trace "
        f"({callee_trace}); {how}",
        trace_id=trace_id,
        span_id=span_id,
        service=caller,
        loc=loc,
        details={
            "caller": caller,
            "callee": callee,
            "callee_trace_id": callee_trace,
            "callee_span_id": callee_span,
            "callee_location": callee_loc,
            "confidence": float(confidence),
            "matched_by": resolution,
            "gap_ns": int(gap),
        },
    )
