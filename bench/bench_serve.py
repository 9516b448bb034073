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
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

BATCH = 512
SENDERS = 8

_FLOOR = """
import sys, time
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
data = open(sys.argv[1], "rb").read()
bodies, pos = [], 0
while pos < len(data):
    size = int.from_bytes(data[pos:pos + 4], "big")
    bodies.append(data[pos + 4:pos + 4 + size])
    pos += 4 + size
wall, cpu = time.perf_counter(), time.process_time()
spans = 0
for body in bodies:
    message = ExportTraceServiceRequest.FromString(body)
    spans += sum(len(ss.spans) for rs in message.resource_spans for ss in rs.scope_spans)
print(time.perf_counter() - wall, time.process_time() - cpu, spans)
"""

_SENDER = """
import http.client, sys, threading, time
url_port, path, senders = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
data = open(path, "rb").read()
bodies, pos = [], 0
while pos < len(data):
    size = int.from_bytes(data[pos:pos + 4], "big")
    bodies.append(data[pos + 4:pos + 4 + size])
    pos += 4 + size
retries = [0]
def send(part):
    conn = http.client.HTTPConnection("127.0.0.1", url_port, timeout=60)
    for body in part:
        while True:
            conn.request("POST", "/v1/traces", body, {"Content-Type": "application/x-protobuf"})
            answer = conn.getresponse()
            answer.read()
            if answer.status == 200:
                break
            if answer.status not in (429, 503):
                raise SystemExit(f"status {answer.status}")
            retries[0] += 1
            time.sleep(float(answer.getheader("Retry-After") or 1) / 20)
    conn.close()
start = time.perf_counter()
threads = [threading.Thread(target=send, args=(bodies[i::senders],)) for i in range(senders)]
for t in threads: t.start()
for t in threads: t.join()
print(time.perf_counter() - start, retries[0])
"""


def _write_bodies(path: Path, spans: int) -> tuple[int, int]:
    """Requests of `BATCH` spans as a length-prefixed stream; (spans, bytes of bodies)."""
    from tracehound.doctor._synthetic_writers import to_otlp_proto
    from tracehound.doctor.synthetic import iter_requests

    written = size = 0
    pending: list = []
    with open(path, "wb") as out:
        for batch in iter_requests(spans // 12 + 1, seed=42):
            pending.extend(batch)
            while len(pending) >= BATCH and written < spans:
                body = to_otlp_proto(pending[:BATCH])
                pending = pending[BATCH:]
                out.write(len(body).to_bytes(4, "big") + body)
                written += BATCH
                size += len(body)
            if written >= spans:
                break
    return written, size


def _floor(path: Path) -> tuple[float, float, int]:
    out = subprocess.run(
        [sys.executable, "-c", _FLOOR, str(path)], capture_output=True, text=True, check=True
    ).stdout.split()
    return float(out[0]), float(out[1]), int(out[2])


def _proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _peak_rss(pid: int) -> int:
    found = re.search(r"VmHWM:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(found.group(1)) * 1024 if found else 0


def _status(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=30) as answer:
        return json.load(answer)


def _serve(path: Path, spans: int, work: Path, fsync: bool) -> dict[str, float]:
    db = work / f"journal-{time.monotonic_ns()}"
    command = [sys.executable, "-m", "tracehound.cli", "serve", "--port", "0", "--db", str(db),
               "--idle", "0.5", "--no-grpc"] + ([] if fsync else ["--no-fsync"])  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    try:
        port = 0
        assert server.stdout is not None
        for line in server.stdout:
            found = re.search(r"OTLP/HTTP\s+http://127\.0\.0\.1:(\d+)/", line)
            if found:
                port = int(found.group(1))
            if "web UI" in line:
                break
        cpu0 = _proc_cpu(server.pid)
        start = time.perf_counter()
        sender = subprocess.run(
            [sys.executable, "-c", _SENDER, str(port), str(path), str(SENDERS)],
            capture_output=True, text=True, check=True, timeout=600,
        )  # fmt: skip
        acked = time.perf_counter() - start
        deadline = time.monotonic() + 600
        loaded = 0.0
        while True:
            status = _status(port)
            if not loaded and status["spans_received"] >= spans:
                loaded = time.perf_counter() - start
            if status["spans_checked"] >= spans and status["spans_pending"] == 0:
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"not every span checked: {status}")
            time.sleep(0.05)
        checked = time.perf_counter() - start
        cpu = _proc_cpu(server.pid) - cpu0
        rss = _peak_rss(server.pid)
        return {
            "acked_s": acked,
            "loaded_s": loaded,
            "checked_s": checked,
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spans", type=int, default=BATCH * 512)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tracehound-bench-serve-") as tmp:
        work = Path(tmp)
        path = work / "bodies.bin"
        spans, size = _write_bodies(path, args.spans)
        print(f"{spans} spans in {spans // BATCH} requests of {BATCH} ({size / 1e6:.1f} MB)")
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
                "wall_ratio": synced["checked_s"] / floor_wall,
                "cpu_ratio": synced["cpu_s"] / floor_cpu,
                "cpu_us_per_span": 1e6 * synced["cpu_s"] / spans,
                "nofsync_checked_rate": spans / unsynced["checked_s"],
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
