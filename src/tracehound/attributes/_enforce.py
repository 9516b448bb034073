"""Enforcement on an ended OpenTelemetry span: the clean span itself, or a rewritten copy.

`SpanEnforcer.enforce` looks at the span's attributes, name, event
attributes (secrets only) and resource (secrets only, once per resource
object).  When nothing breaks a rule it returns the very same span object:
no copy, no allocation beyond the scan.  Otherwise it returns a new
`ReadableSpan` with the actions applied (attributes, name, status, events,
resource) and a ``tracehound.redacted`` attribute listing what was
redacted, plus the findings to report.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util import BoundedList
from opentelemetry.trace import SpanKind, Status, StatusCode

from tracehound.attributes._config import Action
from tracehound.attributes._legacy import LEGACY_KEYS, describe_legacy
from tracehound.attributes._policy import AttributePolicy
from tracehound.attributes._rewrite import REDACTED_ATTRIBUTE, rewrite_attributes
from tracehound.rules import Finding

__all__ = ["SpanEnforcer"]

_SERVER_SIDE = (SpanKind.SERVER, SpanKind.CONSUMER)
_NONE: Any = ()
_NO_KEYS: Any = MappingProxyType({})
_NOT_TEXT: Any = object()
"""A span name that is not a string: exported as its text."""
_warned_types: set[type] = set()
logger = logging.getLogger("tracehound")


def _as_text(name: object) -> str:
    """A span name that is not a string, as text (warned once per type, not per span)."""
    kind = type(name)
    if kind not in _warned_types:
        _warned_types.add(kind)
        logger.warning(
            "tracehound: span name %r (%s) is not a string; exported as its text "
            "(an OTLP exporter would fail the whole batch on it)",
            name,
            kind.__name__,
        )
    try:
        return str(name)
    except Exception:  # a __str__ that fails: still export the span
        return f"<{kind.__name__}>"


def _plain(attributes: Any) -> Any:
    # BoundedAttributes keeps a plain dict; iterating it directly avoids the
    # Mapping ABC's per-item __getitem__ on the hot path.
    return getattr(attributes, "_dict", attributes) or {}


class SpanEnforcer:
    """Applies an `AttributePolicy` to ended spans."""

    def __init__(self, policy: AttributePolicy) -> None:
        self.policy = policy
        self._checker = policy.checker
        self._lock = threading.Lock()
        self._resource: tuple[Resource | None, Resource | None] = (None, None)
        """The last resource seen and its redacted version (None when clean)."""
        self._resources: dict[int, tuple[Resource, Resource | None]] = {}
        """Every resource checked so far (a handful per process; bounded)."""

    def enforce(self, span: ReadableSpan) -> tuple[ReadableSpan, Sequence[Finding]]:
        """(the span to export, findings); the span itself when it breaks nothing."""
        checker = self._checker
        attributes = span._attributes
        # See _plain.  An attribute read costs less than a getattr() call, and
        # contextlib.suppress would cost a context manager, per span.
        try:  # noqa: SIM105
            attributes = attributes._dict
        except AttributeError:
            pass
        dirty = checker.dirty_keys(attributes) if attributes else _NO_KEYS
        name = span._name
        if type(name) is str:
            name_violation = None if name in checker.clean_names else checker.name_violation(name)
        else:  # OpenTelemetry accepts any name; OTLP cannot encode it (the batch would fail)
            name_violation = _NOT_TEXT
        events = has_events = span._events
        # BoundedList keeps a deque; its truth test is C, the list's __len__ is Python.
        try:  # noqa: SIM105
            has_events = events._dq
        except AttributeError:
            pass
        dirty_events = _dirty_events(checker, events) if has_events else _NO_KEYS
        resource = span._resource
        findings: Sequence[Finding] = _NONE
        seen, sanitized = self._resource
        if resource is not seen:
            resource, findings = self._resource_for(resource)
        elif sanitized is not None:
            resource = sanitized
        if dirty or name_violation or dirty_events or resource is not span._resource:
            return self._rewrite(
                span, attributes or {}, dirty, name_violation, dirty_events, resource, findings
            )
        return span, findings

    def enforce_all(
        self, spans: Sequence[ReadableSpan]
    ) -> tuple[list[ReadableSpan], list[Finding], int]:
        """(the spans to export, findings, spans dropped): `enforce` over a batch.

        A span the policy fails on is dropped (fail closed) and logged.  The
        clean path is `enforce`'s, written out in the loop: a batch pays one
        call, not one per span.
        """
        checker = self._checker
        dirty_keys, clean_names = checker.dirty_keys, checker.clean_names
        enforce = self.enforce
        out: list[ReadableSpan] = []
        keep = out.append
        found: list[Finding] = []
        dropped = 0
        # the last resource seen and its redacted version (None if clean): a pair
        # checked together, read again after each span `enforce` looked at
        seen, sanitized = self._resource
        for span in spans:
            try:
                attributes = span._attributes
                try:  # noqa: SIM105 - see enforce
                    attributes = attributes._dict
                except AttributeError:
                    pass
                events = span._events
                try:
                    has_events = events._dq
                except AttributeError:
                    has_events = events
                name = span._name
                if (
                    (not attributes or not dirty_keys(attributes))
                    and type(name) is str
                    and (name in clean_names or checker.name_violation(name) is None)
                    and not has_events
                    and span._resource is seen
                    and sanitized is None
                ):
                    keep(span)
                    continue
                checked, span_findings = enforce(span)
                seen, sanitized = self._resource
            except Exception:
                dropped += 1
                logger.exception("tracehound attribute policy failed on span %r; span dropped",
                                 getattr(span, "name", None))
                continue
            keep(checked)
            if span_findings:
                found += span_findings
        return out, found, dropped

    def _rewrite(
        self,
        span: ReadableSpan,
        attributes: Any,
        dirty: Mapping[str, Any],
        name_violation: Any,
        dirty_events: Mapping[int, Any],
        resource: Resource,
        findings: Sequence[Finding],
    ) -> tuple[ReadableSpan, Sequence[Finding]]:
        policy, checker = self.policy, self.policy.checker
        context = span.context
        ids = {
            "trace_id": format(context.trace_id, "032x") if context else None,
            "span_id": format(context.span_id, "016x") if context else None,
            "service": _service(resource),
        }
        name, status = span._name, span._status
        rewrite = rewrite_attributes(
            checker, attributes, dirty, server_side=span.kind in _SERVER_SIDE
        )
        applied, redacted = list(rewrite.applied), list(rewrite.redacted)
        findings = list(findings)
        scope = span.instrumentation_scope.name if span.instrumentation_scope else None
        for applied_violation, action in applied:
            violation = applied_violation
            if violation.code == "A006" and violation.key in LEGACY_KEYS:
                # worded for the instrumentation that set it (OTel's own: an opt-in, no rename)
                legacy = LEGACY_KEYS[violation.key]
                message = describe_legacy(violation.key, legacy, scope)
                violation = violation._replace(message=message)
            findings.append(policy.finding(violation, span_name=name, action=action, **ids))
        if name_violation is _NOT_TEXT:
            name, name_violation = _as_text(name), None
        if name_violation is not None:
            action = policy.action("A007")
            findings.append(policy.finding(name_violation, span_name=name, action=action, **ids))
            if action is Action.FIX and name_violation.suggestion:
                name = name_violation.suggestion
        if rewrite.error_description is not None and status.status_code is StatusCode.UNSET:
            status = Status(StatusCode.ERROR, rewrite.error_description)
        events: Any = span._events
        if dirty_events:
            new_events = list(events)
            for index, event_dirty in dirty_events.items():
                event = new_events[index]
                event_attributes = _plain(event._attributes)
                event_rewrite = rewrite_attributes(
                    checker, event_attributes, event_dirty, prefix=f"{event.name}/"
                )
                redacted.extend(event_rewrite.redacted)
                for violation, action in event_rewrite.applied:
                    findings.append(
                        policy.finding(
                            violation,
                            span_name=span._name,
                            action=action,
                            scope=f"event {event.name!r}",
                            **ids,
                        )
                    )
                frozen = _frozen_attributes(event_rewrite.attributes, event._attributes)
                new_events[index] = Event(event.name, frozen, event.timestamp)
            events = BoundedList.from_seq(None, new_events)
            events.dropped = getattr(span._events, "dropped", 0)
        new_attributes = rewrite.attributes
        if redacted:
            new_attributes[REDACTED_ATTRIBUTE] = tuple(redacted)
        bounded = _frozen_attributes(new_attributes, span._attributes)
        copy = ReadableSpan(
            name=name,
            context=context,
            parent=span.parent,
            resource=resource,
            attributes=bounded,
            events=events,
            links=span._links,
            kind=span.kind,
            status=status,
            start_time=span.start_time,
            end_time=span.end_time,
            instrumentation_info=getattr(span, "_instrumentation_info", None),
            instrumentation_scope=span.instrumentation_scope,
        )
        return copy, findings

    def _resource_for(self, resource: Resource) -> tuple[Resource, list[Finding]]:
        """The resource to export (secrets redacted), with findings the first time it is seen."""
        known = self._resources.get(id(resource))
        findings: list[Finding] = []
        if known is not None and known[0] is resource:
            sanitized = known[1]
        else:
            sanitized, findings = self._check_resource(resource)
            with self._lock:
                if len(self._resources) >= 64:
                    self._resources.clear()
                self._resources[id(resource)] = (resource, sanitized)
        self._resource = (resource, sanitized)
        return sanitized or resource, findings

    def _check_resource(self, resource: Resource) -> tuple[Resource | None, list[Finding]]:
        checker, policy = self.policy.checker, self.policy
        attributes = dict(resource.attributes)
        dirty = checker.secret_keys(attributes)
        if not dirty:
            return None, []
        rewrite = rewrite_attributes(checker, attributes, dirty)
        service = _service(resource)
        findings = [
            policy.finding(v, action=a, service=service, scope="resource")
            for v, a in rewrite.applied
        ]
        return Resource(rewrite.attributes, resource.schema_url), findings


def _dirty_events(checker: Any, events: Sequence[Event]) -> dict[int, Any]:
    dirty = {}
    for index, event in enumerate(events):
        found = checker.secret_keys(_plain(event._attributes))
        if found:
            dirty[index] = found
    return dirty


def _frozen_attributes(attributes: dict[str, Any], original: Any) -> BoundedAttributes:
    """Immutable attributes keeping the original's dropped count.

    The values already went through OpenTelemetry's cleaning (or are our
    markers), so they are set directly, as ``BoundedAttributes.__deepcopy__``
    does: cleaning them again would cost more than the whole policy.
    """
    frozen = BoundedAttributes(None, None, immutable=True)
    frozen._dict = attributes
    frozen.dropped = getattr(original, "dropped", 0)
    return frozen


def _service(resource: Resource | None) -> str | None:
    name = resource.attributes.get("service.name") if resource is not None else None
    return name if isinstance(name, str) else None
