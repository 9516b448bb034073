"""Which span-processor hooks are worth calling: every span pays for each call."""

from __future__ import annotations

import dis
from collections.abc import Iterable
from typing import Any

from opentelemetry.sdk.trace import SpanProcessor

__all__ = ["active_hooks", "does_nothing"]

_NOTHING_OPS = frozenset({"RESUME", "NOP", "CACHE", "RETURN_VALUE", "RETURN_CONST", "LOAD_CONST"})


def does_nothing(method: Any) -> bool:
    """Whether a bound method's body is only ``pass`` (or a docstring): it returns None."""
    code = getattr(getattr(method, "__func__", None), "__code__", None)
    if code is None:
        return False
    return all(
        op.opname in _NOTHING_OPS
        and (op.opname not in ("LOAD_CONST", "RETURN_CONST") or op.argval is None)
        for op in dis.get_instructions(code)
    )


def active_hooks(processors: Iterable[SpanProcessor], name: str) -> tuple[Any, ...]:
    """The bound ``name`` hooks of ``processors`` that have a body (BatchSpanProcessor's
    ``on_start`` is ``pass``; a processor may also bind a hook to such a method)."""
    base = getattr(SpanProcessor, name, None)
    return tuple(
        getattr(p, name)
        for p in processors
        if getattr(type(p), name, base) is not base and not does_nothing(getattr(p, name))
    )
