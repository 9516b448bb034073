"""The values every header parser returns: a context or the reason it was rejected."""

from __future__ import annotations

import enum
from typing import NamedTuple

__all__ = ["Format", "Rejection", "TraceContext", "shorten"]


class Format(str, enum.Enum):
    """A propagation format, named as ``OTEL_PROPAGATORS`` names it."""

    TRACECONTEXT = "tracecontext"
    JAEGER = "jaeger"
    B3 = "b3"
    """B3 single header (``b3: trace-span-sampled-parent``)."""
    B3MULTI = "b3multi"
    """B3 multi header (``X-B3-TraceId``, ``X-B3-SpanId``, ...)."""

    def __str__(self) -> str:
        return self.value


class TraceContext(NamedTuple):
    """A remote parent read from a header, in the format-neutral shape.

    IDs are integers (as OpenTelemetry keeps them); a 64-bit trace ID from
    Jaeger or B3 is kept as is (its upper 64 bits are zero).  A named tuple,
    not a dataclass: one is built per request, so construction cost matters.
    """

    format: Format
    trace_id: int
    span_id: int
    trace_flags: int = 0
    """W3C trace-flags byte: bit 0 is *sampled*. Legacy formats map onto it."""
    sampled: bool | None = None
    """The sender's decision; ``None`` when it deferred the decision."""
    debug: bool = False
    """Jaeger flag 2 / B3 ``d``: the sender forces recording."""
    parent_span_id: int | None = None
    """The sender's own parent (Jaeger, B3), informational."""
    version: int = 0
    """The W3C ``traceparent`` version the sender used."""

    @property
    def trace_id_hex(self) -> str:
        return f"{self.trace_id:032x}"

    @property
    def span_id_hex(self) -> str:
        return f"{self.span_id:016x}"


class Rejection(NamedTuple):
    """Why a header value could not be used; falsy, so ``if parsed:`` reads well."""

    header: str
    value: str
    """The offending value, shortened for display."""
    reason: str
    """What is wrong, in words a person can act on."""

    def __bool__(self) -> bool:
        return False

    def __str__(self) -> str:
        return f"{self.header}: {self.reason} (got {self.value!r})"


def shorten(value: str, limit: int = 120) -> str:
    """``value`` cut to ``limit`` characters for messages, marking the cut."""
    if len(value) <= limit:
        return value
    return f"{value[:limit]}...[{len(value) - limit} more]"
