"""Low-value spans off: health checks, metrics scrapes and static files, by name or route.

`DropSpansSampler` is an OpenTelemetry sampler: a span whose name, or one of
its URL attributes known at start (``url.path``, ``http.target``, ...),
matches a glob pattern is dropped; every other span is decided by the
sampler it wraps (the user's, default ``ParentBased(ALWAYS_ON)``)::

    TracerProvider(sampler=DropSpansSampler(DEFAULT_LOW_VALUE_PATTERNS, user_sampler))

A dropped span's context is not sampled, so with a parent-based delegate (the
default, and OTel's usual samplers) its children are dropped too, here and in
the services it calls: a health check's database ping disappears with it.
A delegate that ignores the parent (``ALWAYS_ON``, a bare ``TraceIdRatioBased``)
records those children under a parent that was never exported (C001 orphans).

Patterns are `fnmatch` globs matched against the whole string, case-sensitive;
``*`` crosses ``/``.  URL attribute values are matched without their query
string.  Extra patterns come from ``TRACEHOUND_DROP_SPANS`` (comma-separated).
Decisions are memoised per distinct string, so the hot path pays once per
span name.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Callable, Iterable, Sequence

from opentelemetry.context import Context
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_ON,
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
)
from opentelemetry.trace import Link, SpanKind, get_current_span
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes

__all__ = [
    "DEFAULT_ATTRIBUTE_KEYS",
    "DEFAULT_LOW_VALUE_PATTERNS",
    "DROP_SPANS_ENV",
    "DropSpansSampler",
    "patterns_from_env",
]

DROP_SPANS_ENV = "TRACEHOUND_DROP_SPANS"

DEFAULT_LOW_VALUE_PATTERNS: tuple[str, ...] = (
    # health, liveness and readiness checks (Kubernetes, Spring actuator, MicroProfile)
    "*/health",
    "*/health/*",
    "*/healthz",
    "*/healthcheck",
    "*/health-check",
    "*/health_check",
    "*/livez",
    "*/readyz",
    "*/liveness",
    "*/readiness",
    # metrics scrapes
    "*/metrics",
    # browser and static files
    "*/favicon.ico",
    "*/static/*",
)
"""Glob patterns for spans no one reads: they match ``GET /healthz`` and ``/healthz`` alike."""

DEFAULT_ATTRIBUTE_KEYS: tuple[str, ...] = (
    "http.route",
    "url.path",
    "http.target",
    "http.url",
    "url.full",
)
"""Span attributes whose value is matched like the name (current and older conventions)."""

_MEMO_SIZE = 4096

_Matcher = Callable[[str], "re.Match[str] | None"]


class DropSpansSampler(Sampler):
    """Drops spans whose name or URL attribute matches a pattern; delegates the rest.

    ``patterns``: glob patterns (`fnmatch`), plus any in ``TRACEHOUND_DROP_SPANS``.
    ``delegate``: decides every span not dropped (default ``ParentBased(ALWAYS_ON)``).
    ``attribute_keys``: start attributes matched like the name.
    Raises `ValueError` for an empty pattern, or one that would drop every span.
    """

    def __init__(
        self,
        patterns: Iterable[str],
        delegate: Sampler | None = None,
        *,
        attribute_keys: Iterable[str] = DEFAULT_ATTRIBUTE_KEYS,
    ) -> None:
        given = tuple(_checked(p, "pattern") for p in _listed(patterns))
        self._patterns = _unique(given + patterns_from_env())
        self._delegate = delegate if delegate is not None else ParentBased(ALWAYS_ON)
        self._attribute_keys = tuple(dict.fromkeys(attribute_keys))  # each once, in order
        self._match = _compile(self._patterns)
        if self._match is None:  # nothing to drop: the SDK calls the delegate itself
            self.should_sample = self._delegate.should_sample  # type: ignore[method-assign]
        self._memo: dict[str, bool] = {}
        self._url_memo: dict[str, bool] = {}

    @property
    def patterns(self) -> tuple[str, ...]:
        return self._patterns

    @property
    def delegate(self) -> Sampler:
        return self._delegate

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        # Per span: one memo look-up for the name and one per URL attribute
        # present; the patterns run once per distinct string.  A subscript
        # costs less than a get() call; a miss (a string not seen yet, or not a
        # string) is the rare case.  (No patterns: the delegate is called directly.)
        try:
            drop = self._memo[name]
        except (KeyError, TypeError):
            drop = self._matches(name) if isinstance(name, str) else False
        if not drop and attributes:
            urls = self._url_memo
            # Each of the few URL keys looked up in the span's attributes: no set is
            # built (two key views cost ~1,000 instructions more a span, counted).
            for key in self._attribute_keys:
                if key in attributes:
                    try:
                        found = urls[attributes[key]]
                    except (KeyError, TypeError):
                        value = attributes[key]
                        found = self._url_matches(value) if isinstance(value, str) else False
                    if found:
                        drop = True
                        break
        if drop:
            return SamplingResult(Decision.DROP, None, _parent_trace_state(parent_context))
        return self._delegate.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        patterns = ",".join(self._patterns)
        delegate = self._delegate.get_description()
        return f"DropSpansSampler{{patterns=[{patterns}],delegate={delegate}}}"

    def _matches(self, text: str) -> bool:
        return _memoised(self._memo, text, self._match(text) is not None)  # type: ignore[misc]

    def _url_matches(self, value: str) -> bool:
        """A URL attribute's value, matched without its query (memoised by the whole value)."""
        decision = self._match(_without_query(value)) is not None  # type: ignore[misc]
        return _memoised(self._url_memo, value, decision)


def _memoised(memo: dict[str, bool], text: str, decision: bool) -> bool:
    if len(memo) >= _MEMO_SIZE:
        memo.clear()
    memo[text] = decision
    return decision


def patterns_from_env(environ: dict[str, str] | None = None) -> tuple[str, ...]:
    """The patterns in ``TRACEHOUND_DROP_SPANS`` (comma-separated; blanks ignored).

    Raises `ValueError` naming the variable and the pattern that is not usable.
    """
    text = (os.environ if environ is None else environ).get(DROP_SPANS_ENV, "")
    items = [item.strip() for item in text.split(",")]
    return tuple(_checked(item, DROP_SPANS_ENV) for item in items if item)


def _listed(patterns: Iterable[str]) -> Iterable[str]:
    if isinstance(patterns, str):  # one pattern, not its characters
        return (patterns,)
    return patterns


def _checked(pattern: object, source: str) -> str:
    if not isinstance(pattern, str) or not pattern.strip():
        raise ValueError(f"{source}: {pattern!r} is not a pattern (a non-empty glob string)")
    if not pattern.strip("*"):
        raise ValueError(
            f"{source}: {pattern!r} would drop every span; to turn tracing off, set "
            "OTEL_TRACES_SAMPLER=always_off (or OTEL_SDK_DISABLED=true) instead"
        )
    try:
        re.compile(fnmatch.translate(pattern))
    except re.error as exc:  # pragma: no cover - fnmatch escapes what re would reject
        raise ValueError(f"{source}: {pattern!r} is not a valid glob: {exc}") from None
    return pattern


def _unique(patterns: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(patterns))


def _compile(patterns: tuple[str, ...]) -> _Matcher | None:
    """One regex for all patterns: its ``match``, or ``None`` when there are none."""
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in patterns)).match


def _without_query(value: str) -> str:
    cut = value.find("?")
    return value if cut < 0 else value[:cut]


def _parent_trace_state(parent_context: Context | None) -> TraceState | None:
    span_context = get_current_span(parent_context).get_span_context()
    return span_context.trace_state if span_context.is_valid else None
