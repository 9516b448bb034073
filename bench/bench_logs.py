"""Benchmark reading service logs against ``orjson.loads`` on the same lines.

    python bench/bench_logs.py                  # a 1 GB log directory
    python bench/bench_logs.py --size 128       # 128 MB, quicker

Writes a directory of generated JSON-lines logs (not committed; removed
afterwards unless ``--keep``): three services in the shapes their real libraries
write (python-json-logger with the OTel logging instrumentation's fields,
structlog, zap), rotated logrotate-style at 128 MB (``payments.log``,
``payments.1.log``, ...), every order logged by each service and one order in
ten given a new trace ID at payments.  Then, alternating, in fresh child
processes: the floor, every line parsed with ``orjson.loads`` and nothing else;
the read, every line into the ``otel_logs`` table (`tracehound.doctor.load`);
and the read plus the log checks (`checks.logs.check`: the key suggested, the
hops, G001).  Wall and CPU time ratios to the floor, and peak RSS against the
input's size.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROTATE = 128 << 20

_FLOOR = """
import sys, time, orjson
from pathlib import Path
start = time.perf_counter()
lines = 0
for path in sorted(Path(sys.argv[1]).iterdir()):
    with open(path, "rb") as f:
        for line in f:
            orjson.loads(line)
            lines += 1
print(time.perf_counter() - start, lines)
"""

_READ = """
import sys, time
start = time.perf_counter()
from tracehound.doctor import load
from tracehound.doctor.checks import logs
store, report = load([sys.argv[1]])
loaded = time.perf_counter()
found = 0
if sys.argv[2] == "check":
    found = len(logs.check(store).findings)
store.close()
end = time.perf_counter()
rejected = sum(r.count for r in report.log_rejections)
print(end - start, loaded - start, report.log_lines, rejected, found)
"""


def _write(folder: Path, size: int) -> int:
    """Logs of about ``size`` bytes in ``folder``; returns the number of lines."""
    folder.mkdir(parents=True, exist_ok=True)
    outs: dict[str, tuple[object, int, int]] = {}

    def out(service: str, line: bytes) -> int:
        handle, written, part = outs.get(service, (None, 0, 0))
        if handle is None or written >= ROTATE:
            if handle is not None:
                handle.close()  # type: ignore[attr-defined]
                part += 1
            name = f"{service}.log" if part == 0 else f"{service}.{part}.log"
            handle, written = open(folder / name, "wb"), 0  # noqa: SIM115
        handle.write(line)  # type: ignore[attr-defined]
        outs[service] = (handle, written + len(line), part)
        return len(line)

    total = lines = order = 0
    base = 1_700_000_000.0
    while total < size:
        order += 1
        trace = f"{order * 2654435761 % (1 << 128):032x}"
        new = f"{order * 40503 % (1 << 128) + 1:032x}" if order % 10 == 0 else trace
        # one clock for the three services: orders logs first, then payments, shipping
        at = base + order * 0.002
        moment = time.gmtime(at)
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", moment) + f",{int(at * 1000) % 1000:03d}"
        for step in ("handling order", "calling payments", "order done"):
            total += out("orders", json.dumps({
                "asctime": stamp, "levelname": "INFO", "name": "orders", "message": step,
                "otelTraceID": trace, "otelSpanID": f"{order:016x}", "otelServiceName": "orders",
                "otelTraceSampled": True, "order_id": f"o-{order}"}).encode() + b"\n")  # fmt: skip
        iso = time.strftime("%Y-%m-%dT%H:%M:%S", moment) + f".{int(at * 1e6) % 10**6 + 500:06d}Z"
        for step in ("charging", "calling shipping"):
            total += out("payments", json.dumps({
                "order_id": f"o-{order}", "event": step, "level": "info", "timestamp": iso,
                "trace_id": new, "span_id": f"{order + 1:016x}"}).encode() + b"\n")  # fmt: skip
        total += out("shipping", json.dumps({
            "level": "info", "ts": at + 0.001, "caller": "ship/main.go:42",
            "msg": "shipment booked", "order_id": f"o-{order}", "trace_id": new,
            "span_id": f"{order + 2:016x}"}).encode() + b"\n")  # fmt: skip
        lines += 6
    for handle, _, _ in outs.values():
        handle.close()  # type: ignore[attr-defined]
    return lines


def _warm(folder: Path) -> None:
    for path in folder.iterdir():
        with open(path, "rb") as data:
            while data.read(1 << 24):
                pass


def _child(code: str, *args: str) -> tuple[list[float], int, float]:
    """``code`` in a fresh interpreter: its printed numbers, peak RSS, CPU seconds."""
    proc = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"child failed: {output}")
    rss = usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    return [float(x) for x in output.split()], rss, usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1024, help="MB of logs (default 1024)")
    parser.add_argument("--repeat", type=int, default=3, help="alternating runs of each")
    parser.add_argument("--dir", help="where to write the logs (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the generated logs")
    args = parser.parse_args()
    folder = Path(args.dir or tempfile.mkdtemp(prefix="tracehound-bench-logs-"))
    if not folder.exists() or not any(folder.iterdir()):
        print(f"writing {args.size} MB of logs to {folder} ...", flush=True)
        _write(folder, args.size << 20)
    size = sum(p.stat().st_size for p in folder.iterdir())
    print(f"logs: {size / 1e6:.0f} MB in {len(list(folder.iterdir()))} files; "
          f"{os.cpu_count()} CPUs", flush=True)  # fmt: skip
    rows: list[dict[str, float]] = []
    for run in range(args.repeat):
        _warm(folder)
        (floor, lines), floor_rss, floor_cpu = _child(_FLOOR, str(folder))
        _warm(folder)
        (read, _, analysed, rejected, _), read_rss, read_cpu = _child(_READ, str(folder), "read")
        _warm(folder)
        (total, load, _, _, found), check_rss, check_cpu = _child(_READ, str(folder), "check")
        assert analysed + rejected == lines and not rejected, (analysed, rejected, lines)
        row = {
            "read": read / floor, "read_cpu": read_cpu / floor_cpu,
            "check": total / floor, "check_cpu": check_cpu / floor_cpu,
            "rate": size / read / 1e6, "rss": max(read_rss, check_rss) / size,
        }  # fmt: skip
        rows.append(row)
        print(
            f"run {run + 1}: floor (orjson.loads) {floor:.2f} s wall, {floor_cpu:.2f} s CPU, "
            f"{floor_rss / 1e6:.0f} MB; read {read:.2f} s wall ({row['rate']:.1f} MB/s), "
            f"{read_cpu:.2f} s CPU; read + checks {total:.2f} s (load {load:.2f} s; "
            f"{int(found)} findings), {check_cpu:.2f} s CPU; {int(lines)} lines; "
            f"ratios: read {row['read']:.2f} wall / {row['read_cpu']:.2f} CPU, "
            f"read + checks {row['check']:.2f} wall / {row['check_cpu']:.2f} CPU; "
            f"peak RSS {max(read_rss, check_rss) / 1e6:.0f} MB = {row['rss']:.2f} x input",
            flush=True,
        )
    med = {key: statistics.median(r[key] for r in rows) for key in rows[0]}
    print(
        f"\nmedians: read / floor {med['read']:.2f} wall, {med['read_cpu']:.2f} CPU; "
        f"read + checks / floor {med['check']:.2f} wall, {med['check_cpu']:.2f} CPU; "
        f"{med['rate']:.1f} MB/s; peak RSS {med['rss']:.2f} x input"
    )
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
