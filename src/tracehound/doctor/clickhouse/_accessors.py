"""The attribute accessors: how the checks' SQL reads an attribute, on ClickHouse.

C003 reads attributes through two DuckDB macros (`checks._endpoints`):
``th_wanted(a)``, the entries of an OTLP/JSON attribute list that a check
reads, and ``th_val(al, k)``, the value of key ``k`` among them (NULL when
absent); the attribute family through ``th_attrs(a)`` (every well-formed
entry) and ``th_str(al, k)`` (`checks._sql`).  Their DuckDB bodies filter
JSON lists with lambdas, which have no ClickHouse form; these are their
ClickHouse bodies, expanded where the SQL calls them (`_dialect.Transpiler`),
so each query is still written once.  ``th_attrs`` and ``th_str`` read the
whole attributes as OTLP/JSON text (`_window.Window.whole_rows`, built from
the exporter's maps where they are stored), the others the window table.

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

_THE_ENTRIES = (
    "arrayMap(x -> CAST((JSONExtractString(x, 'key'), JSONExtractRaw(x, 'value')), "
    "'Tuple(key String, value String)'), arrayFilter(x -> JSONType(x, 'key') = 'String' "
    "AND JSONType(x, 'value') = 'Object', JSONExtractArrayRaw(a)))"
)

_BODIES = {
    "th_wanted": (["a"], "a"),
    "th_val": (["al", "k"], "JSONExtract(al, k, 'Nullable(String)')"),
    # the whole attributes as OTLP/JSON text (`_window.Window.whole_rows`): the entries with
    # a string key and an object value, as (key, value's JSON text)
    "th_attrs": (["a"], _THE_ENTRIES),
    # DuckDB's keeps the ill-formed entries for the query to drop; these are already dropped
    "th_attr_entries": (["a"], _THE_ENTRIES),
    "th_str": (
        ["al", "k"],
        "if(arrayExists(x -> tupleElement(x, 'key') = k "
        "AND JSONHas(tupleElement(x, 'value'), 'stringValue'), al), JSONExtractString("
        "tupleElement(arrayFirst(x -> tupleElement(x, 'key') = k, al), 'value'), "
        "'stringValue'), NULL)",
    ),
}

ACCESSORS: dict[str, tuple[list[str], exp.Expression]] = {
    name: (params, sqlglot.parse_one(body, read="clickhouse"))
    for name, (params, body) in _BODIES.items()
}
"""Macro name → (parameters, ClickHouse body)."""
