"""The recorded headers' evidence, handed from the pulled window to the edges in ClickHouse.

The propagation family reads recorded request headers whole, on the window
pulled into DuckDB (`_load.pull_window`), and keys its evidence by that
store's row IDs; the edge view (`tracehound.doctor.edges`) runs inside
ClickHouse and joins ``th_work.headers`` (here ``th_work_headers``) by the
window's row IDs.  The spans that recorded headers are matched across by
what identifies a span (trace ID, span ID, service, start in nanoseconds).
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path

from tracehound.doctor.checks.propagation import HeaderEvidence
from tracehound.doctor.clickhouse._connect import Connection
from tracehound.doctor.store import Store

__all__ = ["empty_headers", "headers_by_window_rid"]

_COLUMNS = ["prid", "lone", "TraceId", "SpanId", "ServiceName", "s"]

_PULLED = """
COPY (
    SELECT h.rid AS prid, h.lone, o.TraceId, o.SpanId, coalesce(o.ServiceName, '') AS ServiceName,
           epoch_ns(o."Timestamp") AS s
    FROM th_work.headers h JOIN otel_traces o ON o.rowid = h.rid
    WHERE o."Timestamp" IS NOT NULL
) TO {path} (FORMAT parquet)
"""

_MATCHED = """
CREATE TEMPORARY TABLE th_work_headers ENGINE = Memory AS
SELECT w.rid AS rid, p.lone AS lone, p.prid AS prid
FROM th_window AS w JOIN th_pulled_headers AS p
  ON p.TraceId = w.TraceId AND p.SpanId = w.SpanId AND p.ServiceName = w.ServiceName
 AND p.s = toUnixTimestamp64Nano(w.Timestamp)
"""


def headers_by_window_rid(
    conn: Connection, pulled: Store, evidence: Mapping[int, HeaderEvidence]
) -> dict[int, HeaderEvidence]:
    """Create ``th_work_headers`` (``rid``, ``lone``) in ClickHouse from the pulled store's
    ``th_work.headers``; ``evidence`` keyed by the window's row IDs."""
    conn.execute("DROP TEMPORARY TABLE IF EXISTS th_pulled_headers")
    conn.execute("DROP TEMPORARY TABLE IF EXISTS th_work_headers")
    conn.execute(
        "CREATE TEMPORARY TABLE th_pulled_headers (prid Int64, lone Bool, TraceId String, "
        "SpanId String, ServiceName String, s Int64) ENGINE = Memory"
    )
    with tempfile.TemporaryDirectory(prefix="tracehound-ch-") as tmp:
        path = Path(tmp) / "headers.parquet"
        cursor = pulled.cursor()
        try:
            quoted = "'" + str(path).replace("'", "''") + "'"
            cursor.execute(_PULLED.format(path=quoted))
        finally:
            cursor.close()
        conn.insert_parquet("th_pulled_headers", _COLUMNS, str(path))
    conn.execute(_MATCHED)
    return {
        int(rid): evidence[int(prid)]
        for rid, prid in conn.rows("SELECT rid, prid FROM th_work_headers WHERE NOT lone")
        if int(prid) in evidence
    }


def empty_headers(conn: Connection) -> None:
    """``th_work_headers`` with no rows when nothing was pulled (the edges join it)."""
    conn.execute(
        "CREATE TEMPORARY TABLE IF NOT EXISTS th_work_headers "
        "(rid UInt64, lone Bool, prid Int64) ENGINE = Memory"
    )
