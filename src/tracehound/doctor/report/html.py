"""One self-contained HTML file: summary, edges, findings, and a waterfall per affected trace.

No scripts, fonts or images are loaded from anywhere: styles are inline and
waterfalls are inline SVG.  Spans carrying a finding are drawn red and
labelled with the rule codes; a broken call and the root that answered it in
another trace are both marked C003.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from tracehound import __version__
from tracehound.doctor._model import Report
from tracehound.rules import Finding

__all__ = ["render"]

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0}td,th{padding:.25em .7em;border-bottom:1px solid #eee;
text-align:left}td.n{text-align:right}.error{color:#b00020}.warning{color:#a86b00}.info{color:#0060a0}
.fix{color:#555;margin:.2em 0 1em 1em}.muted{color:#777}code{background:#f4f4f4;padding:0 .2em}
svg text{font:11px system-ui,sans-serif}details{margin:.4em 0}
"""
_PALETTE = ("#4e79a7", "#59a14f", "#9c755f", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#bab0ac")
_ROW = 18
_WIDTH = 1100
_LABEL = 330


def render(report: Report, *, examples: int = 20) -> str:
    """The whole HTML document."""
    parts = [
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>",
        "<title>tracehound check</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>tracehound check</h1>",
        _summary(report),
        _input_problems(report),
        _edges(report),
        _findings(report, examples),
        _waterfalls(report),
        f"<p class=muted>tracehound {escape(__version__)}</p></body></html>",
    ]
    return "\n".join(p for p in parts if p)


def _summary(report: Report) -> str:
    by = Counter(str(f.severity) for f in report.findings)
    rows = [
        ("inputs", str(len(report.inputs))),
        (
            "spans",
            f"{report.spans_read} read = {report.spans_analysed} analysed + "
            f"{report.spans_rejected} rejected",
        ),
        ("traces", f"{report.traces} across {len(report.services)} services"),
        ("findings", ", ".join(f"{by[s]} {s}" for s in ("error", "warning", "info"))),
    ]
    body = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def _input_problems(report: Report) -> str:
    if not report.errors and not report.rejections:
        return ""
    items = [f"<li>{escape(str(e))}</li>" for e in report.errors]
    items += [
        f"<li>{r.count} spans rejected: {escape(r.reason)} (first at {escape(r.example)})</li>"
        for r in report.rejections
    ]
    return "<h2>Input problems</h2><ul>" + "".join(items) + "</ul>"


def _edges(report: Report) -> str:
    if not report.edges:
        return ""
    head = "".join(
        f"<th>{h}</th>"
        for h in ("caller → callee", "calls", "continued", "broken", "break rate", "formats")
    )
    rows = []
    for e in report.edges:
        cls = " class=error" if e.broken else ""
        if not e.callee_seen:
            rows.append(
                f"<tr><td>{escape(e.caller)} → {escape(e.callee)}</td>"
                f"<td class=n>{e.calls}</td><td colspan=4>no span of this peer in the data "
                "(not instrumented, or exporting nowhere): not counted as broken</td></tr>"
            )
            continue
        rows.append(
            f"<tr{cls}><td>{escape(e.caller)} → {escape(e.callee)}</td><td class=n>{e.calls}</td>"
            f"<td class=n>{e.continued}</td><td class=n>{e.broken}</td>"
            f"<td class=n>{e.break_rate:.1%}</td>"
            f"<td>{escape(', '.join(e.formats) or '-')}</td></tr>"
        )
        if e.cause:
            rows.append(
                f"<tr><td colspan=6><b>cause:</b> {escape(e.cause)}<br><b>fix:</b> "
                f"{escape(e.fix or '')}</td></tr>"
            )
    return f"<h2>Edges</h2><table><tr>{head}</tr>{''.join(rows)}</table>"


def _findings(report: Report, examples: int) -> str:
    groups: dict[str, list[Finding]] = defaultdict(list)
    for f in report.findings:
        groups[f.code].append(f)
    if not groups:
        return f"<h2>Findings</h2><p>{escape(report.no_findings_text())}</p>"
    out = ["<h2>Findings</h2>"]
    for items in sorted(groups.values(), key=lambda fs: (-fs[0].severity, -len(fs))):
        rule = items[0].rule
        sev = str(rule.severity)
        out.append(
            f"<details open><summary><b class={sev}>{rule.code} {escape(rule.name)}</b> "
            f"({sev}) × {len(items)}: {escape(rule.summary)}</summary><ul>"
        )
        for f in items[:examples]:
            where = f" <span class=muted>{escape(f.location)}</span>" if f.location else ""
            out.append(f"<li>{escape(f.message)}{where}</li>")
        if len(items) > examples:
            out.append(f"<li class=muted>… and {len(items) - examples} more</li>")
        out.append(f"</ul><div class=fix><b>fix:</b> {escape(rule.fix)}</div></details>")
    return "".join(out)


def _waterfalls(report: Report) -> str:
    if not report.waterfalls:
        return ""
    colors: dict[str, str] = {}
    for service in report.services:
        colors[service] = _PALETTE[len(colors) % len(_PALETTE)]
    out = ["<h2>Affected traces</h2>"]
    for trace_id, spans in report.waterfalls.items():
        out.append(f"<h3>trace <code>{escape(trace_id)}</code></h3>")
        out.append(_svg(spans, colors))
    return "".join(out)


def _ordered(spans: Sequence[Mapping[str, Any]]) -> list[tuple[int, Mapping[str, Any]]]:
    """Spans depth-first from each root (or span whose parent is absent), with depth."""
    ids = {s["span_id"] for s in spans}
    children: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    tops = []
    for s in spans:
        parent = s["parent_span_id"]
        if parent and parent in ids and parent != s["span_id"]:
            children[parent].append(s)
        else:
            tops.append(s)
    out: list[tuple[int, Mapping[str, Any]]] = []
    seen: set[int] = set()
    stack = [(0, s) for s in reversed(tops)]
    while stack:
        depth, span = stack.pop()
        if id(span) in seen:
            continue
        seen.add(id(span))
        out.append((depth, span))
        stack.extend((depth + 1, c) for c in reversed(children.get(span["span_id"], [])))
    return out


def _svg(spans: Sequence[Mapping[str, Any]], colors: Mapping[str, str]) -> str:
    rows = _ordered(spans)
    # a span without a start time (Zipkin allows it) is drawn at the trace's start
    timed = [s for s in spans if s["start_ns"] is not None] or [{"start_ns": 0, "duration_ns": 0}]
    start = min(s["start_ns"] for s in timed)
    end = max(s["start_ns"] + (s["duration_ns"] or 0) for s in timed)
    scale = (_WIDTH - _LABEL - 10) / max(end - start, 1)
    height = _ROW * len(rows) + 4
    parts = [f'<svg width="{_WIDTH}" height="{height}" role="img">']
    for i, (depth, s) in enumerate(rows):
        y = i * _ROW + 2
        x = _LABEL + ((s["start_ns"] if s["start_ns"] is not None else start) - start) * scale
        w = max((s["duration_ns"] or 0) * scale, 2)
        codes = s.get("codes") or []
        fill = "#d62728" if codes else colors.get(s["service"], "#888")
        label = f"{s['service']}: {s['name']}"
        mark = f" ◀ {' '.join(codes)}" if codes else ""
        missing = " (no end)" if s["duration_ns"] is None else ""
        parts.append(
            f'<text x="{4 + depth * 10}" y="{y + 12}">{escape(label[:48])}</text>'
            f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{_ROW - 5}" fill="{fill}">'
            f"<title>{escape(label)} [{escape(s['kind'])}] {escape(s['span_id'])}{missing} "
            f"{escape(s['location'] or '')}</title></rect>"
        )
        if codes or missing:
            parts.append(
                f'<text x="{min(x + w + 4, _WIDTH - 90):.1f}" y="{y + 12}" fill="#d62728">'
                f"{escape((mark + missing).strip())}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)
