"""One self-contained HTML file: summary, edges, findings, and a waterfall per affected trace.

No scripts, fonts or images are loaded from anywhere: styles are inline and
waterfalls are inline SVG.  Spans carrying a finding are drawn red and
labelled with the rule codes; a broken call and the root that answered it in
another trace are both marked C003.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from html import escape

from tracehound import __version__
from tracehound.doctor._model import Report
from tracehound.doctor.report._waterfall_svg import FINDING_COLOUR, svg
from tracehound.rules import Finding

__all__ = ["render"]

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0}td,th{padding:.25em .7em;border-bottom:1px solid #eee;
text-align:left}td.n{text-align:right}.error{color:#b00020}.warning{color:#a86b00}.info{color:#0060a0}
.fix{color:#555;margin:.2em 0 1em 1em}.muted{color:#777}code{background:#f4f4f4;padding:0 .2em}
svg text{font:11px system-ui,sans-serif}details{margin:.4em 0}svg a text{text-decoration:underline}
.legend .key{margin-right:1em;white-space:nowrap}.links{margin:.2em 0}
"""
_PALETTE = ("#4e79a7", "#59a14f", "#9c755f", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#bab0ac")


def render(report: Report, *, examples: int = 20) -> str:
    """The whole HTML document."""
    parts = [
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>",
        "<title>tracehound check</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>tracehound check</h1>",
        _summary(report),
        _input_problems(report),
        _input_notes(report),
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
        ("spans", report.spans_text()),
        ("traces", f"{report.traces} across {len(report.services)} services"),
    ]
    if report.log_lines or report.log_rejections:
        rejected = sum(r.count for r in report.log_rejections)
        read = report.log_lines + rejected
        rows.append(
            ("log lines", f"{read} read = {report.log_lines} analysed + {rejected} rejected")
        )
    rows += [
        ("findings", ", ".join(f"{by[s]} {s}" for s in ("error", "warning", "info"))),
    ]
    body = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def _input_problems(report: Report) -> str:
    if not report.errors and not report.rejections and not report.log_rejections:
        return ""
    items = [f"<li>{escape(str(e))}</li>" for e in report.errors]
    items += [
        f"<li>{r.count} spans rejected: {escape(r.reason)} (first at {escape(r.example)})</li>"
        for r in report.rejections
    ]
    items += [
        f"<li>{r.count} log lines rejected: {escape(r.reason)} (first at {escape(r.example)})</li>"
        for r in report.log_rejections
    ]
    return "<h2>Input problems</h2><ul>" + "".join(items) + "</ul>"


def _input_notes(report: Report) -> str:
    """Inputs named twice, records merged into their span, spans analysed after a
    correction: what the terminal report lists as input notes."""
    items = [f"<li>{escape(str(d))}</li>" for d in report.duplicates]
    items += [
        f"<li>{r.count} records merged: {escape(r.reason)} "
        f"(first at {escape(r.example)})</li>"
        for r in report.merged
    ]
    items += [
        f"<li>{r.count} spans analysed with {escape(r.reason)} (first at {escape(r.example)})</li>"
        for r in report.normalised
    ]
    return "<h2>Input notes</h2><ul>" + "".join(items) + "</ul>" if items else ""


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
            seen = "".join(
                f"<br><b>evidence</b> ({escape(i.source)}): {escape(i.summary)}"
                for i in e.evidence
                if i.kind != "spans"
            )
            rows.append(
                f"<tr><td colspan=6><b>cause:</b> {escape(e.cause)}{seen}<br><b>fix:</b> "
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
    colours: dict[str, str] = {}
    for service in report.services:
        colours[service] = _PALETTE[len(colours) % len(_PALETTE)]
    links = _broken_call_links(report)
    out = ["<h2>Affected traces</h2>", _legend(colours)]
    for trace_id, spans in report.waterfalls.items():
        out.append(f"<h3 id={_anchor(trace_id)}>trace <code>{escape(trace_id)}</code></h3>")
        here = {span: link for (trace, span), link in links.items() if trace == trace_id}
        notes = []
        for other, text in dict.fromkeys(here.values()):
            target = (
                f"<a href=#{_anchor(other)}>{escape(other)}</a>"
                if other in report.waterfalls
                else f"{escape(other)} (not drawn)"
            )
            notes.append(f"<li>{escape(text)}: {target}</li>")
        if notes:
            out.append(f"<ul class=links>{''.join(notes)}</ul>")
        drawn = {
            span: (_anchor(other), f"{text}: {other}")
            for span, (other, text) in here.items()
            if other in report.waterfalls
        }
        out.append(svg(spans, colours, drawn))
    return "".join(out)


def _anchor(trace_id: str) -> str:
    """An HTML ``id`` for a trace's waterfall (trace IDs are hex; anything else is escaped)."""
    return "trace-" + "".join(c if c.isalnum() else f"_{ord(c):x}" for c in trace_id)


def _broken_call_links(report: Report) -> dict[tuple[str, str], tuple[str, str]]:
    """``(trace, span) → (other trace, text)``: each broken call (C003) and the root
    that answered it in another trace lead to each other."""
    links: dict[tuple[str, str], tuple[str, str]] = {}
    for f in report.findings:
        callee_trace = f.details.get("callee_trace_id") if f.code == "C003" else None
        if not (f.trace_id and f.span_id and isinstance(callee_trace, str)):
            continue
        callee = f.details.get("callee", "the callee")
        caller = f.details.get("caller", f.service or "the caller")
        links[(f.trace_id, f.span_id)] = (callee_trace, f"the call to {callee} was answered in")
        callee_span = f.details.get("callee_span_id")
        if isinstance(callee_span, str):
            links[(callee_trace, callee_span)] = (
                f.trace_id,
                f"the request was sent by {caller} in",
            )
    return links


def _legend(colours: dict[str, str]) -> str:
    def key(colour: str, text: str) -> str:
        swatch = f'<svg width=12 height=12><rect width=12 height=12 fill="{colour}"/></svg>'
        return f"<span class=key>{swatch} {text}</span>"

    items = [key(c, escape(service)) for service, c in colours.items()]
    items.append(key(FINDING_COLOUR, "a span with a finding (◀ its rule codes)"))
    return (
        "<p class=legend>" + " ".join(items) + "<br><span class=muted>Bars: each span from "
        "its start to its end on the trace's time axis, children under their parent, with "
        "the duration after the bar (<i>no end</i>: exported unfinished). A broken call and the "
        "root that answered it in another trace link to each other.</span></p>"
    )
