"""The checks' DuckDB SQL, transpiled for ClickHouse: one definition, two engines.

SQLGlot (``read="duckdb"``, ``write="clickhouse"``) does most of the work;
this module adds what it leaves to the user, each a rule of the dialects and
none a rewrite of one query:

- names: the span table is the window table (``th_window``), DuckDB's
  ``rowid`` is its ``rid`` column;
- functions SQLGlot passes through or maps to something ClickHouse lacks:
  ``epoch_ns`` → ``toUnixTimestamp64Nano``, ``hash`` → ``cityHash64``,
  ``a // b`` → ``intDiv`` (SQLGlot's float division loses nanoseconds),
  ``bool_or`` → ``max``, ``list(x ORDER BY x)`` → ``arraySort(groupArray(x))``,
  ``range`` (end excluded, as ClickHouse's), ``SIMILAR TO`` and
  ``regexp_full_match`` → ``match`` of the whole string;
- statements: ``CREATE OR REPLACE TEMP TABLE … AS`` → drop and create a
  temporary Memory table; a ``CREATE VIEW`` is remembered and inlined where
  it is read (ClickHouse has no temporary views); ``DELETE`` → ``ALTER TABLE
  … DELETE``; DuckDB macros are not transpiled (their JSON list lambdas have
  no ClickHouse form): a query calling one fails, and its family is skipped.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.dialects.clickhouse import ClickHouse

__all__ = ["Transpiler", "UnsupportedStatement"]

SPAN_TABLE = "otel_traces"
WINDOW_TABLE = "th_window"

_CACHE: dict[tuple[str, str], tuple[list[str], dict[str, exp.Expression]]] = {}
"""Transpiled statements by DuckDB text and the views defined before it: parsing and
generating took a quarter of a small check's time, and the checks' SQL is the same
every run."""

_RENAMED_FUNCTIONS = {"epoch_ns": "toUnixTimestamp64Nano", "hash": "cityHash64"}


class UnsupportedStatement(Exception):
    """A statement this engine cannot run (it names why)."""


def _array_agg(self: Any, expression: exp.ArrayAgg) -> str:
    this = expression.this
    ordered = isinstance(this, exp.Order)
    if ordered:
        keys = [o.this for o in this.expressions]
        this = this.this
        if len(keys) != 1 or keys[0] != (
            this.expressions[0] if isinstance(this, exp.Distinct) else this
        ):
            raise UnsupportedStatement("list() ordered by another expression than its own")
    if isinstance(this, exp.Distinct):
        agg = f"groupUniqArray({self.sql(this.expressions[0])})"
    else:
        agg = f"groupArray({self.sql(this)})"
    return f"arraySort({agg})" if ordered else agg


def _range(self: Any, expression: exp.GenerateSeries) -> str:
    start, end = self.sql(expression, "start"), self.sql(expression, "end")
    if not expression.args.get("is_end_exclusive"):
        end = f"({end}) + 1"
    return f"range({start}, {end})"


def _full_match(self: Any, expression: exp.Expression) -> str:
    """DuckDB's ``SIMILAR TO`` and ``regexp_full_match``: a regular expression matching the
    whole string (ClickHouse's ``match`` finds it anywhere)."""
    pattern = expression.expression
    anchored = exp.func("concat", exp.Literal.string("^(?:"), pattern, exp.Literal.string(")$"))
    return self.func("match", expression.this, anchored)


class _Dialect(ClickHouse):
    class Generator(ClickHouse.Generator):
        TRANSFORMS = {  # noqa: RUF012 (SQLGlot's own class attribute, extended)
            **ClickHouse.Generator.TRANSFORMS,
            exp.IntDiv: lambda self, e: self.func("intDiv", e.this, e.expression),
            exp.LogicalOr: lambda self, e: self.func("max", e.this),
            exp.ArrayAgg: _array_agg,
            exp.GenerateSeries: _range,
            exp.SimilarTo: _full_match,
            exp.RegexpFullMatch: _full_match,
        }


class Transpiler:
    """DuckDB statements → ClickHouse statements, remembering the views created."""

    def __init__(self) -> None:
        self._views: dict[str, exp.Expression] = {}
        self._views_key = ""

    def statements(self, sql: str, params: Sequence[Any] | None = None) -> list[str]:
        """The ClickHouse statements that do what DuckDB's ``sql`` does."""
        if params:
            sql = _bind(sql, params)
        key = (sql, self._views_key)
        cached = _CACHE.get(key)
        if cached is not None:
            out, views = cached
        else:
            before = dict(self._views)
            out = []
            try:
                parsed = sqlglot.parse(sql, read="duckdb")
            except sqlglot.errors.ParseError as exc:
                raise UnsupportedStatement(f"SQLGlot cannot parse it: {exc}") from None
            for tree in parsed:
                if tree is not None:
                    out.extend(self._one(tree))
            views = {k: v for k, v in self._views.items() if before.get(k) is not v}
            _CACHE[key] = (out, views)
        if views:
            self._views.update(views)
            self._views_key = "\n".join(f"{k}={v.sql()}" for k, v in sorted(self._views.items()))
        return out

    def _one(self, tree: exp.Expression) -> list[str]:
        if isinstance(tree, exp.Create):
            kind = (tree.args.get("kind") or "").upper()
            name = tree.this.name if isinstance(tree.this, exp.Table) else ""
            if kind == "VIEW":
                self._views[name] = self._rewrite(tree.expression)
                return []
            if kind in ("MACRO", "FUNCTION"):
                return []  # see the module's docstring
            if kind == "TABLE" and isinstance(tree.expression, exp.Query):
                body = self._sql(self._rewrite(tree.expression))
                return [
                    f"DROP TEMPORARY TABLE IF EXISTS {name}",
                    f"CREATE TEMPORARY TABLE {name} ENGINE = Memory AS {body}",
                ]
            raise UnsupportedStatement(f"CREATE {kind} without a query")
        if isinstance(tree, exp.Delete):
            table = tree.this.name
            where = tree.args["where"].this
            return [f"ALTER TABLE {table} DELETE WHERE {self._sql(self._rewrite(where))}"]
        return [self._sql(self._rewrite(tree))]

    def _rewrite(self, tree: exp.Expression) -> exp.Expression:
        tree = tree.copy()
        for table in list(tree.find_all(exp.Table)):
            view = self._views.get(table.name)
            if view is not None and not table.args.get("db"):
                alias = table.alias or table.name
                table.replace(
                    exp.Subquery(
                        this=view.copy(), alias=exp.TableAlias(this=exp.to_identifier(alias))
                    )
                )
            elif table.name == SPAN_TABLE:
                table.set("this", exp.to_identifier(WINDOW_TABLE))
                if not table.alias:
                    table.set("alias", exp.TableAlias(this=exp.to_identifier(SPAN_TABLE)))
        for column in list(tree.find_all(exp.Column)):
            if column.name.lower() == "rowid":
                column.set("this", exp.to_identifier("rid"))
        for func in list(tree.find_all(exp.Anonymous)):
            renamed = _RENAMED_FUNCTIONS.get(str(func.this).lower())
            if renamed:
                func.set("this", renamed)
        return tree

    @staticmethod
    def _sql(tree: exp.Expression) -> str:
        return tree.sql(dialect=_Dialect, unsupported_level=sqlglot.ErrorLevel.RAISE)


def _bind(sql: str, params: Sequence[Any]) -> str:
    """``sql`` with its ``?`` parameters written as literals (DuckDB's placeholders have
    no ClickHouse form that both of its clients take)."""
    parts = sql.split("?")
    if len(parts) != len(params) + 1:
        raise UnsupportedStatement("a '?' that is not a parameter")
    out = [parts[0]]
    for value, rest in zip(params, parts[1:], strict=True):
        out.append(_literal(value))
        out.append(rest)
    return "".join(out)


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if isinstance(value, datetime.datetime):
        value = value.isoformat(sep=" ")
    return "'" + str(value).replace("\\", "\\\\").replace("'", "''") + "'"
