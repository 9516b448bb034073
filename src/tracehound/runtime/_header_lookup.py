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
from typing import Any

from opentelemetry.propagators.textmap import DefaultGetter, Getter

from tracehound.runtime.carriers import CarrierGetter, read_carrier

__all__ = ["Lookup", "lookup"]

_ASGI_TYPES = ("http", "websocket")


Get = Callable[[str], "Sequence[str] | None"]
Lookup = tuple[Get, Callable[[], Iterable[str]], "Collection[str] | None"]
"""``get(lower_name)``, ``keys()``, and the lower-case names as a set-like view when the
carrier has one (a fast membership test); a plain tuple: one is made per request."""


def lookup(carrier: Any, getter: Getter[Any]) -> Lookup:
    """Read ``carrier`` through ``getter`` (see the module docstring); a broken getter raises."""
    if type(getter) is DefaultGetter or isinstance(getter, CarrierGetter):
        if carrier.__class__ is dict:
            try:
                # C-level passes: any upper-case ASCII letter in any name (header names are
                # ASCII tokens; a non-str name raises TypeError, a lone surrogate
                # UnicodeEncodeError). bytes.islower is far cheaper than str.islower.
                lower = "".join(carrier).encode().islower()
            except (TypeError, UnicodeEncodeError):
                lower = False
            if lower and not ("headers" in carrier and _is_asgi_scope(carrier)):
                return _from_dict(carrier)  # the common case: a framework's lower-case headers
        try:
            headers = read_carrier(carrier)
        except TypeError:  # not a shape tracehound knows: let the getter try
            if isinstance(getter, CarrierGetter):
                raise
        else:
            return _from_dict(headers)
    return _from_getter(carrier, getter)


def _is_asgi_scope(carrier: dict[Any, Any]) -> bool:
    kind = carrier.get("type")
    return kind.__class__ is str and kind in _ASGI_TYPES


def _from_dict(headers: dict[Any, Any]) -> Lookup:
    raw = headers.get

    def get_from_dict(name: str) -> Sequence[str] | None:
        value = raw(name)
        if value is None:
            return None
        if value.__class__ is str:
            return (value,)
        return _values(value)

    return get_from_dict, headers.keys, headers.keys()


def _from_getter(carrier: Any, getter: Getter[Any]) -> Lookup:
    def get_from_getter(name: str) -> list[str] | None:
        return _values(getter.get(carrier, name))

    def keys() -> list[str]:
        return [k for k in getter.keys(carrier) if isinstance(k, str)]

    return get_from_getter, keys, None


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
