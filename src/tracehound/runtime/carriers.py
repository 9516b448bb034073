"""Carriers: the shapes trace headers arrive and leave in.

`read_carrier` turns what a Python service receives into one plain
``{lower-case name: [values]}`` dict, which `TracehoundPropagator` and
OpenTelemetry's own propagators (whose lookups are lower-case) both read::

    context = propagator.extract(read_carrier(environ))

`write_carrier` injects headers into what a service sends::

    headers: dict[str, str] = {}
    propagator.inject(headers)
    write_carrier(producer_headers, headers)

Read: any mapping (dict, requests' ``CaseInsensitiveDict``, httpx/starlette
``Headers`` through ``multi_items()``, aiohttp's multidicts), a WSGI
``environ`` (``HTTP_TRACEPARENT``), an ASGI ``scope`` (byte pairs), a list of
``(name, value)`` pairs (kafka-python, confluent-kafka), anything with
``items()`` (werkzeug ``Headers``, ``email.message.Message``,
``http.client.HTTPMessage``; repeated names kept), and any object whose
``headers`` attribute or method is one of those or ``None`` (pika
``BasicProperties``, aio-pika messages, kafka-python ``ConsumerRecord``,
confluent-kafka ``Message``, request/response objects).

Write: a mutable mapping, a WSGI environ, an ASGI scope, a list of pairs
(names replaced case-insensitively, so injecting twice does not duplicate),
and an object with a ``headers`` mapping, pair list or ``None`` (created), or
a confluent-kafka ``Message`` (``set_headers``).

A carrier of another type is a programming error: `TypeError`.  Odd entries
inside a supported carrier are data: skipped (``None``, non-text names,
non-pairs) or stringified (numbers and other values), never raised.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any

from opentelemetry.propagators.textmap import Getter, Setter

__all__ = [
    "CarrierGetter",
    "CarrierSetter",
    "Headers",
    "carrier_getter",
    "carrier_setter",
    "read_carrier",
    "write_carrier",
]

_SUPPORTED = (
    "a mapping of header names (dict, requests/httpx/werkzeug headers), a WSGI environ, "
    "an ASGI scope, a list of (name, value) pairs (Kafka), an email/http.client message, "
    "or an object whose `headers` attribute or method is one of these or None "
    "(pika, aio-pika, kafka-python, confluent-kafka)"
)
_WRITABLE = (
    "a mutable mapping (dict, requests/httpx headers), a WSGI environ, an ASGI scope, "
    "a list of (name, value) pairs (Kafka producer headers), or an object whose `headers` "
    "is one of these or None (pika BasicProperties, aio-pika Message), or a "
    "confluent-kafka Message"
)
_ASGI_TYPES = ("http", "websocket")
# RFC 3875's meta-variables and what servers add beside them: never a header
_CGI = frozenset(
    (
        "AUTH_TYPE", "GATEWAY_INTERFACE", "PATH_INFO", "PATH_TRANSLATED", "QUERY_STRING",
        "REMOTE_ADDR", "REMOTE_HOST", "REMOTE_IDENT", "REMOTE_PORT", "REMOTE_USER",
        "REQUEST_METHOD", "REQUEST_URI", "RAW_URI", "SCRIPT_NAME", "SERVER_NAME",
        "SERVER_PORT", "SERVER_PROTOCOL", "SERVER_SOFTWARE",
    )
)  # fmt: skip
_WSGI_CONTENT = {"CONTENT_TYPE": "content-type", "CONTENT_LENGTH": "content-length"}
_TEXT = (str, bytes, bytearray, memoryview)
_MISSING: Any = object()

Headers = dict[str, list[str]]
"""Lower-case header name to its values, in arrival order."""


# -- read ------------------------------------------------------------------


def read_carrier(carrier: object) -> Headers:
    """The headers on ``carrier`` as ``{lower-case name: [str values]}``.

    Bytes are decoded as UTF-8, else latin-1; repeated names keep every value;
    ``None`` (no headers, as pika and confluent-kafka say it) reads as empty.
    Raises `TypeError` for a carrier of an unsupported type.
    """
    out: Headers = {}
    if carrier is None:
        return out
    if not _read(carrier, out, follow_headers=True):
        raise TypeError(
            f"read_carrier: unsupported carrier of type {type(carrier).__qualname__}; "
            f"supported: {_SUPPORTED}"
        )
    return out


def _read(carrier: object, out: Headers, *, follow_headers: bool) -> bool:
    """Add ``carrier``'s headers to ``out``; false when its shape is not supported."""
    if isinstance(carrier, Mapping):
        _read_mapping(carrier, out)
        return True
    if isinstance(carrier, _TEXT):
        return False
    if follow_headers:
        # Before pair lists: kafka-python's ConsumerRecord is a named tuple.
        headers = getattr(carrier, "headers", _MISSING)
        if headers is not _MISSING:
            if callable(headers) and not isinstance(headers, Mapping):
                headers = headers()  # confluent-kafka's Message.headers()
            return headers is None or _read(headers, out, follow_headers=False)
    if isinstance(carrier, (list, tuple)):
        _read_pairs(carrier, out)
        return True
    items = getattr(carrier, "items", None)
    if callable(items):  # email.message.Message, werkzeug Headers
        _read_pairs(items(), out)
        return True
    return False


def _read_mapping(mapping: Mapping[Any, Any], out: Headers) -> None:
    if "wsgi.version" in mapping:  # PEP 3333: every server's environ has it
        _read_environ(mapping, out, strict=True)
    elif _is_environ(mapping):
        _read_environ(mapping, out, strict=False)
    elif _is_asgi_scope(mapping):
        _read_pairs(mapping["headers"], out)
    else:
        multi_items = getattr(mapping, "multi_items", None)  # httpx, starlette
        _read_pairs(multi_items() if callable(multi_items) else mapping.items(), out)


def _read_environ(environ: Mapping[Any, Any], out: Headers, *, strict: bool) -> None:
    """A WSGI environ's headers; not ``strict`` (a mapping made by hand, with ``HTTP_``
    keys but no ``wsgi.version``), its keys that are neither CGI variables nor a server's
    extensions (``wsgi.input``) are headers too, as in any mapping."""
    for key, value in environ.items():
        if key.__class__ is not str:
            if not strict:
                _add(out, key, value)
            continue
        if key.startswith("HTTP_"):
            name = key[5:].replace("_", "-").lower()
        elif key in _WSGI_CONTENT:
            name = _WSGI_CONTENT[key]
        elif strict or key in _CGI or "." in key:
            continue
        else:
            _add(out, key, value)
            continue
        _add(out, name, _from_wsgi(value) if isinstance(value, str) else value)


def _read_pairs(pairs: object, out: Headers) -> None:
    if isinstance(pairs, _TEXT) or not isinstance(pairs, Iterable):
        return
    for pair in pairs:
        if isinstance(pair, (tuple, list)) and len(pair) == 2:
            _add(out, pair[0], pair[1])


def _add(out: Headers, name: object, value: object) -> None:
    if value is None:
        return
    if isinstance(name, str):
        key = name.lower()
    elif isinstance(name, (bytes, bytearray, memoryview)):
        key = _decode(name).lower()
    else:
        return
    if not key:
        return
    if isinstance(value, (list, tuple)):
        texts = [text for v in value if (text := _text(v)) is not None]
        if texts:
            out.setdefault(key, []).extend(texts)
    elif (text := _text(value)) is not None:
        out.setdefault(key, []).append(text)


def _text(value: object) -> str | None:
    """A header value as text; ``None`` (skipped) for ``None`` or a value whose ``str()`` fails."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _decode(value)
    if value is None:
        return None
    try:
        return str(value)
    except Exception:  # one odd value in a request's headers must not fail the request
        return None


def _decode(raw: bytes | bytearray | memoryview) -> str:
    data = bytes(raw)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _from_wsgi(value: str) -> str:
    """PEP 3333 hands header bytes over as latin-1 text: re-read them as UTF-8 when they are."""
    if value.isascii():
        return value
    try:
        return value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return value


def _is_environ(mapping: Mapping[Any, Any]) -> bool:
    if "wsgi.version" in mapping:
        return True
    return any(key.__class__ is str and key.startswith("HTTP_") for key in mapping)


def _is_asgi_scope(mapping: Mapping[Any, Any]) -> bool:
    kind = mapping.get("type")
    return kind.__class__ is str and kind in _ASGI_TYPES and "headers" in mapping


# -- write -----------------------------------------------------------------


def write_carrier(carrier: object, headers: Mapping[str, str]) -> None:
    """Inject ``headers`` into ``carrier``, replacing same-named headers in any case.

    Pair lists get ``(name, value.encode())`` (bytes names when the list
    already uses them, as ASGI does); an object whose ``headers`` is ``None``
    gets a new dict.  Raises `TypeError` for a carrier of an unsupported type.
    """
    if not _write(carrier, headers, follow_headers=True):
        raise TypeError(
            f"write_carrier: unsupported carrier of type {type(carrier).__qualname__}; "
            f"supported: {_WRITABLE}"
        )


def _write(carrier: object, headers: Mapping[str, str], *, follow_headers: bool) -> bool:
    if isinstance(carrier, dict):
        if _is_environ(carrier):
            for name, value in headers.items():
                carrier["HTTP_" + name.upper().replace("-", "_")] = value
        elif _is_asgi_scope(carrier):
            pairs = carrier["headers"]
            if not isinstance(pairs, list):
                readable = isinstance(pairs, Iterable) and not isinstance(pairs, _TEXT)
                pairs = carrier["headers"] = list(pairs) if readable else []
            lowered = {name.lower(): value for name, value in headers.items()}
            _write_pairs(pairs, lowered, bytes_names=True)
        else:
            _write_dict(carrier, headers)
        return True
    if isinstance(carrier, MutableMapping):  # case-insensitive header classes
        for name, value in headers.items():
            carrier[name] = value
        return True
    if isinstance(carrier, list):
        first = carrier[0] if carrier else None
        bytes_names = isinstance(first, (tuple, list)) and isinstance(first[0], bytes)
        _write_pairs(carrier, headers, bytes_names=bytes_names)
        return True
    if not follow_headers or isinstance(carrier, _TEXT):
        return False
    current = getattr(carrier, "headers", _MISSING)
    if current is _MISSING:
        return False
    if current is None:
        carrier.headers = dict(headers)  # type: ignore[attr-defined]  # pika BasicProperties
        return True
    set_headers = getattr(carrier, "set_headers", None)
    if callable(current) and callable(set_headers):  # confluent-kafka Message
        pairs = list(current() or ())
        _write_pairs(pairs, headers, bytes_names=False)
        set_headers(pairs)
        return True
    return _write(current, headers, follow_headers=False)


def _write_dict(carrier: dict[Any, Any], headers: Mapping[str, str]) -> None:
    lowered = {name.lower() for name in headers}
    stale = [
        key
        for key in carrier
        if key.__class__ is str and key not in headers and key.lower() in lowered
    ]
    for key in stale:
        del carrier[key]
    carrier.update(headers)


def _write_pairs(pairs: list[Any], headers: Mapping[str, str], *, bytes_names: bool) -> None:
    lowered = {name.lower() for name in headers}
    pairs[:] = [pair for pair in pairs if _pair_name(pair) not in lowered]
    for name, value in headers.items():
        raw = value if isinstance(value, bytes) else value.encode("utf-8")
        pairs.append((name.encode("utf-8") if bytes_names else name, raw))


def _pair_name(pair: object) -> str | None:
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        return None
    name = pair[0]
    if isinstance(name, str):
        return name.lower()
    if isinstance(name, (bytes, bytearray, memoryview)):
        return _decode(name).lower()
    return None


# -- OpenTelemetry getter/setter ---------------------------------------------


class CarrierGetter(Getter[Any]):
    """An OpenTelemetry `Getter` over every carrier `read_carrier` understands.

    Each call reads the whole carrier; when the API allows it, prefer
    ``propagator.extract(read_carrier(carrier))``, which reads it once.
    """

    def get(self, carrier: Any, key: str) -> list[str] | None:
        return read_carrier(carrier).get(key.lower())

    def keys(self, carrier: Any) -> list[str]:
        return list(read_carrier(carrier))


class CarrierSetter(Setter[Any]):
    """An OpenTelemetry `Setter` over every carrier `write_carrier` understands."""

    def set(self, carrier: Any, key: str, value: str) -> None:
        write_carrier(carrier, {key: value})


carrier_getter = CarrierGetter()
carrier_setter = CarrierSetter()
