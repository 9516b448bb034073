"""Runtime benchmark: per child span, the chain ``configure()`` installs vs the plain SDK.

    python bench/bench_runtime.py [--spans N] [--repeats R] [--memory-spans M] [--mode MODE]

Defaults: 101 paired rounds of 1,000 spans; 1,000,000 spans for the memory run.

1. Per span, full chain first: a child span with 12 clean attributes through
   what ``tracehound.configure()`` installs (default mode: sampler, guards,
   attribute policy, batch processor; a no-op exporter) vs the plain SDK
   (default sampler, ``BatchSpanProcessor``, the same exporter).  Then each
   part alone in front of the plain SDK's batch processor: the sampler, the
   guards (RootGuard + LifecycleGuard), the attribute policy
   (``bench/_chains.py``).  Every round measures every pipeline, in
   alternating order; the figure is the median of the per-round ratios, CPU
   time (process: every thread) beside wall time, each up to the end of a
   ``force_flush`` (what the export thread does counts too).  ``mode="off"`` is measured in a child
   process (``configure()`` is once per process).
2. Memory: M spans (default 1,000,000) at full speed through
   ``tracehound.configure()`` while the exporter is stalled: RSS sampled along
   the way must stay flat (the queue is bounded) and every dropped span must be
   counted (``get_runtime().dropped_spans``).  Runs in a child process.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _chains  # bench/ is not a package


def per_span_seconds(provider: TracerProvider, spans: int) -> tuple[float, float]:
    """Wall and CPU (process: every thread) seconds per span, until all of them are exported.

    The flush is inside the measurement: work done in the export thread (the
    attribute policy's, in front of the exporter) is paid for every span.
    """
    tracer = provider.get_tracer("bench")
    with tracer.start_as_current_span("parent", kind=SpanKind.SERVER):
        start, cpu = time.perf_counter(), time.process_time()
        for _ in range(spans):
            with tracer.start_as_current_span("child", attributes=_chains.ATTRIBUTES):
                pass
        provider.force_flush()
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    return elapsed / spans, cpu / spans


def bench_cost(spans: int, repeats: int, mode: str | None, parts: bool) -> None:
    """Paired rounds, order alternating; the median of per-round ratios resists drift.

    Short rounds, many of them: on a shared host a pause hits a few rounds,
    not the whole comparison.  CPU time is reported beside wall time because
    it leaves out the time the host gave to others.
    """
    pipelines = {"plain": _chains.plain(), "full": _chains.configured(mode)}
    if parts and mode != "off":
        pipelines.update((name, _chains.part(name)) for name in _chains.PARTS)
    for provider in pipelines.values():
        per_span_seconds(provider, 2000)
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in pipelines}
    names = list(pipelines)
    for round_ in range(repeats):
        for name in names if round_ % 2 else reversed(names):
            times[name].append(per_span_seconds(pipelines[name], spans))
    label = f'configure(mode="{mode}")' if mode else "configure(), default mode"
    print(
        f"per child span, 12 clean attributes, batch processor, {repeats} rounds x {spans} "
        f"spans; full chain = {label}:"
    )
    plain = times["plain"]
    for name in names:
        row = []
        for clock, clock_name in ((1, "CPU"), (0, "wall")):
            ratios = sorted(t[clock] / p[clock] for t, p in zip(times[name], plain, strict=True))
            low, high = ratios[len(ratios) // 4], ratios[(3 * len(ratios)) // 4]
            median_us = statistics.median(t[clock] for t in times[name]) * 1e6
            row.append(
                f"{clock_name} {median_us:6.2f} us {statistics.median(ratios):.3f}x "
                f"({low:.3f}-{high:.3f})"
            )
        print(f"  {name:8} " + "   ".join(row))
    print("  (medians; ratio = median of per-round ratios to plain, interquartile in brackets)")
    for provider in pipelines.values():
        provider.shutdown()


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
    parser.add_argument("--repeats", type=int, default=101)
    parser.add_argument("--memory-spans", type=int, default=1_000_000)
    parser.add_argument("--mode", choices=("warn", "strict", "off"), default=None)
    parser.add_argument("--no-parts", action="store_true", help="the full chain only")
    args = parser.parse_args()
    os.environ.pop("TRACEHOUND_MODE", None)
    bench_cost(args.spans, args.repeats, args.mode, not args.no_parts)
    if args.mode is None:  # the same comparison with the guards and the policy off
        subprocess.run(
            [sys.executable, __file__, "--mode", "off", "--spans", str(args.spans),
             "--repeats", str(args.repeats), "--memory-spans", "0", "--no-parts"],
            check=False,
        )  # fmt: skip
    if args.memory_spans:
        bench_memory(args.memory_spans)
    return 0


if __name__ == "__main__":
    threading.excepthook = lambda a: None
    sys.exit(main())
