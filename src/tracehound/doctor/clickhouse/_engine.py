"""A store-like face on a ClickHouse session: the checks' DuckDB SQL, run transpiled.

The checks call ``store.query``, ``store.scalar`` and ``store.con.execute``
with DuckDB SQL; `ClickHouseStore` answers the same calls by transpiling each
statement (`_dialect.Transpiler`) and running it in ClickHouse, so a check's
query is written once.  Every statement run and every one that could not be
transpiled or run is counted (`ClickHouseStore.stats`): the measure of how
much of the checks' SQL transpiles as it is.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tracehound.doctor.clickhouse._accessors import ACCESSORS
from tracehound.doctor.clickhouse._connect import ClickHouseError, Connection
from tracehound.doctor.clickhouse._dialect import WHOLE_ROWS, Transpiler, UnsupportedStatement

__all__ = ["ClickHouseStore", "EngineError"]


_WHOLE = re.compile(rf"\b{WHOLE_ROWS}\b")


class EngineError(RuntimeError):
    """A check's statement that could not be transpiled or that ClickHouse refused."""

    def __init__(self, statement: str, reason: str) -> None:
        super().__init__(f"{reason} (in: {' '.join(statement.split())[:160]}…)")
        self.reason = reason


@dataclass
class Stats:
    """How the checks' statements fared on ClickHouse."""

    transpiled: int = 0
    failed: list[str] = field(default_factory=list)


class _Con:
    """The part of DuckDB's connection the checks use."""

    def __init__(self, owner: ClickHouseStore) -> None:
        self._owner = owner

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> _Con:
        self._owner.run(sql, params)
        return self

    def interrupt(self) -> None:
        """Nothing runs beside the caller here: there is nothing to interrupt."""


class ClickHouseStore:
    """The checks' view of a ClickHouse session whose ``th_window`` holds the spans."""

    Error = EngineError

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.con = _Con(self)
        self.stats = Stats()
        self._transpiler = Transpiler(ACCESSORS)
        self._whole: str | None = None

    def reading_whole(self, rows: str) -> ClickHouseStore:
        """The same session (its tables, views and macros), the span table being ``rows``:
        a query of the window's rows with their whole attributes (`Window.whole_rows`)."""
        other = ClickHouseStore.__new__(ClickHouseStore)
        other.conn, other.con, other.stats = self.conn, _Con(other), self.stats
        other._transpiler, other._whole = self._transpiler, f"({rows})"
        return other

    def run(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run DuckDB ``sql`` (one or more statements); the last one's rows."""
        try:
            statements = self._transpiler.statements(sql, params, whole=self._whole is not None)
            if self._whole is not None:
                whole = self._whole
                statements = [_WHOLE.sub(lambda _: whole, s) for s in statements]
        except UnsupportedStatement as exc:
            self.stats.failed.append(str(exc))
            raise EngineError(sql, f"not transpiled: {exc}") from None
        self.stats.transpiled += 1
        rows: list[tuple[Any, ...]] = []
        for statement in statements:
            try:
                if statement.lstrip().upper().startswith(("SELECT", "WITH")):
                    rows = self.conn.rows(statement)
                else:
                    self.conn.execute(statement)
            except ClickHouseError as exc:
                self.stats.failed.append(str(exc))
                raise EngineError(statement, f"ClickHouse refused it: {exc}") from None
        return rows

    def transpiler_check(self, sql: str) -> list[str]:
        """The ClickHouse statements for DuckDB ``sql``, not run (`UnsupportedStatement`
        when it cannot be transpiled)."""
        return self._transpiler.statements(sql)

    def query(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        return self.run(sql, params)

    def scalar(self, sql: str, params: Any = None) -> Any:
        rows = self.run(sql, params)
        return rows[0][0] if rows else None
