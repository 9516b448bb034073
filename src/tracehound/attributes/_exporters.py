"""What an export format's own translation puts into a span's attributes.

Stored spans arrive through exporters that rewrite them: Zipkin keeps every
tag as a string (its specification says so) and has its own tag names for
HTTP (``http.method``, ``http.url``, ...: zipkin2 ``TraceKeys``, Brave's
``HttpTags``); Jaeger's and Zipkin's translations of OpenTelemetry spans add
``otel.status_code``, ``otel.scope.name`` (``otel.library.name`` before),
``span.kind``, ``internal.span.format``, ``w3c.tracestate`` and the dropped
counts; the Zipkin reader turns ``remoteEndpoint`` into ``peer.service`` and
``network.peer.*`` (Jaeger's Zipkin translator into ``peer.*``, and marks such
spans ``internal.span.format=zipkin``: they are judged as Zipkin).  None of
these is the sender's A001/A002/A003/A006 fault; secrets (A004/A005) are
reported wherever they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from tracehound.attributes._legacy import is_otel_instrumentation

__all__ = ["FormatRules", "rules_for"]

_OTEL_TRANSLATION = frozenset(
    {
        "otel.status_code",
        "otel.status_description",
        "otel.library.name",
        "otel.library.version",
        "otel.scope.name",
        "otel.scope.version",
        "otel.dropped_attributes_count",
        "otel.dropped_events_count",
        "otel.dropped_links_count",
    }
)

_ZIPKIN_TRANSLATION = _OTEL_TRANSLATION | {
    # remoteEndpoint, as tracehound's Zipkin reader and Jaeger's Zipkin translator
    # turn it into attributes
    "peer.service",
    "network.peer.address",
    "network.peer.port",
    "peer.ipv4",
    "peer.ipv6",
    "peer.port",
    "error",
}

_JAEGER_TRANSLATION = _OTEL_TRANSLATION | {
    "internal.span.format",
    "w3c.tracestate",
    "opentracing.ref_type",
    "error",
}

# Zipkin's own tag names (zipkin2 TraceKeys, Brave HttpTags): the convention of the
# Zipkin instrumentation that wrote them, with no successor there.
_ZIPKIN_NATIVE = frozenset(
    {"http.host", "http.method", "http.path", "http.route", "http.url", "http.status_code"}
)


@dataclass(frozen=True)
class FormatRules:
    """How one export format's attributes are judged."""

    typed: bool = True
    """False when the format keeps every value as a string (Zipkin)."""
    translated: frozenset[str] = frozenset()
    """Keys the format's translation wrote: only secrets are reported on them."""
    native: frozenset[str] = frozenset()
    """Keys of the format's own conventions: no A006 unless OTel instrumentation set them."""

    def skips(self, code: str, key: str, scope: str | None) -> bool:
        """Whether rule ``code`` on attribute ``key`` is the format's doing, not the sender's."""
        if code in ("A004", "A005"):
            return False
        if key in self.translated:
            return True
        return code == "A006" and key in self.native and not is_otel_instrumentation(scope)


_AS_SENT = FormatRules()
_RULES: Mapping[str, FormatRules] = MappingProxyType(
    {
        "zipkin": FormatRules(False, _ZIPKIN_TRANSLATION, _ZIPKIN_NATIVE),
        "jaeger": FormatRules(True, _JAEGER_TRANSLATION),
    }
)


def rules_for(source_format: str | None) -> FormatRules:
    """The rules for a source format (``zipkin``, ``jaeger``; any other: as sent)."""
    return _RULES.get(source_format or "", _AS_SENT)
