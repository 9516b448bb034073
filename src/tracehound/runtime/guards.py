"""Span processors that catch broken traces as they happen.

- `RootGuard`: C004 a root span that should have had a parent; C005 a root
  span started in a thread whose work was submitted from inside a span.
- `LifecycleGuard`: L001 a span garbage-collected, or still open at
  shutdown, without ``end()``; L002 open longer than a limit (checked by a
  timer, not per span); L003 ``end()`` called twice; L009 a context detached
  in another context (`tracehound.runtime.detach`); L010 spans still open
  when the request (entry span) of their trace ended.

Both report through a callable (the findings sink, or one that raises in
strict mode).  Their bookkeeping is bounded: weak references, a cap on the
spans tracked and a count of what the cap left untracked.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import sys
import threading
import time
import weakref
from collections.abc import Callable
from types import CodeType
from typing import Any, NamedTuple

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import SpanContext, SpanKind

from tracehound.rules import Finding, get_rule
from tracehound.runtime import _location
from tracehound.runtime._location import caller_location, caller_site, site_location
from tracehound.runtime._outlived import MAX_SCANNED, outlived_finding, outliving
from tracehound.runtime._placement import NOTHING
from tracehound.runtime.concurrency import submitter
from tracehound.runtime.detach import OTEL_CONTEXT_LOGGER, DetachedElsewhereFilter

__all__ = ["DELIBERATE_ROOT", "LifecycleGuard", "OpenSpan", "RootGuard", "never_ended"]

Report = Callable[[Finding], None]

DELIBERATE_ROOT: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "tracehound_deliberate_root", default=False
)
"""Set by `tracehound.new_trace` while it starts its span: that root is intended."""

_SUSPICIOUS_KINDS = frozenset({SpanKind.INTERNAL, SpanKind.CLIENT, SpanKind.PRODUCER})
_SERVER, _CONSUMER = SpanKind.SERVER, SpanKind.CONSUMER


class RootGuard(SpanProcessor):
    """Report root spans that lost their parent (C004, C005).

    A child span costs one attribute read.  Entry spans (SERVER, CONSUMER)
    may start traces; roots made by `tracehound.new_trace` are intended.
    """

    def __init__(self, report: Report) -> None:
        self._report = report

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        try:  # the SDK's own fields: its properties cost a Python call each, per span
            parent, kind = span._parent, span._kind
        except AttributeError:  # pragma: no cover - an SDK whose Span changed shape
            parent, kind = span.parent, span.kind
        if parent is not None or kind not in _SUSPICIOUS_KINDS:
            return
        if DELIBERATE_ROOT.get():
            return
        location = caller_location()
        thread = threading.current_thread().name
        span_context = span.get_span_context()
        found = submitter()
        if found is not None:
            self._report(
                Finding(
                    get_rule("C005"),
                    f"span {span.name!r} became the root of a new trace in thread {thread!r}, but "
                    f"the code that handed this work over had span {found.name!r} active (trace "
                    f"{found.span_context.trace_id:032x}); submit through "
                    "tracehound.ContextExecutor or start the thread with tracehound.start_thread",
                    trace_id=f"{span_context.trace_id:032x}",
                    span_id=f"{span_context.span_id:016x}",
                    location=location,
                    details={
                        "thread": thread,
                        "span": span.name,
                        "submitter_span": found.name,
                        "submitter_trace_id": f"{found.span_context.trace_id:032x}",
                    },
                )
            )
            return
        self._report(
            Finding(
                get_rule("C004"),
                f"span {span.name!r} of kind {span.kind.name} has no parent and starts a new trace "
                f"(thread {thread!r}); create it inside its parent's context, or use "
                "tracehound.new_trace if a new trace is intended",
                trace_id=f"{span_context.trace_id:032x}",
                span_id=f"{span_context.span_id:016x}",
                location=location,
                details={"thread": thread, "span": span.name, "kind": span.kind.name},
            )
        )


class OpenSpan(NamedTuple):
    """What `LifecycleGuard` remembers of a span until it ends (cheap to build)."""

    name: str
    context: SpanContext
    code: CodeType
    """The code object that started it ..."""
    lasti: int
    """... and the offset of the call in its bytecode (the line is worked out when needed)."""
    started: float
    """``time.monotonic()`` at start."""
    thread_id: int
    ref: Any = None
    """The weak reference that notices the span being collected."""

    @property
    def trace_id(self) -> int:
        return self.context.trace_id

    @property
    def span_id(self) -> int:
        return self.context.span_id

    @property
    def site(self) -> tuple[str, int]:
        """``(file, line)`` that started it."""
        return site_location(self.code, self.lasti)

    @property
    def location(self) -> str:
        file, line = self.site  # worked out once: it decodes the line table
        return f"{file}:{line}"

    @property
    def thread(self) -> str:
        thread = threading._active.get(self.thread_id)  # type: ignore[attr-defined]
        return thread.name if thread is not None else f"thread {self.thread_id}"


_as_open_span = functools.partial(tuple.__new__, OpenSpan)  # C-level, no length check


_ENDED_TWICE = "Calling end() on an ended span."
_monotonic = time.monotonic
_ref = weakref.ref
_get_ident = threading.get_ident
_getframe = sys._getframe
_AS_CURRENT = _location._AS_CURRENT
_is_plumbing = _location._is_plumbing


def never_ended(entry: OpenSpan, how: str) -> Finding:
    """L001 for a span `LifecycleGuard` tracked; ``how`` says how it was found."""
    return Finding(
        get_rule("L001"),
        f"span {entry.name!r} {how}: it is never exported and its children become "
        f"orphans (started at {entry.location}, thread {entry.thread!r})",
        trace_id=f"{entry.trace_id:032x}",
        span_id=f"{entry.span_id:016x}",
        location=entry.location,
        details={"span": entry.name, "thread": entry.thread},
    )


class _EndedTwiceFilter(logging.Filter):
    """Turns the SDK's "end() on an ended span" warning into L003 with the caller's line."""

    def __init__(self, report: Report) -> None:
        super().__init__()
        self._report = report

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg != _ENDED_TWICE:
            return True
        frame = sys._getframe(1)
        name = "?"
        span_context = None
        probe: Any = frame
        while probe is not None:  # find the Span.end frame to name the span
            candidate = probe.f_locals.get("self") if probe.f_code.co_name == "end" else None
            if isinstance(candidate, Span):
                name, span_context = candidate.name, candidate.get_span_context()
                break
            probe = probe.f_back
        self._report(
            Finding(
                get_rule("L003"),
                f"end() called again on span {name!r}, which had already ended; give the span one "
                "owner (a with block or a decorator)",
                trace_id=f"{span_context.trace_id:032x}" if span_context else None,
                span_id=f"{span_context.span_id:016x}" if span_context else None,
                location=caller_location(frame=frame),
                details={"span": name},
            )
        )
        return False  # reported as L003 instead


class LifecycleGuard(SpanProcessor):
    """Report spans that never end, stay open too long or end twice (L001-L003), L009, L010.

    ``max_tracked`` bounds the bookkeeping: spans started while that many are
    open are not tracked, and `untracked` counts them.  ``open_limit`` (seconds)
    is checked every ``check_interval`` seconds by a daemon timer.
    """

    def __init__(
        self,
        report: Report,
        *,
        max_tracked: int = 100_000,
        open_limit: float | None = 300.0,
        check_interval: float | None = None,
    ) -> None:
        self._report = report
        self._max_tracked = max_tracked
        # plain tuples in OpenSpan's field order (cheapest to build, per span)
        self._open: dict[int, tuple[Any, ...]] = {}
        self._untracked = 0
        self._reported_long: set[int] = set()
        self._on_collected = self._collected  # bound once, not per span
        # set while this guard leads a chain (`lead`)
        self._chain: object = None
        self._root_hooks: tuple[Any, ...] = ()
        self._end_hooks: tuple[Any, ...] = ()
        self._after_end: Any = NOTHING
        """What on_end calls last: the one end hook behind, a loop over several, or nothing."""
        self._depth = 0
        """Where the caller of Tracer.start_span is, seen from on_start (0: not learnt yet)."""
        self._user_code: Any = None
        """The code object that started the last span, known not to be plumbing."""
        self._open_limit = open_limit
        self._stop = threading.Event()
        self._timer: threading.Thread | None = None
        self._sdk_logger = logging.getLogger("opentelemetry.sdk.trace")
        self._ended_twice = _EndedTwiceFilter(report)
        self._sdk_logger.addFilter(self._ended_twice)
        self._context_logger = logging.getLogger(OTEL_CONTEXT_LOGGER)
        self._detached_elsewhere = DetachedElsewhereFilter(report)
        self._context_logger.addFilter(self._detached_elsewhere)
        self._interval: float | None = None
        if open_limit is not None:
            self._interval = (
                check_interval if check_interval is not None else min(open_limit / 2, 30.0)
            )
            self._start_timer()

    def _start_timer(self) -> None:
        self._timer = threading.Thread(
            target=self._watch, args=(self._interval,), name="tracehound-lifecycle", daemon=True
        )
        self._timer.start()

    def _at_fork_reinit(self) -> None:
        """In a forked child: forget the parent's open spans, restart the timer."""
        self._open.clear()
        self._reported_long.clear()
        self._untracked = 0
        stopped = self._stop.is_set()
        self._stop = threading.Event()
        if self._interval is not None and not stopped:
            self._start_timer()

    @property
    def untracked(self) -> int:
        """Spans not tracked because ``max_tracked`` spans were open."""
        return self._untracked

    def open_spans(self) -> list[OpenSpan]:
        """Spans started and not yet ended (nor collected)."""
        return list(map(_as_open_span, list(self._open.values())))

    def lead(
        self, chain: object, root_hooks: tuple[Any, ...] = (), end_hooks: tuple[Any, ...] = ()
    ) -> bool:
        """Be the entry point of ``chain``: one call per span start and end, not two.

        A chain whose only start hook is this guard's (tracehound's switchboard,
        default mode) calls `on_start` and `on_end` directly.  ``root_hooks``
        then run first, for root spans only (`RootGuard`'s: strict mode raises
        before the span is tracked); ``end_hooks`` run after this guard's own
        end, in order (the exporting processors').  A guard leads one chain:
        False, and nothing changed, while it leads another.  `unlead` undoes it.
        """
        if self._chain is not None and self._chain is not chain:
            return False
        self._chain = chain
        self._root_hooks, self._end_hooks = tuple(root_hooks), tuple(end_hooks)
        hooks = self._end_hooks
        # one hook behind (the batch processor's): called directly, no loop per span
        self._after_end = hooks[0] if len(hooks) == 1 else self._run_end_hooks if hooks else NOTHING
        return True

    def unlead(self, chain: object) -> None:
        """Stop leading ``chain`` (nothing if this guard does not lead it)."""
        if self._chain is chain:
            self._chain, self._root_hooks, self._end_hooks = None, (), ()
            self._after_end = NOTHING

    def _run_end_hooks(self, span: ReadableSpan) -> None:
        for on_end in self._end_hooks:
            on_end(span)

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        try:  # the SDK's own fields: its properties cost a Python call each, per span
            span_context, name, parent = span._context, span._name, span._parent
        except AttributeError:  # pragma: no cover - an SDK whose Span changed shape
            span_context, name, parent = span.get_span_context(), span.name, span.parent
        if parent is None and self._root_hooks:
            for on_root in self._root_hooks:
                on_root(span, parent_context=parent_context)
        opened = self._open
        if len(opened) >= self._max_tracked:
            self._untracked += 1
            return
        # Where it started.  The usual path inline (a call per span costs): a
        # ``with tracer.start_as_current_span(...)``, recognised by the generator
        # behind it at the depth `caller_site` learnt; the user's frame is the
        # caller of that generator's ``__enter__``.  Anything else: the walk.
        depth = self._depth  # caller_site's depth of Tracer.start_span: here, its caller's
        code: Any = None
        if depth:
            try:
                frame = _getframe(depth)
                if frame.f_code is _AS_CURRENT:
                    frame = _getframe(depth + 2)
                    code, lasti = frame.f_code, frame.f_lasti
                    if code is not self._user_code:
                        if _is_plumbing.get(id(code)) is False:
                            self._user_code = code
                        else:
                            code = None
            except ValueError:  # a shallower stack: not called the usual way
                code = None
        if code is None:
            code, lasti = caller_site()
            learnt = _location._start_caller
            if learnt is not None:
                self._depth = learnt[0]
        # Keyed by the identity of the span's context: the span and the copy
        # on_end receives share it, and id() costs less than reading span_id.
        # A plain weakref (C-fast, unlike a subclass); on_end drops it, so its
        # callback only ever runs for a span collected without end().
        opened[id(span_context)] = (
            name, span_context, code, lasti, _monotonic(), _get_ident(),
            _ref(span, self._on_collected),
        )  # fmt: skip

    def on_end(self, span: ReadableSpan) -> None:
        try:
            key = id(span._context)
        except AttributeError:  # pragma: no cover - an SDK whose Span changed shape
            key = id(span.context)
        kind = span._kind
        if kind is _SERVER or kind is _CONSUMER:
            opened = self._open
            entry = opened.pop(key, None)
            if entry is not None and 0 < len(opened) <= MAX_SCANNED:
                self._check_outlived(entry)
        else:  # most spans: a subscript deletion, no call (suppress() would be two)
            try:  # noqa: SIM105
                del self._open[key]
            except KeyError:  # not tracked (the cap), or collected meanwhile
                pass
        if self._reported_long:
            self._reported_long.discard(key)
        self._after_end(span)  # the chain behind, when this guard leads it

    def _check_outlived(self, entry: tuple[Any, ...]) -> None:
        """L010 for the spans of ``entry``'s trace started after it and still open."""
        found = outliving(entry, list(self._open.values()))
        if not found:
            return
        request = _as_open_span(entry)
        for row in found:
            self._report(outlived_finding(request, _as_open_span(row)))

    def _collected(self, ref: weakref.ref) -> None:  # type: ignore[type-arg]
        # Only a span collected without end() gets here (on_end drops the
        # reference): finding its entry by a scan is paid per violation.
        key = self._key_of_ref(ref)
        if key is None:
            return
        entry = self._open.pop(key, None)
        if entry is None:
            return
        self._reported_long.discard(key)
        try:
            self._report(
                self._never_ended(_as_open_span(entry), "was garbage-collected without end()")
            )
        except Exception as exc:  # strict mode cannot raise out of the garbage collector
            logging.getLogger("tracehound").error("%s", exc)

    def _key_of_ref(self, ref: weakref.ref) -> int | None:  # type: ignore[type-arg]
        for _ in range(3):  # another collection may change the table while it is read
            try:
                return next((k for k, row in list(self._open.items()) if row[6] is ref), None)
            except RuntimeError:
                continue
        return None

    def _never_ended(self, entry: OpenSpan, how: str) -> Finding:
        return never_ended(entry, how)

    def _watch(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self.check_open_too_long()

    def check_open_too_long(self, now: float | None = None) -> list[Finding]:
        """Report (once each) the spans open longer than the limit; returns the new findings."""
        if self._open_limit is None:
            return []
        now = time.monotonic() if now is None else now
        found = []
        for entry in self.open_spans():
            age = now - entry.started
            key = id(entry.context)
            if age > self._open_limit and key not in self._reported_long:
                self._reported_long.add(key)
                found.append(
                    Finding(
                        get_rule("L002"),
                        f"span {entry.name!r} has been open {age:.0f} s, over the "
                        f"{self._open_limit:g} s limit (started at {entry.location})",
                        trace_id=f"{entry.trace_id:032x}",
                        span_id=f"{entry.span_id:016x}",
                        location=entry.location,
                        details={"span": entry.name, "open_seconds": round(age, 3)},
                    )
                )
        for finding in found:
            try:
                self._report(finding)
            except Exception as exc:  # the timer thread has no caller to raise to
                logging.getLogger("tracehound").error("%s", exc)
        return found

    def report_open_at_shutdown(self) -> list[Finding]:
        """Report every span still open (L001); called by `tracehound.shutdown`."""
        found = [self._never_ended(e, "was still open at shutdown") for e in self.open_spans()]
        self._open.clear()
        first_error: Exception | None = None
        for finding in found:  # report all of them, then raise (strict) for the first
            try:
                self._report(finding)
            except Exception as exc:
                first_error = first_error or exc
        if first_error is not None:
            raise first_error
        return found

    def shutdown(self) -> None:
        self._stop.set()
        self._sdk_logger.removeFilter(self._ended_twice)
        self._context_logger.removeFilter(self._detached_elsewhere)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
