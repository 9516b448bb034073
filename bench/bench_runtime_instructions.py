"""Instructions per span for the chain configure() installs and its parts (valgrind, deterministic).

    python bench/bench_runtime_instructions.py [--src DIR] [--variants plain,full,...]

Wall-clock ratios on a shared host move by ±10 % from run to run; instruction
counts do not.  Each variant runs in a child process under callgrind, once
with 1,000 and once with 3,000 spans; the difference divided by 2,000 is the
cost of one child span with 12 attributes without the start-up (every
span exported: the child flushes before it exits; the batch processors are
set to export only then, in one batch, so the count does not depend on when
valgrind's scheduler ran their worker thread: repeatable to ~±100).  Variants
(see ``bench/_chains.py``): ``plain`` the plain SDK with a batch processor,
``full`` what ``tracehound.configure()`` installs (default mode), ``off``
the same with ``mode="off"``, and the parts ``sampler``, ``guards``,
``policy``, each alone in front of the plain SDK's batch processor.
``--src`` measures another checkout (its ``src`` directory), for a
before/after.  Needs ``valgrind``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from _callgrind import instructions_of

HERE = Path(__file__).resolve().parent
VARIANTS = ("plain", "full", "off", "sampler", "guards", "policy")

CHILD = r"""
import os, sys
from opentelemetry.trace import SpanKind
import _chains

variant, spans = sys.argv[1], int(sys.argv[2])
if variant == "plain":
    provider = _chains.plain()
elif variant in ("full", "off"):
    provider = _chains.configured("off" if variant == "off" else None)
else:
    _chains.configured()
    provider = _chains.part(variant)
tracer = provider.get_tracer("bench")
with tracer.start_as_current_span("parent", kind=SpanKind.SERVER):
    for _ in range(spans):
        with tracer.start_as_current_span("child", attributes=_chains.ATTRIBUTES):
            pass
provider.force_flush()  # what the export thread does is paid per span too
os._exit(0)
"""


def instructions(variant: str, spans: int, src: Path) -> int:
    env = {
        **os.environ,
        "PYTHONHASHSEED": "0",
        "PYTHONPATH": os.pathsep.join((str(src), str(HERE))),
        "OTEL_TRACES_EXPORTER": "none",
        # The batch worker exports only at the flush, every span in one batch: where
        # valgrind's scheduler woke it made the counts move by ±2,000 between runs.
        "OTEL_BSP_SCHEDULE_DELAY": "1000000",
        "OTEL_BSP_MAX_QUEUE_SIZE": "10000",
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "10000",
    }
    env.pop("TRACEHOUND_MODE", None)
    return instructions_of(["-c", CHILD, variant, str(spans)], env, variant)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=HERE.parent / "src")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        print("bench_runtime_instructions: valgrind is not installed; skipped")
        return 0
    chosen = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = sorted(set(chosen) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown variant {unknown[0]!r}; choose from {', '.join(VARIANTS)}")
    if "plain" not in chosen:
        chosen.insert(0, "plain")
    print(f"instructions per child span, 12 attributes ({args.src}):")
    plain = 0.0
    for variant in chosen:
        low, high = (instructions(variant, n, args.src) for n in (1000, 3000))
        per_span = (high - low) / 2000
        if variant == "plain":
            plain = per_span
            print(f"  {variant:8} {per_span:10,.0f}")
        else:
            extra = per_span - plain
            print(f"  {variant:8} {per_span:10,.0f}  (+{extra:,.0f}, {per_span / plain:.3f}x)")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
