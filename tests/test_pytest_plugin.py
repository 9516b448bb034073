"""The pytest plugin, through `pytester`: broken traces fail tests, and only when asked."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import TracerProvider

from tracehound.testing._recording import SessionRecorder

INI = "[pytest]\nasyncio_default_fixture_loop_scope = function\n"

WORK = """
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind

import tracehound


def charge():
    with tracehound.span("charge card", kind=SpanKind.CLIENT):  # MARK-LOST
        pass


def lose_the_context():
    with tracehound.span("POST /orders", kind=SpanKind.SERVER), ThreadPoolExecutor(2) as pool:
        pool.submit(charge).result()
"""

LOST = (
    WORK
    + """

def test_checkout():
    lose_the_context()
"""
)

CARRIED = (
    WORK
    + """

def test_checkout():
    with tracehound.span("POST /orders", kind=SpanKind.SERVER):
        with tracehound.ContextExecutor(ThreadPoolExecutor(2)) as pool:
            pool.submit(charge).result()
"""
)

LEAK = """
from opentelemetry import trace
from opentelemetry.trace import SpanKind


def test_cart():
    tracer = trace.get_tracer("shop")
    with tracer.start_as_current_span("GET /cart", kind=SpanKind.SERVER):
        span = tracer.start_span("load cart")  # MARK-LEAK
        del span
"""


def write(pytester: pytest.Pytester, source: str, ini: str = INI) -> Path:
    pytester.makeini(ini)
    return pytester.makepyfile(test_shop=source)


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """pytest in this process, without hypothesis' plugin (it re-imports hypothesis each run)."""
    return pytester.runpytest("-p", "no:hypothesispytest", *args)


def line_of(path: Path, marker: str) -> int:
    for number, text in enumerate(path.read_text().splitlines(), 1):
        if marker in text:
            return number
    raise AssertionError(marker)


def test_context_lost_in_a_thread_fails_naming_c005_and_the_line(
    pytester: pytest.Pytester,
) -> None:
    path = write(pytester, LOST)
    line = line_of(path, "MARK-LOST")
    result = run(pytester, "--tracehound-strict")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "tracehound: recording spans, failing tests on findings at or above error",
            "*_ test_checkout _*",
            "tracehound: this test's code broke a trace (1 finding at or above error)",
            f"C005 context-lost-in-worker (error) at test_shop.py:{line}",
            "    span 'charge card' became the root of a new trace in thread*",
            "    fix: Submit work through a context-carrying executor*",
            "spans of this test:",
            "  trace *",
            "    POST /orders [[]SERVER[]]",
            "  trace *",
            "    charge card [[]CLIENT[]]  <- C005",
            'accept in this test: @pytest.mark.tracehound(ignore=["C005"]); '
            "explain: tracehound rules C005",
            "*= tracehound findings =*",
            "test_shop.py::test_checkout",
            f"  C005 context-lost-in-worker (error): span 'charge card' at test_shop.py:{line}",
            "1 finding in 1 test; explain a code: tracehound rules CODE",
            "FAILED test_shop.py::test_checkout - C005 context-lost-in-worker*",
        ]
    )


def test_the_context_carrying_executor_passes(pytester: pytest.Pytester) -> None:
    write(pytester, CARRIED)
    result = run(pytester, "--tracehound-strict")
    result.assert_outcomes(passed=1)
    result.stdout.no_fnmatch_line("*tracehound findings*")


def test_a_leaked_span_fails_naming_l001_and_the_line(pytester: pytest.Pytester) -> None:
    path = write(pytester, LEAK)
    result = run(pytester, "--tracehound-strict")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            f"L001 span-never-ended (error) at test_shop.py:{line_of(path, 'MARK-LEAK')}",
            "    span 'load cart' was garbage-collected without end()*",
            "    GET /cart [[]SERVER[]]",
            "    └── load cart  (never ended)  <- L001",
        ]
    )


def test_the_ignore_marker_lets_the_test_pass(pytester: pytest.Pytester) -> None:
    source = LOST.replace(
        "def test_checkout", '@pytest.mark.tracehound(ignore=["C005"])\ndef test_checkout'
    )
    write(pytester, source)
    result = run(pytester, "--tracehound-strict")
    result.assert_outcomes(passed=1)
    result.stdout.no_fnmatch_line("*C005*")


def test_without_the_flag_nothing_changes(pytester: pytest.Pytester) -> None:
    write(pytester, LOST + LEAK)
    result = run(pytester)
    result.assert_outcomes(passed=2)
    result.stdout.no_fnmatch_line("*tracehound: recording*")
    result.stdout.no_fnmatch_line("*tracehound findings*")


def test_tracehound_without_strict_lists_findings_and_fails_nothing(
    pytester: pytest.Pytester,
) -> None:
    write(pytester, LOST + LEAK)
    result = run(pytester, "--tracehound")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "tracehound: recording spans, listing findings (--tracehound-strict fails tests)",
            "*= tracehound findings =*",
            "test_shop.py::test_checkout",
            "  C005 context-lost-in-worker (error): span 'charge card' at test_shop.py:*",
            "test_shop.py::test_cart",
            "  L001 span-never-ended (error): span 'load cart' at test_shop.py:*",
        ]
    )


def test_async_tests_are_recorded(pytester: pytest.Pytester) -> None:
    write(
        pytester,
        WORK
        + """
import asyncio


@pytest.mark.asyncio
async def test_run_in_executor_loses_it():
    with tracehound.span("GET /stock", kind=SpanKind.SERVER):
        await asyncio.get_running_loop().run_in_executor(None, charge)


@pytest.mark.asyncio
async def test_to_thread_keeps_it(tracehound_spans):
    with tracehound.span("GET /stock", kind=SpanKind.SERVER):
        await asyncio.to_thread(charge)
    tracehound_spans.assert_child_of("charge card", "GET /stock")
""",
    )
    result = run(pytester, "--tracehound-strict")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["FAILED *::test_run_in_executor_loses_it - C005 *"])


def test_a_span_left_in_another_task_fails_naming_l009(pytester: pytest.Pytester) -> None:
    write(
        pytester,
        WORK
        + """
import asyncio


async def rows():
    with tracehound.span("stream rows"):
        yield 1


@pytest.mark.asyncio
async def test_stream_closed_elsewhere():
    with tracehound.span("GET /rows", kind=SpanKind.SERVER):
        stream = rows()
        await asyncio.create_task(stream.__anext__())
        await asyncio.create_task(stream.aclose())
""",
    )
    result = run(pytester, "--tracehound-strict")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["FAILED *::test_stream_closed_elsewhere - L009 *"])


def test_plain_opentelemetry_spans_are_recorded_by_the_fixture(
    pytester: pytest.Pytester,
) -> None:
    write(
        pytester,
        """
from opentelemetry import trace
from opentelemetry.trace import SpanKind


def test_plain(tracehound_spans):
    tracer = trace.get_tracer("shop")
    with tracer.start_as_current_span("GET /cart", kind=SpanKind.SERVER):
        with tracer.start_as_current_span("load cart"):
            pass
    trace_id = tracehound_spans.assert_one_trace()
    tracehound_spans.assert_child_of("load cart", "GET /cart")
    assert [s.name for s in tracehound_spans.spans] == ["load cart", "GET /cart"]
    assert tracehound_spans.named("GET /cart").context.trace_id == int(trace_id, 16)
    tracehound_spans.assert_no_findings()
""",
    )
    result = run(pytester)  # requesting the fixture is asking for the plugin
    result.assert_outcomes(passed=1)


def test_assertion_helpers_fail_with_the_trace_tree(pytester: pytest.Pytester) -> None:
    write(
        pytester,
        WORK
        + """
from tracehound.pytest_plugin import assert_child_of, assert_one_trace


def test_one_trace(tracehound_spans):
    lose_the_context()
    assert_one_trace()


def test_child(tracehound_spans):
    lose_the_context()
    assert_child_of("charge card", "POST /orders")


def test_no_findings(tracehound_spans):
    lose_the_context()
    tracehound_spans.assert_no_findings(min_severity="error")


def test_expected_finding(tracehound_spans):
    with tracehound.span("POST /orders", kind=SpanKind.SERVER):
        pass
    tracehound_spans.assert_finding("C004")
""",
    )
    result = run(pytester)
    result.assert_outcomes(failed=4)
    result.stdout.fnmatch_lines(
        [
            "E   *AssertionError: expected one trace, the test's spans form 2; "
            "roots: 'POST /orders', 'charge card'",
            "E   *trace *",
            "E   *  POST /orders [[]SERVER[]]",
            "E   *trace *",
            "E   *  charge card [[]CLIENT[]]  <- C005",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "E   *AssertionError: expected span 'charge card' to be a child of 'POST /orders', "
            "but it is the root of trace *",
            "E   *  charge card [[]CLIENT[]]  <- C005",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "E   *AssertionError: expected no findings at or above error, got 1:",
            "E   *  C005 context-lost-in-worker (error) at test_shop.py:*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "E   *AssertionError: expected a C004 finding; the test's findings:",
            "E   *  (none)",
        ]
    )


def test_markers_decide_per_test_and_expected_findings_do_not_fail(
    pytester: pytest.Pytester,
) -> None:
    write(
        pytester,
        WORK
        + """

@pytest.mark.tracehound(strict=True)
def test_expected(tracehound_spans):
    lose_the_context()
    tracehound_spans.assert_finding("C005", span="charge card")


@pytest.mark.tracehound(strict=True)
def test_unexpected():
    lose_the_context()


@pytest.mark.tracehound(strict=False)
def test_lenient():
    lose_the_context()
""",
    )
    result = run(pytester, "-rA")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["FAILED *::test_unexpected - C005 *"])


def test_ini_options_and_fail_on(pytester: pytest.Pytester) -> None:
    path = write(
        pytester,
        """
from opentelemetry import trace


def test_orphan():
    with trace.get_tracer("shop").start_as_current_span("refresh prices"):  # MARK-C004
        pass
""",
        ini=INI + "tracehound_strict = true\ntracehound_fail_on = warning\n",
    )
    result = run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "tracehound: recording spans, failing tests on findings at or above warning",
            f"C004 suspicious-root (warning) at test_shop.py:{line_of(path, 'MARK-C004')}",
        ]
    )
    assert run(pytester, "--tracehound-fail-on=error").ret == pytest.ExitCode.OK


def test_an_unknown_code_or_severity_is_a_usage_error(pytester: pytest.Pytester) -> None:
    write(pytester, CARRIED)
    result = run(pytester, "--tracehound", "--tracehound-ignore=A003,C05")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*tracehound: unknown rule code 'C05' to ignore*"])
    result = run(pytester, "--tracehound-fail-on=loud")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*tracehound: unknown severity 'loud'*"])


def test_fixture_spans_are_checked_after_teardown(pytester: pytest.Pytester) -> None:
    path = write(
        pytester,
        """
import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind


@pytest.fixture
def request_span():
    with trace.get_tracer("shop").start_as_current_span("POST /orders", kind=SpanKind.SERVER):
        yield


@pytest.fixture
def warm_cache():
    span = trace.get_tracer("shop").start_span("warm cache", kind=SpanKind.SERVER)  # MARK-FIX
    yield


def test_inside_a_request(request_span, tracehound_spans):
    with trace.get_tracer("shop").start_as_current_span("charge card"):
        pass
    tracehound_spans.assert_child_of("charge card", "POST /orders")


def test_with_a_leaking_fixture(warm_cache):
    pass
""",
    )
    result = run(pytester, "--tracehound-strict")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_with_a_leaking_fixture*",
            f"L001 span-never-ended (error) at test_shop.py:{line_of(path, 'MARK-FIX')}",
        ]
    )


def test_the_session_leaves_opentelemetry_as_it_found_it(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    def state() -> list[object]:
        return [
            trace._TRACER_PROVIDER,
            trace._TRACER_PROVIDER_SET_ONCE._done,
            propagate.get_global_textmap(),
            threading.Thread.start,
            ThreadPoolExecutor.submit,
        ]

    before = state()
    write(pytester, LOST + LEAK)
    result = run(pytester, "--tracehound-strict")
    result.assert_outcomes(failed=2)
    assert all(now is then for now, then in zip(state(), before, strict=True))

    seen: list[str] = []
    monkeypatch.setattr(SessionRecorder, "on_start", lambda self, span, *_: seen.append(span))
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):  # an earlier test configured one: still ours?
        provider.get_tracer("after").start_span("after the session").end()
    assert seen == []


def test_loads_by_name_when_plugin_autoload_is_off(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    write(pytester, LOST, ini="[pytest]\n")
    result = pytester.runpytest_subprocess("-p", "tracehound", "--tracehound-strict")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["C005 context-lost-in-worker (error) at test_shop.py:*"])


def test_a_provider_the_tests_set_replaces_the_stand_in(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


@pytest.fixture(scope="session")
def exported():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    assert trace.get_tracer_provider() is provider
    return exporter
"""
    )
    write(
        pytester,
        WORK
        + """

def test_both_see_the_spans(exported, tracehound_spans):
    lose_the_context()
    assert sorted(s.name for s in exported.get_finished_spans()) == ["POST /orders", "charge card"]
    tracehound_spans.assert_finding("C005")
""",
    )
    result = pytester.runpytest_subprocess("-p", "no:hypothesispytest", "--tracehound-strict")
    result.assert_outcomes(passed=1)


def test_configure_in_the_tested_code_behaves_as_without_the_plugin(
    pytester: pytest.Pytester,
) -> None:
    write(
        pytester,
        WORK
        + """
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


def test_configured(tracehound_spans):
    exporter = InMemorySpanExporter()
    tracehound.configure(span_exporter=exporter, batch=False, log_correlation=False)
    with tracehound.span("GET /healthz", kind=SpanKind.SERVER):
        pass
    lose_the_context()
    tracehound.shutdown()
    exported = sorted(s.name for s in exporter.get_finished_spans())
    assert exported == ["POST /orders", "charge card"]  # the health check is switched off
    tracehound_spans.assert_finding("C005")
""",
    )
    result = pytester.runpytest_subprocess("-p", "no:hypothesispytest", "--tracehound-strict")
    result.assert_outcomes(passed=1)


def test_spans_of_shared_fixtures_are_checked_at_the_end_of_the_session(
    pytester: pytest.Pytester,
) -> None:
    path = write(
        pytester,
        """
import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind

KEPT = []


@pytest.fixture(scope="module")
def suite_span():
    with trace.get_tracer("shop").start_as_current_span("suite", kind=SpanKind.SERVER):
        yield


@pytest.fixture(scope="session")
def forgotten():
    KEPT.append(trace.get_tracer("shop").start_span("forgotten", kind=SpanKind.SERVER))  # MARK


def test_one(suite_span, forgotten):
    pass


def test_two(suite_span):
    pass
""",
    )
    result = run(pytester, "--tracehound-strict")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "fixtures shared between tests (class, module, package or session scope)",
            f"  L001 span-never-ended (error): span 'forgotten' at test_shop.py:"
            f"{line_of(path, 'MARK')}",
        ]
    )
    result.stdout.no_fnmatch_line("*'suite'*")


def test_xdist_workers_record_their_own_tests(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    source = (
        LOST + "\n\ndef test_other():\n    lose_the_context()\n\n\ndef test_clean():\n    pass\n"
    )
    write(pytester, source)
    result = pytester.runpytest_subprocess(
        "-p", "no:hypothesispytest", "-n", "2", "--tracehound-strict"
    )
    result.assert_outcomes(failed=2, passed=1)
    result.stdout.fnmatch_lines(
        [
            "*= tracehound findings =*",
            "*C005 context-lost-in-worker (error): span 'charge card' at test_shop.py:*",
            "*FAILED test_shop.py::test_*",
        ]
    )
