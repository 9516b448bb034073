"""The checks' DuckDB SQL, transpiled for ClickHouse: one definition, two engines.

SQLGlot (``read="duckdb"``, ``write="clickhouse"``) does most of the work;
this module adds what it leaves to the user, each a rule of the dialects and
none a rewrite of one query:

- names: the span table is the window table (``th_window``) or, for a
  family that reads attributes whole, `WHOLE_ROWS` (the caller's query of the
  exporter's table); DuckDB's ``rowid`` is their ``rid`` column; ``?`` and
  ``$n`` parameters are written as literals after transpiling;
- functions SQLGlot passes through or maps to something ClickHouse lacks:
  ``epoch_ns`` → ``toUnixTimestamp64Nano``, ``strlen`` → ``length`` (bytes
  both), ``a // b`` → ``intDiv``
  (SQLGlot's float division loses nanoseconds),
  ``bool_or`` → ``max``, ``list(x ORDER BY x)`` → ``arraySort(groupArray(x))``,
  ``range`` (end excluded, as ClickHouse's), ``SIMILAR TO`` and
  ``regexp_full_match`` → ``match`` of the whole string, ``median`` and
  ``quantile_cont`` → ``quantileExactInclusiveOrNull`` (the same interpolation),
  ``round`` half away from zero (ClickHouse rounds a float's tie to even),
  ``try_cast`` → ``accurateCastOrNull``, ``split_part`` → ``splitByString``,
  ``regexp_extract`` into named groups → a named tuple of ``extractGroups``,
  ``hash`` of a tuple (ClickHouse's hash of a NULL is NULL), several
  ``unnest`` in one select list zipped (ClickHouse's ``arrayJoin``s multiply),
  ``->>`` NULL when the key is absent, ``json_keys`` → ``JSONExtractKeys``;
- statements: ``CREATE OR REPLACE TEMP TABLE … AS`` → drop and create a
  temporary Memory table; a ``CREATE VIEW`` is remembered and inlined where
  it is read (ClickHouse has no temporary views); ``DELETE`` → ``ALTER TABLE
  … DELETE``; a table made from column definitions → a temporary Memory table;
  ``th_work.X`` (the checks' scratch schema) → ``th_work_X``;
- DuckDB macros are expanded where they are called: a macro's body is transpiled
  as any expression, except the attribute accessors (`_accessors.ACCESSORS`),
  whose bodies read OTLP/JSON attribute lists with lambdas: the engine gives
  their ClickHouse form (look-ups in the attributes' JSON text).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Sequence
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.dialects.clickhouse import ClickHouse

__all__ = ["Transpiler", "UnsupportedStatement"]

SPAN_TABLE = "otel_traces"
WINDOW_TABLE = "th_window"
WHOLE_ROWS = "th_whole_rows"
"""Where the span table is read whole (`statements(whole=True)`): the caller puts the
window's rows with their whole attributes (a query over the exporter's table) there."""

_CACHE: dict[
    tuple[str, str],  # the statement, and the span table, views and macros it was read with
    tuple[list[str], dict[str, exp.Expression], dict[str, tuple[list[str], exp.Expression]]],
] = {}
"""Transpiled statements (and the views and macros they define) by DuckDB text and the
views and macros defined before it: parsing and
generating took a quarter of a small check's time, and the checks' SQL is the same
every run."""

_RENAMED_FUNCTIONS = {"epoch_ns": "toUnixTimestamp64Nano", "strlen": "length"}
"""DuckDB's functions whose ClickHouse namesake does the same (``strlen``: bytes)."""
_MAX_MACRO_DEPTH = 8


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


def _quantile(self: Any, expression: exp.Expression) -> str:
    """DuckDB's ``quantile_cont`` and ``median``: linear interpolation between the two
    nearest values (ClickHouse's ``quantile``/``median`` sample); NULL over no rows."""
    level = (
        self.sql(expression, "expression") if isinstance(expression, exp.PercentileCont) else "0.5"
    )
    return f"quantileExactInclusiveOrNull({level})({self.sql(expression, 'this')})"


def _round(self: Any, expression: exp.Round) -> str:
    """DuckDB rounds a tie away from zero (``std::round(x * 10^n) / 10^n``); ClickHouse's
    ``round`` of a float rounds it to even (0.125 → 0.12 where DuckDB says 0.13)."""
    decimals = expression.args.get("decimals")
    scale = f"pow(10, {self.sql(decimals)})" if decimals is not None else "1"
    v = f"(({self.sql(expression, 'this')}) * {scale})"
    return f"(sign({v}) * floor(abs({v}) + 0.5) / {scale})"


def _try_cast(self: Any, expression: exp.TryCast) -> str:
    to = expression.args["to"].copy()
    return f"accurateCastOrNull({self.sql(expression, 'this')}, '{self.sql(to)}')"


def _split_part(self: Any, expression: exp.SplitPart) -> str:
    text = self.sql(expression, "this")
    parts = self.func("splitByString", expression.args["delimiter"], expression.this)
    return (
        f"if(({text}) IS NULL, NULL, arrayElement({parts}, {self.sql(expression, 'part_index')}))"
    )


def _regexp_extract(self: Any, expression: exp.RegexpExtract) -> str:
    """``regexp_extract(s, re, ['a', 'b'])``: DuckDB's struct of named groups (empty strings
    when nothing matched) as a named tuple; ``s`` NULL gives empty strings too (every use
    of the tracehound macros treats '' and NULL alike, through ``nullif``)."""
    group = expression.args.get("group")
    if not isinstance(group, exp.Array):
        raise UnsupportedStatement("regexp_extract of a group other than a list of names")
    names = [g.name for g in group.expressions]
    groups = self.func(
        "extractGroups",
        exp.func("coalesce", expression.this, exp.Literal.string("")),
        expression.expression,
    )
    items = ", ".join(f"arrayElement({groups}, {i})" for i in range(1, len(names) + 1))
    fields = ", ".join(f"{n} String" for n in names)
    return f"CAST(tuple({items}), 'Tuple({fields})')"


def _json_scalar(self: Any, expression: exp.JSONExtractScalar) -> str:
    """DuckDB's ``->>``: NULL when the key is absent (ClickHouse's ``JSONExtractString``
    gives an empty string)."""
    value = ClickHouse.Generator.TRANSFORMS[exp.JSONExtractScalar](self, expression)
    has = value.replace("JSONExtractString(", "JSONHas(", 1)
    return f"if({has}, {value}, NULL)"


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
            exp.Median: _quantile,
            exp.PercentileCont: _quantile,
            exp.Round: _round,
            exp.TryCast: _try_cast,
            exp.SplitPart: _split_part,
            exp.RegexpExtract: _regexp_extract,
            exp.JSONExtractScalar: _json_scalar,
            exp.JSONKeys: lambda self, e: self.func("JSONExtractKeys", e.this),
        }


class Transpiler:
    """DuckDB statements → ClickHouse statements, remembering the views and macros created."""

    def __init__(
        self, accessors: dict[str, tuple[list[str], exp.Expression]] | None = None
    ) -> None:
        self._views: dict[str, exp.Expression] = {}
        self._macros: dict[str, tuple[list[str], exp.Expression]] = {}
        self._accessors = accessors or {}
        self._span_table = WINDOW_TABLE
        self._key = ""
        """The views and macros defined so far: what a statement's transpiled form depends on."""

    def statements(
        self, sql: str, params: Sequence[Any] | None = None, *, whole: bool = False
    ) -> list[str]:
        """The ClickHouse statements that do what DuckDB's ``sql`` does; ``whole``: the span
        table is `WHOLE_ROWS`, else the window table."""
        literals = [_literal(v) for v in params or ()]
        if literals:
            sql = _mark(sql, len(literals))
        self._span_table = WHOLE_ROWS if whole else WINDOW_TABLE
        key = (sql, f"{self._span_table}\n{self._key}")
        cached = _CACHE.get(key)
        if cached is not None:
            out, views, macros = cached
        else:
            views_before, macros_before = dict(self._views), dict(self._macros)
            out = []
            try:
                parsed = sqlglot.parse(sql, read="duckdb")
            except sqlglot.errors.ParseError as exc:
                raise UnsupportedStatement(f"SQLGlot cannot parse it: {exc}") from None
            for tree in parsed:
                if tree is not None:
                    out.extend(self._one(tree))
            views = {k: v for k, v in self._views.items() if views_before.get(k) is not v}
            macros = {k: v for k, v in self._macros.items() if macros_before.get(k) is not v}
            _CACHE[key] = (out, views, macros)
        if views or macros:
            self._views.update(views)
            self._macros.update(macros)
            self._key = "\n".join(
                [f"{k}={v.sql()}" for k, v in sorted(self._views.items())]
                + [f"{k}()={b.sql()}" for k, (_, b) in sorted(self._macros.items())]
            )
        if literals:
            return [_PARAM.sub(lambda m: literals[int(m.group(1))], s) for s in out]
        return out

    def _one(self, tree: exp.Expression) -> list[str]:
        if isinstance(tree, exp.Create):
            kind = (tree.args.get("kind") or "").upper()
            name = tree.this.name if isinstance(tree.this, exp.Table) else ""
            if kind == "VIEW":
                self._views[name] = self._rewrite(tree.expression)
                return []
            if kind in ("MACRO", "FUNCTION"):
                self._macro(tree)
                return []
            if kind == "TABLE" and isinstance(tree.expression, exp.Query):
                name = _scratch(tree.this)
                body = self._sql(self._rewrite(tree.expression))
                return [
                    f"DROP TEMPORARY TABLE IF EXISTS {name}",
                    f"CREATE TEMPORARY TABLE {name} ENGINE = Memory AS {body}",
                ]
            if kind == "TABLE" and isinstance(tree.this, exp.Schema):
                name = _scratch(tree.this.this)
                columns = ", ".join(self._sql(c) for c in tree.this.expressions)
                return [
                    f"DROP TEMPORARY TABLE IF EXISTS {name}",
                    f"CREATE TEMPORARY TABLE {name} ({columns}) ENGINE = Memory",
                ]
            raise UnsupportedStatement(f"CREATE {kind} without a query")
        if isinstance(tree, exp.Delete):
            table = _scratch(tree.this)
            where = tree.args["where"].this
            return [f"ALTER TABLE {table} DELETE WHERE {self._sql(self._rewrite(where))}"]
        return [self._sql(self._rewrite(tree))]

    def _macro(self, tree: exp.Create) -> None:
        """Remember a DuckDB macro (as the engine's accessor when it has one) to expand
        where it is called."""
        udf = tree.this
        name = udf.this.name if isinstance(udf.this, exp.Table) else udf.name
        name = name.lower()
        if name in self._accessors:
            self._macros[name] = self._accessors[name]
        else:
            params = [p.name for p in udf.expressions]
            self._macros[name] = (params, tree.expression)

    def _expand(self, tree: exp.Expression) -> exp.Expression:
        for _ in range(_MAX_MACRO_DEPTH):
            calls = [f for f in tree.find_all(exp.Anonymous) if str(f.this).lower() in self._macros]
            if not calls:
                return tree
            for call in calls:
                params, body = self._macros[str(call.this).lower()]
                if len(params) != len(call.expressions):
                    raise UnsupportedStatement(f"{call.this}() called with other arguments")
                args = dict(zip(params, call.expressions, strict=True))

                def put(node: exp.Expression, args: dict[str, exp.Expression] = args) -> Any:
                    if isinstance(node, exp.Column) and not node.table and node.name in args:
                        return exp.Paren(this=args[node.name].copy())
                    return node

                expanded = body.copy().transform(put)
                if call is tree:
                    return expanded
                call.replace(expanded)
        raise UnsupportedStatement("macros nested deeper than the engine expands")

    def _rewrite(self, tree: exp.Expression) -> exp.Expression:
        tree = self._expand(tree.copy())
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
                table.set("this", exp.to_identifier(self._span_table))
                if not table.alias:
                    table.set("alias", exp.TableAlias(this=exp.to_identifier(SPAN_TABLE)))
            elif table.text("db") == SCRATCH:
                table.set("this", exp.to_identifier(_scratch(table)))
                table.set("db", None)
        for column in list(tree.find_all(exp.Column)):
            if column.name.lower() == "rowid":
                column.set("this", exp.to_identifier("rid"))
        for func in list(tree.find_all(exp.Anonymous)):
            name = str(func.this).lower()
            if name in self._macros:
                continue
            renamed = _RENAMED_FUNCTIONS.get(name)
            if renamed:
                func.set("this", renamed)
            elif name == "hash":  # ClickHouse's hash of a NULL is NULL, DuckDB's a number
                func.set("expressions", [exp.Anonymous(this="tuple", expressions=func.expressions)])
                func.set("this", "cityHash64")
        for select in list(tree.find_all(exp.Select)):
            _zip_unnests(select)
        return tree

    @staticmethod
    def _sql(tree: exp.Expression) -> str:
        return tree.sql(dialect=_Dialect, unsupported_level=sqlglot.ErrorLevel.RAISE)


SCRATCH = "th_work"
"""The checks' scratch schema in DuckDB; its tables are ``th_work_<name>`` here."""


def _scratch(table: exp.Expression) -> str:
    if isinstance(table, exp.Table) and table.text("db") == SCRATCH:
        return f"{SCRATCH}_{table.name}"
    return table.name


def _zip_unnests(select: exp.Select) -> None:
    """DuckDB's ``unnest`` calls in one select list go through their lists side by side;
    ClickHouse's ``arrayJoin`` calls multiply: the lists are zipped and joined once (the
    same ``arrayJoin`` expression is joined once), each call taking its element."""
    calls = [
        u
        for e in select.expressions
        for u in [e.unalias()]
        if isinstance(u, (exp.Explode, exp.Unnest))
    ]
    if len(calls) < 2:
        return
    arrays = [(c.this if isinstance(c, exp.Explode) else c.expressions[0]).copy() for c in calls]
    for i, call in enumerate(calls, start=1):
        joined = exp.Anonymous(
            this="arrayJoin",
            expressions=[exp.Anonymous(this="arrayZip", expressions=[a.copy() for a in arrays])],
        )
        call.replace(
            exp.Anonymous(this="tupleElement", expressions=[joined, exp.Literal.number(i)])
        )


_PARAM = re.compile(r"th_param_(\d+)\(\)", re.IGNORECASE)
_NUMBERED = re.compile(r"\$(\d+)\b")


def _mark(sql: str, count: int) -> str:
    """``sql`` with its ``?`` parameters as calls ``th_param_<i>()``, to be written as
    literals in the ClickHouse text (DuckDB's placeholders have no ClickHouse form that
    both of its clients take): the statement is transpiled once, however many values it
    is given (a list of thousands of IDs is not parsed)."""
    if "?" not in sql:  # DuckDB's numbered parameters: $1, $2, ...
        return _NUMBERED.sub(lambda m: f"th_param_{int(m.group(1)) - 1}()", sql)
    parts = sql.split("?")
    if len(parts) != count + 1:
        raise UnsupportedStatement("a '?' that is not a parameter")
    out = [parts[0]]
    for i, rest in enumerate(parts[1:]):
        out.append(f"th_param_{i}()")
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
