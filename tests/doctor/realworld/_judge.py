"""Judge a doctor report against a combination's ground truth (shared by the tests and bench).

Ground truth comes from the apps' own answers (see `capture`).  What counts:

- ``C003`` is right on the CLIENT/PRODUCER span of a call that broke, naming
  its caller and callee and paired with the answer of a broken call (of
  concurrent calls to one endpoint any may be taken: nothing in the spans
  tells them apart); anywhere else (a call that continued, a call to a peer
  with no tracing) or paired with another span (a health check) it is a false
  positive, and a broken call without it is missed.
- ``C004`` and ``C006`` are right on the callee's root of a broken call (a
  parent should have existed there); on any other span (a caller's entry, a
  health check) they are false.  They are not missed where absent: the doctor
  reports a broken hop once, as C003, which names the callee's root.
- The stock instrumentation wrote well-formed spans: every other structural
  finding (``C*``, ``L*``) is false wherever it appears.
- Propagation findings (``P*``) are false on a healthy combination and not
  judged on a broken one (its headers did arrive in a legacy format).
- Attribute findings (``A*``) are not judged: the ground truth says nothing of
  attribute conventions (the tests check their wording on this data apart).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tracehound.doctor import Report, check_paths

ON_BROKEN_CALL = frozenset({"C003"})
ON_BROKEN_CALLEE_ROOT = frozenset({"C004", "C006"})
HEADER_FORMATS = {
    "traceparent": "tracecontext",
    "uber-trace-id": "jaeger",
    "b3": "b3",
    "x-b3-traceid": "b3multi",
}


@dataclass(frozen=True)
class Truth:
    """One combination's ``ground_truth.json`` and where its traces are."""

    directory: Path
    data: dict[str, Any]

    @classmethod
    def load(cls, directory: Path) -> Truth:
        return cls(directory, json.loads((directory / "ground_truth.json").read_text()))

    @property
    def name(self) -> str:
        return str(self.data["combination"])

    @property
    def healthy(self) -> bool:
        return bool(self.data["healthy"])

    @property
    def calls(self) -> list[dict[str, Any]]:
        return list(self.data["calls"])

    @property
    def edges(self) -> list[dict[str, Any]]:
        return list(self.data["edges"])

    @property
    def traces(self) -> list[str]:
        return [str(p) for p in sorted((self.directory / "traces").glob("*.otlp.pb"))]

    def uninstrumented(self) -> dict[str, dict[str, Any]]:
        """Calls to a peer with no tracing (not broken edges), by their client span ID."""
        return {c["client_span_id"]: c for c in self.data.get("uninstrumented_calls", [])}

    def genuine_roots(self) -> dict[str, dict[str, Any]]:
        """Spans that began with no context and no caller (health checks), by span ID."""
        return {r["span_id"]: r for r in self.data.get("genuine_roots", [])}

    def broken(self) -> dict[str, dict[str, Any]]:
        """Broken calls by their client span ID."""
        return {c["client_span_id"]: c for c in self.calls if not c["continued"]}

    def broken_callee_roots(self) -> dict[str, dict[str, Any]]:
        """Broken calls by the callee's (root) entry span ID."""
        return {c["callee_span_id"]: c for c in self.calls if not c["continued"]}

    def arrived_formats(self, caller: str, callee: str) -> set[str]:
        """Propagation formats the callee received on this edge (from its own answers)."""
        return {
            HEADER_FORMATS[h]
            for c in self.calls
            if (c["caller"], c["callee"]) == (caller, callee)
            for h in c["headers_received"] or {}
            if h in HEADER_FORMATS
        }


def combinations(root: Path) -> list[Truth]:
    """Every captured combination under ``root``, by name."""
    return [Truth.load(p.parent) for p in sorted(root.glob("*/ground_truth.json"))]


def diagnose(truth: Truth) -> Report:
    """What the doctor says about one combination's traces (the public API, as a user calls it)."""
    return check_paths(truth.traces)


@dataclass
class Verdict:
    """Each finding of one report classified: true, false, or not judged; and what was missed."""

    truth: Truth
    report: Report
    true: Counter[str] = field(default_factory=Counter)
    false: list[tuple[str, str]] = field(default_factory=list)
    """(code, why) per false positive."""
    unjudged: Counter[str] = field(default_factory=Counter)
    missed: list[tuple[str, str]] = field(default_factory=list)
    """(code, what) per expected finding not reported."""

    def false_codes(self) -> Counter[str]:
        return Counter(code for code, _ in self.false)

    def missed_codes(self) -> Counter[str]:
        return Counter(code for code, _ in self.missed)


def judge(truth: Truth, report: Report) -> Verdict:
    """Classify every finding of ``report`` against ``truth``."""
    verdict = Verdict(truth, report)
    broken, roots = truth.broken(), truth.broken_callee_roots()
    untraced = truth.uninstrumented()
    hit: dict[str, set[str]] = {code: set() for code in ON_BROKEN_CALL | ON_BROKEN_CALLEE_ROOT}
    for f in report.findings:
        where = f"{f.service}/{f.span_id}: {f.message[:120]}"
        if f.code in ON_BROKEN_CALL:
            call = broken.get(f.span_id or "")
            named = (f.details.get("caller"), f.details.get("callee"))
            answer = f.details.get("callee_span_id")
            if call is not None and answer is not None and answer not in roots:
                verdict.false.append((f.code, f"paired with {answer}, no broken call's answer: "
                                              f"{where}"))  # fmt: skip
            elif call is not None and named == (call["caller"], call["callee"]):
                verdict.true[f.code] += 1
                hit[f.code].add(call["client_span_id"])
            else:
                why = (
                    f"names {named}"
                    if call is not None
                    else "on a call to an uninstrumented peer"
                    if f.span_id in untraced
                    else "on a call that continued"
                )
                verdict.false.append((f.code, f"{why}: {where}"))
        elif f.code in ON_BROKEN_CALLEE_ROOT:
            if f.span_id in roots:
                verdict.true[f.code] += 1
                hit[f.code].add(f.span_id or "")
            else:
                verdict.false.append((f.code, f"not a broken callee root: {where}"))
        elif f.code[:1] in ("C", "L") or (truth.healthy and f.code[:1] == "P"):
            verdict.false.append((f.code, where))
        else:
            verdict.unjudged[f.code] += 1
    for code in sorted(ON_BROKEN_CALL):
        for sid, call in broken.items():
            if sid not in hit[code]:
                verdict.missed.append((code, f"{call['caller']} → {call['callee']} call {sid}"))
    return verdict


def edge_problems(truth: Truth, report: Report) -> list[str]:
    """Ground-truth edges the report's edge table gets wrong (missing, miscounted, no cause).

    Calls to an uninstrumented peer must not be counted as calls to an instrumented callee.
    """
    reported = {(e.caller, e.callee): e for e in report.edges}
    problems = []
    for want in truth.edges:
        pair = (want["caller"], want["callee"])
        edge = reported.get(pair)
        if edge is None:
            problems.append(f"{pair[0]} → {pair[1]}: no edge (truth: {want['broken']} broken)")
            continue
        if (edge.calls, edge.broken) != (want["calls"], want["broken"]):
            problems.append(
                f"{pair[0]} → {pair[1]}: {edge.broken}/{edge.calls} broken reported, "
                f"truth {want['broken']}/{want['calls']}"
            )
        if want["broken"] and not edge.cause:
            problems.append(f"{pair[0]} → {pair[1]}: broken but no cause")
    return problems
