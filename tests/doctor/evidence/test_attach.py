"""Evidence from other inputs attached to the edges the spans found."""

from __future__ import annotations

from tracehound.doctor._model import Edge, Evidence
from tracehound.doctor.evidence import attach_evidence


def _edge(cause_kind: str | None, broken: int = 3) -> Edge:
    spans = Evidence("spans", "spans", "3 calls answered by a new trace", cause_kind)
    return Edge(
        "orders", "payments", "request", 5, 5 - broken, broken, (), "spans say so", "fix it",
        None, True, cause_kind, (spans,) if broken else (),
    )


def test_stronger_evidence_names_the_cause_the_spans_left_undecided() -> None:
    seen = Evidence("http", "capture.pcap", "orders sent only uber-trace-id on 20 of 20",
                    "propagator-mismatch")
    [edge] = attach_evidence([_edge("undecided")], [("orders", "payments", seen)])
    assert edge.cause_kind == "propagator-mismatch"
    assert "uber-trace-id" in (edge.cause or "")
    assert [e.kind for e in edge.evidence] == ["http", "spans"]
    assert edge.to_dict()["evidence"][0]["source"] == "capture.pcap"


def test_a_cause_the_spans_decided_stays_and_the_evidence_is_listed() -> None:
    seen = Evidence("logs", "payments.log", "payments logged a new trace ID", None)
    [edge] = attach_evidence([_edge("not-extracted")], [("orders", "payments", seen)])
    assert edge.cause_kind == "not-extracted"
    assert edge.cause == "spans say so"
    assert [e.kind for e in edge.evidence] == ["logs", "spans"]


def test_evidence_for_another_edge_is_not_attached() -> None:
    seen = Evidence("http", "a.har", "x", "header-stripped")
    [edge] = attach_evidence([_edge("undecided")], [("orders", "stock", seen)])
    assert edge.cause_kind == "undecided"
    assert [e.kind for e in edge.evidence] == ["spans"]


def test_only_the_wire_names_a_break_on_calls_the_spans_count_as_continued() -> None:
    healthy = _edge(None, broken=0)
    wire = Evidence("http", "capture.pcap:packet 14", "orders lost the context", "not-forwarded")
    [edge] = attach_evidence([healthy], [("orders", "payments", wire)])
    assert (edge.cause_kind, edge.broken) == ("not-forwarded", 0)
    assert edge.fix is not None and "ContextExecutor" in edge.fix
    config = Evidence("k8s", "deploy.yaml:3", "orders sends B3", "propagator-mismatch")
    [edge] = attach_evidence([healthy], [("orders", "payments", config)])
    assert edge.cause_kind is None and edge.evidence == (config,)
