"""One HTTP request as seen on the wire or at a proxy, and what its trace headers say."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tracehound.formats import read_headers
from tracehound.formats.baggage import JAEGER_BAGGAGE_PREFIX

__all__ = ["TRACE_HEADERS", "Bad", "Context", "Exchange", "context_of", "trace_pairs"]

TRACE_HEADERS = frozenset(
    {
        "traceparent",
        "tracestate",
        "baggage",
        "uber-trace-id",
        "jaeger-baggage",
        "b3",
        "x-b3-traceid",
        "x-b3-spanid",
        "x-b3-parentspanid",
        "x-b3-sampled",
        "x-b3-flags",
    }
)
"""Header names (lower case) the trace-context formats use; ``uberctx-*`` too."""


@dataclass(frozen=True, slots=True)
class Exchange:
    """One request (and its answer, when it was seen)."""

    time_ns: int | None
    """When the request was sent (Unix ns), where the input says."""
    end_ns: int | None
    """When the answer ended (Unix ns), where known: the window the server handled it in."""
    client: str | None
    """``address:port`` (or the address alone) of the sender."""
    server: str | None
    """``address:port`` of the receiver, or the ``Host`` it was sent to."""
    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    """Request headers as recorded, names in the case seen (HTTP/2 pseudo-headers left out)."""
    status: int | None
    position: str
    """Where in the input: ``packet 31``, ``entry 4``, ``line 7``."""
    upstream: str | None = None
    """Where a proxy sent it on (access logs that record it)."""


@dataclass(frozen=True, slots=True)
class Bad:
    """A record of the input that is not a request: where, and why."""

    position: str
    reason: str


@dataclass(frozen=True, slots=True)
class Context:
    """What a receiver following tracehound's rules makes of one request's trace headers."""

    formats: tuple[str, ...]
    trace_id: str | None
    """The trace it continues (hex), or None: it starts a new trace."""
    parent_id: str | None
    codes: tuple[str, ...]
    problems: tuple[tuple[str, str, str], ...]
    """``(code, header, message)`` of each problem."""


def trace_pairs(headers: tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
    """The headers of the trace-context formats among ``headers``."""
    return [
        (name, value)
        for name, value in headers
        if (low := name.lower()) in TRACE_HEADERS or low.startswith(JAEGER_BAGGAGE_PREFIX)
    ]


_LONE = re.compile(r"00-(?!0{32})([0-9a-f]{32})-(?!0{16})([0-9a-f]{16})-[0-9a-f]{2}")
_NONE = Context((), None, None, (), ())


def context_of(headers: tuple[tuple[str, str], ...]) -> Context:
    """The context of one request (`tracehound.formats.read_headers` decides)."""
    pairs = trace_pairs(headers)
    if not pairs:
        return _NONE
    if len(pairs) == 1 and pairs[0][0].lower() == "traceparent":
        # the common case, which the parser would accept without a problem
        lone = _LONE.fullmatch(pairs[0][1])
        if lone:
            return Context(("tracecontext",), lone[1], lone[2], (), ())
    inbound = read_headers(pairs)
    found = inbound.context
    problems = tuple((p.code, p.header, p.message) for p in inbound.problems)
    return Context(
        tuple(f.value for f in inbound.formats_seen),
        found.trace_id_hex if found else None,
        found.span_id_hex if found else None,
        tuple(dict.fromkeys(p[0] for p in problems)),
        problems,
    )
