"""The web UI in a real headless Chromium (Debian's ``chromium``, driven by Playwright).

The SDK sends the small system with one broken edge, its span names and
attributes carrying HTML and script; the pages must show the broken edge,
the waterfall with the break marked and its cause, the other half of the
broken trace and the rule's fix, and every hostile string as plain text.
``TRACEHOUND_UI_SCREENSHOTS=DIR`` saves the overview and the broken trace there
(the README's screenshots in docs/ are made so).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _servers import Served, send_system, serving

CHROMIUM = Path("/usr/bin/chromium")
HOSTILE = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'
CHECKOUTS = 5
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _browser_or_skip() -> Any:
    in_ci = os.environ.get("CI") == "true"
    try:
        from playwright.sync_api import sync_playwright
    except ModuleNotFoundError:
        if in_ci:
            raise
        pytest.skip("the python `playwright` package is not installed (pip install -e '.[dev]')")
    if not CHROMIUM.exists():
        if in_ci:
            pytest.fail(f"{CHROMIUM} is missing in CI (.ci/run installs Debian's chromium)")
        pytest.skip(f"{CHROMIUM} not found: apt-get install chromium (no browser is downloaded)")
    return sync_playwright


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    db = tmp_path_factory.mktemp("ui") / "spans.journal"
    with serving(db) as served:
        send_system("http-proto", served.traces_url, "--checkouts", "4")
        send_system("http-proto", served.traces_url, "--checkouts", "1", "--name-prefix", HOSTILE)
        served.report_when(lambda r: r["counts"]["by_code"].get("C003") == CHECKOUTS)
        yield served


@pytest.fixture(scope="module")
def page(server: Served, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    sync_playwright = _browser_or_skip()
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=ARGS,
            viewport={"width": 1280, "height": 860},
        )
        context.set_default_timeout(15_000)
        page = context.new_page()
        page.problems = []  # type: ignore[attr-defined]
        page.on("console", lambda m: m.type == "error" and page.problems.append(m.text))  # type: ignore[attr-defined]
        page.on("pageerror", lambda e: page.problems.append(str(e)))  # type: ignore[attr-defined]
        page.on("dialog", lambda d: (page.problems.append("dialog"), d.dismiss()))  # type: ignore[attr-defined]
        page.goto(server.base + "/")
        page.wait_for_selector("body[data-ready='1']")
        yield page
        context.close()


def show(page: Any, route: str) -> None:
    """Go to the UI's ``route`` (``#/traces``) and wait until it is drawn."""
    page.goto(page.url.split("#")[0] + route)
    view = route.lstrip("#/").split("/")[0].split("?")[0] or "overview"
    page.wait_for_selector(f"main[data-view='{view}']")


def shot(page: Any, name: str) -> None:
    folder = os.environ.get("TRACEHOUND_UI_SCREENSHOTS")
    if folder:
        page.screenshot(path=str(Path(folder) / name), full_page=True)


def no_script_ran(page: Any) -> None:
    assert page.evaluate("window.__xss") is None
    assert page.locator("img").count() == 0
    assert page.locator("main script").count() == 0
    assert page.problems == []  # no error, no CSP violation, no dialog


def test_the_overview_shows_the_broken_edge(page: Any) -> None:
    show(page, "#/")
    row = page.locator("tr.broken", has_text="orders → payments")
    assert row.count() == 1
    assert "100 %" in row.inner_text()
    assert (
        page.locator("tr", has_text="gateway → orders").locator("td.num").nth(1).inner_text() == "0"
    )
    assert page.locator("svg.map .edge.broken").count() == 1
    assert page.locator("a", has_text="broken-edge").count() == 1  # findings by rule
    shot(page, "serve-overview.png")
    no_script_ran(page)


def test_the_trace_list_shows_span_names_as_text(page: Any) -> None:
    show(page, "#/traces")
    assert page.get_by_text(HOSTILE, exact=False).count() == 1  # the gateway root span's name
    no_script_ran(page)


def test_a_broken_trace_marks_the_break_its_cause_and_the_other_half(page: Any) -> None:
    show(page, "#/traces?broken=1")
    clean = page.locator("tr.broken", has_text="POST /checkout").filter(has_not_text="<img")
    clean.first.locator("a").click()
    page.wait_for_selector("main[data-view='trace'] .waterfall")
    marked = page.locator(".wf-row.marked")
    assert marked.count() == 1
    assert "orders" in marked.inner_text() and "C003" in marked.inner_text()
    cause = page.locator(".cause", has_text="broken-edge")
    assert cause.count() == 1
    assert "Fix:" in cause.inner_text()
    details = page.locator("#span-details")  # the marked span is selected: its attributes
    assert "peer.service" in details.inner_text()
    shot(page, "serve-broken-trace.png")
    # the callee's half: its own trace, linked both ways
    page.locator(".linked a").first.click()
    page.wait_for_selector("main[data-view='trace'] >> text=lost half of a call")
    assert page.locator(".wf-row.marked", has_text="payments").count() == 1
    no_script_ran(page)


def test_a_hostile_span_name_and_attribute_stay_text_in_the_waterfall(page: Any) -> None:
    show(page, "#/traces")
    page.locator("tr", has_text="<img").locator("a").click()
    page.wait_for_selector("main[data-view='trace'] .waterfall")
    assert HOSTILE in page.locator(".wf-row").first.inner_text()
    page.locator(".wf-row").first.click()
    assert HOSTILE in page.locator("#span-details").inner_text()  # the `note` attribute
    no_script_ran(page)


def test_the_rule_page_says_how_to_fix_it(page: Any) -> None:
    show(page, "#/rule/C003")
    assert page.locator("main table tr").count() == CHECKOUTS  # its findings, each with a trace
    no_script_ran(page)


def test_new_spans_show_up_without_a_reload(page: Any, server: Served) -> None:
    show(page, "#/")
    before = int(page.locator(".card .n").first.inner_text())
    send_system("http-proto", server.traces_url, "--checkouts", "1")
    deadline = time.monotonic() + 20
    while int(page.locator(".card .n").first.inner_text()) < before + 5:
        assert time.monotonic() < deadline, "the overview did not update by itself"
        page.wait_for_timeout(200)
    no_script_ran(page)
