"""Link, IP and TCP headers of captured packets, decoded by hand (the hot loop of a capture).

`segment` returns ``(src, sport, dst, dport, seq, flags, payload)`` of a TCP
packet, or a string naming why the packet is no TCP segment that can be
read.  IPv4 and IPv6 (with the usual extension headers), on the link types
tcpdump and Wireshark write for loopback (BSD ``NULL``/``LOOP``), Ethernet
(with VLAN tags), Linux "cooked" captures (SLL, SLL2) and raw IP.
"""

from __future__ import annotations

import ipaddress
import struct

__all__ = ["LINK_TYPES", "NOT_TCP", "segment"]

LINK_TYPES = {
    0: "BSD loopback (NULL)",
    1: "Ethernet",
    12: "raw IP",
    14: "raw IP",
    101: "raw IP",
    108: "OpenBSD loopback (LOOP)",
    113: "Linux cooked (SLL)",
    228: "raw IPv4",
    229: "raw IPv6",
    276: "Linux cooked v2 (SLL2)",
}
"""The link types read (pcap LINKTYPE numbers)."""

NOT_TCP = "not TCP"
"""The reason of packets that are simply not TCP (ARP, UDP, ...): skipped, not errors."""

FIN, SYN, RST, ACK = 0x01, 0x02, 0x04, 0x10
_UNPACK_TCP = struct.Struct("!HHI4xBB").unpack_from
_IPV6_EXTENSIONS = {0, 43, 60, 51}  # hop-by-hop, routing, destination options, AH
_ADDRESSES: dict[bytes, str] = {}


def _address(raw: bytes) -> str:
    text = _ADDRESSES.get(raw)
    if text is None:
        if len(_ADDRESSES) > 65536:
            _ADDRESSES.clear()
        text = str(ipaddress.ip_address(raw))
        _ADDRESSES[raw] = text
    return text


def _ip_offset(link: int, buf: bytes) -> int | str:
    """Where the IP header starts, or why there is none."""
    if link == 1:
        at, ethertype = 14, buf[12:14]
        while ethertype in (b"\x81\x00", b"\x88\xa8"):  # VLAN tags
            ethertype, at = buf[at + 2 : at + 4], at + 4
        return at if ethertype in (b"\x08\x00", b"\x86\xdd") else NOT_TCP
    if link in (0, 108):
        return 4
    if link == 113:
        return 16 if buf[14:16] in (b"\x08\x00", b"\x86\xdd") else NOT_TCP
    if link == 276:
        return 20 if buf[0:2] in (b"\x08\x00", b"\x86\xdd") else NOT_TCP
    return 0  # raw IP


def segment(link: int, buf: bytes) -> tuple[str, int, str, int, int, int, bytes] | str:
    """The TCP segment in one captured packet, or the reason there is none."""
    at = _ip_offset(link, buf)
    if isinstance(at, str):
        return at
    if len(buf) < at + 20:
        return "truncated packet"
    version = buf[at] >> 4
    if version == 4:
        header = (buf[at] & 0x0F) * 4
        if buf[at + 9] != 6:
            return NOT_TCP
        if struct.unpack_from("!H", buf, at + 6)[0] & 0x3FFF:
            return "IP fragment (not reassembled)"
        total = struct.unpack_from("!H", buf, at + 2)[0]
        src, dst = buf[at + 12 : at + 16], buf[at + 16 : at + 20]
        end = at + total if total else len(buf)
        tcp = at + header
    elif version == 6:
        if len(buf) < at + 40:
            return "truncated packet"
        nxt, tcp = buf[at + 6], at + 40
        end = at + 40 + struct.unpack_from("!H", buf, at + 4)[0]
        src, dst = buf[at + 8 : at + 24], buf[at + 24 : at + 40]
        while nxt in _IPV6_EXTENSIONS and len(buf) >= tcp + 8:
            size = (buf[tcp + 1] + 2) * 4 if nxt == 51 else (buf[tcp + 1] + 1) * 8
            nxt, tcp = buf[tcp], tcp + size
        if nxt == 44:
            return "IP fragment (not reassembled)"
        if nxt != 6:
            return NOT_TCP
    else:
        return NOT_TCP
    if len(buf) < tcp + 20:
        return "truncated packet"
    sport, dport, seq, offset, flags = _UNPACK_TCP(buf, tcp)
    start = tcp + (offset >> 4) * 4
    if end > len(buf):
        return "truncated packet"  # captured with a snap length shorter than the packet
    return _address(src), sport, _address(dst), dport, seq, flags, buf[start:end]
