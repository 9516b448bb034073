"""OpenTracing-era and old semantic-convention keys with a current successor (A006).

`LEGACY_KEYS` maps each old key to its successor; keys whose successor depends
on the span's side (``net.peer.name`` is ``server.address`` on a client span
and ``client.address`` on a server span) name both.  `successor_items` turns
one old attribute into the new ones for the ``fix`` action.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = ["LEGACY_KEYS", "LegacyKey", "successor_items"]


@dataclass(frozen=True)
class LegacyKey:
    """Where an old key's value belongs now."""

    successor: str
    """On client, producer and internal spans (and when the side is unknown)."""
    server_successor: str | None = None
    """On server and consumer spans, when it differs."""

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
        "http.status_code": _L("http.response.status_code"),
        "http.method": _L("http.request.method"),
        "http.url": _L("url.full"),
        "http.target": _L("url.path"),  # the query part goes to url.query
        "http.scheme": _L("url.scheme"),
        "http.host": _L("server.address"),
        "http.server_name": _L("server.address"),
        "http.user_agent": _L("user_agent.original"),
        "http.client_ip": _L("client.address"),
        "http.flavor": _L("network.protocol.version"),
        "http.request_content_length_uncompressed": _L("http.request.body.size"),
        "http.response_content_length_uncompressed": _L("http.response.body.size"),
        # network
        "net.peer.name": _L("server.address", "client.address"),
        "net.peer.port": _L("server.port", "client.port"),
        "net.peer.ip": _L("network.peer.address"),
        "net.host.name": _L("server.address"),
        "net.host.port": _L("server.port"),
        "net.host.ip": _L("network.local.address"),
        "net.sock.peer.addr": _L("network.peer.address"),
        "net.sock.peer.port": _L("network.peer.port"),
        "net.sock.host.addr": _L("network.local.address"),
        "net.sock.host.port": _L("network.local.port"),
        "net.transport": _L("network.transport"),
        "net.protocol.name": _L("network.protocol.name"),
        "net.protocol.version": _L("network.protocol.version"),
        # OpenTracing peer.* tags
        "peer.hostname": _L("server.address", "client.address"),
        "peer.ipv4": _L("network.peer.address"),
        "peer.ipv6": _L("network.peer.address"),
        "peer.port": _L("network.peer.port"),
        "peer.service": _L("service.peer.name"),
        # databases
        "db.statement": _L("db.query.text"),
        "db.name": _L("db.namespace"),
        "db.instance": _L("db.namespace"),
        "db.system": _L("db.system.name"),
        "db.type": _L("db.system.name"),
        "db.operation": _L("db.operation.name"),
        "db.sql.table": _L("db.collection.name"),
        "db.mongodb.collection": _L("db.collection.name"),
        # messaging
        "message_bus.destination": _L("messaging.destination.name"),
        "messaging.destination": _L("messaging.destination.name"),
        "messaging.operation": _L("messaging.operation.type"),
        "messaging.kafka.consumer.group": _L("messaging.consumer.group.name"),
        # errors, code, scope, deployment
        "error.kind": _L("error.type"),
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


def successor_items(key: str, value: object, server_side: bool) -> dict[str, object]:
    """The attributes replacing ``key=value`` (``http.target`` splits into path and query)."""
    legacy = LEGACY_KEYS[key]
    if key == "http.target" and isinstance(value, str) and "?" in value:
        path, _, query = value.partition("?")
        return {"url.path": path, "url.query": query}
    return {legacy.for_side(server_side): value}
