"""Recording each test's spans and findings, for the pytest plugin.

`SessionRecorder` is one span processor on the global SDK provider for the
whole session; it hands each span, and each finding reported to
`tracehound.findings`, to the `Recording` of the test that is running (to
none between tests).  `OtelGlobals` attaches it, installs a provider when
the program has none, and puts the globals back at the end of the session.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from tracehound import findings
from tracehound.rules import Finding, Severity
from tracehound.runtime import concurrency
from tracehound.runtime.detach import OTEL_CONTEXT_LOGGER, DetachedElsewhereFilter
from tracehound.runtime.guards import (
    LifecycleGuard,
    OpenSpan,
    RootGuard,
    _EndedTwiceFilter,
    never_ended,
)
from tracehound.testing._assertions import MAX_KEPT, SpanRecorder

__all__ = ["OtelGlobals", "Recording", "RecordingSettings", "SessionRecorder", "still_open"]


@dataclass(frozen=True)
class RecordingSettings:
    """How one test is judged."""

    strict: bool
    fail_on: Severity
    ignore: frozenset[str]


def _quiet_lifecycle_guard(report: Callable[[Finding], None]) -> LifecycleGuard:
    guard = LifecycleGuard(report, open_limit=None)
    # shutdown() keeps the bookkeeping and drops the guard's log filters (L003, L009), which
    # would swallow the SDK's warning before the tested code's own guard saw it.
    guard.shutdown()
    return guard


class Recording:
    """One test's spans and findings, with its own guards.

    Spans started while the test body runs are checked for leaks when it
    returns; spans its function-scoped fixtures start, after they are torn
    down; spans a fixture shared between tests starts, at the end of the
    session (by ``shared``).
    """

    def __init__(
        self, settings: RecordingSettings, rootdir: str | None, shared: LifecycleGuard
    ) -> None:
        self.settings = settings
        self.recorder = SpanRecorder(rootdir)
        self.phase = "setup"
        self.fixture_scopes: list[str] = []
        """The scopes of the fixtures being set up, innermost last."""
        self.gets_verdict = True
        """False when setup failed or was skipped: that outcome is the verdict."""
        self.closed = False
        self._seen: set[tuple[str | None, ...]] = set()
        self._judged: dict[int, Finding] = {}
        self._roots = RootGuard(self.found)
        self._shared = shared
        self._guards = {
            "body": _quiet_lifecycle_guard(self._reporter("body")),
            "fixtures": _quiet_lifecycle_guard(self._reporter("fixtures")),
        }
        self._retired: set[str] = set()

    def _reporter(self, guard: str) -> Callable[[Finding], None]:
        def report(finding: Finding) -> None:
            if guard not in self._retired:  # a span collected after its check
                self.found(finding)

        return report

    def found(self, finding: Finding) -> None:
        """Record ``finding`` unless ignored or already recorded (two guards saw it)."""
        if self.closed or finding.code in self.settings.ignore:
            return
        if finding.span_id is not None:
            key: tuple[str | None, ...] = (finding.code, finding.span_id, finding.location)
        else:
            key = (finding.code, finding.location, finding.message)
        if key in self._seen:
            return
        if len(self._seen) < MAX_KEPT:
            self._seen.add(key)
        self.recorder._found(finding)

    def on_start(self, span: Span, parent_context: Context | None) -> None:
        self.recorder._started(span)
        self._roots.on_start(span, parent_context)
        if self.phase == "call":
            guard = self._guards["body"]
        elif self.fixture_scopes and self.fixture_scopes[-1] != "function":
            guard = self._shared
        else:
            guard = self._guards["fixtures"]
        guard.on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        self.recorder._finished(span)
        for guard in self._guards.values():
            guard.on_end(span)

    def end_phase(self, when: str) -> list[Finding]:
        """Report the spans ``when`` leaves open (L001); return the findings not judged yet."""
        if when == "call":
            self._retire("body", "was still open when the test returned")
        elif when == "teardown":
            self._retire("body", "was still open when the test returned")
            self._retire("fixtures", "was still open after the test's fixtures were torn down")
        expected = self.recorder._expected
        fresh = [
            f
            for f in self.recorder._findings
            if id(f) not in self._judged and id(f) not in expected
        ]
        self._judged.update((id(f), f) for f in fresh)
        return fresh

    def _retire(self, name: str, how: str) -> None:
        if name in self._retired:
            return
        guard = self._guards[name]
        if guard.open_spans():
            gc.collect()  # spans dropped without end() report themselves as collected
        for entry in guard.open_spans():
            self.found(still_open(entry, how))
        self._retired.add(name)

    def close(self) -> None:
        self.closed = True
        self._retired.update(self._guards)


def still_open(entry: OpenSpan, how: str) -> Finding:
    """L001 for a span the guard still tracks."""
    return never_ended(entry, how)


class SessionRecorder(SpanProcessor):
    """The session's span processor and findings listener; feeds the running test.

    ``shared`` tracks the spans of fixtures shared between tests; what it
    reports (a span collected without ``end()``) lands in `shared_findings`.
    """

    def __init__(self) -> None:
        self.current: Recording | None = None
        self.shared_findings: list[Finding] = []
        self.shared = _quiet_lifecycle_guard(self._shared_found)

    def _shared_found(self, finding: Finding) -> None:
        if len(self.shared_findings) < MAX_KEPT:
            self.shared_findings.append(finding)

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        recording = self.current
        if recording is not None:
            recording.on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        self.shared.on_end(span)
        recording = self.current
        if recording is not None:
            recording.on_end(span)

    def report_shared_open(self) -> list[Finding]:
        """L001 for the spans shared fixtures left open; with the earlier shared findings."""
        for entry in self.shared.open_spans():
            self._shared_found(still_open(entry, "was still open at the end of the session"))
        return self.shared_findings

    def listen(self, finding: Finding) -> None:
        recording = self.current
        if recording is not None:
            recording.found(finding)


_SDK_LOGGER = "opentelemetry.sdk.trace"


class _SeeAndPass(logging.Filter):
    """Reports what a guard's log filter reports (L003, L009), and lets the record pass."""

    def __init__(self, inner: logging.Filter) -> None:
        super().__init__()
        self._inner = inner

    def filter(self, record: logging.LogRecord) -> bool:
        self._inner.filter(record)
        return True


class OtelGlobals:
    """Attach the session's recorder to the global provider, and undo it all at the end.

    The snapshot is taken before anything changes: the global tracer provider
    (OpenTelemetry's private ``_TRACER_PROVIDER`` and its set-once flag: the
    public API can set a provider only once per process), the global
    propagator and tracehound's thread hooks.
    """

    def __init__(self, recorder: SessionRecorder) -> None:
        self.recorder = recorder
        self._propagator = propagate.get_global_textmap()
        self._hooks_were_installed = bool(getattr(concurrency, "_hooks_installed", False))
        self._provider_slot = _provider_slot()
        self._attached: list[TracerProvider] = []
        self.installed: TracerProvider | None = None
        self._warned = False
        self._ended_twice = _SeeAndPass(_EndedTwiceFilter(recorder.listen))
        logging.getLogger(_SDK_LOGGER).addFilter(self._ended_twice)
        self._detached = _SeeAndPass(DetachedElsewhereFilter(recorder.listen))
        logging.getLogger(OTEL_CONTEXT_LOGGER).addFilter(self._detached)
        findings.add_listener(recorder.listen)

    def attach(self) -> None:
        """Record from the global SDK provider, installing a stand-in if there is none."""
        provider = trace.get_tracer_provider()
        if not any(provider is p for p in self._attached):
            self._attach(provider)
        # Last, and before every test: tracehound.shutdown() removes them, in the
        # tested code or in making the stand-in provider.
        concurrency.install_submitter_hooks()

    def _attach(self, provider: object) -> None:
        if not isinstance(provider, TracerProvider):
            if not isinstance(provider, trace.ProxyTracerProvider):
                self._warn_foreign(provider)
                return
            provider = self.installed = _install_provider()
        provider.add_span_processor(self.recorder)
        self._attached.append(provider)

    def restore(self) -> None:
        """Detach, remove the provider the session installed, put the globals back."""
        findings.remove_listener(self.recorder.listen)
        logging.getLogger(_SDK_LOGGER).removeFilter(self._ended_twice)
        logging.getLogger(OTEL_CONTEXT_LOGGER).removeFilter(self._detached)
        self.recorder.current = None
        for provider in self._attached:
            _detach(provider, self.recorder)
        if self.installed is not None:
            _uninstall_provider(self.installed, self._provider_slot)
        propagate.set_global_textmap(self._propagator)
        if not self._hooks_were_installed:
            concurrency.uninstall_submitter_hooks()

    def _warn_foreign(self, provider: object) -> None:
        if not self._warned:
            self._warned = True
            warnings.warn(
                f"tracehound: the global tracer provider is a {type(provider).__name__}, not the "
                "OpenTelemetry SDK's TracerProvider; its spans are not recorded",
                stacklevel=2,
            )


def _provider_slot() -> tuple[object, bool] | None:
    once = getattr(trace, "_TRACER_PROVIDER_SET_ONCE", None)
    if once is None or not hasattr(once, "_done") or not hasattr(trace, "_TRACER_PROVIDER"):
        return None
    return trace._TRACER_PROVIDER, once._done


def _install_provider() -> TracerProvider:
    """A stand-in global provider, made by `tracehound.configure` and exporting nothing.

    Made the way ``configure()`` makes one, so a ``configure()`` in the tested
    code then behaves as it would without the plugin (its sampler, its
    attribute policy in front of every processor).  The tracehound runtime is
    shut down again and the global propagator put back at once.  OpenTelemetry
    lets a program set the global provider once; the set-once flag is left
    unset, so a provider the tested code sets (in a fixture, say) still
    replaces the stand-in.
    """
    from tracehound.runtime import setup

    propagator = propagate.get_global_textmap()
    try:
        setup.configure(mode="off", span_exporter=_Nowhere(), batch=False, log_correlation=False)
        setup.shutdown()
    except Exception as exc:  # e.g. a broken tracehound.toml: the tested code will say so
        logging.getLogger("tracehound").debug("pytest plugin: configure() failed: %s", exc)
    finally:
        propagate.set_global_textmap(propagator)
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    once = getattr(trace, "_TRACER_PROVIDER_SET_ONCE", None)
    if once is not None and hasattr(once, "_done"):
        once._done = False
    return provider


class _Nowhere(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def _uninstall_provider(provider: TracerProvider, slot: tuple[object, bool] | None) -> None:
    """Shut the stand-in down and, unless the tested code replaced it, put the slot back."""
    from tracehound.runtime import setup

    runtime = setup.get_runtime()
    if runtime is not None and runtime.provider is provider:  # the tested code configured it
        with contextlib.suppress(Exception):
            setup.shutdown()
    provider.shutdown()
    if trace.get_tracer_provider() is not provider:
        return  # the tested code installed its own provider: that one stays
    if slot is None:
        warnings.warn(
            "tracehound: this OpenTelemetry version keeps the global tracer provider where the "
            "plugin cannot put it back; the session's provider stays installed",
            stacklevel=2,
        )
        return
    once = trace._TRACER_PROVIDER_SET_ONCE
    with once._lock:
        trace._TRACER_PROVIDER, once._done = slot  # type: ignore[assignment]


def _detach(provider: TracerProvider, processor: SpanProcessor) -> None:
    """Remove ``processor`` from the provider; where that fails it stays, inert between tests."""
    active = getattr(provider, "_active_span_processor", None)
    remove = getattr(active, "remove_span_processor", None)
    if callable(remove):
        remove(processor)
        return
    # Neither the SDK nor tracehound's switchboard can remove a processor (yet):
    # take it out of the SDK's tuple, or of the switchboard's chain and its gate.
    for holder in (active, getattr(active, "gate", None)):
        if holder is not None:
            _drop(holder, processor)


def _drop(holder: object, processor: SpanProcessor) -> None:
    with getattr(holder, "_lock", None) or contextlib.nullcontext():
        for name in ("_span_processors", "processors"):
            held = getattr(holder, name, None)
            if isinstance(held, tuple) and any(p is processor for p in held):
                setattr(holder, name, tuple(p for p in held if p is not processor))
        later = getattr(holder, "added_later", None)
        if isinstance(later, list):
            later[:] = [p for p in later if p is not processor]
