"""Which span-processor hooks are worth calling: every span pays for each call."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from opentelemetry.sdk.trace import SpanProcessor

from tracehound.runtime._placement import does_nothing

__all__ = ["active_hooks", "does_nothing"]


def active_hooks(processors: Iterable[SpanProcessor], name: str) -> tuple[Any, ...]:
    """The bound ``name`` hooks of ``processors`` that have a body (BatchSpanProcessor's
    ``on_start`` is ``pass``; a processor may also bind a hook to such a method)."""
    base = getattr(SpanProcessor, name, None)
    return tuple(
        getattr(p, name)
        for p in processors
        if getattr(type(p), name, base) is not base and not does_nothing(getattr(p, name))
    )
