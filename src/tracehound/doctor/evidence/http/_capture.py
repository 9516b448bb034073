"""pcap and pcapng captures of plaintext HTTP/1.x: every request in them, with its answer.

The capture formats are read with ``dpkt`` (BSD licence; the ``pcap`` extra:
``pip install 'tracehound[pcap]'``); the packets' headers by `_packets`, the
streams by `_streams`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

from tracehound.doctor.evidence.http._exchange import Bad, Exchange
from tracehound.doctor.evidence.http._packets import LINK_TYPES, NOT_TCP, segment

__all__ = ["MAGIC", "CaptureError", "looks_like", "read_capture"]

MAGIC = (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d",
         b"\x0a\x0d\x0d\x0a")  # fmt: skip
"""The first bytes of a pcap file (both byte orders, µs and ns) and of a pcapng file."""

MISSING = (
    "reading packet captures needs dpkt: pip install 'tracehound[pcap]' "
    "(or pip install dpkt)"
)


class CaptureError(ValueError):
    """The capture cannot be read at all (no dpkt, an unknown link type, a broken header)."""


def looks_like(head: bytes) -> bool:
    return head[:4] in MAGIC


def read_capture(
    stream: BinaryIO, progress: Callable[[int], None] | None = None
) -> Iterator[Exchange | Bad]:
    """Every request of the capture ``stream`` and every packet that could not be used.

    `CaptureError` when the capture itself cannot be read; a capture cut short
    (tcpdump killed) ends with a `Bad` naming the packet.
    """
    try:
        import dpkt
    except ImportError:
        raise CaptureError(MISSING) from None
    try:
        if _peek(stream)[:4] == MAGIC[-1]:
            reader: Any = dpkt.pcapng.Reader(stream)
        else:
            reader = dpkt.pcap.Reader(stream)
    except (ValueError, dpkt.dpkt.NeedData, dpkt.dpkt.UnpackError) as exc:
        raise CaptureError(f"not a readable capture: {exc}") from None
    link = reader.datalink()
    if link not in LINK_TYPES:
        kinds = ", ".join(sorted(set(LINK_TYPES.values())))
        raise CaptureError(f"link type {link} is not read (read: {kinds})")
    return _read(reader, link, progress)


def _peek(stream: Any) -> bytes:
    return stream.peek(4) if hasattr(stream, "peek") else b""


def _read(
    reader: Any, link: int, progress: Callable[[int], None] | None
) -> Iterator[Exchange | Bad]:
    import dpkt

    # h11 and the stream reassembly only where there are packets: a check of spans alone
    # imports this package (for `detect`) and needn't pay for them (~15 ms)
    from tracehound.doctor.evidence.http._streams import Connections

    connections = Connections()
    number, last = 0, 0
    packets = iter(reader)
    while True:
        try:
            ts, buf = next(packets)
        except StopIteration:
            break
        except (ValueError, dpkt.dpkt.NeedData, dpkt.dpkt.UnpackError, EOFError) as exc:
            yield Bad(f"packet {number + 1}", f"the capture ends inside a packet ({exc})")
            break
        number += 1
        found = segment(link, buf)
        if isinstance(found, str):
            if found != NOT_TCP:
                yield Bad(f"packet {number}", found)
            continue
        last = int(ts * 1e9) if not isinstance(ts, int) else ts
        yield from connections.add(last, number, *found)
        if progress is not None and number % 4096 == 0:
            progress(number)
    yield from connections.finish(last)
