"""W3C Baggage (``baggage`` header) and Jaeger baggage (``uberctx-*``, ``jaeger-baggage``).

Baggage is not part of the trace identity, so a bad member is skipped and
noted rather than failing the whole header.

Read as the peers write it: values and keys are percent-decoded and ``+``
is a space (OpenTelemetry Python writes spaces as ``+``; Java, Go and JS
write ``%20``); ``;properties`` are kept on the value (`BaggageValue`) and
written back on inject, as OpenTelemetry Java, Go and JS do.  Written so
that every peer reads it back unchanged: spaces as ``%20``, ``+`` as
``%2B``, and the limits the readers enforce (a member of at most 4096
bytes, 180 members, 8192 bytes in all) applied before sending, each
dropped entry named (`encode_baggage`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple
from urllib.parse import quote, unquote_plus

from tracehound.formats._types import shorten

__all__ = [
    "BAGGAGE",
    "JAEGER_BAGGAGE",
    "JAEGER_BAGGAGE_PREFIX",
    "Baggage",
    "BaggageValue",
    "EncodedBaggage",
    "encode_baggage",
    "format_baggage",
    "parse_baggage",
    "parse_jaeger_baggage",
]

BAGGAGE = "baggage"
JAEGER_BAGGAGE_PREFIX = "uberctx-"
JAEGER_BAGGAGE = "jaeger-baggage"
"""Jaeger's ad-hoc header: ``k1=v1, k2=v2`` (used with debug requests)."""

MAX_MEMBERS = 180
"""OpenTelemetry's limit (Python, Go, Java, JS); W3C asks for at least 64 list-members."""
MAX_BYTES = 8192
MAX_MEMBER_BYTES = 4096

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_VALUE = re.compile(r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*")
_PROPERTY = re.compile(rf"({_TOKEN.pattern})(?:[ \t]*=[ \t]*({_VALUE.pattern}))?")
_KEY_SAFE = "!#$&'*-.^_`|~"
"""Token characters a key keeps as they are (``%`` and ``+`` are encoded: readers decode them)."""


class BaggageValue(str):
    """A baggage value that arrived with W3C properties (``key=value;prop=1;flag``).

    It is the decoded value as a `str` (compares, hashes and prints as the
    value alone); ``properties`` holds the property text, which
    `encode_baggage` writes back after the value.
    """

    properties: str

    def __new__(cls, value: str, properties: str) -> BaggageValue:
        made = super().__new__(cls, value)
        made.properties = properties
        return made

    def __reduce__(self) -> tuple[object, ...]:
        return (BaggageValue, (str(self), self.properties))


class Baggage(NamedTuple):
    """Parsed baggage: ``entries`` maps keys to decoded values; ``notes`` lists what was skipped."""

    entries: tuple[tuple[str, str], ...] = ()
    notes: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, str]:
        return dict(self.entries)


def parse_baggage(values: Sequence[str]) -> Baggage:
    """Parse the ``baggage`` fields of one request (several fields are combined).

    Members that end past 8192 bytes of the combined header, members past
    the 180th and members over 4096 bytes are dropped, each noted.
    """
    combined = ",".join(values)
    if not combined.strip():
        return Baggage()
    notes: list[str] = []
    if len(combined.encode("utf-8", "replace")) > MAX_BYTES:
        notes.append(
            f"baggage of {len(combined)} characters is over {MAX_BYTES} bytes; "
            "members past the limit are dropped"
        )
    entries: dict[str, str] = {}
    end = -1  # where the current member ends in the combined header
    for raw in combined.split(","):
        end += len(raw) + 1
        member = raw.strip(" \t")
        if not member:
            continue
        if end > MAX_BYTES:
            break
        if len(entries) >= MAX_MEMBERS:
            notes.append(f"more than {MAX_MEMBERS} members; the rest are dropped")
            break
        if len(member) > MAX_MEMBER_BYTES:
            notes.append(f"member of {len(member)} characters over {MAX_MEMBER_BYTES} skipped")
            continue
        pair, _, properties = member.partition(";")
        key, eq, value = pair.partition("=")
        key, value = key.strip(" \t"), value.strip(" \t")
        if not eq or not _TOKEN.fullmatch(key):
            notes.append(
                f"member {shorten(member, 40)!r} skipped: key must be an RFC 7230 token "
                "followed by '='"
            )
            continue
        if not _VALUE.fullmatch(value):
            notes.append(
                f"member {key!r} skipped: value has characters that must be percent-encoded"
            )
            continue
        name = unquote_plus(key, errors="replace") if "%" in key or "+" in key else key
        decoded = unquote_plus(value, errors="replace") if "%" in value or "+" in value else value
        if properties:
            kept = _properties(properties)
            if kept is None:
                notes.append(f"properties of member {key!r} are malformed and dropped")
            elif kept:
                decoded = BaggageValue(decoded, kept)
        entries[name] = decoded
    return Baggage(tuple(entries.items()), tuple(notes))


def _properties(text: str) -> str | None:
    """The properties normalised (``a=1;b``), ``""`` when there are none, ``None`` if malformed."""
    kept = []
    for raw in text.split(";"):
        prop = raw.strip(" \t")
        if not prop:
            continue
        match = _PROPERTY.fullmatch(prop)
        if match is None:
            return None
        key, value = match.group(1, 2)
        kept.append(key if value is None else f"{key}={value}")
    return ";".join(kept)


class EncodedBaggage(NamedTuple):
    """A ``baggage`` header and the entries left out of it, each with the reason."""

    header: str
    dropped: tuple[str, ...] = ()


def encode_baggage(entries: Iterable[tuple[object, object]]) -> EncodedBaggage:
    """The ``baggage`` header for these entries, within the limits every reader enforces.

    Keys that are not RFC 7230 tokens are percent-encoded (OpenTelemetry
    Python decodes them; a token-only reader keeps the encoded name rather
    than dropping the member); an entry that would make a reader drop it (a
    member over 4096 bytes, the 181st member, a header over 8192 bytes) is
    left out and named in ``dropped``.
    """
    parts: list[str] = []
    dropped: list[str] = []
    size = 0
    for key, value in entries:
        if not isinstance(key, str) or not key:
            dropped.append(f"key {key!r}: not a non-empty string")
            continue
        try:
            text = value if isinstance(value, str) else str(value)
        except Exception as exc:  # a value whose str() fails is the caller's bug, not ours
            dropped.append(f"{shorten(key, 40)!r}: str(value) raised {type(exc).__name__}")
            continue
        name = (
            key
            if "%" not in key and "+" not in key and _TOKEN.fullmatch(key)
            else quote(key, safe=_KEY_SAFE, errors="replace")
        )
        part = f"{name}={quote(text, safe='', errors='replace')}"
        properties = getattr(value, "properties", "") if isinstance(value, BaggageValue) else ""
        if properties:
            part = f"{part};{properties}"
        if len(part) > MAX_MEMBER_BYTES:
            dropped.append(
                f"{shorten(key, 40)!r}: {len(part)} bytes encoded, over the "
                f"{MAX_MEMBER_BYTES}-byte limit for one member"
            )
            continue
        if len(parts) >= MAX_MEMBERS:
            dropped.append(f"{shorten(key, 40)!r}: past the {MAX_MEMBERS}-member limit")
            continue
        grown = size + len(part) + (1 if parts else 0)
        if grown > MAX_BYTES:
            dropped.append(f"{shorten(key, 40)!r}: would make the header over {MAX_BYTES} bytes")
            continue
        parts.append(part)
        size = grown
    return EncodedBaggage(",".join(parts), tuple(dropped))


def format_baggage(entries: Iterable[tuple[object, object]]) -> str:
    """The ``baggage`` header for these entries (`encode_baggage` also says what it left out)."""
    return encode_baggage(entries).header


def parse_jaeger_baggage(headers: Mapping[str, str]) -> Baggage:
    """Jaeger baggage from lower-cased headers: ``uberctx-<key>`` and ``jaeger-baggage``."""
    entries: dict[str, str] = {}
    notes: list[str] = []
    for name, value in headers.items():
        if name.startswith(JAEGER_BAGGAGE_PREFIX):
            key = name[len(JAEGER_BAGGAGE_PREFIX) :]
            if key:
                entries[key] = unquote_plus(value, errors="replace").strip()
            else:
                notes.append("header 'uberctx-' has no baggage key after the prefix")
        elif name == JAEGER_BAGGAGE:
            for item in value.split(","):
                key, eq, val = item.strip().partition("=")
                if eq and key:
                    entries[key.strip()] = val.strip()
                elif item.strip():
                    notes.append(f"jaeger-baggage item {shorten(item, 40)!r} has no '='")
    return Baggage(tuple(entries.items()), tuple(notes))
