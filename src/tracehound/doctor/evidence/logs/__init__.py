"""Service logs as evidence: JSON lines, logfmt or a pattern's text → the ``otel_logs`` table.

    kind = sniff_input(path, options)          # "json", "logfmt", "pattern" or None
    read = read_logs(path, name, kind, loader, options)

Trace IDs in any common spelling are normalised (`_ids`); the service comes from
a field, a flag or the file's name; which library wrote the lines is kept so a
finding can say how to make it log the trace ID (`_writers`).
"""

from tracehound.doctor.evidence.logs._reader import (
    LogOptions,
    LogRead,
    read_logs,
    service_from_name,
    sniff,
    sniff_input,
)
from tracehound.doctor.evidence.logs._table import SCHEMA, LogLoader
from tracehound.doctor.evidence.logs._writers import fix_for

__all__ = [
    "SCHEMA",
    "LogLoader",
    "LogOptions",
    "LogRead",
    "fix_for",
    "read_logs",
    "service_from_name",
    "sniff",
    "sniff_input",
]
