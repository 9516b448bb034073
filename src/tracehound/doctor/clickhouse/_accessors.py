"""The attribute accessors: how the checks' SQL reads an attribute, on ClickHouse.

The checks read attributes through two DuckDB macros (`checks._endpoints`):
``th_wanted(a)``, the entries of an OTLP/JSON attribute list that a check
reads, and ``th_val(al, k)``, the value of key ``k`` among them (NULL when
absent).  Their DuckDB bodies filter JSON lists with lambdas, which have no
ClickHouse form; these are their ClickHouse bodies, expanded where the SQL
calls them (`_dialect.Transpiler`), so each query is still written once.

On ClickHouse the window table (`_window`) keeps of the exporter's
``Map(String, String)`` attributes only the keys the checks read (`SPAN_KEYS`,
`RESOURCE_KEYS`), as the JSON text of an object: ``th_wanted`` is that text
itself and ``th_val`` a look-up in it.  The resource's text also holds a hash
of the whole resource under `RESOURCE_ID`, so that two resources are equal
exactly when the whole resources are (C004 compares processes).
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp

from tracehound.doctor.checks._endpoints import ATTRIBUTE_KEYS

__all__ = ["ACCESSORS", "RESOURCE_ID", "RESOURCE_KEYS", "SPAN_KEYS"]

NEW_TRACE = "tracehound.new_trace"
"""The span attribute marking a root the runtime started on purpose (C004 reads it)."""

SPAN_KEYS = (*ATTRIBUTE_KEYS, NEW_TRACE)
RESOURCE_KEYS = ATTRIBUTE_KEYS
RESOURCE_ID = "tracehound.resource"

_BODIES = {
    "th_wanted": (["a"], "a"),
    "th_val": (["al", "k"], "JSONExtract(al, k, 'Nullable(String)')"),
}

ACCESSORS: dict[str, tuple[list[str], exp.Expression]] = {
    name: (params, sqlglot.parse_one(body, read="clickhouse"))
    for name, (params, body) in _BODIES.items()
}
"""Macro name → (parameters, ClickHouse body)."""
