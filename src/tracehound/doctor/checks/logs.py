"""The log family (G): follow one request through every service's logs by a key.

G001: the trace ID a service logged for a request (``order_id=o-17``) is not the
one the services before it logged: the trace changed (or vanished) at that hop,
aggregated per caller → callee like C003.  G002: a service that exported spans
logs no trace ID at all, so its logs cannot be joined to its traces.

The key is the user's (``--by``/``--log-key``) or the field the most services'
logs share values of (`suggest_keys`).  Services are ordered per request by the
time of their first line; a service's caller is the latest earlier one that
logged the same trace ID (the trace continued), else the latest earlier one the
span edges name as its caller, else the latest earlier one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import duckdb

from tracehound.doctor._model import Edge, Evidence, SkippedCheck
from tracehound.doctor.evidence.logs._ids import SPAN_KEYS, TRACE_KEYS, key_form
from tracehound.doctor.evidence.logs._record import role_of
from tracehound.doctor.evidence.logs._writers import fix_for
from tracehound.doctor.store import Store
from tracehound.rules import Finding, get_rule

_T = TypeVar("_T")

__all__ = [
    "KeySuggestion",
    "LogHop",
    "LogsResult",
    "callers_of",
    "check",
    "hops",
    "suggest_keys",
]

SAMPLE_ROWS = 50_000
"""Log lines sampled to suggest a key (a reservoir over all inputs, the same each run):
of 4.6M lines of a 1 GB directory, still hundreds of values every service logged."""
NAME_SAMPLE_ROWS = 20_000
"""Log lines sampled for the field names (each service's own spelling of a key)."""
MEMORY_LIMIT = "1GB"
"""DuckDB's memory while the requests are followed: ordering millions of requests per
service took 1.8 GB for 2.4M lines (a 400 MB directory) uncapped; capped, it spills to
the store's temporary directory."""
MAX_CANDIDATES = 64
"""Fields compared at most to suggest a key (the most frequent)."""

_NOT_KEYS = {
    *TRACE_KEYS, *SPAN_KEYS, "oteltracesampled", "otelservicename", "pid", "tid", "thread",
    "threadname", "hostname", "host", "caller", "file", "line", "lineno", "func", "funcname",
    "module", "filename", "pathname", "process", "processname", "taskname", "v", "version",
    "duration", "elapsed", "status", "statuscode", "latency", "method", "port",
}  # fmt: skip
"""Fields that never identify a request (IDs of the trace itself, process facts, measures);
nor do a line's time, level, message, service or logger (`role_of`)."""


@dataclass(frozen=True)
class KeySuggestion:
    """A log field whose values recur across services: a candidate to follow requests by."""

    key: str
    services: int
    """Services whose lines carry it."""
    shared_values: int
    """Values of it logged by more than one service."""
    example: str


@dataclass
class LogHop:
    """Requests seen in a caller's and a callee's logs, and how many kept the trace ID."""

    caller: str
    callee: str
    requests: int = 0
    continued: int = 0
    changed: int = 0
    vanished: int = 0
    lost_in_caller: int = 0
    """Broken requests whose caller itself logged lines without the trace ID after lines
    with it: the context was lost inside the caller."""
    example: dict[str, Any] = field(default_factory=dict)

    @property
    def broken(self) -> int:
        return self.changed + self.vanished


@dataclass
class LogsResult:
    findings: list[Finding] = field(default_factory=list)
    evidence: list[tuple[str, str, Evidence]] = field(default_factory=list)
    skipped: list[SkippedCheck] = field(default_factory=list)
    key: str | None = None
    hops: list[LogHop] = field(default_factory=list)
    followed: int = 0
    """Requests logged by more than one service."""


def suggest_keys(store: Store, limit: int = 5) -> list[KeySuggestion]:
    """Fields whose values recur in more than one service's logs, best first (over a
    sample of `SAMPLE_ROWS` lines, the same each run)."""
    candidates = [
        name
        for name in _field_names(store)
        if key_form(name) not in _NOT_KEYS and role_of(name) == "attr"
    ][:MAX_CANDIDATES]
    if not candidates:
        return []
    rows = store.query(
        f"""
        WITH kv AS (
            SELECT svc, k, json_extract_string(a, '$."' || k || '"') AS v
            FROM (
                SELECT ServiceName AS svc, LogAttributes AS a FROM otel_logs
                USING SAMPLE reservoir({SAMPLE_ROWS} ROWS) REPEATABLE (7)
            ), unnest(?::VARCHAR[]) AS t(k)
        ), shared AS (
            SELECT k, v FROM kv WHERE v IS NOT NULL AND v NOT LIKE '{{%' AND v NOT LIKE '[%'
            GROUP BY k, v HAVING count(DISTINCT svc) > 1
        )
        SELECT k, (SELECT count(DISTINCT svc) FROM kv WHERE kv.k = shared.k AND v IS NOT NULL),
               count(*), min(v)
        FROM shared GROUP BY k HAVING count(*) > 1
        ORDER BY 3 DESC, 2 DESC, 1
        """,
        [candidates],
    )
    return [KeySuggestion(k, int(n), int(values), str(ex)) for k, n, values, ex in rows][:limit]


def _field_names(store: Store) -> list[str]:
    """The field names of a sample of the log lines, most frequent first."""
    return [
        name
        for (name,) in store.query(
            f"""SELECT je.key FROM
                (SELECT LogAttributes FROM otel_logs
                 USING SAMPLE reservoir({NAME_SAMPLE_ROWS} ROWS) REPEATABLE (7)) s,
                json_each(s.LogAttributes) AS je
                GROUP BY 1 ORDER BY count(*) DESC, 1"""
        )
    ]


def _attribute_paths(store: Store, key: str) -> list[str]:
    """The field names in the logs that spell ``key`` (``X-Request-ID``, ``requestId`` and
    ``request_id`` are one key), the exact spelling first."""
    wanted = _loose(key)
    names = [n for n in _field_names(store) if _loose(n) == wanted]
    return sorted(names, key=lambda n: n != key) or [key]


def _loose(name: str) -> str:
    """``name`` compared loosely: case, separators and a header's ``X-`` prefix ignored."""
    form = key_form(name)
    return form[1:] if name.lower().startswith(("x-", "x_")) else form


def hops(
    store: Store, key: str, callers: dict[str, set[str]] | None = None
) -> tuple[list[LogHop], int]:
    """The caller → callee hops of the requests named by ``key`` in the logs, and how many
    requests more than one service logged.  ``callers`` maps a service to the callers the
    span edges know.  One query: the requests stay in DuckDB, only the hops come back."""
    paths = _attribute_paths(store, key)
    value = "coalesce(" + ", ".join("json_extract_string(LogAttributes, ?)" for _ in paths) + ")"
    params: list[Any] = [f'$."{p}"' for p in paths]
    pairs = [(caller, callee) for callee, known in (callers or {}).items() for caller in known]
    known, known_join = "", "CROSS JOIN (SELECT NULL AS svc, NULL AS trace, NULL AS loc, " \
        "NULL::BOOLEAN AS lost) kn"  # fmt: skip
    if pairs:
        edges = ", ".join("(?, ?)" for _ in pairs)
        params += [name for pair in pairs for name in pair]
        known = f""", edges AS (SELECT * FROM (VALUES {edges}) e(a, b)),
        known AS (  -- else the latest earlier one the span edges name as its caller
            SELECT a.k, a.pos, arg_max(b.svc, b.pos) AS svc, arg_max(b.trace, b.pos) AS trace,
                   arg_max(b.lost, b.pos) AS lost, arg_max(b.loc, b.pos) AS loc
            FROM m a JOIN edges ON edges.b = a.svc
            JOIN m b ON a.k = b.k AND b.pos < a.pos AND edges.a = b.svc
            GROUP BY a.k, a.pos
        )"""
        known_join = "LEFT JOIN known kn ON kn.k = s.k AND kn.pos = s.pos"
    rows = store.query(
        f"""
        WITH traced AS (
            -- a service that never logs a trace ID says nothing about any hop (G002)
            SELECT ServiceName FROM otel_logs GROUP BY 1 HAVING count(TraceId) > 0
        ), g AS (
            -- each request (k) in each service: its first line, the trace ID it logged
            -- first, and whether it logged a line without one after a line with one
            -- (the row of its first line, not its place: strings per request cost memory)
            SELECT k, svc, min(ts) AS first, arg_min(r, (ts, r)) AS loc,
                   arg_min(tr, (ts, r)) FILTER (WHERE tr IS NOT NULL) AS trace,
                   coalesce(max(ts) FILTER (WHERE tr IS NULL)
                            > min(ts) FILTER (WHERE tr IS NOT NULL), false) AS lost
            FROM (
                SELECT {value} AS k, ServiceName AS svc, "Timestamp" AS ts, TraceId AS tr,
                       rowid AS r
                FROM otel_logs WHERE ServiceName IN (SELECT ServiceName FROM traced)
            ) WHERE k IS NOT NULL
            GROUP BY k, svc
        ), m AS (
            -- the services of each request logged by more than one, in the order they
            -- first logged it, each beside the one before it (windows, not self-joins:
            -- millions of requests must not take a hash table each)
            SELECT * FROM (
                SELECT *, row_number() OVER w AS pos, count(*) OVER (PARTITION BY k) AS n,
                       lag(svc) OVER w AS prev_svc, lag(trace) OVER w AS prev_trace,
                       lag(lost) OVER w AS prev_lost, lag(loc) OVER w AS prev_loc
                FROM g WINDOW w AS (PARTITION BY k ORDER BY first, svc)
            ) WHERE n > 1
        ), s AS (  -- the latest earlier service that logged the same trace ID
            SELECT *, CASE WHEN trace IS NOT NULL THEN lag(svc) OVER t END AS same_svc,
                      CASE WHEN trace IS NOT NULL THEN lag(loc) OVER t END AS same_loc
            FROM m WINDOW t AS (PARTITION BY k, trace ORDER BY pos)
        ){known}, j AS (  -- else the one just before
            SELECT s.k, s.pos, s.svc AS callee, s.trace, s.loc,
                   s.same_svc IS NOT NULL AS continued,
                   CASE WHEN s.same_svc IS NOT NULL THEN s.same_svc
                        WHEN kn.svc IS NOT NULL THEN kn.svc ELSE s.prev_svc END AS caller,
                   CASE WHEN s.same_svc IS NOT NULL THEN s.trace
                        WHEN kn.svc IS NOT NULL THEN kn.trace ELSE s.prev_trace END
                       AS caller_trace,
                   CASE WHEN s.same_svc IS NOT NULL THEN s.same_loc
                        WHEN kn.svc IS NOT NULL THEN kn.loc ELSE s.prev_loc END AS caller_loc,
                   CASE WHEN kn.svc IS NOT NULL THEN kn.lost ELSE s.prev_lost END AS caller_lost
            FROM s {known_join}
            WHERE s.pos > 1
        ), h AS (
            SELECT *, NOT continued AND caller_trace IS NOT NULL AS broken FROM j
        )
        SELECT caller, callee,
               count(*) FILTER (WHERE continued OR caller_trace IS NOT NULL),
               count(*) FILTER (WHERE continued),
               count(*) FILTER (WHERE broken AND trace IS NOT NULL),
               count(*) FILTER (WHERE broken AND trace IS NULL),
               count(*) FILTER (WHERE broken AND caller_lost),
               arg_min([k, caller_trace, trace, caller_loc::VARCHAR, loc::VARCHAR], k)
                   FILTER (WHERE broken),
               count(*) FILTER (WHERE pos = 2)  -- once per request
        FROM h GROUP BY caller, callee
        """,
        params,
    )
    examples = [row[7] for row in rows if row[7] is not None]
    places = dict(
        store.query(
            """SELECT rowid, Source || ':' || "Offset" FROM otel_logs
               WHERE rowid IN (SELECT unnest(?::BIGINT[]))""",
            [[int(ex[i]) for ex in examples for i in (3, 4)]],
        )
        if examples
        else []
    )
    found = []
    for caller, callee, requests, continued, changed, vanished, lost, ex, _ in rows:
        if not requests:
            continue  # the callers logged no trace ID for these requests: nothing to compare
        hop = LogHop(caller, callee, requests, continued, changed, vanished, lost)
        if ex is not None:
            value, caller_trace, callee_trace, caller_row, callee_row = ex
            hop.example = {
                "key": key,
                "value": value,
                "caller_trace_id": caller_trace,
                "callee_trace_id": callee_trace,
                "caller_location": places.get(int(caller_row)),
                "location": places.get(int(callee_row)),
            }
        found.append(hop)
    found.sort(key=lambda h: (-h.broken, h.caller, h.callee))
    return found, sum(int(row[-1]) for row in rows)


def _capped(store: Store, run: Callable[[], _T]) -> _T:
    """``run()`` with DuckDB held to `MEMORY_LIMIT` (it spills beyond it); again without
    the limit if an operator cannot spill."""
    store.con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    try:
        return run()
    except duckdb.OutOfMemoryException:
        store.con.execute("RESET memory_limit")
        return run()
    finally:
        store.con.execute("RESET memory_limit")


def callers_of(edges: Iterable[Edge]) -> dict[str, set[str]]:
    """The callers of each service, as the span edges know them."""
    found: dict[str, set[str]] = defaultdict(set)
    for edge in edges:
        found[edge.callee].add(edge.caller)
    return found


def check(
    store: Store, key: str | None = None, callers: dict[str, set[str]] | None = None
) -> LogsResult:
    """G001 and G002 over ``otel_logs`` (nothing when no logs were given)."""
    result = LogsResult()
    if not store.scalar("SELECT count(*) > 0 FROM otel_logs"):
        return result
    result.findings.extend(_not_correlated(store))
    chosen = key
    if chosen is None:
        suggestions = suggest_keys(store, limit=1)
        chosen = suggestions[0].key if suggestions else None
    if chosen is None:
        result.skipped.append(
            SkippedCheck(
                "logs",
                "no log field carries the same values in more than one service; name the "
                "field that identifies a request with --log-key",
            )
        )
        return result
    result.key = chosen
    result.hops, result.followed = _capped(store, lambda: hops(store, chosen, callers))
    rule = get_rule("G001")
    for hop in result.hops:
        if not hop.broken:
            continue
        ex = hop.example
        what = "changed" if ex["callee_trace_id"] else "vanished"
        callee_said = (
            f"{hop.callee} logged the new trace ID {ex['callee_trace_id']}"
            if ex["callee_trace_id"]
            else f"{hop.callee} logged no trace ID"
        )
        summary = (
            f"{callee_said} for {ex['key']} {ex['value']}, {hop.caller} logged "
            f"{ex['caller_trace_id']}; {hop.broken} of {hop.requests} requests followed by "
            f"{ex['key']}"
        )
        cause = None
        lost = ""
        if hop.lost_in_caller == hop.broken:
            cause = "not-forwarded"
            lost = (
                f"; {hop.caller} itself logged lines without the trace ID for these "
                "requests: the context was lost inside it, before the call"
            )
            summary += lost
        result.findings.append(
            Finding(
                rule,
                f"{hop.caller} → {hop.callee}: the trace ID {what} on {hop.broken} of "
                f"{hop.requests} requests in the logs ({callee_said} for {ex['key']} "
                f"{ex['value']}, {hop.caller} logged {ex['caller_trace_id']}){lost}",
                trace_id=ex["callee_trace_id"] or ex["caller_trace_id"],
                service=hop.callee,
                location=ex["location"],
                details={
                    "caller": hop.caller,
                    "callee": hop.callee,
                    "key": ex["key"],
                    "requests": hop.requests,
                    "changed": hop.changed,
                    "vanished": hop.vanished,
                    "example": ex,
                    "cause": cause,
                },
            )
        )
        evidence = Evidence("logs", ex["location"], summary, cause)
        result.evidence.append((hop.caller, hop.callee, evidence))
    return result


def _not_correlated(store: Store) -> list[Finding]:
    """G002: services with spans whose log lines carry no trace ID."""
    rows = store.query(
        """
        SELECT ServiceName, count(*),
               mode(json_extract_string(ResourceAttributes, '$."log.writer"')),
               arg_min(Source || ':' || "Offset", rowid)
        FROM otel_logs
        WHERE ServiceName IN (SELECT DISTINCT ServiceName FROM otel_traces)
        GROUP BY 1 HAVING count(TraceId) = 0
        ORDER BY 1
        """
    )
    rule = get_rule("G002")
    return [
        Finding(
            rule,
            f"{service}: none of its {lines} log lines carries a trace ID (written by "
            f"{writer}), though it exports spans: its logs cannot be joined to its traces; "
            f"fix: {fix_for(writer)}",
            service=service,
            location=location,
            details={"lines": lines, "writer": writer, "fix": fix_for(writer)},
        )
        for service, lines, writer, location in rows
    ]
