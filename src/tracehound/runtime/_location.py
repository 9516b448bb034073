"""Where in the user's code a span was started: the first frame outside the plumbing."""

from __future__ import annotations

import os
import sys
from types import CodeType, FrameType

__all__ = ["caller_location", "caller_site"]

_TRACEHOUND_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_PLUMBING_PARTS = (
    os.sep + "opentelemetry" + os.sep,
    _TRACEHOUND_DIR,
    os.sep + "contextlib.py",
    os.sep + "threading.py",
    os.sep + "logging" + os.sep,
    os.sep + "concurrent" + os.sep + "futures" + os.sep,
    os.sep + "asyncio" + os.sep,
    os.sep + "functools.py",
    os.sep + "contextvars",
)
_TESTS_OF_TRACEHOUND = os.sep + "tests" + os.sep
# The demo's services are user code, though they ship inside the package.
_DEMO_SERVICES = _TRACEHOUND_DIR + "demo" + os.sep
try:
    from opentelemetry.sdk.trace import Span as _SdkSpan

    _SPAN_START = _SdkSpan.start.__code__
except (ImportError, AttributeError):  # pragma: no cover - the SDK's shape changed
    _SPAN_START = None
# One decision per code object: the walk costs a dict look-up per frame.
_is_plumbing: dict[CodeType, bool] = {}


def _plumbing(code: CodeType) -> bool:
    known = _is_plumbing.get(code)
    if known is None:
        name = code.co_filename
        known = name.startswith("<frozen") or (
            any(part in name for part in _PLUMBING_PARTS)
            and _TESTS_OF_TRACEHOUND not in name
            and not name.startswith(_DEMO_SERVICES)
        )
        if len(_is_plumbing) > 50_000:  # bounded even with generated code
            _is_plumbing.clear()
        _is_plumbing[code] = known
    return known


def caller_site(depth: int = 2) -> tuple[str, int]:
    """``(file, line)`` of the first frame outside the plumbing; the span-start hot path."""
    current: FrameType | None = sys._getframe(depth)
    # From a span processor the next frames are always the SDK's Span.start and
    # Tracer.start_span: jump over them when they are there (checked, not assumed).
    if current is not None:
        start = current.f_back
        if start is not None and start.f_code is _SPAN_START:
            current = start.f_back.f_back if start.f_back is not None else None
            if current is None:
                current = start
    known = _is_plumbing
    while current is not None:
        code = current.f_code
        plumbing = known.get(code)
        if plumbing is None:
            plumbing = _plumbing(code)
        if not plumbing:
            return code.co_filename, current.f_lineno
        current = current.f_back
    return "<unknown>", 0


def caller_location(depth: int = 2, frame: FrameType | None = None) -> str:
    """``file:line`` of the first frame outside OpenTelemetry, tracehound and the stdlib glue."""
    current = frame if frame is not None else sys._getframe(depth)
    while current is not None and _plumbing(current.f_code):
        current = current.f_back
    if current is None:
        return "<unknown>"
    return f"{current.f_code.co_filename}:{current.f_lineno}"
