"""The span pipelines the runtime benchmarks compare (shared by bench_runtime*.py).

``full`` is what a user gets from ``tracehound.configure()`` (default mode,
the exporter given as an argument), built by ``configure()`` itself so the
figure follows whatever it installs.  The parts are the pieces ``configure()``
installed, each alone in front of the same batch processor as the plain SDK:
``sampler`` (its sampler), ``guards`` (a RootGuard and a LifecycleGuard made as it
makes them),
``policy`` (its attribute policy processor, with the batch processor behind
it built as ``configure()`` builds it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, SynchronousMultiSpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

ATTRIBUTES = {
    "http.request.method": "POST",
    "url.path": "/orders",
    "http.response.status_code": 201,
    "server.address": "orders.svc",
    "server.port": 8080,
    "user.id": "u-123",
    "order.id": "o-456",
    "order.amount": 99.5,
    "order.items": 3,
    "tenant.id": "acme",
    "feature.flag": True,
    "retry.count": 0,
}
"""Twelve clean attributes, as a request span carries them."""

PARTS = ("sampler", "guards", "policy")


class NoopExporter(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def plain() -> TracerProvider:
    """The plain SDK: default sampler, OTel's BatchSpanProcessor (default settings)."""
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(NoopExporter()))
    return provider


def configured(mode: str | None = None) -> TracerProvider:
    """``tracehound.configure()``'s provider (the process's global one)."""
    import tracehound

    return tracehound.configure(span_exporter=NoopExporter(), mode=mode).provider


def part(name: str) -> TracerProvider:
    """One piece of the configured chain (call `configured` first) before a batch processor."""
    import tracehound

    runtime = tracehound.get_runtime()
    assert runtime is not None, "configure() first"
    if name == "sampler":
        provider = TracerProvider(sampler=runtime.provider.sampler)
        provider.add_span_processor(BatchSpanProcessor(NoopExporter()))
        return provider
    if name == "guards":
        # guards of its own, made as configure() makes them: a guard may lead one chain
        # (its end hooks are that chain's), and the full chain keeps the runtime's
        roots = type(runtime.roots)(runtime.roots._report)
        lifecycle = type(runtime.lifecycle)(runtime.lifecycle._report)
        processors = [roots, lifecycle, BatchSpanProcessor(NoopExporter())]
    elif name == "policy":
        processors = [runtime.policy.processor(_batch_as_configured(runtime.policy))]
    else:
        raise ValueError(f"unknown part {name!r}; choose from {', '.join(PARTS)}")
    return TracerProvider(active_span_processor=_chain(processors))


def _batch_as_configured(policy: Any) -> Any:
    """The batch processor behind the policy as configure() builds it (the policy may
    run in its export thread), else, in a tree where it cannot, the SDK's."""
    try:
        from tracehound.runtime._exporters import CountingBatch

        return CountingBatch(NoopExporter(), policy)
    except (ImportError, TypeError):  # a tree without it
        return BatchSpanProcessor(NoopExporter())


def _chain(processors: list[Any]) -> Any:
    """The processors in the chain configure() puts them in (it calls only the hooks
    that do something, and RootGuard for root spans only), else the SDK's list."""
    try:
        from tracehound.runtime.setup import _Processors
    except ImportError:  # a tree without it
        chain = SynchronousMultiSpanProcessor()
        for processor in processors:
            chain.add_span_processor(processor)
        return chain
    switchboard = _Processors()
    switchboard.processors = tuple(processors)
    return switchboard
