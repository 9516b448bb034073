"""The terminal report (rich): summary, per-edge table, top findings by rule with the fix.

Every string from the input (service and span names, messages quoting them,
file names) is printed as plain text: never read as rich markup, its control
characters shown escaped so that a trace file cannot drive the terminal.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from tracehound.doctor._model import Report
from tracehound.doctor.report import printable
from tracehound.rules import Finding, Severity

__all__ = ["EXAMPLES_PER_RULE", "render"]

EXAMPLES_PER_RULE = 5
_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


def render(
    report: Report,
    out: TextIO,
    *,
    color: bool | None = None,
    width: int | None = None,
    examples: int | None = EXAMPLES_PER_RULE,
) -> None:
    """Write the report for people to ``out``: ``examples`` findings per rule (``None``: all)."""
    console = Console(
        file=out,
        force_terminal=color,
        no_color=color is False,
        width=width if width is not None else (None if color else 120),
        highlight=False,
        emoji=False,
    )
    _summary(console, report)
    for note in report.notes:
        console.print(_text(note, "bold yellow"))
    _problems_with_input(console, report)
    _edges(console, report)
    _findings(console, report, examples)
    for skipped in report.skipped:
        console.print(_text(f"skipped {skipped.family}: {skipped.reason}", "dim"))
    if report.ignored:
        left_out = ", ".join(f"{code} ({n})" for code, n in sorted(report.ignored.items()))
        console.print(_text(f"ignored on request (findings left out): {left_out}", "dim"))


def _text(text: str, style: str = "") -> Text:
    """``text`` as rich `Text` (never markup), with control characters escaped."""
    return Text(printable(text), style=style)


def _summary(console: Console, report: Report) -> None:
    by_severity = defaultdict(int)
    for f in report.findings:
        by_severity[f.severity] += 1
    table = Table(title="tracehound check", show_header=False, box=None, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    formats = sorted({i.format for i in report.inputs if i.format})
    table.add_row(
        "inputs", _text(f"{len(report.inputs)} ({', '.join(formats) or 'nothing readable'})")
    )
    table.add_row("spans", report.spans_text())
    table.add_row("traces", f"{report.traces} across {len(report.services)} services")
    if report.exchanges_read:
        wire = [i for i in report.inputs if i.exchanges]
        table.add_row(
            "http", f"{report.exchanges_read} requests read ({len(wire)} HTTP evidence inputs)"
        )
    if report.log_lines or report.log_rejections:
        rejected = sum(r.count for r in report.log_rejections)
        table.add_row(
            "log lines",
            f"{report.log_lines + rejected} read = {report.log_lines} analysed + "
            f"{rejected} rejected",
        )
    files = [i for i in report.inputs if i.format == "tracehound-findings" or i.findings]
    if files:
        table.add_row(
            "runtime",
            f"{report.runtime_findings_read} findings reported inside the services "
            f"({len(files)} runtime findings files)",
        )
    if report.remote_entries:
        table.add_row("entry spans", f"{report.remote_entries} with a remote parent (normal)")
    counts = Text()
    for severity in (Severity.ERROR, Severity.WARNING, Severity.INFO):
        if counts:
            counts.append(", ")
        counts.append(f"{by_severity[severity]} {severity}", style=_STYLE[severity])
    table.add_row("findings", counts)
    console.print(table)
    console.print()


def _problems_with_input(console: Console, report: Report) -> None:
    _input_notes(console, report)
    if not report.errors and not report.rejections and not report.log_rejections:
        return
    console.print(_text("Input problems", "bold red"))
    for error in report.errors:
        console.print(_text(f"  {error}"))
    for rejection in report.rejections:
        console.print(
            _text(
                f"  {rejection.count} spans rejected: {rejection.reason} (first at "
                f"{rejection.example})"
            )
        )
    for rejection in report.log_rejections:
        console.print(
            _text(
                f"  {rejection.count} log lines rejected: {rejection.reason} (first at "
                f"{rejection.example})"
            )
        )
    console.print()


def _input_notes(console: Console, report: Report) -> None:
    """Spans analysed after a correction, and inputs named twice (read once)."""
    if not report.normalised and not report.duplicates and not report.merged:
        return
    console.print("[bold]Input notes[/bold]")
    for duplicate in report.duplicates:
        console.print(f"  {duplicate}", markup=False)
    for merged in report.merged:
        console.print(
            f"  {merged.count} records merged: {merged.reason} "
            f"(first at {merged.example})",
            markup=False,
        )
    for note in report.normalised:
        console.print(
            f"  {note.count} spans analysed with {note.reason} (first at {note.example})",
            markup=False,
        )
    console.print()


def _edges(console: Console, report: Report) -> None:
    if not report.edges:
        return
    table = Table(title="Edges (caller → callee)", title_justify="left")
    for name, justify in (
        ("caller → callee", "left"),
        ("calls", "right"),
        ("continued", "right"),
        ("broken", "right"),
        ("break rate", "right"),
        ("formats", "left"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for edge in report.edges:
        style = "bold red" if edge.broken else None
        arrow = "→" if edge.kind == "request" else "⇢"
        seen = edge.callee_seen
        table.add_row(
            _text(f"{edge.caller} {arrow} {edge.callee}" + ("" if seen else " *")),
            str(edge.calls),
            str(edge.continued) if seen else "-",
            Text(str(edge.broken), style=style or "") if seen else "-",
            f"{edge.break_rate:.1%}" if seen else "-",
            _text(", ".join(edge.formats) or "-"),
        )
    console.print(table)
    if not all(edge.callee_seen for edge in report.edges):
        console.print(
            "  * no span of this peer is in the data (a database, an external API, or a "
            "service that exported nothing): its calls are neither continued nor broken",
            markup=False,
        )
    for edge in report.edges:
        if edge.cause:
            line = Text()
            line.append(printable(f"  {edge.caller} → {edge.callee}"), style="bold")
            line.append(printable(f": {edge.cause}"))
            console.print(line)
            for item in edge.evidence:
                if item.kind != "spans":  # the cause sentence already says what spans show
                    console.print(_text(f"    evidence ({item.source}): {item.summary}"))
            console.print(_text(f"    fix: {edge.fix}"))
    console.print()


def _findings(console: Console, report: Report, examples: int | None) -> None:
    groups: dict[str, list[Finding]] = defaultdict(list)
    for f in report.findings:
        groups[f.code].append(f)
    if not groups:
        console.print(_no_findings(report))
        return
    order = sorted(groups.values(), key=lambda fs: (-fs[0].severity, -len(fs), fs[0].code))
    for items in order:
        rule = items[0].rule
        console.print(
            Text.assemble(
                (f"{rule.code} {rule.name}", _STYLE[rule.severity]),
                f" ({rule.severity}) × {len(items)}: {rule.summary}",
            )
        )
        shown = items if examples is None else items[:examples]
        for f in shown:
            where = f" [{f.location}]" if f.location else ""
            console.print(_text(f"    {f.message}{where}"))
            fix_yaml = f.details.get("fix_yaml")  # cluster findings: the fix at that place
            if isinstance(fix_yaml, str):
                console.print(_text("      " + fix_yaml.replace("\n", "\n      "), "dim"))
        if len(items) > len(shown):
            console.print(f"    … and {len(items) - len(shown)} more (--all lists them)")
        console.print(_text(f"  fix: {rule.fix}", "dim"))
        console.print()


def _no_findings(report: Report) -> Text:
    colour = "green" if report.spans_analysed and not report.has_input_errors else "yellow"
    return _text(report.no_findings_text(), colour)
