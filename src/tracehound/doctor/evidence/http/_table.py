"""The table of HTTP exchanges (``http_exchanges``) and the sink that fills it.

One row per request seen on the wire or at a proxy: when, from whom to whom,
the request line, the request headers as recorded (names in the case seen),
the status, where it was read; and what a receiver makes of its trace
headers (formats, the context it continues, the problems), computed once
while reading.  Rows are written a block at a time through a JSON-lines file
that DuckDB reads, so memory stays bounded whatever the input's size.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import orjson

from tracehound.doctor.evidence.http._exchange import Exchange, context_of

__all__ = ["BLOCK", "SCHEMA", "TABLE", "ExchangeSink"]

TABLE = "http_exchanges"
BLOCK = 20_000
"""Rows written to DuckDB at once."""

_COLUMNS = {
    "TimeUnixNano": "BIGINT",
    "EndTimeUnixNano": "BIGINT",
    "ClientAddress": "VARCHAR",
    "ServerAddress": "VARCHAR",
    "Method": "VARCHAR",
    "Target": "VARCHAR",
    "Headers": "STRUCT(Name VARCHAR, Value VARCHAR)[]",
    "Status": "INTEGER",
    "Upstream": "VARCHAR",
    "Formats": "VARCHAR[]",
    "TraceId": "VARCHAR",
    "ParentSpanId": "VARCHAR",
    "Codes": "VARCHAR[]",
    "Problems": "VARCHAR[][]",
    "Via": "VARCHAR",
    "Source": "VARCHAR",
    "Offset": "VARCHAR",
    "Seq": "BIGINT",
}
_NAMES = ", ".join(f'"{name}"' for name in _COLUMNS)

SCHEMA = (
    f"CREATE OR REPLACE TABLE {TABLE} ("
    + ", ".join(f'"{name}" {kind}' for name, kind in _COLUMNS.items())
    + ");"
)
"""``Via``: how it was read (``pcap``, ``har``, ``curl``, ``access-log``); ``Seq``: the
order rows were read in; ``Problems``: ``[code, header, message]`` of each problem."""

_READ = (
    f"INSERT INTO {TABLE} SELECT {_NAMES} FROM read_json(?, format='newline_delimited', "
    "columns={" + ", ".join(f"'{n}': '{k}'" for n, k in _COLUMNS.items()) + "})"
)


class ExchangeSink:
    """Rows for ``http_exchanges``, added with `add` and written by `flush`."""

    def __init__(self, con: Any) -> None:
        self._con = con
        self._dir = Path(tempfile.mkdtemp(prefix="tracehound-http-"))
        self._lines: list[bytes] = []
        self._seq = 0

    def add(self, exchange: Exchange, via: str, source: str) -> tuple[str, ...]:
        """Queue one row; returns the problem codes its trace headers raised."""
        ctx = context_of(exchange.headers)
        self._seq += 1
        row = {
            "TimeUnixNano": exchange.time_ns,
            "EndTimeUnixNano": exchange.end_ns,
            "ClientAddress": exchange.client,
            "ServerAddress": exchange.server,
            "Method": exchange.method,
            "Target": exchange.target,
            "Headers": [{"Name": n, "Value": v} for n, v in exchange.headers],
            "Status": exchange.status,
            "Upstream": exchange.upstream,
            "Formats": ctx.formats,
            "TraceId": ctx.trace_id,
            "ParentSpanId": ctx.parent_id,
            "Codes": ctx.codes,
            "Problems": ctx.problems,
            "Via": via,
            "Source": source,
            "Offset": exchange.position,
            "Seq": self._seq,
        }
        self._lines.append(orjson.dumps(row))
        if len(self._lines) >= BLOCK:
            self.flush()
        return ctx.codes

    def flush(self) -> None:
        if not self._lines:
            return
        path = self._dir / "rows.jsonl"
        path.write_bytes(b"\n".join(self._lines) + b"\n")
        self._lines = []
        self._con.execute(_READ, [str(path)])

    def close(self) -> None:
        self.flush()
        for path in self._dir.iterdir():
            path.unlink()
        self._dir.rmdir()
