"""B3 propagation (https://github.com/openzipkin/b3-propagation), single and multi header.

Single: ``b3: {trace-id}-{span-id}[-{sampling}[-{parent-span-id}]]`` or just
``b3: {sampling}`` where sampling is ``0``, ``1`` or ``d`` (debug).
Multi: ``X-B3-TraceId``, ``X-B3-SpanId``, ``X-B3-ParentSpanId``,
``X-B3-Sampled`` (``1``/``0``, legacy ``true``/``false``), ``X-B3-Flags``
(``1`` = debug).  Trace IDs are 16 or 32 hex digits, span IDs 16.

A deferred decision (no sampling state) maps to *sampled* in ``trace_flags``
for both forms: OpenTelemetry records it for the single header but drops it
for the multi header; keeping the trace whole is the safer of the two.
``sampled`` stays ``None`` so the deferral is still visible.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping

from tracehound.formats._types import Format, Rejection, TraceContext, shorten

__all__ = [
    "B3_SINGLE",
    "FLAGS",
    "PARENT_SPAN_ID",
    "SAMPLED",
    "SPAN_ID",
    "TRACE_ID",
    "format_b3_multi",
    "format_b3_single",
    "parse_b3_multi",
    "parse_b3_single",
]

B3_SINGLE = "b3"
TRACE_ID = "x-b3-traceid"
SPAN_ID = "x-b3-spanid"
PARENT_SPAN_ID = "x-b3-parentspanid"
SAMPLED = "x-b3-sampled"
FLAGS = "x-b3-flags"

_HEX = frozenset("0123456789abcdefABCDEF")
_SINGLE = re.compile(
    r"([0-9a-fA-F]{32}|[0-9a-fA-F]{16})-([0-9a-fA-F]{16})(?:-([01d])(?:-([0-9a-fA-F]{16}))?)?"
)
_B3 = Format.B3
_B3MULTI = Format.B3MULTI
_TRACE = re.compile(r"[0-9a-fA-F]{32}|[0-9a-fA-F]{16}")
_SPAN = re.compile(r"[0-9a-fA-F]{16}")
_FAST_SAMPLED: dict[str | None, bool | None] = {"1": True, "0": False, None: None}
_make_context = functools.partial(tuple.__new__, TraceContext)  # C-level, no length check
_SAMPLING = {"1": True, "0": False, "d": True, "true": True, "false": False}


def parse_b3_single(value: str) -> TraceContext | Rejection | None:
    """Parse a ``b3`` header; ``None`` when it carries only a sampling decision."""
    match = _SINGLE.fullmatch(value)
    if match is not None:  # the common, valid case: one regex, no diagnosis
        trace, span, sampling, parent = match.group(1, 2, 3, 4)
        trace_id, span_id = int(trace, 16), int(span, 16)
        if trace_id and span_id and (parent is None or int(parent, 16)):
            sampled = None if sampling is None else sampling != "0"
            return _make_context(
                (
                    _B3,
                    trace_id,
                    span_id,
                    0 if sampled is False else 1,
                    sampled,
                    sampling == "d",
                    int(parent, 16) if parent else None,
                    0,
                )
            )
    return _diagnose_single(value)


def _diagnose_single(value: str) -> TraceContext | Rejection | None:
    text = value.strip(" \t")

    def reject(reason: str) -> Rejection:
        return Rejection(B3_SINGLE, shorten(value), reason)

    if text in ("0", "1", "d"):
        return None  # a sampling decision without a context: nothing to continue
    parts = text.split("-")
    if len(parts) < 2 or len(parts) > 4:
        return reject(
            f"expected trace-span[-sampling[-parent]] or a lone 0/1/d, found {len(parts)} field"
            f"{'s' if len(parts) != 1 else ''}"
        )
    trace, span = parts[0], parts[1]
    sampling = parts[2] if len(parts) > 2 else None
    parent = parts[3] if len(parts) > 3 else None
    problem = _check_trace_id(trace) or _check_span_id("span-id", span)
    if problem:
        return reject(problem)
    if sampling is not None and sampling not in ("0", "1", "d"):
        return reject(f"sampling state must be 0, 1 or d, got {sampling!r}")
    if parent is not None and (problem := _check_span_id("parent-span-id", parent)):
        return reject(problem)
    sampled = None if sampling is None else sampling != "0"
    return TraceContext(
        Format.B3,
        int(trace, 16),
        int(span, 16),
        trace_flags=0 if sampled is False else 1,
        sampled=sampled,
        debug=sampling == "d",
        parent_span_id=int(parent, 16) if parent else None,
    )


def parse_b3_multi(headers: Mapping[str, str]) -> TraceContext | Rejection | None:
    """Parse B3 multi headers from a mapping with lower-case names.

    ``None`` when no ``X-B3-TraceId`` is present.
    """
    trace = headers.get(TRACE_ID)
    if trace is None:
        return None
    span = headers.get(SPAN_ID)
    sampled_text = headers.get(SAMPLED)
    flags_text = headers.get(FLAGS)
    if (
        span is not None
        and PARENT_SPAN_ID not in headers
        and _TRACE.fullmatch(trace)
        and _SPAN.fullmatch(span)
        and sampled_text in _FAST_SAMPLED
        and flags_text in (None, "1", "0")
    ):  # the common, valid case without a diagnosis
        trace_id, span_id = int(trace, 16), int(span, 16)
        if trace_id and span_id:
            debug = flags_text == "1"
            sampled = True if debug else _FAST_SAMPLED[sampled_text]
            return _make_context(
                (_B3MULTI, trace_id, span_id, 0 if sampled is False else 1, sampled, debug, None, 0)
            )
    trace = trace.strip(" \t")
    span = (span or "").strip(" \t")
    parent = headers.get(PARENT_SPAN_ID)

    def reject(header: str, value: str, reason: str) -> Rejection:
        return Rejection(header, shorten(value), reason)

    if problem := _check_trace_id(trace):
        return reject("X-B3-TraceId", trace, problem)
    if SPAN_ID not in headers:
        return reject("X-B3-SpanId", "", "X-B3-TraceId is present but X-B3-SpanId is missing")
    if problem := _check_span_id("span-id", span):
        return reject("X-B3-SpanId", span, problem)
    if parent is not None and (problem := _check_span_id("parent-span-id", parent.strip())):
        return reject("X-B3-ParentSpanId", parent, problem)
    sampled: bool | None = None
    if sampled_text is not None:
        key = sampled_text.strip(" \t").lower()
        if key not in _SAMPLING:
            return reject("X-B3-Sampled", sampled_text, "must be 1 or 0 (or legacy true/false)")
        sampled = _SAMPLING[key]
    debug = flags_text is not None and flags_text.strip(" \t") == "1"
    if debug:
        sampled = True
    return TraceContext(
        Format.B3MULTI,
        int(trace, 16),
        int(span, 16),
        trace_flags=0 if sampled is False else 1,
        sampled=sampled,
        debug=debug,
        parent_span_id=int(parent.strip(), 16) if parent else None,
    )


def _check_trace_id(text: str) -> str | None:
    if len(text) not in (16, 32):
        return f"trace-id has {len(text)} hex digits, 16 or 32 are required"
    if not _HEX.issuperset(text):
        bad = next(c for c in text if c not in _HEX)
        return f"trace-id contains {bad!r}, only hex digits are allowed"
    if int(text, 16) == 0:
        return "trace-id is all zeros"
    return None


def _check_span_id(name: str, text: str) -> str | None:
    if len(text) != 16:
        return f"{name} has {len(text)} hex digits, 16 are required"
    if not _HEX.issuperset(text):
        bad = next(c for c in text if c not in _HEX)
        return f"{name} contains {bad!r}, only hex digits are allowed"
    if int(text, 16) == 0:
        return f"{name} is all zeros"
    return None


def format_b3_single(trace_id: int, span_id: int, *, sampled: bool, debug: bool = False) -> str:
    """The ``b3`` single header for this context."""
    state = "d" if debug else ("1" if sampled else "0")
    return f"{trace_id:032x}-{span_id:016x}-{state}"


def format_b3_multi(
    trace_id: int, span_id: int, *, sampled: bool, debug: bool = False
) -> dict[str, str]:
    """The B3 multi headers for this context, names in lower case.

    Lower case because gRPC metadata rejects upper-case keys and Kafka header
    readers (and OpenTelemetry's ``B3MultiFormat``) match names exactly;
    HTTP peers read header names in any case.
    """
    headers = {TRACE_ID: f"{trace_id:032x}", SPAN_ID: f"{span_id:016x}"}
    if debug:
        headers[FLAGS] = "1"
    else:
        headers[SAMPLED] = "1" if sampled else "0"
    return headers
