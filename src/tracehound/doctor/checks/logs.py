"""The log family (G): follow one request through every service's logs by a key.

G001: the trace ID a service logged for a request (``order_id=o-17``) is not the
one the services before it logged: the trace changed (or vanished) at that hop,
aggregated per caller → callee like C003.  G002: a service that exported spans
logs no trace ID at all, so its logs cannot be joined to its traces.

The key is the user's (``--by``/``--log-key``) or the field the most services'
logs share values of (`suggest_keys`).  Services are ordered per request by the
time of their first line; a callee's caller is the latest earlier service the
span edges name as its caller, else the latest earlier service that logged.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tracehound.doctor._model import Edge, Evidence, SkippedCheck
from tracehound.doctor.evidence.logs._ids import SPAN_KEYS, TRACE_KEYS, key_form
from tracehound.doctor.evidence.logs._record import role_of
from tracehound.doctor.evidence.logs._writers import fix_for
from tracehound.doctor.store import Store
from tracehound.rules import Finding, get_rule

__all__ = [
    "KeySuggestion",
    "LogHop",
    "LogsResult",
    "callers_of",
    "check",
    "hops",
    "suggest_keys",
]

SAMPLE_ROWS = 200_000
"""Log lines sampled to suggest a key (a reservoir over all inputs, the same each run)."""

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
    """Fields whose values recur in more than one service's logs, best first."""
    rows = store.query(
        f"""
        WITH s AS (
            SELECT ServiceName AS svc, LogAttributes FROM otel_logs
            USING SAMPLE reservoir({SAMPLE_ROWS} ROWS) REPEATABLE (7)
        ), kv AS (
            SELECT svc, je.key AS k, je.value ->> '$' AS v
            FROM s, json_each(s.LogAttributes) AS je
            WHERE json_type(je.value) IN ('VARCHAR', 'BIGINT', 'UBIGINT')
        ), shared AS (
            SELECT k, v FROM kv GROUP BY k, v HAVING count(DISTINCT svc) > 1
        )
        SELECT kv.k, count(DISTINCT kv.svc), count(DISTINCT shared.v), min(shared.v)
        FROM kv LEFT JOIN shared ON kv.k = shared.k AND kv.v = shared.v
        GROUP BY kv.k
        HAVING count(DISTINCT shared.v) > 1
        ORDER BY 3 DESC, 2 DESC, 1
        """
    )
    found = [
        KeySuggestion(k, int(services), int(values), str(example))
        for k, services, values, example in rows
        if key_form(k) not in _NOT_KEYS and role_of(k) == "attr"
    ]
    return found[:limit]


def _attribute_paths(store: Store, key: str) -> list[str]:
    """The attribute names in the logs that spell ``key`` (``X-Request-ID``, ``requestId``
    and ``request_id`` are one key), the exact spelling first."""
    names = [
        name
        for (name,) in store.query(
            """SELECT DISTINCT je.key FROM
               (SELECT LogAttributes FROM otel_logs
                USING SAMPLE reservoir(100000 ROWS) REPEATABLE (7)) s,
               json_each(s.LogAttributes) AS je"""
        )
    ]
    wanted = _loose(key)
    matching = sorted((n for n in names if _loose(n) == wanted), key=lambda n: n != key)
    return matching or [key]


def _loose(name: str) -> str:
    """``name`` compared loosely: case, separators and a header's ``X-`` prefix ignored."""
    form = key_form(name)
    return form[1:] if name.lower().startswith(("x-", "x_")) else form


def hops(
    store: Store, key: str, callers: dict[str, set[str]] | None = None
) -> tuple[list[LogHop], int]:
    """The caller → callee hops of the requests named by ``key`` in the logs, and how many
    requests more than one service logged.  ``callers`` maps a service to the callers the
    span edges know."""
    paths = _attribute_paths(store, key)
    value = "coalesce(" + ", ".join("json_extract_string(LogAttributes, ?)" for _ in paths) + ")"
    params = [f'$."{p}"' for p in paths]
    rows = store.query(
        f"""
        WITH traced AS (
            SELECT ServiceName FROM otel_logs GROUP BY 1 HAVING count(TraceId) > 0
        ), l AS (
            SELECT {value} AS k, ServiceName AS svc, "Timestamp" AS ts, TraceId AS tr,
                   Source || ':' || "Offset" AS loc, rowid AS r
            FROM otel_logs WHERE ServiceName IN (SELECT ServiceName FROM traced)
        )
        SELECT k, svc, min(ts) AS first, arg_min(loc, (ts, r)),
               arg_min(tr, (ts, r)) FILTER (WHERE tr IS NOT NULL),
               min(ts) FILTER (WHERE tr IS NOT NULL),
               max(ts) FILTER (WHERE tr IS NULL)
        FROM l WHERE k IS NOT NULL
        GROUP BY k, svc
        ORDER BY k, first, svc
        """,
        params,
    )
    by_key: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for row in rows:
        by_key[row[0]].append(row)
    found: dict[tuple[str, str], LogHop] = {}
    followed = 0
    callers = callers or {}
    for k, services in by_key.items():
        if len(services) < 2:
            continue
        followed += 1
        for i in range(1, len(services)):
            _, callee, _, loc, trace, _, _ = services[i]
            earlier = services[:i]
            known = [s for s in earlier if s[1] in callers.get(callee, ())]
            continued_from = [s for s in earlier if trace is not None and s[4] == trace]
            caller_row = (continued_from or known or earlier)[-1]
            caller = caller_row[1]
            hop = found.setdefault((caller, callee), LogHop(caller, callee))
            hop.requests += 1
            if continued_from:
                hop.continued += 1
                continue
            if caller_row[4] is None:
                hop.requests -= 1  # nothing to compare with: the caller logged no trace
                continue
            # the caller logged a line without the trace ID after one with it: the
            # context went away inside the caller (a thread, a task) before the call
            first_traced, last_untraced = caller_row[5], caller_row[6]
            lost = last_untraced is not None and last_untraced > first_traced
            if trace is None:
                hop.vanished += 1
            else:
                hop.changed += 1
            hop.lost_in_caller += int(lost)
            if not hop.example:
                hop.example = {
                    "key": key,
                    "value": k,
                    "caller_trace_id": caller_row[4],
                    "callee_trace_id": trace,
                    "caller_location": caller_row[3],
                    "location": loc,
                }
    return sorted(found.values(), key=lambda h: (-h.broken, h.caller, h.callee)), followed


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
    result.hops, result.followed = hops(store, chosen, callers)
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
