"""W3C Trace Context: ``traceparent`` and ``tracestate`` (Level 1, Level 2 key grammar).

Follows https://www.w3.org/TR/trace-context/ to the letter:

* version ``00``: exactly 55 characters, lowercase hex, IDs not all zeros;
* a higher version: at least 55 characters, the version-00 fields parsed from
  the front, and the flags followed by the end or a ``-``; version ``ff`` is
  invalid;
* several ``traceparent`` fields on one request are invalid (the receiver
  restarts the trace); several ``tracestate`` fields are combined with ``,``;
* ``tracestate``: at most 32 list-members, keys per the Level 2 grammar,
  values of printable ASCII without ``,``/``=`` and no trailing space, empty
  members allowed, each key once.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import NamedTuple

from tracehound.formats._types import Format, Rejection, TraceContext, shorten

__all__ = [
    "TRACEPARENT",
    "TRACESTATE",
    "TraceState",
    "format_traceparent",
    "format_tracestate",
    "parse_traceparent",
    "parse_traceparent_fields",
    "parse_tracestate",
]

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"

MAX_TRACESTATE_MEMBERS = 32
MIN_PROPAGATED_TRACESTATE = 512
"""Characters of a combined ``tracestate`` a vendor SHOULD propagate."""
LARGE_TRACESTATE_ENTRY = 128
"""Entries longer than this are removed first when ``tracestate`` must be truncated."""

_V00 = re.compile(r"00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}")
_TRACECONTEXT = Format.TRACECONTEXT
_make_context = functools.partial(tuple.__new__, TraceContext)  # C-level, no length check
_HEX = frozenset("0123456789abcdefABCDEF")
_LOWER_HEX = frozenset("0123456789abcdef")
_OWS = (" ", "\t")
_KEY = re.compile(r"[a-z0-9][a-z0-9_\-*/@]{0,255}")
_VALUE = re.compile(r"[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]")
_MEMBER = re.compile(f"({_KEY.pattern})=({_VALUE.pattern})")


def parse_traceparent(value: str) -> TraceContext | Rejection:
    """Parse one ``traceparent`` field value (surrounding OWS is ignored, as RFC 7230 says)."""
    if _V00.fullmatch(value) is not None:
        trace_id = int(value[3:35], 16)
        span_id = int(value[36:52], 16)
        if trace_id and span_id:
            flags = int(value[53:55], 16)
            # tuple.__new__ skips the generated __new__: this runs once per request.
            return _make_context(
                (_TRACECONTEXT, trace_id, span_id, flags, bool(flags & 1), False, None, 0)
            )
    if value[:1] in _OWS or value[-1:] in _OWS:
        stripped = value.strip(" \t")
        if stripped and stripped != value:
            return parse_traceparent(stripped)
    if value[:2] != "00":
        future = parse_future_version(value)
        if future is not None:
            return future
    return _diagnose(value)


def parse_traceparent_fields(values: Sequence[str]) -> TraceContext | Rejection | None:
    """Parse the ``traceparent`` fields of one request (``None`` when there are none).

    More than one field, or one field that a proxy combined with ``,``, is a
    rejection: W3C asks the receiver to restart the trace rather than guess.
    """
    if not values:
        return None
    if len(values) > 1:
        joined = ",".join(values)
        return Rejection(
            TRACEPARENT,
            shorten(joined),
            f"{len(values)} traceparent header fields on one request; "
            "exactly one is allowed, so the receiver must start a new trace",
        )
    value = values[0]
    if "," in value:
        return Rejection(
            TRACEPARENT,
            shorten(value),
            "several traceparent values combined with ',' (the header was sent more "
            "than once); exactly one is allowed, so the receiver must start a new trace",
        )
    return parse_traceparent(value)


def _diagnose(raw: str) -> Rejection:
    """Say exactly why ``raw`` is not a usable ``traceparent``."""
    value = raw
    shown = shorten(raw)

    def reject(reason: str) -> Rejection:
        return Rejection(TRACEPARENT, shown, reason)

    if not value.strip(" \t"):
        return reject("the value is empty")
    if len(value) < 3 or value[2] != "-" or not _is_hex(value[:2]):
        return reject("the version must be 2 hex digits followed by '-'")
    version_text = value[:2]
    if version_text in {"ff", "FF"}:
        return reject("version ff is forbidden")
    if not _is_lower_hex(version_text):
        return reject(f"upper-case hex is not allowed in the version ({version_text!r})")
    version = int(version_text, 16)
    if version == 0:
        parts = value.split("-")
        if len(parts) != 4:
            return reject(
                f"version 00 has 4 fields separated by '-', found {len(parts)}"
                + (
                    " (fields after the flags are only allowed in later versions)"
                    if len(parts) > 4
                    else ""
                )
            )
        _, trace, span, flags = parts
        problem = (
            _check_id("trace-id", trace, 32, strict_case=True)
            or _check_id("parent-id", span, 16, strict_case=True)
            or _check_flags(flags, strict_case=True)
        )
        return reject(problem or "not a valid version 00 traceparent")
    # A future version: parse the version-00 prefix, ignore what follows.
    if len(value) < 55:
        return reject(
            f"version {version_text} is shorter than 55 characters ({len(value)}); "
            "a future version must begin with the version 00 fields"
        )
    if value[35] != "-" or value[52] != "-":
        return reject(
            f"version {version_text}: fields are not separated by '-' at the "
            "positions version 00 defines"
        )
    if len(value) > 55 and value[55] != "-":
        return reject(
            f"version {version_text}: the flags must be followed by the end of the value or '-'"
        )
    problem = (
        _check_id("trace-id", value[3:35], 32, strict_case=True)
        or _check_id("parent-id", value[36:52], 16, strict_case=True)
        or _check_flags(value[53:55], strict_case=True)
    )
    return reject(problem or "not a valid traceparent")


def parse_future_version(value: str) -> TraceContext | None:
    """A higher-version ``traceparent`` read through its version-00 prefix."""
    if len(value) < 55 or value[2] != "-" or value[35] != "-" or value[52] != "-":
        return None
    version_text = value[:2]
    if version_text in ("00", "ff") or not _is_lower_hex(version_text):
        return None
    if len(value) > 55 and value[55] != "-":
        return None
    trace, span, flags = value[3:35], value[36:52], value[53:55]
    if not (_is_lower_hex(trace) and _is_lower_hex(span) and _is_lower_hex(flags)):
        return None
    trace_id, span_id, trace_flags = int(trace, 16), int(span, 16), int(flags, 16)
    if not trace_id or not span_id:
        return None
    return TraceContext(
        Format.TRACECONTEXT,
        trace_id,
        span_id,
        trace_flags,
        sampled=bool(trace_flags & 1),
        version=int(version_text, 16),
    )


def _check_id(name: str, text: str, digits: int, *, strict_case: bool) -> str | None:
    if len(text) != digits:
        return f"{name} has {len(text)} characters, {digits} lowercase hex digits are required"
    if not _is_hex(text):
        bad = next(c for c in text if c not in _HEX)
        return f"{name} contains {bad!r}, only lowercase hex digits are allowed"
    if strict_case and not _is_lower_hex(text):
        return f"upper-case hex is not allowed in the {name}"
    if int(text, 16) == 0:
        return f"{name} is all zeros"
    return None


def _check_flags(text: str, *, strict_case: bool) -> str | None:
    if len(text) != 2 or not _is_hex(text):
        return f"trace-flags must be 2 hex digits, got {text!r}"
    if strict_case and not _is_lower_hex(text):
        return "upper-case hex is not allowed in the trace-flags"
    return None


def _is_hex(text: str) -> bool:
    return bool(text) and _HEX.issuperset(text)


def _is_lower_hex(text: str) -> bool:
    return bool(text) and _LOWER_HEX.issuperset(text)


def format_traceparent(trace_id: int, span_id: int, trace_flags: int) -> str:
    """The version 00 ``traceparent`` for these IDs (only defined flag bits kept)."""
    return f"00-{trace_id:032x}-{span_id:016x}-{trace_flags & 0xFF:02x}"


# -- tracestate ----------------------------------------------------------------


class TraceState(NamedTuple):
    """A parsed ``tracestate``: the members to propagate and what was wrong.

    When ``rejection`` is set the whole header was discarded (W3C: a vendor
    that failed to parse ``tracestate`` must not propagate it) and
    ``members`` is empty.
    """

    members: tuple[tuple[str, str], ...] = ()
    rejection: Rejection | None = None
    notes: tuple[str, ...] = ()
    """Non-fatal remarks: duplicate keys resolved, oversized entries."""


_EMPTY = TraceState()


def parse_tracestate(values: Sequence[str]) -> TraceState:
    """Parse the ``tracestate`` fields of one request (combined per RFC 7230)."""
    combined = values[0] if len(values) == 1 else ",".join(values)
    if not combined or not combined.strip(" \t,"):
        return _EMPTY
    members: list[tuple[str, str]] = []
    seen: dict[str, str] = {}
    notes: list[str] = []
    for raw in combined.split(","):
        member = raw.strip(" \t")
        if not member:
            continue  # empty list-members are allowed
        match = _MEMBER.fullmatch(member)
        if match is None:
            return _reject_state(combined, _member_problem(member))
        key, value = match.group(1, 2)
        if key in seen:
            if seen[key] != value:
                notes.append(f"key {key!r} appears more than once; the first value is kept")
            else:
                notes.append(f"key {key!r} appears more than once with the same value")
            continue
        seen[key] = value
        members.append((key, value))
        if len(members) > MAX_TRACESTATE_MEMBERS:
            # Stop here: a huge header must not cost a parse of every member.
            total = sum(1 for m in combined.split(",") if m.strip(" \t"))
            return _reject_state(
                combined, f"{total} list-members, at most {MAX_TRACESTATE_MEMBERS} are allowed"
            )
    return TraceState(tuple(members), None, tuple(notes))


def _reject_state(combined: str, reason: str) -> TraceState:
    return TraceState((), Rejection(TRACESTATE, shorten(combined), reason))


def _member_problem(member: str) -> str:
    key, eq, value = member.partition("=")
    if not eq:
        return f"list-member {shorten(member, 40)!r} has no '='"
    if not _KEY.fullmatch(key):
        return _key_problem(key)
    return _value_problem(key, value)


def _key_problem(key: str) -> str:
    if not key:
        return "a list-member has an empty key"
    if len(key) > 256:
        return f"key of {len(key)} characters, at most 256 are allowed"
    if key != key.lower():
        return f"key {shorten(key, 40)!r} has upper-case letters; keys are lowercase"
    if not (key[0].isascii() and (key[0].islower() or key[0].isdigit())):
        return f"key {shorten(key, 40)!r} must begin with a lowercase letter or a digit"
    bad = next((c for c in key if not re.fullmatch(r"[a-z0-9_\-*/@]", c)), "?")
    return f"key {shorten(key, 40)!r} contains {bad!r}; allowed are a-z 0-9 _ - * / @"


def _value_problem(key: str, value: str) -> str:
    if not value:
        return f"key {shorten(key, 40)!r} has an empty value"
    if len(value) > 256:
        return f"value of {key!r} has {len(value)} characters, at most 256 are allowed"
    if value.endswith(" "):
        return f"value of {key!r} ends with a space"
    bad = next((c for c in value if not ("\x20" <= c <= "\x7e") or c in ",="), "?")
    return f"value of {shorten(key, 40)!r} contains {bad!r}; printable ASCII except ',' '='"


def format_tracestate(
    members: Sequence[tuple[str, str]], limit: int = MIN_PROPAGATED_TRACESTATE
) -> str:
    """Serialise ``members``, truncated per W3C when longer than ``limit``.

    Truncation removes whole entries: those over 128 characters first, then
    from the end of the list.
    """
    entries = [f"{k}={v}" for k, v in members[:MAX_TRACESTATE_MEMBERS]]
    header = ",".join(entries)
    if len(header) <= limit:
        return header
    entries = [e for e in entries if len(e) <= LARGE_TRACESTATE_ENTRY]
    while entries and len(",".join(entries)) > limit:
        entries.pop()
    return ",".join(entries)
