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
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _processes import BIN, Fleet, free_port, otel_env
from _receiver import Receiver
from _spans import client_span_of, read_spans

PROPAGATORS = ("tracecontext", "jaeger", "b3", "b3multi")
CAPTURED_HEADERS = (
    "traceparent,tracestate,uber-trace-id,b3,x-b3-traceid,x-b3-spanid,x-b3-sampled"
)
CALLS = 3
START_TIMEOUT = 60.0
SPAN_TIMEOUT = 20.0


@dataclass(frozen=True)
class Combination:
    """One caller/callee propagator pairing, over HTTP (``request``) or Celery (``message``)."""

    kind: str
    caller_propagators: str
    callee_propagators: str
    capture_headers: bool = False

    @property
    def name(self) -> str:
        prefix = "req" if self.kind == "request" else "msg"
        suffix = "-headers" if self.capture_headers else ""
        return f"{prefix}-{self.caller_propagators}-to-{self.callee_propagators}{suffix}"


def matrix() -> list[Combination]:
    """16 HTTP pairings, the W3C callees again with trace headers captured, and Celery hops."""
    combos = [Combination("request", a, b) for a in PROPAGATORS for b in PROPAGATORS]
    combos += [Combination("request", a, "tracecontext", True) for a in PROPAGATORS]
    combos += [
        Combination("message", "tracecontext", "tracecontext"),
        Combination("message", "jaeger", "tracecontext"),
        Combination("message", "b3multi", "b3multi"),
    ]
    return combos


# Which app plays which part: (service, script, route) -- hosts are 127.0.0.1:<port>.
HTTP_EDGES = (
    ("checkout", "caller_flask.py", "/checkout", "flask + requests",
     "payments", "callee_fastapi.py", "/pay", "fastapi on uvicorn", "PAYMENTS_URL"),
    ("storefront", "caller_starlette.py", "/browse", "starlette on uvicorn + httpx",
     "inventory", "callee_flask.py", "/stock", "flask on werkzeug", "INVENTORY_URL"),
)  # fmt: skip


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
        answers = [(edge, _get(url)) for edge, url in entries for _ in range(calls)]
        ids = [a[p]["span_id"] for _, a in answers for p in ("caller", "callee")]
        missing = receiver.wait_for(combo.name, ids, SPAN_TIMEOUT)
    finally:
        fleet.stop()
    if missing:
        raise RuntimeError(f"{combo.name}: spans never exported: {sorted(missing)}")
    truth = _ground_truth(combo, answers, read_spans(target / "traces"))
    (target / "ground_truth.json").write_text(json.dumps(truth, indent=2) + "\n")
    return truth


def _start_http(combo: Combination, receiver: Receiver, fleet: Fleet) -> list[tuple[dict, str]]:
    entries = []
    for caller, c_app, c_route, c_desc, callee, e_app, e_route, e_desc, url_var in HTTP_EDGES:
        callee_port, caller_port = free_port(), free_port()
        extra = (
            {"OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST": CAPTURED_HEADERS}
            if combo.capture_headers
            else {}
        )
        callee_env = otel_env(
            callee, combo.callee_propagators, receiver.endpoint(combo.name, callee),
            PORT=str(callee_port), **extra,
        )  # fmt: skip
        fleet.start(callee, [sys.executable, e_app], callee_env, callee_port)
        callee_url = f"http://127.0.0.1:{callee_port}{e_route}"
        caller_env = otel_env(
            caller, combo.caller_propagators, receiver.endpoint(combo.name, caller),
            PORT=str(caller_port), **{url_var: callee_url},
        )  # fmt: skip
        fleet.start(caller, [sys.executable, c_app], caller_env, caller_port)
        edge = {
            "kind": "request", "caller": caller, "callee": callee,
            "caller_app": c_desc, "callee_app": e_desc,
            "callee_address": f"127.0.0.1:{callee_port}",
        }  # fmt: skip
        entries.append((edge, f"http://127.0.0.1:{caller_port}{c_route}"))
    return entries


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
        PORT=str(port), CELERY_DATA=str(data), PAYMENTS_URL="http://127.0.0.1:9/unused",
    )  # fmt: skip
    fleet.start("checkout", [sys.executable, "caller_flask.py"], caller_env, port)
    edge = {
        "kind": "message", "caller": "checkout", "callee": "fulfilment",
        "caller_app": "flask + celery producer", "callee_app": "celery worker (solo pool)",
        "callee_address": "filesystem:// queue celery",
    }  # fmt: skip
    return [(edge, f"http://127.0.0.1:{port}/order")]


def _get(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=60) as answer:
        return json.loads(answer.read())


def _ground_truth(combo: Combination, answers: list, spans: dict[str, dict]) -> dict:
    calls = []
    for edge, answer in answers:
        caller, callee = answer["caller"], answer["callee"]
        client = client_span_of(spans, caller["span_id"])
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
            "continued": continued, "headers_received": callee.get("headers"),
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
        "caller_propagators": combo.caller_propagators,
        "callee_propagators": combo.callee_propagators,
        "captured_headers": CAPTURED_HEADERS.split(",") if combo.capture_headers else None,
        "healthy": all(c["continued"] for c in calls),
        "edges": edges,
        "calls": calls,
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
    parser.add_argument("--out", type=Path, required=True, help="snapshot directory")
    parser.add_argument("--only", action="append", help="a combination name (repeatable)")
    parser.add_argument("--calls", type=int, default=CALLS, help="calls per edge")
    parser.add_argument("--list", action="store_true", help="list the combinations")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(c.name for c in matrix()))
        return 0
    for truth in run(args.out, args.only, args.calls):
        start = time.strftime("%H:%M:%S")
        summary = ", ".join(
            f"{e['caller']}->{e['callee']} {e['continued']}/{e['calls']} continued"
            for e in truth["edges"]
        )
        print(f"{start} {truth['combination']}: {summary}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
