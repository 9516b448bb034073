"""How `TracehoundPropagator.extract` reads a carrier: one ``get(lower_name)`` and ``keys()``.

OpenTelemetry's default getter is case-sensitive and knows only dicts; the
carriers a Python service holds are mixed-case dicts (``dict(request.headers)``
gives ``Traceparent``, a framework may add ``X-B3-TraceId`` beside a
lower-case ``traceparent``), WSGI environs, ASGI scopes, Kafka and gRPC
pair lists.  With the default getter (or tracehound's `CarrierGetter`) each
is read once into lower-case names; another getter owns its case handling.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any, NamedTuple

from opentelemetry.propagators.textmap import DefaultGetter, Getter

from tracehound.runtime.carriers import CarrierGetter, read_carrier

__all__ = ["Lookup", "lookup"]

_ASGI_TYPES = ("http", "websocket")


class Lookup(NamedTuple):
    """A carrier's headers: values by lower-case name, every name, and a set-like view of them."""

    get: Callable[[str], Sequence[str] | None]
    keys: Callable[[], Iterable[str]]
    names: Collection[str] | None
    """Lower-case names as a set-like view, when the carrier has one (a fast membership test)."""


def lookup(carrier: Any, getter: Getter[Any]) -> Lookup:
    """Read ``carrier`` through ``getter`` (see the module docstring); a broken getter raises."""
    if type(getter) is DefaultGetter or isinstance(getter, CarrierGetter):
        if carrier.__class__ is dict and _lower_case_headers(carrier):
            return _from_dict(carrier)  # the common case: a framework's lower-case headers
        try:
            headers = read_carrier(carrier)
        except TypeError:  # not a shape tracehound knows: let the getter try
            if isinstance(getter, CarrierGetter):
                raise
        else:
            return _from_dict(headers)
    return _from_getter(carrier, getter)


def _lower_case_headers(carrier: dict[Any, Any]) -> bool:
    """True when every name is a lower-case string and the dict is not an ASGI scope."""
    try:
        joined = "".join(carrier)  # one C-level pass; a non-str key raises
    except TypeError:
        return False
    if not joined.islower():  # an upper-case letter anywhere (or no letters at all)
        return False
    kind = carrier.get("type")
    return not (kind.__class__ is str and kind in _ASGI_TYPES and "headers" in carrier)


def _from_dict(headers: dict[Any, Any]) -> Lookup:
    raw = headers.get

    def get_from_dict(name: str) -> Sequence[str] | None:
        value = raw(name)
        if value is None:
            return None
        if value.__class__ is str:
            return (value,)
        return _values(value)

    return Lookup(get_from_dict, headers.keys, headers.keys())


def _from_getter(carrier: Any, getter: Getter[Any]) -> Lookup:
    def get_from_getter(name: str) -> list[str] | None:
        return _values(getter.get(carrier, name))

    def keys() -> list[str]:
        return [k for k in getter.keys(carrier) if isinstance(k, str)]

    return Lookup(get_from_getter, keys, None)


def _values(value: Any) -> list[str] | None:
    """A getter's answer as a list of strings (``None``, bytes, numbers and lists tolerated)."""
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if isinstance(value, (bytes, bytearray, memoryview)):
        return [bytes(value).decode("latin-1")]
    if isinstance(value, Iterable):
        try:
            out = [text for v in value if (text := _text(v)) is not None]
        except Exception:  # a getter's value that cannot be iterated carries nothing
            return None
        return out or None
    return _one(value)


def _text(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("latin-1")
    if value is None:
        return None
    try:
        return str(value)
    except Exception:  # an object whose str() fails carries no header value
        return None


def _one(value: object) -> list[str] | None:
    text = _text(value)
    return None if text is None else [text]
