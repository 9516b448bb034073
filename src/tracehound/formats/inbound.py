"""Read every trace-context format on one inbound request and decide which to follow.

This is the one place that knows the rules: W3C first; when it is absent or
invalid, the legacy formats in a configurable order.  Everything wrong with
the request becomes a `Problem` carrying a catalogue code (P001-P004), and a
legacy context that disagrees with the winner is kept so callers can link to
it.  The OpenTelemetry propagator, the ``tracehound headers`` command and the
doctor all use it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import NamedTuple

from tracehound.formats import b3, jaeger, w3c
from tracehound.formats._types import Format, Rejection, TraceContext
from tracehound.formats.baggage import (
    BAGGAGE,
    JAEGER_BAGGAGE,
    JAEGER_BAGGAGE_PREFIX,
    parse_baggage,
    parse_jaeger_baggage,
)

__all__ = [
    "DEFAULT_LEGACY_ORDER",
    "HEADER_OF",
    "Inbound",
    "Problem",
    "parse_format_list",
    "read_headers",
    "read_inbound",
]

DEFAULT_LEGACY_ORDER: tuple[Format, ...] = (Format.JAEGER, Format.B3, Format.B3MULTI)

HEADER_OF: Mapping[Format, str] = {
    Format.TRACECONTEXT: w3c.TRACEPARENT,
    Format.JAEGER: jaeger.UBER_TRACE_ID,
    Format.B3: b3.B3_SINGLE,
    Format.B3MULTI: b3.TRACE_ID,
}
"""The header that carries each format's trace ID."""

Getter = Callable[[str], "Sequence[str] | None"]


class Problem(NamedTuple):
    """Something wrong with an inbound request, against a catalogue code."""

    code: str
    header: str
    message: str

    def __str__(self) -> str:
        return f"{self.code} {self.header}: {self.message}"


class Inbound(NamedTuple):
    """What one request carried and what to do with it (a named tuple: one per request)."""

    context: TraceContext | None
    """The context to continue, or ``None``: start a new trace."""
    tracestate: w3c.TraceState
    """The W3C ``tracestate`` to carry on (empty unless W3C won)."""
    others: tuple[TraceContext, ...]
    """Valid contexts of the formats that did not win."""
    conflicts: tuple[TraceContext, ...]
    """The subset of ``others`` naming a different trace (P002)."""
    rejections: tuple[Rejection, ...]
    baggage: tuple[tuple[str, str], ...]
    problems: tuple[Problem, ...]
    formats_seen: tuple[Format, ...]
    """Formats whose headers were present, valid or not."""


_NOTHING = Inbound(None, w3c.TraceState(), (), (), (), (), (), ())
_NO_STATE = w3c.TraceState()
_W3C_SEEN = (Format.TRACECONTEXT,)
_LEGACY_NAMES = frozenset({jaeger.UBER_TRACE_ID, b3.B3_SINGLE, b3.TRACE_ID})
_B3_REST = (b3.SPAN_ID, b3.PARENT_SPAN_ID, b3.SAMPLED, b3.FLAGS)
_make_inbound = functools.partial(tuple.__new__, Inbound)  # C-level, no length check


def read_inbound(
    get: Getter,
    keys: Callable[[], Iterable[str]] | None = None,
    legacy_order: Sequence[Format] = DEFAULT_LEGACY_ORDER,
    names: Collection[str] | None = None,
) -> Inbound:
    """Read a request through ``get(lower_case_name) -> values or None``.

    ``keys`` lists the header names; it is only called when Jaeger headers are
    present, to collect ``uberctx-*`` baggage.  ``names``, when the caller
    has them as a set-like view of lower-case names, lets the common request
    skip the legacy look-ups in one step.
    """
    traceparent = get(w3c.TRACEPARENT)
    if names is not None and _LEGACY_NAMES.isdisjoint(names):
        uber = b3_single = b3_trace = None
    else:
        uber = get(jaeger.UBER_TRACE_ID)
        b3_single = get(b3.B3_SINGLE)
        b3_trace = get(b3.TRACE_ID)
    baggage_values = get(BAGGAGE)

    if traceparent and not uber and not b3_single and not b3_trace:
        # The common case: only W3C. Keep it short; it runs on every request.
        parsed = w3c.parse_traceparent_fields(traceparent)
        if isinstance(parsed, TraceContext):
            state_values = get(w3c.TRACESTATE)
            state = w3c.parse_tracestate(state_values) if state_values else _NO_STATE
            bag = parse_baggage(baggage_values).entries if baggage_values else ()
            problems = _state_problems(state) if state.notes or state.rejection is not None else ()
            return _make_inbound((parsed, state, (), (), (), bag, problems, _W3C_SEEN))
    elif not (traceparent or uber or b3_single or b3_trace):
        if not baggage_values:
            return _NOTHING
        return Inbound(
            None, w3c.TraceState(), (), (), (), parse_baggage(baggage_values).entries, (), ()
        )
    return _read_all(
        get,
        keys,
        legacy_order,
        traceparent,
        uber,
        b3_single,
        b3_trace,
        baggage_values,
        names,
    )


def _read_all(
    get: Getter,
    keys: Callable[[], Iterable[str]] | None,
    legacy_order: Sequence[Format],
    traceparent: Sequence[str] | None,
    uber: Sequence[str] | None,
    b3_single: Sequence[str] | None,
    b3_trace: Sequence[str] | None,
    baggage_values: Sequence[str] | None,
    names: Collection[str] | None,
) -> Inbound:
    problems: list[Problem] = []
    rejections: list[Rejection] = []
    seen: list[Format] = []
    found: dict[Format, TraceContext] = {}

    w3c_context: TraceContext | None = None
    if traceparent:
        seen.append(Format.TRACECONTEXT)
        parsed = w3c.parse_traceparent_fields(traceparent)
        if isinstance(parsed, TraceContext):
            w3c_context = parsed
        elif isinstance(parsed, Rejection):
            rejections.append(parsed)
            problems.append(Problem("P001", parsed.header, parsed.reason))
    if uber:
        seen.append(Format.JAEGER)
        parsed_j = jaeger.parse_uber_trace_id(uber[-1])
        if isinstance(parsed_j, TraceContext):
            found[Format.JAEGER] = parsed_j
        else:
            rejections.append(parsed_j)
    if b3_single:
        seen.append(Format.B3)
        parsed_b = b3.parse_b3_single(b3_single[-1])
        if isinstance(parsed_b, TraceContext):
            found[Format.B3] = parsed_b
        elif isinstance(parsed_b, Rejection):
            rejections.append(parsed_b)
    if b3_trace:
        # Read even beside a valid ``b3``: a multi set naming another trace is a
        # conflict (P002), and ``legacy_order`` decides which of the two is followed.
        seen.append(Format.B3MULTI)
        multi = {b3.TRACE_ID: b3_trace[-1]}
        for name in _B3_REST:
            if names is not None and name not in names:
                continue  # a set look-up, cheaper than asking the carrier
            values = get(name)
            if values:
                multi[name] = values[-1]
        parsed_m = b3.parse_b3_multi(multi)
        if isinstance(parsed_m, TraceContext):
            found[Format.B3MULTI] = parsed_m
        elif isinstance(parsed_m, Rejection):
            rejections.append(parsed_m)

    state = _NO_STATE
    if w3c_context is not None:
        winner: TraceContext | None = w3c_context
        state_values = get(w3c.TRACESTATE)
        if state_values:
            state = w3c.parse_tracestate(state_values)
            problems.extend(_state_problems(state))
    else:
        winner = next((found[f] for f in legacy_order if f in found), None)
        if winner is not None and not traceparent:
            problems.append(
                Problem(
                    "P003",
                    HEADER_OF[winner.format],
                    f"only legacy propagation arrived ({', '.join(f.value for f in found)}); "
                    "a hop that reads only W3C traceparent will start a new trace",
                )
            )

    others = tuple([c for c in found.values() if c is not winner])
    conflicts = (
        tuple([c for c in others if c.trace_id != winner.trace_id and not _same_trace(c, winner)])
        if winner and others
        else ()
    )
    if conflicts and winner is not None:
        described = ", ".join(f"{c.format.value} trace {c.trace_id_hex}" for c in conflicts)
        problems.append(
            Problem(
                "P002",
                HEADER_OF[winner.format],
                f"{winner.format.value} names trace {winner.trace_id_hex} but {described}; "
                f"following {winner.format.value}, the others are kept as links",
            )
        )
    for rejection in rejections:
        if rejection.header != w3c.TRACEPARENT:
            problems.append(Problem("P006", rejection.header, rejection.reason))

    bag: dict[str, str] = {}
    if uber and keys is not None:
        bag.update(_jaeger_baggage(get, keys, names is not None))
    if baggage_values:
        bag.update(parse_baggage(baggage_values).entries)

    return _make_inbound(
        (
            winner,
            state,
            others,
            conflicts,
            tuple(rejections),
            tuple(bag.items()),
            tuple(problems),
            tuple(seen),
        )
    )


def _jaeger_baggage(
    get: Getter, keys: Callable[[], Iterable[str]], lowercase_names: bool
) -> tuple[tuple[str, str], ...]:
    if lowercase_names:
        names = [n for n in keys() if n[:8] == JAEGER_BAGGAGE_PREFIX or n == JAEGER_BAGGAGE]
    else:
        names = [
            n
            for n in keys()
            if n[:8].lower() == JAEGER_BAGGAGE_PREFIX or n.lower() == JAEGER_BAGGAGE
        ]
    if not names:
        return ()
    found: dict[str, str] = {}
    for name in names:
        values = get(name.lower()) or get(name)
        if values:
            found[name.lower()] = _last(values)
    return parse_jaeger_baggage(found).entries


def _state_problems(state: w3c.TraceState) -> tuple[Problem, ...]:
    problems = [Problem("P004", w3c.TRACESTATE, note) for note in state.notes]
    if state.rejection is not None:
        problems.insert(
            0,
            Problem(
                "P004", w3c.TRACESTATE, f"{state.rejection.reason}; the tracestate is discarded"
            ),
        )
    return tuple(problems)


def _same_trace(a: TraceContext, b: TraceContext) -> bool:
    if a.trace_id == b.trace_id:
        return True
    # A 64-bit legacy ID agrees with a 128-bit one that ends in the same 64 bits.
    low = 0xFFFF_FFFF_FFFF_FFFF
    return (a.trace_id <= low or b.trace_id <= low) and (a.trace_id & low) == (b.trace_id & low)


def _last(values: Sequence[str]) -> str:
    return values[-1]


def read_headers(
    headers: Mapping[str, str | Sequence[str]] | Iterable[tuple[str, str]],
    legacy_order: Sequence[Format] = DEFAULT_LEGACY_ORDER,
) -> Inbound:
    """`read_inbound` over a mapping or a list of ``(name, value)`` pairs, any name case."""
    index: dict[str, list[str]] = {}
    items = headers.items() if isinstance(headers, Mapping) else headers
    for name, value in items:
        values = [value] if isinstance(value, str) else list(value)
        index.setdefault(name.lower(), []).extend(values)
    return read_inbound(index.get, index.keys, legacy_order, index.keys())


def parse_format_list(text: str, *, source: str) -> tuple[Format, ...]:
    """``"tracecontext,jaeger"`` to formats; `ValueError` names ``source`` and the choices."""
    formats: list[Format] = []
    for item in text.split(","):
        name = item.strip().lower()
        if not name:
            continue
        try:
            fmt = Format(name)
        except ValueError:
            choices = ", ".join(f.value for f in Format)
            raise ValueError(
                f"{source}: unknown propagation format {item.strip()!r}; choose from {choices}"
            ) from None
        if fmt not in formats:
            formats.append(fmt)
    return tuple(formats)
