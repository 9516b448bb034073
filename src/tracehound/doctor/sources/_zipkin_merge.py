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
"""

from __future__ import annotations

from typing import Any

__all__ = ["FRAGMENT", "merge_fragments"]

FRAGMENT = "a record completing another record of the same span (Zipkin fragments): merged"
"""Why a record merged into another is not a row of its own."""

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
    return out, merged_away


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
