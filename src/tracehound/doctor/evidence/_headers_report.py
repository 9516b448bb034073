"""``tracehound headers``: explain the trace headers of a request, or of every request in
files of HTTP evidence.

Typed-in headers (``-H 'name: value'``, or a file of ``name: value`` lines) are one
request.  A file (or standard input) that is HTTP evidence -- a capture, a HAR file,
a ``curl -v`` transcript, an access log (`tracehound.doctor.evidence.http`) -- is
explained request by request, then the hops it shows (P005, P007) as ``tracehound
check`` would find them from the files alone.  A file and standard input are read
the same way, as bytes split at line feeds.  Typed-in use needs no extra; files of
evidence need the doctor's.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO

from tracehound.formats import Format, Inbound, read_headers
from tracehound.rules import Severity, get_rule

__all__ = ["HeaderSyntaxError", "describe", "parse_header_lines", "run_headers", "to_json"]


class HeaderSyntaxError(ValueError):
    """A header line that is not ``name: value``; names the input and line."""


def parse_header_lines(lines: Iterable[str], source: str) -> list[tuple[str, str]]:
    """``name: value`` lines (typed in, or the ``> `` lines of ``curl -v``) to pairs.

    A request line (``GET / HTTP/1.1``), blank lines, ``#`` comments, the ``> ``
    prefix of ``curl -v``, and its ``*`` notes, ``<`` answer lines (response
    headers are not request headers) and ``{ [data]`` notes are skipped.
    """
    pairs: list[tuple[str, str]] = []
    for number, raw in enumerate(lines, 1):
        line = raw.rstrip("\r\n")
        if line.startswith(("*", "<", "{ [", "} [")):
            continue
        if line.startswith("> "):
            line = line[2:]
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or stripped == ">":
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


def _read_all(name: str) -> bytes:
    """The bytes of a file, or of standard input for ``-`` (`OSError` when unreadable)."""
    if name == "-":
        if sys.stdin is None:
            raise OSError("standard input is closed")
        return sys.stdin.buffer.read()
    return Path(name).read_bytes()


def run_headers(
    typed: Sequence[str],
    files: Sequence[str],
    out: TextIO,
    err: TextIO,
    *,
    as_json: bool = False,
    log_format: str | None = None,
) -> int:
    """The ``headers`` command: 0, 1 (an error finding) or 2 (unusable input)."""
    given = None
    if log_format:
        from tracehound.doctor.evidence.http import LogFormatError, parse_log_format

        try:
            given = parse_log_format(log_format)
        except LogFormatError as exc:
            err.write(f"tracehound headers: --log-format: {exc}\n")
            return 2
    pairs: list[tuple[str, str]] = []
    evidence: list[tuple[str, bytes]] = []
    try:
        for index, item in enumerate(typed, 1):
            pairs.extend(parse_header_lines([item], f"-H #{index}"))
        for name in files:
            label = "<stdin>" if name == "-" else name
            try:
                data = _read_all(name)
            except OSError as exc:
                err.write(f"tracehound headers: cannot read {label}: {exc.strerror or exc}\n")
                return 2
            if _is_evidence(data, given):
                evidence.append((label, data))
            else:
                lines = [line.decode("utf-8", "replace") for line in data.split(b"\n")]
                pairs.extend(parse_header_lines(lines, label))
    except HeaderSyntaxError as exc:
        err.write(f"tracehound headers: {exc}\n")
        return 2
    if not pairs and not evidence:
        err.write(
            "tracehound headers: no headers given; use -H 'name: value', a file of "
            "'name: value' lines, or a capture, HAR file, curl -v transcript or access log "
            "(- for stdin)\n"
        )
        return 2
    status = describe(pairs, out, as_json=as_json) if pairs and not evidence else 0
    if evidence:
        from tracehound.doctor.evidence._headers_files import explain_files

        status = max(
            status, explain_files(evidence, pairs, out, err, as_json=as_json, log_format=given)
        )
    return status


def _is_evidence(data: bytes, given: Any = None) -> bool:
    """Whether ``data`` is a capture, HAR, ``curl -v`` transcript or access log (needs the
    doctor's extra; without it, only typed-in header lines are read)."""
    try:
        from tracehound.doctor.evidence import http
    except ModuleNotFoundError:
        return data[:4] in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x0a\x0d\x0d\x0a")
    return http.detect(data[: http.SNIFF], given) is not None
