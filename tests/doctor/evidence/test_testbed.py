"""The test bed itself: each fault breaks the hop it names, and only that one."""

from __future__ import annotations

import itertools
import json

import pytest
from testbed.chain import FAULTS, SERVICES, ChainRun
from testbed.fixtures import chain_runs  # noqa: F401 (a fixture)


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_the_fault_breaks_its_hop_and_no_other(
    chain_runs: dict[str, ChainRun],  # noqa: F811
    name: str,
) -> None:
    run = chain_runs[name]
    for caller, callee in itertools.pairwise(SERVICES):
        broken = run.fault.broken_hop == (caller, callee)
        assert run.continued(caller, callee) == [not broken] * len(run.calls), (caller, callee)


def test_every_service_logs_json_lines_with_the_trace_it_ran_in(
    chain_runs: dict[str, ChainRun],  # noqa: F811
) -> None:
    run = chain_runs["worker-thread"]
    for service in SERVICES:
        lines = [json.loads(x) for x in (run.logs / f"{service}.log").read_text().splitlines()]
        by_order = {x["order_id"]: x["otelTraceID"] for x in lines}
        assert by_order == {c["order_id"]: c[service]["trace_id"] for c in run.calls}
        assert all(x["otelServiceName"] == service for x in lines)
