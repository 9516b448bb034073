"""TCP streams put back in order, and the HTTP/1.x requests and answers read from them.

Each connection has two `_Direction`s.  Segments are placed by sequence
number: retransmitted bytes are dropped, segments that arrive early wait (up
to `MAX_PENDING` bytes per direction, then the missing bytes count as lost),
so out-of-order captures read the same as ordered ones.  The client side is
parsed with ``h11`` as a server would (several requests a connection); each
answer on the other side (`_answers`: its status and its end, the body
dropped) is paired with the oldest request still waiting.
Only what is waiting to be parsed is kept: memory is bounded by the
connections open at one time.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

import h11

from tracehound.doctor.evidence.http._answers import AnswerReader, Unreadable
from tracehound.doctor.evidence.http._exchange import Bad, Exchange
from tracehound.doctor.evidence.http._packets import FIN, RST, SYN

__all__ = ["MAX_PENDING", "Connections"]

MAX_PENDING = 4 << 20
"""Bytes of early segments kept per direction while a gap waits to be filled."""
MAX_CONNECTIONS = 100_000
"""Connections open at once; past it the oldest is read as it is and forgotten."""
_WRAP = 1 << 32
_METHOD_START = (b"GET ", b"POST ", b"PUT ", b"DELETE ", b"HEAD ", b"PATCH ", b"OPTIONS ",
                 b"CONNECT ", b"TRACE ")  # fmt: skip


@dataclass
class _Direction:
    next_seq: int | None = None
    early: dict[int, bytes] = field(default_factory=dict)
    early_bytes: int = 0
    early_at: int = 0
    """The packet of the first segment still waiting for a gap to be filled."""
    lost: int = 0


@dataclass
class _Pending:
    """A request read, waiting for its answer."""

    time_ns: int
    position: str
    request: h11.Request


@dataclass
class _Connection:
    key: tuple[str, int, str, int]
    """``(client, client port, server, server port)`` once known (SYN or first request)."""
    sides: dict[tuple[str, int], _Direction] = field(default_factory=dict)
    client: tuple[str, int] | None = None
    requests: h11.Connection | None = None
    answers: AnswerReader = field(default_factory=AnswerReader)
    answer_data: bytearray = field(default_factory=bytearray)
    waiting: deque[_Pending] = field(default_factory=deque)
    answers_unreadable: bool = False
    dead: str | None = None
    """Why the rest of this connection is not read (not HTTP/1.x, bytes lost)."""
    closed: set[tuple[str, int]] = field(default_factory=set)


class Connections:
    """Feed every TCP segment with `add`; `finish` at the end; both yield what they found."""

    def __init__(self) -> None:
        self._open: dict[frozenset[tuple[str, int]], _Connection] = {}

    def add(
        self, time_ns: int, number: int, src: str, sport: int, dst: str, dport: int, seq: int,
        flags: int, payload: bytes,
    ) -> Iterator[Exchange | Bad]:  # fmt: skip
        """Place one segment; yields the requests (and rejections) it completed."""
        pair = frozenset(((src, sport), (dst, dport)))
        conn = self._open.get(pair)
        if conn is None:
            if not payload and not flags & SYN:
                return  # a bare ACK or FIN of a connection not seen: nothing to read
            conn = _Connection((src, sport, dst, dport))
            self._open[pair] = conn
            if len(self._open) > MAX_CONNECTIONS:
                oldest = next(iter(self._open))
                yield from self._close(self._open.pop(oldest), time_ns)
        side = conn.sides.setdefault((src, sport), _Direction())
        if flags & SYN:
            side.next_seq = (seq + 1) % _WRAP
            if conn.client is None and not flags & 0x10:  # SYN without ACK: the client's
                conn.client = (src, sport)
        if payload:
            yield from self._data(conn, side, (src, sport), seq, payload, time_ns, number)
        if flags & FIN and not payload and side.next_seq is not None and conn.dead is None:
            gap = (seq - side.next_seq) % _WRAP
            if 0 < gap < _WRAP // 2 and not side.early:
                conn.dead = f"{gap} bytes of the TCP stream were not captured (packets lost)"
                rest = "; the rest of the connection is not read"
                yield Bad(f"packet {number}", conn.dead + rest)
        if flags & (FIN | RST):
            conn.closed.add((src, sport))
            if flags & RST or len(conn.closed) == 2:
                yield from self._close(self._open.pop(pair), time_ns)

    def finish(self, time_ns: int) -> Iterator[Exchange | Bad]:
        """End of the capture: what the open connections hold."""
        while self._open:
            _, conn = self._open.popitem()
            yield from self._close(conn, time_ns)

    def _data(
        self, conn: _Connection, side: _Direction, sender: tuple[str, int], seq: int,
        payload: bytes, time_ns: int, number: int,
    ) -> Iterator[Exchange | Bad]:  # fmt: skip
        if side.next_seq is None:
            side.next_seq = seq  # joined after the handshake
        offset = (seq - side.next_seq) % _WRAP
        if offset >= _WRAP // 2:  # starts before what was read: a retransmission
            overlap = _WRAP - offset
            if overlap >= len(payload):
                return
            payload, offset = payload[overlap:], 0
        if offset:
            if not side.early:
                side.early_at = number
            if seq not in side.early or len(payload) > len(side.early[seq]):
                side.early_bytes += len(payload) - len(side.early.get(seq, b""))
                side.early[seq] = payload
            if side.early_bytes <= MAX_PENDING:
                return
            # the gap is not going to be filled: the bytes before the first early segment are lost
            first = min(side.early, key=lambda s: (s - side.next_seq) % _WRAP)  # type: ignore[operator]
            side.lost += (first - side.next_seq) % _WRAP
            side.next_seq = first
            payload = b""
        data = bytearray(payload)
        side.next_seq = (side.next_seq + len(payload)) % _WRAP
        while side.early:
            nxt = side.early.pop(side.next_seq, None)
            if nxt is None:
                # drop early segments the data just read has covered
                for s in [s for s in side.early if (s - side.next_seq) % _WRAP >= _WRAP // 2]:
                    chunk = side.early.pop(s)
                    side.early_bytes -= len(chunk)
                    end = (s + len(chunk) - side.next_seq) % _WRAP
                    if 0 < end < _WRAP // 2:
                        data += chunk[-end:]
                        side.next_seq = (side.next_seq + end) % _WRAP
                if side.next_seq not in side.early:
                    break
                continue
            side.early_bytes -= len(nxt)
            data += nxt
            side.next_seq = (side.next_seq + len(nxt)) % _WRAP
        if side.lost and conn.dead is None:
            conn.dead = f"{side.lost} bytes of the TCP stream were not captured (packets lost)"
            yield Bad(f"packet {number}", conn.dead + "; the rest of the connection is not read")
        if conn.dead is not None or not data:
            return
        if conn.client is None:
            conn.client = sender if bytes(data[:8]).startswith(_METHOD_START) else None
            if conn.client is None:
                conn.dead = _not_http(data)
                yield Bad(f"packet {number}", conn.dead)
                return
        if sender == conn.client:
            if conn.requests is None and not bytes(data[:8]).startswith(_METHOD_START):
                conn.dead = _not_http(data)  # TLS, HTTP/2, another protocol
                yield Bad(f"packet {number}", conn.dead)
                return
            yield from self._requests(conn, bytes(data), time_ns, number)
        else:
            conn.answer_data += data
            yield from self._answers(conn, time_ns)

    def _requests(
        self, conn: _Connection, data: bytes, time_ns: int, number: int
    ) -> Iterator[Exchange | Bad]:
        if conn.requests is None:
            conn.requests = h11.Connection(h11.SERVER)
        conn.requests.receive_data(data)
        while True:
            try:
                event = conn.requests.next_event()
            except h11.RemoteProtocolError as exc:
                conn.dead = f"not an HTTP/1.x request: {exc}"
                yield Bad(f"packet {number}", conn.dead)
                return
            if event is h11.NEED_DATA:
                return
            if event is h11.PAUSED:
                rest, _ = conn.requests.trailing_data
                conn.requests = h11.Connection(h11.SERVER)
                conn.requests.receive_data(rest)
                continue
            if isinstance(event, h11.Request):
                conn.waiting.append(_Pending(time_ns, f"packet {number}", event))
                if len(conn.waiting) == 1:
                    yield from self._answers(conn, time_ns)
            elif isinstance(event, h11.ConnectionClosed):
                return

    def _answers(self, conn: _Connection, time_ns: int, *, eof: bool = False) -> Iterator[Exchange]:
        """Pair the answers read so far with the requests waiting, oldest first."""
        data, conn.answer_data = conn.answer_data, bytearray()
        while conn.waiting:
            if conn.answers_unreadable:
                yield _exchange(conn, conn.waiting.popleft(), None, None)
                continue
            try:
                finished = conn.answers.feed(data, conn.waiting[0].request.method, eof=eof)
            except Unreadable:
                conn.answers_unreadable = True  # the requests still count, without status
                continue
            data = b""
            if not finished:
                if not eof:
                    return
                # the connection ended inside the answer: its end is not known
                yield _exchange(conn, conn.waiting.popleft(), conn.answers.status, None)
                conn.answers = AnswerReader()
                continue
            yield _exchange(conn, conn.waiting.popleft(), conn.answers.status, time_ns)
            conn.answers.status = None
        if data:
            conn.answer_data = bytearray(data)  # answers before their requests: wait

    def _close(self, conn: _Connection, time_ns: int) -> Iterator[Exchange | Bad]:
        for side in conn.sides.values():
            if side.early and conn.dead is None:
                # a gap that was never filled: the bytes before the waiting segments are lost
                first = min(side.early, key=lambda s: (s - side.next_seq) % _WRAP)  # type: ignore[operator]
                gap = (first - side.next_seq) % _WRAP  # type: ignore[operator]
                conn.dead = f"{gap} bytes of the TCP stream were not captured (packets lost)"
                yield Bad(f"packet {side.early_at}", conn.dead + "; what follows is not read")
        if conn.dead is None:
            yield from self._answers(conn, time_ns, eof=True)
        for pending in conn.waiting:
            yield _exchange(conn, pending, None, None)
        conn.waiting.clear()


def _exchange(conn: _Connection, done: _Pending, status: int | None, end: int | None) -> Exchange:
    client = conn.client or (conn.key[0], conn.key[1])
    server = next((s for s in conn.sides if s != client), None)
    if server is None:
        a, b = (conn.key[0], conn.key[1]), (conn.key[2], conn.key[3])
        server = b if client == a else a
    request = done.request
    return Exchange(
        done.time_ns,
        end,
        _join(client),
        _join(server),
        request.method.decode("latin-1"),
        request.target.decode("latin-1"),
        tuple((n.decode("latin-1"), v.decode("latin-1")) for n, v in request.headers.raw_items()),
        status,
        done.position,
    )


def _join(address: tuple[str, int]) -> str:
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _not_http(data: bytes | bytearray) -> str:
    head = bytes(data[:3])
    if head[:1] == b"\x16" and head[1:2] == b"\x03":
        return "TLS (encrypted): the headers cannot be read from the capture"
    if bytes(data[:5]) == b"HTTP/":
        return "an answer whose request was not captured (packets lost, or the capture began late)"
    if bytes(data[:24]).startswith(b"PRI * HTTP/2.0"):
        return "HTTP/2 (not read from captures; HAR files hold HTTP/2 requests)"
    return "not HTTP/1.x: the connection starts with neither a request nor a known protocol"
