"""``tracehound.configure()``: one call for provider, propagator, guards and exporter.

The OpenTelemetry way, with tracehound's guards in front: the resource from
``OTEL_SERVICE_NAME``/``OTEL_RESOURCE_ATTRIBUTES`` (or arguments), the
exporter from ``OTEL_TRACES_EXPORTER`` (``otlp``, ``console``, ``none`` or
any installed exporter entry point) with the OTLP endpoint from
``OTEL_EXPORTER_OTLP_*``, the mode from ``TRACEHOUND_MODE`` or the config file.  Calling it
again reconfigures in place; an SDK provider someone else installed (for
example ``opentelemetry-instrument``) is reused, not replaced: tracehound puts
its chain in front of the processors it holds (`tracehound.runtime._placement`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased, Sampler, SamplingResult

from tracehound import findings
from tracehound.runtime._errors import ConfigurationError
from tracehound.runtime._exporters import CountingBatch, exporters_for
from tracehound.runtime._findings_file import install as install_findings_file
from tracehound.runtime._findings_file import uninstall as uninstall_findings_file
from tracehound.runtime._mode import Mode, reporter_for
from tracehound.runtime._placement import (
    NOTHING,
    does_nothing,
    give_back,
    held_processors,
    take_over,
    taken_over,
    unguarded_reason,
)
from tracehound.runtime._propagation_choice import choose_propagation
from tracehound.runtime.concurrency import install_submitter_hooks, uninstall_submitter_hooks
from tracehound.runtime.forks import unwatch_forks, watch_forks
from tracehound.runtime.guards import LifecycleGuard, RootGuard
from tracehound.runtime.propagation import TracehoundPropagator

__all__ = ["ConfigurationError", "Runtime", "configure", "get_runtime", "shutdown"]

_log = logging.getLogger("tracehound")


class _Processors(SpanProcessor):
    """The processor tracehound gives a provider; its contents are swapped on reconfigure.

    When tracehound creates the provider this is its *active* processor, so a
    processor anyone adds later (``provider.add_span_processor``) lands behind
    the attribute policy, with the exporters: nothing exports a secret.
    """

    def __init__(self) -> None:
        self._processors: tuple[SpanProcessor, ...] = ()
        self._root_starts: tuple[Any, ...] = ()
        self._starts: tuple[Any, ...] = ()
        self._endings: tuple[Any, ...] = ()
        self._ends: tuple[Any, ...] = ()
        self.added_later: list[SpanProcessor] = []
        """Processors added to the provider after the chain was in place."""
        self.adopted: list[SpanProcessor] = []
        """Processors the provider held before `configure` took it over (the distro's exporters)."""
        self.check: Any = None
        """Checks each processor added later (strict mode: raises when it cannot be guarded)."""
        self._gate: Any = None
        self._leader: LifecycleGuard | None = None
        self.added_to_provider = False

    def add_span_processor(self, processor: SpanProcessor) -> None:
        if self.check is not None:
            self.check(processor)
        self.added_later.append(processor)
        if self.gate is not None:
            self.gate.add_span_processor(processor)
            self.processors = self.processors  # the gate may have a start hook now
        else:
            self.processors = (*self.processors, processor)

    def remove_span_processor(self, processor: SpanProcessor) -> None:
        """Take out a processor added with `add_span_processor` (the pytest plugin's)."""
        self.added_later = [p for p in self.added_later if p is not processor]
        self.adopted = [p for p in self.adopted if p is not processor]
        self.processors = tuple(p for p in self.processors if p is not processor)
        gate = self.gate
        if gate is not None:
            with gate._lock:
                gate._span_processors = tuple(
                    p for p in gate._span_processors if p is not processor
                )

    @property
    def gate(self) -> Any:
        """The attribute policy processor the exporting processors sit behind."""
        return self._gate

    @gate.setter
    def gate(self, gate: Any) -> None:
        if self._gate is not None and self._gate is not gate:
            self._gate.on_change = None
        self._gate = gate
        if gate is not None:
            # what the gate calls on end can change (a processor added behind it)
            gate.on_change = self._rebind

    def _rebind(self) -> None:
        self.processors = self._processors

    @property
    def processors(self) -> tuple[SpanProcessor, ...]:
        return self._processors

    @processors.setter
    def processors(self, processors: tuple[SpanProcessor, ...]) -> None:
        # Call only the hooks a processor implements with a body (BatchSpanProcessor's
        # on_start is ``pass``): every span pays for each call.
        def hooks(name: str) -> tuple[Any, ...]:
            base = getattr(SpanProcessor, name, None)
            return tuple(
                getattr(p, name)
                for p in processors
                if getattr(type(p), name, base) is not base and not _does_nothing(getattr(p, name))
            )

        starts = hooks("on_start")
        # A RootGuard looks at root spans only: ask it about those alone (a call
        # per span saved); it goes first, as in the chain, so strict mode raises
        # before anything else took note of the span.
        self._root_starts = tuple(s for s in starts if _roots_only(s))
        self._starts = tuple(s for s in starts if not _roots_only(s))
        self._endings = hooks("_on_ending")
        # The SDK calls _on_ending on every span end: with nothing behind, a C no-op.
        if self._endings:
            with contextlib.suppress(AttributeError):  # not set on the instance
                del self._on_ending
        else:
            self._on_ending = NOTHING  # type: ignore[method-assign]
        # The attribute policy's processor may hand spans straight on (its
        # processors check them on export): call those, not it.
        self._ends = tuple(
            hook
            for end in hooks("on_end")
            for hook in (end.__self__.end_hooks() if _passes_through(end) else (end,))
        )
        self._processors = processors
        self._lead()

    def _lead(self) -> None:
        """Let a lifecycle guard whose start hook is the only one lead the chain.

        The SDK then calls the guard itself: one Python call per span start and
        one per span end less (the guard runs RootGuard's hook for root spans
        first and the end hooks behind it after its own, as this would).
        """
        leader = None
        if len(self._starts) == 1 and self._ends:
            guard = getattr(self._starts[0], "__self__", None)
            if (
                getattr(self._starts[0], "__func__", None) is LifecycleGuard.on_start
                and getattr(self._ends[0], "__func__", None) is LifecycleGuard.on_end
                and self._ends[0].__self__ is guard
            ):
                leader = guard
        if self._leader is not None and self._leader is not leader:
            self._leader.unlead(self)
        if leader is not None and not leader.lead(self, self._root_starts, self._ends[1:]):
            leader = None  # it leads another chain: this one calls it like any other
        self._leader = leader
        if leader is None:
            # ``del``, not ``self.__dict__``: reading that turns the instance's inline
            # attribute values into a dict, and every attribute read per span slows
            for own in ("on_start", "on_end"):
                with contextlib.suppress(AttributeError):  # not set on the instance
                    delattr(self, own)
            return
        self.on_start = leader.on_start  # type: ignore[method-assign]
        self.on_end = leader.on_end  # type: ignore[method-assign]

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        if self._root_starts:
            try:
                parent = span._parent
            except AttributeError:  # pragma: no cover - an SDK whose Span changed shape
                parent = span.parent
            if parent is None:
                for on_start in self._root_starts:
                    on_start(span, parent_context=parent_context)
        for on_start in self._starts:
            on_start(span, parent_context=parent_context)

    def _on_ending(self, span: Span) -> None:
        for on_ending in self._endings:
            on_ending(span)

    def on_end(self, span: ReadableSpan) -> None:
        for on_end in self._ends:
            on_end(span)

    def shutdown(self) -> None:
        for processor in self.processors:
            processor.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return all(p.force_flush(timeout_millis) for p in self.processors)


def _passes_through(hook: Any) -> bool:
    """Whether ``hook`` is the attribute policy processor's own on_end (see its end_hooks)."""
    from tracehound.attributes.processor import AttributePolicyProcessor

    return getattr(hook, "__func__", None) is AttributePolicyProcessor.on_end


def _roots_only(hook: Any) -> bool:
    """Whether ``hook`` is RootGuard's own on_start (not a subclass's)."""
    return getattr(hook, "__func__", None) is RootGuard.on_start


_does_nothing = does_nothing


class _SwitchableSampler(Sampler):
    def __init__(self, delegate: Sampler) -> None:
        self.delegate = delegate

    @property
    def delegate(self) -> Sampler:
        return self._delegate

    @delegate.setter
    def delegate(self, delegate: Sampler) -> None:
        self._delegate = delegate
        # The SDK calls should_sample per span: the delegate's own, not a forwarding call.
        self.should_sample = delegate.should_sample  # type: ignore[method-assign]

    def should_sample(self, *args: Any, **kwargs: Any) -> SamplingResult:
        return self._delegate.should_sample(*args, **kwargs)

    def get_description(self) -> str:
        return f"tracehound({self.delegate.get_description()})"


@dataclass
class Runtime:
    """What `configure` installed."""

    provider: TracerProvider
    propagator: TracehoundPropagator
    mode: Mode
    lifecycle: LifecycleGuard | None = None
    roots: RootGuard | None = None
    processors: tuple[SpanProcessor, ...] = ()
    """The processors behind the guards and the attribute policy (exporters last)."""
    policy: Any = None
    """The `tracehound.attributes.AttributePolicy` in force."""
    unguarded: list[str] = field(default_factory=list)
    """What the attribute policy could not be put in front of (also logged as warnings)."""

    @property
    def dropped_spans(self) -> int:
        """Finished spans the export queues had no room for."""
        return sum(p.dropped for p in self.processors if isinstance(p, CountingBatch))


_lock = threading.Lock()
_runtime: Runtime | None = None
_switchboard: _Processors | None = None
_sampler: _SwitchableSampler | None = None


def get_runtime() -> Runtime | None:
    """The runtime `configure` installed, or ``None``."""
    return _runtime


def configure(
    *,
    service_name: str | None = None,
    resource_attributes: Mapping[str, Any] | None = None,
    mode: str | Mode | None = None,
    span_exporter: SpanExporter | None = None,
    span_processors: Sequence[SpanProcessor] = (),
    attribute_policy: Mapping[str, Any] | None = None,
    sampler: Sampler | None = None,
    drop_spans: Iterable[str] | None = None,
    inject: Iterable[str] | None = None,
    open_span_limit: float | None = 300.0,
    batch: bool = True,
    log_correlation: bool = True,
    findings_file: str | os.PathLike[str] | None = None,
) -> Runtime:
    """Install tracing with tracehound's propagator and guards; safe to call again.

    ``span_exporter`` overrides ``OTEL_TRACES_EXPORTER``; ``span_processors`` run
    after the guards and, like the exporters, behind the attribute policy
    (``[tool.tracehound.attributes]`` in ``pyproject.toml`` or
    ``tracehound.toml``; ``attribute_policy`` overrides it with the same keys).
    Secrets are redacted before any processor or exporter sees them, in every
    mode but ``off``: an SDK provider created elsewhere (``opentelemetry-instrument``)
    is taken over, its processors moved behind the policy, and its exporters
    kept instead of adding ``OTEL_TRACES_EXPORTER``'s a second time.  What
    cannot be guarded raises `ConfigurationError` in strict mode and is
    logged as a warning otherwise (`Runtime.unguarded`).  The mode comes from
    ``mode``, else ``TRACEHOUND_MODE``, else the config file, else ``warn``.
    ``inject`` names the formats to write (default: what ``OTEL_PROPAGATORS``
    lists); every format is read.  ``drop_spans`` adds name/route
    patterns to the low-value spans switched off (health checks, metrics
    scrapes and static files are by default).  ``batch=False`` exports each
    span as it ends (tests, short scripts).
    """
    global _runtime, _switchboard
    from tracehound.attributes import AttributePolicy, ConfigError

    given_mode = mode.value if isinstance(mode, Mode) else mode
    try:
        policy = AttributePolicy.from_config(mode=given_mode, overrides=attribute_policy)
    except ConfigError as exc:
        raise ConfigurationError(str(exc)) from None
    resolved = Mode(policy.mode.value)
    choice = choose_propagation(inject)
    with _lock:
        if _switchboard is None:
            _switchboard = _Processors()
        switchboard = _switchboard
        try:
            provider, created = _provider(service_name, resource_attributes, switchboard)
        except _ForeignProvider as exc:
            if resolved is Mode.STRICT:
                raise ConfigurationError(str(exc)) from None
            install_findings_file(findings_file, service_name or _env_service())
            propagate.set_global_textmap(choice.propagator)
            _runtime = Runtime(exc.provider, choice.propagator, resolved, policy=policy,
                               unguarded=[str(exc)])
            _log.warning("tracehound: %s", exc)
            _log.info("%s", choice.description)
            return _runtime
        # a bad path fails here, before the chain changes
        service = provider.resource.attributes.get("service.name")
        install_findings_file(findings_file, str(service or "unknown_service"))
        delegate = _sampler_with_drops(sampler, drop_spans)
        held, misplaced = ([], "") if created else held_processors(provider, switchboard)
        unguarded = (
            _unguarded([misplaced], [*held, *span_processors, *switchboard.added_later])
            if resolved is not Mode.OFF  # off: no guard and no policy, so no claim to qualify
            else []
        )
        if unguarded and resolved is Mode.STRICT:
            raise ConfigurationError("tracehound cannot keep secrets from: " + "; ".join(unguarded))
        exporters = exporters_for(span_exporter, [*switchboard.adopted, *held])
        if _sampler is not None:
            _sampler.delegate = delegate
        else:  # tracers made before configure() hold the provider's sampler: it stays
            asked = sampler is not None or drop_spans or os.environ.get("TRACEHOUND_DROP_SPANS")
            _log.log(
                logging.WARNING if asked else logging.INFO,
                "tracehound: the tracer provider was created elsewhere; its sampler is kept, "
                "so neither the sampler/drop_spans given nor the default low-value span "
                "patterns (health checks, /metrics, static files) apply",
            )
        propagate.set_global_textmap(choice.propagator)
        _log.info("%s", choice.description)

        chain: list[SpanProcessor] = []
        roots = lifecycle = None
        if resolved is not Mode.OFF:
            report = reporter_for(resolved)
            roots = RootGuard(report)
            lifecycle = LifecycleGuard(report, open_limit=open_span_limit)
            chain += [roots, lifecycle]
            install_submitter_hooks()
        if not created:
            switchboard.adopted += take_over(provider, switchboard)
        switchboard.added_to_provider = True
        behind = [*switchboard.adopted, *span_processors]
        checked_by = policy if resolved is not Mode.OFF else None
        for exporter in exporters:
            behind.append(
                CountingBatch(exporter, checked_by) if batch else SimpleSpanProcessor(exporter)
            )
        behind += switchboard.added_later
        gate = policy.processor(*behind) if resolved is not Mode.OFF else None
        chain += [gate] if gate is not None else behind
        previous = switchboard.processors
        switchboard.gate = gate
        switchboard.processors = tuple(chain)
        _retire(previous, keep=[*switchboard.added_later, *switchboard.adopted])
        runtime = Runtime(provider, choice.propagator, resolved, lifecycle, roots, tuple(behind),
                          policy, unguarded)
        switchboard.check = _checker(runtime) if resolved is not Mode.OFF else None
        _runtime = runtime
        watch_forks(lambda: provider._active_span_processor, _in_forked_child)
    for reason in unguarded:
        _log.warning("tracehound: the attribute policy cannot protect this: %s", reason)
    if log_correlation:
        from tracehound.runtime.logs import install_log_correlation

        install_log_correlation()
    return runtime


def _unguarded(reasons: Iterable[str], processors: Iterable[SpanProcessor]) -> list[str]:
    found = [r for r in reasons if r]
    found += [r for r in map(unguarded_reason, processors) if r]
    return found


def _checker(runtime: Runtime) -> Any:
    """What checks a processor added to the provider after `configure`."""

    def check(processor: SpanProcessor) -> None:
        reason = unguarded_reason(processor)
        if not reason:
            return
        if runtime.mode is Mode.STRICT:
            raise ConfigurationError(f"tracehound cannot keep secrets from: {reason}")
        runtime.unguarded.append(reason)
        _log.warning("tracehound: the attribute policy cannot protect this: %s", reason)

    return check


def shutdown() -> findings.Summary:
    """Report spans still open (L001), flush and stop exporting; returns the findings summary.

    A provider `configure` took over gets its own processors back, running
    (the distro's exporters export again, without tracehound in front).  In
    strict mode a span still open raises `TraceViolation` after everything
    was flushed.
    """
    global _runtime
    with _lock:
        runtime, _runtime = _runtime, None
        if runtime is None:
            return findings.summary()
        error: Exception | None = None
        if runtime.lifecycle is not None:
            try:
                runtime.lifecycle.report_open_at_shutdown()
            except Exception as exc:  # strict: raise after the flush below
                error = exc
        board = _switchboard
        if board is not None:
            processors, board.processors = board.processors, ()
            board.gate = None
            board.check = None
            for processor in processors:
                processor.force_flush()
            # A provider taken over gets its processors (and those added since) back, alive.
            given_back = taken_over(runtime.provider)
            theirs = [*board.adopted, *board.added_later] if given_back else []
            _retire(processors, keep=theirs)
            if given_back:
                give_back(runtime.provider, theirs)
                board.adopted.clear()
                board.added_later.clear()
        uninstall_submitter_hooks()
        unwatch_forks()
        uninstall_findings_file()  # after the spans still open were reported
    if error is not None:
        raise error
    return findings.summary()


def _in_forked_child() -> None:
    runtime = _runtime
    if runtime is not None and runtime.lifecycle is not None:
        runtime.lifecycle._at_fork_reinit()


def _retire(processors: Sequence[SpanProcessor], keep: Sequence[SpanProcessor]) -> None:
    """Shut down a replaced chain, but not the processors others added to the provider."""
    for processor in processors:
        held = getattr(processor, "span_processors", None)
        if held is not None and not isinstance(processor, (RootGuard, LifecycleGuard)):
            _retire(held, keep)
        elif processor not in keep:
            processor.shutdown()


class _ForeignProvider(Exception):
    """The global tracer provider is not the SDK's: nothing can be put in front of it."""

    def __init__(self, provider: Any) -> None:
        kind = f"{type(provider).__module__}.{type(provider).__qualname__}"
        super().__init__(
            f"the global tracer provider is a {kind}, not the OpenTelemetry SDK's "
            "TracerProvider: tracehound installed only its propagator; no guard, attribute "
            "policy or exporter of its own runs, so secrets are not redacted; let "
            "tracehound.configure() create the provider, or use the SDK's"
        )
        self.provider = provider


def _provider(
    service_name: str | None,
    attributes: Mapping[str, Any] | None,
    switchboard: _Processors,
) -> tuple[TracerProvider, bool]:
    """The SDK provider to use, and whether tracehound created it (with ``switchboard``)."""
    global _sampler
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        if service_name or attributes:
            name = current.resource.attributes.get("service.name")
            if service_name and service_name != name:
                _log.warning(
                    "tracehound: the tracer provider already exists with service.name "
                    "%r; a resource cannot change after start, keeping it",
                    name,
                )
        return current, current._active_span_processor is switchboard
    if not isinstance(current, trace.ProxyTracerProvider):
        raise _ForeignProvider(current)
    resource_attrs: dict[str, Any] = dict(attributes or {})
    if service_name:
        resource_attrs["service.name"] = service_name
    sampler = _SwitchableSampler(ParentBased(ALWAYS_ON))
    provider = TracerProvider(
        resource=Resource.create(resource_attrs),
        sampler=sampler,
        active_span_processor=switchboard,  # type: ignore[arg-type]
    )
    trace.set_tracer_provider(provider)
    if trace.get_tracer_provider() is not provider:  # pragma: no cover - set once, elsewhere
        raise ConfigurationError(
            "OpenTelemetry refused tracehound's tracer provider (the global one was set "
            "elsewhere); call tracehound.configure() before anything sets a provider"
        )
    _sampler = sampler
    return provider, True


def _sampler_with_drops(sampler: Sampler | None, patterns: Iterable[str] | None) -> Sampler:
    from tracehound.runtime.sampling import DEFAULT_LOW_VALUE_PATTERNS, DropSpansSampler

    base = sampler if sampler is not None else _sampler_from_env()
    try:
        return DropSpansSampler([*DEFAULT_LOW_VALUE_PATTERNS, *(patterns or ())], base)
    except ValueError as exc:  # configure() is an explicit call: a bad setting is an error
        raise ConfigurationError(str(exc)) from None


def _env_service() -> str:
    return os.environ.get("OTEL_SERVICE_NAME", "").strip() or "unknown_service"


def _sampler_from_env() -> Sampler:
    from opentelemetry.sdk.trace.sampling import _get_from_env_or_default

    try:
        return _get_from_env_or_default()
    except Exception as exc:
        raise ConfigurationError(f"OTEL_TRACES_SAMPLER: {exc}") from None
