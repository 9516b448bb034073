"""Benchmark ``tracehound check`` against ``orjson.loads`` on the same OTLP/JSON file.

    python bench/bench_doctor.py                 # 1,000,000 spans
    python bench/bench_doctor.py --spans 100000  # quicker
    python bench/bench_doctor.py --compare-src /tmp/old/src  # also an older tree

(an older tree: ``git worktree add /tmp/old <commit>``)

Writes a file of generated traffic (one ExportTraceServiceRequest of 500 spans
per line, as the Collector's file exporter writes), then, alternating, in
fresh child processes: parsing every line with ``orjson.loads`` (nothing
else), and the whole check (read, load into DuckDB, every check, the report
objects).  Reports both times, their ratio, the CPU times (and the checks'
own, apart from the load's), and the check's peak RSS against the file size.
Targets: ratio ≤ 3, peak RSS ≤ 2 × file size.

The children import tracehound from bytecode, as an installed package does:
they share a bytecode cache in a temporary directory (``PYTHONPYCACHEPREFIX``,
even where ``PYTHONDONTWRITEBYTECODE`` is set), filled by one untimed check of
a few spans per source tree before the timed runs.  Without it every child
compiled every module it imported, which costs a tree with more code more
(``--compile`` measures that way).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

_BASELINE = """
import sys, time, orjson
start = time.perf_counter()
with open(sys.argv[1], "rb") as f:
    for line in f:
        orjson.loads(line)
print(time.perf_counter() - start)
"""

_CHECK = """
import sys, time
start = time.perf_counter()
import tracehound
print(tracehound.__file__)
from tracehound.doctor import load
from tracehound.doctor.checks import run_checks
store, report = load([sys.argv[1]])
loaded = time.perf_counter()
cpu = time.process_time()  # the checks' CPU (all threads): apart from the load's
results = run_checks(store)
cpu = time.process_time() - cpu
store.close()
end = time.perf_counter()
print(end - start, loaded - start, end - loaded, report.spans_analysed, len(results.findings), cpu)
"""


def _write(path: Path, spans: int) -> int:
    from tracehound.doctor._synthetic_writers import to_otlp_json_lines
    from tracehound.doctor.synthetic import iter_requests

    written = 0
    with open(path, "wb") as out:
        pending = []
        for batch in iter_requests(spans // 12 + 1, seed=42):
            pending.extend(batch)
            if len(pending) >= 5000 or written + len(pending) >= spans:
                take = pending[: spans - written]
                out.writelines(to_otlp_json_lines(take, per_line=500))
                written += len(take)
                pending = []
            if written >= spans:
                break
    return written


def _warm(path: Path) -> None:
    """Read the file once, so that both sides find it in the page cache (this host's
    cache gives memory back quickly: a cold read made the baseline vary 1.8-2.8 s)."""
    with open(path, "rb") as data:
        while data.read(1 << 24):
            pass


_ENV = dict(os.environ)
"""The children's environment (`main` sets the bytecode cache)."""


def _child(code: str, path: Path, src: str | None = None) -> tuple[list[float], int, float]:
    """Run ``code`` on ``path`` in a fresh interpreter (importing tracehound from
    ``src`` if given): its printed numbers, peak RSS (bytes) and CPU seconds (user +
    system, all threads)."""
    _warm(path)
    env = dict(_ENV)
    if src:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True, env=env
    )
    assert proc.stdout is not None
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"child failed ({proc.returncode}): {output}")
    rss = usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    lines = output.strip().splitlines()
    if src and not Path(lines[0]).resolve().is_relative_to(Path(src).resolve()):
        raise SystemExit(f"{src} is not where tracehound was imported from ({lines[0]})")
    numbers = [float(x) for x in lines[-1].split()]
    return numbers, rss, usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="alternating runs of each")
    parser.add_argument("--dir", help="where to write the file (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the generated file")
    parser.add_argument(
        "--compare-src",
        metavar="DIR",
        help="also run the check from this source tree (e.g. an older commit's src/), "
        "alternating with the others",
    )
    parser.add_argument(
        "--compile",
        action="store_true",
        help="no bytecode cache: every child compiles what it imports (as before 2026-12-05)",
    )
    args = parser.parse_args()
    folder = Path(args.dir or tempfile.mkdtemp(prefix="tracehound-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"traffic-{args.spans}.otlp.jsonl"
    if not path.exists():
        print(f"writing {args.spans} spans to {path} ...", flush=True)
        _write(path, args.spans)
    size = path.stat().st_size
    print(f"file: {size / 1e6:.0f} MB, {args.spans} spans; {os.cpu_count()} CPUs")
    cache = None if args.compile else tempfile.TemporaryDirectory(prefix="tracehound-pyc-")
    if cache is not None:
        _ENV.pop("PYTHONDONTWRITEBYTECODE", None)
        _ENV["PYTHONPYCACHEPREFIX"] = cache.name
        with tempfile.TemporaryDirectory() as tmp, open(path, "rb") as data:
            few = Path(tmp) / "few.otlp.jsonl"
            few.write_bytes(data.readline())
            if args.compare_src:
                _child(_CHECK, few, args.compare_src)
            _child(_CHECK, few)
    baselines, checks, loads, analyses, rss, cpu_ratios = [], [], [], [], [], []
    compared: list[float] = []
    compared_cpu_ratios: list[float] = []
    checks_cpu: list[float] = []
    compared_checks_cpu: list[float] = []
    for run in range(args.repeat):
        (base,), _, base_cpu = _child(_BASELINE, path)
        if args.compare_src:
            (other, *_, other_checks_cpu), other_peak, other_cpu = _child(
                _CHECK, path, args.compare_src
            )
            compared.append(other / base)
            compared_cpu_ratios.append(other_cpu / base_cpu)
            compared_checks_cpu.append(other_checks_cpu)
            print(
                f"run {run + 1}, {args.compare_src}: check {other:.2f} s; ratio "
                f"{other / base:.2f}; CPU {other_cpu:.1f} s (checks {other_checks_cpu:.2f} s), "
                f"ratio {other_cpu / base_cpu:.2f}; peak RSS {other_peak / size:.2f} x file",
                flush=True,
            )
        (total, load, analyse, spans, findings, analyse_cpu), peak, check_cpu = _child(_CHECK, path)
        checks_cpu.append(analyse_cpu)
        cpu_ratios.append(check_cpu / base_cpu)
        baselines.append(base)
        checks.append(total)
        loads.append(load)
        analyses.append(analyse)
        rss.append(peak)
        print(
            f"run {run + 1}: orjson.loads {base:.2f} s; check {total:.2f} s "
            f"(load {load:.2f} s, checks {analyse:.2f} s; {int(spans)} spans, "
            f"{int(findings)} findings); ratio {total / base:.2f}; CPU {base_cpu:.1f} s vs "
            f"{check_cpu:.1f} s (checks {analyse_cpu:.2f} s), ratio {check_cpu / base_cpu:.2f}; "
            "peak RSS "
            f"{peak / 1e6:.0f} MB = {peak / size:.2f} x file",
            flush=True,
        )
    ratios = [c / b for c, b in zip(checks, baselines, strict=True)]
    print(
        f"\nratio check / orjson.loads: median {statistics.median(ratios):.2f}, "
        f"best {min(ratios):.2f} (target <= 3); CPU time ratio, median "
        f"{statistics.median(cpu_ratios):.2f}; the checks' CPU, median "
        f"{statistics.median(checks_cpu):.2f} s\n"
        f"peak RSS / file size: {max(rss) / size:.2f} (target <= 2)"
    )
    if compared:
        print(
            f"{args.compare_src}: ratio median {statistics.median(compared):.2f}; CPU time "
            f"ratio, median {statistics.median(compared_cpu_ratios):.2f}; the checks' CPU, "
            f"median {statistics.median(compared_checks_cpu):.2f} s"
        )
    if cache is not None:
        cache.cleanup()
    if not args.keep and not args.dir:
        path.unlink()
        folder.rmdir()
    return 0


if __name__ == "__main__":
    sys.exit(main())
