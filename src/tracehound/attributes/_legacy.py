"""OpenTracing-era and older semantic-convention keys with a current successor (A006).

`LEGACY_KEYS` maps each old key to its successor; keys whose successor depends
on the span's side (``net.peer.name`` is ``server.address`` on a client span
and ``client.address`` on a server span) name both.  Each key also says where
it comes from: OpenTelemetry's own older semantic conventions (which stock
instrumentation still emits by default, and switches with
``OTEL_SEMCONV_STABILITY_OPT_IN``), OpenTracing, or both.  `describe_legacy`
words the finding for that origin; `successor_items` turns one old attribute
into the new ones for the ``fix`` action.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = [
    "LEGACY_KEYS",
    "LegacyKey",
    "describe_legacy",
    "is_otel_instrumentation",
    "successor_items",
]

OTEL, OPENTRACING, BOTH = "otel", "opentracing", "both"


@dataclass(frozen=True)
class LegacyKey:
    """Where an old key's value belongs now."""

    successor: str
    """On client, producer and internal spans (and when the side is unknown)."""
    server_successor: str | None = None
    """On server and consumer spans, when it differs."""
    origin: str = OTEL
    """`OTEL` (older semantic conventions), `OPENTRACING`, or `BOTH`."""
    opt_in: str | None = None
    """The ``OTEL_SEMCONV_STABILITY_OPT_IN`` value that makes OTel instrumentation
    emit the successor (``http``, ``database``), when there is one."""

    def for_side(self, server_side: bool) -> str:
        return self.server_successor if server_side and self.server_successor else self.successor

    def describe(self) -> str:
        if self.server_successor:
            return f"`{self.successor}` (client side) or `{self.server_successor}` (server side)"
        return f"`{self.successor}`"


_L = LegacyKey

LEGACY_KEYS: Mapping[str, LegacyKey] = MappingProxyType(
    {
        # HTTP (semantic conventions before 1.23)
        "http.status_code": _L("http.response.status_code", origin=BOTH, opt_in="http"),
        "http.method": _L("http.request.method", origin=BOTH, opt_in="http"),
        "http.url": _L("url.full", origin=BOTH, opt_in="http"),
        "http.target": _L("url.path", opt_in="http"),  # the query part goes to url.query
        "http.scheme": _L("url.scheme", opt_in="http"),
        "http.host": _L("server.address", opt_in="http"),
        "http.server_name": _L("server.address", opt_in="http"),
        "http.user_agent": _L("user_agent.original", opt_in="http"),
        "http.client_ip": _L("client.address", opt_in="http"),
        "http.flavor": _L("network.protocol.version", opt_in="http"),
        "http.request_content_length_uncompressed": _L("http.request.body.size", opt_in="http"),
        "http.response_content_length_uncompressed": _L("http.response.body.size", opt_in="http"),
        # network
        "net.peer.name": _L("server.address", "client.address", opt_in="http"),
        "net.peer.port": _L("server.port", "client.port", opt_in="http"),
        "net.peer.ip": _L("network.peer.address", opt_in="http"),
        "net.host.name": _L("server.address", opt_in="http"),
        "net.host.port": _L("server.port", opt_in="http"),
        "net.host.ip": _L("network.local.address", opt_in="http"),
        "net.sock.peer.addr": _L("network.peer.address", opt_in="http"),
        "net.sock.peer.port": _L("network.peer.port", opt_in="http"),
        "net.sock.host.addr": _L("network.local.address", opt_in="http"),
        "net.sock.host.port": _L("network.local.port", opt_in="http"),
        "net.transport": _L("network.transport", opt_in="http"),
        "net.protocol.name": _L("network.protocol.name", opt_in="http"),
        "net.protocol.version": _L("network.protocol.version", opt_in="http"),
        # OpenTracing peer.* tags (peer.service was an OTel key too)
        "peer.hostname": _L("server.address", "client.address", origin=OPENTRACING),
        "peer.ipv4": _L("network.peer.address", origin=OPENTRACING),
        "peer.ipv6": _L("network.peer.address", origin=OPENTRACING),
        "peer.port": _L("network.peer.port", origin=OPENTRACING),
        "peer.service": _L("service.peer.name", origin=BOTH),
        # databases
        "db.statement": _L("db.query.text", origin=BOTH, opt_in="database"),
        "db.name": _L("db.namespace", opt_in="database"),
        "db.instance": _L("db.namespace", origin=OPENTRACING),
        "db.system": _L("db.system.name", opt_in="database"),
        "db.type": _L("db.system.name", origin=OPENTRACING),
        "db.operation": _L("db.operation.name", opt_in="database"),
        "db.sql.table": _L("db.collection.name", opt_in="database"),
        "db.mongodb.collection": _L("db.collection.name", opt_in="database"),
        # messaging
        "message_bus.destination": _L("messaging.destination.name", origin=OPENTRACING),
        "messaging.destination": _L("messaging.destination.name"),
        "messaging.operation": _L("messaging.operation.type"),
        "messaging.kafka.consumer.group": _L("messaging.consumer.group.name"),
        # errors, code, scope, deployment
        "error.kind": _L("error.type", origin=OPENTRACING),
        "code.filepath": _L("code.file.path"),
        "code.lineno": _L("code.line.number"),
        "code.column": _L("code.column.number"),
        "otel.library.name": _L("otel.scope.name"),
        "otel.library.version": _L("otel.scope.version"),
        "deployment.environment": _L("deployment.environment.name"),
        "rpc.system": _L("rpc.system.name"),
        "enduser.role": _L("user.roles"),
    }
)


CONVENTIONS = {
    "http": "the HTTP semantic conventions before v1.23",
    "database": "the older database semantic conventions",
}

# Scope names of OpenTelemetry's own instrumentation libraries (Python, Java, JS, Go,
# .NET, Ruby, PHP all put "opentelemetry" in them) and the .NET runtime's sources.
_DOTNET_SOURCES = frozenset({"Microsoft.AspNetCore", "System.Net.Http", "Grpc.Net.Client"})


def is_otel_instrumentation(scope: str | None) -> bool:
    """Whether an instrumentation scope name is one of OpenTelemetry's instrumentation libraries."""
    if not scope:
        return False
    return "opentelemetry" in scope.lower() or scope in _DOTNET_SOURCES


def opt_in_for(legacy: LegacyKey, scope: str | None) -> str | None:
    """The ``OTEL_SEMCONV_STABILITY_OPT_IN`` value that replaces the key, when OpenTelemetry
    instrumentation (``scope``) recorded it and has one."""
    if legacy.origin != OPENTRACING and legacy.opt_in and is_otel_instrumentation(scope):
        return legacy.opt_in
    return None


def describe_legacy(key: str, legacy: LegacyKey, scope: str | None = None) -> str:
    """The A006 message for ``key``: where the key comes from and what replaces it.

    ``scope`` is the instrumentation scope that recorded it, when known: from
    OpenTelemetry's own instrumentation a key of the older conventions is
    switched with ``OTEL_SEMCONV_STABILITY_OPT_IN``, not renamed by hand.
    """
    successor = legacy.describe()
    otel = legacy.origin != OPENTRACING
    if opt_in_for(legacy, scope):
        return (
            f"attribute {key!r} is from {CONVENTIONS[legacy.opt_in]}, which {scope} still "
            f"emits; set OTEL_SEMCONV_STABILITY_OPT_IN={legacy.opt_in} in this service (or "
            f"{legacy.opt_in}/dup to emit both while dashboards move) to record {successor} "
            "instead of renaming it"
        )
    if legacy.origin == OPENTRACING:
        origin = "an OpenTracing-era key"
    elif legacy.origin == BOTH:
        origin = "a key of OpenTracing and of OpenTelemetry's older semantic conventions"
    else:
        origin = "a key of OpenTelemetry's older semantic conventions"
    text = f"attribute {key!r} is {origin}; its successor is {successor}"
    if otel and legacy.opt_in:
        text += (
            "; OpenTelemetry instrumentation records the successor once "
            f"OTEL_SEMCONV_STABILITY_OPT_IN={legacy.opt_in} is set"
        )
    return text


def successor_items(key: str, value: object, server_side: bool) -> dict[str, object]:
    """The attributes replacing ``key=value`` (``http.target`` splits into path and query)."""
    legacy = LEGACY_KEYS[key]
    if key == "http.target" and isinstance(value, str) and "?" in value:
        path, _, query = value.partition("?")
        return {"url.path": path, "url.query": query}
    return {legacy.for_side(server_side): value}
