"""Two real HTTP services on 127.0.0.1 and a queue hop: one unbroken trace for every format.

orders (HTTP) -> payments (HTTP), and orders -> queue -> consumer thread, with
manual spans only (no middleware).  With tracehound's helpers every hop
continues the caller's trace whatever format is injected; without them the
same code paths produce C004/C005 findings and split traces.
"""

from __future__ import annotations

import http.client
import json
import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from opentelemetry.trace import SpanKind

import tracehound

MESSAGES: queue.Queue[tuple[list[tuple[str, bytes]], str] | None] = queue.Queue()
SETTINGS = {"helpers": True}


def call(port: int, path: str, headers: dict[str, str]) -> dict[str, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("POST", path, body=b"{}", headers=headers)
        response = connection.getresponse()
        return dict(json.loads(response.read() or b"{}"))
    finally:
        connection.close()


def charge() -> None:
    with tracehound.span("charge card", kind=SpanKind.CLIENT):
        pass


class Payments(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        # dict(self.headers) has Title-Case names, as real frameworks give them
        with tracehound.continue_trace(dict(self.headers), "POST /pay"):
            trace_id = tracehound.current_trace_id()
        self.reply({"trace_id": trace_id})

    def reply(self, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


class Orders(Payments):
    payments_port = 0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        with tracehound.continue_trace(dict(self.headers), "POST /orders"):
            outbound: dict[str, str] = {}
            with tracehound.span("call payments", kind=SpanKind.CLIENT):
                if SETTINGS["helpers"]:
                    tracehound.inject(outbound)
                call(self.payments_port, "/pay", outbound)
            with tracehound.span("publish order", kind=SpanKind.PRODUCER):
                record: list[tuple[str, bytes]] = []  # Kafka-style headers
                if SETTINGS["helpers"]:
                    tracehound.inject(record)
                MESSAGES.put((record, "order-1"))
            if SETTINGS["helpers"]:
                with tracehound.ContextExecutor(ThreadPoolExecutor(1)) as pool:
                    pool.submit(charge).result()
            else:
                with ThreadPoolExecutor(1) as pool:
                    pool.submit(charge).result()
        self.reply({})


def drain(timeout: float = 10.0) -> None:
    """Wait (bounded) until the consumer has processed every message."""
    deadline = time.monotonic() + timeout
    while MESSAGES.unfinished_tasks and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not MESSAGES.unfinished_tasks, "the consumer did not finish in time"


def consume() -> None:
    while True:
        item = MESSAGES.get(timeout=30)
        if item is None:
            MESSAGES.task_done()
            return
        headers, _ = item
        if SETTINGS["helpers"]:
            with tracehound.continue_trace(headers, "process order", kind=SpanKind.CONSUMER):
                pass
        else:
            with tracehound.span("process order"):  # a new root in the consumer
                pass
        MESSAGES.task_done()


@pytest.fixture
def services() -> Iterator[int]:
    payments = ThreadingHTTPServer(("127.0.0.1", 0), Payments)
    Orders.payments_port = payments.server_address[1]
    orders = ThreadingHTTPServer(("127.0.0.1", 0), Orders)
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (payments, orders)]
    consumer = threading.Thread(target=consume, name="consumer", daemon=True)
    for thread in [*threads, consumer]:
        thread.start()
    try:
        yield orders.server_address[1]
    finally:
        MESSAGES.put(None)
        consumer.join(10)
        for server in (orders, payments):
            server.shutdown()
            server.server_close()


NAMES = {
    "gateway",
    "POST /orders",
    "call payments",
    "POST /pay",
    "publish order",
    "process order",
    "charge card",
}


@pytest.mark.parametrize("fmt", ["tracecontext", "jaeger", "b3", "b3multi"])
def test_one_unbroken_trace_for_every_format(
    fmt: str, services: int, configure: Callable[..., Any]
) -> None:
    SETTINGS["helpers"] = True
    recorded = configure(inject=[fmt])
    with tracehound.new_trace("gateway", kind=SpanKind.CLIENT, link_current=False):
        outbound = tracehound.inject()
        call(services, "/orders", outbound)
        trace_id = tracehound.current_trace_id()
    drain()
    spans = {s.name: s for s in recorded.spans}
    assert set(spans) >= NAMES
    assert {f"{spans[n].context.trace_id:032x}" for n in NAMES} == {trace_id}
    assert spans["POST /pay"].parent.span_id == spans["call payments"].context.span_id
    assert spans["process order"].parent.span_id == spans["publish order"].context.span_id
    assert spans["charge card"].parent.span_id == spans["POST /orders"].context.span_id
    codes = set(recorded.codes())
    assert not codes & {"C004", "C005", "C006", "L001"}
    if fmt != "tracecontext":
        assert "P003" in codes  # legacy-only hops are continued, and flagged


def test_without_the_helpers_the_trace_breaks_and_is_reported(
    services: int, configure: Callable[..., Any]
) -> None:
    SETTINGS["helpers"] = False
    try:
        recorded = configure()
        with tracehound.new_trace("gateway", kind=SpanKind.CLIENT, link_current=False):
            call(services, "/orders", tracehound.inject())
        drain()
    finally:
        SETTINGS["helpers"] = True
    spans = {s.name: s for s in recorded.spans}
    gateway_trace = spans["gateway"].context.trace_id
    assert spans["POST /orders"].context.trace_id == gateway_trace
    for broken in ("POST /pay", "process order", "charge card"):
        assert spans[broken].context.trace_id != gateway_trace, broken
    codes = recorded.codes()
    assert "C006" in codes  # payments: no headers arrived
    assert "C005" in codes  # the pool task lost the context
    assert "C004" in codes  # the consumer's INTERNAL root
