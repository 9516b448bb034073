"""W3C Baggage (``baggage`` header) and Jaeger baggage (``uberctx-*``, ``jaeger-baggage``).

Baggage is not part of the trace identity, so a bad member is skipped and
noted rather than failing the whole header.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple
from urllib.parse import quote, unquote

from tracehound.formats._types import shorten

__all__ = [
    "BAGGAGE",
    "JAEGER_BAGGAGE",
    "JAEGER_BAGGAGE_PREFIX",
    "Baggage",
    "format_baggage",
    "parse_baggage",
    "parse_jaeger_baggage",
]

BAGGAGE = "baggage"
JAEGER_BAGGAGE_PREFIX = "uberctx-"
JAEGER_BAGGAGE = "jaeger-baggage"
"""Jaeger's ad-hoc header: ``k1=v1, k2=v2`` (used with debug requests)."""

MAX_MEMBERS = 180
"""OpenTelemetry's limit; W3C asks for at least 64 list-members."""
MAX_BYTES = 8192
MAX_MEMBER_BYTES = 4096

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_VALUE = re.compile(r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*")


class Baggage(NamedTuple):
    """Parsed baggage: ``entries`` maps keys to decoded values; ``notes`` lists what was skipped."""

    entries: tuple[tuple[str, str], ...] = ()
    notes: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, str]:
        return dict(self.entries)


def parse_baggage(values: Sequence[str]) -> Baggage:
    """Parse the ``baggage`` fields of one request (several fields are combined)."""
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
    size = 0
    for raw in combined.split(","):
        member = raw.strip(" \t")
        if not member:
            continue
        size += len(member) + 1
        if size > MAX_BYTES:
            break
        if len(entries) >= MAX_MEMBERS:
            notes.append(f"more than {MAX_MEMBERS} members; the rest are dropped")
            break
        if len(member) > MAX_MEMBER_BYTES:
            notes.append(f"member of {len(member)} characters over {MAX_MEMBER_BYTES} skipped")
            continue
        pair = member.split(";", 1)[0]  # properties are metadata, not part of the value
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
        entries[key] = unquote(value, errors="replace")
    return Baggage(tuple(entries.items()), tuple(notes))


def format_baggage(entries: Iterable[tuple[str, object]]) -> str:
    """The ``baggage`` header for these entries; invalid keys are left out."""
    parts: list[str] = []
    size = 0
    for key, value in entries:
        if not _TOKEN.fullmatch(key):
            continue
        part = f"{key}={quote(str(value), safe='')}"
        if size + len(part) + 1 > MAX_BYTES or len(parts) >= MAX_MEMBERS:
            break
        parts.append(part)
        size += len(part) + 1
    return ",".join(parts)


def parse_jaeger_baggage(headers: Mapping[str, str]) -> Baggage:
    """Jaeger baggage from lower-cased headers: ``uberctx-<key>`` and ``jaeger-baggage``."""
    entries: dict[str, str] = {}
    notes: list[str] = []
    for name, value in headers.items():
        if name.startswith(JAEGER_BAGGAGE_PREFIX):
            key = name[len(JAEGER_BAGGAGE_PREFIX) :]
            if key:
                entries[key] = unquote(value, errors="replace")
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
