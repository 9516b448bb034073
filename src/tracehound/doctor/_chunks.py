"""Loading one chunk file into the span table, in the caller's open transaction.

A chunk of OTLP/JSON lines without blank lines goes straight into the table
(`_load_sql.insert_lines`); anything else, or such a chunk that one odd line
or span to reject makes fail, is staged first (`_load_sql.stage`) and copied
with its rejections.  What DuckDB cannot read at all goes to the Python
readers, line by line (`records`) or, for whole requests, as rows.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import duckdb
import orjson

from tracehound.doctor import _load_sql

__all__ = ["load_chunk", "records"]

_log = logging.getLogger("tracehound")


def load_chunk(
    cursor: duckdb.DuckDBPyConnection,
    table: str,
    path: Path,
    kind: str,
    size: Any,
    *,
    first_try: bool = False,
) -> tuple[list[tuple[int, int, bytes]], int]:
    """Load one chunk into ``cursor``'s transaction, uncommitted.

    Returns the lines DuckDB left to Python, as ``(source, number, line)``,
    and the number of spans it read from lines.  On a first try, running out
    of memory raises (the caller tries again later).
    """
    if kind == "lines":
        source, first, largest, plain = size
        if plain:  # row numbers are line numbers only without blank lines
            cursor.begin()
            try:
                insert = _load_sql.insert_lines(path, source, first, largest)
                (spans,) = cursor.execute(insert).fetchone()  # type: ignore[misc]
                return [], spans
            except duckdb.OutOfMemoryException:
                cursor.rollback()
                if first_try:
                    raise
            except (duckdb.Error, UnicodeDecodeError):  # DuckDB's message, about bad UTF-8
                cursor.rollback()  # an odd line or a span to reject: line by line
        size = (source, first, largest)
    leftovers = _stage_chunk(cursor, table, path, kind, size, first_try=first_try)
    spans = 0
    if kind == "lines":
        found = cursor.execute(f"SELECT count(*) FROM {table} WHERE leftover IS NULL")
        (spans,) = found.fetchone()  # type: ignore[misc]
    cursor.begin()
    try:
        cursor.execute(_load_sql.INSERT.replace("th_chunk", table))
        cursor.execute(_load_sql.REJECT.replace("th_chunk", table))
        cursor.execute(_load_sql.NOTE.replace("th_chunk", table))
    except BaseException:
        cursor.rollback()
        raise
    return leftovers, spans


def _stage_chunk(
    cursor: duckdb.DuckDBPyConnection,
    table: str,
    path: Path,
    kind: str,
    size: Any,
    *,
    first_try: bool = False,
) -> list[tuple[int, int, bytes]]:
    """Stage one chunk into ``table``; the lines DuckDB left to Python.

    On a first try, running out of memory raises (the caller tries again
    later); otherwise a chunk DuckDB cannot read goes to Python.
    """
    try:
        if kind == "lines" and b"\r" in path.read_bytes():
            # the CSV reader takes a CR for a line break, which would shift line numbers
            return _stage_elsewhere(cursor, table, path, kind, size)
        cursor.execute(_load_sql.stage(table, path, kind, size))
    except duckdb.OutOfMemoryException:
        if first_try:
            raise
        _log.warning("tracehound: DuckDB ran out of memory on a chunk; reading it in Python")
        return _stage_elsewhere(cursor, table, path, kind, size)
    except (duckdb.Error, UnicodeDecodeError):  # the latter: DuckDB's message quoting bad UTF-8
        if kind == "rows":
            raise
        return _stage_elsewhere(cursor, table, path, kind, size)
    if kind != "lines":
        return []
    found = cursor.execute(
        f"SELECT source, line_no, leftover FROM {table} WHERE leftover IS NOT NULL"
    ).fetchall()
    return [(source, line_no, line.encode() + b"\n") for source, line_no, line in found]


def _stage_elsewhere(
    cursor: duckdb.DuckDBPyConnection, table: str, path: Path, kind: str, size: Any
) -> list[tuple[int, int, bytes]]:
    """The fallback for a chunk DuckDB could not stage."""
    if kind == "lines":  # DuckDB could not read the chunk: all of it to Python
        cursor.execute(_load_sql.nothing_stage(table))
        return records(path, *size[:2])
    # DuckDB's JSON reader refused what orjson accepted: go row by row
    _requests_to_rows(path)
    cursor.execute(_load_sql.stage(table, path, "rows", 1 << 25))
    return []


def records(path: Path, source: int, first: int) -> list[tuple[int, int, bytes]]:
    """The ``(source, line number, line)`` of every line of a chunk (the reader skips
    blank ones, whichever way they came back)."""
    with open(path, "rb") as chunk:
        return [(source, number, line) for number, line in enumerate(chunk, first)]


def _requests_to_rows(path: Path) -> None:
    """Rewrite a chunk of wrapped requests (see `Store.add_request`) as serialised rows."""
    from tracehound.doctor.sources.otlp_json import request_rows

    rows: list[bytes] = []
    with open(path, "rb") as chunk:
        for line in chunk:
            wrapped = orjson.loads(line)
            rows.extend(request_rows(wrapped["d"], wrapped["n"], wrapped["src"], wrapped["sc"]))
    with open(path, "wb") as out:
        out.write(b"\n".join(rows))
