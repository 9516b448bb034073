"""Zipkin v2 JSON: a span array (``/api/v2/trace/{id}``) or an array of traces (``/api/v2/traces``).

Times are microseconds; ``timestamp`` and ``duration`` are optional (a span
reported late, or by the other side of a shared RPC, has none): such a span is
kept, its times missing; records completing one span are merged into it
(`_zipkin_merge`).  ``localEndpoint.serviceName`` is the service,
``remoteEndpoint`` becomes ``peer.service``/``network.peer.*`` attributes, a
span without ``kind`` is a local (INTERNAL) span, the ``error`` tag becomes an
ERROR status.  A SERVER span with its CLIENT's ID is the other side of that
RPC, as Zipkin models it (``shared``), whether or not the flag was written:
the ``Shared`` column says so, so that it is not taken for a duplicate.
"""

from __future__ import annotations

from typing import Any

import orjson

from tracehound.doctor.sources._rows import (
    Document,
    end_of,
    key_values,
    micros_to_nanos,
    why_not_a_span,
)
from tracehound.doctor.sources._salvage import TRUNCATED
from tracehound.doctor.sources._zipkin_merge import FRAGMENT, merge_fragments

__all__ = ["looks_like", "read"]


def looks_like(value: Any) -> bool:
    """Whether a parsed JSON value is a Zipkin v2 span array or array of traces."""
    if isinstance(value, dict):
        return "traceId" in value and ("id" in value or "localEndpoint" in value)
    if not isinstance(value, list) or not value:
        return False
    first = value[0]
    if isinstance(first, list):
        first = first[0] if first else None
    return isinstance(first, dict) and "traceId" in first and "spanID" not in first


def read(doc: Document) -> int:
    """Emit every span of a Zipkin document; returns how many spans it held."""
    value = doc.value
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        doc.errors.append((doc.where("$"), "expected a Zipkin v2 span array"))
        return 0
    scopes: dict[tuple[str, str], int] = {}
    if value and all(isinstance(item, list) for item in value):
        return sum(_read_spans(doc, trace, f"[{ti}]", scopes) for ti, trace in enumerate(value))
    return _read_spans(doc, value, "", scopes)


def _read_spans(
    doc: Document, spans: list[Any], prefix: str, scopes: dict[tuple[str, str], int]
) -> int:
    sink = doc.sink
    append = sink.rows.append
    dumps = orjson.dumps
    whole, merged_away = merge_fragments(spans)
    clients = {
        (span.get("traceId"), span.get("id")): span.get("parentId")
        for span in whole
        if isinstance(span, dict)
        and span.get("kind") == "CLIENT"
        and isinstance(span.get("traceId"), str)
        and isinstance(span.get("id"), str)
    }
    for k, span in enumerate(whole):
        offset = doc.where(f"{prefix}[{k}]")
        if k in merged_away:
            sink.merge(FRAGMENT, offset)
            continue
        if not isinstance(span, dict) or TRUNCATED in span:
            sink.reject(why_not_a_span(span), offset)
            continue
        try:
            append(dumps(_row(doc, span, scopes, clients, offset)))
        except (TypeError, ValueError, RecursionError) as exc:  # nested too deeply
            sink.reject(f"span cannot be read ({exc})", offset)
    return len(spans)


def _row(
    doc: Document,
    span: dict[str, Any],
    scopes: dict[tuple[str, str], int],
    clients: dict[tuple[Any, Any], Any],
    offset: str,
) -> tuple[Any, ...]:
    """One span as a row (see ``_rows.py``)."""
    local = span.get("localEndpoint")
    local = local if isinstance(local, dict) else {}
    service = str(local.get("serviceName") or "unknown_service")
    host = str(local.get("ipv4") or local.get("ipv6") or "")
    scope_id = scopes.get((service, host))
    if scope_id is None:
        resource = [("service.name", service)] + ([("host.ip", host)] if host else [])
        scope_id = doc.sink.scope(service, key_values(resource), None, None)
        scopes[(service, host)] = scope_id
    tags = span.get("tags")
    tags = dict(tags) if isinstance(tags, dict) else {}
    status = None
    if "error" in tags:
        status = {"code": 2, "message": str(tags.pop("error"))}
    attributes = key_values(tags.items())
    remote = span.get("remoteEndpoint")
    if isinstance(remote, dict):
        attributes.extend(_remote(remote))
    kind = span.get("kind")
    parent = span.get("parentId")
    key = (span.get("traceId"), span.get("id"))
    shared = bool(span.get("shared"))
    if kind == "SERVER" and isinstance(key[0], str) and isinstance(key[1], str) and key in clients:
        shared = True  # Zipkin's model: the server side of its client's span
        if parent is None:
            parent = clients[key]  # a shared server not told its parent: the client's
    start = micros_to_nanos(span.get("timestamp"))
    return (
        span.get("traceId"),
        span.get("id"),
        parent,
        None,
        span.get("name"),
        "INTERNAL" if kind is None else kind if isinstance(kind, str) else str(kind),
        start,
        end_of(start, micros_to_nanos(span.get("duration"))),
        attributes,
        _events(span.get("annotations")),
        None,
        status,
        offset,
        scope_id,
        shared,
        doc.source,
    )


def _remote(remote: dict[str, Any]) -> list[dict[str, Any]]:
    pairs: list[tuple[str, Any]] = []
    if remote.get("serviceName"):
        pairs.append(("peer.service", str(remote["serviceName"])))
    address = remote.get("ipv4") or remote.get("ipv6")
    if address:
        pairs.append(("network.peer.address", str(address)))
    if isinstance(remote.get("port"), int):
        pairs.append(("network.peer.port", remote["port"]))
    return key_values(pairs)


def _events(annotations: Any) -> list[dict[str, Any]] | None:
    if not isinstance(annotations, list) or not annotations:
        return None
    return [
        {"timeUnixNano": micros_to_nanos(a.get("timestamp")), "name": str(a.get("value", ""))}
        for a in annotations
        if isinstance(a, dict)
    ]
