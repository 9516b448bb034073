"""What the services' runtimes reported (runtime findings files), beside the doctor's findings.

The doctor only sees what was exported: a span never ended is never
exported, and a context lost in a worker thread looks like any other root.
The runtime inside the service saw it happen, with the ``file:line``.  Each
(service, rule, location) becomes one finding, marked
``details["reported_by"] = "runtime"``, with the number of occurrences: the
counts each process wrote at shutdown, or the lines it wrote when it wrote
no counts (it crashed, or is still running).
"""

from __future__ import annotations

import json
from typing import Any

from tracehound.doctor.sources.runtime_findings import COUNTS_TABLE, TABLE
from tracehound.doctor.store import Store
from tracehound.rules import Finding, get_rule

__all__ = ["check"]

_Key = tuple[str, str, str | None]
"""(service, rule code, location)"""
_Process = tuple[str, int | None]
"""(input, process ID)"""

_FIRST_LINES = f"""
SELECT ServiceName, Code, Location, Message, TraceId, SpanId, Details, "Time",
       Source || ':' || "Offset", Source, Pid
FROM {TABLE} ORDER BY rowid
"""
_COUNTS = f"""
SELECT ServiceName, Code, Location, Source, Pid, sum("Count")
FROM {COUNTS_TABLE} GROUP BY ALL
"""


def check(store: Store) -> list[Finding]:
    """One finding per service, rule and program location the runtimes reported."""
    counted: dict[_Key, dict[_Process, int]] = {}
    processes_counted: set[_Process] = set()
    for service, code, location, source, pid, count in store.query(_COUNTS):
        counted.setdefault((service, code, location), {})[(source, pid)] = int(count)
        processes_counted.add((source, pid))
    groups: dict[_Key, dict[str, Any]] = {}
    for service, code, location, message, trace_id, span_id, details, time, where, source, pid in (
        store.query(_FIRST_LINES)
    ):
        group = groups.setdefault(
            (service, code, location),
            {
                "message": message,
                "trace_id": trace_id,
                "span_id": span_id,
                # json, not orjson: an integer over 64 bits stays exact (findings are few)
                "details": json.loads(details) if details else {},
                "time": time,
                "where": where,
                "lines": {},
            },
        )
        process = (source, pid)
        group["lines"][process] = group["lines"].get(process, 0) + 1
    found = []
    for key in [*groups, *(k for k in counted if k not in groups)]:
        service, code, location = key
        counts = counted.get(key, {})
        group = groups.get(key)
        lines: dict[_Process, int] = group["lines"] if group else {}
        # a process that wrote its counts counted every occurrence, written or not
        uncounted = {p: n for p, n in lines.items() if p not in processes_counted}
        occurrences = sum(counts.values()) + sum(uncounted.values())
        times = "once" if occurrences == 1 else f"{occurrences} times"
        details = {
            "reported_by": "runtime",
            "occurrences": occurrences,
            "counted": not uncounted,
            "processes": len(set(counts) | set(lines)),
        }
        if group is None:  # counted only: over the rate limit, never written nor logged
            found.append(
                Finding(
                    get_rule(code),
                    f"reported by the runtime in {service} ({times}); counted at shutdown, "
                    "not written (over the rate limit of the log and the findings file)",
                    service=service,
                    location=location,
                    details={**details, "written": False},
                )
            )
            continue
        found.append(
            Finding(
                get_rule(code),
                f"reported by the runtime in {service} ({times}): {group['message']}",
                trace_id=group["trace_id"],
                span_id=group["span_id"],
                service=service,
                location=location,
                details={
                    **group["details"],
                    **details,
                    "first_reported": group["time"],
                    "read_from": group["where"],
                },
            )
        )
    return found
