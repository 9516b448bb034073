"""The faults the demo plants, the fix for each, and the findings each must produce."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FAULTS", "Fault", "fault_keys"]


@dataclass(frozen=True)
class Fault:
    """One planted fault: where it lives, what it does, its fix and the codes that catch it."""

    key: str
    service: str
    broken: str
    """What the faulty code does."""
    fixed: str
    """What the code does with the fault switched off."""
    doctor: tuple[tuple[str, str], ...]
    """``(code, service)`` of each finding the doctor reports from the exported spans."""
    runtime: tuple[str, ...] = ()
    """Codes tracehound's runtime reports inside ``service``."""


FAULTS: tuple[Fault, ...] = (
    Fault(
        "legacy-header",
        "orders",
        "orders' HTTP client (a Jaeger-era one) sends only `uber-trace-id`; "
        "payments reads only W3C `traceparent` (OTel's default propagator)",
        "orders injects W3C `traceparent`; payments extracts with tracehound "
        "(`continue_trace`: W3C, Jaeger and B3)",
        doctor=(("C003", "orders"), ("P003", "payments")),
    ),
    Fault(
        "thread-pool",
        "gateway",
        "gateway prices the cart in a plain ThreadPoolExecutor: the worker starts with an "
        "empty context, so 'price cart' starts a new trace",
        "`tracehound.ContextExecutor` carries the context into the pool",
        doctor=(("C004", "gateway"),),
        runtime=("C005",),
    ),
    Fault(
        "leaked-span",
        "orders",
        "orders starts 'reserve stock' with `tracer.start_span()` and never ends it: it is "
        "never exported and its child 'UPDATE stock' is an orphan",
        "`with tracehound.span('reserve stock'):` ends it on every path",
        doctor=(("C001", "orders"),),
        runtime=("L001",),
    ),
    Fault(
        "secret-attribute",
        "payments",
        "payments records the card processor request with its bearer token, and its "
        "attribute policy only reports secrets, so the token is exported",
        "the request is recorded without its `Authorization` header (and tracehound's "
        "default policy redacts secrets before export)",
        doctor=(("A005", "payments"),),
        runtime=("A005",),
    ),
    Fault(
        "error-string",
        "payments",
        'payments marks a card-processor timeout with `error="timeout"` (a string: no '
        "backend shows the span as failed)",
        '`span.set_status(StatusCode.ERROR, "timeout")`',
        doctor=(("A002", "payments"),),
        runtime=("A002",),
    ),
)


def fault_keys() -> tuple[str, ...]:
    """Every fault's key, in catalogue order."""
    return tuple(f.key for f in FAULTS)
