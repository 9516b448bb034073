"""The exporters `configure` adds, and the batch processor that counts what it drops.

``OTEL_TRACES_EXPORTER`` names them (``otlp``, ``console``, ``none`` or any
``opentelemetry_traces_exporter`` entry point, ``tracehound_file`` among
them), unless the provider already exports: ``opentelemetry-instrument`` has
made them from the same variable, and making them again would export every
span twice.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from importlib.metadata import entry_points
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

from tracehound import findings
from tracehound.rules import Finding, get_rule
from tracehound.runtime._errors import ConfigurationError
from tracehound.runtime._placement import exports

__all__ = ["CountingBatch", "exporters_for", "exporters_from_env"]

_log = logging.getLogger("tracehound")


class _DropCounter:
    """Stands in for the batch engine's metrics: the SDK calls ``drop_items(1)`` exactly
    when its full queue drops a span, so counting there costs nothing per span."""

    def __init__(self, inner: Any, on_drop: Any) -> None:
        self._inner = inner
        self._on_drop = on_drop

    def drop_items(self, count: int, error_type: str = "queue_full") -> None:
        if error_type == "queue_full":
            self._on_drop(count)
        self._inner.drop_items(count, error_type)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class CountingBatch(SpanProcessor):
    """A `BatchSpanProcessor` that counts every span its full queue drops (L007).

    OpenTelemetry logs a drop once per 20 s and counts it only in an optional
    metric.  This counts each one: through the batch engine's metrics hook
    when the SDK has one (then the span goes straight to the batch processor),
    else by looking at the queue before handing the span over.  Both are
    private attributes: without them (a future SDK) drops go uncounted, and
    `counts_drops` says so.

    Given the attribute ``policy``, the exporter is wrapped in its
    `tracehound.attributes.PolicyExporter` (``policy_exporter``): nothing
    reaches the exporter unchecked, and the policy's processor in front hands
    this processor the spans unchecked (``checks_on_export``).
    """

    def __init__(self, exporter: SpanExporter, policy: Any = None) -> None:
        self.checks_on_export = self.policy_exporter = None
        if policy is not None and policy.enabled:
            # The policy runs in the export thread, a batch at a time, in front of
            # the exporter: the thread ending a span pays nothing per attribute.
            self.policy_exporter = exporter = policy.exporter(exporter)
            self.checks_on_export = policy
        self.batch = BatchSpanProcessor(exporter)
        self.dropped = 0
        inner = getattr(self.batch, "_batch_processor", None)
        queue = getattr(inner, "_queue", None)
        self._queue = queue if getattr(queue, "maxlen", None) else None
        # the batch processor's own (``pass``): a chain sees that and skips the call
        self.on_start = self.batch.on_start  # type: ignore[method-assign]
        metrics = getattr(inner, "_metrics", None)
        if self._queue is not None and callable(getattr(metrics, "drop_items", None)):
            inner._metrics = _DropCounter(metrics, self._count_drops)  # type: ignore[union-attr]
            self.on_end = self.batch.on_end  # type: ignore[method-assign]

    @property
    def counts_drops(self) -> bool:
        return self._queue is not None

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self.batch.on_start(span, parent_context=parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        queue = self._queue
        if queue is not None and len(queue) >= queue.maxlen:  # type: ignore[operator]
            self._count_drops(1)
        self.batch.on_end(span)

    def _count_drops(self, count: int) -> None:
        self.dropped += count
        findings.report(
            Finding(
                get_rule("L007"),
                "the span export queue is full, so finished spans are dropped; "
                "tracehound.get_runtime().dropped_spans counts them",
                location="BatchSpanProcessor",
            )
        )

    def shutdown(self) -> None:
        self.batch.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.batch.force_flush(timeout_millis)


def exporters_for(given: SpanExporter | None, held: Sequence[SpanProcessor]) -> list[SpanExporter]:
    """The exporters to add: ``given``, else ``OTEL_TRACES_EXPORTER``'s unless already there.

    ``opentelemetry-instrument`` has already made the exporters
    ``OTEL_TRACES_EXPORTER`` names; making them again would export every
    span twice.
    """
    if given is not None:
        return [given]
    if any(exports(p) for p in held):
        _log.info(
            "tracehound: the tracer provider already exports (%s); its exporters are kept "
            "behind tracehound and OTEL_TRACES_EXPORTER is not applied again",
            ", ".join(type(p).__name__ for p in held if exports(p)),
        )
        return []
    return exporters_from_env()


def exporters_from_env() -> list[SpanExporter]:
    names = [n.strip().lower() for n in os.environ.get("OTEL_TRACES_EXPORTER", "otlp").split(",")]
    exporters: list[SpanExporter] = []
    for name in filter(None, names):
        if name == "none":
            continue
        if name == "console":
            exporters.append(ConsoleSpanExporter())
        elif name == "otlp":
            exporters.append(_otlp_exporter())
        else:
            found = {ep.name: ep for ep in entry_points(group="opentelemetry_traces_exporter")}
            if name not in found:
                choices = ", ".join(sorted({"otlp", "console", "none", *found}))
                raise ConfigurationError(
                    f"OTEL_TRACES_EXPORTER: unknown exporter {name!r}; choose from {choices}"
                )
            try:
                exporters.append(found[name].load()())
            except (ImportError, OSError, ValueError) as exc:
                raise ConfigurationError(f"OTEL_TRACES_EXPORTER={name}: {exc}") from None
    return exporters


def _otlp_exporter() -> SpanExporter:
    protocol = (
        os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    ).strip()
    if protocol == "grpc":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        except ImportError:
            raise ConfigurationError(
                "OTEL_EXPORTER_OTLP_PROTOCOL=grpc needs opentelemetry-exporter-otlp-proto-grpc; "
                "install it or use http/protobuf (pip install 'tracehound[otlp]')"
            ) from None
        return OTLPSpanExporter()  # type: ignore[no-any-return]
    if protocol not in ("http/protobuf", "http/json"):
        raise ConfigurationError(
            f"OTEL_EXPORTER_OTLP_PROTOCOL: unknown protocol {protocol!r}; "
            "choose grpc or http/protobuf"
        )
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as Http
    except ImportError:
        raise ConfigurationError(
            "OTEL_TRACES_EXPORTER=otlp needs the OTLP exporter: pip install 'tracehound[otlp]' "
            "(or set OTEL_TRACES_EXPORTER=console or none)"
        ) from None
    return Http()
