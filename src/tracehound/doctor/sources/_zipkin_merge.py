"""Zipkin span fragments: parts of one span reported separately, merged as Zipkin does.

A Zipkin tracer may report one span in pieces (the span with its kind and
times, and later a record of the same span carrying what arrived late).
Zipkin merges records of one span ID when it reads a trace: records with the
same ``shared`` flag whose local endpoints agree (service name, IPv4, IPv6 and
port, each where both records give it).  Records that differ there are
distinct spans: a client and its shared server, several servers on different
hosts answering one message.  Two records that each carry a different start
time are two spans too (a reused ID, reported as such), not pieces of one.
This reader applies the same rule, and marks a SERVER record that shares its
CLIENT's ID as shared when the flag is missing, as Zipkin does.

One step further than Zipkin's merge: a record without ``kind`` and without the
``shared`` flag that no record of its side took (its endpoint agrees with no
unshared record) is merged into the one shared record whose endpoint and start
time it agrees with.  ``shared`` describes a server span; a record that does not
say which side it is on cannot deny being the server's, and its endpoint says it
is (SmartThings' Brave reports the server's name and endpoint apart from the
shared SERVER record).  Zipkin keeps it as a second span of that ID, which its
own tree then drops (it keys unshared spans by ID alone, and the CLIENT has it).
"""

from __future__ import annotations

from typing import Any

__all__ = ["FRAGMENT", "merge_fragments"]

FRAGMENT = "each completes another record of the same span (Zipkin reports a span in pieces)"
"""Why a record merged into another is not a row of its own (counted as merged)."""

_ENDPOINT_FIELDS = ("serviceName", "ipv4", "ipv6", "port")


def merge_fragments(spans: list[Any]) -> tuple[list[Any], set[int]]:
    """``spans`` with fragments merged into the first record of their span (merged
    records become ``None``), and the indexes of the records merged away."""
    by_id: dict[tuple[str, str], list[tuple[int, dict[str, Any]]]] = {}
    out = list(spans)
    merged_away: set[int] = set()
    for index, span in enumerate(spans):
        if not isinstance(span, dict):
            continue
        trace_id, span_id = span.get("traceId"), span.get("id")
        if not isinstance(trace_id, str) or not isinstance(span_id, str):
            continue
        known = by_id.setdefault((trace_id, span_id), [])
        for first, endpoint in known:
            if (
                bool(out[first].get("shared")) == bool(span.get("shared"))
                and _same_time(out[first], span)
                and _agree(endpoint, span.get("localEndpoint"))
            ):
                out[first] = _merged(out[first], span)
                merged_away.add(index)
                out[index] = None
                break
        else:
            known.append((index, _endpoint(span.get("localEndpoint"))))
    for records in by_id.values():
        if len(records) > 1:
            _merge_sideless(out, [index for index, _ in records], merged_away)
    return out, merged_away


def _merge_sideless(out: list[Any], indexes: list[int], merged_away: set[int]) -> None:
    """Merge each record of one span ID that names no kind and no ``shared`` flag
    into the one shared record it can be part of (see the module's docstring)."""
    for index in indexes:
        part = out[index]
        if part is None or part.get("kind") is not None or part.get("shared"):
            continue
        endpoint = _endpoint(part.get("localEndpoint"))
        sides = [
            other
            for other in indexes
            if other != index
            and out[other] is not None
            and out[other].get("shared")
            and _same_time(out[other], part)
            and _agree(dict(endpoint), out[other].get("localEndpoint"))
        ]
        if len(sides) == 1:
            out[sides[0]] = _merged(out[sides[0]], part)
            merged_away.add(index)
            out[index] = None


def _same_time(one: dict[str, Any], other: dict[str, Any]) -> bool:
    """Whether two records can be one span by their start times (one of them has none)."""
    mine, theirs = one.get("timestamp"), other.get("timestamp")
    return mine in (None, 0) or theirs in (None, 0) or mine == theirs


def _endpoint(value: Any) -> dict[str, Any]:
    """The fields of an endpoint that identify it (see `_agree`); kept up to date as
    fragments fill them in."""
    if not isinstance(value, dict):
        return {}
    return {f: value[f] for f in _ENDPOINT_FIELDS if value.get(f) not in (None, "", 0)}


def _agree(known: dict[str, Any], value: Any) -> bool:
    """Whether endpoint ``value`` can be the same as ``known`` (and ``known`` then
    takes the fields only ``value`` gives)."""
    other = _endpoint(value)
    if any(f in known and known[f] != v for f, v in other.items()):
        return False
    for f, v in other.items():
        known.setdefault(f, v)
    return True


def _merged(whole: dict[str, Any], part: dict[str, Any]) -> dict[str, Any]:
    """``whole`` with what it lacks taken from ``part``; tags and annotations united."""
    out = dict(whole)
    for field, value in part.items():
        mine = out.get(field)
        if field == "tags" and isinstance(value, dict):
            out["tags"] = {**value, **mine} if isinstance(mine, dict) else dict(value)
        elif field == "annotations" and isinstance(value, list):
            out["annotations"] = (mine if isinstance(mine, list) else []) + value
        elif field == "localEndpoint" and isinstance(value, dict) and isinstance(mine, dict):
            out["localEndpoint"] = {**value, **mine}
        elif mine in (None, "", {}, []):
            out[field] = value
    return out
