"""Jaeger ``uber-trace-id``: ``{trace-id}:{span-id}:{parent-span-id}:{flags}``.

Jaeger clients write IDs as hex without zero padding, 64- or 128-bit trace
IDs, and older clients URL-encode the colons (``%3A``), which we accept.
Flags: bit 0 sampled, bit 1 debug (bit 3, firehose, is ignored).
"""

from __future__ import annotations

import functools
import re

from tracehound.formats._types import Format, Rejection, TraceContext, shorten

__all__ = ["UBER_TRACE_ID", "format_uber_trace_id", "parse_uber_trace_id"]

UBER_TRACE_ID = "uber-trace-id"

_HEX = frozenset("0123456789abcdefABCDEF")
_UBER = re.compile(
    r"([0-9a-fA-F]{1,32}):([0-9a-fA-F]{1,16}):([0-9a-fA-F]{1,16}):([0-9a-fA-F]{1,2})"
)
_JAEGER = Format.JAEGER
_make_context = functools.partial(tuple.__new__, TraceContext)  # C-level, no length check
SAMPLED = 0x01
DEBUG = 0x02


def parse_uber_trace_id(value: str) -> TraceContext | Rejection:
    """Parse one ``uber-trace-id`` value."""
    match = _UBER.fullmatch(value)
    if match is not None:  # the common, valid case: one regex, no diagnosis
        trace, span, parent, flags = match.group(1, 2, 3, 4)
        trace_id, span_id, bits = int(trace, 16), int(span, 16), int(flags, 16)
        if trace_id and span_id:
            recorded = bool(bits & (SAMPLED | DEBUG))
            return _make_context(
                (
                    _JAEGER,
                    trace_id,
                    span_id,
                    int(recorded),
                    recorded,
                    bool(bits & DEBUG),
                    int(parent, 16) or None,
                    0,
                )
            )
    return _diagnose(value)


def _diagnose(value: str) -> TraceContext | Rejection:
    text = value.strip(" \t")
    if "%" in text:
        text = text.replace("%3A", ":").replace("%3a", ":")
    parts = text.split(":")

    def reject(reason: str) -> Rejection:
        return Rejection(UBER_TRACE_ID, shorten(value), reason)

    if len(parts) != 4:
        return reject(f"expected 4 fields trace:span:parent:flags, found {len(parts)}")
    trace, span, parent, flags = parts
    problem = (
        _check_hex("trace-id", trace, 32)
        or _check_hex("span-id", span, 16)
        or _check_hex("parent-span-id", parent, 16)
    )
    if problem:
        return reject(problem)
    if not flags or len(flags) > 2 or not _HEX.issuperset(flags):
        return reject(f"flags must be 1 or 2 hex digits, got {flags!r}")
    trace_id, span_id = int(trace, 16), int(span, 16)
    if trace_id == 0:
        return reject("trace-id is zero")
    if span_id == 0:
        return reject("span-id is zero")
    bits = int(flags, 16)
    sampled = bool(bits & SAMPLED)
    debug = bool(bits & DEBUG)
    return TraceContext(
        Format.JAEGER,
        trace_id,
        span_id,
        trace_flags=1 if (sampled or debug) else 0,
        sampled=sampled or debug,
        debug=debug,
        parent_span_id=int(parent, 16) or None,
    )


def _check_hex(name: str, text: str, max_digits: int) -> str | None:
    if not text:
        return f"{name} is empty"
    if len(text) > max_digits:
        return f"{name} has {len(text)} hex digits, at most {max_digits} are allowed"
    if not _HEX.issuperset(text):
        bad = next(c for c in text if c not in _HEX)
        return f"{name} contains {bad!r}, only hex digits are allowed"
    return None


def format_uber_trace_id(
    trace_id: int,
    span_id: int,
    *,
    sampled: bool,
    debug: bool = False,
    parent_span_id: int | None = None,
) -> str:
    """The ``uber-trace-id`` for this context; the debug bit only when the context has it.

    ``parent_span_id`` is the sending span's own parent, written as the Jaeger
    clients and OpenTelemetry's ``JaegerPropagator`` write it; ``0`` (what
    jaeger-client-go/java write for a root span) when there is none.
    """
    flags = (SAMPLED if sampled else 0) | (DEBUG if debug else 0)
    parent = f"{parent_span_id:016x}" if parent_span_id else "0"
    return f"{trace_id:032x}:{span_id:016x}:{parent}:{flags:x}"
