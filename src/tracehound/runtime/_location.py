"""Where in the user's code a span was started: the first frame outside the plumbing."""

from __future__ import annotations

import os
import sys
from types import CodeType, FrameType

__all__ = ["caller_location", "caller_site", "site_line", "site_location"]

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
try:  # the generator behind ``with tracer.start_as_current_span(...)``
    from opentelemetry.sdk.trace import Tracer as _SdkTracer

    _AS_CURRENT = _SdkTracer.start_as_current_span.__wrapped__.__code__  # type: ignore[attr-defined]
except (ImportError, AttributeError):  # pragma: no cover - the SDK's shape changed
    _AS_CURRENT = None
_UNKNOWN = compile("", "<unknown>", "exec")

# One decision per code object, keyed by id(): hashing a code object hashes its
# bytecode and constants (about 0.3-0.7 us each time), an id look-up is ~50 ns.
# `_kept` holds the code objects decided so that no id is reused while cached.
_is_plumbing: dict[int, bool] = {}
_kept: list[CodeType] = []
# (depth from caller_site's frame, code) of the caller of Span.start last seen
_start_caller: tuple[int, CodeType] | None = None


def _plumbing(code: CodeType) -> bool:
    known = _is_plumbing.get(id(code))
    if known is None:
        name = code.co_filename
        known = name.startswith("<frozen") or (
            any(part in name for part in _PLUMBING_PARTS)
            and _TESTS_OF_TRACEHOUND not in name
            and not name.startswith(_DEMO_SERVICES)
        )
        if len(_is_plumbing) > 50_000:  # bounded even with generated code
            _is_plumbing.clear()
            _kept.clear()
        _kept.append(code)
        _is_plumbing[id(code)] = known
    return known


def caller_site(depth: int = 2) -> tuple[CodeType, int]:
    """``(code, f_lasti)`` of the first frame outside the plumbing; the span-start hot path.

    The line number is left for `site_line`: working it out decodes the code
    object's line table, which costs more than the whole walk.
    """
    # Called from a span processor, the frames inward of the caller of the
    # SDK's Span.start are the processors' own: always the same number for a
    # given chain.  sys._getframe(n) reaches that caller (Tracer.start_span)
    # without building frame objects for the frames in between, a good part of
    # the walk's cost; its code is checked, and the walk goes on from there.
    current: FrameType | None = None
    learnt = _start_caller
    if learnt is not None:
        try:
            current = sys._getframe(learnt[0] + 1)
            if current.f_code is _AS_CURRENT:
                # The most common path, and every frame materialised costs an
                # allocation: start_as_current_span's generator is only ever run
                # by its context manager's __enter__, whose caller is next.
                current = sys._getframe(learnt[0] + 3)
            else:
                current = sys._getframe(learnt[0])
                current = current.f_back if current.f_code is learnt[1] else None
        except ValueError:  # a shallower stack: not called the usual way
            current = None
    if current is None:
        current = _first_candidate(depth + 1)
    known = _is_plumbing
    while current is not None:
        code = current.f_code
        plumbing = known.get(id(code))
        if plumbing is None:
            plumbing = _plumbing(code)
        if not plumbing:
            return code, current.f_lasti
        current = current.f_back
    return _UNKNOWN, -1


def _first_candidate(depth: int) -> FrameType | None:
    """The frame to start the walk from: past Span.start and its caller when there."""
    global _start_caller
    current: FrameType | None = sys._getframe(depth)
    if current is not None:
        # Span.start calls the processor directly (a chain the lifecycle guard
        # leads), or one frame out, through a multi-processor.
        start, depth = (current, depth) if current.f_code is _SPAN_START else (
            current.f_back, depth + 1
        )
        if start is not None and start.f_code is _SPAN_START and start.f_back is not None:
            current = start.f_back
            _start_caller = (depth, current.f_code)  # depth as seen from caller_site
            current = current.f_back
    return current


def site_line(code: CodeType, lasti: int) -> int:
    """The source line of the instruction at byte offset ``lasti`` in ``code``."""
    for start, end, line in code.co_lines():
        if start <= lasti < end:
            return line if line is not None else code.co_firstlineno
    return code.co_firstlineno


def site_location(code: CodeType, lasti: int) -> tuple[str, int]:
    """``(file, line)`` of a `caller_site` result."""
    if code is _UNKNOWN:
        return "<unknown>", 0
    return code.co_filename, site_line(code, lasti)


def caller_location(depth: int = 2, frame: FrameType | None = None) -> str:
    """``file:line`` of the first frame outside OpenTelemetry, tracehound and the stdlib glue."""
    current = frame if frame is not None else sys._getframe(depth)
    while current is not None and _plumbing(current.f_code):
        current = current.f_back
    if current is None:
        return "<unknown>"
    return f"{current.f_code.co_filename}:{current.f_lineno}"
