"""Precision and recall of the doctor's rules on real instrumentation, per propagator pairing.

    ./dev run python bench/realworld_matrix.py                       # the committed snapshot
    ./dev run python bench/realworld_matrix.py --snapshot DIR
    ./dev run python bench/realworld_matrix.py --live [--only NAME]  # capture anew, then judge

The traces are what stock OpenTelemetry instrumentation exported (see
tests/doctor/data/realworld/README.md); the ground truth is what the callees
answered.  Per combination: the truth (calls continued per edge) beside what
the doctor reported.  Per rule code: true and false findings, missed ones,
precision and recall.  True: C003 on the client span of a call that broke
(naming its caller and callee), C004/C006 on the callee root of such a call.
False: any other C/L finding; a P finding on a healthy combination.  Not
judged: P findings on a broken combination, A findings anywhere (the ground
truth is about continuity, not attribute conventions).  Recall is given for
C003, the code the doctor reports a broken hop with (once, naming both
halves); C004/C006 are not missed where absent.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "doctor" / "realworld"))

from _judge import (
    ON_BROKEN_CALL,
    Verdict,
    combinations,
    diagnose,
    edge_problems,
    judge,
)

SNAPSHOT = Path(__file__).resolve().parents[1] / "tests" / "doctor" / "data" / "realworld"
ALWAYS = ("C003", "C004", "C001", "C002", "L004", "L005", "L006")


def _edge_cells(verdict: Verdict) -> tuple[str, str]:
    reported = {(e.caller, e.callee): e for e in verdict.report.edges}
    truth, doctor = [], []
    for want in verdict.truth.edges:
        truth.append(f"{want['broken']}/{want['calls']}")
        edge = reported.get((want["caller"], want["callee"]))
        doctor.append(f"{edge.broken}/{edge.calls}" if edge else "none")
    return " ".join(truth), " ".join(doctor)


def _counts(counter: Counter[str]) -> str:
    return " ".join(f"{c}×{n}" for c, n in sorted(counter.items())) or "-"


def _ratio(num: int, den: int) -> str:
    return f"{num / den:.2f}" if den else "-"


def print_matrix(verdicts: list[Verdict]) -> None:
    print("edges: checkout→payments storefront→inventory (req-*), checkout→pricing (rpc-*),")
    print("gateway→payments checkout→ledger (node-*), checkout→fulfilment (msg-*);")
    print("broken/calls per edge; C003 = found/broken calls; 'other' = A*/P* findings\n")
    print(f"{'combination':47} {'truth':9} {'doctor':11} {'C003':5} {'false C/L':14} other")
    for v in verdicts:
        truth, doctor = _edge_cells(v)
        broken = len(v.truth.broken())
        false = v.false_codes()
        structural = Counter({c: n for c, n in false.items() if c[:1] in "CL"})
        other = Counter({c: n for c, n in false.items() if c[:1] not in "CL"}) + v.unjudged
        found = f"{v.true['C003']}/{broken}"
        print(f"{v.truth.name:47} {truth:9} {doctor:11} {found:5} {_counts(structural):14} "
              f"{_counts(other)}")  # fmt: skip


def print_scores(verdicts: list[Verdict]) -> None:
    true, false, unjudged, missed = Counter(), Counter(), Counter(), Counter()
    for v in verdicts:
        true.update(v.true)
        false.update(v.false_codes())
        unjudged.update(v.unjudged)
        missed.update(v.missed_codes())
    codes = sorted(set(ALWAYS) | set(true) | set(false) | set(unjudged) | set(missed))
    print(f"\n{'code':6} {'true':>5} {'false':>6} {'not judged':>11} {'missed':>7} "
          f"{'precision':>10} {'recall':>7}")  # fmt: skip
    for code in codes:
        has_positives = code in ON_BROKEN_CALL
        recall = _ratio(true[code], true[code] + missed[code]) if has_positives else "n/a"
        print(
            f"{code:6} {true[code]:5} {false[code]:6} {unjudged[code]:11} "
            f"{missed[code] if has_positives else '-':>7} "
            f"{_ratio(true[code], true[code] + false[code]):>10} {recall:>7}"
        )
    edges_wrong = sum(bool(edge_problems(v.truth, v.report)) for v in verdicts)
    print(f"\ncombinations: {len(verdicts)}; with an edge table that disagrees with the truth: "
          f"{edges_wrong}")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--snapshot", type=Path, default=SNAPSHOT, help="a captured directory")
    source.add_argument("--live", action="store_true", help="capture the matrix now, then judge")
    parser.add_argument("--only", action="append", help="with --live: one combination")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="realworld-bench-") as tmp:
        root = args.snapshot
        if args.live:
            from capture import run

            root = Path(tmp)
            for truth in run(root, args.only):
                print(f"captured {truth['combination']}", file=sys.stderr)
        truths = combinations(root)
        if not truths:
            print(f"no */ground_truth.json under {root}", file=sys.stderr)
            return 2
        verdicts = [judge(t, diagnose(t)) for t in truths]
    print(f"snapshot: {'live capture' if args.live else root}")
    print_matrix(verdicts)
    print_scores(verdicts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
