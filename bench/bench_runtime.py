"""Runtime benchmark: per-span cost with tracehound's guards vs the plain OpenTelemetry SDK.

    python bench/bench_runtime.py [--spans N] [--repeats R] [--memory-spans M]

Defaults: 201 paired rounds of 1,000 spans; 1,000,000 spans for the memory run.

1. Per span: a child span with 12 attributes through a BatchSpanProcessor and a
   no-op exporter; plain SDK vs the same provider with RootGuard + LifecycleGuard
   in front (what ``tracehound.configure()`` installs), same run, interleaved.
2. Memory: M spans (default 1,000,000) at full speed through
   ``tracehound.configure()`` while the exporter is stalled: RSS sampled along
   the way must stay flat (the queue is bounded) and every dropped span must be
   counted (``get_runtime().dropped_spans``).  Runs in a child process.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind

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


class NoopExporter(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def provider_with(guards: bool) -> TracerProvider:
    # OTel's default batch settings (queue 2048, batches of 512): a huge queue
    # would make every garbage collection walk it and measure the GC instead.
    if not guards:
        provider = TracerProvider()
        provider.add_span_processor(BatchSpanProcessor(NoopExporter()))
        return provider
    from tracehound.findings import report
    from tracehound.runtime.guards import LifecycleGuard, RootGuard
    from tracehound.runtime.setup import _Processors

    # The layout configure() installs: its processor chain as the active processor.
    chain = _Processors()
    chain.processors = (
        RootGuard(report),
        LifecycleGuard(report, open_limit=300.0),
        BatchSpanProcessor(NoopExporter()),
    )
    return TracerProvider(active_span_processor=chain)  # type: ignore[arg-type]


def per_span_seconds(provider: TracerProvider, spans: int) -> tuple[float, float]:
    """Wall and CPU (process) seconds per span."""
    tracer = provider.get_tracer("bench")
    with tracer.start_as_current_span("parent", kind=SpanKind.SERVER):
        start, cpu = time.perf_counter(), time.process_time()
        for _ in range(spans):
            with tracer.start_as_current_span("child", attributes=ATTRIBUTES):
                pass
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    provider.force_flush()
    return elapsed / spans, cpu / spans


def bench_cost(spans: int, repeats: int) -> None:
    """Paired rounds, order alternating; the median of per-round ratios resists drift.

    Short rounds, many of them: on a shared host a pause hits a few pairs,
    not the whole comparison.  CPU time is reported beside wall time because
    it leaves out the time the host gave to others.
    """
    plain, guarded = provider_with(False), provider_with(True)
    per_span_seconds(plain, 2000)
    per_span_seconds(guarded, 2000)
    plain_t: list[tuple[float, float]] = []
    guarded_t: list[tuple[float, float]] = []
    for round_ in range(repeats):
        pair = [(plain, plain_t), (guarded, guarded_t)]
        for provider, times in pair if round_ % 2 else reversed(pair):
            times.append(per_span_seconds(provider, spans))
    print(f"per span, 12 attributes, batch processor ({repeats} paired rounds x {spans} spans):")
    for clock, label in ((0, "wall"), (1, "CPU ")):
        plain_c = [t[clock] for t in plain_t]
        guarded_c = [t[clock] for t in guarded_t]
        ratios = sorted(g / p for g, p in zip(guarded_c, plain_c, strict=True))
        median = statistics.median(ratios)
        low, high = ratios[len(ratios) // 4], ratios[(3 * len(ratios)) // 4]
        print(
            f"  {label}  plain OTel SDK {statistics.median(plain_c) * 1e6:6.2f} us, "
            f"tracehound guards {statistics.median(guarded_c) * 1e6:6.2f} us (medians)"
        )
        print(
            f"  {label}  ratio guards/plain median {median:.3f}x, "
            f"interquartile {low:.3f}-{high:.3f}x (target <= 1.10x)"
        )
    plain.shutdown()
    guarded.shutdown()


MEMORY_CHILD = r"""
import os, sys, threading, time
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
import tracehound

class Stalled(SpanExporter):
    def __init__(self): self.release = threading.Event()
    def export(self, spans):
        self.release.wait()
        return SpanExportResult.SUCCESS
    def shutdown(self): self.release.set()

def rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")

total = int(sys.argv[1])
exporter = Stalled()
tracehound.configure(span_exporter=exporter, log_correlation=False)
tracer = tracehound.get_runtime().provider.get_tracer("bench")
attrs = {"k%d" % i: i for i in range(12)}
samples = []
start = time.perf_counter()
with tracer.start_as_current_span("parent", kind=2):
    for i in range(1, total + 1):
        with tracer.start_as_current_span("child", attributes=attrs):
            pass
        if i % (total // 8) == 0:
            samples.append((i, rss_mb()))
elapsed = time.perf_counter() - start
runtime = tracehound.get_runtime()
dropped = runtime.dropped_spans
summary = tracehound.findings.summary()
exporter.release.set()
print("elapsed", round(elapsed, 1))
print("samples", samples)
print("dropped", dropped, "L007", summary.by_code.get("L007", 0))
"""


def bench_memory(spans: int) -> None:
    result = subprocess.run(
        [sys.executable, "-c", MEMORY_CHILD, str(spans)],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if result.returncode != 0:
        print("memory benchmark failed:", result.stderr[-2000:])
        return
    lines = dict(line.split(" ", 1) for line in result.stdout.strip().splitlines())
    samples = eval(lines["samples"])  # our own child's output
    dropped = lines["dropped"].split()[0]
    print(f"memory: {spans} spans, exporter stalled, {lines['elapsed']} s")
    for count, rss in samples:
        print(f"  after {count:>9} spans  RSS {rss:7.1f} MB")
    first, last = samples[0][1], samples[-1][1]
    print(f"  RSS growth from first to last sample: {last - first:+.1f} MB")
    print(f"  dropped spans counted: {dropped} (queue 2048 + in-flight batch kept)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=1_000)
    parser.add_argument("--repeats", type=int, default=201)
    parser.add_argument("--memory-spans", type=int, default=1_000_000)
    args = parser.parse_args()
    bench_cost(args.spans, args.repeats)
    if args.memory_spans:
        bench_memory(args.memory_spans)
    return 0


if __name__ == "__main__":
    threading.excepthook = lambda a: None
    sys.exit(main())
