"""Read the captured OTLP protobuf files directly (not through the doctor)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

CLIENT, PRODUCER = 3, 4  # OTLP SpanKind values


def framed_messages(data: bytes) -> list[bytes]:
    """The messages of a 4-byte big-endian length-prefixed stream."""
    messages, pos = [], 0
    while pos < len(data):
        size = int.from_bytes(data[pos : pos + 4], "big")
        messages.append(data[pos + 4 : pos + 4 + size])
        pos += 4 + size
    return messages


def read_spans(traces: Path) -> dict[str, dict]:
    """Every span in ``traces/*.otlp.pb`` by span ID: service, kind, parent, trace, name."""
    spans: dict[str, dict] = {}
    for path in sorted(traces.glob("*.otlp.pb")):
        for body in framed_messages(path.read_bytes()):
            request = ExportTraceServiceRequest.FromString(body)
            for rs in request.resource_spans:
                service = next(
                    (a.value.string_value for a in rs.resource.attributes
                     if a.key == "service.name"), None,
                )  # fmt: skip
                for ss in rs.scope_spans:
                    for span in ss.spans:
                        spans[span.span_id.hex()] = {
                            "service": service,
                            "kind": span.kind,
                            "name": span.name,
                            "trace_id": span.trace_id.hex(),
                            "parent_span_id": span.parent_span_id.hex() or None,
                            "url": next(
                                (a.value.string_value for a in span.attributes
                                 if a.key in ("url.full", "http.url")), None,
                            ),
                        }  # fmt: skip
    return spans


def client_span_of(spans: dict[str, dict], entry_span_id: str, address: str | None) -> str:
    """The CLIENT/PRODUCER span under the caller's entry span that went to ``address``
    (``host:port`` in its URL; ``None``: the only outgoing call).  A call whose span
    names no address (gRPC's client spans) is taken when it is the only such call."""
    outgoing = [
        (sid, span["url"])
        for sid, span in spans.items()
        if span["parent_span_id"] == entry_span_id and span["kind"] in (CLIENT, PRODUCER)
    ]
    found = [sid for sid, url in outgoing if address is None or f"//{address}/" in (url or "")]
    if not found and address is not None:
        found = [sid for sid, url in outgoing if url is None]
    if len(found) != 1:
        raise RuntimeError(
            f"entry span {entry_span_id}: {len(found)} outgoing calls to {address} under it"
        )
    return found[0]


def console_span_ids(path: Path) -> set[str]:
    """Span IDs in a console exporter's output (pretty objects among other lines): JSON
    objects from Python's SDK, JavaScript ones (``  id: '...'``) from Node's."""
    text, decoder, ids, pos = path.read_text(), json.JSONDecoder(), set(), 0
    if re.search(r"^\{\n  [a-zA-Z]+: ", text, re.MULTILINE):  # Node: console.dir
        return set(re.findall(r"^  id: '([0-9a-f]{16})',$", text, re.MULTILINE))
    while (start := text.find("{\n", pos)) >= 0:
        span, pos = decoder.raw_decode(text, start)
        ids.add(span["context"]["span_id"].removeprefix("0x"))
    return ids
