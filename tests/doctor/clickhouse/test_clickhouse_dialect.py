"""Each rule the transpiler adds to SQLGlot, measured: the same DuckDB SQL gives the same
rows on DuckDB and, transpiled, on ClickHouse (chDB)."""

from __future__ import annotations

import duckdb
import pytest

from tracehound.doctor.clickhouse._connect import connect, parse_target
from tracehound.doctor.clickhouse._dialect import Transpiler, UnsupportedStatement

# t: a few spans' worth of values, with nanosecond times beyond 2^53
_TABLE = """CREATE TEMP TABLE t AS SELECT * FROM (VALUES
    (1, 'a', 1767225600123456789, true),
    (2, 'a', 1767225601987654321, false),
    (3, 'b', 1767225602000000001, NULL),
    (4, 'c', 1767225603500000000, false)) AS v(k, g, ns, flag)"""

QUERIES = {
    "integer division keeps nanoseconds": "SELECT k, ns // 1000 AS us FROM t ORDER BY k",
    "bool_or": "SELECT g, bool_or(flag) AS any_flag FROM t GROUP BY g ORDER BY g",
    "list ordered by itself": "SELECT list(g ORDER BY g) AS gs FROM t",
    "distinct list ordered by itself": "SELECT list(DISTINCT g ORDER BY g) AS gs FROM t",
    "range leaves its end out": "SELECT k, unnest(range(k, k + 3)) AS r FROM t ORDER BY k, r",
    "count_if and GROUP BY ALL": "SELECT g, count_if(k > 1) AS n FROM t GROUP BY ALL ORDER BY g",
    "QUALIFY with a window": "SELECT g, k FROM t "
    "QUALIFY row_number() OVER (PARTITION BY g ORDER BY k DESC) = 1 ORDER BY g",
    "first_value over a named window": "SELECT g, first_value(k) OVER w AS f FROM t "
    "WINDOW w AS (PARTITION BY g ORDER BY ns) ORDER BY g, f",
    "SIMILAR TO and regexp_full_match match whole strings": "SELECT k, g SIMILAR TO '[a-b]', "
    "regexp_full_match(g || 'x', '[a-c]'), NOT g SIMILAR TO 'a|c' FROM t ORDER BY k",
    "LEFT JOIN without a match is NULL": "SELECT a.k, b.k AS other FROM t a "
    "LEFT JOIN t b ON b.k = a.k + 10 ORDER BY a.k",
}


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory):
    con = duckdb.connect()
    con.execute(_TABLE)
    conn = connect(parse_target(f"chdb:{tmp_path_factory.mktemp('dialect')}"), create=True)
    transpiler = Transpiler()
    for statement in transpiler.statements(_TABLE.replace("TEMP TABLE", "TABLE")):
        conn.execute(statement)
    yield con, conn, transpiler
    conn.close()
    con.close()


def _same(value: object) -> object:
    """DuckDB's booleans and lists as ClickHouse's JSON rows give them."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, list):
        return [_same(v) for v in value]
    return value


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_same_rows_on_both_engines(name: str, engines) -> None:
    con, conn, transpiler = engines
    sql = QUERIES[name]
    expected = [tuple(_same(v) for v in row) for row in con.execute(sql).fetchall()]
    (statement,) = transpiler.statements(sql)
    assert [tuple(_same(v) for v in row) for row in conn.rows(statement)] == expected


def test_views_are_inlined_and_temporary_tables_replaced(engines) -> None:
    con, conn, transpiler = engines
    setup = (
        "CREATE OR REPLACE VIEW v AS SELECT k, g FROM t WHERE k > 1;"
        "CREATE OR REPLACE TEMP TABLE x AS SELECT g, count(*) AS n FROM v GROUP BY g;"
    )
    con.execute(setup)
    for _ in range(2):  # replaced, not created twice
        for statement in transpiler.statements(setup):
            conn.execute(statement)
    sql = "SELECT g, n FROM x ORDER BY g"
    (statement,) = transpiler.statements(sql)
    assert conn.rows(statement) == con.execute(sql).fetchall()


def test_rowid_and_the_span_table_name_the_window() -> None:
    (statement,) = Transpiler().statements("SELECT rowid FROM otel_traces WHERE rowid > 1")
    assert "th_window" in statement
    assert "rowid" not in statement
    assert "rid" in statement


def test_parameters_are_bound_as_literals() -> None:
    (statement,) = Transpiler().statements(
        "SELECT * FROM t WHERE g = ? AND k IN (SELECT unnest(?::BIGINT[]))", ["it's", [1, 2]]
    )
    assert "'it''s'" in statement or "'it\\'s'" in statement
    assert "[1, 2]" in statement


def test_a_list_ordered_by_something_else_is_refused() -> None:
    with pytest.raises(UnsupportedStatement):
        Transpiler().statements("SELECT list(g ORDER BY k) FROM t")


def test_duckdb_macros_are_not_transpiled() -> None:
    assert Transpiler().statements("CREATE OR REPLACE MACRO m(x) AS x + 1") == []
