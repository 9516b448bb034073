"""The table the report is made over: spans moved from the live store, capped and compressed.

A live run checks the spans parsed since the run before in a DuckDB database
of their own (`Engine.live`); then they move here as Arrow tables (DuckDB's
own columns: no second parse, no second JSON load) and are gone from there.
The table keeps at most `Settings.max_spans` spans, dropping the traces that
arrived first, and is compressed every `CHECKPOINT_SPANS` spans added or
dropped (which also frees what was dropped).
"""

from __future__ import annotations

import collections
from typing import Any

from tracehound.doctor.store import Store

__all__ = ["CHECKPOINT_SPANS", "MOVED", "Table", "take"]

CHECKPOINT_SPANS = 250_000
"""Spans added to (or dropped from) the table between two checkpoints, which compress it
and free what evictions deleted (the loaders do this for the live store, not for the
table, which gets its rows from Arrow: uncompressed, never freed, 500,000 spans kept in a
60 s run took the RSS from 0.5 to 1.35 GB; compressed, it stayed at 0.7-0.8 GB)."""

MOVED = ("otel_traces", "rejected", "normalised", "merged")
"""The live store's tables whose rows move to the table after each live run."""


def take(live: Store, run: int) -> dict[str, Any]:
    """The live store's rows, as Arrow tables (with the live run's number, ``run``);
    the live store emptied.  (Its connection should have ``arrow_lossless_conversion``
    on: JSON columns then move as JSON, not as strings to parse again.)"""
    con = live.con
    part: dict[str, Any] = {
        table: con.sql(f"SELECT * FROM {table}").to_arrow_table() for table in MOVED
    }
    for table in MOVED:
        con.execute(f"DELETE FROM {table}").fetchall()
    part["run"] = run
    return part


class Table:
    """`store`, the spans the live runs checked, and the parts on their way to it."""

    def __init__(self, memory_limit: str) -> None:
        self.store = Store(None)
        self.store.con.execute(f"SET memory_limit = '{memory_limit}'")
        self.parts: collections.deque[dict[str, Any]] = collections.deque()
        self.spans = 0
        """Spans in the table."""
        self.added = 0
        """Spans ever added to it."""
        self.evicted = 0
        """Spans dropped to keep it under the cap."""
        self._unpacked = 0  # spans added or dropped since the table was last compressed

    def add_parts(self, max_spans: int) -> int:
        """Add every part waiting (dropping the oldest traces over ``max_spans``); returns
        the last live run added, ``-1`` if none was."""
        run = -1
        # a connection of its own: DuckDB registers nothing beside an unfinished result
        con = self.store.cursor()
        try:
            while self.parts:
                part = self.parts.popleft()
                for table in MOVED:
                    con.register("th_part", part[table])
                    con.execute(f"INSERT INTO {table} SELECT * FROM th_part").fetchall()
                    con.unregister("th_part")
                self.spans += part["otel_traces"].num_rows
                self.added += part["otel_traces"].num_rows
                self._unpacked += part["otel_traces"].num_rows
                run = part["run"]
            if self.spans > max_spans:
                self._evict(max_spans)
            if self._unpacked >= CHECKPOINT_SPANS:
                self._unpacked = 0
                con.execute("CHECKPOINT").fetchall()
        finally:
            con.close()
        return run

    def _evict(self, max_spans: int) -> None:
        """Drop the traces that arrived first while the table holds over ``max_spans``."""
        total = int(self.store.scalar("SELECT count(*) FROM otel_traces"))
        excess = total - max_spans
        if excess <= 0:
            return
        excess += max_spans // 10  # room, so that this is not done every run
        self.store.con.execute(
            """DELETE FROM otel_traces WHERE TraceId IN (
                SELECT TraceId FROM (
                    SELECT TraceId, count(*) AS n,
                           sum(count(*)) OVER (ORDER BY min(rowid)) AS upto
                    FROM otel_traces GROUP BY TraceId)
                WHERE upto - n < ?)""",
            [excess],
        )
        self.spans = int(self.store.scalar("SELECT count(*) FROM otel_traces"))
        self.evicted += total - self.spans
        self._unpacked += total - self.spans
