"""The HTTP side (Starlette): ``POST /v1/traces``, the JSON API and the web UI.

Every route answers only a client that may ask: with a token configured
(required on any address but loopback), the request must carry it
(``Authorization: Bearer``, or the cookie the UI gets from ``/?token=``); on
loopback, the ``Host`` must be a loopback name, so a web page elsewhere cannot
reach the server through DNS rebinding.  The UI's pages are static files
under a content security policy that allows no inline script and no other
origin: what came from a span is only ever set as text.
"""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from tracehound.doctor.serve._body import BadBody, TooLarge, decompress, read_limited
from tracehound.doctor.serve._journal import JSON
from tracehound.doctor.serve._receiver import KINDS, Receiver, Refused
from tracehound.doctor.serve._views import (
    FilterError,
    filtered_report,
    parse_time,
    trace_detail,
    trace_list,
)
from tracehound.rules import CATALOGUE

__all__ = ["build_app"]

STATIC = Path(__file__).parent / "static"
COOKIE = "tracehound_token"
RETRY_AFTER = "2"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


def build_app(
    receiver: Receiver,
    *,
    max_body: int,
    token: str | None,
    loopback: bool,
    extra_status: Any = None,
) -> Starlette:
    """The ASGI app over ``receiver`` (its journal and engine)."""
    engine = receiver.engine

    async def traces(request: Request) -> Response:
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        kind = KINDS.get(ctype)
        if kind is None:
            return _refuse(
                JSON,
                415,
                f"Content-Type {ctype or 'none'!r}: send application/x-protobuf "
                "or application/json",
            )
        try:
            declared = int(request.headers.get("content-length") or 0)
        except ValueError:
            return _refuse(kind, 400, "Content-Length is not a number")
        if declared > max_body:
            return _refuse(kind, 413, f"the request body is over {max_body} bytes")
        try:
            body = await read_limited(request.stream(), max_body)
            body = decompress(body, request.headers.get("content-encoding", ""), max_body)
            await receiver.take(kind, body)
        except TooLarge as exc:
            return _refuse(kind, 413, str(exc))
        except BadBody as exc:
            return _refuse(kind, 415 if "unsupported" in str(exc) else 400, str(exc))
        except Refused as exc:
            return _refuse(kind, exc.status, exc.message, retry=exc.retry)
        # an empty ExportTraceServiceResponse: everything was accepted
        if kind == JSON:
            return Response(b"{}", media_type="application/json")
        return Response(b"", media_type="application/x-protobuf")

    async def report(request: Request) -> Response:
        query = request.query_params
        unknown = set(query) - {"service", "since", "until"}
        if unknown:
            return _error(400, f"unknown parameter {sorted(unknown)[0]!r} (service, since, until)")
        try:
            since = parse_time("since", query["since"]) if "since" in query else None
            until = parse_time("until", query["until"]) if "until" in query else None
        except FilterError as exc:
            return _error(400, str(exc))
        service = query.get("service")
        snapshot = engine.snapshot
        headers = {"X-Tracehound-Version": str(snapshot.version)}
        if service is None and since is None and until is None:
            return Response(snapshot.json, media_type="application/json", headers=headers)
        body = await run_in_threadpool(filtered_report, engine, service, since, until)
        return Response(body, media_type="application/json", headers=headers)

    async def status(request: Request) -> Response:
        data = engine.status()
        journal = receiver.journal
        data["journal"] = {
            "path": str(journal.path),
            "records": journal.records,
            "bytes": journal.bytes,
            "fsync": journal.fsync,
            "syncs": journal.syncs,
        }
        if receiver.forwarder is not None:
            data["forward"] = receiver.forwarder.status()
        if extra_status is not None:
            data.update(extra_status())
        return _json(data)

    async def live(request: Request) -> Response:
        """What the live runs the report does not cover yet found: the overview adds it
        to the report's (while the server is behind, the report waits)."""
        snapshot = engine.snapshot  # the live runs after the report's

        def found() -> dict[str, Any]:  # hours of runs behind: not on the event loop
            return {
                "version": snapshot.version,
                "edges": [e.to_dict() for e in engine.live_edges.merged(snapshot.covers)],
                "by_code": engine.live_findings.counts(snapshot.covers),
            }

        return _json(await run_in_threadpool(found))

    async def trace_index(request: Request) -> Response:
        try:
            limit = int(request.query_params.get("limit", "100"))
        except ValueError:
            return _error(400, "limit is not a number")
        service = request.query_params.get("service")
        rows = await run_in_threadpool(trace_list, engine, service, limit)
        return _json({"traces": rows, "pending": engine.pending_traces})

    async def trace(request: Request) -> Response:
        trace_id = request.path_params["trace_id"]
        found = await run_in_threadpool(trace_detail, engine, trace_id)
        if found is None:
            return _error(404, f"no trace {trace_id!r} has been checked (yet)")
        return _json(found)

    async def rules(request: Request) -> Response:
        return _json(
            [
                {
                    "code": r.code,
                    "name": r.name,
                    "severity": str(r.severity),
                    "summary": r.summary,
                    "explanation": r.explanation,
                    "fix": r.fix,
                }
                for r in CATALOGUE.values()
            ]
        )

    async def index(request: Request) -> Response:
        given = request.query_params.get("token")
        if token is not None and given is not None and hmac.compare_digest(given, token):
            # the token moves to a cookie, out of the address bar and the history
            answer = RedirectResponse("/", status_code=303)
            answer.set_cookie(COOKIE, token, httponly=True, samesite="strict")
            return answer
        return FileResponse(STATIC / "index.html", media_type="text/html")

    async def no_icon(request: Request) -> Response:
        return Response(status_code=204)

    routes = [
        Route("/favicon.ico", no_icon),
        Route("/v1/traces", traces, methods=["POST"]),
        Route("/api/report", report),
        Route("/api/status", status),
        Route("/api/live", live),
        Route("/api/traces", trace_index),
        Route("/api/traces/{trace_id}", trace),
        Route("/api/rules", rules),
        Route("/", index),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes)
    return _Guard(app, token=token, loopback=loopback)  # type: ignore[return-value]


class _Guard:
    """Token and Host checks before anything else, and the security headers on every answer."""

    def __init__(self, app: ASGIApp, *, token: str | None, loopback: bool) -> None:
        self.app = app
        self.token = token.encode() if token is not None else None
        self.loopback = loopback

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        problem = self._problem(scope, headers)
        if problem is not None:
            status, message = problem
            await _error(status, message)(scope, receive, send)
            return

        async def secured(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                extra = [
                    (b"x-content-type-options", b"nosniff"),
                    (b"content-security-policy", CSP.encode()),
                    (b"referrer-policy", b"no-referrer"),
                    (b"cache-control", b"no-store"),
                ]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, secured)

    def _problem(self, scope: Scope, headers: dict[bytes, bytes]) -> tuple[int, str] | None:
        if self.loopback:
            host = headers.get(b"host", b"").decode("latin-1")
            name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            if name.lower() not in LOOPBACK_HOSTS:
                return 403, f"Host {host!r} is not a loopback name (tracehound serve is local)"
        if self.token is None:
            return None
        given = headers.get(b"authorization", b"")
        if given.lower().startswith(b"bearer "):
            given = given[7:].strip()
        else:
            given = _cookie(headers.get(b"cookie", b""))
        if given and hmac.compare_digest(given, self.token):
            return None
        if scope["path"] == "/" and b"token=" in scope.get("query_string", b""):
            return None  # the index checks it and sets the cookie
        return 401, "a token is required: Authorization: Bearer TOKEN (or open /?token=TOKEN)"


def _cookie(header: bytes) -> bytes:
    for part in header.split(b";"):
        name, _, value = part.strip().partition(b"=")
        if name == COOKIE.encode():
            return value
    return b""


def _json(data: Any, status: int = 200) -> Response:
    return Response(
        orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS),
        status_code=status,
        media_type="application/json",
    )


def _error(status: int, message: str) -> Response:
    return _json({"error": message}, status)


def _refuse(kind: bytes, status: int, message: str, *, retry: bool = False) -> Response:
    """An OTLP error answer: a ``google.rpc.Status`` in the request's encoding."""
    headers = {"Retry-After": RETRY_AFTER} if retry else None
    code = 14 if retry else 3  # UNAVAILABLE, INVALID_ARGUMENT
    if kind == JSON:
        return Response(
            orjson.dumps({"code": code, "message": message}),
            status_code=status,
            media_type="application/json",
            headers=headers,
        )
    text = message.encode()
    status_proto = b"\x08" + _varint(code) + b"\x12" + _varint(len(text)) + text
    return Response(
        status_proto, status_code=status, media_type="application/x-protobuf", headers=headers
    )


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)
