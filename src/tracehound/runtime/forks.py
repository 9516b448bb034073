"""Spans a forked process would lose (L008), and OpenTelemetry's fixes applied.

A process forked after tracing started (gunicorn ``--preload``, uWSGI,
``multiprocessing`` with the fork start method) inherits the parent's span
processors but none of its threads.  OpenTelemetry's batch processor starts
its export thread again in the child (``os.register_at_fork``); two gaps stay:

- a ``multiprocessing`` child ends with ``os._exit``, so ``atexit`` (where
  the provider flushes) never runs and the spans still queued are silently
  lost.  `watch_forks` registers a flush at that exit (the fix OpenTelemetry
  leaves to the user; a spawned child exits through ``sys.exit`` and flushes
  anyway);
- a processor or exporter with a worker thread of its own and no fork
  handling (an older SDK, a custom one) never exports again in the child.
  That one is reported (L008) in the child, naming the processor and the fix.

Nothing runs per span: the hooks run once per fork.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter

from tracehound import findings
from tracehound.rules import Finding, get_rule

__all__ = ["flush_at_process_exit", "lost_workers", "watch_forks", "worker_threads"]

_log = logging.getLogger("tracehound")

# Each configure() registers fresh fork hooks (os.register_at_fork cannot take
# one back): after_in_child hooks run in registration order, so the newest one
# runs after the hooks of the processors that configure() created, and it is
# the only one that acts.
_generation = 0
_watched: tuple[int, Callable[[], Any], Callable[[], Any]] | None = None
_alive_at_fork: list[tuple[Any, str, threading.Thread]] = []
_mp_registered = False
_MAX_DEPTH = 4


def _parts(obj: Any) -> Iterator[tuple[str, Any]]:
    try:
        return iter(vars(obj).items())
    except TypeError:  # __slots__ or a builtin: nothing of ours inside
        return iter(())


def _is_span_plumbing(value: Any) -> bool:
    """A processor or exporter, or an SDK helper one holds (the batch processor's engine)."""
    if isinstance(value, (SpanProcessor, SpanExporter)):
        return True
    module = type(value).__module__ or ""
    return module.startswith("opentelemetry.sdk") and type(value).__name__.endswith("Processor")


def worker_threads(root: Any) -> list[tuple[Any, str, threading.Thread]]:
    """``(owner, attribute, thread)`` for each thread a processor or exporter under ``root`` holds.

    Walks attributes of span processors, exporters and the SDK's batch engine,
    a few levels deep (composite processors, wrappers).
    """
    found: list[tuple[Any, str, threading.Thread]] = []
    seen: set[int] = set()

    def walk(obj: Any, depth: int) -> None:
        if id(obj) in seen or depth > _MAX_DEPTH:
            return
        seen.add(id(obj))
        for name, value in _parts(obj):
            if isinstance(value, threading.Thread):
                found.append((obj, name, value))
            elif _is_span_plumbing(value):
                walk(value, depth + 1)
            elif isinstance(value, (list, tuple)):
                for item in value:
                    if _is_span_plumbing(item):
                        walk(item, depth + 1)

    walk(root, 0)
    return found


def _restarts_itself(owner: Any) -> bool:
    """Whether ``owner`` starts its thread again after a fork (OpenTelemetry's convention)."""
    return callable(getattr(owner, "_at_fork_reinit", None))


def lost_workers(
    alive_before: list[tuple[Any, str, threading.Thread]],
) -> list[tuple[Any, str, threading.Thread]]:
    """The threads alive in the parent that the child lost and nothing starts again."""
    return [
        (owner, name, thread)
        for owner, name, thread in alive_before
        if not _restarts_itself(owner)
        and getattr(owner, name, None) is thread
        and not thread.is_alive()
    ]


def _lost_worker_finding(owner: Any, name: str, thread: threading.Thread) -> Finding:
    kind = type(owner)
    where = f"{kind.__module__}.{kind.__qualname__}"
    return Finding(
        get_rule("L008"),
        f"process {os.getpid()} was forked while {where}'s worker thread {thread.name!r} was "
        "running; the child has no such thread, so the spans it ends are queued and never "
        "exported. Create the processor after the fork (gunicorn post_fork hook, "
        "uWSGI @postfork, a multiprocessing initializer) or restart its thread in "
        "os.register_at_fork(after_in_child=...)",
        location=where,
        details={"processor": where, "attribute": name, "thread": thread.name},
    )


def _before_fork(generation: int) -> None:
    if _watched is None or _watched[0] != generation:
        return
    try:
        _alive_at_fork[:] = [item for item in worker_threads(_watched[1]()) if item[2].is_alive()]
    except Exception:  # a fork must never fail because of tracehound
        _alive_at_fork.clear()


def _after_in_child(generation: int) -> None:
    if _watched is None or _watched[0] != generation:
        return
    try:
        _watched[2]()
        lost = lost_workers(_alive_at_fork)
        _alive_at_fork.clear()
        for owner, name, thread in lost:
            findings.report(_lost_worker_finding(owner, name, thread))
    except Exception as exc:  # an exception in an at-fork hook is printed and lost
        _log.error("tracehound: checking the span processors after fork failed: %s", exc)


def _after_in_parent(generation: int) -> None:
    if _watched is not None and _watched[0] == generation:
        _alive_at_fork.clear()


def flush_at_process_exit(_owner: object = None) -> None:
    """Flush the global provider when this ``multiprocessing`` child exits (L008's fix).

    Registered in the child by ``multiprocessing.util.register_after_fork``;
    the child leaves through ``os._exit``, which skips ``atexit``, but runs
    ``multiprocessing.util.Finalize`` callbacks first.
    """
    from multiprocessing.util import Finalize

    Finalize(None, _flush_provider, exitpriority=0)


def _flush_provider() -> None:
    provider = trace.get_tracer_provider()
    flush = getattr(provider, "force_flush", None)
    if flush is None:
        return
    try:
        flush()
    except Exception as exc:  # exiting: say it, do not raise
        _log.error("tracehound: flushing spans at process exit failed: %s", exc)


class _Anchor:
    """What multiprocessing's after-fork registry holds on to (it keeps weak references)."""


_anchor = _Anchor()


def watch_forks(root: Callable[[], Any], in_child: Callable[[], Any]) -> None:
    """Watch forks for spans the child would lose; ``configure()`` calls it each time.

    ``root()`` gives the processor chain to inspect (the provider's active
    processor); ``in_child()`` runs in every forked child first (the guards
    forget the parent's open spans there).
    """
    global _generation, _watched, _mp_registered
    _generation += 1
    _watched = (_generation, root, in_child)
    if hasattr(os, "register_at_fork"):
        generation = _generation
        os.register_at_fork(
            before=lambda: _before_fork(generation),
            after_in_child=lambda: _after_in_child(generation),
            after_in_parent=lambda: _after_in_parent(generation),
        )
    if not _mp_registered:
        import multiprocessing.util

        multiprocessing.util.register_after_fork(_anchor, flush_at_process_exit)
        _mp_registered = True


def unwatch_forks() -> None:
    """Stop acting on forks (``tracehound.shutdown``); the flush at a child's exit stays."""
    global _watched
    _watched = None
