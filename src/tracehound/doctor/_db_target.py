"""Where ``--db`` may write: never over an input, never over a file tracehound did not write."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from tracehound.doctor.sources import Input
from tracehound.doctor.store import LoadError

__all__ = ["check_db_target", "is_span_table"]

_DUCKDB_MAGIC = b"DUCK"
"""DuckDB's file header carries these bytes at offset 8."""

_OWN_TABLES = {"otel_traces", "th_sources", "rejected"}
"""Tables every span table tracehound writes has (see `_load_sql.SCHEMA`)."""


def check_db_target(db: str | os.PathLike[str], inputs: Sequence[Input]) -> None:
    """Raise `LoadError` unless ``db`` is new, or a span table tracehound wrote that no
    input names (the store replaces it)."""
    path = Path(db)
    try:
        if not path.exists() and not path.is_symlink():
            return
        if not path.is_file():
            raise LoadError(f"{db}: not a regular file; not writing the span table there")
        for inp in inputs:
            if inp.path is not None and _same(path, inp.path):
                raise LoadError(f"{db} is one of the inputs; not replacing it with the span table")
    except (OSError, ValueError) as exc:
        raise LoadError(f"{db}: cannot use it for the span table: {exc}") from exc
    if not is_span_table(path):
        raise LoadError(
            f"{db} exists and is not a span table tracehound wrote; not replacing it "
            "(name a new file, or remove this one yourself)"
        )


def is_span_table(path: Path) -> bool:
    """Whether ``path`` is a DuckDB database holding tracehound's span table."""
    try:
        with path.open("rb") as head:
            if head.read(12)[8:12] != _DUCKDB_MAGIC:
                return False
    except OSError:
        return False
    import duckdb

    try:
        with duckdb.connect(str(path), read_only=True) as con:
            names = {
                name for (name,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
            }
    except duckdb.Error:
        return False
    return names >= _OWN_TABLES


def _same(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False
