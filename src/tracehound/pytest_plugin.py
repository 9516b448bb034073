"""pytest plugin: broken traces fail tests, not production.

Registered by entry point and inactive unless asked for, so installing
tracehound changes no test run::

    pytest --tracehound           # record every test's spans, list findings at the end
    pytest --tracehound-strict    # ... and fail the tests whose code broke a trace

(or ``tracehound = true`` / ``tracehound_strict = true`` in
``[tool.pytest.ini_options]``).  ``--tracehound-fail-on`` (default ``error``)
and ``--tracehound-ignore`` tune the verdict;
``@pytest.mark.tracehound(strict=..., ignore=[...], fail_on=...)`` tunes one
test, and records it even without the flag, as does the ``tracehound_spans``
fixture.  Spans from tracehound's helpers and from plain OpenTelemetry are
recorded alike: the plugin attaches to the global SDK provider, or installs
one for the session and puts the globals back at the end.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from tracehound.rules import Severity, UnknownRuleError, get_rule
from tracehound.testing._assertions import (
    SpanRecorder,
    assert_child_of,
    assert_finding,
    assert_no_findings,
    assert_one_trace,
    pop_recorder,
    push_recorder,
)
from tracehound.testing._report import (
    PROPERTY,
    FindingsFailure,
    findings_lines,
    summary_line,
    write_summary,
)

if TYPE_CHECKING:
    from tracehound.testing._recording import (
        OtelGlobals,
        Recording,
        RecordingSettings,
        SessionRecorder,
    )

__all__ = [
    "SpanRecorder",
    "assert_child_of",
    "assert_finding",
    "assert_no_findings",
    "assert_one_trace",
    "tracehound_spans",
]

_RECORDING = pytest.StashKey["Recording"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tracehound", "tracehound: broken traces fail tests")
    group.addoption(
        "--tracehound",
        action="store_true",
        help="record every test's spans and list tracehound's findings at the end",
    )
    group.addoption(
        "--tracehound-strict",
        action="store_true",
        help="record like --tracehound and fail the tests whose code produced findings "
        "at or above --tracehound-fail-on",
    )
    group.addoption(
        "--tracehound-fail-on",
        metavar="SEVERITY",
        help="lowest severity that fails a test in strict mode: info, warning or error "
        "(default: error)",
    )
    group.addoption(
        "--tracehound-ignore",
        metavar="CODES",
        action="append",
        default=[],
        help="comma-separated rule codes never reported, e.g. A003,C004",
    )
    parser.addini("tracehound", "like --tracehound", type="bool", default=False)
    parser.addini("tracehound_strict", "like --tracehound-strict", type="bool", default=False)
    parser.addini("tracehound_fail_on", "like --tracehound-fail-on", default="error")
    parser.addini("tracehound_ignore", "like --tracehound-ignore", type="args", default=[])


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "tracehound(strict=None, ignore=(), fail_on=None): record this test's spans with "
        "tracehound; strict fails it on findings at or above fail_on, ignore lists rule "
        "codes it may produce",
    )
    config.pluginmanager.register(TracehoundPlugin(config), "tracehound-session")


@pytest.fixture
def tracehound_spans(request: pytest.FixtureRequest) -> SpanRecorder:
    """The spans and findings of this test; recording starts before its other fixtures."""
    recording = request.node.stash.get(_RECORDING, None)
    if recording is None:
        raise RuntimeError("tracehound_spans: the tracehound plugin is not recording this test")
    return recording.recorder


@dataclass(frozen=True)
class _Options:
    active: bool
    strict: bool
    fail_on: Severity
    ignore: frozenset[str]

    @classmethod
    def read(cls, config: pytest.Config) -> _Options:
        strict = bool(config.getoption("tracehound_strict") or config.getini("tracehound_strict"))
        active = strict or bool(config.getoption("tracehound") or config.getini("tracehound"))
        fail_on = config.getoption("tracehound_fail_on") or config.getini("tracehound_fail_on")
        ignore = [
            *config.getini("tracehound_ignore"),
            *(part for given in config.getoption("tracehound_ignore") for part in given.split(",")),
        ]
        try:
            return cls(active, strict, _severity(fail_on), _codes(ignore))
        except ValueError as exc:
            raise pytest.UsageError(f"tracehound: {exc}") from None


def _severity(value: Any) -> Severity:
    if isinstance(value, Severity):
        return value
    if not isinstance(value, str):
        raise ValueError(f"fail_on must be info, warning or error, not {value!r}")
    return Severity.parse(value)


def _codes(values: Iterable[Any]) -> frozenset[str]:
    codes = set()
    for value in values:
        code = str(value).strip().upper()
        if not code:
            continue
        try:
            get_rule(code)
        except UnknownRuleError:
            raise ValueError(
                f"unknown rule code {value!r} to ignore; `tracehound rules` lists them"
            ) from None
        codes.add(code)
    return frozenset(codes)


class TracehoundPlugin:
    """The session's state: options, the recorder once a test needs it, the findings summary."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.options = _Options.read(config)
        self.rootdir = str(config.rootpath)
        self._recorder: SessionRecorder | None = None
        self._globals: OtelGlobals | None = None
        self._by_test: dict[str, list[str]] = {}

    # -- the run's header and summary ----------------------------------------------------

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        if not self.options.active:
            return []
        verdict = (
            f"failing tests on findings at or above {self.options.fail_on}"
            if self.options.strict
            else "listing findings (--tracehound-strict fails tests)"
        )
        ignoring = f"; ignoring {', '.join(sorted(self.options.ignore))}"
        return [f"tracehound: recording spans, {verdict}{ignoring if self.options.ignore else ''}"]

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "teardown":
            lines = [value for name, value in report.user_properties if name == PROPERTY]
            if lines:
                self._by_test[report.nodeid] = lines

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self._by_test:
            write_summary(
                terminalreporter, self._by_test, everything=self.config.option.verbose > 0
            )

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self._recorder is None:
            return
        shared = self._recorder.report_shared_open()
        if shared:
            name = "fixtures shared between tests (class, module, package or session scope)"
            self._by_test[name] = [
                summary_line(f, f.details.get("span"), self.rootdir) for f in shared
            ]

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if self._globals is not None:
            self._globals.restore()
            self._globals = None

    # -- one test ------------------------------------------------------------------------

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_protocol(
        self, item: pytest.Item, nextitem: Any
    ) -> Generator[None, object, object]:
        try:
            return (yield)
        finally:
            self._end(item)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        if self._wants(item):
            self._begin(item)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Item) -> None:
        recording = item.stash.get(_RECORDING, None)
        if recording is not None and self._globals is not None:
            self._globals.attach()  # a fixture may have set its own provider
            recording.phase = "call"

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        recording = item.stash.get(_RECORDING, None)
        if recording is not None:
            recording.phase = "teardown"

    @pytest.hookimpl(wrapper=True)
    def pytest_fixture_setup(
        self, fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
    ) -> Generator[None, object, object]:
        recording = self._recorder.current if self._recorder is not None else None
        if recording is None:
            return (yield)
        recording.fixture_scopes.append(fixturedef.scope)
        try:
            return (yield)
        finally:
            recording.fixture_scopes.pop()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        recording = item.stash.get(_RECORDING, None)
        if recording is None or recording.closed:
            return report
        if call.when == "setup":
            recording.gets_verdict = report.passed
        else:
            self._judge(recording, report, call.when)
        return report

    def _wants(self, item: pytest.Item) -> bool:
        return (
            self.options.active
            or item.get_closest_marker("tracehound") is not None
            or "tracehound_spans" in getattr(item, "fixturenames", ())
        )

    def _begin(self, item: pytest.Item) -> None:
        from tracehound.testing._recording import OtelGlobals, Recording, SessionRecorder

        settings = self._settings(item)
        if self._recorder is None or self._globals is None:
            self._recorder = SessionRecorder()
            self._globals = OtelGlobals(self._recorder)
        self._globals.attach()
        recording = Recording(settings, self.rootdir, self._recorder.shared)
        item.stash[_RECORDING] = recording
        self._recorder.current = recording
        push_recorder(recording.recorder)

    def _end(self, item: pytest.Item) -> None:
        recording = item.stash.get(_RECORDING, None)
        if recording is None or recording.closed:
            return
        recording.close()
        del item.stash[_RECORDING]  # items live for the session; their spans need not
        pop_recorder(recording.recorder)
        if self._recorder is not None and self._recorder.current is recording:
            self._recorder.current = None

    def _settings(self, item: pytest.Item) -> RecordingSettings:
        from tracehound.testing._recording import RecordingSettings

        strict: bool | None = None
        fail_on: Severity | None = None
        ignore = set(self.options.ignore)
        for marker in item.iter_markers("tracehound"):  # the closest first
            unknown = sorted(set(marker.kwargs) - {"strict", "ignore", "fail_on"})
            if marker.args or unknown:
                pytest.fail(
                    "@pytest.mark.tracehound takes only strict=, ignore= and fail_on= "
                    f"(got {list(marker.args) + unknown})",
                    pytrace=False,
                )
            try:
                if strict is None and "strict" in marker.kwargs:
                    strict = bool(marker.kwargs["strict"])
                if fail_on is None and "fail_on" in marker.kwargs:
                    fail_on = _severity(marker.kwargs["fail_on"])
                given = marker.kwargs.get("ignore", ())
                ignore |= _codes([given] if isinstance(given, str) else given)
            except ValueError as exc:
                pytest.fail(f"@pytest.mark.tracehound: {exc}", pytrace=False)
        return RecordingSettings(
            strict=self.options.strict if strict is None else strict,
            fail_on=self.options.fail_on if fail_on is None else fail_on,
            ignore=frozenset(ignore),
        )

    # -- the verdict -----------------------------------------------------------------------

    def _judge(self, recording: Recording, report: pytest.TestReport, when: str) -> None:
        fresh = recording.end_phase(when)
        if when == "teardown":
            recorder = recording.recorder
            lines = [
                summary_line(f, recorder._span_name_of(f), self.rootdir)
                for f in recorder._unexpected()
            ]
            if lines:
                report.user_properties = [
                    *report.user_properties,
                    *((PROPERTY, line) for line in lines),
                ]
        if not fresh:
            return
        settings = recording.settings
        failing = [f for f in fresh if f.severity >= settings.fail_on]
        if (
            failing
            and settings.strict
            and recording.gets_verdict
            and report.passed
            and not hasattr(report, "wasxfail")
        ):
            report.outcome = "failed"
            report.longrepr = FindingsFailure(failing, recording.recorder, settings.fail_on)
        elif report.failed:
            text = "\n".join(line for line, _ in findings_lines(fresh, recording.recorder))
            report.sections.append(("tracehound findings", text))
