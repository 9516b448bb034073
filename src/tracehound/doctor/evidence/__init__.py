"""Evidence beside the spans: HTTP exchanges, service logs, cluster configuration.

Each kind has its own reader and table; what it says about a caller → callee edge is
attached to the edge with `attach_evidence`, which also lets stronger evidence name the
cause where the spans alone could not decide.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable

from tracehound.doctor._model import CAUSES, Edge, Evidence

__all__ = ["FIXES", "STRENGTH", "attach_evidence"]

STRENGTH = ("http", "logs", "k8s", "runtime", "spans")
"""Evidence kinds, strongest first: what was seen on the wire beats what the spans imply."""


FIXES: dict[str, str] = {
    "propagator-mismatch": "make both sides speak one format: OTEL_PROPAGATORS=tracehound on "
    "the callee (it reads W3C, Jaeger and B3), or make the caller inject W3C too",
    "not-forwarded": "start the outbound call inside the inbound span and carry the context "
    "into threads and tasks (`tracehound.ContextExecutor`, `tracehound.inject(headers)`)",
    "header-stripped": "make the proxy forward `traceparent` and `tracestate` (remove them "
    "from its header-removal rules, or let it continue the context)",
    "not-extracted": "start the callee's server span from the extracted context "
    "(`tracehound.continue_trace`), not from an empty one",
    "invalid-header": "send the header from an OpenTelemetry propagator, not built by hand",
}
"""The fix of each cause, for edges whose cause only other evidence named."""


def attach_evidence(
    edges: Iterable[Edge], found: Iterable[tuple[str, str, Evidence]]
) -> list[Edge]:
    """The edges with each ``(caller, callee, evidence)`` attached, strongest first.

    An edge whose spans left the cause undecided takes the cause the strongest evidence
    points at, and so does one whose spans found nothing broken when what was seen on the
    wire shows a break (``http`` evidence); evidence that does not match an edge is dropped (the
    reader that found it reports it as a finding of its own).
    """
    by_edge: dict[tuple[str, str], list[Evidence]] = defaultdict(list)
    for caller, callee, item in found:
        by_edge[(caller, callee)].append(item)
    out = []
    for edge in edges:
        extra = by_edge.get((edge.caller, edge.callee))
        if not extra:
            out.append(edge)
            continue
        evidence = sorted((*edge.evidence, *extra), key=_strength)
        changes: dict[str, object] = {"evidence": tuple(evidence)}
        # calls the spans count as continued can still be broken: the caller lost the
        # context before the call, which then continued a new trace (seen on the wire)
        if edge.cause_kind in (None, "undecided"):
            decisive = next(
                (e for e in evidence
                 if e.cause not in (None, "undecided") and (edge.broken or e.kind == "http")),
                None,
            )  # fmt: skip
            if decisive is not None:
                changes["cause_kind"] = decisive.cause
                changes["cause"] = f"{CAUSES[decisive.cause]}: {decisive.summary}"
                changes["fix"] = FIXES.get(decisive.cause, edge.fix)
        out.append(dataclasses.replace(edge, **changes))
    return out


def _strength(item: Evidence) -> int:
    return STRENGTH.index(item.kind) if item.kind in STRENGTH else len(STRENGTH)
