"""Benchmark reading a packet capture as HTTP evidence against reading its packets alone.

    python bench/bench_http_capture.py                  # a 1 GiB capture
    python bench/bench_http_capture.py --size-mb 100    # quicker
    python bench/bench_http_capture.py --dir /tmp/cap   # keep the capture there

Writes a pcap file (Ethernet, IPv4; not committed) of three-hop request
chains: a client calls A, A calls B, B calls C, each call its own TCP
connection (handshake, request, answer with a 1,200-byte body, close), A → B
and B → C carrying ``traceparent``; every tenth B → C call carries another
trace (a hop that lost the context).  Then, in fresh child processes (each's
own CPU time and peak RSS):

- **floor**: every packet read with ``dpkt.pcap.Reader`` and nothing else (the
  least any reader of the file pays);
- **decode**: the floor plus each packet's link, IP and TCP headers decoded
  (`tracehound.doctor.evidence.http._packets.segment`);
- **read**: the requests and answers of the capture, TCP reassembled and
  HTTP parsed (`read_exchanges`), into nothing;
- **check**: ``tracehound check``'s whole work (`check_paths`): the same
  reading into DuckDB's ``http_exchanges``, then every check (P001-P007, hops).

Reports MB/s and the ratio of each to the floor, CPU time first, wall beside.
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_CHILD = r"""
import json, resource, sys, time
mode, path = sys.argv[1], sys.argv[2]
start, cpu = time.perf_counter(), time.process_time()
count = 0
if mode == "floor":
    import dpkt
    with open(path, "rb") as f:
        for _ in dpkt.pcap.Reader(f):
            count += 1
elif mode == "decode":
    import dpkt
    from tracehound.doctor.evidence.http._packets import segment
    with open(path, "rb") as f:
        for _, buf in dpkt.pcap.Reader(f):
            count += not isinstance(segment(1, buf), str)
elif mode == "read":
    import io
    from tracehound.doctor.evidence.http import HttpFormat, read_exchanges
    with open(path, "rb") as f:
        for item in read_exchanges(HttpFormat.PCAP, io.BufferedReader(f, 1 << 20)):
            count += 1
else:
    from tracehound.doctor import check_paths
    report = check_paths([path])
    count = report.exchanges_read
    assert not report.errors, report.errors[:3]
    found = sorted({f.code for f in report.findings})
    assert found == ["P005"], found
wall, cpu = time.perf_counter() - start, time.process_time() - cpu
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"wall": wall, "cpu": cpu, "count": count, "rss": rss}))
"""

_ETH = b"\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x01\x08\x00"
_IP = struct.Struct("!BBHHHBBH4s4s")
_TCP = struct.Struct("!HHIIBBHHH")
_RECORD = struct.Struct("<IIII")
SYN, ACK, PSH, FIN = 0x02, 0x10, 0x08, 0x01
BODY = b"x" * 1200


def _packet(src: bytes, dst: bytes, sport: int, dport: int, seq: int, ack: int, flags: int,
            payload: bytes = b"") -> bytes:  # fmt: skip
    tcp = _TCP.pack(sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0)
    ip = _IP.pack(0x45, 0, 40 + len(payload), 0, 0x4000, 64, 6, 0, src, dst)
    return _ETH + ip + tcp + payload


def _connection(out: list[bytes], start_us: int, end_us: int, client: tuple[bytes, int],
                server: tuple[bytes, int], request: bytes, answer: bytes) -> None:  # fmt: skip
    (c, cp), (s, sp) = client, server
    cs, ss = 1000, 5000
    packets = [
        (start_us, _packet(c, s, cp, sp, cs, 0, SYN)),
        (start_us, _packet(s, c, sp, cp, ss, cs + 1, SYN | ACK)),
        (start_us, _packet(c, s, cp, sp, cs + 1, ss + 1, ACK)),
        (start_us + 1, _packet(c, s, cp, sp, cs + 1, ss + 1, PSH | ACK, request)),
        (start_us + 2, _packet(s, c, sp, cp, ss + 1, cs + 1 + len(request), ACK)),
        (end_us, _packet(s, c, sp, cp, ss + 1, cs + 1 + len(request), PSH | ACK, answer)),
        (end_us + 1, _packet(c, s, cp, sp, cs + 1 + len(request), ss + 1 + len(answer),
                             FIN | ACK)),
        (end_us + 2, _packet(s, c, sp, cp, ss + 1 + len(answer), cs + 2 + len(request),
                             FIN | ACK)),
        (end_us + 3, _packet(c, s, cp, sp, cs + 2 + len(request), ss + 2 + len(answer), ACK)),
    ]  # fmt: skip
    for at, data in packets:
        out.append(_RECORD.pack(at // 1_000_000, at % 1_000_000, len(data), len(data)) + data)


def _request(host: str, path: str, traceparent: str | None) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}", "User-Agent: python-requests/2.32.3",
             "Accept-Encoding: gzip, deflate", "Accept: */*", "Connection: keep-alive"]  # fmt: skip
    if traceparent:
        lines.append(f"traceparent: {traceparent}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


ANSWER = (
    b"HTTP/1.1 200 OK\r\nServer: Werkzeug/3.1.3 Python/3.11.7\r\n"
    b"Content-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
    % len(BODY)
) + BODY


def generate(path: Path, size: int) -> int:
    """Write a capture of about ``size`` bytes; returns the request chains in it."""
    hosts = [bytes([10, 0, 0, n]) for n in (1, 2, 3, 4)]
    start = 1_764_900_000 * 1_000_000
    chains = 0
    with open(path, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        written = 24
        while written < size:
            block: list[bytes] = []
            for _ in range(1000):
                i = chains
                chains += 1
                t = start + i * 10_000
                trace = f"{i + 1:032x}"
                other = f"{i + 1:016x}{'f' * 16}"
                inner = other if i % 10 == 9 else trace  # every tenth B -> C loses the context
                ports = [1024 + (3 * i + k) % 60000 for k in range(3)]
                hops = [
                    (t, t + 5000, (hosts[0], ports[0]), (hosts[1], 8080), "/checkout", None),
                    (t + 1000, t + 4000, (hosts[1], ports[1]), (hosts[2], 8080), "/pay",
                     f"00-{trace}-{2 * i + 1:016x}-01"),
                    (t + 2000, t + 3000, (hosts[2], ports[2]), (hosts[3], 8080), "/ledger",
                     f"00-{inner}-{2 * i + 2:016x}-01"),
                ]  # fmt: skip
                for s, e, client, server, target, tp in hops:
                    host = "10.0.0.%d:8080" % server[0][3]
                    _connection(block, s, e, client, server, _request(host, target, tp), ANSWER)
            data = b"".join(block)
            out.write(data)
            written += len(data)
    return chains


def _child(mode: str, path: Path) -> dict:
    run = subprocess.run([sys.executable, "-c", _CHILD, mode, str(path)], capture_output=True,
                         text=True, check=False)  # fmt: skip
    if run.returncode:
        raise SystemExit(f"{mode} failed:\n{run.stderr}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--dir", type=Path, help="where the capture is written (and kept)")
    args = parser.parse_args(argv)
    tmp = None
    if args.dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="bench-http-")
        args.dir = Path(tmp.name)
    args.dir.mkdir(parents=True, exist_ok=True)
    path = args.dir / f"chains-{args.size_mb}mb.pcap"
    size = args.size_mb << 20
    try:
        if not path.exists() or path.stat().st_size < size:
            began = time.perf_counter()
            chains = generate(path, size)
            took = time.perf_counter() - began
            print(f"wrote {path} ({path.stat().st_size / 2**20:.0f} MiB, {chains} chains, "
                  f"{3 * chains} requests) in {took:.0f} s", flush=True)  # fmt: skip
        mb = path.stat().st_size / 2**20
        results = {mode: _child(mode, path) for mode in ("floor", "decode", "read", "check")}
        floor = results["floor"]
        print(f"\n{mb:.0f} MiB, {floor['count']} packets, python {sys.version.split()[0]}, "
              f"{os.cpu_count()} CPUs")  # fmt: skip
        print("| step | counted | CPU s | wall s | MiB/s (CPU) | × floor, CPU | × floor, wall "
              "| peak RSS MiB |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for mode, r in results.items():
            print(f"| {mode} | {r['count']} | {r['cpu']:.1f} | {r['wall']:.1f} | "
                  f"{mb / r['cpu']:.1f} | {r['cpu'] / floor['cpu']:.2f} | "
                  f"{r['wall'] / floor['wall']:.2f} | {r['rss'] / 2**20:.0f} |")  # fmt: skip
    finally:
        if tmp is not None:
            tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
