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
    "round takes a tie away from zero": "SELECT k, round(k::DOUBLE / 8, 2), "
    "round(-k::DOUBLE / 8, 2), round(0.95::DOUBLE * 0.7, 2) FROM t ORDER BY k",
    "median and quantile_cont interpolate": "SELECT median(ns - 1767225600000000000), "
    "quantile_cont(k, 0.99), median(k) FILTER (WHERE k > 10) FROM t",
    "try_cast gives NULL": "SELECT k, try_cast(nullif(g || k, 'a1') AS INTEGER), "
    "try_cast(k::VARCHAR AS INTEGER) FROM t ORDER BY k",
    "split_part, and of NULL": "SELECT k, split_part(CASE WHEN k > 1 THEN g || '.x' END, '.', 1), "
    "split_part(g, '.', 2) FROM t ORDER BY k",
    "regexp_extract into named groups": "SELECT k, nullif(u.scheme, ''), nullif(u.host, ''), "
    "nullif(u.port, '') FROM (SELECT k, regexp_extract(CASE WHEN k < 4 THEN 'http://' || g || "
    "CASE WHEN k > 1 THEN ':' || k ELSE '' END || '/p' END, "
    "'^([a-z]+)://(\\[[^\\]/]*\\]|[^/:?#]*)(?::([0-9]*))?', ['scheme', 'host', 'port']) AS u "
    "FROM t) ORDER BY k",
    "hash of a NULL is a value": "SELECT count(DISTINCT hash(g, CASE WHEN k > 2 THEN g END)), "
    "count(hash(CASE WHEN k > 2 THEN g END)) FROM t",
    "unnests side by side": "SELECT unnest([1, 2, 3]) AS a, unnest(['x', 'y', 'z']) AS b",
    "strlen counts bytes": "SELECT k, strlen(g || 'é') FROM t ORDER BY k",
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


def test_duckdb_macros_are_expanded_where_called(engines) -> None:
    con, conn, _ = engines
    transpiler = Transpiler()
    macros = (
        "CREATE OR REPLACE MACRO m(x, y) AS x * 10 + y; CREATE OR REPLACE MACRO n(x) AS m(x, 1)"
    )
    con.execute(macros)
    assert transpiler.statements(macros) == []
    sql = "SELECT k, n(k + 1) FROM t ORDER BY k"
    (statement,) = transpiler.statements(sql)
    assert conn.rows(statement) == con.execute(sql).fetchall()


def test_the_attribute_accessors_read_the_window_text(engines) -> None:
    """The macros C003 reads attributes with, in their ClickHouse form: a look-up in the
    window's JSON object of the wanted keys (absent: NULL, as DuckDB's list look-up)."""
    from tracehound.doctor.checks._endpoints import ENDPOINTS
    from tracehound.doctor.clickhouse._accessors import ACCESSORS

    _, conn, _ = engines
    transpiler = Transpiler(ACCESSORS)
    macros = ENDPOINTS[: ENDPOINTS.index("CREATE OR REPLACE TEMP TABLE th_targets")]
    assert transpiler.statements(macros) == []
    (statement,) = transpiler.statements(
        "SELECT th_val(th_wanted(a), 'server.address'), th_val(th_wanted(a), 'url.full'), "
        "th_port(th_val(th_wanted(a), 'server.port'), 'https') "
        """FROM (SELECT '{"server.address":"pay","server.port":"x"}' AS a)"""
    )
    assert conn.rows(statement) == [("pay", None, 443)]


def test_a_table_of_columns_is_a_temporary_memory_table(engines) -> None:
    _, conn, transpiler = engines
    for statement in transpiler.statements(
        "CREATE OR REPLACE TEMP TABLE th_work.m (call BIGINT, ok BOOLEAN);"
        "INSERT INTO th_work.m VALUES (1, NULL)"
    ):
        conn.execute(statement)
    (statement,) = transpiler.statements("SELECT call, ok FROM th_work.m")
    assert conn.rows(statement) == [(1, None)]
