"""One OpenTelemetry propagator for W3C Trace Context, Jaeger and B3.

Select it with ``OTEL_PROPAGATORS=tracehound`` (entry point) or pass an
instance to ``opentelemetry.propagate.set_global_textmap``.

Extract reads every format on the request (`tracehound.formats.read_inbound`):
W3C wins; otherwise the legacy formats in order.  Problems become findings
(P001-P004, P006).  A legacy context naming another trace is kept on the
returned context (`get_extraction`), so a span started from it can link to
it (`conflict_links`).  Inject writes W3C ``traceparent``/``tracestate`` and
``baggage``, plus ``uber-trace-id`` and/or B3 during a migration
(``TRACEHOUND_PROPAGATION_INJECT=tracecontext,jaeger``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from opentelemetry import baggage as otel_baggage
from opentelemetry import trace
from opentelemetry.context import Context, create_key, get_value, set_value
from opentelemetry.propagators.textmap import (
    CarrierT,
    DefaultGetter,
    Getter,
    Setter,
    TextMapPropagator,
    default_getter,
    default_setter,
)
from opentelemetry.trace import Link, NonRecordingSpan, SpanContext, TraceFlags, TraceState

from tracehound import findings
from tracehound.formats import b3, jaeger, w3c
from tracehound.formats._types import Format, TraceContext
from tracehound.formats.baggage import BAGGAGE, JAEGER_BAGGAGE_PREFIX, format_baggage
from tracehound.formats.inbound import (
    DEFAULT_LEGACY_ORDER,
    Inbound,
    parse_format_list,
    read_inbound,
)
from tracehound.rules import Finding, get_rule

__all__ = [
    "INJECT_ENV",
    "LEGACY_ORDER_ENV",
    "Extraction",
    "TracehoundPropagator",
    "conflict_attributes",
    "conflict_links",
    "get_extraction",
]

INJECT_ENV = "TRACEHOUND_PROPAGATION_INJECT"
LEGACY_ORDER_ENV = "TRACEHOUND_PROPAGATION_LEGACY_ORDER"

_log = logging.getLogger("tracehound")
_EXTRACTION_KEY = create_key("tracehound-extraction")
_BAGGAGE_KEY: str | None = getattr(otel_baggage, "_BAGGAGE_KEY", None)
_B3_MULTI_FIELDS = ("X-B3-TraceId", "X-B3-SpanId", "X-B3-Sampled", "X-B3-Flags")


@dataclass(frozen=True)
class Extraction:
    """What the propagator saw on the request a context came from.

    Stored on the extracted context only when there is something to say
    (problems or a conflict), so a healthy request pays nothing.
    """

    inbound: Inbound
    findings: tuple[Finding, ...]
    links: tuple[SpanContext, ...]
    """Remote contexts of the formats that lost a conflict (P002)."""


class TracehoundPropagator(TextMapPropagator):
    """Reads W3C, Jaeger and B3; writes W3C (and the legacy formats asked for).

    ``inject``: formats to write, e.g. ``("tracecontext", "jaeger")``; default
    from ``TRACEHOUND_PROPAGATION_INJECT``, else W3C only.
    ``legacy_order``: which legacy context to follow when W3C is absent or
    invalid; default from ``TRACEHOUND_PROPAGATION_LEGACY_ORDER``, else
    ``jaeger,b3,b3multi``.
    ``report``: send findings to `tracehound.findings` (default true).
    """

    def __init__(
        self,
        inject: Iterable[str | Format] | None = None,
        legacy_order: Iterable[str | Format] | None = None,
        *,
        report: bool = True,
    ) -> None:
        self._inject = _formats(inject, INJECT_ENV, (Format.TRACECONTEXT,))
        self._legacy_order = _formats(legacy_order, LEGACY_ORDER_ENV, DEFAULT_LEGACY_ORDER)
        self._legacy_order = tuple(f for f in self._legacy_order if f is not Format.TRACECONTEXT)
        self._report = report
        fields = {w3c.TRACEPARENT, w3c.TRACESTATE, BAGGAGE}
        if Format.JAEGER in self._inject:
            fields.add(jaeger.UBER_TRACE_ID)
        if Format.B3 in self._inject:
            fields.add(b3.B3_SINGLE)
        if Format.B3MULTI in self._inject:
            fields.update(_B3_MULTI_FIELDS)
        self._fields = frozenset(fields)
        self._w3c_only = self._inject == (Format.TRACECONTEXT,)
        self._read_errors = 0

    @property
    def read_errors(self) -> int:
        """Carriers whose headers could not be read at all (a broken getter)."""
        return self._read_errors

    @property
    def inject_formats(self) -> tuple[Format, ...]:
        return self._inject

    @property
    def legacy_order(self) -> tuple[Format, ...]:
        return self._legacy_order

    @property
    def fields(self) -> set[str]:
        """The header names `inject` may write (``uberctx-*`` baggage keys vary)."""
        return set(self._fields)

    # -- extract ---------------------------------------------------------

    def extract(
        self,
        carrier: CarrierT,
        context: Context | None = None,
        getter: Getter[CarrierT] = default_getter,
    ) -> Context:
        if context is None:
            context = Context()
        try:
            get, keys = _lookup(carrier, getter)
            names = keys() if get.__name__ == "get_from_dict" else None
            inbound = read_inbound(get, keys, self._legacy_order, names)
        except Exception:  # a carrier or getter that misbehaves must not break the request
            self._read_errors += 1
            if self._read_errors == 1:  # once: this may happen on every request
                _log.exception(
                    "tracehound: could not read trace headers; starting a new trace "
                    "(logged once; TracehoundPropagator.read_errors counts them)"
                )
            return context
        return self._apply(inbound, context)

    def _apply(self, inbound: Inbound, context: Context) -> Context:
        found = inbound.context
        if found is not None:
            span_context = _span_context(found, inbound.tracestate.members)
            context = trace.set_span_in_context(NonRecordingSpan(span_context), context)
        if inbound.baggage:
            for key, value in inbound.baggage:
                context = otel_baggage.set_baggage(key, value, context)
        if inbound.problems or inbound.conflicts:
            made = tuple(
                _finding(problem.code, problem.header, problem.message, found)
                for problem in inbound.problems
            )
            links = tuple(_span_context(c, ()) for c in inbound.conflicts)
            context = set_value(_EXTRACTION_KEY, Extraction(inbound, made, links), context)
            if self._report:
                for finding in made:
                    findings.report(finding)
        return context

    # -- inject ----------------------------------------------------------

    def inject(
        self,
        carrier: CarrierT,
        context: Context | None = None,
        setter: Setter[CarrierT] = default_setter,
    ) -> None:
        span_context = trace.get_current_span(context).get_span_context()
        entries = _baggage_of(context)
        if span_context.is_valid:
            if self._w3c_only:  # the common case: no loop over formats
                _inject_w3c(carrier, span_context, setter)
            else:
                self._inject_each(carrier, span_context, setter)
        if entries:
            self._inject_baggage(carrier, entries, setter)

    def _inject_each(
        self, carrier: CarrierT, span_context: SpanContext, setter: Setter[CarrierT]
    ) -> None:
        trace_id, span_id = span_context.trace_id, span_context.span_id
        sampled = span_context.trace_flags.sampled
        for fmt in self._inject:
            if fmt is Format.TRACECONTEXT:
                _inject_w3c(carrier, span_context, setter)
            elif fmt is Format.JAEGER:
                setter.set(
                    carrier,
                    jaeger.UBER_TRACE_ID,
                    jaeger.format_uber_trace_id(trace_id, span_id, sampled=sampled),
                )
            elif fmt is Format.B3:
                setter.set(
                    carrier, b3.B3_SINGLE, b3.format_b3_single(trace_id, span_id, sampled=sampled)
                )
            elif fmt is Format.B3MULTI:
                for name, value in b3.format_b3_multi(trace_id, span_id, sampled=sampled).items():
                    setter.set(carrier, name, value)

    def _inject_baggage(
        self, carrier: CarrierT, entries: Mapping[str, object], setter: Setter[CarrierT]
    ) -> None:
        header = format_baggage(entries.items())
        if header:
            setter.set(carrier, BAGGAGE, header)
        if Format.JAEGER in self._inject:
            for key, value in entries.items():
                setter.set(carrier, JAEGER_BAGGAGE_PREFIX + key, quote(str(value), safe=""))


def _inject_w3c(carrier: Any, span_context: SpanContext, setter: Setter[Any]) -> None:
    setter.set(
        carrier,
        w3c.TRACEPARENT,
        w3c.format_traceparent(
            span_context.trace_id, span_context.span_id, span_context.trace_flags
        ),
    )
    if span_context.trace_state:
        _inject_tracestate(carrier, span_context.trace_state, setter)


def _inject_tracestate(carrier: Any, state: TraceState, setter: Setter[Any]) -> None:
    header = ",".join([f"{k}={v}" for k, v in state.items()])
    if len(header) > w3c.MIN_PROPAGATED_TRACESTATE:  # rare: truncate whole entries per W3C
        header = w3c.format_tracestate(list(state.items()))
    if header:
        setter.set(carrier, w3c.TRACESTATE, header)


def _baggage_of(context: Context | None) -> Mapping[str, object] | None:
    # get_all() copies the baggage into a new mapping on every call; read it in place.
    if _BAGGAGE_KEY is None:  # pragma: no cover - an API without the private key
        return otel_baggage.get_all(context)
    value = get_value(_BAGGAGE_KEY, context)
    return value if isinstance(value, Mapping) else None


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


# -- helpers -------------------------------------------------------------


def _formats(
    given: Iterable[str | Format] | None, env: str, default: tuple[Format, ...]
) -> tuple[Format, ...]:
    if given is not None:
        if isinstance(given, str):
            return parse_format_list(given, source="TracehoundPropagator argument")
        return parse_format_list(
            ",".join(str(g) for g in given), source="TracehoundPropagator argument"
        )
    text = os.environ.get(env, "").strip()
    if not text:
        return default
    try:
        return parse_format_list(text, source=env) or default
    except ValueError as exc:
        # A typo in tracing config must not take the service down: say so, use the default.
        _log.error("tracehound: %s; using %s", exc, ",".join(f.value for f in default))
        return default


def _span_context(found: TraceContext, members: Sequence[tuple[str, str]]) -> SpanContext:
    return SpanContext(
        trace_id=found.trace_id,
        span_id=found.span_id,
        is_remote=True,
        trace_flags=TraceFlags(found.trace_flags & 0xFF),
        trace_state=_trace_state(members) if members else _EMPTY_STATE,
    )


_EMPTY_STATE = TraceState()
_STATE_HAS_DICT = isinstance(getattr(_EMPTY_STATE, "_dict", None), dict)
_new_state = object.__new__


def _trace_state(members: Sequence[tuple[str, str]]) -> TraceState:
    """A TraceState holding members valid under the W3C Level 2 key grammar.

    OpenTelemetry validates keys with the older Level 1 pattern and drops keys
    such as ``1vendor``; the members were already validated by
    `tracehound.formats.w3c`, so they are stored as they are.
    """
    if _STATE_HAS_DICT:
        state = _new_state(TraceState)
        state._dict = dict(members)  # type: ignore[attr-defined]
        return state
    return TraceState(list(members))  # pragma: no cover - a future SDK without _dict


def _finding(code: str, header: str, message: str, found: TraceContext | None) -> Finding:
    return Finding(
        get_rule(code),
        message,
        trace_id=found.trace_id_hex if found else None,
        span_id=found.span_id_hex if found else None,
        location=f"header {header}",
        details={"header": header},
    )


def _values(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if isinstance(value, (bytes, bytearray)):
        return [bytes(value).decode("latin-1")]
    if isinstance(value, Iterable):
        out = [
            v
            if isinstance(v, str)
            else bytes(v).decode("latin-1")
            if isinstance(v, (bytes, bytearray))
            else str(v)
            for v in value
        ]
        return out or None
    return [str(value)]


def _lookup(carrier: Any, getter: Getter[Any]) -> tuple[Any, Any]:
    """A ``get(lower_name)`` and ``keys()`` pair for ``carrier``.

    OpenTelemetry's default getter is case-sensitive, which misses
    ``Traceparent`` in ``dict(request.headers)``.  For plain dicts: when
    ``traceparent`` is there in lower case the names were normalised by the
    framework (HTTP/2, ASGI, most clients) and are read directly; otherwise
    the names are indexed in lower case once.  Other getters own their case
    handling.
    """
    if type(getter) is DefaultGetter and isinstance(carrier, dict):
        if w3c.TRACEPARENT not in carrier:
            carrier = {k.lower() if isinstance(k, str) else k: v for k, v in carrier.items()}
        raw = carrier.get

        def get_from_dict(name: str) -> Sequence[str] | None:
            value = raw(name)
            if value is None:
                return None
            if value.__class__ is str:
                return (value,)
            return _values(value)

        return get_from_dict, carrier.keys

    def get_from_getter(name: str) -> list[str] | None:
        return _values(getter.get(carrier, name))

    def keys() -> list[str]:
        return [k for k in getter.keys(carrier) if isinstance(k, str)]

    return get_from_getter, keys
