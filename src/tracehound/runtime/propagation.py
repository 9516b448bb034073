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
from typing import Any
from urllib.parse import quote

from opentelemetry import baggage as otel_baggage
from opentelemetry import trace
from opentelemetry.context import Context, get_value, set_value
from opentelemetry.propagators.textmap import (
    CarrierT,
    Getter,
    Setter,
    TextMapPropagator,
    default_getter,
    default_setter,
)
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceState

from tracehound import findings
from tracehound.formats import b3, jaeger, w3c
from tracehound.formats._types import Format, TraceContext
from tracehound.formats.baggage import BAGGAGE, JAEGER_BAGGAGE_PREFIX, encode_baggage
from tracehound.formats.inbound import (
    DEFAULT_LEGACY_ORDER,
    Inbound,
    parse_format_list,
    read_inbound,
)
from tracehound.rules import Finding, get_rule
from tracehound.runtime._extraction import (
    _EXTRACTION_KEY,
    _REJECTED,
    Extraction,
    conflict_attributes,
    conflict_links,
    get_extraction,
    take_rejection,
)
from tracehound.runtime._header_lookup import lookup
from tracehound.runtime._span_context import remote_span_context

__all__ = [
    "INJECT_ENV",
    "LEGACY_ORDER_ENV",
    "Extraction",
    "TracehoundPropagator",
    "conflict_attributes",
    "conflict_links",
    "get_extraction",
    "take_rejection",
]

INJECT_ENV = "TRACEHOUND_PROPAGATION_INJECT"
LEGACY_ORDER_ENV = "TRACEHOUND_PROPAGATION_LEGACY_ORDER"

_log = logging.getLogger("tracehound")
_BAGGAGE_KEY: str | None = getattr(otel_baggage, "_BAGGAGE_KEY", None)
_B3_MULTI_FIELDS = (b3.TRACE_ID, b3.SPAN_ID, b3.SAMPLED)
"""What inject writes for B3 multi: OTel's SpanContext has no debug bit, so never ``x-b3-flags``."""
_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz")


class TracehoundPropagator(TextMapPropagator):
    """Reads W3C, Jaeger and B3; writes W3C (and the legacy formats asked for).

    ``inject``: formats to write, e.g. ``("tracecontext", "jaeger")``; default
    from ``TRACEHOUND_PROPAGATION_INJECT``, else W3C only.
    ``legacy_order``: which legacy context to follow when W3C is absent or
    invalid; default from ``TRACEHOUND_PROPAGATION_LEGACY_ORDER``, else
    ``jaeger,b3,b3multi``.
    ``report``: send findings to `tracehound.findings` (default true).

    Header names are written in lower case (gRPC metadata requires it).
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
        fields = {BAGGAGE}
        if Format.TRACECONTEXT in self._inject:
            fields.update((w3c.TRACEPARENT, w3c.TRACESTATE))
        if Format.JAEGER in self._inject:
            fields.add(jaeger.UBER_TRACE_ID)
        if Format.B3 in self._inject:
            fields.add(b3.B3_SINGLE)
        if Format.B3MULTI in self._inject:
            fields.update(_B3_MULTI_FIELDS)
        self._fields = frozenset(fields)
        self._w3c_only = self._inject == (Format.TRACECONTEXT,)
        self._read_errors = 0
        self._baggage_dropped = 0

    @property
    def read_errors(self) -> int:
        """Carriers whose headers could not be read at all (a broken getter)."""
        return self._read_errors

    @property
    def baggage_dropped(self) -> int:
        """Baggage entries inject left out because a receiver would drop them (W3C limits)."""
        return self._baggage_dropped

    @property
    def inject_formats(self) -> tuple[Format, ...]:
        return self._inject

    @property
    def legacy_order(self) -> tuple[Format, ...]:
        return self._legacy_order

    @property
    def fields(self) -> set[str]:
        """The header names `inject` may write with these inject formats.

        ``tracestate`` and ``baggage`` only when the context has them; Jaeger's
        ``uberctx-<key>`` names depend on the baggage keys, so (as in
        OpenTelemetry's ``JaegerPropagator``) they are not listed.
        """
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
        if _REJECTED.get() is not None:
            _REJECTED.set(None)
        try:
            get, keys, names = lookup(carrier, getter)
            inbound = read_inbound(get, keys, self._legacy_order, names)
        except Exception:  # a carrier or getter that misbehaves must not break the request
            self._read_errors += 1
            if self._read_errors == 1:  # once: this may happen on every request
                _log.exception(
                    "tracehound: could not read trace headers; starting a new trace "
                    "(logged once; TracehoundPropagator.read_errors counts them)"
                )
            return context
        return self._apply(inbound, context, carrier)

    def _apply(self, inbound: Inbound, context: Context, carrier: object) -> Context:
        found = inbound.context
        if found is not None:
            span_context = remote_span_context(found, inbound.tracestate.members)
            context = trace.set_span_in_context(NonRecordingSpan(span_context), context)
        if inbound.baggage:
            context = _with_baggage(context, inbound.baggage)
        if inbound.problems or inbound.conflicts:
            made = tuple(
                _finding(problem.code, problem.header, problem.message, found)
                for problem in inbound.problems
            )
            links = tuple(remote_span_context(c, ()) for c in inbound.conflicts)
            extraction = Extraction(inbound, made, links)
            if found is not None:
                context = set_value(_EXTRACTION_KEY, extraction, context)
            else:  # nothing parsed: the context stays as it was; the reason goes aside
                _REJECTED.set((id(carrier), extraction))
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
        span = trace.get_current_span(context)
        span_context = span.get_span_context()
        entries = _baggage_of(context)
        if span_context.is_valid:
            if self._w3c_only:  # the common case: no loop over formats
                _inject_w3c(carrier, span_context, setter)
            else:
                self._inject_each(carrier, span, span_context, setter)
        if entries:
            self._inject_baggage(carrier, entries, setter)

    def _inject_each(
        self,
        carrier: CarrierT,
        span: trace.Span,
        span_context: SpanContext,
        setter: Setter[CarrierT],
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
                    jaeger.format_uber_trace_id(
                        trace_id, span_id, sampled=sampled, parent_span_id=_parent_id(span)
                    ),
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
        encoded = encode_baggage(entries.items())
        if encoded.header:
            setter.set(carrier, BAGGAGE, encoded.header)
        if encoded.dropped:
            self._note_dropped(encoded.dropped)
        if Format.JAEGER in self._inject:
            for key, value in entries.items():
                name = key.lower() if isinstance(key, str) else ""
                if name and _TOKEN_CHARS.issuperset(name):  # else not a valid header name
                    setter.set(
                        carrier,
                        JAEGER_BAGGAGE_PREFIX + name,
                        quote(str(value), safe="", errors="replace"),
                    )

    def _note_dropped(self, dropped: Sequence[str]) -> None:
        first = self._baggage_dropped == 0
        self._baggage_dropped += len(dropped)
        if first:  # once: a program that sets big baggage does it on every request
            _log.warning(
                "tracehound: baggage entries not sent, the next hop would drop them: %s "
                "(logged once; TracehoundPropagator.baggage_dropped counts them)",
                "; ".join(dropped),
            )


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


def _with_baggage(context: Context, entries: Sequence[tuple[str, str]]) -> Context:
    """``context`` with ``entries`` added to its baggage, in one copy (not one per entry)."""
    if _BAGGAGE_KEY is None:  # pragma: no cover - an API without the private key
        for key, value in entries:
            context = otel_baggage.set_baggage(key, value, context)
        return context
    current = get_value(_BAGGAGE_KEY, context)
    merged = dict(current) if isinstance(current, dict) and current else {}
    merged.update(entries)
    return set_value(_BAGGAGE_KEY, merged, context)


def _parent_id(span: trace.Span) -> int | None:
    """The sending span's own parent, as Jaeger clients write it (only a recording span has one)."""
    if not span.is_recording():
        return None
    parent = getattr(span, "parent", None)
    return parent.span_id if isinstance(parent, SpanContext) else None


def _baggage_of(context: Context | None) -> Mapping[str, object] | None:
    # get_all() copies the baggage into a new mapping on every call; read it in place.
    if _BAGGAGE_KEY is None:  # pragma: no cover - an API without the private key
        return otel_baggage.get_all(context)
    value = get_value(_BAGGAGE_KEY, context)
    return value if isinstance(value, Mapping) else None


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


def _finding(code: str, header: str, message: str, found: TraceContext | None) -> Finding:
    return Finding(
        get_rule(code),
        message,
        trace_id=found.trace_id_hex if found else None,
        span_id=found.span_id_hex if found else None,
        location=f"header {header}",
        details={"header": header},
    )
