"""Hop continuity on the wire: which requests a server sent while handling which request.

A request F was sent by the server that handled E when F lies inside E's
window (sent after E arrived, answered before E's answer), from E's server's
host, to another server; among several such E the innermost wins, preferring
one in F's trace, and F is left alone when the candidates overlap without
nesting (unrelated requests served at once).  Each such pair is a `Hop`; what
happened to the context on it is `Hop.outcome`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

__all__ = ["MAX_OPEN", "Hop", "Request", "hops"]

MAX_OPEN = 256
"""Requests open at once past which a request's sender is not guessed (too ambiguous)."""

_HOP_BY_HOP = frozenset(
    {"host", "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade",
     "te", "content-length", "via", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto",
     "forwarded", "x-real-ip"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Request:
    """One row of ``http_exchanges`` as the hop analysis needs it."""

    key: int
    start: int
    end: int | None
    client: str | None
    server: str | None
    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    formats: tuple[str, ...]
    trace_id: str | None
    parent_id: str | None
    where: str
    """``source:position``."""
    sent_by: str | None = None
    """The service of the exported span its parent ID names (spans in the same run)."""
    answered: bool = False
    """An exported server (consumer) span continued its context (spans in the same run)."""


@dataclass(frozen=True, slots=True)
class Hop:
    """A request ``inbound`` to a server, and a request ``outbound`` it sent while handling it."""

    inbound: Request
    outbound: Request
    sender: str | None
    """Who sent ``inbound``: the server that handled the request it was sent in, else its
    client's address."""

    @property
    def handler(self) -> str | None:
        return self.inbound.server

    @property
    def outcome(self) -> str:
        """``continued``, ``new-trace`` (another trace), ``dropped`` (no trace header),
        ``stripped`` (no trace header, the request otherwise passed on as it came),
        ``no-context`` (nothing arrived to forward)."""
        into, out = self.inbound, self.outbound
        if into.trace_id is None:
            return "no-context"
        if out.trace_id == into.trace_id:
            return "continued"
        if out.formats:
            return "new-trace"
        return "stripped" if _passed_on(into, out) else "dropped"

    @property
    def passed_through(self) -> bool:
        """The handler sent the request on with the context that came, parent ID and all:
        a proxy, not a service that made a call in a span of its own."""
        into, out = self.inbound, self.outbound
        return (
            into.parent_id is not None
            and (out.trace_id, out.parent_id) == (into.trace_id, into.parent_id)
            and (into.method, into.target) == (out.method, out.target)
        )

    @property
    def unread(self) -> bool:
        """The handler sends formats none of which arrived: it likely reads only those."""
        return bool(self.outbound.formats) and not set(self.inbound.formats) & set(
            self.outbound.formats
        )


def _passed_on(into: Request, out: Request) -> bool:
    """Whether ``out`` is ``into`` sent on: the same request line and the same end-to-end
    headers, less the trace headers (what a proxy does; an app's own call differs)."""
    if (into.method, into.target) != (out.method, out.target):
        return False
    trace = {"traceparent", "tracestate", "b3", "uber-trace-id", "baggage"}

    def end_to_end(r: Request) -> set[tuple[str, str]]:
        return {
            (n.lower(), v)
            for n, v in r.headers
            if n.lower() not in _HOP_BY_HOP and n.lower() not in trace
            and not n.lower().startswith(("x-b3-", "uberctx-"))
        }  # fmt: skip

    return end_to_end(into) == end_to_end(out)


def _host(address: str | None) -> str | None:
    if address is None:
        return None
    return address.rsplit(":", 1)[0] if address.count(":") == 1 or "]" in address else address


def hops(requests: Iterable[Request]) -> Iterator[tuple[Request, Hop | None]]:
    """Each of ``requests`` (sorted by start time) with the hop it is the outbound request
    of, or None when no server is known to have sent it."""
    open_: list[Request] = []
    unended: list[Request] = []  # answers never seen whole: their windows are unknown
    parent: dict[int, Request] = {}
    for req in requests:
        closing = [e for e in open_ if e.end is not None and e.end < req.start]
        if closing:
            open_ = [e for e in open_ if e.end is not None and e.end >= req.start]
            for e in closing:  # a closed request can no longer be a sender: forget its own
                parent.pop(e.key, None)
        if open_ or unended:
            first = min((e.start for e in open_), default=req.start)
            unended = [e for e in unended if e.start >= first][-MAX_OPEN:]
        hop = None
        if len(open_) <= MAX_OPEN:
            found = _sender(req, open_, unended)
            if found is not None:
                if req.end is not None:  # only a request with a window sends others
                    parent[req.key] = found
                grand = parent.get(found.key)
                hop = Hop(found, req, grand.server if grand else _host(found.client))
        yield req, hop
        if req.end is not None:
            open_.append(req)
        else:
            unended.append(req)


def _sender(req: Request, open_: list[Request], unended: list[Request]) -> Request | None:
    end = req.end if req.end is not None else req.start
    host = _host(req.client)
    candidates = [
        e for e in open_
        if e.start < req.start and e.end is not None and e.end >= end
        and e.server != req.server and (host is None or _host(e.server) == host)
    ]  # fmt: skip
    if not candidates:
        return None
    same = [e for e in candidates if req.trace_id and e.trace_id == req.trace_id]
    if same:
        return max(same, key=lambda e: e.start)
    inner = max(candidates, key=lambda e: e.start)
    # unrelated requests served at once: only a chain of nested windows is clear
    if not all(e.start <= inner.start and e.end >= inner.end for e in candidates):  # type: ignore[operator]
        return None
    # a request sent inside it whose answer was lost may be the one this was sent for
    if any(inner.start < e.start < req.start and e.server != req.server for e in unended):
        return None
    return inner
