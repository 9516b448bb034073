"""Instructions per extract/inject, tracehound vs OpenTelemetry, counted by valgrind.

    python bench/bench_propagation_instructions.py [--src DIR] [--cases w3c,all,...]

Wall-clock ratios on a shared host move by 10-30 % between runs (see
bench_propagation.py); instruction counts do not.  Each case runs in a child
process under callgrind with 2,000 and 22,000 calls; the difference divided
by 20,000 is the cost of one call without the start-up.  The carriers and
baselines are bench_propagation.py's.  ``--src`` measures another checkout
(its ``src`` directory) for a before/after.  Needs ``valgrind``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from _callgrind import instructions_of

BENCH = Path(__file__).resolve().parent
CHILD = r"""
import os, sys
sys.path.insert(0, sys.argv[3])
from bench_propagation import ALL_FORMATS, CONFLICT, W3C_ONLY
from opentelemetry.propagators.b3 import B3SingleFormat
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.propagators.jaeger import JaegerPropagator
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from tracehound.runtime.propagation import TracehoundPropagator

case, calls = sys.argv[1], int(sys.argv[2])
who, _, what = case.partition(":")
w3c = TraceContextTextMapPropagator()
composite = CompositePropagator([w3c, B3SingleFormat(), JaegerPropagator()])
if who == "otel":
    propagator = w3c if what in ("w3c", "inject_w3c") else composite
elif what == "inject_all":
    propagator = TracehoundPropagator(inject=["tracecontext", "jaeger", "b3"], report=False)
else:
    propagator = TracehoundPropagator(inject=["tracecontext"], report=False)
if what.startswith("inject"):
    with TracerProvider().get_tracer("bench").start_as_current_span("client"):
        for _ in range(calls):
            propagator.inject({})
else:
    carrier = {"w3c": W3C_ONLY, "all": ALL_FORMATS, "conflict": CONFLICT}[what]
    for _ in range(calls):
        propagator.extract(carrier)
os._exit(0)
"""
CASES = {
    "w3c": "extract, W3C only",
    "all": "extract, all formats agreeing",
    "conflict": "extract, all formats, conflict",
    "inject_w3c": "inject, W3C",
    "inject_all": "inject, W3C + jaeger + b3",
}


def instructions(case: str, calls: int, src: Path) -> int:
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": str(src)}
    return instructions_of(["-c", CHILD, case, str(calls), str(BENCH)], env, case)


def per_call(case: str, src: Path) -> float:
    low, high = (instructions(case, n, src) for n in (2_000, 22_000))
    return (high - low) / 20_000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=BENCH.parent / "src")
    parser.add_argument("--cases", default=",".join(CASES))
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        print("bench_propagation_instructions: valgrind is not installed; skipped")
        return 0
    print(f"instructions per call ({args.src}):")
    print(f"{'case':34} {'tracehound':>11} {'OTel':>9}  ratio")
    for case in args.cases.split(","):
        ours, theirs = per_call(f"tracehound:{case}", args.src), per_call(f"otel:{case}", args.src)
        print(f"{CASES[case]:34} {ours:11,.0f} {theirs:9,.0f}  {ours / theirs:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
