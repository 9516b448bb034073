"""One trace as an inline SVG waterfall: a time axis, a bar and a duration per span.

Spans are drawn depth-first under their parents, coloured by service; a span
carrying a finding is red and labelled with the rule codes.  A span that links
to another trace (the two halves of a broken call, C003) is a link to that
trace's waterfall on the same page.  Spans without a start time are listed
without a bar.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

__all__ = ["FINDING_COLOUR", "duration_text", "svg", "tick_step"]

FINDING_COLOUR = "#d62728"
_ROW = 18
_AXIS = 22
_WIDTH = 1100
_LABEL = 330
_RIGHT = 150  # room for the duration and the rule codes after the longest bar


def duration_text(ns: float) -> str:
    """``ns`` nanoseconds for people: ``850 ns``, ``12.3 µs``, ``4.56 ms``, ``1.20 s``."""
    size = abs(ns)
    for unit, scale in (("min", 60e9), ("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if size >= scale:
            value = ns / scale
            digits = 0 if abs(value) >= 100 else 1 if abs(value) >= 10 else 2
            return f"{value:.{digits}f} {unit}"
    return f"{ns:.0f} ns"


def tick_step(span_ns: float, ticks: int = 6) -> float:
    """A round step (1, 2 or 5 times a power of ten) giving about ``ticks`` ticks."""
    raw = max(span_ns, 1) / ticks
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


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
    # a cycle of parents leaves spans unreached from any top: list them too
    out.extend((0, s) for s in spans if id(s) not in seen)
    return out


def svg(
    spans: Sequence[Mapping[str, Any]],
    colours: Mapping[str, str],
    links: Mapping[str, tuple[str, str]],
) -> str:
    """The waterfall of one trace's ``spans``; ``links`` maps a span ID to
    ``(anchor, text)`` of the place in the page it leads to."""
    rows = _ordered(spans)
    timed = [s for s in spans if s.get("start_ns") is not None]
    start = min((s["start_ns"] for s in timed), default=0)
    end = max((s["start_ns"] + max(s["duration_ns"] or 0, 0) for s in timed), default=start)
    length = max(end - start, 1)
    scale = (_WIDTH - _LABEL - _RIGHT) / length
    height = _AXIS + _ROW * len(rows) + 4
    parts = [
        f'<svg width="{_WIDTH}" height="{height}" role="img" '
        f'aria-label="waterfall of {len(rows)} spans over {escape(duration_text(length))}">'
    ]
    parts.append(_axis(length, scale, height))
    for i, (depth, s) in enumerate(rows):
        parts.append(_row(i, depth, s, start, scale, colours, links.get(s["span_id"])))
    parts.append("</svg>")
    return "".join(parts)


def _axis(length: float, scale: float, height: int) -> str:
    step = tick_step(length)
    out = []
    tick = 0.0
    while tick <= length + step / 2:
        x = _LABEL + tick * scale
        out.append(
            f'<line x1="{x:.1f}" y1="{_AXIS - 6}" x2="{x:.1f}" y2="{height}" stroke="#e4e4e4"/>'
            f'<text x="{x:.1f}" y="{_AXIS - 9}" text-anchor="middle" fill="#666">'
            f"{escape(duration_text(tick)) if tick else '0'}</text>"
        )
        tick += step
    return (
        f'<g class=axis><line x1="{_LABEL}" y1="{_AXIS - 6}" x2="{_WIDTH - _RIGHT}" '
        f'y2="{_AXIS - 6}" stroke="#999"/>{"".join(out)}</g>'
    )


def _row(
    i: int,
    depth: int,
    s: Mapping[str, Any],
    start: int,
    scale: float,
    colours: Mapping[str, str],
    link: tuple[str, str] | None,
) -> str:
    y = _AXIS + i * _ROW
    codes = s.get("codes") or []
    fill = FINDING_COLOUR if codes else colours.get(s["service"], "#888")
    label = f"{s['service']}: {s['name']}"
    duration = s.get("duration_ns")
    begun = s.get("start_ns")
    if begun is None:
        took = "no start time"
    elif duration is None:
        took = "no end"
    else:
        took = duration_text(duration)
    title = (
        f"{label} [{s['kind']}] {s['span_id']} {took}"
        f"{' ' + ' '.join(codes) if codes else ''} {s.get('location') or ''}"
    )
    text = f'<text x="{4 + min(depth, 20) * 10}" y="{y + 12}">{escape(label[:48])}</text>'
    if begun is None:
        bar, after = "", _LABEL
    else:
        x = _LABEL + (begun - start) * scale
        w = max(max(duration or 0, 0) * scale, 2)
        bar = (
            f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{_ROW - 5}" fill="{fill}">'
            f"<title>{escape(title)}</title></rect>"
        )
        after = x + w
    note = took + (f" ◀ {' '.join(codes)}" if codes else "")
    colour = FINDING_COLOUR if codes or duration is None else "#444"
    note_svg = (
        f'<text x="{min(after + 4, _WIDTH - _RIGHT + 4):.1f}" y="{y + 12}" fill="{colour}">'
        f"{escape(note)}</text>"
    )
    row = text + bar + note_svg
    if link is not None:
        anchor, what = link
        row = f'<a href="#{escape(anchor)}"><title>{escape(what)}</title>{row}</a>'
    return row
