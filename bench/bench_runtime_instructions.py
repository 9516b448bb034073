"""Instructions per span, guards vs the plain SDK, counted by valgrind (deterministic).

    python bench/bench_runtime_instructions.py [--src DIR]

Wall-clock ratios on a shared host move by ±10 % from run to run; instruction
counts do not.  Each variant runs in a child process under callgrind, once
with 1,000 and once with 3,000 spans; the difference divided by 2,000 is the
cost of one span without the start-up.  ``--src`` measures another checkout
(its ``src`` directory), for a before/after.  Needs ``valgrind``.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import os, sys
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.trace import SpanKind

class Sink(SpanProcessor):
    def on_end(self, span):
        pass

variant, spans = sys.argv[1], int(sys.argv[2])
if variant == "plain":
    provider = TracerProvider()
    provider.add_span_processor(Sink())
else:
    from tracehound.findings import report
    from tracehound.runtime.guards import LifecycleGuard, RootGuard
    from tracehound.runtime.setup import _Processors
    chain = _Processors()
    chain.processors = (RootGuard(report), LifecycleGuard(report, open_limit=300.0), Sink())
    provider = TracerProvider(active_span_processor=chain)
attributes = {"k%d" % i: i for i in range(12)}
tracer = provider.get_tracer("bench")
with tracer.start_as_current_span("parent", kind=SpanKind.SERVER):
    for _ in range(spans):
        with tracer.start_as_current_span("child", attributes=attributes):
            pass
os._exit(0)
"""


def instructions(variant: str, spans: int, src: Path) -> int:
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": str(src)}
    valgrind = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    result = subprocess.run(
        [*valgrind, sys.executable, "-c", CHILD, variant, str(spans)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    found = re.search(r"Collected : (\d+)", result.stderr)
    if found is None:
        raise SystemExit(f"valgrind gave no count:\n{result.stderr[-2000:]}")
    return int(found.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_src = Path(__file__).resolve().parent.parent / "src"
    parser.add_argument("--src", type=Path, default=default_src)
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        print("bench_runtime_instructions: valgrind is not installed; skipped")
        return 0
    per_span = {}
    for variant in ("plain", "guards"):
        low, high = (instructions(variant, n, args.src) for n in (1000, 3000))
        per_span[variant] = (high - low) / 2000
    plain, guards = per_span["plain"], per_span["guards"]
    print(f"instructions per span ({args.src}):")
    print(f"  plain OTel SDK      {plain:10,.0f}")
    print(f"  RootGuard+Lifecycle {guards:10,.0f}  (+{guards - plain:,.0f}, {guards / plain:.3f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
