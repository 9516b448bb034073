"""Per-span cost of the attribute policy against the plain OpenTelemetry SDK.

    python bench/bench_attributes.py [--spans N] [--rounds R] [--write FILE.md]

Three pipelines in the same process, measured in interleaved rounds (so
machine noise hits all alike), each creating spans with 12 attributes and a
`BatchSpanProcessor` with an exporter that does nothing:

- ``plain``: the OpenTelemetry SDK alone;
- ``policy-clean``: the policy as the provider's active processor (default
  actions, mode ``warn``), all 12 attributes clean;
- ``policy-violating``: the same with one of the 12 a secret (``user.token``),
  so every span is copied, redacted and reported.

Two of the clean attributes vary per span (a user ID string and an order
number), so the policy's value cache does not hide the scanning cost.
Prints the median (over rounds) process CPU time per span, export thread
included, and the ratio to ``plain``.  CPU time rather than wall time, and
the median of many short interleaved rounds, keep the figures stable on a
machine shared with other work.
"""

from __future__ import annotations

import argparse
import gc
import logging
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import opentelemetry
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from tracehound import findings
from tracehound.attributes import AttributePolicy, Mode, evaluate_corpus, load_corpus

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "attributes" / "corpus.jsonl"


class NoopExporter(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def make_workload(provider: TracerProvider, violating: bool) -> Callable[[int], None]:
    tracer = provider.get_tracer("bench")
    secret_key = "user.token" if violating else "user.tier"

    def run(count: int) -> None:
        for i in range(count):
            attributes = {
                "http.request.method": "GET",
                "http.route": "/orders/{order_id}",
                "http.response.status_code": 200,
                "server.address": "api.example.com",
                "server.port": 8080,
                "user.id": f"u-{i}",
                "order.id": 100000 + i,
                "order.amount": 42.5,
                "order.currency": "EUR",
                "feature.checkout_v2": True,
                "db.system.name": "postgresql",
                secret_key: "gold" if not violating else "tok_4f9a8b7c6d5e4f3a2b1c",
            }
            with tracer.start_as_current_span("GET /orders/{order_id}", attributes=attributes):
                pass

    return run


def build(kind: str) -> tuple[TracerProvider, Callable[[int], None]]:
    if kind == "plain":
        provider = TracerProvider(shutdown_on_exit=False)
    else:
        policy = AttributePolicy.from_config(mode=Mode.WARN, env={})
        provider = TracerProvider(shutdown_on_exit=False, active_span_processor=policy.processor())
    # A queue larger than a round, flushed after each: no pipeline drops spans.
    provider.add_span_processor(BatchSpanProcessor(NoopExporter(), max_queue_size=16384))
    return provider, make_workload(provider, violating=kind == "policy-violating")


def measure(spans: int, rounds: int) -> dict[str, float]:
    kinds = ("plain", "policy-clean", "policy-violating")
    pipelines = {kind: build(kind) for kind in kinds}
    for provider, run in pipelines.values():
        run(2000)  # warm caches and the interpreter
        provider.force_flush()
    samples: dict[str, list[float]] = {kind: [] for kind in kinds}
    for _ in range(rounds):
        for kind in kinds:
            provider, run = pipelines[kind]
            gc.collect()
            start = time.process_time()
            run(spans)
            provider.force_flush()
            elapsed = time.process_time() - start
            samples[kind].append(elapsed / spans * 1e6)
    for provider, _ in pipelines.values():
        provider.shutdown()
    return {kind: statistics.median(values) for kind, values in samples.items()}


def report(results: dict[str, float], spans: int, rounds: int) -> str:
    base = results["plain"]
    lines = [
        "| pipeline | CPU µs per span (median) | added µs | ratio to plain |",
        "|---|---:|---:|---:|",
    ]
    for kind, micros in results.items():
        lines.append(f"| {kind} | {micros:.2f} | {micros - base:+.2f} | {micros / base:.3f}× |")
    environment = (
        f"Python {platform.python_version()} on {platform.system()} {platform.machine()}, "
        f"opentelemetry-sdk {opentelemetry.sdk.version.__version__}, "
        f"{spans} spans × {rounds} interleaved rounds per pipeline."
    )
    return "\n".join(lines) + "\n\n" + environment + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spans", type=int, default=2500, help="spans per round")
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--write", type=Path, help="also write the table into this markdown file")
    args = parser.parse_args(argv)
    logging.getLogger("tracehound").setLevel(logging.CRITICAL)  # findings counted, not printed
    results = measure(args.spans, args.rounds)
    table = report(results, args.spans, args.rounds)
    print(table)
    print(f"findings reported during the run: {findings.summary().by_code}\n")
    corpus = evaluate_corpus(load_corpus(CORPUS)).table()
    print(corpus)
    if args.write:
        write_markdown(args.write, "bench", table)
        write_markdown(args.write, "corpus", corpus)
    return 0


def write_markdown(path: Path, section: str, table: str) -> None:
    """Replace the marked ``section`` of ``path`` with ``table`` (appended if absent)."""
    marker_start = f"<!-- attributes:{section}:start -->"
    marker_end = f"<!-- attributes:{section}:end -->"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    block = f"{marker_start}\n{table}{marker_end}"
    if marker_start in text and marker_end in text:
        head, rest = text.split(marker_start, 1)
        text = head + block + rest.split(marker_end, 1)[1]
    else:
        text = text + ("\n" if text else "") + block + "\n"
    path.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    import opentelemetry.sdk.version

    sys.exit(main())
