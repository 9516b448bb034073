"""What the propagator noted about the request a context came from, for the spans after it.

A context that was found with problems or a conflict carries an `Extraction`
(`get_extraction`); a request on which nothing usable was found leaves the
context untouched (OpenTelemetry: a propagator MUST NOT store a value it could
not parse), so its problems wait in a context variable for `take_rejection`.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

from opentelemetry.context import Context, create_key, get_value
from opentelemetry.trace import Link, SpanContext

from tracehound.formats.inbound import Inbound
from tracehound.rules import Finding

__all__ = [
    "Extraction",
    "conflict_attributes",
    "conflict_links",
    "get_extraction",
    "take_rejection",
]

_EXTRACTION_KEY = create_key("tracehound-extraction")


@dataclass(frozen=True)
class Extraction:
    """What the propagator saw on the request a context came from.

    Stored on the extracted context only when a context was found and there
    is something to say about it (problems or a conflict), so a healthy
    request pays nothing.  When nothing usable was found, the context is
    returned as it was (OpenTelemetry: a propagator MUST NOT store a value it
    could not parse) and the extraction is kept for `take_rejection`.
    """

    inbound: Inbound
    findings: tuple[Finding, ...]
    links: tuple[SpanContext, ...]
    """Remote contexts of the formats that lost a conflict (P002)."""


_REJECTED: ContextVar[tuple[int, Extraction] | None] = ContextVar(
    "tracehound_rejected_extraction", default=None
)
"""The last extract's problems when it found no context: (id of the carrier, what was wrong)."""


def take_rejection(carrier: object) -> Extraction | None:
    """What was wrong with ``carrier`` when the last extract in this context found nothing.

    `extract` leaves the context untouched when it finds no usable trace
    context, so the reasons (P001, P006, ...) cannot ride on it; they are
    kept here, for the same carrier object only, until the next extract.
    ``continue_trace`` reads them to say why it starts a new trace.
    """
    held = _REJECTED.get()
    if held is None or held[0] != id(carrier):
        return None
    _REJECTED.set(None)
    return held[1]


def get_extraction(context: Context | None = None) -> Extraction | None:
    """What the propagator noted when it extracted ``context`` (``None``: nothing to say)."""
    value = get_value(_EXTRACTION_KEY, context)
    return value if isinstance(value, Extraction) else None


def conflict_links(context: Context | None = None) -> list[Link]:
    """Links to the contexts that lost a propagation conflict (P002), for a new span."""
    extraction = get_extraction(context)
    if extraction is None:
        return []
    return [
        Link(
            sc,
            {
                "tracehound.link.reason": "propagation-conflict",
                "tracehound.propagation.format": c.format.value,
            },
        )
        for sc, c in zip(extraction.links, extraction.inbound.conflicts, strict=True)
    ]


def conflict_attributes(context: Context | None = None) -> dict[str, str]:
    """Span attributes naming a propagation conflict, empty when there is none."""
    extraction = get_extraction(context)
    if extraction is None or not extraction.inbound.conflicts:
        return {}
    winner = extraction.inbound.context
    lost = ", ".join(f"{c.format.value}={c.trace_id_hex}" for c in extraction.inbound.conflicts)
    return {
        "tracehound.propagation.conflict": lost,
        "tracehound.propagation.format": winner.format.value if winner else "",
    }
