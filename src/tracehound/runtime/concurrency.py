"""Carry the trace context into threads and pools, and notice when it was not carried.

A new thread, and every task of a thread or process pool, starts with an
empty `contextvars` context: Python's ``context.Background()``.  A span
started there becomes the root of a new trace.  `ContextExecutor` and
`start_thread` carry the submitter's context; the hooks installed by
`install_submitter_hooks` (by `tracehound.configure`) remember which span was
active when work was handed over, so `RootGuard` can name the exact case
(C005).  asyncio tasks and ``asyncio.to_thread`` copy the context already;
``loop.run_in_executor`` does not (it goes through ``Executor.submit``).
"""

from __future__ import annotations

import contextvars
import functools
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any, NamedTuple, ParamSpec, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace

__all__ = [
    "ContextExecutor",
    "Submitter",
    "install_submitter_hooks",
    "start_thread",
    "submitter",
    "uninstall_submitter_hooks",
]

P = ParamSpec("P")
T = TypeVar("T")


class Submitter(NamedTuple):
    """The span that was active where work was handed to another thread."""

    span_context: trace.SpanContext
    name: str


_local = threading.local()


def submitter() -> Submitter | None:
    """The span active where the current thread's work was submitted, if any."""
    found = getattr(_local, "submitter", None)
    if found is not None:
        return found  # type: ignore[no-any-return]
    return getattr(threading.current_thread(), "_tracehound_submitter", None)


def _active_submitter() -> Submitter | None:
    span = trace.get_current_span()
    span_context = span.get_span_context()
    if not span_context.is_valid:
        return None
    return Submitter(span_context, getattr(span, "name", "") or "")


# -- hooks: remember the submitter (they do not carry the context) -----------------

_original_thread_start = threading.Thread.start
_original_submit = ThreadPoolExecutor.submit
_hooks_lock = threading.Lock()
_hooks_installed = False


def _thread_start(self: threading.Thread) -> None:
    found = _active_submitter()
    if found is not None:
        self._tracehound_submitter = found  # type: ignore[attr-defined]
    _original_thread_start(self)


def _run_marked(found: Submitter, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    previous = getattr(_local, "submitter", None)
    _local.submitter = found
    try:
        return fn(*args, **kwargs)
    finally:
        _local.submitter = previous


def _submit(self: ThreadPoolExecutor, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Any:
    found = _active_submitter()
    if found is None or getattr(fn, "_tracehound_carries_context", False):
        return _original_submit(self, fn, *args, **kwargs)
    return _original_submit(self, _run_marked, found, fn, *args, **kwargs)


def install_submitter_hooks() -> None:
    """Make ``Thread.start`` and ``ThreadPoolExecutor.submit`` remember the active span.

    The work still runs with an empty context (that is the user's code to
    fix); the hooks only let `RootGuard` say where the context was lost.
    """
    global _hooks_installed
    with _hooks_lock:
        if _hooks_installed:
            return
        threading.Thread.start = _thread_start  # type: ignore[method-assign]
        ThreadPoolExecutor.submit = _submit  # type: ignore[method-assign]
        _hooks_installed = True


def uninstall_submitter_hooks() -> None:
    """Restore ``Thread.start`` and ``ThreadPoolExecutor.submit``."""
    global _hooks_installed
    with _hooks_lock:
        threading.Thread.start = _original_thread_start  # type: ignore[method-assign]
        ThreadPoolExecutor.submit = _original_submit  # type: ignore[method-assign]
        _hooks_installed = False


# -- carrying the context -------------------------------------------------------------


def _in_context(fn: Callable[P, T]) -> Callable[P, T]:
    """``fn`` bound to a copy of the caller's context."""
    ctx = contextvars.copy_context()

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        # A copy per call: ``map`` binds once and runs the tasks side by side, and
        # a context cannot be entered in two threads at once.
        return ctx.copy().run(fn, *args, **kwargs)

    run._tracehound_carries_context = True  # type: ignore[attr-defined]
    return run


class _ContinueInProcess:
    """A picklable task that continues the submitter's trace in a pool process."""

    def __init__(self, fn: Callable[..., Any], carrier: Mapping[str, str]) -> None:
        self.fn = fn
        self.carrier = dict(carrier)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        token = otel_context.attach(propagate.extract(self.carrier))
        try:
            return self.fn(*args, **kwargs)
        finally:
            otel_context.detach(token)


class ContextExecutor(Executor):
    """Wrap an executor so every task runs in the submitter's trace context.

    Thread pools get a copy of the caller's `contextvars` context; process
    pools get the context through the configured propagator (headers in a
    dict), since contexts do not cross processes::

        pool = tracehound.ContextExecutor(ThreadPoolExecutor(8))
        with tracehound.span("handle"):
            pool.submit(charge, order)   # charge's spans are children of "handle"
    """

    def __init__(self, executor: Executor | None = None) -> None:
        self._executor = executor if executor is not None else ThreadPoolExecutor()
        self._crosses_processes = isinstance(self._executor, ProcessPoolExecutor)

    @property
    def wrapped(self) -> Executor:
        return self._executor

    def _bind(self, fn: Callable[..., T]) -> Callable[..., T]:
        if self._crosses_processes:
            carrier: dict[str, str] = {}
            propagate.inject(carrier)
            return _ContinueInProcess(fn, carrier)
        return _in_context(fn)

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        return self._executor.submit(self._bind(fn), *args, **kwargs)

    def map(
        self,
        fn: Callable[..., T],
        *iterables: Iterable[Any],
        timeout: float | None = None,
        chunksize: int = 1,
    ) -> Iterator[T]:
        return self._executor.map(self._bind(fn), *iterables, timeout=timeout, chunksize=chunksize)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._executor.shutdown(wait=wait, cancel_futures=cancel_futures)


def start_thread(
    target: Callable[..., Any],
    *args: Any,
    name: str | None = None,
    daemon: bool | None = None,
    **kwargs: Any,
) -> threading.Thread:
    """Start a thread that runs ``target`` in a copy of the caller's context."""
    thread = threading.Thread(
        target=_in_context(target), args=args, kwargs=kwargs, name=name, daemon=daemon
    )
    thread.start()
    return thread
