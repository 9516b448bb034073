"""``tracehound headers``: read the trace headers of one request and explain them."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

from tracehound.formats import Format, Inbound, read_headers
from tracehound.rules import Severity, get_rule

__all__ = ["HeaderSyntaxError", "describe", "parse_header_lines", "to_json"]


class HeaderSyntaxError(ValueError):
    """A header line that is not ``name: value``; names the input and line."""


def parse_header_lines(lines: Iterable[str], source: str) -> list[tuple[str, str]]:
    """``name: value`` lines (as ``curl -v`` or a proxy log prints them) to pairs.

    A request line (``GET / HTTP/1.1``), blank lines, ``#`` comments and the
    ``> ``/``< `` prefixes of ``curl -v`` are skipped.
    """
    pairs: list[tuple[str, str]] = []
    for number, raw in enumerate(lines, 1):
        line = raw.rstrip("\r\n")
        if line.startswith(("> ", "< ")):
            line = line[2:]
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or stripped in (">", "<"):
            continue
        if " HTTP/" in stripped and ":" not in stripped.split(" ", 1)[0]:
            continue  # request or status line
        name, colon, value = line.partition(":")
        if not colon or not name.strip() or " " in name.strip():
            raise HeaderSyntaxError(
                f"{source}:{number}: expected 'name: value', got {stripped[:80]!r}"
            )
        pairs.append((name.strip(), value.strip(" \t")))
    return pairs


def _context_dict(inbound: Inbound) -> dict[str, Any] | None:
    found = inbound.context
    if found is None:
        return None
    return {
        "format": found.format.value,
        "trace_id": found.trace_id_hex,
        "span_id": found.span_id_hex,
        "sampled": found.sampled,
        "debug": found.debug,
    }


def to_json(inbound: Inbound) -> dict[str, Any]:
    """The stable JSON view of `describe`."""
    return {
        "formats_seen": [f.value for f in inbound.formats_seen],
        "continues": _context_dict(inbound),
        "others": [
            {"format": c.format.value, "trace_id": c.trace_id_hex, "span_id": c.span_id_hex}
            for c in inbound.others
        ],
        "tracestate": [f"{k}={v}" for k, v in inbound.tracestate.members],
        "baggage": dict(inbound.baggage),
        "findings": [
            {
                "code": p.code,
                "name": get_rule(p.code).name,
                "severity": str(get_rule(p.code).severity),
                "header": p.header,
                "message": p.message,
                "fix": get_rule(p.code).fix,
            }
            for p in inbound.problems
        ],
    }


def describe(pairs: Sequence[tuple[str, str]], out: TextIO, *, as_json: bool = False) -> int:
    """Print what a receiver does with these headers; the exit status (1: an error finding)."""
    inbound = read_headers(pairs)
    worst = max((get_rule(p.code).severity for p in inbound.problems), default=None)
    if as_json:
        json.dump(to_json(inbound), out, indent=2)
        out.write("\n")
        return 1 if worst is Severity.ERROR else 0
    seen = ", ".join(f.value for f in inbound.formats_seen) or "none"
    out.write(f"formats on the request: {seen}\n")
    found = inbound.context
    if found is None:
        out.write("result: no usable context - the receiver starts a NEW trace\n")
    else:
        sampled = {True: "sampled", False: "not sampled", None: "sampling deferred"}[found.sampled]
        via = "W3C traceparent" if found.format is Format.TRACECONTEXT else found.format.value
        out.write(
            f"result: continues trace {found.trace_id_hex}, parent span {found.span_id_hex} "
            f"({sampled}), read from {via}\n"
        )
    if inbound.tracestate.members:
        state = ",".join(f"{k}={v}" for k, v in inbound.tracestate.members)
        out.write(f"tracestate kept: {state}\n")
    if inbound.baggage:
        out.write("baggage: " + ", ".join(f"{k}={v}" for k, v in inbound.baggage) + "\n")
    if not inbound.problems:
        out.write("findings: none\n")
    for problem in inbound.problems:
        rule = get_rule(problem.code)
        out.write(f"\n{rule.code} {rule.name} ({rule.severity}) in {problem.header}\n")
        out.write(f"  {problem.message}\n")
        out.write(f"  fix: {rule.fix}\n")
    return 1 if worst is Severity.ERROR else 0
