"""Spans read twice from overlapping inputs (`doctor._copies`), on the table directly."""

from __future__ import annotations

import duckdb
import pytest

from tracehound.doctor._copies import _COPIES


def _copies(rows: list[tuple[int, int, str]]) -> list[tuple[int, str, str]]:
    """``(start ns offset, duration ns, source)`` rows of one span identity, in rowid order:
    the copies found, as ``(rowid, source, first source)``."""
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE otel_traces AS SELECT "
        "make_timestamp_ns(1767225600000000000 + s) AS \"Timestamp\", 't' AS TraceId, "
        "'s' AS SpanId, '' AS ParentSpanId, 'Server' AS SpanKind, 'api' AS ServiceName, "
        "'GET' AS SpanName, d::BIGINT AS Duration, src AS Source, k::VARCHAR AS \"Offset\" "
        "FROM (SELECT unnest($1) AS s, unnest($2) AS d, unnest($3) AS src, "
        "generate_subscripts($1, 1) AS k) ORDER BY k",
        [[r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]],
    )
    con.execute(_COPIES)
    return con.execute("SELECT rid, Source, first_source FROM th_copies ORDER BY rid").fetchall()


@pytest.mark.parametrize(
    ("rows", "copies"),
    [
        # the console exporter's microseconds from a float: 0.6 µs off is the same span
        ([(0, 1000, "otlp"), (600, 400, "console")], [(1, "console", "otlp")]),
        # 5 µs apart: two spans sharing an ID (L006), not a copy
        ([(0, 1000, "otlp"), (5000, 1000, "console")], []),
        # two inputs' rows interleaved A, B, A: B is the copy; A's two are L006's
        ([(0, 100, "A"), (0, 100, "B"), (0, 100, "A")], [(1, "B", "A")]),
        # an end past 2262 must not overflow
        ([(0, 9 * 10**18, "A"), (0, 9 * 10**18, "B")], [(1, "B", "A")]),
    ],
)
def test_copies_are_found_within_a_microsecond(
    rows: list[tuple[int, int, str]], copies: list[tuple[int, str, str]]
) -> None:
    assert _copies(rows) == copies


def test_many_rows_sharing_an_id_stay_linear() -> None:
    """20,000 rows of one span from two inputs (a self join made 400 M pairs)."""
    rows = [(0, 100, "A" if i % 2 == 0 else "B") for i in range(20_000)]
    assert len(_copies(rows)) == 10_000
