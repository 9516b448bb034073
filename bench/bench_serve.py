"""Benchmark ``tracehound serve``'s sustained ingest against the protobuf parse floor.

    python bench/bench_serve.py                  # 262,144 spans, 3 rounds
    python bench/bench_serve.py --spans 100000 --rounds 1

Generated traffic (the doctor's synthetic system, every fault injected) is
cut into OTLP/HTTP protobuf requests of 512 spans.  Each round measures, in
fresh processes and alternating:

- **floor**: ``ExportTraceServiceRequest.FromString`` on every request body,
  nothing else (the least any OTLP/protobuf receiver in Python does);
- **serve**: ``tracehound serve`` (checks on, ``--idle 0.5``) taking every
  request from 8 concurrent senders, as 8 services would send (one process, stdlib HTTP,
  keep-alive; a 503 is retried after its ``Retry-After``), until every span
  is checked; once with the journal synced per group commit (the default), once
  ``--no-fsync``.

Reported: spans/s acknowledged, parsed into the table ("loaded": all but the last
run of the checks) and checked (wall), the server's CPU
time per span, each as a ratio to the floor measured in the same round (CPU
beside wall), the fsync cost, and the server's peak RSS against the bytes
sent.  Target (issue 17): ≥ 50,000 spans/s sustained with checks on.

    python bench/bench_serve.py --sustain 60 --rate 50000

**Sustained**: the same 512 requests sent again and again for ``--sustain``
seconds (each pass with its own trace IDs: the first four bytes of every
trace ID are the pass number), on a schedule of ``--rate`` spans/s (open loop:
a request is sent when it is due, by whichever of the senders is free; a
sender late on the schedule sends at once), then until every span is
checked.  Every second the server's status, RSS and CPU and the host's load
are sampled; reported per tenth of the feed: spans acknowledged, checked by
the live runs and by the report, the lag from a trace going quiet to its live
run, RSS, and the server's CPU per span, against the floor of the same run.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

BATCH = 512
SENDERS = 8

# shared by the child scripts below: the request bodies of a length-prefixed stream, and
# one POST retried while the server answers "retry later"
_BODIES = """
def read_bodies(path):
    data = open(path, "rb").read()
    bodies, pos = [], 0
    while pos < len(data):
        size = int.from_bytes(data[pos:pos + 4], "big")
        bodies.append(data[pos + 4:pos + 4 + size])
        pos += 4 + size
    return bodies
"""

_POST = """
import time
def post(conn, body):
    retries = 0
    while True:
        conn.request("POST", "/v1/traces", body, {"Content-Type": "application/x-protobuf"})
        answer = conn.getresponse()
        answer.read()
        if answer.status == 200:
            return retries
        if answer.status not in (429, 503):
            raise SystemExit(f"status {answer.status}")
        retries += 1
        time.sleep(float(answer.getheader("Retry-After") or 1) / 20)
"""

_FLOOR = _BODIES + """
import sys, time
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
bodies = read_bodies(sys.argv[1])
wall, cpu = time.perf_counter(), time.process_time()
spans = 0
for body in bodies:
    message = ExportTraceServiceRequest.FromString(body)
    spans += sum(len(ss.spans) for rs in message.resource_spans for ss in rs.scope_spans)
print(time.perf_counter() - wall, time.process_time() - cpu, spans)
"""

_SENDER = _BODIES + _POST + """
import http.client, sys, threading, time
url_port, path, senders = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
bodies = read_bodies(path)
retries = [0]
def send(part):
    conn = http.client.HTTPConnection("127.0.0.1", url_port, timeout=60)
    for body in part:
        retries[0] += post(conn, body)
    conn.close()
start = time.perf_counter()
threads = [threading.Thread(target=send, args=(bodies[i::senders],)) for i in range(senders)]
for t in threads: t.start()
for t in threads: t.join()
print(time.perf_counter() - start, retries[0])
"""


_PACED = _BODIES + _POST + """
import http.client, json, sys, threading, time
port, path, rate, seconds, senders = (
    int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]))
bodies = read_bodies(path)
places = json.loads(open(path + ".traces").read())  # where each body's trace IDs are
spans = [int(n) for n in open(path + ".spans").read().split()]
every = spans[0] / rate if rate else 0.0
lock = threading.Lock()
state = {"next": 0, "retries": 0, "late": 0.0, "acked": 0}
start = time.perf_counter()
def body_of(i):
    n, p = divmod(i, len(bodies))
    if n == 0:
        return bodies[p]
    out = bytearray(bodies[p])
    mark = n.to_bytes(4, "big")
    for at in places[p]:
        out[at:at + 4] = mark
    return bytes(out)
def send():
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    while True:
        with lock:
            i = state["next"]
            state["next"] += 1
        due = start + i * every
        now = time.perf_counter()
        if now - start >= seconds:
            break
        if due > now:
            time.sleep(due - now)
        else:
            with lock:
                state["late"] = max(state["late"], now - due)
        retried = post(conn, body_of(i))
        with lock:
            state["retries"] += retried
            state["acked"] += spans[i % len(bodies)]
            print(f"acked {time.perf_counter() - start:.3f} {state['acked']}", flush=True)
    conn.close()
threads = [threading.Thread(target=send) for _ in range(senders)]
for t in threads: t.start()
for t in threads: t.join()
took = time.perf_counter() - start
print(f"done {took:.3f} {state['acked']} {state['retries']} {state['late']:.3f}", flush=True)
"""


def _write_bodies(path: Path, spans: int) -> tuple[int, int]:
    """Requests of `BATCH` spans as a length-prefixed stream; (spans, bytes of bodies)."""
    from tracehound.doctor._synthetic_writers import to_otlp_proto
    from tracehound.doctor.synthetic import iter_requests

    written = size = 0
    pending: list = []
    places: list[list[int]] = []
    with open(path, "wb") as out:
        for batch in iter_requests(spans // 12 + 1, seed=42):
            pending.extend(batch)
            while len(pending) >= BATCH and written < spans:
                body = to_otlp_proto(pending[:BATCH])
                pending = pending[BATCH:]
                out.write(len(body).to_bytes(4, "big") + body)
                written += BATCH
                size += len(body)
                places.append(_trace_places(body))
            if written >= spans:
                break
    Path(f"{path}.traces").write_text(json.dumps(places))
    Path(f"{path}.spans").write_text(" ".join([str(BATCH)] * len(places)))
    return written, size


def _trace_places(body: bytes) -> list[int]:
    """Where every span's (and link's) trace ID starts in ``body`` (field 1, 16 bytes)."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    ids = set()
    for rs in ExportTraceServiceRequest.FromString(body).resource_spans:
        for ss in rs.scope_spans:
            for span in ss.spans:
                ids.add(span.trace_id)
                ids.update(link.trace_id for link in span.links)
    places = []
    for tid in ids:
        needle = b"\x0a\x10" + tid
        at = body.find(needle)
        while at >= 0:
            places.append(at + 2)
            at = body.find(needle, at + 1)
    return sorted(places)


def _floor(path: Path) -> tuple[float, float, int]:
    out = subprocess.run(
        [sys.executable, "-c", _FLOOR, str(path)], capture_output=True, text=True, check=True
    ).stdout.split()
    return float(out[0]), float(out[1]), int(out[2])


def _proc_cpu(pid: int, children: bool = True) -> float:
    """CPU seconds of process ``pid``, and of its children (the parsing process)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    if children:
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                other = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(other[1]) == pid:
                ticks += int(other[11]) + int(other[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def _peak_rss(pid: int) -> int:
    found = re.search(r"VmHWM:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(found.group(1)) * 1024 if found else 0


def _status(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=30) as answer:
        return json.load(answer)


def _start(work: Path, fsync: bool, *extra: str) -> tuple[subprocess.Popen[str], int]:
    """``tracehound serve`` on a free port, journal in ``work``; the process and port."""
    db = work / f"journal-{time.monotonic_ns()}"
    command = [sys.executable, "-m", "tracehound.cli", "serve", "--port", "0", "--db", str(db),
               "--idle", "0.5", "--no-grpc", *extra]  # fmt: skip
    if not fsync:
        command.append("--no-fsync")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    port = 0
    assert server.stdout is not None
    for line in server.stdout:
        found = re.search(r"OTLP/HTTP\s+http://127\.0\.0\.1:(\d+)/", line)
        if found:
            port = int(found.group(1))
        if "web UI" in line:
            break
    return server, port


def _serve(path: Path, spans: int, work: Path, fsync: bool) -> dict[str, float]:
    server, port = _start(work, fsync)
    try:
        cpu0 = _proc_cpu(server.pid)
        start = time.perf_counter()
        sender = subprocess.run(
            [sys.executable, "-c", _SENDER, str(port), str(path), str(SENDERS)],
            capture_output=True, text=True, check=True, timeout=600,
        )  # fmt: skip
        acked = time.perf_counter() - start
        deadline = time.monotonic() + 600
        loaded = checked = 0.0
        while True:
            status = _status(port)
            if not loaded and status["spans_received"] >= spans:
                loaded = time.perf_counter() - start
            if not checked and status["spans_checked_live"] >= spans:
                checked = time.perf_counter() - start
            if status["spans_checked"] >= spans and status["spans_pending"] == 0:
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"not every span checked: {status}")
            time.sleep(0.05)
        reported = time.perf_counter() - start
        cpu = _proc_cpu(server.pid) - cpu0
        rss = _peak_rss(server.pid)
        return {
            "acked_s": acked,
            "loaded_s": loaded,
            "checked_s": checked,
            "reported_s": reported,
            "cpu_s": cpu,
            "rss": rss,
            "retries": float(sender.stdout.split()[1]),
            "syncs": status["journal"]["syncs"],
            "requests": status["requests"],
            "check_s": status["check_seconds"],
            "checks": status["checks"],
            "parse_cpu": status["parse_cpu_seconds"],
            "check_cpu": status["check_cpu_seconds"],
        }
    finally:
        server.terminate()
        server.wait(30)


def _rss(pid: int) -> int:
    found = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(found.group(1)) * 1024 if found else 0


def _sustain(
    path: Path, work: Path, rate: float, seconds: float, max_spans: int
) -> dict[str, object]:
    """Feed the server on a schedule for ``seconds``, sampling it every second, then
    until every span acknowledged is checked; the samples and the sender's summary."""
    server, port = _start(work, True, "--max-spans", str(max_spans))
    acked: list[tuple[float, int]] = [(0.0, 0)]
    done: list[str] = []

    def read(stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            parts = line.split()
            if parts and parts[0] == "acked":
                acked.append((float(parts[1]), int(parts[2])))
            elif parts and parts[0] == "done":
                done.extend(parts[1:])

    try:
        cpu0 = _proc_cpu(server.pid)
        sender = subprocess.Popen(
            [sys.executable, "-c", _PACED, str(port), str(path), str(rate), str(seconds),
             str(SENDERS)],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        reader = threading.Thread(target=read, args=(sender.stdout,), daemon=True)
        start = time.perf_counter()
        reader.start()
        samples: list[dict[str, float]] = []
        deadline = start + seconds + 600
        while True:
            time.sleep(max(0.0, start + len(samples) + 1 - time.perf_counter()))
            status = _status(port)
            total = acked[-1][1]
            samples.append({
                "t": time.perf_counter() - start,
                "acked": total,
                "received": status["spans_received"],
                "live": status["spans_checked_live"],
                "report": status["spans_reported"],
                "lag": status["check_lag_seconds"],
                "lag_max": status["check_lag_max_seconds"],
                "backlog": status["backlog_bytes"],
                "rss": _rss(server.pid),
                "cpu": _proc_cpu(server.pid) - cpu0,
                "children": _proc_cpu(server.pid) - _proc_cpu(server.pid, children=False),
                "load": float(Path("/proc/loadavg").read_text().split()[0]),
                "threads": status["threads_cpu_seconds"],
            })  # fmt: skip
            finished = sender.poll() is not None
            reported = status["spans_checked"] + status["evicted"] >= total
            if finished and status["spans_checked_live"] >= total and reported:
                break
            if time.perf_counter() > deadline:
                raise SystemExit(f"not every span checked: {status}")
        reader.join(10)
        if sender.returncode:
            raise SystemExit(f"the sender failed ({sender.returncode})")
        return {"samples": samples, "sender": done, "status": status, "peak": _peak_rss(server.pid)}
    finally:
        server.terminate()
        server.wait(30)


def _sustained(args: argparse.Namespace, path: Path, work: Path, spans: int) -> None:
    floor_wall, floor_cpu, _ = _floor(path)
    run = _sustain(path, work, args.rate, args.sustain, args.max_spans)
    floor_after, floor_cpu_after, _ = _floor(path)
    samples: list[dict] = run["samples"]  # type: ignore[assignment]
    feed = float(run["sender"][0])  # type: ignore[index]
    total, retries, late = int(run["sender"][1]), run["sender"][2], run["sender"][3]  # type: ignore[index]
    floor_us = 1e6 * min(floor_cpu, floor_cpu_after) / spans
    print(f"floor: FromString {spans / min(floor_wall, floor_after):,.0f} spans/s wall, "
          f"{floor_us:.2f} us CPU a span (best of before/after)")  # fmt: skip
    print(f"fed {total:,} spans in {feed:.1f} s (offered {args.rate:,.0f}/s; 503 retries "
          f"{retries}, latest send behind schedule {late} s)")  # fmt: skip
    tenth = max(1, int(feed // 10)) if feed >= 10 else 1
    print("\n   from    to | acked/s | live checked/s | report/s | lag max s | backlog MB"
          " | RSS MB | CPU us/span | load")  # fmt: skip
    edges = [s for s in samples if s["t"] <= feed + 1][::tenth]
    after = [s for s in samples if s["t"] > feed + 1]
    if after:
        edges.append(after[-1])
    for a, b in itertools.pairwise(edges):
        window = [s for s in samples if a["t"] < s["t"] <= b["t"]]
        dt = b["t"] - a["t"]
        moved = b["live"] - a["live"]
        # CPU a span checked in the interval; "-" when none was (the CPU went elsewhere)
        per_span = f"{1e6 * (b['cpu'] - a['cpu']) / moved:11.1f}" if moved else f"{'-':>11}"
        print(
            f"{a['t']:6.0f} {b['t']:5.0f} | {(b['acked'] - a['acked']) / dt:7,.0f} | "
            f"{moved / dt:14,.0f} | {(b['report'] - a['report']) / dt:8,.0f} | "
            f"{max(s['lag'] for s in window):9.2f} | "
            f"{max(s['backlog'] for s in window) / 1e6:10.1f} | "
            f"{max(s['rss'] for s in window) / 1e6:6.0f} | "
            f"{per_span} | "
            f"{max(s['load'] for s in window):4.1f}"
        )
    steady = [s for s in samples if feed * 0.1 <= s["t"] <= feed]
    a, b = steady[0], steady[-1]
    dt = b["t"] - a["t"]
    last = samples[-1]
    live_done = next(s["t"] for s in samples if s["live"] >= total)
    cpu_us = 1e6 * last["cpu"] / total
    half = [s for s in samples if s["t"] <= feed]
    first, second = half[: len(half) // 2], half[len(half) // 2 :]
    print(f"\nsteady (from {a['t']:.0f} s to the end of the feed, {dt:.0f} s):")
    print(f"  acknowledged    {(b['acked'] - a['acked']) / dt:10,.0f} spans/s")
    print(f"  checked (live)  {(b['live'] - a['live']) / dt:10,.0f} spans/s")
    print(f"  in the report   {(b['report'] - a['report']) / dt:10,.0f} spans/s")
    print(
        f"every span checked (live) {live_done:.1f} s after the start "
        f"({total / live_done:,.0f} spans/s end to end); in the report {last['t']:.1f} s"
    )
    print(
        f"server CPU {last['cpu']:.1f} s: {cpu_us:.1f} us a span = {cpu_us / floor_us:.0f}x "
        f"the floor's {floor_us:.2f} us; wall per span {1e6 * live_done / total:.1f} us"
    )
    print(f"    {'parsing process':22} {1e6 * last['children'] / total:6.2f} us a span")
    for name, cpu in sorted(last["threads"].items(), key=lambda x: -x[1]):
        print(f"    {name:22} {1e6 * cpu / total:6.2f} us a span")
    print(
        f"lag (quiet -> live checked) max: first half {max(s['lag'] for s in first):.2f} s, "
        f"second half {max(s['lag'] for s in second):.2f} s, overall {last['lag_max']:.2f} s"
    )
    print(
        f"RSS max: first half {max(s['rss'] for s in first) / 1e6:.0f} MB, second half "
        f"{max(s['rss'] for s in second) / 1e6:.0f} MB; peak {run['peak'] / 1e6:.0f} MB"
    )  # type: ignore[operator]
    status = run["status"]
    print(
        f"live runs {status['live_checks']} (the last {status['live_check_seconds']:.2f} s), "
        f"reports {status['checks']} (the last {status['check_seconds']:.2f} s), "
        f"evicted {status['evicted']:,}"
    )  # type: ignore[index]
    loads = [s["load"] for s in samples]
    print(
        f"host load average (1 min) during the run: {min(loads):.1f}-{max(loads):.1f} "
        f"on {os.cpu_count()} cores"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spans", type=int, default=BATCH * 512)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sustain", type=float, default=0.0, help="seconds of sustained feed")
    parser.add_argument("--rate", type=float, default=50_000.0, help="spans/s offered (0: max)")
    parser.add_argument("--max-spans", type=int, default=2_000_000, help="the server's table")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tracehound-bench-serve-") as tmp:
        work = Path(tmp)
        path = work / "bodies.bin"
        spans, size = _write_bodies(path, args.spans)
        print(f"{spans} spans in {spans // BATCH} requests of {BATCH} ({size / 1e6:.1f} MB)")
        if args.sustain:
            _sustained(args, path, work, spans)
            return
        rows: list[dict[str, float]] = []
        for n in range(args.rounds):
            floor_wall, floor_cpu, counted = _floor(path)
            assert counted == spans
            synced = _serve(path, spans, work, fsync=True)
            unsynced = _serve(path, spans, work, fsync=False)
            row = {
                "floor_rate": spans / floor_wall,
                "acked_rate": spans / synced["acked_s"],
                "loaded_rate": spans / synced["loaded_s"],
                "checked_rate": spans / synced["checked_s"],
                "reported_rate": spans / synced["reported_s"],
                "wall_ratio": synced["checked_s"] / floor_wall,
                "cpu_ratio": synced["cpu_s"] / floor_cpu,
                "cpu_us_per_span": 1e6 * synced["cpu_s"] / spans,
                "nofsync_checked_rate": spans / unsynced["checked_s"],
                "nofsync_reported_rate": spans / unsynced["reported_s"],
                "nofsync_acked_rate": spans / unsynced["acked_s"],
                "fsync_cost": synced["acked_s"] / unsynced["acked_s"],
                "syncs": synced["syncs"],
                "rss_mb": synced["rss"] / 1e6,
                "rss_per_input": synced["rss"] / size,
                "retries": synced["retries"],
                "last_check_s": synced["check_s"],
                "check_runs": synced["checks"],
                "parse_cpu_us_per_span": 1e6 * synced["parse_cpu"] / spans,
                "check_cpu_share": synced["check_cpu"] / synced["cpu_s"],
            }
            rows.append(row)
            print(
                f"round {n + 1}: " + ", ".join(f"{k} {v:,.3f}" for k, v in row.items()), flush=True
            )
        print("\nmedians:")
        for key in rows[0]:
            print(f"  {key:22} {statistics.median(r[key] for r in rows):,.3f}")


if __name__ == "__main__":
    main()
