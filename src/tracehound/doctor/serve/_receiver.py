"""Taking one OTLP export request: check it, make it durable, say so (both transports).

A request is acknowledged only once its body is in the journal on disk.
Bodies that are not OTLP trace exports are refused (400) and never stored; an
export holding no span is acknowledged and not stored.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import orjson

from tracehound.doctor.serve._engine import Engine
from tracehound.doctor.serve._forward import Forwarder
from tracehound.doctor.serve._journal import JSON, PROTOBUF, Journal
from tracehound.doctor.sources import otlp_json

__all__ = ["Accepted", "Receiver", "Refused", "count_spans"]


class Refused(Exception):
    """A request not taken: ``status`` is the HTTP status, ``retry`` says to try later."""

    def __init__(self, status: int, message: str, *, retry: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry = retry


@dataclass(frozen=True)
class Accepted:
    record: int | None
    """The journal record, or ``None`` for an export without spans."""
    spans: int


def count_spans(kind: bytes, body: bytes) -> int:
    """The spans in an export request; `Refused` (400) when it is not one."""
    if kind == PROTOBUF:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
        )

        try:
            message = ExportTraceServiceRequest.FromString(body)
        except Exception as exc:
            raise Refused(400, f"not an OTLP protobuf ExportTraceServiceRequest ({exc})") from None
        return sum(len(ss.spans) for rs in message.resource_spans for ss in rs.scope_spans)
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Refused(400, f"invalid JSON: {exc}") from None
    if not otlp_json.looks_like(value):
        raise Refused(400, "not an OTLP/JSON ExportTraceServiceRequest (no resourceSpans)")
    spans = 0
    for rs in value.get("resourceSpans") or value.get("resource_spans") or []:
        if isinstance(rs, dict):
            for ss in rs.get("scopeSpans") or rs.get("scope_spans") or []:
                if isinstance(ss, dict) and isinstance(ss.get("spans"), list):
                    spans += len(ss["spans"])
    return spans


class Receiver:
    """The journal, the engine and the forwarder behind both transports."""

    def __init__(self, journal: Journal, engine: Engine, forwarder: Forwarder | None) -> None:
        self.journal = journal
        self.engine = engine
        self.forwarder = forwarder
        journal.on_durable = self.durable

    def durable(self, number: int, kind: bytes, body: bytes) -> None:
        """The journal's callback: a record is on disk."""
        self.engine.submit(number, kind, body)
        if self.forwarder is not None:
            self.forwarder.submit(kind, body)

    def _begin(self, kind: bytes, body: bytes) -> int:
        spans = count_spans(kind, body)
        if spans and not self.engine.reserve(len(body)):
            if self.engine.failed:
                raise Refused(503, f"tracehound cannot take spans: {self.engine.last_error}")
            raise Refused(503, "tracehound is behind with this load; retry later", retry=True)
        return spans

    async def take(self, kind: bytes, body: bytes) -> Accepted:
        """Check ``body`` and wait until it is durable (HTTP, on the event loop)."""
        spans = self._begin(kind, body)
        if not spans:
            return Accepted(None, 0)
        try:
            record = await asyncio.wrap_future(self.journal.append(kind, body))
        except OSError as exc:
            self.engine.unreserve(len(body))
            raise Refused(503, f"cannot write the journal: {exc.strerror}", retry=True) from None
        return Accepted(record, spans)

    def take_blocking(self, body: bytes, timeout: float) -> Accepted:
        """The same for a gRPC worker thread."""
        spans = self._begin(PROTOBUF, body)
        if not spans:
            return Accepted(None, 0)
        try:
            record = self.journal.append(PROTOBUF, body).result(timeout)
        except OSError as exc:
            self.engine.unreserve(len(body))
            raise Refused(503, f"cannot write the journal: {exc.strerror}", retry=True) from None
        return Accepted(record, spans)


KINDS = {
    "application/x-protobuf": PROTOBUF,
    "application/protobuf": PROTOBUF,
    "application/json": JSON,
}
"""Request content types, by the journal record kind they are stored as."""
