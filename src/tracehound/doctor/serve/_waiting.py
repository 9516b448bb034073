"""Requests waiting for their traces to go quiet: kept as their bodies, with their traces' IDs.

A body is about 150 bytes a span; the rows the readers make of it, about 4 KB.
`Waiting` finds the requests due by a heap of the times they may go quiet, so
that its cost follows the requests released, not the requests held (a server
behind its load holds hundreds, and looked at each of them at every request
that arrived).
"""

from __future__ import annotations

import collections
import heapq
from dataclasses import dataclass
from typing import Any

import orjson

from tracehound.doctor.serve._journal import PROTOBUF

__all__ = ["Held", "Waiting", "trace_ids"]


@dataclass
class Held:
    """A request waiting for its traces to go quiet: its body (compact), and its traces."""

    number: int
    kind: bytes
    body: bytes
    traces: frozenset[Any]
    spans: int


class Waiting:
    """The requests held, each until every trace in it had no new span for ``idle`` seconds."""

    def __init__(self, idle: float) -> None:
        self.idle = idle
        self.spans = 0
        """Spans held."""
        self.bytes = 0
        """Their requests' bodies, in bytes."""
        self.last_seen: dict[Any, float] = {}
        """When the last span of each trace held arrived."""
        self._held: dict[int, Held] = {}  # by arrival: the oldest first
        self._due: list[tuple[float, int]] = []  # (the earliest it may be quiet, arrival)
        self._holding: collections.Counter[Any] = collections.Counter()  # requests, by trace
        self._arrivals = 0

    def __len__(self) -> int:
        return len(self._held)

    def hold(self, held: Held, now: float) -> None:
        """Hold ``held``, its traces' last span seen ``now``."""
        for trace in held.traces:
            self.last_seen[trace] = now
        self._holding.update(held.traces)
        self._held[self._arrivals] = held
        heapq.heappush(self._due, (now + self.idle, self._arrivals))
        self._arrivals += 1
        self.spans += held.spans
        self.bytes += len(held.body)

    def release(
        self, now: float, max_spans: int, room: int | None = None
    ) -> list[tuple[Held, float]]:
        """The requests whose traces are all quiet, and the oldest ones while over
        ``max_spans`` held, each with the time it was (or would have been) quiet, in the
        order they arrived.  With ``room``, no JSON request and at most about ``room``
        spans (one request past it)."""
        released: list[tuple[int, Held, float]] = []
        while self._due and self._due[0][0] <= now and (room is None or room > 0):
            _, arrival = heapq.heappop(self._due)
            held = self._held.get(arrival)
            if held is None:
                continue  # released before, over ``max_spans``
            quiet = max((self.last_seen[t] for t in held.traces), default=now) + self.idle
            if quiet > now:  # a trace of it received spans since: later
                heapq.heappush(self._due, (quiet, arrival))
            elif room is not None and held.kind != PROTOBUF:  # a JSON request goes whole
                heapq.heappush(self._due, (quiet, arrival))
                break
            else:
                room = self._take(arrival, now, released, room)
        # over the cap, the oldest go before they are quiet: after the quiet ones, which
        # may bring it under (a half-arrived trace shows breaks that are not there)
        while self.spans > max_spans and self._held and (room is None or room > 0):
            arrival = next(iter(self._held))
            if room is not None and self._held[arrival].kind != PROTOBUF:
                break
            room = self._take(arrival, now, released, room)
        released.sort(key=lambda r: r[0])
        return [(held, quiet) for _, held, quiet in released]

    def _take(
        self, arrival: int, now: float, released: list[tuple[int, Held, float]], room: int | None
    ) -> int | None:
        held = self._held.pop(arrival)
        quiet = max((self.last_seen[t] for t in held.traces), default=now) + self.idle
        released.append((arrival, held, quiet))
        self.spans -= held.spans
        self.bytes -= len(held.body)
        for trace in held.traces:
            self._holding[trace] -= 1
            if not self._holding[trace]:
                del self._holding[trace]
                del self.last_seen[trace]
        return None if room is None else room - held.spans


def trace_ids(kind: bytes, body: bytes) -> tuple[frozenset[Any], int]:
    """The trace IDs a request holds, as written (bytes, or JSON strings), and its spans."""
    spans = 0
    found: set[Any] = set()
    if kind == PROTOBUF:
        try:
            message = _request_type().FromString(body)
        except Exception:
            return frozenset({b""}), 1  # the reader names what is wrong with it
        for rs in message.resource_spans:
            for ss in rs.scope_spans:
                spans += len(ss.spans)
                found.update(span.trace_id for span in ss.spans)
        return frozenset(found or {b""}), max(spans, 1)
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return frozenset({""}), 1
    for rs in _items(value, "resourceSpans", "resource_spans"):
        for ss in _items(rs, "scopeSpans", "scope_spans"):
            for span in _items(ss, "spans", "spans"):
                spans += 1
                trace = span.get("traceId", span.get("trace_id")) if type(span) is dict else None
                found.add(trace if isinstance(trace, str) else "")
    # the receiver counted spans its own way: a request is never held under no trace
    return frozenset(found or {""}), max(spans, 1)


def _items(value: Any, camel: str, snake: str) -> list[Any]:
    if not isinstance(value, dict):
        return []
    found = value.get(camel) or value.get(snake)  # as the receiver counts them
    return found if isinstance(found, list) else []


def _request_type() -> Any:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    return ExportTraceServiceRequest
