"""C001 and C002 name their likely cause from the stated set, or say the spans do not decide."""

from __future__ import annotations

from pathlib import Path

from doctor_data import SECOND, T0, codes, corpus, minute_of_traffic, otlp_span, write_otlp

from tracehound.doctor import check_paths


def test_an_orphan_at_the_edge_of_a_long_input_is_outside_the_window(tmp_path: Path) -> None:
    spans = minute_of_traffic()
    spans.append(otlp_span(900, 901, T0 + 1000, parent="00000000000003e7", kind=1))  # first second
    spans.append(otlp_span(902, 903, T0 + 30 * SECOND, parent="00000000000003e8", kind=1))
    report = check_paths([write_otlp(tmp_path / "minute.json", spans)])
    causes = {f.span_id: f.details["cause"] for f in codes(report, "C001")}
    assert causes == {f"{901:016x}": "outside-window", f"{903:016x}": "undecided"}
    (edge,) = [f for f in codes(report, "C001") if f.span_id == f"{901:016x}"]
    assert "before the input's window" in edge.message


def test_a_short_input_says_nothing_about_its_edges(tmp_path: Path) -> None:
    spans = [otlp_span(1, 1, T0), otlp_span(1, 2, T0 + 1000, parent="00000000000000ff", kind=1)]
    (orphan,) = codes(check_paths([write_otlp(tmp_path / "short.json", spans)]), "C001")
    assert orphan.details["cause"] == "undecided"
    assert "likely" not in orphan.message


def test_a_parent_rejected_by_the_reader_is_a_dropped_span(tmp_path: Path) -> None:
    spans = minute_of_traffic()
    spans.append(
        otlp_span(900, 901, T0 + 30 * SECOND, parent="not-an-id")
    )  # rejected: its parent ID
    spans.append(otlp_span(900, 902, T0 + 30 * SECOND + 10, parent=f"{901:016x}", kind=1))
    report = check_paths([write_otlp(tmp_path / "rejected.json", spans)])
    (orphan,) = codes(report, "C001")
    assert orphan.span_id == f"{902:016x}"
    assert orphan.details["cause"] == "spans-dropped"
    assert "rejected at" in orphan.details["cause_evidence"]


def test_real_orphans_without_evidence_stay_undecided() -> None:
    report = check_paths([corpus("zipkin/messaging2.json")])
    assert {f.details["cause"] for f in codes(report, "C001")} == {"undecided"}
