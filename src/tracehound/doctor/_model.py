"""The values the doctor hands around: input errors, rejections, edges, the report."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tracehound.rules import Finding, Severity

__all__ = [
    "CAUSES",
    "DuplicateInput",
    "Edge",
    "Evidence",
    "InputError",
    "InputSummary",
    "Rejection",
    "Report",
    "SkippedCheck",
]


@dataclass(frozen=True)
class InputError:
    """Input that could not be read at all: a file, a line, or a region of a document."""

    source: str
    position: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.position}" if self.position else self.source
        return f"{where}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "position": self.position, "message": self.message}


@dataclass(frozen=True)
class Rejection:
    """Spans left out of the analysis for one reason, with the first place it happened."""

    reason: str
    count: int
    example: str
    """``file:position`` of the first rejected span."""

    def to_dict(self) -> dict[str, Any]:
        return {"reason": self.reason, "count": self.count, "example": self.example}


@dataclass(frozen=True)
class DuplicateInput:
    """An input named more than once (the same file twice, or a file and a directory
    holding it), or holding spans another input gave already: they are analysed once."""

    source: str
    """The name it was given again under (or the input that repeated spans)."""
    same_as: str
    """The name it was read under (or the input that gave those spans first)."""
    spans: int | None = None
    """``None``: the same file; else how many of its spans ``same_as`` had already given."""

    def __str__(self) -> str:
        if self.spans is None:
            return f"{self.source}: the same file as {self.same_as}; read once"
        return (
            f"{self.source}: {self.spans} spans already read from {self.same_as} "
            "(overlapping inputs); analysed once"
        )

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "same_as": self.same_as, "spans": self.spans}


@dataclass(frozen=True)
class InputSummary:
    """One input as read: its name, the format found, and how many spans it held."""

    source: str
    format: str | None
    spans: int
    errors: int
    findings: int = 0
    """Runtime findings read from it (a runtime findings file)."""
    exchanges: int = 0
    """HTTP requests read from it (a capture, HAR, ``curl -v`` transcript, access log)."""
    log_lines: int = 0
    """Log lines analysed from it (service logs)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "format": self.format,
            "spans": self.spans,
            "errors": self.errors,
            "findings": self.findings,
            "exchanges": self.exchanges,
            "log_lines": self.log_lines,
        }


CAUSES: dict[str, str] = {
    "propagator-mismatch": "the caller sends a format the callee does not read",
    "not-forwarded": "the caller's code does not forward the context it holds",
    "header-stripped": "a proxy or mesh between them strips or rewrites the header",
    "not-extracted": "the callee receives a usable context but does not start from it",
    "invalid-header": "the header is there but its own grammar rejects it",
    "sampled-out": "the parent was sampled out upstream and its spans were never exported",
    "spans-dropped": "the parent's spans were dropped or never ended (see L001/L007)",
    "outside-window": "the parent's spans fall outside the input's time window",
    "undecided": "the evidence at hand does not decide between the causes",
}
"""The stated set of causes a break is attributed to (``Edge.cause_kind``)."""


@dataclass(frozen=True)
class Evidence:
    """One piece of evidence about an edge: what was seen, where, and the cause it points at."""

    kind: str
    """``"spans"``, ``"http"`` (captures, HAR, curl, access logs), ``"logs"``, ``"k8s"``,
    ``"runtime"``."""
    source: str
    """Where it was read: an input name, ``file:line`` where known."""
    summary: str
    """One sentence a user can check against the source."""
    cause: str | None = None
    """The key of `CAUSES` this evidence points at, or None when it only describes."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "source": self.source,
            "summary": self.summary,
            "cause": self.cause,
        }


@dataclass(frozen=True)
class Edge:
    """Calls from one service to another, and how many of them lost the trace."""

    caller: str
    callee: str
    kind: str
    """``"request"`` (client → server) or ``"message"`` (producer → consumer)."""
    calls: int
    continued: int
    broken: int
    formats: tuple[str, ...] = ()
    """Propagation formats seen on the callee's recorded request headers."""
    cause: str | None = None
    fix: str | None = None
    example_trace_id: str | None = None
    """A caller trace with a broken call, to look at first."""
    callee_seen: bool = True
    """False when no span of the callee is in the data (a database, an external API, a
    service that exported nothing): its calls are then neither continued nor broken, and
    ``callee`` is the peer as the caller recorded it (``host:port``, ``peer.service``)."""
    cause_kind: str | None = None
    """The key of `CAUSES` that ``cause`` names, when ``broken > 0`` or when other evidence
    shows a break the spans counted as continued (a caller that lost the context before
    the call: the callee continued a new trace)."""
    evidence: tuple[Evidence, ...] = ()
    """What supports ``cause``, strongest first; every kind of input can add to it."""

    @property
    def break_rate(self) -> float:
        return self.broken / self.calls if self.calls else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "caller": self.caller,
            "callee": self.callee,
            "kind": self.kind,
            "calls": self.calls,
            "continued": self.continued,
            "broken": self.broken,
            "break_rate": round(self.break_rate, 4),
            "formats": list(self.formats),
            "cause": self.cause,
            "fix": self.fix,
            "example_trace_id": self.example_trace_id,
            "callee_seen": self.callee_seen,
            "cause_kind": self.cause_kind,
            "evidence": [e.to_dict() for e in self.evidence],
        }


@dataclass(frozen=True)
class SkippedCheck:
    """A rule family that did not run, and why."""

    family: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"family": self.family, "reason": self.reason}


@dataclass
class Report:
    """Everything one ``tracehound check`` found."""

    inputs: list[InputSummary] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    normalised: list[Rejection] = field(default_factory=list)
    """Spans analysed although part of them was wrong (a missing or implausible time, an
    invalid kind), by what was wrong: counted in ``spans_analysed``."""
    merged: list[Rejection] = field(default_factory=list)
    """Records that are part of another span (Zipkin reports one span in pieces), by
    reason: read, analysed as part of that span's row, neither a span nor rejected."""
    duplicates: list[DuplicateInput] = field(default_factory=list)
    spans_read: int = 0
    spans_analysed: int = 0
    traces: int = 0
    services: tuple[str, ...] = ()
    findings: list[Finding] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    skipped: list[SkippedCheck] = field(default_factory=list)
    remote_entries: int = 0
    """Entry spans whose parent is remote (normal, not reported as C001)."""
    waterfalls: Mapping[str, Sequence[Mapping[str, Any]]] = field(default_factory=dict)
    """Spans of the most affected traces, by trace ID, for the HTML report."""
    ignored: dict[str, int] = field(default_factory=dict)
    """Rule codes left out on request (``--ignore``), with the findings left out."""
    notes: list[str] = field(default_factory=list)
    """How the checks ran where that is not the default (``--clickhouse``: which families
    ran inside ClickHouse, which on rows pulled from it)."""
    log_lines: int = 0
    """Service log lines analysed (rows of ``otel_logs``)."""
    log_rejections: list[Rejection] = field(default_factory=list)
    """Log lines that are no log record, by reason (not counted in ``log_lines``)."""

    def ignore(self, codes: Collection[str]) -> None:
        """Leave out the findings of the rules ``codes``, counting them in `ignored`."""
        for code in codes:
            self.ignored.setdefault(code, 0)
        kept = []
        for f in self.findings:
            if f.code in self.ignored:
                self.ignored[f.code] += 1
            else:
                kept.append(f)
        self.findings = kept

    @property
    def spans_rejected(self) -> int:
        return sum(r.count for r in self.rejections)

    @property
    def spans_merged(self) -> int:
        """Records merged into another span's row (see `merged`)."""
        return sum(r.count for r in self.merged)

    @property
    def has_input_errors(self) -> bool:
        return bool(self.errors or self.rejections)

    @property
    def runtime_findings_read(self) -> int:
        """Runtime findings read from runtime findings files."""
        return sum(i.findings for i in self.inputs)

    @property
    def exchanges_read(self) -> int:
        """HTTP requests read from captures, HAR files, transcripts and access logs."""
        return sum(i.exchanges for i in self.inputs)

    @property
    def analysed_anything(self) -> bool:
        """Whether any span could be read, any HTTP request, any service log line, any
        runtime findings file (one with no finding says the runtime found nothing) or any
        Kubernetes manifest."""
        return bool(self.spans_analysed or self.exchanges_read or self.log_lines) or any(
            i.format in ("tracehound-findings", "kubernetes") or i.findings for i in self.inputs
        )

    def spans_text(self) -> str:
        """``1041 read = 957 analysed + 84 merged + 0 rejected`` (merged only when any)."""
        merged = f"{self.spans_merged} merged + " if self.merged else ""
        return (
            f"{self.spans_read} read = {self.spans_analysed} analysed + {merged}"
            f"{self.spans_rejected} rejected"
        )

    def no_findings_text(self) -> str:
        """What "no findings" means here: nothing analysed, part analysed, or all well."""
        if not self.analysed_anything:
            return (
                "Nothing was analysed: no span, HTTP request or log line could be read (see "
                "the input problems)."
            )
        if self.has_input_errors:
            return "No findings in what could be read; the input problems were not analysed."
        if self.spans_analysed:
            return "No findings: the traces hold together."
        # no spans: say what was looked at, not that traces nobody gave hold together
        seen = []
        if self.exchanges_read:
            n = self.exchanges_read
            seen.append(f"{n} HTTP request{'s' if n != 1 else ''}")
        if self.log_lines:
            seen.append(f"{self.log_lines} log line{'s' if self.log_lines != 1 else ''}")
        if any(i.format == "kubernetes" for i in self.inputs):
            seen.append("the cluster's manifests")
        if any(i.format == "tracehound-findings" or i.findings for i in self.inputs):
            seen.append("the runtime findings files")
        return (
            f"No findings in {', '.join(seen)}: no span was given, so only the hops and "
            "settings these inputs show were checked (a hop behind a proxy they do not see, "
            "or not captured, was not)."
        )

    def counts(self) -> dict[str, int]:
        """Findings per rule code, in catalogue order of first appearance."""
        return dict(Counter(f.code for f in self.findings))

    def worst(self) -> Severity | None:
        """The highest severity found, or ``None`` when nothing was found."""
        return max((f.severity for f in self.findings), default=None)

    def failed(self, threshold: Severity) -> bool:
        """Whether any finding is at or above ``threshold``."""
        return any(f.severity >= threshold for f in self.findings)
