"""Run the log test bed: orders → (proxy) → payments → shipping, one fault at a time.

    ./dev run python tests/doctor/evidence/logs/_log_chain.py /tmp/chain [SCENARIO]

Each scenario starts its own processes (``chain/service.py``, the test bed's ``apps/proxy.py``)
on 127.0.0.1, sends a few orders through them, stops them and leaves
``<out>/logs/<service>.log`` and ``<out>/spans/<service>.jsonl``.  Every wait is
bounded; every process is stopped by the realworld test bed's `Fleet`.
"""

from __future__ import annotations

import os
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "realworld"))

from _processes import Fleet, free_port

CHAIN = Path(__file__).resolve().parent / "chain"
PROXY = Path(__file__).resolve().parents[1] / "testbed" / "apps" / "proxy.py"
APPS = Path(__file__).resolve().parents[2] / "realworld" / "apps"
ORDERS = 4
START_TIMEOUT = 30.0


@dataclass(frozen=True)
class Scenario:
    """One broken hop: its name, the hop that breaks, and the cause the logs can tell."""

    name: str
    caller: str
    callee: str
    logs_cause: str | None
    """What the logs alone decide (None: they show where, not why)."""


SCENARIOS = (
    # orders sends B3 only; payments reads W3C only
    Scenario("propagator-mismatch", "orders", "payments", None),
    # payments calls shipping from a thread that does not carry the context
    Scenario("worker-thread", "payments", "shipping", "not-forwarded"),
    # a proxy between orders and payments strips traceparent
    Scenario("proxy-strips-header", "orders", "payments", None),
)


def start(scenario: Scenario, out: Path) -> tuple[Fleet, int]:
    """Start the scenario's processes; returns the fleet and the port of ``orders``."""
    (out / "logs").mkdir(parents=True, exist_ok=True)
    (out / "spans").mkdir(parents=True, exist_ok=True)
    fleet = Fleet(out / "stderr")
    ports = {name: free_port() for name in ("orders", "proxy", "payments", "shipping")}
    url = {name: f"http://127.0.0.1:{port}/work" for name, port in ports.items()}
    base = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    base.update(TZ="UTC", PYTHONUNBUFFERED="1", TESTBED_PARENT_PID=str(os.getpid()),
                PYTHONPATH=str(APPS))  # the apps' shared _common module

    def service(name: str, next_url: str | None, **extra: str) -> None:
        env = {
            **base,
            "SERVICE": name,
            "PORT": str(ports[name]),
            "LOG_FILE": str(out / "logs" / f"{name}.log"),
            "SPANS_FILE": str(out / "spans" / f"{name}.jsonl"),
            "OTEL_PROPAGATORS": "tracecontext,baggage",
            # the logging instrumentation's documented switch: trace IDs on every record
            "OTEL_PYTHON_LOG_CORRELATION": "true",
            **extra,
        }
        if next_url:
            env["NEXT_URL"] = next_url
        fleet.start(name, [sys.executable, str(CHAIN / "service.py")], env, ports[name],
                    instrumented=False)  # fmt: skip

    payments_url = url["payments"]
    if scenario.name == "proxy-strips-header":
        env = {**base, "PORT": str(ports["proxy"]), "UPSTREAM": f"http://127.0.0.1:{ports['payments']}",
               "STRIP_HEADERS": "traceparent,tracestate", "PRESERVE_HOST": "1"}
        fleet.start("proxy", [sys.executable, str(PROXY)], env,
                    ports["proxy"], instrumented=False)  # fmt: skip
        payments_url = url["proxy"]
    orders_env = {"OTEL_PROPAGATORS": "b3"} if scenario.name == "propagator-mismatch" else {}
    service("orders", payments_url, **orders_env)
    worker = {"PAYMENTS_WORKER": "1"} if scenario.name == "worker-thread" else {}
    service("payments", url["shipping"], **worker)
    service("shipping", None)
    return fleet, ports["orders"]


def run(scenario: Scenario, out: Path) -> Path:
    """Run ``scenario`` to the end, its files under ``out``; returns ``out``."""
    fleet, port = start(scenario, out)
    try:
        fleet.wait_listening(START_TIMEOUT)
        for number in range(1, ORDERS + 1):
            target = f"http://127.0.0.1:{port}/work?order=o-{number}"
            with urllib.request.urlopen(target, timeout=10) as answer:
                answer.read()
    finally:
        fleet.stop()
    return out


if __name__ == "__main__":  # ./dev run python tests/doctor/evidence/logs/_log_chain.py OUT [NAME]
    target = Path(sys.argv[1])
    for scenario in SCENARIOS:
        if len(sys.argv) < 3 or scenario.name == sys.argv[2]:
            print(run(scenario, target / scenario.name))
