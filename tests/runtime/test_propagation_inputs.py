"""Outside input at run time: ``extract``/``continue_trace`` never raise on carriers they read,
and the work an extract does grows linearly with the headers it is given."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import Getter

import tracehound
from tracehound.runtime import propagation
from tracehound.runtime.carriers import carrier_getter
from tracehound.runtime.propagation import TracehoundPropagator

TID, SID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
TRACEPARENT = f"00-{TID}-{SID}-01"


class BrokenStr:
    """A header value whose ``str()`` fails (a framework's lazy value object gone wrong)."""

    def __str__(self) -> str:
        raise RuntimeError("no text")


class BrokenIter:
    def __iter__(self) -> Any:
        raise RuntimeError("no items")


class GetOnly:
    """A carrier OpenTelemetry's default getter reads (``get``) but that is no mapping."""

    def __init__(self, headers: dict[Any, Any]) -> None:
        self._headers = headers

    def get(self, key: str, default: object = None) -> object:
        return self._headers.get(key, default)


names = st.sampled_from(
    [
        "traceparent",
        "Traceparent",
        "uber-trace-id",
        "b3",
        "X-B3-TraceId",
        "x-b3-spanid",
        "baggage",
        "uberctx-a",
        "tracestate",
        "type",
        "headers",
    ]
) | st.text(max_size=6)
odd_keys = st.one_of(
    names, st.binary(max_size=8), st.integers(), st.none(), st.tuples(st.integers())
)
odd_values = st.one_of(
    st.text(max_size=60),
    st.binary(max_size=60),
    st.none(),
    st.integers(),
    st.floats(),
    st.lists(
        st.one_of(st.text(max_size=10), st.binary(max_size=10), st.none(), st.integers()),
        max_size=3,
    ),
    st.just(TRACEPARENT),
    st.just(TRACEPARENT.encode()),
    st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
    st.builds(BrokenStr),
    st.builds(BrokenIter),
)
carriers = st.one_of(
    st.dictionaries(odd_keys, odd_values, max_size=6),
    st.lists(st.tuples(odd_keys, odd_values), max_size=6),
    st.lists(
        st.one_of(
            st.tuples(odd_keys, odd_values), st.tuples(odd_keys), st.text(max_size=3), st.none()
        ),
        max_size=6,
    ),
    st.tuples(st.tuples(names, odd_values)),
    st.dictionaries(names, odd_values, max_size=4).map(
        lambda d: {"type": "http", "headers": list(d.items())}
    ),
    st.dictionaries(names, odd_values, max_size=4).map(
        lambda d: {"wsgi.version": (1, 0), **{"HTTP_" + k.upper(): v for k, v in d.items()}}
    ),
    st.dictionaries(odd_keys, odd_values, max_size=4).map(GetOnly),
)


@settings(max_examples=400, suppress_health_check=list(HealthCheck), deadline=None)
@given(carriers)
def test_extract_and_continue_trace_never_raise(carrier: object) -> None:
    tracehound.extract(carrier)
    with tracehound.continue_trace(carrier, "GET /"):
        pass
    TracehoundPropagator(report=False).extract(carrier)


@settings(max_examples=400, suppress_health_check=list(HealthCheck), deadline=None)
@given(
    st.dictionaries(odd_keys, odd_values, max_size=6),
    st.sampled_from(["traceparent", "Traceparent", "TRACEPARENT", b"traceparent"]),
    st.sampled_from(["dict", "pairs", "asgi", "grpc"]),
)
# an `HTTP_` key beside it once made the mapping a WSGI environ, whose plain keys were not read
@example({"HTTP_": None}, "traceparent", "dict")
@example({"HTTP_X": "1", "REQUEST_METHOD": "GET"}, "TRACEPARENT", "dict")
def test_a_valid_traceparent_survives_any_neighbours(
    junk: dict[Any, Any], name: str | bytes, shape: str
) -> None:
    """Odd neighbours (bytes names, None values, objects whose str() fails) cost nothing."""
    headers = {
        k: v
        for k, v in junk.items()
        if not (isinstance(k, (str, bytes)) and k.lower() in ("traceparent", b"traceparent"))
    }
    headers[name] = TRACEPARENT
    carrier: object = {
        "dict": headers,
        "pairs": list(headers.items()),
        "asgi": {"type": "http", "headers": list(headers.items())},
        "grpc": tuple(headers.items()),
    }[shape]
    propagator = TracehoundPropagator(report=False)
    for context in (tracehound.extract(carrier), propagator.extract(carrier)):
        assert f"{trace.get_current_span(context).get_span_context().trace_id:032x}" == TID
    assert propagator.read_errors == 0


def test_an_object_with_only_get_is_read_as_otel_reads_it() -> None:
    carrier = GetOnly({"traceparent": TRACEPARENT})
    context = tracehound.extract(carrier)
    assert f"{trace.get_current_span(context).get_span_context().trace_id:032x}" == TID


def test_a_carrier_of_no_known_shape_is_still_a_type_error() -> None:
    with pytest.raises(TypeError, match="unsupported carrier of type int"):
        tracehound.extract(42)


# -- linear work in the number of uberctx-* headers --------------------------------


class CountingGetter(Getter[dict[str, str]]):
    def __init__(self) -> None:
        self.calls = 0

    def get(self, carrier: dict[str, str], key: str) -> list[str] | None:
        self.calls += 1
        value = carrier.get(key)
        return None if value is None else [value]

    def keys(self, carrier: dict[str, str]) -> list[str]:
        self.calls += 1
        return list(carrier)


def _jaeger_request(n: int, *, title_case: bool = False) -> dict[str, str]:
    prefix = "Uberctx-" if title_case else "uberctx-"
    return {"uber-trace-id": f"{TID}:{SID}:0:1", **{f"{prefix}k{i}": "v" for i in range(n)}}


@pytest.fixture
def context_writes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the context and baggage copies extract makes (each copies all the baggage)."""
    calls: list[int] = []

    def counting(fn: Callable[..., Context]) -> Callable[..., Context]:
        def wrapper(*args: Any, **kwargs: Any) -> Context:
            calls.append(1)
            return fn(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(propagation, "set_value", counting(propagation.set_value))
    monkeypatch.setattr(
        propagation.otel_baggage, "set_baggage", counting(propagation.otel_baggage.set_baggage)
    )
    return calls


@pytest.mark.parametrize("title_case", [False, True])
def test_uberctx_baggage_is_built_in_one_copy(context_writes: list[int], title_case: bool) -> None:
    """Was one copy of the whole baggage per header: 100k ``uberctx-*`` took a minute."""
    for n in (100, 5_000):
        context_writes.clear()
        context = TracehoundPropagator(report=False).extract(
            _jaeger_request(n, title_case=title_case)
        )
        assert len(tracehound_baggage(context)) == n
        assert len(context_writes) <= 3, f"{len(context_writes)} context copies for {n} headers"


def test_getter_calls_grow_linearly() -> None:
    for n in (100, 5_000):
        getter = CountingGetter()
        TracehoundPropagator(report=False).extract(_jaeger_request(n), getter=getter)
        assert getter.calls <= n + 20, f"{getter.calls} getter calls for {n} headers"


def test_carrier_getter_reads_the_carrier_once() -> None:
    """tracehound's CarrierGetter reads the whole carrier per call: extract reads it once."""
    pairs = list(_jaeger_request(3_000, title_case=True).items())
    calls = 0

    class Pairs(list):  # type: ignore[type-arg]
        def __iter__(self) -> Any:
            nonlocal calls
            calls += 1
            return super().__iter__()

    context = TracehoundPropagator(report=False).extract(Pairs(pairs), getter=carrier_getter)
    assert len(tracehound_baggage(context)) == 3_000
    assert calls == 1


def tracehound_baggage(context: Context) -> dict[str, object]:
    from opentelemetry import baggage

    return dict(baggage.get_all(context))
