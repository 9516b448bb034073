"""Packet captures: real tcpdump captures on the loopback interface, and the same packets
reordered, repeated, cut, and written in the other link types and pcapng."""

from __future__ import annotations

import io
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dpkt
import pytest

from tracehound.doctor import check_paths
from tracehound.doctor.evidence.http import Bad, Exchange, HttpFormat, read_exchanges

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "testbed"))

from tcpdump import Tcpdump, can_capture

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


class _KeepAlive(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # several requests a connection

    def do_GET(self) -> None:
        body = b"x" * (3000 if self.path.endswith("big") else 10)
        self.send_response(200 if not self.path.endswith("missing") else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_HEAD(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "999")  # a HEAD answer has no body all the same
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


class _V6Server(ThreadingHTTPServer):
    address_family = __import__("socket").AF_INET6


def _capture(tmp: Path, host: str) -> Path:
    reason = can_capture()
    if reason is not None:
        pytest.skip(f"no packet capture: {reason}")
    server_class = _V6Server if ":" in host else ThreadingHTTPServer
    server = server_class((host, 0), _KeepAlive)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    base = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    out = tmp / f"{'v6' if ':' in host else 'v4'}.pcap"
    try:
        with Tcpdump(out, [port]):
            # one connection, four requests: curl reuses it for the URLs of one command
            subprocess.run(
                ["curl", "-s", "-o", "/dev/null", "-o", "/dev/null", "-o", "/dev/null",
                 "-H", f"traceparent: {TRACEPARENT}", "-H", "uber-trace-id: 1:2:0:1",
                 f"{base}/a", f"{base}/big", f"{base}/missing",
                 "--next", "-s", "-I", "-o", "/dev/null", f"{base}/head"],
                check=True, timeout=30,
            )  # fmt: skip
    finally:
        server.shutdown()
        server.server_close()
    return out


@pytest.fixture(scope="module")
def v4(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _capture(tmp_path_factory.mktemp("cap"), "127.0.0.1")


def _read(data: bytes) -> list[Exchange | Bad]:
    return list(read_exchanges(HttpFormat.PCAP, io.BufferedReader(io.BytesIO(data))))  # type: ignore[arg-type]


def _summary(found: list[Exchange | Bad]) -> list[tuple]:
    return sorted(
        (x.method, x.target, x.status, x.client, x.server, dict(x.headers).get("traceparent"))
        for x in found if isinstance(x, Exchange)
    )  # fmt: skip


def _packets(path: Path) -> tuple[int, list[tuple[float, bytes]]]:
    with path.open("rb") as f:
        reader = dpkt.pcap.Reader(f)
        return reader.datalink(), list(reader)


def _write(link: int, packets: list[tuple[float, bytes]], *, ng: bool = False) -> bytes:
    out = io.BytesIO()
    writer = (dpkt.pcapng.Writer if ng else dpkt.pcap.Writer)(out, linktype=link, snaplen=262144)
    for ts, buf in packets:
        writer.writepkt(buf, ts=ts)
    return out.getvalue()


def test_a_real_capture_gives_every_request_of_a_kept_alive_connection(v4: Path) -> None:
    found = _read(v4.read_bytes())
    assert not [x for x in found if isinstance(x, Bad)]
    requests = _summary(found)
    assert [(m, t, s) for m, t, s, *_ in requests] == [
        ("GET", "/a", 200), ("GET", "/big", 200), ("GET", "/missing", 404), ("HEAD", "/head", 200),
    ]  # fmt: skip
    gets = [r for r in requests if r[0] == "GET"]
    assert len({r[3] for r in requests}) == 1  # one client port: one connection for all four
    assert all(r[5] == TRACEPARENT for r in gets)
    exchanges = [x for x in found if isinstance(x, Exchange)]
    assert all(x.end_ns is not None and x.end_ns >= x.time_ns for x in exchanges)  # type: ignore[operator]
    assert [n for n, _ in exchanges[0].headers][:1] == ["Host"]  # names as sent


def _data_packets(link: int, packets: list[tuple[float, bytes]]) -> list[int]:
    """The packets that carry TCP data (of an Ethernet capture)."""
    assert link == 1
    return [i for i, (_, buf) in enumerate(packets) if dpkt.ethernet.Ethernet(buf).data.data.data]


def test_out_of_order_and_retransmitted_segments_read_the_same(v4: Path) -> None:
    link, packets = _packets(v4)
    expected = _summary(_read(v4.read_bytes()))
    data = _data_packets(link, packets)
    reordered = list(packets)
    for a, b in zip(data[::2], data[1::2], strict=False):  # each pair of data segments swapped
        reordered[a], reordered[b] = reordered[b], reordered[a]
    assert _summary(_read(_write(link, reordered))) == expected
    repeated = []
    for i, packet in enumerate(packets):
        repeated.append(packet)
        if i in data:
            repeated.append(packet)  # a retransmission: the same bytes again
    assert _summary(_read(_write(link, repeated))) == expected


def test_pcapng_and_every_loopback_link_type_read_the_same(v4: Path) -> None:
    link, packets = _packets(v4)
    assert link == 1  # Linux writes loopback as Ethernet
    expected = _summary(_read(v4.read_bytes()))
    ip = [(ts, buf[14:]) for ts, buf in packets]
    null = [(ts, (2).to_bytes(4, "little") + b) for ts, b in ip]  # BSD loopback, AF_INET
    loop = [(ts, (2).to_bytes(4, "big") + b) for ts, b in ip]  # OpenBSD loopback
    sll = [(ts, b"\x00\x00\x03\x04\x00\x06" + b"\x00" * 8 + b"\x08\x00" + b) for ts, b in ip]
    sll2 = [(ts, b"\x08\x00\x00\x00" + b"\x00\x00\x00\x01" + b"\x00\x04\x06" + b"\x00" * 9 + b)
            for ts, b in ip]  # fmt: skip
    vlan = [(ts, buf[:12] + b"\x81\x00\x00\x05" + buf[12:]) for ts, buf in packets]
    for kind, rows in ((0, null), (108, loop), (113, sll), (276, sll2), (101, ip), (1, vlan)):
        assert _summary(_read(_write(kind, rows))) == expected, kind
    assert _summary(_read(_write(link, packets, ng=True))) == expected


def test_ipv6_on_loopback(tmp_path: Path) -> None:
    try:
        path = _capture(tmp_path, "::1")
    except OSError as exc:
        pytest.skip(f"no IPv6 loopback here: {exc}")
    requests = _summary(_read(path.read_bytes()))
    assert [r[1] for r in requests if r[0] == "GET"] == ["/a", "/big", "/missing"]
    assert all(r[4].startswith("[::1]:") for r in requests)


def test_a_capture_cut_short_keeps_what_came_before_and_names_the_packet(v4: Path) -> None:
    data = v4.read_bytes()
    found = _read(data[: len(data) - 40])
    bad = [x for x in found if isinstance(x, Bad)]
    assert bad and bad[0].position.startswith("packet ")
    assert len([x for x in found if isinstance(x, Exchange)]) >= 3


def test_lost_packets_are_named_and_no_window_is_invented(v4: Path) -> None:
    link, packets = _packets(v4)
    data = _data_packets(link, packets)
    kept = [p for i, p in enumerate(packets) if i != data[1]]  # the first answer is lost
    assert dpkt.ethernet.Ethernet(packets[data[1]][1]).data.data.data.startswith(b"HTTP/1")
    found = _read(_write(link, kept))
    assert any("not captured" in x.reason for x in found if isinstance(x, Bad))
    first = next(x for x in found if isinstance(x, Exchange) and x.target == "/a")
    assert first.status is None and first.end_ns is None


def test_tls_and_unknown_link_types_are_errors_naming_the_input(tmp_path: Path, v4: Path) -> None:
    link, packets = _packets(v4)
    odd = tmp_path / "odd.pcap"
    odd.write_bytes(_write(147, packets))  # a user-defined link type
    report = check_paths([str(odd)])
    assert [e.message for e in report.errors] == [
        "link type 147 is not read (read: BSD loopback (NULL), Ethernet, Linux cooked (SLL), "
        "Linux cooked v2 (SLL2), OpenBSD loopback (LOOP), raw IP, raw IPv4, raw IPv6)"
    ]
    assert report.exchanges_read == 0
    tls = []
    for ts, buf in packets:
        seg = dpkt.ethernet.Ethernet(buf)
        tcp = seg.data.data
        if tcp.data:
            tcp.data = b"\x16\x03\x01" + tcp.data[3:]
        tls.append((ts, bytes(seg)))
    found = _read(_write(link, tls))
    assert any("TLS (encrypted)" in x.reason for x in found if isinstance(x, Bad))


def test_without_dpkt_the_message_says_what_to_install(
    v4: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "dpkt", None)
    report = check_paths([str(v4)])
    assert [e.message for e in report.errors] == [
        "reading packet captures needs dpkt: pip install 'tracehound[pcap]' (or pip install dpkt)"
    ]



def test_reading_a_capture_reports_progress_to_the_end(v4: Path) -> None:
    seen: list[tuple[str, int, int | None]] = []
    report = check_paths([str(v4)], progress=lambda name, done, total: seen.append(
        (name, done, total)))  # fmt: skip
    assert report.exchanges_read == 4
    size = v4.stat().st_size
    assert seen and seen[-1] == (str(v4), size, size)
    assert all(done <= size for _, done, _ in seen)


def test_damaged_captures_give_requests_or_named_problems_never_a_crash(v4: Path) -> None:
    """Bytes changed, cut out or inserted anywhere in a real capture (fixed seed)."""
    import random

    from tracehound.doctor.evidence.http import EvidenceError

    rnd = random.Random(15)
    base = v4.read_bytes()
    unreadable: list[str] = []
    for _ in range(150):
        data = bytearray(base)
        for _ in range(rnd.randint(1, 12)):
            at = rnd.randrange(len(data))
            choice = rnd.random()
            if choice < 0.5:
                data[at] = rnd.randrange(256)
            elif choice < 0.8:
                del data[at : at + rnd.randint(1, 200)]
            else:
                data[at:at] = rnd.randbytes(rnd.randint(1, 50))
        try:
            found = _read(bytes(data))
        except EvidenceError as exc:  # the capture as a whole: a message, no traceback
            unreadable.append(str(exc))
            continue
        for item in found:
            assert isinstance(item, (Exchange, Bad))
            if isinstance(item, Bad):
                assert item.position.startswith("packet ") and item.reason
    assert all(unreadable)


def test_a_directory_of_captures_is_read_like_the_files(tmp_path: Path, v4: Path) -> None:
    """`tracehound check dir/` takes the captures in it, as tcpdump and Wireshark name them."""
    link, packets = _packets(v4)
    folder = tmp_path / "evidence"
    folder.mkdir()
    (folder / "lo.pcap").write_bytes(v4.read_bytes())
    (folder / "wireshark.pcapng").write_bytes(_write(link, packets, ng=True))
    (folder / "notes.txt").write_text("not opened: not a capture's name")
    report = check_paths([str(folder)])
    assert sorted(Path(i.source).name for i in report.inputs) == ["lo.pcap", "wireshark.pcapng"]
    assert not report.errors
    assert report.exchanges_read == 2 * check_paths([str(v4)]).exchanges_read > 0
