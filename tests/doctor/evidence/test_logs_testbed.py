"""The shared test bed's JSON logs (testbed/chain.py): the broken hop named from the logs
alone, and cited on the edge beside the spans, for every fault."""

from __future__ import annotations

import pytest
from testbed.chain import FAULTS, ChainRun
from testbed.fixtures import chain_runs  # noqa: F401 (a fixture)

from tracehound.doctor import check_paths


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_the_logs_alone_name_the_broken_hop(
    chain_runs: dict[str, ChainRun],  # noqa: F811
    name: str,
) -> None:
    run = chain_runs[name]
    report = check_paths([str(run.logs)])
    assert report.log_lines > 0 and report.log_rejections == [] and not report.errors
    hops = [(f.details["caller"], f.details["callee"]) for f in report.findings if f.code == "G001"]
    assert hops == ([run.fault.broken_hop] if run.fault.broken_hop else [])
    for finding in report.findings:
        if finding.code == "G001":
            assert finding.details["key"] == "order_id"  # found in the logs, not given
            assert finding.details["changed"] + finding.details["vanished"] == len(run.calls)


def test_beside_the_spans_the_broken_edge_cites_the_logs(
    chain_runs: dict[str, ChainRun],  # noqa: F811
) -> None:
    run = chain_runs["propagator-mismatch"]
    report = check_paths([str(run.traces), str(run.logs)])
    caller, callee = run.fault.broken_hop
    edge = next(e for e in report.edges if (e.caller, e.callee) == (caller, callee))
    assert edge.broken == len(run.calls)
    (logs,) = [e for e in edge.evidence if e.kind == "logs"]
    assert logs.summary.startswith(f"{callee} logged the new trace ID ")
    assert logs.source.startswith(str(run.logs / f"{callee}.log"))


def test_behind_a_proxy_the_logs_follow_the_order_where_the_spans_guess_by_route(
    chain_runs: dict[str, ChainRun],  # noqa: F811
) -> None:
    # through an uninstrumented proxy that rewrote Host the spans see payments call an
    # address no service serves, and ledger start traces of the same route meanwhile: C003
    # by route and time, weakly. The logs follow the order across, and back the edge.
    run = chain_runs["proxy-strips"]
    report = check_paths([str(run.traces), str(run.logs)])
    broken = [f for f in report.findings if f.code == "C003"]
    assert len(broken) == len(run.calls)
    assert {f.details["confidence"] for f in broken} == {0.6}
    assert all(f.details["matched_by"].startswith("method and path /work (") for f in broken)
    [edge] = [e for e in report.edges if (e.caller, e.callee) == run.fault.broken_hop]
    assert edge.broken == len(run.calls)
    assert edge.evidence[0].kind == "logs"
    (finding,) = [f for f in report.findings if f.code == "G001"]
    assert (finding.details["caller"], finding.details["callee"]) == run.fault.broken_hop
    assert finding.details["changed"] == len(run.calls)
