"""The demo's four services; each fault is one ``if`` with the fix beside it.

- gateway ``POST /checkout``: prices the cart in a worker pool, calls orders.
- orders ``POST /orders``: reserves stock, calls payments, publishes
  ``order.created`` to shipping's queue.
- payments ``POST /payments``: charges the card; every fourth charge times out.
- shipping ``POST /enqueue``: a message queue; a consumer thread processes
  ``order.created``.

Services call each other by name (``http://payments:PORT``), as in a
cluster; the demo connects the name to 127.0.0.1.  Every server span records
its inbound trace headers as ``http.request.header.<name>``, as OpenTelemetry
HTTP instrumentations do when told to capture headers, so the doctor can see
what arrived on the wire.
"""

from __future__ import annotations

import abc
import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, ClassVar

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

import tracehound
from tracehound.demo._http import CALL_TIMEOUT, Reply, post
from tracehound.runtime.propagation import TracehoundPropagator

__all__ = ["SERVICES", "Request", "Service", "attribute_policy"]

TRACE_HEADERS = (
    "traceparent",
    "tracestate",
    "uber-trace-id",
    "b3",
    "x-b3-traceid",
    "x-b3-spanid",
    "x-b3-sampled",
)
_log = logging.getLogger("tracehound.demo")
DEMO_TOKEN = "Bearer 9f86d081884c7d659a2feaa0c55ad015"
"""A made-up card-processor credential (the secret-attribute fault leaks it)."""


@dataclass(frozen=True)
class Request:
    """One inbound HTTP request: lower-case header names, the JSON body decoded."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: Any


Handler = Callable[[Request], Reply]


def attribute_policy(faults: Collection[str]) -> dict[str, Any]:
    """The attribute-policy settings every service runs with (``tracehound.configure``)."""
    actions = {"A004": "redact", "A005": "redact"}  # fix: tracehound's default
    if "secret-attribute" in faults:
        actions = {"A004": "report", "A005": "report"}  # fault: secrets are exported
    return {"actions": actions}


def server_attributes(request: Request) -> dict[str, Any]:
    """HTTP server attributes, with the trace headers that arrived."""
    attributes: dict[str, Any] = {
        "http.request.method": request.method,
        "http.route": request.path,
        "url.path": request.path,
    }
    for name in TRACE_HEADERS:
        if name in request.headers:
            attributes[f"http.request.header.{name}"] = (request.headers[name],)
    return attributes


def call(
    service: str, port: int, path: str, body: Any, inject: Callable[[], dict[str, str]]
) -> Any:
    """POST to another service inside a CLIENT span; ``inject`` makes the trace headers."""
    attributes = {
        "http.request.method": "POST",
        "server.address": service,
        "server.port": port,
        "url.full": f"http://{service}:{port}{path}",
    }
    with tracehound.span(f"POST {path}", kind=SpanKind.CLIENT, attributes=attributes) as span:
        status, reply = post(service, port, path, body, inject())
        span.set_attribute("http.response.status_code", status)
        if status >= 500:
            span.set_status(Status(StatusCode.ERROR, f"HTTP {status}"))
        return reply


class Service(abc.ABC):
    """One service: its routes, the faults switched on, the ports of the services it calls."""

    name: ClassVar[str]

    def __init__(self, faults: Collection[str], peers: Mapping[str, int]) -> None:
        self.faults = frozenset(faults)
        self.peers = dict(peers)

    @abc.abstractmethod
    def routes(self) -> dict[str, Handler]:
        """``"METHOD /path"`` → handler."""

    def close(self) -> None:  # noqa: B027 - an optional hook, most services need none
        """Finish background work before the process flushes its spans."""


def price_cart(items: list[dict[str, Any]]) -> float:
    """The cart's total; the gateway runs it in a worker pool."""
    with tracehound.span("price cart", attributes={"cart.items": len(items)}):
        time.sleep(0.002)
        return round(sum(item["price"] * item["quantity"] for item in items), 2)


class Gateway(Service):
    """``POST /checkout``: prices the cart in a worker pool, then calls orders."""

    name = "gateway"

    def __init__(self, faults: Collection[str], peers: Mapping[str, int]) -> None:
        super().__init__(faults, peers)
        self.workers = ThreadPoolExecutor(2, thread_name_prefix="pricing")
        self.pool: Executor = self.workers
        if "thread-pool" not in self.faults:
            self.pool = tracehound.ContextExecutor(self.workers)  # fix: carries the context

    def routes(self) -> dict[str, Handler]:
        return {"POST /checkout": self.checkout}

    def checkout(self, request: Request) -> Reply:
        attributes = server_attributes(request)
        with tracehound.continue_trace(request.headers, "POST /checkout", attributes=attributes):
            total = self.pool.submit(price_cart, request.body["items"]).result(CALL_TIMEOUT)
            order = {"customer": request.body["customer"], "total": total}
            reply = call("orders", self.peers["orders"], "/orders", order, tracehound.inject)
            _log.info("checkout for %s: order %s", order["customer"], reply["order"])
            return 200, reply

    def close(self) -> None:
        self.workers.shutdown(wait=True)


_JAEGER_ERA_CLIENT = TracehoundPropagator(inject=("jaeger",), report=False)


def jaeger_headers() -> dict[str, str]:
    """The headers an old Jaeger-instrumented HTTP client sends: ``uber-trace-id`` only."""
    headers: dict[str, str] = {}
    _JAEGER_ERA_CLIENT.inject(headers)
    return headers


class Orders(Service):
    """``POST /orders``: reserves stock, calls payments, publishes ``order.created``."""

    name = "orders"

    def __init__(self, faults: Collection[str], peers: Mapping[str, int]) -> None:
        super().__init__(faults, peers)
        self.ids = itertools.count(1001)
        self.tracer = trace.get_tracer("tracehound.demo.orders")

    def routes(self) -> dict[str, Handler]:
        return {"POST /orders": self.create}

    def create(self, request: Request) -> Reply:
        attributes = server_attributes(request)
        with tracehound.continue_trace(request.headers, "POST /orders", attributes=attributes):
            order_id = f"o-{next(self.ids)}"
            self.reserve_stock(order_id)
            payment = {"order": order_id, "amount": request.body["total"]}
            headers = jaeger_headers if "legacy-header" in self.faults else tracehound.inject
            charged = call("payments", self.peers["payments"], "/payments", payment, headers)
            self.publish(order_id)
            _log.info("order %s created", order_id)
            return 200, {"order": order_id, "payment": charged}

    def reserve_stock(self, order_id: str) -> None:
        if "leaked-span" in self.faults:
            span = self.tracer.start_span("reserve stock")  # fault: no `with`, never ended
            with trace.use_span(span):
                self.update_stock(order_id)
            return
        with tracehound.span("reserve stock"):  # fix: ends on every path
            self.update_stock(order_id)

    def update_stock(self, order_id: str) -> None:
        attributes = {
            "db.system.name": "sqlite",
            "db.operation.name": "UPDATE",
            "db.collection.name": "stock",
        }
        with tracehound.span("UPDATE stock", kind=SpanKind.CLIENT, attributes=attributes):
            time.sleep(0.001)

    def publish(self, order_id: str) -> None:
        attributes = {
            "messaging.system": "demo-queue",
            "messaging.destination.name": "order.created",
            "messaging.operation.type": "send",
        }
        with tracehound.span("send order.created", kind=SpanKind.PRODUCER, attributes=attributes):
            headers = [[name, value] for name, value in tracehound.inject().items()]
            message = {"headers": headers, "value": {"order": order_id}}
            post("shipping", self.peers["shipping"], "/enqueue", message, {})


class Payments(Service):
    """``POST /payments``: charges the card; every fourth charge times out."""

    name = "payments"

    def __init__(self, faults: Collection[str], peers: Mapping[str, int]) -> None:
        super().__init__(faults, peers)
        self.charges = itertools.count(1)
        self.tracer = trace.get_tracer("tracehound.demo.payments")

    def routes(self) -> dict[str, Handler]:
        return {"POST /payments": self.pay}

    def pay(self, request: Request) -> Reply:
        attributes = server_attributes(request)
        if "legacy-header" in self.faults:
            # fault: OpenTelemetry's default propagator reads only W3C traceparent
            context = TraceContextTextMapPropagator().extract(request.headers)
            server = self.tracer.start_as_current_span(
                "POST /payments", context=context, kind=SpanKind.SERVER, attributes=attributes
            )
        else:  # fix: reads W3C, Jaeger and B3
            server = tracehound.continue_trace(
                request.headers, "POST /payments", attributes=attributes
            )
        with server:
            charged = self.charge(request.body["amount"])
            _log.info(
                "payment for %s: %s", request.body["order"], "charged" if charged else "timeout"
            )
            return 200, {"charged": charged}

    def charge(self, amount: float) -> bool:
        attributes = {
            "http.request.method": "POST",
            "server.address": "cards.example.com",
            "url.full": "https://cards.example.com/v1/charges",
            "payment.amount": amount,
        }
        with tracehound.span("charge card", kind=SpanKind.CLIENT, attributes=attributes) as span:
            if "secret-attribute" in self.faults:
                # fault: the credential goes into the span, stored and shown in clear text
                span.set_attribute("card.request", f"POST /v1/charges Authorization: {DEMO_TOKEN}")
            time.sleep(0.002)
            if next(self.charges) % 4:
                return True
            if "error-string" in self.faults:
                span.set_attribute("error", "timeout")  # fault: a string, not an error
            else:
                span.set_status(Status(StatusCode.ERROR, "timeout"))  # fix
            return False


class Shipping(Service):
    """``POST /enqueue``: a queue; a consumer thread processes ``order.created``."""

    name = "shipping"

    def __init__(self, faults: Collection[str], peers: Mapping[str, int]) -> None:
        super().__init__(faults, peers)
        self.queue: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize=1000)
        self.consumer = threading.Thread(target=self.consume, name="consumer", daemon=True)
        self.consumer.start()

    def routes(self) -> dict[str, Handler]:
        return {"POST /enqueue": self.enqueue}

    def enqueue(self, request: Request) -> Reply:
        self.queue.put(request.body, timeout=CALL_TIMEOUT)
        return 202, {"queued": True}

    def consume(self) -> None:
        attributes = {
            "messaging.system": "demo-queue",
            "messaging.destination.name": "order.created",
            "messaging.operation.type": "process",
        }
        while (message := self.queue.get()) is not None:
            try:
                with tracehound.continue_trace(
                    message["headers"], "process order.created", SpanKind.CONSUMER, attributes
                ):
                    self.ship(message["value"])
            except Exception:  # one bad message must not stop the consumer
                _log.exception("could not process %r", message)

    def ship(self, order: dict[str, Any]) -> None:
        with tracehound.span("create shipment", attributes={"order.id": order["order"]}):
            time.sleep(0.001)
            _log.info("shipment for %s created", order["order"])

    def close(self) -> None:
        self.queue.put(None)
        self.consumer.join(CALL_TIMEOUT)


SERVICES: dict[str, type[Service]] = {
    cls.name: cls for cls in (Gateway, Orders, Payments, Shipping)
}
"""Every service, by name."""
