"""The three-service test bed: each broken hop named, with its cause, from the capture alone
and from the capture with the spans; the healthy chain gives no hop finding."""

from __future__ import annotations

import pytest
from testbed.chain import FAULTS, ChainRun
from testbed.fixtures import capture_of, chain_runs  # noqa: F401 (a fixture)

from tracehound.doctor import check_paths
from tracehound.doctor.report.json import to_dict

HOP_CODES = {"P005", "P007"}
BROKEN = sorted(name for name, fault in FAULTS.items() if fault.broken_hop)


def _hops(report) -> list[dict]:  # type: ignore[no-untyped-def]
    return [f.details for f in report.findings if f.code in HOP_CODES]


@pytest.mark.parametrize("name", BROKEN)
def test_the_capture_alone_names_the_hop_and_the_cause(
    chain_runs: dict[str, ChainRun],  # noqa: F811
    name: str,
) -> None:
    run = chain_runs[name]
    report = check_paths([str(capture_of(run))])
    assert report.exchanges_read == 4 * len(run.calls) + (len(run.calls) if run.fault.proxy else 0)
    assert not report.errors
    caller, callee = run.fault.broken_hop  # type: ignore[misc]
    [hop] = _hops(report)
    # without spans the services are their addresses
    assert (hop["caller"], hop["callee"]) == (run.addresses[caller], run.addresses[callee])
    assert hop["cause"] == run.fault.cause
    assert hop["requests"] == hop["of"] == len(run.calls)
    if run.fault.proxy:
        assert hop["via"] == run.addresses["proxy"]


@pytest.mark.parametrize("name", BROKEN)
def test_the_capture_with_the_spans_names_the_services_and_the_edge_cites_it(
    chain_runs: dict[str, ChainRun],  # noqa: F811
    name: str,
) -> None:
    run = chain_runs[name]
    capture = capture_of(run)
    report = check_paths([str(capture), str(run.traces)])
    caller, callee = run.fault.broken_hop  # type: ignore[misc]
    [hop] = _hops(report)
    assert (hop["caller"], hop["callee"], hop["cause"]) == (caller, callee, run.fault.cause)
    # the edge the spans found (behind the proxy by route and time) now names the cause
    # and cites the packet that proves it
    [edge] = [e for e in report.edges if (e.caller, e.callee) == (caller, callee)]
    assert edge.cause_kind == run.fault.cause
    assert edge.evidence[0].kind == "http"
    assert edge.evidence[0].source.startswith(f"{capture}:packet ")
    document = to_dict(report)
    [cited] = [e for e in document["edges"] if (e["caller"], e["callee"]) == (caller, callee)]
    assert cited["evidence"][0]["cause"] == run.fault.cause


def test_the_spans_alone_guess_the_hop_behind_the_proxy_and_the_capture_says_why(
    chain_runs: dict[str, ChainRun],  # noqa: F811
) -> None:
    run = chain_runs["proxy-strips"]
    alone = check_paths([str(run.traces)])
    # payments called the proxy's address, which no span serves; ledger's new traces of
    # the same route started inside those calls: broken, by route, cause unknown
    [edge] = [e for e in alone.edges if e.broken]
    assert (edge.caller, edge.callee) == run.fault.broken_hop
    assert edge.broken == len(run.calls) and edge.cause_kind == "undecided"
    together = check_paths([str(capture_of(run)), str(run.traces)])
    assert [f.code for f in together.findings if f.code in HOP_CODES] == ["P007"]
    [edge] = [e for e in together.edges if e.broken]
    assert edge.cause_kind == "header-stripped"


def test_the_healthy_chain_has_no_hop_finding(chain_runs: dict[str, ChainRun]) -> None:  # noqa: F811
    run = chain_runs["healthy"]
    report = check_paths([str(capture_of(run)), str(run.traces)])
    assert not _hops(report)
    assert not [e for e in report.edges if e.cause_kind]
    assert report.exchanges_read == 4 * len(run.calls)


def test_the_mismatch_is_also_p003_on_the_requests_the_callee_could_not_read(
    chain_runs: dict[str, ChainRun],  # noqa: F811
) -> None:
    run = chain_runs["propagator-mismatch"]
    report = check_paths([str(capture_of(run)), str(run.traces)])
    [p003] = [f for f in report.findings if f.code == "P003"]
    assert p003.service == "ledger"
    assert p003.details["requests"] == p003.details["of"] == len(run.calls)


def test_a_context_that_arrives_but_is_not_used_points_at_the_callees_extraction(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """ledger serves requests in a span it starts from an empty context: the capture shows
    a valid `traceparent` naming payments' exported span arrive, yet ledger's spans are
    roots."""
    from testbed.chain import Fault, run_chain

    fault = Fault("no-extract", "not-extracted", ("payments", "ledger"), no_extract=True)
    run = run_chain(fault, tmp_path_factory.mktemp("ignores"))
    assert run.continued("payments", "ledger") == [False] * len(run.calls)
    report = check_paths([str(capture_of(run)), str(run.traces)])
    [hop] = _hops(report)
    assert (hop["caller"], hop["callee"], hop["cause"]) == ("payments", "ledger", "not-extracted")
    # ledger's own SERVER span records no address: payments' calls are to the address
    target = ("payments", run.addresses["ledger"])
    [edge] = [e for e in report.edges if (e.caller, e.callee) == target]
    assert edge.cause_kind == "not-extracted"
    assert edge.evidence[0].kind == "http"
    assert "does not start from the extracted context" in edge.evidence[0].summary
    # the capture alone sees ledger's calls carry another trace: it cannot tell why
    [alone] = _hops(check_paths([str(capture_of(run))]))
    assert (alone["caller"], alone["cause"]) == (run.addresses["ledger"], "not-forwarded")


def test_a_mismatch_behind_a_host_rewriting_proxy_is_found_by_route_and_named_by_the_wire(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """payments sends only uber-trace-id through an untraced proxy that passes every header
    on but rewrites Host (nginx's default); ledger reads only W3C.  payments' calls go to an
    address no span serves: the spans alone find the break by method, path and time; the
    capture names the cause and the hop from payments via the proxy (named by its address,
    not by the caller whose context it forwards)."""
    from testbed.chain import Fault, run_chain

    fault = Fault("mismatch-behind-proxy", "propagator-mismatch", ("payments", "ledger"),
                  propagators=("tracecontext,jaeger", "jaeger", "tracecontext"), proxy=True,
                  strip="")  # fmt: skip
    run = run_chain(fault, tmp_path_factory.mktemp("behind-proxy"))
    assert run.continued("payments", "ledger") == [False] * len(run.calls)
    alone = check_paths([str(run.traces)])
    broken = [f for f in alone.findings if f.code == "C003"]
    assert len(broken) == len(run.calls)
    assert {(f.details["caller"], f.details["callee"]) for f in broken} == {fault.broken_hop}
    proxy = run.addresses["proxy"]
    assert {f.details["matched_by"] for f in broken} == {
        f"method and path /work ({proxy} is no service's: a proxy?)"
    }
    together = check_paths([str(capture_of(run)), str(run.traces)])
    [edge] = [e for e in together.edges if e.broken]
    assert (edge.caller, edge.callee, edge.cause_kind) == (*fault.broken_hop, fault.cause)
    # the hop is named from its real caller, through the proxy, with spans and without
    [hop] = _hops(together)
    assert (hop["caller"], hop["callee"], hop["via"]) == (*fault.broken_hop, proxy)
    [hop] = _hops(check_paths([str(capture_of(run))]))
    caller, callee = (run.addresses[name] for name in fault.broken_hop)
    assert (hop["caller"], hop["callee"], hop["via"], hop["cause"]) == (
        caller, callee, proxy, fault.cause,
    )  # fmt: skip
    assert edge.evidence[0].kind == "http"
    # only legacy propagation reached the proxy and ledger: the proxy is named by its
    # address (it forwards payments' span ID as it came, which names payments)
    assert {f.service for f in together.findings if f.code == "P003"} == {proxy, "ledger"}
