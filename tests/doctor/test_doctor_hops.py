"""C003's callee resolution as services are addressed in clusters, with every call broken.

The attribute sets are the ones OpenTelemetry's instrumentations write (old and stable
HTTP semantic conventions); the addresses are the shapes real clusters use: cluster DNS,
a Service name without a port, a pod IP, and a host shared by several services.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import orjson
import pytest

from tracehound.doctor import check_paths

T0 = 1_767_225_600_000_000_000
_ids = itertools.count(1)


def _attrs(**values: object) -> list[dict[str, Any]]:
    out = []
    for key, value in values.items():
        typed = {"intValue": str(value)} if isinstance(value, int) else {"stringValue": value}
        out.append({"key": key.replace("_", "."), "value": typed})
    return out


def _span(
    trace: int,
    parent: int | None,
    kind: int,
    name: str,
    start_ms: float,
    end_ms: float,
    attributes: list[dict[str, Any]],
) -> tuple[int, dict[str, Any]]:
    span_id = next(_ids)
    return span_id, {
        "traceId": f"{trace:032x}",
        "spanId": f"{span_id:016x}",
        "parentSpanId": f"{parent:016x}" if parent else "",
        "name": name,
        "kind": kind,
        "startTimeUnixNano": str(T0 + int(start_ms * 1e6)),
        "endTimeUnixNano": str(T0 + int(end_ms * 1e6)),
        "attributes": attributes,
    }


def _export(
    tmp_path: Path,
    spans: dict[str, list[dict[str, Any]]],
    resources: dict[str, dict[str, str]] | None = None,
) -> Path:
    lines = []
    for service, items in spans.items():
        extra = (resources or {}).get(service, {})
        resource = _attrs(
            service_name=service, **{k.replace(".", "_"): v for k, v in extra.items()}
        )
        lines.append(
            orjson.dumps(
                {
                    "resourceSpans": [
                        {"resource": {"attributes": resource}, "scopeSpans": [{"spans": items}]}
                    ]
                }
            )
        )
    path = tmp_path / "spans.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def _broken_calls(
    client: list[dict[str, Any]],
    server: list[dict[str, Any]],
    calls: int = 3,
    caller: str = "checkout",
    callee: str = "payments",
) -> dict[str, list[Any]]:
    """``calls`` requests, each answered by a root SERVER span in a trace of its own."""
    spans: dict[str, list[Any]] = {caller: [], callee: []}
    for i in range(calls):
        t = 100 * i
        entry, s = _span(1000 + i, None, 2, "GET /checkout", t, t + 50, [])
        _, c = _span(1000 + i, entry, 3, "GET", t + 5, t + 40, client)
        _, a = _span(2000 + i, None, 2, "GET /pay", t + 7, t + 38, server)
        spans[caller] += [s, c]
        spans[callee].append(a)
    return spans


def _c003(path: Path) -> list[tuple[str, str, str]]:
    report = check_paths([str(path)])
    return [
        (f.details["caller"], f.details["callee"], f.details["matched_by"])
        for f in report.findings
        if f.code == "C003"
    ]


@pytest.mark.parametrize(
    ("client", "server", "matched_by"),
    [
        pytest.param(
            _attrs(http_method="GET", http_url="http://payments.shop.svc.cluster.local:8080/pay"),
            _attrs(
                http_method="GET",
                http_host="payments.shop.svc.cluster.local:8080",
                net_host_port=8080,
                http_target="/pay",
            ),
            "server address payments.shop.svc.cluster.local:8080",
            id="cluster-dns-old-semconv",
        ),
        pytest.param(
            # a Service on port 80 in front of a pod listening on 8080: the Host header has
            # no port, which means the scheme's default, the port the client dialled
            _attrs(
                http_request_method="GET",
                url_full="http://payments/pay",
                server_address="payments",
                server_port=80,
            ),
            _attrs(
                http_request_method="GET",
                url_scheme="http",
                server_address="payments",
                url_path="/pay",
                **{"net.host.port": 8080},
            ),
            "server address payments:80",
            id="service-name-default-port",
        ),
        pytest.param(
            _attrs(http_method="GET", http_url="http://10.0.3.7:8080/pay"),
            _attrs(http_method="GET", http_host="10.0.3.7:8080", http_target="/pay?x=1"),
            "server address 10.0.3.7:8080",
            id="pod-ip",
        ),
        pytest.param(
            # WSGI's stable conventions put the whole Host header into server.address
            _attrs(
                http_request_method="GET",
                url_full="http://127.0.0.1:18082/pay",
                server_address="127.0.0.1",
                server_port=18082,
            ),
            _attrs(
                http_request_method="GET",
                server_address="127.0.0.1:18082",
                server_port=18082,
                url_path="/pay",
            ),
            "server address 127.0.0.1:18082",
            id="wsgi-host-in-server-address",
        ),
    ],
)
def test_every_call_broken_is_found_from_the_servers_own_address(
    tmp_path: Path, client: list[Any], server: list[Any], matched_by: str
) -> None:
    path = _export(tmp_path, _broken_calls(client, server))
    assert _c003(path) == [("checkout", "payments", matched_by)] * 3


@pytest.mark.parametrize(
    ("client", "matched_by"),
    [
        # Python's gRPC client names no address; Go's and Java's record server.address
        (_attrs(rpc_system="grpc", rpc_service="shop.Pricing", rpc_method="Quote"),
         "method /shop.Pricing/Quote (the call names no address)"),
        (_attrs(rpc_system="grpc", rpc_service="shop.Pricing", rpc_method="Quote",
                server_address="10.0.3.7", server_port=50051),
         "method /shop.Pricing/Quote (no server span records 10.0.3.7:50051)"),
    ],
)  # fmt: skip
def test_every_grpc_call_broken_is_found_by_its_method(
    tmp_path: Path, client: list[Any], matched_by: str
) -> None:
    """A gRPC server span records the method and the *client's* address, never its own."""
    server = _attrs(rpc_system="grpc", rpc_service="shop.Pricing", rpc_method="Quote",
                    net_peer_ip="10.0.0.9", net_peer_port="41234")  # fmt: skip
    spans = _broken_calls(client, server, callee="pricing")
    assert _c003(_export(tmp_path, spans)) == [("checkout", "pricing", matched_by)] * 3


def test_a_cluster_host_name_names_the_workload(tmp_path: Path) -> None:
    # the server records only its pod's own name, not the Host header
    client = _attrs(http_method="GET", http_url="http://payments.shop.svc:8080/pay")
    server = _attrs(http_method="GET", net_host_name="payments-7d9c-x2x", http_target="/pay")
    path = _export(
        tmp_path,
        _broken_calls(client, server, callee="payments-api"),
        {"payments-api": {"k8s.deployment.name": "payments"}},
    )
    assert _c003(path) == [("checkout", "payments-api", "host name")] * 3


def test_another_port_on_the_same_host_is_another_server(tmp_path: Path) -> None:
    # checkout calls an uninstrumented fraud API and payments, both on 127.0.0.1
    spans = _broken_calls(
        _attrs(http_method="GET", http_url="http://127.0.0.1:18082/pay"),
        _attrs(http_method="GET", http_host="127.0.0.1:18082", http_target="/pay"),
    )
    for i in range(3):
        _, fraud = _span(
            1000 + i,
            None,
            3,
            "GET",
            100 * i + 41,
            100 * i + 45,
            _attrs(http_method="GET", http_url="http://127.0.0.1:19000/score"),
        )
        fraud["parentSpanId"] = spans["checkout"][2 * i]["spanId"]
        spans["checkout"].append(fraud)
    path = _export(tmp_path, spans)
    report = check_paths([str(path)])
    edges = {(e.caller, e.callee): (e.calls, e.broken, e.callee_seen) for e in report.edges}
    assert edges == {
        ("checkout", "payments"): (3, 3, True),
        ("checkout", "127.0.0.1:19000"): (3, 0, False),
    }


def test_the_method_must_agree_and_the_path_decides_between_answers(tmp_path: Path) -> None:
    # two answers inside the call's window: the one with the call's path is its answer
    client = _attrs(http_method="POST", http_url="http://api:8080/v1/pay")
    spans = _broken_calls(
        client, _attrs(http_method="POST", http_host="api:8080", http_target="/other"), calls=1
    )
    _, right = _span(
        3000,
        None,
        2,
        "POST /pay",
        8,
        30,
        _attrs(http_method="POST", http_host="api:8080", http_target="/pay"),
    )
    _, wrong_method = _span(
        3001,
        None,
        2,
        "GET /v1/pay",
        6,
        30,
        _attrs(http_method="GET", http_host="api:8080", http_target="/v1/pay"),
    )
    spans["payments"] += [right, wrong_method]
    report = check_paths([str(_export(tmp_path, spans))])
    [c003] = [f for f in report.findings if f.code == "C003"]
    assert c003.details["callee_trace_id"] == f"{3000:032x}"  # /pay: a proxy stripped /v1
