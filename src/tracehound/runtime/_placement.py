"""Putting tracehound's chain in front of a tracer provider it did not create.

An SDK `TracerProvider` calls one *active* span processor, a multi-processor
holding everything added with ``add_span_processor``, in order.  Tracers made
before `configure` (``opentelemetry-instrument`` instruments libraries first)
hold that same object, so it cannot be replaced: it is emptied in place, the
chain becomes its only member, and the processors it held (the distro's
exporters, the user's own) move behind the attribute policy.  Its class is
switched to a subclass whose ``add_span_processor`` hands a newcomer to the
chain, so a processor added later lands behind the policy too.  `tracehound.shutdown`
gives the processors back (`give_back`): OpenTelemetry is left as found.

What cannot be guarded is named, never glossed over: a provider that is not
the SDK's, an active processor of an unknown kind, and a processor that holds
an exporter and looks at spans before they end (its ``on_start`` sees the
attributes before the policy redacts them).
"""

from __future__ import annotations

import dis
from collections.abc import Iterator, Sequence
from typing import Any

from opentelemetry.sdk.trace import (
    ConcurrentMultiSpanProcessor,
    SpanProcessor,
    SynchronousMultiSpanProcessor,
    TracerProvider,
)
from opentelemetry.sdk.trace.export import SpanExporter

__all__ = [
    "NOTHING",
    "does_nothing",
    "exports",
    "give_back",
    "held_processors",
    "take_over",
    "taken_over",
    "unguarded_reason",
]

_TAKEN_OVER = "_tracehound_chain"


class _Guarded:
    """Mixed into the provider's multi-processor: newcomers go to tracehound's chain."""

    def add_span_processor(self, span_processor: SpanProcessor) -> None:
        getattr(self, _TAKEN_OVER).add_span_processor(span_processor)

    def remove_span_processor(self, span_processor: SpanProcessor) -> None:
        getattr(self, _TAKEN_OVER).remove_span_processor(span_processor)


class _GuardedSynchronous(_Guarded, SynchronousMultiSpanProcessor):
    pass


class _GuardedConcurrent(_Guarded, ConcurrentMultiSpanProcessor):
    pass


_GUARDED: dict[type, type] = {
    SynchronousMultiSpanProcessor: _GuardedSynchronous,
    ConcurrentMultiSpanProcessor: _GuardedConcurrent,
}


def held_processors(provider: TracerProvider, chain: SpanProcessor) -> tuple[list[Any], str]:
    """What ``provider`` calls besides ``chain``, and why the chain cannot go first ('' if it can).

    Looks only: `take_over` does the moving.
    """
    active = getattr(provider, "_active_span_processor", None)
    if active is chain or isinstance(active, _Guarded):
        return [], ""
    if type(active) not in _GUARDED or not hasattr(active, "_lock"):
        return [], (
            f"the tracer provider's span processor is a {_name(active)}, which tracehound "
            "cannot put itself in front of; the processors it calls before tracehound see "
            "spans unredacted"
        )
    return [p for p in active._span_processors if p is not chain], ""


def take_over(provider: TracerProvider, chain: SpanProcessor) -> list[SpanProcessor]:
    """Make ``chain`` the only processor ``provider`` calls; returns what it called before.

    Taking over twice is harmless: the second time finds the chain alone.  An
    active processor of an unknown kind gets the chain added at its end
    (`held_processors` says why that is not in front).
    """
    active = getattr(provider, "_active_span_processor", None)
    if active is chain:
        return []
    if isinstance(active, _Guarded):
        setattr(active, _TAKEN_OVER, chain)
        return []
    guarded = _GUARDED.get(type(active))
    if guarded is None or not hasattr(active, "_lock"):
        provider.add_span_processor(chain)
        return []
    with active._lock:
        held = [p for p in active._span_processors if p is not chain]
        active._span_processors = (chain,)
        setattr(active, _TAKEN_OVER, chain)
        active.__class__ = guarded
    return held


def give_back(provider: TracerProvider, processors: Sequence[SpanProcessor]) -> bool:
    """Undo `take_over`: ``provider`` calls ``processors`` again, as before; False if not taken."""
    active = getattr(provider, "_active_span_processor", None)
    if not isinstance(active, _Guarded):
        return False
    base = next(b for b, guarded in _GUARDED.items() if isinstance(active, guarded))
    with active._lock:  # type: ignore[attr-defined]
        active._span_processors = tuple(processors)  # type: ignore[attr-defined]
        vars(active).pop(_TAKEN_OVER, None)
        active.__class__ = base
    return True


def taken_over(provider: object) -> bool:
    """Whether `take_over` put a chain in front of ``provider``'s processors."""
    return isinstance(getattr(provider, "_active_span_processor", None), _Guarded)


def exports(processor: object, depth: int = 3) -> bool:
    """Whether ``processor`` holds a `SpanExporter` (directly or a few attributes down)."""
    return any(isinstance(value, SpanExporter) for value in _held(processor, depth))


def _held(obj: object, depth: int) -> Iterator[object]:
    if isinstance(obj, (SynchronousMultiSpanProcessor, ConcurrentMultiSpanProcessor)):
        values: list[object] = list(obj._span_processors)
    else:
        try:
            values = list(vars(obj).values())
        except TypeError:  # no __dict__ (slots, builtins)
            return
    for value in values:
        if isinstance(value, (list, tuple)):
            yield from value
            if depth > 1:
                for item in value:
                    yield from _held(item, depth - 1)
            continue
        yield value
        if depth > 1 and not isinstance(value, (type, str, bytes, int, float)):
            yield from _held(value, depth - 1)


def unguarded_reason(processor: object) -> str:
    """Why the attribute policy cannot protect what ``processor`` exports ('' when it can).

    Behind the policy a processor's ``on_end`` receives the redacted span; its
    ``on_start`` (and ``_on_ending``) get the live span before any redaction.
    A processor that exports and does something there could send a secret.
    """
    members = getattr(processor, "_span_processors", None)
    if isinstance(members, tuple):
        for member in members:
            reason = unguarded_reason(member)
            if reason:
                return reason
        return ""
    early = [
        name
        for name in ("on_start", "_on_ending")
        if not does_nothing(getattr(processor, name, None), getattr(SpanProcessor, name))
    ]
    if not early or not exports(processor):
        return ""
    return (
        f"{_name(processor)} holds an exporter and its {' and '.join(early)} sees each span "
        "before the attribute policy redacts it"
    )


_NOTHING_OPS = frozenset({"RESUME", "NOP", "CACHE", "RETURN_VALUE", "RETURN_CONST", "LOAD_CONST"})


NOTHING: Any = ().count
"""A hook that does nothing, run in C: called with a span it returns 0 and touches
nothing.  Set in place of a hook with nothing behind it, it spares every span a
Python frame (an empty loop)."""


def does_nothing(method: Any, base: Any = None) -> bool:
    """Whether a bound method is ``base`` itself or its body is only ``pass`` (or a
    docstring), or it is `NOTHING`."""
    func = getattr(method, "__func__", None)
    if method is None or method is NOTHING or (base is not None and func is base):
        return True
    code = getattr(func, "__code__", None)
    if code is None:
        return False
    return all(
        op.opname in _NOTHING_OPS
        and (op.opname not in ("LOAD_CONST", "RETURN_CONST") or op.argval is None)
        for op in dis.get_instructions(code)
    )


def _name(obj: object) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"
