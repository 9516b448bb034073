"""In-process enforcement: a span processor that every exporter sits behind.

Why a *parent* processor rather than one more processor in the list: the SDK
calls processors in registration order with one shared `ReadableSpan`, and a
`SimpleSpanProcessor` exports inside its own ``on_end``; a policy registered
after it, or one that rewrote the shared span in place, could not guarantee
that no exporter saw a secret.  `AttributePolicyProcessor` is a
`SynchronousMultiSpanProcessor`: the processors it holds only ever receive
the span it returns (the original object when clean, a rewritten copy when
not).  Install it as the provider's *active* processor::

    provider = TracerProvider(resource=..., active_span_processor=policy.processor())
    provider.add_span_processor(BatchSpanProcessor(exporter))   # behind the policy

Every processor added later, by anyone, with ``provider.add_span_processor``
is added to it, so every span from every instrumentation library passes
the policy before any exporter.  For a provider you do not create, wrap the
processors (``provider.add_span_processor(policy.processor(BatchSpanProcessor(e)))``)
or the exporter (`PolicyExporter`).

A processor behind it that applies the same policy itself before anything
leaves the process (tracehound's own batch processor, whose exporter is a
`PolicyExporter`: its ``checks_on_export`` attribute is the policy) is handed
the span as it is, and checked in the export thread, a batch at a time: the
code that ends the span pays nothing per attribute.  Every other processor
behind still receives only spans the policy has checked.

Strict mode raises `PolicyViolation` at the offending call: ``on_start``
checks the span name and start attributes (the span is ended, then the error
propagates out of ``start_span``), and swaps the span's class for a subclass
whose ``set_attribute``/``set_attributes``/``update_name`` check before
storing, so the bad value is never recorded.  The swap costs nothing per
span beyond one assignment and is only done in strict mode.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, SynchronousMultiSpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from tracehound import findings as _findings
from tracehound.attributes._enforce import SpanEnforcer
from tracehound.attributes._policy import AttributePolicy, PolicyViolation
from tracehound.rules import Finding

__all__ = ["AttributePolicyProcessor", "PolicyExporter", "checks_on_export"]

logger = logging.getLogger("tracehound")
_FAILED = "tracehound attribute policy failed on span %r; span dropped"


def _strict_span_class(base: type[Span], policy: AttributePolicy) -> type[Span]:
    class StrictSpan(base):  # type: ignore[valid-type, misc]
        __doc__ = base.__doc__

        def set_attribute(self, key: str, value: Any) -> None:
            policy.raise_for_attribute(key, value)
            super().set_attribute(key, value)

        def set_attributes(self, attributes: Mapping[str, Any]) -> None:
            for key, value in attributes.items():
                policy.raise_for_attribute(key, value)
            super().set_attributes(attributes)

        def update_name(self, name: str) -> None:
            policy.raise_for_name(name)
            super().update_name(name)

    StrictSpan.__name__ = StrictSpan.__qualname__ = base.__name__
    return StrictSpan


class AttributePolicyProcessor(SynchronousMultiSpanProcessor):
    """Applies an `AttributePolicy` to each ended span, then hands it to its processors.

    A span that breaks nothing is passed on as the same object.  Findings go
    to `tracehound.findings.report` after the span was handed on.  If the
    policy itself fails on a span, the span is dropped (fail closed: an
    unchecked span could carry a secret) and the failure is logged.
    """

    def __init__(self, policy: AttributePolicy | None = None, *processors: SpanProcessor) -> None:
        super().__init__()
        self.policy = policy if policy is not None else AttributePolicy.from_config()
        self._enforcer = SpanEnforcer(self.policy)
        self._strict_classes: dict[type, type] = {}
        self._enabled = self.policy.enabled
        self._strict = self.policy.strict
        self.dropped_on_error = 0
        """Spans not exported because the policy raised on them."""
        self.on_change: Any = None
        """Called after the processors behind changed (a chain using `end_hooks` re-reads)."""
        for processor in processors:
            self.add_span_processor(processor)
        self._bind_hooks()

    @property  # type: ignore[override]
    def _span_processors(self) -> tuple[SpanProcessor, ...]:
        return self._behind

    @_span_processors.setter
    def _span_processors(self, processors: tuple[SpanProcessor, ...]) -> None:
        # Every change of the processors behind (add, or a chain taking one out)
        # comes through here, so the bound hooks always match them.
        self._behind = tuple(processors)
        if "_strict" in self.__dict__:
            self._bind_hooks()

    def _bind_hooks(self) -> None:
        """Call only the hooks the processors behind implement, and none when there are none.

        Every span pays for each call: with nothing behind it to start (the
        batch processor's ``on_start`` is ``pass``) and not strict, this
        processor's own ``on_start`` becomes a no-op that a chain can skip.
        """
        from tracehound.runtime._hooks import active_hooks

        processors = self._behind
        self._starts = active_hooks(processors, "on_start")
        at_export = tuple(p for p in processors if checks_on_export(p, self.policy))
        checked_here = tuple(p for p in processors if p not in at_export)
        self._raw_ends = tuple(p.on_end for p in at_export)
        self._ends = tuple(p.on_end for p in checked_here)
        # One place reports each finding: here, when spans are checked here anyway
        # (findings then come in the thread that ended the span), else the export side.
        for processor in at_export:
            processor.policy_exporter.report_findings = not checked_here
        self._endings = active_hooks(processors, "_on_ending")
        if self._strict or self._starts:
            self.__dict__.pop("on_start", None)
        else:
            self.on_start = SpanProcessor.on_start.__get__(self)  # type: ignore[method-assign]
        if self._endings:
            self.__dict__.pop("_on_ending", None)
        else:
            self._on_ending = SpanProcessor._on_ending.__get__(self)  # type: ignore[method-assign]
        if self.on_change is not None:
            self.on_change()

    def end_hooks(self) -> tuple[Any, ...]:
        """What a chain may call instead of this processor's ``on_end``, in order.

        When every processor behind checks spans on export, that is their own
        ``on_end``s (one call less per span); otherwise this processor's.  A
        chain that calls these must re-read them when ``on_change`` is called.
        """
        if self._ends or not self._enabled:
            return (self.on_end,)
        return self._raw_ends

    def _on_ending(self, span: Span) -> None:
        for on_ending in self._endings:
            on_ending(span)

    @property
    def span_processors(self) -> Sequence[SpanProcessor]:
        """The processors behind the policy, in call order."""
        return self._span_processors

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        if self._strict and isinstance(span, Span):
            self._start_strict(span, parent_context)
            return
        for on_start in self._starts:
            on_start(span, parent_context=parent_context)

    def _start_strict(self, span: Span, parent_context: Context | None) -> None:
        base = type(span)
        strict_class = self._strict_classes.get(base)
        if strict_class is None:
            strict_class = _strict_span_class(base, self.policy)
            strict_class = self._strict_classes.setdefault(base, strict_class)
        span.__class__ = strict_class
        for processor in self._span_processors:
            processor.on_start(span, parent_context=parent_context)
        try:
            self.policy.raise_for_name(span.name)
            for key, value in dict(span.attributes).items():
                self.policy.raise_for_attribute(key, value)
        except PolicyViolation:
            span.end()  # a started span must end; it is exported after the policy
            raise

    def on_end(self, span: ReadableSpan) -> None:
        for on_end in self._raw_ends:  # they check it themselves before exporting
            on_end(span)
        if self._ends:
            self._check_and_hand_on(span)

    def _check_and_hand_on(self, span: ReadableSpan) -> None:
        found: Sequence[Finding] = ()
        if self._enabled:
            try:
                span, found = self._enforcer.enforce(span)
            except Exception:
                self.dropped_on_error += 1
                logger.exception(_FAILED, span.name)
                return
        for on_end in self._ends:
            on_end(span)
        for finding in found:
            _findings.report(finding)


def checks_on_export(processor: object, policy: AttributePolicy) -> bool:
    """Whether ``processor`` applies ``policy`` itself before anything it holds exports.

    Such a processor says so with a ``checks_on_export`` attribute naming the
    policy and a ``policy_exporter`` (the `PolicyExporter` in front of its
    exporter); tracehound's batch processor does, when `configure` builds it.
    """
    return getattr(processor, "checks_on_export", None) is policy and isinstance(
        getattr(processor, "policy_exporter", None), PolicyExporter
    )


class PolicyExporter(SpanExporter):
    """Wraps an exporter so it only ever receives spans the policy has checked.

    For providers you do not build yourself; prefer `AttributePolicyProcessor`
    as the active processor, which also covers exporters added later.
    ``report_findings`` False leaves the reporting to someone else (an
    `AttributePolicyProcessor` checking the same spans); the spans are still
    checked and redacted here.
    """

    def __init__(self, inner: SpanExporter, policy: AttributePolicy | None = None) -> None:
        self.inner = inner
        self.policy = policy if policy is not None else AttributePolicy.from_config()
        self._enforcer = SpanEnforcer(self.policy)
        self.report_findings = True
        self.dropped_on_error = 0
        """Spans not exported because the policy raised on them."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if not self.policy.enabled:
            return self.inner.export(spans)
        checked, found, dropped = self._enforcer.enforce_all(spans)
        self.dropped_on_error += dropped
        result = self.inner.export(checked)
        if self.report_findings:
            for finding in found:
                try:
                    _findings.report(finding)
                except Exception:  # a listener's error: the other findings still count
                    logger.exception("tracehound: reporting a finding failed")
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)
