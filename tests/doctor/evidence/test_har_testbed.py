"""HAR files written by mitmproxy (mitmdump reverse proxies in front of payments and
ledger) name the test bed's broken hop and its cause, alone and beside spans and logs."""

from __future__ import annotations

from pathlib import Path

import pytest
from testbed.chain import ChainRun, run_chain
from testbed.mitm import find_mitmdump

from tracehound.doctor import check_paths
from tracehound.doctor.report.json import to_dict

COMMITTED = Path(__file__).resolve().parents[1] / "real" / "har" / "mitmproxy11-testbed"
"""Two HARs of one worker-thread run with two orders (tests/doctor/real/SOURCES.md)."""


def _p005(report) -> dict:  # type: ignore[no-untyped-def]
    [hop] = [f.details for f in report.findings if f.code in {"P005", "P007"}]
    return hop


@pytest.fixture(scope="module")
def har_run(tmp_path_factory: pytest.TempPathFactory) -> ChainRun:
    binary, why = find_mitmdump()
    if binary is None:
        pytest.skip(f"no mitmdump to write HAR files: {why}")
    run = run_chain("worker-thread", tmp_path_factory.mktemp("har"), capture=False, har=True)
    assert run.har is not None, run.har_skipped
    return run


def test_the_har_files_alone_name_the_hop_by_address_and_the_cause(har_run: ChainRun) -> None:
    run = har_run
    report = check_paths([str(run.har)])
    assert not report.errors
    # payments.har: orders → payments; ledger.har: payments → ledger (ledger's own call to
    # bank passes no proxy)
    assert report.exchanges_read == 2 * len(run.calls)
    hop = _p005(report)
    assert (hop["caller"], hop["callee"]) == (run.addresses["payments"], run.addresses["ledger"])
    assert hop["cause"] == "not-forwarded"
    assert hop["requests"] == hop["of"] == len(run.calls)


def test_the_har_with_spans_and_logs_names_the_services_and_the_edge_cites_the_har(
    har_run: ChainRun,
) -> None:
    run = har_run
    report = check_paths([str(run.har), str(run.traces), str(run.logs)])
    hop = _p005(report)
    assert (hop["caller"], hop["callee"], hop["cause"]) == ("payments", "ledger", "not-forwarded")
    [edge] = [e for e in report.edges if (e.caller, e.callee) == ("payments", "ledger")]
    assert edge.cause_kind == "not-forwarded"
    kinds = {e.kind: e for e in edge.evidence}
    assert kinds["http"].source.startswith(f"{run.har / 'ledger.har'}:entry ")
    assert "log" in " ".join(kinds)  # the logs' G001 hop is cited beside it
    document = to_dict(report)
    [cited] = [e for e in document["edges"] if (e["caller"], e["callee"]) == ("payments", "ledger")]
    assert [e["cause"] for e in cited["evidence"] if e["kind"] == "http"] == ["not-forwarded"]


def test_the_committed_mitmproxy_hars_name_the_hop_without_mitmdump() -> None:
    report = check_paths([str(COMMITTED)])
    assert not report.errors
    assert report.exchanges_read == 4
    hop = _p005(report)
    # payments and ledger of that run, by the addresses mitmdump forwarded to
    assert (hop["caller"], hop["callee"], hop["cause"]) == (
        "127.0.0.1:59783", "127.0.0.1:44339", "not-forwarded",
    )  # fmt: skip
    assert hop["requests"] == hop["of"] == 2
    assert [f.location.split(":entry")[0] for f in report.findings if f.code == "P005"] == [
        str(COMMITTED / "ledger.har")
    ]
