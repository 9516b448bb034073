"""Propagation benchmark: tracehound's propagator against OpenTelemetry's, same run.

    python bench/bench_propagation.py [--loops N] [--repeats R]

Cases (each a ratio tracehound / baseline; best of interleaved repeats, as timeit advises):
  extract, W3C only      vs OTel TraceContextTextMapPropagator
  extract, all formats   vs OTel composite tracecontext + b3 + jaeger, the formats
                         agreeing (a migration) and disagreeing (tracehound then
                         builds a P002 finding and a link; OTel silently lets the
                         last propagator win)
  inject, W3C            vs OTel TraceContextTextMapPropagator
  inject, W3C + jaeger + b3 vs the same composite
Carriers are realistic request header dicts (lower-case names, a dozen headers).
"""

from __future__ import annotations

import argparse
import platform
import sys
import timeit
from collections.abc import Callable

from opentelemetry import trace
from opentelemetry.propagators.b3 import B3SingleFormat
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.propagators.jaeger import JaegerPropagator
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from tracehound.runtime.propagation import TracehoundPropagator

TID, SID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
BASE_HEADERS = {
    "host": "payments.svc.cluster.local",
    "user-agent": "python-httpx/0.27.0",
    "accept": "application/json",
    "accept-encoding": "gzip, deflate",
    "connection": "keep-alive",
    "content-type": "application/json",
    "content-length": "512",
    "x-request-id": "5f0c7b3e-2a4d-4f8e-9b1a-0c2d3e4f5a6b",
    "x-forwarded-for": "10.0.0.12",
    "x-envoy-attempt-count": "1",
}
W3C_ONLY = {**BASE_HEADERS, "traceparent": f"00-{TID}-{SID}-01", "tracestate": "congo=t61rcWkgMzE"}
ALL_FORMATS = {  # a service in a migration: every format, naming the same trace
    **W3C_ONLY,
    "uber-trace-id": f"{TID}:{SID}:0:1",
    "b3": f"{TID}-{SID}-1",
    "x-b3-traceid": TID,
    "x-b3-spanid": SID,
    "x-b3-sampled": "1",
}
CONFLICT = {**ALL_FORMATS, "b3": f"{'a' * 32}-{SID}-1"}  # a broken hop: P002 and a link


def measure(fn: Callable[[], object], loops: int) -> float:
    return timeit.timeit(fn, number=loops) / loops


def compare(
    name: str, ours: Callable[[], object], base: Callable[[], object], loops: int, repeats: int
) -> tuple[str, float, float, float]:
    ours_t, base_t = [], []
    for _ in range(repeats):  # interleaved, so machine noise hits both alike
        base_t.append(measure(base, loops))
        ours_t.append(measure(ours, loops))
    o, b = min(ours_t), min(base_t)
    return name, o * 1e6, b * 1e6, o / b


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loops", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    otel_w3c = TraceContextTextMapPropagator()
    otel_all = CompositePropagator([otel_w3c, B3SingleFormat(), JaegerPropagator()])
    hound = TracehoundPropagator(report=False)
    hound_all = TracehoundPropagator(inject="tracecontext,jaeger,b3", report=False)

    tracer = TracerProvider().get_tracer("bench")
    span = tracer.start_span("client", context=otel_w3c.extract(W3C_ONLY))
    ctx = trace.set_span_in_context(span)

    rows = [
        compare(
            "extract, W3C only",
            lambda: hound.extract(W3C_ONLY),
            lambda: otel_w3c.extract(W3C_ONLY),
            args.loops,
            args.repeats,
        ),
        compare(
            "extract, all formats agreeing",
            lambda: hound.extract(ALL_FORMATS),
            lambda: otel_all.extract(ALL_FORMATS),
            args.loops,
            args.repeats,
        ),
        compare(
            "extract, all formats, conflict",
            lambda: hound.extract(CONFLICT),
            lambda: otel_all.extract(CONFLICT),
            args.loops,
            args.repeats,
        ),
        compare(
            "inject, W3C",
            lambda: hound.inject({}, ctx),
            lambda: otel_w3c.inject({}, ctx),
            args.loops,
            args.repeats,
        ),
        compare(
            "inject, W3C + jaeger + b3",
            lambda: hound_all.inject({}, ctx),
            lambda: otel_all.inject({}, ctx),
            args.loops,
            args.repeats,
        ),
    ]
    print(
        f"python {platform.python_version()} on {platform.machine()}, "
        f"{args.loops} loops x {args.repeats} repeats (best)"
    )
    print(f"{'case':34} {'tracehound us':>14} {'OTel us':>10} {'ratio':>7}")
    for name, ours, base, ratio in rows:
        print(f"{name:34} {ours:14.2f} {base:10.2f} {ratio:6.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
