"""Manual spans that always know their parent and always end.

Each helper is a context manager (sync and async) and a decorator (sync and
async functions); the span ends on every path, an exception is recorded and
sets status ERROR::

    with tracehound.continue_trace(request.headers, "POST /orders"):
        ...                                   # SERVER span, child of the caller
    @tracehound.span("charge card")
    def charge(order): ...
    with tracehound.new_trace("refund job"):  # the one deliberate new trace
        ...
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar, cast

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from tracehound import findings
from tracehound.rules import Finding, get_rule
from tracehound.runtime._location import caller_location
from tracehound.runtime.carriers import read_carrier, write_carrier
from tracehound.runtime.guards import DELIBERATE_ROOT
from tracehound.runtime.propagation import (
    TracehoundPropagator,
    conflict_attributes,
    conflict_links,
    get_extraction,
    take_rejection,
)

__all__ = [
    "SpanScope",
    "continue_trace",
    "current_span_id",
    "current_trace_id",
    "extract",
    "inject",
    "new_trace",
    "span",
]

F = TypeVar("F", bound=Callable[..., Any])
Attributes = Mapping[str, AttributeValue]

_FALLBACK_PROPAGATOR = TracehoundPropagator()


def _propagator() -> Any:
    """The global propagator when it reads every format, else tracehound's own.

    ``continue_trace`` must read Jaeger and B3 even if the program left
    OpenTelemetry's default (W3C only) in place.
    """
    installed = propagate.get_global_textmap()
    if isinstance(installed, TracehoundPropagator):
        return installed
    inner = getattr(installed, "_propagators", ())
    if any(isinstance(p, TracehoundPropagator) for p in inner):
        return installed
    return _FALLBACK_PROPAGATOR


def _tracer() -> trace.Tracer:
    return trace.get_tracer("tracehound")


class SpanScope:
    """One span's lifetime: ``with``/``async with`` it, or decorate a function with it."""

    def __init__(
        self,
        name: str,
        *,
        kind: SpanKind,
        attributes: Attributes | None,
        links: Sequence[Link] | None,
        parent: Callable[[], tuple[Context | None, list[Link], dict[str, AttributeValue]]],
        deliberate_root: bool = False,
        record_exception: bool = True,
    ) -> None:
        self._name = name
        self._kind = kind
        self._attributes = dict(attributes or {})
        self._links = list(links or ())
        self._parent = parent
        self._deliberate_root = deliberate_root
        self._record_exception = record_exception
        self._span: trace.Span | None = None
        self._token: object = None

    def _fresh(self) -> SpanScope:
        return SpanScope(
            self._name,
            kind=self._kind,
            attributes=self._attributes,
            links=self._links,
            parent=self._parent,
            deliberate_root=self._deliberate_root,
            record_exception=self._record_exception,
        )

    def __enter__(self) -> trace.Span:
        if self._span is not None:
            raise RuntimeError(
                f"span scope {self._name!r} is already in use; "
                "enter it once (a decorator makes a new one per call)"
            )
        context, links, attributes = self._parent()
        marker = DELIBERATE_ROOT.set(True) if self._deliberate_root else None
        try:
            span = _tracer().start_span(
                self._name,
                context=context,
                kind=self._kind,
                attributes={**attributes, **self._attributes} or None,
                links=[*links, *self._links] or None,
            )
        finally:
            if marker is not None:
                DELIBERATE_ROOT.reset(marker)
        base = context if context is not None else otel_context.get_current()
        self._token = otel_context.attach(trace.set_span_in_context(span, base))
        self._span = span
        return span

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        span, token = self._span, self._token
        self._span = self._token = None
        if span is None:
            return
        try:
            if exc is not None and span.is_recording():
                if self._record_exception:
                    span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
        finally:
            try:
                span.end()  # strict mode may raise here (L003, L010)
            finally:
                otel_context.detach(token)  # type: ignore[arg-type]

    async def __aenter__(self) -> trace.Span:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    def __call__(self, fn: F) -> F:
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with self._fresh():
                    return await fn(*args, **kwargs)

            return cast(F, run_async)

        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            with self._fresh():
                return fn(*args, **kwargs)

        return cast(F, run)


def _current_parent() -> tuple[Context | None, list[Link], dict[str, AttributeValue]]:
    return None, [], {}


def span(
    name: str,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: Attributes | None = None,
    *,
    links: Sequence[Link] | None = None,
    record_exception: bool = True,
) -> SpanScope:
    """A child of the current span."""
    return SpanScope(
        name,
        kind=kind,
        attributes=attributes,
        links=links,
        parent=_current_parent,
        record_exception=record_exception,
    )


def continue_trace(
    carrier: object,
    name: str,
    kind: SpanKind = SpanKind.SERVER,
    attributes: Attributes | None = None,
    *,
    links: Sequence[Link] | None = None,
    record_exception: bool = True,
) -> SpanScope:
    """A span whose parent comes from an inbound carrier (headers, environ, scope, message).

    Reads W3C, Jaeger and B3.  A propagation conflict (P002) adds a link to the
    losing context and attributes naming it.  A carrier with no usable context
    starts a new trace and says so (C006, with the problems the headers had).
    """
    location = caller_location()

    def parent() -> tuple[Context | None, list[Link], dict[str, AttributeValue]]:
        headers = _readable(carrier)
        context = _propagator().extract(headers)
        if not trace.get_current_span(context).get_span_context().is_valid:
            # A rejected header leaves the context untouched; its reason is kept aside.
            extraction = get_extraction(context) or take_rejection(headers)
            why = (
                "; ".join(f"{f.code}: {f.message}" for f in extraction.findings)
                if extraction
                else "no trace headers"
            )
            findings.report(
                Finding(
                    get_rule("C006"),
                    f"{name!r} found no usable trace context in its carrier ({why}) and starts "
                    "a new trace",
                    location=location,
                    details={"span": name},
                )
            )
        return context, conflict_links(context), dict(conflict_attributes(context))

    return SpanScope(
        name,
        kind=kind,
        attributes=attributes,
        links=links,
        parent=parent,
        record_exception=record_exception,
    )


def new_trace(
    name: str,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    link_current: bool = True,
    attributes: Attributes | None = None,
    record_exception: bool = True,
) -> SpanScope:
    """The one deliberate way to start a fresh trace, linked to the one it came from."""

    def parent() -> tuple[Context | None, list[Link], dict[str, AttributeValue]]:
        links = []
        current = trace.get_current_span().get_span_context()
        if link_current and current.is_valid:
            links.append(Link(current, {"tracehound.link.reason": "new-trace"}))
        return Context(), links, {"tracehound.new_trace": True}

    return SpanScope(
        name,
        kind=kind,
        attributes=attributes,
        links=None,
        parent=parent,
        deliberate_root=True,
        record_exception=record_exception,
    )


def inject(carrier: object | None = None) -> dict[str, str]:
    """The current context's headers; also written into ``carrier`` when given."""
    headers: dict[str, str] = {}
    propagate.inject(headers)
    if carrier is not None:
        write_carrier(carrier, headers)
    return headers


def extract(carrier: object) -> Context:
    """The context an inbound carrier names (read with tracehound's propagator)."""
    return cast(Context, _propagator().extract(_readable(carrier)))


def _readable(carrier: object) -> object:
    """``carrier`` as headers; an object only OpenTelemetry's getter reads (``get``) as it is."""
    try:
        return read_carrier(carrier)
    except TypeError:
        if callable(getattr(carrier, "get", None)):
            return carrier
        raise


def current_trace_id() -> str | None:
    """The current trace ID as 32 lower-case hex digits, or ``None`` outside a span."""
    span_context = trace.get_current_span().get_span_context()
    return f"{span_context.trace_id:032x}" if span_context.is_valid else None


def current_span_id() -> str | None:
    """The current span ID as 16 lower-case hex digits, or ``None`` outside a span."""
    span_context = trace.get_current_span().get_span_context()
    return f"{span_context.span_id:016x}" if span_context.is_valid else None
