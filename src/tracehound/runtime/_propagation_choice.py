"""Which propagation `configure` installs: read every format, inject what the user configured.

The installed propagator always *reads* W3C, Jaeger and B3 (that is what
keeps traces whole when peers disagree).  What it *writes* is the user's
choice, first found wins:

1. the ``inject`` argument of `configure`;
2. ``TRACEHOUND_PROPAGATION_INJECT`` (the documented way to add W3C during a
   migration: ``tracecontext,jaeger``);
3. ``OTEL_PROPAGATORS``: ``jaeger`` injects ``uber-trace-id`` (and
   ``uberctx-*`` baggage) and nothing else, ``tracecontext,baggage`` W3C,
   ``tracehound`` its documented default (W3C and baggage), ``none`` nothing;
   a propagator tracehound does not implement (``xray``, ``ottrace``, your
   own) is loaded from its entry point and runs after tracehound's, as in
   OpenTelemetry's composite;
4. OpenTelemetry's default, ``tracecontext,baggage``.

The W3C ``baggage`` header is written when ``OTEL_PROPAGATORS`` lists
``baggage`` or ``tracehound``, or is unset.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from opentelemetry.context import Context
from opentelemetry.propagators.textmap import (
    CarrierT,
    Getter,
    Setter,
    TextMapPropagator,
    default_getter,
    default_setter,
)

from tracehound.formats import w3c
from tracehound.formats._types import Format
from tracehound.formats.baggage import BAGGAGE
from tracehound.runtime import OTEL_PROPAGATORS, check_otel_propagators, otel_propagator_names
from tracehound.runtime._errors import ConfigurationError
from tracehound.runtime.propagation import INJECT_ENV, TracehoundPropagator

__all__ = ["PropagationChoice", "choose_propagation"]

_FORMAT_NAMES = frozenset(f.value for f in Format)
_READS = "tracecontext, baggage, jaeger (uberctx-*), b3, b3multi"


@dataclass(frozen=True)
class PropagationChoice:
    """The propagator to install and the sentence saying what it does and why."""

    propagator: TracehoundPropagator
    description: str


class _ConfiguredPropagator(TracehoundPropagator):
    """Tracehound's propagator with the user's set: no W3C baggage, other propagators after it."""

    def __init__(
        self,
        inject: Sequence[Format],
        *,
        baggage: bool,
        others: Sequence[TextMapPropagator] = (),
    ) -> None:
        super().__init__(inject=inject)
        self._without = frozenset() if baggage else frozenset({BAGGAGE})
        self._others = tuple(others)

    def inject(
        self,
        carrier: CarrierT,
        context: Context | None = None,
        setter: Setter[CarrierT] = default_setter,
    ) -> None:
        if self._without:
            setter = _SetterWithout(setter, self._without)
        super().inject(carrier, context, setter)
        for other in self._others:
            other.inject(carrier, context, setter)

    def extract(
        self,
        carrier: CarrierT,
        context: Context | None = None,
        getter: Getter[CarrierT] = default_getter,
    ) -> Context:
        context = super().extract(carrier, context, getter)
        for other in self._others:
            context = other.extract(carrier, context, getter)
        return context

    @property
    def fields(self) -> set[str]:
        names = super().fields - self._without
        if Format.TRACECONTEXT not in self.inject_formats:  # W3C is not written at all
            names -= {w3c.TRACEPARENT, w3c.TRACESTATE}
        for other in self._others:
            names |= set(other.fields)
        return names


class _SetterWithout(Setter[Any]):
    """A setter that leaves out the headers the user did not configure."""

    def __init__(self, setter: Setter[Any], without: frozenset[str]) -> None:
        self._setter = setter
        self._without = without

    def set(self, carrier: Any, key: str, value: str) -> None:
        if key.lower() not in self._without:
            self._setter.set(carrier, key, value)


def choose_propagation(
    inject: Iterable[str] | None = None, environ: Mapping[str, str] = os.environ
) -> PropagationChoice:
    """The propagator `configure` installs for ``inject`` and the environment."""
    check_otel_propagators(environ)
    names = otel_propagator_names(environ)
    listed = ["tracecontext", "baggage"] if names is None else names
    if any(n.lower() == "none" for n in listed):
        listed = []
    baggage = "baggage" in listed or "tracehound" in listed
    others = [n for n in listed if n not in _FORMAT_NAMES and n not in ("baggage", "tracehound")]
    if inject is not None:
        formats = _parse(inject, "inject argument")
        why = "the inject argument of configure()"
    elif environ.get(INJECT_ENV, "").strip():
        formats = _parse(environ[INJECT_ENV], INJECT_ENV)
        why = f"{INJECT_ENV}={environ[INJECT_ENV].strip()}"
    else:
        formats = tuple(Format(n) for n in dict.fromkeys(listed) if n in _FORMAT_NAMES)
        if "tracehound" in listed and Format.TRACECONTEXT not in formats:
            formats = (Format.TRACECONTEXT, *formats)
        why = (
            "OpenTelemetry's default, OTEL_PROPAGATORS unset"
            if names is None
            else f"{OTEL_PROPAGATORS}={','.join(names)}"
        )
    loaded = [_load(name) for name in others]
    if baggage and not loaded:
        propagator = TracehoundPropagator(inject=formats)  # the common case: no wrapper
    else:
        propagator = _ConfiguredPropagator(formats, baggage=baggage, others=loaded)
    written = [f.value for f in formats] + (["baggage"] if baggage else []) + others
    description = (
        f"tracehound: propagation: reads {_READS}; injects "
        f"{', '.join(written) or 'nothing'} ({why})"
    )
    return PropagationChoice(propagator, description)


def _parse(given: Iterable[str] | str, source: str) -> tuple[Format, ...]:
    from tracehound.formats.inbound import parse_format_list

    text = given if isinstance(given, str) else ",".join(str(g) for g in given)
    try:
        return parse_format_list(text, source=source)
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None


def _load(name: str) -> TextMapPropagator:
    from importlib.metadata import entry_points

    for entry in entry_points(group="opentelemetry_propagator", name=name):
        propagator: TextMapPropagator = entry.load()()
        return propagator
    raise ConfigurationError(f"{OTEL_PROPAGATORS}: unknown propagator {name!r}")  # pragma: no cover
