"""Which of the checks' DuckDB statements run on ClickHouse as they are written.

    python bench/clickhouse_sql_coverage.py

Loads the real-instrumentation snapshot (tests/doctor/data/realworld) into a
temporary chDB directory through the exporter's DDL, builds the window table,
and runs every statement of every check family through the transpiling
engine, in the order the checks run them, continuing past failures.  Prints,
per statement, whether SQLGlot and the engine's rules transpiled it and
whether ClickHouse ran it, with ClickHouse's reason when not.  DuckDB macros
are expanded where they are called (the attribute accessors in their
ClickHouse form: `_accessors`).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import sqlglot

from tracehound.doctor.checks import (
    _endpoints,
    _hops,
    _sql,
    attributes,
    context,
    lifecycle,
    propagation,
)
from tracehound.doctor.clickhouse import load_clickhouse
from tracehound.doctor.clickhouse._connect import connect, parse_target
from tracehound.doctor.clickhouse._dialect import UnsupportedStatement
from tracehound.doctor.clickhouse._engine import ClickHouseStore, EngineError
from tracehound.doctor.clickhouse._run import _empty_load_tables
from tracehound.doctor.clickhouse._window import build_window

REPO = Path(__file__).resolve().parents[1]

FAMILIES = {
    "_sql (setup: th_dups, th_link)": _sql._SETUP.replace(
        "{max_parents}", str(_sql.MAX_SHARED_PARENTS)
    ),
    "context C001 C007": context._ORPHANS,
    "context C002": context._ROOTS,
    "context C004": context._SUSPICIOUS,
    "lifecycle L004": lifecycle._DURATIONS,
    "lifecycle L005": lifecycle._OUTSIDE,
    "lifecycle L005 links": lifecycle._LATE_LINKS,
    "lifecycle L006": lifecycle._DUPLICATES,
    "_endpoints (C003)": _endpoints.ENDPOINTS,
    "_hops calls (C003)": _hops._CALLS,
    "_hops candidates (C003)": _hops._CANDIDATES.format(
        tol=1, lag=1, width=1, mwidth=1, open_call=1
    ),
    "_hops match table (C003)": "CREATE OR REPLACE TEMP TABLE th_match (call BIGINT, "
    "answer BIGINT, exact BOOLEAN, gap BIGINT, inside BOOLEAN, agree BOOLEAN)",
    "_hops round (C003)": _hops._ROUND,
    "_hops pairs (C003)": _hops._PAIRS,
    "_hops edges": _hops._EDGES,
    "attributes names": attributes._NAMES,
    "attributes values": attributes._VALUES.replace("$fmt", "NULL::VARCHAR").replace("$join", ""),
    "attributes resources": attributes._RESOURCES,
    "propagation headers": propagation._HEADERS,
    "propagation spans": propagation._SPANS,
}
WHOLE = ("attributes", "propagation")
"""Families that read the whole attributes (from the exporter's table, in place)."""


def main() -> None:
    paths = [str(p) for p in sorted((REPO / "tests/doctor/data/realworld").glob("*/traces"))]
    with tempfile.TemporaryDirectory(prefix="ch-coverage-") as tmp:
        target = f"chdb:{tmp}/chdb"
        load_clickhouse(paths, target)
        conn = connect(parse_target(target))
        try:
            window = build_window(conn, "otel_traces", None, None)
            _empty_load_tables(conn)
            engine = ClickHouseStore(conn)
            rows = window.whole_rows()
            assert rows is not None
            whole = engine.reading_whole(rows)
            totals = {"ran": 0, "macros": 0, "not transpiled": 0, "refused": 0}
            for family, sql in FAMILIES.items():
                for tree in sqlglot.parse(sql, read="duckdb"):
                    if tree is None:
                        continue
                    text = tree.sql(dialect="duckdb")
                    head = " ".join(text.split())[:60]
                    if isinstance(tree, sqlglot.exp.Create) and tree.kind == "MACRO":
                        engine.run(text)  # remembered, expanded where called
                        totals["macros"] += 1
                        print(f"macro           {family}: {head}")
                        continue
                    try:
                        engine.transpiler_check(text)
                    except UnsupportedStatement as exc:
                        totals["not transpiled"] += 1
                        print(f"NOT TRANSPILED  {family}: {head}\n    {exc}")
                        continue
                    try:
                        (whole if family.startswith(WHOLE) else engine).run(text)
                        totals["ran"] += 1
                        print(f"ran             {family}: {head}")
                    except EngineError as exc:
                        totals["refused"] += 1
                        print(f"REFUSED         {family}: {head}\n    {exc.reason[:400]}")
            print(totals)
        finally:
            conn.close()


if __name__ == "__main__":
    main()
