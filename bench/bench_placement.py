"""What taking over a provider costs: configure() on its own provider vs on the distro's.

    python bench/bench_placement.py [--pairs P] [--spans N]

Each measurement is a child process that calls ``tracehound.configure()`` as a
user does — on a fresh process (tracehound creates the provider, the
baseline) or after a provider was set up the way ``opentelemetry-instrument``
does (``TracerProvider()`` plus a ``BatchSpanProcessor``; configure() takes it
over, one multi-processor more per span) — and times N child spans with 12
attributes through a no-op exporter, up to the end of a flush (best of 5 rounds).  The two kinds run
alternately, P pairs; printed: the median per-span times and the ratio,
CPU time beside wall time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

CHILD = """
import json, sys, time
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
import tracehound

class Noop(SpanExporter):
    def export(self, spans):
        return SpanExportResult.SUCCESS

kind, spans = sys.argv[1], int(sys.argv[2])
if kind == "taken-over":
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Noop()))
    trace.set_tracer_provider(provider)
    tracehound.configure(log_correlation=False)
else:
    tracehound.configure(span_exporter=Noop(), log_correlation=False)
tracer = trace.get_tracer("bench")
attributes = {f"app.key{i}": i for i in range(12)}
cpu = wall = float("inf")
with tracer.start_as_current_span("root", kind=trace.SpanKind.SERVER):
    for _ in range(5):
        c, w = time.process_time(), time.perf_counter()
        for _ in range(spans):
            with tracer.start_as_current_span("child", attributes=attributes):
                pass
        trace.get_tracer_provider().force_flush()  # export-thread work counts too
        cpu = min(cpu, (time.process_time() - c) / spans)
        wall = min(wall, (time.perf_counter() - w) / spans)
print(json.dumps({"cpu": cpu, "wall": wall}))
"""


def measure(kind: str, spans: int) -> dict[str, float]:
    env = {"OTEL_TRACES_EXPORTER": "none", "OTEL_BSP_MAX_QUEUE_SIZE": "2048", "PATH": ""}
    result = subprocess.run(
        [sys.executable, "-c", CHILD, kind, str(spans)],
        capture_output=True, text=True, env=env, timeout=300, check=True,
    )
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=9)
    parser.add_argument("--spans", type=int, default=2000)
    args = parser.parse_args()
    runs: dict[str, list[dict[str, float]]] = {"created": [], "taken-over": []}
    for _ in range(args.pairs):
        for kind, results in runs.items():
            results.append(measure(kind, args.spans))
    medians = {
        kind: {m: statistics.median(r[m] for r in results) for m in ("cpu", "wall")}
        for kind, results in runs.items()
    }
    for kind, values in medians.items():
        print(f"{kind:10}  cpu {values['cpu'] * 1e6:6.1f} us/span  wall {values['wall'] * 1e6:6.1f}"
              " us/span")
    base, other = medians["created"], medians["taken-over"]
    print(f"taken-over / created: cpu {other['cpu'] / base['cpu']:.2f}x  "
          f"wall {other['wall'] / base['wall']:.2f}x  ({args.pairs} pairs of {args.spans} spans)")


if __name__ == "__main__":
    main()
