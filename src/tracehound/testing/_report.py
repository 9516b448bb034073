"""How the pytest plugin shows findings: the failure, the report section, the summary."""

from __future__ import annotations

from collections import Counter
from typing import Any

from tracehound.rules import Finding, Severity
from tracehound.testing._assertions import SpanRecorder, relative_location

__all__ = ["PROPERTY", "FindingsFailure", "findings_lines", "summary_line", "write_summary"]

PROPERTY = "tracehound"
"""The ``user_properties`` name findings travel under (to the summary, xdist, JUnit XML)."""
SHOWN_PER_TEST = 10
SHOWN_TESTS = 20

Line = tuple[str, bool]
"""A line of text, and whether it is emphasised (a finding's headline)."""


def headline(finding: Finding, rootdir: str | None) -> str:
    where = relative_location(finding.location, rootdir)
    return f"{finding.code} {finding.name} ({finding.severity}) at {where}"


def findings_lines(found: list[Finding], recorder: SpanRecorder) -> list[Line]:
    """Each finding with its message and fix, then the test's trace tree."""
    lines: list[Line] = []
    for finding in found:
        lines.append((headline(finding, recorder.rootdir), True))
        lines.append((f"    {finding.message}", False))
        lines.append((f"    fix: {finding.rule.fix}", False))
        lines.append(("", False))
    lines.append(("spans of this test:", False))
    lines.extend((f"  {line}", False) for line in recorder.tree().splitlines())
    return lines


def summary_line(finding: Finding, span_name: object, rootdir: str | None) -> str:
    """One finding in the end-of-run summary: code, span, where."""
    span = f": span {span_name!r}" if span_name else ""
    where = relative_location(finding.location, rootdir)
    return f"{finding.code} {finding.name} ({finding.severity}){span} at {where}"


class _Crash:
    """What pytest's one-line summary reads from a failure (``reprcrash.message``)."""

    def __init__(self, message: str) -> None:
        self.message = message

    def __str__(self) -> str:
        return self.message


class FindingsFailure:
    """A test failure made of findings; pytest prints it where a traceback would go."""

    def __init__(self, failing: list[Finding], recorder: SpanRecorder, fail_on: Severity) -> None:
        count = len(failing)
        codes = sorted({f.code for f in failing})
        quoted = ", ".join(f'"{code}"' for code in codes)
        self.lines: list[Line] = [
            (
                f"tracehound: this test's code broke {'a trace' if count == 1 else 'traces'} "
                f"({count} finding{'s' if count != 1 else ''} at or above {fail_on})",
                True,
            ),
            ("", False),
            *findings_lines(failing, recorder),
            ("", False),
            (
                f"accept in this test: @pytest.mark.tracehound(ignore=[{quoted}]); "
                f"explain: tracehound rules {codes[0]}",
                False,
            ),
        ]
        first = failing[0]
        where = relative_location(first.location, recorder.rootdir)
        more = f" (+{count - 1} more)" if count > 1 else ""
        self.reprcrash = _Crash(f"{first.code} {first.name} at {where}{more}")

    def toterminal(self, tw: Any) -> None:
        for text, emphasised in self.lines:
            tw.line(text, red=emphasised, bold=emphasised)

    def __str__(self) -> str:
        return "\n".join(text for text, _ in self.lines)


def write_summary(terminal: Any, by_test: dict[str, list[str]], *, everything: bool) -> None:
    """The "tracehound findings" section: each test's findings, repeats counted."""
    write = terminal.write_line
    terminal.write_sep("=", "tracehound findings", yellow=True)
    tests = list(by_test.items())
    shown = tests if everything else tests[:SHOWN_TESTS]
    for nodeid, lines in shown:
        write(nodeid)
        counted = list(Counter(lines).items())
        for line, times in counted[:SHOWN_PER_TEST]:
            write(f"  {line}" + (f" ({times} times)" if times > 1 else ""))
        if len(counted) > SHOWN_PER_TEST:
            write(f"  ... and {len(counted) - SHOWN_PER_TEST} more")
    if len(shown) < len(tests):
        write(f"... and {len(tests) - len(shown)} more tests with findings (-v shows all)")
    total = sum(len(lines) for _, lines in tests)
    write("")
    write(
        f"{total} finding{'s' if total != 1 else ''} in {len(tests)} "
        f"test{'s' if len(tests) != 1 else ''}; explain a code: tracehound rules CODE"
    )
