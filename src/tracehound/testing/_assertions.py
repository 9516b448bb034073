"""What one test recorded, and assertions on it whose failures show the trace tree.

`SpanRecorder` is what the ``tracehound_spans`` fixture returns; the module
functions (``assert_one_trace()``, ...) act on the recorder of the test that
is running.  No OpenTelemetry SDK import here: spans are read by duck typing.
"""

from __future__ import annotations

import os
from typing import Any, NamedTuple

from tracehound.rules import Finding, Severity, get_rule

__all__ = [
    "SpanNode",
    "SpanRecorder",
    "assert_child_of",
    "assert_finding",
    "assert_no_findings",
    "assert_one_trace",
    "current_recorder",
]

MAX_TREE_LINES = 60
MAX_KEPT = 10_000
"""Spans, and findings, one test keeps at most; the guards still see every span."""
_KIND_SHOWN = ("SERVER", "CLIENT", "PRODUCER", "CONSUMER")


class SpanNode(NamedTuple):
    """One span started during the test, finished or not."""

    trace_id: int
    span_id: int
    parent_id: int | None
    parent_is_remote: bool
    name: str
    kind: str


def _node_of(span: Any) -> SpanNode:
    context = span.get_span_context()
    parent = span.parent
    kind = getattr(span.kind, "name", str(span.kind))
    return SpanNode(
        context.trace_id,
        context.span_id,
        parent.span_id if parent is not None else None,
        bool(parent is not None and parent.is_remote),
        span.name,
        kind,
    )


def relative_location(location: str | None, rootdir: str | None) -> str:
    """``file:line`` relative to the pytest rootdir when it is inside it."""
    if not location:
        return "<unknown>"
    if rootdir and location.startswith(rootdir + os.sep):
        return location[len(rootdir) + 1 :]
    return location


class SpanRecorder:
    """The spans a test's code started and the findings it produced.

    ``spans`` are the finished spans (OpenTelemetry ``ReadableSpan``), in the
    order they ended; spans never ended appear in `tree` only.  Findings of
    codes the test ignores are not recorded.
    """

    def __init__(self, rootdir: str | None = None) -> None:
        self.rootdir = rootdir
        """Locations under it are shown relative to it."""
        self._nodes: dict[int, SpanNode] = {}
        self._ended: dict[int, Any] = {}
        self._findings: list[Finding] = []
        self._expected: set[int] = set()
        self.not_kept = 0
        """Spans and findings over `MAX_KEPT`, counted and not kept."""

    # -- recording (called by the plugin) ------------------------------------------------

    def _started(self, span: Any) -> None:
        if len(self._nodes) >= MAX_KEPT:
            self.not_kept += 1
            return
        node = _node_of(span)
        self._nodes[node.span_id] = node

    def _finished(self, span: Any) -> None:
        span_id = span.get_span_context().span_id
        if span_id in self._nodes:  # only spans this test started
            self._ended[span_id] = span

    def _found(self, finding: Finding) -> None:
        if len(self._findings) >= MAX_KEPT:
            self.not_kept += 1
            return
        self._findings.append(finding)

    def _unexpected(self) -> list[Finding]:
        return [f for f in self._findings if id(f) not in self._expected]

    # -- reading ---------------------------------------------------------------------------

    @property
    def spans(self) -> list[Any]:
        """Finished spans, in the order they ended."""
        return list(self._ended.values())

    @property
    def findings(self) -> list[Finding]:
        """Findings reported while the test ran (ignored codes left out)."""
        return list(self._findings)

    def codes(self) -> list[str]:
        """The findings' codes, in the order they were reported."""
        return [f.code for f in self._findings]

    def named(self, name: str) -> Any:
        """The first finished span called ``name``."""
        __tracebackhide__ = True
        for span in self._ended.values():
            if span.name == name:
                return span
        names = sorted({s.name for s in self._ended.values()})
        raise AssertionError(f"no finished span named {name!r}; finished spans: {names}")

    def clear(self) -> None:
        """Forget the spans and findings recorded so far."""
        self._nodes.clear()
        self._ended.clear()
        self._findings.clear()
        self._expected.clear()
        self.not_kept = 0

    def tree(self) -> str:
        """The recorded spans as one tree per trace, findings marked on their spans."""
        return "\n".join(_render_tree(self))

    # -- assertions ------------------------------------------------------------------------

    def assert_one_trace(self) -> str:
        """All spans of the test belong to one trace; returns its ID (hex)."""
        __tracebackhide__ = True
        traces = {n.trace_id for n in self._nodes.values()}
        if len(traces) == 1:
            return f"{traces.pop():032x}"
        if not traces:
            raise AssertionError("expected one trace, but the test recorded no spans")
        roots = [n for n in self._nodes.values() if n.parent_id is None]
        names = ", ".join(repr(n.name) for n in roots)
        raise AssertionError(
            f"expected one trace, the test's spans form {len(traces)}; "
            f"roots: {names}\n{self.tree()}"
        )

    def assert_child_of(self, child: Any, parent: Any) -> None:
        """Every span ``child`` (a name or a span) has ``parent`` (a name or a span) as parent."""
        __tracebackhide__ = True
        children = self._resolve(child, "child")
        parents = {n.span_id for n in self._resolve(parent, "parent")}
        for node in children:
            if node.parent_id in parents:
                continue
            if node.parent_id is None:
                actual = f"it is the root of trace {node.trace_id:032x}"
            elif node.parent_id in self._nodes:
                actual = f"its parent is {self._nodes[node.parent_id].name!r}"
            else:
                actual = f"its parent {node.parent_id:016x} was not recorded in this test"
            raise AssertionError(
                f"expected span {node.name!r} to be a child of {_label(parent)}, "
                f"but {actual}\n{self.tree()}"
            )

    def assert_no_findings(self, min_severity: Severity | str = Severity.INFO) -> None:
        """No finding at or above ``min_severity`` (``"info"``, ``"warning"``, ``"error"``)."""
        __tracebackhide__ = True
        threshold = _severity(min_severity)
        found = [f for f in self._findings if f.severity >= threshold]
        if found:
            listed = "\n".join(self._describe(f) for f in found)
            raise AssertionError(
                f"expected no findings at or above {threshold}, got {len(found)}:\n"
                f"{listed}\n{self.tree()}"
            )

    def assert_finding(self, code: str, *, span: str | None = None) -> list[Finding]:
        """At least one ``code`` finding (on span ``span``); they no longer fail the test."""
        __tracebackhide__ = True
        get_rule(code)  # a typo is an error, not a missing finding
        matches = [
            f
            for f in self._findings
            if f.code == code and (span is None or self._span_name_of(f) == span)
        ]
        if not matches:
            on = f" on span {span!r}" if span is not None else ""
            others = "\n".join(self._describe(f) for f in self._findings) or "  (none)"
            raise AssertionError(
                f"expected a {code} finding{on}; the test's findings:\n{others}\n{self.tree()}"
            )
        self._expected.update(id(f) for f in matches)
        return matches

    # -- helpers -----------------------------------------------------------------------------

    def _resolve(self, wanted: Any, role: str) -> list[SpanNode]:
        __tracebackhide__ = True
        if isinstance(wanted, str):
            found = [n for n in self._nodes.values() if n.name == wanted]
        else:
            span_id = wanted.get_span_context().span_id
            found = [self._nodes[span_id]] if span_id in self._nodes else []
        if not found:
            raise AssertionError(
                f"{role} span {_label(wanted)} was not recorded in this test\n{self.tree()}"
            )
        return found

    def _span_name_of(self, finding: Finding) -> str | None:
        if finding.span_id is not None:
            node = self._nodes.get(int(finding.span_id, 16))
            if node is not None:
                return node.name
        name = finding.details.get("span")
        return name if isinstance(name, str) else None

    def _describe(self, finding: Finding) -> str:
        where = relative_location(finding.location, self.rootdir)
        return f"  {finding.code} {finding.name} ({finding.severity}) at {where}: {finding.message}"


def _label(span: Any) -> str:
    return repr(span) if isinstance(span, str) else repr(getattr(span, "name", span))


def _severity(value: Severity | str) -> Severity:
    return value if isinstance(value, Severity) else Severity.parse(value)


def _render_tree(recorder: SpanRecorder) -> list[str]:
    nodes = recorder._nodes
    if not nodes:
        return ["(no spans recorded)"]
    marks: dict[int, list[str]] = {}
    for finding in recorder._findings:
        if finding.span_id is not None:
            marks.setdefault(int(finding.span_id, 16), []).append(finding.code)
    children: dict[int, list[SpanNode]] = {}
    traces: dict[int, list[SpanNode]] = {}
    for node in nodes.values():
        if node.parent_id is not None and node.parent_id in nodes:
            children.setdefault(node.parent_id, []).append(node)
        else:
            traces.setdefault(node.trace_id, []).append(node)

    lines: list[str] = []

    def describe(node: SpanNode) -> str:
        text = node.name + (f" [{node.kind}]" if node.kind in _KIND_SHOWN else "")
        if node.parent_id is not None and node.parent_id not in nodes:
            how = "remote parent" if node.parent_is_remote else "parent"
            text += f"  (child of {how} {node.parent_id:016x}, not recorded here)"
        if node.span_id not in recorder._ended:
            text += "  (never ended)"
        if node.span_id in marks:
            text += "  <- " + ", ".join(marks[node.span_id])
        return text

    def walk(node: SpanNode, prefix: str, connector: str) -> None:
        lines.append(prefix + connector + describe(node))
        below = children.get(node.span_id, ())
        inner = prefix + {"": "", "└── ": "    "}.get(connector, "│   ")
        for index, child in enumerate(below):
            walk(child, inner, "└── " if index == len(below) - 1 else "├── ")

    for trace_id, roots in traces.items():
        lines.append(f"trace {trace_id:032x}")
        for root in roots:
            walk(root, "  ", "")
    if len(lines) > MAX_TREE_LINES:
        hidden = len(lines) - MAX_TREE_LINES
        lines = [*lines[:MAX_TREE_LINES], f"  ... {hidden} more lines"]
    if recorder.not_kept:
        lines.append(f"  ({recorder.not_kept} more spans and findings were not kept)")
    return lines


# -- the running test's recorder ------------------------------------------------------------

_RUNNING: list[SpanRecorder] = []


def push_recorder(recorder: SpanRecorder) -> None:
    _RUNNING.append(recorder)


def pop_recorder(recorder: SpanRecorder) -> None:
    if recorder in _RUNNING:
        _RUNNING.remove(recorder)


def current_recorder() -> SpanRecorder:
    """The recorder of the test that is running."""
    if not _RUNNING:
        raise RuntimeError(
            "tracehound is not recording this test: run pytest with --tracehound, "
            "mark the test with @pytest.mark.tracehound or request the tracehound_spans fixture"
        )
    return _RUNNING[-1]


def assert_one_trace() -> str:
    """All spans of the running test belong to one trace; returns its ID (hex)."""
    __tracebackhide__ = True
    return current_recorder().assert_one_trace()


def assert_child_of(child: Any, parent: Any) -> None:
    """Every span ``child`` (a name or a span) has ``parent`` as its parent."""
    __tracebackhide__ = True
    current_recorder().assert_child_of(child, parent)


def assert_no_findings(min_severity: Severity | str = Severity.INFO) -> None:
    """The running test produced no finding at or above ``min_severity``."""
    __tracebackhide__ = True
    current_recorder().assert_no_findings(min_severity)


def assert_finding(code: str, *, span: str | None = None) -> list[Finding]:
    """The running test produced a ``code`` finding; it no longer fails the test."""
    __tracebackhide__ = True
    return current_recorder().assert_finding(code, span=span)
