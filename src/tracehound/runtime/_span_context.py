"""Span contexts built from parsed headers without OpenTelemetry's second validation.

One is built per request the propagator continues, so it skips what the
header parsers (`tracehound.formats`) already checked; where the API's
objects are laid out otherwise than today, it falls back to their constructors.
"""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry.trace import SpanContext, TraceFlags, TraceState

from tracehound.formats._types import TraceContext

__all__ = ["remote_span_context"]

_FLAGS = tuple(TraceFlags(bits) for bits in range(256))
_2_128, _2_64 = 2**128, 2**64


def remote_span_context(found: TraceContext, members: Sequence[tuple[str, str]]) -> SpanContext:
    state = _trace_state(members) if members else _EMPTY_STATE
    flags = _FLAGS[found.trace_flags & 0xFF]
    if _SPAN_CONTEXT_IS_TUPLE:  # one per request: skip the re-validation of parsed IDs
        trace_id, span_id = found.trace_id, found.span_id
        valid = 0 < trace_id < _2_128 and 0 < span_id < _2_64
        return _new_tuple(SpanContext, (trace_id, span_id, True, flags, state, valid))
    return SpanContext(  # pragma: no cover - an API whose SpanContext is laid out otherwise
        found.trace_id, found.span_id, is_remote=True, trace_flags=flags, trace_state=state
    )


_EMPTY_STATE = TraceState()
_new_tuple = tuple.__new__


def _span_context_is_tuple() -> bool:
    """True when SpanContext is the tuple (trace, span, remote, flags, state, valid) it is today."""
    made = SpanContext(0xA, 0xB, True, TraceFlags(1), _EMPTY_STATE)
    return isinstance(made, tuple) and tuple(made) == (0xA, 0xB, True, 1, made.trace_state, True)


_SPAN_CONTEXT_IS_TUPLE = _span_context_is_tuple()
_STATE_HAS_DICT = isinstance(getattr(_EMPTY_STATE, "_dict", None), dict)
_new_state = object.__new__


def _trace_state(members: Sequence[tuple[str, str]]) -> TraceState:
    """A TraceState holding members valid under the W3C Level 2 key grammar.

    OpenTelemetry validates keys with the older Level 1 pattern and drops keys
    such as ``1vendor``; the members were already validated by
    `tracehound.formats.w3c`, so they are stored as they are.
    """
    if _STATE_HAS_DICT:
        state = _new_state(TraceState)
        state._dict = dict(members)  # type: ignore[attr-defined]
        return state
    return TraceState(list(members))  # pragma: no cover - a future SDK without _dict
