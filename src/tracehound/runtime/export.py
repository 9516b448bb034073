"""Span exporters that write what the doctor reads.

`OtlpJsonFileExporter` appends one OTLP ``ExportTraceServiceRequest`` per line
in the OTLP/JSON mapping, the format of the OpenTelemetry Collector's file
exporter: lowerCamelCase field names, trace and span IDs as lowercase hex,
enums as numbers, 64-bit integers as decimal strings::

    tracehound.configure(service_name="orders",
                         span_exporter=OtlpJsonFileExporter("spans-orders.jsonl"))
    ...
    $ tracehound check spans-orders.jsonl

Under ``opentelemetry-instrument`` (or with ``configure()``) select it by name,
no code change: ``OTEL_TRACES_EXPORTER=tracehound_file`` (an
``opentelemetry_traces_exporter`` entry point), the path from
``TRACEHOUND_EXPORT_FILE``.  ``{pid}`` in the path becomes the process ID;
a directory gets ``spans-{pid}.jsonl`` inside it; unset, the file is
``tracehound-spans-{pid}.jsonl`` in the working directory.

It needs the OTLP encoder (``pip install 'tracehound[otlp]'``).  One file per
process: lines from two processes appending to one file may interleave (hence
``{pid}``).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

__all__ = ["EXPORT_FILE_ENV", "OtlpJsonFileExporter", "encode_otlp_json", "export_path"]

EXPORT_FILE_ENV = "TRACEHOUND_EXPORT_FILE"
_DEFAULT_PATH = "tracehound-spans-{pid}.jsonl"

_log = logging.getLogger("tracehound")
_ID_FIELDS = ("traceId", "spanId", "parentSpanId")


def encode_otlp_json(spans: Sequence[ReadableSpan]) -> str:
    """``spans`` as one ``ExportTraceServiceRequest`` in the OTLP/JSON mapping (one line)."""
    try:
        from google.protobuf.json_format import MessageToDict
        from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    except ImportError:
        raise ImportError(
            "writing OTLP/JSON needs the OTLP encoder: pip install 'tracehound[otlp]'"
        ) from None
    request = MessageToDict(encode_spans(spans), use_integers_for_enums=True)
    for resource_spans in request.get("resourceSpans", ()):
        for scope_spans in resource_spans.get("scopeSpans", ()):
            for span in scope_spans.get("spans", ()):
                _hex_ids(span)
                for link in span.get("links", ()):
                    _hex_ids(link)
    return json.dumps(request, separators=(",", ":"), ensure_ascii=False)


def _hex_ids(entry: dict[str, Any]) -> None:
    # protobuf's JSON mapping writes bytes as base64; OTLP/JSON wants hex IDs.
    for name in _ID_FIELDS:
        value = entry.get(name)
        if value:
            entry[name] = base64.b64decode(value).hex()


def export_path(given: str | os.PathLike[str] | None = None) -> str:
    """The file to write: ``given``, else ``TRACEHOUND_EXPORT_FILE``, else the default.

    ``{pid}`` becomes the process ID; a directory gets ``spans-{pid}.jsonl``.
    """
    path = os.fspath(given) if given is not None else os.environ.get(EXPORT_FILE_ENV, "").strip()
    path = path or _DEFAULT_PATH
    if os.path.isdir(path):
        path = os.path.join(path, "spans-{pid}.jsonl")
    return path.replace("{pid}", str(os.getpid()))


class OtlpJsonFileExporter(SpanExporter):
    """Append each batch to ``path`` as one OTLP/JSON line, flushed before `export` returns.

    Without ``path``: ``TRACEHOUND_EXPORT_FILE`` (see `export_path`).
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        encode_otlp_json([])  # fail now, not at the first export, when the encoder is missing
        self.path = export_path(path)
        self._lock = threading.Lock()
        try:
            self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed in shutdown
        except OSError as exc:
            source = "path" if path is not None else EXPORT_FILE_ENV
            raise OSError(
                exc.errno, f"{source}: cannot write spans to {self.path}: {exc.strerror}"
            ) from None

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if not spans:
            return SpanExportResult.SUCCESS
        try:
            line = encode_otlp_json(spans) + "\n"
        except Exception:
            _log.exception("tracehound: could not encode %d spans for %s", len(spans), self.path)
            return SpanExportResult.FAILURE
        with self._lock:
            if self._file.closed:
                return SpanExportResult.FAILURE
            try:
                self._file.write(line)
                self._file.flush()
            except OSError:
                _log.exception("tracehound: could not write spans to %s", self.path)
                return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        with self._lock:
            self._file.close()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
