"""``tracehound headers PATH...`` over files of HTTP evidence: each request, then the hops.

The files are read into a store of their own (`tracehound.doctor.evidence.http`),
every request with trace headers is explained as a typed-in one would be (up to
`SHOWN` per file, the rest counted), and the wire checks run over them alone: the
same P001-P007 findings ``tracehound check`` gives for these files.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from typing import Any, TextIO

from tracehound.doctor.evidence import http
from tracehound.doctor.evidence._headers_report import describe, to_json
from tracehound.formats import read_headers
from tracehound.rules import Severity

__all__ = ["SHOWN", "explain_files"]

SHOWN = 20
"""Requests explained one by one per file (all of them count in the findings)."""

_ROWS = f"""
SELECT Source, "Offset", Method, Target, ClientAddress, ServerAddress,
       [(h.Name, h.Value) FOR h IN Headers]
FROM {http.TABLE} WHERE len(Formats) > 0 ORDER BY Source, TimeUnixNano NULLS LAST, Seq
"""


def explain_files(
    files: Sequence[tuple[str, bytes]],
    typed: Sequence[tuple[str, str]],
    out: TextIO,
    err: TextIO,
    *,
    as_json: bool = False,
    log_format: http.AccessLogFormat | None = None,
) -> int:
    """Explain every request of ``files`` (``(name, content)``); 1 for an error finding."""
    from tracehound.doctor.checks import wire
    from tracehound.doctor.store import Store

    store = Store()
    inputs: list[dict[str, Any]] = []
    try:
        for name, data in files:
            errors: list[dict[str, Any]] = []
            kind = http.detect(data[: http.SNIFF], log_format)
            assert kind is not None  # the caller chose these files for it
            count = http.read_into(
                kind, name, io.BufferedReader(io.BytesIO(data)), store.con,  # type: ignore[arg-type]
                lambda source, position, message, errors=errors: errors.append(
                    {"position": position, "message": message}
                ),
                log_format=log_format,
            )  # fmt: skip
            inputs.append({"source": name, "format": kind.value, "requests": count,
                           "errors": errors})  # fmt: skip
        store.finish()
        rows = store.query(_ROWS)
        findings = wire.check(store).findings
    finally:
        store.close()
    worst = max((f.severity for f in findings), default=None)
    if as_json:
        requests = [
            {"source": src, "position": pos, "method": method, "target": target,
             "client": client, "server": server, **to_json(read_headers(pairs))}
            for src, pos, method, target, client, server, pairs in rows
        ]  # fmt: skip
        document = {"inputs": inputs, "requests": requests,
                    "findings": [f.to_dict() for f in findings]}  # fmt: skip
        if typed:
            document["typed"] = to_json(read_headers(typed))
        json.dump(document, out, indent=2)
        out.write("\n")
    else:
        _text(inputs, rows, findings, typed, out)
    for item in inputs:
        for error in item["errors"]:
            where = f"{item['source']}:{error['position']}" if error["position"] else item["source"]
            err.write(f"tracehound headers: {where}: {error['message']}\n")
    failed = any(item["errors"] and not item["requests"] for item in inputs)
    return 2 if failed else 1 if worst is Severity.ERROR else 0


def _text(inputs: list[dict[str, Any]], rows: list[Any], findings: list[Any],
          typed: Sequence[tuple[str, str]], out: TextIO) -> None:  # fmt: skip
    if typed:
        out.write("typed-in headers:\n")
        describe(typed, out)
        out.write("\n")
    shown: dict[str, int] = {}
    for item in inputs:
        with_headers = sum(1 for r in rows if r[0] == item["source"])
        out.write(
            f"{item['source']}: {item['requests']} requests read ({item['format']}), "
            f"{with_headers} with trace headers\n"
        )
    for src, pos, method, target, client, server, pairs in rows:
        shown[src] = shown.get(src, 0) + 1
        if shown[src] > SHOWN:
            continue
        sender = f" from {client}" if client else ""
        out.write(f"\n{src}:{pos}: {method} {target} to {server or '?'}{sender}\n")
        describe(pairs, _Indented(out))
    for src, count in shown.items():
        if count > SHOWN:
            out.write(f"\n{src}: {count - SHOWN} more requests with trace headers not shown\n")
    none = "" if findings else " none"
    out.write(f"\nfindings over these requests and their hops:{none}\n")
    for f in findings:
        out.write(f"{f.rule.code} {f.rule.name} ({f.rule.severity}): {f.message}\n")


class _Indented:
    """A text stream that indents what is written to it by two spaces."""

    def __init__(self, out: TextIO) -> None:
        self._out = out

    def write(self, text: str) -> int:
        lines = text.split("\n")
        return self._out.write("\n".join(f"  {x}" if x else x for x in lines))
