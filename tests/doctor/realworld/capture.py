"""Capture the real-instrumentation matrix: stock apps, real SDK, ground truth from the apps.

    ./dev run python tests/doctor/realworld/capture.py --out tests/doctor/data/realworld
    ./dev run python tests/doctor/realworld/capture.py --out /tmp/rw --only req-b3-to-b3

Each combination starts its own processes under ``opentelemetry-instrument``
(service names differ from the 127.0.0.1:<port> they listen on), sends a few
requests, waits (bounded) until the spans reached the receiver, stops the
processes and writes ``<out>/<combination>/traces/<service>.otlp.pb`` (framed
OTLP protobuf) and ``<out>/<combination>/ground_truth.json``.  Whether a call
continued its trace is what the callee *answered* (the trace ID the OTel API
gave its handler), never what the doctor says.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import threading
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _processes import BIN, Fleet, free_port, node_command, otel_env
from _receiver import Receiver
from _spans import client_span_of, read_spans

PROPAGATORS = ("tracecontext", "jaeger", "b3", "b3multi")
CAPTURED_HEADERS = "traceparent,tracestate,uber-trace-id,b3,x-b3-traceid,x-b3-spanid,x-b3-sampled"
CALLS = 3
START_TIMEOUT = 60.0
SPAN_TIMEOUT = 20.0


@dataclass(frozen=True)
class App:
    """One part an app plays: its service name, script, route and what it is."""

    service: str
    script: str
    route: str
    description: str


# The edges; hosts are 127.0.0.1:<free port>, never the service name.
PAIRS = (
    (App("checkout", "caller_flask.py", "/checkout", "flask + requests"),
     App("payments", "callee_fastapi.py", "/pay", "fastapi on uvicorn"), "PAYMENTS_URL"),
    (App("storefront", "caller_starlette.py", "/browse", "starlette on uvicorn + httpx"),
     App("inventory", "callee_flask.py", "/stock", "flask on werkzeug"), "INVENTORY_URL"),
    # gRPC: the callee is given as host:port (no route), its method is /shop.Pricing/Quote
    (App("checkout", "caller_flask.py", "/quote", "flask + grpc client"),
     App("pricing", "callee_grpc.py", "", "grpc server (grpcio)"), "PRICING_TARGET"),
    # Node.js under @opentelemetry/auto-instrumentations-node, calling and called by Python
    (App("gateway", "node/caller.js", "/route", "node:http server + http.get"),
     App("payments", "callee_fastapi.py", "/pay", "fastapi on uvicorn"), "PAYMENTS_URL"),
    (App("checkout", "caller_flask.py", "/checkout", "flask + requests"),
     App("ledger", "node/callee.js", "/ledger", "node:http server"), "PAYMENTS_URL"),
    # gRPC from Node (@grpc/grpc-js, whose client spans name the address) to Python's server
    (App("gateway", "node/grpc_caller.js", "/quote", "node:http server + @grpc/grpc-js"),
     App("pricing", "callee_grpc.py", "", "grpc server (grpcio)"), "PRICING_TARGET"),
)  # fmt: skip
EXTERNAL = App("fraud-check", "external_api.py", "/score", "stdlib http.server, no tracing")


@dataclass(frozen=True)
class HttpEdge:
    """One caller → callee edge of `PAIRS`: its propagators, the callee's one per replica."""

    pair: int
    caller_propagators: str
    callee_propagators: tuple[str, ...]
    external: bool = False
    """The caller also calls `EXTERNAL` (uninstrumented) on every request."""


@dataclass(frozen=True)
class Combination:
    """What one capture runs: HTTP edges (``request``) or the Celery hop (``message``)."""

    name: str
    kind: str
    scenario: str
    caller_propagators: str
    callee_propagators: str
    capture_headers: bool = False
    edges: tuple[HttpEdge, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    """More environment for every instrumented process of the combination."""
    concurrency: int = 1
    """Calls of one edge sent at once (their windows overlap)."""
    calls: int | None = None
    """Calls per edge, when not the run's default."""
    health_checks: bool = False
    """An uninstrumented load balancer polls every callee's ``/health`` during the calls."""


def _pairing(a: str, b: str, headers: bool = False) -> Combination:
    name = f"req-{a}-to-{b}" + ("-headers" if headers else "")
    edges = (HttpEdge(0, a, (b,)), HttpEdge(1, a, (b,)))
    scenario = "headers" if headers else "matrix"
    return Combination(name, "request", scenario, a, b, headers, edges)


def matrix() -> list[Combination]:
    """16 HTTP pairings, W3C callees with headers captured, cluster-like cases, gRPC calls,
    Celery hops."""
    combos = [_pairing(a, b) for a in PROPAGATORS for b in PROPAGATORS]
    combos += [_pairing(a, "tracecontext", headers=True) for a in PROPAGATORS]
    tc, jaeger = "tracecontext", "jaeger"
    combos += [
        # one edge healthy, the other broken, both callees on 127.0.0.1
        Combination("req-mixed-edges", "request", "mixed-edges", "mixed", tc,
                    edges=(HttpEdge(0, tc, (tc,)), HttpEdge(1, jaeger, (tc,)))),
        # payments being rolled out: replica 1 reads W3C, replica 2 only Jaeger
        Combination("req-rollout", "request", "rollout", tc, "mixed",
                    edges=(HttpEdge(0, tc, (tc, jaeger)),)),
        # checkout also calls a third-party API with no tracing: not a broken edge
        Combination("req-uninstrumented-peer", "request", "uninstrumented-peer", tc, tc,
                    edges=(HttpEdge(0, tc, (tc,), external=True),)),
        Combination("req-uninstrumented-peer-broken", "request", "uninstrumented-peer",
                    jaeger, tc, edges=(HttpEdge(0, jaeger, (tc,), external=True),)),
    ]  # fmt: skip
    # the stable HTTP semantic conventions (url.full, server.address, ...) instead of the old
    stable = (("OTEL_SEMCONV_STABILITY_OPT_IN", "http"),)
    combos += [
        replace(_pairing(a, tc), name=f"req-{a}-to-{tc}-semconv-http", scenario="semconv-http",
                env=stable)
        for a in (tc, jaeger)
    ]  # fmt: skip
    # six calls at once: the broken calls' windows overlap
    combos.append(
        replace(
            _pairing(jaeger, tc),
            name="req-jaeger-to-tracecontext-concurrent",
            scenario="concurrent",
            concurrency=6,
            calls=6,
        )
    )
    # health checks with no context: genuine roots in the callees while calls are served
    combos += [
        replace(
            _pairing(a, tc),
            name=f"req-{a}-to-{tc}-health-checks",
            scenario="health-checks",
            health_checks=True,
        )
        for a in (tc, jaeger)
    ]
    # the SDK's console exporter beside OTLP: what users try first, kept as console/<service>.txt
    combos.append(
        replace(
            _pairing(jaeger, tc),
            name="req-jaeger-to-tracecontext-console",
            scenario="console",
            env=(("OTEL_TRACES_EXPORTER", "otlp,console"),),
        )
    )
    # gRPC calls (metadata, not HTTP headers; the server records no address of its own)
    combos += [
        Combination(f"rpc-{a}-to-{b}", "request", "grpc", a, b, edges=(HttpEdge(2, a, (b,)),))
        for a, b in ((tc, tc), (jaeger, tc), ("b3multi", tc), (tc, "b3"))
    ]
    # Node.js beside Python, both ways (Node's SDK knows no "jaeger": it then propagates
    # nothing, as a Node service configured so does)
    combos += [
        Combination(f"node-{a}-to-{b}", "request", "node", a, b,
                    edges=(HttpEdge(3, a, (b,)), HttpEdge(4, a, (b,))))
        for a, b in ((tc, tc), ("b3multi", tc), (tc, "b3"), (jaeger, jaeger))
    ]  # fmt: skip
    combos += [
        Combination(f"node-rpc-{a}-to-{b}", "request", "node", a, b, edges=(HttpEdge(5, a, (b,)),))
        for a, b in ((tc, tc), ("b3multi", tc))
    ]
    # and their console exporters beside OTLP: Node prints JavaScript objects, not JSON
    combos.append(Combination("node-tracecontext-to-b3-console", "request", "console", tc, "b3",
                              edges=(HttpEdge(3, tc, ("b3",)), HttpEdge(4, tc, ("b3",))),
                              env=(("OTEL_TRACES_EXPORTER", "otlp,console"),)))  # fmt: skip
    combos += [
        Combination(f"msg-{a}-to-{b}", "message", "message", a, b)
        for a, b in ((tc, tc), (jaeger, tc), ("b3multi", "b3multi"))
    ]
    return combos


def capture(combo: Combination, receiver: Receiver, out: Path, work: Path, calls: int) -> dict:
    """Run one combination; returns its ground truth (also written beside its traces)."""
    target = out / combo.name
    shutil.rmtree(target, ignore_errors=True)
    fleet = Fleet(work / combo.name / "logs")
    try:
        entries = (
            _start_http(combo, receiver, fleet)
            if combo.kind == "request"
            else _start_message(combo, receiver, fleet, work / combo.name / "celery")
        )
        fleet.wait_listening(START_TIMEOUT)
        with _HealthChecks(entries if combo.health_checks else []) as checks:
            answers = _call(entries, combo.calls or calls, combo.concurrency)
        ids = [a[p]["span_id"] for _, a in answers for p in ("caller", "callee")]
        ids += [root["span_id"] for root in checks.roots]
        missing = receiver.wait_for(combo.name, ids, SPAN_TIMEOUT)
    finally:
        fleet.stop()
    if ("OTEL_TRACES_EXPORTER", "otlp,console") in combo.env:
        (target / "console").mkdir(parents=True, exist_ok=True)
        for service, stdout in fleet.stdouts.items():
            shutil.copy(stdout, target / "console" / f"{service}.txt")
    if missing:
        raise RuntimeError(f"{combo.name}: spans never exported: {sorted(missing)}")
    truth = _ground_truth(combo, answers, read_spans(target / "traces"))
    truth["genuine_roots"] = checks.roots
    (target / "ground_truth.json").write_text(json.dumps(truth, indent=2) + "\n")
    return truth


def _start_http(combo: Combination, receiver: Receiver, fleet: Fleet) -> list[tuple[dict, str]]:
    common = dict(combo.env)
    callee_env = dict(common)
    if combo.capture_headers:
        callee_env["OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST"] = CAPTURED_HEADERS
    entries = []
    for spec in combo.edges:
        caller, callee, url_var = PAIRS[spec.pair]
        urls, addresses = [], []
        replicas = len(spec.callee_propagators)
        for replica, propagators in enumerate(spec.callee_propagators, 1):
            port = free_port()
            process = f"{callee.service}-{replica}" if replicas > 1 else callee.service
            env = otel_env(callee.service, propagators, receiver.endpoint(combo.name, process),
                           PORT=str(port), **callee_env)  # fmt: skip
            argv, instrumented = _argv(callee.script)
            fleet.start(process, argv, env, port, instrumented=instrumented)
            urls.append(f"http://127.0.0.1:{port}{callee.route}" if callee.route
                        else f"127.0.0.1:{port}")  # fmt: skip
            addresses.append(f"127.0.0.1:{port}")
        extra = {**common, url_var: ",".join(urls)}
        if spec.external:
            port = free_port()
            env = otel_env(EXTERNAL.service, "none", "http://127.0.0.1:9/unused", PORT=str(port))
            fleet.start(EXTERNAL.service, [sys.executable, EXTERNAL.script], env, port,
                        instrumented=False)  # fmt: skip
            extra["EXTERNAL_URL"] = f"http://127.0.0.1:{port}{EXTERNAL.route}"
        caller_port = free_port()
        env = otel_env(caller.service, spec.caller_propagators,
                       receiver.endpoint(combo.name, caller.service),
                       PORT=str(caller_port), **extra)  # fmt: skip
        argv, instrumented = _argv(caller.script)
        fleet.start(caller.service, argv, env, caller_port, instrumented=instrumented)
        edge = {
            "kind": "request", "caller": caller.service, "callee": callee.service,
            "caller_app": caller.description, "callee_app": callee.description,
            "caller_propagators": spec.caller_propagators,
            "callee_propagators": ",".join(spec.callee_propagators),
            "callee_address": ", ".join(addresses),
        }  # fmt: skip
        entries.append((edge, f"http://127.0.0.1:{caller_port}{caller.route}"))
    return entries


def _argv(script: str) -> tuple[list[str], bool]:
    """How to run an app's script, and whether under ``opentelemetry-instrument``:
    Python's are, Node's (``node/...``) run under their own register script."""
    if script.startswith("node/"):
        return node_command(script.removeprefix("node/")), False
    return [sys.executable, script], True


def _start_message(
    combo: Combination, receiver: Receiver, fleet: Fleet, data: Path
) -> list[tuple[dict, str]]:
    worker_env = otel_env(
        "fulfilment", combo.callee_propagators, receiver.endpoint(combo.name, "fulfilment"),
        CELERY_DATA=str(data),
    )  # fmt: skip
    worker = [str(BIN / "celery"), "-A", "tasks", "worker", "--pool=solo", "--loglevel=WARNING",
              "--without-gossip", "--without-mingle", "--without-heartbeat"]  # fmt: skip
    fleet.start("fulfilment", worker, worker_env, None)
    port = free_port()
    caller_env = otel_env(
        "checkout", combo.caller_propagators, receiver.endpoint(combo.name, "checkout"),
        PORT=str(port), CELERY_DATA=str(data),
    )  # fmt: skip
    fleet.start("checkout", [sys.executable, "caller_flask.py"], caller_env, port)
    edge = {
        "kind": "message", "caller": "checkout", "callee": "fulfilment",
        "caller_app": "flask + celery producer", "callee_app": "celery worker (solo pool)",
        "caller_propagators": combo.caller_propagators,
        "callee_propagators": combo.callee_propagators,
        "callee_address": "filesystem:// queue celery",
    }  # fmt: skip
    return [(edge, f"http://127.0.0.1:{port}/order")]


def _get(url: str, timeout: float = 60) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=timeout) as answer:
        return json.loads(answer.read())


def _call(entries: list[tuple[dict, str]], calls: int, concurrency: int) -> list:
    """Every entry's URL ``calls`` times, ``concurrency`` at once; answers in sending order."""
    jobs = [(edge, url) for edge, url in entries for _ in range(calls)]
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return list(zip([e for e, _ in jobs], pool.map(_get, [u for _, u in jobs]), strict=True))


class _HealthChecks:
    """While open, poll every callee's ``/health`` (no trace headers) from a thread.

    ``roots`` lists the spans the callees answered in: genuine roots, no caller.
    """

    INTERVAL = 0.05

    def __init__(self, entries: list[tuple[dict, str]]) -> None:
        self.urls = [
            f"http://{address}/health"
            for edge, _ in entries
            for address in edge["callee_address"].split(", ")
        ]
        self.roots: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> _HealthChecks:
        if self.urls:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self.urls:
            self._thread.join(timeout=30)

    def _poll(self) -> None:
        while not self._stop.is_set():
            for url in self.urls:
                span = _get(url, timeout=10)
                self.roots.append({**span, "what": "health check, no trace context"})
            self._stop.wait(self.INTERVAL)


def _address(url: str | None) -> str | None:
    return url.split("/")[2] if url else None


def _ground_truth(combo: Combination, answers: list, spans: dict[str, dict]) -> dict:
    calls, uninstrumented = [], []
    for edge, answer in answers:
        caller, callee = answer["caller"], answer["callee"]
        client = client_span_of(spans, caller["span_id"], callee.get("address"))
        continued = callee["trace_id"] == caller["trace_id"]
        if continued and callee["parent_span_id"] != client:
            raise RuntimeError(f"{combo.name}: callee parent {callee['parent_span_id']} "
                               f"is not the client span {client}")  # fmt: skip
        calls.append({
            "kind": edge["kind"], "caller": edge["caller"], "callee": edge["callee"],
            "client_span_id": client, "caller_trace_id": caller["trace_id"],
            "caller_entry_span_id": caller["span_id"],
            "callee_trace_id": callee["trace_id"], "callee_span_id": callee["span_id"],
            "callee_parent_span_id": callee["parent_span_id"],
            "callee_address": callee.get("address"),
            "continued": continued, "headers_received": callee.get("headers"),
        })  # fmt: skip
        external = _address(answer.get("external"))
        if external:
            uninstrumented.append({
                "caller": edge["caller"], "peer": EXTERNAL.service, "address": external,
                "client_span_id": client_span_of(spans, caller["span_id"], external),
                "caller_trace_id": caller["trace_id"],
            })  # fmt: skip
    edges = []
    for edge in {json.dumps(e, sort_keys=True): e for e, _ in answers}.values():
        mine = [c for c in calls if (c["caller"], c["callee"]) == (edge["caller"], edge["callee"])]
        broken = sum(not c["continued"] for c in mine)
        edges.append({**edge, "calls": len(mine), "continued": len(mine) - broken,
                      "broken": broken})  # fmt: skip
    return {
        "combination": combo.name,
        "kind": combo.kind,
        "scenario": combo.scenario,
        "caller_propagators": combo.caller_propagators,
        "callee_propagators": combo.callee_propagators,
        "captured_headers": CAPTURED_HEADERS.split(",") if combo.capture_headers else None,
        "environment": dict(combo.env),
        "healthy": all(c["continued"] for c in calls),
        "edges": edges,
        "calls": calls,
        "uninstrumented_calls": uninstrumented,
        "genuine_roots": [],
    }


def run(out: Path, only: list[str] | None = None, calls: int = CALLS) -> Iterator[dict]:
    """Capture the combinations named by ``only`` (all by default) into ``out``."""
    combos = [c for c in matrix() if not only or c.name in only]
    unknown = set(only or ()) - {c.name for c in combos}
    if unknown:
        raise SystemExit(f"unknown combination(s): {', '.join(sorted(unknown))}")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="realworld-") as tmp, Receiver(out) as receiver:
        for combo in combos:
            yield capture(combo, receiver, out, Path(tmp), calls)
        if receiver.rejected:
            raise RuntimeError(f"receiver rejected: {receiver.rejected}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="snapshot directory (required to capture)")
    parser.add_argument("--only", action="append", help="a combination name (repeatable)")
    parser.add_argument("--calls", type=int, default=CALLS, help="calls per edge")
    parser.add_argument("--list", action="store_true", help="list the combinations")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(c.name for c in matrix()))
        return 0
    if args.out is None:
        parser.error("--out is required")
    for truth in run(args.out, args.only, args.calls):
        summary = ", ".join(
            f"{e['caller']}->{e['callee']} {e['continued']}/{e['calls']} continued"
            for e in truth["edges"]
        )
        print(f"{truth['combination']}: {summary}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
